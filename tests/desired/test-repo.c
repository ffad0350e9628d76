/* The desired-state loader against real git repositories, built here with
 * libgit2: commits, branches, tags, a bare remote over file://, subdirs with
 * %H, the work tree, every cross-object check, and bad input. */
#include "../tap.h"
#include "../../desired/repo.h"
#include <arpa/inet.h>
#include <errno.h>
#include <git2.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* ---------- building repositories ---------- */

static void must(int r, const char *what)
{
    if (r < 0) {
        const git_error *e = git_error_last();
        tap_bail("%s: %s", what, e ? e->message : "?");
    }
}

static void mkdirs(const char *path)
{
    _cleanup_free_ char *p = pk_strdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST) tap_bail("mkdir %s: %s", p, strerror(errno));
        *s = '/';
    }
    if (mkdir(p, 0755) < 0 && errno != EEXIST) tap_bail("mkdir %s: %s", p, strerror(errno));
}

static void put(const char *root, const char *rel, const char *content)
{
    _cleanup_free_ char *path = pk_asprintf("%s/%s", root, rel);
    _cleanup_free_ char *dir = pk_strdup(path);
    *strrchr(dir, '/') = '\0';
    mkdirs(dir);
    FILE *f = fopen(path, "w");
    if (!f) tap_bail("open %s: %s", path, strerror(errno));
    fputs(content, f);
    fclose(f);
}

static void rm(const char *root, const char *rel)
{
    _cleanup_free_ char *path = pk_asprintf("%s/%s", root, rel);
    if (unlink(path) < 0) tap_bail("unlink %s: %s", path, strerror(errno));
}

static void symlink_at(const char *root, const char *rel, const char *target)
{
    _cleanup_free_ char *path = pk_asprintf("%s/%s", root, rel);
    if (symlink(target, path) < 0) tap_bail("symlink %s: %s", path, strerror(errno));
}

static char *pool_xml(const char *name, const char *path)
{
    return pk_asprintf("<pool type='dir'>\n  <name>%s</name>\n  <target>\n    <path>%s</path>\n  </target>\n</pool>\n",
                       name, path);
}

static char *vol_xml(const char *name, const char *format)
{
    return pk_asprintf("<volume>\n  <name>%s</name>\n  <capacity unit='MiB'>1</capacity>\n"
                       "  <target>\n    <format type='%s'/>\n  </target>\n</volume>\n", name, format);
}

static void put_pool(const char *root, const char *prefix, const char *name, const char *path)
{
    _cleanup_free_ char *rel = pk_asprintf("%spools/%s.xml", prefix, name);
    _cleanup_free_ char *xml = pool_xml(name, path);
    put(root, rel, xml);
}

static void put_vol(const char *root, const char *prefix, const char *pool, const char *name, const char *format)
{
    _cleanup_free_ char *rel = pk_asprintf("%spools/%s/%s.xml", prefix, pool, name);
    _cleanup_free_ char *xml = vol_xml(name, format);
    put(root, rel, xml);
}

static git_repository *mkrepo(const char *dir, bool bare)
{
    git_repository_init_options o = GIT_REPOSITORY_INIT_OPTIONS_INIT;
    o.flags = GIT_REPOSITORY_INIT_MKPATH | (bare ? GIT_REPOSITORY_INIT_BARE : 0);
    o.initial_head = "main";
    git_repository *r = NULL;
    must(git_repository_init_ext(&r, dir, &o), "init");
    return r;
}

static int64_t clock_s = 1700000000;

/* Commit everything in the work tree (additions and removals) on HEAD.
 * `gitlink`, if set, adds a submodule entry at that path. Returns the id. */
static char *commit_all_with(git_repository *repo, const char *msg, const char *gitlink)
{
    git_index *idx = NULL;
    must(git_repository_index(&idx, repo), "index");
    char *star = "*";
    git_strarray ps = { &star, 1 };
    must(git_index_add_all(idx, &ps, GIT_INDEX_ADD_FORCE, NULL, NULL), "add_all");
    must(git_index_update_all(idx, &ps, NULL, NULL), "update_all");
    if (gitlink) {
        git_index_entry e = { 0 };
        e.path = gitlink;
        e.mode = GIT_FILEMODE_COMMIT;
        must(git_oid_fromstr(&e.id, "0123456789abcdef0123456789abcdef01234567"), "oid");
        must(git_index_add(idx, &e), "index_add gitlink");
    }
    must(git_index_write(idx), "index_write");
    git_oid tree_id, commit_id, parent_id;
    must(git_index_write_tree(&tree_id, idx), "write_tree");
    git_index_free(idx);
    git_tree *tree = NULL;
    must(git_tree_lookup(&tree, repo, &tree_id), "tree_lookup");
    git_signature *sig = NULL;
    must(git_signature_new(&sig, "Test", "test@example.invalid", clock_s++, 0), "signature");
    git_commit *parent = NULL;
    if (git_reference_name_to_id(&parent_id, repo, "HEAD") == 0)
        must(git_commit_lookup(&parent, repo, &parent_id), "parent");
    const git_commit *parents[] = { parent };
    must(git_commit_create(&commit_id, repo, "HEAD", sig, sig, NULL, msg, tree, parent ? 1 : 0, parents),
         "commit");
    git_commit_free(parent);
    git_signature_free(sig);
    git_tree_free(tree);
    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr(hex, sizeof(hex), &commit_id);
    return pk_strdup(hex);
}

static char *commit_all(git_repository *repo, const char *msg)
{
    return commit_all_with(repo, msg, NULL);
}

static void branch(git_repository *repo, const char *name, const char *hex)
{
    git_oid id;
    git_commit *c = NULL;
    git_reference *ref = NULL;
    must(git_oid_fromstr(&id, hex), "oid");
    must(git_commit_lookup(&c, repo, &id), "lookup");
    must(git_branch_create(&ref, repo, name, c, 0), "branch");
    git_reference_free(ref);
    git_commit_free(c);
}

static void tag(git_repository *repo, const char *name, const char *hex, bool annotated)
{
    git_oid id, tag_id;
    git_object *obj = NULL;
    must(git_oid_fromstr(&id, hex), "oid");
    must(git_object_lookup(&obj, repo, &id, GIT_OBJECT_COMMIT), "lookup");
    if (annotated) {
        git_signature *sig = NULL;
        must(git_signature_new(&sig, "Test", "test@example.invalid", clock_s++, 0), "signature");
        must(git_tag_create(&tag_id, repo, name, obj, sig, "release", 0), "tag");
        git_signature_free(sig);
    } else {
        must(git_tag_create_lightweight(&tag_id, repo, name, obj, 0), "tag");
    }
    git_object_free(obj);
}

/* Bring the branches of `from` (a path) into the bare repository `to`, as a
 * push would. */
static void fetch_into(git_repository *to, const char *from, char *spec)
{
    /* Skipping url.*.insteadOf avoids a libgit2 1.5 leak (see repo.c). */
    git_remote_create_options co = GIT_REMOTE_CREATE_OPTIONS_INIT;
    co.repository = to;
    co.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
    git_remote *remote = NULL;
    must(git_remote_create_with_opts(&remote, from, &co), "anonymous remote");
    git_strarray specs = { &spec, 1 };
    must(git_remote_fetch(remote, &specs, NULL, NULL), "sync fetch");
    git_remote_free(remote);
}

