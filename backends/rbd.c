/* The rbd backend (libvirt's storage_backend_rbd.c).
 *
 * The pool is a RADOS pool that must exist: poolkeeper neither builds nor
 * deletes it (no PK_CAP_BUILD, "does not exist" is an observe error). Its
 * volumes are RBD images named as the volumes, key and path "POOL/IMAGE"
 * as libvirt shows them; the identity that ownership records is the image
 * id, which a rename keeps and a re-created image does not.
 *
 * Creation is atomic: the image is made (or cloned) under a temporary name
 * PK_RBD_TMP_PREFIX + host + "." + name, then renamed, and rbd_rename
 * refuses an existing name, so two hosts declaring one shared pool never
 * replace each other's image. A temporary left by a crash of this host is
 * removed by the next create of that volume.
 *
 * Observing opens every image read-only (no lock taken, nothing written) on
 * a few threads; allocation is what `rbd du` reports, the extents that
 * exist (rbd_diff_iterate2, whole objects, the object map when the image has
 * fast-diff), unless the pool says <refresh><volume allocation='capacity'/>.
 *
 * Deleting an image removes its snapshots first (policy prune is what
 * allows the delete at all), and is refused while a snapshot has clones or
 * the image has watchers (a VM using it). */
#include "rbd.h"
#include "rbd_conn.h"
#include <errno.h>
#include <pthread.h>
#include <rbd/librbd.h>

#define OBSERVE_THREADS 8

/* ---- names ---- */

static bool image_name_ok(const char *name)
{
    return pk_name_valid(name) && !strchr(name, '@') && !pk_str_has_prefix(name, PK_RBD_TMP_PREFIX);
}

static int check_name(const char *name, pk_err **err)
{
    if (!name || !pk_name_valid(name) || strchr(name, '@'))
        return pk_fail(err, "invalid RBD image name '%s'", name ? name : "");
    if (pk_str_has_prefix(name, PK_RBD_TMP_PREFIX))
        return pk_fail(err, "volume name '%s' uses the prefix '%s' reserved for poolkeeper's temporary images",
                       name, PK_RBD_TMP_PREFIX);
    return 0;
}

static char *tmp_name(const char *name)
{
    char host[256] = "localhost";
    if (gethostname(host, sizeof(host) - 1) == 0) {
        host[sizeof(host) - 1] = '\0';
        host[strcspn(host, ".")] = '\0';
    }
    return pk_asprintf("%s%s.%s", PK_RBD_TMP_PREFIX, host, name);
}

int pk_rbd_parse_snap_path(const char *path, char **pool, char **image, char **snap, pk_err **err)
{
    *pool = *image = *snap = NULL;
    const char *slash = path ? strchr(path, '/') : NULL;
    const char *at = slash ? strchr(slash + 1, '@') : NULL;
    if (!slash || slash == path || !at || at == slash + 1 || !at[1] || strchr(slash + 1, '/') ||
        strchr(at + 1, '@'))
        return pk_fail(err, "backing store '%s' does not name an RBD snapshot as 'POOL/IMAGE@SNAPSHOT'",
                       path ? path : "");
    *pool = pk_strndup(path, (size_t)(slash - path));
    *image = pk_strndup(slash + 1, (size_t)(at - slash - 1));
    *snap = pk_strdup(at + 1);
    return 0;
}

/* ---- connection helpers ---- */

typedef struct {
    pk_rados *r;
    rados_ioctx_t io;
} rbd_ctx;

static int open_ctx(pk_bctx *c, const pk_pool *def, rbd_ctx *x, pk_err **err)
{
    x->io = NULL;
    if (!def->source.name || !*def->source.name)
        return pk_fail(err, "pool '%s' names no Ceph pool (<source><name>)", def->name);
    if (pk_rados_connect(c, def, &x->r, err) < 0) return -1;
    return pk_rados_open_pool(x->r, def->source.name, &x->io, err);
}

static void close_ctx(rbd_ctx *x)
{
    if (x->io) rados_ioctx_destroy(x->io);
    x->io = NULL;
}

/* An error from librados/librbd: the message, and the cached connection
 * forgotten when the error says it is broken. */
