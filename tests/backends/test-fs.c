/* The fs backend on real loop devices: real mkfs, real mounts. The
 * runner's hook only watches (and records) the commands; they all run. */
#include "loopdev.h"
#include "../../backends/fs.h"
#include "../../backends/runner.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

static char *tmp;
static char **cmds;              /* commands run, joined by spaces */
static const char *fault_at;

static char *join(char *const *v)
{
    pk_buf b = PK_BUF_INIT;
    for (size_t i = 0; v && v[i]; i++) pk_buf_addf(&b, "%s%s", i ? " " : "", v[i]);
    return pk_buf_steal(&b);
}

static bool watch(pk_cmd *cmd, void *opaque PK_UNUSED)
{
    _cleanup_free_ char *s = join(pk_cmd_argv(cmd));
    pk_strv_push(&cmds, s);
    return false;   /* let it run */
}

static void cmds_reset(void)
{
    pk_strv_free(cmds);
    cmds = NULL;
}

static bool ran(const char *prefix)
{
    for (size_t i = 0; cmds && cmds[i]; i++)
        if (pk_str_has_prefix(cmds[i], prefix)) return true;
    return false;
}

static bool fault(const char *point, const char *object PK_UNUSED)
{
    return fault_at && strcmp(point, fault_at) == 0;
}

static char *errstr(pk_err *e)
{
    char *s = e ? pk_err_str(e) : NULL;
    pk_err_free(e);
    return s;
}

static pk_pool *fs_pool(const char *name, const char *dev, const char *format, const char *target)
{
    _cleanup_free_ char *xml = pk_asprintf(
        "<pool type='fs'><name>%s</name><source><device path='%s'/><format type='%s'/></source>"
        "<target><path>%s</path></target></pool>", name, dev, format, target);
    pk_err *e = NULL;
    pk_pool *p = pk_pool_parse(xml, strlen(xml), "test.xml", &e);
    _cleanup_free_ char *s = errstr(e);
    if (!p) tap_diag("%s", s);
    return p;
}

static pk_vol *vol(const pk_pool *p, const char *name, const char *capacity, const char *alloc)
{
    _cleanup_free_ char *xml = pk_asprintf(
        "<volume><name>%s</name><capacity unit='bytes'>%s</capacity>%s%s%s</volume>", name,
        capacity, alloc ? "<allocation unit='bytes'>" : "", alloc ? alloc : "",
        alloc ? "</allocation>" : "");
    pk_err *e = NULL;
    pk_vol *v = pk_vol_parse(p, xml, strlen(xml), "vol.xml", 0, &e);
    _cleanup_free_ char *s = errstr(e);
    if (!v) tap_diag("%s", s);
    return v;
}

/* What findmnt (not our parser) says is mounted on path: "SOURCE FSTYPE OPTIONS". */
static char *findmnt(const char *path)
{
    char *argv[] = { (char *)"findmnt", (char *)"-n", (char *)"-r", (char *)"-o", (char *)"SOURCE,FSTYPE,OPTIONS",
                     (char *)"--mountpoint", (char *)path, NULL };
    char *out = NULL;
    tap_run(argv, &out);
    if (out) out[strcspn(out, "\n")] = '\0';
    return out;
}

/* Whether the OPTIONS column of a findmnt line has `opt`. */
static bool has_option(const char *line, const char *opt)
{
    const char *sp = line ? strrchr(line, ' ') : NULL;
    if (!sp) return false;
    _cleanup_free_ char *list = pk_asprintf(",%s,", sp + 1);
    _cleanup_free_ char *tok = pk_asprintf(",%s,", opt);
    return strstr(list, tok) != NULL;
}

static int observe(const pk_backend *b, const pk_pool *p, pk_obs_pool *o, char **es)
{
    pk_err *e = NULL;
    pk_obs_pool_clear(o);
    int r = b->observe_pool(NULL, p, o, &e);
    *es = errstr(e);
    if (*es) tap_diag("%s", *es);
    return r;
}

static const pk_obs_vol *find_vol(const pk_obs_pool *o, const char *name)
{
    return pk_obs_pool_find_vol(o, name);
}