static void sync_to(git_repository *to, const char *from)
{
    fetch_into(to, from, "+refs/heads/*:refs/heads/*");
}

/* ---------- looking at results ---------- */

static pk_desired *load(const pk_repo_opts *o, pk_err **errs)
{
    pk_err_free(*errs);
    *errs = NULL;
    return pk_repo_load(o, errs);
}

static void dump(const pk_err *errs)
{
    for (; errs; errs = errs->next) {
        _cleanup_free_ char *s = pk_err_str(errs);
        tap_diag("  %s", s);
    }
}

/* An error about `file` (NULL: any) at `line` (-1: any, 0: none) whose text
 * contains `needle`. */
static bool has_err(const pk_err *errs, const char *file, int line, const char *needle)
{
    for (const pk_err *e = errs; e; e = e->next) {
        if (file && !pk_streq(e->file, file)) continue;
        if (line >= 0 && e->line != line) continue;
        _cleanup_free_ char *s = pk_err_str(e);
        if (strstr(s, needle)) return true;
    }
    return false;
}

static void expect_err(const pk_err *errs, const char *file, int line, const char *needle)
{
    if (!tap_ok(has_err(errs, file, line, needle), "error %s:%d '%s'", file ? file : "-", line, needle))
        dump(errs);
}

static void expect_loaded(const pk_desired *d, const pk_err *errs, const char *what)
{
    if (!tap_ok(d != NULL && errs == NULL, "%s loads", what)) dump(errs);
}

static size_t vol_count(const pk_desired *d, const char *pool)
{
    const pk_desired_pool *p = pk_desired_find_pool(d, pool);
    return p ? p->n_vols : (size_t)-1;
}

/* ---------- tests ---------- */

static void test_basic(const char *tmp)
{
    _cleanup_free_ char *wt = pk_asprintf("%s/basic", tmp);
    git_repository *repo = mkrepo(wt, false);
    put_pool(wt, "", "default", "/tmp/pk-test/default");
    put_vol(wt, "", "default", "web.qcow2", "qcow2");
    put_vol(wt, "", "default", "a.raw", "raw");
    put_pool(wt, "", "scratch", "/tmp/pk-test/scratch");
    put(wt, "README.md", "not a pool\n");
    put(wt, "pools/README", "ignored\n");
    put(wt, "pools/.gitkeep", "");
    put(wt, "pools/x.txt", "ignored\n");
    put(wt, "pools/default/notes.txt", "ignored\n");
    put(wt, "pools/default/.snapshots/README", "ignored: no .xml below\n");
    _cleanup_free_ char *head = commit_all(repo, "first");

    pk_repo_opts o = { .path = wt };
    pk_err *errs = NULL;
    _cleanup_(pk_desired_freep) pk_desired *d = load(&o, &errs);
    expect_loaded(d, errs, "a repository with two pools");
    if (d) {
        tap_is_int((long long)d->n_pools, 2, "two pools");
        tap_is_str(d->pools[0].pool->name, "default", "pools sorted by name (1)");
        tap_is_str(d->pools[1].pool->name, "scratch", "pools sorted by name (2)");
        tap_is_str(d->commit, head, "commit id is HEAD's");
        tap_is_str(d->ref, "HEAD", "ref defaults to HEAD");
        tap_is_str(d->root, wt, "root is the path");
        tap_ok(!d->worktree && !d->warnings && !d->subdir, "commit mode, no warnings, no subdir");
        const pk_desired_pool *p = pk_desired_find_pool(d, "default");
        tap_ok(p && p->n_vols == 2, "default has two volumes");
        if (p && p->n_vols == 2) {
            tap_is_str(p->vols[0]->name, "a.raw", "volumes sorted by name (1)");
            tap_is_str(p->vols[1]->name, "web.qcow2", "volumes sorted by name (2)");
            tap_is_str(p->vols[1]->file, "pools/default/web.qcow2.xml", "volume remembers its file");
            tap_is_int(p->vols[1]->line, 1, "volume remembers its line");
            tap_ok(pk_desired_find_vol(p, "web.qcow2") == p->vols[1], "find_vol");
            tap_ok(pk_desired_find_vol(p, "nope") == NULL, "find_vol of an unknown name");
            _cleanup_free_ char *cite = pk_desired_cite(d, p->vols[1]->file, 4);
            _cleanup_free_ char *want = pk_asprintf("pools/default/web.qcow2.xml:4 @%.7s", head);
            tap_is_str(cite, want, "cite gives file:line @short");
        }
        tap_is_str(p ? p->pool->file : NULL, "pools/default.xml", "pool remembers its file");
        tap_is_int(p ? p->pool->line : 0, 1, "pool remembers its line");
        tap_ok(pk_desired_find_pool(d, "nope") == NULL, "find_pool of an unknown name");
        tap_is_int((long long)vol_count(d, "scratch"), 0, "scratch has no volumes");
        char buf[16];
        _cleanup_free_ char *want = pk_asprintf("%.7s", head);
        tap_is_str(pk_desired_short(d, buf), want, "short id");
    }
    tap_ok(pk_repo_looks_like(wt), "looks_like: a repository");
    tap_ok(!pk_repo_looks_like(tmp), "looks_like: a plain directory without pools/");
    pk_err_free(errs);
    git_repository_free(repo);
}

