/* One file of a directory-backed pool as a volume: stat it without following
 * links, read its header to learn its format, and for image formats read the
 * virtual size, backing file and options (qcow2 in-process; the other
 * formats through `qemu-img info`, about 7 ms each). What a header said is
 * kept in the probe cache (backend.h) and read again only when the file's
 * inode, size, mtime or ctime changed. */
#include "fileprobe.h"
#include "backend.h"
#include "qemu_img.h"
#include <errno.h>
#include <fcntl.h>
#include <ctype.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <sys/xattr.h>

#define HEADER_LEN 4096            /* one page: holds a qcow2 header and its extensions */
#define ISO_MAGIC_OFF 0x8001       /* "CD001" of the first volume descriptor */
#define QEMU_INFO_TIMEOUT_MS 60000

pk_probe_opts pk_probe_opts_for(int dirfd)
{
    pk_probe_opts o = { 0 };
    struct statfs sf;
    if (fstatfs(dirfd, &sf) == 0) {
        switch ((unsigned long)sf.f_type) {
        case BTRFS_SUPER_MAGIC:
            o.btrfs = true;
            o.zero_blocks_is_sparse = true;
            break;
        case EXT4_SUPER_MAGIC:     /* also ext2 and ext3 */
        case XFS_SUPER_MAGIC:
            o.zero_blocks_is_sparse = true;
            break;
        case TMPFS_MAGIC:
            o.zero_blocks_is_sparse = true;
            break;
        default:
            break;
        }
    }
    o.labels = pk_selinux_active();
    return o;
}

/* Whether SELinux runs is settled at boot: asked once, not on every
 * observation of a volume just created. */
static bool selinux_on;

static void selinux_probe(void)
{
    struct statfs sf;
    selinux_on = statfs("/sys/fs/selinux", &sf) == 0 && (unsigned long)sf.f_type == SELINUX_MAGIC;
}

bool pk_selinux_active(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, selinux_probe);
    return selinux_on;
}

/* A file that holds no data: raw, with nothing in it to read. Small files
 * without blocks are read anyway, as some filesystems keep them inline. */
static bool holds_no_data(const struct stat *st, const pk_probe_opts *opts)
{
    return st->st_size == 0 ||
           (opts->zero_blocks_is_sparse && st->st_blocks == 0 && st->st_size > HEADER_LEN);
}

/* Decimal digits of v at p, at least `width` of them (zero padded); returns
 * the end. Observing a pool formats an identity per file: printf would be
 * a third of the cost of observing it. */
static char *put_u64(char *p, uint64_t v, int width)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n < width) tmp[n++] = '0';
    while (n) *p++ = tmp[--n];
    return p;
}

