/* Runs and the action journal. An action's intent is committed before it
 * touches storage, its result (with the ownership and observed rows it
 * changed) after; an intent without a result after its run stopped is an
 * action that may have been half done. */
#include "store_priv.h"

PK_ENUM_IMPL(pk_run_result, PK_RUN_RESULT_LAST, "running", "ok", "failed", "interrupted");
PK_ENUM_IMPL(pk_journal_state, PK_JOURNAL_STATE_LAST, "intent", "done", "failed", "skipped");

/* ---------- runs ---------- */

static const char SQL_RUN_INSERT[] =
    "INSERT INTO runs (commit_id, ref, pid, started_at) VALUES (?1, ?2, ?3, ?4)";

static const char SQL_RUN_SET_DESIRED[] =
    "UPDATE runs SET commit_id = ?2, ref = ?3 WHERE id = ?1";

static const char SQL_RUN_END[] =
    "UPDATE runs SET result = ?2, error = ?3, ended_at = ?4,"
    "  n_actions = (SELECT count(*) FROM journal WHERE run_id = ?1),"
    "  n_done = (SELECT count(*) FROM journal WHERE run_id = ?1 AND state = 'done'),"
    "  n_failed = (SELECT count(*) FROM journal WHERE run_id = ?1 AND state = 'failed'),"
    "  n_skipped = (SELECT count(*) FROM journal WHERE run_id = ?1 AND state = 'skipped')"
    " WHERE id = ?1 AND result = 'running'";

/* Counts of a run that never ended are counted now. */
#define RUN_COLUMNS \
    "SELECT id, commit_id, ref, pid, started_at, ended_at, result," \
    "  CASE WHEN ended_at IS NULL THEN (SELECT count(*) FROM journal j WHERE j.run_id = r.id) ELSE n_actions END," \
    "  CASE WHEN ended_at IS NULL THEN (SELECT count(*) FROM journal j WHERE j.run_id = r.id AND j.state = 'done') ELSE n_done END," \
    "  CASE WHEN ended_at IS NULL THEN (SELECT count(*) FROM journal j WHERE j.run_id = r.id AND j.state = 'failed') ELSE n_failed END," \
    "  CASE WHEN ended_at IS NULL THEN (SELECT count(*) FROM journal j WHERE j.run_id = r.id AND j.state = 'skipped') ELSE n_skipped END," \
    "  error FROM runs r"

static const char SQL_RUNS_LIST[] = RUN_COLUMNS " ORDER BY id DESC LIMIT ?1";
static const char SQL_RUN_GET[] = RUN_COLUMNS " WHERE id = ?1";
static const char SQL_RUN_LAST[] = RUN_COLUMNS " ORDER BY id DESC LIMIT 1";
static const char SQL_RUN_RESULT[] = "SELECT result FROM runs WHERE id = ?1";

void pk_run_clear(pk_run *r)
{
    if (!r) return;
    free(r->commit);
    free(r->ref);
    free(r->error);
    memset(r, 0, sizeof(*r));
}

void pk_runs_free(pk_run *r, size_t n)
{
    for (size_t i = 0; i < n; i++) pk_run_clear(&r[i]);
    free(r);
}

static void read_run(sqlite3_stmt *st, pk_run *r)
{
    r->id = pk_store_col_i64(st, 0);
    r->commit = pk_store_col_text(st, 1);
    r->ref = pk_store_col_text(st, 2);
    r->pid = (int)pk_store_col_i64(st, 3);
    r->started_ms = pk_store_col_i64(st, 4);
    r->ended_ms = pk_store_col_i64(st, 5);
    int res = pk_run_result_from_string((const char *)sqlite3_column_text(st, 6));
    r->result = res < 0 ? PK_RUN_FAILED : (pk_run_result)res;
    r->n_actions = (int)pk_store_col_i64(st, 7);
    r->n_done = (int)pk_store_col_i64(st, 8);
    r->n_failed = (int)pk_store_col_i64(st, 9);
    r->n_skipped = (int)pk_store_col_i64(st, 10);
    r->error = pk_store_col_text(st, 11);
}

