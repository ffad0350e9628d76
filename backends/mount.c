/* mountinfo parsing and the mount/umount command lines of fs and netfs pools
 * (libvirt's virStorageBackendFileSystemMountCmd, storage_util.c). */
#include "mount.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>

/* libvirt's default mount options on Linux (storage_util.c
 * default_mount_opts); the -linux.argv conformance files expect them. */
#define DEFAULT_MOUNT_OPTS "nodev,nosuid,noexec"

static const char *mountinfo_file;
static const char *filesystems_file;

void pk_mount_set_proc_files(const char *mountinfo, const char *filesystems)
{
    mountinfo_file = mountinfo;
    filesystems_file = filesystems;
}

/* Whole file into memory; proc files report size 0, so read until EOF. */
static int slurp(const char *path, pk_buf *b, pk_err **err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return pk_fail_errno(err, errno, "cannot open '%s'", path);
    char chunk[16384];
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof(chunk));
        if (r < 0) {
            if (errno == EINTR) continue;
            return pk_fail_errno(err, errno, "cannot read '%s'", path);
        }
        if (r == 0) break;
        pk_buf_addn(b, chunk, (size_t)r);
    }
    return 0;
}

/* ---- mountinfo ---- */

/* The kernel writes space, tab, newline and backslash as \ooo octal. */
static char *unescape(const char *s, size_t n)
{
    char *out = pk_malloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 3 < n &&
            s[i + 1] >= '0' && s[i + 1] <= '3' &&
            s[i + 2] >= '0' && s[i + 2] <= '7' &&
            s[i + 3] >= '0' && s[i + 3] <= '7') {
            out[o++] = (char)(((s[i + 1] - '0') << 6) | ((s[i + 2] - '0') << 3) | (s[i + 3] - '0'));
            i += 3;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

static void entry_clear(pk_mount_entry *e)
{
    free(e->root);
    free(e->mount_point);
    free(e->options);
    free(e->fstype);
    free(e->source);
    free(e->super_options);
    memset(e, 0, sizeof(*e));
}

void pk_mountinfo_clear(pk_mountinfo *mi)
{
    if (!mi) return;
    for (size_t i = 0; i < mi->n; i++)
        entry_clear(&mi->v[i]);
    free(mi->v);
    mi->v = NULL;
    mi->n = 0;
}

/* Split one line into space separated words (no empty words). */
static size_t split_words(const char *line, size_t len, const char **w, size_t *wl, size_t max)
{
    size_t n = 0, i = 0;
    while (i < len && n < max) {
        while (i < len && line[i] == ' ') i++;
        if (i >= len) break;
        size_t start = i;
        while (i < len && line[i] != ' ') i++;
        w[n] = line + start;
        wl[n] = i - start;
        n++;
    }
    return n;
}

static int parse_line(const char *line, size_t len, pk_mount_entry *e)
{
    /* id parent maj:min root mount-point options [optional...] - fstype source super */
    const char *w[64];
    size_t wl[64];
    size_t n = split_words(line, len, w, wl, PK_NELEM(w));
    if (n < 9) return -1;
    size_t sep = 0;
    for (size_t i = 6; i < n; i++) {
        if (wl[i] == 1 && w[i][0] == '-') {
            sep = i;
            break;
        }
    }
    if (!sep || sep + 2 >= n) return -1;   /* fstype and source are required */

    _cleanup_free_ char *id = pk_strndup(w[0], wl[0]);
    _cleanup_free_ char *parent = pk_strndup(w[1], wl[1]);
    _cleanup_free_ char *devno = pk_strndup(w[2], wl[2]);
    char *colon = strchr(devno, ':');
    if (!colon) return -1;
    *colon = '\0';
    uint64_t maj, min;
    if (pk_parse_int(id, 10, &e->id) < 0 || pk_parse_int(parent, 10, &e->parent_id) < 0 ||
        pk_parse_u64(devno, 10, &maj) < 0 || pk_parse_u64(colon + 1, 10, &min) < 0 ||
        maj > UINT32_MAX || min > UINT32_MAX)
        return -1;
    e->major = (unsigned)maj;
    e->minor = (unsigned)min;
    e->root = unescape(w[3], wl[3]);
    e->mount_point = unescape(w[4], wl[4]);
    e->options = pk_strndup(w[5], wl[5]);
    e->fstype = unescape(w[sep + 1], wl[sep + 1]);
    e->source = unescape(w[sep + 2], wl[sep + 2]);
    e->super_options = sep + 3 < n ? pk_strndup(w[sep + 3], wl[sep + 3]) : pk_strdup("");
    return 0;
}

int pk_mountinfo_parse(const char *text, size_t len, const char *what, pk_mountinfo *out,
                       pk_err **err)
{
    pk_mountinfo mi = { 0 };
    size_t lineno = 0;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - text) : len;
        lineno++;
        if (end > i) {
            pk_mount_entry e = { 0 };
            if (parse_line(text + i, end - i, &e) < 0) {
                entry_clear(&e);
                pk_mountinfo_clear(&mi);
                return pk_fail_at(err, what, (int)lineno, "malformed mountinfo line");
            }
            *PK_APPEND(mi.v, mi.n) = e;
        }
        i = end + 1;
    }
    pk_mountinfo_clear(out);
    *out = mi;
    return 0;
}

