/* placeholder: being written */
#include "cli.h"
static int todo(const pk_cli_opts *o PK_UNUSED, int argc PK_UNUSED, char **argv) { fprintf(stderr, "poolkeeper: %s: not implemented yet\n", argv[0]); return 1; }
const pk_command pk_command_plan = { "plan", "", "(being written)", "", todo };
const pk_command pk_command_apply = { "apply", "", "(being written)", "", todo };
const pk_command pk_command_run = { "run", "", "(being written)", "", todo };
const pk_command pk_command_dumpxml = { "dumpxml", "", "(being written)", "", todo };
const pk_command pk_command_adopt = { "adopt", "", "(being written)", "", todo };
