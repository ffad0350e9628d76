/* The disk backend (libvirt's storage_backend_disk.c), with libfdisk in
 * place of parted and libvirt_parthelper.
 *
 * A pool is a partition table on a whole device; it runs when the device
 * holds the table of the pool's <format>. Volumes are partitions, named as
 * libvirt names them (the device's name, the part separator, the number).
 * A volume's name therefore says which partition it is: creating 'sdb3'
 * makes partition 3. In a dos table numbers 1-4 are primary partitions (or
 * the extended one, <format type='extended'>) and 5 on are logical ones,
 * which dos numbers in chain order: the next logical partition is always
 * the next number, and deleting one renumbers those after it, exactly as
 * parted does. A partition's identity is therefore not its name but its
 * GPT partition GUID, or the table's id and its start sector.
 *
 * Safety: building a table requires a device that blkid finds empty (or
 * policy allow_format) and that nothing uses (mounts, holders, O_EXCL), and
 * holds the device open O_EXCL while it writes. Creating a partition only
 * writes into free space; deleting one checks its identity and that
 * neither it nor a partition renumbered by its removal is in use. Each
 * change is told to the kernel partition by partition (BLKPG, through
 * fdisk_reread_changes): re-reading the whole table would fail on a disk
 * with mounted partitions, and some kernels have no table parsers at all. */
#include "disk.h"
#include "blkprobe.h"
#include "mount.h"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libfdisk/libfdisk.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#define WIPE_BYTES ((uint64_t)1024 * 1024)   /* libvirt zeroes 1 MiB at both ends */

/* ---- labels ---- */

typedef struct {
    const char *fdisk;   /* libfdisk's label name */
    const char *blkid;   /* blkid's PTTYPE */
} label_names;

static int label_of(const pk_pool *def, label_names *out, pk_err **err)
{
    int f = def->source.format;
    if (f < 0 || f == PK_DISK_UNKNOWN) f = PK_DISK_DOS;   /* libvirt's default */
    switch (f) {
    case PK_DISK_DOS: *out = (label_names){ "dos", "dos" }; return 0;
    case PK_DISK_GPT: *out = (label_names){ "gpt", "gpt" }; return 0;
    case PK_DISK_SUN: *out = (label_names){ "sun", "sun" }; return 0;
    case PK_DISK_DVH: *out = (label_names){ "sgi", "sgi" }; return 0;
    default:
        return pk_fail(err, "partition table type '%s' of pool '%s' is not supported: libfdisk cannot write it on a whole disk",
                       pk_disk_format_to_string(f), def->name);
    }
}

/* ---- names ---- */

char *pk_disk_part_path(const char *disk, bool devmapper, pk_tristate part_separator, unsigned n)
{
    size_t len = strlen(disk);
    bool digit = len && isdigit((unsigned char)disk[len - 1]);
    const char *sep = digit || (devmapper && part_separator == PK_TRI_YES) ? "p" : "";
    return pk_asprintf("%s%s%u", disk, sep, n);
}

static bool is_devmapper(dev_t rdev)
{
    _cleanup_free_ char *p = pk_asprintf("/sys/dev/block/%u:%u/dm", major(rdev), minor(rdev));
    return access(p, F_OK) == 0;
}

/* ---- the device ---- */

typedef struct {
    const char *dev;            /* as written in the XML */
    char *canon;                /* its canonical path */
    char *prefix;               /* partition paths without the number */
    const char *base;           /* basename of prefix: volume names start so */
    int fd;
    struct fdisk_context *cxt;
    uint64_t ss;                /* sector size */
} disk;

static void disk_close(disk *d)
{
    if (d->cxt) {
        fdisk_deassign_device(d->cxt, 1);
        fdisk_unref_context(d->cxt);
    }
    if (d->fd >= 0) close(d->fd);
    free(d->canon);
    free(d->prefix);
    memset(d, 0, sizeof(*d));
    d->fd = -1;
}

static const char *disk_device(const pk_pool *def, pk_err **err)
{
    if (def->source.n_devices != 1 || !def->source.devices[0].path) {
        pk_fail(err, "pool '%s' needs exactly one source device", def->name);
        return NULL;
    }
    return def->source.devices[0].path;
}

/* Names and paths only, no open. */
static int disk_names(const pk_pool *def, disk *d, pk_err **err)
{
    memset(d, 0, sizeof(*d));
    d->fd = -1;
    if (!(d->dev = disk_device(def, err))) return -1;
    dev_t rdev;
    if (pk_blk_rdev(d->dev, &rdev, err) < 0) return -1;
    if (!(d->canon = realpath(d->dev, NULL)))
        return pk_fail_errno(err, errno, "cannot resolve '%s'", d->dev);
    char *full = pk_disk_part_path(d->canon, is_devmapper(rdev),
                                   def->source.devices[0].part_separator, 1);
    full[strlen(full) - 1] = '\0';   /* drop the "1" */
    d->prefix = full;
    const char *slash = strrchr(full, '/');
    d->base = slash ? slash + 1 : full;
    return 0;
}

/* Open with `flags` (O_RDONLY or O_RDWR, maybe O_EXCL) and hand the fd to
 * libfdisk, which reads the table. */
