/* `poolkeeper validate` and `poolkeeper format`, end to end through the real
 * binary ($POOLKEEPER): the bad-input corpus (tests/data/bad/MANIFEST.tsv),
 * generated hostile documents, the libvirt conformance fixtures, directory
 * walks, --pool, the pools/ layout, --in-place, and repository mode on a git
 * repository made for the test. */
#include "../tap.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

static const char *poolkeeper;

typedef struct {
    int status;               /* exit status, or 128 + signal */
    char *out, *err;
} run_result;

static void run_clear(run_result *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof(*r));
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    pk_buf b = PK_BUF_INIT;
    char tmp[8192];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) pk_buf_addn(&b, tmp, n);
    fclose(f);
    if (len) *len = b.len;
    return b.s ? pk_buf_steal(&b) : pk_strdup("");
}

static bool spit(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return false;
    bool ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

/* Run argv in directory cwd (NULL: here) with stdout and stderr captured
 * apart. A child still running after a minute is killed: hangs fail. */
static void run_in(const char *cwd, char *const argv[], run_result *r)
{
    static char *capdir;   /* one for the whole run, removed at exit */
    if (!capdir) capdir = tap_tmpdir("clixml-cap");
    _cleanup_free_ char *outp = pk_asprintf("%s/out", capdir);
    _cleanup_free_ char *errp = pk_asprintf("%s/err", capdir);
    memset(r, 0, sizeof(*r));
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) tap_bail("fork: %s", strerror(errno));
    if (pid == 0) {
        int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0) _exit(126);
        if (cwd && chdir(cwd) < 0) _exit(126);
        alarm(60);   /* survives exec */
        execv(argv[0], argv);
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    r->out = slurp(outp, NULL);
    r->err = slurp(errp, NULL);
}

/* poolkeeper with up to 8 arguments, NULL-terminated. */
#define PK(cwd, r, ...) do { \
        char *const _argv[] = { (char *)poolkeeper, __VA_ARGS__, NULL }; \
        run_in((cwd), _argv, (r)); \
    } while (0)

/* Every line on stderr is one error ("...: error: ..."), so that no value
 * quoted from a document can break a message over two lines. */
static bool one_error_a_line(const char *err)
{
    if (!err || !*err) return false;
    for (const char *l = err; *l;) {
        const char *nl = strchr(l, '\n');
        size_t n = nl ? (size_t)(nl - l) : strlen(l);
        _cleanup_free_ char *line = pk_strndup(l, n);
        if (!strstr(line, "error: ")) return false;
        l += n + (nl ? 1 : 0);
    }
    return true;
}

static void diag_run(const run_result *r)
{
    tap_diag("  exit status: %d\n  stdout: %s\n  stderr: %s", r->status, r->out ? r->out : "",
             r->err ? r->err : "");
}

/* ---------------------------------------------------------------- corpus */

typedef struct {
    char *file, *kind, *pool, *expected;
} bad_row;

static bad_row *load_manifest(const char *path, size_t *n)
{
    _cleanup_free_ char *text = slurp(path, NULL);
    if (!text) tap_bail("cannot read %s", path);
    bad_row *rows = NULL;
    *n = 0;
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        if (line[0] == '#' || !line[0]) continue;
        char *f[5] = { 0 };
        char *p = line;
        for (int i = 0; i < 5 && p; i++) {
            f[i] = p;
            p = strchr(p, '\t');
            if (p) *p++ = '\0';
        }
        if (!f[3]) tap_bail("malformed MANIFEST row for '%s'", f[0]);
        bad_row *r = PK_APPEND(rows, *n);
        r->file = pk_strdup(f[0]);
        r->kind = pk_strdup(f[1]);
        r->pool = pk_strdup(f[2]);
        r->expected = pk_strdup(f[3]);
    }
    return rows;
}

static void check_refused(const char *cmd, const run_result *r, const char *expected, const char *file)
{
    bool ok = r->status == 1 && r->err && strstr(r->err, expected) && r->out && !*r->out &&
              one_error_a_line(r->err);
    tap_ok(ok, "%s %s: exit 1 with '%s'", cmd, file, expected);
    if (!ok) diag_run(r);
}

