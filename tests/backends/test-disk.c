/* The disk backend on a real loop device (attached with partition
 * support): gpt and dos tables written with libfdisk, partitions created,
 * deleted and reused, the kernel told through BLKPG, and the guards. What
 * the device holds is checked with blkid and sysfs, not with libfdisk. */
#include "loopdev.h"
#include "../../backends/disk.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#define MiB (1024ULL * 1024)

static char *tmp;
static const char *dev;       /* /dev/loopN */
static const char *base;      /* loopN */

static char *errstr(pk_err *e)
{
    char *s = e ? pk_err_str(e) : NULL;
    pk_err_free(e);
    return s;
}

static pk_pool *disk_pool(const char *format)
{
    _cleanup_free_ char *xml = pk_asprintf(
        "<pool type='disk'><name>%spool</name><source><device path='%s'/><format type='%s'/>"
        "</source><target><path>/dev</path></target></pool>", format, dev, format);
    pk_err *e = NULL;
    pk_pool *p = pk_pool_parse(xml, strlen(xml), "test.xml", &e);
    _cleanup_free_ char *s = errstr(e);
    if (!p) tap_diag("%s", s);
    return p;
}

static pk_vol *vol(const pk_pool *p, const char *name, uint64_t capacity, const char *format)
{
    _cleanup_free_ char *xml = pk_asprintf(
        "<volume><name>%s</name><capacity unit='bytes'>%llu</capacity>%s%s%s</volume>", name,
        (unsigned long long)capacity, format ? "<target><format type='" : "",
        format ? format : "", format ? "'/></target>" : "");
    pk_err *e = NULL;
    pk_vol *v = pk_vol_parse(p, xml, strlen(xml), "vol.xml", 0, &e);
    _cleanup_free_ char *s = errstr(e);
    if (!v) tap_diag("%s", s);
    return v;
}

static char *pname(unsigned n)
{
    return pk_asprintf("%sp%u", base, n);
}

/* The kernel's view of a partition: start and size in 512-byte sectors
 * from sysfs, -1 when the kernel has no such partition. */
static long long sysfs_num(unsigned n, const char *what)
{
    _cleanup_free_ char *path = pk_asprintf("/sys/class/block/%sp%u/%s", base, n, what);
    FILE *f = fopen(path, "re");
    if (!f) return -1;
    long long v = -1;
    if (fscanf(f, "%lld", &v) != 1) v = -1;
    fclose(f);
    return v;
}

static bool create(const pk_pool *p, unsigned n, uint64_t capacity, const char *format,
                   pk_obs_vol *out, char **es)
{
    _cleanup_free_ char *name = pname(n);
    _cleanup_(pk_vol_freep) pk_vol *v = vol(p, name, capacity, format);
    pk_err *e = NULL;
    pk_obs_vol tmpv = { 0 };
    int r = v ? pk_backend_disk.create_vol(NULL, p, v, out ? out : &tmpv, &e) : -1;
    pk_obs_vol_clear(&tmpv);
    char *s = errstr(e);
    if (es) *es = s;
    else {
        if (s) tap_diag("%s", s);
        free(s);
    }
    return r == 0;
}

static bool observe_all(const pk_pool *p, pk_obs_pool *o)
{
    pk_err *e = NULL;
    pk_obs_pool_clear(o);
    int r = pk_backend_disk.observe_pool(NULL, p, o, &e);
    if (r == 0 && o->state == PK_POOL_RUNNING) r = pk_backend_disk.observe_vols(NULL, p, o, &e);
    _cleanup_free_ char *s = errstr(e);
    if (s) tap_diag("%s", s);
    return r == 0;
}

static bool has_free(const pk_obs_pool *o, uint64_t start, uint64_t end)
{
    for (size_t i = 0; i < o->n_free_extents; i++)
        if (o->free_extents[i].start == start && o->free_extents[i].end == end) return true;
    return false;
}

