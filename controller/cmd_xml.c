/* placeholder: being written */
#include "cli.h"
int pk_cmd_validate(const pk_cli_opts *o PK_UNUSED, int argc PK_UNUSED, char **argv PK_UNUSED) { return 1; }
int pk_cmd_format(const pk_cli_opts *o PK_UNUSED, int argc PK_UNUSED, char **argv PK_UNUSED) { return 1; }
