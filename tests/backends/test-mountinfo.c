/* mountinfo parsing (backends/mount.c) on recorded and hand-written
 * samples, and recognising a pool's mount by device number or by source. */
#include "../tap.h"
#include "../../backends/mount.h"
#include <sys/stat.h>
#include <sys/sysmacros.h>

static char *data_path(const char *name)
{
    return pk_asprintf("%s/data/mountinfo/%s", tap_data_dir(), name);
}

static bool load(const char *name, pk_mountinfo *mi)
{
    _cleanup_free_ char *path = data_path(name);
    pk_mount_set_proc_files(path, NULL);
    pk_err *e = NULL;
    int r = pk_mountinfo_read(mi, &e);
    pk_mount_set_proc_files(NULL, NULL);
    if (r < 0) {
        _cleanup_free_ char *s = pk_err_str(e);
        tap_diag("%s", s);
        pk_err_free(e);
    }
    return r == 0;
}

static pk_pool *parse_pool(const char *xml)
{
    pk_err *e = NULL;
    pk_pool *p = pk_pool_parse(xml, strlen(xml), "test.xml", &e);
    if (!p) {
        _cleanup_free_ char *s = pk_err_str(e);
        tap_diag("%s", s);
    }
    pk_err_free(e);
    return p;
}

static pk_pool *netfs_pool(const char *format, const char *host, const char *dir,
                           const char *target)
{
    _cleanup_free_ char *xml = pk_asprintf(
        "<pool type='netfs'><name>n</name><source><host name='%s'/><dir path='%s'/>"
        "<format type='%s'/></source><target><path>%s</path></target></pool>",
        host, dir, format, target);
    return parse_pool(xml);
}

static void test_live_recorded(void)
{
    pk_mountinfo mi = { 0 };
    tap_ok(load("live-loop-ext4.txt", &mi), "recorded mountinfo parses");
    tap_is_int((long long)mi.n, 20, "every line is an entry");
    const pk_mount_entry *e = pk_mountinfo_at(&mi, "/tmp/bd-explore/mnt with space");
    tap_ok(e != NULL, "\\040 in the mount point is unescaped");
    if (e) {
        tap_is_int(e->major, 7, "major of the loop device");
        tap_is_int(e->minor, 0, "minor of the loop device");
        tap_is_str(e->fstype, "ext4", "filesystem type");
        tap_is_str(e->source, "/dev/loop0", "source");
        tap_is_str(e->options, "rw,nosuid,nodev,noexec,relatime", "per-mount options");
        tap_is_str(e->super_options, "rw", "superblock options");
        tap_is_str(e->root, "/", "root");
        tap_is_int(e->id, 42, "mount id");
        tap_is_int(e->parent_id, 27, "parent id");
    }
    /* /dev/pts is mounted twice: the later one is what the path shows. */
    const pk_mount_entry *pts = pk_mountinfo_at(&mi, "/dev/pts");
    tap_is_int(pts ? pts->id : -1, 29, "the topmost of two mounts on one path wins");
    tap_ok(pk_mountinfo_at(&mi, "/tmp/bd-explore") == NULL, "a parent directory is not a mount");

    size_t pos = 0, n = 0;
    while (pk_mountinfo_next_dev(&mi, 7, 0, &pos)) n++;
    tap_is_int((long long)n, 1, "one mount of 7:0");
    pos = 0;
    tap_ok(pk_mountinfo_next_dev(&mi, 7, 1, &pos) == NULL, "nothing of 7:1");

    /* An fs pool is recognised by major:minor, whatever the source says. */
    _cleanup_(pk_pool_freep) pk_pool *fs = parse_pool(
        "<pool type='fs'><name>f</name><source><device path='/dev/disk/by-id/some-alias'/>"
        "<format type='ext4'/></source><target><path>/x</path></target></pool>");
    if (e && fs) {
        tap_ok(pk_mount_entry_is_pool(e, fs, makedev(7, 0)), "fs pool: same device number, other name");
        tap_ok(!pk_mount_entry_is_pool(e, fs, makedev(7, 1)), "fs pool: other device number");
    }
    pk_mountinfo_clear(&mi);
}

