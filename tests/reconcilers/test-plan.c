/* The planner, from hand-built inputs: no storage, no repository.
 * Each case builds a desired set, an observation and an ownership set, and
 * checks the actions (kind, order, risk, blocking, dependencies) and notes. */
#include "../tap.h"
#include "../../reconcilers/plan.h"
#include "../../backends/backend.h"
#include <json-c/json.h>

#define COMMIT "3f2a9c1d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b"
#define GiB (1024ULL * 1024 * 1024)

/* ---- capabilities the planner is handed instead of the registry ---- */

static unsigned caps_all(pk_pool_type t)
{
    (void)t;
    return PK_CAP_BUILD | PK_CAP_START | PK_CAP_DELETE_POOL | PK_CAP_CREATE_VOL |
           PK_CAP_RESIZE_VOL | PK_CAP_SHRINK_VOL | PK_CAP_UPDATE_VOL | PK_CAP_DELETE_VOL |
           PK_CAP_IMAGE_FORMATS | PK_CAP_BACKING;
}

/* dir as above; iscsi: can only be started, never built, created or resized. */
static unsigned caps_mixed(pk_pool_type t)
{
    if (t == PK_POOL_ISCSI) return PK_CAP_START;
    return caps_all(t);
}

/* ---- input builders ---- */

typedef struct {
    pk_desired *d;
    pk_observed *o;
    pk_ownership own;
    pk_policy policy;
    pk_caps_fn caps;
    pk_pool **retired;          /* saved definitions of removed pools */
    size_t n_retired;
} world;

static void world_init(world *w)
{
    memset(w, 0, sizeof(*w));
    w->d = PK_NEW(pk_desired);
    w->d->commit = pk_strdup(COMMIT);
    w->d->ref = pk_strdup("main");
    w->d->root = pk_strdup("/srv/storage-config");
    w->o = PK_NEW(pk_observed);
    pk_policy_defaults(&w->policy);
    w->caps = caps_all;
}

static void world_free(world *w)
{
    pk_desired_free(w->d);
    pk_observed_free(w->o);
    pk_ownership_free(&w->own);
    for (size_t i = 0; i < w->n_retired; i++) pk_pool_free(w->retired[i]);
    free(w->retired);
}

static int cmp_dpool(const void *a, const void *b)
{
    return strcmp(((const pk_desired_pool *)a)->pool->name, ((const pk_desired_pool *)b)->pool->name);
}

static int cmp_dvol(const void *a, const void *b)
{
    return strcmp((*(pk_vol *const *)a)->name, (*(pk_vol *const *)b)->name);
}

static int cmp_opool(const void *a, const void *b)
{
    return strcmp(((const pk_obs_pool *)a)->name, ((const pk_obs_pool *)b)->name);
}

static int cmp_ovol(const void *a, const void *b)
{
    return strcmp(((const pk_obs_vol *)a)->name, ((const pk_obs_vol *)b)->name);
}

/* The contracts say "sorted by name": builders add in any order, this sorts. */
static void sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    if (n > 1) qsort(base, n, size, cmp);   /* qsort(NULL, 0) is undefined */
}

static void world_sort(world *w)
{
    sort(w->d->pools, w->d->n_pools, sizeof(*w->d->pools), cmp_dpool);
    for (size_t i = 0; i < w->d->n_pools; i++)
        sort(w->d->pools[i].vols, w->d->pools[i].n_vols, sizeof(pk_vol *), cmp_dvol);
    sort(w->o->pools, w->o->n_pools, sizeof(*w->o->pools), cmp_opool);
    for (size_t i = 0; i < w->o->n_pools; i++)
        sort(w->o->pools[i].vols, w->o->pools[i].n_vols, sizeof(pk_obs_vol), cmp_ovol);
}

static pk_perms no_perms(void)
{
    return (pk_perms){ .mode = -1, .uid = -1, .gid = -1 };
}

static pk_pool *new_pool(const char *name, pk_pool_type type)
{
    pk_pool *p = PK_NEW(pk_pool);
    p->type = type;
    p->name = pk_strdup(name);
    p->target_path = pk_asprintf("/srv/%s", name);
    p->target_perms = no_perms();
    p->source.format = -1;
    return p;
}

static pk_pool *dpool(world *w, const char *name, pk_pool_type type)
{
    pk_pool *p = new_pool(name, type);
    p->file = pk_asprintf("pools/%s.xml", name);
    p->line = 1;
    pk_desired_pool *dp = PK_APPEND(w->d->pools, w->d->n_pools);
    dp->pool = p;
    return p;
}

/* A pool no longer desired whose definition the store kept. */
static pk_pool *retire(world *w, const char *name, pk_pool_type type)
{
    pk_pool *p = new_pool(name, type);
    *PK_APPEND(w->retired, w->n_retired) = p;
    return p;
}

static pk_desired_pool *find_dpool(world *w, const char *name)
{
    for (size_t i = 0; i < w->d->n_pools; i++)
        if (strcmp(w->d->pools[i].pool->name, name) == 0) return &w->d->pools[i];
    tap_bail("test bug: no desired pool '%s'", name);
    return NULL;
}

static pk_vol *dvol(world *w, const char *pool, const char *name, int format, uint64_t capacity)
{
    pk_desired_pool *dp = find_dpool(w, pool);
    pk_vol *v = PK_NEW(pk_vol);
    v->type = PK_VOL_FILE;
    v->type_given = true;
    v->name = pk_strdup(name);
    v->capacity = capacity;
    v->has_capacity = true;
    v->target.format = format;
    v->target.perms = no_perms();
    v->file = pk_asprintf("pools/%s/%s.xml", pool, name);
    v->line = 1;
    v->pos_capacity.line = 4;
    pk_vol **slot = PK_APPEND(dp->vols, dp->n_vols);
    *slot = v;
    return v;
}

static pk_obs_pool *opool(world *w, const char *name, pk_pool_type type, pk_pool_state state)
{
    pk_obs_pool *p = PK_APPEND(w->o->pools, w->o->n_pools);
    p->name = pk_strdup(name);
    p->type = type;
    p->state = state;
    p->perms = no_perms();
    p->identity = pk_asprintf("2049:%s", name);
    p->vols_observed = state == PK_POOL_RUNNING;
    return p;
}

static pk_obs_pool *find_opool(world *w, const char *name)
{
    for (size_t i = 0; i < w->o->n_pools; i++)
        if (strcmp(w->o->pools[i].name, name) == 0) return &w->o->pools[i];
    tap_bail("test bug: no observed pool '%s'", name);
    return NULL;
}

static pk_obs_vol *ovol(world *w, const char *pool, const char *name, int format, uint64_t capacity)
{
    pk_obs_pool *p = find_opool(w, pool);
    pk_obs_vol *v = PK_APPEND(p->vols, p->n_vols);
    v->name = pk_strdup(name);
    v->path = pk_asprintf("/srv/%s/%s", pool, name);
    v->key = pk_strdup(v->path);
    v->type = PK_VOL_FILE;
    v->format = format;
    v->capacity = capacity;
    v->allocation = capacity / 2;
    v->physical = capacity;
    v->perms = (pk_perms){ .mode = 0644, .uid = 0, .gid = 0 };
    v->identity = pk_asprintf("2049:%s", name);
    v->backing_format = -1;
    return v;
}

static void own(world *w, const char *pool, const char *vol)
{
    pk_owned *o = PK_APPEND(w->own.items, w->own.n);
    o->pool = pk_strdup(pool);
    o->vol = pk_strdup(vol);
    o->identity = pk_asprintf("2049:%s", vol ? vol : pool);
}

/* Desired, observed and owned at once: the steady state of one volume. */
static void steady(world *w, const char *pool, const char *name, int format, uint64_t capacity)
{
    dvol(w, pool, name, format, capacity);
    ovol(w, pool, name, format, capacity);
    own(w, pool, name);
}