static char *read_file(const char *path, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    char *buf = pk_calloc(1, n + 1);
    if (read(fd, buf, n) < 0) buf[0] = '\0';
    close(fd);
    return buf;
}

static const char payload[] = "poolkeeper keeps this across a remount";

static void test_lifecycle(const char *dev)
{
    const pk_backend *b = pk_backend_for(PK_POOL_FS);
    tap_ok(b == &pk_backend_fs, "the registry serves fs pools");
    _cleanup_free_ char *target = pk_asprintf("%s/mnt/ext4 pool", tmp);
    _cleanup_(pk_pool_freep) pk_pool *p = fs_pool("fspool", dev, "ext4", target);
    if (!p) return;
    tl_cleanup_mount(target);
    pk_bctx c = { .no_sync = true };
    pk_obs_pool o = { 0 };
    _cleanup_free_ char *oe1 = NULL;
    tap_ok(observe(b, p, &o, &oe1) == 0 && o.state == PK_POOL_ABSENT, "empty device: absent");
    tap_ok(!o.nonempty, "nothing there to overwrite");
    tap_is_str(o.probe, "no signature", "probe says the device is empty");

    pk_err *e = NULL;
    cmds_reset();
    tap_ok(b->build(&c, p, &e) == 0, "build formats the device");
    _cleanup_free_ char *be = errstr(e);
    e = NULL;
    if (be) tap_diag("%s", be);
    _cleanup_free_ char *want_mkfs = pk_asprintf("mkfs -t ext4 -F %s", dev);
    tap_is_str(cmds ? cmds[0] : NULL, want_mkfs, "mkfs argv is libvirt's");
    _cleanup_free_ char *type = tl_blkid_value(dev, "TYPE");
    tap_is_str(type, "ext4", "blkid finds ext4 on the device");
    struct stat st;
    tap_ok(stat(target, &st) == 0 && S_ISDIR(st.st_mode), "mount point made");
    _cleanup_free_ char *oe2 = NULL;
    tap_ok(observe(b, p, &o, &oe2) == 0 && o.state == PK_POOL_INACTIVE, "built, not mounted: inactive");
    _cleanup_free_ char *uuid = tl_blkid_value(dev, "UUID");
    _cleanup_free_ char *want_id = pk_asprintf("ext4:%s", uuid);
    tap_is_str(o.identity, want_id, "identity is the filesystem's UUID");
    _cleanup_free_ char *first_identity = pk_strdup(o.identity);

    cmds_reset();
    tap_ok(b->start(&c, p, &e) == 0, "start mounts it");
    _cleanup_free_ char *se = errstr(e);
    e = NULL;
    if (se) tap_diag("%s", se);
    _cleanup_free_ char *want_mount = pk_asprintf("mount -o nodev,nosuid,noexec -t ext4 %s %s", dev, target);
    tap_is_str(cmds ? cmds[0] : NULL, want_mount, "mount argv is libvirt's (Linux defaults)");
    _cleanup_free_ char *fm = findmnt(target);
    _cleanup_free_ char *want_fm = pk_asprintf("%s ext4 ", dev);
    tap_ok(fm && pk_str_has_prefix(fm, want_fm), "findmnt sees the device mounted as ext4");
    bool opts = has_option(fm, "nosuid") && has_option(fm, "nodev") && has_option(fm, "noexec");
    tap_ok(opts, "with nosuid, nodev and noexec");
    if (!opts) tap_diag("findmnt: %s", fm ? fm : "");
    _cleanup_free_ char *oe3 = NULL;
    tap_ok(observe(b, p, &o, &oe3) == 0 && o.state == PK_POOL_RUNNING, "mounted: running");
    tap_ok(o.capacity > 40 * 1024 * 1024 && o.available > 0 && o.available <= o.capacity,
           "capacity and available from statvfs of the mounted filesystem");
    tap_is_str(o.identity, first_identity, "same identity while running");

    /* Volumes, through the backend ops. */
    _cleanup_(pk_vol_freep) pk_vol *v1 = vol(p, "v1.img", "4194304", NULL);
    _cleanup_(pk_vol_freep) pk_vol *v2 = vol(p, "v2.img", "1048576", "0");
    pk_obs_vol ov = { 0 };
    tap_ok(v1 && b->create_vol(&c, p, v1, &ov, &e) == 0, "create a 4 MiB raw volume");
    _cleanup_free_ char *ce = errstr(e);
    e = NULL;
    if (ce) tap_diag("%s", ce);
    tap_is_int((long long)ov.capacity, 4194304, "its capacity");
    tap_is_int((long long)ov.allocation, 4194304, "fully allocated (no <allocation>)");
    pk_obs_vol_clear(&ov);
    tap_ok(v2 && b->create_vol(&c, p, v2, &ov, &e) == 0, "create a sparse volume");
    pk_err_free(e);
    e = NULL;
    pk_obs_vol_clear(&ov);
    _cleanup_free_ char *v1path = pk_asprintf("%s/v1.img", target);
    int fd = open(v1path, O_WRONLY | O_CLOEXEC);
    tap_ok(fd >= 0 && pwrite(fd, payload, sizeof(payload), 0) == (ssize_t)sizeof(payload) &&
           fsync(fd) == 0, "write data into v1.img");
    if (fd >= 0) close(fd);
    pk_obs_pool_clear(&o);
    tap_ok(b->observe_pool(&c, p, &o, &e) == 0 && b->observe_vols(&c, p, &o, &e) == 0,
           "observe the volumes");
    pk_err_free(e);
    e = NULL;
    const pk_obs_vol *o1 = find_vol(&o, "v1.img");
    const pk_obs_vol *o2 = find_vol(&o, "v2.img");
    tap_ok(o1 && o2, "both volumes listed");
    _cleanup_free_ char *id1 = o1 && o1->identity ? pk_strdup(o1->identity) : NULL;
    tap_ok(find_vol(&o, "lost+found") != NULL, "lost+found shows as a volume, as in libvirt");

    cmds_reset();
    tap_ok(b->start(&c, p, &e) == 0 && !cmds, "start of a mounted pool runs nothing");
    tap_ok(b->build(&c, p, &e) == 0 && !cmds, "build of a running pool runs nothing");
    pk_err_free(e);
    e = NULL;

    cmds_reset();
    tap_ok(b->stop(&c, p, &e) == 0, "stop unmounts it");
    pk_err_free(e);
    e = NULL;
    _cleanup_free_ char *want_umount = pk_asprintf("umount %s", target);
    tap_is_str(cmds ? cmds[0] : NULL, want_umount, "umount argv");
    _cleanup_free_ char *fm2 = findmnt(target);
    tap_is_str(fm2, "", "findmnt: nothing mounted there");
    _cleanup_free_ char *oe4 = NULL;
    tap_ok(observe(b, p, &o, &oe4) == 0 && o.state == PK_POOL_INACTIVE, "stopped: inactive");
    tap_ok(b->stop(&c, p, &e) == 0, "stop of a stopped pool is fine");

    _cleanup_(pk_vol_freep) pk_vol *v3 = vol(p, "v3.img", "1048576", NULL);
    tap_ok(v3 && b->create_vol(&c, p, v3, &ov, &e) < 0, "create_vol refuses an unmounted pool");
    _cleanup_free_ char *ue = errstr(e);
    e = NULL;
    _cleanup_free_ char *want_ue = pk_asprintf("error: pool 'fspool' is not mounted on '%s'", target);
    tap_is_str(ue, want_ue, "saying it is not mounted");
    _cleanup_free_ char *v3path = pk_asprintf("%s/v3.img", target);
    tap_ok(access(v3path, F_OK) < 0, "nothing written into the bare mount point");

    cmds_reset();
    tap_ok(b->build(&c, p, &e) == 0 && !ran("mkfs"), "build of a built pool does not format again");
    pk_err_free(e);
    e = NULL;
    _cleanup_free_ char *uuid2 = tl_blkid_value(dev, "UUID");
    tap_is_str(uuid2, uuid, "same filesystem UUID");

    tap_ok(b->start(&c, p, &e) == 0, "start again");
    pk_err_free(e);
    e = NULL;
    _cleanup_free_ char *back = read_file(v1path, sizeof(payload));
    tap_is_str(back, payload, "data intact after stop and start");
    pk_obs_pool_clear(&o);
    tap_ok(b->observe_pool(&c, p, &o, &e) == 0 && b->observe_vols(&c, p, &o, &e) == 0 &&
           o.state == PK_POOL_RUNNING, "running again");
    pk_err_free(e);
    e = NULL;
    o1 = find_vol(&o, "v1.img");
    o2 = find_vol(&o, "v2.img");
    tap_is_str(o1 ? o1->identity : NULL, id1, "v1.img is the same file");
    tap_ok(o2 && b->delete_vol(&c, p, o2, &e) == 0, "delete v2.img through the backend");
    pk_err_free(e);
    e = NULL;
    _cleanup_free_ char *v2path = pk_asprintf("%s/v2.img", target);
    tap_ok(access(v2path, F_OK) < 0, "v2.img is gone");

    tap_ok(b->delete_pool(&c, p, NULL, &e) < 0, "a mounted pool is not deleted");
    pk_err_free(e);
    e = NULL;
    tap_ok(b->stop(&c, p, &e) == 0, "stop");
    pk_err_free(e);
    e = NULL;
    tap_ok(b->delete_pool(&c, p, NULL, &e) == 0 && access(target, F_OK) < 0,
           "delete removes the mount point");
    pk_err_free(e);
    e = NULL;
    _cleanup_free_ char *type3 = tl_blkid_value(dev, "TYPE");
    tap_is_str(type3, "ext4", "the filesystem stays on the device, as libvirt");
    pk_obs_pool_clear(&o);
}

