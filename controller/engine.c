/* Shared set-up of the engine commands, and the reconciliation cycle. */
#include "engine.h"
#include "notify.h"
#include "probe_store.h"
#include <errno.h>
#include <libgen.h>
#include <sys/stat.h>

PK_ENUM_IMPL(pk_cycle_result, PK_CYCLE_RESULT_LAST, "done", "failed", "skipped", "blocked");

static char *err_line(const pk_err *e);

/* "timing: PHASE=N ms" lines: debug output, or (POOLKEEPER_TIMING=1) info,
 * so benchmarks read them without the cost of every other debug line. */
static void timing(const char *fmt, ...) PK_PRINTF(1, 2);
static void timing(const char *fmt, ...)
{
    const char *env = getenv("POOLKEEPER_TIMING");
    pk_log_level lvl = env && *env && strcmp(env, "0") != 0 ? PK_LOG_INFO : PK_LOG_DEBUG;
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *msg = pk_vasprintf(fmt, ap);
    va_end(ap);
    pk_log(lvl, NULL, NULL, "timing: %s", msg);
}

static char *state_dir_of(const char *state)
{
    _cleanup_free_ char *copy = pk_strdup(state);
    return pk_strdup(dirname(copy));
}

int pk_engine_load(pk_engine *e, pk_err **errs)
{
    pk_settings *s = &e->settings;
    _cleanup_free_ char *sdir = state_dir_of(s->state);
    _cleanup_free_ char *cache = pk_asprintf("%s/repo-cache", sdir);
    pk_repo_opts ro = {
        .path = s->desired_remote ? NULL : (s->desired_path ? s->desired_path : "."),
        .remote = s->desired_remote,
        .branch = pk_settings_branch(s),
        .subdir = s->desired_subdir,
        .ref = s->ref,
        .worktree = s->worktree,
        .cache_dir = cache,
        .fetch_timeout_ms = s->fetch_timeout_ms,
    };
    pk_err *lerr = NULL;
    int64_t t0 = pk_monotonic_ms();
    /* The set of the last cycle is kept when its commit is still the one. */
    e->desired = pk_repo_reload(&ro, TAKE_PTR(e->desired), &lerr);
    e->ms_load = pk_monotonic_ms() - t0;
    if (!e->desired) {
        pk_err_append(errs, lerr);
        pk_err_append(errs, pk_err_new(NULL, 0, 0, "the desired state is invalid: nothing was changed"));
        return -1;
    }
    for (const pk_err *w = e->desired->warnings; w; w = w->next) {
        _cleanup_free_ char *t = err_line(w);
        pk_log(PK_LOG_WARN, NULL, NULL, "%s", t);
    }
    return 0;
}

void pk_engine_set_bctx(pk_engine *e)
{
    e->bctx.secrets_dir = e->settings.secrets_dir;
    e->bctx.ceph_conf = e->settings.ceph_conf;
    e->bctx.allow_format = e->settings.policy.allow_format;
    e->bctx.allow_shrink = e->settings.policy.allow_shrink;
}

int pk_engine_open_store(pk_engine *e, unsigned flags, pk_err **errs)
{
    pk_settings *s = &e->settings;
    pk_store_mode mode = flags & (PK_ENGINE_WRITE | PK_ENGINE_TRY_WRITE) ? PK_STORE_WRITE : PK_STORE_READ;
    pk_err *serr = NULL;
    if (pk_store_open(s->state, mode, &e->store, &serr) < 0) {
        pk_err_append(errs, serr);
        return -1;
    }
    if (flags & PK_ENGINE_WRITE) {
        if (pk_store_lock(e->store, &serr) < 0) {
            pk_err_append(errs, serr);
            return -1;
        }
        e->locked = true;
    } else if (flags & PK_ENGINE_TRY_WRITE) {
        if (pk_store_lock(e->store, &serr) == 0)
            e->locked = true;
        else {
            /* Someone is applying: plan from a fresh observation anyway,
             * without recording it. */
            _cleanup_free_ char *t = pk_err_str(serr);
            pk_log(PK_LOG_INFO, NULL, NULL, "%s; the observation is not recorded", t);
            pk_err_free(serr);
        }
    }
    pk_engine_set_bctx(e);
    /* Image probes are cached in the state DB (controller/probe_store.h). */
    e->bctx.probe_cache = pk_probe_store_new(e->store);
    return 0;
}

