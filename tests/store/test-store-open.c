/* Opening the state database: file modes, WAL and pragmas, schema upgrades
 * from every older version, and every file it must refuse to touch (newer,
 * corrupt, foreign), read-only places and a full disk. Real SQLite files. */
#include "fixtures.h"
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <sched.h>
#include <sys/mount.h>

static char *tmp;

static int64_t pragma_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -999;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static char *pragma_text(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    char *v = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = pk_strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return v;
}

/* Run SQL on a file with a plain connection (building old or foreign files). */
static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    char *msg = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK || sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        tap_bail("raw sql on %s failed: %s", path, msg ? msg : sqlite3_errmsg(db));
    sqlite3_close(db);
}

static int64_t file_pragma(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) return -999;
    int64_t v = pragma_int(db, sql);
    sqlite3_close(db);
    return v;
}

static bool exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static bool has(const pk_err *e, const char *needle)
{
    _cleanup_free_ char *t = fx_err(e);
    bool ok = strstr(t, needle) != NULL;
    if (!ok) tap_diag("error was: %s\n   wanted: %s", t, needle);
    return ok;
}

/* ---------- creation ---------- */

static void test_create(void)
{
    _cleanup_free_ char *top = pk_asprintf("%s/new", tmp);
    _cleanup_free_ char *dir = pk_asprintf("%s/new/state", tmp);
    _cleanup_free_ char *db = pk_asprintf("%s/state.db", dir);
    _cleanup_free_ char *wal = pk_asprintf("%s-wal", db);
    /* A permissive umask must not widen anything. */
    mode_t old = umask(0);
    pk_store *s = NULL;
    pk_err *err = NULL;
    int r = pk_store_open(db, PK_STORE_WRITE, &s, &err);
    umask(old);
    if (!tap_ok(r == 0, "a new state database is created, with its missing directories"))
        tap_bail("cannot go on: %s", fx_err(err));
    tap_is_int(fx_mode(top), 0700, "a directory poolkeeper creates is 0700");
    tap_is_int(fx_mode(dir), 0700, "so is the one holding the file");
    tap_is_int(fx_mode(db), 0600, "the database file is 0600");
    tap_is_int(pk_store_found_version(s), 0, "a new file is found at version 0");

    _cleanup_free_ char *jm = pragma_text(s->db, "PRAGMA journal_mode");
    tap_is_str(jm, "wal", "journal mode is WAL");
    tap_is_int(pragma_int(s->db, "PRAGMA foreign_keys"), 1, "foreign keys are enforced");
    tap_is_int(pragma_int(s->db, "PRAGMA busy_timeout"), 10000, "a busy timeout is set");
    tap_is_int(pragma_int(s->db, "PRAGMA synchronous"), 2, "synchronous is FULL (intents survive power loss)");
    tap_is_int(pragma_int(s->db, "PRAGMA user_version"), PK_STORE_SCHEMA_VERSION, "schema is at the current version");
    tap_is_int(pragma_int(s->db, "PRAGMA application_id"), PK_STORE_APPLICATION_ID, "application_id marks it as poolkeeper's");

    _cleanup_(pk_observed_freep) pk_observed *o = fx_observed(1, 3);
    tap_ok(pk_store_record_observation(s, o, &err) == 0, "a write succeeds");
    tap_ok(exists(wal), "the write went to the WAL file");
    tap_is_int(fx_mode(wal), 0600, "the WAL file is 0600 as well");
    pk_store_close(s);

    /* An existing directory keeps its mode: poolkeeper did not make it. */
    _cleanup_free_ char *shared = pk_asprintf("%s/shared", tmp);
    mkdir(shared, 0755);
    chmod(shared, 0755);
    _cleanup_free_ char *db2 = pk_asprintf("%s/state.db", shared);
    s = NULL;
    tap_ok(pk_store_open(db2, PK_STORE_WRITE, &s, &err) == 0, "a database in an existing directory");
    tap_is_int(fx_mode(shared), 0755, "an existing directory is not changed");
    pk_store_close(s);

    /* READ never creates. */
    _cleanup_free_ char *none = pk_asprintf("%s/none/state.db", tmp);
    s = NULL;
    pk_err *e2 = NULL;
    tap_ok(pk_store_open(none, PK_STORE_READ, &s, &e2) < 0 && e2 && e2->errnum == ENOENT,
           "READ of a missing file fails with ENOENT");
    _cleanup_free_ char *none_dir = pk_asprintf("%s/none", tmp);
    tap_ok(!exists(none_dir), "and creates nothing");
    pk_err_free(e2);
    pk_err_free(err);
}

