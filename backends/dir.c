/* The dir backend (libvirt's storage_backend_fs.c, dir part).
 *
 * Every volume operation works relative to the pool directory opened with
 * O_DIRECTORY|O_NOFOLLOW, on a validated name (no '/'), and never follows a
 * symbolic link inside the pool: a link planted there can make an operation
 * fail, never redirect it.
 *
 * Creation is atomic: the volume is made under PK_DIR_TMP_PREFIX + name
 * (data, size, owner and mode complete), then renamed to its final name
 * without replacing anything. The temporary name is deterministic, with no
 * pid in it: there is one writer per state DB, so a temporary file found by
 * a later create of the same volume is the remnant of a crash and is removed
 * first (O(1), no directory scan); delete_pool removes any others.
 *
 * Durability: each create fsyncs the new file before the rename (so the
 * final name never points at data or a size that did not reach the disk, as
 * a qcow2 header written through the page cache could) and the directory
 * after it; delete/resize/update fsync what they changed. An operation that
 * returned is on disk before the engine journals it. tests/bench/dir_bench.c
 * measured it: a durable create costs what the same syscalls with the same
 * fsyncs cost bare (1.0-1.3x), the fsyncs themselves dominate (0.2 ms on a
 * quiet disk, several ms on a busy one), and without them (bctx.no_sync,
 * tests only) create and delete are 1.1-1.3x the bare floor.
 *
 * Observation lists every entry except our temporaries and names with
 * control characters (libvirt skips those too): regular files and
 * directories as volumes, anything else (symbolic links, fifos, devices)
 * as a volume with an error, so a desired name taken by one is never
 * mistaken for a free name. The pool directory itself must not be a
 * symbolic link.
 *
 * What a volume's XML asks, as libvirt does it:
 *   - allocation: raw is fully allocated (posix_fallocate) unless
 *     <allocation> says less (a missing one is the capacity, libvirt's
 *     parser rule); 0 is sparse. Images are sparse unless <allocation> is
 *     at least the capacity: then preallocation=falloc.
 *   - <nocow/>: FS_NOCOW_FL on the empty temporary file, before qemu-img
 *     or fallocate writes anything (btrfs ignores it later); elsewhere a
 *     logged no-op.
 *   - <encryption format='luks'>: the secret file is opened (and checked)
 *     before anything exists, and handed to qemu-img as /dev/fd/N, for
 *     create and resize alike.
 *   - <label>: read and set (security.selinux) only where SELinux runs
 *     (reading it elsewhere would cost an open of every file); otherwise
 *     the plan notes it is not applicable.
 *   - format 'dir' makes a directory; bochs, cloop and dmg are read-only to
 *     qemu, and ploop needs its own tools: those are refused up front. */
#include "dir.h"
#include "fileprobe.h"
#include "qemu_img.h"
#include "secret.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <sys/xattr.h>

#define DEFAULT_DIR_MODE 0711    /* libvirt's default for pool directories */
#define DEFAULT_VOL_MODE 0600    /* libvirt's VIR_STORAGE_DEFAULT_VOL_PERM_MODE */
#define SELINUX_XATTR "security.selinux"

/* ---- names and paths ---- */

/* The pool's target path without trailing slashes. */
static char *target_path(const pk_pool *def, pk_err **err)
{
    if (!def->target_path || def->target_path[0] != '/') {
        pk_fail(err, "pool '%s' has no absolute target path", def->name);
        return NULL;
    }
    char *p = pk_strdup(def->target_path);
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/') p[--n] = '\0';
    return p;
}