char *pk_file_identity(const struct statx *stx)
{
    char buf[96], *p = buf;
    p = put_u64(p, makedev(stx->stx_dev_major, stx->stx_dev_minor), 1);
    *p++ = ':';
    p = put_u64(p, stx->stx_ino, 1);
    if (stx->stx_mask & STATX_BTIME) {
        *p++ = ':';
        if (stx->stx_btime.tv_sec < 0) {
            *p++ = '-';
            p = put_u64(p, (uint64_t)0 - (uint64_t)stx->stx_btime.tv_sec, 1);
        } else {
            p = put_u64(p, (uint64_t)stx->stx_btime.tv_sec, 1);
        }
        *p++ = '.';
        p = put_u64(p, stx->stx_btime.tv_nsec, 9);
    }
    *p = '\0';
    return pk_strdup(buf);
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
    /* qemu's "parallels" images, which libvirt calls ploop */
    if (MAGIC(0, "WithoutFreeSpace") || MAGIC(0, "WithouFreSpacExt")) return PK_IMG_PLOOP;
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
    uint32_t cluster_bits = be32(buf + 20);
    uint32_t crypt = be32(buf + 32);
    if (cluster_bits < 9 || cluster_bits > 21)
        return pk_fail(err, "qcow2 cluster size 2^%u is invalid", cluster_bits);
    v->capacity = be64(buf + 24);
    v->cluster_size = 1ULL << cluster_bits;
    v->encrypted = crypt != 0;
    v->enc_format = crypt == 2 ? PK_ENC_LUKS : crypt == 1 ? PK_ENC_QCOW : 0;
    /* libvirt's names for the header versions */
    snprintf(v->compat, sizeof(v->compat), "%s", version >= 3 ? "1.1" : "0.10");
    size_t hdr_len = 72;
    if (version >= 3) {
        if (len < 104)
            return pk_fail(err, "qcow2 header is truncated");
        hdr_len = be32(buf + 100);
        if (hdr_len < 104)
            return pk_fail(err, "qcow2 header length %zu is invalid", hdr_len);
        uint64_t incompatible = be64(buf + 72), compatible = be64(buf + 80);
        v->extended_l2 = incompatible & (1ULL << 4);
        v->lazy_refcounts = compatible & 1ULL;
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

/* The SELinux label of an open file, NULL when it has none (no SELinux,
 * or a filesystem without labels). */
static char *file_label(int fd)
{
    char buf[256];
    ssize_t n = fgetxattr(fd, "security.selinux", buf, sizeof(buf) - 1);
    if (n <= 0) return NULL;
    buf[n] = '\0';
    return pk_strdup(buf);   /* the kernel's value ends in a NUL, or not */
}

/* A dmg image ends in a 512-byte "koly" trailer (qemu's dmg_open). */
static bool has_dmg_trailer(int fd, uint64_t size)
{
    char m[4];
    return size >= 1024 && pread(fd, m, sizeof(m), (off_t)(size - 512)) == (ssize_t)sizeof(m) &&
           memcmp(m, "koly", 4) == 0;
}

static void probe_file(int dirfd, const char *dirpath, const struct stat *st,
                       const pk_probe_opts *opts, pk_obs_vol *v)
{
    v->format = PK_IMG_RAW;
    v->capacity = (uint64_t)st->st_size;

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
    free(v->perms.label);
    v->perms.label = opts->labels ? file_label(fd) : NULL;
    int flags = 0;
    if (opts->btrfs && ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0)
        v->nocow = flags & FS_NOCOW_FL;
    /* No blocks: all zeroes, nothing to read (and reading a sparse file
     * makes the kernel fill page cache with zeroes). */
    if (holds_no_data(st, opts))
        return;

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
    if (fmt == PK_IMG_RAW && !encrypted && has_dmg_trailer(fd, (uint64_t)st->st_size))
        fmt = PK_IMG_DMG;
    v->format = fmt;
    v->encrypted = encrypted;
    if (encrypted) v->enc_format = PK_ENC_LUKS;

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

/* ---- probe results as cache text ----
 * One line of tab-separated fields, in this order:
 *   "pk1", ctime_ns, format, capacity, flags, encryption format, compat,
 *   cluster size, backing format, backing path, label
 * flags: 1 encrypted, 2 lazy_refcounts, 4 extended_l2, 8 nocow. Formats are
 * libvirt's names ("" = none); strings escape '\\', tab and newline. A warm
 * observation decodes one per file, so this is read with strtoull, not a
 * JSON parser (tests/bench/filevol_bench.c). */

enum { F_ENCRYPTED = 1, F_LAZY = 2, F_L2 = 4, F_NOCOW = 8 };

static void add_escaped(pk_buf *b, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '\\') pk_buf_add(b, "\\\\");
        else if (*s == '\t') pk_buf_add(b, "\\t");
        else if (*s == '\n') pk_buf_add(b, "\\n");
        else pk_buf_addc(b, *s);
    }
}

char *pk_probe_result_encode(const pk_obs_vol *v, int64_t ctime_ns)
{
    pk_buf b = PK_BUF_INIT;
    const char *fmt = pk_img_format_to_string(v->format);
    const char *bf = v->backing_path ? pk_img_format_to_string(v->backing_format) : NULL;
    unsigned flags = (v->encrypted ? F_ENCRYPTED : 0) | (v->lazy_refcounts ? F_LAZY : 0) |
                     (v->extended_l2 ? F_L2 : 0) | (v->nocow ? F_NOCOW : 0);
    pk_buf_addf(&b, "pk1\t%lld\t%s\t%llu\t%u\t%d\t%s\t%llu\t%s\t", (long long)ctime_ns,
                fmt ? fmt : "", (unsigned long long)v->capacity, flags, v->enc_format, v->compat,
                (unsigned long long)v->cluster_size, bf ? bf : "");
    add_escaped(&b, v->backing_path);
    pk_buf_addc(&b, '\t');
    add_escaped(&b, v->perms.label);
    return pk_buf_steal(&b);
}

/* The next field of *p up to a tab or the end, unescaped; NULL when empty.
 * *ok is cleared on a bad escape. */
static char *next_str(const char **p, bool *ok)
{
    pk_buf b = PK_BUF_INIT;
    const char *s = *p;
    for (; *s && *s != '\t'; s++) {
        if (*s != '\\') {
            pk_buf_addc(&b, *s);
            continue;
        }
        s++;
        if (*s == '\\') pk_buf_addc(&b, '\\');
        else if (*s == 't') pk_buf_addc(&b, '\t');
        else if (*s == 'n') pk_buf_addc(&b, '\n');
        else {
            *ok = false;
            break;
        }
    }
    *p = *s == '\t' ? s + 1 : s;
    return b.len ? pk_buf_steal(&b) : (pk_buf_free(&b), NULL);
}

static bool next_u64(const char **p, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)**p)) return false;
    *out = strtoull(*p, &end, 10);
    if (errno || *end != '\t') return false;
    *p = end + 1;
    return true;
}