/* An empty SQLite file (0 bytes, or made by sqlite3 with nothing in it) is a
 * new database, not a foreign one. */
static void test_empty_files(void)
{
    _cleanup_free_ char *zero = pk_asprintf("%s/zero.db", tmp);
    int fd = open(zero, O_CREAT | O_WRONLY, 0600);
    close(fd);
    pk_store *s = NULL;
    pk_err *err = NULL;
    tap_ok(pk_store_open(zero, PK_STORE_READ, &s, &err) == 0, "READ of a 0-byte file works (nothing recorded)");
    pk_run r;
    tap_ok(s && pk_store_run_get(s, 0, &r, &err) == 0, "and shows no runs");
    pk_store_close(s);
    s = NULL;
    tap_ok(pk_store_open(zero, PK_STORE_WRITE, &s, &err) == 0, "WRITE of a 0-byte file sets it up");
    _cleanup_free_ char *pattern = pk_asprintf("%s.schema*", zero);
    glob_t g;
    tap_ok(glob(pattern, 0, NULL, &g) == GLOB_NOMATCH, "no backup of an empty file");
    pk_store_close(s);
    tap_is_int(file_pragma(zero, "PRAGMA user_version"), PK_STORE_SCHEMA_VERSION, "it is at the current version");
    pk_err_free(err);
}

/* ---------- upgrades ---------- */

/* Rows as the first schema knew them: every later version must keep them. */
static const char v1_rows[] =
    "INSERT INTO runs (commit_id, ref, pid, started_at, ended_at, result, n_actions, n_done)"
    " VALUES ('3f2a9c1d', 'main', 42, 1000, 2000, 'ok', 1, 1);"
    "INSERT INTO journal (run_id, seq, kind, pool, vol, risk, before, after, reason, state,"
    " started_at, ended_at) VALUES (1, 0, 'vol.create', 'default', 'web.qcow2', 'safe', NULL,"
    " 'qcow2 20 GiB', 'pools/default/web.qcow2.xml:1 @3f2a9c1', 'done', 1100, 1500);"
    "INSERT INTO ownership (pool, vol, identity, key, how, since, run_id)"
    " VALUES ('default', 'web.qcow2', '64769:12', '/srv/web.qcow2', 'created', 1500, 1);"
    "INSERT INTO obs_pool (name, type, state, nonempty, vols_observed, observed_at)"
    " VALUES ('default', 'dir', 'running', 1, 1, 1400);"
    "INSERT INTO obs_vol (pool, name, key, path, type, format, capacity, observed_at)"
    " VALUES ('default', 'web.qcow2', '/srv/web.qcow2', '/srv/web.qcow2', 'file', 14, 21474836480, 1400);"
    "INSERT INTO events (at, kind, run_id, message) VALUES (1500, 'applied', 1, 'run 1 applied');";

