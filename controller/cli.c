/* Command table and the options common to every command. */
#include "cli.h"
#include "pk-config.h"
#include <getopt.h>
#include <libxml/parser.h>

/* Each command lives in its own cmd_*.c and is listed here once. */
static const pk_command *const commands[] = {
    &pk_command_validate,
    &pk_command_format,
    &pk_command_plan,
    &pk_command_apply,
    &pk_command_run,
    &pk_command_suspend,
    &pk_command_resume,
    &pk_command_status,
    &pk_command_history,
    &pk_command_dumpxml,
    &pk_command_adopt,
    &pk_command_config,
    &pk_command_complete,   /* hidden: "__" names are for scripts */
};

static const char common_help[] =
    "Common options:\n"
    "  --config FILE       configuration (default /etc/poolkeeper/poolkeeper.yaml if present)\n"
    "  --desired DIR       the desired-state git repository\n"
    "  --ref REV           read the desired state at this commit, tag or branch\n"
    "  --worktree          read the files on disk instead of a commit\n"
    "  --state DB          the SQLite state database\n"
    "  -v, --verbose       more log output (repeatable)\n"
    "  -q, --quiet         only errors\n"
    "  --log-format FMT    text (default) or json\n"
    "  -h, --help          help for the command\n";

const pk_command *pk_cli_find(const char *name)
{
    for (size_t i = 0; i < PK_NELEM(commands); i++)
        if (pk_streq(commands[i]->name, name)) return commands[i];
    return NULL;
}

void pk_cli_report(const pk_err *errs)
{
    for (const pk_err *e = errs; e; e = e->next) {
        _cleanup_free_ char *s = pk_err_str(e);
        /* Located errors already start with FILE:LINE, which editors jump to. */
        if (e->file)
            fprintf(stderr, "%s\n", s);
        else
            fprintf(stderr, "poolkeeper: %s\n", s);
    }
}

void pk_cli_print_help(FILE *f, const pk_command *cmd)
{
    fprintf(f, "Usage: poolkeeper %s %s\n\n%s.\n\n%s\n%s", cmd->name, cmd->args, cmd->summary,
            cmd->help, common_help);
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: poolkeeper COMMAND [OPTIONS] [ARGS]\n"
            "\n"
            "Keeps storage pools and volumes in the state a git repository of libvirt\n"
            "storage XML says they should be in.\n"
            "\n"
            "Commands:\n");
    for (size_t i = 0; i < PK_NELEM(commands); i++)
        if (!pk_str_has_prefix(commands[i]->name, "__"))
            fprintf(f, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(f, "  %-10s %s\n", "help", "help on a command: poolkeeper help COMMAND");
    fprintf(f, "\n%s\nSee 'poolkeeper help COMMAND' for a command's own options.\n", common_help);
}

enum { OPT_CONFIG = 1000, OPT_DESIRED, OPT_REF, OPT_WORKTREE, OPT_STATE, OPT_LOG_FORMAT };

/* Pull the common options out of argv (in place), leaving the command's own
 * options and arguments for it to parse. */
static int take_common(int *argc, char **argv, pk_cli_opts *o, bool *help)
{
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i];
        const char **target = NULL;
        const char *name = NULL;
        if (pk_streq(a, "--")) {
            while (i < *argc) argv[out++] = argv[i++];
            break;
        }
        if (pk_streq(a, "-h") || pk_streq(a, "--help")) { *help = true; continue; }
        if (pk_streq(a, "-v") || pk_streq(a, "--verbose")) { o->verbose++; continue; }
        if (pk_streq(a, "-q") || pk_streq(a, "--quiet")) { o->quiet = true; continue; }
        if (pk_streq(a, "--worktree")) { o->worktree = true; continue; }
        static const struct { const char *name; size_t off; } valued[] = {
            { "--config", offsetof(pk_cli_opts, config) },
            { "--desired", offsetof(pk_cli_opts, desired) },
            { "--ref", offsetof(pk_cli_opts, ref) },
            { "--state", offsetof(pk_cli_opts, state) },
            { "--log-format", offsetof(pk_cli_opts, log_format) },
        };
        for (size_t k = 0; k < PK_NELEM(valued); k++) {
            size_t l = strlen(valued[k].name);
            if (strncmp(a, valued[k].name, l) == 0 && (a[l] == '\0' || a[l] == '=')) {
                target = (const char **)((char *)o + valued[k].off);
                name = valued[k].name;
                if (a[l] == '=') {
                    *target = a + l + 1;
                } else {
                    if (i + 1 >= *argc) {
                        fprintf(stderr, "poolkeeper: option %s needs a value\n", name);
                        return -1;
                    }
                    *target = argv[++i];
                }
                break;
            }
        }
        if (target) continue;
        argv[out++] = argv[i];
    }
    argv[out] = NULL;
    *argc = out;
    return 0;
}

int pk_cli_main(int argc, char **argv)
{
    LIBXML_TEST_VERSION;
    if (argc < 2) {
        usage(stderr);
        return 1;
    }
    const char *name = argv[1];
    if (pk_streq(name, "--version") || pk_streq(name, "version")) {
        printf("poolkeeper %s\n", PK_VERSION);
        return 0;
    }
    if (pk_streq(name, "--help") || pk_streq(name, "-h")) {
        usage(stdout);
        return 0;
    }
    if (pk_streq(name, "help")) {
        if (argc < 3) {
            usage(stdout);
            return 0;
        }
        const pk_command *c = pk_cli_find(argv[2]);
        if (!c) {
            fprintf(stderr, "poolkeeper: unknown command '%s'\n", argv[2]);
            return 1;
        }
        pk_cli_print_help(stdout, c);
        return 0;
    }
    const pk_command *cmd = pk_cli_find(name);
    if (!cmd) {
        fprintf(stderr, "poolkeeper: unknown command '%s'; see 'poolkeeper --help'\n", name);
        return 1;
    }
    pk_cli_opts o = { 0 };
    bool help = false;
    int cargc = argc - 1;
    char **cargv = argv + 1;
    if (take_common(&cargc, cargv, &o, &help) < 0) return 1;
    if (help) {
        pk_cli_print_help(stdout, cmd);
        return 0;
    }
    pk_log_level lvl = o.quiet ? PK_LOG_ERROR : o.verbose ? PK_LOG_DEBUG : PK_LOG_INFO;
    pk_log_format fmt = pk_streq(o.log_format, "json") ? PK_LOG_JSON : PK_LOG_TEXT;
    if (o.log_format && !pk_streq(o.log_format, "json") && !pk_streq(o.log_format, "text")) {
        fprintf(stderr, "poolkeeper: --log-format must be 'text' or 'json', not '%s'\n", o.log_format);
        return 1;
    }
    pk_log_setup(lvl, fmt);
    optind = 1;
    int rc = cmd->run(&o, cargc, cargv);
    xmlCleanupParser();
    return rc;
}
