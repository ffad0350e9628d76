/* What recording state costs next to what SQLite itself costs.
 *
 * The floor: one transaction of N plain INSERTs (prepared once) into a table
 * with the same columns as the store's observed-volume table, no key, in a
 * fresh file with the store's own settings (WAL, synchronous=FULL). This is
 * the least any design can pay to put N rows on disk; it is written here
 * with raw SQLite on purpose, as the yardstick.
 *
 * Against it:
 *   record-new      pk_store_record_observation of one pool of N volumes
 *                   into a fresh database (every row new)
 *   record-again    the same observation again (every row replaced)
 *   record-changed  again with every volume's allocation changed
 *   load            pk_store_observed_load of the N volumes
 *   journal-batch   intents of N/10 actions in one transaction, then their
 *                   results (each with an observed row and ownership) in one
 *   journal-each    the same N/10 actions one transaction per intent and per
 *                   result, as an engine without batches would do
 * The journal is compared with the floor of N/10 rows. STORE_BENCH_NO_EACH=1
 * skips journal-each (seconds of fsyncs), e.g. to profile the rest.
 * Each is run ROUNDS times on fresh files; the best run is kept. Usage:
 * store-bench [N]  (default 10000). Prints "name n=N ms=X ratio=R" lines. */
#include "../../store/store_priv.h"
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <time.h>

#define ROUNDS 5

static char dir[] = "/tmp/pk-store-bench-XXXXXX";
static int file_no;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static char *fresh_path(void)
{
    return pk_asprintf("%s/db%d.db", dir, file_no++);
}

static void die(const char *what, pk_err *err)
{
    _cleanup_free_ char *t = err ? pk_store_err_text(err) : NULL;
    fprintf(stderr, "store-bench: %s: %s\n", what, t ? t : "failed");
    exit(1);
}

static pk_observed *observation(size_t n, uint64_t alloc)
{
    pk_observed *o = PK_NEW(pk_observed);
    pk_obs_pool *p = PK_APPEND(o->pools, o->n_pools);
    p->name = pk_strdup("bench");
    p->type = PK_POOL_DIR;
    p->state = PK_POOL_RUNNING;
    p->perms = (pk_perms){ .mode = 0755, .uid = 0, .gid = 0 };
    p->identity = pk_strdup("64769:2");
    p->vols_observed = true;
    p->observed_at_ms = pk_now_ms();
    p->vols = pk_calloc(n, sizeof(pk_obs_vol));
    p->n_vols = n;
    for (size_t i = 0; i < n; i++) {
        pk_obs_vol *v = &p->vols[i];
        v->name = pk_asprintf("v%05zu.raw", i);
        v->path = pk_asprintf("/var/lib/poolkeeper/pools/bench/v%05zu.raw", i);
        v->key = pk_strdup(v->path);
        v->type = PK_VOL_FILE;
        v->format = PK_IMG_RAW;
        v->capacity = 1 << 20;
        v->allocation = alloc;
        v->physical = 1 << 20;
        v->perms = (pk_perms){ .mode = 0600, .uid = 107, .gid = 107 };
        v->identity = pk_asprintf("64769:%zu", 100000 + i);
        v->backing_format = -1;
        v->atime = v->ctime = v->btime = (pk_timestamp){ -1, 0 };
        v->mtime = (pk_timestamp){ 1700000000, (int64_t)i };
    }
    return o;
}