static int disk_open(const pk_pool *def, int flags, disk *d, pk_err **err)
{
    if (disk_names(def, d, err) < 0) goto fail;
    d->fd = open(d->dev, flags | O_CLOEXEC);
    if (d->fd < 0) {
        if (errno == EBUSY)
            pk_fail(err, "'%s' is in use (it cannot be opened exclusively)", d->dev);
        else
            pk_fail_errno(err, errno, "cannot open '%s'", d->dev);
        goto fail;
    }
    if (!(d->cxt = fdisk_new_context())) {
        pk_fail(err, "cannot create a libfdisk context");
        goto fail;
    }
    int rc = fdisk_assign_device_by_fd(d->cxt, d->fd, d->dev, (flags & O_ACCMODE) == O_RDONLY);
    if (rc < 0) {
        pk_fail_errno(err, -rc, "cannot read the partition table of '%s'", d->dev);
        goto fail;
    }
    d->ss = fdisk_get_sector_size(d->cxt);
    if (!d->ss) d->ss = 512;
    return 0;
fail:
    disk_close(d);
    return -1;
}

static bool disk_has_label(disk *d, const label_names *l)
{
    struct fdisk_label *lb = fdisk_has_label(d->cxt) ? fdisk_get_label(d->cxt, NULL) : NULL;
    return lb && strcmp(fdisk_label_get_name(lb), l->fdisk) == 0;
}

static char *disk_label_id(disk *d)
{
    char *id = NULL;
    if (fdisk_get_disklabel_id(d->cxt, &id) < 0) return NULL;
    return id;
}

/* ---- partitions ---- */

typedef enum { PART_PRIMARY, PART_LOGICAL, PART_EXTENDED } part_kind;
static const char *const part_kind_names[] = { "primary", "logical", "extended" };

typedef struct {
    unsigned n;                 /* partition number, from 1 */
    uint64_t start, size;       /* sectors */
    part_kind kind;
    char *uuid;                 /* GPT partition GUID */
    unsigned code;              /* MBR-like type code, 0 for GUID types */
    char *typestr;              /* GUID types */
} part;

typedef struct {
    part *v;
    size_t n;
} partlist;

static void partlist_clear(partlist *pl)
{
    for (size_t i = 0; i < pl->n; i++) {
        free(pl->v[i].uuid);
        free(pl->v[i].typestr);
    }
    free(pl->v);
    pl->v = NULL;
    pl->n = 0;
}

static int read_parts(disk *d, partlist *out, pk_err **err)
{
    struct fdisk_table *tb = NULL;
    int rc = fdisk_get_partitions(d->cxt, &tb);
    if (rc < 0)
        return pk_fail_errno(err, -rc, "cannot list the partitions of '%s'", d->dev);
    bool dos = fdisk_is_labeltype(d->cxt, FDISK_DISKLABEL_DOS);
    struct fdisk_iter *it = fdisk_new_iter(FDISK_ITER_FORWARD);
    struct fdisk_partition *pa;
    while (fdisk_table_next_partition(tb, it, &pa) == 0) {
        if (!fdisk_partition_has_partno(pa) || !fdisk_partition_has_start(pa) ||
            !fdisk_partition_has_size(pa))
            continue;
        part *p = PK_APPEND(out->v, out->n);
        p->n = (unsigned)fdisk_partition_get_partno(pa) + 1;
        p->start = fdisk_partition_get_start(pa);
        p->size = fdisk_partition_get_size(pa);
        p->kind = dos && fdisk_partition_is_container(pa) ? PART_EXTENDED
                  : dos && fdisk_partition_is_nested(pa) ? PART_LOGICAL
                  : PART_PRIMARY;
        const char *uuid = fdisk_partition_get_uuid(pa);
        if (uuid) {
            p->uuid = pk_strdup(uuid);
            for (char *s = p->uuid; *s; s++) *s = (char)tolower((unsigned char)*s);
        }
        struct fdisk_parttype *t = fdisk_partition_get_type(pa);
        if (t) {
            p->code = fdisk_parttype_get_code(t);
            p->typestr = pk_strdup(fdisk_parttype_get_string(t));
        }
    }
    fdisk_free_iter(it);
    fdisk_unref_table(tb);
    return 0;
}

static const part *find_part(const partlist *pl, unsigned n)
{
    for (size_t i = 0; i < pl->n; i++)
        if (pl->v[i].n == n) return &pl->v[i];
    return NULL;
}

/* ---- free space ---- */

typedef struct {
    uint64_t start, end;        /* sectors, end inclusive */
    bool logical;               /* inside the extended partition */
} freeext;

static uint64_t grain_sectors(disk *d)
{
    uint64_t g = fdisk_get_grain_size(d->cxt) / d->ss;
    return g ? g : 1;
}

/* libfdisk's free areas. Inside the extended partition it counts the gap
 * before the next logical partition, where that one's EBR lives, as free;
 * leave that gap out, so that what is reported can really be used. */
