/* sheepdog: libvirt removed its backend in 8.8.0 and the cluster's `dog`
 * tool is not packaged any more. Its pools are parsed and validated like
 * every other type, and observing one is an error on that pool, so that a
 * plan never shows it as silently empty or absent. */
#include "sheepdog.h"

static int sheepdog_observe(pk_bctx *c PK_UNUSED, const pk_pool *def PK_UNUSED,
                            pk_obs_pool *out PK_UNUSED, pk_err **err)
{
    return pk_fail(err, "sheepdog is not supported (libvirt dropped it in 8.8.0 and its 'dog' tool is not packaged)");
}

const pk_backend pk_backend_sheepdog = {
    .type = PK_POOL_SHEEPDOG,
    .caps = 0,
    .observe_pool = sheepdog_observe,
    .observe_vols = sheepdog_observe,
};
