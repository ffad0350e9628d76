/* Observation of the desired pools through their backends, and the
 * libvirt-style XML of what was observed (`poolkeeper dumpxml`). */
#pragma once
#include "../backends/backend.h"
#include "../desired/desired.h"

/* Called before observing pool `index` of n, and once more with index n
 * and pool NULL at the end (progress display). */
typedef void (*pk_observe_progress)(size_t index, size_t n, const char *pool, void *opaque);

/* Observe each of n pools (and its volumes when the pool is running), in
 * that order. Never fails as a whole: per-pool errors land in the pool's
 * `error`. progress may be NULL. */
pk_observed *pk_observe_pools(pk_bctx *c, const pk_pool *const *pools, size_t n,
                              pk_observe_progress progress, void *opaque);

/* Observed state as libvirt XML: the desired definition with live values
 * (capacity/allocation/available; for volumes key = path, physical, format,
 * permissions, timestamps, backing store). Caller frees. */
char *pk_dumpxml_pool(const pk_pool *def, const pk_obs_pool *obs);
char *pk_dumpxml_vol(const pk_pool *def, const pk_obs_vol *obs);
