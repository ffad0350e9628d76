/* Benchmark: pk_repo_load on a desired repository with many volume files,
 * against the floor of what any loader must do with libgit2.
 *
 *   repo_bench [N_VOLUMES [RUNS]]       (defaults 10000 and 5)
 *
 * One commit holds pools/bench.xml and N files pools/bench/vNNNNN.raw.xml.
 * Variants, each timed RUNS times:
 *   floor           open + resolve HEAD + walk pools/ + git_blob_lookup and
 *                   read every blob: the I/O any commit loader does
 *   floor+libxml2   floor + xmlReadMemory of every blob: the least parsing
 *   pk_repo_load    the real thing (parse, validate, every check)
 * for the objects loose (as just committed) and packed (as cloned), and the
 * same files on disk (floor: openat + read; pk_repo_load --worktree).
 * "cold" is a fresh process per run (nothing of libgit2 or libxml2 set up,
 * the repository not open; the kernel page cache is warm: the bench cannot
 * drop it); "warm" repeats in one process after one untimed load.
 * Prints min / median / max milliseconds and median ratios to the floor. */
#include "../tap.h"
#include "../../desired/repo.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <libxml/parser.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void must(int r, const char *what)
{
    if (r < 0) {
        const git_error *e = git_error_last();
        fprintf(stderr, "repo_bench: %s: %s\n", what, e ? e->message : "?");
        exit(1);
    }
}

/* ---------- building the repository ---------- */

static char *vol_xml(int i)
{
    return pk_asprintf("<volume>\n  <name>v%05d.raw</name>\n  <capacity unit='MiB'>%d</capacity>\n"
                       "  <allocation>0</allocation>\n  <target>\n    <format type='raw'/>\n"
                       "    <permissions>\n      <mode>0600</mode>\n    </permissions>\n"
                       "  </target>\n</volume>\n", i, 1 + i % 64);
}

static const char *pool_xml =
    "<pool type='dir'>\n  <name>bench</name>\n  <target>\n    <path>/var/lib/poolkeeper-bench</path>\n"
    "  </target>\n</pool>\n";

