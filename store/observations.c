/* Observed pools and volumes: recorded whole after each observation, one
 * volume at a time after an action, and read back for status and dumpxml. */
#include "store_priv.h"

static const char SQL_POOL_UPSERT[] =
    "INSERT INTO obs_pool (name, type, state, error, capacity, allocation, available,"
    "  mode, uid, gid, label, identity, nonempty, vols_observed, observed_at)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
    " ON CONFLICT (name) DO UPDATE SET type = excluded.type, state = excluded.state,"
    "  error = excluded.error, capacity = excluded.capacity, allocation = excluded.allocation,"
    "  available = excluded.available, mode = excluded.mode, uid = excluded.uid,"
    "  gid = excluded.gid, label = excluded.label, identity = excluded.identity,"
    "  nonempty = excluded.nonempty, vols_observed = excluded.vols_observed,"
    "  observed_at = excluded.observed_at";

static const char SQL_POOL_VOLS_DELETE[] = "DELETE FROM obs_vol WHERE pool = ?1";

static const char SQL_POOL_DIGEST_GET[] = "SELECT vols_digest FROM obs_pool WHERE name = ?1";
static const char SQL_POOL_DIGEST_SET[] = "UPDATE obs_pool SET vols_digest = ?2 WHERE name = ?1";
/* Once per pool and transaction in effect: rows already unknown are not written. */
static const char SQL_POOL_DIGEST_CLEAR[] =
    "UPDATE obs_pool SET vols_digest = NULL WHERE name = ?1 AND vols_digest IS NOT NULL";

static const char SQL_VOL_UPSERT[] =
    "INSERT INTO obs_vol (pool, name, key, path, type, format, capacity, allocation, physical,"
    "  mode, uid, gid, label, identity, backing_path, backing_format, encrypted,"
    "  atime_ns, mtime_ns, ctime_ns, btime_ns, error, observed_at)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,"
    "  ?18, ?19, ?20, ?21, ?22, ?23)"
    " ON CONFLICT (pool, name) DO UPDATE SET key = excluded.key, path = excluded.path,"
    "  type = excluded.type, format = excluded.format, capacity = excluded.capacity,"
    "  allocation = excluded.allocation, physical = excluded.physical, mode = excluded.mode,"
    "  uid = excluded.uid, gid = excluded.gid, label = excluded.label,"
    "  identity = excluded.identity, backing_path = excluded.backing_path,"
    "  backing_format = excluded.backing_format, encrypted = excluded.encrypted,"
    "  atime_ns = excluded.atime_ns, mtime_ns = excluded.mtime_ns,"
    "  ctime_ns = excluded.ctime_ns, btime_ns = excluded.btime_ns, error = excluded.error,"
    "  observed_at = excluded.observed_at";

static const char SQL_VOL_DELETE[] = "DELETE FROM obs_vol WHERE pool = ?1 AND name = ?2";

static const char SQL_POOLS_SELECT[] =
    "SELECT name, type, state, error, capacity, allocation, available, mode, uid, gid, label,"
    "  identity, nonempty, vols_observed, observed_at FROM obs_pool ORDER BY name";

static const char SQL_VOLS_SELECT[] =
    "SELECT pool, name, key, path, type, format, capacity, allocation, physical,"
    "  mode, uid, gid, label, identity, backing_path, backing_format, encrypted,"
    "  atime_ns, mtime_ns, ctime_ns, btime_ns, error, observed_at"
    " FROM obs_vol ORDER BY pool, name";

static void bind_perms(sqlite3_stmt *st, int first, const pk_perms *p)
{
    pk_store_bind_opt_i64(st, first, p->mode, p->mode >= 0);
    pk_store_bind_opt_i64(st, first + 1, p->uid, p->uid >= 0);
    pk_store_bind_opt_i64(st, first + 2, p->gid, p->gid >= 0);
    pk_store_bind_text(st, first + 3, p->label);
}

static void read_perms(sqlite3_stmt *st, int first, pk_perms *p)
{
    p->mode = pk_store_col_opt_i64(st, first, -1);
    p->uid = pk_store_col_opt_i64(st, first + 1, -1);
    p->gid = pk_store_col_opt_i64(st, first + 2, -1);
    p->label = pk_store_col_text(st, first + 3);
}

