/* What goes into the state database comes back out: observations,
 * ownership, the journal in batches (with the rows a result carries),
 * runs, drift, events and the probe cache. Real SQLite files. */
#include "fixtures.h"

static char *tmp;

static pk_store *open_locked(const char *name)
{
    _cleanup_free_ char *db = pk_asprintf("%s/%s", tmp, name);
    pk_store *s = NULL;
    pk_err *err = NULL;
    if (pk_store_open(db, PK_STORE_WRITE, &s, &err) < 0 || pk_store_lock(s, &err) < 0)
        tap_bail("%s", fx_err(err));
    return s;
}

static void test_observations(void)
{
    pk_store *s = open_locked("obs.db");
    pk_err *err = NULL;
    _cleanup_(pk_observed_freep) pk_observed *o = fx_observed(3, 4);
    /* Variety: a failed pool, an absent one, a volume with everything set. */
    pk_obs_pool *bad = &o->pools[1];
    pk_obs_vol *v = &o->pools[0].vols[2];
    v->format = PK_IMG_QCOW2;
    v->backing_path = pk_strdup("/srv/base.qcow2");
    v->backing_format = PK_IMG_QCOW2;
    v->encrypted = true;
    v->perms.label = pk_strdup("system_u:object_r:svirt_image_t:s0");
    v->atime = (pk_timestamp){ 1700000001, 5 };
    v->ctime = (pk_timestamp){ 1700000002, 999999999 };
    v->error = pk_strdup("cannot read qcow2 header: Input/output error");
    v->capacity = UINT64_MAX - 1;   /* unsigned 64-bit survives the int64 column */

    tap_ok(pk_store_record_observation(s, o, &err) == 0, "record an observation of 3 pools x 4 volumes");
    pk_observed *back = NULL;
    tap_ok(pk_store_observed_load(s, &back, &err) == 0 && back && back->n_pools == 3, "it loads back: 3 pools");
    if (!back) tap_bail("%s", fx_err(err));
    const pk_obs_pool *p0 = pk_observed_find_pool(back, "pool0");
    tap_ok(p0 && p0->n_vols == 4 && p0->vols_observed && p0->state == PK_POOL_RUNNING && !p0->error,
           "pool0: running, 4 volumes");
    tap_ok(p0 && p0->capacity == 100ull << 30 && p0->available == 90ull << 30 && p0->perms.mode == 0755 &&
               pk_streq(p0->identity, "64769:1000") && p0->observed_at_ms == 1700000000000,
           "pool0: sizes, mode, identity and time");
    const pk_obs_vol *bv = pk_obs_pool_find_vol(p0, "vol00002");
    tap_ok(bv && bv->format == PK_IMG_QCOW2 && pk_streq(bv->backing_path, "/srv/base.qcow2") &&
               bv->backing_format == PK_IMG_QCOW2 && bv->encrypted,
           "a volume: format, backing store, encryption");
    tap_ok(bv && bv->capacity == UINT64_MAX - 1 && bv->perms.uid == 107 && bv->perms.gid == 107 &&
               bv->perms.mode == 0600 && pk_streq(bv->perms.label, "system_u:object_r:svirt_image_t:s0"),
           "a volume: capacity near 2^64, owner, mode, label");
    tap_ok(bv && bv->atime.sec == 1700000001 && bv->atime.nsec == 5 && bv->ctime.nsec == 999999999 &&
               bv->btime.sec == -1 && bv->mtime.sec == 1700000000 && bv->mtime.nsec == 2,
           "a volume: timestamps to the nanosecond, absent ones absent");
    tap_ok(bv && pk_streq(bv->error, "cannot read qcow2 header: Input/output error"), "a volume's observe error");
    tap_ok(bv && pk_streq(bv->identity, "64769:100002") && pk_streq(bv->key, "/srv/pool0/vol00002"),
           "a volume: identity and key");
    pk_observed_free(back);

    /* Next observation: pool1 fails, pool2 is absent, pool0 lost a volume. */
    pk_obs_pool_clear(bad);
    bad->name = pk_strdup("pool1");
    bad->type = PK_POOL_DIR;
    bad->error = pk_err_new(NULL, 0, 13, "cannot open '/srv/pool1'");
    bad->observed_at_ms = 1700000100000;
    pk_obs_pool *gone = &o->pools[2];
    for (size_t i = 0; i < gone->n_vols; i++) pk_obs_vol_clear(&gone->vols[i]);
    gone->n_vols = 0;
    gone->state = PK_POOL_ABSENT;
    gone->vols_observed = false;
    pk_obs_vol_clear(&o->pools[0].vols[3]);
    o->pools[0].n_vols = 3;
    tap_ok(pk_store_record_observation(s, o, &err) == 0, "record a second observation");
    tap_ok(pk_store_observed_load(s, &back, &err) == 0 && back, "it loads back");
    const pk_obs_pool *p1 = pk_observed_find_pool(back, "pool1");
    tap_ok(p1 && p1->error && strstr(p1->error->msg, "cannot open '/srv/pool1': Permission denied"),
           "a pool that could not be observed keeps its error");
    tap_ok(p1 && p1->n_vols == 4, "and its last known volumes (an error is never 'no volumes')");
    const pk_obs_pool *p2 = pk_observed_find_pool(back, "pool2");
    tap_ok(p2 && p2->state == PK_POOL_ABSENT && p2->n_vols == 0, "an absent pool has no volumes left");
    p0 = pk_observed_find_pool(back, "pool0");
    tap_ok(p0 && p0->n_vols == 3 && !pk_obs_pool_find_vol(p0, "vol00003"), "a volume gone from a listed pool is gone");
    pk_observed_free(back);

    /* Pools not in an observation are left alone. */
    _cleanup_(pk_observed_freep) pk_observed *one = fx_observed(1, 1);
    tap_ok(pk_store_record_observation(s, one, &err) == 0 && pk_store_observed_load(s, &back, &err) == 0 &&
               back->n_pools == 3 && pk_observed_find_pool(back, "pool1")->n_vols == 4,
           "observing one pool keeps the rows of the others");
    pk_observed_free(back);

    /* Nothing observed yet: NULL, not an empty set that reads as 'absent'. */
    pk_store *e = open_locked("obs-empty.db");
    back = (pk_observed *)1;
    tap_ok(pk_store_observed_load(e, &back, &err) == 0 && back == NULL, "an empty store has no observation");
    pk_store_close(e);
    pk_store_close(s);
    pk_err_free(err);
}