int pk_mountinfo_read(pk_mountinfo *out, pk_err **err)
{
    const char *path = mountinfo_file ? mountinfo_file : "/proc/self/mountinfo";
    pk_buf b = PK_BUF_INIT;
    int r = slurp(path, &b, err);
    if (r == 0) r = pk_mountinfo_parse(pk_buf_str(&b), b.len, path, out, err);
    pk_buf_free(&b);
    return r;
}

const pk_mount_entry *pk_mountinfo_at(const pk_mountinfo *mi, const char *mount_point)
{
    /* Later lines are mounted later: the last one on a path is the one seen. */
    for (size_t i = mi->n; i > 0; i--)
        if (strcmp(mi->v[i - 1].mount_point, mount_point) == 0)
            return &mi->v[i - 1];
    return NULL;
}

const pk_mount_entry *pk_mountinfo_next_dev(const pk_mountinfo *mi, unsigned major,
                                            unsigned minor, size_t *pos)
{
    for (; *pos < mi->n; (*pos)++) {
        const pk_mount_entry *e = &mi->v[*pos];
        if (e->major == major && e->minor == minor) {
            (*pos)++;
            return e;
        }
    }
    return NULL;
}

/* ---- command lines ---- */

static int netfs_format(const pk_pool *def)
{
    return def->source.format < 0 ? PK_NETFS_AUTO : def->source.format;
}

static int fs_format(const pk_pool *def)
{
    return def->source.format < 0 ? PK_FS_AUTO : def->source.format;
}

char *pk_mount_source(const pk_pool *def, pk_err **err)
{
    if (def->type == PK_POOL_NETFS) {
        if (def->source.n_hosts != 1 || !def->source.hosts[0].name) {
            pk_fail(err, "pool '%s' needs exactly one source host", def->name);
            return NULL;
        }
        if (!def->source.dir) {
            pk_fail(err, "pool '%s' has no source directory", def->name);
            return NULL;
        }
        const char *host = def->source.hosts[0].name;
        if (netfs_format(def) == PK_NETFS_CIFS)
            return pk_asprintf("//%s/%s", host, def->source.dir);
        return pk_asprintf("%s:%s", host, def->source.dir);
    }
    if (def->source.n_devices != 1 || !def->source.devices[0].path) {
        pk_fail(err, "pool '%s' needs exactly one source device", def->name);
        return NULL;
    }
    return pk_strdup(def->source.devices[0].path);
}

/* -o value: the defaults, what the filesystem type adds, then the XML's
 * fs:mount_opts, comma separated (libvirt's order). */
