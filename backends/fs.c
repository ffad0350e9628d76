/* The fs and netfs backends (libvirt's storage_backend_fs.c): a pool is a
 * filesystem mounted on the target directory; its volumes are the files in
 * it, handled by the dir backend once the mount is checked.
 *
 * fs: build makes the filesystem of <format> on <device> with mkfs, but
 * only on a device that blkid finds empty (or with policy allow_format),
 * that nothing has mounted, holds or opened exclusively; a device that
 * already holds the wanted filesystem is built. start mounts, stop
 * unmounts. A mount is recognised by the device's major:minor.
 *
 * netfs: build makes the mount point; start mounts HOST:DIR (nfs, auto,
 * glusterfs) or //HOST/DIR (cifs), after checking that this kernel can
 * mount that filesystem type at all. A mount is recognised by its type and
 * source.
 *
 * Volume operations first check that the pool's own filesystem is mounted
 * on the target: otherwise they would write into the bare mount point. */
#include "fs.h"
#include "blkprobe.h"
#include "dir.h"
#include "mount.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

static int fs_format(const pk_pool *def)
{
    return def->source.format < 0 ? PK_FS_AUTO : def->source.format;
}

static int netfs_format(const pk_pool *def)
{
    return def->source.format < 0 ? PK_NETFS_AUTO : def->source.format;
}

/* blkid's and the kernel's name of a libvirt fs format, where it differs. */
static const char *fs_kernel_name(int fmt)
{
    switch (fmt) {
    case PK_FS_HFSPLUS: return "hfsplus";
    case PK_FS_VMFS: return "VMFS";
    default: return pk_fs_format_to_string(fmt);
    }
}

static const char *fs_device(const pk_pool *def, pk_err **err)
{
    if (def->source.n_devices != 1 || !def->source.devices[0].path) {
        pk_fail(err, "pool '%s' needs exactly one source device", def->name);
        return NULL;
    }
    return def->source.devices[0].path;
}

/* The target's canonical path (mountinfo shows resolved paths), NULL with
 * errno ENOENT when it does not exist. */
static char *target_real(const pk_pool *def, pk_err **err)
{
    if (!def->target_path || def->target_path[0] != '/') {
        pk_fail(err, "pool '%s' has no absolute target path", def->name);
        errno = EINVAL;
        return NULL;
    }
    char *r = realpath(def->target_path, NULL);
    if (!r) {
        int e = errno;
        if (e != ENOENT)
            pk_fail_errno(err, e, "cannot resolve pool target '%s'", def->target_path);
        errno = e;
    }
    return r;
}

enum { MOUNT_NONE, MOUNT_OURS };

/* What is mounted on the pool's target: MOUNT_OURS, MOUNT_NONE (also when
 * the target does not exist), or -1 when something else is mounted there. */
static int mount_state(const pk_pool *def, dev_t rdev, pk_err **err)
{
    _cleanup_free_ char *tgt = target_real(def, err);
    if (!tgt) return errno == ENOENT ? MOUNT_NONE : -1;
    pk_mountinfo mi = { 0 };
    if (pk_mountinfo_read(&mi, err) < 0) return -1;
    int ret = MOUNT_NONE;
    const pk_mount_entry *e = pk_mountinfo_at(&mi, tgt);
    if (e) {
        if (pk_mount_entry_is_pool(e, def, rdev))
            ret = MOUNT_OURS;
        else
            ret = pk_fail(err, "pool target '%s' has '%s' (%s) mounted on it, not the pool's source",
                          tgt, e->source, e->fstype);
    }
    pk_mountinfo_clear(&mi);
    return ret;
}

/* The device number of the fs pool's source device. */
static int pool_rdev(const pk_pool *def, dev_t *rdev, pk_err **err)
{
    *rdev = 0;
    if (def->type != PK_POOL_FS) return 0;
    const char *dev = fs_device(def, err);
    if (!dev) return -1;
    return pk_blk_rdev(dev, rdev, err);
}

static int require_mounted(const pk_pool *def, pk_err **err)
{
    dev_t rdev;
    if (pool_rdev(def, &rdev, err) < 0) return -1;
    int m = mount_state(def, rdev, err);
    if (m < 0) return -1;
    if (m != MOUNT_OURS)
        return pk_fail(err, "pool '%s' is not mounted on '%s'", def->name, def->target_path);
    return 0;
}

/* Whether the probe shows the filesystem the pool wants (any filesystem
 * for format auto). */