static int64_t vol_observed_at(pk_store *s, const char *pool, const char *vol)
{
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(s->db, "SELECT observed_at FROM obs_vol WHERE pool = ?1 AND name = ?2", -1, &st, NULL);
    sqlite3_bind_text(st, 1, pool, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, vol, -1, SQLITE_STATIC);
    int64_t at = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return at;
}

/* An observation that finds a pool's volumes as recorded leaves their rows
 * alone; any change, or a row written by an action, makes it rewrite them. */
static void test_unchanged_rows(void)
{
    pk_store *s = open_locked("digest.db");
    pk_err *err = NULL;
    _cleanup_(pk_observed_freep) pk_observed *o = fx_observed(1, 3);
    pk_obs_pool *p = &o->pools[0];
    tap_ok(pk_store_record_observation(s, o, &err) == 0, "first observation recorded");
    int64_t t0 = vol_observed_at(s, "pool0", "vol00001");
    p->observed_at_ms += 1000;
    p->vols[1].atime = (pk_timestamp){ 1800000000, 0 };   /* read by someone: not a change */
    tap_ok(pk_store_record_observation(s, o, &err) == 0, "the same observation again");
    tap_is_int(vol_observed_at(s, "pool0", "vol00001"), t0, "unchanged volume rows are not rewritten");

    p->observed_at_ms += 1000;
    p->vols[2].capacity *= 2;
    tap_ok(pk_store_record_observation(s, o, &err) == 0, "an observation with one volume grown");
    tap_is_int(vol_observed_at(s, "pool0", "vol00001"), p->observed_at_ms, "a change rewrites the pool's rows");
    pk_observed *back = NULL;
    pk_store_observed_load(s, &back, &err);
    const pk_obs_vol *v2 = back ? pk_obs_pool_find_vol(&back->pools[0], "vol00002") : NULL;
    tap_ok(v2 && v2->capacity == p->vols[2].capacity, "with the new value");
    pk_observed_free(back);

    /* An action's row (journal result) makes the digest unknown: the next
     * observation, even one equal to the last recorded, writes every row. */
    pk_obs_vol changed = p->vols[0];
    changed.capacity = 1;
    tap_ok(pk_store_tx_begin(s, &err) == 0 && pk_store_put_vol_row(s, "pool0", &changed, 0, &err) == 0 &&
               pk_store_tx_end(s, 0, &err) == 0, "a row written one at a time");
    p->observed_at_ms += 1000;
    tap_ok(pk_store_record_observation(s, o, &err) == 0, "the previous observation again");
    pk_store_observed_load(s, &back, &err);
    const pk_obs_vol *v0 = back ? pk_obs_pool_find_vol(&back->pools[0], "vol00000") : NULL;
    tap_ok(v0 && v0->capacity == p->vols[0].capacity, "the row written by the action is replaced by the observation");
    pk_observed_free(back);
    tap_ok(err == NULL, "no store errors");
    pk_err_free(err);
    pk_store_close(s);
}

