/* Which backend serves which pool type, and observing a pool through it. */
#include "backend.h"
#include "dir.h"
#ifdef PK_HAVE_BLKID
#include "fs.h"
#endif
#ifdef PK_HAVE_FDISK
#include "disk.h"
#endif
#ifdef PK_HAVE_BLKID
#include "logical.h"
#include "zfs.h"
#endif
#ifdef PK_HAVE_DEVMAPPER
#include "mpath.h"
#endif
#include "iscsi.h"
#include "scsi.h"
#include "sheepdog.h"
#include "vstorage.h"
#ifdef PK_HAVE_RBD
#include "rbd.h"
#endif
#ifdef PK_HAVE_GFAPI
#include "gluster.h"
#endif
#ifdef PK_HAVE_LIBISCSI
#include "iscsi_direct.h"
#endif

/* Backends that need an optional library are listed under #if of that
 * library (see meson.build). */
static const pk_backend *const backends[] = {
    &pk_backend_dir,
#ifdef PK_HAVE_BLKID
    &pk_backend_fs,
    &pk_backend_netfs,
#endif
#ifdef PK_HAVE_FDISK
    &pk_backend_disk,
#endif
#ifdef PK_HAVE_BLKID
    &pk_backend_logical,
    &pk_backend_zfs,
#endif
#ifdef PK_HAVE_DEVMAPPER
    &pk_backend_mpath,
#endif
    &pk_backend_iscsi,
    &pk_backend_scsi,
    &pk_backend_vstorage,
    &pk_backend_sheepdog,
#ifdef PK_HAVE_RBD
    &pk_backend_rbd,
#endif
#ifdef PK_HAVE_GFAPI
    &pk_backend_gluster,
#endif
#ifdef PK_HAVE_LIBISCSI
    &pk_backend_iscsi_direct,
#endif
};

const pk_backend *pk_backend_for(pk_pool_type t)
{
    for (size_t i = 0; i < PK_NELEM(backends); i++)
        if (backends[i]->type == t)
            return backends[i];
    return NULL;
}

void pk_backend_observe(pk_bctx *c, const pk_pool *def, pk_obs_pool *out)
{
    pk_obs_pool_clear(out);
    out->name = pk_strdup(def->name);
    out->type = def->type;
    out->observed_at_ms = pk_now_ms();

    const pk_backend *b = pk_backend_for(def->type);
    if (!b) {
        const char *t = pk_pool_type_to_string(def->type);
        out->error = pk_err_new(NULL, 0, 0, "pool type '%s' is not supported by this build",
                                t ? t : "unknown");
        return;
    }
    pk_err *e = NULL;
    if (b->observe_pool(c, def, out, &e) < 0) {
        pk_wrap(&e, "cannot observe pool '%s'", def->name);
        out->error = e;
        return;
    }
    if (out->state != PK_POOL_RUNNING)
        return;
    if (b->observe_vols(c, def, out, &e) < 0) {
        /* The pool is there but its volumes are unknown, not absent. */
        pk_wrap(&e, "cannot list the volumes of pool '%s'", def->name);
        out->error = e;
        out->vols_observed = false;
    }
}

static pk_fault_hook fault_hook;

void pk_backend_set_fault_hook(pk_fault_hook fn)
{
    fault_hook = fn;
}

bool pk_backend_fault(const char *point, const char *object)
{
    return fault_hook && fault_hook(point, object);
}
