/* Suspending reconciliation (`poolkeeper suspend` / `resume`). The state is
 * the latest 'suspended' or 'resumed' event: the events table is already the
 * audit trail of what happened when, so a suspension needs no table of its
 * own, and the notifier tells the webhooks about it like about anything
 * else. */
#include "store_priv.h"

static const char SQL_SUSPEND_LAST[] =
    "SELECT kind, at, json_extract(data, '$.reason') FROM events"
    " WHERE kind IN ('suspended', 'resumed') ORDER BY id DESC LIMIT 1";

int pk_store_suspended(pk_store *s, bool *ret_on, int64_t *ret_since_ms, char **ret_reason,
                       pk_err **err)
{
    *ret_on = false;
    if (ret_since_ms) *ret_since_ms = 0;
    if (ret_reason) *ret_reason = NULL;
    sqlite3_stmt *st = pk_store_stmt(s, SQL_SUSPEND_LAST, err);
    int r = st ? pk_store_step_row(s, st, err) : -1;
    if (r < 0) return pk_wrap(err, "cannot read the suspension state in state database '%s'", s->path);
    if (r == 1) {
        *ret_on = pk_streq((const char *)sqlite3_column_text(st, 0), "suspended");
        if (*ret_on && ret_since_ms) *ret_since_ms = pk_store_col_i64(st, 1);
        if (*ret_on && ret_reason) *ret_reason = pk_store_col_text(st, 2);
        sqlite3_reset(st);
    }
    return 0;
}

int pk_store_suspend_set(pk_store *s, bool on, const char *reason, pk_err **err)
{
    if (!on) return pk_store_event_append(s, "resumed", 0, NULL, NULL, "reconciliation resumed", NULL, NULL, err);
    if (!reason)
        return pk_store_event_append(s, "suspended", 0, NULL, NULL, "reconciliation suspended", NULL, NULL, err);
    _cleanup_free_ char *message = pk_asprintf("reconciliation suspended: %s", reason);
    pk_buf data = PK_BUF_INIT;
    pk_buf_add(&data, "{\"reason\":");
    pk_buf_add_json_str(&data, reason);
    pk_buf_addc(&data, '}');
    int r = pk_store_event_append(s, "suspended", 0, NULL, NULL, message, pk_buf_str(&data), NULL, err);
    pk_buf_free(&data);
    return r;
}