static void bind_time(sqlite3_stmt *st, int i, pk_timestamp t)
{
    pk_store_bind_opt_i64(st, i, t.sec * 1000000000 + t.nsec, t.sec >= 0);
}

static pk_timestamp read_time(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL) return (pk_timestamp){ -1, 0 };
    int64_t ns = sqlite3_column_int64(st, i);
    return (pk_timestamp){ ns / 1000000000, ns % 1000000000 };
}

static int64_t stamp(int64_t observed_at_ms)
{
    return observed_at_ms > 0 ? observed_at_ms : pk_now_ms();
}

int pk_store_put_pool_row(pk_store *s, const pk_obs_pool *p, pk_err **err)
{
    sqlite3_stmt *st = pk_store_stmt(s, SQL_POOL_UPSERT, err);
    if (!st) return -1;
    _cleanup_free_ char *error = pk_store_err_text(p->error);
    pk_store_bind_text(st, 1, p->name);
    pk_store_bind_text(st, 2, pk_pool_type_to_string(p->type));
    /* A pool that could not be observed is in no known state. */
    pk_store_bind_text(st, 3, p->error ? NULL : pk_pool_state_to_string(p->state));
    pk_store_bind_text(st, 4, error);
    pk_store_bind_i64(st, 5, (int64_t)p->capacity);
    pk_store_bind_i64(st, 6, (int64_t)p->allocation);
    pk_store_bind_i64(st, 7, (int64_t)p->available);
    bind_perms(st, 8, &p->perms);
    pk_store_bind_text(st, 12, p->identity);
    pk_store_bind_i64(st, 13, p->nonempty);
    pk_store_bind_i64(st, 14, p->vols_observed);
    pk_store_bind_i64(st, 15, stamp(p->observed_at_ms));
    return pk_store_step_done(s, st, err);
}

/* ---- the digest of a pool's volume rows ----
 * FNV-1a 64 over every recorded field of every volume in name order, except
 * the access time (which reading a file changes) and when it was observed:
 * rows whose digest is unchanged are not rewritten, and keep those two
 * from the observation that last changed them. */

static void fnv_i64(uint64_t *h, int64_t v)
{
    pk_fnv_u64(h, (uint64_t)v);
}

static void fnv_time(uint64_t *h, pk_timestamp t)
{
    fnv_i64(h, t.sec >= 0 ? t.sec * 1000000000 + t.nsec : -1);
}

static int64_t vols_digest(const pk_obs_pool *p)
{
    uint64_t h = PK_FNV_INIT;
    fnv_i64(&h, (int64_t)p->n_vols);
    for (size_t i = 0; i < p->n_vols; i++) {
        const pk_obs_vol *v = &p->vols[i];
        pk_fnv_str(&h, v->name);
        pk_fnv_str(&h, v->key);
        pk_fnv_str(&h, v->path);
        fnv_i64(&h, v->type);
        fnv_i64(&h, v->format);
        fnv_i64(&h, (int64_t)v->capacity);
        fnv_i64(&h, (int64_t)v->allocation);
        fnv_i64(&h, (int64_t)v->physical);
        fnv_i64(&h, v->perms.mode);
        fnv_i64(&h, v->perms.uid);
        fnv_i64(&h, v->perms.gid);
        pk_fnv_str(&h, v->perms.label);
        pk_fnv_str(&h, v->identity);
        pk_fnv_str(&h, v->backing_path);
        fnv_i64(&h, v->backing_format);
        fnv_i64(&h, v->encrypted);
        fnv_time(&h, v->mtime);
        fnv_i64(&h, v->mtime_ns);
        fnv_time(&h, v->ctime);
        fnv_time(&h, v->btime);
        pk_fnv_str(&h, v->error);
    }
    return (int64_t)h;
}

/* 1 and *ret when the pool's row has a digest, 0 when not. */
static int digest_get(pk_store *s, const char *pool, int64_t *ret, pk_err **err)
{
    sqlite3_stmt *st = pk_store_stmt(s, SQL_POOL_DIGEST_GET, err);
    if (!st) return -1;
    pk_store_bind_text(st, 1, pool);
    int r = pk_store_step_row(s, st, err);
    if (r != 1) return r;
    r = sqlite3_column_type(st, 0) != SQLITE_NULL;
    *ret = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return r;
}