static void test_ownership(void)
{
    pk_store *s = open_locked("own.db");
    pk_err *err = NULL;
    tap_ok(pk_store_own_take(s, "images", NULL, "64769:77", "/srv/images", PK_OWN_CREATED, 0, &err) == 0,
           "take ownership of a pool");
    tap_ok(pk_store_own_take(s, "images", "a.qcow2", "64769:78", "/srv/images/a.qcow2", PK_OWN_ADOPTED, 0, &err) == 0,
           "and of a volume, adopted");
    tap_ok(pk_store_own_take(s, "images", "b.raw", "64769:79", "/srv/images/b.raw", PK_OWN_CREATED, 0, &err) == 0,
           "and another, created");
    pk_ownership own = { 0 };
    tap_ok(pk_store_ownership_load(s, &own, &err) == 0 && own.n == 3, "ownership loads: 3 objects");
    const pk_owned *pool = pk_ownership_find(&own, "images", NULL);
    const pk_owned *a = pk_ownership_find(&own, "images", "a.qcow2");
    tap_ok(pool && pool->vol == NULL && pk_streq(pool->identity, "64769:77"), "the pool's row has no volume");
    tap_ok(a && pk_streq(a->identity, "64769:78"), "a volume's identity");
    pk_ownership_free(&own);

    /* Re-taking replaces identity (e.g. after re-creating the file). */
    tap_ok(pk_store_own_take(s, "images", "a.qcow2", "64769:99", "/srv/images/a.qcow2", PK_OWN_CREATED, 0, &err) == 0,
           "re-take a volume");
    tap_ok(pk_store_own_drop(s, "images", "b.raw", &err) == 0, "drop a volume");
    tap_ok(pk_store_own_drop(s, "images", "never-owned", &err) == 0, "dropping what is not owned is fine");
    pk_owner *rows = NULL;
    size_t n = 0;
    tap_ok(pk_store_owners_list(s, &rows, &n, &err) == 0 && n == 2, "two owned objects left");
    if (n == 2) {
        tap_ok(rows[0].vol == NULL && pk_streq(rows[0].pool, "images") && rows[0].how == PK_OWN_CREATED,
               "the pool comes first");
        tap_ok(pk_streq(rows[1].vol, "a.qcow2") && pk_streq(rows[1].identity, "64769:99") &&
                   rows[1].how == PK_OWN_CREATED && rows[1].since_ms > 0,
               "the re-taken volume has its new identity, how and time");
    }
    pk_owners_free(rows, n);
    tap_ok(pk_store_own_drop(s, "images", NULL, &err) == 0 && pk_store_ownership_load(s, &own, &err) == 0 &&
               own.n == 1 && pk_ownership_find(&own, "images", "a.qcow2"),
           "dropping the pool keeps its volumes' rows");
    pk_ownership_free(&own);
    pk_store_close(s);
    pk_err_free(err);
}

static pk_pool_def def(const char *name, const char *xml, const char *commit)
{
    return (pk_pool_def){ .name = (char *)name, .type = (char *)"dir", .xml = (char *)xml,
                          .commit = (char *)commit };
}

static char *owned_defs(pk_store *s, int64_t *saved_ms)
{
    pk_pool_def *d = NULL;
    size_t n = 0;
    pk_err *err = NULL;
    if (pk_store_pool_defs_owned(s, &d, &n, &err) < 0) {
        char *t = pk_strdup(fx_err(err));
        pk_err_free(err);
        return t;
    }
    pk_buf b = PK_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        pk_buf_addf(&b, "%s%s=%s@%s", i ? " " : "", d[i].name, d[i].xml, d[i].commit ? d[i].commit : "-");
        if (saved_ms) saved_ms[i] = d[i].saved_ms;
    }
    pk_pool_defs_free(d, n);
    return pk_buf_steal(&b);
}