static int PK_PRINTF(5, 6) rbd_fail(pk_bctx *c, const pk_pool *def, int rc, pk_err **err, const char *fmt, ...)
{
    if (pk_rados_conn_broken(rc)) pk_rados_forget(c, def);
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *msg = pk_vasprintf(fmt, ap);
    va_end(ap);
    return pk_fail_errno(err, -rc, "%s", msg);
}

/* ---- observing ---- */

static int pk_rbd_observe_pool(pk_bctx *c, const pk_pool *def, pk_obs_pool *out, pk_err **err)
{
    rbd_ctx x;
    if (open_ctx(c, def, &x, err) < 0) {
        close_ctx(&x);
        return -1;
    }
    struct rados_cluster_stat_t cs;
    struct rados_pool_stat_t ps;
    int rc = rados_cluster_stat(x.r->cluster, &cs);
    if (rc < 0) {
        close_ctx(&x);
        return rbd_fail(c, def, rc, err, "cannot get the usage of the Ceph cluster at '%s'", x.r->mons);
    }
    rc = rados_ioctx_pool_stat(x.io, &ps);
    if (rc < 0) {
        close_ctx(&x);
        return rbd_fail(c, def, rc, err, "cannot get the usage of Ceph pool '%s'", def->source.name);
    }
    /* As libvirt: the cluster's raw capacity and free space, the pool's bytes. */
    out->state = PK_POOL_RUNNING;
    out->capacity = cs.kb * 1024;
    out->available = cs.kb_avail * 1024;
    out->allocation = ps.num_bytes;
    free(out->identity);
    out->identity = pk_asprintf("%s/%lld", x.r->fsid ? x.r->fsid : "", (long long)rados_ioctx_get_id(x.io));
    close_ctx(&x);
    return 0;
}

/* librbd calls the progress callback of rbd_resize2 unconditionally. */
static int no_progress(uint64_t done PK_UNUSED, uint64_t total PK_UNUSED, void *arg PK_UNUSED)
{
    return 0;
}

static int count_extent(uint64_t off PK_UNUSED, size_t len, int exists, void *arg)
{
    if (exists) *(uint64_t *)arg += len;
    return 0;
}

static void set_path(const pk_pool *def, const char *name, pk_obs_vol *v)
{
    v->name = pk_strdup(name);
    v->path = pk_asprintf("%s/%s", def->source.name, name);
    v->key = pk_strdup(v->path);
    v->type = PK_VOL_NETWORK;
    v->format = PK_IMG_RAW;
    v->backing_format = -1;
    v->perms = (pk_perms){ .mode = -1, .uid = -1, .gid = -1 };   /* RBD images have none */
    v->atime = v->mtime = v->ctime = v->btime = (pk_timestamp){ -1, 0 };
}

/* Fill v from an open image. 0, or -1 with v->error set. */
static int read_image(const pk_pool *def, rbd_image_t img, pk_obs_vol *v)
{
    rbd_image_info_t info;
    int rc = rbd_stat(img, &info, sizeof(info));
    if (rc < 0) {
        v->error = pk_asprintf("cannot stat RBD image '%s': %s", v->path, strerror(-rc));
        return -1;
    }
    char id[64] = "";
    if (rbd_get_id(img, id, sizeof(id)) == 0 && id[0])
        v->identity = pk_strdup(id);
    v->capacity = info.size;
    if (def->has_refresh && def->refresh_vol_alloc == PK_REFRESH_VOL_CAPACITY) {
        v->allocation = info.size;
    } else {
        uint64_t used = 0;
        rc = rbd_diff_iterate2(img, NULL, 0, info.size, 0, 1, count_extent, &used);
        if (rc < 0) {
            v->error = pk_asprintf("cannot read the allocation of RBD image '%s': %s", v->path, strerror(-rc));
            return -1;
        }
        v->allocation = used;
    }
    /* Born-at time: lets a run after a crash recognise an image its
     * predecessor created (reconcilers/apply.c). */
    struct timespec ts;
    if (rbd_get_create_timestamp(img, &ts) == 0 && ts.tv_sec > 0)
        v->btime = (pk_timestamp){ ts.tv_sec, ts.tv_nsec };
    /* Counted for the plan: deleting the image deletes them too. A list
     * of no room answers ERANGE with the room needed: count + terminator. */
    int room = 0;
    if (rbd_snap_list(img, NULL, &room) == -ERANGE && room > 1) v->n_snapshots = (unsigned)(room - 1);
    rbd_linked_image_spec_t parent;
    rbd_snap_spec_t psnap;
    if (rbd_get_parent(img, &parent, &psnap) == 0) {
        /* The parent image's path (not its snapshot), so that the planner
         * deletes a clone before the image it was cloned from. */
        v->backing_path = pk_asprintf("%s/%s", parent.pool_name, parent.image_name);
        v->backing_format = PK_IMG_RAW;
        rbd_linked_image_spec_cleanup(&parent);
        rbd_snap_spec_cleanup(&psnap);
    }
    return 0;
}

