/* What plan, apply, run, adopt and dumpxml share: settings, the desired
 * state, the state database, the backend context, one observation. */
#pragma once
#include "config.h"
#include "../reconcilers/apply.h"
#include "../reconcilers/observe.h"
#include "../desired/repo.h"

typedef struct pk_engine {
    pk_settings settings;
    pk_desired *desired;
    pk_store *store;
    pk_bctx bctx;
    pk_observed *observed;
    pk_ownership owned;
    bool locked;              /* holds the writer lock */
    int64_t ms_load;          /* time spent loading the desired state */
} pk_engine;

enum {
    PK_ENGINE_WRITE = 1 << 0,     /* take the writer lock (apply, run, adopt) */
    PK_ENGINE_TRY_WRITE = 1 << 1, /* record observations if the lock is free (plan) */
};

/* Settings, then the desired state, then the store. All errors in *errs. */
int pk_engine_open(pk_engine *e, const pk_cli_opts *opts, unsigned flags, pk_err **errs);
/* Observe the desired pools, record the observation (when locked), settle
 * interrupted runs (when locked, given run > 0), load ownership. */
int pk_engine_observe(pk_engine *e, int64_t run, pk_err **errs);
pk_plan *pk_engine_plan(pk_engine *e);
void pk_engine_close(pk_engine *e);
/* Stable digest of the observed state of every object the plan touches,
 * for saved plans ("sha256-like" hex, here FNV-1a 64). Caller frees. */
char *pk_engine_fingerprint(const pk_plan *plan, const pk_observed *observed);
