/* Observing a pool of qcow2 volumes, with and without the probe cache,
 * against the physical floor (readdir + fstatat of every entry):
 *
 *   floor        readdir + fstatat                          the bare syscalls
 *   uncached     pk_dir_observe_vols, no cache              statx + open + header pread
 *   cold         pk_dir_observe_vols, empty cache           the same + cache lookups and
 *                                                           one transaction of puts
 *   warm         pk_dir_observe_vols, every file cached     statx + one indexed lookup
 *   qemu-img     one `qemu-img info` process                what probing each file through
 *                                                           qemu-img would cost
 *
 * The cache is the real one: the state DB (store/) behind the engine's
 * adapter (controller/probe_store.c). Each variant runs RUNS times,
 * interleaved; medians are printed with the ratio to the floor. "cold"
 * means a cold cache, not a cold page cache: the headers were just written.
 *
 * usage: filevol-bench [DIR [N [RUNS]]]   defaults: $TMPDIR 2000 7 */
#include "../../backends/dir.h"
#include "../../backends/runner.h"
#include "../../controller/probe_store.h"
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

static void die(const char *what, pk_err *e)
{
    _cleanup_free_ char *s = e ? pk_err_str(e) : NULL;
    fprintf(stderr, "filevol-bench: %s: %s\n", what, s ? s : strerror(errno));
    exit(1);
}

static int rm_one(const char *path, const struct stat *st PK_UNUSED, int flag, struct FTW *ftw PK_UNUSED)
{
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* N copies of one small qcow2 made by qemu-img (a copy is the same bytes). */
static void make_pool(const char *dir, int n)
{
    _cleanup_free_ char *seed = pk_asprintf("%s/seed.img", dir);
    const char *argv[] = { "qemu-img", "create", "-q", "-f", "qcow2", seed, "20G", NULL };
    _cleanup_(pk_cmd_freep) pk_cmd *cmd = pk_cmd_new_argv(argv);
    pk_err *e = NULL;
    if (pk_cmd_run(cmd, NULL, &e) < 0) die("qemu-img create", e);
    char buf[1 << 18];
    int sfd = open(seed, O_RDONLY);
    ssize_t len = read(sfd, buf, sizeof(buf));
    close(sfd);
    unlink(seed);
    if (len <= 0) die("read seed", NULL);
    _cleanup_free_ char *pool = pk_asprintf("%s/pool", dir);
    if (mkdir(pool, 0711) < 0) die(pool, NULL);
    for (int i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof(name), "%s/vol-%05d.qcow2", pool, i);
        int fd = open(name, O_CREAT | O_EXCL | O_WRONLY, 0600);
        if (fd < 0 || write(fd, buf, (size_t)len) != len) die(name, NULL);
        close(fd);
    }
}

static double floor_run(const char *path)
{
    double t0 = now_ms();
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    DIR *d = fdopendir(fd);
    struct dirent *de;
    size_t n = 0;
    while ((de = readdir(d))) {
        struct stat st;
        if (de->d_name[0] == '.') continue;
        if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) n++;
    }
    closedir(d);
    if (n == 0) die("floor: no files", NULL);
    return now_ms() - t0;
}

static double observe_run(const pk_pool *pool, const pk_probe_cache *cache, size_t want)
{
    pk_bctx c = { .probe_cache = cache };
    pk_obs_pool op = { 0 };
    pk_err *e = NULL;
    double t0 = now_ms();
    if (pk_dir_observe_vols(&c, pool, &op, &e) < 0) die("observe", e);
    double t = now_ms() - t0;
    size_t qcow2 = 0;
    for (size_t i = 0; i < op.n_vols; i++)
        qcow2 += op.vols[i].format == PK_IMG_QCOW2 && op.vols[i].capacity == 20ULL << 30 &&
                 !op.vols[i].error;
    if (qcow2 != want) {
        fprintf(stderr, "filevol-bench: observed %zu qcow2 volumes of 20 GiB, not %zu\n", qcow2, want);
        exit(1);
    }
    pk_obs_pool_clear(&op);
    return t;
}

/* A fresh state DB, locked (so the cache writes), with its cache adapter. */
static pk_store *fresh_store(const char *dir, int run, pk_probe_cache **cache)
{
    _cleanup_free_ char *path = pk_asprintf("%s/state-%d.db", dir, run);
    pk_store *s = NULL;
    pk_err *e = NULL;
    if (pk_store_open(path, PK_STORE_WRITE, &s, &e) < 0 || pk_store_lock(s, &e) < 0) die(path, e);
    *cache = pk_probe_store_new(s);
    return s;
}