static int read_free(disk *d, const partlist *pl, freeext **out, size_t *n, pk_err **err)
{
    struct fdisk_table *tb = NULL;
    int rc = fdisk_get_freespaces(d->cxt, &tb);
    if (rc < 0)
        return pk_fail_errno(err, -rc, "cannot list the free space of '%s'", d->dev);
    uint64_t grain = grain_sectors(d);
    struct fdisk_iter *it = fdisk_new_iter(FDISK_ITER_FORWARD);
    struct fdisk_partition *pa;
    while (fdisk_table_next_partition(tb, it, &pa) == 0) {
        if (!fdisk_partition_has_start(pa) || !fdisk_partition_has_size(pa) ||
            !fdisk_partition_get_size(pa))
            continue;
        freeext f = { .start = fdisk_partition_get_start(pa),
                      .logical = fdisk_partition_is_nested(pa) != 0 };
        f.end = f.start + fdisk_partition_get_size(pa) - 1;
        for (size_t i = 0; i < pl->n; i++) {
            const part *p = &pl->v[i];
            if (p->start <= f.start || p->start > f.end + 1) continue;
            uint64_t limit = p->start - 1;
            if (f.logical && p->kind == PART_LOGICAL)
                limit = p->start > grain ? p->start - grain - 1 : 0;
            if (limit < f.end) f.end = limit;
        }
        if (f.end >= f.start)
            *PK_APPEND(*out, *n) = f;
    }
    fdisk_free_iter(it);
    fdisk_unref_table(tb);
    return 0;
}

/* ---- volume observation ---- */

/* libvirt's stable path: the partition itself when the target is /dev,
 * else a link in the target that resolves to it, if there is one. */
static char *stable_path(const pk_pool *def, const char *devpath)
{
    const char *tgt = def->target_path;
    if (!tgt || strcmp(tgt, "/dev") == 0 || strcmp(tgt, "/dev/") == 0)
        return pk_strdup(devpath);
    DIR *dir = opendir(tgt);
    if (!dir) return pk_strdup(devpath);
    char *found = NULL;
    struct dirent *de;
    while (!found && (de = readdir(dir))) {
        if (de->d_name[0] == '.') continue;
        _cleanup_free_ char *p = pk_asprintf("%s/%s", tgt, de->d_name);
        _cleanup_free_ char *r = realpath(p, NULL);
        if (r && strcmp(r, devpath) == 0) found = TAKE_PTR(p);
    }
    closedir(dir);
    return found ? found : pk_strdup(devpath);
}

static int part_format(const part *p)
{
    if (p->typestr && strchr(p->typestr, '-')) {
        static const struct { const char *guid; int fmt; } guids[] = {
            { "0fc63daf-8483-4772-8e79-3d69d8477de4", PK_PART_NONE },
            { "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f", PK_PART_LINUX_SWAP },
            { "e6d6d379-f507-44c2-a23c-238f2a3df928", PK_PART_LINUX_LVM },
            { "a19d880f-05fc-4d3b-a006-743f0f84911e", PK_PART_LINUX_RAID },
        };
        for (size_t i = 0; i < PK_NELEM(guids); i++)
            if (strcasecmp(p->typestr, guids[i].guid) == 0) return guids[i].fmt;
        return -1;   /* e.g. "basic data": fat16 or fat32, cannot tell */
    }
    switch (p->code) {
    /* "none" and "linux" both make type 0x83; it reads back as "none". */
    case 0x83: return PK_PART_NONE;
    case 0x82: return PK_PART_LINUX_SWAP;
    case 0x8e: return PK_PART_LINUX_LVM;
    case 0xfd: return PK_PART_LINUX_RAID;
    case 0x04: case 0x06: case 0x0e: return PK_PART_FAT16;
    case 0x0b: case 0x0c: return PK_PART_FAT32;
    case 0x05: case 0x0f: case 0x85: return PK_PART_EXTENDED;
    default: return -1;
    }
}

static char *part_identity(disk *d, const label_names *l, const part *p)
{
    if (p->uuid) return pk_asprintf("partuuid:%s", p->uuid);
    _cleanup_free_ char *id = disk_label_id(d);
    return pk_asprintf("%s:%s:%llu", l->fdisk, id ? id : "-", (unsigned long long)p->start);
}

static void fill_vol(const pk_pool *def, disk *d, const label_names *l, const partlist *pl,
                     const part *p, pk_obs_vol *v)
{
    pk_obs_vol_clear(v);
    _cleanup_free_ char *devpath = pk_asprintf("%s%u", d->prefix, p->n);
    v->name = pk_asprintf("%s%u", d->base, p->n);
    v->path = stable_path(def, devpath);
    v->key = pk_strdup(v->path);   /* libvirt's key for partitions */
    v->type = PK_VOL_BLOCK;
    v->format = part_format(p);
    v->capacity = v->physical = p->size * d->ss;
    v->allocation = v->capacity;
    if (p->kind == PART_EXTENDED) {
        /* As libvirt: an extended partition allocates what its logical
         * partitions do. */
        v->allocation = 0;
        for (size_t i = 0; i < pl->n; i++)
            if (pl->v[i].kind == PART_LOGICAL) v->allocation += pl->v[i].size * d->ss;
    }
    v->extents = PK_NEW(pk_extent);
    v->extents[0] = (pk_extent){ p->start * d->ss, (p->start + p->size) * d->ss };
    v->n_extents = 1;
    v->part_type = pk_strdup(part_kind_names[p->kind]);
    v->identity = part_identity(d, l, p);
    struct stat st;
    if (stat(devpath, &st) == 0)
        v->perms = (pk_perms){ .mode = st.st_mode & 07777, .uid = st.st_uid, .gid = st.st_gid };
    v->atime = v->mtime = v->ctime = v->btime = (pk_timestamp){ -1, 0 };
}

