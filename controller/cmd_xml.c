/* poolkeeper validate / format: check libvirt storage XML files, directories
 * of them or a whole desired-state repository, and print them canonically. */
#include "cli.h"
#include "config.h"
#include "../desired/model.h"
#include "../desired/repo.h"
#include "../desired/xml.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <sys/stat.h>

/* Volumes are parsed the way volume creation parses them (libvirt's
 * storageVolCreateXML): <capacity> may be left out only with a backing store. */
#define VOL_PARSE_FLAGS PK_VOL_PARSE_OPT_CAPACITY

typedef struct {
    const char *pool;         /* --pool FILE */
    bool in_place;            /* --in-place (format) */
} xml_opts;

enum { OPT_POOL = 1, OPT_IN_PLACE };

static int parse_args(const char *cmd, int argc, char **argv, bool allow_in_place, xml_opts *o)
{
    static const struct option longopts[] = {
        { "pool", required_argument, NULL, OPT_POOL },
        { "in-place", no_argument, NULL, OPT_IN_PLACE },
        { NULL, 0, NULL, 0 },
    };
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":i", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_POOL:
            o->pool = optarg;
            break;
        case ':':
            fprintf(stderr, "poolkeeper %s: option '%s' needs a value\n", cmd, argv[optind - 1]);
            return -1;
        case 'i':
        case OPT_IN_PLACE:
            if (allow_in_place) {
                o->in_place = true;
                break;
            }
            __attribute__((fallthrough));
        default:
            fprintf(stderr, "poolkeeper %s: unknown option '%s'; see 'poolkeeper help %s'\n", cmd,
                    argv[optind - 1], cmd);
            return -1;
        }
    }
    return 0;
}

/* ---- which kind of document, and the pool a volume belongs to ---- */

typedef enum { DOC_POOL, DOC_VOL } doc_kind;

/* The root element decides. The document is parsed once more by the model;
 * the cost is small next to the clarity of one message for a wrong root.
 * *line is the line of the root element. */
static int doc_kind_of(const char *data, size_t len, const char *file, doc_kind *kind, int *line,
                       pk_err **errs)
{
    xmlDoc *doc = pk_xml_read(data, len, file, errs);
    if (!doc) return -1;
    xmlNode *root = xmlDocGetRootElement(doc);
    int rc = 0;
    *line = pk_xml_line(root);
    if (pk_xml_is(root, "pool")) {
        *kind = DOC_POOL;
    } else if (pk_xml_is(root, "volume")) {
        *kind = DOC_VOL;
    } else {
        pk_err_append(errs, pk_err_new(file, pk_xml_line(root), 0,
                                       "unexpected root element <%s>, expecting <pool> or <volume>",
                                       (const char *)root->name));
        rc = -1;
    }
    xmlFreeDoc(doc);
    return rc;
}

/* Pools are parsed once however many volumes refer to them, and their errors
 * are printed once. */
typedef struct {
    char *key;                /* real path */
    pk_pool *pool;            /* NULL when the file is invalid */
} pool_entry;

typedef struct {
    pool_entry *v;
    size_t n;
    size_t n_files;           /* documents checked */
    bool failed;
} xml_ctx;

static void ctx_clear(xml_ctx *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].key);
        pk_pool_free(c->v[i].pool);
    }
    free(c->v);
}

/* Messages quote values from the documents, and file names come from
 * directory listings: either could hold a new line that fakes another error
 * line, or a terminal escape. Show such characters as escapes. */
static char *printable(const char *s)
{
    if (!s) return NULL;
    pk_buf b = PK_BUF_INIT;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\n') pk_buf_add(&b, "\\n");
        else if (*p == '\r') pk_buf_add(&b, "\\r");
        else if (*p == '\t') pk_buf_add(&b, "\\t");
        else if (*p < 0x20 || *p == 0x7f) pk_buf_addf(&b, "\\x%02x", *p);
        else if (*p == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F) pk_buf_addf(&b, "\\u%04x", *++p);  /* C1 */
        else pk_buf_addc(&b, (char)*p);
    }
    return b.s ? pk_buf_steal(&b) : pk_strdup("");
}

static void print_errors(pk_err *errs)
{
    for (pk_err *e = errs; e; e = e->next)
        for (pk_err *c = e; c; c = c->cause) {
            char *m = printable(c->msg), *f = printable(c->file);
            free(c->msg);
            free(c->file);
            c->msg = m;
            c->file = f;
        }
    pk_cli_report(errs);
}

