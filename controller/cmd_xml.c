/* placeholder: being written */
#include "cli.h"
static int todo(const pk_cli_opts *o PK_UNUSED, int argc PK_UNUSED, char **argv) { fprintf(stderr, "poolkeeper: %s: not implemented yet\n", argv[0]); return 1; }
const pk_command pk_command_validate = { "validate", "", "(being written)", "", todo };
const pk_command pk_command_format = { "format", "", "(being written)", "", todo };
