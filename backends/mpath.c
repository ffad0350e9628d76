/* The mpath backend (libvirt's storage_backend_mpath.c): one pool holds
 * every device-mapper multipath map of the machine, read with libdevmapper
 * (DM_DEVICE_LIST for the names, DM_DEVICE_TABLE for each map's targets,
 * its device number and UUID). multipathd makes and removes the maps, so
 * the pool can neither be built nor started, and its volumes cannot be
 * created, resized or deleted: a desired volume that is not there is
 * reported by the planner (the pool has no create capability).
 *
 * Volumes are named "dm-MINOR" and keyed by their /dev/mapper path, as
 * libvirt names them; their identity is the map's device-mapper UUID
 * ("mpath-WWID" for multipathd's maps). The pool runs whenever the kernel
 * has device-mapper; without it observing fails and says so. */
#include "mpath.h"
#include <libdevmapper.h>
#include <errno.h>
#include <sys/stat.h>

/* libdevmapper reports its errors through a log function, by default on
 * stderr: keep the last one for our own message instead. */
static char dm_last_error[256];

static void dm_log(int level, const char *file PK_UNUSED, int line PK_UNUSED, int dm_errno PK_UNUSED,
                   const char *fmt, ...)
{
    if (level > 3) return;   /* _LOG_ERR and worse */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dm_last_error, sizeof(dm_last_error), fmt, ap);
    va_end(ap);
}

static void dm_setup(void)
{
    static bool done;
    if (done) return;
    dm_log_with_errno_init(dm_log);
    done = true;
}

static int dm_fail(pk_err **err, const char *what)
{
    if (*dm_last_error)
        return pk_fail(err, "mpath: %s: %s", what, dm_last_error);
    return pk_fail(err, "mpath: %s", what);
}

static int mpath_observe_pool(pk_bctx *c PK_UNUSED, const pk_pool *def PK_UNUSED, pk_obs_pool *out,
                              pk_err **err)
{
    dm_setup();
    dm_last_error[0] = '\0';
    char version[64];
    if (!dm_driver_version(version, sizeof(version)))
        return dm_fail(err, "device-mapper is not available in this kernel (is dm_mod loaded?)");
    out->state = PK_POOL_RUNNING;
    return 0;
}

/* One map: its first target's type, its size and its identity. */
typedef struct {
    bool multipath;
    uint64_t sectors;
    uint32_t major, minor;
    char *uuid;
} dm_map;

static int read_map(const char *name, dm_map *m, pk_err **err)
{
    memset(m, 0, sizeof(*m));
    struct dm_task *t = dm_task_create(DM_DEVICE_TABLE);
    if (!t) return dm_fail(err, "cannot create a device-mapper task");
    int ret = -1;
    struct dm_info info;
    if (!dm_task_set_name(t, name) || !dm_task_run(t) || !dm_task_get_info(t, &info)) {
        _cleanup_free_ char *what = pk_asprintf("cannot read the table of map '%s'", name);
        dm_fail(err, what);
        goto out;
    }
    if (!info.exists) {   /* removed since it was listed */
        ret = 1;
        goto out;
    }
    m->major = info.major;
    m->minor = info.minor;
    const char *uuid = dm_task_get_uuid(t);
    m->uuid = uuid && *uuid ? pk_strdup(uuid) : NULL;
    void *next = NULL;
    bool first = true;
    do {
        uint64_t start, length;
        char *type = NULL, *params = NULL;
        next = dm_get_next_target(t, next, &start, &length, &type, &params);
        if (!type) break;
        if (first) m->multipath = strcmp(type, "multipath") == 0;
        first = false;
        m->sectors += length;
    } while (next);
    ret = 0;
out:
    dm_task_destroy(t);
    return ret;
}

static int cmp_obs_vol(const void *a, const void *b)
{
    return strcmp(((const pk_obs_vol *)a)->name, ((const pk_obs_vol *)b)->name);
}

static int mpath_observe_vols(pk_bctx *c PK_UNUSED, const pk_pool *def PK_UNUSED, pk_obs_pool *out,
                              pk_err **err)
{
    dm_setup();
    dm_last_error[0] = '\0';
    struct dm_task *t = dm_task_create(DM_DEVICE_LIST);
    if (!t) return dm_fail(err, "cannot create a device-mapper task");
    pk_obs_vol *vols = NULL;
    size_t n = 0;
    uint64_t total = 0;
    int ret = -1;
    if (!dm_task_run(t)) {
        dm_fail(err, "cannot list device-mapper maps");
        goto out;
    }
    struct dm_names *names = dm_task_get_names(t);
    for (unsigned nextoff = 0; names && names->dev; names = (struct dm_names *)((char *)names + nextoff)) {
        dm_map m;
        int r = read_map(names->name, &m, err);
        if (r < 0) goto out;
        if (r == 0 && m.multipath) {
            pk_obs_vol *v = PK_APPEND(vols, n);
            pk_obs_vol_clear(v);
            v->name = pk_asprintf("dm-%u", m.minor);
            v->path = pk_asprintf("/dev/mapper/%s", names->name);
            v->key = pk_strdup(v->path);
            v->identity = m.uuid ? pk_strdup(m.uuid)
                                 : pk_asprintf("dm:%s:%u:%u", names->name, m.major, m.minor);
            v->type = PK_VOL_BLOCK;
            v->capacity = v->allocation = v->physical = m.sectors * 512;
            v->atime.sec = v->mtime.sec = v->ctime.sec = v->btime.sec = -1;
            struct stat st;
            if (stat(v->path, &st) == 0)
                v->perms = (pk_perms){ .mode = st.st_mode & 07777, .uid = st.st_uid, .gid = st.st_gid };
            total += v->capacity;
        }
        free(m.uuid);
        nextoff = names->next;
        if (!nextoff) break;
    }
    if (n) qsort(vols, n, sizeof(*vols), cmp_obs_vol);
    for (size_t i = 0; i < out->n_vols; i++) pk_obs_vol_clear(&out->vols[i]);
    free(out->vols);
    out->vols = TAKE_PTR(vols);
    out->n_vols = n;
    out->vols_observed = true;
    out->capacity = out->allocation = total;
    out->available = 0;
    ret = 0;
out:
    for (size_t i = 0; vols && i < n; i++) pk_obs_vol_clear(&vols[i]);
    free(vols);
    dm_task_destroy(t);
    return ret;
}

const pk_backend pk_backend_mpath = {
    .type = PK_POOL_MPATH,
    .caps = 0,
    .observe_pool = mpath_observe_pool,
    .observe_vols = mpath_observe_vols,
};