static void test_refs(const char *tmp)
{
    _cleanup_free_ char *wt = pk_asprintf("%s/refs", tmp);
    git_repository *repo = mkrepo(wt, false);
    put_pool(wt, "", "a", "/tmp/pk-test/a");
    _cleanup_free_ char *c1 = commit_all(repo, "one pool");
    branch(repo, "old", c1);
    tag(repo, "v1", c1, false);
    tag(repo, "v1a", c1, true);
    put_pool(wt, "", "b", "/tmp/pk-test/b");
    _cleanup_free_ char *c2 = commit_all(repo, "two pools");

    pk_err *errs = NULL;
    struct { const char *ref, *branch; size_t pools; const char *commit; } cases[] = {
        { NULL, NULL, 2, c2 }, { "HEAD", NULL, 2, c2 }, { "main", NULL, 2, c2 },
        { "HEAD~1", NULL, 1, c1 }, { "old", NULL, 1, c1 }, { "v1", NULL, 1, c1 },
        { "v1a", NULL, 1, c1 }, { c1, NULL, 1, c1 }, { NULL, "old", 1, c1 }, { NULL, "main", 2, c2 },
    };
    for (size_t i = 0; i < PK_NELEM(cases); i++) {
        pk_repo_opts o = { .path = wt, .ref = cases[i].ref, .branch = cases[i].branch };
        _cleanup_(pk_desired_freep) pk_desired *d = load(&o, &errs);
        const char *name = cases[i].ref ? cases[i].ref : cases[i].branch ? cases[i].branch : "(default)";
        expect_loaded(d, errs, name);
        tap_is_int(d ? (long long)d->n_pools : -1, (long long)cases[i].pools, "%s: pools", name);
        tap_is_str(d ? d->commit : NULL, cases[i].commit, "%s: commit", name);
        tap_is_str(d ? d->ref : NULL, cases[i].ref ? cases[i].ref : cases[i].branch ? cases[i].branch : "HEAD",
                   "%s: ref recorded", name);
    }
    _cleanup_free_ char *abbrev = pk_asprintf("%.10s", c1);
    pk_repo_opts o = { .path = wt, .ref = abbrev };
    _cleanup_(pk_desired_freep) pk_desired *d = load(&o, &errs);
    tap_is_str(d ? d->commit : NULL, c1, "abbreviated commit id");

    o = (pk_repo_opts){ .path = wt, .ref = "nope" };
    tap_ok(!load(&o, &errs), "unknown ref: no desired set");
    expect_err(errs, NULL, 0, "ref 'nope' not found");
    o = (pk_repo_opts){ .path = wt, .branch = "v1" };
    tap_ok(!load(&o, &errs), "a tag is not a branch");
    expect_err(errs, NULL, 0, "branch 'v1' not found");
    o = (pk_repo_opts){ .path = wt, .ref = "HEAD~5" };
    tap_ok(!load(&o, &errs), "ref past the root commit");
    expect_err(errs, NULL, 0, "ref 'HEAD~5' not found");
    o = (pk_repo_opts){ .path = wt, .ref = "HEAD^{tree}" };
    tap_ok(!load(&o, &errs), "a tree is not a commit");
    expect_err(errs, NULL, 0, "does not name a commit");

    /* Detached HEAD: fine, the commit is known. */
    git_oid id;
    must(git_oid_fromstr(&id, c1), "oid");
    must(git_repository_set_head_detached(repo, &id), "detach");
    o = (pk_repo_opts){ .path = wt };
    _cleanup_(pk_desired_freep) pk_desired *det = load(&o, &errs);
    expect_loaded(det, errs, "detached HEAD");
    tap_is_str(det ? det->commit : NULL, c1, "detached HEAD: its commit");

    /* A bare repository given as the path. */
    _cleanup_free_ char *bare = pk_asprintf("%s/refs-bare.git", tmp);
    git_repository *b = mkrepo(bare, true);
    sync_to(b, wt);
    o = (pk_repo_opts){ .path = bare };
    _cleanup_(pk_desired_freep) pk_desired *bd = load(&o, &errs);
    expect_loaded(bd, errs, "bare repository");
    tap_is_str(bd ? bd->commit : NULL, c2, "bare repository: HEAD is main");
    git_repository_free(b);
    pk_err_free(errs);
    git_repository_free(repo);
}

static void test_worktree(const char *tmp)
{
    _cleanup_free_ char *wt = pk_asprintf("%s/wt", tmp);
    git_repository *repo = mkrepo(wt, false);
    put_pool(wt, "", "a", "/tmp/pk-test/wt-a");
    put_vol(wt, "", "a", "v.raw", "raw");
    _cleanup_free_ char *c1 = commit_all(repo, "one");
    put_pool(wt, "", "new", "/tmp/pk-test/wt-new");
    rm(wt, "pools/a/v.raw.xml");

    pk_err *errs = NULL;
    pk_repo_opts o = { .path = wt };
    _cleanup_(pk_desired_freep) pk_desired *d = load(&o, &errs);
    expect_loaded(d, errs, "commit with uncommitted changes");
    tap_ok(d && !pk_desired_find_pool(d, "new") && vol_count(d, "a") == 1, "uncommitted changes are not seen");

    o.worktree = true;
    _cleanup_(pk_desired_freep) pk_desired *w = load(&o, &errs);
    expect_loaded(w, errs, "work tree");
    tap_ok(w && pk_desired_find_pool(w, "new") && vol_count(w, "a") == 0, "work tree shows uncommitted changes");
    tap_ok(w && w->worktree && !w->commit, "work tree: no commit");
    tap_is_str(w ? w->ref : NULL, "worktree", "work tree: ref");
    _cleanup_free_ char *cite = pk_desired_cite(w, "pools/new.xml", 2);
    tap_is_str(cite, "pools/new.xml:2 @worktree", "work tree citation");

    /* A plain directory, no git at all. */
    _cleanup_free_ char *plain = pk_asprintf("%s/plain", tmp);
    put_pool(plain, "", "p", "/tmp/pk-test/plain");
    put_vol(plain, "", "p", "x.raw", "raw");
    o = (pk_repo_opts){ .path = plain, .worktree = true };
    _cleanup_(pk_desired_freep) pk_desired *pd = load(&o, &errs);
    expect_loaded(pd, errs, "plain directory in work tree mode");
    tap_is_int(pd ? (long long)vol_count(pd, "p") : -1, 1, "plain directory: its volume");
    tap_ok(pk_repo_looks_like(plain), "looks_like: a directory with pools/");
    o.worktree = false;
    tap_ok(!load(&o, &errs), "plain directory in commit mode fails");
    expect_err(errs, NULL, 0, "is not a git repository");

    /* Work tree refusals: symlinks, special files, huge files, stray xml. */
    _cleanup_free_ char *bad = pk_asprintf("%s/wt-bad", tmp);
    put_pool(bad, "", "p", "/tmp/pk-test/wt-bad");
    symlink_at(bad, "pools/link.xml", "p.xml");
    put(bad, "pools/p/deep/x.xml", "<volume/>");
    _cleanup_free_ char *fifo = pk_asprintf("%s/pools/p/fifo.xml", bad);
    if (mkfifo(fifo, 0600) < 0) tap_bail("mkfifo: %s", strerror(errno));
    _cleanup_free_ char *huge = pk_calloc(1, PK_XML_MAX_BYTES + 2);
    memset(huge, ' ', PK_XML_MAX_BYTES + 1);
    put(bad, "pools/huge.xml", huge);
    put(bad, "other/ok.xml", "outside pools/: not ours");
    o = (pk_repo_opts){ .path = bad, .worktree = true };
    tap_ok(!load(&o, &errs), "work tree with bad entries fails");
    expect_err(errs, "pools/link.xml", 0, "symbolic links are not allowed");
    expect_err(errs, "pools/p/deep/x.xml", 0, "unexpected file");
    expect_err(errs, "pools/p/fifo.xml", 0, "not a regular file");
    expect_err(errs, "pools/huge.xml", 0, "file is too large (1048577 bytes");
    tap_ok(!has_err(errs, "other/ok.xml", -1, ""), "files outside pools/ are not looked at");

    /* pools/ itself a symbolic link */
    _cleanup_free_ char *lnk = pk_asprintf("%s/wt-link", tmp);
    mkdirs(lnk);
    symlink_at(lnk, "pools", plain);
    o = (pk_repo_opts){ .path = lnk, .worktree = true };
    tap_ok(!load(&o, &errs), "pools/ as a symbolic link fails");
    expect_err(errs, "pools", 0, "symbolic links are not allowed");
    pk_err_free(errs);
    git_repository_free(repo);
}