static void check_v1_rows(pk_store *s, int v)
{
    pk_err *err = NULL;
    pk_run r = { 0 };
    tap_ok(pk_store_run_get(s, 1, &r, &err) == 1 && pk_streq(r.commit, "3f2a9c1d") &&
               r.result == PK_RUN_OK && r.n_done == 1,
           "v%d: the run survived", v);
    pk_run_clear(&r);
    pk_journal_entry *e = NULL;
    size_t n = 0;
    tap_ok(pk_store_journal_list(s, 1, &e, &n, &err) == 0 && n == 1 && e[0].kind == PK_ACT_VOL_CREATE &&
               pk_streq(e[0].after, "qcow2 20 GiB") && !e[0].drift && e[0].state == PK_JOURNAL_DONE,
           "v%d: its journal survived (new column has its default)", v);
    pk_journal_entries_free(e, n);
    pk_ownership own = { 0 };
    tap_ok(pk_store_ownership_load(s, &own, &err) == 0 && own.n == 1 &&
               pk_streq(pk_ownership_find(&own, "default", "web.qcow2")->identity, "64769:12"),
           "v%d: ownership survived", v);
    pk_ownership_free(&own);
    pk_observed *o = NULL;
    tap_ok(pk_store_observed_load(s, &o, &err) == 0 && o && o->n_pools == 1 && o->pools[0].n_vols == 1 &&
               o->pools[0].vols[0].capacity == 21474836480ull,
           "v%d: observations survived", v);
    pk_observed_free(o);
    if (err) tap_diag("%s", fx_err(err));
    pk_err_free(err);
}

static void test_upgrade_from(int v)
{
    _cleanup_free_ char *db = pk_asprintf("%s/v%d.db", tmp, v);
    pk_err *err = NULL;
    if (pk_store_create_at_version(db, v, &err) < 0) tap_bail("create v%d: %s", v, fx_err(err));
    raw_exec(db, v1_rows);
    tap_is_int(file_pragma(db, "PRAGMA user_version"), v, "a database made at schema version %d", v);

    /* READ upgrades a copy in memory and leaves the file alone. */
    fx_snapshot before;
    fx_snap(db, &before);
    pk_store *s = NULL;
    tap_ok(pk_store_open(db, PK_STORE_READ, &s, &err) == 0, "v%d: READ opens it", v);
    if (s) check_v1_rows(s, v);
    /* Its in-memory copy is no place to write to either. */
    pk_err *werr = NULL;
    tap_ok(s && pk_store_event_append(s, "drift", 0, "p", NULL, "x", NULL, NULL, &werr) < 0,
           "v%d: the READ handle refuses writes, also to its upgraded copy", v);
    pk_err_free(werr);
    pk_store_close(s);
    tap_ok(fx_unchanged(db, &before), "v%d: READ left the file unchanged", v);
    tap_is_int(file_pragma(db, "PRAGMA user_version"), v, "v%d: still at version %d", v, v);
    fx_snap_clear(&before);

    /* WRITE upgrades the file, after a backup. */
    s = NULL;
    if (!tap_ok(pk_store_open(db, PK_STORE_WRITE, &s, &err) == 0, "v%d: WRITE upgrades it", v)) {
        tap_diag("%s", fx_err(err));
        return;
    }
    tap_is_int(pk_store_found_version(s), v, "v%d: found at version %d", v, v);
    tap_is_int(pragma_int(s->db, "PRAGMA user_version"), PK_STORE_SCHEMA_VERSION, "v%d: now at the current version", v);
    check_v1_rows(s, v);
    /* What the newer steps added works. */
    pk_probe_key k = { .path = "/srv/web.qcow2", .dev = 1, .ino = 2, .size = 3, .mtime_ns = 4 };
    const char *res = "{\"format\":\"qcow2\"}";
    _cleanup_free_ char *got = NULL;
    tap_ok(pk_store_probe_put(s, &k, &res, 1, &err) == 0 && pk_store_probe_get(s, &k, &got, &err) == 1 &&
               pk_streq(got, res),
           "v%d: the probe cache of version 2 works after the upgrade", v);
    pk_store_close(s);

    _cleanup_free_ char *pattern = pk_asprintf("%s.schema%d-*.bak", db, v);
    glob_t g;
    int gr = glob(pattern, 0, NULL, &g);
    if (tap_ok(gr == 0 && g.gl_pathc == 1, "v%d: one backup copy was made before the upgrade", v)) {
        tap_is_int(fx_mode(g.gl_pathv[0]), 0600, "v%d: the backup is 0600", v);
        tap_is_int(file_pragma(g.gl_pathv[0], "PRAGMA user_version"), v, "v%d: the backup is the old version", v);
        tap_is_int(file_pragma(g.gl_pathv[0], "SELECT count(*) FROM journal"), 1, "v%d: with the old rows", v);
    }
    if (gr == 0) globfree(&g);

    /* Opening again: nothing more to do, no second backup. */
    s = NULL;
    tap_ok(pk_store_open(db, PK_STORE_WRITE, &s, &err) == 0 && pk_store_found_version(s) == PK_STORE_SCHEMA_VERSION,
           "v%d: reopened at the current version", v);
    pk_store_close(s);
    _cleanup_free_ char *any = pk_asprintf("%s.schema*", db);
    gr = glob(any, 0, NULL, &g);
    tap_ok(gr == 0 && g.gl_pathc == 1, "v%d: and no further backup", v);
    if (gr == 0) globfree(&g);
    pk_err_free(err);
}

