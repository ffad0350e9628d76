/* Opening the state database: every check that can refuse a file runs on a
 * read-only connection before anything is written, so a foreign, corrupt or
 * newer file is left exactly as it was. Also the helpers of store_priv.h. */
#include "store_priv.h"
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sys/stat.h>
#include <time.h>

/* Long enough for another writer's commit (a batch of journal rows), short
 * enough that a stuck process is reported rather than waited for. */
#define BUSY_TIMEOUT_MS 10000

static const char sqlite_magic[16] = "SQLite format 3";   /* with its NUL */

/* ---------- errors ---------- */

static pk_err *sqlite_cause(sqlite3 *db)
{
    int code = sqlite3_errcode(db);
    int primary = code & 0xff;
    /* Only I/O failures carry a meaningful OS error (ENOSPC, EROFS, EACCES). */
    int sys = (primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN || primary == SQLITE_FULL ||
               primary == SQLITE_READONLY)
                  ? sqlite3_system_errno(db)
                  : 0;
    return pk_err_new(NULL, 0, sys, "%s", db ? sqlite3_errmsg(db) : "out of memory");
}

static int fail_with_cause(pk_err **err, pk_err *cause, const char *fmt, va_list ap)
{
    pk_err *e = pk_err_newv(NULL, 0, 0, fmt, ap);
    e->cause = cause;
    if (err && !*err)
        *err = e;
    else
        pk_err_free(e);
    return -1;
}

int pk_store_fail_db(sqlite3 *db, pk_err **err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fail_with_cause(err, sqlite_cause(db), fmt, ap);
    va_end(ap);
    return -1;
}

int pk_store_fail(pk_store *s, pk_err **err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fail_with_cause(err, sqlite_cause(s->db), fmt, ap);
    va_end(ap);
    return -1;
}

char *pk_store_err_text(const pk_err *e)
{
    if (!e) return NULL;
    pk_buf b = PK_BUF_INIT;
    if (e->file) {
        pk_buf_add(&b, e->file);
        if (e->line > 0) pk_buf_addf(&b, ":%d", e->line);
        pk_buf_add(&b, ": ");
    }
    for (const pk_err *c = e; c; c = c->cause) {
        if (c != e) pk_buf_add(&b, ": ");
        pk_buf_add(&b, c->msg ? c->msg : "unknown error");
        if (c->errnum) pk_buf_addf(&b, ": %s", strerror(c->errnum));
    }
    return pk_buf_steal(&b);
}

/* ---------- statements and transactions ---------- */

int pk_store_sqlerr(pk_store *s, pk_err **err)
{
    pk_err *e = sqlite_cause(s->db);
    if (err && !*err)
        *err = e;
    else
        pk_err_free(e);
    return -1;
}

sqlite3_stmt *pk_store_stmt(pk_store *s, const char *sql, pk_err **err)
{
    for (size_t i = 0; i < s->n_stmts; i++)
        if (s->stmts[i].sql == sql) {
            sqlite3_reset(s->stmts[i].st);
            sqlite3_clear_bindings(s->stmts[i].st);
            return s->stmts[i].st;
        }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        pk_store_sqlerr(s, err);
        return NULL;
    }
    PK_APPEND(s->stmts, s->n_stmts)->sql = sql;
    s->stmts[s->n_stmts - 1].st = st;
    return st;
}

int pk_store_step_done(pk_store *s, sqlite3_stmt *st, pk_err **err)
{
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        pk_store_sqlerr(s, err);
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_reset(st);
    return 0;
}

int pk_store_step_row(pk_store *s, sqlite3_stmt *st, pk_err **err)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) return 1;
    if (rc != SQLITE_DONE) pk_store_sqlerr(s, err);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int pk_store_tx_begin(pk_store *s, pk_err **err)
{
    if (s->mode != PK_STORE_WRITE)
        return pk_fail(err, "it was opened read-only");
    /* IMMEDIATE: take the write lock now, so a transaction never fails
     * half-way on a lock upgrade. */
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return pk_store_sqlerr(s, err);
    return 0;
}

int pk_store_tx_end(pk_store *s, int r, pk_err **err)
{
    if (r == 0 && sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK) return 0;
    if (r == 0) pk_store_sqlerr(s, err);
    pk_store_tx_rollback(s);
    return -1;
}

