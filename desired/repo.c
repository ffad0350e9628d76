/* Loading the desired state (design.md §2): the pool and volume files of one
 * commit of a git repository (libgit2), or of a directory on disk, and every
 * check that spans more than one file.
 *
 * Two phases, so that the checks are written once:
 *  1. collect: walk <subdir>/pools/ of a git tree or of a directory and gather
 *     the pool and volume files with their contents, refusing what may not be
 *     there (symbolic links, submodules, stray .xml files, huge files, paths
 *     that leave the repository);
 *  2. check: parse every file (a volume against its pool) and run the
 *     cross-object checks. This phase does not know where the bytes came from.
 * Every problem of both phases is collected, then sorted by file and line;
 * any problem at all means no desired set. Nothing is ever read as "no pools"
 * because something could not be read. */
#include "repo.h"
#include "xml.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Deeper directories under pools/<pool>/ only ever hold stray files; the
 * limit keeps a hostile tree from recursing without end. */
#define STRAY_MAX_DEPTH 32

typedef struct {
    char *path;               /* repo-relative, as cited: "pools/default/a.xml" */
    char *stem;               /* file name without ".xml" */
    git_blob *blob;           /* the contents, from a commit ... */
    char *buf;                /* ... or from disk */
    const char *data;         /* NULL: could not be read (already reported) */
    size_t len;
} xml_file;

typedef struct {
    char *name;               /* directory name: the pool it belongs to */
    char *path;               /* "pools/default" */
    xml_file *vols;
    size_t n_vols;
} vol_dir;

typedef struct {
    pk_err *errs;             /* everything found, in discovery order */
    char *where;              /* "commit 3f2a9c1" or the directory, for messages */
    xml_file *pool_files;
    size_t n_pool_files;
    vol_dir *dirs;
    size_t n_dirs;
    git_repository *repo;
    git_odb *odb;
    const pk_desired *known;  /* the set loaded last time (pk_repo_reload) */
    bool unchanged;           /* ...and it is still the one: nothing was read */
} loader;

static void add_err(loader *l, const char *file, int line, const char *fmt, ...) PK_PRINTF(4, 5);
static void add_err(loader *l, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pk_err_append(&l->errs, pk_err_newv(file, line, 0, fmt, ap));
    va_end(ap);
}

/* The message of libgit2's last error, for causes. */
static const char *git_msg(void)
{
    const git_error *e = git_error_last();
    return e && e->message ? e->message : "unknown libgit2 error";
}

static char *path_join(const char *dir, const char *name)
{
    return dir && *dir ? pk_asprintf("%s/%s", dir, name) : pk_strdup(name);
}

static bool is_xml_name(const char *name)
{
    size_t n = strlen(name);
    return n >= 4 && strcasecmp(name + n - 4, ".xml") == 0;
}

/* "." and ".." (and '/' inside a name, which only a hand-made git tree can
 * hold) would lead out of the directory being read. */
static bool name_leaves(const char *name)
{
    return !*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strchr(name, '/');
}

static void xml_file_release(xml_file *f)
{
    free(f->path);
    free(f->stem);
    git_blob_free(f->blob);
    free(f->buf);
}

static xml_file *add_pool_file(loader *l, const char *path, const char *name)
{
    xml_file *f = PK_APPEND(l->pool_files, l->n_pool_files);
    f->path = pk_strdup(path);
    f->stem = pk_strndup(name, strlen(name) - 4);
    return f;
}

static xml_file *add_vol_file(vol_dir *d, const char *path, const char *name)
{
    xml_file *f = PK_APPEND(d->vols, d->n_vols);
    f->path = pk_strdup(path);
    f->stem = pk_strndup(name, strlen(name) - 4);
    return f;
}

static vol_dir *add_vol_dir(loader *l, const char *path, const char *name)
{
    vol_dir *d = PK_APPEND(l->dirs, l->n_dirs);
    d->path = pk_strdup(path);
    d->name = pk_strdup(name);
    return d;
}

static void loader_release(loader *l)
{
    for (size_t i = 0; i < l->n_pool_files; i++)
        xml_file_release(&l->pool_files[i]);
    free(l->pool_files);
    for (size_t i = 0; i < l->n_dirs; i++) {
        for (size_t j = 0; j < l->dirs[i].n_vols; j++)
            xml_file_release(&l->dirs[i].vols[j]);
        free(l->dirs[i].vols);
        free(l->dirs[i].name);
        free(l->dirs[i].path);
    }
    free(l->dirs);
    free(l->where);
    git_odb_free(l->odb);
    git_repository_free(l->repo);
    pk_err_free(l->errs);
}

static void report_too_large(loader *l, const char *path, uint64_t size)
{
    add_err(l, path, 0, "file is too large (%" PRIu64 " bytes; the limit is %d)",
            size, PK_XML_MAX_BYTES);
}

static void report_stray(loader *l, const char *path)
{
    add_err(l, path, 0, "unexpected file: pools are 'pools/<pool>.xml' and volumes 'pools/<pool>/<volume>.xml'");
}

static void report_symlink(loader *l, const char *path)
{
    add_err(l, path, 0, "symbolic links are not allowed in the desired state");
}

/* ---------- subdir ---------- */

/* desired.subdir with %H (this host's name up to the first '.') and %%
 * expanded, reduced to "a/b" form. NULL with *err set on error; "" means
 * the repository root. */