static void report(xml_ctx *c, pk_err *errs)
{
    if (!errs) return;
    print_errors(errs);
    pk_err_free(errs);
    c->failed = true;
}

/* Parse a pool file whose bytes are in data (or read it when data is NULL).
 * Returns the pool, or NULL if the file is invalid (reported the first time). */
static const pk_pool *load_pool(xml_ctx *c, const char *path, const char *data, size_t len)
{
    char real[PATH_MAX];
    const char *key = realpath(path, real) ? real : path;
    for (size_t i = 0; i < c->n; i++)
        if (pk_streq(c->v[i].key, key)) return c->v[i].pool;
    _cleanup_free_ char *buf = NULL;
    pk_err *errs = NULL;
    pk_pool *pool = NULL;
    if (data || pk_xml_slurp(path, &buf, &len, &errs) == 0) {
        pool = pk_pool_parse(data ? data : buf, len, path, &errs);
        c->n_files++;
    }
    report(c, errs);
    pool_entry *e = PK_APPEND(c->v, c->n);
    e->key = pk_strdup(key);
    e->pool = pool;
    return pool;
}

/* A volume's pool: --pool, or for pools/<pool>/<vol>.xml the file
 * pools/<pool>.xml next to the volume's directory. Returns the path to use
 * (caller frees), or NULL when there is none. */
static char *pool_path_for(const xml_opts *o, const char *vol_path)
{
    if (o->pool) return pk_strdup(o->pool);
    _cleanup_free_ char *copy = pk_strdup(vol_path);
    const char *dir = dirname(copy);
    const char *base = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
    _cleanup_free_ char *abs_dir = NULL;
    if (pk_streq(base, ".") || pk_streq(base, "..") || pk_streq(dir, "/")) {
        /* "vol.xml" or "../vol.xml": name the directory from its real path. */
        char real[PATH_MAX];
        if (!realpath(dir, real) || pk_streq(real, "/")) return NULL;
        abs_dir = pk_strdup(real);
        dir = abs_dir;
    }
    char *p = pk_asprintf("%s.xml", dir);
    struct stat st;
    if (stat(p, &st) < 0 || !S_ISREG(st.st_mode)) {
        free(p);
        return NULL;
    }
    return p;
}

/* Parse one volume against its pool; returns it (caller frees) or NULL after
 * reporting why not. */
static pk_vol *load_vol(xml_ctx *c, const xml_opts *o, const char *path, int line, const char *data,
                        size_t len, const pk_pool **pool_out)
{
    _cleanup_free_ char *pool_path = pool_path_for(o, path);
    if (!pool_path) {
        report(c, pk_err_new(path, line, 0,
                             "cannot check a volume without its pool: give --pool POOL.xml, or keep it as pools/POOL/VOLUME.xml next to pools/POOL.xml"));
        return NULL;
    }
    const pk_pool *pool = load_pool(c, pool_path, NULL, 0);
    if (!pool) {
        report(c, pk_err_new(path, line, 0, "cannot check this volume: its pool file '%s' is invalid", pool_path));
        return NULL;
    }
    pk_err *errs = NULL;
    pk_vol *v = pk_vol_parse(pool, data, len, path, VOL_PARSE_FLAGS, &errs);
    c->n_files++;
    report(c, errs);
    if (v && pool_out) *pool_out = pool;
    return v;
}

static void validate_file(xml_ctx *c, const xml_opts *o, const char *path)
{
    _cleanup_free_ char *data = NULL;
    size_t len = 0;
    pk_err *errs = NULL;
    doc_kind kind;
    int line = 0;
    if (pk_xml_slurp(path, &data, &len, &errs) < 0 || doc_kind_of(data, len, path, &kind, &line, &errs) < 0) {
        c->n_files++;
        report(c, errs);
        return;
    }
    if (kind == DOC_POOL) {
        load_pool(c, path, data, len);
        return;
    }
    pk_vol_free(load_vol(c, o, path, line, data, len, NULL));
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every *.xml below dir, in sorted order, depth first. Symbolic links are not
 * followed: a link could lead anywhere, and the repository loader refuses them. */
static void validate_dir(xml_ctx *c, const xml_opts *o, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        report(c, pk_err_new(NULL, 0, errno, "cannot open directory '%s'", dir));
        return;
    }
    char **names = NULL;
    struct dirent *de;
    while ((de = readdir(d)))
        if (!pk_streq(de->d_name, ".") && !pk_streq(de->d_name, ".."))
            pk_strv_push(&names, de->d_name);
    closedir(d);
    size_t n = pk_strv_len(names);
    if (n) qsort(names, n, sizeof(*names), by_name);
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *path = pk_str_has_suffix(dir, "/") ? pk_asprintf("%s%s", dir, names[i])
                                                                : pk_asprintf("%s/%s", dir, names[i]);
        struct stat st;
        if (lstat(path, &st) < 0) {
            report(c, pk_err_new(NULL, 0, errno, "cannot stat '%s'", path));
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            if (names[i][0] != '.') validate_dir(c, o, path);   /* .git and friends */
        } else if (S_ISLNK(st.st_mode)) {
            if (pk_str_has_suffix(names[i], ".xml")) pk_debug("not following symbolic link '%s'", path);
        } else if (S_ISREG(st.st_mode) && pk_str_has_suffix(names[i], ".xml")) {
            validate_file(c, o, path);
        }
    }
    pk_strv_free(names);
}