void pk_store_tx_rollback(pk_store *s)
{
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

int pk_store_read_begin(pk_store *s, pk_err **err)
{
    if (s->reading++ > 0) return 0;
    if (sqlite3_exec(s->db, "BEGIN DEFERRED", NULL, NULL, NULL) != SQLITE_OK) {
        s->reading = 0;
        return pk_store_fail(s, err, "cannot read state database '%s'", s->path);
    }
    /* A deferred transaction takes its snapshot at the first read. */
    if (sqlite3_exec(s->db, "SELECT 1 FROM sqlite_master LIMIT 1", NULL, NULL, NULL) != SQLITE_OK) {
        pk_store_fail(s, err, "cannot read state database '%s'", s->path);
        pk_store_tx_rollback(s);
        s->reading = 0;
        return -1;
    }
    return 0;
}

void pk_store_read_end(pk_store *s)
{
    if (s->reading == 0 || --s->reading > 0) return;
    pk_store_tx_rollback(s);
}

/* ---------- binding ---------- */

void pk_store_bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

void pk_store_bind_i64(sqlite3_stmt *st, int i, int64_t v)
{
    sqlite3_bind_int64(st, i, v);
}

void pk_store_bind_opt_i64(sqlite3_stmt *st, int i, int64_t v, bool present)
{
    if (present)
        sqlite3_bind_int64(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

char *pk_store_col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? pk_strdup((const char *)t) : NULL;
}

int64_t pk_store_col_i64(sqlite3_stmt *st, int i)
{
    return sqlite3_column_int64(st, i);
}

int64_t pk_store_col_opt_i64(sqlite3_stmt *st, int i, int64_t if_null)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? if_null : sqlite3_column_int64(st, i);
}

/* ---------- the file ---------- */

/* mkdir -p, each directory made here 0700: the state is nobody else's. */
static int make_dirs(const char *dir, pk_err **err)
{
    _cleanup_free_ char *p = pk_strdup(dir);
    size_t len = strlen(p);
    for (size_t i = 1; i <= len; i++) {
        if (p[i] != '/' && p[i] != '\0') continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, 0700) < 0 && errno != EEXIST)
            return pk_fail_errno(err, errno, "cannot create directory '%s' for the state database", p);
        p[i] = c;
    }
    struct stat st;
    if (stat(dir, &st) < 0)
        return pk_fail_errno(err, errno, "cannot create directory '%s' for the state database", dir);
    if (!S_ISDIR(st.st_mode))
        return pk_fail(err, "'%s' is not a directory; the state database cannot be created in it", dir);
    return 0;
}

/* A new file's name is only durable once its directory is synced. */
static int sync_dir_of(const char *path, pk_err **err)
{
    _cleanup_free_ char *copy = pk_strdup(path);
    const char *dir = dirname(copy);
    _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) < 0)
        return pk_fail_errno(err, errno, "cannot sync directory '%s'", dir);
    return 0;
}

/* For WRITE: the directory exists and is writable (SQLite keeps PATH-wal and
 * PATH-shm next to the file, and the lock is PATH.lock), and the file exists
 * (created empty, mode 0600, if it did not). */
static int prepare_file(const char *path, bool *ret_created, pk_err **err)
{
    _cleanup_free_ char *copy = pk_strdup(path);
    const char *dir = dirname(copy);
    if (make_dirs(dir, err) < 0) return -1;
    if (access(dir, W_OK) < 0)
        return pk_fail_errno(err, errno, "cannot write in directory '%s' (the state database needs its -wal, -shm and .lock files there)", dir);

    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) {
        /* The umask may have taken bits away, never added: make it exact. */
        int r = fchmod(fd, 0600);
        int e = errno;
        close(fd);
        if (r < 0) {
            unlink(path);
            return pk_fail_errno(err, e, "cannot set the mode of new state database '%s'", path);
        }
        if (sync_dir_of(path, err) < 0) {
            unlink(path);
            return -1;
        }
        *ret_created = true;
        return 0;
    }
    if (errno != EEXIST)
        return pk_fail_errno(err, errno, "cannot create state database '%s'", path);
    if (access(path, R_OK | W_OK) < 0)
        return pk_fail_errno(err, errno, "state database '%s' is not writable", path);
    *ret_created = false;
    return 0;
}

/* Before SQLite sees the file: an empty file is a new database, anything
 * else must start with SQLite's magic. SQLite itself would also refuse, but
 * only after it has taken locks and maybe created side files. */