static int cmp_obs_vol(const void *a, const void *b)
{
    return strcmp(((const pk_obs_vol *)a)->name, ((const pk_obs_vol *)b)->name);
}

/* ---- pool ---- */

static int disk_observe_pool(pk_bctx *c PK_UNUSED, const pk_pool *def, pk_obs_pool *out,
                             pk_err **err)
{
    label_names l;
    if (label_of(def, &l, err) < 0) return -1;
    const char *dev = disk_device(def, err);
    if (!dev) return -1;
    dev_t rdev;
    if (pk_blk_rdev(dev, &rdev, err) < 0) return -1;
    pk_blk_probe p = { 0 };
    if (pk_blk_probe_path(dev, &p, err) < 0) return -1;
    free(out->probe);
    out->probe = pk_blk_probe_describe(&p);
    if (p.pt_type) {
        free(out->identity);
        out->identity = pk_asprintf("%s:%s", p.pt_type, p.pt_uuid ? p.pt_uuid : "-");
    }
    bool labelled = pk_streq(p.pt_type, l.blkid);
    out->nonempty = !labelled && !p.empty;
    out->state = labelled ? PK_POOL_RUNNING : PK_POOL_ABSENT;
    out->capacity = p.size;
    pk_blk_probe_clear(&p);
    if (!labelled) return 0;

    disk d;
    if (disk_open(def, O_RDONLY, &d, err) < 0) return -1;
    partlist pl = { 0 };
    freeext *fe = NULL;
    size_t nfe = 0;
    int ret = -1;
    if (read_parts(&d, &pl, err) < 0 || read_free(&d, &pl, &fe, &nfe, err) < 0)
        goto out;
    out->capacity = fdisk_get_nsectors(d.cxt) * d.ss;
    out->allocation = out->available = 0;
    for (size_t i = 0; i < pl.n; i++)
        if (pl.v[i].kind != PART_EXTENDED) out->allocation += pl.v[i].size * d.ss;
    free(out->free_extents);
    out->free_extents = pk_calloc(nfe ? nfe : 1, sizeof(pk_extent));
    out->n_free_extents = nfe;
    for (size_t i = 0; i < nfe; i++) {
        out->free_extents[i] = (pk_extent){ fe[i].start * d.ss, (fe[i].end + 1) * d.ss };
        out->available += (fe[i].end + 1 - fe[i].start) * d.ss;
    }
    ret = 0;
out:
    free(fe);
    partlist_clear(&pl);
    disk_close(&d);
    return ret;
}

static int disk_observe_vols(pk_bctx *c PK_UNUSED, const pk_pool *def, pk_obs_pool *out,
                             pk_err **err)
{
    label_names l;
    if (label_of(def, &l, err) < 0) return -1;
    disk d;
    if (disk_open(def, O_RDONLY, &d, err) < 0) return -1;
    int ret = -1;
    partlist pl = { 0 };
    if (!disk_has_label(&d, &l)) {
        pk_fail(err, "'%s' has no %s partition table", d.dev, l.fdisk);
        goto out;
    }
    if (read_parts(&d, &pl, err) < 0) goto out;
    pk_obs_vol *vols = pk_calloc(pl.n ? pl.n : 1, sizeof(*vols));
    for (size_t i = 0; i < pl.n; i++)
        fill_vol(def, &d, &l, &pl, &pl.v[i], &vols[i]);
    if (pl.n) qsort(vols, pl.n, sizeof(*vols), cmp_obs_vol);
    for (size_t i = 0; i < out->n_vols; i++)
        pk_obs_vol_clear(&out->vols[i]);
    free(out->vols);
    out->vols = vols;
    out->n_vols = pl.n;
    out->vols_observed = true;
    ret = 0;
out:
    partlist_clear(&pl);
    disk_close(&d);
    return ret;
}

/* Zero the first and last MiB, as libvirt does before a new label and on
 * pool delete: both GPT headers and any MBR go. */
static int zero_ends(int fd, const char *dev, uint64_t size, pk_err **err)
{
    static const char zeros[65536];
    uint64_t len = size < WIPE_BYTES ? size : WIPE_BYTES;
    uint64_t starts[2] = { 0, size > len ? size - len : 0 };
    for (int k = 0; k < 2; k++) {
        for (uint64_t off = 0; off < len;) {
            size_t chunk = len - off < sizeof(zeros) ? (size_t)(len - off) : sizeof(zeros);
            ssize_t w = pwrite(fd, zeros, chunk, (off_t)(starts[k] + off));
            if (w < 0) {
                if (errno == EINTR) continue;
                return pk_fail_errno(err, errno, "cannot erase the start and end of '%s'", dev);
            }
            off += (uint64_t)w;
        }
    }
    if (fsync(fd) < 0)
        return pk_fail_errno(err, errno, "cannot sync '%s'", dev);
    return 0;
}