static void add_options(pk_cmd *cmd, const pk_pool *def, const char *provided)
{
    pk_buf b = PK_BUF_INIT;
    pk_buf_add(&b, DEFAULT_MOUNT_OPTS);
    if (provided) pk_buf_addf(&b, ",%s", provided);
    for (char **o = def->mount_opts; o && *o; o++)
        pk_buf_addf(&b, ",%s", *o);
    pk_cmd_add_args(cmd, "-o", pk_buf_str(&b), NULL);
    pk_buf_free(&b);
}

static char *target_of(const pk_pool *def, pk_err **err)
{
    if (!def->target_path || def->target_path[0] != '/') {
        pk_fail(err, "pool '%s' has no absolute target path", def->name);
        return NULL;
    }
    return pk_strdup(def->target_path);
}

pk_cmd *pk_mount_cmd(const pk_pool *def, pk_err **err)
{
    if (def->type != PK_POOL_FS && def->type != PK_POOL_NETFS) {
        pk_fail(err, "pool '%s' is not a filesystem pool", def->name);
        return NULL;
    }
    _cleanup_free_ char *src = pk_mount_source(def, err);
    if (!src) return NULL;
    _cleanup_free_ char *target = target_of(def, err);
    if (!target) return NULL;
    _cleanup_free_ char *nfsvers = def->source.protocol_ver
                                       ? pk_asprintf("nfsvers=%s", def->source.protocol_ver)
                                       : NULL;
    pk_cmd *cmd = pk_cmd_new("mount");
    if (def->type == PK_POOL_FS) {
        add_options(cmd, def, nfsvers);
        pk_cmd_add_args(cmd, "-t", pk_fs_format_to_string(fs_format(def)), src, target, NULL);
        return cmd;
    }
    switch (netfs_format(def)) {
    case PK_NETFS_AUTO:
        /* 'mount -t auto' does not find nfs; plain mount does (libvirt). */
        add_options(cmd, def, nfsvers);
        pk_cmd_add_args(cmd, src, target, NULL);
        break;
    case PK_NETFS_GLUSTERFS:
        add_options(cmd, def, "direct-io-mode=1");
        pk_cmd_add_args(cmd, "-t", "glusterfs", src, target, NULL);
        break;
    case PK_NETFS_CIFS:
        add_options(cmd, def, "guest");
        pk_cmd_add_args(cmd, "-t", "cifs", src, target, NULL);
        break;
    default:
        add_options(cmd, def, nfsvers);
        pk_cmd_add_args(cmd, "-t", pk_netfs_format_to_string(netfs_format(def)), src, target,
                        NULL);
        break;
    }
    return cmd;
}

pk_cmd *pk_umount_cmd(const pk_pool *def, pk_err **err)
{
    _cleanup_free_ char *target = target_of(def, err);
    if (!target) return NULL;
    pk_cmd *cmd = pk_cmd_new("umount");
    pk_cmd_add_arg(cmd, target);
    return cmd;
}

/* ---- is this mount the pool's? ---- */

/* "host:dir" or "//host/share" with runs of '/' collapsed, no trailing '/'
 * (except a lone root) and a '/' at the start of dir (gluster sources may
 * be written "host:vol"). */
static char *normalize_source(const char *s)
{
    pk_buf b = PK_BUF_INIT;
    const char *p = s;
    if (pk_str_has_prefix(s, "//")) {
        pk_buf_add(&b, "//");
        p = s + 2;
        while (*p == '/') p++;
    } else {
        const char *colon = strchr(s, ':');
        if (colon) {
            pk_buf_addn(&b, s, (size_t)(colon - s) + 1);
            p = colon + 1;
            if (*p != '/') pk_buf_addc(&b, '/');
        }
    }
    for (; *p; p++) {
        if (*p == '/' && b.len && b.s[b.len - 1] == '/') continue;
        pk_buf_addc(&b, *p);
    }
    while (b.len > 1 && b.s[b.len - 1] == '/' && b.s[b.len - 2] != ':' && b.s[b.len - 2] != '/')
        b.s[--b.len] = '\0';
    return pk_buf_steal(&b);
}