static pk_plan *plan(world *w)
{
    world_sort(w);
    pk_plan_inputs in = {
        .desired = w->d, .observed = w->o, .owned = &w->own, .policy = &w->policy,
        .caps_for = w->caps,
        .retired = (const pk_pool *const *)w->retired, .n_retired = w->n_retired,
    };
    return pk_plan_compute_inputs(&in);
}

/* ---- checks ---- */

static const pk_plan_note *find_note(const pk_plan *p, const char *needle)
{
    for (size_t i = 0; i < p->n_notes; i++)
        if (strstr(p->notes[i].message, needle)) return &p->notes[i];
    return NULL;
}

/* "pool.build default, pool.start default, vol.create default/a" */
static char *summary(const pk_plan *p)
{
    pk_buf b = PK_BUF_INIT;
    for (size_t i = 0; i < p->n_actions; i++) {
        const pk_action *a = &p->actions[i];
        pk_buf_addf(&b, "%s%s%s %s%s%s", i ? ", " : "", a->blocked ? "!" : "",
                    pk_action_kind_to_string(a->kind), a->pool, a->vol ? "/" : "",
                    a->vol ? a->vol : "");
    }
    return pk_buf_steal(&b);
}

static void is_actions(const pk_plan *p, const char *want, const char *what)
{
    _cleanup_free_ char *got = summary(p);
    if (!tap_is_str(got, want, "%s: actions", what))
        for (size_t i = 0; i < p->n_notes; i++)
            tap_diag("note: %s", p->notes[i].message);
}

/* ---- cases ---- */

static void test_create(void)
{
    world w;
    world_init(&w);
    dpool(&w, "default", PK_POOL_DIR);
    dvol(&w, "default", "web.qcow2", PK_IMG_QCOW2, 20 * GiB);
    opool(&w, "default", PK_POOL_DIR, PK_POOL_RUNNING);
    pk_plan *p = plan(&w);
    is_actions(p, "vol.create default/web.qcow2", "create");
    const pk_action *a = &p->actions[0];
    tap_is_int(a->risk, PK_RISK_SAFE, "create is safe");
    tap_is_str(a->after, "qcow2 20 GiB", "create: after");
    tap_ok(a->after_bytes == 20 * GiB, "create: after_bytes");
    tap_ok(a->before == NULL, "create: no before");
    tap_is_str(a->reason, "pools/default/web.qcow2.xml:1 @3f2a9c1", "create cites the file");
    tap_is_int(a->depends_on, -1, "create in a running pool needs nothing");
    tap_ok(!a->drift && !a->blocked, "create is neither drift nor blocked");
    tap_is_int((long long)p->n_notes, 0, "create: no notes");
    tap_is_int((long long)pk_plan_count_changes(p), 1, "one change");
    pk_plan_free(p);
    world_free(&w);
}

static void test_steady(void)
{
    world w;
    world_init(&w);
    dpool(&w, "default", PK_POOL_DIR);
    opool(&w, "default", PK_POOL_DIR, PK_POOL_RUNNING);
    steady(&w, "default", "a.raw", PK_IMG_RAW, GiB);
    ovol(&w, "default", "unmanaged.iso", PK_IMG_ISO, GiB);   /* not ours, not desired */
    pk_plan *p = plan(&w);
    tap_is_int((long long)p->n_actions, 0, "steady state: nothing to do");
    tap_is_int((long long)p->n_notes, 0, "steady state: unmanaged volumes are not noted");
    pk_plan_free(p);
    world_free(&w);
}

static void test_grow_shrink(void)
{
    world w;
    world_init(&w);
    dpool(&w, "default", PK_POOL_DIR);
    opool(&w, "default", PK_POOL_DIR, PK_POOL_RUNNING);
    dvol(&w, "default", "db.raw", PK_IMG_RAW, 40 * GiB);
    ovol(&w, "default", "db.raw", PK_IMG_RAW, 10 * GiB);
    own(&w, "default", "db.raw");
    dvol(&w, "default", "tmp.raw", PK_IMG_RAW, 8 * GiB);
    ovol(&w, "default", "tmp.raw", PK_IMG_RAW, 40 * GiB);
    own(&w, "default", "tmp.raw");
    pk_plan *p = plan(&w);
    is_actions(p, "vol.resize default/db.raw, !vol.resize default/tmp.raw", "grow and shrink");
    const pk_action *g = &p->actions[0], *s = &p->actions[1];
    tap_is_int(g->risk, PK_RISK_SAFE, "grow is safe");
    tap_is_str(g->before, "10 GiB", "grow: before");
    tap_is_str(g->after, "40 GiB", "grow: after");
    tap_ok(g->before_bytes == 10 * GiB && g->after_bytes == 40 * GiB, "grow: bytes");
    tap_is_str(g->reason, "pools/default/db.raw.xml:4 @3f2a9c1", "resize cites the capacity line");
    tap_is_int(s->risk, PK_RISK_DESTRUCTIVE, "shrink is destructive");
    tap_ok(s->blocked, "shrink blocked by default");
    tap_is_str(s->blocked_why, "shrinking needs policy allow_shrink", "shrink: why");
    pk_plan_free(p);

    w.policy.allow_shrink = true;
    p = plan(&w);
    is_actions(p, "vol.resize default/db.raw, vol.resize default/tmp.raw", "shrink allowed");
    tap_is_str(p->actions[1].allowed_by, "allow_shrink", "shrink: allowed by allow_shrink");
    tap_is_int(p->actions[1].risk, PK_RISK_DESTRUCTIVE, "allowed shrink is still destructive");
    pk_plan_free(p);
    world_free(&w);
}

static void test_delete_prune(void)
{
    world w;
    world_init(&w);
    dpool(&w, "default", PK_POOL_DIR);
    opool(&w, "default", PK_POOL_DIR, PK_POOL_RUNNING);
    steady(&w, "default", "a.raw", PK_IMG_RAW, GiB);
    steady(&w, "default", "b.raw", PK_IMG_RAW, GiB);
    steady(&w, "default", "c.raw", PK_IMG_RAW, GiB);
    ovol(&w, "default", "old.raw", PK_IMG_RAW, 5 * GiB);
    own(&w, "default", "old.raw");
    pk_plan *p = plan(&w);
    is_actions(p, "!vol.delete default/old.raw", "delete without prune");
    const pk_action *a = &p->actions[0];
    tap_is_int(a->risk, PK_RISK_DESTRUCTIVE, "delete is destructive");
    tap_is_str(a->blocked_why, "deleting needs policy prune", "delete: why");
    tap_is_str(a->reason, "removed from desired in 3f2a9c1", "delete: reason");
    tap_is_str(a->before, "raw 5 GiB", "delete: before");
    tap_ok(a->before_bytes == 5 * GiB, "delete: before_bytes");
    tap_ok(a->ovol && pk_streq(a->ovol->name, "old.raw"), "delete carries the observed volume");
    pk_plan_free(p);

    /* 1 of 4 owned = 25%: within max_delete_percent */
    w.policy.prune = true;
    p = plan(&w);
    is_actions(p, "vol.delete default/old.raw", "delete with prune");
    tap_is_str(p->actions[0].allowed_by, "prune", "delete: allowed by prune");
    pk_plan_free(p);
    world_free(&w);
}