/* Observe one image by id (or name for old format-1 images, which have no
 * id). 1 when it is gone, else 0 (failures in v->error: unknown, not absent). */
static int observe_image(const pk_pool *def, rados_ioctx_t io, const char *id, const char *name,
                         pk_obs_vol *v)
{
    set_path(def, name, v);
    rbd_image_t img;
    int rc = id && *id ? rbd_open_by_id_read_only(io, id, &img, NULL)
                       : rbd_open_read_only(io, name, &img, NULL);
    if (rc == -ENOENT) return 1;
    if (rc < 0) {
        v->error = pk_asprintf("cannot open RBD image '%s': %s", v->path, strerror(-rc));
        return 0;
    }
    read_image(def, img, v);
    if (!v->identity && !(id && *id)) v->identity = pk_asprintf("name:%s", name);
    rbd_close(img);
    return 0;
}

typedef struct {
    const pk_pool *def;
    rados_ioctx_t io;
    rbd_image_spec_t *specs;
    pk_obs_vol *vols;
    bool *gone;
    size_t n;
    size_t next;
    pthread_mutex_t lock;
} scan_job;

static void *scan_worker(void *arg)
{
    scan_job *j = arg;
    for (;;) {
        pthread_mutex_lock(&j->lock);
        size_t i = j->next++;
        pthread_mutex_unlock(&j->lock);
        if (i >= j->n) break;
        j->gone[i] = observe_image(j->def, j->io, j->specs[i].id, j->specs[i].name, &j->vols[i]) == 1;
    }
    return NULL;
}

static int cmp_obs_vol(const void *a, const void *b)
{
    return strcmp(((const pk_obs_vol *)a)->name, ((const pk_obs_vol *)b)->name);
}

/* Images of the pool, without poolkeeper's temporaries; *n set. */
static int list_images(pk_bctx *c, const pk_pool *def, rados_ioctx_t io, rbd_image_spec_t **out,
                       size_t *n, pk_err **err)
{
    size_t max = 64;
    for (;;) {
        rbd_image_spec_t *specs = pk_calloc(max, sizeof(*specs));
        size_t got = max;
        int rc = rbd_list2(io, specs, &got);
        if (rc == -ERANGE && got > max) {
            free(specs);
            max = got;
            continue;
        }
        if (rc < 0) {
            free(specs);
            return rbd_fail(c, def, rc, err, "cannot list the images of Ceph pool '%s'", def->source.name);
        }
        size_t k = 0;
        for (size_t i = 0; i < got; i++) {
            if (image_name_ok(specs[i].name)) {
                rbd_image_spec_t t = specs[k];
                specs[k++] = specs[i];
                specs[i] = t;
            }
        }
        /* The skipped ones stay after k, for the cleanup of all `got`. */
        *out = specs;
        *n = got;
        return (int)k;
    }
}

static int pk_rbd_observe_vols(pk_bctx *c, const pk_pool *def, pk_obs_pool *out, pk_err **err)
{
    rbd_ctx x;
    if (open_ctx(c, def, &x, err) < 0) {
        close_ctx(&x);
        return -1;
    }
    rbd_image_spec_t *specs = NULL;
    size_t total = 0;
    int k = list_images(c, def, x.io, &specs, &total, err);
    if (k < 0) {
        close_ctx(&x);
        return -1;
    }
    scan_job j = {
        .def = def, .io = x.io, .specs = specs, .n = (size_t)k,
        .vols = pk_calloc((size_t)k + 1, sizeof(pk_obs_vol)),
        .gone = pk_calloc((size_t)k + 1, sizeof(bool)),
    };
    pthread_mutex_init(&j.lock, NULL);
    size_t nt = j.n < OBSERVE_THREADS ? j.n : OBSERVE_THREADS;
    pthread_t th[OBSERVE_THREADS];
    size_t started = 0;
    for (; started < nt; started++)
        if (pthread_create(&th[started], NULL, scan_worker, &j) != 0) break;
    if (started == 0) scan_worker(&j);   /* no thread to be had: do it here */
    for (size_t i = 0; i < started; i++) pthread_join(th[i], NULL);
    pthread_mutex_destroy(&j.lock);

    size_t n = 0;
    for (size_t i = 0; i < j.n; i++) {
        if (j.gone[i]) pk_obs_vol_clear(&j.vols[i]);
        else j.vols[n++] = j.vols[i];
    }
    if (n) qsort(j.vols, n, sizeof(*j.vols), cmp_obs_vol);
    for (size_t i = 0; i < out->n_vols; i++) pk_obs_vol_clear(&out->vols[i]);
    free(out->vols);
    out->vols = j.vols;
    out->n_vols = n;
    out->vols_observed = true;
    free(j.gone);
    rbd_image_spec_list_cleanup(specs, total);
    free(specs);
    close_ctx(&x);
    return 0;
}