static void test_subdir(const char *tmp)
{
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    host[strcspn(host, ".")] = '\0';
    _cleanup_free_ char *wt = pk_asprintf("%s/fleet", tmp);
    git_repository *repo = mkrepo(wt, false);
    _cleanup_free_ char *mine = pk_asprintf("hosts/%s/", host);
    put_pool(wt, mine, "local", "/tmp/pk-test/local");
    put_vol(wt, mine, "local", "v.raw", "raw");
    put_pool(wt, "hosts/other-host/", "theirs", "/tmp/pk-test/theirs");
    put_pool(wt, "", "top", "/tmp/pk-test/top");
    _cleanup_free_ char *c = commit_all(repo, "fleet");

    pk_err *errs = NULL;
    pk_repo_opts o = { .path = wt, .subdir = "hosts/%H" };
    _cleanup_(pk_desired_freep) pk_desired *d = load(&o, &errs);
    expect_loaded(d, errs, "subdir hosts/%H");
    tap_ok(d && d->n_pools == 1 && pk_desired_find_pool(d, "local"), "subdir: only this host's pools");
    _cleanup_free_ char *sub = pk_asprintf("hosts/%s", host);
    tap_is_str(d ? d->subdir : NULL, sub, "subdir resolved");
    _cleanup_free_ char *file = pk_asprintf("hosts/%s/pools/local/v.raw.xml", host);
    const pk_desired_pool *p = pk_desired_find_pool(d, "local");
    tap_is_str(p && p->n_vols ? p->vols[0]->file : NULL, file, "files are cited from the repository root");

    o.subdir = "/./hosts//%H/";
    _cleanup_(pk_desired_freep) pk_desired *d2 = load(&o, &errs);
    tap_ok(d2 && d2->n_pools == 1, "subdir is normalised");

    o.worktree = true;
    o.subdir = "hosts/%H";
    _cleanup_(pk_desired_freep) pk_desired *w = load(&o, &errs);
    tap_ok(w && w->n_pools == 1 && pk_desired_find_pool(w, "local"), "subdir in work tree mode");

    o = (pk_repo_opts){ .path = wt, .subdir = "hosts/nothere" };
    tap_ok(!load(&o, &errs), "missing subdir fails");
    expect_err(errs, NULL, 0, "no 'hosts/nothere/pools' directory");
    o.worktree = true;
    tap_ok(!load(&o, &errs), "missing subdir fails in work tree mode");
    expect_err(errs, NULL, 0, "no 'hosts/nothere/pools' directory");
    o = (pk_repo_opts){ .path = wt, .subdir = "hosts/%Q" };
    tap_ok(!load(&o, &errs), "unknown placeholder fails");
    expect_err(errs, NULL, 0, "unknown placeholder '%Q'");
    o = (pk_repo_opts){ .path = wt, .subdir = "hosts/../.." };
    tap_ok(!load(&o, &errs), "subdir with .. fails");
    expect_err(errs, NULL, 0, "leaves the repository");
    o = (pk_repo_opts){ .path = wt, .subdir = "" };
    _cleanup_(pk_desired_freep) pk_desired *top = load(&o, &errs);
    tap_ok(top && top->n_pools == 1 && pk_desired_find_pool(top, "top"), "empty subdir: the root");
    pk_err_free(errs);
    git_repository_free(repo);
}

static void test_remote(const char *tmp)
{
    _cleanup_free_ char *wt = pk_asprintf("%s/upstream", tmp);
    _cleanup_free_ char *bare = pk_asprintf("%s/remote.git", tmp);
    _cleanup_free_ char *moved = pk_asprintf("%s/remote-moved.git", tmp);
    _cleanup_free_ char *cache = pk_asprintf("%s/cache", tmp);
    _cleanup_free_ char *url = pk_asprintf("file://%s", bare);
    git_repository *repo = mkrepo(wt, false);
    put_pool(wt, "", "a", "/tmp/pk-test/r-a");
    _cleanup_free_ char *c1 = commit_all(repo, "one");
    tag(repo, "v1", c1, true);
    branch(repo, "old", c1);
    git_repository *b = mkrepo(bare, true);
    sync_to(b, wt);

    pk_err *errs = NULL;
    pk_repo_opts o = { .remote = url, .cache_dir = cache };
    _cleanup_(pk_desired_freep) pk_desired *d1 = load(&o, &errs);
    expect_loaded(d1, errs, "remote, first fetch");
    tap_is_str(d1 ? d1->commit : NULL, c1, "remote: the remote's HEAD");
    tap_is_str(d1 ? d1->root : NULL, url, "remote: root is the URL");

    put_pool(wt, "", "b", "/tmp/pk-test/r-b");
    _cleanup_free_ char *c2 = commit_all(repo, "two");
    sync_to(b, wt);
    _cleanup_(pk_desired_freep) pk_desired *d2 = load(&o, &errs);
    expect_loaded(d2, errs, "remote, second fetch");
    tap_is_str(d2 ? d2->commit : NULL, c2, "remote: a new commit is fetched");
    tap_ok(d2 && !d2->warnings, "remote: no warnings");

    /* Tags come along: the annotated tag from before the sync was made in
     * `repo`, so bring it over by hand as a push would. */
    fetch_into(b, wt, "+refs/tags/*:refs/tags/*");
    o.ref = "v1";
    _cleanup_(pk_desired_freep) pk_desired *dt = load(&o, &errs);
    tap_is_str(dt ? dt->commit : NULL, c1, "remote: a tag");
    o.ref = NULL;
    o.branch = "old";
    _cleanup_(pk_desired_freep) pk_desired *dbr = load(&o, &errs);
    tap_is_str(dbr ? dbr->commit : NULL, c1, "remote: a branch");
    o.branch = NULL;

    /* The remote goes away: the last fetched commit, with a warning. */
    if (rename(bare, moved) < 0) tap_bail("rename: %s", strerror(errno));
    _cleanup_(pk_desired_freep) pk_desired *d3 = load(&o, &errs);
    expect_loaded(d3, errs, "remote unreachable, earlier fetch");
    tap_is_str(d3 ? d3->commit : NULL, c2, "remote unreachable: the last fetched commit");
    tap_ok(d3 && pk_err_count(d3->warnings) == 1 && has_err(d3->warnings, NULL, 0, "cannot fetch"),
           "remote unreachable: the fetch failure is a warning");
    o.ref = "does-not-exist";
    tap_ok(!load(&o, &errs), "remote unreachable and an unknown ref: fails");
    expect_err(errs, NULL, 0, "cannot fetch");
    expect_err(errs, NULL, 0, "ref 'does-not-exist' not found");
    o.ref = NULL;
    if (rename(moved, bare) < 0) tap_bail("rename: %s", strerror(errno));

    /* A fetch that works again moves on. */
    put_pool(wt, "", "c", "/tmp/pk-test/r-c");
    _cleanup_free_ char *c3 = commit_all(repo, "three");
    sync_to(b, wt);
    _cleanup_(pk_desired_freep) pk_desired *d4 = load(&o, &errs);
    tap_is_str(d4 ? d4->commit : NULL, c3, "remote back: the new commit");

    /* Never fetched: fail closed. */
    _cleanup_free_ char *nourl = pk_asprintf("file://%s/no-such-remote.git", tmp);
    o = (pk_repo_opts){ .remote = nourl, .cache_dir = cache };
    tap_ok(!load(&o, &errs), "remote never fetched: no desired set");
    expect_err(errs, NULL, 0, "nothing was fetched before");

    /* An empty remote. */
    _cleanup_free_ char *empty = pk_asprintf("%s/empty.git", tmp);
    git_repository_free(mkrepo(empty, true));
    _cleanup_free_ char *eurl = pk_asprintf("file://%s", empty);
    o = (pk_repo_opts){ .remote = eurl, .cache_dir = cache };
    tap_ok(!load(&o, &errs), "empty remote: no desired set");
    expect_err(errs, NULL, 0, "has no commits");

    o = (pk_repo_opts){ .remote = url };
    tap_ok(!load(&o, &errs), "remote without a cache directory");
    expect_err(errs, NULL, 0, "needs a cache directory");
    o = (pk_repo_opts){ .remote = url, .cache_dir = cache, .worktree = true };
    tap_ok(!load(&o, &errs), "remote with --worktree");
    expect_err(errs, NULL, 0, "--worktree reads a local directory");
    o = (pk_repo_opts){ .remote = url, .cache_dir = cache, .path = wt };
    tap_ok(!load(&o, &errs), "remote and path together");
    expect_err(errs, NULL, 0, "exclude each other");
    pk_err_free(errs);
    git_repository_free(b);
    git_repository_free(repo);
}

