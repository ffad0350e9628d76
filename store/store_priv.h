/* Inside of the store: the handle, statement cache, transactions and the
 * helpers every file of store/ uses. Also the hooks tests need (schema at an
 * older version). Not for use outside store/ and tests/store/. */
#pragma once
#include "store.h"
#include <sqlite3.h>

struct pk_store {
    char *path;
    sqlite3 *db;
    pk_store_mode mode;
    int found_version;        /* user_version when opened */
    bool in_memory;           /* READ of an older schema: a migrated copy */
    int lock_fd;              /* PATH.lock while we hold the writer lock, else -1 */
    int reading;              /* read_begin depth */
    /* Prepared statements, keyed by the address of their SQL text. */
    struct { const char *sql; sqlite3_stmt *st; } *stmts;
    size_t n_stmts;
};

/* Errors: the helpers below fill *err with SQLite's own explanation of the
 * failure only (and the OS error, if any); each public function then wraps
 * it once with what it was doing and the file ("cannot record ... in state
 * database 'X': database or disk is full"). */
int pk_store_sqlerr(pk_store *s, pk_err **err);

/* The prepared statement for `sql` (a static string: its address is the
 * key), reset and ready to bind. NULL with *err on failure. */
sqlite3_stmt *pk_store_stmt(pk_store *s, const char *sql, pk_err **err);
/* Step a statement that returns no rows, then reset it. */
int pk_store_step_done(pk_store *s, sqlite3_stmt *st, pk_err **err);
/* Step a query to its next row: 1 row, 0 done (statement reset), -1 error
 * (statement reset). */
int pk_store_step_row(pk_store *s, sqlite3_stmt *st, pk_err **err);

/* Fill *err with a complete message (fmt) whose cause is SQLite's own
 * explanation of the last failure (with the OS error, if any). Returns -1. */
int pk_store_fail(pk_store *s, pk_err **err, const char *fmt, ...) PK_PRINTF(3, 4);
/* The same for a raw connection (open, migration). */
int pk_store_fail_db(sqlite3 *db, pk_err **err, const char *fmt, ...) PK_PRINTF(3, 4);

/* One logical step is one transaction: tx_begin (BEGIN IMMEDIATE), the
 * statements, then tx_end(s, r) which commits when r == 0 and rolls back
 * otherwise; it returns -1 if r was, or if the commit failed. */
int pk_store_tx_begin(pk_store *s, pk_err **err);
int pk_store_tx_end(pk_store *s, int r, pk_err **err);
void pk_store_tx_rollback(pk_store *s);

/* Binding and reading columns: NULL strings are SQL NULL and back. */
void pk_store_bind_text(sqlite3_stmt *st, int i, const char *v);
void pk_store_bind_i64(sqlite3_stmt *st, int i, int64_t v);
void pk_store_bind_opt_i64(sqlite3_stmt *st, int i, int64_t v, bool present);
char *pk_store_col_text(sqlite3_stmt *st, int i);   /* copy, NULL for NULL */
int64_t pk_store_col_i64(sqlite3_stmt *st, int i);  /* NULL reads 0 */
int64_t pk_store_col_opt_i64(sqlite3_stmt *st, int i, int64_t if_null);

/* pk_err (with its causes) as one line of text, without "error: ". */
char *pk_store_err_text(const pk_err *e);

/* ---- observed rows (observations.c), also written by journal results ---- */
int pk_store_put_pool_row(pk_store *s, const pk_obs_pool *p, pk_err **err);
int pk_store_put_vol_row(pk_store *s, const char *pool, const pk_obs_vol *v, int64_t observed_at,
                         pk_err **err);
int pk_store_drop_vol_row(pk_store *s, const char *pool, const char *vol, pk_err **err);

/* ---- ownership rows (ownership.c), inside a caller's transaction ---- */
/* Record what an owned volume looks like after poolkeeper changed it. */
int pk_store_own_applied_row(pk_store *s, const char *pool, const char *vol, const pk_obs_vol *row,
                             pk_err **err);
int pk_store_own_take_row(pk_store *s, const char *pool, const char *vol, const char *identity,
                          const char *key, pk_own_how how, int64_t run, pk_err **err);
int pk_store_own_drop_row(pk_store *s, const char *pool, const char *vol, pk_err **err);

/* ---- schema (schema.c) ---- */

/* Bring the schema of an open connection from `from` up to `to` in one
 * transaction (which re-checks the version inside it). The caller made the
 * backup and holds the lock. */
int pk_store_migrate(sqlite3 *db, const char *path, int to, pk_err **err);
/* Tests: create a database at `path` whose schema stops at `version`
 * (1..PK_STORE_SCHEMA_VERSION), as an older poolkeeper would have made it. */
int pk_store_create_at_version(const char *path, int version, pk_err **err);

/* ---- lock (lock.c) ---- */
/* The lock for an upgrade during open: like pk_store_lock without touching
 * runs (the tables may not exist yet). */
int pk_store_lock_file(pk_store *s, pk_err **err);