/* Observe the image now called `name`, after a change. */
static int observe_after(const pk_pool *def, rados_ioctx_t io, const char *name, pk_obs_vol *out,
                         pk_err **err)
{
    pk_obs_vol v = { 0 };
    if (observe_image(def, io, NULL, name, &v) == 1) {
        pk_obs_vol_clear(&v);
        return pk_fail(err, "RBD image '%s/%s' vanished", def->source.name, name);
    }
    if (v.error) {
        pk_err *e = NULL;
        pk_fail(&e, "%s", v.error);
        pk_obs_vol_clear(&v);
        pk_err_append(err, e);
        return -1;
    }
    if (out) {
        pk_obs_vol_clear(out);
        *out = v;
    } else {
        pk_obs_vol_clear(&v);
    }
    return 0;
}

/* ---- creating ---- */

static bool image_exists(rados_ioctx_t io, const char *name, int *rc_out)
{
    rbd_image_t img;
    int rc = rbd_open_read_only(io, name, &img, NULL);
    *rc_out = rc;
    if (rc == 0) rbd_close(img);
    return rc == 0;
}

/* Clone `tmp` from the snapshot the volume's <backingStore> names,
 * protecting the snapshot first if it is not (clone format 1 needs it; it is
 * what libvirt does too). Grows the clone to the volume's capacity when that
 * is larger than the snapshot. */
static int clone_image(pk_bctx *c, const pk_pool *def, rbd_ctx *x, const pk_vol *vol, const char *tmp,
                       pk_err **err)
{
    int bf = vol->backing->format;
    if (bf >= 0 && bf != PK_IMG_RAW)
        return pk_fail(err, "cannot create volume '%s': the backing store of an RBD image is raw, not '%s'",
                       vol->name, pk_img_format_to_string(bf));
    _cleanup_free_ char *ppool = NULL, *pimage = NULL, *psnap = NULL;
    if (pk_rbd_parse_snap_path(vol->backing->path, &ppool, &pimage, &psnap, err) < 0)
        return pk_wrap(err, "cannot create volume '%s'", vol->name);
    rados_ioctx_t pio;
    if (pk_rados_open_pool(x->r, ppool, &pio, err) < 0) return -1;
    int ret = -1;
    rbd_image_t parent = NULL;
    rbd_image_options_t opts = NULL;
    int rc = rbd_open(pio, pimage, &parent, NULL);
    if (rc < 0) {
        rbd_fail(c, def, rc, err, "cannot open RBD image '%s/%s'", ppool, pimage);
        goto out;
    }
    int prot = 0;
    rc = rbd_snap_is_protected(parent, psnap, &prot);
    if (rc == -ENOENT) {
        pk_fail(err, "RBD snapshot '%s/%s@%s' does not exist", ppool, pimage, psnap);
        goto out;
    }
    if (rc < 0) {
        rbd_fail(c, def, rc, err, "cannot read RBD snapshot '%s/%s@%s'", ppool, pimage, psnap);
        goto out;
    }
    if (!prot && (rc = rbd_snap_protect(parent, psnap)) < 0 && rc != -EBUSY) {
        rbd_fail(c, def, rc, err, "cannot protect RBD snapshot '%s/%s@%s'", ppool, pimage, psnap);
        goto out;
    }
    rbd_image_options_create(&opts);
    rc = rbd_clone3(pio, pimage, psnap, x->io, tmp, opts);
    if (rc < 0) {
        rbd_fail(c, def, rc, err, "cannot clone RBD snapshot '%s/%s@%s' as '%s/%s'", ppool, pimage, psnap,
                 def->source.name, tmp);
        goto out;
    }
    if (vol->has_capacity && vol->capacity > 0) {
        rbd_image_t child;
        uint64_t size = 0;
        if ((rc = rbd_open(x->io, tmp, &child, NULL)) < 0) {
            rbd_fail(c, def, rc, err, "cannot open RBD image '%s/%s'", def->source.name, tmp);
            goto out;
        }
        rc = rbd_get_size(child, &size);
        if (rc == 0 && vol->capacity < size) {
            rbd_close(child);
            pk_fail(err, "cannot create volume '%s': its capacity %llu is smaller than the %llu bytes of its backing snapshot",
                    vol->name, (unsigned long long)vol->capacity, (unsigned long long)size);
            goto out;
        }
        if (rc == 0 && vol->capacity > size) rc = rbd_resize2(child, vol->capacity, false, no_progress, NULL);
        rbd_close(child);
        if (rc < 0) {
            rbd_fail(c, def, rc, err, "cannot resize RBD image '%s/%s'", def->source.name, tmp);
            goto out;
        }
    }
    ret = 0;
out:
    if (opts) rbd_image_options_destroy(opts);
    if (parent) rbd_close(parent);
    rados_ioctx_destroy(pio);
    return ret;
}