static void test_unowned(void)
{
    world w;
    world_init(&w);
    dpool(&w, "default", PK_POOL_DIR);
    opool(&w, "default", PK_POOL_DIR, PK_POOL_RUNNING);
    dvol(&w, "default", "web.qcow2", PK_IMG_QCOW2, 20 * GiB);
    ovol(&w, "default", "web.qcow2", PK_IMG_QCOW2, 10 * GiB);   /* smaller, not ours */
    dvol(&w, "default", "img.raw", PK_IMG_RAW, 2 * GiB)->target.perms.mode = 0600;
    ovol(&w, "default", "img.raw", PK_IMG_RAW, 2 * GiB);        /* matches, not ours */
    pk_plan *p = plan(&w);
    tap_is_int((long long)p->n_actions, 0, "not owned: never changed");
    const pk_plan_note *n = find_note(p, "'default/web.qcow2'");
    tap_is_str(n ? n->message : NULL,
               "volume 'default/web.qcow2' exists, not owned: adopt it with "
               "`poolkeeper adopt vol default web.qcow2`", "not owned: note says how to adopt");
    tap_ok(n && !n->error && pk_streq(n->pool, "default") && pk_streq(n->vol, "web.qcow2"),
           "not owned: a note, not an error");
    tap_is_int((long long)p->n_notes, 2, "one note per unowned desired volume");
    pk_plan_free(p);

    w.policy.adopt = PK_ADOPT_MATCHING;
    p = plan(&w);
    is_actions(p, "adopt default/img.raw, vol.update default/img.raw", "adopt: matching");
    tap_is_str(p->actions[0].after, "raw 2 GiB", "adopt: what");
    tap_is_str(p->actions[0].allowed_by, "adopt", "adopt: by policy");
    tap_is_int(p->actions[1].depends_on, 0, "update after adopting depends on the adoption");
    tap_ok(!p->actions[1].drift, "first update of an adopted volume is not drift");
    n = find_note(p, "'default/web.qcow2'");
    tap_is_str(n ? n->message : NULL,
               "volume 'default/web.qcow2' exists, not owned, and does not match the desired "
               "volume (found file qcow2 10 GiB, desired file qcow2 20 GiB): not adopted",
               "adopt: a mismatch is not adopted");
    pk_plan_free(p);
    world_free(&w);
}

static void test_replaced(void)
{
    world w;
    world_init(&w);
    dpool(&w, "default", PK_POOL_DIR);
    opool(&w, "default", PK_POOL_DIR, PK_POOL_RUNNING);
    for (int i = 0; i < 8; i++) {
        char name[16];
        snprintf(name, sizeof(name), "k%d.raw", i);
        steady(&w, "default", name, PK_IMG_RAW, GiB);
    }
    /* ours once, gone from desired, but the file is a different one now */
    pk_obs_vol *v = ovol(&w, "default", "old.raw", PK_IMG_RAW, GiB);
    free(v->identity);
    v->identity = pk_strdup("2049:999");
    own(&w, "default", "old.raw");
    /* ours once, still desired and bigger, also replaced */
    dvol(&w, "default", "new.raw", PK_IMG_RAW, 4 * GiB);
    v = ovol(&w, "default", "new.raw", PK_IMG_RAW, GiB);
    free(v->identity);
    v->identity = NULL;
    own(&w, "default", "new.raw");
    w.policy.prune = true;
    pk_plan *p = plan(&w);
    is_actions(p, "", "replaced: neither deleted nor resized");
    const pk_plan_note *n = find_note(p, "'default/old.raw' was replaced");
    tap_is_str(n ? n->message : NULL,
               "volume 'default/old.raw' was replaced outside poolkeeper (identity '2049:999', "
               "recorded '2049:old.raw'): it is no longer treated as owned", "replaced: note");
    tap_ok(find_note(p, "'default/new.raw' has no identity") != NULL,
           "no identity to compare counts as replaced");
    tap_ok(find_note(p, "'default/new.raw' exists, not owned") != NULL,
           "replaced desired volume is handled as not owned");
    pk_plan_free(p);
    world_free(&w);
}

static void test_drift_perms(void)
{
    world w;
    world_init(&w);
    dpool(&w, "default", PK_POOL_DIR);
    opool(&w, "default", PK_POOL_DIR, PK_POOL_RUNNING);
    pk_vol *d = dvol(&w, "default", "a.raw", PK_IMG_RAW, GiB);
    d->target.perms.mode = 0600;
    d->target.perms.uid = 107;
    pk_obs_vol *o = ovol(&w, "default", "a.raw", PK_IMG_RAW, GiB);
    o->perms.mode = 0100644;       /* file type bits are not permissions */
    own(&w, "default", "a.raw");
    steady(&w, "default", "b.raw", PK_IMG_RAW, GiB);
    /* poolkeeper left it 0600 owned by 107: someone changed it since. */
    pk_ownership_sort(&w.own);
    pk_owned *rec = (pk_owned *)pk_ownership_find(&w.own, "default", "a.raw");
    rec->has_applied = true;
    rec->applied_capacity = GiB;
    rec->applied_mode = 0600;
    rec->applied_uid = 107;
    rec->applied_gid = -1;
    find_dpool(&w, "default")->vols[1]->target.perms.mode = 0644;   /* same as observed */
    pk_plan *p = plan(&w);
    is_actions(p, "vol.update default/a.raw", "perms drift");
    const pk_action *a = &p->actions[0];
    tap_is_str(a->before, "mode 0644, owner 0", "perms: before lists what differs");
    tap_is_str(a->after, "mode 0600, owner 107", "perms: after");
    tap_ok(a->drift && !a->blocked, "drift: correct (default) corrects it");
    pk_plan_free(p);

    w.policy.drift = PK_DRIFT_REPORT;
    p = plan(&w);
    is_actions(p, "!vol.update default/a.raw", "perms drift reported");
    tap_is_str(p->actions[0].blocked_why, "drift: report (policy)", "drift report: why");
    tap_ok(p->actions[0].drift, "drift report: flagged");
    pk_plan_free(p);

    /* The same difference, but poolkeeper never set 0600/107: the desired
     * state changed, which is not drift and runs even under drift: report. */
    rec->applied_mode = 0644;
    rec->applied_uid = 0;
    p = plan(&w);
    is_actions(p, "vol.update default/a.raw", "a new desired mode under drift: report");
    tap_ok(!p->actions[0].drift && !p->actions[0].blocked, "a wanted change is not drift");
    pk_plan_free(p);

    world_free(&w);
}

static void test_drift_resize(void)
{
    world w;
    world_init(&w);
    dpool(&w, "default", PK_POOL_DIR);
    opool(&w, "default", PK_POOL_DIR, PK_POOL_RUNNING);
    dvol(&w, "default", "a.raw", PK_IMG_RAW, 2 * GiB);
    ovol(&w, "default", "a.raw", PK_IMG_RAW, GiB);
    own(&w, "default", "a.raw");
    pk_owned *rec = &w.own.items[w.own.n - 1];
    rec->has_applied = true;
    rec->applied_capacity = GiB;
    rec->applied_mode = rec->applied_uid = rec->applied_gid = -1;
    w.policy.drift = PK_DRIFT_REPORT;
    pk_plan *p = plan(&w);
    is_actions(p, "vol.resize default/a.raw", "a committed grow runs under drift: report");
    tap_ok(!p->actions[0].drift, "a committed grow is not drift");
    pk_plan_free(p);
    rec->applied_capacity = 2 * GiB;   /* we made it 2 GiB; it is 1 GiB now */
    p = plan(&w);
    is_actions(p, "!vol.resize default/a.raw", "shrunk outside poolkeeper: reported only");
    tap_ok(p->actions[0].drift, "changed outside poolkeeper: drift");
    pk_plan_free(p);
    world_free(&w);
}

static void test_pool_missing(void)
{
    world w;
    world_init(&w);
    dpool(&w, "default", PK_POOL_DIR);
    dvol(&w, "default", "b.raw", PK_IMG_RAW, GiB);
    dvol(&w, "default", "a.qcow2", PK_IMG_QCOW2, 2 * GiB);
    opool(&w, "default", PK_POOL_DIR, PK_POOL_ABSENT);
    pk_plan *p = plan(&w);
    is_actions(p, "pool.build default, pool.start default, vol.create default/a.qcow2, "
               "vol.create default/b.raw", "pool missing");
    tap_is_str(p->actions[0].after, "/srv/default", "build: target");
    tap_is_str(p->actions[0].reason, "pools/default.xml:1 @3f2a9c1", "build cites the pool file");
    tap_is_int(p->actions[0].risk, PK_RISK_SAFE, "build of an empty target is safe");
    tap_is_int(p->actions[1].depends_on, 0, "start depends on build");
    tap_is_int(p->actions[2].depends_on, 1, "create depends on start");
    tap_is_int(p->actions[3].depends_on, 1, "every create depends on start");
    pk_plan_free(p);
    world_free(&w);
}