int pk_store_run_begin(pk_store *s, const char *commit, const char *ref, int64_t *ret_run,
                       pk_err **err)
{
    /* Taking the lock is what marks dead runs interrupted; a run begun
     * without it could be marked interrupted while alive. */
    if (!pk_store_locked(s))
        return pk_fail(err, "cannot begin a run in state database '%s' without holding its lock", s->path);
    sqlite3_stmt *st = pk_store_stmt(s, SQL_RUN_INSERT, err);
    if (st) {
        pk_store_bind_text(st, 1, commit);
        pk_store_bind_text(st, 2, ref);
        pk_store_bind_i64(st, 3, getpid());
        pk_store_bind_i64(st, 4, pk_now_ms());
    }
    if (!st || pk_store_step_done(s, st, err) < 0)
        return pk_wrap(err, "cannot begin a run in state database '%s'", s->path);
    *ret_run = sqlite3_last_insert_rowid(s->db);
    return 0;
}

int pk_store_run_set_desired(pk_store *s, int64_t run, const char *commit, const char *ref,
                             pk_err **err)
{
    sqlite3_stmt *st = pk_store_stmt(s, SQL_RUN_SET_DESIRED, err);
    if (st) {
        pk_store_bind_i64(st, 1, run);
        pk_store_bind_text(st, 2, commit);
        pk_store_bind_text(st, 3, ref);
    }
    if (!st || pk_store_step_done(s, st, err) < 0)
        return pk_wrap(err, "cannot record the desired commit of run %lld in state database '%s'", (long long)run, s->path);
    return 0;
}

int pk_store_run_end(pk_store *s, int64_t run, pk_run_result result, const char *error,
                     pk_err **err)
{
    if (result != PK_RUN_OK && result != PK_RUN_FAILED && result != PK_RUN_INTERRUPTED)
        return pk_fail(err, "a run ends 'ok', 'failed' or 'interrupted', not '%s'", pk_run_result_to_string(result) ? pk_run_result_to_string(result) : "?");
    sqlite3_stmt *st = pk_store_stmt(s, SQL_RUN_END, err);
    if (st) {
        pk_store_bind_i64(st, 1, run);
        pk_store_bind_text(st, 2, pk_run_result_to_string(result));
        pk_store_bind_text(st, 3, error);
        pk_store_bind_i64(st, 4, pk_now_ms());
    }
    if (!st || pk_store_step_done(s, st, err) < 0)
        return pk_wrap(err, "cannot end run %lld in state database '%s'", (long long)run, s->path);
    if (sqlite3_changes(s->db) != 1)
        return pk_fail(err, "run %lld of state database '%s' is not running", (long long)run, s->path);
    return 0;
}

int pk_store_runs_list(pk_store *s, size_t limit, pk_run **ret, size_t *ret_n, pk_err **err)
{
    pk_run *list = NULL;
    size_t n = 0;
    int r = -1;
    sqlite3_stmt *st = pk_store_stmt(s, SQL_RUNS_LIST, err);
    if (st) pk_store_bind_i64(st, 1, limit ? (int64_t)limit : -1);
    while (st && (r = pk_store_step_row(s, st, err)) == 1) read_run(st, PK_APPEND(list, n));
    if (r < 0) {
        pk_runs_free(list, n);
        return pk_wrap(err, "cannot read the runs in state database '%s'", s->path);
    }
    *ret = list;
    *ret_n = n;
    return 0;
}

