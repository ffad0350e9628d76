/* The gluster backend over libgfapi (see gluster.h).
 *
 * Connections. glfs_fini takes ten seconds on gluster 10 every time (a
 * 10 s bail-out timer holds the RPC client; upstream issues #1962, #2606,
 * #4320, closed "wontfix"), so a connection is made once per volume per
 * process and kept for the life of the process: every later pool, cycle or
 * operation on that volume reuses it, and it ends with the process. That is
 * safe because every file this backend opens is closed (flushed) before the
 * operation returns: nothing is left pending in the client.
 * glfs_init may also never return (a brick that refuses the client with
 * auth.reject: the AUTH_FAILED event does not wake it), so it runs on a
 * thread of its own and is waited for with a time-out; an attempt that is
 * still hanging is found again by the next caller instead of piling up.
 *
 * Volumes. Every name is resolved under the pool's directory as an absolute
 * path inside the gluster volume (no chdir: one connection serves every
 * pool on the volume). Creation is atomic: the file is made complete under
 * PK_GLUSTER_TMP_PREFIX + host + "." + name, then hard-linked to its name
 * (which refuses an existing one) and the temporary unlinked; the next
 * create of that volume on this host removes a temporary a crash left. Raw files are made here
 * (sparse with glfs_ftruncate, allocated with glfs_fallocate); qcow2 and
 * other image formats by qemu-img through its gluster:// protocol, which
 * this machine's qemu-img must support (Debian: qemu-block-extra). */
#include "gluster.h"
#include "dir.h"
#include "fileprobe.h"
#include "qemu_img.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <glusterfs/api/glfs.h>

#define DEFAULT_PORT 24007
#define INIT_TIMEOUT_MS 10000
#define DEFAULT_VOL_MODE 0600
#define HEADER_BYTES 4096
#define QCOW2_HEADER_BYTES 65536

/* ---- connections (process-wide, see above) ---- */

typedef enum { GL_PENDING, GL_READY, GL_FAILED } gl_state;

typedef struct gl_conn {
    struct gl_conn *next;
    char *key;
    glfs_t *fs;
    gl_state state;
    int init_errno;
} gl_conn;

static pthread_mutex_t gl_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gl_cond = PTHREAD_COND_INITIALIZER;
static gl_conn *gl_conns;

static void *init_thread(void *arg)
{
    gl_conn *cn = arg;
    errno = 0;
    int r = glfs_init(cn->fs);
    int e = errno ? errno : EIO;
    glfs_t *failed = NULL;
    pthread_mutex_lock(&gl_lock);
    if (r == 0) {
        cn->state = GL_READY;
    } else {
        cn->state = GL_FAILED;
        cn->init_errno = e;
        failed = cn->fs;
        cn->fs = NULL;
    }
    pthread_cond_broadcast(&gl_cond);
    pthread_mutex_unlock(&gl_lock);
    /* After a failed init glfs_fini is quick (nothing is connected). */
    if (failed) glfs_fini(failed);
    return NULL;
}

static void unlink_conn(gl_conn *cn)
{
    for (gl_conn **p = &gl_conns; *p; p = &(*p)->next)
        if (*p == cn) {
            *p = cn->next;
            break;
        }
    free(cn->key);
    free(cn);
}

static char *servers_text(const pk_pool *def)
{
    pk_buf b = PK_BUF_INIT;
    for (size_t i = 0; i < def->source.n_hosts; i++) {
        const pk_pool_host *h = &def->source.hosts[i];
        bool v6 = strchr(h->name, ':') != NULL;
        pk_buf_addf(&b, v6 ? "%s[%s]:%d" : "%s%s:%d", i ? "," : "", h->name,
                    h->port ? h->port : DEFAULT_PORT);
    }
    return pk_buf_steal(&b);
}

