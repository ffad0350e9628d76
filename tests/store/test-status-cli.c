/* `poolkeeper status` and `poolkeeper history`, run as the real binary
 * ($POOLKEEPER) against state databases filled through the store API: no
 * state yet, an empty one, a populated one, an unreadable one, one of an
 * older schema, with and without the desired repository, while locked. */
#include "fixtures.h"
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <sys/wait.h>

static char *tmp, *desired;
static const char *bin;

typedef struct {
    int rc;
    char *out, *err;
} result;

static void result_clear(result *r)
{
    free(r->out);
    free(r->err);
}

/* Run poolkeeper with args (NULL-terminated), stdout and stderr apart. */
static result run(const char *first, ...)
{
    char *argv[32];
    int n = 0;
    argv[n++] = (char *)bin;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && n < 31; a = va_arg(ap, const char *)) argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    _cleanup_free_ char *errfile = pk_asprintf("%s/stderr", tmp);
    int efd = open(errfile, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
    int pfd[2];
    if (efd < 0 || pipe(pfd) < 0) tap_bail("cannot set up a run");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 1);
        dup2(efd, 2);
        close(pfd[0]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(pfd[1]);
    close(efd);
    pk_buf b = PK_BUF_INIT;
    char buf[4096];
    ssize_t r;
    while ((r = read(pfd[0], buf, sizeof(buf))) > 0) pk_buf_addn(&b, buf, (size_t)r);
    close(pfd[0]);
    int st;
    waitpid(pid, &st, 0);
    result res = { .rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st) };
    res.out = b.s ? pk_buf_steal(&b) : pk_strdup("");
    size_t len;
    res.err = fx_read(errfile, &len);
    return res;
}

/* The line of a status table that starts with `name` and a space. */
static char *line_of(const char *text, const char *name)
{
    size_t l = strlen(name);
    for (const char *p = text; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len > l && strncmp(p, name, l) == 0 && p[l] == ' ') return pk_strndup(p, len);
        p = nl ? nl + 1 : NULL;
    }
    return pk_strdup("");
}

static bool line_has(const char *text, const char *name, const char *what)
{
    _cleanup_free_ char *line = line_of(text, name);
    bool ok = strstr(line, what) != NULL;
    if (!ok) tap_diag("line '%s': %s\n  wanted: %s", name, line, what);
    return ok;
}

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) tap_bail("write %s", path);
    close(fd);
}

static void make_desired(void)
{
    desired = pk_asprintf("%s/desired", tmp);
    _cleanup_free_ char *pools = pk_asprintf("%s/pools", desired);
    _cleanup_free_ char *vols = pk_asprintf("%s/pools/default", desired);
    mkdir(desired, 0755);
    mkdir(pools, 0755);
    mkdir(vols, 0755);
    _cleanup_free_ char *p = pk_asprintf("%s/default.xml", pools);
    write_file(p, "<pool type='dir'>\n  <name>default</name>\n  <target>\n    <path>/srv/images</path>\n  </target>\n</pool>\n");
    _cleanup_free_ char *v1 = pk_asprintf("%s/web.qcow2.xml", vols);
    write_file(v1, "<volume>\n  <name>web.qcow2</name>\n  <capacity unit='GiB'>40</capacity>\n  <target>\n    <format type='qcow2'/>\n  </target>\n</volume>\n");
    _cleanup_free_ char *v2 = pk_asprintf("%s/db.raw.xml", vols);
    write_file(v2, "<volume>\n  <name>db.raw</name>\n  <capacity unit='GiB'>10</capacity>\n  <target>\n    <format type='raw'/>\n  </target>\n</volume>\n");
}

static json_object *parse_json(const char *text)
{
    json_object *j = json_tokener_parse(text);
    if (!j) tap_diag("not JSON: %s", text);
    return j;
}

static json_object *jget(json_object *o, const char *path)
{
    /* "a.b.0.c": objects by key, arrays by index. */
    _cleanup_free_ char *copy = pk_strdup(path);
    char *save = NULL;
    for (char *k = strtok_r(copy, ".", &save); k && o; k = strtok_r(NULL, ".", &save)) {
        if (json_object_is_type(o, json_type_array))
            o = json_object_array_get_idx(o, (size_t)atoi(k));
        else if (!json_object_object_get_ex(o, k, &o))
            return NULL;
    }
    return o;
}