int pk_store_run_get(pk_store *s, int64_t run, pk_run *ret, pk_err **err)
{
    int r = -1;
    sqlite3_stmt *st = pk_store_stmt(s, run > 0 ? SQL_RUN_GET : SQL_RUN_LAST, err);
    if (st && run > 0) pk_store_bind_i64(st, 1, run);
    if (st) r = pk_store_step_row(s, st, err);
    if (r < 0) return pk_wrap(err, "cannot read the runs in state database '%s'", s->path);
    if (r == 1) {
        memset(ret, 0, sizeof(*ret));
        read_run(st, ret);
        sqlite3_reset(st);
    }
    return r;
}

/* ---------- journal ---------- */

static const char SQL_J_INTENT[] =
    "INSERT INTO journal (run_id, seq, kind, pool, vol, risk, before, after, reason, drift,"
    "  state, started_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'intent', ?11)";

static const char SQL_J_RESULT[] =
    "UPDATE journal SET state = ?3, error = ?4, ended_at = ?5"
    " WHERE run_id = ?1 AND seq = ?2 AND state = 'intent' RETURNING pool, vol";

#define ENTRY_COLUMNS \
    "run_id, seq, kind, pool, vol, risk, before, after, reason, drift, state, error," \
    " started_at, ended_at"

static const char SQL_J_LIST[] =
    "SELECT " ENTRY_COLUMNS " FROM journal WHERE run_id = ?1 ORDER BY seq";

static const char SQL_J_UNFINISHED[] =
    "SELECT " ENTRY_COLUMNS " FROM journal"
    " WHERE state = 'intent' AND run_id IN (SELECT id FROM runs WHERE result <> 'running')"
    " ORDER BY run_id, seq";

static const char SQL_J_LAST[] =
    "SELECT " ENTRY_COLUMNS " FROM (SELECT *, row_number() OVER"
    "  (PARTITION BY pool, vol ORDER BY run_id DESC, seq DESC) AS rn FROM journal)"
    " WHERE rn = 1 ORDER BY pool, vol";

void pk_journal_entries_free(pk_journal_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(e[i].pool);
        free(e[i].vol);
        free(e[i].before);
        free(e[i].after);
        free(e[i].reason);
        free(e[i].error);
    }
    free(e);
}

static void read_entry(sqlite3_stmt *st, pk_journal_entry *e)
{
    e->run = pk_store_col_i64(st, 0);
    e->seq = (int)pk_store_col_i64(st, 1);
    e->kind = (pk_action_kind)pk_action_kind_from_string((const char *)sqlite3_column_text(st, 2));
    e->pool = pk_store_col_text(st, 3);
    e->vol = pk_store_col_text(st, 4);
    int risk = pk_risk_from_string((const char *)sqlite3_column_text(st, 5));
    e->risk = risk < 0 ? PK_RISK_DESTRUCTIVE : (pk_risk)risk;
    e->before = pk_store_col_text(st, 6);
    e->after = pk_store_col_text(st, 7);
    e->reason = pk_store_col_text(st, 8);
    e->drift = pk_store_col_i64(st, 9) != 0;
    int state = pk_journal_state_from_string((const char *)sqlite3_column_text(st, 10));
    e->state = state < 0 ? PK_JOURNAL_INTENT : (pk_journal_state)state;
    e->error = pk_store_col_text(st, 11);
    e->started_ms = pk_store_col_i64(st, 12);
    e->ended_ms = pk_store_col_i64(st, 13);
}

static int list_entries(pk_store *s, const char *sql, int64_t run, pk_journal_entry **ret,
                        size_t *ret_n, pk_err **err)
{
    pk_journal_entry *list = NULL;
    size_t n = 0;
    int r = -1;
    sqlite3_stmt *st = pk_store_stmt(s, sql, err);
    if (st && run > 0) pk_store_bind_i64(st, 1, run);
    while (st && (r = pk_store_step_row(s, st, err)) == 1) read_entry(st, PK_APPEND(list, n));
    if (r < 0) {
        pk_journal_entries_free(list, n);
        return pk_wrap(err, "cannot read the journal in state database '%s'", s->path);
    }
    *ret = list;
    *ret_n = n;
    return 0;
}