/* A step that fails rolls the whole upgrade back: the version and rows stay. */
static void test_upgrade_failure(void)
{
    if (PK_STORE_SCHEMA_VERSION < 2) return;
    _cleanup_free_ char *db = pk_asprintf("%s/blocked-upgrade.db", tmp);
    pk_err *err = NULL;
    if (pk_store_create_at_version(db, 1, &err) < 0) tap_bail("create v1: %s", fx_err(err));
    raw_exec(db, v1_rows);
    /* Step 2 creates table drift: have one there already. */
    raw_exec(db, "CREATE TABLE drift (x INTEGER)");
    pk_store *s = NULL;
    tap_ok(pk_store_open(db, PK_STORE_WRITE, &s, &err) < 0, "an upgrade step that fails fails the open");
    tap_ok(has(err, "cannot upgrade state database") && has(err, "schema version 2"), "the error names the step");
    tap_is_int(file_pragma(db, "PRAGMA user_version"), 1, "the version was rolled back");
    tap_is_int(file_pragma(db, "SELECT count(*) FROM journal"), 1, "the rows are intact");
    tap_is_int(file_pragma(db, "SELECT count(*) FROM sqlite_master WHERE name = 'probe_cache'"), 0,
               "nothing of the failed step remains");
    pk_err_free(err);
}

/* An older poolkeeper still running (holding the lock) keeps its schema. */
static void test_upgrade_locked(void)
{
    _cleanup_free_ char *db = pk_asprintf("%s/busy-v1.db", tmp);
    _cleanup_free_ char *lock = pk_asprintf("%s.lock", db);
    pk_err *err = NULL;
    if (pk_store_create_at_version(db, 1, &err) < 0) tap_bail("%s", fx_err(err));
    /* The lock as any holder takes it: an OFD lock on PATH.lock naming it. */
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    if (fd < 0 || fcntl(fd, F_OFD_SETLK, &fl) < 0) tap_bail("cannot lock %s", lock);
    dprintf(fd, "%d %lld\n", (int)getpid(), (long long)pk_now_ms());
    fx_snapshot snap;
    fx_snap(db, &snap);
    pk_store *s = NULL;
    tap_ok(pk_store_open(db, PK_STORE_WRITE, &s, &err) < 0, "no upgrade while another writer holds the lock");
    char want[64];
    snprintf(want, sizeof(want), "is locked by pid %d since ", (int)getpid());
    tap_ok(has(err, "cannot upgrade state database") && has(err, want), "the error says who holds it");
    tap_ok(fx_unchanged(db, &snap), "the file is unchanged");
    _cleanup_free_ char *pattern = pk_asprintf("%s.schema*", db);
    glob_t g;
    tap_ok(glob(pattern, 0, NULL, &g) == GLOB_NOMATCH, "and no backup was made");
    pk_err_free(err);
    err = NULL;
    close(fd);
    tap_ok(pk_store_open(db, PK_STORE_WRITE, &s, &err) == 0 && pk_store_found_version(s) == 1,
           "once it is gone, the upgrade runs");
    pk_store_close(s);
    fx_snap_clear(&snap);
    pk_err_free(err);
}