/* A remote that takes the connection and never answers: the fetch is
 * given up at desired.fetch_timeout, and the commit fetched before (if
 * any) is used with a warning. */
static void test_remote_timeout(const char *tmp)
{
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof(a);
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 8) < 0 ||
        getsockname(ls, (struct sockaddr *)&a, &alen) < 0)
        tap_bail("listen on 127.0.0.1: %s", strerror(errno));
    _cleanup_free_ char *url = pk_asprintf("http://127.0.0.1:%d/desired.git", ntohs(a.sin_port));
    _cleanup_free_ char *cache = pk_asprintf("%s/cache-timeout", tmp);
    pk_repo_opts o = { .remote = url, .cache_dir = cache, .fetch_timeout_ms = 1000 };
    pk_err *errs = NULL;
    int64_t t0 = pk_monotonic_ms();
    pk_desired *d = load(&o, &errs);
    int64_t took = pk_monotonic_ms() - t0;
    tap_ok(!d && has_err(errs, NULL, 0, "no answer within 1000 ms (desired.fetch_timeout)"),
           "a silent remote never fetched: no desired set, the timeout says why");
    tap_ok(took < 30000, "given up at the deadline, not hanging (%lld ms)", (long long)took);

    /* Fetched before (here: the cache filled from a local repository). */
    _cleanup_free_ char *wt = pk_asprintf("%s/timeout-upstream", tmp);
    git_repository *up = mkrepo(wt, false);
    put_pool(wt, "", "a", "/tmp/pk-test/t-a");
    _cleanup_free_ char *c1 = commit_all(up, "one");
    uint64_t h = PK_FNV_INIT;
    pk_fnv(&h, url, strlen(url));
    _cleanup_free_ char *dir = pk_asprintf("%s/desired-%016llx.git", cache, (unsigned long long)h);
    git_repository *c = NULL;
    if (git_repository_open_bare(&c, dir) < 0) tap_bail("the cache '%s' was not made", dir);
    fetch_into(c, wt, "+refs/heads/*:refs/heads/*");
    git_repository_set_head(c, "refs/heads/main");
    git_repository_free(c);
    d = load(&o, &errs);
    tap_ok(d && pk_streq(d->commit, c1) && has_err(d->warnings, NULL, 0, "no answer within"),
           "a silent remote fetched before: that commit, with the timeout as a warning");
    pk_desired_free(d);
    pk_err_free(errs);
    git_repository_free(up);
    close(ls);
}

static const char *lv_pool =
    "<pool type='logical'>\n  <name>lv</name>\n  <source>\n    <name>vg0</name>\n"
    "    <format type='lvm2'/>\n  </source>\n  <target>\n    <path>/dev/vg0</path>\n  </target>\n</pool>\n";