static char *subdir_expand(const char *tmpl, pk_err **err)
{
    pk_buf b = PK_BUF_INIT;
    pk_buf_add(&b, "");
    for (const char *s = tmpl; *s; s++) {
        if (*s != '%') {
            pk_buf_addc(&b, *s);
            continue;
        }
        if (s[1] == '%') {
            pk_buf_addc(&b, '%');
            s++;
        } else if (s[1] == 'H') {
            char host[256] = "";
            if (gethostname(host, sizeof(host) - 1) < 0) {
                pk_buf_free(&b);
                pk_fail_errno(err, errno, "cannot expand %%H in desired.subdir '%s': cannot get the host name", tmpl);
                return NULL;
            }
            host[strcspn(host, ".")] = '\0';
            if (!*host || strchr(host, '/')) {
                pk_buf_free(&b);
                pk_fail(err, "cannot expand %%H in desired.subdir '%s': unusable host name '%s'", tmpl, host);
                return NULL;
            }
            pk_buf_add(&b, host);
            s++;
        } else {
            pk_buf_free(&b);
            pk_fail(err, "desired.subdir '%s' has an unknown placeholder '%%%c' (only %%H and %%%% are known)",
                    tmpl, s[1] ? s[1] : ' ');
            return NULL;
        }
    }
    /* Normalise: no empty or "." components; ".." is refused, so the
     * subdir can only name something inside the repository. */
    _cleanup_free_ char *raw = pk_buf_steal(&b);
    pk_buf out = PK_BUF_INIT;
    pk_buf_add(&out, "");
    char *save = NULL;
    for (char *c = strtok_r(raw, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (strcmp(c, ".") == 0) continue;
        if (strcmp(c, "..") == 0) {
            pk_buf_free(&out);
            pk_fail(err, "desired.subdir '%s' leaves the repository", tmpl);
            return NULL;
        }
        if (out.len) pk_buf_addc(&out, '/');
        pk_buf_add(&out, c);
    }
    return pk_buf_steal(&out);
}

/* ---------- phase 1 from a git tree ---------- */

/* Read a blob, refusing a huge one from its header before reading it. */
static void git_read_file(loader *l, const git_tree_entry *e, xml_file *f)
{
    size_t size;
    git_object_t type;
    if (git_odb_read_header(&size, &type, l->odb, git_tree_entry_id(e)) < 0) {
        add_err(l, f->path, 0, "cannot read file: %s", git_msg());
        return;
    }
    if (size > PK_XML_MAX_BYTES) {
        report_too_large(l, f->path, size);
        return;
    }
    if (git_blob_lookup(&f->blob, l->repo, git_tree_entry_id(e)) < 0) {
        add_err(l, f->path, 0, "cannot read file: %s", git_msg());
        return;
    }
    f->data = git_blob_rawcontent(f->blob);
    f->len = (size_t)git_blob_rawsize(f->blob);
}

/* Sorts out the entry kinds every level refuses. Returns true when the
 * entry is a file or directory the caller should look at. */
static bool git_entry_ok(loader *l, const git_tree_entry *e, const char *path)
{
    const char *name = git_tree_entry_name(e);
    if (name_leaves(name)) {
        add_err(l, path, 0, "path leaves the repository");
        return false;
    }
    switch (git_tree_entry_filemode(e)) {
    case GIT_FILEMODE_LINK:
        report_symlink(l, path);
        return false;
    case GIT_FILEMODE_COMMIT:
        add_err(l, path, 0, "submodules are not allowed in the desired state");
        return false;
    default:
        return true;
    }
}

static void git_collect_stray(loader *l, const git_tree *t, const char *dir, int depth)
{
    for (size_t i = 0, n = git_tree_entrycount(t); i < n; i++) {
        const git_tree_entry *e = git_tree_entry_byindex(t, i);
        _cleanup_free_ char *path = path_join(dir, git_tree_entry_name(e));
        if (!git_entry_ok(l, e, path)) continue;
        if (git_tree_entry_type(e) == GIT_OBJECT_TREE) {
            if (depth >= STRAY_MAX_DEPTH) {
                add_err(l, path, 0, "directories are nested too deeply");
                continue;
            }
            git_tree *sub = NULL;
            if (git_tree_lookup(&sub, l->repo, git_tree_entry_id(e)) < 0) {
                add_err(l, path, 0, "cannot read directory: %s", git_msg());
                continue;
            }
            git_collect_stray(l, sub, path, depth + 1);
            git_tree_free(sub);
        } else if (is_xml_name(git_tree_entry_name(e))) {
            report_stray(l, path);
        }
    }
}

static void git_collect_vol_dir(loader *l, const git_tree *t, vol_dir *d)
{
    for (size_t i = 0, n = git_tree_entrycount(t); i < n; i++) {
        const git_tree_entry *e = git_tree_entry_byindex(t, i);
        const char *name = git_tree_entry_name(e);
        _cleanup_free_ char *path = path_join(d->path, name);
        if (!git_entry_ok(l, e, path)) continue;
        if (git_tree_entry_type(e) == GIT_OBJECT_TREE) {
            git_tree *sub = NULL;
            if (git_tree_lookup(&sub, l->repo, git_tree_entry_id(e)) < 0) {
                add_err(l, path, 0, "cannot read directory: %s", git_msg());
                continue;
            }
            git_collect_stray(l, sub, path, 1);
            git_tree_free(sub);
        } else if (is_xml_name(name)) {
            git_read_file(l, e, add_vol_file(d, path, name));
        }
    }
}

static void git_collect_pools(loader *l, const git_tree *t, const char *dir)
{
    for (size_t i = 0, n = git_tree_entrycount(t); i < n; i++) {
        const git_tree_entry *e = git_tree_entry_byindex(t, i);
        const char *name = git_tree_entry_name(e);
        _cleanup_free_ char *path = path_join(dir, name);
        if (!git_entry_ok(l, e, path)) continue;
        if (git_tree_entry_type(e) == GIT_OBJECT_TREE) {
            git_tree *sub = NULL;
            if (git_tree_lookup(&sub, l->repo, git_tree_entry_id(e)) < 0) {
                add_err(l, path, 0, "cannot read directory: %s", git_msg());
                continue;
            }
            git_collect_vol_dir(l, sub, add_vol_dir(l, path, name));
            git_tree_free(sub);
        } else if (is_xml_name(name)) {
            git_read_file(l, e, add_pool_file(l, path, name));
        }
    }
}

/* Descend from the commit's root tree to <subdir>/pools; -1 when it is not
 * there or not a plain directory. */
static int git_find_pools(loader *l, git_tree *root, const char *subdir, git_tree **ret)
{
    _cleanup_free_ char *want = path_join(subdir, "pools");
    _cleanup_free_ char *copy = pk_strdup(want);
    pk_buf sofar = PK_BUF_INIT;
    git_tree *cur = root;
    int r = 0;
    char *save = NULL;
    for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (sofar.len) pk_buf_addc(&sofar, '/');
        pk_buf_add(&sofar, c);
        const git_tree_entry *e = git_tree_entry_byname(cur, c);
        git_tree *next = NULL;
        if (!e) {
            if (*subdir)
                add_err(l, NULL, 0, "no '%s' directory at %s (desired.subdir is '%s')", want, l->where, subdir);
            else
                add_err(l, NULL, 0, "no 'pools' directory at %s", l->where);
            r = -1;
        } else if (git_tree_entry_filemode(e) == GIT_FILEMODE_LINK) {
            report_symlink(l, pk_buf_str(&sofar));
            r = -1;
        } else if (git_tree_entry_type(e) != GIT_OBJECT_TREE) {
            add_err(l, pk_buf_str(&sofar), 0, "not a directory at %s", l->where);
            r = -1;
        } else if (git_tree_lookup(&next, l->repo, git_tree_entry_id(e)) < 0) {
            add_err(l, pk_buf_str(&sofar), 0, "cannot read directory: %s", git_msg());
            r = -1;
        }
        if (cur != root) git_tree_free(cur);
        cur = next;
        if (r < 0) break;
    }
    pk_buf_free(&sofar);
    *ret = cur;
    return r;
}

