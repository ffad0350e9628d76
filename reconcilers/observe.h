/* Observation of the desired pools through their backends, and the
 * libvirt-style XML of what was observed (`poolkeeper dumpxml`). */
#pragma once
#include "../backends/backend.h"
#include "../desired/desired.h"

/* Observe every desired pool (and its volumes when the pool is running).
 * Never fails as a whole: per-pool errors land in the pool's `error`. */
pk_observed *pk_observe_desired(pk_bctx *c, const pk_desired *d);

/* Observed state as libvirt XML: the desired definition with live values
 * (capacity/allocation/available; for volumes key = path, physical, format,
 * permissions, timestamps, backing store). Caller frees. */
char *pk_dumpxml_pool(const pk_pool *def, const pk_obs_pool *obs);
char *pk_dumpxml_vol(const pk_pool *def, const pk_obs_vol *obs);