static int pk_rbd_create_vol(pk_bctx *c, const pk_pool *def, const pk_vol *vol, pk_obs_vol *out, pk_err **err)
{
    if (check_name(vol->name, err) < 0) return -1;
    int fmt = vol->target.format;
    if (fmt >= 0 && fmt != PK_IMG_RAW)
        return pk_fail(err, "cannot create volume '%s': RBD images are raw, not '%s'", vol->name,
                       pk_img_format_to_string(fmt));
    if (vol->target.encryption)
        return pk_fail(err, "cannot create volume '%s': encrypted RBD volumes are not supported", vol->name);
    bool clone = vol->backing && vol->backing->path;
    if (!clone && (!vol->has_capacity || vol->capacity == 0))
        return pk_fail(err, "cannot create volume '%s': an RBD image needs a capacity", vol->name);

    rbd_ctx x;
    if (open_ctx(c, def, &x, err) < 0) {
        close_ctx(&x);
        return -1;
    }
    int ret = -1, rc;
    _cleanup_free_ char *tmp = tmp_name(vol->name);
    if (image_exists(x.io, vol->name, &rc)) {
        pk_fail(err, "RBD image '%s/%s' already exists", def->source.name, vol->name);
        goto out;
    }
    if (rc != -ENOENT) {
        rbd_fail(c, def, rc, err, "cannot open RBD image '%s/%s'", def->source.name, vol->name);
        goto out;
    }
    /* A temporary of this host under this name is what a crashed create left. */
    rc = rbd_remove(x.io, tmp);
    if (rc < 0 && rc != -ENOENT) {
        rbd_fail(c, def, rc, err, "cannot remove the stale temporary RBD image '%s/%s'", def->source.name, tmp);
        goto out;
    }
    if (clone) {
        if (clone_image(c, def, &x, vol, tmp, err) < 0) goto fail;
    } else {
        rbd_image_options_t opts;
        rbd_image_options_create(&opts);
        rc = rbd_create4(x.io, tmp, vol->capacity, opts);
        rbd_image_options_destroy(opts);
        if (rc < 0) {
            rbd_fail(c, def, rc, err, "cannot create RBD image '%s/%s'", def->source.name, tmp);
            goto fail;
        }
    }
    if (pk_backend_fault("vol.create.before-rename", vol->name)) {
        pk_fail(err, "fault injected at 'vol.create.before-rename'");
        goto out;
    }
    rc = rbd_rename(x.io, tmp, vol->name);
    if (rc == -EEXIST) {
        pk_fail(err, "RBD image '%s/%s' already exists", def->source.name, vol->name);
        goto fail;
    }
    if (rc < 0) {
        rbd_fail(c, def, rc, err, "cannot rename RBD image '%s/%s' to '%s'", def->source.name, tmp, vol->name);
        goto fail;
    }
    ret = observe_after(def, x.io, vol->name, out, err);
    goto out;
fail:
    rbd_remove(x.io, tmp);
out:
    close_ctx(&x);
    return ret;
}

