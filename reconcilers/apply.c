/* The executor: plan actions through backends, journaled in batches. */
#include "apply.h"
#include <signal.h>

#define DEFAULT_BATCH 256

/* "POINT:N" names the N-th time POINT is reached. */
static bool spec_hit(const char *spec, const char *point, int *hits)
{
    if (!spec) return false;
    const char *colon = strrchr(spec, ':');
    if (!colon || (size_t)(colon - spec) != strlen(point) || strncmp(spec, point, strlen(point)) != 0)
        return false;
    return ++*hits == atoi(colon + 1);
}

void pk_apply_crashpoint(const char *point)
{
    static int crash_hits, stall_hits;
    if (spec_hit(getenv("PK_TEST_CRASH"), point, &crash_hits)) raise(SIGKILL);
    /* Hold still (with the lock held) so a test can race a second process. */
    if (spec_hit(getenv("PK_TEST_STALL"), point, &stall_hits)) sleep(60);
}

static bool backend_fault(const char *point, const char *object PK_UNUSED)
{
    pk_apply_crashpoint(point);
    return false;
}

typedef enum { ST_PENDING, ST_DONE, ST_FAILED, ST_SKIPPED } act_state;

/* What one action produced, kept until its batch's results are committed. */
typedef struct {
    act_state state;
    char *error;
    pk_own_change own;
    pk_obs_vol vol;
    bool has_vol;
    bool vol_gone;
    pk_obs_pool pool;
    bool has_pool;
} outcome;

static void outcome_clear(outcome *o)
{
    free(o->error);
    pk_obs_vol_clear(&o->vol);
    pk_obs_pool_clear(&o->pool);
    memset(o, 0, sizeof(*o));
}

static const char *obj_name(const pk_action *a, pk_buf *b)
{
    pk_buf_reset(b);
    pk_buf_add(b, a->pool);
    if (a->vol) {
        pk_buf_addc(b, '/');
        pk_buf_add(b, a->vol);
    }
    return pk_buf_str(b);
}

/* Observe the pool row again after a pool action (volumes are left alone). */
static void reobserve_pool(pk_bctx *c, const pk_backend *be, const pk_action *a, outcome *out)
{
    pk_err *e = NULL;
    out->pool.name = pk_strdup(a->pool);
    out->pool.type = a->dpool ? a->dpool->type : a->pool_type;
    if (a->dpool && be->observe_pool(c, a->dpool, &out->pool, &e) < 0) {
        out->pool.error = e;
        e = NULL;
    }
    pk_err_free(e);
    out->has_pool = a->dpool != NULL;
}