static void test_corpus(void)
{
    _cleanup_free_ char *dir = pk_asprintf("%s/data/bad", tap_data_dir());
    _cleanup_free_ char *manifest = pk_asprintf("%s/MANIFEST.tsv", dir);
    size_t n = 0;
    bad_row *rows = load_manifest(manifest, &n);

    /* Every committed document is in the manifest, and there are enough. */
    char **listed = NULL;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || !pk_streq(rows[i].file, rows[i - 1].file)) pk_strv_push(&listed, rows[i].file);
    DIR *d = opendir(dir);
    size_t n_files = 0, orphans = 0;
    for (struct dirent *de; d && (de = readdir(d));) {
        if (!pk_str_has_suffix(de->d_name, ".xml")) continue;
        n_files++;
        bool found = false;
        for (size_t i = 0; listed && listed[i]; i++) found |= pk_streq(listed[i], de->d_name);
        if (!found) {
            orphans++;
            tap_diag("%s is not in MANIFEST.tsv", de->d_name);
        }
    }
    if (d) closedir(d);
    tap_ok(n_files >= 100, "the corpus has %zu documents (at least 100)", n_files);
    tap_is_int((long long)orphans, 0, "every document of the corpus has a MANIFEST row");
    tap_is_int((long long)pk_strv_len(listed), (long long)n_files, "every MANIFEST file exists");
    pk_strv_free(listed);

    run_result r;
    PK(dir, &r, "validate", "-v", "base");
    tap_ok(r.status == 0 && strstr(r.out, " files valid"), "the helper pools under base/ are valid");
    if (r.status != 0) diag_run(&r);
    run_clear(&r);

    /* validate: one run per --pool value, with all its files (a failure in
     * one file must not hide the others), then every expected message. */
    bool *done = pk_calloc(n, sizeof(bool));
    for (size_t i = 0; i < n; i++) {
        if (done[i]) continue;
        const char *pool = rows[i].pool;
        char **argv = NULL;
        pk_strv_push(&argv, poolkeeper);
        pk_strv_push(&argv, "validate");
        if (!pk_streq(pool, "-")) {
            pk_strv_push(&argv, "--pool");
            pk_strv_push(&argv, pool);
        }
        for (size_t k = i; k < n; k++)
            if (pk_streq(rows[k].pool, pool) && (k == 0 || !pk_streq(rows[k].file, rows[k - 1].file)))
                pk_strv_push(&argv, rows[k].file);
        run_in(dir, argv, &r);
        for (size_t k = i; k < n; k++) {
            if (!pk_streq(rows[k].pool, pool)) continue;
            done[k] = true;
            check_refused("validate", &r, rows[k].expected, rows[k].file);
        }
        run_clear(&r);
        pk_strv_free(argv);
    }
    free(done);
    /* format: one run per file, so the exit status is that file's. */
    for (size_t i = 0; i < n; i++) {
        bad_row *b = &rows[i];
        if (pk_streq(b->pool, "-"))
            PK(dir, &r, "format", b->file);
        else
            PK(dir, &r, "format", "--pool", b->pool, b->file);
        check_refused("format", &r, b->expected, b->file);
        run_clear(&r);
    }
    for (size_t i = 0; i < n; i++) {
        free(rows[i].file);
        free(rows[i].kind);
        free(rows[i].pool);
        free(rows[i].expected);
    }
    free(rows);

    /* The whole directory in one run: one failure does not stop the walk. */
    PK(dir, &r, "validate", ".");
    size_t lines = 0;
    for (const char *p = r.err; p && *p; p++) lines += *p == '\n';
    tap_ok(r.status == 1 && lines >= n_files && one_error_a_line(r.err),
           "validate of the corpus directory reports every file (%zu error lines)", lines);
    const char *a = strstr(r.err, "./pool-bad-uuid.xml:3:"), *z = strstr(r.err, "./xml-wrong-root.xml:2:");
    tap_ok(a && z && a < z, "files are walked in sorted order");
    run_clear(&r);
}

