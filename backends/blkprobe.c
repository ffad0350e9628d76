/* Signature probing with libblkid and the "in use" checks. */
#include "blkprobe.h"
#include "mount.h"
#include <blkid.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

void pk_blk_probe_clear(pk_blk_probe *p)
{
    if (!p) return;
    free(p->fs_type);
    free(p->fs_usage);
    free(p->fs_uuid);
    free(p->pt_type);
    free(p->pt_uuid);
    memset(p, 0, sizeof(*p));
}

static char *lookup(blkid_probe pr, const char *name)
{
    const char *v = NULL;
    size_t len = 0;
    if (blkid_probe_lookup_value(pr, name, &v, &len) != 0 || !v)
        return NULL;
    return pk_strdup(v);
}

int pk_blk_probe_path(const char *path, pk_blk_probe *out, pk_err **err)
{
    pk_blk_probe_clear(out);
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return pk_fail_errno(err, errno, "cannot open '%s' to probe it", path);
    blkid_probe pr = blkid_new_probe();
    if (!pr)
        return pk_fail(err, "cannot create a blkid probe for '%s'", path);
    int ret = -1;
    if (blkid_probe_set_device(pr, fd, 0, 0) != 0) {
        pk_fail(err, "cannot probe '%s'", path);
        goto out;
    }
    blkid_probe_enable_superblocks(pr, 1);
    blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_UUID |
                                              BLKID_SUBLKS_USAGE);
    blkid_probe_enable_partitions(pr, 1);
    blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC);
    int rc = blkid_do_safeprobe(pr);
    if (rc == -1) {
        pk_fail(err, "cannot probe '%s' for signatures", path);
        goto out;
    }
    blkid_loff_t size = blkid_probe_get_size(pr);
    out->size = size > 0 ? (uint64_t)size : 0;
    if (rc == -2) {
        /* Several filesystems claim the device: neither can be trusted. */
        out->ambivalent = true;
        ret = 0;
        goto out;
    }
    if (rc == 1) {
        out->empty = true;
        ret = 0;
        goto out;
    }
    out->fs_type = lookup(pr, "TYPE");
    out->fs_usage = lookup(pr, "USAGE");
    out->fs_uuid = lookup(pr, "UUID");
    out->pt_type = lookup(pr, "PTTYPE");
    out->pt_uuid = lookup(pr, "PTUUID");
    out->empty = !out->fs_type && !out->pt_type;
    ret = 0;
out:
    blkid_free_probe(pr);
    return ret;
}

char *pk_blk_probe_describe(const pk_blk_probe *p)
{
    if (p->ambivalent)
        return pk_strdup("several filesystem signatures (blkid cannot tell which one is current)");
    if (p->empty)
        return pk_strdup("no signature");
    pk_buf b = PK_BUF_INIT;
    if (p->fs_type) {
        if (!p->fs_usage || strcmp(p->fs_usage, "filesystem") == 0)
            pk_buf_addf(&b, "%s filesystem", p->fs_type);
        else
            pk_buf_addf(&b, "%s signature (%s)", p->fs_type, p->fs_usage);
        if (p->fs_uuid) pk_buf_addf(&b, " UUID %s", p->fs_uuid);
    }
    if (p->pt_type) {
        if (b.len) pk_buf_add(&b, " and ");
        pk_buf_addf(&b, "%s partition table", p->pt_type);
        if (p->pt_uuid) pk_buf_addf(&b, " (id %s)", p->pt_uuid);
    }
    return pk_buf_steal(&b);
}

int pk_blk_rdev(const char *path, dev_t *rdev, pk_err **err)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        if (errno == ENOENT)
            return pk_fail(err, "source device '%s' does not exist", path);
        return pk_fail_errno(err, errno, "cannot stat source device '%s'", path);
    }
    if (!S_ISBLK(st.st_mode))
        return pk_fail(err, "source device '%s' is not a block device", path);
    *rdev = st.st_rdev;
    return 0;
}