static void test_checks(const char *tmp)
{
    _cleanup_free_ char *wt = pk_asprintf("%s/checks", tmp);
    git_repository *repo = mkrepo(wt, false);
    /* good */
    put_pool(wt, "", "good", "/tmp/pk-test/good");
    put_vol(wt, "", "good", "ok.raw", "raw");
    _cleanup_free_ char *mm = vol_xml("other.raw", "raw");
    put(wt, "pools/good/mismatch.raw.xml", mm);
    put(wt, "pools/good/twin.raw.xml", mm);          /* also names other.raw */
    put(wt, "pools/good/other.raw.xml", mm);
    put(wt, "pools/good/deep/stray.xml", "<volume/>");
    put(wt, "pools/good/README", "fine\n");
    put(wt, "pools/good/backing-in.qcow2.xml",
        "<volume>\n  <name>backing-in.qcow2</name>\n  <capacity unit='MiB'>1</capacity>\n"
        "  <target>\n    <format type='qcow2'/>\n  </target>\n"
        "  <backingStore>\n    <path>/tmp/pk-test/scratch/base.raw</path>\n    <format type='raw'/>\n  </backingStore>\n</volume>\n");
    put(wt, "pools/good/backing-out.qcow2.xml",
        "<volume>\n  <name>backing-out.qcow2</name>\n  <capacity unit='MiB'>1</capacity>\n"
        "  <target>\n    <format type='qcow2'/>\n  </target>\n"
        "  <backingStore>\n    <path>/etc/passwd</path>\n    <format type='raw'/>\n  </backingStore>\n</volume>\n");
    put(wt, "pools/good/backing-dotdot.qcow2.xml",
        "<volume>\n  <name>backing-dotdot.qcow2</name>\n  <capacity unit='MiB'>1</capacity>\n"
        "  <target>\n    <format type='qcow2'/>\n  </target>\n"
        "  <backingStore>\n    <path>/tmp/pk-test/good/../../../etc/shadow</path>\n    <format type='raw'/>\n  </backingStore>\n</volume>\n");
    put_pool(wt, "", "scratch", "/tmp/pk-test/scratch");
    /* a pool whose name does not match its file */
    _cleanup_free_ char *renamed = pool_xml("someone-else", "/tmp/pk-test/renamed");
    put(wt, "pools/renamed.xml", renamed);
    /* a pool file that does not parse; its volumes are still checked */
    put(wt, "pools/broken.xml", "<pool type='dir'>\n  <name>broken</name>\n</pool>\n");   /* no target */
    put(wt, "pools/broken/badfmt.xml", "<volume>\n  <name>badfmt</name>\n  <capacity>1</capacity>\n"
        "  <target>\n    <format type='no-such-format'/>\n  </target>\n</volume>\n");
    /* a pool file that is not even a pool: volumes not checked */
    put(wt, "pools/junk.xml", "this is not xml\n");
    put_vol(wt, "", "junk", "v.raw", "raw");
    /* volume directory without a pool file */
    put_vol(wt, "", "orphan", "o.raw", "raw");
    /* duplicate UUIDs and target paths */
    put(wt, "pools/u1.xml", "<pool type='dir'>\n  <name>u1</name>\n  <uuid>8a9b1c2d-0000-4000-8000-000000000001</uuid>\n"
        "  <target>\n    <path>/tmp/pk-test/u1</path>\n  </target>\n</pool>\n");
    put(wt, "pools/u2.xml", "<pool type='dir'>\n  <name>u2</name>\n  <uuid>8a9b1c2d-0000-4000-8000-000000000001</uuid>\n"
        "  <target>\n    <path>/tmp/pk-test/u2</path>\n  </target>\n</pool>\n");
    put_pool(wt, "", "t1", "/tmp/pk-test/same");
    put_pool(wt, "", "t2", "/tmp/pk-test/same/");
    put_vol(wt, "", "t1", "same.raw", "raw");
    put_vol(wt, "", "t2", "same.raw", "raw");
    /* a volume that is another pool's directory */
    put_pool(wt, "", "outer", "/tmp/pk-test/outer");
    put_pool(wt, "", "inner", "/tmp/pk-test/outer/inner");
    put_vol(wt, "", "outer", "inner", "raw");
    /* a format the pool type cannot hold */
    put(wt, "pools/lv.xml", lv_pool);
    put_vol(wt, "", "lv", "img.qcow2", "qcow2");
    /* symlinks, a submodule, a huge file, stray files */
    symlink_at(wt, "pools/link.xml", "good.xml");
    symlink_at(wt, "pools/good/vlink.raw.xml", "ok.raw.xml");
    _cleanup_free_ char *huge = pk_calloc(1, 2 * PK_XML_MAX_BYTES + 1);
    memset(huge, ' ', 2 * PK_XML_MAX_BYTES);
    put(wt, "pools/huge.xml", huge);
    put(wt, "pools/Upper.XML", "<pool type='dir'>\n  <name>Upper</name>\n  <target>\n    <path>/tmp/pk-test/Upper</path>\n  </target>\n</pool>\n");
    put(wt, "pools/notes.txt", "fine\n");
    _cleanup_free_ char *c = commit_all_with(repo, "everything wrong", "pools/sub");

    pk_err *errs = NULL;
    pk_repo_opts o = { .path = wt };
    pk_desired *d = load(&o, &errs);
    tap_ok(d == NULL, "one pass with many problems: no desired set");
    pk_desired_free(d);
    tap_diag("%zu errors:", pk_err_count(errs));
    dump(errs);
    expect_err(errs, "pools/renamed.xml", 2, "pool name 'someone-else' does not match the file name 'renamed.xml'");
    expect_err(errs, "pools/Upper.XML", 2, "pool name 'Upper' does not match the file name 'Upper.XML'");
    expect_err(errs, "pools/good/mismatch.raw.xml", 2, "volume name 'other.raw' does not match the file name 'mismatch.raw.xml'");
    expect_err(errs, "pools/good/twin.raw.xml", 2, "volume name 'other.raw' is also used by pools/good/other.raw.xml:2");
    expect_err(errs, "pools/good/deep/stray.xml", 0, "unexpected file");
    expect_err(errs, "pools/good/backing-out.qcow2.xml", 1, "backing store '/etc/passwd' of volume 'backing-out.qcow2' is outside every pool");
    expect_err(errs, "pools/good/backing-dotdot.qcow2.xml", 1, "is outside every pool");
    tap_ok(!has_err(errs, "pools/good/backing-in.qcow2.xml", -1, ""), "a backing store inside another pool is fine");
    tap_ok(has_err(errs, "pools/broken.xml", -1, ""), "the broken pool file is reported");
    tap_ok(has_err(errs, "pools/broken/badfmt.xml", -1, "no-such-format"), "volumes of a broken pool are still checked");
    tap_ok(has_err(errs, "pools/junk.xml", -1, ""), "the junk pool file is reported");
    expect_err(errs, "pools/junk", 0, "volumes not checked: the pool file 'pools/junk.xml' is invalid");
    expect_err(errs, "pools/orphan", 0, "volume directory without a pool file 'pools/orphan.xml'");
    expect_err(errs, "pools/u2.xml", 1, "pool UUID '8a9b1c2d-0000-4000-8000-000000000001' is also used by pool 'u1' (pools/u1.xml:1)");
    expect_err(errs, "pools/t2.xml", 3, "pool target path '/tmp/pk-test/same' is also used by pool 't1' (pools/t1.xml:3)");
    expect_err(errs, "pools/t2/same.raw.xml", 2, "volume path '/tmp/pk-test/same/same.raw' is also used by volume 'same.raw' of pool 't1' (pools/t1/same.raw.xml:2)");
    expect_err(errs, "pools/outer/inner.xml", 2, "volume path '/tmp/pk-test/outer/inner' is the target path of pool 'inner' (pools/inner.xml:3)");
    tap_ok(has_err(errs, "pools/lv/img.qcow2.xml", -1, "qcow2"), "a format the pool type cannot hold");
    expect_err(errs, "pools/link.xml", 0, "symbolic links are not allowed");
    expect_err(errs, "pools/good/vlink.raw.xml", 0, "symbolic links are not allowed");
    expect_err(errs, "pools/sub", 0, "submodules are not allowed");
    expect_err(errs, "pools/huge.xml", 0, "file is too large (2097152 bytes");
    tap_ok(!has_err(errs, "pools/notes.txt", -1, "") && !has_err(errs, "pools/good/README", -1, ""),
           "non-xml files are ignored");
    tap_ok(!has_err(errs, "pools/good/ok.raw.xml", -1, "") && !has_err(errs, "pools/scratch.xml", -1, ""),
           "good files have no errors");

    bool sorted = true;
    for (const pk_err *e = errs; e && e->next; e = e->next) {
        const pk_err *n = e->next;
        if (e->file && (!n->file || strcmp(e->file, n->file) > 0 ||
                        (strcmp(e->file, n->file) == 0 && e->line > n->line)))
            sorted = false;
    }
    tap_ok(sorted, "errors are sorted by file and line");

    /* Fail closed on a single bad file. */
    _cleanup_free_ char *one = pk_asprintf("%s/one-bad", tmp);
    git_repository *r1 = mkrepo(one, false);
    put_pool(one, "", "a", "/tmp/pk-test/one-a");
    put_vol(one, "", "a", "ok.raw", "raw");
    put(one, "pools/a/bad.raw.xml", "<volume>\n  <name>bad.raw</name>\n</volume>\n");
    _cleanup_free_ char *c1 = commit_all(r1, "one bad file");
    o = (pk_repo_opts){ .path = one };
    tap_ok(!load(&o, &errs), "one invalid volume: no desired set");
    tap_ok(has_err(errs, "pools/a/bad.raw.xml", -1, ""), "the invalid volume is named");
    tap_is_int((long long)pk_err_count(errs), 1, "and it is the only error");
    git_repository_free(r1);
    pk_err_free(errs);
    git_repository_free(repo);
}

/* A hand-written tree holding entries libgit2 refuses to create: '..'. */
static void test_hostile_tree(const char *tmp)
{
    _cleanup_free_ char *dir = pk_asprintf("%s/hostile.git", tmp);
    git_repository *repo = mkrepo(dir, true);
    git_odb *odb = NULL;
    must(git_repository_odb(&odb, repo), "odb");
    git_oid blob, pools, root, commit;
    _cleanup_free_ char *xml = pool_xml("x", "/tmp/pk-test/x");
    must(git_blob_create_from_buffer(&blob, repo, xml, strlen(xml)), "blob");
    pk_buf t = PK_BUF_INIT;
    pk_buf_add(&t, "100644 ..");
    pk_buf_addn(&t, "", 1);
    pk_buf_addn(&t, (const char *)blob.id, GIT_OID_RAWSZ);
    must(git_odb_write(&pools, odb, t.s, t.len, GIT_OBJECT_TREE), "odb_write");
    pk_buf_free(&t);
    pk_buf_add(&t, "40000 pools");
    pk_buf_addn(&t, "", 1);
    pk_buf_addn(&t, (const char *)pools.id, GIT_OID_RAWSZ);
    must(git_odb_write(&root, odb, t.s, t.len, GIT_OBJECT_TREE), "odb_write");
    pk_buf_free(&t);
    git_tree *tree = NULL;
    git_signature *sig = NULL;
    must(git_tree_lookup(&tree, repo, &root), "tree");
    must(git_signature_new(&sig, "Test", "test@example.invalid", clock_s++, 0), "sig");
    must(git_commit_create(&commit, repo, "HEAD", sig, sig, NULL, "hostile", tree, 0, NULL), "commit");

    pk_err *errs = NULL;
    pk_repo_opts o = { .path = dir };
    tap_ok(!load(&o, &errs), "a tree entry '..': no desired set");
    expect_err(errs, "pools/..", 0, "path leaves the repository");
    git_signature_free(sig);
    git_tree_free(tree);
    git_odb_free(odb);
    git_repository_free(repo);
    pk_err_free(errs);
}