/* Hostile documents too big to commit, or that need the file system. */
static void test_generated(const char *tmp)
{
    run_result r;
    _cleanup_free_ char *huge = pk_asprintf("%s/huge.xml", tmp);
    pk_buf b = PK_BUF_INIT;
    pk_buf_add(&b, "<pool type='dir'>\n  <name>huge</name>\n  <target><path>/srv/h</path></target>\n");
    while (b.len < 2 * 1024 * 1024) pk_buf_add(&b, "  <!-- padding padding padding padding padding -->\n");
    pk_buf_add(&b, "</pool>\n");
    spit(huge, b.s, b.len);
    _cleanup_free_ char *want = pk_asprintf("huge.xml: error: document is %zu bytes, larger than the limit of 1048576 bytes",
                                            b.len);
    PK(tmp, &r, "validate", "huge.xml");
    check_refused("validate", &r, want, "huge.xml (2 MiB)");
    run_clear(&r);

    /* 100000 levels of nesting in 600 kB: stopped at the limit, quickly. */
    pk_buf_reset(&b);
    pk_buf_add(&b, "<pool type='dir'>\n  <name>deep</name>\n");
    for (int i = 0; i < 100000; i++) pk_buf_add(&b, "<a>\n");
    spit(huge, b.s, b.len);
    int64_t t0 = pk_monotonic_ms();
    PK(tmp, &r, "validate", "huge.xml");
    check_refused("validate", &r, "huge.xml:66: error: elements nested deeper than 64 levels", "huge.xml (100000 levels)");
    tap_diag("100000 levels refused in %lld ms", (long long)(pk_monotonic_ms() - t0));
    run_clear(&r);

    /* Line numbers past libxml2's 65535 cap reach the model's messages. */
    pk_buf_reset(&b);
    pk_buf_add(&b, "<pool type='dir'>\n");
    for (int i = 0; i < 70000; i++) pk_buf_add(&b, "\n");
    pk_buf_add(&b, "  <name>many-lines</name>\n  <uuid>bad</uuid>\n  <target><path>/srv/m</path></target>\n</pool>\n");
    spit(huge, b.s, b.len);
    PK(tmp, &r, "validate", "huge.xml");
    check_refused("validate", &r, "huge.xml:70003: error: <uuid>: malformed uuid 'bad'", "huge.xml (70000 lines)");
    run_clear(&r);

    /* A megabyte of attributes on one element: libxml2 would compare them
     * pairwise for minutes; they are counted first. */
    pk_buf_reset(&b);
    pk_buf_add(&b, "<pool type='dir'\n");
    int n_attrs = 0;
    while (b.len < 1000000) pk_buf_addf(&b, " a%x=''", n_attrs++);
    pk_buf_add(&b, ">\n  <name>wide</name>\n</pool>\n");
    spit(huge, b.s, b.len);
    _cleanup_free_ char *want_attrs =
        pk_asprintf("huge.xml:1: error: element has %d attributes, more than the limit of 256", n_attrs + 1);
    t0 = pk_monotonic_ms();
    PK(tmp, &r, "validate", "huge.xml");
    check_refused("validate", &r, want_attrs, "huge.xml (a megabyte of attributes)");
    tap_diag("%d attributes refused in %lld ms", n_attrs, (long long)(pk_monotonic_ms() - t0));
    run_clear(&r);
    unlink(huge);
    pk_buf_free(&b);

    /* Nothing outside the document is ever read: not through XInclude, an
     * external entity, a DTD or a stylesheet. */
    _cleanup_free_ char *secret = pk_asprintf("%s/secret.txt", tmp);
    spit(secret, "SECRET-MARKER-4711\n", 19);
    _cleanup_free_ char *xi = pk_asprintf(
        "<?xml-stylesheet type='text/xsl' href='file://%s'?>\n"
        "<pool type='dir' xmlns:xi='http://www.w3.org/2001/XInclude'>\n"
        "  <name>xi</name>\n  <xi:include href='file://%s' parse='text'/>\n"
        "  <target><path>/srv/xi</path></target>\n</pool>\n", secret, secret);
    _cleanup_free_ char *xif = pk_asprintf("%s/xinclude.xml", tmp);
    spit(xif, xi, strlen(xi));
    PK(tmp, &r, "format", "xinclude.xml");
    tap_ok(r.status == 0 && strstr(r.out, "<name>xi</name>") && !strstr(r.out, "SECRET") && !strstr(r.out, "include"),
           "XInclude and xml-stylesheet are inert: nothing is included, the element is dropped on format");
    if (r.status != 0) diag_run(&r);
    run_clear(&r);
    _cleanup_free_ char *xxe = pk_asprintf("<!DOCTYPE pool [<!ENTITY s SYSTEM 'file://%s'>]>\n"
                                           "<pool type='dir'><name>&s;</name></pool>\n", secret);
    spit(xif, xxe, strlen(xxe));
    PK(tmp, &r, "format", "xinclude.xml");
    tap_ok(r.status == 1 && !strstr(r.err, "SECRET") && !strstr(r.out, "SECRET"),
           "an external entity is refused and its file never shows");
    run_clear(&r);
    unlink(xif);

    /* A UTF-8 byte order mark is harmless and accepted. */
    _cleanup_free_ char *bom = pk_asprintf("%s/bom.xml", tmp);
    const char bom_doc[] = "\xef\xbb\xbf<pool type='dir'><name>bom</name><target><path>/srv/b</path></target></pool>\n";
    spit(bom, bom_doc, strlen(bom_doc));
    PK(tmp, &r, "validate", "bom.xml");
    tap_ok(r.status == 0 && !*r.err, "a UTF-8 byte order mark is accepted");
    run_clear(&r);
    unlink(bom);

    /* A FIFO is refused at once instead of waiting for a writer. */
    _cleanup_free_ char *fifo = pk_asprintf("%s/fifo.xml", tmp);
    mkfifo(fifo, 0600);
    PK(tmp, &r, "validate", "fifo.xml");
    check_refused("validate", &r, "'fifo.xml' is not a regular file", "a FIFO");
    run_clear(&r);
    unlink(fifo);

    /* A new line in a file name cannot fake a second error line. */
    _cleanup_free_ char *sub = pk_asprintf("%s/names", tmp);
    mkdir(sub, 0700);
    _cleanup_free_ char *evil = pk_asprintf("%s/a\nfake.xml:1: error: forged.xml", sub);
    spit(evil, "<pool/>", 7);
    PK(tmp, &r, "validate", "names");
    check_refused("validate", &r, "names/a\\nfake.xml:1: error: forged.xml:1: error: <pool>: missing attribute 'type'",
                  "a file name with a new line");
    run_clear(&r);
    unlink(evil);
    rmdir(sub);

    PK(tmp, &r, "validate", "missing.xml");
    check_refused("validate", &r, "cannot access 'missing.xml': No such file or directory", "a missing file");
    run_clear(&r);
}