/* The partitions of the disk `rdev` (sysfs): device numbers and names. */
static void partitions_of(dev_t rdev, dev_t **parts, char ***names, size_t *n)
{
    _cleanup_free_ char *dir = pk_asprintf("/sys/dev/block/%u:%u", major(rdev), minor(rdev));
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        _cleanup_free_ char *pfile = pk_asprintf("%s/%s/partition", dir, de->d_name);
        if (access(pfile, F_OK) < 0) continue;
        _cleanup_free_ char *devfile = pk_asprintf("%s/%s/dev", dir, de->d_name);
        FILE *f = fopen(devfile, "re");
        if (!f) continue;
        unsigned ma, mi;
        if (fscanf(f, "%u:%u", &ma, &mi) == 2) {
            *PK_APPEND(*parts, *n) = makedev(ma, mi);
            pk_strv_push(names, de->d_name);
        }
        fclose(f);
    }
    closedir(d);
}

/* The first holder (dm-0, md127 ...) of device `rdev`, or NULL. */
static char *holder_of(dev_t rdev)
{
    _cleanup_free_ char *dir = pk_asprintf("/sys/dev/block/%u:%u/holders", major(rdev), minor(rdev));
    DIR *d = opendir(dir);
    if (!d) return NULL;
    char *found = NULL;
    struct dirent *de;
    while (!found && (de = readdir(d)))
        if (de->d_name[0] != '.') found = pk_strdup(de->d_name);
    closedir(d);
    return found;
}

int pk_blk_check_unused(const char *path, const char *what, pk_err **err)
{
    dev_t rdev;
    if (pk_blk_rdev(path, &rdev, err) < 0) return -1;
    dev_t *devs = NULL;
    char **names = NULL;   /* names[i] is devs[i + 1]'s */
    size_t n = 0;
    *PK_APPEND(devs, n) = rdev;
    partitions_of(rdev, &devs, &names, &n);

    pk_mountinfo mi = { 0 };
    int ret = -1;
    if (pk_mountinfo_read(&mi, err) < 0) goto out;
    for (size_t i = 0; i < n; i++) {
        size_t pos = 0;
        const pk_mount_entry *e = pk_mountinfo_next_dev(&mi, major(devs[i]), minor(devs[i]), &pos);
        if (e) {
            if (i == 0)
                pk_fail(err, "refusing to %s '%s': it is mounted on '%s'", what, path, e->mount_point);
            else
                pk_fail(err, "refusing to %s '%s': its partition '%s' is mounted on '%s'",
                        what, path, names[i - 1], e->mount_point);
            goto out;
        }
        _cleanup_free_ char *holder = holder_of(devs[i]);
        if (holder) {
            pk_fail(err, "refusing to %s '%s': it is in use by '%s'", what, path, holder);
            goto out;
        }
    }
    int fd = open(path, O_RDONLY | O_EXCL | O_CLOEXEC);
    if (fd < 0) {
        if (errno == EBUSY)
            pk_fail(err, "refusing to %s '%s': it is in use (it cannot be opened exclusively)",
                    what, path);
        else
            pk_fail_errno(err, errno, "cannot open '%s'", path);
        goto out;
    }
    close(fd);
    ret = 0;
out:
    pk_mountinfo_clear(&mi);
    pk_strv_free(names);
    free(devs);
    return ret;
}

int pk_blk_wipe_fd(int fd, const char *path, pk_err **err)
{
    blkid_probe pr = blkid_new_probe();
    if (!pr)
        return pk_fail(err, "cannot create a blkid probe for '%s'", path);
    int ret = -1;
    if (blkid_probe_set_device(pr, fd, 0, 0) != 0) {
        pk_fail(err, "cannot probe '%s'", path);
        goto out;
    }
    blkid_probe_enable_superblocks(pr, 1);
    blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_MAGIC | BLKID_SUBLKS_BADCSUM);
    blkid_probe_enable_partitions(pr, 1);
    blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC | BLKID_PARTS_FORCE_GPT);
    for (int guard = 0; guard < 64; guard++) {
        int rc = blkid_do_probe(pr);
        if (rc == 1) break;          /* nothing (more) */
        if (rc < 0) {
            pk_fail(err, "cannot probe '%s' for signatures", path);
            goto out;
        }
        if (blkid_do_wipe(pr, 0) != 0) {
            pk_fail_errno(err, errno, "cannot erase a signature on '%s'", path);
            goto out;
        }
    }
    if (fsync(fd) < 0) {
        pk_fail_errno(err, errno, "cannot sync '%s'", path);
        goto out;
    }
    ret = 0;
out:
    blkid_free_probe(pr);
    return ret;
}