/* present false: the rows changed one by one, the digest is unknown. */
static int digest_set(pk_store *s, const char *pool, int64_t digest, bool present, pk_err **err)
{
    sqlite3_stmt *st = pk_store_stmt(s, present ? SQL_POOL_DIGEST_SET : SQL_POOL_DIGEST_CLEAR, err);
    if (!st) return -1;
    pk_store_bind_text(st, 1, pool);
    if (present) pk_store_bind_i64(st, 2, digest);
    return pk_store_step_done(s, st, err);
}

static int put_vol_row(pk_store *s, const char *pool, const pk_obs_vol *v, int64_t observed_at,
                       pk_err **err)
{
    sqlite3_stmt *st = pk_store_stmt(s, SQL_VOL_UPSERT, err);
    if (!st) return -1;
    pk_store_bind_text(st, 1, pool);
    pk_store_bind_text(st, 2, v->name);
    pk_store_bind_text(st, 3, v->key);
    pk_store_bind_text(st, 4, v->path);
    pk_store_bind_text(st, 5, pk_vol_type_to_string(v->type));
    pk_store_bind_i64(st, 6, v->format);
    pk_store_bind_i64(st, 7, (int64_t)v->capacity);
    pk_store_bind_i64(st, 8, (int64_t)v->allocation);
    pk_store_bind_i64(st, 9, (int64_t)v->physical);
    bind_perms(st, 10, &v->perms);
    pk_store_bind_text(st, 14, v->identity);
    pk_store_bind_text(st, 15, v->backing_path);
    pk_store_bind_i64(st, 16, v->backing_format);
    pk_store_bind_i64(st, 17, v->encrypted);
    bind_time(st, 18, v->atime);
    /* mtime_ns is what the backend measured for the probe cache; it is the
     * same instant as mtime when both are set. */
    if (v->mtime.sec >= 0)
        bind_time(st, 19, v->mtime);
    else
        pk_store_bind_opt_i64(st, 19, v->mtime_ns, v->mtime_ns != 0);
    bind_time(st, 20, v->ctime);
    bind_time(st, 21, v->btime);
    pk_store_bind_text(st, 22, v->error);
    pk_store_bind_i64(st, 23, stamp(observed_at));
    return pk_store_step_done(s, st, err);
}

int pk_store_put_vol_row(pk_store *s, const char *pool, const pk_obs_vol *v, int64_t observed_at,
                         pk_err **err)
{
    if (digest_set(s, pool, 0, false, err) < 0) return -1;
    return put_vol_row(s, pool, v, observed_at, err);
}

int pk_store_drop_vol_row(pk_store *s, const char *pool, const char *vol, pk_err **err)
{
    if (digest_set(s, pool, 0, false, err) < 0) return -1;
    sqlite3_stmt *st = pk_store_stmt(s, SQL_VOL_DELETE, err);
    if (!st) return -1;
    pk_store_bind_text(st, 1, pool);
    pk_store_bind_text(st, 2, vol);
    return pk_store_step_done(s, st, err);
}

static int record_pool(pk_store *s, const pk_obs_pool *p, pk_err **err)
{
    if (!p->name) return pk_fail(err, "an observed pool has no name");
    bool replace = !p->error && (p->vols_observed || p->state == PK_POOL_ABSENT);
    int64_t old = 0, now = replace ? vols_digest(p) : 0;
    int had = replace ? digest_get(s, p->name, &old, err) : 0;
    if (had < 0 || pk_store_put_pool_row(s, p, err) < 0) return -1;
    if (!replace) return 0;
    if (had == 1 && old == now) return digest_set(s, p->name, now, true, err);
    sqlite3_stmt *del = pk_store_stmt(s, SQL_POOL_VOLS_DELETE, err);
    if (!del) return -1;
    pk_store_bind_text(del, 1, p->name);
    if (pk_store_step_done(s, del, err) < 0) return -1;
    for (size_t i = 0; i < p->n_vols; i++)
        if (put_vol_row(s, p->name, &p->vols[i], p->observed_at_ms, err) < 0) return -1;
    return digest_set(s, p->name, now, true, err);
}

int pk_store_record_observation(pk_store *s, const pk_observed *o, pk_err **err)
{
    if (!o || o->n_pools == 0) return 0;
    int r = pk_store_tx_begin(s, err);
    for (size_t i = 0; r == 0 && i < o->n_pools; i++) r = record_pool(s, &o->pools[i], err);
    if (pk_store_tx_end(s, r, err) < 0)
        return pk_wrap(err, "cannot record the observation in state database '%s'", s->path);
    return 0;
}

