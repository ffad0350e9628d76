/* The command-line front end: one table of commands, common options parsed
 * once, errors printed once (here, never in the modules). */
#pragma once
#include "base/pk.h"

/* Options every command accepts (design.md §3). Values are NULL/0 when not
 * given on the command line; config.c resolves flag > env > file > default. */
typedef struct pk_cli_opts {
    const char *config;       /* --config FILE */
    const char *desired;      /* --desired DIR */
    const char *ref;          /* --ref REV */
    bool worktree;            /* --worktree */
    const char *state;        /* --state DB */
    int verbose;              /* -v count */
    bool quiet;               /* -q */
    const char *log_format;   /* --log-format text|json */
} pk_cli_opts;

typedef struct pk_command {
    const char *name;
    const char *args;         /* usage after the name, e.g. "[PATH...]" */
    const char *summary;      /* one line */
    const char *help;         /* full help text: options, examples, exit codes */
    /* argv[0] is the command name. Returns the process exit code. */
    int (*run)(const pk_cli_opts *opts, int argc, char **argv);
} pk_command;

int pk_cli_main(int argc, char **argv);
const pk_command *pk_cli_find(const char *name);
/* Print an error list once, the standard way ("poolkeeper: ..." lines). */
void pk_cli_report(const pk_err *errs);
/* Print the help of one command to f. */
void pk_cli_print_help(FILE *f, const pk_command *cmd);

/* The commands, each defined in its cmd_*.c. */
extern const pk_command pk_command_validate, pk_command_format;   /* cmd_xml.c */
extern const pk_command pk_command_plan, pk_command_apply, pk_command_dumpxml,
    pk_command_adopt;                                               /* cmd_engine.c */
extern const pk_command pk_command_run, pk_command_suspend, pk_command_resume,
    pk_command_complete;                                            /* cmd_run.c */
extern const pk_command pk_command_status, pk_command_history;     /* cmd_status.c */
extern const pk_command pk_command_config;                         /* cmd_config.c */
