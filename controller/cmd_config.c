/* poolkeeper config check|show: the configuration as every other command
 * would resolve it, checked in full or printed. */
#include "cli.h"
#include "config.h"

static const char config_help[] =
    "Subcommands:\n"
    "  check [FILE]         validate the configuration as any command would resolve\n"
    "                       it: the file, the POOLKEEPER_* variables and the flags.\n"
    "                       Prints every error, not only the first, then exits 1;\n"
    "                       prints 'FILE: OK' (nothing with -q) and exits 0 if valid.\n"
    "  check --show [FILE]  the same, then print the effective settings as YAML.\n"
    "  show [FILE]          the same as check --show.\n"
    "\n"
    "  The YAML from show reads back as the same settings. Each value is commented\n"
    "  with where it came from: FILE:LINE, the variable, the flag, or 'default'.\n"
    "  Secret files are named, never read; a password in a URL is shown as ***.\n"
    "\n"
    "Which file: FILE, else --config FILE, else $POOLKEEPER_CONFIG, else\n"
    "/etc/poolkeeper/poolkeeper.yaml if it exists, else none (built-in defaults).\n"
    "A file named by FILE, --config or POOLKEEPER_CONFIG must exist; use\n"
    "'--config /dev/null' to ignore the system file.\n"
    "\n"
    "Precedence: command-line flag > POOLKEEPER_* variable > file > default.\n"
    "An empty variable counts as unset.\n"
    "\n"
    "Keys (a dotted name is nested: policy.prune is 'prune' under 'policy'):\n"
    "  KEY                        TYPE; DEFAULT\n"
    "                             VARIABLE, FLAG\n"
    "  desired.path               path; default: the current directory\n"
    "                             POOLKEEPER_DESIRED, --desired\n"
    "  desired.remote             URL: file://, http(s)://, ssh://, user@host:path\n"
    "                             POOLKEEPER_DESIRED_REMOTE\n"
    "      Cloned and fetched into the state directory. desired.path and\n"
    "      desired.remote are mutually exclusive in a file; a variable or flag\n"
    "      naming one drops the other.\n"
    "  desired.branch             string; default: HEAD (path), main (remote)\n"
    "                             POOLKEEPER_BRANCH\n"
    "  desired.subdir             path; default: the repository root\n"
    "                             POOLKEEPER_SUBDIR\n"
    "      Relative, inside the repository; %H is this host's short name.\n"
    "  desired.fetch_timeout      duration, 1s to 1d; default: 2m\n"
    "                             POOLKEEPER_FETCH_TIMEOUT\n"
    "      A fetch of desired.remote still running then is given up: the\n"
    "      commit fetched before is used, with a warning.\n"
    "  state                      path; default: ./.poolkeeper/state.db\n"
    "                             POOLKEEPER_STATE, --state\n"
    "  interval                   duration, 1s to 30d; default: 5m\n"
    "                             POOLKEEPER_INTERVAL\n"
    "  jitter                     percentage, 0% to 50%; default: 10%\n"
    "                             POOLKEEPER_JITTER\n"
    "  retry_interval             duration, 1s to 30d; default: 30s\n"
    "                             POOLKEEPER_RETRY_INTERVAL\n"
    "      After a failed cycle, doubled each time up to interval.\n"
    "  policy.prune               boolean; default: false\n"
    "                             POOLKEEPER_PRUNE\n"
    "  policy.allow_shrink        boolean; default: false\n"
    "                             POOLKEEPER_ALLOW_SHRINK\n"
    "  policy.allow_pool_delete   boolean; default: false\n"
    "                             POOLKEEPER_ALLOW_POOL_DELETE\n"
    "  policy.allow_format        boolean; default: false\n"
    "                             POOLKEEPER_ALLOW_FORMAT\n"
    "  policy.max_delete_percent  percentage, 0% to 100%; default: 25%\n"
    "                             POOLKEEPER_MAX_DELETE_PERCENT\n"
    "  policy.drift               correct or report; default: correct\n"
    "                             POOLKEEPER_DRIFT\n"
    "  policy.adopt               never or matching; default: never\n"
    "                             POOLKEEPER_ADOPT\n"
    "  secrets.dir                path; default: /etc/poolkeeper/secrets\n"
    "                             POOLKEEPER_SECRETS_DIR\n"
    "  ceph.conf                  path; default: librados' own search\n"
    "                             POOLKEEPER_CEPH_CONF\n"
    "  notify                     list of targets; default: none (file only)\n"
    "      Each target: url (http:// or https://, required), secret_file (the\n"
    "      file holding the HMAC-SHA256 key for X-Poolkeeper-Signature), events\n"
    "      (a list of applied, failed, drift, blocked, recovered; default: all).\n"
    "  metrics.listen             HOST:PORT; default: off\n"
    "                             POOLKEEPER_METRICS_LISTEN\n"
    "      For example 127.0.0.1:9477 or [::1]:9477; serves /metrics, /healthz.\n"
    "  metrics.healthz_failures   integer, 1 to 1000; default: 3\n"
    "                             POOLKEEPER_HEALTHZ_FAILURES\n"
    "      /healthz answers 503 after this many failed cycles in a row.\n"
    "  log.format                 text or json; default: text\n"
    "                             POOLKEEPER_LOG_FORMAT, --log-format\n"
    "  log.level                  debug, info, warn or error; default: info\n"
    "                             POOLKEEPER_LOG_LEVEL, -v (debug), -q (error)\n"
    "  Not file keys: POOLKEEPER_CONFIG (--config), POOLKEEPER_REF (--ref),\n"
    "  POOLKEEPER_WORKTREE (--worktree, a boolean).\n"
    "\n"
    "Values:\n"
    "  duration  250ms, 30s, 5m, 1h30m, '1h 30m', 2d: units d h m s ms, largest\n"
    "            first; a bare integer is seconds (300 is 5m).\n"
    "  percent   10% or 10.\n"
    "  boolean   true/false, yes/no, on/off, y/n, in any case (YAML 1.1).\n"
    "  path      relative paths in the file are taken from the file's directory,\n"
    "            in variables and flags from the current directory.\n"
    "  Quoting never changes a value: \"30s\" and 30s are the same. A section may be\n"
    "  written in flow style: policy: { prune: true, drift: report }. A section\n"
    "  left empty (all its keys commented out) keeps the defaults.\n"
    "\n"
    "Errors: unknown keys, duplicate keys, wrong types (a list where a mapping is\n"
    "expected, ...), bad values and invalid YAML are each reported as\n"
    "  FILE:LINE:COL: error: MESSAGE\n"
    "with 1-based line and column; errors of variables and flags name them.\n"
    "\n"
    "Exit status: 0 valid, 1 any error.\n"
    "\n"
    "Examples:\n"
    "  poolkeeper config check\n"
    "  poolkeeper config check /etc/poolkeeper/poolkeeper.yaml\n"
    "  POOLKEEPER_PRUNE=yes poolkeeper config show --state /tmp/state.db\n";