static int run_one(pk_bctx *c, const pk_action *a, outcome *out, pk_err **err)
{
    const pk_backend *be = NULL;
    pk_err *why = NULL;
    if (pk_backend_require(a->dpool ? a->dpool->type : a->pool_type, &be, &why) < 0) {
        if (a->kind != PK_ACT_ADOPT) {
            pk_err_append(err, why);
            return -1;
        }
        pk_err_free(why);   /* adopting only records ownership */
    }
    if (!a->dpool && a->kind != PK_ACT_ADOPT && a->kind != PK_ACT_POOL_DEFINE)
        return pk_fail(err, "the definition of pool '%s' is not in the desired state any more", a->pool);
    switch (a->kind) {
    case PK_ACT_POOL_DEFINE:
        /* poolkeeper keeps definitions in the repository: nothing to store. */
        out->own = PK_OWN_KEEP;
        return 0;
    case PK_ACT_POOL_BUILD:
        if (!be->build) return pk_fail(err, "pool type cannot be built");
        if (be->build(c, a->dpool, err) < 0) return -1;
        reobserve_pool(c, be, a, out);
        out->own = PK_OWN_TAKE_CREATED;
        return 0;
    case PK_ACT_POOL_START:
        if (be->start && be->start(c, a->dpool, err) < 0) return -1;
        reobserve_pool(c, be, a, out);
        out->own = PK_OWN_KEEP;
        return 0;
    case PK_ACT_POOL_STOP:
        if (be->stop && be->stop(c, a->dpool, err) < 0) return -1;
        reobserve_pool(c, be, a, out);
        out->own = PK_OWN_KEEP;
        return 0;
    case PK_ACT_POOL_DELETE:
        if (!be->delete_pool || !a->dpool) return pk_fail(err, "pool cannot be deleted by this backend");
        if (be->delete_pool(c, a->dpool, NULL, err) < 0) return -1;
        reobserve_pool(c, be, a, out);   /* the recorded row says it is gone */
        out->own = PK_OWN_RELEASE;
        return 0;
    case PK_ACT_VOL_CREATE:
        if (!be->create_vol) return pk_fail(err, "pool type cannot create volumes");
        if (be->create_vol(c, a->dpool, a->dvol, &out->vol, err) < 0) return -1;
        out->has_vol = true;
        out->own = PK_OWN_TAKE_CREATED;
        return 0;
    case PK_ACT_VOL_RESIZE:
        if (!be->resize_vol) return pk_fail(err, "pool type cannot resize volumes");
        if (be->resize_vol(c, a->dpool, a->dvol, a->ovol, a->dvol->capacity, &out->vol, err) < 0)
            return -1;
        out->has_vol = true;
        out->own = PK_OWN_KEEP;
        return 0;
    case PK_ACT_VOL_UPDATE:
        if (!be->update_vol) return pk_fail(err, "pool type cannot update volumes");
        if (be->update_vol(c, a->dpool, a->dvol, a->ovol, &out->vol, err) < 0) return -1;
        out->has_vol = true;
        out->own = PK_OWN_KEEP;
        return 0;
    case PK_ACT_VOL_DELETE:
        if (!be->delete_vol) return pk_fail(err, "pool type cannot delete volumes");
        if (be->delete_vol(c, a->dpool, a->ovol, err) < 0) return -1;
        out->vol_gone = true;
        out->own = PK_OWN_RELEASE;
        return 0;
    case PK_ACT_ADOPT:
        if (!a->ovol && a->vol) return pk_fail(err, "nothing observed to adopt");
        out->own = PK_OWN_TAKE_ADOPTED;
        return 0;
    case PK_ACT_LAST:
        break;
    }
    return pk_fail(err, "unknown action");
}

/* Volume operations of a batch skip their own fsyncs when their backend can
 * sync a whole pool at once; this makes them durable, once per pool, before their
 * results are committed. If that fails, nothing of that pool's batch is
 * recorded as done: what was made stays unowned, on the safe side. */
static void sync_batch(pk_bctx *c, const pk_plan *plan, const size_t *idx, outcome *outs, size_t k,
                       pk_err **errs)
{
    for (size_t j = 0; j < k; j++) {
        const pk_pool *def = plan->actions[idx[j]].dpool;
        if (outs[j].state != ST_DONE || !def || !plan->actions[idx[j]].vol) continue;
        bool seen = false;
        for (size_t i = 0; i < j && !seen; i++)
            seen = outs[i].state == ST_DONE && plan->actions[idx[i]].vol &&
                   plan->actions[idx[i]].dpool == def;
        const pk_backend *be = pk_backend_for(def->type);
        if (seen || !be || !be->sync) continue;
        pk_err *e = NULL;
        if (be->sync(c, def, &e) == 0) continue;
        for (size_t i = j; i < k; i++) {
            if (outs[i].state != ST_DONE || !plan->actions[idx[i]].vol ||
                plan->actions[idx[i]].dpool != def)
                continue;
            outs[i].state = ST_FAILED;
            free(outs[i].error);
            outs[i].error = pk_err_str(e);
        }
        pk_wrap(&e, "pool %s", def->name);
        pk_err_append(errs, e);
    }
}

/* The batch ends before an action that depends on one inside it, so a
 * dependant always sees its prerequisite's committed result. */
static size_t batch_end(const pk_plan *plan, size_t start, size_t max)
{
    size_t i = start;
    for (; i < plan->n_actions && i - start < max; i++) {
        int dep = plan->actions[i].depends_on;
        if (i > start && dep >= (int)start && dep < (int)i) break;
    }
    return i;
}

