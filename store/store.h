/* The state database (design.md §7): one SQLite file holding what was
 * observed, what poolkeeper owns, the runs and their action journal, drift,
 * events for notifications and the image probe cache. All of poolkeeper's
 * SQL lives in store/; everything else talks to it through this header.
 *
 * A pk_store is one SQLite connection used by one thread. Every function that
 * changes something is one transaction: it happens entirely or not at all.
 * Functions return 0 (or a count) on success and -1 with *err filled on
 * failure; the messages name the database file and carry SQLite's reason. */
#pragma once
#include "../reconcilers/plan.h"

typedef struct pk_store pk_store;

/* Schema version written by this poolkeeper (PRAGMA user_version). */
#define PK_STORE_SCHEMA_VERSION 4
/* PRAGMA application_id of a poolkeeper state database ("PKST"). A SQLite
 * file with another id is some other program's and is never touched. */
#define PK_STORE_APPLICATION_ID 0x504B5354

typedef enum {
    /* status, history: never creates, upgrades or writes the file. A file with
     * an older schema is upgraded in memory, the file stays as it is. */
    PK_STORE_READ,
    /* plan, apply, run, adopt: creates the file (mode 0600; missing
     * directories 0700) and upgrades an older schema after copying the file
     * to PATH.schemaN-TIME.bak. An upgrade takes the writer lock for its
     * duration, so it fails (changing nothing) while another writer runs. */
    PK_STORE_WRITE,
} pk_store_mode;

/* Open the database at `path` and check it: an SQLite file, poolkeeper's own
 * (application_id), a schema not newer than this binary, PRAGMA quick_check
 * clean. Any of those failing leaves the file exactly as it was. In READ
 * mode a missing file is an error with errnum ENOENT. */
int pk_store_open(const char *path, pk_store_mode mode, pk_store **ret_store, pk_err **err);
/* Releases the writer lock if held. NULL is fine. */
void pk_store_close(pk_store *s);
PK_DEFINE_CLEANUP(pk_store, pk_store_close)
const char *pk_store_path(const pk_store *s);
/* Schema version of the file as it was found at open (0 for a new file). */
int pk_store_found_version(const pk_store *s);

/* ---- the single-writer lock ----
 * One process at a time may run actions against a state database. The lock
 * is an fcntl lock on PATH.lock, which also holds the holder's pid and since
 * when; the kernel drops it when the holder dies, so it is never stale.
 * Readers (status, history) never need it. */

/* Take the lock or fail at once with "state database 'X' is locked by pid N
 * since T". Runs left 'running' by a holder that died are marked
 * 'interrupted' (their unfinished intents: pk_store_journal_unfinished). */
int pk_store_lock(pk_store *s, pk_err **err);
void pk_store_unlock(pk_store *s);   /* no-op when not held */
bool pk_store_locked(const pk_store *s);
/* Who holds the lock of the database at `path`, without taking it or
 * creating anything: 1 (held; *ret_pid, *ret_since_ms filled, 0 when
 * unknown), 0 (free), -1 (error). */
int pk_store_lock_holder(const char *path, int *ret_pid, int64_t *ret_since_ms, pk_err **err);

/* ---- reading consistently ----
 * Queries between read_begin and read_end see one snapshot of the database,
 * even while a writer commits. */
int pk_store_read_begin(pk_store *s, pk_err **err);
void pk_store_read_end(pk_store *s);

/* ---- observations ---- */

/* Record a whole observation in one transaction. For each pool of `o` its
 * row is replaced; its volume rows are replaced by o's when vols_observed,
 * deleted when the pool is absent, and kept as the last known otherwise (an
 * observe error is never "no volumes"). Pools not in `o` are not touched. */
int pk_store_record_observation(pk_store *s, const pk_observed *o, pk_err **err);
/* Everything recorded, pools and volumes sorted by name; *ret is NULL when
 * nothing was ever observed. Free with pk_observed_free. */