/* A device holding ext4 is formatted only with allow_format. */
static void test_signature_guard(const char *dev)
{
    char *mk[] = { (char *)"mkfs.ext4", (char *)"-q", (char *)"-F", (char *)dev, NULL };
    tap_ok(tap_run(mk, NULL) == 0, "someone else's ext4 on the device");
    _cleanup_free_ char *xfs = pk_find_program("mkfs.xfs");
    const char *fmt = xfs ? "xfs" : "ext2";
    if (!xfs) tap_diag("mkfs.xfs missing: using ext2 as the other filesystem");
    _cleanup_free_ char *target = pk_asprintf("%s/mnt/guarded", tmp);
    _cleanup_(pk_pool_freep) pk_pool *p = fs_pool("guarded", dev, fmt, target);
    if (!p) return;
    pk_bctx c = { .no_sync = true };
    pk_obs_pool o = { 0 };
    _cleanup_free_ char *oe = NULL;
    tap_ok(observe(&pk_backend_fs, p, &o, &oe) == 0 && o.state == PK_POOL_ABSENT, "wrong filesystem: absent");
    tap_ok(o.nonempty, "and not empty");
    _cleanup_free_ char *uuid = tl_blkid_value(dev, "UUID");
    _cleanup_free_ char *want_probe = pk_asprintf("ext4 filesystem UUID %s", uuid);
    tap_is_str(o.probe, want_probe, "the probe says what is there, for the plan");

    pk_err *e = NULL;
    cmds_reset();
    tap_ok(pk_backend_fs.build(&c, p, &e) < 0, "build without allow_format is refused");
    _cleanup_free_ char *be = errstr(e);
    e = NULL;
    _cleanup_free_ char *want_be = pk_asprintf(
        "error: refusing to format '%s' as %s: it holds ext4 filesystem UUID %s (policy allow_format permits it)",
        dev, fmt, uuid);
    tap_is_str(be, want_be, "naming what the device holds");
    tap_ok(!ran("mkfs"), "mkfs never ran");
    _cleanup_free_ char *t1 = tl_blkid_value(dev, "TYPE");
    tap_is_str(t1, "ext4", "the ext4 is untouched");

    c.allow_format = true;
    fault_at = "pool.build.before-mkfs";
    tap_ok(pk_backend_fs.build(&c, p, &e) < 0, "a crash right before mkfs ...");
    pk_err_free(e);
    e = NULL;
    fault_at = NULL;
    _cleanup_free_ char *t2 = tl_blkid_value(dev, "TYPE");
    tap_is_str(t2, "ext4", "... leaves the device as it was");

    cmds_reset();
    tap_ok(pk_backend_fs.build(&c, p, &e) == 0, "build with allow_format formats it");
    _cleanup_free_ char *be2 = errstr(e);
    e = NULL;
    if (be2) tap_diag("%s", be2);
    _cleanup_free_ char *want_mkfs = pk_asprintf("mkfs -t %s %s %s", fmt, xfs ? "-f" : "-F", dev);
    tap_is_str(cmds ? cmds[0] : NULL, want_mkfs, "mkfs argv");
    _cleanup_free_ char *t3 = tl_blkid_value(dev, "TYPE");
    tap_is_str(t3, fmt, "blkid finds the new filesystem");
    _cleanup_free_ char *oe2 = NULL;
    tap_ok(observe(&pk_backend_fs, p, &o, &oe2) == 0 && o.state == PK_POOL_INACTIVE && !o.nonempty,
           "and the pool is built");
    pk_obs_pool_clear(&o);
    c.allow_format = false;
    tap_ok(pk_backend_fs.delete_pool(&c, p, NULL, &e) == 0, "delete its mount point");
    pk_err_free(e);
}