int pk_apply(const pk_plan *plan, const pk_apply_opts *o, pk_apply_stats *stats, pk_err **errs)
{
    memset(stats, 0, sizeof(*stats));
    size_t n = plan->n_actions;
    size_t bmax = o->batch_size ? o->batch_size : DEFAULT_BATCH;
    act_state *state = pk_calloc(n ? n : 1, sizeof(act_state));
    outcome *outs = pk_calloc(bmax, sizeof(outcome));
    pk_journal_intent *intents = pk_calloc(bmax, sizeof(*intents));
    pk_journal_result *results = pk_calloc(bmax, sizeof(*results));
    size_t *idx = pk_calloc(bmax, sizeof(size_t));
    pk_buf name = PK_BUF_INIT;
    int rc = 0;

    bool caller_no_sync = o->bctx->no_sync;
    pk_backend_set_fault_hook(getenv("PK_TEST_CRASH") || getenv("PK_TEST_STALL") ? backend_fault : NULL);

    for (size_t i = 0; i < n; i++)
        if (plan->actions[i].blocked) {
            state[i] = ST_SKIPPED;
            stats->blocked++;
        }

    for (size_t start = 0; start < n;) {
        if (o->stop && *o->stop) break;
        size_t end = batch_end(plan, start, bmax);
        /* The batch's runnable actions: not blocked, prerequisites done. */
        size_t k = 0;
        for (size_t i = start; i < end; i++) {
            const pk_action *a = &plan->actions[i];
            if (a->blocked) continue;
            int dep = a->depends_on;
            if (dep >= 0 && state[dep] != ST_DONE) {
                state[i] = ST_SKIPPED;
                stats->skipped++;
                continue;
            }
            idx[k] = i;
            intents[k].seq = (int)i;
            intents[k].action = a;
            k++;
        }
        if (k > 0) {
            pk_err *e = NULL;
            if (pk_store_journal_intents(o->store, o->run, intents, k, &e) < 0) {
                pk_err_append(errs, e);
                rc = -1;
                break;
            }
            pk_apply_crashpoint("intents");
            for (size_t j = 0; j < k; j++) {
                const pk_action *a = &plan->actions[idx[j]];
                outcome *out = &outs[j];
                memset(out, 0, sizeof(*out));
                if (o->stop && *o->stop) {
                    /* Interrupted: the intent stays open for recovery. */
                    out->state = ST_PENDING;
                    continue;
                }
                pk_err *ae = NULL;
                int64_t t0 = pk_monotonic_ms();
                const pk_backend *be = a->dpool ? pk_backend_for(a->dpool->type) : NULL;
                /* Pool actions are few and may remove what a pool sync
                 * would open: they sync for themselves. */
                o->bctx->no_sync = caller_no_sync || (be && be->sync && a->vol);
                int r1 = run_one(o->bctx, a, out, &ae);
                o->bctx->no_sync = caller_no_sync;
                if (r1 < 0) {
                    out->state = ST_FAILED;
                    out->error = pk_err_str(ae);
                    pk_wrap(&ae, "%s %s", pk_action_kind_to_string(a->kind), obj_name(a, &name));
                    if (o->progress) o->progress(a, idx[j], n, ae, o->opaque);
                    pk_log(PK_LOG_ERROR, obj_name(a, &name), pk_action_kind_to_string(a->kind), "%s",
                           out->error);
                    pk_err_append(errs, ae);
                } else {
                    out->state = ST_DONE;
                    if (o->progress) o->progress(a, idx[j], n, NULL, o->opaque);
                    pk_log(PK_LOG_DEBUG, obj_name(a, &name), pk_action_kind_to_string(a->kind),
                           "done in %lld ms", (long long)(pk_monotonic_ms() - t0));
                }
                pk_apply_crashpoint("op");
            }
            if (!caller_no_sync) sync_batch(o->bctx, plan, idx, outs, k, errs);
            size_t r = 0;
            for (size_t j = 0; j < k; j++) {
                outcome *out = &outs[j];
                if (out->state == ST_PENDING) continue;
                const pk_action *a = &plan->actions[idx[j]];
                pk_journal_result *res = &results[r++];
                memset(res, 0, sizeof(*res));
                res->seq = (int)idx[j];
                res->state = out->state == ST_DONE ? PK_JOURNAL_DONE : PK_JOURNAL_FAILED;
                res->error = out->error;
                res->own = out->state == ST_DONE ? out->own : PK_OWN_KEEP;
                if (out->state == ST_DONE) {
                    res->pool_row = out->has_pool ? &out->pool : NULL;
                    res->vol_row = out->has_vol ? &out->vol : NULL;
                    res->vol_gone = out->vol_gone;
                    if (a->kind == PK_ACT_ADOPT && a->ovol) {
                        res->identity = a->ovol->identity;
                        res->key = a->ovol->key;
                        res->vol_row = a->ovol;
                    }
                }
                state[idx[j]] = out->state;
                if (out->state == ST_DONE) stats->done++;
                else stats->failed++;
            }
            pk_err *e2 = NULL;
            int jr = r ? pk_store_journal_results(o->store, o->run, results, r, &e2) : 0;
            for (size_t j = 0; j < k; j++) outcome_clear(&outs[j]);
            if (jr < 0) {
                pk_err_append(errs, e2);
                rc = -1;
                break;
            }
            pk_apply_crashpoint("results");
        }
        start = end;
    }
    pk_backend_set_fault_hook(NULL);
    if (stats->failed) rc = -1;
    free(state);
    free(outs);
    free(intents);
    free(results);
    free(idx);
    pk_buf_free(&name);
    return rc;
}