static void diag_free(const pk_obs_pool *o)
{
    for (size_t i = 0; i < o->n_free_extents; i++)
        tap_diag("free extent %llu-%llu", (unsigned long long)o->free_extents[i].start,
                 (unsigned long long)o->free_extents[i].end);
}

static void test_names(void)
{
    const struct { const char *disk; bool dm; pk_tristate sep; const char *want; } cases[] = {
        { "/dev/sda", false, PK_TRI_ABSENT, "/dev/sda3" },
        { "/dev/loop0", false, PK_TRI_ABSENT, "/dev/loop0p3" },
        { "/dev/nvme0n1", false, PK_TRI_ABSENT, "/dev/nvme0n1p3" },
        { "/dev/mapper/mpatha", true, PK_TRI_ABSENT, "/dev/mapper/mpatha3" },
        { "/dev/mapper/mpatha", true, PK_TRI_NO, "/dev/mapper/mpatha3" },
        { "/dev/mapper/mpatha", true, PK_TRI_YES, "/dev/mapper/mpathap3" },
        { "/dev/mapper/mpath0", true, PK_TRI_NO, "/dev/mapper/mpath0p3" },
        { "/dev/sdb", false, PK_TRI_YES, "/dev/sdb3" },
    };
    for (size_t i = 0; i < PK_NELEM(cases); i++) {
        _cleanup_free_ char *got = pk_disk_part_path(cases[i].disk, cases[i].dm, cases[i].sep, 3);
        tap_is_str(got, cases[i].want, "partition 3 of %s%s, part_separator=%s", cases[i].disk,
                   cases[i].dm ? " (dm)" : "", cases[i].sep == PK_TRI_YES ? "yes"
                                                : cases[i].sep == PK_TRI_NO ? "no" : "absent");
    }
}