static int sniff(const char *path, pk_err **err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return pk_fail_errno(err, errno, "cannot read state database '%s'", path);
    struct stat st;
    if (fstat(fd, &st) < 0) return pk_fail_errno(err, errno, "cannot read state database '%s'", path);
    if (!S_ISREG(st.st_mode)) return pk_fail(err, "state database '%s' is not a regular file", path);
    if (st.st_size == 0) return 0;
    char head[sizeof(sqlite_magic)];
    ssize_t n = pread(fd, head, sizeof(head), 0);
    if (n < 0) return pk_fail_errno(err, errno, "cannot read state database '%s'", path);
    if (n < (ssize_t)sizeof(head) || memcmp(head, sqlite_magic, sizeof(head)) != 0)
        return pk_fail(err, "'%s' is not an SQLite database (corrupt, or not a state database); it was left untouched", path);
    return 0;
}

static int query_int(sqlite3 *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

static int query_text(sqlite3 *db, const char *sql, char **out)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *out = pk_store_col_text(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

static bool is_corruption(sqlite3 *db)
{
    int c = sqlite3_errcode(db) & 0xff;
    return c == SQLITE_CORRUPT || c == SQLITE_NOTADB;
}

/* What the file is: application_id, user_version, whether it has tables;
 * then its integrity. Reads only. */
static int inspect(sqlite3 *db, const char *path, int *ret_version, pk_err **err)
{
    int64_t app = 0, version = 0, objects = 0;
    if (query_int(db, "PRAGMA application_id", &app) < 0 ||
        query_int(db, "PRAGMA user_version", &version) < 0 ||
        query_int(db, "SELECT count(*) FROM sqlite_master", &objects) < 0) {
        if (is_corruption(db))
            return pk_store_fail_db(db, err, "state database '%s' is corrupt; it was left untouched", path);
        return pk_store_fail_db(db, err, "cannot read state database '%s'", path);
    }
    bool fresh = app == 0 && version == 0 && objects == 0;
    if (!fresh && (uint32_t)app != PK_STORE_APPLICATION_ID)
        return pk_fail(err, "'%s' is an SQLite database of another program (application_id 0x%08x), not a poolkeeper state database; it was left untouched", path, (unsigned)(uint32_t)app);
    if (version > PK_STORE_SCHEMA_VERSION)
        return pk_fail(err, "state database schema version %d is newer than this poolkeeper (%d); refusing to downgrade", (int)version, PK_STORE_SCHEMA_VERSION);

    _cleanup_free_ char *check = NULL;
    if (query_text(db, "PRAGMA quick_check(1)", &check) < 0)
        return pk_store_fail_db(db, err, "state database '%s' is corrupt; it was left untouched", path);
    if (!pk_streq(check, "ok")) {
        /* "*** in database main ***\nPage 4: ..." on one line. */
        for (char *c = check; c && *c; c++)
            if (*c == '\n') *c = ' ';
        return pk_fail(err, "state database '%s' is corrupt (integrity check: %s); it was left untouched", path, check ? check : "no answer");
    }
    *ret_version = (int)version;
    return 0;
}

static int open_db(const char *path, int flags, sqlite3 **ret, pk_err **err)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        pk_store_fail_db(db, err, "cannot open state database '%s'", path);
        sqlite3_close_v2(db);
        return -1;
    }
    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes(db, 1);
    *ret = db;
    return 0;
}

/* "file:PATH?immutable=1" with PATH percent-encoded as RFC 3986 wants. */
static char *immutable_uri(const char *path)
{
    pk_buf b = PK_BUF_INIT;
    pk_buf_add(&b, "file:");
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("/-._~", *p))
            pk_buf_addc(&b, (char)*p);
        else
            pk_buf_addf(&b, "%%%02X", *p);
    }
    pk_buf_add(&b, "?immutable=1");
    return pk_buf_steal(&b);
}

static bool wal_in_use(const char *path)
{
    _cleanup_free_ char *wal = pk_asprintf("%s-wal", path);
    struct stat st;
    return stat(wal, &st) == 0;
}

/* A read-only connection. SQLite gives a WAL database read through an
 * ordinary connection a -wal and a -shm file, which a read-only connection
 * then cannot remove, and it cannot read at all where it may not create
 * them (read-only file system, directory of another user). When no -wal
 * exists no writer has the file open, so it can be read as immutable:
 * without side files or locks. `probe`: only to look at the file before
 * deciding anything; otherwise only when the side files cannot be made. */
