/* Ownership: what poolkeeper created or adopted, and so may change. A pool's
 * own row has vol '' (SQL NULLs are never equal, so they cannot be keys);
 * callers see NULL. */
#include "store_priv.h"

PK_ENUM_IMPL(pk_own_how, PK_OWN_HOW_LAST, "created", "adopted");

static const char SQL_OWN_SELECT[] =
    "SELECT pool, vol, identity, key, how, since, run_id FROM ownership ORDER BY pool, vol";

static const char SQL_OWN_TAKE[] =
    "INSERT INTO ownership (pool, vol, identity, key, how, since, run_id)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
    " ON CONFLICT (pool, vol) DO UPDATE SET identity = excluded.identity, key = excluded.key,"
    "  how = excluded.how, since = excluded.since, run_id = excluded.run_id";

static const char SQL_OWN_DROP[] = "DELETE FROM ownership WHERE pool = ?1 AND vol = ?2";

static const char SQL_OWN_APPLIED[] =
    "UPDATE ownership SET applied_capacity = ?3, applied_mode = ?4, applied_uid = ?5,"
    " applied_gid = ?6 WHERE pool = ?1 AND vol = ?2";

static const char *vol_key(const char *vol)
{
    return vol ? vol : "";
}

int pk_store_own_take_row(pk_store *s, const char *pool, const char *vol, const char *identity,
                          const char *key, pk_own_how how, int64_t run, pk_err **err)
{
    if (!pool || !pk_own_how_to_string(how))
        return pk_fail(err, "an owned object needs a pool and how it was taken");
    sqlite3_stmt *st = pk_store_stmt(s, SQL_OWN_TAKE, err);
    if (!st) return -1;
    pk_store_bind_text(st, 1, pool);
    pk_store_bind_text(st, 2, vol_key(vol));
    pk_store_bind_text(st, 3, identity);
    pk_store_bind_text(st, 4, key);
    pk_store_bind_text(st, 5, pk_own_how_to_string(how));
    pk_store_bind_i64(st, 6, pk_now_ms());
    pk_store_bind_opt_i64(st, 7, run, run > 0);
    return pk_store_step_done(s, st, err);
}

int pk_store_own_drop_row(pk_store *s, const char *pool, const char *vol, pk_err **err)
{
    sqlite3_stmt *st = pk_store_stmt(s, SQL_OWN_DROP, err);
    if (!st) return -1;
    pk_store_bind_text(st, 1, pool);
    pk_store_bind_text(st, 2, vol_key(vol));
    return pk_store_step_done(s, st, err);
}

int pk_store_own_applied_row(pk_store *s, const char *pool, const char *vol, const pk_obs_vol *row,
                             pk_err **err)
{
    sqlite3_stmt *st = pk_store_stmt(s, SQL_OWN_APPLIED, err);
    if (!st) return -1;
    pk_store_bind_text(st, 1, pool);
    pk_store_bind_text(st, 2, vol_key(vol));
    pk_store_bind_i64(st, 3, (int64_t)row->capacity);
    pk_store_bind_opt_i64(st, 4, row->perms.mode, row->perms.mode >= 0);
    pk_store_bind_opt_i64(st, 5, row->perms.uid, row->perms.uid >= 0);
    pk_store_bind_opt_i64(st, 6, row->perms.gid, row->perms.gid >= 0);
    return pk_store_step_done(s, st, err);
}

static const char *shown(const char *vol)
{
    return vol ? vol : "";
}

int pk_store_own_take(pk_store *s, const char *pool, const char *vol, const char *identity,
                      const char *key, pk_own_how how, int64_t run, pk_err **err)
{
    int r = pk_store_tx_begin(s, err);
    if (r == 0) r = pk_store_own_take_row(s, pool, vol, identity, key, how, run, err);
    if (pk_store_tx_end(s, r, err) < 0)
        return pk_wrap(err, "cannot record ownership of '%s%s%s' in state database '%s'", pool ? pool : "", vol ? "/" : "", shown(vol), s->path);
    return 0;
}

int pk_store_own_drop(pk_store *s, const char *pool, const char *vol, pk_err **err)
{
    int r = pk_store_tx_begin(s, err);
    if (r == 0) r = pk_store_own_drop_row(s, pool, vol, err);
    if (pk_store_tx_end(s, r, err) < 0)
        return pk_wrap(err, "cannot drop ownership of '%s%s%s' in state database '%s'", pool ? pool : "", vol ? "/" : "", shown(vol), s->path);
    return 0;
}