static int init_error(const pk_pool *def, int e, pk_err **err)
{
    _cleanup_free_ char *srv = servers_text(def);
    const char *vol = def->source.name;
    switch (e) {
    case ENOENT:
        return pk_fail(err, "gluster volume '%s' does not exist on '%s'", vol, srv);
    case ENOTCONN:
    case ECONNREFUSED:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case ETIMEDOUT:
        return pk_fail_errno(err, e, "gluster server unreachable at '%s'", srv);
    case EACCES:
    case EPERM:
        return pk_fail(err, "gluster authentication failed: volume '%s' on '%s' refused this client", vol, srv);
    case EIO:
        return pk_fail(err, "gluster volume '%s' on '%s' is not started or its bricks are offline", vol, srv);
    default:
        return pk_fail_errno(err, e, "cannot connect to gluster volume '%s' on '%s'", vol, srv);
    }
}

/* A new connection attempt, registered PENDING; NULL with *err. */
static gl_conn *start_conn(const pk_pool *def, const char *key, pk_err **err)
{
    glfs_t *fs = glfs_new(def->source.name);
    if (!fs) {
        pk_fail_errno(err, errno, "cannot create a gluster client for volume '%s'", def->source.name);
        return NULL;
    }
    for (size_t i = 0; i < def->source.n_hosts; i++) {
        const pk_pool_host *h = &def->source.hosts[i];
        if (glfs_set_volfile_server(fs, "tcp", h->name, h->port ? h->port : DEFAULT_PORT) < 0) {
            pk_fail_errno(err, errno, "invalid gluster server '%s'", h->name);
            glfs_fini(fs);
            return NULL;
        }
    }
    /* gfapi logs to /var/log/glusterfs by default; poolkeeper reports
     * errors itself and writes nothing outside its own files. */
    glfs_set_logging(fs, "/dev/null", 0);
    gl_conn *cn = PK_NEW(gl_conn);
    cn->key = pk_strdup(key);
    cn->fs = fs;
    cn->state = GL_PENDING;
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int r = pthread_create(&th, &attr, init_thread, cn);
    pthread_attr_destroy(&attr);
    if (r != 0) {
        pk_fail_errno(err, r, "cannot start the gluster client for volume '%s'", def->source.name);
        glfs_fini(fs);
        free(cn->key);
        free(cn);
        return NULL;
    }
    cn->next = gl_conns;
    gl_conns = cn;
    return cn;
}