/* ---------- phase 1 from disk ---------- */

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names in a directory (without "." and ".."), sorted so that what is
 * reported does not depend on readdir's order. -1 if it cannot be read. */
static ssize_t disk_list(loader *l, int dirfd, const char *path, char ***ret)
{
    /* A new open file description: readdir on a dup() would move dirfd's offset. */
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
    if (!dir) {
        add_err(l, path, 0, "cannot read directory: %s", strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    for (errno = 0; (de = readdir(dir)); errno = 0) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        *PK_APPEND(names, n) = pk_strdup(de->d_name);
    }
    if (errno) add_err(l, path, 0, "cannot read directory: %s", strerror(errno));
    closedir(dir);
    if (n) qsort(names, n, sizeof(*names), cmp_strp);
    *ret = names;
    return (ssize_t)n;
}

static void free_names(char **names, ssize_t n)
{
    for (ssize_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* With O_DIRECTORY | O_NOFOLLOW, Linux says ENOTDIR for a symbolic link
 * (ELOOP without O_DIRECTORY): look again to say which it is. */
static void report_open_dir_error(loader *l, int dirfd, const char *name, const char *path, int err)
{
    struct stat st;
    if (err == ELOOP || (err == ENOTDIR && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                         S_ISLNK(st.st_mode)))
        report_symlink(l, path);
    else if (err == ENOTDIR)
        add_err(l, path, 0, "not a directory");
    else
        add_err(l, path, 0, "cannot open directory: %s", strerror(err));
}

/* A directory below dirfd, never through a symbolic link. */
static int disk_open_dir(loader *l, int dirfd, const char *name, const char *path)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) return fd;
    report_open_dir_error(l, dirfd, name, path, errno);
    return -1;
}

/* Read a regular file, refusing a huge one from its size before reading,
 * and again while reading in case it grew. */
static void disk_read_file(loader *l, int dirfd, const char *name, xml_file *f)
{
    /* O_NONBLOCK: a FIFO swapped in after the lstat must not hang the load. */
    _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ELOOP) report_symlink(l, f->path);
        else add_err(l, f->path, 0, "cannot open file: %s", strerror(errno));
        return;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        add_err(l, f->path, 0, "cannot stat file: %s", strerror(errno));
        return;
    }
    if (!S_ISREG(st.st_mode)) {
        add_err(l, f->path, 0, "not a regular file");
        return;
    }
    if (st.st_size > PK_XML_MAX_BYTES) {
        report_too_large(l, f->path, (uint64_t)st.st_size);
        return;
    }
    size_t cap = (size_t)st.st_size + 1, len = 0;
    char *buf = pk_malloc(cap + 1);
    for (;;) {
        if (len == cap) {
            if (cap > PK_XML_MAX_BYTES) break;
            cap = cap * 2 > PK_XML_MAX_BYTES + 1 ? PK_XML_MAX_BYTES + 1 : cap * 2;
            buf = pk_realloc(buf, cap + 1);
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            add_err(l, f->path, 0, "cannot read file: %s", strerror(errno));
            free(buf);
            return;
        }
        if (r == 0) break;
        len += (size_t)r;
    }
    if (len > PK_XML_MAX_BYTES) {
        report_too_large(l, f->path, (uint64_t)len);
        free(buf);
        return;
    }
    buf[len] = '\0';
    f->buf = buf;
    f->data = buf;
    f->len = len;
}

/* lstat of one entry; false (reported) for what no level may hold. */
static bool disk_entry_ok(loader *l, int dirfd, const char *name, const char *path, struct stat *st)
{
    if (fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) < 0) {
        add_err(l, path, 0, "cannot stat: %s", strerror(errno));
        return false;
    }
    if (S_ISLNK(st->st_mode)) {
        report_symlink(l, path);
        return false;
    }
    return true;
}

static void disk_collect_stray(loader *l, int dirfd, const char *dir, int depth)
{
    char **names = NULL;
    ssize_t n = disk_list(l, dirfd, dir, &names);
    for (ssize_t i = 0; i < n; i++) {
        _cleanup_free_ char *path = path_join(dir, names[i]);
        struct stat st;
        if (!disk_entry_ok(l, dirfd, names[i], path, &st)) continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth >= STRAY_MAX_DEPTH) {
                add_err(l, path, 0, "directories are nested too deeply");
                continue;
            }
            _cleanup_close_ int fd = disk_open_dir(l, dirfd, names[i], path);
            if (fd >= 0) disk_collect_stray(l, fd, path, depth + 1);
        } else if (is_xml_name(names[i])) {
            report_stray(l, path);
        }
    }
    free_names(names, n);
}

static void disk_collect_vol_dir(loader *l, int dirfd, vol_dir *d)
{
    char **names = NULL;
    ssize_t n = disk_list(l, dirfd, d->path, &names);
    for (ssize_t i = 0; i < n; i++) {
        _cleanup_free_ char *path = path_join(d->path, names[i]);
        struct stat st;
        if (!disk_entry_ok(l, dirfd, names[i], path, &st)) continue;
        if (S_ISDIR(st.st_mode)) {
            _cleanup_close_ int fd = disk_open_dir(l, dirfd, names[i], path);
            if (fd >= 0) disk_collect_stray(l, fd, path, 1);
        } else if (is_xml_name(names[i])) {
            disk_read_file(l, dirfd, names[i], add_vol_file(d, path, names[i]));
        }
    }
    free_names(names, n);
}

static void disk_collect_pools(loader *l, int dirfd, const char *dir)
{
    char **names = NULL;
    ssize_t n = disk_list(l, dirfd, dir, &names);
    for (ssize_t i = 0; i < n; i++) {
        _cleanup_free_ char *path = path_join(dir, names[i]);
        struct stat st;
        if (!disk_entry_ok(l, dirfd, names[i], path, &st)) continue;
        if (S_ISDIR(st.st_mode)) {
            _cleanup_close_ int fd = disk_open_dir(l, dirfd, names[i], path);
            if (fd >= 0) disk_collect_vol_dir(l, fd, add_vol_dir(l, path, names[i]));
        } else if (is_xml_name(names[i])) {
            disk_read_file(l, dirfd, names[i], add_pool_file(l, path, names[i]));
        }
    }
    free_names(names, n);
}

/* Open <root>/<subdir>/pools without following symbolic links below root
 * (root itself may be one: that is the operator's choice, not the repo's). */