int pk_engine_open(pk_engine *e, const pk_cli_opts *opts, unsigned flags, pk_err **errs)
{
    memset(e, 0, sizeof(*e));
    if (pk_settings_load(opts, &e->settings, errs) < 0) return -1;
    /* log.format / log.level of the file and POOLKEEPER_LOG_* (flags were
     * already folded into the settings). */
    pk_log_setup(e->settings.log_level, e->settings.log_format);
    if (pk_engine_load(e, errs) < 0) return -1;
    return pk_engine_open_store(e, flags, errs);
}

/* Every desired pool's definition goes to the store, so that a pool whose
 * file is removed later can still be observed and cleaned up. */
static int save_pool_defs(pk_engine *e, pk_err **err)
{
    const pk_desired *d = e->desired;
    pk_pool_def *defs = pk_calloc(d->n_pools + 1, sizeof(*defs));
    for (size_t i = 0; i < d->n_pools; i++) {
        const pk_pool *p = d->pools[i].pool;
        defs[i] = (pk_pool_def){
            .name = pk_strdup(p->name),
            .type = pk_strdup(pk_pool_type_to_string(p->type)),
            .xml = pk_pool_format(p),
            .commit = pk_strdup(d->commit),
        };
    }
    int r = pk_store_pool_defs_save(e->store, defs, d->n_pools, err);
    pk_pool_defs_free(defs, d->n_pools);
    return r;
}

static void free_retired(pk_engine *e)
{
    for (size_t i = 0; i < e->n_retired; i++) pk_pool_free(e->retired[i]);
    free(e->retired);
    e->retired = NULL;
    e->n_retired = 0;
}

/* The saved definitions of pools no longer desired that hold something
 * owned. One that cannot be read is left out with a warning: the planner
 * then says its pool cannot be cleaned up. */
static int load_retired(pk_engine *e, pk_err **err)
{
    free_retired(e);
    pk_pool_def *defs = NULL;
    size_t n = 0;
    if (pk_store_pool_defs_owned(e->store, &defs, &n, err) < 0) return -1;
    for (size_t i = 0; i < n; i++) {
        if (pk_desired_find_pool(e->desired, defs[i].name)) continue;
        _cleanup_free_ char *src = pk_asprintf("saved definition of pool '%s'", defs[i].name);
        pk_err *perr = NULL;
        pk_pool *p = pk_pool_parse(defs[i].xml, strlen(defs[i].xml), src, &perr);
        if (p && !pk_streq(p->name, defs[i].name)) {
            pk_pool_free(p);
            p = NULL;
            pk_err_append(&perr, pk_err_new(src, 0, 0, "it names another pool"));
        }
        if (!p) {
            _cleanup_free_ char *t = err_line(perr);
            pk_log(PK_LOG_WARN, defs[i].name, NULL, "%s", t);
            pk_err_free(perr);
            continue;
        }
        *PK_APPEND(e->retired, e->n_retired) = p;
    }
    pk_pool_defs_free(defs, n);
    return 0;
}

int pk_engine_observe(pk_engine *e, int64_t run, pk_err **errs)
{
    pk_observed_free(e->observed);
    e->observed = NULL;
    pk_err *err = NULL;
    if (e->locked && save_pool_defs(e, &err) < 0) goto fail;
    if (load_retired(e, &err) < 0) goto fail;
    const pk_desired *d = e->desired;
    size_t n = d->n_pools + e->n_retired;
    const pk_pool **pools = pk_calloc(n + 1, sizeof(*pools));
    for (size_t i = 0; i < d->n_pools; i++) pools[i] = d->pools[i].pool;
    for (size_t i = 0; i < e->n_retired; i++) pools[d->n_pools + i] = e->retired[i];
    int64_t t0 = pk_monotonic_ms();
    e->observed = pk_observe_pools(&e->bctx, pools, n, e->observe_progress, e->observe_opaque);
    int64_t t1 = pk_monotonic_ms();
    free(pools);
    if (e->locked) {
        if (pk_store_record_observation(e->store, e->observed, &err) < 0) goto fail;
        if (run > 0 && pk_apply_recover(e->store, e->observed, run, &err) < 0) goto fail;
    }
    int64_t t2 = pk_monotonic_ms();
    pk_ownership_free(&e->owned);
    if (pk_store_ownership_load(e->store, &e->owned, &err) < 0) goto fail;
    int64_t t3 = pk_monotonic_ms();
    /* Benchmarks read this line (tests/bench/engine_bench.sh). */
    timing("load=%lld observe=%lld record=%lld ownership=%lld ms",
           (long long)e->ms_load, (long long)(t1 - t0), (long long)(t2 - t1), (long long)(t3 - t2));
    return 0;
fail:
    pk_err_append(errs, err);
    return -1;
}

