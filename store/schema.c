/* The schema, as the list of steps that built it. Step i takes a database
 * from user_version i to i + 1; a released step is never edited, a change
 * is a new step at the end (and PK_STORE_SCHEMA_VERSION + 1).
 *
 * Conventions: times are milliseconds since the epoch (UTC); byte counts
 * and identifiers that are unsigned 64-bit in C are stored as their int64
 * bit pattern; a pool's own row in a (pool, vol) table has vol ''. */
#include "store_priv.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

static const char *const steps[] = {
    /* 0 -> 1: observations, ownership, runs, journal, events. */
    "CREATE TABLE obs_pool ("
    "  name TEXT PRIMARY KEY,"
    "  type TEXT NOT NULL,"
    "  state TEXT,"                       /* absent | inactive | running; NULL: unknown (error) */
    "  error TEXT,"                       /* observing failed: why */
    "  capacity INTEGER, allocation INTEGER, available INTEGER,"
    "  mode INTEGER, uid INTEGER, gid INTEGER, label TEXT,"
    "  identity TEXT,"
    "  nonempty INTEGER NOT NULL DEFAULT 0,"
    "  vols_observed INTEGER NOT NULL DEFAULT 0,"
    "  observed_at INTEGER NOT NULL"
    ") STRICT;"
    /* No foreign key to obs_pool: a volume row recorded after an action
     * must never fail because its pool row is missing. */
    "CREATE TABLE obs_vol ("
    "  pool TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  key TEXT, path TEXT,"
    "  type TEXT NOT NULL,"
    "  format INTEGER NOT NULL DEFAULT -1,"
    "  capacity INTEGER NOT NULL DEFAULT 0,"
    "  allocation INTEGER NOT NULL DEFAULT 0,"
    "  physical INTEGER NOT NULL DEFAULT 0,"
    "  mode INTEGER, uid INTEGER, gid INTEGER, label TEXT,"
    "  identity TEXT,"
    "  backing_path TEXT,"
    "  backing_format INTEGER NOT NULL DEFAULT -1,"
    "  encrypted INTEGER NOT NULL DEFAULT 0,"
    "  atime_ns INTEGER, mtime_ns INTEGER, ctime_ns INTEGER, btime_ns INTEGER,"
    "  error TEXT,"
    "  observed_at INTEGER NOT NULL,"
    "  PRIMARY KEY (pool, name)"
    ") STRICT, WITHOUT ROWID;"
    "CREATE TABLE runs ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  commit_id TEXT,"
    "  ref TEXT,"
    "  pid INTEGER NOT NULL,"
    "  started_at INTEGER NOT NULL,"
    "  ended_at INTEGER,"
    "  result TEXT NOT NULL DEFAULT 'running'"
    "    CHECK (result IN ('running', 'ok', 'failed', 'interrupted')),"
    "  n_actions INTEGER NOT NULL DEFAULT 0,"
    "  n_done INTEGER NOT NULL DEFAULT 0,"
    "  n_failed INTEGER NOT NULL DEFAULT 0,"
    "  n_skipped INTEGER NOT NULL DEFAULT 0,"
    "  error TEXT"
    ") STRICT;"
    "CREATE INDEX runs_running ON runs(result) WHERE result = 'running';"
    "CREATE TABLE ownership ("
    "  pool TEXT NOT NULL,"
    "  vol TEXT NOT NULL DEFAULT '',"
    "  identity TEXT,"                    /* detects replacement: dev:ino, image id, LV UUID */
    "  key TEXT,"
    "  how TEXT NOT NULL CHECK (how IN ('created', 'adopted')),"
    "  since INTEGER NOT NULL,"
    "  run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,"
    "  PRIMARY KEY (pool, vol)"
    ") STRICT, WITHOUT ROWID;"
    "CREATE TABLE journal ("
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    "  seq INTEGER NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  pool TEXT NOT NULL,"
    "  vol TEXT,"
    "  risk TEXT NOT NULL,"
    "  before TEXT, after TEXT, reason TEXT,"
    "  state TEXT NOT NULL CHECK (state IN ('intent', 'done', 'failed', 'skipped')),"
    "  error TEXT,"
    "  started_at INTEGER NOT NULL,"
    "  ended_at INTEGER,"
    "  PRIMARY KEY (run_id, seq)"
    ") STRICT, WITHOUT ROWID;"
    "CREATE INDEX journal_object ON journal(pool, vol, run_id, seq);"
    "CREATE INDEX journal_intents ON journal(run_id) WHERE state = 'intent';"
    "CREATE TABLE events ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  at INTEGER NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,"
    "  pool TEXT, vol TEXT,"
    "  message TEXT NOT NULL,"
    "  data TEXT,"
    "  delivered_at INTEGER"
    ") STRICT;"
    "CREATE INDEX events_pending ON events(id) WHERE delivered_at IS NULL;",

    /* 1 -> 2: drift tracking and the image probe cache (file volumes). */
    "CREATE TABLE drift ("
    "  id INTEGER PRIMARY KEY,"
    "  pool TEXT NOT NULL,"
    "  vol TEXT NOT NULL DEFAULT '',"
    "  what TEXT NOT NULL,"
    "  detail TEXT,"
    "  first_seen INTEGER NOT NULL,"
    "  last_seen INTEGER NOT NULL,"
    "  resolved_at INTEGER"
    ") STRICT;"
    "CREATE UNIQUE INDEX drift_open ON drift(pool, vol, what) WHERE resolved_at IS NULL;"
    "ALTER TABLE journal ADD COLUMN drift INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE probe_cache ("
    "  path TEXT PRIMARY KEY,"
    "  dev INTEGER NOT NULL,"
    "  ino INTEGER NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  mtime_ns INTEGER NOT NULL,"
    "  result TEXT NOT NULL,"
    "  probed_at INTEGER NOT NULL"
    ") STRICT, WITHOUT ROWID;",

    /* 2 -> 3: what an owned volume looked like after poolkeeper's last
     * change, so drift (changed outside) is told from a new desired value. */
    "ALTER TABLE ownership ADD COLUMN applied_capacity INTEGER;"
    "ALTER TABLE ownership ADD COLUMN applied_mode INTEGER;"
    "ALTER TABLE ownership ADD COLUMN applied_uid INTEGER;"
    "ALTER TABLE ownership ADD COLUMN applied_gid INTEGER;",

    /* 3 -> 4: the definition of every managed pool, so a pool removed from
     * the desired state can still be observed and cleaned up (prune,
     * allow_pool_delete) after its file is gone from the repository. */
    "CREATE TABLE pool_def ("
    "  name TEXT PRIMARY KEY,"
    "  type TEXT NOT NULL,"
    "  xml TEXT NOT NULL,"
    "  commit_id TEXT,"                   /* desired commit that last changed it; NULL: work tree */
    "  saved_at INTEGER NOT NULL"
    ") STRICT, WITHOUT ROWID;"
    /* Digest of a pool's recorded volume rows (observations.c): an
     * observation that finds them unchanged does not rewrite them. */
    "ALTER TABLE obs_pool ADD COLUMN vols_digest INTEGER;",
};
_Static_assert(PK_NELEM(steps) == PK_STORE_SCHEMA_VERSION, "one schema step per version");