static int disk_find_pools(loader *l, const char *root, const char *subdir)
{
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        add_err(l, NULL, 0, "cannot open desired directory '%s': %s", root, strerror(errno));
        return -1;
    }
    _cleanup_free_ char *want = path_join(subdir, "pools");
    _cleanup_free_ char *copy = pk_strdup(want);
    pk_buf sofar = PK_BUF_INIT;
    char *save = NULL;
    for (char *c = strtok_r(copy, "/", &save); c && fd >= 0; c = strtok_r(NULL, "/", &save)) {
        if (sofar.len) pk_buf_addc(&sofar, '/');
        pk_buf_add(&sofar, c);
        int next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0) {
            if (errno == ENOENT && *subdir)
                add_err(l, NULL, 0, "no '%s' directory in '%s' (desired.subdir is '%s')", want, root, subdir);
            else if (errno == ENOENT)
                add_err(l, NULL, 0, "no 'pools' directory in '%s'", root);
            else
                report_open_dir_error(l, fd, c, pk_buf_str(&sofar), errno);
        }
        close(fd);
        fd = next;
    }
    pk_buf_free(&sofar);
    return fd;
}

/* ---------- phase 2: parse and check ---------- */

/* The pool type a pool file asks for even when the file does not validate,
 * so that its volumes can still be checked. -1 if it cannot be told. */
static int sniff_pool_type(const xml_file *f)
{
    pk_err *e = NULL;
    xmlDoc *doc = pk_xml_read(f->data, f->len, f->path, &e);
    pk_err_free(e);    /* the pool parser reported it already */
    if (!doc) return -1;
    int t = -1;
    xmlNode *root = xmlDocGetRootElement(doc);
    if (pk_xml_is(root, "pool")) {
        _cleanup_free_ char *type = pk_xml_prop(root, "type");
        t = pk_pool_type_from_string(type);
    }
    xmlFreeDoc(doc);
    return t;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int pool_name_line(const pk_pool *p)
{
    return p->pos_name.line > 0 ? p->pos_name.line : p->line;
}

static int vol_name_line(const pk_vol *v)
{
    return v->pos_name.line > 0 ? v->pos_name.line : v->line;
}

typedef struct {
    xml_file *pool_file;      /* NULL: a volume directory without a pool file */
    vol_dir *dir;             /* NULL: a pool without a volume directory */
} group;

static void check_group(loader *l, const group *g, pk_desired *d)
{
    xml_file *pf = g->pool_file;
    pk_pool *pool = NULL;
    pk_pool stub = { 0 };
    const pk_pool *parent = NULL;

    if (pf && pf->data) {
        pk_err *pe = NULL;
        pool = pk_pool_parse(pf->data, pf->len, pf->path, &pe);
        pk_err_append(&l->errs, pe);
        if (pool) {
            _cleanup_free_ char *want = pk_asprintf("%s.xml", pool->name);
            if (!pk_streq(want, base_name(pf->path)))
                add_err(l, pf->path, pool_name_line(pool),
                        "pool name '%s' does not match the file name '%s'", pool->name, base_name(pf->path));
            parent = pool;
        } else {
            /* Check its volumes against the pool type the file asks for,
             * so one pass shows every error. */
            int type = sniff_pool_type(pf);
            if (type >= 0) {
                stub.type = (pk_pool_type)type;
                stub.name = pf->stem;
                stub.file = pf->path;
                stub.line = 1;
                parent = &stub;
            }
        }
    }
    if (g->dir && !pf)
        add_err(l, g->dir->path, 0, "volume directory without a pool file '%s.xml'", g->dir->path);
    else if (g->dir && !parent && g->dir->n_vols)
        add_err(l, g->dir->path, 0, "volumes not checked: the pool file '%s' is invalid", pf->path);

    size_t slot = d->n_pools;
    if (pool) PK_APPEND(d->pools, d->n_pools)->pool = pool;
    if (!g->dir || !parent) return;

    for (size_t i = 0; i < g->dir->n_vols; i++) {
        xml_file *vf = &g->dir->vols[i];
        if (!vf->data) continue;
        pk_err *ve = NULL;
        /* As libvirt's vol-create: capacity may come from a backing store. */
        pk_vol *v = pk_vol_parse(parent, vf->data, vf->len, vf->path, PK_VOL_PARSE_OPT_CAPACITY, &ve);
        pk_err_append(&l->errs, ve);
        if (!v) continue;
        _cleanup_free_ char *want = pk_asprintf("%s.xml", v->name);
        if (!pk_streq(want, base_name(vf->path)))
            add_err(l, vf->path, vol_name_line(v),
                    "volume name '%s' does not match the file name '%s'", v->name, base_name(vf->path));
        if (pool) {
            pk_desired_pool *dp = &d->pools[slot];
            *PK_APPEND(dp->vols, dp->n_vols) = v;
        } else {
            pk_vol_free(v);
        }
    }
}

static int cmp_file_stem(const void *a, const void *b)
{
    const xml_file *x = a, *y = b;
    int c = strcmp(x->stem, y->stem);
    return c ? c : strcmp(x->path, y->path);
}

static int cmp_dir_name(const void *a, const void *b)
{
    return strcmp(((const vol_dir *)a)->name, ((const vol_dir *)b)->name);
}

/* Pair pools/<x>.xml with pools/<x>/ and check each pair. */
static void check_files(loader *l, pk_desired *d)
{
    if (l->n_pool_files) qsort(l->pool_files, l->n_pool_files, sizeof(xml_file), cmp_file_stem);
    if (l->n_dirs) qsort(l->dirs, l->n_dirs, sizeof(vol_dir), cmp_dir_name);
    size_t i = 0, j = 0;
    while (i < l->n_pool_files || j < l->n_dirs) {
        group g = { 0 };
        int c = i == l->n_pool_files ? 1 : j == l->n_dirs ? -1
              : strcmp(l->pool_files[i].stem, l->dirs[j].name);
        if (c <= 0) g.pool_file = &l->pool_files[i++];
        if (c >= 0) g.dir = &l->dirs[j++];
        check_group(l, &g, d);
    }
}

/* Pool types whose target directory is theirs alone (two pools there would
 * manage the same storage) ... */
static bool target_exclusive(pk_pool_type t)
{
    return t == PK_POOL_DIR || t == PK_POOL_FS || t == PK_POOL_NETFS || t == PK_POOL_LOGICAL ||
           t == PK_POOL_ZFS || t == PK_POOL_VSTORAGE;
}

/* ... and those whose volumes live at <target>/<name>, as libvirt's
 * backends name them (a disk pool's target is shared, e.g. /dev, but its
 * partitions are not). */
static bool vols_under_target(pk_pool_type t)
{
    return target_exclusive(t) || t == PK_POOL_DISK;
}

/* As libvirt's virFileSanitizePath: no repeated or trailing '/'. */
static char *path_clean(const char *p)
{
    char *out = pk_malloc(strlen(p) + 1), *o = out;
    for (const char *s = p; *s; s++)
        if (!(*s == '/' && o > out && o[-1] == '/')) *o++ = *s;
    while (o > out + 1 && o[-1] == '/') o--;
    *o = '\0';
    return out;
}

static bool has_dotdot(const char *p)
{
    for (const char *s = p; (s = strstr(s, "..")); s += 2)
        if ((s == p || s[-1] == '/') && (s[2] == '\0' || s[2] == '/')) return true;
    return false;
}

/* `path` strictly below directory `dir` (both clean). */
static bool path_inside(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    if (n == 1 && dir[0] == '/') return path[0] == '/' && path[1];
    return strncmp(path, dir, n) == 0 && path[n] == '/' && path[n + 1];
}

typedef struct {
    char *path;
    const pk_pool *pool;
    const pk_vol *vol;        /* NULL: the pool's own target */
} path_use;

static int cmp_path_use(const void *a, const void *b)
{
    const path_use *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    if (c) return c;
    if (!x->vol != !y->vol) return x->vol ? 1 : -1;   /* the pool first */
    return strcmp(x->vol ? x->vol->file : x->pool->file, y->vol ? y->vol->file : y->pool->file);
}

static int cmp_pool_name(const void *a, const void *b)
{
    const pk_pool *x = *(pk_pool *const *)a, *y = *(pk_pool *const *)b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->file, y->file);
}