/* A pool's definition is kept while it is desired or holds anything owned. */
static void test_pool_defs(void)
{
    pk_store *s = open_locked("defs.db");
    pk_err *err = NULL;
    pk_pool_def both[] = { def("a", "<pool>A1</pool>", "c1"), def("b", "<pool>B1</pool>", "c1") };
    tap_ok(pk_store_pool_defs_save(s, both, 2, &err) == 0, "save two definitions");
    _cleanup_free_ char *none = owned_defs(s, NULL);
    tap_is_str(none, "", "nothing owned: no definition is a cleanup candidate");

    pk_store_own_take(s, "a", "v.raw", "1:2", "/a/v.raw", PK_OWN_CREATED, 0, &err);
    pk_store_own_take(s, "b", NULL, "1:3", "/b", PK_OWN_CREATED, 0, &err);
    int64_t t1[2] = { 0 }, t2[2] = { 0 };
    _cleanup_free_ char *owned = owned_defs(s, t1);
    tap_is_str(owned, "a=<pool>A1</pool>@c1 b=<pool>B1</pool>@c1", "definitions of pools holding owned objects");

    usleep(2000);
    pk_pool_def changed[] = { def("a", "<pool>A1</pool>", "c2"), def("b", "<pool>B2</pool>", "c2") };
    tap_ok(pk_store_pool_defs_save(s, changed, 2, &err) == 0, "save again, one changed");
    _cleanup_free_ char *after = owned_defs(s, t2);
    tap_is_str(after, "a=<pool>A1</pool>@c1 b=<pool>B2</pool>@c2",
               "an unchanged definition is not rewritten; a changed one is, with its commit");
    tap_ok(t2[0] == t1[0] && t2[1] > t1[1], "only the changed row got a new time");

    /* Both removed from desired: kept while owned, forgotten once not. */
    tap_ok(pk_store_pool_defs_save(s, NULL, 0, &err) == 0, "save with no desired pool");
    _cleanup_free_ char *kept = owned_defs(s, NULL);
    tap_is_str(kept, "a=<pool>A1</pool>@c1 b=<pool>B2</pool>@c2", "removed pools holding owned objects keep their definitions");
    pk_store_own_drop(s, "a", "v.raw", &err);
    tap_ok(pk_store_pool_defs_save(s, NULL, 0, &err) == 0, "save after a's last volume was released");
    pk_store_own_take(s, "a", "v.raw", "1:2", "/a/v.raw", PK_OWN_CREATED, 0, &err);
    _cleanup_free_ char *forgot = owned_defs(s, NULL);
    tap_is_str(forgot, "b=<pool>B2</pool>@c2", "a removed pool owning nothing is forgotten for good");
    tap_ok(err == NULL, "no store errors");
    pk_err_free(err);
    pk_store_close(s);
}