int pk_store_observed_load(pk_store *s, pk_observed **ret, pk_err **err);

/* ---- ownership ---- */

typedef enum { PK_OWN_CREATED, PK_OWN_ADOPTED, PK_OWN_HOW_LAST } pk_own_how;
PK_ENUM_DECL(pk_own_how);   /* "created", "adopted" */

/* Everything owned, for the planner, into *ret (which is overwritten, not
 * freed first). Free its contents with pk_ownership_free. */
int pk_store_ownership_load(pk_store *s, pk_ownership *ret, pk_err **err);
/* Take (or re-take: identity and key are replaced) ownership of a pool
 * (vol NULL) or volume. `run` is the run that did it, or 0. */
int pk_store_own_take(pk_store *s, const char *pool, const char *vol, const char *identity,
                      const char *key, pk_own_how how, int64_t run, pk_err **err);
/* Forget ownership of a pool (vol NULL: the pool row only) or a volume.
 * Dropping what is not owned is not an error. */
int pk_store_own_drop(pk_store *s, const char *pool, const char *vol, pk_err **err);

/* One ownership row with its history, for status. */
typedef struct pk_owner {
    char *pool;
    char *vol;                /* NULL for the pool itself */
    char *identity, *key;
    pk_own_how how;
    int64_t since_ms;
    int64_t run;              /* 0 = outside a run */
} pk_owner;
int pk_store_owners_list(pk_store *s, pk_owner **ret, size_t *ret_n, pk_err **err);
void pk_owners_free(pk_owner *o, size_t n);

/* ---- pool definitions (pool_defs.c) ----
 * The desired definition of each pool poolkeeper manages, kept while the
 * pool is desired or anything in it is owned: a pool whose file was removed
 * from the repository is observed and cleaned up through it. */

typedef struct pk_pool_def {
    char *name;
    char *type;               /* "dir", "logical"... as in the XML */
    char *xml;                /* the definition as pk_pool_format wrote it */
    char *commit;             /* desired commit that last changed it; NULL: work tree */
    int64_t saved_ms;
} pk_pool_def;
void pk_pool_defs_free(pk_pool_def *d, size_t n);

/* In one transaction: save the definition of each of the n desired pools
 * (rows that did not change are not written), then forget the definitions
 * of pools that are neither among them nor hold anything owned. */
int pk_store_pool_defs_save(pk_store *s, const pk_pool_def *desired, size_t n, pk_err **err);
/* The saved definitions of pools that hold something owned, by name. */
int pk_store_pool_defs_owned(pk_store *s, pk_pool_def **ret, size_t *ret_n, pk_err **err);

/* ---- runs ---- */

typedef enum {
    PK_RUN_RUNNING, PK_RUN_OK, PK_RUN_FAILED, PK_RUN_INTERRUPTED, PK_RUN_RESULT_LAST
} pk_run_result;
PK_ENUM_DECL(pk_run_result);  /* "running", "ok", "failed", "interrupted" */

typedef struct pk_run {
    int64_t id;
    char *commit;             /* desired commit, NULL if never loaded */
    char *ref;
    int pid;
    int64_t started_ms, ended_ms;   /* ended 0 = not ended */
    pk_run_result result;
    int n_actions, n_done, n_failed, n_skipped;   /* journal rows by state */
    char *error;              /* why the run failed as a whole, or NULL */
} pk_run;
void pk_run_clear(pk_run *r);
void pk_runs_free(pk_run *r, size_t n);

/* Start a run; needs the writer lock. commit and ref may be NULL (the desired
 * state is loaded later, or could not be). *ret_run gets its id (> 0). */
int pk_store_run_begin(pk_store *s, const char *commit, const char *ref, int64_t *ret_run,
                       pk_err **err);
/* Set the desired commit once known. */
int pk_store_run_set_desired(pk_store *s, int64_t run, const char *commit, const char *ref,
                             pk_err **err);
