/* The plan: a pure function of (desired, observed, ownership, policy) to an
 * ordered list of actions. It never touches storage, so it is tested with
 * hand-built inputs. */
#pragma once
#include "../desired/desired.h"
#include "../backends/observed.h"

typedef enum { PK_DRIFT_CORRECT, PK_DRIFT_REPORT, PK_DRIFT_LAST } pk_drift_mode;
PK_ENUM_DECL(pk_drift_mode);
typedef enum { PK_ADOPT_NEVER, PK_ADOPT_MATCHING, PK_ADOPT_LAST } pk_adopt_mode;
PK_ENUM_DECL(pk_adopt_mode);

typedef struct pk_policy {
    bool prune;
    bool allow_shrink;
    bool allow_pool_delete;
    bool allow_format;
    int max_delete_percent;     /* 25 */
    bool allow_mass_delete;     /* --allow-mass-delete for this run */
    pk_drift_mode drift;
    pk_adopt_mode adopt;
} pk_policy;
void pk_policy_defaults(pk_policy *p);

/* One owned object. vol == NULL for a pool. */
typedef struct {
    char *pool;
    char *vol;
    char *identity;             /* as pk_obs_*::identity at the time of taking it */
    /* What the volume looked like after poolkeeper's last change to it:
     * an observed value that differs from these changed outside
     * poolkeeper (drift); a desired value that differs is a wanted change. */
    bool has_applied;
    uint64_t applied_capacity;
    int64_t applied_mode, applied_uid, applied_gid;   /* -1 unknown */
} pk_owned;

/* items are sorted by pool, then vol (NULL first), as the store returns
 * them; pk_ownership_find relies on it (pk_ownership_sort otherwise).
 * Neighbouring items of one pool may share one `pool` string, which
 * pk_ownership_free frees once. */
typedef struct pk_ownership {
    pk_owned *items; size_t n;
} pk_ownership;
void pk_ownership_sort(pk_ownership *o);
bool pk_ownership_sorted(const pk_ownership *o);
void pk_ownership_free(pk_ownership *o);
const pk_owned *pk_ownership_find(const pk_ownership *o, const char *pool, const char *vol);

typedef enum {
    PK_ACT_POOL_DEFINE, PK_ACT_POOL_BUILD, PK_ACT_POOL_START, PK_ACT_POOL_STOP,
    PK_ACT_POOL_DELETE, PK_ACT_VOL_CREATE, PK_ACT_VOL_RESIZE, PK_ACT_VOL_UPDATE,
    PK_ACT_VOL_DELETE, PK_ACT_ADOPT, PK_ACT_LAST
} pk_action_kind;
PK_ENUM_DECL(pk_action_kind);   /* "pool.define", ..., "vol.delete", "adopt" */

typedef enum { PK_RISK_SAFE, PK_RISK_DESTRUCTIVE, PK_RISK_LAST } pk_risk;
PK_ENUM_DECL(pk_risk);

typedef struct pk_action {
    pk_action_kind kind;
    char *pool;                 /* pool name */
    char *vol;                  /* volume name or NULL */
    pk_pool_type pool_type;
    pk_risk risk;
    char *before;               /* human: "10 GiB", "mode 0644", NULL */
    char *after;
    uint64_t before_bytes, after_bytes;
    char *reason;               /* "pools/a/b.xml:1 @3f2a9c1" or "removed from desired in 3f2a9c1" */
    bool blocked;
    char *blocked_why;          /* "shrinking needs policy allow_shrink" */
    bool drift;                 /* corrects drift (changed outside poolkeeper) */
    int depends_on;             /* index of the action this one needs, -1 */
    const char *allowed_by;     /* policy key that lets this action run ("prune",
                                 * "allow_shrink", "adopt"...): static string or NULL */
    /* Borrowed pointers into the inputs (valid while they live). */
    const pk_pool *dpool;
    const pk_vol *dvol;
    const pk_obs_vol *ovol;
} pk_action;

/* Something the plan cannot act on but must say: an unobservable pool, an
 * existing volume it does not own, an unmanaged file. */
typedef struct {
    char *pool, *vol;
    char *message;
    bool error;                 /* true: the run must report failure */
} pk_plan_note;

typedef struct pk_plan {
    pk_action *actions; size_t n_actions;
    pk_plan_note *notes; size_t n_notes;
    char *commit;               /* desired commit (copied) */
    char *ref;
    bool worktree;
} pk_plan;

pk_plan *pk_plan_compute(const pk_desired *desired, const pk_observed *observed,
                         const pk_ownership *owned, const pk_policy *policy);

/* The same with every input spelled out, so tests can hand the planner the
 * capabilities of a pool type without the backend registry. */
typedef unsigned (*pk_caps_fn)(pk_pool_type t);
typedef struct pk_plan_inputs {
    const pk_desired *desired;      /* required: a valid desired set */
    const pk_observed *observed;    /* NULL = nothing observed */
    const pk_ownership *owned;      /* NULL = owns nothing */
    const pk_policy *policy;        /* NULL = pk_policy_defaults() */
    pk_caps_fn caps_for;            /* NULL = pk_backend_for(t)->caps, 0 without backend */
    /* Saved definitions of pools no longer desired that hold something
     * owned (store: pool_def), in any order: their cleanup acts through
     * them. An owned pool without one is not planned (a note says why). */
    const pk_pool *const *retired;
    size_t n_retired;
} pk_plan_inputs;
pk_plan *pk_plan_compute_inputs(const pk_plan_inputs *in);
void pk_plan_free(pk_plan *p);
PK_DEFINE_CLEANUP(pk_plan, pk_plan_free)
size_t pk_plan_count_changes(const pk_plan *p);   /* unblocked actions */
size_t pk_plan_count_blocked(const pk_plan *p);

/* Output (plan_output.c). `state` is the state DB path shown in the header. */
char *pk_plan_format_text(const pk_plan *p, const char *state, bool color);
char *pk_plan_format_json(const pk_plan *p, const char *state);