int pk_store_journal_list(pk_store *s, int64_t run, pk_journal_entry **ret, size_t *ret_n,
                          pk_err **err)
{
    return list_entries(s, SQL_J_LIST, run, ret, ret_n, err);
}

int pk_store_journal_unfinished(pk_store *s, pk_journal_entry **ret, size_t *ret_n, pk_err **err)
{
    return list_entries(s, SQL_J_UNFINISHED, 0, ret, ret_n, err);
}

int pk_store_journal_last_actions(pk_store *s, pk_journal_entry **ret, size_t *ret_n,
                                  pk_err **err)
{
    return list_entries(s, SQL_J_LAST, 0, ret, ret_n, err);
}

static int check_running(pk_store *s, int64_t run, pk_err **err)
{
    sqlite3_stmt *st = pk_store_stmt(s, SQL_RUN_RESULT, err);
    if (!st) return -1;
    pk_store_bind_i64(st, 1, run);
    int r = pk_store_step_row(s, st, err);
    if (r < 0) return -1;
    bool running = r == 1 && pk_streq((const char *)sqlite3_column_text(st, 0), "running");
    sqlite3_reset(st);
    if (!running) return pk_fail(err, "run %lld is not running", (long long)run);
    return 0;
}

static int put_intent(pk_store *s, int64_t run, const pk_journal_intent *it, int64_t now,
                      pk_err **err)
{
    const pk_action *a = it->action;
    const char *kind = a ? pk_action_kind_to_string(a->kind) : NULL;
    if (!kind || !a->pool)
        return pk_fail(err, "action %d has no kind or no pool", it->seq);
    sqlite3_stmt *st = pk_store_stmt(s, SQL_J_INTENT, err);
    if (!st) return -1;
    pk_store_bind_i64(st, 1, run);
    pk_store_bind_i64(st, 2, it->seq);
    pk_store_bind_text(st, 3, kind);
    pk_store_bind_text(st, 4, a->pool);
    pk_store_bind_text(st, 5, a->vol);
    pk_store_bind_text(st, 6, pk_risk_to_string(a->risk));
    pk_store_bind_text(st, 7, a->before);
    pk_store_bind_text(st, 8, a->after);
    pk_store_bind_text(st, 9, a->reason);
    pk_store_bind_i64(st, 10, a->drift);
    pk_store_bind_i64(st, 11, now);
    return pk_store_step_done(s, st, err);
}

int pk_store_journal_intents(pk_store *s, int64_t run, const pk_journal_intent *items, size_t n,
                             pk_err **err)
{
    if (n == 0) return 0;
    int r = pk_store_tx_begin(s, err);
    int64_t now = pk_now_ms();
    if (r == 0) r = check_running(s, run, err);
    for (size_t i = 0; r == 0 && i < n; i++) r = put_intent(s, run, &items[i], now, err);
    if (pk_store_tx_end(s, r, err) < 0)
        return pk_wrap(err, "cannot journal the intents of run %lld in state database '%s'", (long long)run, s->path);
    return 0;
}

/* The ownership and observed rows a result carries, for the object its
 * intent named. */