/* A fixed, short field (a format name, compat) into buf. */
static bool next_word(const char **p, char *buf, size_t size)
{
    const char *tab = strchr(*p, '\t');
    if (!tab || (size_t)(tab - *p) >= size) return false;
    memcpy(buf, *p, (size_t)(tab - *p));
    buf[tab - *p] = '\0';
    *p = tab + 1;
    return true;
}

int pk_probe_result_decode(const char *text, int64_t ctime_ns, pk_obs_vol *v)
{
    if (!text || strncmp(text, "pk1\t", 4) != 0) return -1;
    const char *p = text + 4;
    char *end;
    errno = 0;
    long long ct = strtoll(p, &end, 10);
    if (errno || end == p || *end != '\t' || ct != ctime_ns) return -1;
    p = end + 1;
    char fmt[16], compat[sizeof(v->compat)], bfmt[16];
    uint64_t cap, flags, enc, cluster;
    if (!next_word(&p, fmt, sizeof(fmt)) || !next_u64(&p, &cap) || !next_u64(&p, &flags) ||
        !next_u64(&p, &enc) || !next_word(&p, compat, sizeof(compat)) || !next_u64(&p, &cluster) ||
        !next_word(&p, bfmt, sizeof(bfmt)))
        return -1;
    int f = pk_img_format_from_string(fmt);
    if (f < 0 || enc >= PK_ENC_FORMAT_LAST || flags > 15) return -1;
    bool ok = true;
    char *backing = next_str(&p, &ok);
    char *label = next_str(&p, &ok);
    if (!ok || *p) {
        free(backing);
        free(label);
        return -1;
    }
    v->format = f;
    v->capacity = cap;
    v->encrypted = flags & F_ENCRYPTED;
    v->lazy_refcounts = flags & F_LAZY;
    v->extended_l2 = flags & F_L2;
    v->nocow = flags & F_NOCOW;
    v->enc_format = (int)enc;
    snprintf(v->compat, sizeof(v->compat), "%s", compat);
    v->cluster_size = cluster;
    free(v->backing_path);
    v->backing_path = backing;
    v->backing_format = backing && bfmt[0] ? pk_img_format_from_string(bfmt) : -1;
    free(v->perms.label);
    v->perms.label = label;
    return 0;
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

static int64_t ts_ns(struct statx_timestamp ts)
{
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A regular file: from the cache when it has this very file, else probed
 * (and cached unless the probe failed). */
static void observe_regular(int dirfd, const char *dirpath, const struct statx *stx,
                            const struct stat *st, const pk_probe_opts *opts, pk_obs_vol *out)
{
    const pk_probe_cache *cache = opts->cache;
    pk_probe_stamp key = {
        .path = out->path, .dev = (uint64_t)st->st_dev, .ino = (uint64_t)st->st_ino,
        .size = (uint64_t)st->st_size, .mtime_ns = out->mtime_ns,
    };
    int64_t ctime_ns = ts_ns(stx->stx_ctime);
    /* Nothing to read in the file and nothing to ask of it: raw, and not
     * worth a cache lookup or even an open. */
    if (holds_no_data(st, opts) && !opts->labels && !opts->btrfs) {
        out->format = PK_IMG_RAW;
        return;
    }
    if (cache) {
        _cleanup_free_ char *text = NULL;
        if (cache->get(cache->opaque, &key, &text) == 1 &&
            pk_probe_result_decode(text, ctime_ns, out) == 0)
            return;
        /* a refused result may have set some fields: start again */
        free(out->backing_path);
        out->backing_path = NULL;
        free(out->perms.label);
        out->perms.label = NULL;
        out->backing_format = -1;
        out->encrypted = out->lazy_refcounts = out->extended_l2 = out->nocow = false;
        out->enc_format = 0;
        out->compat[0] = '\0';
        out->cluster_size = 0;
    }
    probe_file(dirfd, dirpath, st, opts, out);
    if (cache && !out->error) {
        _cleanup_free_ char *text = pk_probe_result_encode(out, ctime_ns);
        cache->put(cache->opaque, &key, text);
    }
}

int pk_file_observe(int dirfd, const char *dirpath, const char *name,
                    const pk_probe_opts *opts, pk_obs_vol *out)
{
    struct statx stx;
    out->name = pk_strdup(name);
    out->path = pk_path_join(dirpath, name);
    out->key = out->path;   /* one string: observing 100,000 files keeps 100,000 */
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
    out->mtime_ns = ts_ns(stx.stx_mtime);
    set_time(&out->atime, stx.stx_atime);
    set_time(&out->mtime, stx.stx_mtime);
    set_time(&out->ctime, stx.stx_ctime);
    if (stx.stx_mask & STATX_BTIME) set_time(&out->btime, stx.stx_btime);

    if (S_ISREG(st.st_mode)) {
        observe_regular(dirfd, dirpath, &stx, &st, opts, out);
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
