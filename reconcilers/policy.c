/* Policy defaults (design.md §5) and the ownership set the planner consults.
 * Every destructive permission starts off: an operator opts in, never out. */
#include "plan.h"

PK_ENUM_IMPL(pk_drift_mode, PK_DRIFT_LAST, "correct", "report");
PK_ENUM_IMPL(pk_adopt_mode, PK_ADOPT_LAST, "never", "matching");

void pk_policy_defaults(pk_policy *p)
{
    *p = (pk_policy){
        .prune = false,
        .allow_shrink = false,
        .allow_pool_delete = false,
        .allow_format = false,
        .max_delete_percent = 25,
        .allow_mass_delete = false,
        .drift = PK_DRIFT_CORRECT,
        .adopt = PK_ADOPT_NEVER,
    };
}

/* Frees the items; the pk_ownership itself belongs to the caller (it is
 * usually a local or a member), and is left empty for reuse. */
void pk_ownership_free(pk_ownership *o)
{
    if (!o) return;
    for (size_t i = 0; i < o->n; i++) {
        free(o->items[i].pool);
        free(o->items[i].vol);
        free(o->items[i].identity);
        free(o->items[i].key);
    }
    free(o->items);
    o->items = NULL;
    o->n = 0;
}

/* vol == NULL looks up the pool itself; a pool entry never matches a volume
 * lookup and the other way round. */
const pk_owned *pk_ownership_find(const pk_ownership *o, const char *pool, const char *vol)
{
    if (!o || !pool) return NULL;
    for (size_t i = 0; i < o->n; i++) {
        const pk_owned *w = &o->items[i];
        if (pk_streq(w->pool, pool) && pk_streq(w->vol, vol)) return w;
    }
    return NULL;
}