/* Tell the kernel what changed since `org`, partition by partition. */
static int tell_kernel(disk *d, struct fdisk_table *org, pk_err **err)
{
    if (fdisk_is_regfile(d->cxt)) return 0;
    int rc = fdisk_reread_changes(d->cxt, org);
    if (rc < 0)
        return pk_fail_errno(err, -rc, "the partition table of '%s' was written but the kernel could not be told about the change",
                             d->dev);
    return 0;
}

static int disk_build(pk_bctx *c, const pk_pool *def, pk_err **err)
{
    label_names l;
    if (label_of(def, &l, err) < 0) return -1;
    const char *dev = disk_device(def, err);
    if (!dev) return -1;
    pk_blk_probe p = { 0 };
    if (pk_blk_probe_path(dev, &p, err) < 0) return -1;
    bool labelled = pk_streq(p.pt_type, l.blkid);
    _cleanup_free_ char *what = pk_blk_probe_describe(&p);
    bool empty = p.empty;
    pk_blk_probe_clear(&p);
    if (labelled) return 0;   /* built */
    if (!empty && !c->allow_format)
        return pk_fail(err, "refusing to write a %s partition table on '%s': it holds %s (policy allow_format permits it)",
                       l.fdisk, dev, what);
    if (pk_blk_check_unused(dev, "repartition", err) < 0) return -1;

    disk d;
    if (disk_open(def, O_RDWR | O_EXCL, &d, err) < 0) return -1;
    struct fdisk_table *org = NULL;
    int ret = -1;
    /* Probe again now that nobody else can open the device for writing. */
    if (pk_blk_probe_path(dev, &p, err) < 0) goto out;
    if (!p.empty && !c->allow_format) {
        _cleanup_free_ char *now = pk_blk_probe_describe(&p);
        pk_fail(err, "refusing to write a %s partition table on '%s': it holds %s (policy allow_format permits it)",
                l.fdisk, dev, now);
        goto out;
    }
    if (fdisk_has_label(d.cxt) && fdisk_get_partitions(d.cxt, &org) < 0) {
        pk_fail(err, "cannot list the partitions of '%s'", dev);
        goto out;
    }
    if (pk_backend_fault("pool.build.before-label", def->name)) {
        pk_fail(err, "fault injected at 'pool.build.before-label'");
        goto out;
    }
    if (!p.empty &&
        (pk_blk_wipe_fd(d.fd, dev, err) < 0 || zero_ends(d.fd, dev, p.size, err) < 0))
        goto out;
    int rc = fdisk_create_disklabel(d.cxt, l.fdisk);
    if (rc >= 0) rc = fdisk_write_disklabel(d.cxt);
    if (rc < 0) {
        pk_fail_errno(err, -rc, "cannot write a %s partition table on '%s'", l.fdisk, dev);
        goto out;
    }
    if (fsync(d.fd) < 0) {
        pk_fail_errno(err, errno, "cannot sync '%s'", dev);
        goto out;
    }
    if (org) {
        if (tell_kernel(&d, org, err) < 0) goto out;
    } else if (!fdisk_is_regfile(d.cxt)) {
        ioctl(d.fd, BLKRRPART);   /* nothing to remove; only for tidiness */
    }
    ret = 0;
out:
    if (org) fdisk_unref_table(org);
    pk_blk_probe_clear(&p);
    disk_close(&d);
    return ret;
}

static int disk_start(pk_bctx *c PK_UNUSED, const pk_pool *def, pk_err **err)
{
    label_names l;
    if (label_of(def, &l, err) < 0) return -1;
    const char *dev = disk_device(def, err);
    if (!dev) return -1;
    pk_blk_probe p = { 0 };
    if (pk_blk_probe_path(dev, &p, err) < 0) return -1;
    int ret = 0;
    if (!pk_streq(p.pt_type, l.blkid)) {
        _cleanup_free_ char *what = pk_blk_probe_describe(&p);
        ret = pk_fail(err, "'%s' holds %s, not a %s partition table: the pool needs building",
                      dev, what, l.fdisk);
    }
    pk_blk_probe_clear(&p);
    return ret;
}

static int disk_stop(pk_bctx *c PK_UNUSED, const pk_pool *def PK_UNUSED, pk_err **err PK_UNUSED)
{
    return 0;
}

static bool strv_has(char *const *v, const char *s)
{
    for (; v && *v; v++)
        if (strcmp(*v, s) == 0) return true;
    return false;
}

/* Erases the partition table (libvirt zeroes both ends of the device),
 * only when every partition left is one of ours. */