static void test_journal(void)
{
    pk_store *s = open_locked("journal.db");
    pk_err *err = NULL;
    _cleanup_(pk_observed_freep) pk_observed *o = fx_observed(1, 2);
    if (pk_store_record_observation(s, o, &err) < 0) tap_bail("%s", fx_err(err));
    int64_t run = 0;
    tap_ok(pk_store_run_begin(s, NULL, "main", &run, &err) == 0 && run > 0, "begin a run");
    tap_ok(pk_store_run_set_desired(s, run, "3f2a9c1d00", "main", &err) == 0, "set its desired commit");

    pk_action acts[4] = {
        { .kind = PK_ACT_VOL_CREATE, .pool = "pool0", .vol = "new.qcow2", .after = "qcow2 20 GiB",
          .reason = "pools/pool0/new.qcow2.xml:1 @3f2a9c1" },
        { .kind = PK_ACT_VOL_RESIZE, .pool = "pool0", .vol = "vol00000", .before = "1 MiB",
          .after = "40 GiB", .reason = "pools/pool0/vol00000.xml:4 @3f2a9c1", .drift = true },
        { .kind = PK_ACT_VOL_DELETE, .pool = "pool0", .vol = "vol00001", .risk = PK_RISK_DESTRUCTIVE,
          .before = "2 MiB", .reason = "removed from desired in 3f2a9c1" },
        { .kind = PK_ACT_POOL_START, .pool = "pool0" },
    };
    pk_journal_intent in[4] = { { 0, &acts[0] }, { 1, &acts[1] }, { 2, &acts[2] }, { 3, &acts[3] } };
    tap_ok(pk_store_journal_intents(s, run, in, 4, &err) == 0, "a batch of 4 intents in one transaction");
    pk_journal_entry *e = NULL;
    size_t n = 0;
    tap_ok(pk_store_journal_list(s, run, &e, &n, &err) == 0 && n == 4, "4 journal rows");
    if (n == 4) {
        tap_ok(e[0].state == PK_JOURNAL_INTENT && e[0].ended_ms == 0 && e[0].started_ms > 0 &&
                   e[0].kind == PK_ACT_VOL_CREATE && e[0].before == NULL && pk_streq(e[0].after, "qcow2 20 GiB"),
               "an intent: kind, before/after, no end time");
        tap_ok(e[1].drift && !e[0].drift && pk_streq(e[1].reason, "pools/pool0/vol00000.xml:4 @3f2a9c1"),
               "drift flag and reason kept");
        tap_ok(e[2].risk == PK_RISK_DESTRUCTIVE && e[3].vol == NULL && e[3].kind == PK_ACT_POOL_START,
               "risk kept; a pool action has no volume");
    }
    pk_journal_entries_free(e, n);

    /* A result batch where one result has no pending intent: all or nothing. */
    pk_journal_result bad[2] = {
        { .seq = 3, .state = PK_JOURNAL_DONE },
        { .seq = 9, .state = PK_JOURNAL_DONE },
    };
    tap_ok(pk_store_journal_results(s, run, bad, 2, &err) < 0, "a result without an intent fails the batch");
    _cleanup_free_ char *t = fx_err(err);
    tap_ok(strstr(t, "action 9 of run") && strstr(t, "has no pending intent"), "and names the action");
    pk_err_free(err);
    err = NULL;
    tap_ok(pk_store_journal_list(s, run, &e, &n, &err) == 0 && n == 4 && e[3].state == PK_JOURNAL_INTENT,
           "nothing of the failed batch was recorded");
    pk_journal_entries_free(e, n);

    /* The real results: each with its effects, in one transaction. */
    pk_obs_vol created = {
        .name = "new.qcow2", .key = "/srv/pool0/new.qcow2", .path = "/srv/pool0/new.qcow2",
        .type = PK_VOL_FILE, .format = PK_IMG_QCOW2, .capacity = 20ull << 30, .allocation = 196608,
        .physical = 196608, .perms = { .mode = 0600, .uid = 0, .gid = 0 }, .identity = "64769:500",
        .backing_format = -1, .atime = { -1, 0 }, .mtime = { -1, 0 }, .ctime = { -1, 0 }, .btime = { -1, 0 },
    };
    pk_obs_pool started = o->pools[0];   /* shallow: same strings, new state */
    started.state = PK_POOL_RUNNING;
    started.observed_at_ms = 1800000000000;
    pk_journal_result res[4] = {
        { .seq = 0, .state = PK_JOURNAL_DONE, .own = PK_OWN_TAKE_CREATED, .vol_row = &created },
        { .seq = 1, .state = PK_JOURNAL_FAILED, .error = "cannot resize 'vol00000': No space left on device" },
        { .seq = 2, .state = PK_JOURNAL_DONE, .own = PK_OWN_RELEASE, .vol_gone = true },
        { .seq = 3, .state = PK_JOURNAL_DONE, .pool_row = &started },
    };
    if (pk_store_own_take(s, "pool0", "vol00001", "64769:100001", NULL, PK_OWN_CREATED, 0, &err) < 0)
        tap_bail("%s", fx_err(err));
    tap_ok(pk_store_journal_results(s, run, res, 4, &err) == 0, "a batch of 4 results in one transaction");
    if (err) tap_diag("%s", fx_err(err));
    tap_ok(pk_store_journal_list(s, run, &e, &n, &err) == 0 && n == 4, "4 journal rows");
    if (n == 4) {
        tap_ok(e[0].state == PK_JOURNAL_DONE && e[0].ended_ms >= e[0].started_ms && !e[0].error,
               "done: state and end time");
        tap_ok(e[1].state == PK_JOURNAL_FAILED && pk_streq(e[1].error, "cannot resize 'vol00000': No space left on device"),
               "failed: its error");
    }
    pk_journal_entries_free(e, n);
    pk_ownership own = { 0 };
    tap_ok(pk_store_ownership_load(s, &own, &err) == 0, "ownership after the results");
    const pk_owned *c = pk_ownership_find(&own, "pool0", "new.qcow2");
    pk_owner *orows = NULL;
    size_t n_orows = 0;
    pk_store_owners_list(s, &orows, &n_orows, &err);
    const char *ckey = NULL;
    for (size_t i = 0; i < n_orows; i++)
        if (pk_streq(orows[i].vol, "new.qcow2")) ckey = orows[i].key;
    tap_ok(c && pk_streq(c->identity, "64769:500") && pk_streq(ckey, "/srv/pool0/new.qcow2"),
           "the created volume is owned, identity and key from its observed row");
    pk_owners_free(orows, n_orows);
    tap_ok(!pk_ownership_find(&own, "pool0", "vol00001"), "the deleted volume is no longer owned");
    pk_ownership_free(&own);
    pk_observed *back = NULL;
    tap_ok(pk_store_observed_load(s, &back, &err) == 0 && back, "observations after the results");
    const pk_obs_pool *p = back ? pk_observed_find_pool(back, "pool0") : NULL;
    tap_ok(p && pk_obs_pool_find_vol(p, "new.qcow2") && pk_obs_pool_find_vol(p, "new.qcow2")->capacity == 20ull << 30,
           "the created volume's observed row is there");
    tap_ok(p && !pk_obs_pool_find_vol(p, "vol00001"), "the deleted volume's row is gone");
    tap_ok(p && p->observed_at_ms == 1800000000000 && p->n_vols == 2, "the pool row was replaced, its volumes kept");
    pk_observed_free(back);
    pk_owner *rows = NULL;
    tap_ok(pk_store_owners_list(s, &rows, &n, &err) == 0 && n == 1 && rows[0].run == run,
           "ownership remembers the run that took it");
    pk_owners_free(rows, n);

    /* Answered intents cannot be answered again. */
    pk_journal_result again = { .seq = 0, .state = PK_JOURNAL_FAILED };
    tap_ok(pk_store_journal_results(s, run, &again, 1, &err) < 0, "a result is recorded once");
    pk_err_free(err);
    err = NULL;
    /* A result observing another object than its intent is refused. */
    pk_action a5 = { .kind = PK_ACT_VOL_UPDATE, .pool = "pool0", .vol = "x" };
    pk_journal_intent in5 = { 5, &a5 };
    pk_journal_result r5 = { .seq = 5, .state = PK_JOURNAL_DONE, .vol_row = &created };
    tap_ok(pk_store_journal_intents(s, run, &in5, 1, &err) == 0 && pk_store_journal_results(s, run, &r5, 1, &err) < 0,
           "a result carrying another volume's row is refused");
    pk_err_free(err);
    err = NULL;
    pk_journal_intent dup = { 0, &acts[0] };
    tap_ok(pk_store_journal_intents(s, run, &dup, 1, &err) < 0, "an intent's seq is unique in its run");
    pk_err_free(err);
    err = NULL;
    r5.vol_row = NULL;
    r5.state = PK_JOURNAL_SKIPPED;
    r5.error = "blocked: needs policy allow_shrink";
    tap_ok(pk_store_journal_results(s, run, &r5, 1, &err) == 0, "a skipped result");

    tap_ok(pk_store_run_end(s, run, PK_RUN_FAILED, NULL, &err) == 0, "end the run as failed");
    pk_run r = { 0 };
    tap_ok(pk_store_run_get(s, run, &r, &err) == 1, "read the run");
    tap_ok(r.result == PK_RUN_FAILED && r.ended_ms >= r.started_ms && pk_streq(r.commit, "3f2a9c1d00") &&
               pk_streq(r.ref, "main") && r.pid == getpid(),
           "result, times, commit, ref and pid");
    tap_ok(r.n_actions == 5 && r.n_done == 3 && r.n_failed == 1 && r.n_skipped == 1, "counts from the journal: 5 = 3 + 1 + 1");
    pk_run_clear(&r);
    tap_ok(pk_store_journal_intents(s, run, &in5, 1, &err) < 0, "no intents for a run that ended");
    pk_err_free(err);
    err = NULL;

    int64_t run2 = 0, run3 = 0;
    if (pk_store_run_begin(s, "aaa", "main", &run2, &err) < 0 || pk_store_run_end(s, run2, PK_RUN_OK, NULL, &err) < 0 ||
        pk_store_run_begin(s, NULL, NULL, &run3, &err) < 0 ||
        pk_store_run_end(s, run3, PK_RUN_FAILED, "desired state invalid: 2 errors", &err) < 0)
        tap_bail("%s", fx_err(err));
    pk_run *runs = NULL;
    tap_ok(pk_store_runs_list(s, 2, &runs, &n, &err) == 0 && n == 2 && runs[0].id == run3 && runs[1].id == run2,
           "runs list newest first, limited");
    tap_ok(n == 2 && pk_streq(runs[0].error, "desired state invalid: 2 errors") && runs[0].commit == NULL,
           "a run that failed as a whole keeps why");
    pk_runs_free(runs, n);
    tap_ok(pk_store_runs_list(s, 0, &runs, &n, &err) == 0 && n == 3, "limit 0 lists all");
    pk_runs_free(runs, n);
    tap_ok(pk_store_run_get(s, 0, &r, &err) == 1 && r.id == run3, "run 0 is the newest");
    pk_run_clear(&r);
    tap_ok(pk_store_run_get(s, 9999, &r, &err) == 0, "an unknown run is not found");

    tap_ok(pk_store_journal_last_actions(s, &e, &n, &err) == 0 && n == 5, "last action of each of 5 objects");
    if (n == 5) {
        tap_ok(e[0].vol == NULL && e[0].kind == PK_ACT_POOL_START, "the pool first");
        tap_ok(pk_streq(e[1].vol, "new.qcow2") && pk_streq(e[4].vol, "x"), "then its volumes by name");
    }
    pk_journal_entries_free(e, n);
    pk_store_close(s);
    pk_err_free(err);
}

