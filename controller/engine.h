/* What plan, apply, run, adopt and dumpxml share: settings, the desired
 * state, the state database, the backend context, one observation, and the
 * reconciliation cycle itself (observe, plan, apply, record). */
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
    /* Saved definitions of pools removed from the desired state that still
     * hold something owned: observed and planned for cleanup. */
    pk_pool **retired;
    size_t n_retired;
    bool locked;              /* holds the writer lock */
    int64_t ms_load;          /* time spent loading the desired state */
    pk_observe_progress observe_progress;   /* NULL: none */
    void *observe_opaque;
} pk_engine;

enum {
    PK_ENGINE_WRITE = 1 << 0,     /* take the writer lock (apply, run, adopt) */
    PK_ENGINE_TRY_WRITE = 1 << 1, /* record observations if the lock is free (plan) */
};

/* Settings, then the desired state, then the store. All errors in *errs. */
int pk_engine_open(pk_engine *e, const pk_cli_opts *opts, unsigned flags, pk_err **errs);
/* The two halves of pk_engine_open after e->settings is filled, for the
 * service, which keeps its store (and lock) across cycles and loads the
 * desired state in each. pk_engine_load fetches a remote and replaces
 * e->desired, unless the same commit is resolved again (pk_repo_reload). */
int pk_engine_load(pk_engine *e, pk_err **errs);
int pk_engine_open_store(pk_engine *e, unsigned flags, pk_err **errs);
/* Point the backend context at the current settings (after they changed). */
void pk_engine_set_bctx(pk_engine *e);
/* Drop what one cycle found (observation, ownership, removed pools'
 * definitions, backend connections); keep the settings, the store and the
 * desired state, which the next pk_engine_load reuses if its commit is
 * still the one. */
void pk_engine_release(pk_engine *e);
/* Save the desired pools' definitions (when locked), observe the desired
 * pools and the removed ones that hold something owned, record the
 * observation (when locked), settle interrupted runs (when locked, given
 * run > 0), load ownership. */
int pk_engine_observe(pk_engine *e, int64_t run, pk_err **errs);
pk_plan *pk_engine_plan(pk_engine *e);
void pk_engine_close(pk_engine *e);
/* Stable digest of the observed state of every object the plan touches,
 * for saved plans ("sha256-like" hex, here FNV-1a 64). Caller frees. */
char *pk_engine_fingerprint(const pk_plan *plan, const pk_observed *observed);

/* ---- one reconciliation cycle ---- */

/* Per action kind, what became of the actions of a cycle. */
typedef enum {
    PK_CYCLE_DONE, PK_CYCLE_FAILED, PK_CYCLE_SKIPPED, PK_CYCLE_BLOCKED, PK_CYCLE_RESULT_LAST
} pk_cycle_result;
PK_ENUM_DECL(pk_cycle_result);   /* "done", "failed", "skipped", "blocked" */

typedef struct pk_cycle_hooks {
    /* After planning: show, check or confirm the plan. Returns 1 to apply
     * it, 0 to stop here without error, -1 on error (*errs filled). NULL:
     * apply. */
    int (*review)(pk_engine *e, const pk_plan *plan, void *opaque, pk_err **errs);
    pk_apply_progress progress;   /* after each action, or NULL */
    void *opaque;
    volatile int *stop;           /* set by a signal handler: stop between actions */
    bool suspended;               /* observe, record, report drift; apply nothing */
    /* Digest of the blocked actions a "blocked" event was already sent
     * for: the same set again sends none. 0 = always send. */
    uint64_t blocked_reported;
} pk_cycle_hooks;

typedef struct pk_cycle_report {
    pk_apply_stats stats;
    size_t changes;               /* unblocked actions of the plan */
    size_t blocked;
    size_t drift_open, drift_new; /* after this cycle; opened in it */
    uint64_t blocked_digest;      /* of this plan's blocked actions, 0 when none */
    bool applied;                 /* pk_apply ran */
    bool interrupted;             /* *stop was set before every action ran */
    pk_err *notes;                /* the plan's error notes (pools or volumes that
                                   * could not be observed or planned), as errors */
    unsigned by_kind[PK_ACT_LAST][PK_CYCLE_RESULT_LAST];
} pk_cycle_report;
void pk_cycle_report_clear(pk_cycle_report *r);

/* Observe, record, plan, note drift, review, apply what policy allows and
 * record the events (applied, drift, blocked) of run `run` (begun by the
 * caller, who also ends it). Needs the writer lock. Returns 0 when every
 * allowed action succeeded and every pool could be planned; -1 otherwise:
 * action and store failures in *errs, planning errors in r->notes. The
 * plan is handed back in *ret_plan when not NULL (caller frees). */
int pk_engine_cycle(pk_engine *e, int64_t run, const pk_cycle_hooks *h, pk_cycle_report *r,
                    pk_plan **ret_plan, pk_err **errs);
/* Record the "failed" event of run `run` from its errors: the first one's
 * text, and how many more. */
void pk_engine_event_failed(pk_engine *e, int64_t run, const pk_err *errs);