/* ---------------------------------------------------------- conformance */

static void test_conformance(void)
{
    _cleanup_free_ char *dir = pk_asprintf("%s/data/libvirt", tap_data_dir());
    _cleanup_free_ char *manifest = pk_asprintf("%s/MANIFEST.tsv", dir);
    _cleanup_free_ char *text = slurp(manifest, NULL);
    if (!text) {
        tap_skip("no tests/data/libvirt/MANIFEST.tsv", "conformance fixtures");
        return;
    }
    size_t n_pool = 0, n_vol = 0;
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        char *f[6] = { 0 };
        char *p = line;
        for (int i = 0; i < 6 && p; i++) {
            f[i] = p;
            p = strchr(p, '\t');
            if (p) *p++ = '\0';
        }
        bool is_pool = pk_streq(f[0], "pool"), is_vol = pk_streq(f[0], "vol");
        if (!is_pool && !is_vol) continue;
        const char *in = f[2], *out = f[3], *pool = f[4], *flags = f[5];
        run_result r;
        if (is_vol && flags && strstr(flags, "NO_CAPACITY")) {
            /* Only libvirt's unit test parses with NO_CAPACITY; volume
             * creation (and poolkeeper) needs a capacity or a backing store. */
            PK(dir, &r, "validate", "--pool", (char *)pool, (char *)in);
            tap_ok(r.status == 1 && strstr(r.err, "missing capacity"), "validate %s: refused without a capacity", in);
            run_clear(&r);
            continue;
        }
        if (is_pool)
            PK(dir, &r, "validate", (char *)in);
        else
            PK(dir, &r, "validate", "--pool", (char *)pool, (char *)in);
        bool ok = r.status == 0 && !*r.out && !*r.err;
        tap_ok(ok, "validate %s", in);
        if (!ok) diag_run(&r);
        run_clear(&r);

        if (is_pool)
            PK(dir, &r, "format", (char *)in);
        else
            PK(dir, &r, "format", "--pool", (char *)pool, (char *)in);
        _cleanup_free_ char *outp = pk_asprintf("%s/%s", dir, out);
        _cleanup_free_ char *want = slurp(outp, NULL);
        tap_ok(r.status == 0 && want && pk_streq(r.out, want), "format %s is %s byte for byte", in, out);
        if (r.status != 0 || !pk_streq(r.out, want)) diag_run(&r);
        run_clear(&r);

        /* Canonical output is a fixpoint. */
        if (is_pool)
            PK(dir, &r, "format", (char *)out);
        else
            PK(dir, &r, "format", "--pool", (char *)pool, (char *)out);
        tap_ok(r.status == 0 && want && pk_streq(r.out, want), "format %s changes nothing", out);
        run_clear(&r);
        is_pool ? n_pool++ : n_vol++;
    }
    tap_ok(n_pool >= 30 && n_vol >= 15, "conformance: %zu pools, %zu volumes", n_pool, n_vol);

    run_result r;
    PK(dir, &r, "validate", "-v", "pool/in");
    tap_ok(r.status == 0 && strstr(r.out, "39 files valid"), "validate -v pool/in: every pool input, as a directory");
    if (r.status != 0) diag_run(&r);
    run_clear(&r);
}