static int cmp_pool_uuid(const void *a, const void *b)
{
    const pk_pool *x = *(pk_pool *const *)a, *y = *(pk_pool *const *)b;
    int c = memcmp(x->uuid, y->uuid, sizeof(x->uuid));
    return c ? c : strcmp(x->file, y->file);
}

static int cmp_vol_name(const void *a, const void *b)
{
    const pk_vol *x = *(pk_vol *const *)a, *y = *(pk_vol *const *)b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->file, y->file);
}

static int cmp_desired_pool(const void *a, const void *b)
{
    return cmp_pool_name(&((const pk_desired_pool *)a)->pool, &((const pk_desired_pool *)b)->pool);
}

static void check_pool_dups(loader *l, const pk_desired *d)
{
    size_t n = d->n_pools;
    if (!n) return;
    _cleanup_free_ pk_pool **v = pk_calloc(n, sizeof(*v));
    for (size_t i = 0; i < n; i++) v[i] = d->pools[i].pool;

    qsort(v, n, sizeof(*v), cmp_pool_name);
    for (size_t i = 1; i < n; i++)
        if (strcmp(v[i]->name, v[i - 1]->name) == 0)
            add_err(l, v[i]->file, pool_name_line(v[i]), "pool name '%s' is also used by %s:%d",
                    v[i]->name, v[i - 1]->file, pool_name_line(v[i - 1]));

    /* A UUID left out is generated at parse, so only given ones can clash. */
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (d->pools[i].pool->uuid_given) v[m++] = d->pools[i].pool;
    if (m) qsort(v, m, sizeof(*v), cmp_pool_uuid);
    for (size_t i = 1; i < m; i++) {
        if (memcmp(v[i]->uuid, v[i - 1]->uuid, sizeof(v[i]->uuid)) != 0) continue;
        char uuid[37];
        pk_uuid_format(v[i]->uuid, uuid);
        add_err(l, v[i]->file, v[i]->line, "pool UUID '%s' is also used by pool '%s' (%s:%d)",
                uuid, v[i - 1]->name, v[i - 1]->file, v[i - 1]->line);
    }
}

static void check_vol_names(loader *l, pk_desired *d)
{
    for (size_t i = 0; i < d->n_pools; i++) {
        pk_desired_pool *dp = &d->pools[i];
        if (dp->n_vols) qsort(dp->vols, dp->n_vols, sizeof(*dp->vols), cmp_vol_name);
        for (size_t j = 1; j < dp->n_vols; j++)
            if (strcmp(dp->vols[j]->name, dp->vols[j - 1]->name) == 0)
                add_err(l, dp->vols[j]->file, vol_name_line(dp->vols[j]),
                        "volume name '%s' is also used by %s:%d", dp->vols[j]->name,
                        dp->vols[j - 1]->file, vol_name_line(dp->vols[j - 1]));
    }
}

/* Pool targets and volume paths: one path, one owner. */
static void check_paths(loader *l, const pk_desired *d)
{
    path_use *u = NULL;
    size_t n = 0;
    for (size_t i = 0; i < d->n_pools; i++) {
        const pk_pool *p = d->pools[i].pool;
        if (!p->target_path || !vols_under_target(p->type)) continue;
        if (target_exclusive(p->type)) {
            path_use *e = PK_APPEND(u, n);
            e->path = path_clean(p->target_path);
            e->pool = p;
        }
        _cleanup_free_ char *dir = path_clean(p->target_path);
        for (size_t j = 0; j < d->pools[i].n_vols; j++) {
            path_use *e = PK_APPEND(u, n);
            e->path = strcmp(dir, "/") == 0 ? pk_asprintf("/%s", d->pools[i].vols[j]->name)
                                            : pk_asprintf("%s/%s", dir, d->pools[i].vols[j]->name);
            e->pool = p;
            e->vol = d->pools[i].vols[j];
        }
    }
    if (n) qsort(u, n, sizeof(*u), cmp_path_use);
    size_t head = 0;
    for (size_t i = 1; i < n; i++) {
        if (strcmp(u[i].path, u[head].path) != 0) {
            head = i;
            continue;
        }
        const path_use *h = &u[head], *e = &u[i];
        if (!e->vol)
            add_err(l, e->pool->file, e->pool->pos_target.line > 0 ? e->pool->pos_target.line : e->pool->line,
                    "pool target path '%s' is also used by pool '%s' (%s:%d)", e->path, h->pool->name,
                    h->pool->file, h->pool->pos_target.line > 0 ? h->pool->pos_target.line : h->pool->line);
        else if (!h->vol)
            add_err(l, e->vol->file, vol_name_line(e->vol),
                    "volume path '%s' is the target path of pool '%s' (%s:%d)", e->path, h->pool->name,
                    h->pool->file, h->pool->pos_target.line > 0 ? h->pool->pos_target.line : h->pool->line);
        else if (h->pool != e->pool || strcmp(h->vol->name, e->vol->name) != 0)
            add_err(l, e->vol->file, vol_name_line(e->vol),
                    "volume path '%s' is also used by volume '%s' of pool '%s' (%s:%d)", e->path,
                    h->vol->name, h->pool->name, h->vol->file, vol_name_line(h->vol));
        /* the same name twice in one pool was reported by check_vol_names */
    }
    for (size_t i = 0; i < n; i++) free(u[i].path);
    free(u);
}

/* A backing store must be storage some pool of this desired set holds:
 * below a pool's target directory, or "<source name>/..." of a network
 * pool (rbd, sheepdog and gluster volumes are named that way). */
