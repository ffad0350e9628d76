/* SCSI LUNs from sysfs (libvirt's virStorageBackendSCSIFindLUs and
 * virStorageBackendSCSINewLun). */
#include "scsilun.h"
#include "runner.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

static const char *sysfs_root;

void pk_sysfs_set_root(const char *root)
{
    sysfs_root = root;
}

char *pk_sysfs_path(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *rel = pk_vasprintf(fmt, ap);
    va_end(ap);
    return pk_asprintf("%s%s", sysfs_root ? sysfs_root : "", rel);
}

bool pk_scsi_host_exists(unsigned host)
{
    _cleanup_free_ char *p = pk_sysfs_path("/sys/class/scsi_host/host%u", host);
    return access(p, F_OK) == 0;
}

int pk_scsi_host_scan(unsigned host, pk_err **err)
{
    _cleanup_free_ char *p = pk_sysfs_path("/sys/class/scsi_host/host%u/scan", host);
    _cleanup_close_ int fd = open(p, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "- - -", 5) != 5)
        return pk_fail_errno(err, errno, "cannot rescan SCSI host %u ('%s')", host, p);
    return 0;
}

char *pk_sysfs_read_line(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f) return NULL;
    char buf[256];
    char *r = fgets(buf, sizeof(buf), f);
    fclose(f);
    if (!r) return NULL;
    buf[strcspn(buf, "\n")] = '\0';
    return pk_strdup(buf);
}

/* The block device name of LUN entry `e` ("sdb"), NULL when it has none
 * (yet): the block/ directory, or the "block:NAME" link of old kernels. */
static char *lun_block_name(const char *lun_dir)
{
    _cleanup_free_ char *bdir = pk_asprintf("%s/block", lun_dir);
    DIR *d = opendir(bdir);
    char *name = NULL;
    struct dirent *de;
    if (d) {
        while (!name && (de = readdir(d)))
            if (de->d_name[0] != '.') name = pk_strdup(de->d_name);
        closedir(d);
        return name;
    }
    d = opendir(lun_dir);
    if (!d) return NULL;
    while (!name && (de = readdir(d)))
        if (pk_str_has_prefix(de->d_name, "block:")) name = pk_strdup(de->d_name + 6);
    closedir(d);
    return name;
}

/* The first entry of `dir` that resolves to `node`. */
static char *stable_link(const char *dir, const char *node)
{
    DIR *d = opendir(dir);
    if (!d) return NULL;
    char *found = NULL;
    struct dirent *de;
    while (!found && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        _cleanup_free_ char *p = pk_asprintf("%s/%s", dir, de->d_name);
        _cleanup_free_ char *r = realpath(p, NULL);
        if (r && strcmp(r, node) == 0) found = TAKE_PTR(p);
    }
    closedir(d);
    return found;
}

static bool udev_running(void)
{
    return access("/run/udev/control", F_OK) == 0;
}

/* udev makes the /dev/disk/by-* links after the kernel adds a disk: let it
 * finish (libvirt's virWaitForDevices). Failure only means no waiting. */
static void settle(void)
{
    if (!udev_running()) return;
    _cleanup_free_ char *prog = pk_find_program("udevadm");
    if (!prog) return;
    _cleanup_(pk_cmd_freep) pk_cmd *cmd = pk_cmd_new("udevadm");
    pk_cmd_add_arg(cmd, "settle");
    pk_cmd_set_timeout(cmd, 60000);
    pk_err *e = NULL;
    pk_cmd_run(cmd, NULL, &e);
    pk_err_free(e);
}

/* The SCSI serial udev's scsi_id gives the disk, NULL when it gives none. */
static char *scsi_key(const char *node)
{
    static const char scsi_id[] = "/lib/udev/scsi_id";
    _cleanup_(pk_cmd_freep) pk_cmd *cmd = pk_cmd_new(scsi_id);
    pk_cmd_add_args(cmd, "--replace-whitespace", "--whitelisted", "--device", node, NULL);
    pk_cmd_set_timeout(cmd, 30000);
    int status = 0;
    pk_err *e = NULL;
    int r = pk_cmd_run(cmd, &status, &e);
    pk_err_free(e);
    if (r < 0 || status != 0) return NULL;
    char *key = pk_strdup(pk_cmd_stdout(cmd));
    key[strcspn(key, "\n")] = '\0';
    if (!*key) {
        free(key);
        return NULL;
    }
    return key;
}

