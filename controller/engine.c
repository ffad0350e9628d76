/* Shared set-up of the engine commands. */
#include "engine.h"
#include <errno.h>
#include <libgen.h>
#include <sys/stat.h>

static char *state_dir_of(const char *state)
{
    _cleanup_free_ char *copy = pk_strdup(state);
    return pk_strdup(dirname(copy));
}

int pk_engine_open(pk_engine *e, const pk_cli_opts *opts, unsigned flags, pk_err **errs)
{
    memset(e, 0, sizeof(*e));
    if (pk_settings_load(opts, &e->settings, errs) < 0) return -1;
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
    };
    pk_err *lerr = NULL;
    int64_t t0 = pk_monotonic_ms();
    e->desired = pk_repo_load(&ro, &lerr);
    e->ms_load = pk_monotonic_ms() - t0;
    if (!e->desired) {
        pk_err_append(errs, lerr);
        pk_err_append(errs, pk_err_new(NULL, 0, 0, "the desired state is invalid: nothing was changed"));
        return -1;
    }
    for (const pk_err *w = e->desired->warnings; w; w = w->next) {
        _cleanup_free_ char *t = pk_err_str(w);
        pk_log(PK_LOG_WARN, NULL, NULL, "%s", t);
    }

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
    e->bctx.secrets_dir = s->secrets_dir;
    e->bctx.allow_format = s->policy.allow_format;
    e->bctx.allow_shrink = s->policy.allow_shrink;
    return 0;
}

int pk_engine_observe(pk_engine *e, int64_t run, pk_err **errs)
{
    pk_observed_free(e->observed);
    int64_t t0 = pk_monotonic_ms();
    e->observed = pk_observe_desired(&e->bctx, e->desired);
    int64_t t1 = pk_monotonic_ms();
    pk_err *err = NULL;
    if (e->locked) {
        if (pk_store_record_observation(e->store, e->observed, &err) < 0) goto fail;
        if (run > 0 && pk_apply_recover(e->store, e->observed, run, &err) < 0) goto fail;
    }
    int64_t t2 = pk_monotonic_ms();
    pk_ownership_free(&e->owned);
    if (pk_store_ownership_load(e->store, &e->owned, &err) < 0) goto fail;
    int64_t t3 = pk_monotonic_ms();
    /* Benchmarks read this line (tests/bench/engine_bench.sh). */
    pk_log(PK_LOG_DEBUG, NULL, NULL, "timing: load=%lld observe=%lld record=%lld ownership=%lld ms",
           (long long)e->ms_load, (long long)(t1 - t0), (long long)(t2 - t1), (long long)(t3 - t2));
    return 0;
fail:
    pk_err_append(errs, err);
    return -1;
}

pk_plan *pk_engine_plan(pk_engine *e)
{
    return pk_plan_compute(e->desired, e->observed, &e->owned, &e->settings.policy);
}

void pk_engine_close(pk_engine *e)
{
    for (size_t i = 0; e->desired && i < e->desired->n_pools; i++) {
        const pk_backend *be = pk_backend_for(e->desired->pools[i].pool->type);
        if (be && be->close) be->close(&e->bctx);
    }
    pk_ownership_free(&e->owned);
    pk_observed_free(e->observed);
    pk_store_close(e->store);
    pk_desired_free(e->desired);
    pk_settings_clear(&e->settings);
    memset(e, 0, sizeof(*e));
}

static void fnv(uint64_t *h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        *h ^= c[i];
        *h *= 1099511628211ULL;
    }
}

static void fnv_str(uint64_t *h, const char *s)
{
    if (s) fnv(h, s, strlen(s) + 1);
    else fnv(h, "\xff", 1);
}

static void fnv_u64(uint64_t *h, uint64_t v) { fnv(h, &v, sizeof(v)); }

char *pk_engine_fingerprint(const pk_plan *plan, const pk_observed *observed)
{
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < plan->n_actions; i++) {
        const pk_action *a = &plan->actions[i];
        fnv_str(&h, pk_action_kind_to_string(a->kind));
        fnv_str(&h, a->pool);
        fnv_str(&h, a->vol);
        fnv_u64(&h, a->blocked);
        fnv_u64(&h, a->after_bytes);
        const pk_obs_pool *op = pk_observed_find_pool(observed, a->pool);
        fnv_u64(&h, op ? (uint64_t)op->state : 99);
        fnv_str(&h, op ? op->identity : NULL);
        const pk_obs_vol *ov = op && a->vol ? pk_obs_pool_find_vol(op, a->vol) : NULL;
        if (ov) {
            fnv_str(&h, ov->identity);
            fnv_u64(&h, ov->capacity);
            fnv_u64(&h, (uint64_t)ov->format);
            fnv_u64(&h, (uint64_t)ov->perms.mode);
            fnv_u64(&h, (uint64_t)ov->perms.uid);
            fnv_u64(&h, (uint64_t)ov->perms.gid);
        } else {
            fnv_str(&h, NULL);
        }
    }
    return pk_asprintf("fnv1a64:%016llx", (unsigned long long)h);
}
