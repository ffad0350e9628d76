/* dir backend against the physical floor (the bare syscalls), in-process:
 *
 *   create N raw sparse 1 MiB volumes  pk_dir_create_vol   vs openat+ftruncate+rename
 *   observe M files                     pk_dir_observe_vols vs readdir+fstatat
 *   delete N volumes                    pk_dir_delete_vol   vs unlinkat
 *
 * Each variant runs RUNS times, interleaved, each creation into a fresh
 * directory (on ext4 without a journal, creating right after deleting is
 * 20x slower: see shared/research/perf-anchor.md). Medians are printed with
 * their ratio to the floor. The backend's durable default (fsync of each new
 * file and of the directory) is compared with the floor that does the same.
 *
 * usage: dir-bench [DIR [N [M [RUNS]]]]   defaults: $TMPDIR 1000 10000 5 */
#include "../../backends/dir.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void die(const char *what)
{
    fprintf(stderr, "dir-bench: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void die_err(const char *what, pk_err *e)
{
    _cleanup_free_ char *s = pk_err_str(e);
    fprintf(stderr, "dir-bench: %s: %s\n", what, s);
    exit(1);
}

static int rm_one(const char *path, const struct stat *st PK_UNUSED, int flag, struct FTW *ftw PK_UNUSED)
{
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void rm_rf(const char *path)
{
    nftw(path, rm_one, 64, FTW_DEPTH | FTW_PHYS);
}

static char *fresh_dir(const char *base, const char *tag, int run)
{
    char *d = pk_asprintf("%s/%s-%d", base, tag, run);
    if (mkdir(d, 0711) < 0) die(d);
    return d;
}

static pk_pool *pool_at(const char *path)
{
    pk_pool *p = PK_NEW(pk_pool);
    p->type = PK_POOL_DIR;
    p->name = pk_strdup("bench");
    p->target_path = pk_strdup(path);
    p->target_perms = (pk_perms){ .mode = -1, .uid = -1, .gid = -1 };
    return p;
}

#define MiB (1024 * 1024)

/* ---- the floors ---- */

static void floor_create(const char *dir, int n, int sync_mode)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    char tmp[64], name[64];
    for (int i = 0; i < n; i++) {
        snprintf(tmp, sizeof(tmp), ".t-v%05d", i);
        snprintf(name, sizeof(name), "v%05d", i);
        int fd = openat(dfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 || ftruncate(fd, MiB) < 0) die("floor create");
        if (sync_mode == 2 && fsync(fd) < 0) die("fsync");
        close(fd);
        if (renameat2(dfd, tmp, dfd, name, RENAME_NOREPLACE) < 0) die("rename");
        if (sync_mode == 2 && fsync(dfd) < 0) die("fsync dir");
    }
    if (sync_mode == 1 && fsync(dfd) < 0) die("fsync dir");
    close(dfd);
}

static size_t floor_scan(const char *dir, bool probe)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    DIR *d = fdopendir(dup(dfd));
    size_t n = 0;
    struct dirent *de;
    char buf[4096];
    while ((de = readdir(d))) {
        struct stat st;
        if (de->d_name[0] == '.') continue;
        if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) die("fstatat");
        if (probe && S_ISREG(st.st_mode)) {
            int fd = openat(dfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0 || fstat(fd, &st) < 0 || pread(fd, buf, sizeof(buf), 0) < 0) die("probe");
            close(fd);
        }
        n++;
    }
    closedir(d);
    close(dfd);
    return n;
}

static void floor_delete(const char *dir, int n, bool sync_each)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    char name[64];
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "v%05d", i);
        if (unlinkat(dfd, name, 0) < 0) die("unlink");
        if (sync_each && fsync(dfd) < 0) die("fsync dir");
    }
    close(dfd);
}

/* ---- through the backend ---- */