/* Finish a run: result OK, FAILED or INTERRUPTED (stopped by a signal,
 * its open intents left for recovery), `error` a reason for the whole run
 * or NULL. The counts are taken from its journal. */
int pk_store_run_end(pk_store *s, int64_t run, pk_run_result result, const char *error,
                     pk_err **err);
/* Newest first, at most `limit` (0 = all). */
int pk_store_runs_list(pk_store *s, size_t limit, pk_run **ret, size_t *ret_n, pk_err **err);
/* 1 found, 0 no such run, -1 error. run 0 = the newest run. */
int pk_store_run_get(pk_store *s, int64_t run, pk_run *ret, pk_err **err);

/* ---- the action journal ----
 * Before an action touches storage its intent is committed; after it, its
 * result together with the new ownership and observed rows. The engine
 * applies in batches: a batch's intents are one transaction, and its
 * results another. */

typedef enum {
    PK_JOURNAL_INTENT, PK_JOURNAL_DONE, PK_JOURNAL_FAILED, PK_JOURNAL_SKIPPED,
    PK_JOURNAL_STATE_LAST
} pk_journal_state;
PK_ENUM_DECL(pk_journal_state);   /* "intent", "done", "failed", "skipped" */

typedef struct pk_journal_intent {
    int seq;                  /* unique within the run: the action's index in the plan */
    const pk_action *action;  /* kind, pool, vol, risk, before, after, reason, drift */
} pk_journal_intent;

typedef enum {
    PK_OWN_KEEP,              /* ownership unchanged */
    PK_OWN_TAKE_CREATED,      /* the action made the object: now owned, "created" */
    PK_OWN_TAKE_ADOPTED,      /* the action adopted it: now owned, "adopted" */
    PK_OWN_RELEASE,           /* the object is gone (deleted): no longer owned */
} pk_own_change;

typedef struct pk_journal_result {
    int seq;                  /* as in the intent */
    pk_journal_state state;   /* DONE, FAILED or SKIPPED */
    const char *error;        /* why it failed or was skipped; NULL when DONE */
    pk_own_change own;
    /* Identity and key of the new ownership; NULL: taken from vol_row (a
     * volume action) or pool_row (a pool action). */
    const char *identity, *key;
    const pk_obs_pool *pool_row;   /* new observation of the action's pool row
                                    * (its volumes are left alone), or NULL */
    const pk_obs_vol *vol_row;     /* new observation of the action's volume, or NULL */
    bool vol_gone;            /* the volume no longer exists: forget its observed row */
} pk_journal_result;

/* Commit the intents of a batch of actions of `run` (state 'intent'). */
int pk_store_journal_intents(pk_store *s, int64_t run, const pk_journal_intent *items, size_t n,
                             pk_err **err);
/* Commit the results of a batch: each must answer an intent of `run` still
 * pending, else nothing of the batch is recorded. */
int pk_store_journal_results(pk_store *s, int64_t run, const pk_journal_result *items, size_t n,
                             pk_err **err);

typedef struct pk_journal_entry {
    int64_t run;
    int seq;
    pk_action_kind kind;
    char *pool;
    char *vol;                /* NULL for pool actions */
    pk_risk risk;
    char *before, *after, *reason;
    bool drift;
    pk_journal_state state;
    char *error;
    int64_t started_ms, ended_ms;   /* ended 0 = still an intent */
} pk_journal_entry;
void pk_journal_entries_free(pk_journal_entry *e, size_t n);

/* The actions of one run in order. */
int pk_store_journal_list(pk_store *s, int64_t run, pk_journal_entry **ret, size_t *ret_n,
                          pk_err **err);
/* Intents of runs that are not running any more (interrupted, or ended
 * without answering them): what may have been half done. Oldest first. */
int pk_store_journal_unfinished(pk_store *s, pk_journal_entry **ret, size_t *ret_n,
                                pk_err **err);
/* The latest journal entry of every object (pool or volume), for status. */
int pk_store_journal_last_actions(pk_store *s, pk_journal_entry **ret, size_t *ret_n,
                                  pk_err **err);