/* ---- repository mode ---- */

/* The repository is read as 'plan' reads it: the settings (flags,
 * environment, configuration file) decide branch, subdir, ref and work tree;
 * a PATH argument names the repository instead of desired.path/remote. */
static int validate_repo(const pk_cli_opts *opts, const char *path)
{
    pk_settings s = { 0 };
    pk_err *errs = NULL;
    if (pk_settings_load(opts, &s, &errs) < 0) {
        print_errors(errs);
        pk_err_free(errs);
        pk_settings_clear(&s);
        return 1;
    }
    _cleanup_free_ char *copy = s.state ? pk_strdup(s.state) : NULL;
    _cleanup_free_ char *cache = copy ? pk_asprintf("%s/repo-cache", dirname(copy)) : NULL;
    pk_repo_opts ro = {
        .path = path ? path : s.desired_remote ? NULL : s.desired_path ? s.desired_path : ".",
        .remote = path ? NULL : s.desired_remote,
        .branch = pk_settings_branch(&s),
        .subdir = s.desired_subdir,
        .ref = s.ref,
        .worktree = s.worktree,
        .cache_dir = cache,
    };
    if (path) ro.branch = s.desired_branch;   /* a local repository: HEAD unless configured */
    pk_desired *d = pk_repo_load(&ro, &errs);
    int rc = 0;
    if (!d) {
        if (!errs) errs = pk_err_new(NULL, 0, 0, "cannot load the desired state");
        print_errors(errs);
        pk_err_free(errs);
        rc = 1;
    } else {
        size_t n_vols = 0;
        for (size_t i = 0; i < d->n_pools; i++) n_vols += d->pools[i].n_vols;
        for (const pk_err *w = d->warnings; w; w = w->next) {
            _cleanup_free_ char *t = pk_err_str(w);
            pk_log(PK_LOG_WARN, NULL, NULL, "%s", t);
        }
        char buf[16];
        if (!opts->quiet)
            printf("desired state @%s: %zu pools, %zu volumes: valid\n", pk_desired_short(d, buf),
                   d->n_pools, n_vols);
        pk_desired_free(d);
    }
    pk_settings_clear(&s);
    return rc;
}

static int run_validate(const pk_cli_opts *opts, int argc, char **argv)
{
    xml_opts o = { 0 };
    if (parse_args("validate", argc, argv, false, &o) < 0) return 1;
    char **paths = argv + optind;
    int n_paths = argc - optind;
    struct stat st;

    bool repo = opts->desired || opts->ref || opts->worktree || n_paths == 0;
    if (!repo && n_paths == 1 && stat(paths[0], &st) == 0 && S_ISDIR(st.st_mode) &&
        pk_repo_looks_like(paths[0]))
        repo = true;
    if (repo) {
        if (o.pool) {
            fprintf(stderr, "poolkeeper validate: --pool is for single files; a repository names its own pools\n");
            return 1;
        }
        if (n_paths > 1 || (n_paths == 1 && opts->desired)) {
            fprintf(stderr, "poolkeeper validate: a repository is validated alone: give either --desired DIR or one PATH\n");
            return 1;
        }
        return validate_repo(opts, opts->desired ? opts->desired : n_paths ? paths[0] : NULL);
    }

    xml_ctx c = { 0 };
    if (o.pool) {
        if (!load_pool(&c, o.pool, NULL, 0)) {
            ctx_clear(&c);
            return 1;
        }
    }
    for (int i = 0; i < n_paths; i++) {
        if (stat(paths[i], &st) < 0) {
            report(&c, pk_err_new(NULL, 0, errno, "cannot access '%s'", paths[i]));
            continue;
        }
        if (S_ISDIR(st.st_mode))
            validate_dir(&c, &o, paths[i]);
        else
            validate_file(&c, &o, paths[i]);
    }
    int rc = c.failed ? 1 : 0;
    if (!c.failed && opts->verbose && !opts->quiet)
        printf("%zu %s valid\n", c.n_files, c.n_files == 1 ? "file" : "files");
    ctx_clear(&c);
    return rc;
}