static bool backing_inside(const pk_desired *d, const char *path)
{
    if (has_dotdot(path)) return false;
    _cleanup_free_ char *clean = path_clean(path);
    for (size_t i = 0; i < d->n_pools; i++) {
        const pk_pool *p = d->pools[i].pool;
        if (clean[0] == '/' && p->target_path) {
            _cleanup_free_ char *dir = path_clean(p->target_path);
            if (path_inside(clean, dir)) return true;
        } else if (clean[0] != '/' && p->source.name &&
                   (p->type == PK_POOL_RBD || p->type == PK_POOL_SHEEPDOG || p->type == PK_POOL_GLUSTER)) {
            size_t k = strlen(p->source.name);
            if (strncmp(clean, p->source.name, k) == 0 && clean[k] == '/' && clean[k + 1]) return true;
        }
    }
    return false;
}

static void check_backing(loader *l, const pk_desired *d)
{
    for (size_t i = 0; i < d->n_pools; i++)
        for (size_t j = 0; j < d->pools[i].n_vols; j++) {
            const pk_vol *v = d->pools[i].vols[j];
            if (v->backing && v->backing->path && !backing_inside(d, v->backing->path))
                add_err(l, v->file, v->line, "backing store '%s' of volume '%s' is outside every pool",
                        v->backing->path, v->name);
        }
}

/* ---------- sources ---------- */

/* The owner of the git directory at `path` (a work tree's .git, or a bare
 * repository) when it is not us; -1 otherwise. */
static long foreign_git_owner(const char *path)
{
    _cleanup_free_ char *dotgit = pk_asprintf("%s/.git", path);
    _cleanup_free_ char *head = pk_asprintf("%s/HEAD", path);
    _cleanup_free_ char *objects = pk_asprintf("%s/objects", path);
    struct stat st, dir;
    if (stat(path, &dir) < 0) return -1;
    bool is_git = stat(dotgit, &st) == 0 || (stat(head, &st) == 0 && stat(objects, &st) == 0);
    return is_git && dir.st_uid != geteuid() ? (long)dir.st_uid : -1;
}

static int open_local(loader *l, const char *path)
{
    int r = git_repository_open_ext(&l->repo, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
    if (r == 0) return 0;
    struct stat st;
    long owner;
    if (r == GIT_ENOTFOUND && stat(path, &st) < 0)
        add_err(l, NULL, 0, "cannot open desired repository '%s': %s", path, strerror(errno));
    else if ((r == GIT_ENOTFOUND || r == GIT_EOWNER) && (owner = foreign_git_owner(path)) >= 0)
        /* libgit2 1.5 says "config value 'safe.directory' was not found". */
        add_err(l, NULL, 0, "desired repository '%s' belongs to another user (uid %ld): like git, poolkeeper reads it only if it is listed in safe.directory ('git config --global --add safe.directory %s' as the user poolkeeper runs as)",
                path, owner, path);
    else if (r == GIT_ENOTFOUND)
        add_err(l, NULL, 0, "'%s' is not a git repository (--worktree reads plain files)", path);
    else
        add_err(l, NULL, 0, "cannot open desired repository '%s': %s", path, git_msg());
    return -1;
}

/* ssh: the agent's keys, once; a second call means they were refused. */
static int credentials_cb(git_credential **out, const char *url PK_UNUSED, const char *user,
                          unsigned int allowed, void *payload)
{
    int *tries = payload;
    if ((*tries)++ > 2) return GIT_EUSER;
    if (allowed & GIT_CREDENTIAL_USERNAME)
        return git_credential_username_new(out, user ? user : "git");
    if (allowed & GIT_CREDENTIAL_SSH_KEY)
        return git_credential_ssh_key_from_agent(out, user ? user : "git");
    return GIT_PASSTHROUGH;
}

/* Fetch every branch and tag of the remote into the cache (a bare mirror:
 * refs/heads/X of the remote is refs/heads/X here, so any revision names
 * what it names there), and point HEAD at the remote's default branch.
 *
 * The remote is an in-memory one that skips url.*.insteadOf: the cache
 * directory belongs to one URL, and libgit2 1.5 leaks memory on every
 * config entry its insteadOf scan does not match (a service fetching
 * every few minutes would grow without end). */
static int remote_fetch(git_repository *repo, const char *url, char **ret_msg)
{
    git_remote_create_options co = GIT_REMOTE_CREATE_OPTIONS_INIT;
    co.repository = repo;
    co.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
    git_remote *remote = NULL;
    int r = git_remote_create_with_opts(&remote, url, &co);
    char *specs[] = { "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*" };
    git_strarray refspecs = { specs, PK_NELEM(specs) };
    int tries = 0;
    git_remote_callbacks cb = GIT_REMOTE_CALLBACKS_INIT;
    cb.credentials = credentials_cb;
    cb.payload = &tries;
    git_buf head = { 0 };
    if (r == 0) r = git_remote_connect(remote, GIT_DIRECTION_FETCH, &cb, NULL, NULL);
    if (r == 0 && git_remote_default_branch(&head, remote) < 0)
        git_error_clear();   /* an empty remote has none: HEAD stays unborn */
    if (r == 0) {
        git_fetch_options fo = GIT_FETCH_OPTIONS_INIT;
        fo.callbacks = cb;
        fo.prune = GIT_FETCH_PRUNE;
        fo.update_fetchhead = 0;
        fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;   /* the refspec has them all */
        r = git_remote_download(remote, &refspecs, &fo);
        if (r == 0) r = git_remote_update_tips(remote, &cb, 0, GIT_REMOTE_DOWNLOAD_TAGS_NONE, "poolkeeper: fetch");
        if (r == 0) r = git_remote_prune(remote, &cb);
    }
    if (r == 0 && head.ptr && pk_str_has_prefix(head.ptr, "refs/heads/"))
        r = git_repository_set_head(repo, head.ptr);
    if (r < 0) *ret_msg = pk_strdup(git_msg());
    git_buf_dispose(&head);
    if (remote) {
        git_remote_disconnect(remote);
        git_remote_free(remote);
    }
    return r < 0 ? -1 : 0;
}

/* remote_fetch into the repository at `dir`, in a child process killed
 * when it has not finished within timeout_ms: a remote that accepts the
 * connection and then says nothing would otherwise hold the service for
 * ever. What a killed fetch leaves is consistent: refs are updated last,
 * packs are renamed into place when complete. */
static int fetch_bounded(const char *dir, const char *url, int64_t timeout_ms, char **ret_msg)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        *ret_msg = pk_asprintf("cannot make a pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        *ret_msg = pk_asprintf("cannot fork: %s", strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (pid == 0) {
        close(pfd[0]);
        git_repository *repo = NULL;
        char *msg = NULL;
        int r = git_repository_open_bare(&repo, dir);
        if (r < 0) msg = pk_strdup(git_msg());
        else r = remote_fetch(repo, url, &msg);
        if (r < 0 && msg && write(pfd[1], msg, strlen(msg)) < 0) {
            /* the parent says the fetch failed, without the reason */
        }
        _exit(r < 0 ? 1 : 0);   /* no atexit handlers: they belong to the parent */
    }
    close(pfd[1]);
    pk_buf why = PK_BUF_INIT;
    int64_t deadline = pk_monotonic_ms() + timeout_ms;
    bool timed_out = false;
    for (;;) {
        int64_t left = deadline - pk_monotonic_ms();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        struct pollfd p = { .fd = pfd[0], .events = POLLIN };
        int n = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
        if (n < 0 && errno == EINTR) continue;
        if (n == 0) {
            timed_out = true;
            break;
        }
        char buf[512];
        ssize_t got = n > 0 ? read(pfd[0], buf, sizeof(buf)) : -1;
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;   /* EOF: the child is done */
        pk_buf_addn(&why, buf, (size_t)got);
    }
    close(pfd[0]);
    if (timed_out) kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    int r = 0;
    if (timed_out) {
        *ret_msg = pk_asprintf("no answer within %lld ms (desired.fetch_timeout)", (long long)timeout_ms);
        r = -1;
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        *ret_msg = why.len ? pk_buf_steal(&why) : pk_strdup("the fetch failed");
        r = -1;
    }
    pk_buf_free(&why);
    return r;
}