static void test_pool_stopped(void)
{
    world w;
    world_init(&w);
    dpool(&w, "default", PK_POOL_DIR);
    dvol(&w, "default", "a.raw", PK_IMG_RAW, GiB);
    opool(&w, "default", PK_POOL_DIR, PK_POOL_INACTIVE);
    own(&w, "default", NULL);
    own(&w, "default", "a.raw");
    pk_plan *p = plan(&w);
    is_actions(p, "pool.start default", "pool stopped: start, no volume guesses");
    tap_ok(p->actions[0].drift, "ours and stopped outside poolkeeper: drift");
    const pk_plan_note *n = find_note(p, "not running");
    tap_is_str(n ? n->message : NULL,
               "pool 'default' is not running: its volumes are planned once it is started",
               "pool stopped: note");
    tap_ok(n && !n->error, "pool stopped: not an error");
    pk_plan_free(p);

    w.policy.drift = PK_DRIFT_REPORT;
    p = plan(&w);
    is_actions(p, "!pool.start default", "pool stopped under drift: report");
    pk_plan_free(p);
    world_free(&w);
}

static void test_pool_nonempty(void)
{
    world w;
    world_init(&w);
    dpool(&w, "default", PK_POOL_DIR);
    dvol(&w, "default", "a.raw", PK_IMG_RAW, GiB);
    opool(&w, "default", PK_POOL_DIR, PK_POOL_ABSENT)->nonempty = true;
    pk_plan *p = plan(&w);
    is_actions(p, "!pool.build default, !pool.start default, !vol.create default/a.raw",
               "build over data: blocked with everything after it");
    tap_is_str(p->actions[0].blocked_why,
               "'/srv/default' is not empty: building over it needs policy allow_format",
               "build over data: why");
    tap_is_int(p->actions[0].risk, PK_RISK_DESTRUCTIVE, "build over data is destructive");
    tap_is_str(p->actions[1].blocked_why, "needs pool.build of 'default', which is blocked",
               "start: blocked by the build");
    tap_is_str(p->actions[2].blocked_why, "needs pool.start of 'default', which is blocked",
               "create: blocked by the start");
    tap_is_int(p->actions[2].depends_on, 1, "blocked create keeps its dependency");
    pk_plan_free(p);

    w.policy.allow_format = true;
    p = plan(&w);
    is_actions(p, "pool.build default, pool.start default, vol.create default/a.raw",
               "build over data with allow_format");
    tap_is_str(p->actions[0].allowed_by, "allow_format", "build: allowed by allow_format");
    pk_plan_free(p);
    world_free(&w);
}

static void test_capabilities(void)
{
    world w;
    world_init(&w);
    w.caps = caps_mixed;
    dpool(&w, "san", PK_POOL_ISCSI);
    dvol(&w, "san", "lun1", -1, GiB);
    opool(&w, "san", PK_POOL_ISCSI, PK_POOL_ABSENT);
    dpool(&w, "san2", PK_POOL_ISCSI);
    dvol(&w, "san2", "lun2", -1, 2 * GiB);
    opool(&w, "san2", PK_POOL_ISCSI, PK_POOL_RUNNING);
    pk_plan *p = plan(&w);
    is_actions(p, "", "capabilities: nothing it cannot do");
    const pk_plan_note *n = find_note(p, "cannot be built");
    tap_is_str(n ? n->message : NULL,
               "pool 'san' does not exist and pool type 'iscsi' cannot be built; "
               "not planning changes for it", "cannot build: note");
    tap_ok(n && n->error, "cannot build: an error");
    n = find_note(p, "cannot create volumes");
    tap_is_str(n ? n->message : NULL,
               "pool type 'iscsi' cannot create volumes: 'san2/lun2' is not created",
               "cannot create: note");
    pk_plan_free(p);
    world_free(&w);
}

static void test_format_change(void)
{
    world w;
    world_init(&w);
    dpool(&w, "default", PK_POOL_DIR);
    opool(&w, "default", PK_POOL_DIR, PK_POOL_RUNNING);
    dvol(&w, "default", "a", PK_IMG_RAW, 2 * GiB);
    ovol(&w, "default", "a", PK_IMG_QCOW2, GiB);
    own(&w, "default", "a");
    pk_plan *p = plan(&w);
    is_actions(p, "vol.resize default/a", "format change: only the size changes");
    const pk_plan_note *n = find_note(p, "format change");
    tap_is_str(n ? n->message : NULL,
               "volume 'default/a': format change from qcow2 to raw is not supported "
               "(would need a new volume)", "format change: note");
    pk_plan_free(p);
    world_free(&w);
}

static void add_owned_pool(world *w, const char *pool, int n_vols)
{
    dpool(w, pool, PK_POOL_DIR);
    opool(w, pool, PK_POOL_DIR, PK_POOL_RUNNING);
    for (int i = 0; i < n_vols; i++) {
        char name[16];
        snprintf(name, sizeof(name), "v%d.raw", i);
        steady(w, pool, name, PK_IMG_RAW, GiB);
    }
}

static void test_mass_delete(void)
{
    world w;
    world_init(&w);
    add_owned_pool(&w, "default", 2);
    ovol(&w, "default", "x.raw", PK_IMG_RAW, GiB);
    own(&w, "default", "x.raw");
    ovol(&w, "default", "y.raw", PK_IMG_RAW, GiB);
    own(&w, "default", "y.raw");
    w.policy.prune = true;
    pk_plan *p = plan(&w);
    is_actions(p, "!vol.delete default/x.raw, !vol.delete default/y.raw", "mass delete guard");
    tap_is_str(p->actions[0].blocked_why,
               "would delete 2 of 4 owned volumes (50%), more than max_delete_percent=25; "
               "rerun with --allow-mass-delete", "mass delete: why");
    pk_plan_free(p);

    ovol(&w, "default", "z.raw", PK_IMG_RAW, GiB);
    own(&w, "default", "z.raw");
    p = plan(&w);
    tap_is_str(p->n_actions ? p->actions[0].blocked_why : NULL,
               "would delete 3 of 5 owned volumes (60%), more than max_delete_percent=25; "
               "rerun with --allow-mass-delete", "mass delete: count");
    pk_plan_free(p);

    w.policy.max_delete_percent = 50;
    dvol(&w, "default", "z.raw", PK_IMG_RAW, GiB);   /* 2 of 5 = 40% */
    p = plan(&w);
    is_actions(p, "vol.delete default/x.raw, vol.delete default/y.raw",
               "mass delete: within a higher max_delete_percent");
    pk_plan_free(p);

    w.policy.max_delete_percent = 25;
    w.policy.allow_mass_delete = true;
    p = plan(&w);
    is_actions(p, "vol.delete default/x.raw, vol.delete default/y.raw",
               "mass delete: --allow-mass-delete");
    pk_plan_free(p);

    /* Without prune nothing is about to be deleted: the guard says nothing. */
    w.policy.allow_mass_delete = false;
    w.policy.prune = false;
    p = plan(&w);
    tap_is_str(p->actions[0].blocked_why, "deleting needs policy prune",
               "mass delete: prune is the first reason");
    pk_plan_free(p);
    world_free(&w);

    /* 1 of 3 is 33.3% */
    world_init(&w);
    add_owned_pool(&w, "default", 2);
    ovol(&w, "default", "x.raw", PK_IMG_RAW, GiB);
    own(&w, "default", "x.raw");
    w.policy.prune = true;
    p = plan(&w);
    tap_is_str(p->actions[0].blocked_why,
               "would delete 1 of 3 owned volumes (33.3%), more than max_delete_percent=25; "
               "rerun with --allow-mass-delete", "mass delete: fractional share");
    pk_plan_free(p);
    world_free(&w);
}