static int cmp_obs_vol(const void *a, const void *b)
{
    return strcmp(((const pk_obs_vol *)a)->name, ((const pk_obs_vol *)b)->name);
}

static int lun_volume(const char *lun_dir, unsigned b, unsigned t, unsigned l, const char *target,
                      pk_obs_vol *v)
{
    _cleanup_free_ char *type_file = pk_asprintf("%s/type", lun_dir);
    _cleanup_free_ char *type = pk_sysfs_read_line(type_file);
    /* disks and CD-ROMs only (libvirt: VIR_STORAGE_DISK_TYPE_DISK/_ROM) */
    if (!type || (strcmp(type, "0") != 0 && strcmp(type, "5") != 0)) return 1;
    _cleanup_free_ char *dev = lun_block_name(lun_dir);
    if (!dev) return 1;   /* no block device bound (yet) */

    pk_obs_vol_clear(v);
    v->name = pk_asprintf("unit:%u:%u:%u", b, t, l);
    v->type = PK_VOL_BLOCK;
    v->atime.sec = v->mtime.sec = v->ctime.sec = v->btime.sec = -1;
    _cleanup_free_ char *node = pk_asprintf("/dev/%s", dev);
    if (strcmp(target, "/dev") == 0) {
        v->path = pk_strdup(node);
    } else {
        /* udev may still be making the link: look again for up to 2 s */
        for (int i = 0; i < 20 && !(v->path = stable_link(target, node)); i++) {
            if (!udev_running()) break;
            nanosleep(&(struct timespec){ .tv_nsec = 100000000 }, NULL);
        }
        if (!v->path)
            v->error = pk_asprintf("no link in '%s' leads to '%s' (is udev running?)", target, node);
    }
    _cleanup_free_ char *size_file = pk_sysfs_path("/sys/block/%s/size", dev);
    _cleanup_free_ char *sectors = pk_sysfs_read_line(size_file);
    uint64_t n = 0;
    if (!sectors || pk_parse_u64(sectors, 10, &n) < 0) {
        free(v->error);
        v->error = pk_asprintf("cannot read the size of '%s' from '%s'", node, size_file);
    }
    v->capacity = v->allocation = v->physical = n * 512;
    v->key = scsi_key(node);
    if (!v->key) v->key = pk_strdup(v->path ? v->path : node);
    v->identity = pk_strdup(v->key);
    struct stat st;
    if (v->path && stat(v->path, &st) == 0)
        v->perms = (pk_perms){ .mode = st.st_mode & 07777, .uid = st.st_uid, .gid = st.st_gid };
    return 0;
}

int pk_scsi_host_luns(unsigned host, const char *target_path, pk_obs_pool *out, pk_err **err)
{
    if (!target_path || target_path[0] != '/')
        return pk_fail(err, "the pool needs an absolute target path (e.g. '/dev/disk/by-path')");
    if (strcmp(target_path, "/dev") != 0 && !pk_str_has_prefix(target_path, "/dev/"))
        return pk_fail(err, "target path '%s' is not under '/dev'", target_path);
    _cleanup_free_ char *target = pk_strdup(target_path);
    size_t tl = strlen(target);
    while (tl > 1 && target[tl - 1] == '/') target[--tl] = '\0';

    settle();
    _cleanup_free_ char *dir = pk_sysfs_path("/sys/bus/scsi/devices");
    DIR *d = opendir(dir);
    if (!d) return pk_fail_errno(err, errno, "cannot list SCSI devices in '%s'", dir);
    pk_obs_vol *vols = NULL;
    size_t n = 0;
    uint64_t total = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        unsigned h, b, t, l;
        char end;
        if (sscanf(de->d_name, "%u:%u:%u:%u%c", &h, &b, &t, &l, &end) != 4 || h != host) continue;
        _cleanup_free_ char *lun_dir = pk_asprintf("%s/%s", dir, de->d_name);
        pk_obs_vol v = { 0 };
        if (lun_volume(lun_dir, b, t, l, target, &v) != 0) continue;
        total += v.capacity;
        *PK_APPEND(vols, n) = v;
    }
    closedir(d);
    if (n) qsort(vols, n, sizeof(*vols), cmp_obs_vol);
    for (size_t i = 0; i < out->n_vols; i++) pk_obs_vol_clear(&out->vols[i]);
    free(out->vols);
    out->vols = vols;
    out->n_vols = n;
    out->vols_observed = true;
    out->capacity = out->allocation = total;
    out->available = 0;
    return 0;
}
