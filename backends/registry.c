/* Which backend serves which pool type, and observing a pool through it.
 *
 * The network backends (rbd, gluster, iscsi-direct) are modules, loaded the
 * first time a pool of their type is looked up: their libraries (librbd with
 * Ceph's C++ runtime, libgfapi, libiscsi) would cost every run tens of
 * milliseconds and megabytes at start, and most runs have no such pool. A
 * module is pk-backend-TYPE.so in $POOLKEEPER_MODULE_DIR, else in
 * PK_MODULE_DIR; it takes poolkeeper's own functions from the executable
 * (linked with --export-dynamic) and exports its table under the name its
 * header declares. A program that links a network backend in (its unit
 * tests) uses that copy instead and loads nothing. */
#include "backend.h"
#include "module.h"
#include "pk-config.h"
#include <dlfcn.h>
#include <pthread.h>
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
/* Weak: defined only in programs that link the backend in. */
#ifdef PK_HAVE_RBD
#include "rbd.h"
#pragma weak pk_backend_rbd
#endif
#ifdef PK_HAVE_GFAPI
#include "gluster.h"
#pragma weak pk_backend_gluster
#endif
#ifdef PK_HAVE_LIBISCSI
#include "iscsi_direct.h"
#pragma weak pk_backend_iscsi_direct
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
};

/* Network backends, built as modules where their library was found. */
typedef struct net_backend {
    pk_pool_type type;
    const char *module;         /* file name in the module directory */
    const char *symbol;         /* its pk_backend table */
    const pk_backend *linked;   /* the table when this program links the backend in */
    /* The first lookup's outcome, kept for the life of the process (the
     * module is never unloaded): the table, or why there is none. */
    bool tried;
    const pk_backend *loaded;
    char *error;
} net_backend;

static net_backend net_backends[] = {
#ifdef PK_HAVE_RBD
    { PK_POOL_RBD, "pk-backend-rbd.so", "pk_backend_rbd", &pk_backend_rbd, false, NULL, NULL },
#endif
#ifdef PK_HAVE_GFAPI
    { PK_POOL_GLUSTER, "pk-backend-gluster.so", "pk_backend_gluster", &pk_backend_gluster, false, NULL, NULL },
#endif
#ifdef PK_HAVE_LIBISCSI
    { PK_POOL_ISCSI_DIRECT, "pk-backend-iscsi-direct.so", "pk_backend_iscsi_direct",
      &pk_backend_iscsi_direct, false, NULL, NULL },
#endif
};

/* Guards the lookups of net_backends (the service's threads may race). */
static pthread_mutex_t net_lock = PTHREAD_MUTEX_INITIALIZER;

static net_backend *net_find(pk_pool_type t)
{
    for (size_t i = 0; i < PK_NELEM(net_backends); i++)
        if (net_backends[i].type == t)
            return &net_backends[i];
    return NULL;
}

/* dlerror()'s text without the module's path in front, which the messages
 * below give already. */
static const char *dl_reason(const char *path)
{
    const char *e = dlerror();
    if (!e) return "unknown error";
    size_t n = strlen(path);
    if (strncmp(e, path, n) == 0 && strncmp(e + n, ": ", 2) == 0) e += n + 2;
    return e;
}

/* Under net_lock, once per backend: find its table. */
static void net_load(net_backend *n)
{
    n->tried = true;
    if (n->linked) {
        n->loaded = n->linked;
        return;
    }
    const char *dir = getenv("POOLKEEPER_MODULE_DIR");
    _cleanup_free_ char *path = pk_asprintf("%s/%s", dir && *dir ? dir : PK_MODULE_DIR, n->module);
    const char *type = pk_pool_type_to_string(n->type);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        n->error = pk_asprintf("pool type '%s' needs module '%s': %s", type, path, dl_reason(path));
        return;
    }
    const char *version = dlsym(h, PK_BACKEND_MODULE_VERSION_SYMBOL);
    if (!version) {
        n->error = pk_asprintf("pool type '%s' needs module '%s', which is not a poolkeeper backend module",
                               type, path);
        dlclose(h);
        return;
    }
    if (!pk_streq(version, PK_VERSION_STRING)) {
        n->error = pk_asprintf("pool type '%s' needs module '%s' of poolkeeper %s, but it is of poolkeeper %s",
                               type, path, PK_VERSION_STRING, version);
        dlclose(h);
        return;
    }
    const pk_backend *b = dlsym(h, n->symbol);
    if (!b || b->type != n->type) {
        n->error = pk_asprintf("pool type '%s' needs module '%s', which has no table '%s' for it", type,
                               path, n->symbol);
        dlclose(h);
        return;
    }
    n->loaded = b;
}

/* The backend for t, loading its module when `load` says so. NULL when
 * there is none, with *why the module's error (kept for the life of the
 * process) or NULL: no backend in this build, or a module not tried yet. */
static const pk_backend *lookup(pk_pool_type t, bool load, const char **why)
{
    *why = NULL;
    for (size_t i = 0; i < PK_NELEM(backends); i++)
        if (backends[i]->type == t)
            return backends[i];
    net_backend *n = net_find(t);
    if (!n) return NULL;
    pthread_mutex_lock(&net_lock);
    if (!n->tried && load) net_load(n);
    const pk_backend *b = n->loaded;
    *why = n->error;
    pthread_mutex_unlock(&net_lock);
    return b;
}

const pk_backend *pk_backend_for(pk_pool_type t)
{
    const char *why;
    return lookup(t, true, &why);
}

int pk_backend_require(pk_pool_type t, const pk_backend **ret, pk_err **err)
{
    const char *why;
    *ret = lookup(t, true, &why);
    if (*ret) return 0;
    if (why) return pk_fail(err, "%s", why);
    const char *name = pk_pool_type_to_string(t);
    return pk_fail(err, "pool type '%s' is not supported by this build", name ? name : "unknown");
}

const pk_backend *pk_backend_loaded(pk_pool_type t)
{
    const char *why;
    return lookup(t, false, &why);
}

void pk_backend_observe(pk_bctx *c, const pk_pool *def, pk_obs_pool *out)
{
    pk_obs_pool_clear(out);
    out->name = pk_strdup(def->name);
    out->type = def->type;
    out->observed_at_ms = pk_now_ms();

    const char *why;
    const pk_backend *b = lookup(def->type, true, &why);
    if (!b) {
        pk_backend_require(def->type, &b, &out->error);
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