static void write_file(const char *path, const char *data)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(data, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "repo_bench: write %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

/* A bare repository with one commit, built from blobs and trees directly
 * (no index, no work tree), and the same files on disk under `plain`. */
static void build(const char *bare, const char *plain, int n)
{
    git_repository *repo = NULL;
    git_repository_init_options io = GIT_REPOSITORY_INIT_OPTIONS_INIT;
    io.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH;
    io.initial_head = "main";
    must(git_repository_init_ext(&repo, bare, &io), "init");

    _cleanup_free_ char *pdir = pk_asprintf("%s/pools/bench", plain);
    _cleanup_free_ char *ptop = pk_asprintf("%s/pools", plain);
    if (mkdir(plain, 0755) < 0 || mkdir(ptop, 0755) < 0 || mkdir(pdir, 0755) < 0) {
        fprintf(stderr, "repo_bench: mkdir: %s\n", strerror(errno));
        exit(1);
    }

    git_treebuilder *vols = NULL, *pools = NULL, *root = NULL;
    git_oid id, vols_id, pools_id, root_id, commit_id;
    must(git_treebuilder_new(&vols, repo, NULL), "treebuilder");
    for (int i = 0; i < n; i++) {
        _cleanup_free_ char *xml = vol_xml(i);
        _cleanup_free_ char *name = pk_asprintf("v%05d.raw.xml", i);
        _cleanup_free_ char *path = pk_asprintf("%s/%s", pdir, name);
        must(git_blob_create_from_buffer(&id, repo, xml, strlen(xml)), "blob");
        must(git_treebuilder_insert(NULL, vols, name, &id, GIT_FILEMODE_BLOB), "insert");
        write_file(path, xml);
    }
    must(git_treebuilder_write(&vols_id, vols), "write vols");
    must(git_treebuilder_new(&pools, repo, NULL), "treebuilder");
    must(git_blob_create_from_buffer(&id, repo, pool_xml, strlen(pool_xml)), "blob");
    must(git_treebuilder_insert(NULL, pools, "bench.xml", &id, GIT_FILEMODE_BLOB), "insert");
    must(git_treebuilder_insert(NULL, pools, "bench", &vols_id, GIT_FILEMODE_TREE), "insert");
    must(git_treebuilder_write(&pools_id, pools), "write pools");
    must(git_treebuilder_new(&root, repo, NULL), "treebuilder");
    must(git_treebuilder_insert(NULL, root, "pools", &pools_id, GIT_FILEMODE_TREE), "insert");
    must(git_treebuilder_write(&root_id, root), "write root");
    _cleanup_free_ char *pf = pk_asprintf("%s/bench.xml", ptop);
    write_file(pf, pool_xml);

    git_tree *tree = NULL;
    git_signature *sig = NULL;
    must(git_tree_lookup(&tree, repo, &root_id), "tree");
    must(git_signature_new(&sig, "Bench", "bench@example.invalid", 1700000000, 0), "sig");
    must(git_commit_create(&commit_id, repo, "HEAD", sig, sig, NULL, "bench", tree, 0, NULL), "commit");
    git_signature_free(sig);
    git_tree_free(tree);
    git_treebuilder_free(vols);
    git_treebuilder_free(pools);
    git_treebuilder_free(root);
    git_repository_free(repo);
}

/* ---------- what is timed ---------- */

typedef enum { V_FLOOR, V_FLOOR_XML, V_LOAD, V_DISK_FLOOR, V_DISK_LOAD } variant;
static const char *const variant_names[] = {
    "floor (tree walk + blob read)", "floor + libxml2 parse", "pk_repo_load",
    "floor (readdir + open + read)", "pk_repo_load --worktree",
};

static size_t sink;

static void walk_tree(git_repository *repo, const git_tree *t, bool parse)
{
    for (size_t i = 0, n = git_tree_entrycount(t); i < n; i++) {
        const git_tree_entry *e = git_tree_entry_byindex(t, i);
        if (git_tree_entry_type(e) == GIT_OBJECT_TREE) {
            git_tree *sub = NULL;
            must(git_tree_lookup(&sub, repo, git_tree_entry_id(e)), "tree");
            walk_tree(repo, sub, parse);
            git_tree_free(sub);
            continue;
        }
        git_blob *b = NULL;
        must(git_blob_lookup(&b, repo, git_tree_entry_id(e)), "blob");
        const char *data = git_blob_rawcontent(b);
        size_t len = (size_t)git_blob_rawsize(b);
        sink += len ? (unsigned char)data[len - 1] : 0;
        if (parse) {
            xmlDoc *doc = xmlReadMemory(data, (int)len, NULL, NULL, XML_PARSE_NONET);
            if (!doc) exit(1);
            xmlFreeDoc(doc);
        }
        git_blob_free(b);
    }
}

static void floor_git(const char *path, bool parse)
{
    git_libgit2_init();
    git_repository *repo = NULL;
    git_object *obj = NULL;
    git_tree *root = NULL, *pools = NULL;
    git_tree_entry *e = NULL;
    must(git_repository_open_ext(&repo, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL), "open");
    must(git_revparse_single(&obj, repo, "HEAD^{commit}"), "HEAD");
    must(git_commit_tree(&root, (git_commit *)obj), "tree");
    must(git_tree_entry_bypath(&e, root, "pools"), "pools");
    must(git_tree_lookup(&pools, repo, git_tree_entry_id(e)), "pools tree");
    walk_tree(repo, pools, parse);
    git_tree_free(pools);
    git_tree_entry_free(e);
    git_tree_free(root);
    git_object_free(obj);
    git_repository_free(repo);
    git_libgit2_shutdown();
}

static void floor_disk_dir(int dirfd)
{
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY);
    DIR *d = fdopendir(fd);
    struct dirent *de;
    char buf[4096];
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        struct stat st;
        if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) exit(1);
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
            floor_disk_dir(sub);
            close(sub);
            continue;
        }
        int f = openat(dirfd, de->d_name, O_RDONLY | O_NOFOLLOW);
        ssize_t r;
        while ((r = read(f, buf, sizeof(buf))) > 0) sink += (unsigned char)buf[r - 1];
        close(f);
    }
    closedir(d);
}

static void floor_disk(const char *plain)
{
    _cleanup_free_ char *p = pk_asprintf("%s/pools", plain);
    int fd = open(p, O_RDONLY | O_DIRECTORY);
    if (fd < 0) exit(1);
    floor_disk_dir(fd);
    close(fd);
}

static void load(const char *path, bool worktree, int n)
{
    pk_repo_opts o = { .path = path, .worktree = worktree };
    pk_err *errs = NULL;
    pk_desired *d = pk_repo_load(&o, &errs);
    if (!d || d->n_pools != 1 || d->pools[0].n_vols != (size_t)n) {
        fprintf(stderr, "repo_bench: load of %s failed\n", path);
        pk_err_print(stderr, errs);
        exit(1);
    }
    pk_desired_free(d);
    pk_err_free(errs);
}

static void run_variant(variant v, const char *repo, const char *plain, int n)
{
    switch (v) {
    case V_FLOOR: floor_git(repo, false); break;
    case V_FLOOR_XML: floor_git(repo, true); break;
    case V_LOAD: load(repo, false, n); break;
    case V_DISK_FLOOR: floor_disk(plain); break;
    case V_DISK_LOAD: load(plain, true, n); break;
    }
}