/* ---- format ---- */

static int write_all(int fd, const char *text, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, text + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -1;
        done += (size_t)w;
    }
    return 0;
}

/* Replace path by a file holding text: written next to it under a temporary
 * name, given the old file's mode and owner, synced, then renamed over it, so
 * readers see either the old or the new file, never a mix. */
static int write_atomic(const char *path, const char *text, pk_err **err)
{
    char real[PATH_MAX];
    if (!realpath(path, real)) return pk_fail_errno(err, errno, "cannot resolve '%s'", path);
    struct stat st;
    if (stat(real, &st) < 0) return pk_fail_errno(err, errno, "cannot stat '%s'", real);
    _cleanup_free_ char *copy = pk_strdup(real);
    _cleanup_free_ char *copy2 = pk_strdup(real);
    const char *dir = dirname(copy);
    _cleanup_free_ char *tmp = pk_asprintf("%s/.%s.XXXXXX", dir, basename(copy2));
    _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) return pk_fail_errno(err, errno, "cannot create a temporary file in '%s'", dir);
    bool ok = write_all(fd, text, strlen(text)) == 0 && fchmod(fd, st.st_mode & 07777) == 0;
    /* Keep the owner when we can (root); otherwise the file becomes ours. */
    if (ok && (st.st_uid != geteuid() || st.st_gid != getegid()) &&
        fchown(fd, st.st_uid, st.st_gid) < 0 && errno != EPERM)
        ok = false;
    ok = ok && fsync(fd) == 0 && rename(tmp, real) == 0;
    if (!ok) {
        int saved = errno;
        unlink(tmp);
        return pk_fail_errno(err, saved, "cannot write '%s'", real);
    }
    _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) (void)fsync(dfd);
    return 0;
}

static int run_format(const pk_cli_opts *opts, int argc, char **argv)
{
    xml_opts o = { 0 };
    if (parse_args("format", argc, argv, true, &o) < 0) return 1;
    if (argc - optind != 1) {
        fprintf(stderr, "poolkeeper format: expected exactly one FILE; see 'poolkeeper help format'\n");
        return 1;
    }
    const char *path = argv[optind];
    xml_ctx c = { 0 };
    _cleanup_free_ char *data = NULL;
    _cleanup_free_ char *out = NULL;
    size_t len = 0;
    pk_err *errs = NULL;
    doc_kind kind;
    int line = 0;
    if (pk_xml_slurp(path, &data, &len, &errs) < 0 || doc_kind_of(data, len, path, &kind, &line, &errs) < 0) {
        report(&c, errs);
    } else if (kind == DOC_POOL) {
        const pk_pool *pool = load_pool(&c, path, data, len);
        if (pool) out = pk_pool_format(pool);
    } else {
        const pk_pool *pool = NULL;
        pk_vol *v = load_vol(&c, &o, path, line, data, len, &pool);
        if (v) out = pk_vol_format(pool, v);
        pk_vol_free(v);
    }
    ctx_clear(&c);
    if (!out) return 1;

    if (!o.in_place) {
        fputs(out, stdout);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "poolkeeper: error: cannot write to standard output: %s\n", strerror(errno));
            return 1;
        }
        return 0;
    }
    if (strlen(out) == len && memcmp(out, data, len) == 0) {
        if (opts->verbose) printf("'%s' is already canonical\n", path);
        return 0;
    }
    if (write_atomic(path, out, &errs) < 0) {
        print_errors(errs);
        pk_err_free(errs);
        return 1;
    }
    if (opts->verbose) printf("'%s' rewritten\n", path);
    return 0;
}