static int PK_PRINTF(1, 2) usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *msg = pk_vasprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "poolkeeper: config: %s; see 'poolkeeper help config'\n", msg);
    return 1;
}

static int run_config(const pk_cli_opts *opts, int argc, char **argv)
{
    if (argc < 2) return usage_error("missing subcommand (check or show)");
    const char *sub = argv[1];
    bool show = pk_streq(sub, "show");
    if (!show && !pk_streq(sub, "check")) return usage_error("unknown subcommand '%s'", sub);
    const char *file = NULL;
    for (int i = 2; i < argc; i++) {
        if (pk_streq(argv[i], "--show"))
            show = true;
        else if (argv[i][0] == '-' && argv[i][1])
            return usage_error("unknown option '%s'", argv[i]);
        else if (!file)
            file = argv[i];
        else
            return usage_error("unexpected argument '%s'", argv[i]);
    }
    pk_cli_opts o = *opts;
    if (file) o.config = file;

    pk_settings s;
    _cleanup_(pk_err_freep) pk_err *errs = NULL;
    if (pk_settings_load(&o, &s, &errs) < 0) {
        pk_cli_report(errs);
        return 1;
    }
    if (show) {
        _cleanup_free_ char *yaml = pk_settings_format_yaml(&s);
        fputs(yaml, stdout);
    } else if (!opts->quiet) {
        if (s.config_file)
            printf("%s: OK\n", s.config_file);
        else
            printf("no configuration file (%s does not exist): built-in defaults: OK\n",
                   PK_CONFIG_DEFAULT_FILE);
    }
    pk_settings_clear(&s);
    return 0;
}

const pk_command pk_command_config = {
    .name = "config",
    .args = "check [--show] [FILE] | show [FILE]",
    .summary = "check or show the configuration (poolkeeper.yaml)",
    .help = config_help,
    .run = run_config,
};
