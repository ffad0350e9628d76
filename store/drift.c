/* Drift (objects changed outside poolkeeper) and the events that the
 * notifier sends. A drift is open from when it is first seen until it is
 * resolved (corrected, or the object changed back); seeing it again only
 * moves last_seen, so one episode is one row and one notification. */
#include "store_priv.h"

static const char SQL_DRIFT_FIND[] =
    "SELECT id FROM drift WHERE pool = ?1 AND vol = ?2 AND what = ?3 AND resolved_at IS NULL";
static const char SQL_DRIFT_SEEN[] =
    "UPDATE drift SET last_seen = ?2, detail = ?3 WHERE id = ?1";
static const char SQL_DRIFT_OPEN[] =
    "INSERT INTO drift (pool, vol, what, detail, first_seen, last_seen)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?5)";
static const char SQL_DRIFT_RESOLVE_WHAT[] =
    "UPDATE drift SET resolved_at = ?4"
    " WHERE pool = ?1 AND vol = ?2 AND what = ?3 AND resolved_at IS NULL";
static const char SQL_DRIFT_RESOLVE_OBJECT[] =
    "UPDATE drift SET resolved_at = ?3 WHERE pool = ?1 AND vol = ?2 AND resolved_at IS NULL";
static const char SQL_DRIFT_RESOLVE_POOL[] =
    "UPDATE drift SET resolved_at = ?2 WHERE pool = ?1 AND resolved_at IS NULL";
static const char SQL_DRIFT_OPEN_LIST[] =
    "SELECT id, pool, vol, what, detail, first_seen, last_seen, resolved_at FROM drift"
    " WHERE resolved_at IS NULL ORDER BY pool, vol, what";
static const char SQL_DRIFT_ALL_LIST[] =
    "SELECT id, pool, vol, what, detail, first_seen, last_seen, resolved_at FROM drift"
    " ORDER BY pool, vol, what, id";

static int note_one(pk_store *s, const pk_drift_item *d, int64_t now, bool *ret_new, pk_err **err)
{
    if (!d->pool || !d->what) return pk_fail(err, "a drift item needs a pool and what drifted");
    const char *vol = d->vol ? d->vol : "";
    sqlite3_stmt *st = pk_store_stmt(s, SQL_DRIFT_FIND, err);
    if (!st) return -1;
    pk_store_bind_text(st, 1, d->pool);
    pk_store_bind_text(st, 2, vol);
    pk_store_bind_text(st, 3, d->what);
    int r = pk_store_step_row(s, st, err);
    if (r < 0) return -1;
    int64_t id = r == 1 ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (id) {
        if (!(st = pk_store_stmt(s, SQL_DRIFT_SEEN, err))) return -1;
        pk_store_bind_i64(st, 1, id);
        pk_store_bind_i64(st, 2, now);
        pk_store_bind_text(st, 3, d->detail);
    } else {
        if (!(st = pk_store_stmt(s, SQL_DRIFT_OPEN, err))) return -1;
        pk_store_bind_text(st, 1, d->pool);
        pk_store_bind_text(st, 2, vol);
        pk_store_bind_text(st, 3, d->what);
        pk_store_bind_text(st, 4, d->detail);
        pk_store_bind_i64(st, 5, now);
    }
    if (ret_new) *ret_new = id == 0;
    return pk_store_step_done(s, st, err);
}

int pk_store_drift_note(pk_store *s, const pk_drift_item *items, size_t n, bool *ret_new,
                        pk_err **err)
{
    if (n == 0) return 0;
    int r = pk_store_tx_begin(s, err);
    int64_t now = pk_now_ms();
    for (size_t i = 0; r == 0 && i < n; i++) r = note_one(s, &items[i], now, ret_new ? &ret_new[i] : NULL, err);
    if (pk_store_tx_end(s, r, err) < 0)
        return pk_wrap(err, "cannot record drift in state database '%s'", s->path);
    return 0;
}

int pk_store_drift_resolve(pk_store *s, const char *pool, const char *vol, const char *what,
                           pk_err **err)
{
    sqlite3_stmt *st;
    int64_t now = pk_now_ms();
    if (what) {
        if ((st = pk_store_stmt(s, SQL_DRIFT_RESOLVE_WHAT, err))) {
            pk_store_bind_text(st, 1, pool);
            pk_store_bind_text(st, 2, vol ? vol : "");
            pk_store_bind_text(st, 3, what);
            pk_store_bind_i64(st, 4, now);
        }
    } else if (vol) {
        if ((st = pk_store_stmt(s, SQL_DRIFT_RESOLVE_OBJECT, err))) {
            pk_store_bind_text(st, 1, pool);
            pk_store_bind_text(st, 2, vol);
            pk_store_bind_i64(st, 3, now);
        }
    } else {
        if ((st = pk_store_stmt(s, SQL_DRIFT_RESOLVE_POOL, err))) {
            pk_store_bind_text(st, 1, pool);
            pk_store_bind_i64(st, 2, now);
        }
    }
    if (!st || pk_store_step_done(s, st, err) < 0)
        return pk_wrap(err, "cannot resolve drift in state database '%s'", s->path);
    return sqlite3_changes(s->db);
}

void pk_drifts_free(pk_drift *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(d[i].pool);
        free(d[i].vol);
        free(d[i].what);
        free(d[i].detail);
    }
    free(d);
}