static int apply_effects(pk_store *s, int64_t run, const pk_journal_result *r, const char *pool,
                         const char *vol, int64_t now, pk_err **err)
{
    if (r->pool_row && !pk_streq(r->pool_row->name, pool))
        return pk_fail(err, "the result of action %d observes pool '%s', but the action is on pool '%s'", r->seq, r->pool_row->name ? r->pool_row->name : "", pool);
    if (r->vol_row && (!vol || !pk_streq(r->vol_row->name, vol)))
        return pk_fail(err, "the result of action %d observes volume '%s', but the action is not on that volume", r->seq, r->vol_row->name ? r->vol_row->name : "");
    if (r->pool_row && pk_store_put_pool_row(s, r->pool_row, err) < 0) return -1;
    if (r->vol_row && pk_store_put_vol_row(s, pool, r->vol_row, now, err) < 0) return -1;
    if (r->vol_gone && vol && pk_store_drop_vol_row(s, pool, vol, err) < 0) return -1;

    /* The volume as poolkeeper left it: later differences are drift. */
    if (vol && r->vol_row && r->own != PK_OWN_RELEASE && !r->vol_gone) {
        if (r->own == PK_OWN_TAKE_CREATED || r->own == PK_OWN_TAKE_ADOPTED) {
            pk_own_how how = r->own == PK_OWN_TAKE_CREATED ? PK_OWN_CREATED : PK_OWN_ADOPTED;
            const char *identity = r->identity ? r->identity : r->vol_row->identity;
            const char *key = r->key ? r->key : r->vol_row->key;
            if (pk_store_own_take_row(s, pool, vol, identity, key, how, run, err) < 0) return -1;
        }
        return pk_store_own_applied_row(s, pool, vol, r->vol_row, err);
    }

    switch (r->own) {
    case PK_OWN_KEEP:
        return 0;
    case PK_OWN_TAKE_CREATED:
    case PK_OWN_TAKE_ADOPTED: {
        const char *identity = r->identity, *key = r->key;
        if (vol && r->vol_row) {
            if (!identity) identity = r->vol_row->identity;
            if (!key) key = r->vol_row->key;
        } else if (!vol && r->pool_row && !identity) {
            identity = r->pool_row->identity;
        }
        pk_own_how how = r->own == PK_OWN_TAKE_CREATED ? PK_OWN_CREATED : PK_OWN_ADOPTED;
        return pk_store_own_take_row(s, pool, vol, identity, key, how, run, err);
    }
    case PK_OWN_RELEASE:
        return pk_store_own_drop_row(s, pool, vol, err);
    }
    return pk_fail(err, "action %d has an unknown ownership change", r->seq);
}

static int put_result(pk_store *s, int64_t run, const pk_journal_result *r, int64_t now,
                      pk_err **err)
{
    if (r->state != PK_JOURNAL_DONE && r->state != PK_JOURNAL_FAILED && r->state != PK_JOURNAL_SKIPPED)
        return pk_fail(err, "the result of action %d must be done, failed or skipped", r->seq);
    sqlite3_stmt *st = pk_store_stmt(s, SQL_J_RESULT, err);
    if (!st) return -1;
    pk_store_bind_i64(st, 1, run);
    pk_store_bind_i64(st, 2, r->seq);
    pk_store_bind_text(st, 3, pk_journal_state_to_string(r->state));
    pk_store_bind_text(st, 4, r->error);
    pk_store_bind_i64(st, 5, now);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return pk_fail(err, "action %d of run %lld has no pending intent", r->seq, (long long)run);
    }
    if (rc != SQLITE_ROW) {
        pk_store_sqlerr(s, err);
        sqlite3_reset(st);
        return -1;
    }
    _cleanup_free_ char *pool = pk_store_col_text(st, 0);
    _cleanup_free_ char *vol = pk_store_col_text(st, 1);
    /* RETURNING rows must be stepped to the end before the next statement. */
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {}
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return pk_store_sqlerr(s, err);
    return apply_effects(s, run, r, pool, vol, now, err);
}

int pk_store_journal_results(pk_store *s, int64_t run, const pk_journal_result *items, size_t n,
                             pk_err **err)
{
    if (n == 0) return 0;
    int r = pk_store_tx_begin(s, err);
    int64_t now = pk_now_ms();
    for (size_t i = 0; r == 0 && i < n; i++) r = put_result(s, run, &items[i], now, err);
    if (pk_store_tx_end(s, r, err) < 0)
        return pk_wrap(err, "cannot journal the results of run %lld in state database '%s'", (long long)run, s->path);
    return 0;
}