static uint64_t fnv1a64(const char *s)
{
    uint64_t h = PK_FNV_INIT;
    pk_fnv(&h, s, strlen(s));   /* without the NUL: cache names made before stay */
    return h;
}

static bool has_refs(git_repository *repo)
{
    git_reference_iterator *it = NULL;
    git_reference *ref = NULL;
    bool any = git_reference_iterator_new(&it, repo) == 0 && git_reference_next(&ref, it) == 0;
    git_reference_free(ref);
    git_reference_iterator_free(it);
    git_error_clear();
    return any;
}

/* Open (or create) the cache of a remote and fetch. A failed fetch keeps
 * what an earlier fetch brought: *ret_fetch_err says why, and the caller
 * decides whether there is anything to load. */
static int open_remote(loader *l, const pk_repo_opts *o, char **ret_fetch_err)
{
    /* One cache per URL: a changed URL never serves another remote's commits. */
    _cleanup_free_ char *dir = pk_asprintf("%s/desired-%016" PRIx64 ".git", o->cache_dir, fnv1a64(o->remote));
    int r = git_repository_open_ext(&l->repo, dir, GIT_REPOSITORY_OPEN_NO_SEARCH | GIT_REPOSITORY_OPEN_BARE, NULL);
    if (r == GIT_ENOTFOUND) {
        git_repository_init_options io = GIT_REPOSITORY_INIT_OPTIONS_INIT;
        io.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH;
        r = git_repository_init_ext(&l->repo, dir, &io);
    }
    if (r < 0) {
        add_err(l, NULL, 0, "cannot open the cache '%s' of desired.remote '%s': %s", dir, o->remote, git_msg());
        return -1;
    }
    char *msg = NULL;
    int fr;
    if (o->fetch_timeout_ms > 0) {
        fr = fetch_bounded(dir, o->remote, o->fetch_timeout_ms, &msg);
        /* Read what the child fetched afresh, not through caches of before. */
        git_repository_free(l->repo);
        l->repo = NULL;
        if (git_repository_open_bare(&l->repo, dir) < 0) {
            add_err(l, NULL, 0, "cannot open the cache '%s' of desired.remote '%s': %s", dir, o->remote, git_msg());
            free(msg);
            return -1;
        }
    } else {
        fr = remote_fetch(l->repo, o->remote, &msg);
    }
    if (fr < 0) {
        if (!has_refs(l->repo)) {
            add_err(l, NULL, 0, "cannot fetch '%s', and nothing was fetched before: %s", o->remote, msg);
            free(msg);
            return -1;
        }
        *ret_fetch_err = msg;
    }
    return 0;
}

/* The commit that `spec` names. */
static git_commit *resolve(loader *l, const char *spec, bool branch, const char *shown)
{
    git_object *obj = NULL;
    int r;
    if (branch) {
        _cleanup_free_ char *full = pk_asprintf("refs/heads/%s", spec);
        git_reference *ref = NULL;
        r = git_reference_lookup(&ref, l->repo, full);
        if (r == 0) r = git_reference_peel(&obj, ref, GIT_OBJECT_COMMIT);
        git_reference_free(ref);
    } else {
        r = git_revparse_single(&obj, l->repo, spec);
    }
    if (r < 0) {
        if (git_repository_is_empty(l->repo) == 1)
            add_err(l, NULL, 0, "repository '%s' has no commits", shown);
        else if (strcmp(spec, "HEAD") == 0 && git_repository_head_unborn(l->repo) == 1)
            add_err(l, NULL, 0, "HEAD of repository '%s' names a branch that has no commits", shown);
        else if (r == GIT_ENOTFOUND && branch)
            add_err(l, NULL, 0, "branch '%s' not found in repository '%s'", spec, shown);
        else if (r == GIT_ENOTFOUND)
            add_err(l, NULL, 0, "ref '%s' not found in repository '%s'", spec, shown);
        else if (r == GIT_EAMBIGUOUS)
            add_err(l, NULL, 0, "ref '%s' is ambiguous in repository '%s'", spec, shown);
        else
            add_err(l, NULL, 0, "cannot resolve ref '%s' in repository '%s': %s", spec, shown, git_msg());
        return NULL;
    }
    git_object *peeled = NULL;
    r = git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT);
    git_object_free(obj);
    if (r < 0) {
        add_err(l, NULL, 0, "ref '%s' does not name a commit in repository '%s'", spec, shown);
        return NULL;
    }
    return (git_commit *)peeled;
}

/* Phase 1 from a commit. */
/* The set loaded last time is still the one: same source, subdir, commit. */
static bool still_known(const loader *l, const pk_desired *d)
{
    const pk_desired *k = l->known;
    return k && !k->worktree && !d->worktree && pk_streq(k->root, d->root) &&
           pk_streq(k->subdir, d->subdir) && pk_streq(k->commit, d->commit);
}

