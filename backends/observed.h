/* What the backends saw: the observed state of pools and volumes. Plain data,
 * filled by backends, recorded by the store, read by the planner. */
#pragma once
#include "../desired/model.h"

typedef enum {
    PK_POOL_ABSENT = 0,       /* nothing there: can be built */
    PK_POOL_INACTIVE,         /* built (exists) but not started/mounted */
    PK_POOL_RUNNING,          /* usable */
    PK_POOL_STATE_LAST
} pk_pool_state;
PK_ENUM_DECL(pk_pool_state);  /* "absent", "inactive", "running" */

typedef struct pk_obs_vol {
    char *name;
    char *key;                /* absolute path for file volumes (libvirt's key); may be
                               * the very string `path` is (freed once) */
    char *path;
    pk_vol_type type;
    int format;               /* pk_img_format (file pools) / pool type specific; -1 unknown */
    uint64_t capacity;        /* virtual size in bytes */
    uint64_t allocation;      /* bytes actually used (st_blocks * 512 for files) */
    uint64_t physical;        /* size on host (st_size for files) */
    pk_perms perms;
    char *identity;           /* survives renames, detects replacement: "dev:ino[:btime]" for
                               * files (pk_file_identity: inode numbers get reused) */
    char *backing_path;       /* backing file, or NULL */
    int backing_format;       /* -1 unknown */
    bool encrypted;
    /* File images (fileprobe.c): what the header says. */
    int enc_format;           /* pk_enc_format when encrypted (luks, qcow), else 0 */
    char compat[8];           /* qcow2: "0.10" or "1.1"; "" otherwise */
    uint64_t cluster_size;    /* qcow2 and qed; 0 = not applicable */
    bool lazy_refcounts;      /* qcow2 features */
    bool extended_l2;
    bool nocow;               /* FS_NOCOW_FL set (btrfs) */
    unsigned n_snapshots;     /* rbd: snapshots of the image, deleted with it */
    int64_t mtime_ns;         /* for caching image probes */
    pk_timestamp atime, mtime, ctime, btime;
    char *error;              /* this volume could not be fully observed (not "absent") */
    /* Block volumes carved out of a device (disk partitions): where they lie
     * on it, in bytes, end exclusive (libvirt's <source><extent>). */
    pk_extent *extents; size_t n_extents;
    char *part_type;          /* disk pools: "primary", "logical" or "extended" */
} pk_obs_vol;

typedef struct pk_obs_pool {
    char *name;               /* the desired pool this observation is for */
    pk_pool_type type;
    pk_pool_state state;
    pk_err *error;            /* observe failed: the pool's state is UNKNOWN, never absent */
    uint64_t capacity, allocation, available;
    pk_perms perms;
    char *identity;           /* "dev:ino" of the target dir, etc. */
    bool nonempty;            /* holds anything at all (for build safety) */
    /* What the pool holds besides its volumes, which keeps it from being
     * deleted ("logical volume 'tpool'"): NULL when nothing. */
    char *unlisted;
    char *probe;              /* what the source device holds, for plans: "ext4 filesystem UUID ..." */
    /* Unpartitioned space of a disk pool, bytes, end exclusive (libvirt's
     * <source><device><freeExtent>). */
    pk_extent *free_extents; size_t n_free_extents;
    pk_obs_vol *vols; size_t n_vols;   /* sorted by name; valid when vols_observed */
    bool vols_observed;
    int64_t observed_at_ms;
} pk_obs_pool;

typedef struct pk_observed {
    pk_obs_pool *pools; size_t n_pools;
} pk_observed;

/* A pool's capacity, available and allocation from its filesystem's
 * statvfs, as libvirt counts them. */
struct statvfs;
void pk_obs_pool_set_usage(pk_obs_pool *p, const struct statvfs *sv);
void pk_obs_vol_clear(pk_obs_vol *v);
void pk_obs_pool_clear(pk_obs_pool *p);
void pk_observed_free(pk_observed *o);
PK_DEFINE_CLEANUP(pk_observed, pk_observed_free)
const pk_obs_pool *pk_observed_find_pool(const pk_observed *o, const char *name);
const pk_obs_vol *pk_obs_pool_find_vol(const pk_obs_pool *p, const char *name);