static void backend_create(const char *dir, int n, bool no_sync)
{
    pk_bctx c = { .no_sync = no_sync };
    pk_pool *p = pool_at(dir);
    pk_vol v = { .type = PK_VOL_FILE, .capacity = MiB, .has_capacity = true,
                 .allocation = 0, .has_allocation = true };
    v.target.format = PK_IMG_RAW;
    v.target.perms = (pk_perms){ .mode = -1, .uid = -1, .gid = -1 };
    char name[64];
    v.name = name;
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "v%05d", i);
        pk_obs_vol out = { 0 };
        pk_err *e = NULL;
        if (pk_dir_create_vol(&c, p, &v, &out, &e) < 0) die_err("create", e);
        pk_obs_vol_clear(&out);
    }
    pk_pool_free(p);
}

static size_t backend_observe(const char *dir)
{
    pk_pool *p = pool_at(dir);
    pk_obs_pool o = { 0 };
    pk_err *e = NULL;
    if (pk_dir_observe_vols(&(pk_bctx){ 0 }, p, &o, &e) < 0) die_err("observe", e);
    size_t n = o.n_vols;
    pk_obs_pool_clear(&o);
    pk_pool_free(p);
    return n;
}

/* Observations are taken before the timed loop: deleting is what is timed. */
static void backend_delete(const char *dir, const pk_obs_pool *o, bool no_sync)
{
    pk_bctx c = { .no_sync = no_sync };
    pk_pool *p = pool_at(dir);
    for (size_t i = 0; i < o->n_vols; i++) {
        pk_err *e = NULL;
        if (pk_dir_delete_vol(&c, p, &o->vols[i], &e) < 0) die_err("delete", e);
    }
    pk_pool_free(p);
}

/* ---- reporting ---- */

typedef struct { const char *name; double t[64]; int n; } series;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(series *s)
{
    qsort(s->t, (size_t)s->n, sizeof(double), cmp_double);
    return s->n % 2 ? s->t[s->n / 2] : (s->t[s->n / 2 - 1] + s->t[s->n / 2]) / 2;
}

static void report(const char *title, series *s, int n_series, int floor_idx, int per)
{
    printf("\n%s\n", title);
    printf("  %-44s %9s %9s %9s %11s %8s\n", "variant", "min ms", "median", "max ms", "per item", "x floor");
    double fm = median(&s[floor_idx]);
    for (int i = 0; i < n_series; i++) {
        double m = median(&s[i]);
        printf("  %-44s %9.1f %9.1f %9.1f %8.1f us %8.2f\n", s[i].name, s[i].t[0], m, s[i].t[s[i].n - 1],
               m * 1000 / per, m / fm);
    }
}