static void test_empty_desired(void)
{
    world w;
    world_init(&w);
    retire(&w, "default", PK_POOL_DIR);   /* its file was removed: the store kept it */
    opool(&w, "default", PK_POOL_DIR, PK_POOL_RUNNING);
    ovol(&w, "default", "a.raw", PK_IMG_RAW, GiB);
    own(&w, "default", "a.raw");
    ovol(&w, "default", "b.raw", PK_IMG_RAW, GiB);
    own(&w, "default", "b.raw");
    own(&w, "default", NULL);
    w.policy.prune = true;
    w.policy.allow_pool_delete = true;
    w.policy.max_delete_percent = 100;
    pk_plan *p = plan(&w);
    is_actions(p, "!vol.delete default/a.raw, !vol.delete default/b.raw, !pool.stop default, "
               "!pool.delete default", "empty desired set");
    const char *why = "the desired state has no pools, which looks like a mistake; "
                      "rerun with --allow-mass-delete";
    tap_is_str(p->actions[0].blocked_why, why, "empty desired: volume delete why");
    tap_is_str(p->actions[3].blocked_why, why, "empty desired: pool delete why");
    pk_plan_free(p);

    w.policy.allow_mass_delete = true;
    p = plan(&w);
    is_actions(p, "vol.delete default/a.raw, vol.delete default/b.raw, pool.stop default, "
               "pool.delete default", "empty desired set with --allow-mass-delete");
    pk_plan_free(p);
    world_free(&w);
}

static void test_observe_error(void)
{
    world w;
    world_init(&w);
    dpool(&w, "default", PK_POOL_DIR);
    dvol(&w, "default", "a.raw", PK_IMG_RAW, GiB);
    pk_obs_pool *op = opool(&w, "default", PK_POOL_DIR, PK_POOL_ABSENT);
    op->vols_observed = false;
    pk_err *e = NULL;
    pk_fail_errno(&e, 13, "cannot stat '%s'", "/srv/default");
    op->error = e;
    own(&w, "default", NULL);
    own(&w, "default", "old.raw");   /* would be pruned if "absent" meant gone */
    dpool(&w, "other", PK_POOL_DIR); /* desired but never observed */
    w.policy.prune = true;
    w.policy.allow_mass_delete = true;
    pk_plan *p = plan(&w);
    is_actions(p, "", "observe error: no build, no create, no delete");
    const pk_plan_note *n = find_note(p, "cannot observe pool");
    tap_is_str(n ? n->message : NULL,
               "cannot observe pool 'default': cannot stat '/srv/default': Permission denied; "
               "not planning changes for it", "observe error: note");
    tap_ok(n && n->error, "observe error: an error");
    pk_plan_free(p);

    /* The observer's own "cannot observe pool" wrapper is not said twice. */
    pk_wrap(&op->error, "cannot observe pool '%s'", "default");
    p = plan(&w);
    n = find_note(p, "cannot observe pool");
    tap_is_str(n ? n->message : NULL,
               "cannot observe pool 'default': cannot stat '/srv/default': Permission denied; "
               "not planning changes for it", "observe error: wrapped error");
    n = find_note(p, "'other'");
    tap_is_str(n ? n->message : NULL, "pool 'other' was not observed; not planning changes for it",
               "never observed: note");
    tap_ok(n && n->error, "never observed: an error");
    pk_plan_free(p);
    world_free(&w);
}

static void test_vol_observe_error(void)
{
    world w;
    world_init(&w);
    add_owned_pool(&w, "default", 6);
    dvol(&w, "default", "a.raw", PK_IMG_RAW, GiB);
    ovol(&w, "default", "a.raw", PK_IMG_RAW, 0)->error = pk_strdup("cannot read header: Input/output error");
    ovol(&w, "default", "gone.raw", PK_IMG_RAW, 0)->error = pk_strdup("permission denied");
    own(&w, "default", "gone.raw");
    w.policy.prune = true;
    pk_plan *p = plan(&w);
    is_actions(p, "", "volume observe error: no create, no delete");
    const pk_plan_note *n = find_note(p, "'default/a.raw'");
    tap_is_str(n ? n->message : NULL,
               "cannot observe volume 'default/a.raw': cannot read header: Input/output error; "
               "not planning changes for it", "volume observe error: note");
    tap_ok(n && n->error, "volume observe error: an error");
    tap_is_int((long long)p->n_notes, 2, "one note per unobservable volume");
    pk_plan_free(p);
    world_free(&w);
}

static void test_backing(void)
{
    world w;
    world_init(&w);
    dpool(&w, "default", PK_POOL_DIR);
    opool(&w, "default", PK_POOL_DIR, PK_POOL_RUNNING);
    pk_vol *ov = dvol(&w, "default", "a-overlay.qcow2", PK_IMG_QCOW2, 20 * GiB);
    ov->backing = PK_NEW(pk_backing_store);
    ov->backing->path = pk_strdup("/srv/default/z-base.qcow2");
    ov->backing->format = PK_IMG_QCOW2;
    ov->backing->perms = no_perms();
    dvol(&w, "default", "m.raw", PK_IMG_RAW, GiB);
    dvol(&w, "default", "z-base.qcow2", PK_IMG_QCOW2, 20 * GiB);
    pk_plan *p = plan(&w);
    is_actions(p, "vol.create default/m.raw, vol.create default/z-base.qcow2, "
               "vol.create default/a-overlay.qcow2", "backing file before its overlay");
    tap_is_int(p->actions[2].depends_on, 1, "overlay depends on its base");
    pk_plan_free(p);
    world_free(&w);

    /* deleting: overlays first; a base some kept overlay uses stays */
    world_init(&w);
    add_owned_pool(&w, "default", 8);
    pk_obs_vol *base = ovol(&w, "default", "a-base.qcow2", PK_IMG_QCOW2, GiB);
    (void)base;
    own(&w, "default", "a-base.qcow2");
    ovol(&w, "default", "b-top.qcow2", PK_IMG_QCOW2, GiB)->backing_path =
        pk_strdup("/srv/default/a-base.qcow2");
    own(&w, "default", "b-top.qcow2");
    ovol(&w, "default", "c-base.qcow2", PK_IMG_QCOW2, GiB);
    own(&w, "default", "c-base.qcow2");
    ovol(&w, "default", "d-user.qcow2", PK_IMG_QCOW2, GiB)->backing_path =
        pk_strdup("/srv/default/c-base.qcow2");   /* not ours: kept */
    w.policy.prune = true;
    w.policy.max_delete_percent = 50;
    p = plan(&w);
    is_actions(p, "vol.delete default/b-top.qcow2, vol.delete default/a-base.qcow2, "
               "!vol.delete default/c-base.qcow2", "overlay deleted before its base");
    tap_is_int(p->actions[1].depends_on, 0, "base deletion depends on its overlay's");
    tap_is_str(p->actions[2].blocked_why,
               "'default/c-base.qcow2' is the backing file of 'default/d-user.qcow2', which is kept",
               "a base in use is not deleted");
    pk_plan_free(p);
    world_free(&w);
}

/* File images: formats that are one on disk, sizes qemu rounds, options
 * and backing stores that differ (notes, never actions), labels that do
 * not apply, and backing stores outside every desired pool. */