/* ---------- files it must refuse ---------- */

static void refuse_both(const char *db, const char *needle, const char *what)
{
    fx_snapshot snap;
    fx_snap(db, &snap);
    _cleanup_free_ char *wal = pk_asprintf("%s-wal", db);
    _cleanup_free_ char *shm = pk_asprintf("%s-shm", db);
    _cleanup_free_ char *lock = pk_asprintf("%s.lock", db);
    bool had_wal = exists(wal), had_shm = exists(shm), had_lock = exists(lock);
    for (int m = 0; m < 2; m++) {
        pk_store_mode mode = m ? PK_STORE_WRITE : PK_STORE_READ;
        const char *mname = m ? "WRITE" : "READ";
        pk_store *s = NULL;
        pk_err *err = NULL;
        tap_ok(pk_store_open(db, mode, &s, &err) < 0 && !s, "%s: %s refuses it", what, mname);
        tap_ok(has(err, needle), "%s: %s says why", what, mname);
        tap_ok(fx_unchanged(db, &snap), "%s: %s left the file byte for byte, mtime included", what, mname);
        pk_err_free(err);
        pk_store_close(s);
    }
    tap_ok((had_wal || !exists(wal)) && (had_shm || !exists(shm)), "%s: no -wal or -shm file was left next to it", what);
    tap_ok(had_lock || !exists(lock), "%s: no lock file was made for it", what);
    fx_snap_clear(&snap);
}

static void test_newer(void)
{
    _cleanup_free_ char *db = pk_asprintf("%s/newer.db", tmp);
    pk_err *err = NULL;
    if (pk_store_create_at_version(db, PK_STORE_SCHEMA_VERSION, &err) < 0) tap_bail("%s", fx_err(err));
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", PK_STORE_SCHEMA_VERSION + 1);
    raw_exec(db, sql);
    char want[160];
    snprintf(want, sizeof(want), "state database schema version %d is newer than this poolkeeper (%d); refusing to downgrade",
             PK_STORE_SCHEMA_VERSION + 1, PK_STORE_SCHEMA_VERSION);
    refuse_both(db, want, "newer schema");
    tap_is_int(file_pragma(db, "PRAGMA user_version"), PK_STORE_SCHEMA_VERSION + 1, "newer schema: version untouched");
}

/* Deterministic "random" bytes: a failure can be reproduced. */
static void noise(char *buf, size_t n, uint64_t seed)
{
    uint64_t x = seed;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (char)(x >> 24);
    }
}

static void write_file(const char *path, const char *data, size_t len)
{
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    if (fd < 0 || write(fd, data, len) != (ssize_t)len) tap_bail("write %s", path);
    close(fd);
}