static int read_version(sqlite3 *db, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

int pk_store_migrate(sqlite3 *db, const char *path, int to, pk_err **err)
{
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return pk_store_fail_db(db, err, "cannot upgrade state database '%s'", path);
    int64_t from = 0;
    if (read_version(db, &from) < 0) {
        pk_store_fail_db(db, err, "cannot upgrade state database '%s'", path);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    if (from > to) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return pk_fail(err, "state database schema version %d is newer than this poolkeeper (%d); refusing to downgrade", (int)from, to);
    }
    for (int64_t i = from; i < to; i++) {
        if (sqlite3_exec(db, steps[i], NULL, NULL, NULL) != SQLITE_OK) {
            pk_store_fail_db(db, err, "cannot upgrade state database '%s' to schema version %d", path, (int)i + 1);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
    }
    /* PRAGMAs take no parameters; both values are integers of ours. */
    char sql[96];
    snprintf(sql, sizeof(sql), "PRAGMA application_id = %d; PRAGMA user_version = %d",
             (int)PK_STORE_APPLICATION_ID, to);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        pk_store_fail_db(db, err, "cannot upgrade state database '%s' to schema version %d", path, to);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

int pk_store_create_at_version(const char *path, int version, pk_err **err)
{
    if (version < 1 || version > PK_STORE_SCHEMA_VERSION)
        return pk_fail(err, "no schema version %d", version);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return pk_fail_errno(err, errno, "cannot create '%s'", path);
    close(fd);
    sqlite3 *db = NULL;
    int r = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        pk_store_fail_db(db, err, "cannot open '%s'", path);
    else if (sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL) != SQLITE_OK)
        pk_store_fail_db(db, err, "cannot set up '%s'", path);
    else
        r = pk_store_migrate(db, path, version, err);
    sqlite3_close_v2(db);
    return r;
}
