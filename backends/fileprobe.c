/* One file of a directory-backed pool as a volume: stat it without following
 * links, read its header to learn its format, and for image formats read the
 * virtual size and backing file (qcow2 in-process; the rare others through
 * `qemu-img info`, about 7 ms each). */
#include "fileprobe.h"
#include "qemu_img.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>

#define HEADER_LEN 4096            /* one page: holds a qcow2 header and its extensions */
#define ISO_MAGIC_OFF 0x8001       /* "CD001" of the first volume descriptor */
#define QEMU_INFO_TIMEOUT_MS 60000

pk_probe_opts pk_probe_opts_for(int dirfd)
{
    pk_probe_opts o = { 0 };
    struct statfs sf;
    if (fstatfs(dirfd, &sf) == 0) {
        switch ((unsigned long)sf.f_type) {
        case EXT4_SUPER_MAGIC:     /* also ext2 and ext3 */
        case XFS_SUPER_MAGIC:
        case BTRFS_SUPER_MAGIC:
        case TMPFS_MAGIC:
            o.zero_blocks_is_sparse = true;
            break;
        default:
            break;
        }
    }
    return o;
}

char *pk_file_identity(const struct statx *stx)
{
    unsigned long long dev = makedev(stx->stx_dev_major, stx->stx_dev_minor);
    if (stx->stx_mask & STATX_BTIME)
        return pk_asprintf("%llu:%llu:%lld.%09u", dev, (unsigned long long)stx->stx_ino,
                           (long long)stx->stx_btime.tv_sec, stx->stx_btime.tv_nsec);
    return pk_asprintf("%llu:%llu", dev, (unsigned long long)stx->stx_ino);
}

