/* Cache of image probe results (format, virtual size, backing file...).
 * An entry is valid only while the file is the same inode with the same size
 * and mtime; any write or replacement changes one of them, so a stale result
 * is never returned. dev and ino are stored as their int64 bit patterns. */
#include "store_priv.h"

static const char SQL_PROBE_GET[] =
    "SELECT result FROM probe_cache"
    " WHERE path = ?1 AND dev = ?2 AND ino = ?3 AND size = ?4 AND mtime_ns = ?5";
static const char SQL_PROBE_PUT[] =
    "INSERT INTO probe_cache (path, dev, ino, size, mtime_ns, result, probed_at)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
    " ON CONFLICT (path) DO UPDATE SET dev = excluded.dev, ino = excluded.ino,"
    "  size = excluded.size, mtime_ns = excluded.mtime_ns, result = excluded.result,"
    "  probed_at = excluded.probed_at";
static const char SQL_PROBE_FORGET[] = "DELETE FROM probe_cache WHERE path = ?1";

static void bind_key(sqlite3_stmt *st, const pk_probe_key *k)
{
    pk_store_bind_text(st, 1, k->path);
    pk_store_bind_i64(st, 2, (int64_t)k->dev);
    pk_store_bind_i64(st, 3, (int64_t)k->ino);
    pk_store_bind_i64(st, 4, (int64_t)k->size);
    pk_store_bind_i64(st, 5, k->mtime_ns);
}

int pk_store_probe_get(pk_store *s, const pk_probe_key *key, char **ret_result, pk_err **err)
{
    int r = -1;
    sqlite3_stmt *st = pk_store_stmt(s, SQL_PROBE_GET, err);
    if (st) {
        bind_key(st, key);
        r = pk_store_step_row(s, st, err);
    }
    if (r < 0) return pk_wrap(err, "cannot read the probe cache in state database '%s'", s->path);
    if (r == 1) {
        *ret_result = pk_store_col_text(st, 0);
        sqlite3_reset(st);
    }
    return r;
}

static int put_one(pk_store *s, const pk_probe_key *key, const char *result, int64_t now,
                   pk_err **err)
{
    if (!key->path || !result) return pk_fail(err, "a probe cache entry needs a path and a result");
    sqlite3_stmt *st = pk_store_stmt(s, SQL_PROBE_PUT, err);
    if (!st) return -1;
    bind_key(st, key);
    pk_store_bind_text(st, 6, result);
    pk_store_bind_i64(st, 7, now);
    return pk_store_step_done(s, st, err);
}

int pk_store_probe_put(pk_store *s, const pk_probe_key *keys, const char *const *results,
                       size_t n, pk_err **err)
{
    if (n == 0) return 0;
    int r = pk_store_tx_begin(s, err);
    int64_t now = pk_now_ms();
    for (size_t i = 0; r == 0 && i < n; i++) r = put_one(s, &keys[i], results[i], now, err);
    if (pk_store_tx_end(s, r, err) < 0)
        return pk_wrap(err, "cannot update the probe cache in state database '%s'", s->path);
    return 0;
}

int pk_store_probe_forget(pk_store *s, const char *path, pk_err **err)
{
    sqlite3_stmt *st = pk_store_stmt(s, SQL_PROBE_FORGET, err);
    if (st) pk_store_bind_text(st, 1, path);
    if (!st || pk_store_step_done(s, st, err) < 0)
        return pk_wrap(err, "cannot update the probe cache in state database '%s'", s->path);
    return 0;
}