const pk_command pk_command_validate = {
    .name = "validate",
    .args = "[--pool POOL.xml] [PATH...]",
    .summary = "check pool and volume XML files, directories or a desired-state repository",
    .help =
        "Parses every document the way libvirt does and applies libvirt's validation\n"
        "rules, reporting every problem found (not only the first), one line each:\n"
        "\n"
        "  FILE:LINE: error: MESSAGE\n"
        "\n"
        "Nothing is printed when everything is valid (with -v: \"N files valid\").\n"
        "\n"
        "What PATH can be:\n"
        "  a file         its root element decides: <pool> or <volume>\n"
        "  a directory    every *.xml below it, recursively, in sorted order, file by\n"
        "                 file; files without the .xml suffix, hidden directories\n"
        "                 (.git) and symbolic links are skipped\n"
        "  a repository   a single PATH that is a desired-state repository root (it has\n"
        "                 pools/ or is a git repository) is loaded as 'plan' would load\n"
        "                 it, with every cross-file check (file names, duplicate pools,\n"
        "                 volumes without a pool, backing stores outside every pool...)\n"
        "\n"
        "A volume is checked against its pool, because the pool type decides which\n"
        "volume types and formats are allowed and what the defaults are. The pool is\n"
        "the --pool file, or, for a volume at pools/POOL/VOLUME.xml, the file\n"
        "pools/POOL.xml next to its directory. A volume is parsed as volume creation\n"
        "parses it: <capacity> may be left out only when a <backingStore> is given.\n"
        "\n"
        "Options:\n"
        "  --pool POOL.xml     the pool every volume given is checked against\n"
        "\n"
        "Repository mode is also chosen by --desired DIR, --ref REV or --worktree, and\n"
        "with no PATH at all (then desired.path or desired.remote of the configuration,\n"
        "or the current directory). Branch and subdir come from the configuration, as\n"
        "for 'plan'. It reads the files of a commit (the branch head, or --ref REV)\n"
        "unless --worktree says to read the files on disk, and prints, unless -q:\n"
        "\n"
        "  desired state @COMMIT: N pools, M volumes: valid\n"
        "\n"
        "Documents are untrusted input: DOCTYPE and entity declarations, encodings other\n"
        "than UTF-8, NUL bytes and control characters, nesting deeper than 64 elements\n"
        "and files over 1 MiB are refused.\n"
        "\n"
        "Examples:\n"
        "  poolkeeper validate pools/default.xml\n"
        "  poolkeeper validate --pool pools/default.xml disk1.xml disk2.xml\n"
        "  poolkeeper validate pools/                 # every file, pools and volumes\n"
        "  poolkeeper validate --worktree .           # the repository, uncommitted files\n"
        "  poolkeeper validate --desired /srv/desired --ref v12\n"
        "\n"
        "Exit status: 0 when everything is valid, 1 otherwise.\n",
    .run = run_validate,
};

const pk_command pk_command_format = {
    .name = "format",
    .args = "[--pool POOL.xml] [--in-place] FILE",
    .summary = "print a pool or volume XML file in libvirt's canonical formatting",
    .help =
        "Parses and validates FILE like 'poolkeeper validate', then prints it as\n"
        "libvirt would (virsh pool-dumpxml --inactive / vol-dumpxml): fixed element\n"
        "order, two-space indentation, single quotes, sizes in bytes, defaults spelt\n"
        "out. Comments and unknown elements are not kept. Formatting a formatted file\n"
        "changes nothing.\n"
        "\n"
        "A <volume> needs its pool, found as for 'poolkeeper validate': --pool, or the\n"
        "file pools/POOL.xml next to the directory of pools/POOL/VOLUME.xml.\n"
        "\n"
        "Options:\n"
        "  --pool POOL.xml     the pool a volume FILE belongs to\n"
        "  -i, --in-place      rewrite FILE instead of printing it. The new text is\n"
        "                      written to a temporary file in the same directory, given\n"
        "                      FILE's mode (and owner, when run as root) and renamed over\n"
        "                      FILE; an already canonical FILE is not touched at all\n"
        "\n"
        "An invalid FILE is reported as 'FILE:LINE: error: MESSAGE' lines, nothing is\n"
        "printed on standard output and FILE is left as it was.\n"
        "\n"
        "Examples:\n"
        "  poolkeeper format pools/default.xml\n"
        "  poolkeeper format --pool pools/default.xml disk1.xml > disk1.canonical.xml\n"
        "  poolkeeper format --in-place pools/default/disk1.xml\n"
        "\n"
        "Exit status: 0 on success, 1 when FILE is invalid or cannot be written.\n",
    .run = run_format,
};