static char *col_vol(sqlite3_stmt *st, int i)
{
    const char *v = (const char *)sqlite3_column_text(st, i);
    return v && *v ? pk_strdup(v) : NULL;
}

int pk_store_owners_list(pk_store *s, pk_owner **ret, size_t *ret_n, pk_err **err)
{
    pk_owner *list = NULL;
    size_t n = 0;
    int r = -1;
    sqlite3_stmt *st = pk_store_stmt(s, SQL_OWN_SELECT, err);
    while (st && (r = pk_store_step_row(s, st, err)) == 1) {
        pk_owner *o = PK_APPEND(list, n);
        o->pool = pk_store_col_text(st, 0);
        o->vol = col_vol(st, 1);
        o->identity = pk_store_col_text(st, 2);
        o->key = pk_store_col_text(st, 3);
        int how = pk_own_how_from_string((const char *)sqlite3_column_text(st, 4));
        o->how = how < 0 ? PK_OWN_CREATED : (pk_own_how)how;
        o->since_ms = pk_store_col_i64(st, 5);
        o->run = pk_store_col_i64(st, 6);
    }
    if (r < 0) {
        pk_owners_free(list, n);
        return pk_wrap(err, "cannot read ownership from state database '%s'", s->path);
    }
    *ret = list;
    *ret_n = n;
    return 0;
}

void pk_owners_free(pk_owner *o, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(o[i].pool);
        free(o[i].vol);
        free(o[i].identity);
        free(o[i].key);
    }
    free(o);
}

static const char SQL_OWN_LOAD[] =
    "SELECT pool, vol, identity, applied_capacity, applied_mode, applied_uid, applied_gid"
    " FROM ownership ORDER BY pool, vol";

static const char SQL_OWN_COUNT[] = "SELECT count(*) FROM ownership";

int pk_store_ownership_load(pk_store *s, pk_ownership *ret, pk_err **err)
{
    pk_ownership o = { 0 };
    size_t cap = 0;
    int r = -1;
    /* Sized up front: this array is alive at the plan's peak memory, and
     * growing it by doubling would leave up to half of it unused. */
    sqlite3_stmt *cnt = pk_store_stmt(s, SQL_OWN_COUNT, err);
    if (!cnt || pk_store_step_row(s, cnt, err) != 1)
        return pk_wrap(err, "cannot read ownership from state database '%s'", s->path);
    cap = (size_t)sqlite3_column_int64(cnt, 0);
    sqlite3_reset(cnt);
    if (cap) o.items = pk_malloc(cap * sizeof(*o.items));
    sqlite3_stmt *st = pk_store_stmt(s, SQL_OWN_LOAD, err);
    while (st && (r = pk_store_step_row(s, st, err)) == 1) {
        if (o.n == cap) {
            cap = cap ? cap * 2 : 64;
            o.items = pk_realloc(o.items, cap * sizeof(*o.items));
        }
        pk_owned *it = &o.items[o.n++];
        /* Rows come by pool: consecutive volumes share one copy of its name. */
        const char *pool = (const char *)sqlite3_column_text(st, 0);
        bool same_pool = o.n > 1 && pk_streq(o.items[o.n - 2].pool, pool);
        *it = (pk_owned){
            .pool = same_pool ? o.items[o.n - 2].pool : pk_strdup(pool),
            .vol = col_vol(st, 1),
            .identity = pk_store_col_text(st, 2),
            .has_applied = sqlite3_column_type(st, 3) != SQLITE_NULL,
            .applied_capacity = (uint64_t)sqlite3_column_int64(st, 3),
            .applied_mode = pk_store_col_opt_i64(st, 4, -1),
            .applied_uid = pk_store_col_opt_i64(st, 5, -1),
            .applied_gid = pk_store_col_opt_i64(st, 6, -1),
        };
    }
    if (r < 0) {
        pk_ownership_free(&o);
        return pk_wrap(err, "cannot read ownership from state database '%s'", s->path);
    }
    if (o.n && o.n < cap) o.items = pk_realloc(o.items, o.n * sizeof(*o.items));
    *ret = o;
    return 0;
}