/* --------------------------------------------------------------- layout */

static const char dir_pool[] =
    "<pool type='dir'>\n  <name>default</name>\n  <uuid>6a2d8b3e-4c1f-4e5a-9b7d-0f1e2d3c4b5a</uuid>\n"
    "  <target>\n    <path>/var/lib/libvirt/images</path>\n  </target>\n</pool>\n";
static const char vol_a[] =
    "<volume>\n  <name>a.qcow2</name>\n  <capacity unit='GiB'>1</capacity>\n"
    "  <target>\n    <format type='qcow2'/>\n  </target>\n</volume>\n";

static char *path_in(const char *dir, const char *name)
{
    return pk_asprintf("%s/%s", dir, name);
}

static void put(const char *dir, const char *name, const char *text)
{
    _cleanup_free_ char *p = path_in(dir, name);
    if (!spit(p, text, strlen(text))) tap_bail("cannot write %s", p);
}

static void test_layout(const char *tmp)
{
    _cleanup_free_ char *root = path_in(tmp, "layout");
    _cleanup_free_ char *pools = path_in(root, "pools");
    _cleanup_free_ char *def = path_in(pools, "default");
    _cleanup_free_ char *hidden = path_in(pools, ".hidden");
    mkdir(root, 0755);
    mkdir(pools, 0755);
    mkdir(def, 0755);
    mkdir(hidden, 0755);
    put(pools, "default.xml", dir_pool);
    put(def, "a.qcow2.xml", vol_a);
    put(def, "b.img.xml", "<volume>\n  <name>b.img</name>\n  <capacity>1048576</capacity>\n</volume>\n");
    put(def, "README", "not XML, not checked\n");
    put(hidden, "junk.xml", "<junk/>");
    _cleanup_free_ char *bad = path_in(root, "elsewhere.xml");
    spit(bad, "<pool/>", 7);
    _cleanup_free_ char *link = path_in(def, "link.xml");
    if (symlink(bad, link) < 0) tap_diag("symlink: %s", strerror(errno));

    run_result r;
    PK(root, &r, "validate", "-v", "pools");
    tap_ok(r.status == 0 && pk_streq(r.out, "3 files valid\n") &&
               strstr(r.err, "not following symbolic link 'pools/default/link.xml'"),
           "directory walk: pool and volumes found by the layout; README, hidden directory and symlink skipped");
    if (r.status != 0 || !pk_streq(r.out, "3 files valid\n")) diag_run(&r);
    run_clear(&r);

    PK(root, &r, "validate", "pools/default/a.qcow2.xml");
    tap_ok(r.status == 0 && !*r.out && !*r.err, "a volume alone finds pools/default.xml by the layout");
    run_clear(&r);
    PK(def, &r, "validate", "a.qcow2.xml");
    tap_ok(r.status == 0, "also from inside its directory");
    run_clear(&r);

    PK(root, &r, "validate", "--pool", "pools/default.xml", "pools/default/a.qcow2.xml", "pools/default/b.img.xml");
    tap_ok(r.status == 0 && !*r.err, "--pool with two volumes");
    run_clear(&r);

    PK(root, &r, "format", "pools/default/b.img.xml");
    tap_ok(r.status == 0 && strstr(r.out, "<volume type='file'>\n  <name>b.img</name>\n") &&
               strstr(r.out, "<format type='raw'/>"),
           "format of a volume uses its pool's defaults (type file, format raw)");
    if (r.status != 0) diag_run(&r);
    run_clear(&r);

    /* Errors of several files, all reported, the pool's once. */
    put(def, "c.xml", "<volume>\n  <name>c</name>\n  <capacity unit='parsec'>1</capacity>\n</volume>\n");
    _cleanup_free_ char *pool2 = path_in(pools, "broken.xml");
    _cleanup_free_ char *pool2d = path_in(pools, "broken");
    mkdir(pool2d, 0755);
    put(pools, "broken.xml", "<pool type='dir'>\n  <name>broken</name>\n</pool>\n");
    put(pool2d, "v1.xml", vol_a);
    put(pool2d, "v2.xml", vol_a);
    PK(root, &r, "validate", "pools");
    const char *e1 = strstr(r.err, "pools/broken.xml:1: error: <pool>: missing <target>");
    tap_ok(r.status == 1 && e1 && !strstr(e1 + 1, "pools/broken.xml:1: error: <pool>"),
           "an invalid pool is reported once however many volumes it has");
    tap_ok(strstr(r.err, "pools/broken/v1.xml:1: error: cannot check this volume: its pool file 'pools/broken.xml' is invalid") &&
               strstr(r.err, "pools/broken/v2.xml:1: error: cannot check this volume"),
           "and each of its volumes says why it was not checked");
    tap_ok(strstr(r.err, "pools/default/c.xml:3: error: <capacity unit='parsec'>: unknown unit 'parsec'") != NULL,
           "the other pool's bad volume is reported in the same run");
    if (r.status != 1) diag_run(&r);
    run_clear(&r);
    unlink(pool2);
    _cleanup_free_ char *v1 = path_in(pool2d, "v1.xml"), *v2 = path_in(pool2d, "v2.xml"),
                        *c = path_in(def, "c.xml");
    unlink(v1);
    unlink(v2);
    unlink(c);
    rmdir(pool2d);
}