static bool name_ok(const char *name)
{
    if (!name || !*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return false;
    if (strlen(name) > NAME_MAX) return false;
    for (const char *s = name; *s; s++)
        if (*s == '/' || (unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

int pk_dir_check_vol_name(const char *name, const char *tmp_prefix, pk_err **err)
{
    if (!name_ok(name))
        return pk_fail(err, "invalid volume name '%s'", name ? name : "");
    if (pk_str_has_prefix(name, tmp_prefix))
        return pk_fail(err, "volume name '%s' uses the prefix '%s' reserved for poolkeeper's temporary files",
                       name, tmp_prefix);
    return 0;
}

char *pk_dir_tmp_name(const char *name)
{
    if (strlen(PK_DIR_TMP_PREFIX) + strlen(name) <= NAME_MAX)
        return pk_asprintf("%s%s", PK_DIR_TMP_PREFIX, name);
    /* Too long to prefix: a hash of the name (FNV-1a) is as deterministic. */
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *s = (const unsigned char *)name; *s; s++)
        h = (h ^ *s) * 0x100000001b3ULL;
    return pk_asprintf("%s#%016llx", PK_DIR_TMP_PREFIX, (unsigned long long)h);
}

/* Open the pool directory itself, refusing a symbolic link. */
static int open_pool_dir(const char *path, pk_err **err)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) return fd;
    int e = errno;
    struct stat st;
    /* O_DIRECTORY|O_NOFOLLOW says ENOTDIR for a link, a file, or a file
     * met on the way: lstat tells which. */
    bool have = (e == ENOTDIR || e == ELOOP) && lstat(path, &st) == 0;
    if (e == ENOENT)
        pk_fail(err, "pool target '%s' does not exist", path);
    else if (have && S_ISLNK(st.st_mode))
        pk_fail(err, "pool target '%s' is a symbolic link", path);
    else if (have && !S_ISDIR(st.st_mode))
        pk_fail(err, "pool target '%s' is not a directory", path);
    else
        pk_fail_errno(err, e, "cannot open pool target '%s'", path);
    errno = e;
    return -1;
}

static int sync_fd(pk_bctx *c, int fd, const char *what, pk_err **err)
{
    if (c->no_sync) return 0;
    if (fsync(fd) < 0)
        return pk_fail_errno(err, errno, "cannot sync '%s'", what);
    return 0;
}

/* rename without replacing: renameat2 where the filesystem has it, else
 * link+unlink, which refuses an existing target just as well (files only). */
static int rename_noreplace(int dirfd, const char *from, const char *to)
{
    if (renameat2(dirfd, from, dirfd, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
    if (linkat(dirfd, from, dirfd, to, 0) < 0)
        return -1;
    unlinkat(dirfd, from, 0);
    return 0;
}

/* FS_NOCOW_FL only means something on btrfs. */
static bool on_btrfs(int fd)
{
    struct statfs sf;
    return fstatfs(fd, &sf) == 0 && (unsigned long)sf.f_type == BTRFS_SUPER_MAGIC;
}

static int set_nocow(int fd, bool nocow)
{
    int flags = 0;
    if (ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0) return -1;
    int want = nocow ? (flags | FS_NOCOW_FL) : (flags & ~FS_NOCOW_FL);
    if (want != flags && ioctl(fd, FS_IOC_SETFLAGS, &want) < 0) return -1;
    return 0;
}

static int apply_pool_cow(const pk_pool *def, int fd, const char *path, pk_err **err)
{
    if (def->cow == PK_TRI_ABSENT) return 0;
    if (!on_btrfs(fd))
        return pk_fail(err, "unable to control the COW flag of '%s': not on btrfs", path);
    if (set_nocow(fd, def->cow == PK_TRI_NO) < 0)
        return pk_fail_errno(err, errno, "unable to set the COW flag of '%s'", path);
    return 0;
}

/* Owner and mode of an open file or directory; -1 fields are left alone. */
static int apply_perms(int fd, const pk_perms *p, int64_t default_mode, const char *path,
                       pk_err **err)
{
    if (p->uid >= 0 || p->gid >= 0) {
        if (fchown(fd, p->uid >= 0 ? (uid_t)p->uid : (uid_t)-1,
                   p->gid >= 0 ? (gid_t)p->gid : (gid_t)-1) < 0)
            return pk_fail_errno(err, errno, "cannot change the owner of '%s'", path);
    }
    int64_t mode = p->mode >= 0 ? p->mode : default_mode;
    if (mode >= 0 && fchmod(fd, (mode_t)mode) < 0)
        return pk_fail_errno(err, errno, "cannot change the mode of '%s'", path);
    return 0;
}

static int set_label(int fd, const char *label, const char *path, pk_err **err)
{
    if (fsetxattr(fd, SELINUX_XATTR, label, strlen(label) + 1, 0) < 0)
        return pk_fail_errno(err, errno, "cannot set the label '%s' of '%s'", label, path);
    return 0;
}

/* The label of a new volume: applied where SELinux runs; elsewhere there
 * is nothing to label with, and the plan says so (not applicable). */
static int apply_new_label(int fd, const pk_perms *p, const char *path, const char *vol,
                           pk_err **err)
{
    if (!p->label) return 0;
    if (!pk_selinux_active()) {
        pk_log(PK_LOG_INFO, vol, "vol.create",
               "label '%s' of '%s' is not applicable: SELinux is not active", p->label, path);
        return 0;
    }
    return set_label(fd, p->label, path, err);
}

/* Whether the directory holds anything; -1 on a read error. */
static int dir_nonempty(int fd)
{
    int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup_fd < 0) return -1;
    DIR *d = fdopendir(dup_fd);
    if (!d) {
        close(dup_fd);
        return -1;
    }
    rewinddir(d);
    int found = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            found = 1;
            break;
        }
    }
    if (!de && errno) found = -1;
    closedir(d);
    return found;
}

/* ---- pool ---- */

int pk_dir_observe_pool(pk_bctx *c PK_UNUSED, const pk_pool *def, pk_obs_pool *out, pk_err **err)
{
    _cleanup_free_ char *path = target_path(def, err);
    if (!path) return -1;
    pk_err *e = NULL;
    _cleanup_close_ int fd = open_pool_dir(path, &e);
    if (fd < 0) {
        if (errno == ENOENT) {
            /* Only a missing directory is "absent"; anything else is unknown. */
            pk_err_free(e);
            out->state = PK_POOL_ABSENT;
            return 0;
        }
        pk_err_append(err, e);
        return -1;
    }
    struct statx st;
    struct statvfs sv;
    if (pk_file_statx(fd, NULL, &st) < 0)
        return pk_fail_errno(err, errno, "cannot stat pool target '%s'", path);
    if (fstatvfs(fd, &sv) < 0)
        return pk_fail_errno(err, errno, "cannot get the filesystem usage of '%s'", path);
    int nonempty = dir_nonempty(fd);
    if (nonempty < 0)
        return pk_fail_errno(err, errno, "cannot read pool target '%s'", path);

    out->state = PK_POOL_RUNNING;   /* a dir pool runs when its directory exists */
    pk_obs_pool_set_usage(out, &sv);
    free(out->perms.label);
    out->perms = (pk_perms){ .mode = st.stx_mode & 07777, .uid = st.stx_uid, .gid = st.stx_gid };
    free(out->identity);
    out->identity = pk_file_identity(&st);
    out->nonempty = nonempty > 0;
    return 0;
}