int pk_file_statx(int dirfd, const char *name, struct statx *stx)
{
    return statx(dirfd, name ? name : "", (name ? 0 : AT_EMPTY_PATH) | AT_SYMLINK_NOFOLLOW,
                 STATX_BASIC_STATS | STATX_BTIME, stx);
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const unsigned char *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static bool has_magic(const unsigned char *buf, size_t len, size_t off, const char *magic, size_t n)
{
    return len >= off + n && memcmp(buf + off, magic, n) == 0;
}
#define MAGIC(off, lit) has_magic(buf, len, (off), (lit), sizeof(lit) - 1)

int pk_probe_format(const unsigned char *buf, size_t len, bool *encrypted)
{
    *encrypted = false;
    if (MAGIC(0, "QFI\xfb"))
        return len >= 8 && be32(buf + 4) == 1 ? PK_IMG_QCOW : PK_IMG_QCOW2;
    if (MAGIC(0, "QED\0")) return PK_IMG_QED;
    if (MAGIC(0, "KDMV") || MAGIC(0, "# Disk DescriptorFile")) return PK_IMG_VMDK;
    if (MAGIC(0x40, "\x7f\x10\xda\xbe")) return PK_IMG_VDI;
    if (MAGIC(0, "vhdxfile")) return PK_IMG_VHDX;
    if (MAGIC(0, "conectix")) return PK_IMG_VPC;
    if (MAGIC(0, "OOOM")) return PK_IMG_COW;
    if (MAGIC(0, "Bochs Virtual HD Image")) return PK_IMG_BOCHS;
    if (MAGIC(0, "#!/bin/sh\n#V2.0 Format\nmodprobe cloop")) return PK_IMG_CLOOP;
    if (MAGIC(0, "LUKS\xba\xbe")) {
        *encrypted = true;
        return PK_IMG_RAW;
    }
    return PK_IMG_RAW;
}

int pk_qcow2_read_header(int fd, const unsigned char *buf, size_t len, pk_obs_vol *v, pk_err **err)
{
    if (len < 72)
        return pk_fail(err, "qcow2 header is truncated");
    uint32_t version = be32(buf + 4);
    uint64_t backing_off = be64(buf + 8);
    uint32_t backing_len = be32(buf + 16);
    v->capacity = be64(buf + 24);
    v->encrypted = be32(buf + 32) != 0;
    size_t hdr_len = 72;
    if (version >= 3) {
        if (len < 104)
            return pk_fail(err, "qcow2 header is truncated");
        hdr_len = be32(buf + 100);
        if (hdr_len < 104)
            return pk_fail(err, "qcow2 header length %zu is invalid", hdr_len);
    }
    /* Header extensions: the backing format is one of them. One that runs
     * past what was read leaves the format unknown, which is harmless. */
    v->backing_format = -1;
    for (size_t off = hdr_len; off + 8 <= len;) {
        uint32_t type = be32(buf + off), elen = be32(buf + off + 4);
        off += 8;
        if (type == 0 || elen > len - off) break;
        if (type == 0xE2792ACAu) {
            char name[32];
            size_t n = elen < sizeof(name) - 1 ? elen : sizeof(name) - 1;
            memcpy(name, buf + off, n);
            name[n] = '\0';
            v->backing_format = pk_qemu_format_from_name(name);
        }
        off += ((size_t)elen + 7) & ~(size_t)7;
    }
    if (backing_off && backing_len) {
        if (backing_len > 1023)
            return pk_fail(err, "qcow2 backing file name is too long (%u bytes)", backing_len);
        char name[1024];
        if (backing_off + backing_len <= len) {
            memcpy(name, buf + backing_off, backing_len);
        } else if (pread(fd, name, backing_len, (off_t)backing_off) != (ssize_t)backing_len) {
            return pk_fail(err, "cannot read the qcow2 backing file name");
        }
        name[backing_len] = '\0';
        free(v->backing_path);
        v->backing_path = pk_strdup(name);
    }
    return 0;
}

/* Backing names are relative to the image's directory unless absolute or a
 * protocol ("nbd://", "json:{...}"). */
static void absolutize_backing(pk_obs_vol *v, const char *dirpath)
{
    const char *b = v->backing_path;
    if (!b || b[0] == '/' || strchr(b, ':')) return;
    char *abs = pk_asprintf("%s/%s", dirpath, b);
    free(v->backing_path);
    v->backing_path = abs;
}

static void vol_error(pk_obs_vol *v, pk_err *e)
{
    free(v->error);
    v->error = pk_err_str(e);
    /* pk_err_str starts with "error: "; the field is the message itself */
    if (pk_str_has_prefix(v->error, "error: "))
        memmove(v->error, v->error + 7, strlen(v->error + 7) + 1);
    pk_err_free(e);
}

static void probe_qemu_img(int fd, const char *qemu_fmt, pk_obs_vol *v)
{
    pk_err *e = NULL;
    _cleanup_free_ char *target = pk_asprintf("/dev/fd/%d", fd);
    _cleanup_(pk_cmd_freep) pk_cmd *cmd = pk_qemu_img_info_cmd(qemu_fmt, target);
    pk_cmd_pass_fd(cmd, fd);
    pk_cmd_set_timeout(cmd, QEMU_INFO_TIMEOUT_MS);
    if (pk_cmd_run(cmd, NULL, &e) < 0 || pk_qemu_img_parse_info(pk_cmd_stdout(cmd), v, &e) < 0) {
        pk_wrap(&e, "cannot read the header of '%s'", v->path);
        vol_error(v, e);
    }
}

static void probe_file(int dirfd, const char *dirpath, const struct stat *st,
                       const pk_probe_opts *opts, pk_obs_vol *v)
{
    v->format = PK_IMG_RAW;
    v->capacity = (uint64_t)st->st_size;
    if (st->st_size == 0)
        return;
    /* No blocks: all zeroes, nothing to read (and reading a sparse file
     * makes the kernel fill page cache with zeroes). */
    if (opts->zero_blocks_is_sparse && st->st_blocks == 0 && st->st_size > HEADER_LEN)
        return;

    _cleanup_close_ int fd = openat(dirfd, v->name, O_RDONLY | O_NOFOLLOW | O_NOCTTY |
                                    O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        v->format = -1;
        v->error = pk_asprintf("cannot open '%s' to read its header: %s", v->path, strerror(errno));
        return;
    }
    struct stat now;
    if (fstat(fd, &now) < 0 || now.st_dev != st->st_dev || now.st_ino != st->st_ino) {
        v->format = -1;
        v->error = pk_asprintf("'%s' was replaced while it was observed", v->path);
        return;
    }
    posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
    unsigned char buf[HEADER_LEN];
    ssize_t n = pread(fd, buf, sizeof(buf), 0);
    if (n < 0) {
        v->format = -1;
        v->error = pk_asprintf("cannot read the header of '%s': %s", v->path, strerror(errno));
        return;
    }
    bool encrypted = false;
    int fmt = pk_probe_format(buf, (size_t)n, &encrypted);
    if (fmt == PK_IMG_RAW && !encrypted && st->st_size >= ISO_MAGIC_OFF + 5) {
        char m[5];
        if (pread(fd, m, sizeof(m), ISO_MAGIC_OFF) == (ssize_t)sizeof(m) && memcmp(m, "CD001", 5) == 0)
            fmt = PK_IMG_ISO;
    }
    v->format = fmt;
    v->encrypted = encrypted;

    pk_err *e = NULL;
    if (fmt == PK_IMG_QCOW2) {
        if (pk_qcow2_read_header(fd, buf, (size_t)n, v, &e) < 0) {
            pk_wrap(&e, "cannot read the header of '%s'", v->path);
            vol_error(v, e);
        }
    } else if (encrypted) {
        probe_qemu_img(fd, "luks", v);
    } else if (fmt != PK_IMG_RAW && fmt != PK_IMG_ISO && pk_qemu_format_name(fmt)) {
        probe_qemu_img(fd, pk_qemu_format_name(fmt), v);
    }
    absolutize_backing(v, dirpath);
}

static void stat_from_statx(const struct statx *x, struct stat *st)
{
    memset(st, 0, sizeof(*st));
    st->st_dev = makedev(x->stx_dev_major, x->stx_dev_minor);
    st->st_ino = x->stx_ino;
    st->st_mode = x->stx_mode;
    st->st_uid = x->stx_uid;
    st->st_gid = x->stx_gid;
    st->st_size = (off_t)x->stx_size;
    st->st_blocks = (blkcnt_t)x->stx_blocks;
}

static void set_time(pk_timestamp *t, struct statx_timestamp ts)
{
    t->sec = ts.tv_sec;
    t->nsec = ts.tv_nsec;
}

int pk_file_observe(int dirfd, const char *dirpath, const char *name,
                    const pk_probe_opts *opts, pk_obs_vol *out)
{
    struct statx stx;
    out->name = pk_strdup(name);
    out->path = pk_asprintf("%s/%s", dirpath, name);
    out->key = pk_strdup(out->path);
    out->type = PK_VOL_FILE;
    out->format = -1;
    out->backing_format = -1;
    out->perms = (pk_perms){ .mode = -1, .uid = -1, .gid = -1 };
    out->atime = out->mtime = out->ctime = out->btime = (pk_timestamp){ .sec = -1, .nsec = 0 };
    if (pk_file_statx(dirfd, name, &stx) < 0) {
        if (errno == ENOENT) {
            pk_obs_vol_clear(out);
            return 1;
        }
        out->error = pk_asprintf("cannot stat '%s': %s", out->path, strerror(errno));
        return 0;
    }
    struct stat st;
    stat_from_statx(&stx, &st);
    out->identity = pk_file_identity(&stx);
    out->physical = (uint64_t)st.st_size;
    out->allocation = (uint64_t)st.st_blocks * 512;
    out->capacity = (uint64_t)st.st_size;
    out->perms = (pk_perms){ .mode = st.st_mode & 07777, .uid = st.st_uid, .gid = st.st_gid };
    out->mtime_ns = (int64_t)stx.stx_mtime.tv_sec * 1000000000 + stx.stx_mtime.tv_nsec;
    set_time(&out->atime, stx.stx_atime);
    set_time(&out->mtime, stx.stx_mtime);
    set_time(&out->ctime, stx.stx_ctime);
    if (stx.stx_mask & STATX_BTIME) set_time(&out->btime, stx.stx_btime);

    if (S_ISREG(st.st_mode)) {
        probe_file(dirfd, dirpath, &st, opts, out);
    } else if (S_ISDIR(st.st_mode)) {
        out->type = PK_VOL_DIR;
        out->format = PK_IMG_DIR;
    } else if (S_ISLNK(st.st_mode)) {
        out->error = pk_asprintf("'%s' is a symbolic link, not a regular file", out->path);
    } else {
        out->error = pk_asprintf("'%s' is not a regular file or directory", out->path);
    }
    return 0;
}