/* One run in a fresh child; its time comes back through a pipe. */
static double time_cold(variant v, const char *repo, const char *plain, int n)
{
    int pfd[2];
    if (pipe(pfd) < 0) exit(1);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        double t0 = now_ms();
        run_variant(v, repo, plain, n);
        double ms = now_ms() - t0;
        if (write(pfd[1], &ms, sizeof(ms)) != sizeof(ms)) _exit(1);
        _exit(0);
    }
    close(pfd[1]);
    double ms = -1;
    ssize_t got = read(pfd[0], &ms, sizeof(ms));
    close(pfd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    if (got != sizeof(ms) || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "repo_bench: %s failed\n", variant_names[v]);
        exit(1);
    }
    return ms;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct { double min, med, max; } stats;

static stats summarize(double *t, int runs)
{
    qsort(t, (size_t)runs, sizeof(*t), cmp_double);
    return (stats){ t[0], t[runs / 2], t[runs - 1] };
}

static void section(const char *title, const variant *vs, size_t nv, const char *repo, const char *plain,
                    int n, int runs)
{
    stats cold[8], warm[8];
    double *t = pk_calloc((size_t)runs, sizeof(double));
    /* Interleave variants (A B C A B C ...) so drift hits them alike. */
    double (*ct)[64] = pk_calloc(nv, sizeof(*ct));
    for (int r = 0; r < runs; r++)
        for (size_t i = 0; i < nv; i++) ct[i][r] = time_cold(vs[i], repo, plain, n);
    for (size_t i = 0; i < nv; i++) {
        memcpy(t, ct[i], sizeof(double) * (size_t)runs);
        cold[i] = summarize(t, runs);
    }
    for (size_t i = 0; i < nv; i++) {
        run_variant(vs[i], repo, plain, n);   /* warm-up, untimed */
        for (int r = 0; r < runs; r++) {
            double t0 = now_ms();
            run_variant(vs[i], repo, plain, n);
            t[r] = now_ms() - t0;
        }
        warm[i] = summarize(t, runs);
    }
    printf("\n%s\n", title);
    printf("  %-32s %26s %8s %26s %8s\n", "variant", "cold ms (min/median/max)", "x floor",
           "warm ms (min/median/max)", "x floor");
    for (size_t i = 0; i < nv; i++)
        printf("  %-32s %8.1f /%8.1f /%8.1f %8.2f %8.1f /%8.1f /%8.1f %8.2f\n", variant_names[vs[i]],
               cold[i].min, cold[i].med, cold[i].max, cold[i].med / cold[0].med,
               warm[i].min, warm[i].med, warm[i].max, warm[i].med / warm[0].med);
    printf("  per volume (median): pk_repo_load %.1f us cold, %.1f us warm\n",
           cold[nv - 1].med * 1e3 / n, warm[nv - 1].med * 1e3 / n);
    free(ct);
    free(t);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10000;
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    if (n < 1 || runs < 1 || runs > 64) {
        fprintf(stderr, "usage: repo_bench [N_VOLUMES [RUNS (1-64)]]\n");
        return 2;
    }
    git_libgit2_init();
    _cleanup_free_ char *tmp = tap_tmpdir("repo-bench");
    _cleanup_free_ char *loose = pk_asprintf("%s/loose.git", tmp);
    _cleanup_free_ char *packed = pk_asprintf("%s/packed.git", tmp);
    _cleanup_free_ char *plain = pk_asprintf("%s/plain", tmp);
    double t0 = now_ms();
    build(loose, plain, n);
    /* A local clone over file:// receives one pack, as a real clone does. */
    _cleanup_free_ char *url = pk_asprintf("file://%s", loose);
    git_clone_options co = GIT_CLONE_OPTIONS_INIT;
    co.bare = 1;
    git_repository *pr = NULL;
    must(git_clone(&pr, url, packed, &co), "clone");
    git_repository_free(pr);
    git_libgit2_shutdown();
    printf("repo_bench: %d volume files in one commit (built in %.0f ms), %d runs per variant\n",
           n, now_ms() - t0, runs);

    const variant git_vs[] = { V_FLOOR, V_FLOOR_XML, V_LOAD };
    const variant disk_vs[] = { V_DISK_FLOOR, V_DISK_LOAD };
    section("commit, loose objects", git_vs, PK_NELEM(git_vs), loose, plain, n, runs);
    section("commit, packed objects", git_vs, PK_NELEM(git_vs), packed, plain, n, runs);
    section("work tree (files on disk)", disk_vs, PK_NELEM(disk_vs), loose, plain, n, runs);
    if (sink == 42) printf(" ");   /* keep the floor's reads from being optimised away */
    return 0;
}