static bool netfs_type_fits(int fmt, const char *fstype)
{
    switch (fmt) {
    case PK_NETFS_NFS:
        return pk_streq(fstype, "nfs") || pk_streq(fstype, "nfs4");
    case PK_NETFS_GLUSTERFS:
        return pk_streq(fstype, "fuse.glusterfs") || pk_streq(fstype, "glusterfs");
    case PK_NETFS_CIFS:
        return pk_streq(fstype, "cifs") || pk_streq(fstype, "smb3");
    default:
        return true;   /* auto: whatever mount(8) found */
    }
}

bool pk_mount_entry_is_pool(const pk_mount_entry *e, const pk_pool *def, dev_t rdev)
{
    if (def->type == PK_POOL_FS)
        return e->major == major(rdev) && e->minor == minor(rdev);
    if (def->type != PK_POOL_NETFS || !netfs_type_fits(netfs_format(def), e->fstype))
        return false;
    _cleanup_free_ char *want = pk_mount_source(def, NULL);
    if (!want) return false;
    _cleanup_free_ char *a = normalize_source(want);
    _cleanup_free_ char *b = normalize_source(e->source);
    return strcmp(a, b) == 0;
}

/* ---- can this kernel mount it? ---- */

/* A filesystem /proc/filesystems does not list yet may be a module that
 * mount(2) loads on demand (request_module("fs-NAME")): Debian's kernels
 * build nfs, cifs and fuse as modules. */
static bool fs_module_exists(const char *name)
{
    struct utsname u;
    if (uname(&u) < 0) return false;
    _cleanup_free_ char *path = pk_asprintf("/lib/modules/%s/modules.alias", u.release);
    FILE *f = fopen(path, "re");
    if (!f) return false;
    _cleanup_free_ char *want = pk_asprintf("alias fs-%s ", name);
    char *line = NULL;
    size_t cap = 0;
    bool found = false;
    while (!found && getline(&line, &cap, f) >= 0)
        found = pk_str_has_prefix(line, want);
    free(line);
    fclose(f);
    return found;
}

static bool kernel_has(const char *text, const char *name)
{
    /* Lines are "nodev\tNAME" or "\tNAME". */
    for (const char *line = text; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        const char *tab = memchr(line, '\t', len);
        const char *fs = tab ? tab + 1 : line;
        size_t fl = len - (size_t)(fs - line);
        if (fl == strlen(name) && strncmp(fs, name, fl) == 0)
            return true;
        line = nl ? nl + 1 : NULL;
    }
    /* (tests that set their own filesystems file ask about that file only) */
    return !filesystems_file && fs_module_exists(name);
}

int pk_mount_check_kernel(const char *fstype, pk_err **err)
{
    if (!fstype || strcmp(fstype, "auto") == 0)
        return 0;   /* mount(8) probes: nothing to check up front */
    const char *path = filesystems_file ? filesystems_file : "/proc/filesystems";
    pk_buf b = PK_BUF_INIT;
    if (slurp(path, &b, err) < 0) {
        pk_buf_free(&b);
        return -1;
    }
    const char *text = pk_buf_str(&b);
    int r = 0;
    if (strcmp(fstype, "glusterfs") == 0) {
        if (!kernel_has(text, "fuse")) {
            r = pk_fail(err, "filesystem type '%s' is not supported by this kernel (no FUSE)",
                        fstype);
        } else {
            _cleanup_free_ char *helper = pk_find_program("mount.glusterfs");
            if (!helper)
                r = pk_fail(err, "filesystem type '%s' needs the program 'mount.glusterfs', which is not installed",
                            fstype);
        }
    } else if (strcmp(fstype, "nfs") == 0) {
        if (!kernel_has(text, "nfs") && !kernel_has(text, "nfs4"))
            r = pk_fail(err, "filesystem type '%s' is not supported by this kernel", fstype);
    } else if (strcmp(fstype, "cifs") == 0) {
        if (!kernel_has(text, "cifs") && !kernel_has(text, "smb3"))
            r = pk_fail(err, "filesystem type '%s' is not supported by this kernel", fstype);
    } else if (!kernel_has(text, fstype)) {
        r = pk_fail(err, "filesystem type '%s' is not supported by this kernel", fstype);
    }
    pk_buf_free(&b);
    return r;
}