static int disk_delete_pool(pk_bctx *c PK_UNUSED, const pk_pool *def, char *const *owned_vols,
                            pk_err **err)
{
    label_names l;
    if (label_of(def, &l, err) < 0) return -1;
    const char *dev = disk_device(def, err);
    if (!dev) return -1;
    pk_blk_probe p = { 0 };
    if (pk_blk_probe_path(dev, &p, err) < 0) return -1;
    bool labelled = pk_streq(p.pt_type, l.blkid);
    bool empty = p.empty;
    uint64_t size = p.size;
    _cleanup_free_ char *what = pk_blk_probe_describe(&p);
    pk_blk_probe_clear(&p);
    if (empty) return 0;   /* gone already */
    if (!labelled)
        return pk_fail(err, "cannot delete pool '%s': '%s' holds %s, not its %s partition table",
                       def->name, dev, what, l.fdisk);
    if (pk_blk_check_unused(dev, "erase the partition table of", err) < 0) return -1;

    disk d;
    if (disk_open(def, O_RDWR | O_EXCL, &d, err) < 0) return -1;
    partlist pl = { 0 };
    struct fdisk_table *org = NULL;
    pk_buf foreign = PK_BUF_INIT;
    int ret = -1;
    if (read_parts(&d, &pl, err) < 0) goto out;
    size_t nf = 0;
    for (size_t i = 0; i < pl.n; i++) {
        _cleanup_free_ char *name = pk_asprintf("%s%u", d.base, pl.v[i].n);
        if (strv_has(owned_vols, name)) continue;
        if (nf < 5) pk_buf_addf(&foreign, "%s'%s'", nf ? ", " : "", name);
        nf++;
    }
    if (nf) {
        if (nf > 5) pk_buf_addf(&foreign, " and %zu more", nf - 5);
        pk_fail(err, "cannot delete pool '%s': '%s' holds partitions poolkeeper does not own: %s",
                def->name, dev, pk_buf_str(&foreign));
        goto out;
    }
    if (fdisk_get_partitions(d.cxt, &org) < 0) {
        pk_fail(err, "cannot list the partitions of '%s'", dev);
        goto out;
    }
    int rc = fdisk_delete_all_partitions(d.cxt);
    if (rc >= 0) rc = fdisk_write_disklabel(d.cxt);
    if (rc < 0) {
        pk_fail_errno(err, -rc, "cannot remove the partitions of '%s'", dev);
        goto out;
    }
    if (tell_kernel(&d, org, err) < 0 || zero_ends(d.fd, dev, size, err) < 0)
        goto out;
    ret = 0;
out:
    if (org) fdisk_unref_table(org);
    pk_buf_free(&foreign);
    partlist_clear(&pl);
    disk_close(&d);
    return ret;
}

/* ---- volumes ---- */

/* The partition number a volume name stands for, 0 if it is not one of
 * this disk's partition names. */
static unsigned name_number(const disk *d, const char *name)
{
    size_t bl = strlen(d->base);
    if (!name || strncmp(name, d->base, bl) != 0) return 0;
    const char *num = name + bl;
    if (!*num || *num == '0') return 0;
    int n;
    if (pk_parse_int(num, 10, &n) < 0 || n <= 0) return 0;
    return (unsigned)n;
}

/* The partition type for a volume format in this label. */
static struct fdisk_parttype *type_for(disk *d, int fmt)
{
    struct fdisk_label *lb = fdisk_get_label(d->cxt, NULL);
    if (fdisk_is_labeltype(d->cxt, FDISK_DISKLABEL_GPT)) {
        const char *guid;
        switch (fmt) {
        case PK_PART_LINUX_SWAP: guid = "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F"; break;
        case PK_PART_LINUX_LVM: guid = "E6D6D379-F507-44C2-A23C-238F2A3DF928"; break;
        case PK_PART_LINUX_RAID: guid = "A19D880F-05FC-4D3B-A006-743F0F84911E"; break;
        case PK_PART_FAT16:
        case PK_PART_FAT32: guid = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"; break;
        default: guid = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"; break;
        }
        return fdisk_label_get_parttype_from_string(lb, guid);
    }
    unsigned code;
    switch (fmt) {
    case PK_PART_LINUX_SWAP: code = 0x82; break;
    case PK_PART_LINUX_LVM: code = 0x8e; break;
    case PK_PART_LINUX_RAID: code = 0xfd; break;
    case PK_PART_FAT16: code = 0x06; break;
    case PK_PART_FAT32: code = 0x0c; break;
    case PK_PART_EXTENDED: code = 0x05; break;
    default: code = 0x83; break;
    }
    return fdisk_label_get_parttype_from_code(lb, code);
}

/* The smallest free area of the right kind that holds `size` sectors from
 * an aligned start (libvirt also picks the smallest that fits). */
static bool place(disk *d, const freeext *fe, size_t nfe, bool logical, uint64_t size,
                  uint64_t *start)
{
    uint64_t grain = grain_sectors(d);
    bool found = false;
    uint64_t best_len = 0;
    for (size_t i = 0; i < nfe; i++) {
        if (fe[i].logical != logical) continue;
        uint64_t s = (fe[i].start + grain - 1) / grain * grain;
        if (s < fe[i].start || s > fe[i].end || fe[i].end - s + 1 < size) continue;
        uint64_t len = fe[i].end - fe[i].start + 1;
        if (!found || len < best_len) {
            found = true;
            best_len = len;
            *start = s;
        }
    }
    return found;
}

/* The number libvirt would have given a new partition (for messages):
 * the first free one, or in a dos table whose four slots are taken, the
 * next logical one. */
static unsigned next_number(const partlist *pl, bool dos)
{
    unsigned primaries = 0, logicals = 0;
    for (size_t i = 0; i < pl->n; i++) {
        if (pl->v[i].kind == PART_LOGICAL) logicals++;
        else primaries++;
    }
    if (dos && primaries >= 4)
        return 5 + logicals;
    for (unsigned n = 1;; n++)
        if (!find_part(pl, n)) return n;
}