/* Was the observed volume born after `since_ms`? Birth time where the
 * filesystem records it, else the inode change time. */
static bool born_after(const pk_obs_vol *v, int64_t since_ms)
{
    const pk_timestamp *t = v->btime.sec >= 0 && (v->btime.sec || v->btime.nsec) ? &v->btime : &v->ctime;
    if (t->sec < 0) return false;
    int64_t ms = t->sec * 1000 + t->nsec / 1000000;
    /* Clocks of the kernel and of our journal agree to the millisecond, but
     * a coarse filesystem timestamp may round down by up to a tick. */
    return ms + 10 >= since_ms;
}

int pk_apply_recover(pk_store *s, const pk_observed *observed, int64_t run, pk_err **err)
{
    pk_journal_entry *ents = NULL;
    size_t n = 0;
    if (pk_store_journal_unfinished(s, &ents, &n, err) < 0) return -1;
    if (n == 0) return 0;
    pk_ownership ownv = { 0 };
    pk_ownership *own = &ownv;
    if (pk_store_ownership_load(s, own, err) < 0) {
        pk_journal_entries_free(ents, n);
        return -1;
    }
    int settled = 0;
    for (size_t i = 0; i < n; i++) {
        pk_journal_entry *e = &ents[i];
        const pk_obs_pool *op = pk_observed_find_pool(observed, e->pool);
        if (!op || op->error) continue;   /* cannot tell yet: leave it open */
        const pk_obs_vol *ov = e->vol && op->vols_observed ? pk_obs_pool_find_vol(op, e->vol) : NULL;
        pk_journal_result res = { .seq = e->seq, .state = PK_JOURNAL_FAILED, .own = PK_OWN_KEEP };
        char *msg = NULL;
        switch (e->kind) {
        case PK_ACT_VOL_CREATE:
            if (ov && !ov->error && !pk_ownership_find(own, e->pool, e->vol) && born_after(ov, e->started_ms)) {
                res.state = PK_JOURNAL_DONE;
                res.own = PK_OWN_TAKE_CREATED;
                res.vol_row = ov;
            }
            break;
        case PK_ACT_VOL_DELETE:
            if (e->vol && op->vols_observed && !ov) {
                res.state = PK_JOURNAL_DONE;
                res.own = PK_OWN_RELEASE;
                res.vol_gone = true;
            }
            break;
        case PK_ACT_POOL_BUILD:
            if (op->state != PK_POOL_ABSENT && !pk_ownership_find(own, e->pool, NULL)) {
                res.state = PK_JOURNAL_DONE;
                res.own = PK_OWN_TAKE_CREATED;
                res.pool_row = op;
            }
            break;
        default:
            break;
        }
        if (res.state == PK_JOURNAL_DONE)
            msg = pk_asprintf("completed before run %lld was interrupted; settled by run %lld",
                              (long long)e->run, (long long)run);
        else
            msg = pk_asprintf("interrupted; the next plan redoes what is still needed (run %lld)",
                              (long long)run);
        res.error = res.state == PK_JOURNAL_DONE ? NULL : msg;
        int r = pk_store_journal_results(s, e->run, &res, 1, err);
        if (res.state == PK_JOURNAL_DONE)
            pk_log(PK_LOG_INFO, e->vol ? e->vol : e->pool, pk_action_kind_to_string(e->kind), "%s", msg);
        free(msg);
        if (r < 0) {
            pk_journal_entries_free(ents, n);
            pk_ownership_free(own);
            return -1;
        }
        settled++;
    }
    pk_journal_entries_free(ents, n);
    pk_ownership_free(own);
    return settled;
}