pk_plan *pk_engine_plan(pk_engine *e)
{
    int64_t t0 = pk_monotonic_ms();
    pk_plan_inputs in = {
        .desired = e->desired,
        .observed = e->observed,
        .owned = &e->owned,
        .policy = &e->settings.policy,
        .retired = (const pk_pool *const *)e->retired,
        .n_retired = e->n_retired,
    };
    pk_plan *p = pk_plan_compute_inputs(&in);
    timing("plan=%lld ms", (long long)(pk_monotonic_ms() - t0));
    return p;
}

void pk_engine_release(pk_engine *e)
{
    for (size_t i = 0; e->desired && i < e->desired->n_pools; i++) {
        const pk_backend *be = pk_backend_loaded(e->desired->pools[i].pool->type);
        if (be && be->close) be->close(&e->bctx);
    }
    for (size_t i = 0; i < e->n_retired; i++) {
        const pk_backend *be = pk_backend_loaded(e->retired[i]->type);
        if (be && be->close) be->close(&e->bctx);
    }
    free_retired(e);
    pk_ownership_free(&e->owned);
    pk_observed_free(e->observed);
    e->observed = NULL;
}

void pk_engine_close(pk_engine *e)
{
    pk_engine_release(e);
    pk_desired_free(e->desired);
    e->desired = NULL;
    pk_probe_store_free((pk_probe_cache *)e->bctx.probe_cache);
    pk_store_close(e->store);
    pk_settings_clear(&e->settings);
    memset(e, 0, sizeof(*e));
}

char *pk_engine_fingerprint(const pk_plan *plan, const pk_observed *observed)
{
    uint64_t h = PK_FNV_INIT;
    for (size_t i = 0; i < plan->n_actions; i++) {
        const pk_action *a = &plan->actions[i];
        pk_fnv_str(&h, pk_action_kind_to_string(a->kind));
        pk_fnv_str(&h, a->pool);
        pk_fnv_str(&h, a->vol);
        pk_fnv_u64(&h, a->blocked);
        pk_fnv_u64(&h, a->after_bytes);
        const pk_obs_pool *op = pk_observed_find_pool(observed, a->pool);
        pk_fnv_u64(&h, op ? (uint64_t)op->state : 99);
        pk_fnv_str(&h, op ? op->identity : NULL);
        const pk_obs_vol *ov = op && a->vol ? pk_obs_pool_find_vol(op, a->vol) : NULL;
        if (ov) {
            pk_fnv_str(&h, ov->identity);
            pk_fnv_u64(&h, ov->capacity);
            pk_fnv_u64(&h, (uint64_t)ov->format);
            pk_fnv_u64(&h, (uint64_t)ov->perms.mode);
            pk_fnv_u64(&h, (uint64_t)ov->perms.uid);
            pk_fnv_u64(&h, (uint64_t)ov->perms.gid);
        } else {
            pk_fnv_str(&h, NULL);
        }
    }
    return pk_asprintf("fnv1a64:%016llx", (unsigned long long)h);
}

/* ---- the cycle ---- */

void pk_cycle_report_clear(pk_cycle_report *r)
{
    pk_err_free(r->notes);
    memset(r, 0, sizeof(*r));
}

/* An error on one line; "error: " is implied where it stands alone. */
static char *err_line(const pk_err *e)
{
    _cleanup_free_ char *t = pk_err_str(e);
    char *s = pk_notify_redact(t);
    if (!e->file && pk_str_has_prefix(s, "error: ")) memmove(s, s + 7, strlen(s + 7) + 1);
    return s;
}

