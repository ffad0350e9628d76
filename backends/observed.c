/* Observed state: freeing and lookups. */
#include "observed.h"
#include <sys/statvfs.h>

PK_ENUM_IMPL(pk_pool_state, PK_POOL_STATE_LAST, "absent", "inactive", "running");

static void perms_clear(pk_perms *p)
{
    free(p->label);
    *p = (pk_perms){ .mode = -1, .uid = -1, .gid = -1 };
}

void pk_obs_pool_set_usage(pk_obs_pool *p, const struct statvfs *sv)
{
    /* f_bfree, not f_bavail: root-reserved blocks count as available. */
    p->capacity = (uint64_t)sv->f_frsize * sv->f_blocks;
    p->available = (uint64_t)sv->f_frsize * sv->f_bfree;
    p->allocation = p->capacity - p->available;
}

void pk_obs_vol_clear(pk_obs_vol *v)
{
    if (!v) return;
    free(v->name);
    if (v->key != v->path) free(v->key);
    free(v->path);
    perms_clear(&v->perms);
    free(v->identity);
    free(v->backing_path);
    free(v->error);
    free(v->extents);
    free(v->part_type);
    memset(v, 0, sizeof(*v));
    v->format = -1;
    v->backing_format = -1;
    v->perms = (pk_perms){ .mode = -1, .uid = -1, .gid = -1 };
}

void pk_obs_pool_clear(pk_obs_pool *p)
{
    if (!p) return;
    free(p->name);
    pk_err_free(p->error);
    perms_clear(&p->perms);
    free(p->identity);
    free(p->probe);
    free(p->unlisted);
    free(p->free_extents);
    for (size_t i = 0; i < p->n_vols; i++)
        pk_obs_vol_clear(&p->vols[i]);
    free(p->vols);
    memset(p, 0, sizeof(*p));
    p->perms = (pk_perms){ .mode = -1, .uid = -1, .gid = -1 };
}

void pk_observed_free(pk_observed *o)
{
    if (!o) return;
    for (size_t i = 0; i < o->n_pools; i++)
        pk_obs_pool_clear(&o->pools[i]);
    free(o->pools);
    free(o);
}

const pk_obs_pool *pk_observed_find_pool(const pk_observed *o, const char *name)
{
    if (!o || !name) return NULL;
    for (size_t i = 0; i < o->n_pools; i++)
        if (pk_streq(o->pools[i].name, name))
            return &o->pools[i];
    return NULL;
}

static int cmp_vol_name(const void *key, const void *elem)
{
    return strcmp(key, ((const pk_obs_vol *)elem)->name);
}

const pk_obs_vol *pk_obs_pool_find_vol(const pk_obs_pool *p, const char *name)
{
    if (!p || !name || !p->n_vols) return NULL;
    /* vols are sorted by name (observed.h); a miss is confirmed by a scan so
     * that a list filled out of order can never make a volume look absent. */
    const pk_obs_vol *v = bsearch(name, p->vols, p->n_vols, sizeof(*p->vols), cmp_vol_name);
    if (v) return v;
    for (size_t i = 0; i < p->n_vols; i++)
        if (pk_streq(p->vols[i].name, name))
            return &p->vols[i];
    return NULL;
}