static int collect_commit(loader *l, const pk_repo_opts *o, pk_desired *d, const char *subdir)
{
    _cleanup_free_ char *fetch_err = NULL;
    if ((o->remote ? open_remote(l, o, &fetch_err) : open_local(l, o->path)) < 0) return -1;
    if (git_repository_odb(&l->odb, l->repo) < 0) {
        add_err(l, NULL, 0, "cannot open the object database of '%s': %s", d->root, git_msg());
        return -1;
    }
    git_commit *commit = resolve(l, d->ref, !o->ref && o->branch, d->root);
    if (fetch_err) {
        if (commit)
            pk_err_append(&d->warnings, pk_err_new(NULL, 0, 0,
                "cannot fetch '%s', using the commit fetched before: %s", o->remote, fetch_err));
        else
            add_err(l, NULL, 0, "cannot fetch '%s': %s", o->remote, fetch_err);
    }
    if (!commit) return -1;

    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr(hex, sizeof(hex), git_commit_id(commit));
    d->commit = pk_strdup(hex);
    l->where = pk_asprintf("commit %.7s", hex);
    if (still_known(l, d)) {
        git_commit_free(commit);
        l->unchanged = true;
        return 0;
    }

    git_tree *root = NULL, *pools = NULL;
    int r = git_commit_tree(&root, commit);
    git_commit_free(commit);
    if (r < 0) {
        add_err(l, NULL, 0, "cannot read the tree of %s: %s", l->where, git_msg());
        return -1;
    }
    r = git_find_pools(l, root, subdir, &pools);
    if (r == 0) {
        _cleanup_free_ char *dir = path_join(subdir, "pools");
        git_collect_pools(l, pools, dir);
        git_tree_free(pools);
    }
    git_tree_free(root);
    return r;
}

/* Phase 1 from disk. */
static int collect_worktree(loader *l, const pk_repo_opts *o, const char *subdir)
{
    int fd = disk_find_pools(l, o->path, subdir);
    if (fd < 0) return -1;
    _cleanup_free_ char *dir = path_join(subdir, "pools");
    disk_collect_pools(l, fd, dir);
    close(fd);
    return 0;
}

/* Errors grouped by file, in line order; those about no file first. The
 * sort is stable, so one file's errors keep the order they were found in. */
typedef struct { pk_err *e; size_t seq; } err_slot;

static int cmp_err(const void *a, const void *b)
{
    const err_slot *x = a, *y = b;
    if (!x->e->file != !y->e->file) return x->e->file ? 1 : -1;
    int c = x->e->file ? strcmp(x->e->file, y->e->file) : 0;
    if (!c) c = (x->e->line > y->e->line) - (x->e->line < y->e->line);
    if (!c) c = (x->seq > y->seq) - (x->seq < y->seq);
    return c;
}

static pk_err *sort_errs(pk_err *list)
{
    size_t n = pk_err_count(list);
    if (n < 2) return list;
    _cleanup_free_ err_slot *v = pk_calloc(n, sizeof(*v));
    for (size_t i = 0; i < n; i++, list = list->next) v[i] = (err_slot){ list, i };
    qsort(v, n, sizeof(*v), cmp_err);
    for (size_t i = 0; i < n; i++) v[i].e->next = i + 1 < n ? v[i + 1].e : NULL;
    return v[0].e;
}

static pk_desired *load(loader *l, const pk_repo_opts *o)
{
    if (!o || (!o->path && !o->remote)) {
        add_err(l, NULL, 0, "no desired repository: set desired.path or desired.remote, or give --desired");
        return NULL;
    }
    if (o->path && o->remote) {
        add_err(l, NULL, 0, "desired.path '%s' and desired.remote '%s' exclude each other", o->path, o->remote);
        return NULL;
    }
    if (o->remote && o->worktree) {
        add_err(l, NULL, 0, "--worktree reads a local directory, not desired.remote '%s'", o->remote);
        return NULL;
    }
    if (o->remote && !o->cache_dir) {
        add_err(l, NULL, 0, "desired.remote '%s' needs a cache directory", o->remote);
        return NULL;
    }
    pk_err *e = NULL;
    _cleanup_free_ char *subdir = subdir_expand(o->subdir ? o->subdir : "", &e);
    if (!subdir) {
        pk_err_append(&l->errs, e);
        return NULL;
    }

    _cleanup_(pk_desired_freep) pk_desired *d = PK_NEW(pk_desired);
    d->worktree = o->worktree;
    d->root = pk_strdup(o->remote ? o->remote : o->path);
    d->subdir = *subdir ? pk_strdup(subdir) : NULL;
    d->ref = pk_strdup(o->worktree ? "worktree" : o->ref ? o->ref : o->branch ? o->branch : "HEAD");
    int r;
    if (o->worktree) {
        l->where = pk_strdup(o->path);
        r = collect_worktree(l, o, subdir);
    } else {
        r = collect_commit(l, o, d, subdir);
    }
    if (r == 0 && l->unchanged) {
        /* Checked when it was loaded: the caller keeps that set. */
        return TAKE_PTR(d);
    }
    if (r == 0) {
        check_files(l, d);
        check_pool_dups(l, d);
        check_vol_names(l, d);
        check_paths(l, d);
        check_backing(l, d);
    }
    if (r < 0 || l->errs) {
        /* No desired set to carry them: a failed fetch is part of the story. */
        pk_err_append(&l->errs, TAKE_PTR(d->warnings));
        return NULL;
    }
    if (d->n_pools) qsort(d->pools, d->n_pools, sizeof(*d->pools), cmp_desired_pool);
    return TAKE_PTR(d);
}

/* libgit2's global set-up parses every CA certificate of the system
 * (8 ms here, more than reading a small repository): once per process,
 * undone at exit, however many times the service loads. */
static void git_shutdown(void)
{
    git_libgit2_shutdown();
}

static void git_setup(void)
{
    git_libgit2_init();
    atexit(git_shutdown);
}

static void git_once(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, git_setup);
}

pk_desired *pk_repo_reload(const pk_repo_opts *o, pk_desired *prev, pk_err **errs)
{
    git_once();
    loader l = { .known = prev };
    pk_desired *d = load(&l, o);
    pk_err_append(errs, sort_errs(TAKE_PTR(l.errs)));
    loader_release(&l);
    if (d && l.unchanged) {
        /* The new set holds only what was resolved (and any fetch
         * warning): hand back the one loaded before, with those. */
        pk_err_free(prev->warnings);
        prev->warnings = TAKE_PTR(d->warnings);
        free(prev->ref);
        prev->ref = TAKE_PTR(d->ref);
        pk_desired_free(d);
        return prev;
    }
    pk_desired_free(prev);
    return d;
}

pk_desired *pk_repo_load(const pk_repo_opts *o, pk_err **errs)
{
    return pk_repo_reload(o, NULL, errs);
}

bool pk_repo_looks_like(const char *dir)
{
    _cleanup_free_ char *pools = pk_asprintf("%s/pools", dir);
    struct stat st;
    if (stat(pools, &st) == 0 && S_ISDIR(st.st_mode)) return true;
    git_once();
    git_repository *repo = NULL;
    bool ok = git_repository_open_ext(&repo, dir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) == 0;
    git_repository_free(repo);
    return ok;
}