static void test_corrupt(void)
{
    _cleanup_free_ char *db = pk_asprintf("%s/random.db", tmp);
    char buf[8192];
    noise(buf, sizeof(buf), 0x9e3779b97f4a7c15ull);
    write_file(db, buf, sizeof(buf));
    refuse_both(db, "is not an SQLite database", "random bytes");

    _cleanup_free_ char *text = pk_asprintf("%s/text.db", tmp);
    write_file(text, "state: fine\n", 12);
    refuse_both(text, "is not an SQLite database", "a short text file");

    /* A real database whose pages past the first were overwritten. */
    _cleanup_free_ char *torn = pk_asprintf("%s/torn.db", tmp);
    pk_store *s = NULL;
    pk_err *err = NULL;
    if (pk_store_open(torn, PK_STORE_WRITE, &s, &err) < 0) tap_bail("%s", fx_err(err));
    _cleanup_(pk_observed_freep) pk_observed *o = fx_observed(2, 300);
    if (pk_store_record_observation(s, o, &err) < 0) tap_bail("%s", fx_err(err));
    pk_store_close(s);   /* checkpoints the WAL into the file */
    size_t len = 0;
    _cleanup_free_ char *data = fx_read(torn, &len);
    if (len < 8 * 4096) tap_bail("torn.db is only %zu bytes", len);
    noise(data + 4096, len - 4096, 42);
    write_file(torn, data, len);
    refuse_both(torn, "corrupt", "a database with torn pages");
    pk_err_free(err);
}

static void test_foreign(void)
{
    _cleanup_free_ char *db = pk_asprintf("%s/foreign.db", tmp);
    raw_exec(db, "CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT);"
                 "INSERT INTO moz_places (url) VALUES ('https://example.org/');");
    refuse_both(db, "is an SQLite database of another program (application_id 0x00000000)", "another program's database");
    tap_is_int(file_pragma(db, "SELECT count(*) FROM moz_places"), 1, "another program's rows are all there");

    _cleanup_free_ char *db2 = pk_asprintf("%s/foreign-id.db", tmp);
    raw_exec(db2, "PRAGMA application_id = 305419896");   /* 0x12345678, no tables */
    refuse_both(db2, "application_id 0x12345678", "an empty database with another application_id");
}

/* ---------- read-only places ---------- */

static int ro_child(void *arg, FILE *out)
{
    const char *base = arg;
    if (geteuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0)) {
        fprintf(out, "cannot become nobody: %s", strerror(errno));
        return 2;
    }
    _cleanup_free_ char *new_db = pk_asprintf("%s/ro/state.db", base);
    _cleanup_free_ char *old_db = pk_asprintf("%s/rw/state.db", base);
    pk_store *s = NULL;
    pk_err *err = NULL;
    int bad = 0;
    if (pk_store_open(new_db, PK_STORE_WRITE, &s, &err) == 0) bad |= 1;
    _cleanup_free_ char *t1 = fx_err(err);
    fprintf(out, "new: %s\n", t1);
    pk_err_free(err);
    err = NULL;
    if (pk_store_open(old_db, PK_STORE_WRITE, &s, &err) == 0) bad |= 2;
    _cleanup_free_ char *t2 = fx_err(err);
    fprintf(out, "old: %s\n", t2);
    pk_err_free(err);
    err = NULL;
    /* Reading is what status does as an unprivileged user. */
    pk_run r = { 0 };
    if (pk_store_open(old_db, PK_STORE_READ, &s, &err) < 0 || pk_store_run_get(s, 0, &r, &err) != 1) bad |= 4;
    _cleanup_free_ char *t3 = fx_err(err);
    fprintf(out, "read: %s run %lld\n", t3, (long long)r.id);
    pk_run_clear(&r);
    pk_store_close(s);
    pk_err_free(err);
    return bad;
}