static void test_drift_events(void)
{
    pk_store *s = open_locked("drift.db");
    pk_err *err = NULL;
    pk_drift_item items[3] = {
        { "images", "a.qcow2", "capacity", "40 GiB, desired 20 GiB" },
        { "images", "a.qcow2", "mode", "0644, desired 0600" },
        { "images", NULL, "mode", "0777, desired 0755" },
    };
    bool fresh[3] = { false, false, false };
    tap_ok(pk_store_drift_note(s, items, 3, fresh, &err) == 0 && fresh[0] && fresh[1] && fresh[2],
           "three drifts opened");
    items[0].detail = "41 GiB, desired 20 GiB";
    tap_ok(pk_store_drift_note(s, items, 1, fresh, &err) == 0 && !fresh[0], "seen again: not new");
    pk_drift *d = NULL;
    size_t n = 0;
    tap_ok(pk_store_drift_list(s, false, &d, &n, &err) == 0 && n == 3, "three open drifts");
    if (n == 3) {
        tap_ok(d[0].vol == NULL && pk_streq(d[0].what, "mode"), "the pool's first");
        tap_ok(pk_streq(d[1].what, "capacity") && pk_streq(d[1].detail, "41 GiB, desired 20 GiB") &&
                   d[1].last_seen_ms >= d[1].first_seen_ms && d[1].resolved_ms == 0,
               "detail and last_seen updated, still open");
    }
    pk_drifts_free(d, n);
    tap_is_int(pk_store_drift_resolve(s, "images", "a.qcow2", "capacity", &err), 1, "resolve one");
    tap_is_int(pk_store_drift_resolve(s, "images", "a.qcow2", "capacity", &err), 0, "resolving again changes nothing");
    tap_ok(pk_store_drift_note(s, items, 1, fresh, &err) == 0 && fresh[0], "the same drift again is a new episode");
    tap_is_int(pk_store_drift_resolve(s, "images", NULL, NULL, &err), 3, "resolve a pool and its volumes");
    tap_ok(pk_store_drift_list(s, false, &d, &n, &err) == 0 && n == 0, "nothing open");
    pk_drifts_free(d, n);
    tap_ok(pk_store_drift_list(s, true, &d, &n, &err) == 0 && n == 4, "all four episodes kept");
    pk_drifts_free(d, n);

    int64_t run = 0, id1 = 0, id2 = 0;
    if (pk_store_run_begin(s, "abc", "main", &run, &err) < 0) tap_bail("%s", fx_err(err));
    tap_ok(pk_store_event_append(s, "drift", 0, "images", "a.qcow2", "capacity drifted", "{\"what\":\"capacity\"}", &id1, &err) == 0 &&
               pk_store_event_append(s, "applied", run, NULL, NULL, "run applied 3 actions", NULL, &id2, &err) == 0 &&
               id2 > id1,
           "append two events");
    pk_event *ev = NULL;
    tap_ok(pk_store_events_list(s, 0, 0, true, &ev, &n, &err) == 0 && n == 2 && pk_streq(ev[0].kind, "drift") &&
               pk_streq(ev[0].data, "{\"what\":\"capacity\"}") && ev[1].run == run && ev[1].delivered_ms == 0,
           "both pending, oldest first, with their fields");
    pk_events_free(ev, n);
    tap_ok(pk_store_event_delivered(s, id1, &err) == 0, "mark one delivered");
    tap_ok(pk_store_events_list(s, 0, 0, true, &ev, &n, &err) == 0 && n == 1 && ev[0].id == id2, "one pending left");
    pk_events_free(ev, n);
    tap_ok(pk_store_events_list(s, id1, 0, false, &ev, &n, &err) == 0 && n == 1 && ev[0].id == id2,
           "events after an id");
    pk_events_free(ev, n);
    pk_store_close(s);
    pk_err_free(err);
}