static void read_vol(sqlite3_stmt *st, pk_obs_vol *v)
{
    v->name = pk_store_col_text(st, 1);
    v->key = pk_store_col_text(st, 2);
    v->path = pk_store_col_text(st, 3);
    const char *type = (const char *)sqlite3_column_text(st, 4);
    int t = pk_vol_type_from_string(type);
    v->type = t < 0 ? PK_VOL_FILE : (pk_vol_type)t;
    v->format = (int)pk_store_col_i64(st, 5);
    v->capacity = (uint64_t)pk_store_col_i64(st, 6);
    v->allocation = (uint64_t)pk_store_col_i64(st, 7);
    v->physical = (uint64_t)pk_store_col_i64(st, 8);
    read_perms(st, 9, &v->perms);
    v->identity = pk_store_col_text(st, 13);
    v->backing_path = pk_store_col_text(st, 14);
    v->backing_format = (int)pk_store_col_i64(st, 15);
    v->encrypted = pk_store_col_i64(st, 16) != 0;
    v->atime = read_time(st, 17);
    v->mtime = read_time(st, 18);
    v->mtime_ns = pk_store_col_i64(st, 18);
    v->ctime = read_time(st, 19);
    v->btime = read_time(st, 20);
    v->error = pk_store_col_text(st, 21);
}

static int load_pools(pk_store *s, pk_observed *o, pk_err **err)
{
    sqlite3_stmt *st = pk_store_stmt(s, SQL_POOLS_SELECT, err);
    if (!st) return -1;
    int r;
    while ((r = pk_store_step_row(s, st, err)) == 1) {
        pk_obs_pool *p = PK_APPEND(o->pools, o->n_pools);
        p->name = pk_store_col_text(st, 0);
        int t = pk_pool_type_from_string((const char *)sqlite3_column_text(st, 1));
        p->type = t < 0 ? PK_POOL_DIR : (pk_pool_type)t;
        int state = pk_pool_state_from_string((const char *)sqlite3_column_text(st, 2));
        p->state = state < 0 ? PK_POOL_ABSENT : (pk_pool_state)state;
        if (sqlite3_column_type(st, 3) != SQLITE_NULL)
            p->error = pk_err_new(NULL, 0, 0, "%s", (const char *)sqlite3_column_text(st, 3));
        else if (state < 0)
            p->error = pk_err_new(NULL, 0, 0, "unknown recorded state");
        p->capacity = (uint64_t)pk_store_col_i64(st, 4);
        p->allocation = (uint64_t)pk_store_col_i64(st, 5);
        p->available = (uint64_t)pk_store_col_i64(st, 6);
        read_perms(st, 7, &p->perms);
        p->identity = pk_store_col_text(st, 11);
        p->nonempty = pk_store_col_i64(st, 12) != 0;
        p->vols_observed = pk_store_col_i64(st, 13) != 0;
        p->observed_at_ms = pk_store_col_i64(st, 14);
    }
    return r;
}

static int load_vols(pk_store *s, pk_observed *o, pk_err **err)
{
    sqlite3_stmt *st = pk_store_stmt(s, SQL_VOLS_SELECT, err);
    if (!st) return -1;
    size_t pi = 0;
    int r;
    while ((r = pk_store_step_row(s, st, err)) == 1) {
        const char *pool = (const char *)sqlite3_column_text(st, 0);
        /* Both lists are sorted by pool name: walk them together. Volume
         * rows of a pool without a row (none is made that way) are skipped. */
        while (pi < o->n_pools && strcmp(o->pools[pi].name, pool) < 0) pi++;
        if (pi == o->n_pools || !pk_streq(o->pools[pi].name, pool)) continue;
        pk_obs_pool *p = &o->pools[pi];
        read_vol(st, PK_APPEND(p->vols, p->n_vols));
    }
    return r;
}

int pk_store_observed_load(pk_store *s, pk_observed **ret, pk_err **err)
{
    _cleanup_(pk_observed_freep) pk_observed *o = PK_NEW(pk_observed);
    if (load_pools(s, o, err) < 0 || (o->n_pools && load_vols(s, o, err) < 0))
        return pk_wrap(err, "cannot read the observations in state database '%s'", s->path);
    *ret = o->n_pools ? TAKE_PTR(o) : NULL;
    return 0;
}