static int open_read_only(const char *path, bool probe, sqlite3 **ret, pk_err **err)
{
    if (!wal_in_use(path)) {
        _cleanup_free_ char *copy = pk_strdup(path);
        if (probe || access(dirname(copy), W_OK) < 0) {
            _cleanup_free_ char *uri = immutable_uri(path);
            return open_db(uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, ret, err);
        }
    }
    return open_db(path, SQLITE_OPEN_READONLY, ret, err);
}

/* READ of an older schema: copy into memory and upgrade the copy, so that
 * status and history work without writing the file. */
static int open_migrated_copy(pk_store *s, sqlite3 *file_db, pk_err **err)
{
    sqlite3 *mem = NULL;
    if (open_db(":memory:", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &mem, err) < 0) return -1;
    sqlite3_backup *b = sqlite3_backup_init(mem, "main", file_db, "main");
    if (!b || sqlite3_backup_step(b, -1) != SQLITE_DONE) {
        if (b) sqlite3_backup_finish(b);
        pk_store_fail_db(file_db, err, "cannot read state database '%s'", s->path);
        sqlite3_close_v2(mem);
        return -1;
    }
    sqlite3_backup_finish(b);
    if (pk_store_migrate(mem, s->path, PK_STORE_SCHEMA_VERSION, err) < 0) {
        sqlite3_close_v2(mem);
        return -1;
    }
    s->db = mem;
    s->in_memory = true;
    return 0;
}

/* A READ handle refuses every write, also to its in-memory copy, where
 * SQLite itself would not. */
static int make_query_only(pk_store *s, pk_err **err)
{
    if (sqlite3_exec(s->db, "PRAGMA query_only = ON", NULL, NULL, NULL) != SQLITE_OK)
        return pk_store_fail(s, err, "cannot set up state database '%s'", s->path);
    return 0;
}

static int setup_write_connection(pk_store *s, pk_err **err)
{
    if (open_db(s->path, SQLITE_OPEN_READWRITE, &s->db, err) < 0) return -1;
    _cleanup_free_ char *jm = NULL;
    if (sqlite3_exec(s->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL) != SQLITE_OK ||
        query_text(s->db, "PRAGMA journal_mode = WAL", &jm) < 0)
        return pk_store_fail(s, err, "cannot set up state database '%s'", s->path);
    if (!pk_streq(jm, "wal"))
        return pk_fail(err, "cannot put state database '%s' in WAL mode (the file system may not support it; journal mode is '%s')", s->path, jm ? jm : "unknown");
    /* FULL: a committed intent must survive a power loss, or a crash could
     * leave a change made on storage that no journal row explains. */
    if (sqlite3_exec(s->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK)
        return pk_store_fail(s, err, "cannot set up state database '%s'", s->path);
    return 0;
}

/* PATH.schemaN-YYYYmmddTHHMMSSZ.bak, mode 0600, a consistent copy. */
static int backup_before_upgrade(pk_store *s, int version, pk_err **err)
{
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    _cleanup_free_ char *bak = NULL;
    int fd = -1;
    for (int i = 1; i < 100 && fd < 0; i++) {
        free(bak);
        bak = i == 1 ? pk_asprintf("%s.schema%d-%s.bak", s->path, version, stamp)
                     : pk_asprintf("%s.schema%d-%s-%d.bak", s->path, version, stamp, i);
        fd = open(bak, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 && errno != EEXIST)
            return pk_fail_errno(err, errno, "cannot create backup '%s' of state database '%s'", bak, s->path);
    }
    if (fd < 0) return pk_fail(err, "cannot find a free name for a backup of state database '%s'", s->path);
    close(fd);

    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "VACUUM INTO ?1", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, bak, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) {
        pk_store_fail(s, err, "cannot copy state database '%s' to '%s' before upgrading it", s->path, bak);
        sqlite3_finalize(st);
        unlink(bak);
        return -1;
    }
    sqlite3_finalize(st);
    /* VACUUM INTO does not sync its output; the copy is only worth having
     * if it is on disk before the upgrade commits. */
    _cleanup_close_ int bfd = open(bak, O_RDONLY | O_CLOEXEC);
    if (bfd < 0 || fsync(bfd) < 0)
        return pk_fail_errno(err, errno, "cannot sync backup '%s' of state database '%s'", bak, s->path);
    if (sync_dir_of(bak, err) < 0) return -1;
    pk_info("copied state database '%s' (schema version %d) to '%s' before upgrading it", s->path, version, bak);
    return 0;
}