static void test_escapes_optional_fields(void)
{
    pk_mountinfo mi = { 0 };
    tap_ok(load("netfs-other.txt", &mi), "hand-written sample with optional fields parses");
    const pk_mount_entry *odd = pk_mountinfo_at(&mi, "/mnt/odd\tname\nx");
    tap_ok(odd != NULL, "\\011 and \\012 unescaped");
    tap_is_str(odd ? odd->root : NULL, "/sub\\dir", "\\134 is a backslash");
    const pk_mount_entry *nfs = pk_mountinfo_at(&mi, "/mnt/nfs");
    tap_is_str(nfs ? nfs->fstype : NULL, "nfs", "type after 'shared:42 master:7 -'");
    tap_is_str(nfs ? nfs->source : NULL, "localhost:/var/lib/libvirt/images/", "source after the optional fields");
    size_t pos = 0, n = 0;
    while (pk_mountinfo_next_dev(&mi, 7, 3, &pos)) n++;
    tap_is_int((long long)n, 2, "both mounts of 7:3 are found");
    pk_mountinfo_clear(&mi);

    pk_mountinfo bad = { 0 };
    _cleanup_free_ char *path = data_path("bad.txt");
    pk_mount_set_proc_files(path, NULL);
    pk_err *e = NULL;
    tap_ok(pk_mountinfo_read(&bad, &e) < 0, "a line without ' - ' is an error");
    pk_mount_set_proc_files(NULL, NULL);
    tap_is_int(e ? e->line : 0, 2, "the error names line 2");
    tap_is_str(e ? e->file : NULL, path, "and the file");
    pk_err_free(e);
    tap_is_int((long long)bad.n, 0, "nothing half-parsed is returned");
}

static void test_netfs_matching(void)
{
    pk_mountinfo mi = { 0 };
    tap_ok(load("nfs.txt", &mi), "NFS sample parses");
    const pk_mount_entry *v3 = pk_mountinfo_at(&mi, "/mnt/nfs3");
    const pk_mount_entry *v4 = pk_mountinfo_at(&mi, "/mnt/nfs4");
    tap_ok(v3 && v4, "both NFS mounts are found by mount point");
    tap_is_str(v4 ? v4->fstype : NULL, "nfs4", "NFSv4 mounts have type nfs4");

    _cleanup_(pk_pool_freep) pk_pool *nfs = netfs_pool("nfs", "127.0.0.1", "/srv/export", "/mnt/nfs3");
    _cleanup_(pk_pool_freep) pk_pool *nfs_slash = netfs_pool("nfs", "127.0.0.1", "/srv//export/", "/mnt/nfs3");
    _cleanup_(pk_pool_freep) pk_pool *nfs_other = netfs_pool("nfs", "127.0.0.1", "/srv/other", "/mnt/nfs3");
    _cleanup_(pk_pool_freep) pk_pool *nfs_host = netfs_pool("nfs", "127.0.0.2", "/srv/export", "/mnt/nfs3");
    _cleanup_(pk_pool_freep) pk_pool *auto_ = netfs_pool("auto", "127.0.0.1", "/srv/export", "/mnt/nfs3");
    _cleanup_(pk_pool_freep) pk_pool *cifs = netfs_pool("cifs", "127.0.0.1", "/srv/export", "/mnt/nfs3");
    _cleanup_(pk_pool_freep) pk_pool *root4 = netfs_pool("nfs", "127.0.0.1", "/", "/mnt/nfs4");
    if (v3 && v4 && nfs && nfs_slash && nfs_other && nfs_host && auto_ && cifs && root4) {
        tap_ok(pk_mount_entry_is_pool(v3, nfs, 0), "nfs pool matches its NFSv3 mount");
        tap_ok(pk_mount_entry_is_pool(v3, nfs_slash, 0), "repeated and trailing slashes do not matter");
        tap_ok(!pk_mount_entry_is_pool(v3, nfs_other, 0), "another export is not the pool's");
        tap_ok(!pk_mount_entry_is_pool(v3, nfs_host, 0), "another host is not the pool's");
        tap_ok(pk_mount_entry_is_pool(v3, auto_, 0), "format auto takes what mount found");
        tap_ok(!pk_mount_entry_is_pool(v3, cifs, 0), "a cifs pool is not an nfs mount");
        tap_ok(pk_mount_entry_is_pool(v4, root4, 0), "nfs pool matches an nfs4 mount of '/'");
        tap_ok(!pk_mount_entry_is_pool(v4, nfs, 0), "the NFSv4 root is not the export pool");
    }
    pk_mountinfo_clear(&mi);

    tap_ok(load("netfs-other.txt", &mi), "cifs/glusterfs sample parses");
    const pk_mount_entry *c = pk_mountinfo_at(&mi, "/mnt/cifs");
    const pk_mount_entry *g = pk_mountinfo_at(&mi, "/mnt/gluster");
    const pk_mount_entry *n = pk_mountinfo_at(&mi, "/mnt/nfs");
    _cleanup_(pk_pool_freep) pk_pool *pc = netfs_pool("cifs", "example.com", "samba_share", "/mnt/cifs");
    _cleanup_(pk_pool_freep) pk_pool *pg = netfs_pool("glusterfs", "example.com", "/volume", "/mnt/gluster");
    _cleanup_(pk_pool_freep) pk_pool *pg2 = netfs_pool("glusterfs", "example.com", "volume", "/mnt/gluster");
    _cleanup_(pk_pool_freep) pk_pool *pn = netfs_pool("nfs", "localhost", "/var/lib/libvirt/images", "/mnt/nfs");
    if (c && g && n && pc && pg && pg2 && pn) {
        tap_ok(pk_mount_entry_is_pool(c, pc, 0), "cifs pool matches //host/share");
        tap_ok(!pk_mount_entry_is_pool(g, pc, 0), "cifs pool does not match a gluster mount");
        tap_ok(pk_mount_entry_is_pool(g, pg, 0), "glusterfs pool matches its fuse.glusterfs mount");
        tap_ok(pk_mount_entry_is_pool(g, pg2, 0), "a gluster volume written without '/' matches too");
        tap_ok(!pk_mount_entry_is_pool(n, pg, 0), "glusterfs pool does not match an nfs mount");
        tap_ok(pk_mount_entry_is_pool(n, pn, 0), "the kernel's trailing slash does not matter");
    }
    pk_mountinfo_clear(&mi);
}