/* The volume's connection, ready to use. */
static glfs_t *gl_get(const pk_pool *def, pk_err **err)
{
    if (!def->source.name || !*def->source.name || strchr(def->source.name, '/')) {
        pk_fail(err, "pool '%s' needs a gluster volume name without '/' in <source><name>", def->name);
        return NULL;
    }
    if (def->source.n_hosts == 0) {
        pk_fail(err, "pool '%s' names no gluster server (<source><host>)", def->name);
        return NULL;
    }
    _cleanup_free_ char *srv = servers_text(def);
    _cleanup_free_ char *key = pk_asprintf("%s/%s", srv, def->source.name);
    pthread_mutex_lock(&gl_lock);
    gl_conn *cn = NULL;
    for (gl_conn *p = gl_conns; p; p = p->next)
        if (pk_streq(p->key, key)) cn = p;
    if (cn && cn->state == GL_FAILED) {
        unlink_conn(cn);   /* try again: the server may be back */
        cn = NULL;
    }
    if (!cn && !(cn = start_conn(def, key, err))) {
        pthread_mutex_unlock(&gl_lock);
        return NULL;
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += INIT_TIMEOUT_MS / 1000;
    while (cn->state == GL_PENDING)
        if (pthread_cond_timedwait(&gl_cond, &gl_lock, &until) == ETIMEDOUT) break;
    glfs_t *fs = NULL;
    if (cn->state == GL_READY) {
        fs = cn->fs;
    } else if (cn->state == GL_FAILED) {
        init_error(def, cn->init_errno, err);
        unlink_conn(cn);
    } else {
        /* Left PENDING: the next caller waits for this same attempt. */
        pk_fail(err, "gluster volume '%s' on '%s' did not come up within %d s: its bricks refused this client "
                     "(authentication: auth.allow / auth.reject) or cannot be reached",
                def->source.name, srv, INIT_TIMEOUT_MS / 1000);
    }
    pthread_mutex_unlock(&gl_lock);
    return fs;
}

/* ---- paths ---- */

/* The pool's directory inside the volume, "/" or "/sub" (no trailing '/'). */
static char *pool_dir(const pk_pool *def, pk_err **err)
{
    const char *d = def->source.dir ? def->source.dir : "/";
    if (d[0] != '/') {
        pk_fail(err, "gluster pool path '%s' must start with /", d);
        return NULL;
    }
    char *p = pk_strdup(d);
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/') p[--n] = '\0';
    return p;
}

static char *vol_path(const char *dir, const char *name)
{
    return pk_asprintf("%s/%s", strcmp(dir, "/") == 0 ? "" : dir, name);
}

char *pk_gluster_url(const pk_pool *def, const char *name)
{
    const pk_pool_host *h = def->source.n_hosts ? &def->source.hosts[0] : NULL;
    const char *d = def->source.dir ? def->source.dir : "/";
    bool slash = d[strlen(d) - 1] == '/';
    pk_buf b = PK_BUF_INIT;
    pk_buf_add(&b, "gluster://");
    if (h) {
        pk_buf_addf(&b, strchr(h->name, ':') ? "[%s]" : "%s", h->name);
        if (h->port) pk_buf_addf(&b, ":%d", h->port);
    }
    pk_buf_addf(&b, "/%s%s%s%s", def->source.name, d, slash ? "" : "/", name ? name : "");
    return pk_buf_steal(&b);
}

/* The temporary name of a volume being created: this host's, so that two
 * hosts that declare the same shared pool never take each other's file for
 * the remnant of a crash; a hash of the name when it would be too long. */
static char *tmp_name(const char *name)
{
    char host[256] = "localhost";
    if (gethostname(host, sizeof(host) - 1) == 0) {
        host[sizeof(host) - 1] = '\0';
        host[strcspn(host, ".")] = '\0';
    }
    char *t = pk_asprintf("%s%s.%s", PK_GLUSTER_TMP_PREFIX, host, name);
    if (strlen(t) <= 255) return t;
    free(t);
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) h = (h ^ *p) * 0x100000001b3ULL;
    return pk_asprintf("%s%.64s.#%016llx", PK_GLUSTER_TMP_PREFIX, host, (unsigned long long)h);
}

static bool name_ok(const char *name)
{
    return pk_name_valid(name) && !pk_str_has_prefix(name, PK_GLUSTER_TMP_PREFIX);
}

/* Files are known by their gfid; st_ino is its low 64 bits, random for
 * every new file, so it tells a replaced file from the one observed. */
static char *identity_of(const struct stat *st)
{
    return pk_asprintf("gfid:%016llx", (unsigned long long)st->st_ino);
}

/* ---- observing ---- */

static int open_dir(const pk_pool *def, glfs_t **fs, char **dir, pk_err **err)
{
    *dir = NULL;
    if (!(*fs = gl_get(def, err))) return -1;
    if (!(*dir = pool_dir(def, err))) return -1;
    return 0;
}

static int gl_observe_pool(pk_bctx *c PK_UNUSED, const pk_pool *def, pk_obs_pool *out, pk_err **err)
{
    glfs_t *fs;
    _cleanup_free_ char *dir = NULL;
    if (open_dir(def, &fs, &dir, err) < 0) return -1;
    struct stat st;
    if (glfs_stat(fs, dir, &st) < 0) {
        if (errno == ENOENT)
            return pk_fail(err, "directory '%s' does not exist in gluster volume '%s'", dir, def->source.name);
        return pk_fail_errno(err, errno, "cannot stat '%s' in gluster volume '%s'", dir, def->source.name);
    }
    if (!S_ISDIR(st.st_mode))
        return pk_fail(err, "'%s' in gluster volume '%s' is not a directory", dir, def->source.name);
    struct statvfs sv;
    if (glfs_statvfs(fs, dir, &sv) < 0)
        return pk_fail_errno(err, errno, "cannot statvfs '%s' in gluster volume '%s'", dir, def->source.name);
    out->state = PK_POOL_RUNNING;
    pk_obs_pool_set_usage(out, &sv);
    free(out->perms.label);
    out->perms = (pk_perms){ .mode = st.st_mode & 07777, .uid = st.st_uid, .gid = st.st_gid };
    free(out->identity);
    out->identity = identity_of(&st);
    return 0;
}