static void test_read_only(void)
{
    _cleanup_free_ char *base = tap_tmpdir("store-ro");
    chmod(base, 0755);
    _cleanup_free_ char *ro = pk_asprintf("%s/ro", base);
    _cleanup_free_ char *rw = pk_asprintf("%s/rw", base);
    _cleanup_free_ char *old_db = pk_asprintf("%s/state.db", rw);
    mkdir(ro, 0555);
    chmod(ro, 0555);
    mkdir(rw, 0777);
    chmod(rw, 0777);
    pk_store *s = NULL;
    pk_err *err = NULL;
    int64_t run = 0;
    if (pk_store_open(old_db, PK_STORE_WRITE, &s, &err) < 0 || pk_store_lock(s, &err) < 0 ||
        pk_store_run_begin(s, "abc", "main", &run, &err) < 0)
        tap_bail("%s", fx_err(err));
    pk_store_close(s);
    chmod(old_db, 0644);   /* readable by all, writable by its owner only */
    fx_snapshot snap;
    fx_snap(old_db, &snap);

    _cleanup_free_ char *out = NULL;
    int rc = fx_child(ro_child, base, &out);
    tap_is_int(rc, 0, "as another user: refused writes, allowed reads");
    tap_ok(strstr(out, "cannot write in directory") && strstr(out, "/ro'") && strstr(out, "Permission denied"),
           "a new database in a read-only directory: clear error");
    tap_ok(strstr(out, "old: state database") && strstr(out, "is not writable: Permission denied"),
           "an existing database that is not writable: clear error");
    tap_ok(strstr(out, "read: (no error) run 1") != NULL, "READ works without write access");
    tap_diag("%s", out);
    _cleanup_free_ char *ro_db = pk_asprintf("%s/state.db", ro);
    tap_ok(!exists(ro_db), "nothing was created in the read-only directory");
    tap_ok(fx_unchanged(old_db, &snap), "the existing database is unchanged");
    fx_snap_clear(&snap);
    pk_err_free(err);
}

/* A private mount namespace with a small tmpfs at `dir`; 77 = cannot. */
static int private_tmpfs(const char *dir, const char *opts)
{
    if (unshare(CLONE_NEWNS) < 0) return 77;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) return 77;
    if (mount("tmpfs", dir, "tmpfs", 0, opts) < 0) return 77;
    return 0;
}