/* ---- changing ---- */

/* Open the image observed as `cur` for a change; refuses another image
 * under its name (replaced since it was observed). */
static int open_observed(pk_bctx *c, const pk_pool *def, rados_ioctx_t io, const pk_obs_vol *cur,
                         rbd_image_t *img, pk_err **err)
{
    if (!cur->identity)
        return pk_fail(err, "RBD image '%s/%s' has no observed identity", def->source.name, cur->name);
    int rc = rbd_open(io, cur->name, img, NULL);
    if (rc < 0) return rbd_fail(c, def, rc, err, "cannot open RBD image '%s/%s'", def->source.name, cur->name);
    char id[64] = "";
    rc = rbd_get_id(*img, id, sizeof(id));
    _cleanup_free_ char *now = rc == 0 && id[0] ? pk_strdup(id) : pk_asprintf("name:%s", cur->name);
    if (!pk_streq(now, cur->identity)) {
        rbd_close(*img);
        return pk_fail(err, "RBD image '%s/%s' was replaced since it was observed (id '%s', now '%s')",
                       def->source.name, cur->name, cur->identity, now);
    }
    return 0;
}

static int pk_rbd_resize_vol(pk_bctx *c, const pk_pool *def, const pk_vol *vol PK_UNUSED, const pk_obs_vol *cur,
                      uint64_t new_capacity, pk_obs_vol *out, pk_err **err)
{
    if (check_name(cur->name, err) < 0) return -1;
    bool shrink = new_capacity < cur->capacity;
    if (shrink && !c->allow_shrink)
        return pk_fail(err, "shrinking RBD image '%s/%s' from %llu to %llu bytes needs policy allow_shrink",
                       def->source.name, cur->name, (unsigned long long)cur->capacity,
                       (unsigned long long)new_capacity);
    if (new_capacity == 0)
        return pk_fail(err, "cannot resize RBD image '%s/%s' to 0 bytes", def->source.name, cur->name);
    rbd_ctx x;
    if (open_ctx(c, def, &x, err) < 0) {
        close_ctx(&x);
        return -1;
    }
    rbd_image_t img;
    int ret = -1;
    if (open_observed(c, def, x.io, cur, &img, err) < 0) goto out;
    int rc = rbd_resize2(img, new_capacity, shrink, no_progress, NULL);
    rbd_close(img);
    if (rc < 0) {
        rbd_fail(c, def, rc, err, "cannot resize RBD image '%s/%s' to %llu bytes", def->source.name, cur->name,
                 (unsigned long long)new_capacity);
        goto out;
    }
    ret = observe_after(def, x.io, cur->name, out, err);
out:
    close_ctx(&x);
    return ret;
}

/* The image's snapshots, or -1 with *err. */
static int list_snaps(pk_bctx *c, const pk_pool *def, rbd_image_t img, const char *name,
                      rbd_snap_info_t **out, int *n, pk_err **err)
{
    int max = 16;
    for (;;) {
        rbd_snap_info_t *snaps = pk_calloc((size_t)max + 1, sizeof(*snaps));
        int got = max;
        int rc = rbd_snap_list(img, snaps, &got);
        if (rc == -ERANGE) {
            free(snaps);
            max = got > max ? got : max * 2;
            continue;
        }
        if (rc < 0) {
            free(snaps);
            return rbd_fail(c, def, rc, err, "cannot list the snapshots of RBD image '%s/%s'",
                            def->source.name, name);
        }
        *out = snaps;
        *n = rc;
        return 0;
    }
}

/* Refuse when any snapshot of the image has clones: those are other images
 * that depend on it. */
