/* Definitions of managed pools, kept past their removal from the desired
 * state for as long as poolkeeper owns something in them. */
#include "store_priv.h"

static const char SQL_DEF_PUT[] =
    "INSERT INTO pool_def (name, type, xml, commit_id, saved_at) VALUES (?1, ?2, ?3, ?4, ?5)"
    " ON CONFLICT (name) DO UPDATE SET type = excluded.type, xml = excluded.xml,"
    "  commit_id = excluded.commit_id, saved_at = excluded.saved_at"
    " WHERE xml IS NOT excluded.xml";

static const char SQL_DEF_NAMES[] = "SELECT name FROM pool_def ORDER BY name";

/* A definition goes when its pool is neither desired (the caller checks)
 * nor holds anything owned. */
static const char SQL_DEF_FORGET[] =
    "DELETE FROM pool_def WHERE name = ?1 AND NOT EXISTS (SELECT 1 FROM ownership WHERE pool = ?1)";

static const char SQL_DEF_OWNED[] =
    "SELECT name, type, xml, commit_id, saved_at FROM pool_def d"
    " WHERE EXISTS (SELECT 1 FROM ownership o WHERE o.pool = d.name) ORDER BY name";

void pk_pool_defs_free(pk_pool_def *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(d[i].name);
        free(d[i].type);
        free(d[i].xml);
        free(d[i].commit);
    }
    free(d);
}

static bool is_desired(const pk_pool_def *desired, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (pk_streq(desired[i].name, name)) return true;
    return false;
}

static int forget_undesired(pk_store *s, const pk_pool_def *desired, size_t n, pk_err **err)
{
    char **names = NULL;
    size_t n_names = 0;
    int r = -1;
    sqlite3_stmt *st = pk_store_stmt(s, SQL_DEF_NAMES, err);
    while (st && (r = pk_store_step_row(s, st, err)) == 1)
        *PK_APPEND(names, n_names) = pk_store_col_text(st, 0);
    for (size_t i = 0; r == 0 && i < n_names; i++) {
        if (is_desired(desired, n, names[i])) continue;
        sqlite3_stmt *del = pk_store_stmt(s, SQL_DEF_FORGET, err);
        if (!del) r = -1;
        else {
            pk_store_bind_text(del, 1, names[i]);
            r = pk_store_step_done(s, del, err);
        }
    }
    for (size_t i = 0; i < n_names; i++) free(names[i]);
    free(names);
    return r;
}

int pk_store_pool_defs_save(pk_store *s, const pk_pool_def *desired, size_t n, pk_err **err)
{
    int r = pk_store_tx_begin(s, err);
    int64_t now = pk_now_ms();
    for (size_t i = 0; r == 0 && i < n; i++) {
        sqlite3_stmt *st = pk_store_stmt(s, SQL_DEF_PUT, err);
        if (!st) {
            r = -1;
            break;
        }
        pk_store_bind_text(st, 1, desired[i].name);
        pk_store_bind_text(st, 2, desired[i].type);
        pk_store_bind_text(st, 3, desired[i].xml);
        pk_store_bind_text(st, 4, desired[i].commit);
        pk_store_bind_i64(st, 5, now);
        r = pk_store_step_done(s, st, err);
    }
    if (r == 0) r = forget_undesired(s, desired, n, err);
    if (pk_store_tx_end(s, r, err) < 0)
        return pk_wrap(err, "cannot save pool definitions in state database '%s'", s->path);
    return 0;
}

int pk_store_pool_defs_owned(pk_store *s, pk_pool_def **ret, size_t *ret_n, pk_err **err)
{
    pk_pool_def *list = NULL;
    size_t n = 0;
    int r = -1;
    sqlite3_stmt *st = pk_store_stmt(s, SQL_DEF_OWNED, err);
    while (st && (r = pk_store_step_row(s, st, err)) == 1) {
        pk_pool_def *d = PK_APPEND(list, n);
        d->name = pk_store_col_text(st, 0);
        d->type = pk_store_col_text(st, 1);
        d->xml = pk_store_col_text(st, 2);
        d->commit = pk_store_col_text(st, 3);
        d->saved_ms = pk_store_col_i64(st, 4);
    }
    if (r < 0) {
        pk_pool_defs_free(list, n);
        return pk_wrap(err, "cannot read pool definitions from state database '%s'", s->path);
    }
    *ret = list;
    *ret_n = n;
    return 0;
}