static int upgrade(pk_store *s, pk_err **err)
{
    /* Only the lock holder may change the schema under a running writer;
     * an older poolkeeper must not find its tables changed. */
    if (pk_store_lock_file(s, err) < 0)
        return pk_wrap(err, "cannot upgrade state database '%s' to schema version %d", s->path, PK_STORE_SCHEMA_VERSION);
    int64_t now_version = 0;
    if (query_int(s->db, "PRAGMA user_version", &now_version) < 0) {
        pk_store_unlock(s);
        return pk_store_fail(s, err, "cannot read state database '%s'", s->path);
    }
    int r = 0;
    if (now_version < PK_STORE_SCHEMA_VERSION) {
        if (now_version > 0) r = backup_before_upgrade(s, (int)now_version, err);
        if (r == 0) r = pk_store_migrate(s->db, s->path, PK_STORE_SCHEMA_VERSION, err);
        if (r == 0 && now_version > 0)
            pk_info("upgraded state database '%s' from schema version %d to %d", s->path, (int)now_version, PK_STORE_SCHEMA_VERSION);
    }
    pk_store_unlock(s);
    return r;
}

static int open_checked(pk_store *s, pk_err **err)
{
    if (s->mode == PK_STORE_WRITE) {
        bool created = false;
        if (prepare_file(s->path, &created, err) < 0) return -1;
        int r = -1;
        sqlite3 *probe = NULL;
        if (sniff(s->path, err) == 0 && open_read_only(s->path, true, &probe, err) == 0 &&
            inspect(probe, s->path, &s->found_version, err) == 0) {
            sqlite3_close_v2(probe);
            probe = NULL;
            r = setup_write_connection(s, err);
            if (r == 0 && s->found_version < PK_STORE_SCHEMA_VERSION) r = upgrade(s, err);
        }
        sqlite3_close_v2(probe);
        if (r < 0 && created) {
            /* Leave nothing half made behind: the file is ours and empty. */
            sqlite3_close_v2(s->db);
            s->db = NULL;
            unlink(s->path);
            _cleanup_free_ char *wal = pk_asprintf("%s-wal", s->path);
            _cleanup_free_ char *shm = pk_asprintf("%s-shm", s->path);
            unlink(wal);
            unlink(shm);
        }
        return r;
    }

    struct stat st;
    if (stat(s->path, &st) < 0)
        return pk_fail_errno(err, errno, "cannot open state database '%s'", s->path);
    if (sniff(s->path, err) < 0) return -1;
    sqlite3 *db = NULL;
    if (open_read_only(s->path, true, &db, err) < 0) return -1;
    int r = inspect(db, s->path, &s->found_version, err);
    if (r == 0 && s->found_version < PK_STORE_SCHEMA_VERSION) r = open_migrated_copy(s, db, err);
    sqlite3_close_v2(db);
    /* The probe was not a connection to keep: it may read as immutable. */
    if (r == 0 && !s->in_memory) r = open_read_only(s->path, false, &s->db, err);
    if (r == 0) r = make_query_only(s, err);
    return r;
}

int pk_store_open(const char *path, pk_store_mode mode, pk_store **ret_store, pk_err **err)
{
    _cleanup_(pk_store_closep) pk_store *s = PK_NEW(pk_store);
    s->path = pk_strdup(path);
    s->mode = mode;
    s->lock_fd = -1;
    if (open_checked(s, err) < 0) {
        /* The checks say why in their own words; a cause from inside SQLite
         * gets the file named around it. */
        if (err && *err && !strstr((*err)->msg, path))
            pk_wrap(err, "cannot open state database '%s'", path);
        return -1;
    }
    *ret_store = TAKE_PTR(s);
    return 0;
}

void pk_store_close(pk_store *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n_stmts; i++)
        sqlite3_finalize(s->stmts[i].st);
    free(s->stmts);
    if (s->db && !sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close_v2(s->db);
    pk_store_unlock(s);
    free(s->path);
    free(s);
}

const char *pk_store_path(const pk_store *s)
{
    return s->path;
}

int pk_store_found_version(const pk_store *s)
{
    return s->found_version;
}