static void test_bad_input(const char *tmp)
{
    pk_err *errs = NULL;
    _cleanup_free_ char *missing = pk_asprintf("%s/no-such-dir", tmp);
    pk_repo_opts o = { .path = missing };
    tap_ok(!load(&o, &errs), "missing path");
    expect_err(errs, NULL, 0, "cannot open desired repository");
    o.worktree = true;
    tap_ok(!load(&o, &errs), "missing path in work tree mode");
    expect_err(errs, NULL, 0, "cannot open desired directory");

    o = (pk_repo_opts){ 0 };
    tap_ok(!load(&o, &errs), "no path and no remote");
    expect_err(errs, NULL, 0, "no desired repository");

    _cleanup_free_ char *empty = pk_asprintf("%s/empty", tmp);
    git_repository_free(mkrepo(empty, false));
    o = (pk_repo_opts){ .path = empty };
    tap_ok(!load(&o, &errs), "repository without commits");
    expect_err(errs, NULL, 0, "repository '");
    expect_err(errs, NULL, 0, "has no commits");

    /* No pools/ at all is an error, never "no pools"; an empty pools/ is fine. */
    _cleanup_free_ char *nop = pk_asprintf("%s/nopools", tmp);
    git_repository *r = mkrepo(nop, false);
    put(nop, "README", "nothing\n");
    _cleanup_free_ char *c1 = commit_all(r, "no pools");
    o = (pk_repo_opts){ .path = nop };
    tap_ok(!load(&o, &errs), "commit without pools/");
    expect_err(errs, NULL, 0, "no 'pools' directory at commit");
    put(nop, "pools/.gitkeep", "");
    _cleanup_free_ char *c2 = commit_all(r, "empty pools");
    _cleanup_(pk_desired_freep) pk_desired *d = load(&o, &errs);
    expect_loaded(d, errs, "empty pools/");
    tap_is_int(d ? (long long)d->n_pools : -1, 0, "empty pools/: no pools, and that is what it says");

    /* pools as a file */
    _cleanup_free_ char *pf = pk_asprintf("%s/poolsfile", tmp);
    git_repository *r2 = mkrepo(pf, false);
    put(pf, "pools", "a file\n");
    _cleanup_free_ char *c3 = commit_all(r2, "pools is a file");
    o = (pk_repo_opts){ .path = pf };
    tap_ok(!load(&o, &errs), "pools/ is a file");
    expect_err(errs, "pools", 0, "not a directory");
    o.worktree = true;
    tap_ok(!load(&o, &errs), "pools/ is a file in work tree mode");
    expect_err(errs, "pools", 0, "not a directory");

    /* A blob missing from the object store (a damaged repository). */
    _cleanup_free_ char *dmg = pk_asprintf("%s/damaged", tmp);
    git_repository *r3 = mkrepo(dmg, false);
    put_pool(dmg, "", "p", "/tmp/pk-test/dmg");
    _cleanup_free_ char *xml = pool_xml("p", "/tmp/pk-test/dmg");
    _cleanup_free_ char *c4 = commit_all(r3, "one");
    git_oid blob;
    must(git_odb_hash(&blob, xml, strlen(xml), GIT_OBJECT_BLOB), "hash");
    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr(hex, sizeof(hex), &blob);
    _cleanup_free_ char *obj = pk_asprintf("%s/.git/objects/%.2s/%s", dmg, hex, hex + 2);
    if (unlink(obj) < 0) tap_bail("unlink %s: %s", obj, strerror(errno));
    o = (pk_repo_opts){ .path = dmg };
    tap_ok(!load(&o, &errs), "missing object");
    expect_err(errs, "pools/p.xml", 0, "cannot read file");

    /* A repository of another user: git's safe.directory rule. */
    if (geteuid() == 0) {
        _cleanup_free_ char *other = pk_asprintf("%s/others", tmp);
        git_repository *r4 = mkrepo(other, false);
        put_pool(other, "", "p", "/tmp/pk-test/others");
        _cleanup_free_ char *c5 = commit_all(r4, "one");
        git_repository_free(r4);
        if (chown(other, 65534, 65534) < 0) tap_bail("chown: %s", strerror(errno));
        _cleanup_free_ char *dotgit = pk_asprintf("%s/.git", other);
        if (chown(dotgit, 65534, 65534) < 0) tap_bail("chown: %s", strerror(errno));
        o = (pk_repo_opts){ .path = other };
        tap_ok(!load(&o, &errs), "repository of another user");
        expect_err(errs, NULL, 0, "belongs to another user (uid 65534)");
        expect_err(errs, NULL, 0, "safe.directory");
        o.worktree = true;
        _cleanup_(pk_desired_freep) pk_desired *w = load(&o, &errs);
        expect_loaded(w, errs, "repository of another user in work tree mode");
    } else {
        tap_skip("needs root to chown", "repository of another user");
    }

    git_repository_free(r);
    git_repository_free(r2);
    git_repository_free(r3);
    pk_err_free(errs);
}

/* The example repository of contrib/ stays valid. */
static void test_example(void)
{
    _cleanup_free_ char *dir = pk_asprintf("%s/../contrib/example-repo", tap_data_dir());
    pk_repo_opts o = { .path = dir, .worktree = true };
    pk_err *errs = NULL;
    _cleanup_(pk_desired_freep) pk_desired *d = load(&o, &errs);
    expect_loaded(d, errs, "contrib/example-repo");
    tap_ok(d && d->n_pools == 2 && vol_count(d, "default") == 3 && vol_count(d, "scratch") == 0,
           "example: default with 3 volumes, scratch empty");
    const pk_desired_pool *p = pk_desired_find_pool(d, "default");
    const pk_vol *db = pk_desired_find_vol(p, "db.raw");
    tap_ok(db && db->has_allocation && db->allocation == db->capacity, "example: db.raw is preallocated");
    const pk_vol *data = pk_desired_find_vol(p, "data.raw");
    tap_ok(data && data->has_allocation && data->allocation == 0, "example: data.raw is sparse");
    pk_err_free(errs);
}