/* Mounted or exclusively opened devices are never formatted. */
static void test_in_use(const char *dev1, const char *dev2)
{
    _cleanup_free_ char *ta = pk_asprintf("%s/mnt/a", tmp);
    _cleanup_free_ char *tb = pk_asprintf("%s/mnt/b", tmp);
    tl_cleanup_mount(ta);
    _cleanup_(pk_pool_freep) pk_pool *a = fs_pool("a", dev1, "ext4", ta);
    _cleanup_(pk_pool_freep) pk_pool *bp = fs_pool("b", dev1, "ext2", tb);
    _cleanup_(pk_pool_freep) pk_pool *cp = fs_pool("c", dev2, "ext2", tb);
    if (!a || !bp || !cp) return;
    pk_bctx c = { .no_sync = true, .allow_format = true };
    pk_err *e = NULL;
    tap_ok(pk_backend_fs.build(&c, a, &e) == 0 && pk_backend_fs.start(&c, a, &e) == 0,
           "pool a built and mounted on the first device");
    pk_err_free(e);
    e = NULL;
    cmds_reset();
    tap_ok(pk_backend_fs.build(&c, bp, &e) < 0, "another pool on the mounted device: refused, even with allow_format");
    _cleanup_free_ char *me = errstr(e);
    e = NULL;
    _cleanup_free_ char *want_me = pk_asprintf("error: refusing to format '%s': it is mounted on '%s'", dev1, ta);
    tap_is_str(me, want_me, "naming the mount");
    tap_ok(!ran("mkfs"), "mkfs never ran");

    int fd = open(dev2, O_RDONLY | O_EXCL | O_CLOEXEC);
    tap_ok(fd >= 0, "hold the second device open exclusively");
    tap_ok(pk_backend_fs.build(&c, cp, &e) < 0, "an exclusively opened device is refused");
    _cleanup_free_ char *xe = errstr(e);
    e = NULL;
    _cleanup_free_ char *want_xe = pk_asprintf(
        "error: refusing to format '%s': it is in use (it cannot be opened exclusively)", dev2);
    tap_is_str(xe, want_xe, "saying it is in use");
    tap_ok(!ran("mkfs"), "mkfs never ran");
    if (fd >= 0) close(fd);

    tap_ok(pk_backend_fs.stop(&c, a, &e) == 0, "stop pool a");
    pk_err_free(e);
}