static void test_live_proc(void)
{
    pk_mountinfo mi = { 0 };
    pk_err *e = NULL;
    tap_ok(pk_mountinfo_read(&mi, &e) == 0, "this process's /proc/self/mountinfo parses");
    pk_err_free(e);
    const pk_mount_entry *root = pk_mountinfo_at(&mi, "/");
    struct stat st;
    tap_ok(root && stat("/", &st) == 0 && major(st.st_dev) == root->major &&
               minor(st.st_dev) == root->minor,
           "'/' is there with the device number stat() gives");
    pk_mountinfo_clear(&mi);
}

static void test_kernel_check(void)
{
    _cleanup_free_ char *live = data_path("filesystems-live.txt");
    _cleanup_free_ char *nfs = data_path("filesystems-nfs.txt");
    pk_err *e = NULL;
    pk_mount_set_proc_files(NULL, live);
    tap_ok(pk_mount_check_kernel("nfs", &e) < 0, "recorded kernel without NFS: nfs refused");
    _cleanup_free_ char *s = e ? pk_err_str(e) : NULL;
    tap_is_str(s, "error: filesystem type 'nfs' is not supported by this kernel", "message says so");
    pk_err_free(e);
    e = NULL;
    tap_ok(pk_mount_check_kernel("cifs", &e) < 0, "and cifs refused");
    pk_err_free(e);
    e = NULL;
    tap_ok(pk_mount_check_kernel("ext4", &e) == 0, "ext4 is there");
    tap_ok(pk_mount_check_kernel("auto", &e) == 0, "auto is not checked");
    tap_ok(pk_mount_check_kernel("vfat", &e) < 0, "vfat is not in the recorded kernel");
    pk_err_free(e);
    e = NULL;
    pk_mount_set_proc_files(NULL, nfs);
    tap_ok(pk_mount_check_kernel("nfs", &e) == 0, "a kernel with nfs accepts nfs");
    tap_ok(pk_mount_check_kernel("cifs", &e) == 0, "and cifs (smb3)");
    pk_err_free(e);
    pk_mount_set_proc_files(NULL, NULL);
}

int main(void)
{
    test_live_recorded();
    test_escapes_optional_fields();
    test_netfs_matching();
    test_live_proc();
    test_kernel_check();
    return tap_done();
}