static double floor_insert(size_t n)
{
    _cleanup_free_ char *path = fresh_path();
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
                         "CREATE TABLE vol (pool TEXT, name TEXT, key TEXT, path TEXT, type TEXT,"
                         " format INTEGER, capacity INTEGER, allocation INTEGER, physical INTEGER,"
                         " mode INTEGER, uid INTEGER, gid INTEGER, label TEXT, identity TEXT,"
                         " backing_path TEXT, backing_format INTEGER, encrypted INTEGER, atime_ns INTEGER,"
                         " mtime_ns INTEGER, ctime_ns INTEGER, btime_ns INTEGER, error TEXT,"
                         " observed_at INTEGER)",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO vol VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,"
                               " ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)",
                           -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "store-bench: floor setup: %s\n", sqlite3_errmsg(db));
        exit(1);
    }
    pk_observed *o = observation(n, 0);
    const pk_obs_pool *p = &o->pools[0];
    double t = now_ms();
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    for (size_t i = 0; i < n; i++) {
        const pk_obs_vol *v = &p->vols[i];
        sqlite3_bind_text(st, 1, p->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, v->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, v->key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, v->path, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, "file", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, v->format);
        sqlite3_bind_int64(st, 7, (int64_t)v->capacity);
        sqlite3_bind_int64(st, 8, (int64_t)v->allocation);
        sqlite3_bind_int64(st, 9, (int64_t)v->physical);
        sqlite3_bind_int64(st, 10, v->perms.mode);
        sqlite3_bind_int64(st, 11, v->perms.uid);
        sqlite3_bind_int64(st, 12, v->perms.gid);
        sqlite3_bind_null(st, 13);
        sqlite3_bind_text(st, 14, v->identity, -1, SQLITE_STATIC);
        sqlite3_bind_null(st, 15);
        sqlite3_bind_int64(st, 16, -1);
        sqlite3_bind_int64(st, 17, 0);
        sqlite3_bind_null(st, 18);
        sqlite3_bind_int64(st, 19, v->mtime.sec * 1000000000 + v->mtime.nsec);
        sqlite3_bind_null(st, 20);
        sqlite3_bind_null(st, 21);
        sqlite3_bind_null(st, 22);
        sqlite3_bind_int64(st, 23, p->observed_at_ms);
        if (sqlite3_step(st) != SQLITE_DONE) {
            fprintf(stderr, "store-bench: floor insert: %s\n", sqlite3_errmsg(db));
            exit(1);
        }
        sqlite3_reset(st);
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) exit(1);
    t = now_ms() - t;
    sqlite3_finalize(st);
    sqlite3_close(db);
    pk_observed_free(o);
    return t;
}

static pk_store *fresh_store(void)
{
    _cleanup_free_ char *path = fresh_path();
    pk_store *s = NULL;
    pk_err *err = NULL;
    if (pk_store_open(path, PK_STORE_WRITE, &s, &err) < 0 || pk_store_lock(s, &err) < 0) die("open", err);
    return s;
}

typedef struct {
    double new_ms, again_ms, changed_ms, load_ms;
} record_times;

static record_times record(size_t n)
{
    record_times t;
    pk_store *s = fresh_store();
    pk_err *err = NULL;
    pk_observed *o = observation(n, 0);
    pk_observed *o2 = observation(n, 4096);
    double t0 = now_ms();
    if (pk_store_record_observation(s, o, &err) < 0) die("record", err);
    t.new_ms = now_ms() - t0;
    t0 = now_ms();
    if (pk_store_record_observation(s, o, &err) < 0) die("record again", err);
    t.again_ms = now_ms() - t0;
    t0 = now_ms();
    if (pk_store_record_observation(s, o2, &err) < 0) die("record changed", err);
    t.changed_ms = now_ms() - t0;
    pk_observed *back = NULL;
    t0 = now_ms();
    if (pk_store_observed_load(s, &back, &err) < 0 || !back || back->pools[0].n_vols != n) die("load", err);
    t.load_ms = now_ms() - t0;
    if (back->pools[0].vols[n - 1].allocation != 4096) die("load: wrong values", NULL);
    pk_observed_free(back);
    pk_observed_free(o);
    pk_observed_free(o2);
    pk_store_close(s);
    return t;
}

/* Journal n actions; batch = all in one transaction each way, else one
 * transaction per intent and per result. *ret_intents_ms: the intents'
 * share (batch only). */