static ssize_t read_full(glfs_fd_t *fd, unsigned char *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t r = glfs_pread(fd, buf + got, len - got, (off_t)got, 0, NULL);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* Format, virtual size and backing file from the file's header. */
static void probe_header(glfs_t *fs, const char *path, pk_obs_vol *v)
{
    glfs_fd_t *fd = glfs_open(fs, path, O_RDONLY | O_NOCTTY);
    if (!fd) {
        v->error = pk_asprintf("cannot open '%s': %s", v->path, strerror(errno));
        return;
    }
    unsigned char *buf = pk_malloc(QCOW2_HEADER_BYTES);
    ssize_t n = read_full(fd, buf, HEADER_BYTES);
    if (n < 0) {
        v->error = pk_asprintf("cannot read '%s': %s", v->path, strerror(errno));
        goto out;
    }
    bool encrypted = false;
    v->format = pk_probe_format(buf, (size_t)n, &encrypted);
    v->encrypted = encrypted;
    if (v->format == PK_IMG_QCOW2) {
        n = read_full(fd, buf, QCOW2_HEADER_BYTES);
        pk_err *e = NULL;
        /* The header and its backing name lie in the first 64 KiB (qemu
         * writes them in the first cluster); no local fd to read past it. */
        if (n < 0 || pk_qcow2_read_header(-1, buf, (size_t)n, v, &e) < 0) {
            _cleanup_free_ char *t = e ? pk_err_str(e) : pk_strdup(strerror(errno));
            v->error = pk_asprintf("cannot read the qcow2 header of '%s': %s", v->path, t);
            pk_err_free(e);
        }
        if (v->backing_path && v->backing_format < 0) v->backing_format = PK_IMG_RAW;
    }
out:
    free(buf);
    glfs_close(fd);
}

/* One directory entry as a volume; 1 when it is not one (gone, dangling link). */
static int observe_entry(glfs_t *fs, const pk_pool *def, const char *dir, const char *name,
                         struct stat *st, pk_obs_vol *v)
{
    _cleanup_free_ char *path = vol_path(dir, name);
    /* As libvirt: links are followed, dangling ones skipped. */
    if (S_ISLNK(st->st_mode) && glfs_stat(fs, path, st) < 0) return 1;
    v->name = pk_strdup(name);
    v->path = pk_gluster_url(def, name);
    v->key = pk_strdup(v->path);
    v->identity = identity_of(st);
    v->perms = (pk_perms){ .mode = st->st_mode & 07777, .uid = st->st_uid, .gid = st->st_gid };
    v->capacity = v->physical = (uint64_t)st->st_size;
    v->allocation = (uint64_t)st->st_blocks * 512;
    v->atime = (pk_timestamp){ st->st_atim.tv_sec, st->st_atim.tv_nsec };
    v->mtime = (pk_timestamp){ st->st_mtim.tv_sec, st->st_mtim.tv_nsec };
    v->ctime = (pk_timestamp){ st->st_ctim.tv_sec, st->st_ctim.tv_nsec };
    v->btime = (pk_timestamp){ -1, 0 };
    if (S_ISDIR(st->st_mode)) {
        v->type = PK_VOL_NETDIR;
        v->format = PK_IMG_DIR;
        return 0;
    }
    v->type = PK_VOL_NETWORK;
    v->format = PK_IMG_RAW;
    if (!S_ISREG(st->st_mode)) {
        v->error = pk_asprintf("'%s' is neither a file nor a directory", v->path);
        return 0;
    }
    probe_header(fs, path, v);
    return 0;
}

static int cmp_obs_vol(const void *a, const void *b)
{
    return strcmp(((const pk_obs_vol *)a)->name, ((const pk_obs_vol *)b)->name);
}

static int gl_observe_vols(pk_bctx *c PK_UNUSED, const pk_pool *def, pk_obs_pool *out, pk_err **err)
{
    glfs_t *fs;
    _cleanup_free_ char *dir = NULL;
    if (open_dir(def, &fs, &dir, err) < 0) return -1;
    glfs_fd_t *d = glfs_opendir(fs, dir);
    if (!d) return pk_fail_errno(err, errno, "cannot open '%s' in gluster volume '%s'", dir, def->source.name);
    pk_obs_vol *vols = NULL;
    size_t n = 0;
    int ret = -1;
    for (;;) {
        struct stat st;
        errno = 0;
        struct dirent *de = glfs_readdirplus(d, &st);
        if (!de) {
            if (errno) {
                pk_fail_errno(err, errno, "cannot read '%s' in gluster volume '%s'", dir, def->source.name);
                goto out;
            }
            break;
        }
        if (!name_ok(de->d_name)) continue;   /* ".", "..", our temporaries */
        pk_obs_vol v = { 0 };
        pk_obs_vol_clear(&v);
        if (observe_entry(fs, def, dir, de->d_name, &st, &v) == 1) {
            pk_obs_vol_clear(&v);
            continue;
        }
        *PK_APPEND(vols, n) = v;
    }
    if (n) qsort(vols, n, sizeof(*vols), cmp_obs_vol);
    for (size_t i = 0; i < out->n_vols; i++) pk_obs_vol_clear(&out->vols[i]);
    free(out->vols);
    out->vols = TAKE_PTR(vols);
    out->n_vols = n;
    out->vols_observed = true;
    ret = 0;
out:
    glfs_closedir(d);
    for (size_t i = 0; vols && i < n; i++) pk_obs_vol_clear(&vols[i]);
    free(vols);
    return ret;
}

/* The volume `name` as it is now, into *out (NULL: only checks it exists). */
static int observe_after(glfs_t *fs, const pk_pool *def, const char *dir, const char *name, pk_obs_vol *out,
                         pk_err **err)
{
    _cleanup_free_ char *path = vol_path(dir, name);
    struct stat st;
    if (glfs_lstat(fs, path, &st) < 0)
        return pk_fail_errno(err, errno, "cannot stat '%s' in gluster volume '%s'", path, def->source.name);
    pk_obs_vol v = { 0 };
    pk_obs_vol_clear(&v);
    observe_entry(fs, def, dir, name, &st, &v);
    if (v.error) {
        pk_fail(err, "%s", v.error);
        pk_obs_vol_clear(&v);
        return -1;
    }
    if (out) {
        pk_obs_vol_clear(out);
        *out = v;
    } else {
        pk_obs_vol_clear(&v);
    }
    return 0;
}

/* ---- creating ---- */

static int vol_format(const pk_vol *vol)
{
    int f = vol->target.format;
    return f < 0 || f == PK_IMG_NONE ? PK_IMG_RAW : f;
}

static int apply_perms(glfs_fd_t *fd, const pk_perms *p, int64_t default_mode, const char *url, pk_err **err)
{
    if ((p->uid >= 0 || p->gid >= 0) &&
        glfs_fchown(fd, p->uid >= 0 ? (uid_t)p->uid : (uid_t)-1, p->gid >= 0 ? (gid_t)p->gid : (gid_t)-1) < 0)
        return pk_fail_errno(err, errno, "cannot change the owner of '%s'", url);
    int64_t mode = p->mode >= 0 ? p->mode : default_mode;
    if (mode >= 0 && glfs_fchmod(fd, (mode_t)mode) < 0)
        return pk_fail_errno(err, errno, "cannot change the mode of '%s'", url);
    return 0;
}

static int make_raw(glfs_fd_t *fd, const pk_vol *vol, const char *url, pk_err **err)
{
    if (glfs_ftruncate(fd, (off_t)vol->capacity, NULL, NULL) < 0)
        return pk_fail_errno(err, errno, "cannot set the size of '%s'", url);
    /* As libvirt: without <allocation> a raw volume is fully allocated. */
    uint64_t alloc = vol->has_allocation ? vol->allocation : vol->capacity;
    if (alloc > vol->capacity) alloc = vol->capacity;
    if (alloc > 0 && glfs_fallocate(fd, 1, 0, (size_t)alloc) < 0)
        return pk_fail_errno(err, errno, "cannot allocate %llu bytes for '%s'", (unsigned long long)alloc, url);
    return 0;
}

/* qemu-img, through its own gluster client: the command fails with "Unknown
 * protocol" where qemu-img was built without it. */
static int run_qemu_img(pk_cmd *cmd, const char *what, pk_err **err)
{
    if (pk_cmd_run(cmd, NULL, err) == 0) return 0;
    if (strstr(pk_cmd_stderr(cmd), "Unknown protocol"))
        return pk_wrap(err, "cannot %s: this machine's qemu-img cannot write to gluster:// "
                            "(install qemu-block-extra, or use raw volumes)", what);
    return pk_wrap(err, "cannot %s", what);
}

static int make_image(const pk_pool *def, const char *tmp, const pk_vol *vol, pk_err **err)
{
    if (vol->target.encryption)
        return pk_fail(err, "cannot create volume '%s': encrypted gluster volumes are not supported", vol->name);
    if (vol->backing && vol->backing->path)
        return pk_fail(err, "cannot create volume '%s': backing stores on gluster are not supported", vol->name);
    _cleanup_free_ char *url = pk_gluster_url(def, tmp);
    _cleanup_(pk_cmd_freep) pk_cmd *cmd = pk_qemu_img_create_cmd(vol, url, NULL, err);
    if (!cmd) return -1;
    _cleanup_free_ char *what = pk_asprintf("create volume '%s'", vol->name);
    return run_qemu_img(cmd, what, err);
}

static int gl_create_vol(pk_bctx *c PK_UNUSED, const pk_pool *def, const pk_vol *vol, pk_obs_vol *out,
                         pk_err **err)
{
    if (pk_dir_check_vol_name(vol->name, PK_GLUSTER_TMP_PREFIX, err) < 0) return -1;
    int fmt = vol_format(vol);
    bool raw = fmt == PK_IMG_RAW && !vol->target.encryption;
    if (!raw && !pk_qemu_format_name(fmt))
        return pk_fail(err, "cannot create volume '%s': format '%s' is not supported by the gluster backend",
                       vol->name, pk_img_format_to_string(fmt));
    if (vol->type == PK_VOL_NETDIR)
        return pk_fail(err, "cannot create volume '%s': gluster directories (netdir) are not created", vol->name);
    glfs_t *fs;
    _cleanup_free_ char *dir = NULL;
    if (open_dir(def, &fs, &dir, err) < 0) return -1;
    _cleanup_free_ char *path = vol_path(dir, vol->name);
    _cleanup_free_ char *tmp = tmp_name(vol->name);
    _cleanup_free_ char *tmp_path = vol_path(dir, tmp);
    _cleanup_free_ char *url = pk_gluster_url(def, vol->name);
    struct stat st;
    if (glfs_lstat(fs, path, &st) == 0)
        return pk_fail(err, "volume '%s' already exists", url);
    /* A temporary of this name is what a crashed create left behind. */
    if (glfs_unlink(fs, tmp_path) < 0 && errno != ENOENT)
        return pk_fail_errno(err, errno, "cannot remove the stale temporary file '%s'", tmp_path);

    if (!raw && make_image(def, tmp, vol, err) < 0) goto fail;
    glfs_fd_t *fd = raw ? glfs_creat(fs, tmp_path, O_RDWR | O_EXCL | O_CLOEXEC, DEFAULT_VOL_MODE)
                        : glfs_open(fs, tmp_path, O_RDWR | O_CLOEXEC);
    if (!fd) {
        pk_fail_errno(err, errno, "cannot create '%s' in gluster volume '%s'", tmp_path, def->source.name);
        goto fail;
    }
    int r = (raw ? make_raw(fd, vol, url, err) : 0) < 0 ||
            apply_perms(fd, &vol->target.perms, DEFAULT_VOL_MODE, url, err) < 0 ? -1 : 0;
    if (r == 0 && glfs_fsync(fd, NULL, NULL) < 0)
        r = pk_fail_errno(err, errno, "cannot sync '%s'", url);
    if (glfs_close(fd) < 0 && r == 0)
        r = pk_fail_errno(err, errno, "cannot close '%s'", url);
    if (r < 0) goto fail;
    if (pk_backend_fault("vol.create.before-rename", vol->name))
        return pk_fail(err, "fault injected at 'vol.create.before-rename'");
    /* link(2) refuses an existing name: nothing is ever replaced. */
    if (glfs_link(fs, tmp_path, path) < 0) {
        if (errno == EEXIST) pk_fail(err, "volume '%s' already exists", url);
        else pk_fail_errno(err, errno, "cannot link '%s' to '%s'", tmp_path, path);
        goto fail;
    }
    glfs_unlink(fs, tmp_path);
    return observe_after(fs, def, dir, vol->name, out, err);
fail:
    glfs_unlink(fs, tmp_path);
    return -1;
}

/* ---- changing ---- */

/* Stat the volume observed as `cur`, refusing a replacement. */
static int check_observed(glfs_t *fs, const char *path, const pk_obs_vol *cur, struct stat *st, pk_err **err)
{
    if (!cur->identity) return pk_fail(err, "volume '%s' has no observed identity", cur->path);
    if (glfs_lstat(fs, path, st) < 0) return pk_fail_errno(err, errno, "cannot stat volume '%s'", cur->path);
    _cleanup_free_ char *id = identity_of(st);
    if (!pk_streq(id, cur->identity))
        return pk_fail(err, "volume '%s' was replaced since it was observed (identity '%s', now '%s')",
                       cur->path, cur->identity, id);
    return 0;
}

static int gl_resize_vol(pk_bctx *c, const pk_pool *def, const pk_vol *vol, const pk_obs_vol *cur,
                         uint64_t new_capacity, pk_obs_vol *out, pk_err **err)
{
    if (pk_dir_check_vol_name(cur->name, PK_GLUSTER_TMP_PREFIX, err) < 0) return -1;
    bool shrink = new_capacity < cur->capacity;
    if (shrink && !c->allow_shrink)
        return pk_fail(err, "shrinking volume '%s' from %llu to %llu bytes needs policy allow_shrink", cur->path,
                       (unsigned long long)cur->capacity, (unsigned long long)new_capacity);
    int fmt = cur->format;
    if (fmt < 0 || (vol && vol_format(vol) != fmt))
        return pk_fail(err, "cannot resize volume '%s': its observed format differs from the declared one",
                       cur->path);
    if (cur->encrypted)
        return pk_fail(err, "cannot resize volume '%s': encrypted volumes are not supported", cur->path);
    glfs_t *fs;
    _cleanup_free_ char *dir = NULL;
    if (open_dir(def, &fs, &dir, err) < 0) return -1;
    _cleanup_free_ char *path = vol_path(dir, cur->name);
    struct stat st;
    if (check_observed(fs, path, cur, &st, err) < 0) return -1;
    if (!S_ISREG(st.st_mode)) return pk_fail(err, "volume '%s' is not a file", cur->path);
    if (fmt == PK_IMG_RAW) {
        glfs_fd_t *fd = glfs_open(fs, path, O_RDWR | O_CLOEXEC);
        if (!fd) return pk_fail_errno(err, errno, "cannot open volume '%s'", cur->path);
        uint64_t size = (uint64_t)st.st_size;
        /* A fully allocated volume stays fully allocated. */
        bool full = size > 0 && (uint64_t)st.st_blocks * 512 >= size;
        int r = 0;
        if (new_capacity > size && full && glfs_fallocate(fd, 1, (off_t)size, (size_t)(new_capacity - size)) < 0)
            r = pk_fail_errno(err, errno, "cannot allocate %llu bytes for '%s'",
                              (unsigned long long)(new_capacity - size), cur->path);
        if (r == 0 && glfs_ftruncate(fd, (off_t)new_capacity, NULL, NULL) < 0)
            r = pk_fail_errno(err, errno, "cannot resize '%s'", cur->path);
        if (r == 0 && glfs_fsync(fd, NULL, NULL) < 0)
            r = pk_fail_errno(err, errno, "cannot sync '%s'", cur->path);
        glfs_close(fd);
        if (r < 0) return -1;
    } else {
        _cleanup_(pk_cmd_freep) pk_cmd *cmd = pk_qemu_img_resize_cmd(fmt, cur->path, new_capacity, shrink, err);
        if (!cmd) return -1;
        _cleanup_free_ char *what = pk_asprintf("resize volume '%s'", cur->path);
        if (run_qemu_img(cmd, what, err) < 0) return -1;
    }
    return observe_after(fs, def, dir, cur->name, out, err);
}

static int gl_update_vol(pk_bctx *c PK_UNUSED, const pk_pool *def, const pk_vol *vol, const pk_obs_vol *cur,
                         pk_obs_vol *out, pk_err **err)
{
    if (pk_dir_check_vol_name(cur->name, PK_GLUSTER_TMP_PREFIX, err) < 0) return -1;
    glfs_t *fs;
    _cleanup_free_ char *dir = NULL;
    if (open_dir(def, &fs, &dir, err) < 0) return -1;
    _cleanup_free_ char *path = vol_path(dir, cur->name);
    struct stat st;
    if (check_observed(fs, path, cur, &st, err) < 0) return -1;
    const pk_perms *p = &vol->target.perms;
    if ((p->uid >= 0 || p->gid >= 0) &&
        glfs_lchown(fs, path, p->uid >= 0 ? (uid_t)p->uid : (uid_t)-1, p->gid >= 0 ? (gid_t)p->gid : (gid_t)-1) < 0)
        return pk_fail_errno(err, errno, "cannot change the owner of '%s'", cur->path);
    if (p->mode >= 0 && glfs_chmod(fs, path, (mode_t)p->mode) < 0)
        return pk_fail_errno(err, errno, "cannot change the mode of '%s'", cur->path);
    return observe_after(fs, def, dir, cur->name, out, err);
}

static int gl_delete_vol(pk_bctx *c PK_UNUSED, const pk_pool *def, const pk_obs_vol *cur, pk_err **err)
{
    if (pk_dir_check_vol_name(cur->name, PK_GLUSTER_TMP_PREFIX, err) < 0) return -1;
    glfs_t *fs;
    _cleanup_free_ char *dir = NULL;
    if (open_dir(def, &fs, &dir, err) < 0) return -1;
    _cleanup_free_ char *path = vol_path(dir, cur->name);
    struct stat st;
    if (glfs_lstat(fs, path, &st) < 0 && errno == ENOENT) return 0;   /* done already */
    if (check_observed(fs, path, cur, &st, err) < 0) return -1;
    int r = S_ISDIR(st.st_mode) ? glfs_rmdir(fs, path) : glfs_unlink(fs, path);
    if (r < 0 && errno != ENOENT)
        return pk_fail_errno(err, errno, "cannot delete volume '%s'", cur->path);
    return 0;
}

const pk_backend pk_backend_gluster = {
    .type = PK_POOL_GLUSTER,
    .caps = PK_CAP_CREATE_VOL | PK_CAP_RESIZE_VOL | PK_CAP_SHRINK_VOL | PK_CAP_UPDATE_VOL |
            PK_CAP_DELETE_VOL | PK_CAP_IMAGE_FORMATS,
    .observe_pool = gl_observe_pool,
    .observe_vols = gl_observe_vols,
    .create_vol = gl_create_vol,
    .resize_vol = gl_resize_vol,
    .update_vol = gl_update_vol,
    .delete_vol = gl_delete_vol,
};