static void json_kv_str(pk_buf *b, const char *key, const char *v)
{
    pk_buf_add_json_str(b, key);
    pk_buf_addc(b, ':');
    if (v) pk_buf_add_json_str(b, v);
    else pk_buf_add(b, "null");
}

/* {"kind":..,"pool":..,"volume":..} of one action. */
static void json_action(pk_buf *b, const pk_action *a, bool with_reason)
{
    pk_buf_addc(b, '{');
    json_kv_str(b, "kind", pk_action_kind_to_string(a->kind));
    pk_buf_addc(b, ',');
    json_kv_str(b, "pool", a->pool);
    pk_buf_addc(b, ',');
    json_kv_str(b, "volume", a->vol);
    if (with_reason) {
        pk_buf_addc(b, ',');
        json_kv_str(b, "reason", a->blocked ? a->blocked_why : a->reason);
    }
    pk_buf_addc(b, '}');
}

/* Events list at most this many objects; the counts are always whole. */
#define EVENT_MAX_OBJECTS 100
#define EVENT_MAX_DRIFT 50

static void event(pk_engine *e, const char *kind, int64_t run, const char *pool, const char *vol,
                  const char *message, const char *data)
{
    pk_err *err = NULL;
    if (pk_store_event_append(e->store, kind, run, pool, vol, message, data, NULL, &err) < 0) {
        _cleanup_free_ char *t = err_line(err);
        pk_log(PK_LOG_WARN, NULL, NULL, "%s", t);
        pk_err_free(err);
    }
}

void pk_engine_event_failed(pk_engine *e, int64_t run, const pk_err *errs)
{
    if (!errs || !e->store || !e->locked) return;
    size_t n = pk_err_count(errs);
    _cleanup_free_ char *first = err_line(errs);
    _cleanup_free_ char *msg = n > 1 ? pk_asprintf("%s (and %zu more errors)", first, n - 1)
                                     : pk_strdup(first);
    pk_buf d = PK_BUF_INIT;
    pk_buf_addc(&d, '{');
    json_kv_str(&d, "commit", e->desired ? e->desired->commit : NULL);
    pk_buf_add(&d, ",\"errors\":[");
    size_t i = 0;
    for (const pk_err *x = errs; x && i < EVENT_MAX_OBJECTS; x = x->next, i++) {
        _cleanup_free_ char *t = err_line(x);
        if (i) pk_buf_addc(&d, ',');
        pk_buf_add_json_str(&d, t);
    }
    pk_buf_add(&d, "]}");
    event(e, "failed", run, NULL, NULL, msg, pk_buf_str(&d));
    pk_buf_free(&d);
}

/* What drifted, as the drift table names it. */
static const char *drift_what(const pk_action *a)
{
    switch (a->kind) {
    case PK_ACT_POOL_BUILD: return "missing";
    case PK_ACT_POOL_START: return "stopped";
    case PK_ACT_VOL_CREATE: return "missing";
    case PK_ACT_VOL_RESIZE: return "capacity";
    case PK_ACT_VOL_UPDATE: return "permissions";
    default: return "changed";
    }
}

static char *drift_detail(const pk_action *a)
{
    switch (a->kind) {
    case PK_ACT_POOL_BUILD: return pk_strdup("the pool's storage is gone");
    case PK_ACT_POOL_START: return pk_strdup("the pool is not running");
    case PK_ACT_VOL_CREATE: return pk_strdup("the volume is gone");
    default:
        if (a->before && a->after) return pk_asprintf("%s, desired %s", a->before, a->after);
        return NULL;
    }
}

static bool drift_in_plan(const pk_plan *p, const pk_drift *d)
{
    const char *vol = d->vol && *d->vol ? d->vol : NULL;
    for (size_t i = 0; i < p->n_actions; i++) {
        const pk_action *a = &p->actions[i];
        if (a->drift && pk_streq(a->pool, d->pool) && pk_streq(a->vol, vol) &&
            pk_streq(drift_what(a), d->what))
            return true;
    }
    return false;
}

/* Can this observation tell that an open drift is over? Not when the pool
 * (or, for a volume, its volume list) could not be seen. Objects no longer
 * desired are not managed any more: their drift is over too. */
