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
        if (i == 0 || o->items[i].pool != o->items[i - 1].pool) free(o->items[i].pool);
        free(o->items[i].vol);
        free(o->items[i].identity);
    }
    free(o->items);
    o->items = NULL;
    o->n = 0;
}

/* vol == NULL looks up the pool itself; a pool entry never matches a volume
 * lookup and the other way round. */
/* Order of pk_ownership items: by pool, then the pool's own entry (vol
 * NULL) before its volumes, then by volume: the store's ORDER BY pool, vol. */
static int owned_cmp(const char *pa, const char *va, const char *pb, const char *vb)
{
    int c = strcmp(pa, pb);
    if (c) return c;
    if (!va || !vb) return (va != NULL) - (vb != NULL);
    return strcmp(va, vb);
}

static int owned_qsort_cmp(const void *a, const void *b)
{
    const pk_owned *x = a, *y = b;
    return owned_cmp(x->pool, x->vol, y->pool, y->vol);
}

void pk_ownership_sort(pk_ownership *o)
{
    if (o && o->n > 1) qsort(o->items, o->n, sizeof(*o->items), owned_qsort_cmp);
}

bool pk_ownership_sorted(const pk_ownership *o)
{
    for (size_t i = 1; o && i < o->n; i++)
        if (owned_qsort_cmp(&o->items[i - 1], &o->items[i]) > 0) return false;
    return true;
}

/* Binary search: planning 100,000 volumes asks this for each of them. */
const pk_owned *pk_ownership_find(const pk_ownership *o, const char *pool, const char *vol)
{
    if (!o || !pool) return NULL;
    size_t lo = 0, hi = o->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const pk_owned *w = &o->items[mid];
        int c = owned_cmp(w->pool, w->vol, pool, vol);
        if (c == 0) return w;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}