int main(int argc, char **argv)
{
    const char *base = argc > 1 ? argv[1] : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    int n = argc > 2 ? atoi(argv[2]) : 2000;
    int runs = argc > 3 ? atoi(argv[3]) : 7;
    if (n <= 0 || runs <= 0) {
        fprintf(stderr, "usage: filevol-bench [DIR [N [RUNS]]]\n");
        return 2;
    }
    _cleanup_free_ char *dir = pk_asprintf("%s/pk-filevol-bench-XXXXXX", base);
    if (!mkdtemp(dir)) die(dir, NULL);
    make_pool(dir, n);
    _cleanup_free_ char *pooldir = pk_asprintf("%s/pool", dir);
    pk_pool pool = { .type = PK_POOL_DIR, .name = (char *)"bench", .target_path = pooldir };

    /* the warm cache, filled once */
    pk_probe_cache *wcache = NULL;
    pk_store *ws = fresh_store(dir, 0, &wcache);
    observe_run(&pool, wcache, (size_t)n);

    double *fl = pk_calloc((size_t)runs, sizeof(double)), *unc = pk_calloc((size_t)runs, sizeof(double));
    double *cold = pk_calloc((size_t)runs, sizeof(double)), *warm = pk_calloc((size_t)runs, sizeof(double));
    floor_run(pooldir);   /* warm the dentry and inode caches for everyone */
    for (int r = 0; r < runs; r++) {
        fl[r] = floor_run(pooldir);
        unc[r] = observe_run(&pool, NULL, (size_t)n);
        pk_probe_cache *ccache = NULL;
        pk_store *cs = fresh_store(dir, r + 1, &ccache);
        cold[r] = observe_run(&pool, ccache, (size_t)n);
        pk_probe_store_free(ccache);
        pk_store_close(cs);
        warm[r] = observe_run(&pool, wcache, (size_t)n);
    }

    /* one qemu-img info process on one of the images */
    int qruns = runs * 3;
    double *qi = pk_calloc((size_t)qruns, sizeof(double));
    _cleanup_free_ char *one = pk_asprintf("%s/vol-00000.qcow2", pooldir);
    for (int r = 0; r < qruns; r++) {
        const char *qargv[] = { "qemu-img", "info", "-U", "--output=json", "-f", "qcow2", one, NULL };
        _cleanup_(pk_cmd_freep) pk_cmd *cmd = pk_cmd_new_argv(qargv);
        pk_err *e = NULL;
        double t0 = now_ms();
        if (pk_cmd_run(cmd, NULL, &e) < 0) die("qemu-img info", e);
        qi[r] = now_ms() - t0;
    }

    double mf = median(fl, runs), mu = median(unc, runs), mc = median(cold, runs),
           mw = median(warm, runs), mq = median(qi, qruns);
    double per = 1000.0 / n;   /* ms per pool -> us per file */
    printf("filevol-bench: %d qcow2 volumes in %s, median of %d runs\n", n, pooldir, runs);
    printf("  %-34s %9.2f ms  %7.2f us/file\n", "floor: readdir + fstatat", mf, mf * per);
    printf("  %-34s %9.2f ms  %7.2f us/file  %5.2fx floor\n", "observe, no cache (header reads)", mu, mu * per, mu / mf);
    printf("  %-34s %9.2f ms  %7.2f us/file  %5.2fx floor\n", "observe, cold cache (+ puts)", mc, mc * per, mc / mf);
    printf("  %-34s %9.2f ms  %7.2f us/file  %5.2fx floor (target <= 3x)\n", "observe, warm cache (hits)", mw, mw * per, mw / mf);
    printf("  %-34s %9.2f ms per process: cold observe costs 1/%.0f of one per file\n",
           "one `qemu-img info`", mq, mq / (mc / n));
    printf("  probing %d files through qemu-img would take ~%.1f s\n", n, mq * n / 1000.0);

    pk_probe_store_free(wcache);
    pk_store_close(ws);
    free(fl);
    free(unc);
    free(cold);
    free(warm);
    free(qi);
    nftw(dir, rm_one, 64, FTW_DEPTH | FTW_PHYS);
    return 0;
}