static bool drift_decidable(const pk_engine *e, const pk_drift *d)
{
    const char *vol = d->vol && *d->vol ? d->vol : NULL;
    const pk_desired_pool *dp = pk_desired_find_pool(e->desired, d->pool);
    if (!dp || (vol && !pk_desired_find_vol(dp, vol))) return true;
    const pk_obs_pool *op = pk_observed_find_pool(e->observed, d->pool);
    if (!op || op->error) return false;
    if (!vol) return true;
    if (op->state != PK_POOL_RUNNING || !op->vols_observed) return false;
    const pk_obs_vol *ov = pk_obs_pool_find_vol(op, vol);
    return !ov || !ov->error;
}

/* Note the drift this plan corrects (or, under `drift: report`, would),
 * resolve what is no longer seen, and send an event for each new one. */
static int note_drift(pk_engine *e, int64_t run, const pk_plan *p, pk_cycle_report *r, pk_err **errs)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n_actions; i++) n += p->actions[i].drift;
    pk_drift_item *items = pk_calloc(n ? n : 1, sizeof(*items));
    char **details = pk_calloc(n ? n : 1, sizeof(char *));
    const pk_action **acts = pk_calloc(n ? n : 1, sizeof(*acts));
    bool *fresh = pk_calloc(n ? n : 1, sizeof(bool));
    size_t k = 0;
    for (size_t i = 0; i < p->n_actions; i++) {
        const pk_action *a = &p->actions[i];
        if (!a->drift) continue;
        details[k] = drift_detail(a);
        acts[k] = a;
        items[k] = (pk_drift_item){ a->pool, a->vol, drift_what(a), details[k] };
        k++;
    }
    pk_err *err = NULL;
    int rc = pk_store_drift_note(e->store, items, k, fresh, &err);

    pk_drift *open = NULL;
    size_t n_open = 0;
    if (rc == 0) rc = pk_store_drift_list(e->store, false, &open, &n_open, &err);
    for (size_t i = 0; rc == 0 && i < n_open; i++) {
        const pk_drift *d = &open[i];
        if (drift_in_plan(p, d) || !drift_decidable(e, d)) continue;
        const char *vol = d->vol && *d->vol ? d->vol : NULL;
        if (pk_store_drift_resolve(e->store, d->pool, vol, d->what, &err) < 0) rc = -1;
        else pk_log(PK_LOG_INFO, vol ? vol : d->pool, NULL, "drift of '%s%s%s' (%s) is over",
                    d->pool, vol ? "/" : "", vol ? vol : "", d->what);
    }
    pk_drifts_free(open, n_open);

    const char *mode = pk_drift_mode_to_string(e->settings.policy.drift);
    size_t sent = 0, unsent = 0;
    for (size_t i = 0; rc == 0 && i < k; i++) {
        if (!fresh[i]) continue;
        r->drift_new++;
        const pk_action *a = acts[i];
        _cleanup_free_ char *msg = a->vol
            ? pk_asprintf("volume '%s/%s' was changed outside poolkeeper (%s): %s", a->pool, a->vol,
                          items[i].what, details[i] ? details[i] : "differs from the desired state")
            : pk_asprintf("pool '%s' was changed outside poolkeeper (%s): %s", a->pool,
                          items[i].what, details[i] ? details[i] : "differs from the desired state");
        pk_log(PK_LOG_WARN, a->vol ? a->vol : a->pool, pk_action_kind_to_string(a->kind), "%s", msg);
        if (sent >= EVENT_MAX_DRIFT) {
            unsent++;
            continue;
        }
        pk_buf d = PK_BUF_INIT;
        pk_buf_addc(&d, '{');
        json_kv_str(&d, "what", items[i].what);
        pk_buf_addc(&d, ',');
        json_kv_str(&d, "detail", details[i]);
        pk_buf_addc(&d, ',');
        json_kv_str(&d, "policy", mode);
        pk_buf_addc(&d, ',');
        json_kv_str(&d, "correction", pk_action_kind_to_string(a->kind));
        pk_buf_addc(&d, ',');
        json_kv_str(&d, "commit", p->commit);
        pk_buf_addc(&d, '}');
        event(e, "drift", run, a->pool, a->vol, msg, pk_buf_str(&d));
        pk_buf_free(&d);
        sent++;
    }
    if (unsent) {
        _cleanup_free_ char *msg = pk_asprintf("%zu more objects were changed outside poolkeeper", unsent);
        event(e, "drift", run, NULL, NULL, msg, NULL);
    }
    for (size_t i = 0; i < k; i++) free(details[i]);
    free(details);
    free(items);
    free(acts);
    free(fresh);
    if (rc < 0) {
        pk_err_append(errs, err);
        return -1;
    }
    return 0;
}