/* format auto mounts whatever is there; a filesystem the kernel lacks is
 * refused before mount runs. */
static void test_auto_and_kernel(const char *dev)
{
    _cleanup_free_ char *t = pk_asprintf("%s/mnt/auto", tmp);
    tl_cleanup_mount(t);
    _cleanup_(pk_pool_freep) pk_pool *p = fs_pool("auto", dev, "auto", t);
    if (!p) return;
    pk_bctx c = { .no_sync = true };
    pk_err *e = NULL;
    cmds_reset();
    tap_ok(pk_backend_fs.build(&c, p, &e) == 0 && !ran("mkfs"), "format auto: build only makes the mount point");
    pk_err_free(e);
    e = NULL;
    tap_ok(pk_backend_fs.start(&c, p, &e) == 0, "and start mounts what is there");
    _cleanup_free_ char *se = errstr(e);
    e = NULL;
    if (se) tap_diag("%s", se);
    _cleanup_free_ char *want = pk_asprintf("mount -o nodev,nosuid,noexec -t auto %s %s", dev, t);
    tap_ok(ran(want), "with -t auto");
    pk_obs_pool o = { 0 };
    _cleanup_free_ char *oe = NULL;
    tap_ok(observe(&pk_backend_fs, p, &o, &oe) == 0 && o.state == PK_POOL_RUNNING, "running");
    pk_obs_pool_clear(&o);
    tap_ok(pk_backend_fs.stop(&c, p, &e) == 0, "stop");
    pk_err_free(e);
    e = NULL;

    _cleanup_free_ char *vfat = pk_find_program("mkfs.vfat");
    if (!vfat) {
        tap_skip("dosfstools is not installed", "vfat build and mount");
        return;
    }
    _cleanup_(pk_pool_freep) pk_pool *v = fs_pool("vfat", dev, "vfat", t);
    c.allow_format = true;
    tap_ok(v && pk_backend_fs.build(&c, v, &e) == 0, "vfat build (mkfs -t vfat -I)");
    pk_err_free(e);
    e = NULL;
    _cleanup_free_ char *tv = tl_blkid_value(dev, "TYPE");
    tap_is_str(tv, "vfat", "blkid finds vfat");
    FILE *f = fopen("/proc/filesystems", "re");
    bool has_vfat = false;
    char line[256];
    while (f && fgets(line, sizeof(line), f))
        if (strcmp(line, "\tvfat\n") == 0) has_vfat = true;
    if (f) fclose(f);
    cmds_reset();
    int r = v ? pk_backend_fs.start(&c, v, &e) : -1;
    _cleanup_free_ char *ve = errstr(e);
    e = NULL;
    if (has_vfat) {
        tap_ok(r == 0, "this kernel has vfat: mounted");
        pk_backend_fs.stop(&c, v, &e);
        pk_err_free(e);
        e = NULL;
    } else {
        tap_is_str(ve, "error: cannot mount pool 'vfat': filesystem type 'vfat' is not supported by this kernel",
                   "this kernel has no vfat: a clear error");
        tap_ok(!ran("mount"), "and mount never ran");
    }
    pk_backend_fs.delete_pool(&c, p, NULL, &e);
    pk_err_free(e);
}