static void test_gpt(void)
{
    _cleanup_(pk_pool_freep) pk_pool *p = disk_pool("gpt");
    if (!p) return;
    const pk_backend *b = pk_backend_for(PK_POOL_DISK);
    tap_ok(b == &pk_backend_disk, "the registry serves disk pools");
    tap_ok(!(b->caps & PK_CAP_RESIZE_VOL) && (b->caps & PK_CAP_CREATE_VOL) && (b->caps & PK_CAP_DELETE_VOL),
           "disk pools create and delete volumes, never resize them");
    pk_bctx c = { .no_sync = true };
    pk_obs_pool o = { 0 };
    pk_err *e = NULL;
    tap_ok(observe_all(p, &o) && o.state == PK_POOL_ABSENT && !o.nonempty, "empty device: absent, nothing to overwrite");
    tap_ok(b->build(&c, p, &e) == 0, "build writes a gpt table");
    _cleanup_free_ char *be = errstr(e);
    e = NULL;
    if (be) tap_diag("%s", be);
    _cleanup_free_ char *pt = tl_blkid_value(dev, "PTTYPE");
    tap_is_str(pt, "gpt", "blkid finds gpt");
    tap_ok(observe_all(p, &o) && o.state == PK_POOL_RUNNING, "labelled: running");
    _cleanup_free_ char *ptuuid = tl_blkid_value(dev, "PTUUID");
    _cleanup_free_ char *want_id = pk_asprintf("gpt:%s", ptuuid);
    tap_is_str(o.identity, want_id, "pool identity is the disk GUID");
    tap_is_int((long long)o.capacity, (long long)(128 * MiB), "capacity is the device size");
    tap_is_int((long long)o.n_vols, 0, "no partitions");
    /* GPT: usable from LBA 2048 (1 MiB alignment) to N-34 (backup entries and header). */
    uint64_t last = 128 * MiB / 512 - 34;
    tap_ok(o.n_free_extents == 1 && has_free(&o, MiB, (last + 1) * 512), "one free extent: all usable space");
    diag_free(&o);
    tap_ok(b->build(&c, p, &e) == 0, "build again: already built");

    pk_obs_vol v1 = { 0 };
    tap_ok(create(p, 1, 16 * MiB, NULL, &v1, NULL), "create partition 1 (16 MiB)");
    _cleanup_free_ char *n1 = pname(1);
    _cleanup_free_ char *path1 = pk_asprintf("/dev/%s", n1);
    tap_is_str(v1.name, n1, "named as libvirt names it");
    tap_is_str(v1.path, path1, "its path");
    tap_is_str(v1.key, path1, "key is the path, as libvirt");
    tap_ok(v1.type == PK_VOL_BLOCK && v1.format == PK_PART_NONE, "a block volume of format none");
    tap_is_int((long long)v1.capacity, (long long)(16 * MiB), "capacity exactly as asked");
    tap_ok(v1.n_extents == 1 && v1.extents[0].start == MiB && v1.extents[0].end == 17 * MiB,
           "extent 1 MiB - 17 MiB (aligned)");
    tap_is_int(sysfs_num(1, "start"), 2048, "the kernel knows it: start");
    tap_is_int(sysfs_num(1, "size"), 32768, "and size");
    struct stat st;
    tap_ok(stat(path1, &st) == 0 && S_ISBLK(st.st_mode), "its device node exists");
    _cleanup_free_ char *partuuid = tl_blkid_value(path1, "PART_ENTRY_UUID");
    _cleanup_free_ char *want_pid = pk_asprintf("partuuid:%s", partuuid);
    tap_is_str(v1.identity, want_pid, "identity is the partition GUID");

    pk_obs_vol v2 = { 0 };
    tap_ok(create(p, 2, 8 * MiB, "linux-swap", &v2, NULL), "create partition 2 (8 MiB, linux-swap)");
    tap_ok(v2.format == PK_PART_LINUX_SWAP && v2.extents && v2.extents[0].start == 17 * MiB,
           "swap type, right after partition 1");
    _cleanup_free_ char *ptype = pname(2);
    _cleanup_free_ char *path2 = pk_asprintf("/dev/%s", ptype);
    _cleanup_free_ char *guid = tl_blkid_value(path2, "PART_ENTRY_TYPE");
    tap_is_str(guid, "0657fd6d-a4ab-43c4-84e5-0933c84b4f4f", "blkid sees the Linux swap GUID");

    _cleanup_free_ char *ne = NULL;
    _cleanup_(pk_vol_freep) pk_vol *bad = vol(p, "data", MiB, NULL);
    tap_ok(bad && b->create_vol(&c, p, bad, NULL, &e) < 0, "a name that is no partition name is refused");
    ne = errstr(e);
    e = NULL;
    _cleanup_free_ char *want_ne = pk_asprintf("error: invalid partition name 'data', expected '%sp3'", base);
    tap_is_str(ne, want_ne, "with libvirt's message");
    _cleanup_free_ char *ee = NULL;
    tap_ok(!create(p, 1, MiB, NULL, NULL, &ee), "partition 1 again is refused");
    tap_ok(ee && strstr(ee, "already exists"), "it already exists");

    tap_ok(observe_all(p, &o), "observe");
    tap_is_int((long long)o.n_vols, 2, "two volumes");
    tap_is_int((long long)o.allocation, (long long)(24 * MiB), "allocation is what the partitions take");
    tap_ok(has_free(&o, 25 * MiB, (last + 1) * 512), "free space after partition 2");
    const pk_obs_vol *ov1 = pk_obs_pool_find_vol(&o, n1);
    tap_is_str(ov1 ? ov1->identity : NULL, v1.identity, "observe gives the same identity");

    pk_obs_vol fake = { 0 };
    fake.name = pk_strdup(n1);
    fake.identity = pk_strdup("partuuid:00000000-0000-0000-0000-000000000000");
    tap_ok(b->delete_vol(&c, p, &fake, &e) < 0, "delete of a partition that was replaced is refused");
    _cleanup_free_ char *re = errstr(e);
    e = NULL;
    tap_ok(re && strstr(re, "was replaced since it was observed"), "identity checked");
    pk_obs_vol_clear(&fake);
    tap_ok(sysfs_num(1, "size") == 32768, "partition 1 still there");

    tap_ok(ov1 && b->delete_vol(&c, p, ov1, &e) == 0, "delete partition 1");
    pk_err_free(e);
    e = NULL;
    tap_is_int(sysfs_num(1, "size"), -1, "the kernel dropped it");
    tap_ok(stat(path1, &st) < 0, "its device node is gone");
    tap_ok(observe_all(p, &o) && o.n_vols == 1, "one volume left");
    tap_ok(has_free(&o, MiB, 17 * MiB), "its space is a free extent again");
    diag_free(&o);

    pk_obs_vol v3 = { 0 };
    tap_ok(create(p, 3, 8 * MiB, NULL, &v3, NULL), "create partition 3 (8 MiB)");
    tap_ok(v3.extents && v3.extents[0].start == MiB,
           "it goes into the freed hole (smallest free extent that fits)");
    tap_is_int(sysfs_num(3, "start"), 2048, "kernel agrees");

    tap_ok(b->resize_vol(&c, p, NULL, &v3, 16 * MiB, NULL, &e) < 0, "resize is refused");
    _cleanup_free_ char *rz = errstr(e);
    e = NULL;
    _cleanup_free_ char *want_rz = pk_asprintf(
        "error: cannot resize partition '%sp3': disk pools do not support changing the capacity of volumes", base);
    tap_is_str(rz, want_rz, "with a clear message");
    pk_obs_vol_clear(&v1);
    pk_obs_vol_clear(&v2);
    pk_obs_vol_clear(&v3);
    pk_obs_pool_clear(&o);
}