static uint64_t blocked_digest(const pk_plan *p)
{
    uint64_t h = PK_FNV_INIT;
    bool any = false;
    for (size_t i = 0; i < p->n_actions; i++) {
        const pk_action *a = &p->actions[i];
        if (!a->blocked) continue;
        any = true;
        pk_fnv_str(&h, pk_action_kind_to_string(a->kind));
        pk_fnv_str(&h, a->pool);
        pk_fnv_str(&h, a->vol);
        pk_fnv_str(&h, a->blocked_why);
    }
    return any ? (h ? h : 1) : 0;
}

static void event_blocked(pk_engine *e, int64_t run, const pk_plan *p, size_t n)
{
    const pk_action *one = NULL;
    pk_buf d = PK_BUF_INIT;
    pk_buf_addc(&d, '{');
    json_kv_str(&d, "commit", p->commit);
    pk_buf_addf(&d, ",\"blocked\":%zu,\"actions\":[", n);
    size_t k = 0;
    for (size_t i = 0; i < p->n_actions; i++) {
        const pk_action *a = &p->actions[i];
        if (!a->blocked) continue;
        one = a;
        if (k++ >= EVENT_MAX_OBJECTS) continue;
        if (k > 1) pk_buf_addc(&d, ',');
        json_action(&d, a, true);
    }
    pk_buf_add(&d, "]}");
    _cleanup_free_ char *msg = n == 1
        ? pk_asprintf("%s %s%s%s is blocked: %s", pk_action_kind_to_string(one->kind), one->pool,
                      one->vol ? "/" : "", one->vol ? one->vol : "", one->blocked_why)
        : pk_asprintf("%zu actions are blocked by policy", n);
    event(e, "blocked", run, n == 1 ? one->pool : NULL, n == 1 ? one->vol : NULL, msg, pk_buf_str(&d));
    pk_buf_free(&d);
}

static void event_applied(pk_engine *e, int64_t run, const pk_plan *p, const bool *done,
                          const pk_apply_stats *st)
{
    char sb[16];
    const char *shortc = pk_desired_short(e->desired, sb);
    pk_buf d = PK_BUF_INIT;
    pk_buf_addc(&d, '{');
    json_kv_str(&d, "commit", p->commit);
    pk_buf_addf(&d, ",\"done\":%zu,\"failed\":%zu,\"skipped\":%zu,\"blocked\":%zu,\"actions\":[",
                st->done, st->failed, st->skipped, st->blocked);
    const pk_action *one = NULL;
    size_t k = 0;
    for (size_t i = 0; i < p->n_actions; i++) {
        if (!done[i]) continue;
        one = &p->actions[i];
        if (k++ >= EVENT_MAX_OBJECTS) continue;
        if (k > 1) pk_buf_addc(&d, ',');
        json_action(&d, one, false);
    }
    pk_buf_add(&d, "]}");
    _cleanup_free_ char *msg = st->done == 1
        ? pk_asprintf("%s %s%s%s applied (desired %s)", pk_action_kind_to_string(one->kind), one->pool,
                      one->vol ? "/" : "", one->vol ? one->vol : "", shortc)
        : pk_asprintf("%zu actions applied (desired %s)", st->done, shortc);
    event(e, "applied", run, st->done == 1 ? one->pool : NULL, st->done == 1 ? one->vol : NULL, msg,
          pk_buf_str(&d));
    pk_buf_free(&d);
}

typedef struct {
    const pk_cycle_hooks *h;
    bool *done;
    pk_cycle_report *r;
} cycle_progress;