static void test_file_images(void)
{
    world w;
    world_init(&w);
    dpool(&w, "default", PK_POOL_DIR);
    opool(&w, "default", PK_POOL_DIR, PK_POOL_RUNNING);
    steady(&w, "default", "cd.iso", PK_IMG_ISO, GiB);
    find_opool(&w, "default")->vols[0].format = PK_IMG_RAW;   /* an empty iso reads as raw */
    dvol(&w, "default", "d.vhd", PK_IMG_VHD, GiB);
    ovol(&w, "default", "d.vhd", PK_IMG_VPC, GiB);
    own(&w, "default", "d.vhd");
    dvol(&w, "default", "odd.qcow2", PK_IMG_QCOW2, 1000);
    ovol(&w, "default", "odd.qcow2", PK_IMG_QCOW2, 1024);       /* qemu-img create: KiB */
    own(&w, "default", "odd.qcow2");
    dvol(&w, "default", "odd2.qcow2", PK_IMG_QCOW2, 1000);
    ovol(&w, "default", "odd2.qcow2", PK_IMG_QCOW2, 1536);      /* neither rounding: a resize */
    own(&w, "default", "odd2.qcow2");
    dvol(&w, "default", "odd.raw", PK_IMG_RAW, 1000);
    ovol(&w, "default", "odd.raw", PK_IMG_RAW, 1024);           /* raw is exact */
    own(&w, "default", "odd.raw");
    dvol(&w, "default", "sub", PK_IMG_DIR, 0);
    ovol(&w, "default", "sub", PK_IMG_DIR, 4096)->type = PK_VOL_DIR;
    own(&w, "default", "sub");
    pk_vol *o = dvol(&w, "default", "opts.qcow2", PK_IMG_QCOW2, GiB);
    o->target.compat = pk_strdup("1.1");
    o->target.has_cluster_size = true;
    o->target.cluster_size = 131072;
    o->target.has_features = true;
    o->target.lazy_refcounts = true;
    o->target.perms.label = pk_strdup("system_u:object_r:virt_image_t:s0");
    o->backing = PK_NEW(pk_backing_store);
    o->backing->path = pk_strdup("/srv/default/cd.iso");
    o->backing->format = PK_IMG_RAW;
    o->backing->perms = no_perms();
    pk_obs_vol *oo = ovol(&w, "default", "opts.qcow2", PK_IMG_QCOW2, GiB);
    snprintf(oo->compat, sizeof(oo->compat), "0.10");
    oo->cluster_size = 65536;
    own(&w, "default", "opts.qcow2");
    pk_plan *p = plan(&w);
    is_actions(p, "!vol.resize default/odd.raw, !vol.resize default/odd2.qcow2",
               "iso is raw, vhd is vpc, qemu's rounding, a directory's size: no change");
    const char *notes[] = {
        "volume 'default/opts.qcow2': compat is 0.10, desired 1.1; changing it is not supported (would need a new volume)",
        "volume 'default/opts.qcow2': cluster size is 65536 bytes, desired 131072; changing it is not supported (would need a new volume)",
        "volume 'default/opts.qcow2': features are lazy_refcounts=off extended_l2=off, desired lazy_refcounts=on extended_l2=off; changing them is not supported",
        "volume 'default/opts.qcow2': backing store is 'none', desired '/srv/default/cd.iso'; it is not changed (would need qemu-img rebase)",
        "volume 'default/opts.qcow2': label 'system_u:object_r:virt_image_t:s0' is not applicable: the file has no SELinux label (SELinux is not active)",
    };
    for (size_t i = 0; i < PK_NELEM(notes); i++) {
        const pk_plan_note *n = find_note(p, notes[i]);
        tap_ok(n && !n->error && strcmp(n->message, notes[i]) == 0, "note: %s", notes[i]);
    }
    tap_is_int((long long)p->n_notes, (long long)PK_NELEM(notes), "no other notes");
    pk_plan_free(p);
    world_free(&w);

    /* a label the file has is compared and set */
    world_init(&w);
    dpool(&w, "default", PK_POOL_DIR);
    opool(&w, "default", PK_POOL_DIR, PK_POOL_RUNNING);
    dvol(&w, "default", "l.raw", PK_IMG_RAW, GiB)->target.perms.label = pk_strdup("a_t");
    ovol(&w, "default", "l.raw", PK_IMG_RAW, GiB)->perms.label = pk_strdup("b_t");
    own(&w, "default", "l.raw");
    p = plan(&w);
    is_actions(p, "vol.update default/l.raw", "a differing label: vol.update");
    tap_is_str(p->actions[0].before, "label b_t", "label: before");
    tap_is_str(p->actions[0].after, "label a_t", "label: after");
    pk_plan_free(p);
    world_free(&w);

    /* backing stores: a desired volume, a file found in a desired pool, or refused */
    world_init(&w);
    dpool(&w, "default", PK_POOL_DIR);
    opool(&w, "default", PK_POOL_DIR, PK_POOL_RUNNING);
    ovol(&w, "default", "golden.raw", PK_IMG_RAW, GiB);   /* not desired, not ours */
    const char *bases[] = { "/srv/default/golden.raw", "/srv/default/nothing.raw" };
    const char *names[] = { "on-golden.qcow2", "on-nothing.qcow2" };
    for (int i = 0; i < 2; i++) {
        pk_vol *v = dvol(&w, "default", names[i], PK_IMG_QCOW2, GiB);
        v->backing = PK_NEW(pk_backing_store);
        v->backing->path = pk_strdup(bases[i]);
        v->backing->format = PK_IMG_RAW;
        v->backing->perms = no_perms();
    }
    p = plan(&w);
    is_actions(p, "vol.create default/on-golden.qcow2, !vol.create default/on-nothing.qcow2",
               "backing stores checked");
    tap_is_str(p->actions[0].after, "qcow2 1 GiB on '/srv/default/golden.raw'", "create says what it is on");
    tap_is_str(p->actions[1].blocked_why,
               "backing store '/srv/default/nothing.raw' is not a volume of any desired pool "
               "(declare a pool for its directory to allow it)", "an unknown backing store blocks");
    pk_plan_free(p);
    world_free(&w);
}

/* Same inputs, any input order: same plan, pools by name, then volumes by name. */
static void test_deterministic(void)
{
    char *first = NULL;
    for (int round = 0; round < 2; round++) {
        world w;
        world_init(&w);
        const char *pools[] = { "zeta", "alpha", "mid" };
        for (int i = 0; i < 3; i++) {
            const char *pool = pools[round ? 2 - i : i];
            dpool(&w, pool, PK_POOL_DIR);
            opool(&w, pool, PK_POOL_DIR, PK_POOL_RUNNING);
            dvol(&w, pool, round ? "b.raw" : "a.raw", PK_IMG_RAW, GiB);
            dvol(&w, pool, round ? "a.raw" : "b.raw", PK_IMG_RAW, GiB);
        }
        pk_plan *p = plan(&w);
        _cleanup_free_ char *got = summary(p);
        if (!first) {
            first = TAKE_PTR(got);
            tap_is_str(first, "vol.create alpha/a.raw, vol.create alpha/b.raw, "
                       "vol.create mid/a.raw, vol.create mid/b.raw, "
                       "vol.create zeta/a.raw, vol.create zeta/b.raw", "sorted by pool, then volume");
        } else {
            tap_is_str(got, first, "input order does not change the plan");
        }
        pk_plan_free(p);
        world_free(&w);
    }
    free(first);
}