static int disk_create_vol(pk_bctx *c PK_UNUSED, const pk_pool *def, const pk_vol *vol,
                           pk_obs_vol *out, pk_err **err)
{
    label_names l;
    if (label_of(def, &l, err) < 0) return -1;
    if (vol->target.encryption)
        return pk_fail(err, "cannot create volume '%s': encrypted partitions are not supported yet",
                       vol->name);
    if (!vol->has_capacity || vol->capacity == 0)
        return pk_fail(err, "cannot create volume '%s': a partition needs a capacity", vol->name);
    disk d;
    if (disk_open(def, O_RDWR, &d, err) < 0) return -1;
    partlist pl = { 0 };
    freeext *fe = NULL;
    size_t nfe = 0;
    struct fdisk_table *org = NULL;
    struct fdisk_partition *pa = NULL;
    struct fdisk_parttype *type = NULL;
    int ret = -1;
    if (!disk_has_label(&d, &l)) {
        pk_fail(err, "'%s' has no %s partition table", d.dev, l.fdisk);
        goto out;
    }
    if (read_parts(&d, &pl, err) < 0 || read_free(&d, &pl, &fe, &nfe, err) < 0)
        goto out;
    bool dos = strcmp(l.fdisk, "dos") == 0;
    bool extended = vol->target.format == PK_PART_EXTENDED;
    unsigned n = name_number(&d, vol->name);
    if (!n) {
        pk_fail(err, "invalid partition name '%s', expected '%s%u'", vol->name, d.base,
                next_number(&pl, dos));
        goto out;
    }
    if (find_part(&pl, n)) {
        pk_fail(err, "volume '%s' already exists", vol->name);
        goto out;
    }
    if (extended && !dos) {
        pk_fail(err, "cannot create volume '%s': extended partitions exist only in dos partition tables",
                vol->name);
        goto out;
    }
    bool logical = false;
    if (dos) {
        unsigned logicals = 0;
        const part *ext = NULL;
        for (size_t i = 0; i < pl.n; i++) {
            if (pl.v[i].kind == PART_LOGICAL) logicals++;
            if (pl.v[i].kind == PART_EXTENDED) ext = &pl.v[i];
        }
        if (extended && ext) {
            pk_fail(err, "cannot create volume '%s': '%s' already has an extended partition",
                    vol->name, d.dev);
            goto out;
        }
        if (n > 4) {
            if (extended) {
                pk_fail(err, "invalid partition name '%s': an extended partition is numbered 1 to 4",
                        vol->name);
                goto out;
            }
            if (!ext) {
                pk_fail(err, "cannot create volume '%s': logical partitions need an extended partition",
                        vol->name);
                goto out;
            }
            /* dos numbers logical partitions in chain order. */
            if (n != 5 + logicals) {
                pk_fail(err, "invalid partition name '%s', expected '%s%u'", vol->name, d.base,
                        5 + logicals);
                goto out;
            }
            logical = true;
        }
    } else if (n > fdisk_get_npartitions(d.cxt)) {
        pk_fail(err, "invalid partition name '%s': a %s partition table has at most %zu partitions",
                vol->name, l.fdisk, fdisk_get_npartitions(d.cxt));
        goto out;
    }

    uint64_t size = (vol->capacity + d.ss - 1) / d.ss;
    uint64_t start;
    if (!place(&d, fe, nfe, logical, size, &start)) {
        pk_fail(err, "cannot create volume '%s': no free space of %llu bytes on '%s'%s",
                vol->name, (unsigned long long)(size * d.ss), d.dev,
                logical ? " inside the extended partition" : "");
        goto out;
    }
    if (fdisk_get_partitions(d.cxt, &org) < 0) {
        pk_fail(err, "cannot list the partitions of '%s'", d.dev);
        goto out;
    }
    pa = fdisk_new_partition();
    fdisk_partition_set_start(pa, start);
    fdisk_partition_set_size(pa, size);
    fdisk_partition_set_partno(pa, n - 1);
    if ((type = type_for(&d, extended ? PK_PART_EXTENDED : vol->target.format)))
        fdisk_partition_set_type(pa, type);
    size_t got = 0;
    int rc = fdisk_add_partition(d.cxt, pa, &got);
    if (rc < 0) {
        pk_fail_errno(err, -rc, "cannot create partition '%s' on '%s'", vol->name, d.dev);
        goto out;
    }
    if (got + 1 != n) {
        /* Nothing is written: the table in memory is dropped. */
        pk_fail(err, "invalid partition name '%s', expected '%s%zu'", vol->name, d.base, got + 1);
        goto out;
    }
    if (pk_backend_fault("vol.create.before-write", vol->name)) {
        pk_fail(err, "fault injected at 'vol.create.before-write'");
        goto out;
    }
    if ((rc = fdisk_write_disklabel(d.cxt)) < 0) {
        pk_fail_errno(err, -rc, "cannot write the partition table of '%s'", d.dev);
        goto out;
    }
    if (fsync(d.fd) < 0) {
        pk_fail_errno(err, errno, "cannot sync '%s'", d.dev);
        goto out;
    }
    if (tell_kernel(&d, org, err) < 0) goto out;
    partlist_clear(&pl);
    if (read_parts(&d, &pl, err) < 0) goto out;
    const part *made = find_part(&pl, n);
    if (!made) {
        pk_fail(err, "partition '%s' is missing after it was written", vol->name);
        goto out;
    }
    if (out) fill_vol(def, &d, &l, &pl, made, out);
    ret = 0;
out:
    if (type) fdisk_unref_parttype(type);
    if (pa) fdisk_unref_partition(pa);
    if (org) fdisk_unref_table(org);
    free(fe);
    partlist_clear(&pl);
    disk_close(&d);
    return ret;
}