/* ------------------------------------------------------------- in place */

static bool same_inode(const char *path, const struct stat *before)
{
    struct stat st;
    return stat(path, &st) == 0 && st.st_ino == before->st_ino;
}

static size_t count_entries(const char *dir)
{
    size_t n = 0;
    DIR *d = opendir(dir);
    for (struct dirent *de; d && (de = readdir(d));) n += de->d_name[0] != '.' || strlen(de->d_name) > 2;
    if (d) closedir(d);
    return n;
}

static void test_in_place(const char *tmp)
{
    _cleanup_free_ char *dir = path_in(tmp, "inplace");
    mkdir(dir, 0755);
    _cleanup_free_ char *src = pk_asprintf("%s/data/libvirt/pool/in/pool-dir.xml", tap_data_dir());
    _cleanup_free_ char *outp = pk_asprintf("%s/data/libvirt/pool/out/pool-dir.xml", tap_data_dir());
    _cleanup_free_ char *in_text = slurp(src, NULL), *want = slurp(outp, NULL);
    if (!in_text || !want) {
        tap_skip("no conformance fixtures", "format --in-place");
        return;
    }
    _cleanup_free_ char *file = path_in(dir, "pool.xml");
    spit(file, in_text, strlen(in_text));
    chmod(file, 0640);
    struct stat before;
    stat(file, &before);

    run_result r;
    PK(dir, &r, "format", "--in-place", "pool.xml");
    _cleanup_free_ char *now = slurp(file, NULL);
    struct stat after;
    stat(file, &after);
    tap_ok(r.status == 0 && !*r.out && pk_streq(now, want), "format --in-place rewrites the file canonically");
    if (r.status != 0) diag_run(&r);
    tap_is_int(after.st_mode & 07777, 0640, "and keeps its mode");
    tap_ok(!same_inode(file, &before), "through a new file renamed over the old one");
    tap_is_int((long long)count_entries(dir), 1, "and leaves no temporary file behind");
    run_clear(&r);

    PK(dir, &r, "format", "-i", "pool.xml");
    tap_ok(r.status == 0 && same_inode(file, &after), "an already canonical file is not rewritten");
    run_clear(&r);

    /* Invalid: errors, exit 1, the file exactly as it was. */
    const char *broken = "<pool type='dir'>\n  <name>x</name>\n  <uuid>nope</uuid>\n</pool>\n";
    spit(file, broken, strlen(broken));
    stat(file, &before);
    PK(dir, &r, "format", "--in-place", "pool.xml");
    _cleanup_free_ char *kept = slurp(file, NULL);
    tap_ok(r.status == 1 && strstr(r.err, "pool.xml:3: error: <uuid>: malformed uuid 'nope'") && !*r.out,
           "format --in-place of an invalid file reports the errors");
    tap_ok(pk_streq(kept, broken) && same_inode(file, &before), "and leaves it untouched");
    tap_is_int((long long)count_entries(dir), 1, "with no temporary file behind");
    run_clear(&r);

    /* Through a symbolic link: the target is rewritten, the link stays. */
    spit(file, in_text, strlen(in_text));
    _cleanup_free_ char *link = path_in(dir, "link.xml");
    if (symlink("pool.xml", link) < 0) tap_diag("symlink: %s", strerror(errno));
    PK(dir, &r, "format", "--in-place", "link.xml");
    struct stat lst;
    _cleanup_free_ char *via = slurp(file, NULL);
    tap_ok(r.status == 0 && lstat(link, &lst) == 0 && S_ISLNK(lst.st_mode) && pk_streq(via, want),
           "format --in-place through a symbolic link rewrites its target");
    run_clear(&r);
}