static void test_pool_delete(void)
{
    world w;
    world_init(&w);
    add_owned_pool(&w, "keep", 6);
    const pk_pool *old_def = retire(&w, "old", PK_POOL_DIR);
    opool(&w, "old", PK_POOL_DIR, PK_POOL_RUNNING);
    own(&w, "old", NULL);
    ovol(&w, "old", "b.raw", PK_IMG_RAW, GiB);
    own(&w, "old", "b.raw");
    ovol(&w, "old", "a.raw", PK_IMG_RAW, GiB);
    own(&w, "old", "a.raw");
    w.policy.prune = true;
    w.policy.allow_pool_delete = true;
    pk_plan *p = plan(&w);
    is_actions(p, "vol.delete old/a.raw, vol.delete old/b.raw, pool.stop old, pool.delete old",
               "pool delete after its volumes");
    tap_is_int(p->actions[2].depends_on, 1, "stop after the last volume deletion");
    tap_is_int(p->actions[3].depends_on, 2, "delete after stop");
    tap_is_str(p->actions[3].reason, "removed from desired in 3f2a9c1", "pool delete: reason");
    tap_is_int(p->actions[3].risk, PK_RISK_DESTRUCTIVE, "pool delete is destructive");
    tap_is_str(p->actions[3].allowed_by, "allow_pool_delete", "pool delete: allowed by policy");
    bool all_def = true;
    for (size_t i = 0; i < p->n_actions; i++) all_def &= p->actions[i].dpool == old_def;
    tap_ok(all_def, "removed pool: every action acts through its saved definition");
    pk_plan_free(p);

    w.policy.allow_pool_delete = false;
    p = plan(&w);
    is_actions(p, "vol.delete old/a.raw, vol.delete old/b.raw, !pool.stop old, !pool.delete old",
               "pool delete without allow_pool_delete");
    tap_is_str(p->actions[3].blocked_why, "deleting a pool needs policy allow_pool_delete",
               "pool delete: why");
    pk_plan_free(p);

    w.policy.allow_pool_delete = true;
    w.policy.prune = false;
    p = plan(&w);
    is_actions(p, "!vol.delete old/a.raw, !vol.delete old/b.raw, !pool.stop old, !pool.delete old",
               "pool delete waits for its volumes");
    tap_is_str(p->actions[3].blocked_why, "needs pool.stop of 'old', which is blocked",
               "pool delete: blocked by its volumes");
    pk_plan_free(p);

    w.policy.prune = true;
    ovol(&w, "old", "c.iso", PK_IMG_ISO, GiB);   /* someone else's */
    p = plan(&w);
    is_actions(p, "vol.delete old/a.raw, vol.delete old/b.raw, !pool.stop old, !pool.delete old",
               "pool holding foreign volumes");
    tap_is_str(p->actions[3].blocked_why, "pool 'old' holds volume 'c.iso' that poolkeeper does not own",
               "pool delete: foreign content");
    pk_plan_free(p);

    /* Content that is not a volume (an LVM thin pool) is somebody's too. */
    pk_obs_pool *oldp = find_opool(&w, "old");
    pk_obs_vol_clear(&oldp->vols[--oldp->n_vols]);   /* c.iso, added last */
    oldp->unlisted = pk_strdup("logical volume 'tpool'");
    p = plan(&w);
    is_actions(p, "vol.delete old/a.raw, vol.delete old/b.raw, !pool.stop old, !pool.delete old",
               "pool holding content that is not a volume");
    tap_is_str(p->actions[3].blocked_why, "pool 'old' holds logical volume 'tpool' that poolkeeper does not own",
               "pool delete: unlisted content");
    pk_plan_free(p);
    world_free(&w);

    /* Not ours: its owned volumes go (prune), the pool stays, nothing noted. */
    world_init(&w);
    add_owned_pool(&w, "keep", 6);
    retire(&w, "shared", PK_POOL_DIR);
    opool(&w, "shared", PK_POOL_DIR, PK_POOL_RUNNING);
    ovol(&w, "shared", "a.raw", PK_IMG_RAW, GiB);
    own(&w, "shared", "a.raw");
    w.policy.prune = true;
    w.policy.allow_pool_delete = true;
    p = plan(&w);
    is_actions(p, "vol.delete shared/a.raw", "pool not owned: only our volumes");
    pk_plan_free(p);
    world_free(&w);

    /* Removed and not observed: nothing is deleted, and the plan says so. */
    world_init(&w);
    add_owned_pool(&w, "keep", 1);
    retire(&w, "gone", PK_POOL_DIR);
    own(&w, "gone", NULL);
    p = plan(&w);
    is_actions(p, "", "removed pool not observed");
    tap_ok(find_note(p, "pool 'gone' was removed from desired but was not observed") != NULL,
           "removed pool not observed: noted");
    pk_plan_free(p);
    world_free(&w);

    /* Removed with no saved definition (applied by an older poolkeeper):
     * nothing can act on it, whatever is observed; the plan says what to do. */
    world_init(&w);
    add_owned_pool(&w, "keep", 1);
    opool(&w, "nodef", PK_POOL_DIR, PK_POOL_RUNNING);
    own(&w, "nodef", NULL);
    ovol(&w, "nodef", "a.raw", PK_IMG_RAW, GiB);
    own(&w, "nodef", "a.raw");
    w.policy.prune = true;
    w.policy.allow_pool_delete = true;
    p = plan(&w);
    is_actions(p, "", "removed pool without a saved definition");
    const pk_plan_note *nd = find_note(p, "pool 'nodef' was removed from desired, but its definition was not saved");
    tap_ok(nd && !nd->error && strstr(nd->message, "restore its file, apply, then remove it again"),
           "removed pool without a saved definition: noted with the way out");
    pk_plan_free(p);
    world_free(&w);
}

static unsigned caps_registry(pk_pool_type t)
{
    const pk_backend *b = pk_backend_for(t);
    return b ? b->caps : 0;
}

/* pk_plan_compute asks the backend registry; a type without a backend can do nothing. */
static void test_registry_caps(void)
{
    world w;
    world_init(&w);
    dpool(&w, "default", PK_POOL_DIR);
    dvol(&w, "default", "a.raw", PK_IMG_RAW, GiB);
    opool(&w, "default", PK_POOL_DIR, PK_POOL_ABSENT);
    dpool(&w, "sheep", PK_POOL_SHEEPDOG);
    opool(&w, "sheep", PK_POOL_SHEEPDOG, PK_POOL_ABSENT);
    world_sort(&w);
    pk_plan *p = pk_plan_compute(w.d, w.o, &w.own, &w.policy);
    w.caps = caps_registry;
    pk_plan *q = plan(&w);
    _cleanup_free_ char *got = pk_plan_format_json(p, NULL);
    _cleanup_free_ char *want = pk_plan_format_json(q, NULL);
    tap_is_str(got, want, "pk_plan_compute uses the registry's capabilities");
    tap_ok(p->n_actions > 0 && p->actions[0].kind == PK_ACT_POOL_BUILD, "dir pools are built");
    tap_ok(find_note(p, "pool 'sheep' does not exist and pool type 'sheepdog' cannot be built") != NULL,
           "a pool type without a backend cannot be built");
    pk_plan_free(p);
    pk_plan_free(q);
    world_free(&w);
}

/* ---- output ---- */

/* The example of design.md §4, as two pools. */
static void example_world(world *w)
{
    world_init(w);
    dpool(w, "default", PK_POOL_DIR);
    dvol(w, "default", "web.qcow2", PK_IMG_QCOW2, 20 * GiB);
    opool(w, "default", PK_POOL_DIR, PK_POOL_ABSENT);
    dpool(w, "images", PK_POOL_DIR);
    opool(w, "images", PK_POOL_DIR, PK_POOL_RUNNING);
    dvol(w, "images", "db.raw", PK_IMG_RAW, 40 * GiB);
    ovol(w, "images", "db.raw", PK_IMG_RAW, 10 * GiB);
    own(w, "images", "db.raw");
    dvol(w, "images", "tmp.raw", PK_IMG_RAW, 8 * GiB);
    ovol(w, "images", "tmp.raw", PK_IMG_RAW, 40 * GiB);
    own(w, "images", "tmp.raw");
    steady(w, "images", "keep.raw", PK_IMG_RAW, GiB);
    ovol(w, "images", "old.raw", PK_IMG_RAW, 5 * GiB);
    own(w, "images", "old.raw");
    w->policy.prune = true;
}

static const char golden_text[] =
    "poolkeeper plan · desired 3f2a9c1 (main) · state state.db\n"
    "\n"
    "  + pool.build   default (dir)      /srv/default      pools/default.xml:1 @3f2a9c1\n"
    "  + pool.start   default\n"
    "  + vol.create   default/web.qcow2  qcow2 20 GiB      pools/default/web.qcow2.xml:1 @3f2a9c1\n"
    "  ~ vol.resize   images/db.raw      10 GiB -> 40 GiB  pools/images/db.raw.xml:4 @3f2a9c1\n"
    "  - vol.delete   images/old.raw     raw 5 GiB         removed from desired in 3f2a9c1 (prune: on)\n"
    "  ! vol.resize   images/tmp.raw     40 GiB -> 8 GiB   blocked: shrinking needs policy allow_shrink\n"
    "\n"
    "Plan: 2 pool, 1 to create, 1 to resize, 1 to delete, 1 blocked.\n";