static const char *jstr(json_object *o, const char *path)
{
    json_object *v = jget(o, path);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static int64_t jint(json_object *o, const char *path)
{
    json_object *v = jget(o, path);
    return v ? json_object_get_int64(v) : -12345;
}

static bool jbool(json_object *o, const char *path)
{
    json_object *v = jget(o, path);
    return v && json_object_get_boolean(v);
}

/* ---------- no state ---------- */

static void test_no_state(void)
{
    _cleanup_free_ char *db = pk_asprintf("%s/nothing/state.db", tmp);
    result r = run("status", "--state", db, NULL);
    tap_is_int(r.rc, 0, "status without a state database exits 0");
    tap_ok(strstr(r.out, "no state yet") != NULL, "and says 'no state yet'");
    tap_ok(strstr(r.out, "desired state not available: no desired repository configured") != NULL,
           "and that no desired repository is configured");
    _cleanup_free_ char *dir = pk_asprintf("%s/nothing", tmp);
    tap_ok(access(dir, F_OK) < 0 && errno == ENOENT, "status created neither the file nor its directory");
    result_clear(&r);

    r = run("status", "--state", db, "--desired", desired, "--worktree", NULL);
    tap_is_int(r.rc, 0, "status with a desired repository and no state");
    tap_ok(line_has(r.out, "default", "yes") && line_has(r.out, "default", "never observed"),
           "the desired pool: never observed");
    tap_ok(line_has(r.out, "default/web.qcow2", "never observed"), "its volumes too");
    tap_ok(strstr(r.out, "desired worktree") != NULL, "the header says the work tree was read");
    result_clear(&r);

    r = run("status", "--json", "--state", db, "--desired", desired, "--worktree", NULL);
    json_object *j = parse_json(r.out);
    tap_ok(r.rc == 0 && j, "status --json without state is JSON");
    tap_is_int(jint(j, "format_version"), 1, "format_version 1");
    tap_ok(jget(j, "state.exists") && !jbool(j, "state.exists"), "state.exists false");
    tap_is_str(jstr(j, "pools.0.name"), "default", "pools[0] is the desired pool");
    tap_is_str(jstr(j, "pools.0.observed.status"), "never", "observed.status 'never'");
    tap_is_str(jstr(j, "pools.0.volumes.0.name"), "db.raw", "its volumes, by name");
    tap_ok(jbool(j, "desired.loaded") && jbool(j, "pools.0.desired"), "desired loaded and the pool desired");
    tap_ok(jstr(j, "pools.0.desired_at") && strstr(jstr(j, "pools.0.desired_at"), "pools/default.xml:1"),
           "desired_at cites the file");
    json_object_put(j);
    result_clear(&r);

    r = run("history", "--state", db, NULL);
    tap_ok(r.rc == 0 && strstr(r.out, "no state yet"), "history without state: 'no state yet', exit 0");
    result_clear(&r);
    r = run("history", "--json", "--state", db, NULL);
    j = parse_json(r.out);
    tap_ok(j && json_object_array_length(jget(j, "runs")) == 0 && !jbool(j, "exists"), "history --json: no runs");
    json_object_put(j);
    result_clear(&r);
    tap_ok(access(dir, F_OK) < 0, "history did not create it either");
}

/* ---------- an empty database ---------- */

static void test_empty(void)
{
    _cleanup_free_ char *db = pk_asprintf("%s/empty.db", tmp);
    pk_store *s = NULL;
    pk_err *err = NULL;
    if (pk_store_open(db, PK_STORE_WRITE, &s, &err) < 0) tap_bail("%s", fx_err(err));
    pk_store_close(s);
    result r = run("status", "--state", db, "--desired", desired, "--worktree", NULL);
    tap_is_int(r.rc, 0, "status on an empty state database");
    tap_ok(strstr(r.out, "no runs yet") && line_has(r.out, "default", "never observed"),
           "no runs yet, pools never observed");
    result_clear(&r);
    r = run("history", "--state", db, NULL);
    tap_ok(r.rc == 0 && strstr(r.out, "no runs yet"), "history: no runs yet");
    result_clear(&r);
    r = run("history", "last", "--state", db, NULL);
    tap_ok(r.rc == 1 && strstr(r.err, "no runs yet"), "history last with no runs: exit 1");
    result_clear(&r);
}

/* ---------- a populated database ---------- */

static void populate(const char *db, int64_t *ret_run1, int64_t *ret_run2)
{
    pk_store *s = NULL;
    pk_err *err = NULL;
    if (pk_store_open(db, PK_STORE_WRITE, &s, &err) < 0 || pk_store_lock(s, &err) < 0) tap_bail("%s", fx_err(err));
    pk_observed o = { 0 };
    pk_obs_pool *p = PK_APPEND(o.pools, o.n_pools);
    *p = (pk_obs_pool){ .name = pk_strdup("default"), .type = PK_POOL_DIR, .state = PK_POOL_RUNNING,
                        .capacity = 100ull << 30, .available = 60ull << 30, .identity = pk_strdup("64769:10"),
                        .vols_observed = true, .observed_at_ms = 1767225600000,
                        .perms = { .mode = 0755, .uid = 0, .gid = 0 } };
    const struct { const char *name; int fmt; uint64_t cap; const char *id; } vols[] = {
        { "db.raw", PK_IMG_RAW, 10ull << 30, "64769:12" },
        { "old.raw", PK_IMG_RAW, 1ull << 30, "64769:13" },
        { "web.qcow2", PK_IMG_QCOW2, 20ull << 30, "64769:11" },
    };
    for (size_t i = 0; i < PK_NELEM(vols); i++) {
        pk_obs_vol *v = PK_APPEND(p->vols, p->n_vols);
        *v = (pk_obs_vol){ .name = pk_strdup(vols[i].name), .type = PK_VOL_FILE, .format = vols[i].fmt,
                           .capacity = vols[i].cap, .identity = pk_strdup(vols[i].id), .backing_format = -1,
                           .path = pk_asprintf("/srv/images/%s", vols[i].name),
                           .perms = { .mode = 0600, .uid = 0, .gid = 0 },
                           .atime = { -1, 0 }, .mtime = { -1, 0 }, .ctime = { -1, 0 }, .btime = { -1, 0 } };
    }
    pk_obs_pool *g = PK_APPEND(o.pools, o.n_pools);
    *g = (pk_obs_pool){ .name = pk_strdup("ghost"), .type = PK_POOL_NETFS, .observed_at_ms = 1767225600000,
                        .error = pk_err_new(NULL, 0, EHOSTUNREACH, "cannot mount 'nfs.example:/export'"),
                        .perms = { .mode = -1, .uid = -1, .gid = -1 } };
    if (pk_store_record_observation(s, &o, &err) < 0) tap_bail("%s", fx_err(err));
    for (size_t i = 0; i < o.n_pools; i++) pk_obs_pool_clear(&o.pools[i]);
    free(o.pools);

    int64_t run1 = 0, run2 = 0;
    pk_action a1[2] = {
        { .kind = PK_ACT_POOL_BUILD, .pool = "default", .after = "/srv/images", .reason = "pools/default.xml:1 @3f2a9c1" },
        { .kind = PK_ACT_VOL_CREATE, .pool = "default", .vol = "web.qcow2", .after = "qcow2 20 GiB",
          .reason = "pools/default/web.qcow2.xml:1 @3f2a9c1" },
    };
    pk_journal_intent i1[2] = { { 0, &a1[0] }, { 1, &a1[1] } };
    pk_journal_result r1[2] = {
        { .seq = 0, .state = PK_JOURNAL_DONE, .own = PK_OWN_TAKE_CREATED, .identity = "64769:10" },
        { .seq = 1, .state = PK_JOURNAL_DONE, .own = PK_OWN_TAKE_CREATED, .identity = "64769:11" },
    };
    if (pk_store_run_begin(s, "3f2a9c1d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b", "main", &run1, &err) < 0 ||
        pk_store_journal_intents(s, run1, i1, 2, &err) < 0 || pk_store_journal_results(s, run1, r1, 2, &err) < 0 ||
        pk_store_run_end(s, run1, PK_RUN_OK, NULL, &err) < 0)
        tap_bail("%s", fx_err(err));
    if (pk_store_own_take(s, "default", "db.raw", "64769:2", "/srv/images/db.raw", PK_OWN_ADOPTED, 0, &err) < 0)
        tap_bail("%s", fx_err(err));

    pk_action a2[2] = {
        { .kind = PK_ACT_VOL_RESIZE, .pool = "default", .vol = "web.qcow2", .before = "20 GiB", .after = "40 GiB",
          .reason = "pools/default/web.qcow2.xml:3 @4b1e2d3" },
        { .kind = PK_ACT_VOL_DELETE, .pool = "default", .vol = "old.raw", .risk = PK_RISK_DESTRUCTIVE,
          .before = "1 GiB", .reason = "removed from desired in 4b1e2d3" },
    };
    pk_journal_intent i2[2] = { { 0, &a2[0] }, { 1, &a2[1] } };
    pk_journal_result r2[2] = {
        { .seq = 0, .state = PK_JOURNAL_FAILED, .error = "cannot resize 'web.qcow2': No space left on device" },
        { .seq = 1, .state = PK_JOURNAL_SKIPPED, .error = "blocked: deleting needs policy prune" },
    };
    if (pk_store_run_begin(s, "4b1e2d3c4d5e6f708192a3b4c5d6e7f8091a2b3c", "main", &run2, &err) < 0 ||
        pk_store_journal_intents(s, run2, i2, 2, &err) < 0 || pk_store_journal_results(s, run2, r2, 2, &err) < 0 ||
        pk_store_run_end(s, run2, PK_RUN_FAILED, NULL, &err) < 0)
        tap_bail("%s", fx_err(err));
    pk_drift_item d = { "default", "web.qcow2", "capacity", "20 GiB, desired 40 GiB" };
    if (pk_store_drift_note(s, &d, 1, NULL, &err) < 0) tap_bail("%s", fx_err(err));
    pk_store_close(s);
    *ret_run1 = run1;
    *ret_run2 = run2;
}

static void test_populated(void)
{
    _cleanup_free_ char *db = pk_asprintf("%s/full.db", tmp);
    int64_t run1, run2;
    populate(db, &run1, &run2);
    fx_snapshot snap;
    fx_snap(db, &snap);

    result r = run("status", "--state", db, "--desired", desired, "--worktree", NULL);
    tap_is_int(r.rc, 0, "status on a populated database");
    tap_ok(strstr(r.out, "last run 2: failed") && strstr(r.out, "2 actions: 1 failed, 1 skipped"),
           "the header shows the last run and its counts");
    tap_ok(line_has(r.out, "default", "yes") && line_has(r.out, "default", "running, 2026-01-01T00:00:00Z") &&
               line_has(r.out, "default", "created") && line_has(r.out, "default", "pool.build done (run 1)"),
           "the pool: desired, running with its time, created, last action");
    tap_ok(line_has(r.out, "default/web.qcow2", "qcow2 20 GiB") && line_has(r.out, "default/web.qcow2", " capacity ") &&
               line_has(r.out, "default/web.qcow2", "vol.resize failed (run 2): cannot resize 'web.qcow2': No space left on device"),
           "a volume: format and size, drift, the failed action with its error");
    tap_ok(line_has(r.out, "default/db.raw", "adopted (replaced since)"),
           "an owned volume whose identity changed is flagged as replaced");
    tap_ok(line_has(r.out, "default/old.raw", " no ") && line_has(r.out, "default/old.raw", "raw 1 GiB") &&
               line_has(r.out, "default/old.raw", "vol.delete skipped (run 2): blocked: deleting needs policy prune"),
           "an undesired volume with its skipped deletion");
    tap_ok(line_has(r.out, "ghost", " no ") && line_has(r.out, "ghost", "error: cannot mount 'nfs.example:/export': No route to host"),
           "a pool that could not be observed shows the error");
    tap_ok(strstr(r.out, "OBJECT") && strstr(r.out, "LAST ACTION"), "a table with headers");
    result_clear(&r);

    r = run("status", "--json", "--state", db, "--desired", desired, "--worktree", NULL);
    json_object *j = parse_json(r.out);
    tap_ok(r.rc == 0 && j, "status --json on a populated database");
    tap_ok(jbool(j, "state.exists") && jint(j, "state.schema_version") == PK_STORE_SCHEMA_VERSION,
           "state: exists, schema version");
    tap_is_int(jint(j, "last_run.id"), run2, "last_run.id");
    tap_is_str(jstr(j, "last_run.result"), "failed", "last_run.result");
    tap_is_int(jint(j, "last_run.actions.failed"), 1, "last_run.actions.failed");
    tap_is_str(jstr(j, "pools.0.name"), "default", "pools[0] default");
    tap_is_str(jstr(j, "pools.0.observed.status"), "running", "its observed status");
    tap_is_str(jstr(j, "pools.0.owned.how"), "created", "owned.how");
    tap_is_str(jstr(j, "pools.0.volumes.0.name"), "db.raw", "volumes sorted by name");
    tap_ok(jbool(j, "pools.0.volumes.0.owned.replaced"), "db.raw: owned.replaced true");
    tap_is_str(jstr(j, "pools.0.volumes.2.name"), "web.qcow2", "web.qcow2 third");
    tap_is_str(jstr(j, "pools.0.volumes.2.observed.format"), "qcow2", "its format");
    tap_is_int(jint(j, "pools.0.volumes.2.observed.capacity"), 20ll << 30, "its capacity in bytes");
    tap_is_str(jstr(j, "pools.0.volumes.2.drift.0.what"), "capacity", "its drift");
    tap_is_str(jstr(j, "pools.0.volumes.2.last_action.state"), "failed", "its last action failed");
    tap_ok(jstr(j, "pools.0.volumes.2.last_action.error") != NULL, "with the error");
    tap_ok(jget(j, "pools.0.volumes.1.desired") && !jbool(j, "pools.0.volumes.1.desired"), "old.raw is not desired");
    tap_is_str(jstr(j, "pools.1.name"), "ghost", "pools[1] ghost");
    tap_is_str(jstr(j, "pools.1.observed.status"), "error", "ghost: observed.status error");
    json_object_put(j);
    result_clear(&r);

    /* Without the desired state: still the store's view, and saying so. */
    _cleanup_free_ char *missing = pk_asprintf("%s/no-such-repo", tmp);
    r = run("status", "--state", db, "--desired", missing, "--worktree", NULL);
    tap_is_int(r.rc, 0, "status with an unreadable desired repository exits 0");
    tap_ok(strstr(r.out, "desired state not available: ") && strstr(r.out, "showing what the state database knows"),
           "and says the desired state is not available");
    tap_ok(line_has(r.out, "default/web.qcow2", " ? ") && line_has(r.out, "default/web.qcow2", "qcow2 20 GiB"),
           "rows still show what the store knows, DESIRED '?'");
    result_clear(&r);
    r = run("status", "--json", "--state", db, "--desired", missing, "--worktree", NULL);
    j = parse_json(r.out);
    tap_ok(j && !jbool(j, "desired.loaded") && jstr(j, "desired.error") && jget(j, "pools.0") &&
               json_object_is_type(jget(j, "pools.0.desired"), json_type_null),
           "--json: desired.loaded false with the error, desired null per object");
    json_object_put(j);
    result_clear(&r);

    /* history */
    r = run("history", "--state", db, NULL);
    tap_is_int(r.rc, 0, "history");
    tap_ok(line_has(r.out, "2", "failed") && line_has(r.out, "2", "4b1e2d3") &&
               line_has(r.out, "1", "ok") && line_has(r.out, "1", "3f2a9c1") && line_has(r.out, "1", "2 actions: 2 done"),
           "lists both runs with result, commit and counts");
    tap_ok(strstr(r.out, "\n2 ") < strstr(r.out, "\n1 "), "newest first");
    result_clear(&r);
    r = run("history", "--limit", "1", "--state", db, NULL);
    tap_ok(r.rc == 0 && strstr(r.out, "\n2 ") && !strstr(r.out, "\n1 "), "--limit 1 lists only the newest");
    result_clear(&r);

    r = run("history", "2", "--state", db, NULL);
    tap_is_int(r.rc, 0, "history RUN");
    tap_ok(strstr(r.out, "result:   failed") && strstr(r.out, "desired:  4b1e2d3 (main)"), "the run's result and commit");
    tap_ok(line_has(r.out, "0", "vol.resize") && line_has(r.out, "0", "default/web.qcow2") &&
               line_has(r.out, "0", "20 GiB -> 40 GiB") && line_has(r.out, "0", "failed") &&
               line_has(r.out, "0", "cannot resize 'web.qcow2': No space left on device"),
           "an action: kind, object, before -> after, result, error");
    tap_ok(line_has(r.out, "1", "vol.delete") && line_has(r.out, "1", "1 GiB -> -") &&
               line_has(r.out, "1", "removed from desired in 4b1e2d3") && line_has(r.out, "1", "skipped"),
           "a deletion: reason and skipped");
    result_clear(&r);
    r = run("history", "last", "--state", db, NULL);
    tap_ok(r.rc == 0 && strstr(r.out, "run 2 "), "history last is run 2");
    result_clear(&r);

    r = run("history", "--json", "--state", db, NULL);
    j = parse_json(r.out);
    tap_ok(j && json_object_array_length(jget(j, "runs")) == 2 && jint(j, "runs.0.id") == run2 &&
               pk_streq(jstr(j, "runs.1.commit"), "3f2a9c1d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b") &&
               jint(j, "runs.1.actions.done") == 2,
           "history --json: runs with full commit and counts");
    json_object_put(j);
    result_clear(&r);
    r = run("history", "--json", "2", "--state", db, NULL);
    j = parse_json(r.out);
    tap_ok(j && jint(j, "run.id") == run2 && json_object_array_length(jget(j, "actions")) == 2 &&
               pk_streq(jstr(j, "actions.0.before"), "20 GiB") && pk_streq(jstr(j, "actions.0.after"), "40 GiB") &&
               pk_streq(jstr(j, "actions.0.state"), "failed") && pk_streq(jstr(j, "actions.1.risk"), "destructive"),
           "history --json RUN: the actions with before, after, state, risk");
    tap_ok(j && pk_streq(jstr(j, "actions.0.error"), "cannot resize 'web.qcow2': No space left on device"),
           "and the error");
    json_object_put(j);
    result_clear(&r);

    r = run("history", "99", "--state", db, NULL);
    tap_ok(r.rc == 1 && strstr(r.err, "no run 99 in state database"), "an unknown run: exit 1 and a message");
    result_clear(&r);
    r = run("history", "abc", "--state", db, NULL);
    tap_ok(r.rc == 1 && strstr(r.err, "RUN is a run number or 'last', not 'abc'"), "a bad RUN: exit 1");
    result_clear(&r);
    r = run("status", "--bogus", "--state", db, NULL);
    tap_ok(r.rc == 1 && strstr(r.err, "unknown option '--bogus'"), "an unknown option: exit 1");
    result_clear(&r);

    tap_ok(fx_unchanged(db, &snap), "status and history did not change the database file");
    fx_snap_clear(&snap);

    /* While a writer holds the lock, status says who. */
    pk_store *s = NULL;
    pk_err *err = NULL;
    if (pk_store_open(db, PK_STORE_WRITE, &s, &err) < 0 || pk_store_lock(s, &err) < 0) tap_bail("%s", fx_err(err));
    char want[64];
    snprintf(want, sizeof(want), "locked by pid %d since ", (int)getpid());
    r = run("status", "--state", db, NULL);
    tap_ok(r.rc == 0 && strstr(r.out, want), "status works while the lock is held and names the holder");
    result_clear(&r);
    r = run("status", "--json", "--state", db, NULL);
    j = parse_json(r.out);
    tap_ok(j && jint(j, "state.locked_by.pid") == getpid(), "--json: state.locked_by.pid");
    json_object_put(j);
    result_clear(&r);

    /* A suspension recorded in the store shows in the header. */
    if (pk_store_suspend_set(s, true, "disk replacement in rack 4", &err) < 0) tap_bail("%s", fx_err(err));
    r = run("status", "--state", db, NULL);
    tap_ok(r.rc == 0 && strstr(r.out, "suspended since ") && strstr(r.out, "disk replacement in rack 4"),
           "status shows a suspension and its reason");
    result_clear(&r);
    r = run("status", "--json", "--state", db, NULL);
    j = parse_json(r.out);
    tap_ok(j && pk_streq(jstr(j, "suspended.reason"), "disk replacement in rack 4"), "--json: suspended.reason");
    json_object_put(j);
    result_clear(&r);

    /* A run whose process went away mid-action. */
    int64_t run3 = 0;
    pk_action a = { .kind = PK_ACT_VOL_CREATE, .pool = "default", .vol = "new.raw", .after = "raw 1 GiB" };
    pk_journal_intent in = { 0, &a };
    if (pk_store_run_begin(s, "4b1e2d3c4d5e6f708192a3b4c5d6e7f8091a2b3c", "main", &run3, &err) < 0 ||
        pk_store_journal_intents(s, run3, &in, 1, &err) < 0)
        tap_bail("%s", fx_err(err));
    r = run("history", "last", "--state", db, NULL);
    tap_ok(r.rc == 0 && strstr(r.out, "result:   running") && line_has(r.out, "0", "in progress"),
           "history of a running run: its pending action is in progress");
    result_clear(&r);
    pk_store_close(s);
    s = NULL;
    if (pk_store_open(db, PK_STORE_WRITE, &s, &err) < 0 || pk_store_lock(s, &err) < 0) tap_bail("%s", fx_err(err));
    pk_store_close(s);
    r = run("history", "last", "--state", db, NULL);
    tap_ok(r.rc == 0 && strstr(r.out, "result:   interrupted") && strstr(r.out, "never (interrupted)") &&
               line_has(r.out, "0", "unfinished") && strstr(r.out, "1 action: 1 unfinished"),
           "after the next writer: interrupted, its action unfinished");
    result_clear(&r);
    r = run("status", "--state", db, NULL);
    tap_ok(r.rc == 0 && line_has(r.out, "default/new.raw", "vol.create unfinished (run 3)"),
           "status shows the unfinished intent as the last action");
    result_clear(&r);
}

/* ---------- unreadable and old databases ---------- */

static void test_bad_and_old(void)
{
    _cleanup_free_ char *db = pk_asprintf("%s/garbage.db", tmp);
    write_file(db, "this is not a database, but it is somebody's file\n");
    fx_snapshot snap;
    fx_snap(db, &snap);
    result r = run("status", "--state", db, NULL);
    tap_ok(r.rc == 1 && strstr(r.err, "is not an SQLite database") && strstr(r.err, "left untouched"),
           "status on a corrupt file: exit 1, clear error");
    result_clear(&r);
    r = run("history", "--state", db, NULL);
    tap_ok(r.rc == 1 && strstr(r.err, "is not an SQLite database"), "history too");
    result_clear(&r);
    tap_ok(fx_unchanged(db, &snap), "the file is untouched");
    fx_snap_clear(&snap);

    /* A database of schema version 1 is read through an upgraded copy. */
    _cleanup_free_ char *old = pk_asprintf("%s/old.db", tmp);
    pk_err *err = NULL;
    if (pk_store_create_at_version(old, 1, &err) < 0) tap_bail("%s", fx_err(err));
    sqlite3 *raw = NULL;
    if (sqlite3_open(old, &raw) != SQLITE_OK ||
        sqlite3_exec(raw, "INSERT INTO runs (commit_id, ref, pid, started_at, ended_at, result) VALUES ('abcdef0123', 'main', 1, 1000, 2000, 'ok')",
                     NULL, NULL, NULL) != SQLITE_OK)
        tap_bail("cannot fill old.db");
    sqlite3_close(raw);
    fx_snap(old, &snap);
    r = run("history", "--state", old, NULL);
    tap_ok(r.rc == 0 && line_has(r.out, "1", "abcdef0"), "history reads a database of an older schema");
    result_clear(&r);
    r = run("status", "--state", old, NULL);
    tap_ok(r.rc == 0 && strstr(r.out, "last run 1: ok"), "status too");
    result_clear(&r);
    tap_ok(fx_unchanged(old, &snap), "without upgrading the file");
    fx_snap_clear(&snap);
}

static void test_help(void)
{
    result r = run("help", "status", NULL);
    tap_ok(r.rc == 0 && strstr(r.out, "--json") && strstr(r.out, "OBSERVED") &&
               strstr(r.out, "Exit status"),
           "help status explains the columns, --json and exit status");
    result_clear(&r);
    r = run("history", "--help", NULL);
    tap_ok(r.rc == 0 && strstr(r.out, "--limit N") && strstr(r.out, "interrupted") && strstr(r.out, "'last'"),
           "history --help explains RUN, --limit and the results");
    result_clear(&r);
}

int main(void)
{
    bin = getenv("POOLKEEPER");
    if (!bin) tap_bail("POOLKEEPER is not set (run through meson test)");
    tmp = tap_tmpdir("status-cli");
    make_desired();
    test_no_state();
    test_empty();
    test_populated();
    test_bad_and_old();
    test_help();
    free(desired);
    return tap_done();
}
