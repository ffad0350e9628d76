/* poolkeeper.yaml: value syntax, every key, every kind of mistake with its
 * exact FILE:LINE:COL, precedence flag > env > file > default, and the
 * `config` command of the real binary. */
#include "../tap.h"
#include "../../controller/config_priv.h"
#include <dirent.h>
#include <fcntl.h>
#include <sys/wait.h>

static char *data_path(const char *rel)
{
    return pk_asprintf("%s/data/config/%s", tap_data_dir(), rel);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    pk_buf b = PK_BUF_INIT;
    pk_buf_add(&b, "");
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) pk_buf_addn(&b, chunk, n);
    fclose(f);
    return pk_buf_steal(&b);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) tap_bail("cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

/* All errors of a list, one "FILE:LINE:COL: error: ..." line each. */
static char *errs_text(const pk_err *errs)
{
    pk_buf b = PK_BUF_INIT;
    pk_buf_add(&b, "");
    for (const pk_err *e = errs; e; e = e->next) {
        _cleanup_free_ char *s = pk_err_str(e);
        pk_buf_addf(&b, "%s\n", s);
    }
    return pk_buf_steal(&b);
}

static void clean_env(void)
{
    for (size_t i = 0; i < pk_config_nkeys; i++)
        if (pk_config_keys[i].env) unsetenv(pk_config_keys[i].env);
    unsetenv("POOLKEEPER_CONFIG");
}

/* ---- value syntax ---- */

static void test_durations(void)
{
    static const struct { const char *in; int64_t ms; } good[] = {
        { "250ms", 250 }, { "30s", 30000 }, { "5m", 300000 }, { "1h30m", 5400000 },
        { "2d", 172800000 }, { "300", 300000 }, { "0", 0 }, { "0s", 0 }, { "1h 30m", 5400000 },
        { "1d2h3m4s5ms", 93784005 }, { "90s", 90000 }, { "1m30s", 90000 },
    };
    for (size_t i = 0; i < PK_NELEM(good); i++) {
        int64_t ms = -1;
        int rc = pk_parse_duration_ms(good[i].in, &ms);
        tap_ok(rc == 0 && ms == good[i].ms, "duration '%s' is %lld ms (got rc %d, %lld)",
               good[i].in, (long long)good[i].ms, rc, (long long)ms);
    }
    static const char *const bad[] = {
        "", "5 minutes", "1h30", "30m1h", "5min", "-5s", "1.5h", "h", " 5m", "5m ", "5mm",
        "1s1s", "99999999999999999999s", "9999999999999999d", "5M", "1w", "+5s",
    };
    for (size_t i = 0; i < PK_NELEM(bad); i++) {
        int64_t ms = 12345;
        tap_ok(pk_parse_duration_ms(bad[i], &ms) < 0 && ms == 12345,
               "duration '%s' is rejected and leaves the output alone", bad[i]);
    }
    static const struct { int64_t ms; const char *out; } fmt[] = {
        { 5400000, "1h30m" }, { 250, "250ms" }, { 0, "0s" }, { 300000, "5m" },
        { 90061001, "1d1h1m1s1ms" }, { 2592000000LL, "30d" },
    };
    for (size_t i = 0; i < PK_NELEM(fmt); i++) {
        _cleanup_free_ char *s = pk_format_duration_ms(fmt[i].ms);
        tap_is_str(s, fmt[i].out, "%lld ms formats as '%s'", (long long)fmt[i].ms, fmt[i].out);
        int64_t back = -1;
        tap_ok(pk_parse_duration_ms(s, &back) == 0 && back == fmt[i].ms, "'%s' parses back", s);
    }
}

static void test_percentages(void)
{
    static const struct { const char *in; int v; } good[] = {
        { "10%", 10 }, { "10", 10 }, { "0", 0 }, { "0%", 0 }, { "100%", 100 }, { "150", 150 },
    };
    for (size_t i = 0; i < PK_NELEM(good); i++) {
        int v = -1;
        tap_ok(pk_parse_percent(good[i].in, &v) == 0 && v == good[i].v, "percentage '%s' is %d",
               good[i].in, good[i].v);
    }
    static const char *const bad[] = { "", "%", "ten", "-5", "-5%", "10 %", "10%%", "1.5%", " 10" };
    for (size_t i = 0; i < PK_NELEM(bad); i++) {
        int v;
        tap_ok(pk_parse_percent(bad[i], &v) < 0, "percentage '%s' is rejected", bad[i]);
    }
}

static void test_bools(void)
{
    static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes", "on", "ON", "y" };
    static const char *const no[] = { "false", "False", "no", "NO", "off", "Off", "n" };
    static const char *const bad[] = { "", "1", "0", "maybe", "yess", "tru" };
    for (size_t i = 0; i < PK_NELEM(yes); i++) {
        bool b = false;
        tap_ok(pk_config_parse_bool(yes[i], &b) == 0 && b, "'%s' is true", yes[i]);
    }
    for (size_t i = 0; i < PK_NELEM(no); i++) {
        bool b = true;
        tap_ok(pk_config_parse_bool(no[i], &b) == 0 && !b, "'%s' is false", no[i]);
    }
    for (size_t i = 0; i < PK_NELEM(bad); i++) {
        bool b;
        tap_ok(pk_config_parse_bool(bad[i], &b) < 0, "'%s' is not a boolean", bad[i]);
    }
}

/* Values that are checked beyond their type. */
static void test_checked_strings(void)
{
    static const struct { const char *key, *value; bool ok; } cases[] = {
        { "metrics.listen", "127.0.0.1:9477", true },
        { "metrics.listen", "[::1]:9477", true },
        { "metrics.listen", "localhost:1", true },
        { "metrics.listen", "0.0.0.0:65535", true },
        { "metrics.listen", ":9477", false },
        { "metrics.listen", "::1:9477", false },
        { "metrics.listen", "[::1]", false },
        { "metrics.listen", "host:0", false },
        { "metrics.listen", "host:http", false },
        { "desired.remote", "file:///srv/storage.git", true },
        { "desired.remote", "https://git.example.com/s.git", true },
        { "desired.remote", "ssh://git@example.com/s.git", true },
        { "desired.remote", "git@example.com:infra/s.git", true },
        { "desired.remote", "/srv/storage.git", false },
        { "desired.remote", "https://", false },
        { "desired.remote", "ftp://example.com/s.git", false },
        { "desired.subdir", "hosts/%H", true },
        { "desired.subdir", "a/b/%H/c", true },
        { "desired.subdir", "..x/y", true },
        { "desired.subdir", "/hosts", false },
        { "desired.subdir", "a/../b", false },
        { "desired.subdir", "%h", false },
        { "desired.subdir", "100%", false },
    };
    for (size_t i = 0; i < PK_NELEM(cases); i++) {
        pk_settings s;
        pk_settings_defaults(&s);
        _cleanup_free_ char *why = NULL;
        int rc = pk_config_set(pk_config_key_find(cases[i].key), &s, cases[i].value, NULL, &why);
        tap_ok((rc == 0) == cases[i].ok, "%s '%s' is %s%s%s", cases[i].key, cases[i].value,
               cases[i].ok ? "accepted" : "rejected", why ? ": " : "", why ? why : "");
        pk_settings_clear(&s);
    }
    static const struct { const char *in, *out; } urls[] = {
        { "https://bob:hunter2@example.com/x.git", "https://bob:***@example.com/x.git" },
        { "https://ghp_token@example.com/x.git", "https://***@example.com/x.git" },
        { "ssh://git@example.com/x.git", "ssh://git@example.com/x.git" },
        { "http://127.0.0.1:9000/hook", "http://127.0.0.1:9000/hook" },
        { "http://127.0.0.1:9000/a@b", "http://127.0.0.1:9000/a@b" },
        { "git@example.com:x.git", "git@example.com:x.git" },
    };
    for (size_t i = 0; i < PK_NELEM(urls); i++) {
        _cleanup_free_ char *r = pk_redact_url(urls[i].in);
        tap_is_str(r, urls[i].out, "redacted '%s'", urls[i].in);
    }
}

/* ---- files ---- */

static int parse_good(const char *name, pk_settings *s)
{
    _cleanup_free_ char *path = data_path(name);
    pk_err *errs = NULL;
    pk_settings_defaults(s);
    int rc = pk_config_parse_file(path, s, &errs);
    _cleanup_free_ char *text = errs_text(errs);
    tap_ok(rc == 0 && !errs, "%s parses without error%s%s", name, errs ? ": " : "", text);
    pk_err_free(errs);
    return rc;
}

static void test_all_keys(void)
{
    pk_settings s;
    parse_good("good/all-keys.yaml", &s);
    tap_ok(s.desired_path == NULL, "desired.path unset when remote is given");
    tap_is_str(s.desired_remote, "https://git.example.com/storage.git", "desired.remote");
    tap_is_str(s.desired_branch, "production", "desired.branch");
    tap_is_str(s.desired_subdir, "hosts/%H", "desired.subdir");
    tap_is_str(s.state, "/var/lib/poolkeeper/state.db", "state");
    tap_is_int(s.interval_ms, 5400000, "interval 1h30m");
    tap_is_int(s.jitter_percent, 20, "jitter 20%%");
    tap_is_int(s.retry_interval_ms, 45000, "retry_interval 45s");
    tap_ok(s.policy.prune, "policy.prune yes");
    tap_ok(s.policy.allow_shrink, "policy.allow_shrink on");
    tap_ok(s.policy.allow_pool_delete, "policy.allow_pool_delete true");
    tap_ok(s.policy.allow_format, "policy.allow_format True");
    tap_is_int(s.policy.max_delete_percent, 40, "policy.max_delete_percent 40%%");
    tap_is_int(s.policy.drift, PK_DRIFT_REPORT, "policy.drift report");
    tap_is_int(s.policy.adopt, PK_ADOPT_MATCHING, "policy.adopt matching");
    tap_is_str(s.secrets_dir, "/etc/poolkeeper/other-secrets", "secrets.dir");
    tap_is_str(s.ceph_conf, "/etc/ceph/cluster.conf", "ceph.conf");
    tap_is_int((long long)s.n_notify, 3, "three notify targets");
    if (s.n_notify == 3) {
        tap_is_str(s.notify[0].url, "http://127.0.0.1:9000/hook", "notify[0].url");
        tap_is_str(s.notify[0].secret_file, "/etc/poolkeeper/hook.key", "notify[0].secret_file");
        tap_is_int((long long)pk_strv_len(s.notify[0].events), 5, "notify[0] lists five events");
        tap_is_str(s.notify[1].url, "https://alerts.example.com/poolkeeper", "notify[1].url");
        tap_ok(s.notify[1].secret_file == NULL, "notify[1] has no secret_file");
        tap_ok(pk_notify_wants(&s.notify[1], "failed") && !pk_notify_wants(&s.notify[1], "drift"),
               "notify[1] wants failed only");
        tap_ok(s.notify[2].events == NULL && pk_notify_wants(&s.notify[2], "recovered"),
               "notify[2] without events wants every event");
    }
    tap_is_str(s.metrics_listen, "[::1]:9477", "metrics.listen (quoted, IPv6)");
    tap_is_int(s.healthz_failures, 5, "metrics.healthz_failures");
    tap_is_int(s.log_format, PK_LOG_JSON, "log.format json");
    tap_is_int(s.log_level, PK_LOG_DEBUG, "log.level debug");
    tap_is_str(pk_settings_branch(&s), "production", "effective branch is the configured one");
    _cleanup_free_ char *path = data_path("good/all-keys.yaml");
    tap_is_str(s.config_file, path, "config_file names the file read");
    const pk_config_key *k = pk_config_key_find("policy.drift");
    tap_ok(s.origins[k - pk_config_keys].from == PK_SRC_FILE &&
           s.origins[k - pk_config_keys].line == 16, "policy.drift comes from line 16 of the file");
    pk_settings_clear(&s);
}

static void test_defaults(void)
{
    static const char *const files[] = { "good/empty.yaml", "good/comments-only.yaml",
                                         "good/empty-sections.yaml" };
    for (size_t i = 0; i < PK_NELEM(files); i++) {
        pk_settings s;
        parse_good(files[i], &s);
        tap_ok(s.desired_path == NULL && s.desired_remote == NULL && s.desired_branch == NULL &&
               s.desired_subdir == NULL, "%s: desired unset (current directory)", files[i]);
        tap_is_str(s.state, "./.poolkeeper/state.db", "%s: default state", files[i]);
        tap_ok(s.interval_ms == 300000 && s.jitter_percent == 10 && s.retry_interval_ms == 30000,
               "%s: default interval 5m, jitter 10%%, retry 30s", files[i]);
        tap_ok(!s.policy.prune && !s.policy.allow_shrink && !s.policy.allow_pool_delete &&
               !s.policy.allow_format && s.policy.max_delete_percent == 25 &&
               s.policy.drift == PK_DRIFT_CORRECT && s.policy.adopt == PK_ADOPT_NEVER,
               "%s: default policy (design.md §5)", files[i]);
        tap_is_str(s.secrets_dir, "/etc/poolkeeper/secrets", "%s: default secrets.dir", files[i]);
        tap_ok(s.ceph_conf == NULL && s.n_notify == 0 && s.metrics_listen == NULL,
               "%s: no ceph.conf, notify or metrics", files[i]);
        tap_ok(s.healthz_failures == 3 && s.log_format == PK_LOG_TEXT && s.log_level == PK_LOG_INFO,
               "%s: healthz_failures 3, log text/info", files[i]);
        tap_ok(pk_settings_branch(&s) == NULL, "%s: branch defaults to HEAD", files[i]);
        pk_settings_clear(&s);
    }
}

static void test_flow_and_design(void)
{
    pk_settings s;
    parse_good("good/flow.yaml", &s);
    tap_is_str(s.desired_path, "/srv/storage-config", "flow: desired.path");
    tap_is_str(s.desired_branch, "main", "flow: desired.branch");
    tap_ok(!s.policy.prune && s.policy.allow_shrink && s.policy.max_delete_percent == 10 &&
           s.policy.drift == PK_DRIFT_REPORT, "flow: policy mapping");
    tap_ok(s.interval_ms == 600000 && s.jitter_percent == 5, "flow: quoted duration, bare percentage");
    tap_ok(s.n_notify == 1 && pk_notify_wants(&s.notify[0], "drift") &&
           !pk_notify_wants(&s.notify[0], "applied"), "flow: notify list of flow mappings");
    tap_ok(s.log_format == PK_LOG_JSON && s.log_level == PK_LOG_WARN, "flow: log json/warn");
    pk_settings_clear(&s);

    parse_good("good/design-example.yaml", &s);
    tap_is_str(s.desired_subdir, "hosts/%H", "design example: subdir");
    tap_ok(s.policy.max_delete_percent == 25 && s.policy.adopt == PK_ADOPT_NEVER,
           "design example: multi-line flow policy");
    tap_is_str(s.metrics_listen, "127.0.0.1:9477", "design example: metrics.listen");
    tap_is_str(s.ceph_conf, "/etc/ceph/ceph.conf", "design example: ceph.conf");
    pk_settings_clear(&s);

    _cleanup_free_ char *contrib = pk_asprintf("%s/../contrib/poolkeeper.yaml", tap_data_dir());
    pk_settings_defaults(&s);
    pk_err *errs = NULL;
    tap_ok(pk_config_parse_file(contrib, &s, &errs) == 0, "contrib/poolkeeper.yaml parses");
    pk_err_free(errs);
    tap_is_str(s.desired_path, "/srv/storage-config", "contrib: desired.path");
    tap_ok(s.n_notify == 1 && s.notify[0].secret_file, "contrib: one signed notify target");
    pk_settings_clear(&s);
}

static void test_relative_paths(void)
{
    pk_settings s;
    parse_good("good/relative-paths.yaml", &s);
    _cleanup_free_ char *dir = data_path("good");
    _cleanup_free_ char *repo = pk_asprintf("%s/repo", dir);
    _cleanup_free_ char *state = pk_asprintf("%s/state/state.db", dir);
    _cleanup_free_ char *secrets = pk_asprintf("%s/secrets", dir);
    _cleanup_free_ char *key = pk_asprintf("%s/hook.key", dir);
    tap_is_str(s.desired_path, repo, "desired.path relative to the file's directory");
    tap_is_str(s.state, state, "state relative to the file's directory");
    tap_is_str(s.secrets_dir, secrets, "secrets.dir relative to the file's directory");
    tap_is_str(s.ceph_conf, "/etc/ceph/ceph.conf", "absolute paths are kept");
    tap_ok(s.n_notify == 1 && pk_streq(s.notify[0].secret_file, key),
           "notify secret_file relative to the file's directory");
    pk_settings_clear(&s);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every tests/data/config/bad/NAME.yaml gives exactly the errors of NAME.err. */
static void test_bad_files(void)
{
    _cleanup_free_ char *dir = data_path("bad");
    DIR *d = opendir(dir);
    if (!d) tap_bail("cannot open %s", dir);
    char **names = NULL;
    for (struct dirent *de; (de = readdir(d));)
        if (pk_str_has_suffix(de->d_name, ".yaml")) pk_strv_push(&names, de->d_name);
    closedir(d);
    size_t n = pk_strv_len(names);
    qsort(names, n, sizeof(*names), cmp_str);
    tap_ok(n >= 15, "at least 15 bad configuration files (%zu)", n);

    _cleanup_free_ char *cwd = getcwd(NULL, 0);
    if (chdir(dir) < 0) tap_bail("chdir %s", dir);
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *errfile = pk_asprintf("%.*s.err", (int)(strlen(names[i]) - 5), names[i]);
        _cleanup_free_ char *want = slurp(errfile);
        pk_settings s;
        pk_settings_defaults(&s);
        pk_err *errs = NULL;
        int rc = pk_config_parse_file(names[i], &s, &errs);
        _cleanup_free_ char *got = errs_text(errs);
        tap_ok(rc < 0 && want && *want, "%s is rejected and has expected errors", names[i]);
        tap_is_str(got, want ? want : "", "%s: errors, FILE:LINE:COL", names[i]);
        pk_err_free(errs);
        pk_settings_clear(&s);
    }
    if (chdir(cwd) < 0) tap_bail("chdir back");
    pk_strv_free(names);
}

static void test_io_errors(void)
{
    pk_settings s;
    pk_settings_defaults(&s);
    pk_err *errs = NULL;
    tap_ok(pk_config_parse_file("/nonexistent/poolkeeper.yaml", &s, &errs) < 0, "missing file fails");
    _cleanup_free_ char *t = errs_text(errs);
    tap_is_str(t, "/nonexistent/poolkeeper.yaml: error: cannot open the configuration file: "
               "No such file or directory\n", "missing file message");
    pk_err_free(errs);
    errs = NULL;
    _cleanup_free_ char *dir = data_path("good");
    tap_ok(pk_config_parse_file(dir, &s, &errs) < 0 && errs && errs->errnum != 0,
           "a directory is an error with its errno");
    pk_err_free(errs);
    pk_settings_clear(&s);
}

/* ---- precedence and file resolution ---- */

static void test_precedence(void)
{
    clean_env();
    _cleanup_free_ char *tmp = tap_tmpdir("config");
    _cleanup_free_ char *file = pk_asprintf("%s/poolkeeper.yaml", tmp);
    write_file(file,
               "desired: { path: /file/repo }\n"
               "state: /file/state.db\n"
               "interval: 10m\n"
               "log: { format: json, level: warn }\n"
               "policy: { prune: true }\n");
    pk_cli_opts o = { .config = file };
    pk_settings s;
    pk_err *errs = NULL;
    const pk_config_key *kstate = pk_config_key_find("state");
    size_t istate = (size_t)(kstate - pk_config_keys);

    tap_ok(pk_settings_load_from(&o, NULL, &s, &errs) == 0, "file only loads");
    tap_is_str(s.state, "/file/state.db", "file > default: state");
    tap_is_int(s.interval_ms, 600000, "file > default: interval");
    tap_is_int(s.jitter_percent, 10, "default where nothing else: jitter");
    tap_ok(s.origins[istate].from == PK_SRC_FILE && s.origins[istate].line == 2, "state origin: file line 2");
    pk_settings_clear(&s);

    setenv("POOLKEEPER_STATE", "/env/state.db", 1);
    setenv("POOLKEEPER_INTERVAL", "2m", 1);
    setenv("POOLKEEPER_LOG_FORMAT", "text", 1);
    setenv("POOLKEEPER_PRUNE", "off", 1);
    setenv("POOLKEEPER_JITTER", "", 1);   /* empty = unset */
    setenv("POOLKEEPER_DESIRED_REMOTE", "file:///env/repo.git", 1);
    tap_ok(pk_settings_load_from(&o, NULL, &s, &errs) == 0, "file + env loads");
    tap_is_str(s.state, "/env/state.db", "env > file: state");
    tap_is_int(s.interval_ms, 120000, "env > file: interval");
    tap_is_int(s.log_format, PK_LOG_TEXT, "env > file: log.format");
    tap_ok(!s.policy.prune, "env > file: policy.prune");
    tap_is_int(s.jitter_percent, 10, "an empty variable counts as unset");
    tap_ok(s.desired_path == NULL && pk_streq(s.desired_remote, "file:///env/repo.git"),
           "env remote replaces the file's path");
    tap_is_str(pk_settings_branch(&s), "main", "a remote follows main by default");
    tap_ok(s.origins[istate].from == PK_SRC_ENV, "state origin: environment");
    pk_settings_clear(&s);

    o.state = "/flag/state.db";
    o.log_format = "json";
    o.desired = "/flag/repo";
    o.ref = "v1.0";
    o.worktree = true;
    o.verbose = 1;
    tap_ok(pk_settings_load_from(&o, NULL, &s, &errs) == 0, "file + env + flags loads");
    tap_is_str(s.state, "/flag/state.db", "flag > env: state");
    tap_is_int(s.log_format, PK_LOG_JSON, "flag > env: log.format");
    tap_is_int(s.log_level, PK_LOG_DEBUG, "-v > file: log.level debug");
    tap_ok(pk_streq(s.desired_path, "/flag/repo") && s.desired_remote == NULL,
           "--desired replaces the env remote");
    tap_ok(pk_streq(s.ref, "v1.0") && s.worktree, "--ref and --worktree");
    tap_is_int(s.interval_ms, 120000, "env still wins where no flag exists");
    tap_ok(s.origins[istate].from == PK_SRC_FLAG, "state origin: flag");
    pk_settings_clear(&s);

    o.verbose = 0;
    o.quiet = true;
    setenv("POOLKEEPER_LOG_LEVEL", "debug", 1);
    tap_ok(pk_settings_load_from(&o, NULL, &s, &errs) == 0 && s.log_level == PK_LOG_ERROR,
           "-q > POOLKEEPER_LOG_LEVEL");
    pk_settings_clear(&s);

    pk_cli_opts none = { 0 };
    setenv("POOLKEEPER_REF", "abc123", 1);
    setenv("POOLKEEPER_WORKTREE", "yes", 1);
    tap_ok(pk_settings_load_from(&none, NULL, &s, &errs) == 0 && pk_streq(s.ref, "abc123") &&
           s.worktree, "POOLKEEPER_REF and POOLKEEPER_WORKTREE");
    tap_ok(s.config_file == NULL && pk_streq(s.state, "/env/state.db"),
           "no file at all: defaults and environment");
    pk_settings_clear(&s);
    tap_ok(errs == NULL, "no errors along the way");
    clean_env();
}

static void test_env_errors(void)
{
    clean_env();
    pk_cli_opts o = { 0 };
    pk_settings s;
    pk_err *errs = NULL;
    setenv("POOLKEEPER_INTERVAL", "soon", 1);
    setenv("POOLKEEPER_PRUNE", "maybe", 1);
    setenv("POOLKEEPER_DESIRED", "/a", 1);
    setenv("POOLKEEPER_DESIRED_REMOTE", "file:///b", 1);
    setenv("POOLKEEPER_HEALTHZ_FAILURES", "0", 1);
    tap_ok(pk_settings_load_from(&o, NULL, &s, &errs) < 0, "bad variables fail the load");
    tap_ok(s.state == NULL && s.origins == NULL, "a failed load leaves the settings cleared");
    _cleanup_free_ char *t = errs_text(errs);
    tap_is_str(t,
               "error: POOLKEEPER_DESIRED and POOLKEEPER_DESIRED_REMOTE are mutually exclusive\n"
               "error: POOLKEEPER_INTERVAL must be a duration such as 250ms, 30s, 5m or 1h30m, not 'soon'\n"
               "error: POOLKEEPER_PRUNE must be true or false, not 'maybe'\n"
               "error: POOLKEEPER_HEALTHZ_FAILURES must be between 1 and 1000, not '0'\n",
               "every bad variable is reported");
    pk_err_free(errs);
    clean_env();

    /* File errors and variable errors come out of one pass together. */
    errs = NULL;
    _cleanup_free_ char *bad = data_path("bad/bad-enum.yaml");
    o.config = bad;
    o.state = "";
    setenv("POOLKEEPER_JITTER", "99%", 1);
    tap_ok(pk_settings_load_from(&o, NULL, &s, &errs) < 0, "file, variable and flag errors");
    tap_is_int((long long)pk_err_count(errs), 6, "4 file errors + 1 variable + 1 flag");
    _cleanup_free_ char *all = errs_text(errs);
    tap_ok(strstr(all, "error: POOLKEEPER_JITTER must be between 0% and 50%, not '99%'\n") &&
           strstr(all, "error: --state must not be empty\n"), "variable and flag errors name them");
    pk_err_free(errs);
    clean_env();
}

static void test_resolve(void)
{
    clean_env();
    _cleanup_free_ char *tmp = tap_tmpdir("config-resolve");
    _cleanup_free_ char *deflt = pk_asprintf("%s/default.yaml", tmp);
    _cleanup_free_ char *envf = pk_asprintf("%s/env.yaml", tmp);
    _cleanup_free_ char *flagf = pk_asprintf("%s/flag.yaml", tmp);
    _cleanup_free_ char *missing = pk_asprintf("%s/missing.yaml", tmp);
    write_file(deflt, "state: /default-file.db\n");
    write_file(envf, "state: /env-file.db\n");
    write_file(flagf, "state: /flag-file.db\n");
    pk_cli_opts o = { 0 };
    pk_settings s;
    pk_err *errs = NULL;
    bool expl;

    tap_ok(pk_config_resolve_file(&o, missing, &expl) == NULL && !expl,
           "no default file, nothing named: no file");
    tap_ok(pk_settings_load_from(&o, missing, &s, &errs) == 0 && s.config_file == NULL &&
           pk_streq(s.state, PK_STATE_DEFAULT), "a missing default file is not an error");
    pk_settings_clear(&s);

    tap_ok(pk_settings_load_from(&o, deflt, &s, &errs) == 0 && pk_streq(s.state, "/default-file.db"),
           "the default file is read when it exists");
    pk_settings_clear(&s);

    setenv("POOLKEEPER_CONFIG", envf, 1);
    tap_ok(pk_settings_load_from(&o, deflt, &s, &errs) == 0 && pk_streq(s.state, "/env-file.db") &&
           pk_streq(s.config_file, envf), "POOLKEEPER_CONFIG > default file");
    pk_settings_clear(&s);

    o.config = flagf;
    tap_ok(pk_config_resolve_file(&o, deflt, &expl) == flagf && expl, "--config is explicit");
    tap_ok(pk_settings_load_from(&o, deflt, &s, &errs) == 0 && pk_streq(s.state, "/flag-file.db"),
           "--config > POOLKEEPER_CONFIG");
    pk_settings_clear(&s);

    o.config = NULL;
    setenv("POOLKEEPER_CONFIG", missing, 1);
    tap_ok(pk_settings_load_from(&o, deflt, &s, &errs) < 0, "a missing POOLKEEPER_CONFIG file is an error");
    _cleanup_free_ char *t = errs_text(errs);
    _cleanup_free_ char *want = pk_asprintf("%s: error: cannot open the configuration file: "
                                            "No such file or directory\n", missing);
    tap_is_str(t, want, "missing explicit file message");
    pk_err_free(errs);
    clean_env();
}

/* ---- config show ---- */

static void test_show(void)
{
    clean_env();
    pk_settings a, b;
    parse_good("good/all-keys.yaml", &a);
    _cleanup_free_ char *shown = pk_settings_format_yaml(&a);
    tap_ok(strstr(shown, "  drift: report") != NULL, "show prints policy.drift");
    tap_ok(strstr(shown, "all-keys.yaml:16\n") != NULL, "show cites the file line of a value");
    tap_ok(strstr(shown, "    secret_file: /etc/poolkeeper/hook.key\n") != NULL,
           "show names the secret file");
    tap_ok(strstr(shown, "interval: 1h30m") && strstr(shown, "jitter: 20%"),
           "durations and percentages in their canonical form");

    _cleanup_free_ char *tmp = tap_tmpdir("config-show");
    _cleanup_free_ char *file = pk_asprintf("%s/shown.yaml", tmp);
    write_file(file, shown);
    pk_settings_defaults(&b);
    pk_err *errs = NULL;
    tap_ok(pk_config_parse_file(file, &b, &errs) == 0, "show output parses back");
    _cleanup_free_ char *et = errs_text(errs);
    if (errs) tap_diag("%s", et);
    pk_err_free(errs);
    /* Compare without what legitimately differs: which file, which line. */
    free(a.origins); a.origins = NULL;
    free(b.origins); b.origins = NULL;
    free(a.config_file); a.config_file = NULL;
    free(b.config_file); b.config_file = NULL;
    _cleanup_free_ char *ya = pk_settings_format_yaml(&a);
    _cleanup_free_ char *yb = pk_settings_format_yaml(&b);
    tap_is_str(yb, ya, "show -> parse -> show is the same");
    pk_settings_clear(&a);
    pk_settings_clear(&b);

    /* Secrets: passwords in URLs are masked; key files are never read. */
    _cleanup_free_ char *key = pk_asprintf("%s/hook.key", tmp);
    write_file(key, "SUPERSECRETKEY\n");
    _cleanup_free_ char *cfg = pk_asprintf("%s/secret.yaml", tmp);
    _cleanup_free_ char *text = pk_asprintf(
        "desired: { remote: 'https://bob:hunter2@git.example.com/s.git' }\n"
        "notify:\n  - url: https://hook:pa55word@127.0.0.1:9000/x\n    secret_file: %s\n", key);
    write_file(cfg, text);
    pk_settings_defaults(&a);
    tap_ok(pk_config_parse_file(cfg, &a, &errs) == 0, "config with credentials parses");
    _cleanup_free_ char *sec = pk_settings_format_yaml(&a);
    tap_ok(!strstr(sec, "hunter2") && !strstr(sec, "pa55word") && !strstr(sec, "SUPERSECRET"),
           "no secret in show output");
    tap_ok(strstr(sec, "https://bob:***@git.example.com/s.git") != NULL, "remote password masked");
    tap_ok(strstr(sec, key) != NULL, "the key file is named");
    pk_settings_clear(&a);
}

/* ---- the binary ---- */

typedef struct {
    int status;
    char *out, *err;
} run_result;

static run_result run(const char *const *argv)
{
    _cleanup_free_ char *tmp = tap_tmpdir("config-run");
    _cleanup_free_ char *outp = pk_asprintf("%s/out", tmp);
    _cleanup_free_ char *errp = pk_asprintf("%s/err", tmp);
    run_result r = { -1, NULL, NULL };
    pid_t pid = fork();
    if (pid < 0) tap_bail("fork");
    if (pid == 0) {
        int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (o < 0 || e < 0) _exit(126);
        dup2(o, 1);
        dup2(e, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    r.out = slurp(outp);
    r.err = slurp(errp);
    return r;
}

static void run_free(run_result *r)
{
    free(r->out);
    free(r->err);
}

static void test_binary(void)
{
    const char *bin = getenv("POOLKEEPER");
    if (!bin) {
        tap_skip("POOLKEEPER not set", "config command of the binary");
        return;
    }
    clean_env();
    _cleanup_free_ char *contrib = pk_asprintf("%s/../contrib/poolkeeper.yaml", tap_data_dir());
    run_result r = run((const char *[]){ bin, "config", "check", contrib, NULL });
    _cleanup_free_ char *ok = pk_asprintf("%s: OK\n", contrib);
    tap_is_int(r.status, 0, "config check contrib/poolkeeper.yaml exits 0: %s", r.err);
    tap_is_str(r.out, ok, "and says OK");
    run_free(&r);

    _cleanup_free_ char *bad = data_path("bad/many-errors.yaml");
    _cleanup_free_ char *bad_err = data_path("bad/many-errors.err");
    _cleanup_free_ char *want_rel = slurp(bad_err);
    /* The .err files name the file relatively; the binary names it as given. */
    pk_buf want = PK_BUF_INIT;
    _cleanup_free_ char *baddir = data_path("bad");
    for (char *line = want_rel, *nl; line && *line; line = nl + 1) {
        nl = strchr(line, '\n');
        pk_buf_addf(&want, "%s/%.*s\n", baddir, (int)(nl - line), line);
    }
    r = run((const char *[]){ bin, "config", "check", bad, NULL });
    tap_is_int(r.status, 1, "config check of a bad file exits 1");
    tap_is_str(r.err, pk_buf_str(&want), "every error on stderr, FILE:LINE:COL");
    tap_is_str(r.out, "", "nothing on stdout");
    run_free(&r);
    pk_buf_free(&want);

    r = run((const char *[]){ bin, "--config", bad, "config", "check", NULL });
    tap_is_int(r.status, 1, "--config FILE config check: the same file is checked");
    run_free(&r);

    _cleanup_free_ char *design = data_path("good/design-example.yaml");
    setenv("POOLKEEPER_STATE", "/tmp/from-env.db", 1);
    r = run((const char *[]){ bin, "config", "show", design, "--log-format", "json", NULL });
    tap_is_int(r.status, 0, "config show exits 0: %s", r.err);
    tap_ok(strstr(r.out, "state: /tmp/from-env.db") && strstr(r.out, "# POOLKEEPER_STATE\n"),
           "show: state from the environment, and says so");
    tap_ok(strstr(r.out, "  format: json") && strstr(r.out, "# --log-format\n"),
           "show: log.format from the flag, and says so");
    tap_ok(strstr(r.out, "design-example.yaml:3\n") != NULL, "show: a value cites its file line");
    tap_ok(strstr(r.out, "  healthz_failures: 3") && strstr(r.out, "# default\n"),
           "show: defaults are marked");
    run_free(&r);
    unsetenv("POOLKEEPER_STATE");

    r = run((const char *[]){ bin, "config", "check", "--show", design, NULL });
    tap_ok(r.status == 0 && strstr(r.out, "desired:\n  path: /srv/storage-config"),
           "config check --show prints the settings");
    run_free(&r);

    setenv("POOLKEEPER_CONFIG", "/dev/null", 1);
    r = run((const char *[]){ bin, "config", "check", NULL });
    tap_ok(r.status == 0 && pk_streq(r.out, "/dev/null: OK\n"), "POOLKEEPER_CONFIG names the file");
    run_free(&r);
    setenv("POOLKEEPER_INTERVAL", "often", 1);
    r = run((const char *[]){ bin, "config", "check", NULL });
    tap_ok(r.status == 1 && pk_streq(r.err, "poolkeeper: error: POOLKEEPER_INTERVAL must be a duration "
                                            "such as 250ms, 30s, 5m or 1h30m, not 'often'\n"),
           "config check reports a bad variable: %s", r.err);
    run_free(&r);
    clean_env();

    r = run((const char *[]){ bin, "config", "check", "/nonexistent/pk.yaml", NULL });
    tap_ok(r.status == 1 && strstr(r.err, "/nonexistent/pk.yaml: error: cannot open the configuration file"),
           "a missing FILE is an error");
    run_free(&r);

    static const char *const misuse[][5] = {
        { "config", NULL }, { "config", "frob", NULL }, { "config", "check", "--bogus", NULL },
        { "config", "check", "a", "b", NULL },
    };
    for (size_t i = 0; i < PK_NELEM(misuse); i++) {
        const char *argv[7] = { bin };
        for (size_t j = 0; misuse[i][j]; j++) argv[j + 1] = misuse[i][j];
        r = run(argv);
        tap_ok(r.status == 1 && strstr(r.err, "see 'poolkeeper help config'"),
               "usage error %zu exits 1 with a hint: %s", i, r.err);
        run_free(&r);
    }

    /* The help is the reference: every key, variable and flag is in it. */
    r = run((const char *[]){ bin, "help", "config", NULL });
    tap_is_int(r.status, 0, "help config exits 0");
    for (size_t i = 0; i < pk_config_nkeys; i++) {
        const pk_config_key *k = &pk_config_keys[i];
        if (!k->cli_only)
            tap_ok(strstr(r.out, k->name) != NULL, "help names key '%s'", k->name);
        if (k->env) tap_ok(strstr(r.out, k->env) != NULL, "help names %s", k->env);
        if (k->flag && k->flag[0] == '-' && k->flag[1] == '-')
            tap_ok(strstr(r.out, k->flag) != NULL, "help names %s", k->flag);
    }
    tap_ok(strstr(r.out, "POOLKEEPER_CONFIG") != NULL, "help names POOLKEEPER_CONFIG");
    run_free(&r);
}

int main(void)
{
    clean_env();
    test_durations();
    test_percentages();
    test_bools();
    test_checked_strings();
    test_all_keys();
    test_defaults();
    test_flow_and_design();
    test_relative_paths();
    test_bad_files();
    test_io_errors();
    test_precedence();
    test_env_errors();
    test_resolve();
    test_show();
    test_binary();
    return tap_done();
}