/* As tap_run, with stderr captured too: git hooks talk on stderr. */
static int run_both(char *const argv[], char **out)
{
    int pfd[2];
    if (pipe(pfd) < 0) tap_bail("pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0) tap_bail("fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(pfd[1], 1);
        dup2(pfd[1], 2);
        close(pfd[0]);
        close(pfd[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(pfd[1]);
    pk_buf b = PK_BUF_INIT;
    pk_buf_add(&b, "");
    char chunk[4096];
    ssize_t r;
    while ((r = read(pfd[0], chunk, sizeof(chunk))) > 0) pk_buf_addn(&b, chunk, (size_t)r);
    close(pfd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    if (out) *out = pk_buf_steal(&b);
    else pk_buf_free(&b);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int git_cli(const char *dir, char **out, ...)
{
    char *argv[16] = { "git", "-C", (char *)dir, "-c", "user.name=Test", "-c", "user.email=test@example.invalid" };
    int n = 7;
    va_list ap;
    va_start(ap, out);
    for (char *a; n < 15 && (a = va_arg(ap, char *)); ) argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    return run_both(argv, out);
}

/* contrib/pre-commit-hook, run by git itself on real commits. */
static void test_pre_commit_hook(const char *tmp)
{
    char *version[] = { "git", "--version", NULL };
    _cleanup_free_ char *v = NULL;
    if (!getenv("POOLKEEPER") || tap_run(version, &v) != 0) {
        tap_skip("needs the git program and $POOLKEEPER", "pre-commit hook");
        return;
    }
    _cleanup_free_ char *dir = pk_asprintf("%s/hooked", tmp);
    char *init[] = { "git", "init", "-q", "-b", "main", dir, NULL };
    tap_is_int(tap_run(init, NULL), 0, "hook: git init");
    _cleanup_free_ char *hook = pk_asprintf("%s/../contrib/pre-commit-hook", tap_data_dir());
    _cleanup_free_ char *dst = pk_asprintf("%s/.git/hooks/pre-commit", dir);
    char *cp[] = { "cp", hook, dst, NULL };
    tap_is_int(tap_run(cp, NULL), 0, "hook: installed");
    chmod(dst, 0755);

    put_pool(dir, "", "a", "/tmp/pk-test/hook-a");
    put_vol(dir, "", "a", "v.raw", "raw");
    put_pool(dir, "hosts/h1/", "b", "/tmp/pk-test/hook-b");
    git_cli(dir, NULL, "add", "-A", NULL);
    _cleanup_free_ char *out1 = NULL;
    int rc = git_cli(dir, &out1, "commit", "-q", "-m", "valid", NULL);
    if (!tap_is_int(rc, 0, "hook: a valid commit is accepted")) tap_diag("%s", out1);

    _cleanup_free_ char *head1 = NULL, *head2 = NULL;
    git_cli(dir, &head1, "rev-parse", "HEAD", NULL);
    _cleanup_free_ char *bad = vol_xml("other.raw", "raw");
    put(dir, "hosts/h1/pools/b/w.raw.xml", bad);
    git_cli(dir, NULL, "add", "-A", NULL);
    _cleanup_free_ char *out2 = NULL;
    rc = git_cli(dir, &out2, "commit", "-q", "-m", "invalid", NULL);
    tap_ok(rc != 0, "hook: an invalid commit is refused");
    tap_ok(out2 && strstr(out2, "in 'hosts/h1/' is invalid") &&
           strstr(out2, "pools/b/w.raw.xml:2: error: volume name 'other.raw' does not match"),
           "hook: says which file and why");
    git_cli(dir, &head2, "rev-parse", "HEAD", NULL);
    tap_is_str(head2, head1, "hook: nothing was committed");

    /* Only what is staged counts: fix the index, leave junk in the work tree. */
    git_cli(dir, NULL, "rm", "-q", "--cached", "hosts/h1/pools/b/w.raw.xml", NULL);
    put(dir, "pools/junk.xml", "not xml");
    _cleanup_free_ char *ok = vol_xml("w2.raw", "raw");
    put(dir, "pools/a/w2.raw.xml", ok);
    git_cli(dir, NULL, "add", "pools/a/w2.raw.xml", NULL);
    _cleanup_free_ char *out3 = NULL;
    rc = git_cli(dir, &out3, "commit", "-q", "-m", "staged part is valid", NULL);
    if (!tap_is_int(rc, 0, "hook: unstaged junk does not block a valid commit")) tap_diag("%s", out3);

    git_cli(dir, NULL, "add", "pools/junk.xml", NULL);
    _cleanup_free_ char *out4 = NULL;
    rc = git_cli(dir, &out4, "commit", "-q", "-m", "junk", NULL);
    tap_ok(rc != 0 && out4 && strstr(out4, "pools/junk.xml:1: error:") &&
           strstr(out4, "the staged desired state is invalid"), "hook: a staged invalid pool file is refused");
}

/* The service loads every cycle: the same commit hands back the set it
 * loaded before; a new commit, another subdir or the work tree read anew. */
static void test_reload(const char *tmp)
{
    _cleanup_free_ char *wt = pk_asprintf("%s/reload", tmp);
    git_repository *repo = mkrepo(wt, false);
    put_pool(wt, "", "default", "/tmp/pk-test/default");
    put_vol(wt, "", "default", "a.raw", "raw");
    free(commit_all(repo, "one volume"));
    pk_repo_opts o = { .path = wt };
    pk_err *errs = NULL;
    pk_desired *d1 = pk_repo_reload(&o, NULL, &errs);
    expect_loaded(d1, errs, "first load");
    pk_desired *d2 = pk_repo_reload(&o, d1, &errs);
    tap_ok(d2 && d2 == d1 && !errs, "same commit: the set loaded before is handed back");

    /* A file broken in the work tree but not committed changes nothing. */
    put(wt, "pools/default/b.raw.xml", "<volume><name>b.raw</name>");
    pk_desired *d3 = pk_repo_reload(&o, d2, &errs);
    tap_ok(d3 == d1 && !errs, "uncommitted files do not matter");

    put_vol(wt, "", "default", "b.raw", "raw");
    _cleanup_free_ char *c2 = commit_all(repo, "two volumes");
    pk_desired *d4 = pk_repo_reload(&o, d3, &errs);   /* d3 is freed or reused: not touched again */
    expect_loaded(d4, errs, "a new commit");
    tap_ok(d4 && pk_streq(d4->commit, c2) && vol_count(d4, "default") == 2, "a new commit is read anew");

    pk_repo_opts w = { .path = wt, .worktree = true };
    pk_desired *d5 = pk_repo_reload(&w, d4, &errs);
    tap_ok(d5 && d5->worktree && !d5->commit, "the work tree is always read anew");
    pk_desired *d6 = pk_repo_reload(&o, d5, &errs);
    tap_ok(d6 && !d6->worktree && pk_streq(d6->commit, c2), "back from the work tree: the commit is read");

    /* A commit that is broken: nothing, and the old set is gone too. */
    put(wt, "pools/default/c.raw.xml", "<volume><name>c.raw</name>");
    free(commit_all(repo, "broken"));
    pk_desired *d7 = pk_repo_reload(&o, d6, &errs);
    tap_ok(!d7 && has_err(errs, "pools/default/c.raw.xml", -1, ""), "a broken commit: no set, its errors");
    pk_err_free(errs);
    git_repository_free(repo);
}

int main(void)
{
    git_libgit2_init();
    _cleanup_free_ char *tmp = tap_tmpdir("repo");
    test_basic(tmp);
    test_refs(tmp);
    test_worktree(tmp);
    test_subdir(tmp);
    test_remote(tmp);
    test_remote_timeout(tmp);
    test_checks(tmp);
    test_hostile_tree(tmp);
    test_bad_input(tmp);
    test_example();
    test_pre_commit_hook(tmp);
    test_reload(tmp);
    git_libgit2_shutdown();
    return tap_done();
}