int main(int argc, char **argv)
{
    const char *tmp = getenv("TMPDIR");
    const char *base_in = argc > 1 ? argv[1] : (tmp ? tmp : "/tmp");
    int n = argc > 2 ? atoi(argv[2]) : 1000;
    int m = argc > 3 ? atoi(argv[3]) : 10000;
    int runs = argc > 4 ? atoi(argv[4]) : 5;
    if (n <= 0 || m <= 0 || runs <= 0 || runs > 64) {
        fprintf(stderr, "usage: dir-bench [DIR [N [M [RUNS]]]]\n");
        return 2;
    }
    _cleanup_free_ char *base = pk_asprintf("%s/pk-dir-bench-XXXXXX", base_in);
    if (!mkdtemp(base)) die(base);
    printf("dir-bench: %s, N=%d creates/deletes, M=%d files observed, %d runs\n", base, n, m, runs);

    /* 1. create: backend (durable), floor with the same fsyncs, backend
     * without fsync, bare floor. Fresh directories, nothing deleted yet. */
    series cr[4] = { { .name = "backend create_vol (fsync file+dir each)" },
                     { .name = "floor + fsync file+dir each" },
                     { .name = "backend create_vol, no_sync" },
                     { .name = "floor openat+ftruncate+rename" } };
    char *dirs[4][64] = { { 0 } };
    for (int r = 0; r < runs; r++) {
        for (int k = 0; k < 4; k++) {
            dirs[k][r] = fresh_dir(base, "create", r * 4 + k);
            sync();
            double t0 = now_ms();
            if (k == 0) backend_create(dirs[k][r], n, false);
            if (k == 1) floor_create(dirs[k][r], n, 2);
            if (k == 2) backend_create(dirs[k][r], n, true);
            if (k == 3) floor_create(dirs[k][r], n, 0);
            cr[k].t[cr[k].n++] = now_ms() - t0;
        }
    }
    report("create raw sparse 1 MiB volumes", cr, 4, 3, n);
    printf("  (durable backend vs durable floor: %.2fx)\n", median(&cr[0]) / median(&cr[1]));

    /* 2. observe M sparse files, and M files with 4 KiB of data (headers read). */
    _cleanup_free_ char *obs = fresh_dir(base, "observe", 0);
    _cleanup_free_ char *obsw = fresh_dir(base, "observe-written", 0);
    floor_create(obs, m, 0);
    {
        int dfd = open(obsw, O_RDONLY | O_DIRECTORY);
        char name[64], data[4096];
        memset(data, 'x', sizeof(data));
        for (int i = 0; i < m; i++) {
            snprintf(name, sizeof(name), "w%05d", i);
            int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL, 0600);
            if (fd < 0 || write(fd, data, sizeof(data)) != (ssize_t)sizeof(data)) die("write");
            close(fd);
        }
        close(dfd);
    }
    sync();
    backend_observe(obs);      /* warm the caches once, as perf-anchor.md did */
    backend_observe(obsw);
    series ob[4] = { { .name = "backend observe_vols, sparse files" },
                     { .name = "floor readdir+fstatat" },
                     { .name = "backend observe_vols, 4 KiB written files" },
                     { .name = "floor readdir+fstatat+open+pread 4 KiB" } };
    size_t seen = 0;
    for (int r = 0; r < runs; r++) {
        for (int k = 0; k < 4; k++) {
            double t0 = now_ms();
            if (k == 0) seen = backend_observe(obs);
            if (k == 1) floor_scan(obs, false);
            if (k == 2) backend_observe(obsw);
            if (k == 3) floor_scan(obsw, true);
            ob[k].t[ob[k].n++] = now_ms() - t0;
        }
    }
    if (seen != (size_t)m) fprintf(stderr, "dir-bench: observed %zu of %d files\n", seen, m);
    report("observe a pool", ob, 2, 1, m);
    report("observe a pool whose files have data (header probe)", ob + 2, 2, 1, m);

    /* 3. delete what step 1 created (backend: the durable and the no_sync
     * directories; floor: the others). */
    series de[4] = { { .name = "backend delete_vol (fsync dir each)" },
                     { .name = "floor unlinkat + fsync dir each" },
                     { .name = "backend delete_vol, no_sync" },
                     { .name = "floor unlinkat" } };
    for (int r = 0; r < runs; r++) {
        for (int k = 0; k < 4; k++) {
            pk_obs_pool o = { 0 };
            if (k == 0 || k == 2) {
                pk_pool *p = pool_at(dirs[k][r]);
                pk_err *e = NULL;
                if (pk_dir_observe_vols(&(pk_bctx){ 0 }, p, &o, &e) < 0) die_err("observe", e);
                pk_pool_free(p);
            }
            sync();
            double t0 = now_ms();
            if (k == 0) backend_delete(dirs[k][r], &o, false);
            if (k == 1) floor_delete(dirs[k][r], n, true);
            if (k == 2) backend_delete(dirs[k][r], &o, true);
            if (k == 3) floor_delete(dirs[k][r], n, false);
            de[k].t[de[k].n++] = now_ms() - t0;
            pk_obs_pool_clear(&o);
        }
    }
    report("delete volumes", de, 4, 3, n);
    printf("  (durable backend vs durable floor: %.2fx)\n", median(&de[0]) / median(&de[1]));

    for (int k = 0; k < 4; k++)
        for (int r = 0; r < runs; r++) free(dirs[k][r]);
    rm_rf(base);
    return 0;
}