static void test_dos(void)
{
    _cleanup_(pk_pool_freep) pk_pool *p = disk_pool("dos");
    if (!p) return;
    pk_bctx c = { .no_sync = true };
    pk_obs_pool o = { 0 };
    pk_err *e = NULL;
    tap_ok(observe_all(p, &o) && o.state == PK_POOL_ABSENT && o.nonempty, "a gpt disk is not a dos pool, and not empty");
    _cleanup_free_ char *ptuuid = tl_blkid_value(dev, "PTUUID");
    _cleanup_free_ char *want_probe = pk_asprintf("gpt partition table (id %s)", ptuuid);
    tap_is_str(o.probe, want_probe, "probe says what is there");
    tap_ok(pk_backend_disk.build(&c, p, &e) < 0, "build over it without allow_format is refused");
    _cleanup_free_ char *be = errstr(e);
    e = NULL;
    _cleanup_free_ char *want_be = pk_asprintf(
        "error: refusing to write a dos partition table on '%s': it holds gpt partition table (id %s) (policy allow_format permits it)",
        dev, ptuuid);
    tap_is_str(be, want_be, "naming what it holds");
    _cleanup_free_ char *still = tl_blkid_value(dev, "PTTYPE");
    tap_is_str(still, "gpt", "gpt untouched");

    c.allow_format = true;
    tap_ok(pk_backend_disk.build(&c, p, &e) == 0, "build with allow_format writes dos");
    _cleanup_free_ char *be2 = errstr(e);
    e = NULL;
    if (be2) tap_diag("%s", be2);
    c.allow_format = false;
    _cleanup_free_ char *pt = tl_blkid_value(dev, "PTTYPE");
    tap_is_str(pt, "dos", "blkid finds dos");
    tap_ok(sysfs_num(2, "size") < 0 && sysfs_num(3, "size") < 0, "the old gpt partitions left the kernel");

    tap_ok(create(p, 1, 8 * MiB, NULL, NULL, NULL), "primary 1");
    tap_ok(create(p, 2, 8 * MiB, "fat32", NULL, NULL), "primary 2 (fat32)");
    _cleanup_free_ char *le = NULL;
    tap_ok(!create(p, 5, 8 * MiB, NULL, NULL, &le), "a logical partition without an extended one is refused");
    tap_ok(le && strstr(le, "logical partitions need an extended partition"), "saying why");
    pk_obs_vol ext = { 0 };
    tap_ok(create(p, 3, 64 * MiB, "extended", &ext, NULL), "extended 3 (64 MiB)");
    tap_ok(ext.format == PK_PART_EXTENDED && pk_streq(ext.part_type, "extended"), "it is the extended partition");
    _cleanup_free_ char *e2 = NULL;
    tap_ok(!create(p, 4, 8 * MiB, "extended", NULL, &e2), "a second extended partition is refused");
    tap_ok(e2 && strstr(e2, "already has an extended partition"), "only one allowed");
    tap_ok(create(p, 5, 8 * MiB, NULL, NULL, NULL), "logical 5");
    tap_ok(create(p, 6, 8 * MiB, "linux-lvm", NULL, NULL), "logical 6 (linux-lvm)");
    tap_ok(create(p, 7, 8 * MiB, NULL, NULL, NULL), "logical 7");
    _cleanup_free_ char *ne = NULL;
    tap_ok(!create(p, 9, 8 * MiB, NULL, NULL, &ne), "logical 9 skipping 8 is refused");
    _cleanup_free_ char *want_ne = pk_asprintf("error: invalid partition name '%sp9', expected '%sp8'", base, base);
    tap_is_str(ne, want_ne, "dos numbers logical partitions in order");

    tap_ok(observe_all(p, &o) && o.state == PK_POOL_RUNNING, "observe");
    tap_is_int((long long)o.n_vols, 6, "six partitions");
    const char *kinds[8] = { NULL, "primary", "primary", "extended", NULL, "logical", "logical", "logical" };
    int right = 0;
    for (unsigned n = 1; n <= 7; n++) {
        if (!kinds[n]) continue;
        _cleanup_free_ char *name = pname(n);
        const pk_obs_vol *v = pk_obs_pool_find_vol(&o, name);
        if (v && pk_streq(v->part_type, kinds[n]) && sysfs_num(n, "size") > 0) right++;
        else tap_diag("%s: %s", name, v ? v->part_type : "missing");
    }
    tap_is_int(right, 6, "each of the right kind, and known to the kernel");
    _cleanup_free_ char *n3 = pname(3), *n2 = pname(2), *n6 = pname(6), *n7 = pname(7);
    const pk_obs_vol *x = pk_obs_pool_find_vol(&o, n3);
    tap_is_int(x ? (long long)x->allocation : -1, (long long)(24 * MiB), "extended allocation is its logical partitions'");
    const pk_obs_vol *f32 = pk_obs_pool_find_vol(&o, n2);
    tap_ok(f32 && f32->format == PK_PART_FAT32, "fat32 reads back as fat32");
    const pk_obs_vol *old6 = pk_obs_pool_find_vol(&o, n6);
    const pk_obs_vol *old7 = pk_obs_pool_find_vol(&o, n7);
    tap_ok(old6 && old6->format == PK_PART_LINUX_LVM, "linux-lvm reads back");
    if (!old6 || !old7) return;
    pk_extent hole = old6->extents[0];
    uint64_t start7 = old7->extents[0].start;
    _cleanup_free_ char *id7 = pk_strdup(old7->identity);
    _cleanup_free_ char *diskid = tl_blkid_value(dev, "PTUUID");
    _cleanup_free_ char *want_id7 = pk_asprintf("dos:0x%s:%llu", diskid, (unsigned long long)(start7 / 512));
    tap_is_str(id7, want_id7, "a dos partition's identity is the disk id and its start sector");

    /* Delete the middle logical partition: 7 becomes 6, as parted does. */
    pk_obs_vol del = { 0 };
    del.name = pk_strdup(old6->name);
    del.identity = pk_strdup(old6->identity);
    tap_ok(pk_backend_disk.delete_vol(&c, p, &del, &e) == 0, "delete logical 6");
    _cleanup_free_ char *de = errstr(e);
    e = NULL;
    if (de) tap_diag("%s", de);
    pk_obs_vol_clear(&del);
    tap_ok(observe_all(p, &o), "observe");
    tap_is_int((long long)o.n_vols, 5, "five partitions");
    const pk_obs_vol *new6 = pk_obs_pool_find_vol(&o, n6);
    tap_is_str(new6 ? new6->identity : NULL, id7, "the old 7 is now named 6 (same identity)");
    tap_ok(pk_obs_pool_find_vol(&o, n7) == NULL, "no partition 7");
    tap_is_int(sysfs_num(6, "start"), (long long)(start7 / 512), "the kernel renumbered it too");
    tap_is_int(sysfs_num(7, "size"), -1, "and dropped 7");
    tap_ok(has_free(&o, hole.start, hole.end), "the freed space is reported as a free extent, exactly");
    diag_free(&o);

    pk_obs_vol reuse = { 0 };
    tap_ok(create(p, 7, 8 * MiB, NULL, &reuse, NULL), "create logical 7 (8 MiB)");
    tap_ok(reuse.extents && reuse.extents[0].start == hole.start, "it reuses the freed space");
    tap_is_int(sysfs_num(7, "start"), (long long)(hole.start / 512), "where the kernel sees it");
    pk_obs_vol_clear(&reuse);
    pk_obs_vol_clear(&ext);
    pk_obs_pool_clear(&o);
}