static void test_probe_cache(void)
{
    pk_store *s = open_locked("probe.db");
    pk_err *err = NULL;
    pk_probe_key k = { .path = "/srv/images/a.qcow2", .dev = 0xfd01, .ino = UINT64_MAX - 7,
                       .size = 196608, .mtime_ns = 1700000000123456789 };
    char *got = NULL;
    tap_is_int(pk_store_probe_get(s, &k, &got, &err), 0, "a miss on an empty cache");
    const char *res = "{\"format\":\"qcow2\",\"virtual-size\":21474836480}";
    tap_ok(pk_store_probe_put(s, &k, &res, 1, &err) == 0, "put a result");
    tap_ok(pk_store_probe_get(s, &k, &got, &err) == 1 && pk_streq(got, res), "a hit returns it (inode near 2^64)");
    free(got);
    got = NULL;
    pk_probe_key changed = k;
    changed.mtime_ns++;
    tap_is_int(pk_store_probe_get(s, &changed, &got, &err), 0, "a new mtime misses");
    changed = k;
    changed.size++;
    tap_is_int(pk_store_probe_get(s, &changed, &got, &err), 0, "a new size misses");
    changed = k;
    changed.ino = 5;
    tap_is_int(pk_store_probe_get(s, &changed, &got, &err), 0, "a replaced file (new inode) misses");
    const char *res2 = "{\"format\":\"raw\"}";
    tap_ok(pk_store_probe_put(s, &changed, &res2, 1, &err) == 0 && pk_store_probe_get(s, &changed, &got, &err) == 1 &&
               pk_streq(got, res2),
           "a new result replaces the path's entry");
    free(got);
    got = NULL;
    tap_is_int(pk_store_probe_get(s, &k, &got, &err), 0, "the old key misses now");

    pk_probe_key many[100];
    const char *results[100];
    char paths[100][32];
    for (int i = 0; i < 100; i++) {
        snprintf(paths[i], sizeof(paths[i]), "/srv/b/%03d.raw", i);
        many[i] = (pk_probe_key){ .path = paths[i], .dev = 1, .ino = (uint64_t)i, .size = 4096, .mtime_ns = i };
        results[i] = "{\"format\":\"raw\"}";
    }
    tap_ok(pk_store_probe_put(s, many, results, 100, &err) == 0, "put 100 results in one transaction");
    tap_ok(pk_store_probe_get(s, &many[57], &got, &err) == 1, "one of them hits");
    free(got);
    got = NULL;
    tap_ok(pk_store_probe_forget(s, paths[57], &err) == 0 && pk_store_probe_get(s, &many[57], &got, &err) == 0,
           "forget a path");
    many[3].path = NULL;
    tap_ok(pk_store_probe_put(s, many, results, 10, &err) < 0, "a batch with a bad entry is refused");
    pk_store_close(s);
    pk_err_free(err);
}