static int cmp_obs_vol(const void *a, const void *b)
{
    return strcmp(((const pk_obs_vol *)a)->name, ((const pk_obs_vol *)b)->name);
}

int pk_dir_observe_vols(pk_bctx *c, const pk_pool *def, pk_obs_pool *out, pk_err **err)
{
    _cleanup_free_ char *path = target_path(def, err);
    if (!path) return -1;
    _cleanup_close_ int fd = open_pool_dir(path, err);
    if (fd < 0) return -1;
    pk_probe_opts opts = pk_probe_opts_for(fd);
    opts.cache = c->probe_cache;

    int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    if (!d) {
        if (dup_fd >= 0) close(dup_fd);
        return pk_fail_errno(err, errno, "cannot read pool target '%s'", path);
    }
    pk_obs_vol *vols = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    int ret = -1;
    for (;;) {
        errno = 0;
        if (!(de = readdir(d))) {
            if (errno) {
                pk_fail_errno(err, errno, "cannot read pool target '%s'", path);
                goto out;
            }
            break;
        }
        const char *name = de->d_name;
        /* Names libvirt skips (control characters) and our own temporaries
         * are not volumes. */
        if (!name_ok(name) || pk_str_has_prefix(name, PK_DIR_TMP_PREFIX))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            vols = pk_realloc(vols, cap * sizeof(*vols));
        }
        memset(&vols[n], 0, sizeof(*vols));
        if (pk_file_observe(fd, path, name, &opts, &vols[n]) == 1)
            continue;   /* removed meanwhile */
        n++;
    }
    if (n) qsort(vols, n, sizeof(*vols), cmp_obs_vol);
    /* The listing lives as long as the plan: give back the growth room. */
    if (n && n < cap) vols = pk_realloc(vols, n * sizeof(*vols));
    for (size_t i = 0; i < out->n_vols; i++)
        pk_obs_vol_clear(&out->vols[i]);
    free(out->vols);
    out->vols = TAKE_PTR(vols);
    out->n_vols = n;
    out->vols_observed = true;
    ret = 0;
out:
    closedir(d);
    if (opts.cache && opts.cache->flush) opts.cache->flush(opts.cache->opaque);
    for (size_t i = 0; vols && i < n; i++)
        pk_obs_vol_clear(&vols[i]);
    free(vols);
    return ret;
}

/* mkdir -p of `path` (mode 0755 for what it creates); the final component
 * must be a directory afterwards. */
static int mkdir_parents(const char *path, pk_err **err)
{
    _cleanup_free_ char *p = pk_strdup(path);
    for (char *s = p + 1; ; s++) {
        if (*s != '/' && *s != '\0') continue;
        char saved = *s;
        *s = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
            return pk_fail_errno(err, errno, "cannot create directory '%s'", p);
        *s = saved;
        if (!saved) break;
    }
    struct stat st;
    if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode))
        return pk_fail(err, "'%s' is not a directory", p);
    return 0;
}

int pk_dir_build(pk_bctx *c, const pk_pool *def, pk_err **err)
{
    _cleanup_free_ char *path = target_path(def, err);
    if (!path) return -1;
    if (strcmp(path, "/") == 0)
        return pk_fail(err, "pool '%s' cannot be built on '/'", def->name);

    pk_err *e = NULL;
    _cleanup_close_ int fd = open_pool_dir(path, &e);
    if (fd >= 0) {
        /* It exists: build over it only when empty (or policy allows), and
         * then only settle its owner and mode, as libvirt does. */
        int nonempty = dir_nonempty(fd);
        if (nonempty < 0)
            return pk_fail_errno(err, errno, "cannot read pool target '%s'", path);
        if (nonempty && !c->allow_format)
            return pk_fail(err, "pool target '%s' already exists and is not empty", path);
        if (apply_perms(fd, &def->target_perms, -1, path, err) < 0 ||
            apply_pool_cow(def, fd, path, err) < 0)
            return -1;
        return 0;
    }
    if (errno != ENOENT) {
        pk_err_append(err, e);
        return -1;
    }
    pk_err_free(e);

    /* Made under a temporary name with its final owner and mode, then renamed:
     * the target never exists with the wrong permissions. */
    char *slash = strrchr(path, '/');
    _cleanup_free_ char *parent = slash == path ? pk_strdup("/") : pk_strndup(path, (size_t)(slash - path));
    const char *base = slash + 1;
    if (mkdir_parents(parent, err) < 0) return -1;
    _cleanup_close_ int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pfd < 0)
        return pk_fail_errno(err, errno, "cannot open directory '%s'", parent);
    _cleanup_free_ char *tmp = pk_dir_tmp_name(base);
    if (unlinkat(pfd, tmp, AT_REMOVEDIR) < 0 && errno != ENOENT)
        return pk_fail_errno(err, errno, "cannot remove the stale temporary directory '%s/%s'", parent, tmp);
    if (mkdirat(pfd, tmp, 0700) < 0)
        return pk_fail_errno(err, errno, "cannot create directory '%s/%s'", parent, tmp);
    _cleanup_close_ int tfd = openat(pfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (tfd < 0) {
        pk_fail_errno(err, errno, "cannot open directory '%s/%s'", parent, tmp);
        goto fail;
    }
    if (apply_perms(tfd, &def->target_perms, DEFAULT_DIR_MODE, path, err) < 0 ||
        apply_pool_cow(def, tfd, path, err) < 0)
        goto fail;
    if (pk_backend_fault("pool.build.before-rename", def->name))
        return pk_fail(err, "fault injected at 'pool.build.before-rename'");
    if (renameat2(pfd, tmp, pfd, base, RENAME_NOREPLACE) < 0) {
        if (errno == EEXIST)
            pk_fail(err, "pool target '%s' appeared while it was being built", path);
        else
            pk_fail_errno(err, errno, "cannot rename '%s/%s' to '%s'", parent, tmp, path);
        goto fail;
    }
    return sync_fd(c, pfd, parent, err);

fail:
    unlinkat(pfd, tmp, AT_REMOVEDIR);
    return -1;
}

