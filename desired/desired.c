/* The loaded desired set: lookup, citations, and freeing. Loading itself is
 * in repo.c. */
#include "desired.h"

void pk_desired_free(pk_desired *d)
{
    if (!d) return;
    for (size_t i = 0; i < d->n_pools; i++) {
        pk_desired_pool *p = &d->pools[i];
        for (size_t j = 0; j < p->n_vols; j++)
            pk_vol_free(p->vols[j]);
        free(p->vols);
        pk_pool_free(p->pool);
    }
    free(d->pools);
    free(d->commit);
    free(d->ref);
    free(d->root);
    free(d->subdir);
    pk_err_free(d->warnings);
    free(d);
}

/* Pools and volumes are kept sorted by name, so lookups bisect. */
const pk_desired_pool *pk_desired_find_pool(const pk_desired *d, const char *name)
{
    if (!d || !name) return NULL;
    size_t lo = 0, hi = d->n_pools;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, d->pools[mid].pool->name);
        if (c == 0) return &d->pools[mid];
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return NULL;
}

const pk_vol *pk_desired_find_vol(const pk_desired_pool *p, const char *name)
{
    if (!p || !name) return NULL;
    size_t lo = 0, hi = p->n_vols;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, p->vols[mid]->name);
        if (c == 0) return p->vols[mid];
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return NULL;
}

const char *pk_desired_short(const pk_desired *d, char buf[16])
{
    if (!d || d->worktree || !d->commit) return "worktree";
    snprintf(buf, 16, "%.7s", d->commit);
    return buf;
}

char *pk_desired_cite(const pk_desired *d, const char *file, int line)
{
    char buf[16];
    const char *at = pk_desired_short(d, buf);
    if (!file) return pk_asprintf("@%s", at);
    if (line > 0) return pk_asprintf("%s:%d @%s", file, line, at);
    return pk_asprintf("%s @%s", file, at);
}