/* A partition is in use when it is mounted, held or opened exclusively;
 * one the kernel does not know (no device node) is not. */
static int check_part_unused(const char *path, pk_err **err)
{
    struct stat st;
    if (stat(path, &st) < 0 && errno == ENOENT) return 0;
    return pk_blk_check_unused(path, "delete", err);
}

static int disk_delete_vol(pk_bctx *c PK_UNUSED, const pk_pool *def, const pk_obs_vol *cur,
                           pk_err **err)
{
    label_names l;
    if (label_of(def, &l, err) < 0) return -1;
    if (!cur->identity)
        return pk_fail(err, "volume '%s' has no observed identity", cur->name);
    disk d;
    if (disk_open(def, O_RDWR, &d, err) < 0) return -1;
    partlist pl = { 0 };
    struct fdisk_table *org = NULL;
    char *id = NULL;
    int ret = -1;
    if (!disk_has_label(&d, &l)) {
        pk_fail(err, "'%s' has no %s partition table", d.dev, l.fdisk);
        goto out;
    }
    unsigned n = name_number(&d, cur->name);
    if (!n) {
        pk_fail(err, "'%s' is not a partition name of '%s'", cur->name, d.dev);
        goto out;
    }
    if (read_parts(&d, &pl, err) < 0) goto out;
    const part *p = find_part(&pl, n);
    if (!p) {
        /* Gone already, unless something else took its place: then its
         * identity is what tells. */
        ret = 0;
        goto out;
    }
    id = part_identity(&d, &l, p);
    if (strcmp(id, cur->identity) != 0) {
        pk_fail(err, "volume '%s' was replaced since it was observed (identity '%s', now '%s')",
                cur->name, cur->identity, id);
        goto out;
    }
    for (size_t i = 0; i < pl.n; i++) {
        if (p->kind == PART_EXTENDED && pl.v[i].kind == PART_LOGICAL) {
            pk_fail(err, "cannot delete extended partition '%s': it still holds logical partitions",
                    cur->name);
            goto out;
        }
    }
    /* Removing a logical partition renumbers those after it: none of them
     * may be in use either. */
    for (size_t i = 0; i < pl.n; i++) {
        const part *q = &pl.v[i];
        if (q->n == n || (p->kind == PART_LOGICAL && q->kind == PART_LOGICAL && q->n > n)) {
            _cleanup_free_ char *path = pk_asprintf("%s%u", d.prefix, q->n);
            if (check_part_unused(path, err) < 0) goto out;
        }
    }
    if (fdisk_get_partitions(d.cxt, &org) < 0) {
        pk_fail(err, "cannot list the partitions of '%s'", d.dev);
        goto out;
    }
    int rc = fdisk_delete_partition(d.cxt, n - 1);
    if (rc >= 0) rc = fdisk_write_disklabel(d.cxt);
    if (rc < 0) {
        pk_fail_errno(err, -rc, "cannot delete partition '%s' of '%s'", cur->name, d.dev);
        goto out;
    }
    if (fsync(d.fd) < 0) {
        pk_fail_errno(err, errno, "cannot sync '%s'", d.dev);
        goto out;
    }
    if (tell_kernel(&d, org, err) < 0) goto out;
    ret = 0;
out:
    free(id);
    if (org) fdisk_unref_table(org);
    partlist_clear(&pl);
    disk_close(&d);
    return ret;
}

static int disk_resize_vol(pk_bctx *c PK_UNUSED, const pk_pool *def PK_UNUSED,
                           const pk_vol *vol PK_UNUSED, const pk_obs_vol *cur,
                           uint64_t new_capacity PK_UNUSED, pk_obs_vol *out PK_UNUSED, pk_err **err)
{
    return pk_fail(err, "cannot resize partition '%s': disk pools do not support changing the capacity of volumes",
                   cur->name);
}

static int disk_update_vol(pk_bctx *c PK_UNUSED, const pk_pool *def PK_UNUSED,
                           const pk_vol *vol PK_UNUSED, const pk_obs_vol *cur,
                           pk_obs_vol *out PK_UNUSED, pk_err **err)
{
    return pk_fail(err, "cannot change partition '%s': disk pools do not support changing volumes",
                   cur->name);
}

const pk_backend pk_backend_disk = {
    .type = PK_POOL_DISK,
    .caps = PK_CAP_BUILD | PK_CAP_DELETE_POOL | PK_CAP_CREATE_VOL | PK_CAP_DELETE_VOL,
    .observe_pool = disk_observe_pool,
    .observe_vols = disk_observe_vols,
    .build = disk_build,
    .start = disk_start,
    .stop = disk_stop,
    .delete_pool = disk_delete_pool,
    .create_vol = disk_create_vol,
    .resize_vol = disk_resize_vol,
    .update_vol = disk_update_vol,
    .delete_vol = disk_delete_vol,
};