static bool has_wanted_fs(const pk_pool *def, const pk_blk_probe *p)
{
    if (p->ambivalent || !p->fs_type) return false;
    if (fs_format(def) == PK_FS_AUTO)
        return !p->fs_usage || strcmp(p->fs_usage, "filesystem") == 0;
    return strcmp(p->fs_type, fs_kernel_name(fs_format(def))) == 0;
}

static bool target_exists(const pk_pool *def)
{
    struct stat st;
    return def->target_path && stat(def->target_path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ---- fs ---- */

static int fs_observe_pool(pk_bctx *c, const pk_pool *def, pk_obs_pool *out, pk_err **err)
{
    const char *dev = fs_device(def, err);
    if (!dev) return -1;
    dev_t rdev;
    if (pk_blk_rdev(dev, &rdev, err) < 0) return -1;
    int m = mount_state(def, rdev, err);
    if (m < 0) return -1;
    pk_blk_probe p = { 0 };
    if (pk_blk_probe_path(dev, &p, err) < 0) return -1;
    int ret = -1;
    if (m == MOUNT_OURS) {
        if (pk_dir_observe_pool(c, def, out, err) < 0) goto out;
        out->state = PK_POOL_RUNNING;
        out->nonempty = true;
    } else {
        bool built = has_wanted_fs(def, &p);
        out->state = built && target_exists(def) ? PK_POOL_INACTIVE : PK_POOL_ABSENT;
        /* nonempty: building would have to format over something. */
        out->nonempty = !built && !p.empty;
    }
    free(out->probe);
    out->probe = pk_blk_probe_describe(&p);
    if (p.fs_type && p.fs_uuid) {
        /* The filesystem, not the mount point, is the pool's storage. */
        free(out->identity);
        out->identity = pk_asprintf("%s:%s", p.fs_type, p.fs_uuid);
    }
    ret = 0;
out:
    pk_blk_probe_clear(&p);
    return ret;
}

/* `mkfs -t TYPE [-F | -f | -I] DEV`, libvirt's command: the force option
 * keeps mkfs from asking; the checks before it are ours. */
static pk_cmd *mkfs_cmd(int fmt, const char *dev)
{
    const char *type = pk_fs_format_to_string(fmt);
    pk_cmd *cmd = pk_cmd_new("mkfs");
    pk_cmd_add_args(cmd, "-t", type, NULL);
    if (fmt == PK_FS_XFS)
        pk_cmd_add_arg(cmd, "-f");
    else if (fmt == PK_FS_EXT2 || fmt == PK_FS_EXT3 || fmt == PK_FS_EXT4)
        pk_cmd_add_arg(cmd, "-F");
    else if (fmt == PK_FS_VFAT)
        pk_cmd_add_arg(cmd, "-I");
    pk_cmd_add_arg(cmd, dev);
    return cmd;
}

/* Erase the old signatures and make the new filesystem. Runs the in-use
 * check and the probe again right before it writes. */
static int make_fs(pk_bctx *c, const pk_pool *def, const char *dev, pk_err **err)
{
    int fmt = fs_format(def);
    const char *type = pk_fs_format_to_string(fmt);
    _cleanup_free_ char *helper_name = pk_asprintf("mkfs.%s", type);
    _cleanup_free_ char *helper = pk_find_program(helper_name);
    if (!helper)
        return pk_fail(err, "cannot format '%s' as %s: the program '%s' is not installed",
                       dev, type, helper_name);
    if (pk_blk_check_unused(dev, "format", err) < 0)
        return -1;
    pk_blk_probe p = { 0 };
    if (pk_blk_probe_path(dev, &p, err) < 0) return -1;
    pk_cmd *cmd = NULL;
    int ret = -1;
    if (!p.empty && !c->allow_format) {
        _cleanup_free_ char *what = pk_blk_probe_describe(&p);
        pk_fail(err, "refusing to format '%s' as %s: it holds %s (policy allow_format permits it)",
                dev, type, what);
        goto out;
    }
    if (pk_backend_fault("pool.build.before-mkfs", def->name)) {
        pk_fail(err, "fault injected at 'pool.build.before-mkfs'");
        goto out;
    }
    if (!p.empty) {
        _cleanup_close_ int fd = open(dev, O_RDWR | O_EXCL | O_CLOEXEC);
        if (fd < 0) {
            pk_fail_errno(err, errno, "cannot open '%s' exclusively", dev);
            goto out;
        }
        if (pk_blk_wipe_fd(fd, dev, err) < 0) goto out;
        /* Partitions of a table just erased must not linger in the kernel. */
        if (p.pt_type) ioctl(fd, BLKRRPART);
    }
    cmd = mkfs_cmd(fmt, dev);
    if (pk_cmd_run(cmd, NULL, err) < 0) {
        pk_wrap(err, "cannot format '%s' as %s", dev, type);
        goto out;
    }
    pk_blk_probe_clear(&p);
    if (pk_blk_probe_path(dev, &p, err) < 0) goto out;
    if (!has_wanted_fs(def, &p)) {
        _cleanup_free_ char *what = pk_blk_probe_describe(&p);
        pk_fail(err, "'%s' holds %s after mkfs, not a %s filesystem", dev, what, type);
        goto out;
    }
    ret = 0;
out:
    pk_cmd_free(cmd);
    pk_blk_probe_clear(&p);
    return ret;
}

static int fs_build(pk_bctx *c, const pk_pool *def, pk_err **err)
{
    const char *dev = fs_device(def, err);
    if (!dev) return -1;
    dev_t rdev;
    if (pk_blk_rdev(dev, &rdev, err) < 0) return -1;
    int m = mount_state(def, rdev, err);
    if (m < 0) return -1;
    if (m == MOUNT_OURS) return 0;   /* built and running */

    pk_blk_probe p = { 0 };
    if (pk_blk_probe_path(dev, &p, err) < 0) return -1;
    bool built = has_wanted_fs(def, &p);
    _cleanup_free_ char *what = pk_blk_probe_describe(&p);
    pk_blk_probe_clear(&p);
    if (!built) {
        if (fs_format(def) == PK_FS_AUTO)
            return pk_fail(err, "cannot build pool '%s': '%s' holds %s and format 'auto' names no filesystem to create",
                           def->name, dev, what);
        if (make_fs(c, def, dev, err) < 0)
            return -1;
    }
    return pk_dir_build(c, def, err);   /* the mount point */
}

static int do_mount(const pk_pool *def, const char *kernel_type, pk_err **err)
{
    if (!target_exists(def))
        return pk_fail(err, "cannot mount pool '%s': its target '%s' does not exist",
                       def->name, def->target_path);
    if (pk_mount_check_kernel(kernel_type, err) < 0)
        return pk_wrap(err, "cannot mount pool '%s'", def->name);
    _cleanup_(pk_cmd_freep) pk_cmd *cmd = pk_mount_cmd(def, err);
    if (!cmd) return -1;
    if (pk_cmd_run(cmd, NULL, err) < 0)
        return pk_wrap(err, "cannot mount pool '%s'", def->name);
    return 0;
}

static int fs_start(pk_bctx *c PK_UNUSED, const pk_pool *def, pk_err **err)
{
    dev_t rdev;
    if (pool_rdev(def, &rdev, err) < 0) return -1;
    int m = mount_state(def, rdev, err);
    if (m < 0) return -1;
    if (m == MOUNT_OURS) return 0;
    return do_mount(def, fs_kernel_name(fs_format(def)), err);
}

static int fs_stop(pk_bctx *c PK_UNUSED, const pk_pool *def, pk_err **err)
{
    dev_t rdev;
    if (pool_rdev(def, &rdev, err) < 0) return -1;
    int m = mount_state(def, rdev, err);
    if (m < 0) return -1;
    if (m == MOUNT_NONE) return 0;
    _cleanup_(pk_cmd_freep) pk_cmd *cmd = pk_umount_cmd(def, err);
    if (!cmd) return -1;
    if (pk_cmd_run(cmd, NULL, err) < 0)
        return pk_wrap(err, "cannot unmount pool '%s'", def->name);
    return 0;
}

/* Removes the mount point, as libvirt: the filesystem on the device, and
 * whatever is in it, stays. A mounted pool is refused: removing a mount
 * point means the pool is stopped. */
static int fs_delete_pool(pk_bctx *c, const pk_pool *def, char *const *owned_vols, pk_err **err)
{
    dev_t rdev;
    if (pool_rdev(def, &rdev, err) < 0) return -1;
    int m = mount_state(def, rdev, err);
    if (m < 0) return -1;
    if (m == MOUNT_OURS)
        return pk_fail(err, "cannot delete pool '%s': it is mounted on '%s' (stop it first)",
                       def->name, def->target_path);
    return pk_dir_delete_pool(c, def, owned_vols, err);
}

/* ---- volumes: the dir backend's, inside the mounted filesystem ---- */

static int fs_observe_vols(pk_bctx *c, const pk_pool *def, pk_obs_pool *out, pk_err **err)
{
    if (require_mounted(def, err) < 0) return -1;
    return pk_dir_observe_vols(c, def, out, err);
}

static int fs_create_vol(pk_bctx *c, const pk_pool *def, const pk_vol *vol, pk_obs_vol *out,
                         pk_err **err)
{
    if (require_mounted(def, err) < 0) return -1;
    return pk_dir_create_vol(c, def, vol, out, err);
}

static int fs_resize_vol(pk_bctx *c, const pk_pool *def, const pk_vol *vol, const pk_obs_vol *cur,
                         uint64_t new_capacity, pk_obs_vol *out, pk_err **err)
{
    if (require_mounted(def, err) < 0) return -1;
    return pk_dir_resize_vol(c, def, vol, cur, new_capacity, out, err);
}

static int fs_update_vol(pk_bctx *c, const pk_pool *def, const pk_vol *vol, const pk_obs_vol *cur,
                         pk_obs_vol *out, pk_err **err)
{
    if (require_mounted(def, err) < 0) return -1;
    return pk_dir_update_vol(c, def, vol, cur, out, err);
}

static int fs_delete_vol(pk_bctx *c, const pk_pool *def, const pk_obs_vol *cur, pk_err **err)
{
    if (require_mounted(def, err) < 0) return -1;
    return pk_dir_delete_vol(c, def, cur, err);
}

#define FS_CAPS (PK_CAP_BUILD | PK_CAP_START | PK_CAP_DELETE_POOL | PK_CAP_CREATE_VOL | \
                 PK_CAP_RESIZE_VOL | PK_CAP_SHRINK_VOL | PK_CAP_UPDATE_VOL | PK_CAP_DELETE_VOL | \
                 PK_CAP_IMAGE_FORMATS | PK_CAP_BACKING)

const pk_backend pk_backend_fs = {
    .type = PK_POOL_FS,
    .caps = FS_CAPS,
    .observe_pool = fs_observe_pool,
    .observe_vols = fs_observe_vols,
    .build = fs_build,
    .start = fs_start,
    .stop = fs_stop,
    .delete_pool = fs_delete_pool,
    .create_vol = fs_create_vol,
    .resize_vol = fs_resize_vol,
    .update_vol = fs_update_vol,
    .delete_vol = fs_delete_vol,
};

/* ---- netfs ---- */

/* The type whose kernel support start checks: format auto mounts host:dir
 * sources, which mount(8) hands to NFS. */
static const char *netfs_kernel_name(const pk_pool *def)
{
    int f = netfs_format(def);
    return f == PK_NETFS_AUTO ? "nfs" : pk_netfs_format_to_string(f);
}

static int netfs_observe_pool(pk_bctx *c, const pk_pool *def, pk_obs_pool *out, pk_err **err)
{
    int m = mount_state(def, 0, err);
    if (m < 0) return -1;
    if (m == MOUNT_OURS) {
        if (pk_dir_observe_pool(c, def, out, err) < 0) return -1;
        out->state = PK_POOL_RUNNING;
        return 0;
    }
    out->state = target_exists(def) ? PK_POOL_INACTIVE : PK_POOL_ABSENT;
    return 0;
}

static int netfs_build(pk_bctx *c, const pk_pool *def, pk_err **err)
{
    int m = mount_state(def, 0, err);
    if (m < 0) return -1;
    if (m == MOUNT_OURS) return 0;
    return pk_dir_build(c, def, err);
}

static int netfs_start(pk_bctx *c PK_UNUSED, const pk_pool *def, pk_err **err)
{
    int m = mount_state(def, 0, err);
    if (m < 0) return -1;
    if (m == MOUNT_OURS) return 0;
    return do_mount(def, netfs_kernel_name(def), err);
}

const pk_backend pk_backend_netfs = {
    .type = PK_POOL_NETFS,
    .caps = FS_CAPS,
    .observe_pool = netfs_observe_pool,
    .observe_vols = fs_observe_vols,
    .build = netfs_build,
    .start = netfs_start,
    .stop = fs_stop,
    .delete_pool = fs_delete_pool,
    .create_vol = fs_create_vol,
    .resize_vol = fs_resize_vol,
    .update_vol = fs_update_vol,
    .delete_vol = fs_delete_vol,
};