/* ---- drift: objects changed outside poolkeeper ---- */

typedef struct pk_drift_item {
    const char *pool;
    const char *vol;          /* NULL for the pool */
    const char *what;         /* "capacity", "mode", "owner", "format"... */
    const char *detail;       /* "40 GiB, desired 20 GiB"; may be NULL */
} pk_drift_item;

/* Note drift seen now, in one transaction: an open drift of the same
 * (pool, vol, what) gets last_seen and detail updated, otherwise one is
 * opened. ret_new (n entries, or NULL) says which were opened now. */
int pk_store_drift_note(pk_store *s, const pk_drift_item *items, size_t n, bool *ret_new,
                        pk_err **err);
/* Resolve the open drift of an object: `what` NULL = all of it; vol NULL
 * with what NULL = the pool and all its volumes. Returns how many. */
int pk_store_drift_resolve(pk_store *s, const char *pool, const char *vol, const char *what,
                           pk_err **err);

typedef struct pk_drift {
    int64_t id;
    char *pool, *vol, *what, *detail;
    int64_t first_seen_ms, last_seen_ms;
    int64_t resolved_ms;      /* 0 = open */
} pk_drift;
/* Open drift only, or all (`all`), by pool, vol, what. */
int pk_store_drift_list(pk_store *s, bool all, pk_drift **ret, size_t *ret_n, pk_err **err);
void pk_drifts_free(pk_drift *d, size_t n);

/* ---- events for notifications ---- */

typedef struct pk_event {
    int64_t id;               /* increasing */
    int64_t at_ms;
    char *kind;               /* "applied", "failed", "drift", "blocked"... */
    int64_t run;              /* 0 = none */
    char *pool, *vol;
    char *message;
    char *data;               /* JSON text or NULL */
    int64_t delivered_ms;     /* 0 = not yet */
} pk_event;
void pk_events_free(pk_event *e, size_t n);

int pk_store_event_append(pk_store *s, const char *kind, int64_t run, const char *pool,
                          const char *vol, const char *message, const char *data,
                          int64_t *ret_id, pk_err **err);
/* Events with id > after_id, oldest first, at most limit (0 = all);
 * only those not delivered yet when `pending`. */
int pk_store_events_list(pk_store *s, int64_t after_id, size_t limit, bool pending,
                         pk_event **ret, size_t *ret_n, pk_err **err);
int pk_store_event_delivered(pk_store *s, int64_t id, pk_err **err);

/* ---- image probe cache ----
 * Probing an image (qemu-img info, header reads) is dear; its result is kept
 * keyed by what changes when the file does. One entry per path. */

typedef struct pk_probe_key {
    const char *path;
    uint64_t dev, ino, size;
    int64_t mtime_ns;
} pk_probe_key;

/* 1 and *ret_result (caller frees) if the entry of key->path has exactly this
 * dev, ino, size and mtime; 0 on a miss; -1 on error. */
int pk_store_probe_get(pk_store *s, const pk_probe_key *key, char **ret_result, pk_err **err);
/* Store results (any text, e.g. JSON) for n keys in one transaction,
 * replacing what each path had. */
int pk_store_probe_put(pk_store *s, const pk_probe_key *keys, const char *const *results,
                       size_t n, pk_err **err);
int pk_store_probe_forget(pk_store *s, const char *path, pk_err **err);

/* ---- suspension (suspend.c) ----
 * While suspended, `poolkeeper run` still observes and records (drift
 * included) but applies nothing. Writing it needs no lock. */
int pk_store_suspended(pk_store *s, bool *ret_on, int64_t *ret_since_ms, char **ret_reason,
                       pk_err **err);
/* Record a suspension (on, with an optional reason) or its end, as a
 * 'suspended' or 'resumed' event. *ret_reason of pk_store_suspended is
 * that reason (NULL when none was given). */
int pk_store_suspend_set(pk_store *s, bool on, const char *reason, pk_err **err);
