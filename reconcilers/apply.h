/* Applying a plan: journaled, batched, dependency-aware, resumable.
 *
 * For each batch of actions: the intents are committed in one transaction,
 * the backend operations run, and their results — with the new ownership
 * and observed rows — are committed in one more. A crash anywhere leaves
 * either intents without results (resolved by pk_apply_recover on the next
 * run from a fresh observation) or nothing at all. */
#pragma once
#include "plan.h"
#include "../backends/backend.h"
#include "../store/store.h"

typedef struct pk_apply_stats {
    size_t done, failed, skipped, blocked;
} pk_apply_stats;

/* Called after each action with its result (error NULL when it succeeded). */
typedef void (*pk_apply_progress)(const pk_action *a, size_t index, size_t total,
                                  const pk_err *error, void *opaque);

typedef struct pk_apply_opts {
    pk_bctx *bctx;
    pk_store *store;          /* locked by the caller */
    int64_t run;              /* pk_store_run_begin */
    size_t batch_size;        /* 0 = default (256) */
    volatile int *stop;       /* set (by a signal handler) to stop between actions */
    pk_apply_progress progress;
    void *opaque;
} pk_apply_opts;

/* Run every unblocked action of `plan` in order. Failures of single actions
 * are in *errs (one per failed action, naming it) and in the stats; actions
 * that depend on a failed one are skipped. Returns 0 when every action that
 * ran succeeded, -1 otherwise (including a store error, which stops the run). */
int pk_apply(const pk_plan *plan, const pk_apply_opts *o, pk_apply_stats *stats, pk_err **errs);

/* Settle what interrupted runs left behind, given a fresh observation:
 * a volume created by an unfinished vol.create (it exists, poolkeeper does
 * not own it yet, and it was born after the intent) becomes owned; a volume
 * an unfinished vol.delete removed is released; every such intent is closed
 * in its run's journal. Returns the number of intents settled, or -1. */
int pk_apply_recover(pk_store *s, const pk_observed *observed, int64_t run, pk_err **err);

/* Tests only: when $PK_TEST_CRASH is "POINT:N", the N-th time the engine or a
 * backend reaches POINT the process kills itself with SIGKILL, as a power
 * cut would. Points: "intents" (after a batch of intents is committed),
 * "op" (after a backend operation), "results" (after a batch of results),
 * and the backends' own points (e.g. "vol.create.before-rename").
 * $PK_TEST_STALL, same syntax, sleeps 60 s there instead (lock races). */
void pk_apply_crashpoint(const char *point);