static int erofs_child(void *arg, FILE *out)
{
    const char *dir = arg;
    if (private_tmpfs(dir, "size=2m,mode=0755") != 0) return 77;
    _cleanup_free_ char *db = pk_asprintf("%s/state.db", dir);
    pk_store *s = NULL;
    pk_err *err = NULL;
    int64_t run = 0;
    if (pk_store_open(db, PK_STORE_WRITE, &s, &err) < 0 || pk_store_lock(s, &err) < 0 ||
        pk_store_run_begin(s, "abc", "main", &run, &err) < 0) {
        fprintf(out, "setup: %s\n", fx_err(err));
        return 3;
    }
    pk_store_close(s);
    if (mount(NULL, dir, NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0) {
        fprintf(out, "remount: %s\n", strerror(errno));
        return 77;
    }
    int bad = 0;
    s = NULL;
    if (pk_store_open(db, PK_STORE_WRITE, &s, &err) == 0) bad |= 1;
    _cleanup_free_ char *t = fx_err(err);
    fprintf(out, "write: %s\n", t);
    pk_err_free(err);
    err = NULL;
    pk_run r = { 0 };
    if (pk_store_open(db, PK_STORE_READ, &s, &err) < 0 || pk_store_run_get(s, 0, &r, &err) != 1) bad |= 2;
    _cleanup_free_ char *t2 = fx_err(err);
    fprintf(out, "read: %s run %lld\n", t2, (long long)r.id);
    pk_run_clear(&r);
    pk_store_close(s);
    return bad;
}

static void test_read_only_fs(void)
{
    _cleanup_free_ char *dir = tap_tmpdir("store-erofs");
    _cleanup_free_ char *out = NULL;
    int rc = fx_child(erofs_child, dir, &out);
    if (rc == 77) {
        tap_skip("needs a private mount namespace (root)", "read-only file system");
        return;
    }
    tap_is_int(rc, 0, "read-only file system: WRITE refused, READ works");
    tap_ok(strstr(out, "write: ") && strstr(out, "cannot write in directory") && strstr(out, "Read-only file system"),
           "read-only file system: the error says so");
    tap_ok(strstr(out, "read: (no error) run 1") != NULL, "read-only file system: status can still read");
    if (rc) tap_diag("%s", out);
}

/* ---------- full disk ---------- */

static int fill(const char *path)
{
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    if (fd < 0) return -1;
    static char block[65536];
    while (write(fd, block, sizeof(block)) > 0) {}
    /* The last partial blocks. */
    while (write(fd, block, 512) > 0) {}
    close(fd);
    return 0;
}

static int full_child(void *arg, FILE *out)
{
    const char *dir = arg;
    if (private_tmpfs(dir, "size=1m,mode=0700") != 0) return 77;
    _cleanup_free_ char *db = pk_asprintf("%s/state.db", dir);
    _cleanup_free_ char *filler = pk_asprintf("%s/filler", dir);
    pk_store *s = NULL;
    pk_err *err = NULL;
    if (pk_store_open(db, PK_STORE_WRITE, &s, &err) < 0) {
        fprintf(out, "setup: %s\n", fx_err(err));
        return 3;
    }
    pk_observed *small = fx_observed(1, 5);
    if (pk_store_record_observation(s, small, &err) < 0) {
        fprintf(out, "setup: %s\n", fx_err(err));
        return 3;
    }
    fill(filler);
    int bad = 0;
    pk_observed *big = fx_observed(3, 3000);
    if (pk_store_record_observation(s, big, &err) == 0) bad |= 1;
    _cleanup_free_ char *t = fx_err(err);
    fprintf(out, "full: %s\n", t);
    pk_err_free(err);
    err = NULL;

    /* A new database on the full disk: refused, and no empty file left. */
    _cleanup_free_ char *db2 = pk_asprintf("%s/other.db", dir);
    pk_store *s2 = NULL;
    if (pk_store_open(db2, PK_STORE_WRITE, &s2, &err) == 0) bad |= 2;
    _cleanup_free_ char *t2 = fx_err(err);
    fprintf(out, "new: %s\n", t2);
    if (access(db2, F_OK) == 0) bad |= 4;
    pk_err_free(err);
    err = NULL;

    /* Space again: the old rows are intact and writing works. */
    unlink(filler);
    pk_observed *o = NULL;
    if (pk_store_observed_load(s, &o, &err) < 0 || !o || o->pools[0].n_vols != 5) bad |= 8;
    pk_observed_free(o);
    _cleanup_free_ char *check = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        check = pk_strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (!pk_streq(check, "ok")) bad |= 16;
    if (pk_store_record_observation(s, small, &err) < 0) bad |= 32;
    fprintf(out, "after: %s integrity %s\n", fx_err(err), check ? check : "?");
    pk_store_close(s);
    pk_observed_free(small);
    pk_observed_free(big);
    return bad;
}

static void test_full_disk(void)
{
    _cleanup_free_ char *dir = tap_tmpdir("store-full");
    _cleanup_free_ char *out = NULL;
    int rc = fx_child(full_child, dir, &out);
    if (rc == 77) {
        tap_skip("needs a private mount namespace (root)", "full disk");
        return;
    }
    tap_is_int(rc, 0, "full disk: write refused, nothing lost, works again with space");
    tap_ok(strstr(out, "full: cannot record the observation") && strstr(out, "database or disk is full"),
           "full disk: the error says the disk is full");
    tap_ok(strstr(out, "new: ") && strstr(out, "full"), "full disk: a new database is refused clearly");
    tap_ok(strstr(out, "integrity ok") != NULL, "full disk: the database is consistent afterwards");
    tap_diag("%s", out);
}

int main(void)
{
    tmp = tap_tmpdir("store-open");
    test_create();
    test_empty_files();
    for (int v = 1; v < PK_STORE_SCHEMA_VERSION; v++) test_upgrade_from(v);
    test_upgrade_failure();
    test_upgrade_locked();
    test_newer();
    test_corrupt();
    test_foreign();
    test_read_only();
    test_read_only_fs();
    test_full_disk();
    return tap_done();
}