static int check_no_clones(pk_bctx *c, const pk_pool *def, rbd_image_t img, const char *name,
                           const rbd_snap_info_t *snaps, int n, pk_err **err)
{
    for (int i = 0; i < n; i++) {
        int rc = rbd_snap_set(img, snaps[i].name);
        if (rc < 0)
            return rbd_fail(c, def, rc, err, "cannot read RBD snapshot '%s/%s@%s'", def->source.name, name,
                            snaps[i].name);
        rbd_linked_image_spec_t kids[4];
        size_t nk = PK_NELEM(kids);
        rc = rbd_list_children3(img, kids, &nk);
        if (rc < 0 && rc != -ERANGE) {
            rbd_snap_set(img, NULL);
            return rbd_fail(c, def, rc, err, "cannot list the clones of RBD snapshot '%s/%s@%s'",
                            def->source.name, name, snaps[i].name);
        }
        if (nk > 0) {
            _cleanup_free_ char *first = rc == 0 ? pk_asprintf("%s/%s", kids[0].pool_name, kids[0].image_name)
                                                 : pk_strdup("?");
            if (rc == 0) rbd_linked_image_spec_list_cleanup(kids, nk);
            rbd_snap_set(img, NULL);
            return pk_fail(err, "RBD image '%s/%s' cannot be deleted: its snapshot '%s' has %zu clone(s), e.g. '%s'",
                           def->source.name, name, snaps[i].name, nk, first);
        }
    }
    rbd_snap_set(img, NULL);
    return 0;
}

static int pk_rbd_delete_vol(pk_bctx *c, const pk_pool *def, const pk_obs_vol *cur, pk_err **err)
{
    if (check_name(cur->name, err) < 0) return -1;
    rbd_ctx x;
    if (open_ctx(c, def, &x, err) < 0) {
        close_ctx(&x);
        return -1;
    }
    int ret = -1, rc, n = 0;
    rbd_image_t img = NULL;
    rbd_snap_info_t *snaps = NULL;
    rc = rbd_open_read_only(x.io, cur->name, &img, NULL);
    if (rc == -ENOENT) {   /* gone already */
        close_ctx(&x);
        return 0;
    }
    if (rc == 0) rbd_close(img);
    img = NULL;
    if (open_observed(c, def, x.io, cur, &img, err) < 0) goto out;
    if (list_snaps(c, def, img, cur->name, &snaps, &n, err) < 0) goto out;
    if (check_no_clones(c, def, img, cur->name, snaps, n, err) < 0) goto out;
    /* Snapshots go with the image: unprotected, then removed. */
    for (int i = 0; i < n; i++) {
        int prot = 0;
        if (rbd_snap_is_protected(img, snaps[i].name, &prot) == 0 && prot &&
            (rc = rbd_snap_unprotect(img, snaps[i].name)) < 0) {
            rbd_fail(c, def, rc, err, "cannot unprotect RBD snapshot '%s/%s@%s'", def->source.name, cur->name,
                     snaps[i].name);
            goto out;
        }
        if ((rc = rbd_snap_remove(img, snaps[i].name)) < 0 && rc != -ENOENT) {
            rbd_fail(c, def, rc, err, "cannot remove RBD snapshot '%s/%s@%s'", def->source.name, cur->name,
                     snaps[i].name);
            goto out;
        }
        pk_log(PK_LOG_INFO, cur->name, "vol.delete", "removed snapshot '%s' of RBD image '%s/%s'",
               snaps[i].name, def->source.name, cur->name);
    }
    rbd_close(img);
    img = NULL;
    rc = rbd_remove(x.io, cur->name);
    if (rc == -EBUSY)
        pk_fail(err, "RBD image '%s/%s' is in use (it has watchers): not deleted", def->source.name, cur->name);
    else if (rc < 0 && rc != -ENOENT)
        rbd_fail(c, def, rc, err, "cannot delete RBD image '%s/%s'", def->source.name, cur->name);
    else
        ret = 0;
out:
    if (snaps) {
        if (n > 0) rbd_snap_list_end(snaps);
        free(snaps);
    }
    if (img) rbd_close(img);
    close_ctx(&x);
    return ret;
}

static void rbd_close_all(pk_bctx *c)
{
    pk_rados_close_all(c);
}

const pk_backend pk_backend_rbd = {
    .type = PK_POOL_RBD,
    .caps = PK_CAP_CREATE_VOL | PK_CAP_RESIZE_VOL | PK_CAP_SHRINK_VOL | PK_CAP_DELETE_VOL | PK_CAP_BACKING |
            PK_CAP_SNAP_BACKING,
    .observe_pool = pk_rbd_observe_pool,
    .observe_vols = pk_rbd_observe_vols,
    .create_vol = pk_rbd_create_vol,
    .resize_vol = pk_rbd_resize_vol,
    .delete_vol = pk_rbd_delete_vol,
    .close = rbd_close_all,
};
