/* The backend contract: one table of operations per pool type, plus the
 * capability flags the planner asks (it never asks pool types).
 *
 * Every operation is idempotent: called again after a crash at any point it
 * finishes the job or finds it done. Creation is atomic where the storage
 * allows (temporary name, then rename), so no half-made volume ever carries
 * its final name. Operations never print; they return -1 and fill *err. */
#pragma once
#include "observed.h"
#include "runner.h"

enum {
    PK_CAP_BUILD        = 1 << 0,  /* build: mkdir / mkfs / label / vgcreate */
    PK_CAP_START        = 1 << 1,  /* start/stop mean something (mount, activate) */
    PK_CAP_DELETE_POOL  = 1 << 2,
    PK_CAP_CREATE_VOL   = 1 << 3,
    PK_CAP_RESIZE_VOL   = 1 << 4,  /* grow */
    PK_CAP_SHRINK_VOL   = 1 << 5,
    PK_CAP_UPDATE_VOL   = 1 << 6,  /* owner/group/mode/label */
    PK_CAP_DELETE_VOL   = 1 << 7,
    PK_CAP_IMAGE_FORMATS = 1 << 8, /* volumes carry qemu image formats */
    PK_CAP_BACKING      = 1 << 9,  /* volumes may have a backing store */
    PK_CAP_SNAP_BACKING = 1 << 10, /* ... that is a snapshot of a volume: "VOLPATH@SNAPSHOT" (rbd clones) */
};

/* Probe results of files kept across observations by whoever runs the
 * backends (the engine keeps them in the state DB), so that an image is
 * read, or `qemu-img info` run, only when the file changed. A key names
 * the file and what any change to it alters; backends check more (the
 * inode change time) inside the result, which is their own text. */
typedef struct pk_probe_stamp {
    const char *path;
    uint64_t dev, ino, size;
    int64_t mtime_ns;
} pk_probe_stamp;

typedef struct pk_probe_cache {
    /* 1 and *result (caller frees) when `key` has a result, else 0. */
    int (*get)(void *opaque, const pk_probe_stamp *key, char **result);
    /* Remember `result` for `key`; it may be kept back until flush. */
    void (*put)(void *opaque, const pk_probe_stamp *key, const char *result);
    /* One pool's observation is over: write what put gathered. */
    void (*flush)(void *opaque);
    void *opaque;
} pk_probe_cache;

/* Context handed to every operation. */
typedef struct pk_bctx {
    const char *secrets_dir;  /* design.md §5 */
    const char *ceph_conf;    /* ceph.conf for rbd pools; NULL = librados' own search */
    const char *root_prefix;  /* tests: prepended to nothing yet; reserved */
    bool allow_format;        /* policy: may build over existing data/signatures */
    bool allow_shrink;
    /* Skip the fsyncs that make each operation durable before it returns.
     * The engine sets it for the operations of a batch when the backend has
     * a `sync` op, and calls that once before committing the batch's results
     * (one syncfs instead of two fsyncs per volume). Tests and benchmarks
     * may set it too. */
    bool no_sync;
    void *priv;               /* backend connection cache: backends/conn_cache.h */
    const pk_probe_cache *probe_cache;  /* NULL: probe every file every time */
} pk_bctx;

typedef struct pk_backend {
    pk_pool_type type;
    unsigned caps;
    /* Must be non-NULL. Fills state/capacity/identity; on failure returns -1
     * and the caller records the pool as unobservable (never absent). */
    int (*observe_pool)(pk_bctx *c, const pk_pool *def, pk_obs_pool *out, pk_err **err);
    /* Must be non-NULL. Lists volumes of a RUNNING pool into out->vols. */
    int (*observe_vols)(pk_bctx *c, const pk_pool *def, pk_obs_pool *out, pk_err **err);
    int (*build)(pk_bctx *c, const pk_pool *def, pk_err **err);
    int (*start)(pk_bctx *c, const pk_pool *def, pk_err **err);
    int (*stop)(pk_bctx *c, const pk_pool *def, pk_err **err);
    /* Removes the pool's storage; must refuse if anything not listed in
     * `owned_vols` (names) remains in it. */
    int (*delete_pool)(pk_bctx *c, const pk_pool *def, char *const *owned_vols, pk_err **err);
    /* Creates the volume atomically; fills *out with the observed result. */
    int (*create_vol)(pk_bctx *c, const pk_pool *def, const pk_vol *vol, pk_obs_vol *out, pk_err **err);
    int (*resize_vol)(pk_bctx *c, const pk_pool *def, const pk_vol *vol, const pk_obs_vol *cur,
                      uint64_t new_capacity, pk_obs_vol *out, pk_err **err);
    int (*update_vol)(pk_bctx *c, const pk_pool *def, const pk_vol *vol, const pk_obs_vol *cur,
                      pk_obs_vol *out, pk_err **err);
    /* Deletes exactly the object observed as `cur` (identity checked right
     * before acting, so a replaced file is never removed). */
    int (*delete_vol)(pk_bctx *c, const pk_pool *def, const pk_obs_vol *cur, pk_err **err);
    /* Optional. Make durable everything operations did in this pool since
     * the last sync (for the dir backend: syncfs on its filesystem). */
    int (*sync)(pk_bctx *c, const pk_pool *def, pk_err **err);
    void (*close)(pk_bctx *c);   /* drop connections in c->priv */
} pk_backend;

/* The backend for a pool type; NULL when this build has none (the caller
 * reports "pool type X is not supported by this build") or its module
 * cannot be loaded (pk_backend_observe puts why in the pool's error). The
 * first lookup of a network pool type loads its module (registry.c). */
const pk_backend *pk_backend_for(pk_pool_type t);
/* As pk_backend_for, or -1 with why there is none: the module's load
 * error, or "pool type 'X' is not supported by this build". */
int pk_backend_require(pk_pool_type t, const pk_backend **ret, pk_err **err);
/* As pk_backend_for, but NULL rather than loading a module: for closing
 * connections, which a backend never loaded has none of. */
const pk_backend *pk_backend_loaded(pk_pool_type t);
/* Observe one desired pool (pool and, if running, its volumes). Never fails:
 * errors land in out->error. */
void pk_backend_observe(pk_bctx *c, const pk_pool *def, pk_obs_pool *out);

/* Tests: a process-global hook asked at named points inside operations
 * ("vol.create.before-rename", ...). When it returns true the operation stops
 * there with an error and without cleaning up, as if the process had died,
 * so tests can check what a crash at that point leaves behind. */
typedef bool (*pk_fault_hook)(const char *point, const char *object);
void pk_backend_set_fault_hook(pk_fault_hook fn);
/* For backends: true when the hook wants the operation to stop at `point`. */
bool pk_backend_fault(const char *point, const char *object);