static void test_text(void)
{
    world w;
    example_world(&w);
    pk_plan *p = plan(&w);
    _cleanup_free_ char *text = pk_plan_format_text(p, "state.db", false);
    tap_is_str(text, golden_text, "text plan (design.md §4)");
    if (!pk_streq(text, golden_text)) tap_diag("%s", text);

    _cleanup_free_ char *colored = pk_plan_format_text(p, "state.db", true);
    tap_ok(strstr(colored, "  \033[32m+\033[0m pool.build   default (dir)") &&
           strstr(colored, "  \033[33m~\033[0m vol.resize") &&
           strstr(colored, "  \033[31m-\033[0m vol.delete") &&
           strstr(colored, "  \033[31m!\033[0m vol.resize"), "colour: + green, ~ yellow, - ! red");
    tap_ok(!strchr(text, '\033'), "no colour unless asked");
    pk_plan_free(p);
    world_free(&w);

    world_init(&w);
    dpool(&w, "default", PK_POOL_DIR);
    opool(&w, "default", PK_POOL_DIR, PK_POOL_RUNNING);
    steady(&w, "default", "a.raw", PK_IMG_RAW, GiB);
    p = plan(&w);
    _cleanup_free_ char *empty = pk_plan_format_text(p, "state.db", false);
    tap_is_str(empty, "poolkeeper plan · desired 3f2a9c1 (main) · state state.db\n\n"
               "No changes. Storage matches the desired state.\n", "text: no changes");
    pk_plan_free(p);
    world_free(&w);

    world_init(&w);
    free(w.d->commit);
    w.d->commit = NULL;
    w.d->worktree = true;
    free(w.d->ref);
    w.d->ref = pk_strdup("worktree");
    dpool(&w, "default", PK_POOL_DIR);
    opool(&w, "default", PK_POOL_DIR, PK_POOL_RUNNING);
    dvol(&w, "default", "a.raw", PK_IMG_RAW, GiB);
    ovol(&w, "default", "a.raw", PK_IMG_RAW, GiB);
    ovol(&w, "default", "b.raw", PK_IMG_RAW, GiB)->error = pk_strdup("gone mid-scan");
    p = plan(&w);
    _cleanup_free_ char *notes = pk_plan_format_text(p, NULL, false);
    tap_is_str(notes,
               "poolkeeper plan · desired worktree\n\n"
               "  note: volume 'default/a.raw' exists, not owned: adopt it with "
               "`poolkeeper adopt vol default a.raw`\n"
               "  error: cannot observe volume 'default/b.raw': gone mid-scan; "
               "not planning changes for it\n"
               "\n"
               "No changes planned; see the notes above.\n", "text: notes, work tree header");
    pk_plan_free(p);
    world_free(&w);
}

static const char golden_json[] =
    "{\n"
    "  \"format_version\": 1,\n"
    "  \"desired\": {\"commit\": \"" COMMIT "\", \"ref\": \"main\", \"worktree\": false},\n"
    "  \"state\": \"state.db\",\n"
    "  \"actions\": [\n"
    "    {\"kind\": \"vol.create\", \"pool\": \"default\", \"pool_type\": \"dir\", "
    "\"volume\": \"a \\\"b\\\".raw\", \"risk\": \"safe\", \"before\": null, \"after\": \"raw 1 GiB\", "
    "\"before_bytes\": null, \"after_bytes\": 1073741824, "
    "\"reason\": \"pools/default/a \\\"b\\\".raw.xml:1 @3f2a9c1\", \"blocked\": false, "
    "\"blocked_reason\": null, \"drift\": false, \"allowed_by\": null, \"depends_on\": null},\n"
    "    {\"kind\": \"vol.delete\", \"pool\": \"default\", \"pool_type\": \"dir\", "
    "\"volume\": \"old.raw\", \"risk\": \"destructive\", \"before\": \"raw 5 GiB\", \"after\": null, "
    "\"before_bytes\": 5368709120, \"after_bytes\": null, "
    "\"reason\": \"removed from desired in 3f2a9c1\", \"blocked\": true, "
    "\"blocked_reason\": \"deleting needs policy prune\", \"drift\": false, \"allowed_by\": null, "
    "\"depends_on\": null}\n"
    "  ],\n"
    "  \"notes\": [\n"
    "    {\"pool\": \"default\", \"volume\": \"c.raw\", \"error\": false, \"message\": "
    "\"volume 'default/c.raw' exists, not owned: adopt it with `poolkeeper adopt vol default c.raw`\"}\n"
    "  ],\n"
    "  \"summary\": {\"changes\": 1, \"blocked\": 1, \"pool\": 0, \"create\": 1, \"resize\": 0, "
    "\"update\": 0, \"delete\": 0, \"adopt\": 0, \"errors\": 0}\n"
    "}\n";

static void test_json(void)
{
    world w;
    world_init(&w);
    dpool(&w, "default", PK_POOL_DIR);
    opool(&w, "default", PK_POOL_DIR, PK_POOL_RUNNING);
    dvol(&w, "default", "a \"b\".raw", PK_IMG_RAW, GiB);
    ovol(&w, "default", "old.raw", PK_IMG_RAW, 5 * GiB);
    own(&w, "default", "old.raw");
    dvol(&w, "default", "c.raw", PK_IMG_RAW, GiB);
    ovol(&w, "default", "c.raw", PK_IMG_RAW, GiB);
    pk_plan *p = plan(&w);
    _cleanup_free_ char *json = pk_plan_format_json(p, "state.db");
    tap_is_str(json, golden_json, "JSON plan");
    if (!pk_streq(json, golden_json)) tap_diag("%s", json);
    pk_plan_free(p);
    world_free(&w);

    /* The larger example parses, and says what the text says. */
    example_world(&w);
    p = plan(&w);
    _cleanup_free_ char *big = pk_plan_format_json(p, "state.db");
    json_object *root = json_tokener_parse(big);
    tap_ok(root != NULL, "JSON plan parses");
    json_object *v = NULL, *actions = NULL, *summ = NULL;
    tap_ok(root && json_object_object_get_ex(root, "format_version", &v) &&
           json_object_get_int(v) == 1, "format_version 1");
    tap_ok(root && json_object_object_get_ex(root, "actions", &actions) &&
           json_object_array_length(actions) == p->n_actions, "every action is listed");
    if (actions && json_object_array_length(actions) > 2) {
        json_object *create = json_object_array_get_idx(actions, 2), *dep = NULL, *bytes = NULL;
        tap_ok(json_object_object_get_ex(create, "depends_on", &dep) && json_object_get_int(dep) == 1,
               "depends_on is an index into actions");
        tap_ok(json_object_object_get_ex(create, "after_bytes", &bytes) &&
               json_object_get_uint64(bytes) == 20 * GiB, "after_bytes is a number of bytes");
    } else {
        tap_ok(false, "depends_on is an index into actions");
        tap_ok(false, "after_bytes is a number of bytes");
    }
    tap_ok(root && json_object_object_get_ex(root, "summary", &summ) &&
           json_object_object_get_ex(summ, "blocked", &v) && json_object_get_int(v) == 1,
           "summary counts the blocked action");
    json_object_put(root);
    pk_plan_free(p);
    world_free(&w);

    world_init(&w);
    p = plan(&w);
    _cleanup_free_ char *empty = pk_plan_format_json(p, NULL);
    json_object *e = json_tokener_parse(empty);
    tap_ok(e && json_object_object_get_ex(e, "actions", &actions) &&
           json_object_array_length(actions) == 0 &&
           json_object_object_get_ex(e, "state", &v) && json_object_is_type(v, json_type_null),
           "empty JSON plan parses: no actions, state null");
    json_object_put(e);
    pk_plan_free(p);
    world_free(&w);
}

int main(void)
{
    test_create();
    test_steady();
    test_grow_shrink();
    test_delete_prune();
    test_unowned();
    test_replaced();
    test_drift_perms();
    test_drift_resize();
    test_pool_missing();
    test_pool_stopped();
    test_pool_nonempty();
    test_capabilities();
    test_format_change();
    test_mass_delete();
    test_empty_desired();
    test_observe_error();
    test_vol_observe_error();
    test_backing();
    test_file_images();
    test_deterministic();
    test_pool_delete();
    test_registry_caps();
    test_text();
    test_json();
    return tap_done();
}
