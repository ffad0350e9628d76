/* Observe desired pools; format observations as libvirt XML. */
#include "observe.h"

pk_observed *pk_observe_pools(pk_bctx *c, const pk_pool *const *pools, size_t n,
                              pk_observe_progress progress, void *opaque)
{
    pk_observed *o = PK_NEW(pk_observed);
    o->pools = pk_calloc(n ? n : 1, sizeof(pk_obs_pool));
    for (size_t i = 0; i < n; i++) {
        if (progress) progress(i, n, pools[i]->name, opaque);
        pk_obs_pool *p = &o->pools[o->n_pools++];
        pk_backend_observe(c, pools[i], p);
        if (!p->name) p->name = pk_strdup(pools[i]->name);
        p->type = pools[i]->type;
    }
    if (progress) progress(n, n, NULL, opaque);
    return o;
}

/* The model's formatter prints the struct it is given, so a live view is the
 * desired definition with the observed numbers put in a shallow copy. */
char *pk_dumpxml_pool(const pk_pool *def, const pk_obs_pool *obs)
{
    pk_pool live = *def;
    pk_pool_device dev0;
    if (obs) {
        live.capacity = obs->capacity;
        live.allocation = obs->allocation;
        live.available = obs->available;
        /* Free space of a disk pool, as libvirt's <freeExtent>s of its device. */
        if (obs->n_free_extents && def->source.n_devices > 0) {
            dev0 = def->source.devices[0];
            dev0.free_extents = obs->free_extents;
            dev0.n_free_extents = obs->n_free_extents;
            live.source.devices = &dev0;
            live.source.n_devices = 1;
        }
    }
    return pk_pool_format(&live);
}

char *pk_dumpxml_vol(const pk_pool *def, const pk_obs_vol *obs)
{
    pk_vol v = { 0 };
    v.type = obs->type;
    v.type_given = true;
    v.name = obs->name;
    v.key = obs->key ? obs->key : obs->path;
    v.capacity = obs->capacity;
    v.has_capacity = true;
    v.allocation = obs->allocation;
    v.has_allocation = true;
    v.physical = obs->physical;
    v.has_physical = obs->physical != 0;
    v.target.path = obs->path;
    v.target.format = obs->format;
    v.target.perms = obs->perms;
    pk_vol_times times = { obs->atime, obs->mtime, obs->ctime, obs->btime };
    v.target.times = &times;
    /* What the image header says, as libvirt's probe reports it. */
    v.target.compat = obs->compat[0] ? (char *)obs->compat : NULL;
    v.target.cluster_size = obs->cluster_size;
    v.target.lazy_refcounts = obs->lazy_refcounts;
    v.target.extended_l2 = obs->extended_l2;
    pk_encryption enc = { .format = (pk_enc_format)obs->enc_format };
    if (obs->encrypted) v.target.encryption = &enc;
    pk_backing_store bs = { 0 };
    if (obs->backing_path) {
        bs.path = obs->backing_path;
        bs.format = obs->backing_format;
        bs.perms.mode = bs.perms.uid = bs.perms.gid = -1;
        v.backing = &bs;
    }
    return pk_vol_format(def, &v);
}