int pk_dir_start(pk_bctx *c PK_UNUSED, const pk_pool *def, pk_err **err)
{
    _cleanup_free_ char *path = target_path(def, err);
    if (!path) return -1;
    _cleanup_close_ int fd = open_pool_dir(path, err);
    return fd < 0 ? -1 : 0;
}

int pk_dir_stop(pk_bctx *c PK_UNUSED, const pk_pool *def PK_UNUSED, pk_err **err PK_UNUSED)
{
    return 0;
}

static bool strv_has(char *const *v, const char *s)
{
    for (; v && *v; v++)
        if (strcmp(*v, s) == 0) return true;
    return false;
}

int pk_dir_delete_pool(pk_bctx *c, const pk_pool *def, char *const *owned_vols, pk_err **err)
{
    _cleanup_free_ char *path = target_path(def, err);
    if (!path) return -1;
    pk_err *e = NULL;
    _cleanup_close_ int fd = open_pool_dir(path, &e);
    if (fd < 0) {
        if (errno == ENOENT) {   /* already gone */
            pk_err_free(e);
            return 0;
        }
        pk_err_append(err, e);
        return -1;
    }
    int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    if (!d) {
        if (dup_fd >= 0) close(dup_fd);
        return pk_fail_errno(err, errno, "cannot read pool target '%s'", path);
    }
    /* Look at everything first: nothing is removed unless all of it may be. */
    char **ours = NULL, **foreign = NULL;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        if (pk_str_has_prefix(de->d_name, PK_DIR_TMP_PREFIX) || strv_has(owned_vols, de->d_name))
            pk_strv_push(&ours, de->d_name);
        else
            pk_strv_push(&foreign, de->d_name);
        errno = 0;
    }
    int read_errno = errno;
    closedir(d);
    int ret = -1;
    if (read_errno) {
        pk_fail_errno(err, read_errno, "cannot read pool target '%s'", path);
        goto out;
    }
    if (foreign) {
        pk_buf names = PK_BUF_INIT;
        size_t nf = pk_strv_len(foreign);
        for (size_t i = 0; i < nf && i < 5; i++)
            pk_buf_addf(&names, "%s'%s'", i ? ", " : "", foreign[i]);
        if (nf > 5) pk_buf_addf(&names, " and %zu more", nf - 5);
        pk_fail(err, "cannot delete pool target '%s': it holds files poolkeeper does not own: %s",
                path, pk_buf_str(&names));
        pk_buf_free(&names);
        goto out;
    }
    for (size_t i = 0; ours && ours[i]; i++) {
        struct stat st;
        if (fstatat(fd, ours[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT) continue;
            pk_fail_errno(err, errno, "cannot stat '%s/%s'", path, ours[i]);
            goto out;
        }
        if (unlinkat(fd, ours[i], S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0 && errno != ENOENT) {
            pk_fail_errno(err, errno, "cannot remove '%s/%s'", path, ours[i]);
            goto out;
        }
    }
    if (rmdir(path) < 0 && errno != ENOENT) {
        pk_fail_errno(err, errno, "cannot remove pool target '%s'", path);
        goto out;
    }
    if (!c->no_sync) {
        char *slash = strrchr(path, '/');
        _cleanup_free_ char *parent = slash == path ? pk_strdup("/")
                                                    : pk_strndup(path, (size_t)(slash - path));
        _cleanup_close_ int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (pfd >= 0) fsync(pfd);
    }
    ret = 0;
out:
    pk_strv_free(ours);
    pk_strv_free(foreign);
    return ret;
}

/* ---- volumes ---- */

/* The volume's image format as created: raw unless the XML says otherwise. */
static int vol_format(const pk_vol *vol)
{
    int f = vol->target.format;
    return f < 0 || f == PK_IMG_NONE ? PK_IMG_RAW : f;
}

static bool is_raw(int fmt)
{
    return fmt == PK_IMG_RAW || fmt == PK_IMG_ISO;
}

/* Observe one volume just changed; the format is known, no need to read it
 * back unless it is an image (whose virtual size is in its header). */
static int observe_one(int dirfd, const char *path, const char *name, int fmt, pk_obs_vol *out,
                       pk_err **err)
{
    pk_probe_opts opts = pk_probe_opts_for(dirfd);
    pk_obs_vol v = { 0 };
    if (is_raw(fmt)) opts.zero_blocks_is_sparse = true;
    if (pk_file_observe(dirfd, path, name, &opts, &v) == 1)
        return pk_fail(err, "volume '%s/%s' vanished", path, name);
    if (is_raw(fmt) && v.format == PK_IMG_RAW)
        v.format = fmt;   /* an iso is written later; it is an iso already */
    if (out) {
        pk_obs_vol_clear(out);
        *out = v;
    } else {
        pk_obs_vol_clear(&v);
    }
    return 0;
}

static int create_raw(int tfd, const pk_vol *vol, const char *path, pk_err **err)
{
    if (vol->backing && vol->backing->path)
        return pk_fail(err, "cannot create volume '%s': a raw volume cannot have a backing store",
                       vol->name);
    if (ftruncate(tfd, (off_t)vol->capacity) < 0)
        return pk_fail_errno(err, errno, "cannot set the size of '%s'", path);
    /* libvirt's parser makes a missing <allocation> the capacity: a raw
     * volume is fully allocated unless the XML asks for less. */
    uint64_t alloc = vol->has_allocation ? vol->allocation : vol->capacity;
    if (alloc > vol->capacity) alloc = vol->capacity;
    if (alloc > 0) {
        int r = posix_fallocate(tfd, 0, (off_t)alloc);
        if (r != 0)
            return pk_fail_errno(err, r, "cannot allocate %llu bytes for '%s'",
                                 (unsigned long long)alloc, path);
    }
    return 0;
}

static int create_image(int tfd, int sfd, const pk_vol *vol, pk_err **err)
{
    _cleanup_free_ char *target = pk_asprintf("/dev/fd/%d", tfd);
    _cleanup_free_ char *secret = sfd >= 0 ? pk_asprintf("/dev/fd/%d", sfd) : NULL;
    /* qemu-img writes through the fd we created with O_EXCL|O_NOFOLLOW: no
     * path is resolved again, so nothing can be swapped in under it. The
     * passphrase goes the same way. */
    _cleanup_(pk_cmd_freep) pk_cmd *cmd = pk_qemu_img_create_cmd(vol, target, secret, err);
    if (!cmd) return -1;
    pk_cmd_pass_fd(cmd, tfd);
    if (sfd >= 0) pk_cmd_pass_fd(cmd, sfd);
    /* qemu's LUKS key setup times PBKDF2 with the thread's CPU clock and
     * gives up ("Unable to get accurate CPU usage") when a coarse clock reads
     * no time passed, which happens now and then on a busy machine: that
     * measurement is worth another try, nothing else is. */
    for (int attempt = 1;; attempt++) {
        pk_err *e = NULL;
        if (pk_cmd_run(cmd, NULL, &e) == 0) return 0;
        bool transient = strstr(pk_cmd_stderr(cmd), "Unable to get accurate CPU usage") != NULL;
        if (!transient || attempt == 3 || ftruncate(tfd, 0) < 0) {
            pk_err_append(err, e);
            return pk_wrap(err, "cannot create volume '%s'", vol->name);
        }
        pk_err_free(e);
    }
}

/* What can be made here, refused before anything is touched. */
static int check_creatable(const pk_vol *vol, int fmt, pk_err **err)
{
    const char *f = pk_img_format_to_string(fmt);
    if (fmt == PK_IMG_PLOOP)
        return pk_fail(err, "cannot create volume '%s': format 'ploop' needs the ploop tools, which poolkeeper does not use",
                       vol->name);
    if (fmt == PK_IMG_DIR) {
        if (vol->target.encryption || (vol->backing && vol->backing->path))
            return pk_fail(err, "cannot create volume '%s': a directory volume cannot have encryption or a backing store",
                           vol->name);
        return 0;
    }
    if (is_raw(fmt) && !vol->target.encryption) {
        if (vol->target.compat || vol->target.has_cluster_size || vol->target.lazy_refcounts ||
            vol->target.extended_l2)
            return pk_fail(err, "cannot create volume '%s': compat, features and cluster size are only supported with the qcow2 format",
                           vol->name);
        return 0;
    }
    if (!pk_qemu_img_can_create(fmt)) {
        if (pk_qemu_format_name(fmt))
            return pk_fail(err, "cannot create volume '%s': format '%s' is read-only: qemu-img reads it but cannot create it",
                           vol->name, f ? f : "?");
        return pk_fail(err, "cannot create volume '%s': format '%s' is not supported by the dir backend",
                       vol->name, f ? f : "?");
    }
    /* Every other refusal of the command line, with stand-in paths. */
    _cleanup_(pk_cmd_freep) pk_cmd *probe =
        pk_qemu_img_create_cmd(vol, "/dev/null", vol->target.encryption ? "/dev/null" : NULL, err);
    return probe ? 0 : -1;
}

/* The secret of an encrypted volume, opened (and so checked: present,
 * ours, mode 0600) before anything is made. -1 without encryption. */
static int open_vol_secret(pk_bctx *c, const pk_vol *vol, const char *what, pk_err **err)
{
    const pk_encryption *enc = vol->target.encryption;
    if (!enc) return -1;
    if (enc->n_secrets != 1) {
        pk_fail(err, "cannot %s volume '%s': a luks volume needs exactly one secret", what, vol->name);
        return -2;
    }
    int fd = pk_secret_open(c->secrets_dir, &enc->secrets[0], err);
    if (fd < 0) {
        pk_wrap(err, "cannot %s volume '%s'", what, vol->name);
        return -2;
    }
    return fd;
}

/* A directory volume (libvirt's format 'dir'): made under the temporary
 * name with its owner and mode, then renamed. */
static int create_dir_vol(pk_bctx *c, int dirfd, const char *path, const pk_vol *vol,
                          const char *tmp, pk_obs_vol *out, pk_err **err)
{
    _cleanup_free_ char *tmp_path = pk_asprintf("%s/%s", path, tmp);
    _cleanup_free_ char *final_path = pk_asprintf("%s/%s", path, vol->name);
    if (unlinkat(dirfd, tmp, AT_REMOVEDIR) < 0 && errno != ENOENT && errno != ENOTDIR)
        return pk_fail_errno(err, errno, "cannot remove the stale temporary directory '%s'", tmp_path);
    if (mkdirat(dirfd, tmp, 0700) < 0)
        return pk_fail_errno(err, errno, "cannot create directory '%s'", tmp_path);
    _cleanup_close_ int tfd = openat(dirfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (tfd < 0 || apply_perms(tfd, &vol->target.perms, 0755, tmp_path, err) < 0 ||
        apply_new_label(tfd, &vol->target.perms, final_path, vol->name, err) < 0) {
        if (tfd < 0) pk_fail_errno(err, errno, "cannot open directory '%s'", tmp_path);
        unlinkat(dirfd, tmp, AT_REMOVEDIR);
        return -1;
    }
    if (renameat2(dirfd, tmp, dirfd, vol->name, RENAME_NOREPLACE) < 0) {
        int e = errno;
        unlinkat(dirfd, tmp, AT_REMOVEDIR);
        if (e == EEXIST) return pk_fail(err, "volume '%s' already exists", final_path);
        return pk_fail_errno(err, e, "cannot rename '%s' to '%s'", tmp_path, final_path);
    }
    if (sync_fd(c, dirfd, path, err) < 0) return -1;
    return observe_one(dirfd, path, vol->name, PK_IMG_DIR, out, err);
}

int pk_dir_create_vol(pk_bctx *c, const pk_pool *def, const pk_vol *vol, pk_obs_vol *out,
                      pk_err **err)
{
    if (pk_dir_check_vol_name(vol->name, PK_DIR_TMP_PREFIX, err) < 0) return -1;
    int fmt = vol_format(vol);
    if (check_creatable(vol, fmt, err) < 0) return -1;
    _cleanup_free_ char *path = target_path(def, err);
    if (!path) return -1;
    _cleanup_close_ int dirfd = open_pool_dir(path, err);
    if (dirfd < 0) return -1;
    _cleanup_free_ char *tmp = pk_dir_tmp_name(vol->name);
    _cleanup_free_ char *final_path = pk_asprintf("%s/%s", path, vol->name);
    _cleanup_free_ char *tmp_path = pk_asprintf("%s/%s", path, tmp);

    struct stat st;
    if (fstatat(dirfd, vol->name, &st, AT_SYMLINK_NOFOLLOW) == 0)
        return pk_fail(err, "volume '%s' already exists", final_path);
    /* A missing or exposed passphrase stops the create before anything,
     * even a temporary file, exists. */
    _cleanup_close_ int sfd = open_vol_secret(c, vol, "create", err);
    if (sfd == -2) return -1;
    if (fmt == PK_IMG_DIR)
        return create_dir_vol(c, dirfd, path, vol, tmp, out, err);
    /* A temporary of this name is what a crashed create left behind. */
    if (unlinkat(dirfd, tmp, 0) < 0 && errno != ENOENT)
        return pk_fail_errno(err, errno, "cannot remove the stale temporary file '%s'", tmp_path);

    _cleanup_close_ int tfd = openat(dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                                     DEFAULT_VOL_MODE);
    if (tfd < 0)
        return pk_fail_errno(err, errno, "cannot create '%s'", tmp_path);
    /* btrfs takes FS_NOCOW_FL only while a file is empty: set before any
     * data or header is written. */
    if (vol->target.nocow) {
        if (!on_btrfs(tfd))
            pk_log(PK_LOG_INFO, vol->name, "vol.create",
                   "nocow: '%s' is not on btrfs, which alone copies on write: nothing to do", final_path);
        else if (set_nocow(tfd, true) < 0) {
            pk_fail_errno(err, errno, "cannot set the NOCOW flag of '%s'", tmp_path);
            goto fail;
        }
    }
    /* raw is made in-process; images and luks (a raw payload behind a
     * header) by qemu-img */
    bool raw_here = is_raw(fmt) && !vol->target.encryption;
    if ((raw_here ? create_raw(tfd, vol, tmp_path, err) : create_image(tfd, sfd, vol, err)) < 0 ||
        apply_perms(tfd, &vol->target.perms, DEFAULT_VOL_MODE, tmp_path, err) < 0 ||
        apply_new_label(tfd, &vol->target.perms, final_path, vol->name, err) < 0 ||
        sync_fd(c, tfd, tmp_path, err) < 0)
        goto fail;
    if (pk_backend_fault("vol.create.before-rename", vol->name))
        return pk_fail(err, "fault injected at 'vol.create.before-rename'");
    if (rename_noreplace(dirfd, tmp, vol->name) < 0) {
        if (errno == EEXIST)
            pk_fail(err, "volume '%s' already exists", final_path);
        else
            pk_fail_errno(err, errno, "cannot rename '%s' to '%s'", tmp_path, final_path);
        goto fail;
    }
    if (sync_fd(c, dirfd, path, err) < 0)
        return -1;
    return observe_one(dirfd, path, vol->name, fmt, out, err);

fail:
    unlinkat(dirfd, tmp, 0);
    return -1;
}

/* Open the volume observed as `cur` for a change, refusing anything else
 * under its name (a replacement, a link, a directory). */
static int open_observed(int dirfd, const char *path, const pk_obs_vol *cur, int flags,
                         struct stat *st, pk_err **err)
{
    if (!cur->identity)
        return pk_fail(err, "volume '%s/%s' has no observed identity", path, cur->name);
    int fd = openat(dirfd, cur->name, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ELOOP)
            return pk_fail(err, "volume '%s/%s' is a symbolic link", path, cur->name);
        return pk_fail_errno(err, errno, "cannot open volume '%s/%s'", path, cur->name);
    }
    struct statx stx;
    if (pk_file_statx(fd, NULL, &stx) < 0 || fstat(fd, st) < 0) {
        int e = errno;
        close(fd);
        return pk_fail_errno(err, e, "cannot stat volume '%s/%s'", path, cur->name);
    }
    _cleanup_free_ char *id = pk_file_identity(&stx);
    if (!S_ISREG(st->st_mode) || strcmp(id, cur->identity) != 0) {
        close(fd);
        return pk_fail(err, "volume '%s/%s' was replaced since it was observed (identity '%s', now '%s')",
                       path, cur->name, cur->identity, id);
    }
    return fd;
}

int pk_dir_resize_vol(pk_bctx *c, const pk_pool *def, const pk_vol *vol, const pk_obs_vol *cur,
                      uint64_t new_capacity, pk_obs_vol *out, pk_err **err)
{
    if (pk_dir_check_vol_name(cur->name, PK_DIR_TMP_PREFIX, err) < 0) return -1;
    _cleanup_free_ char *path = target_path(def, err);
    if (!path) return -1;
    int fmt = cur->format;
    /* Never act on a header the guest may have written: the declared and
     * the observed format must agree. */
    if (fmt < 0 || (vol && vol_format(vol) != fmt &&
                    !(is_raw(fmt) && is_raw(vol_format(vol)))))
        return pk_fail(err, "cannot resize volume '%s/%s': its observed format differs from the declared one",
                       path, cur->name);
    if (cur->encrypted && !(vol && vol->target.encryption))
        return pk_fail(err, "cannot resize volume '%s/%s': it is encrypted and its XML names no secret to open it with",
                       path, cur->name);
    if (new_capacity < cur->capacity && !c->allow_shrink)
        return pk_fail(err, "shrinking volume '%s/%s' from %llu to %llu bytes needs policy allow_shrink",
                       path, cur->name, (unsigned long long)cur->capacity,
                       (unsigned long long)new_capacity);
    _cleanup_close_ int sfd = cur->encrypted ? open_vol_secret(c, vol, "resize", err) : -1;
    if (sfd == -2) return -1;
    _cleanup_close_ int dirfd = open_pool_dir(path, err);
    if (dirfd < 0) return -1;
    struct stat st;
    _cleanup_close_ int fd = open_observed(dirfd, path, cur, O_RDWR, &st, err);
    if (fd < 0) return -1;
    _cleanup_free_ char *vpath = pk_asprintf("%s/%s", path, cur->name);

    if (sfd >= 0) {
        /* The header records the payload size: qemu-img opens the image
         * with its passphrase to change it. */
        _cleanup_free_ char *target = pk_asprintf("/dev/fd/%d", fd);
        _cleanup_free_ char *secret = pk_asprintf("/dev/fd/%d", sfd);
        _cleanup_(pk_cmd_freep) pk_cmd *cmd =
            pk_qemu_img_resize_encrypted_cmd(cur->name, is_raw(fmt) ? PK_IMG_RAW : fmt, target, secret,
                                             new_capacity, new_capacity < cur->capacity, err);
        if (!cmd) return -1;
        pk_cmd_pass_fd(cmd, fd);
        pk_cmd_pass_fd(cmd, sfd);
        if (pk_cmd_run(cmd, NULL, err) < 0)
            return pk_wrap(err, "cannot resize volume '%s'", vpath);
    } else if (is_raw(fmt)) {
        uint64_t size = (uint64_t)st.st_size;
        /* A fully allocated volume stays fully allocated. */
        bool full = (uint64_t)st.st_blocks * 512 >= size && size > 0;
        if (new_capacity > size && full) {
            int r = posix_fallocate(fd, (off_t)size, (off_t)(new_capacity - size));
            if (r != 0)
                return pk_fail_errno(err, r, "cannot allocate %llu bytes for '%s'",
                                     (unsigned long long)(new_capacity - size), vpath);
        }
        if (ftruncate(fd, (off_t)new_capacity) < 0)
            return pk_fail_errno(err, errno, "cannot resize '%s'", vpath);
    } else {
        _cleanup_free_ char *target = pk_asprintf("/dev/fd/%d", fd);
        _cleanup_(pk_cmd_freep) pk_cmd *cmd =
            pk_qemu_img_resize_cmd(fmt, target, new_capacity, new_capacity < cur->capacity, err);
        if (!cmd) return -1;
        pk_cmd_pass_fd(cmd, fd);
        if (pk_cmd_run(cmd, NULL, err) < 0)
            return pk_wrap(err, "cannot resize volume '%s'", vpath);
    }
    if (sync_fd(c, fd, vpath, err) < 0) return -1;
    return observe_one(dirfd, path, cur->name, fmt, out, err);
}

int pk_dir_update_vol(pk_bctx *c, const pk_pool *def, const pk_vol *vol, const pk_obs_vol *cur,
                      pk_obs_vol *out, pk_err **err)
{
    if (pk_dir_check_vol_name(cur->name, PK_DIR_TMP_PREFIX, err) < 0) return -1;
    _cleanup_free_ char *path = target_path(def, err);
    if (!path) return -1;
    _cleanup_close_ int dirfd = open_pool_dir(path, err);
    if (dirfd < 0) return -1;
    struct stat st;
    _cleanup_close_ int fd = open_observed(dirfd, path, cur, O_RDONLY, &st, err);
    if (fd < 0) return -1;
    _cleanup_free_ char *vpath = pk_asprintf("%s/%s", path, cur->name);
    if (apply_perms(fd, &vol->target.perms, -1, vpath, err) < 0)
        return -1;
    const char *label = vol->target.perms.label;
    if (label && !pk_streq(label, cur->perms.label) && pk_selinux_active() &&
        set_label(fd, label, vpath, err) < 0)
        return -1;
    if (sync_fd(c, fd, vpath, err) < 0)
        return -1;
    return observe_one(dirfd, path, cur->name, cur->format, out, err);
}

int pk_dir_delete_vol(pk_bctx *c, const pk_pool *def, const pk_obs_vol *cur, pk_err **err)
{
    if (pk_dir_check_vol_name(cur->name, PK_DIR_TMP_PREFIX, err) < 0) return -1;
    _cleanup_free_ char *path = target_path(def, err);
    if (!path) return -1;
    if (!cur->identity)
        return pk_fail(err, "volume '%s/%s' has no observed identity", path, cur->name);
    _cleanup_close_ int dirfd = open_pool_dir(path, err);
    if (dirfd < 0) return -1;
    struct statx st;
    if (pk_file_statx(dirfd, cur->name, &st) < 0) {
        if (errno == ENOENT) return 0;   /* done already */
        return pk_fail_errno(err, errno, "cannot stat volume '%s/%s'", path, cur->name);
    }
    /* Identity checked right before acting: a file put in its place since
     * the observation is somebody else's. (POSIX has no unlink-by-fd; the
     * window left is the one between these two calls.) */
    _cleanup_free_ char *id = pk_file_identity(&st);
    if (strcmp(id, cur->identity) != 0)
        return pk_fail(err, "volume '%s/%s' was replaced since it was observed (identity '%s', now '%s')",
                       path, cur->name, cur->identity, id);
    if (unlinkat(dirfd, cur->name, S_ISDIR(st.stx_mode) ? AT_REMOVEDIR : 0) < 0 && errno != ENOENT)
        return pk_fail_errno(err, errno, "cannot delete volume '%s/%s'", path, cur->name);
    return sync_fd(c, dirfd, path, err);
}

/* One syncfs makes a whole batch of creates, resizes and deletes durable:
 * file data, inodes and the directory entries of the renames alike. */
int pk_dir_sync(pk_bctx *c PK_UNUSED, const pk_pool *def, pk_err **err)
{
    _cleanup_free_ char *path = target_path(def, err);
    if (!path) return -1;
    _cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return pk_fail_errno(err, errno, "cannot open pool target '%s'", path);
    if (syncfs(fd) < 0) return pk_fail_errno(err, errno, "cannot sync the filesystem of '%s'", path);
    return 0;
}

const pk_backend pk_backend_dir = {
    .type = PK_POOL_DIR,
    .caps = PK_CAP_BUILD | PK_CAP_DELETE_POOL | PK_CAP_CREATE_VOL | PK_CAP_RESIZE_VOL |
            PK_CAP_SHRINK_VOL | PK_CAP_UPDATE_VOL | PK_CAP_DELETE_VOL | PK_CAP_IMAGE_FORMATS |
            PK_CAP_BACKING,
    .observe_pool = pk_dir_observe_pool,
    .observe_vols = pk_dir_observe_vols,
    .build = pk_dir_build,
    .start = pk_dir_start,
    .stop = pk_dir_stop,
    .delete_pool = pk_dir_delete_pool,
    .create_vol = pk_dir_create_vol,
    .resize_vol = pk_dir_resize_vol,
    .update_vol = pk_dir_update_vol,
    .delete_vol = pk_dir_delete_vol,
    .sync = pk_dir_sync,
};