/* Partitions in use are never deleted, renumbered or repartitioned. */
static void test_in_use(void)
{
    _cleanup_(pk_pool_freep) pk_pool *p = disk_pool("dos");
    _cleanup_(pk_pool_freep) pk_pool *g = disk_pool("gpt");
    if (!p || !g) return;
    pk_bctx c = { .no_sync = true, .allow_format = true };
    _cleanup_free_ char *n1 = pname(1), *n5 = pname(5), *n6 = pname(6);
    _cleanup_free_ char *p1 = pk_asprintf("/dev/%s", n1), *p6 = pk_asprintf("/dev/%s", n6);
    _cleanup_free_ char *m1 = pk_asprintf("%s/m1", tmp), *m6 = pk_asprintf("%s/m6", tmp);
    mkdir(m1, 0755);
    mkdir(m6, 0755);
    tl_cleanup_mount(m1);
    tl_cleanup_mount(m6);
    char *mk1[] = { (char *)"mkfs.ext4", (char *)"-q", (char *)"-F", p1, NULL };
    char *mk6[] = { (char *)"mkfs.ext4", (char *)"-q", (char *)"-F", p6, NULL };
    char *mnt1[] = { (char *)"mount", p1, m1, NULL };
    char *mnt6[] = { (char *)"mount", p6, m6, NULL };
    tap_ok(tap_run(mk1, NULL) == 0 && tap_run(mnt1, NULL) == 0, "partition 1 formatted and mounted");
    tap_ok(tap_run(mk6, NULL) == 0 && tap_run(mnt6, NULL) == 0, "partition 6 formatted and mounted");

    pk_err *e = NULL;
    tap_ok(pk_backend_disk.build(&c, g, &e) < 0, "repartitioning a disk with a mounted partition is refused");
    _cleanup_free_ char *be = errstr(e);
    e = NULL;
    _cleanup_free_ char *want_be = pk_asprintf(
        "error: refusing to repartition '%s': its partition '%s' is mounted on '%s'", dev, n1, m1);
    _cleanup_free_ char *want_be6 = pk_asprintf(
        "error: refusing to repartition '%s': its partition '%s' is mounted on '%s'", dev, n6, m6);
    tap_ok(pk_streq(be, want_be) || pk_streq(be, want_be6), "naming the partition and its mount");
    if (!pk_streq(be, want_be) && !pk_streq(be, want_be6)) tap_diag("got: %s", be);
    _cleanup_free_ char *pt = tl_blkid_value(dev, "PTTYPE");
    tap_is_str(pt, "dos", "table untouched");

    pk_obs_pool o = { 0 };
    tap_ok(observe_all(p, &o), "observe");
    const pk_obs_vol *v1 = pk_obs_pool_find_vol(&o, n1);
    const pk_obs_vol *v5 = pk_obs_pool_find_vol(&o, n5);
    tap_ok(v1 && pk_backend_disk.delete_vol(&c, p, v1, &e) < 0, "a mounted partition is not deleted");
    _cleanup_free_ char *de = errstr(e);
    e = NULL;
    _cleanup_free_ char *want_de = pk_asprintf("error: refusing to delete '%s': it is mounted on '%s'", p1, m1);
    tap_is_str(de, want_de, "saying where it is mounted");
    tap_ok(v5 && pk_backend_disk.delete_vol(&c, p, v5, &e) < 0,
           "deleting logical 5 would renumber mounted 6: refused");
    _cleanup_free_ char *re = errstr(e);
    e = NULL;
    _cleanup_free_ char *want_re = pk_asprintf("error: refusing to delete '%s': it is mounted on '%s'", p6, m6);
    tap_is_str(re, want_re, "naming the partition in use");
    tap_ok(sysfs_num(1, "size") > 0 && sysfs_num(5, "size") > 0 && sysfs_num(6, "size") > 0,
           "all partitions still there");

    tap_ok(tl_umount(m1) && tl_umount(m6), "unmount both");
    tap_ok(pk_backend_disk.delete_pool(&c, p, NULL, &e) < 0, "delete_pool with partitions not owned is refused");
    _cleanup_free_ char *fe = errstr(e);
    e = NULL;
    tap_ok(fe && strstr(fe, "holds partitions poolkeeper does not own") && strstr(fe, n1), "listing them");
    char **owned = NULL;
    for (size_t i = 0; i < o.n_vols; i++) pk_strv_push(&owned, o.vols[i].name);
    tap_ok(pk_backend_disk.delete_pool(&c, p, owned, &e) == 0, "delete_pool when all are owned");
    _cleanup_free_ char *dpe = errstr(e);
    e = NULL;
    if (dpe) tap_diag("%s", dpe);
    pk_strv_free(owned);
    _cleanup_free_ char *pt2 = tl_blkid_value(dev, "PTTYPE");
    tap_is_str(pt2, "", "no partition table left");
    tap_ok(sysfs_num(1, "size") < 0 && sysfs_num(5, "size") < 0, "no partitions left in the kernel");
    tap_ok(observe_all(p, &o) && o.state == PK_POOL_ABSENT && !o.nonempty, "the pool is absent and empty");
    pk_obs_pool_clear(&o);

    /* A filesystem on the whole device guards it like a table. */
    char *mkw[] = { (char *)"mkfs.ext4", (char *)"-q", (char *)"-F", (char *)dev, NULL };
    tap_ok(tap_run(mkw, NULL) == 0, "ext4 on the whole device");
    c.allow_format = false;
    tap_ok(pk_backend_disk.build(&c, g, &e) < 0, "a disk pool is not built over it");
    _cleanup_free_ char *we = errstr(e);
    tap_ok(we && strstr(we, "it holds ext4 filesystem"), "saying it holds ext4");
}

int main(void)
{
    test_names();
    const char *why = tl_unavailable();
    _cleanup_free_ char *mkfs = pk_find_program("mkfs.ext4");
    if (!why && !mkfs) why = "mkfs.ext4 (e2fsprogs) is not installed";
    if (why) {
        tap_skip(why, "disk pools on a loop device");
        return tap_done();
    }
    tmp = tap_tmpdir("disk");
    char *d = tl_loop_attach(tmp, "disk.img", 128 * MiB, true);
    if (!d) tap_bail("cannot attach a loop device");
    dev = d;
    base = strrchr(d, '/') + 1;

    test_gpt();
    test_dos();
    test_in_use();

    tl_loop_detach(d);
    free(d);
    free(tmp);
    return tap_done();
}