int main(void)
{
    const char *why = tl_unavailable();
    _cleanup_free_ char *mkfs = pk_find_program("mkfs.ext4");
    if (!why && !mkfs) why = "mkfs.ext4 (e2fsprogs) is not installed";
    if (why) {
        tap_skip(why, "fs pools on loop devices");
        return tap_done();
    }
    tmp = tap_tmpdir("fs");
    _cleanup_free_ char *mnt = pk_asprintf("%s/mnt", tmp);
    mkdir(mnt, 0755);
    char *dev1 = tl_loop_attach(tmp, "disk1.img", 64 << 20, false);
    /* mkfs.xfs wants more than 300 MB; the image is sparse. */
    char *dev2 = tl_loop_attach(tmp, "disk2.img", 320 << 20, false);
    if (!dev1 || !dev2) tap_bail("cannot attach loop devices");
    pk_cmd_set_hook(watch, NULL);
    pk_backend_set_fault_hook(fault);

    test_lifecycle(dev1);
    test_signature_guard(dev2);
    test_in_use(dev1, dev2);
    test_auto_and_kernel(dev2);

    pk_cmd_set_hook(NULL, NULL);
    cmds_reset();
    tl_loop_detach(dev1);
    tl_loop_detach(dev2);
    free(dev1);
    free(dev2);
    free(tmp);
    return tap_done();
}