/* A READ handle never writes. */
static void test_read_only_handle(void)
{
    _cleanup_free_ char *db = pk_asprintf("%s/obs.db", tmp);
    pk_store *s = NULL;
    pk_err *err = NULL;
    if (pk_store_open(db, PK_STORE_READ, &s, &err) < 0) tap_bail("%s", fx_err(err));
    _cleanup_(pk_observed_freep) pk_observed *o = fx_observed(1, 1);
    tap_ok(pk_store_record_observation(s, o, &err) < 0, "a READ handle refuses to record");
    _cleanup_free_ char *t = fx_err(err);
    tap_ok(strstr(t, "opened read-only") != NULL, "and says why");
    pk_err_free(err);
    err = NULL;
    tap_ok(pk_store_read_begin(s, &err) == 0 && pk_store_read_begin(s, &err) == 0, "read snapshots nest");
    pk_observed *back = NULL;
    tap_ok(pk_store_observed_load(s, &back, &err) == 0 && back && back->n_pools == 3, "and can be read in");
    pk_observed_free(back);
    pk_store_read_end(s);
    pk_store_read_end(s);
    pk_store_close(s);
}

int main(void)
{
    tmp = tap_tmpdir("store-data");
    test_observations();
    test_unchanged_rows();
    test_ownership();
    test_pool_defs();
    test_journal();
    test_drift_events();
    test_probe_cache();
    test_read_only_handle();
    return tap_done();
}