/* ------------------------------------------------------------ repo mode */

static int git(const char *dir, const char *a1, const char *a2, const char *a3)
{
    char *argv[] = { "git", "-C", (char *)dir, "-c", "user.name=t", "-c", "user.email=t@example.com",
                     "-c", "commit.gpgsign=false", (char *)a1, (char *)a2, (char *)a3, NULL };
    _cleanup_free_ char *out = NULL;
    return tap_run(argv, &out);
}

static void test_repo(const char *tmp)
{
    _cleanup_free_ char *root = path_in(tmp, "repo");
    _cleanup_free_ char *pools = path_in(root, "pools");
    _cleanup_free_ char *def = path_in(pools, "default");
    mkdir(root, 0755);
    mkdir(pools, 0755);
    mkdir(def, 0755);
    put(pools, "default.xml", dir_pool);
    put(def, "a.qcow2.xml", vol_a);
    char *init[] = { "git", "init", "-q", root, NULL };
    _cleanup_free_ char *ignored = NULL;
    if (tap_run(init, &ignored) != 0 || git(root, "add", "-A", NULL) != 0 ||
        git(root, "commit", "-qm", "desired state") != 0) {
        tap_skip("git is not available", "repository mode");
        return;
    }
    run_result r;
    PK(tmp, &r, "validate", "repo");
    bool ok = r.status == 0 && pk_str_has_prefix(r.out, "desired state @") &&
              pk_str_has_suffix(r.out, ": 1 pools, 1 volumes: valid\n") && strlen(r.out) == 50;
    tap_ok(ok, "validate REPO: the commit is loaded and summarised");
    if (!ok) diag_run(&r);
    run_clear(&r);

    PK(tmp, &r, "validate", "-q", "--desired", "repo");
    tap_ok(r.status == 0 && !*r.out && !*r.err, "validate -q --desired REPO prints nothing");
    run_clear(&r);

    /* Break the work tree: the commit is still fine, the work tree not. */
    put(def, "a.qcow2.xml", "<volume>\n  <name>a.qcow2</name>\n  <capacity unit='GiB'>-1</capacity>\n</volume>\n");
    PK(tmp, &r, "validate", "repo");
    tap_ok(r.status == 0, "the committed state is still valid");
    run_clear(&r);
    PK(tmp, &r, "validate", "--worktree", "repo");
    tap_ok(r.status == 1 && strstr(r.err, "pools/default/a.qcow2.xml:3: error:") && strstr(r.err, "'-1'"),
           "validate --worktree REPO reports the uncommitted error with file:line");
    if (r.status != 1) diag_run(&r);
    run_clear(&r);

    /* Commit it: now --ref picks old or new. */
    git(root, "commit", "-qam", "break it");
    PK(tmp, &r, "validate", "--desired", "repo");
    tap_ok(r.status == 1 && strstr(r.err, "a.qcow2.xml:3: error:"), "the new commit is invalid");
    run_clear(&r);
    PK(tmp, &r, "validate", "--desired", "repo", "--ref", "HEAD~1");
    tap_ok(r.status == 0 && strstr(r.out, ": 1 pools, 1 volumes: valid"), "--ref HEAD~1 is the valid one");
    if (r.status != 0) diag_run(&r);
    run_clear(&r);

    /* Cross-file checks only exist in repository mode. */
    git(root, "revert", "--no-edit", "HEAD");
    put(pools, "default.xml", "<pool type='dir'>\n  <name>other</name>\n  <target><path>/srv/o</path></target>\n</pool>\n");
    PK(tmp, &r, "validate", "--worktree", "repo");
    tap_ok(r.status == 1 && strstr(r.err, "pools/default.xml:"), "a pool whose <name> is not its file name is refused");
    run_clear(&r);
    PK(root, &r, "validate", "pools/default.xml");
    tap_ok(r.status == 0, "while the file alone is a valid pool");
    run_clear(&r);

    PK(tmp, &r, "validate", "--pool", "x.xml", "repo");
    tap_ok(r.status == 1 && strstr(r.err, "--pool"), "--pool makes no sense for a repository");
    run_clear(&r);
}