static double journal(size_t n, bool batch, double *ret_intents_ms)
{
    pk_store *s = fresh_store();
    pk_err *err = NULL;
    pk_observed *o = observation(n, 0);
    if (pk_store_record_observation(s, o, &err) < 0) die("record", err);
    int64_t run = 0;
    if (pk_store_run_begin(s, "3f2a9c1", "main", &run, &err) < 0) die("run", err);
    pk_action *acts = pk_calloc(n, sizeof(pk_action));
    pk_journal_intent *in = pk_calloc(n, sizeof(pk_journal_intent));
    pk_journal_result *res = pk_calloc(n, sizeof(pk_journal_result));
    for (size_t i = 0; i < n; i++) {
        pk_obs_vol *v = &o->pools[0].vols[i];
        acts[i] = (pk_action){ .kind = PK_ACT_VOL_CREATE, .pool = "bench", .vol = v->name,
                               .after = "raw 1 MiB", .reason = "pools/bench/v.xml:1 @3f2a9c1" };
        in[i] = (pk_journal_intent){ (int)i, &acts[i] };
        res[i] = (pk_journal_result){ .seq = (int)i, .state = PK_JOURNAL_DONE, .own = PK_OWN_TAKE_CREATED,
                                      .vol_row = v };
    }
    double t0 = now_ms();
    if (batch) {
        if (pk_store_journal_intents(s, run, in, n, &err) < 0) die("journal", err);
        if (ret_intents_ms) *ret_intents_ms = now_ms() - t0;
        if (pk_store_journal_results(s, run, res, n, &err) < 0) die("journal", err);
    } else {
        for (size_t i = 0; i < n; i++)
            if (pk_store_journal_intents(s, run, &in[i], 1, &err) < 0 ||
                pk_store_journal_results(s, run, &res[i], 1, &err) < 0)
                die("journal", err);
    }
    double t = now_ms() - t0;
    pk_run r;
    if (pk_store_run_end(s, run, PK_RUN_OK, NULL, &err) < 0 || pk_store_run_get(s, run, &r, &err) != 1 ||
        r.n_done != (int)n)
        die("journal: wrong counts", err);
    pk_run_clear(&r);
    free(acts);
    free(in);
    free(res);
    pk_observed_free(o);
    pk_store_close(s);
    return t;
}

static int rm_one(const char *path, const struct stat *sb PK_UNUSED, int flag PK_UNUSED, struct FTW *f PK_UNUSED)
{
    remove(path);
    return 0;
}

static void report(const char *name, size_t n, double ms, double floor_ms)
{
    printf("%-15s n=%zu ms=%.1f per_row_us=%.2f ratio=%.2f\n", name, n, ms, ms * 1000 / (double)n, ms / floor_ms);
}

static double best(double a, double b)
{
    return a < b ? a : b;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 10000;
    if (n < 10) n = 10;
    if (!mkdtemp(dir)) {
        fprintf(stderr, "store-bench: mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    double fl = 1e18, fl10 = 1e18, jb = 1e18, je = 1e18, ji = 1e18;
    record_times rt = { 1e18, 1e18, 1e18, 1e18 };
    for (int r = 0; r < ROUNDS; r++) {
        fl = best(fl, floor_insert(n));
        fl10 = best(fl10, floor_insert(n / 10));
        record_times t = record(n);
        rt.new_ms = best(rt.new_ms, t.new_ms);
        rt.again_ms = best(rt.again_ms, t.again_ms);
        rt.changed_ms = best(rt.changed_ms, t.changed_ms);
        rt.load_ms = best(rt.load_ms, t.load_ms);
        double intents = 0, all = journal(n / 10, true, &intents);
        if (all < jb) {
            jb = all;
            ji = intents;
        }
        /* Two rounds: each commit is a sync, this one is slow by design. */
        if (r < 2 && !getenv("STORE_BENCH_NO_EACH")) je = best(je, journal(n / 10, false, NULL));
    }
    printf("# SQLite %s, WAL, synchronous=FULL, best of %d rounds; ratio = ms / floor ms\n", sqlite3_libversion(), ROUNDS);
    report("floor-insert", n, fl, fl);
    report("record-new", n, rt.new_ms, fl);
    report("record-again", n, rt.again_ms, fl);
    report("record-changed", n, rt.changed_ms, fl);
    report("load", n, rt.load_ms, fl);
    /* The journal against the floor for as many rows (a commit's sync is a
     * fixed cost that a tenth of the rows would not share). */
    report("floor-insert", n / 10, fl10, fl10);
    report("journal-batch", n / 10, jb, fl10);
    report("  intents", n / 10, ji, fl10);
    report("  results", n / 10, jb - ji, fl10);
    if (je < 1e18) report("journal-each", n / 10, je, fl10);
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