static void on_action(const pk_action *a, size_t index, size_t total, const pk_err *error, void *opaque)
{
    cycle_progress *cp = opaque;
    if (!error) cp->done[index] = true;
    cp->r->by_kind[a->kind][error ? PK_CYCLE_FAILED : PK_CYCLE_DONE]++;
    if (cp->h->progress) cp->h->progress(a, index, total, error, cp->h->opaque);
}

int pk_engine_cycle(pk_engine *e, int64_t run, const pk_cycle_hooks *h, pk_cycle_report *r,
                    pk_plan **ret_plan, pk_err **errs)
{
    memset(r, 0, sizeof(*r));
    if (ret_plan) *ret_plan = NULL;
    if (pk_engine_observe(e, run, errs) < 0) return -1;
    pk_plan *plan = pk_engine_plan(e);
    int rc = 0;
    r->changes = pk_plan_count_changes(plan);
    r->blocked = pk_plan_count_blocked(plan);
    r->blocked_digest = blocked_digest(plan);
    for (size_t i = 0; i < plan->n_notes; i++)
        if (plan->notes[i].error)
            pk_err_append(&r->notes, pk_err_new(NULL, 0, 0, "%s", plan->notes[i].message));
    if (e->locked && note_drift(e, run, plan, r, errs) < 0) rc = -1;
    if (e->locked && r->blocked && r->blocked_digest != h->blocked_reported)
        event_blocked(e, run, plan, r->blocked);

    int go = 1;
    if (rc == 0 && h->review) go = h->review(e, plan, h->opaque, errs);
    if (go < 0) rc = -1;
    bool stopped = h->stop && *h->stop;
    bool *done = pk_calloc(plan->n_actions ? plan->n_actions : 1, sizeof(bool));
    if (rc == 0 && go > 0 && !h->suspended && !stopped && r->changes > 0) {
        cycle_progress cp = { h, done, r };
        pk_apply_opts ao = {
            .bctx = &e->bctx,
            .store = e->store,
            .run = run,
            .stop = h->stop,
            .progress = on_action,
            .opaque = &cp,
        };
        const char *bs = getenv("POOLKEEPER_BATCH");
        if (bs) ao.batch_size = (size_t)atoi(bs);
        r->applied = true;
        int64_t t0 = pk_monotonic_ms();
        if (pk_apply(plan, &ao, &r->stats, errs) < 0) rc = -1;
        timing("apply=%lld ms", (long long)(pk_monotonic_ms() - t0));
        if (r->stats.done) event_applied(e, run, plan, done, &r->stats);
        /* Corrected drift is over now, not at the next observation. */
        for (size_t i = 0; i < plan->n_actions; i++) {
            const pk_action *a = &plan->actions[i];
            if (!done[i] || !a->drift) continue;
            pk_err *derr = NULL;
            if (pk_store_drift_resolve(e->store, a->pool, a->vol, drift_what(a), &derr) < 0) {
                pk_err_append(errs, derr);
                rc = -1;
            }
        }
        stopped = h->stop && *h->stop;
    }
    free(done);
    for (size_t i = 0; i < plan->n_actions; i++) {
        const pk_action *a = &plan->actions[i];
        if (a->blocked) r->by_kind[a->kind][PK_CYCLE_BLOCKED]++;
    }
    if (r->applied)
        for (int k = 0; k < PK_ACT_LAST; k++) {
            size_t unblocked = 0;
            for (size_t i = 0; i < plan->n_actions; i++)
                unblocked += plan->actions[i].kind == (pk_action_kind)k && !plan->actions[i].blocked;
            unsigned ran = r->by_kind[k][PK_CYCLE_DONE] + r->by_kind[k][PK_CYCLE_FAILED];
            r->by_kind[k][PK_CYCLE_SKIPPED] = (unsigned)(unblocked - ran);
        }
    r->interrupted = stopped && r->changes > r->stats.done + r->stats.failed + r->stats.skipped;
    if (e->locked) {
        pk_drift *open = NULL;
        pk_err *derr = NULL;
        if (pk_store_drift_list(e->store, false, &open, &r->drift_open, &derr) < 0) {
            pk_err_append(errs, derr);
            rc = -1;
        }
        pk_drifts_free(open, r->drift_open);
    }
    if (r->notes) rc = -1;
    if (ret_plan) *ret_plan = plan;
    else pk_plan_free(plan);
    return rc;
}