int pk_store_drift_list(pk_store *s, bool all, pk_drift **ret, size_t *ret_n, pk_err **err)
{
    pk_drift *list = NULL;
    size_t n = 0;
    int r = -1;
    sqlite3_stmt *st = pk_store_stmt(s, all ? SQL_DRIFT_ALL_LIST : SQL_DRIFT_OPEN_LIST, err);
    while (st && (r = pk_store_step_row(s, st, err)) == 1) {
        pk_drift *d = PK_APPEND(list, n);
        d->id = pk_store_col_i64(st, 0);
        d->pool = pk_store_col_text(st, 1);
        const char *vol = (const char *)sqlite3_column_text(st, 2);
        d->vol = vol && *vol ? pk_strdup(vol) : NULL;
        d->what = pk_store_col_text(st, 3);
        d->detail = pk_store_col_text(st, 4);
        d->first_seen_ms = pk_store_col_i64(st, 5);
        d->last_seen_ms = pk_store_col_i64(st, 6);
        d->resolved_ms = pk_store_col_i64(st, 7);
    }
    if (r < 0) {
        pk_drifts_free(list, n);
        return pk_wrap(err, "cannot read drift from state database '%s'", s->path);
    }
    *ret = list;
    *ret_n = n;
    return 0;
}

/* ---------- events ---------- */

static const char SQL_EVENT_APPEND[] =
    "INSERT INTO events (at, kind, run_id, pool, vol, message, data)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
static const char SQL_EVENTS_LIST[] =
    "SELECT id, at, kind, run_id, pool, vol, message, data, delivered_at FROM events"
    " WHERE id > ?1 ORDER BY id LIMIT ?2";
static const char SQL_EVENTS_PENDING[] =
    "SELECT id, at, kind, run_id, pool, vol, message, data, delivered_at FROM events"
    " WHERE id > ?1 AND delivered_at IS NULL ORDER BY id LIMIT ?2";
static const char SQL_EVENT_DELIVERED[] =
    "UPDATE events SET delivered_at = ?2 WHERE id = ?1";

int pk_store_event_append(pk_store *s, const char *kind, int64_t run, const char *pool,
                          const char *vol, const char *message, const char *data,
                          int64_t *ret_id, pk_err **err)
{
    if (!kind || !message) return pk_fail(err, "an event needs a kind and a message");
    sqlite3_stmt *st = pk_store_stmt(s, SQL_EVENT_APPEND, err);
    if (st) {
        pk_store_bind_i64(st, 1, pk_now_ms());
        pk_store_bind_text(st, 2, kind);
        pk_store_bind_opt_i64(st, 3, run, run > 0);
        pk_store_bind_text(st, 4, pool);
        pk_store_bind_text(st, 5, vol);
        pk_store_bind_text(st, 6, message);
        pk_store_bind_text(st, 7, data);
    }
    if (!st || pk_store_step_done(s, st, err) < 0)
        return pk_wrap(err, "cannot record an event in state database '%s'", s->path);
    if (ret_id) *ret_id = sqlite3_last_insert_rowid(s->db);
    return 0;
}

void pk_events_free(pk_event *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(e[i].kind);
        free(e[i].pool);
        free(e[i].vol);
        free(e[i].message);
        free(e[i].data);
    }
    free(e);
}

int pk_store_events_list(pk_store *s, int64_t after_id, size_t limit, bool pending,
                         pk_event **ret, size_t *ret_n, pk_err **err)
{
    pk_event *list = NULL;
    size_t n = 0;
    int r = -1;
    sqlite3_stmt *st = pk_store_stmt(s, pending ? SQL_EVENTS_PENDING : SQL_EVENTS_LIST, err);
    if (st) {
        pk_store_bind_i64(st, 1, after_id);
        pk_store_bind_i64(st, 2, limit ? (int64_t)limit : -1);
    }
    while (st && (r = pk_store_step_row(s, st, err)) == 1) {
        pk_event *e = PK_APPEND(list, n);
        e->id = pk_store_col_i64(st, 0);
        e->at_ms = pk_store_col_i64(st, 1);
        e->kind = pk_store_col_text(st, 2);
        e->run = pk_store_col_i64(st, 3);
        e->pool = pk_store_col_text(st, 4);
        e->vol = pk_store_col_text(st, 5);
        e->message = pk_store_col_text(st, 6);
        e->data = pk_store_col_text(st, 7);
        e->delivered_ms = pk_store_col_i64(st, 8);
    }
    if (r < 0) {
        pk_events_free(list, n);
        return pk_wrap(err, "cannot read the events in state database '%s'", s->path);
    }
    *ret = list;
    *ret_n = n;
    return 0;
}

int pk_store_event_delivered(pk_store *s, int64_t id, pk_err **err)
{
    sqlite3_stmt *st = pk_store_stmt(s, SQL_EVENT_DELIVERED, err);
    if (st) {
        pk_store_bind_i64(st, 1, id);
        pk_store_bind_i64(st, 2, pk_now_ms());
    }
    if (!st || pk_store_step_done(s, st, err) < 0)
        return pk_wrap(err, "cannot mark event %lld delivered in state database '%s'", (long long)id, s->path);
    return 0;
}