/* ----------------------------------------------------------------- misc */

static void test_usage(const char *tmp)
{
    run_result r;
    PK(tmp, &r, "help", "validate");
    tap_ok(r.status == 0 && strstr(r.out, "Usage: poolkeeper validate") && strstr(r.out, "--pool POOL.xml") &&
               strstr(r.out, "FILE:LINE: error: MESSAGE") && strstr(r.out, "Exit status"),
           "help validate explains arguments, output and exit status");
    run_clear(&r);
    PK(tmp, &r, "format", "--help");
    tap_ok(r.status == 0 && strstr(r.out, "--in-place") && strstr(r.out, "Exit status"), "format --help");
    run_clear(&r);
    PK(tmp, &r, "validate", "--frobnicate", "x.xml");
    tap_ok(r.status == 1 && strstr(r.err, "unknown option '--frobnicate'"), "unknown option refused");
    run_clear(&r);
    PK(tmp, &r, "validate", "--in-place", "x.xml");
    tap_ok(r.status == 1 && strstr(r.err, "unknown option '--in-place'"), "--in-place is for format only");
    run_clear(&r);
    PK(tmp, &r, "validate", "x.xml", "--pool");
    tap_ok(r.status == 1 && strstr(r.err, "needs a value"), "--pool without its value");
    run_clear(&r);
    PK(tmp, &r, "format", "a.xml", "b.xml");
    tap_ok(r.status == 1 && strstr(r.err, "exactly one FILE"), "format takes one file");
    run_clear(&r);
    PK(tmp, &r, "format");
    tap_ok(r.status == 1 && strstr(r.err, "exactly one FILE"), "format needs a file");
    run_clear(&r);
}

int main(void)
{
    poolkeeper = getenv("POOLKEEPER");
    if (!poolkeeper) tap_bail("POOLKEEPER is not set");
    _cleanup_free_ char *tmp = tap_tmpdir("clixml");
    test_usage(tmp);
    test_corpus();
    test_generated(tmp);
    test_conformance();
    test_layout(tmp);
    test_in_place(tmp);
    test_repo(tmp);
    return tap_done();
}
