/* The planner: (desired, observed, ownership, policy) -> ordered actions.
 *
 * Pure: it reads its inputs and allocates its result, nothing else. The
 * safety rules of design.md §5 live here, in one place:
 *   - an object that could not be observed gets no action at all (unknown is
 *     never absent), and the plan says so with an error note;
 *   - only owned storage is changed or deleted, and an owned volume whose
 *     identity changed (file replaced) is no longer owned;
 *   - destructive actions appear even when policy forbids them, blocked and
 *     with the policy key that would allow them;
 *   - a run that would delete too much of what we own, or an empty desired
 *     set, blocks every deletion unless --allow-mass-delete.
 *
 * Actions are generated pool by pool (by name), then ordered: pool actions
 * first, then adopt, create, resize, update, delete by volume name, then the
 * removal of the pool itself; a topological pass puts backing files before
 * their overlays (and overlays' deletion before their base's); blocked
 * actions go last, since they do not run. */
#include "plan.h"
#include "../backends/backend.h"

PK_ENUM_IMPL(pk_action_kind, PK_ACT_LAST,
             "pool.define", "pool.build", "pool.start", "pool.stop", "pool.delete",
             "vol.create", "vol.resize", "vol.update", "vol.delete", "adopt");
PK_ENUM_IMPL(pk_risk, PK_RISK_LAST, "safe", "destructive");

/* Order of actions within one pool. */
enum {
    GROUP_POOL,         /* define, build, start */
    GROUP_ADOPT,
    GROUP_CREATE,
    GROUP_RESIZE,
    GROUP_UPDATE,
    GROUP_DELETE,
    GROUP_POOL_STOP,
    GROUP_POOL_DELETE,
};

typedef struct {
    size_t pool_rank;   /* position of the pool in name order */
    int group;
} act_key;

typedef struct {
    int from, to;       /* `to` runs after `from` (generation ids) */
} plan_edge;

typedef struct {
    const pk_plan_inputs *in;
    pk_policy policy;
    pk_plan *plan;
    act_key *keys;      /* parallel to plan->actions while generating */
    size_t n_keys;
    plan_edge *edges;
    size_t n_edges;
    size_t owned_vols;  /* owned volumes present (observed, identity intact) */
    char *removed_reason;
} planner;

static unsigned default_caps(pk_pool_type t)
{
    const pk_backend *b = pk_backend_for(t);
    return b ? b->caps : 0;
}

static unsigned caps_of(const planner *pl, pk_pool_type t)
{
    return pl->in->caps_for ? pl->in->caps_for(t) : default_caps(t);
}

/* ---- ownership lookups ----
 * The inputs' ownership set is sorted (pk_plan_compute_inputs sees to it):
 * each lookup, one per observed volume, is a binary search. */

static const pk_owned *find_owned(const planner *pl, const char *pool, const char *vol)
{
    return pk_ownership_find(pl->in->owned, pool, vol);
}

/* ---- building blocks ---- */

static int add_action(planner *pl, pk_action_kind kind, const char *pool, const char *vol,
                      pk_pool_type type, size_t rank, int group)
{
    pk_plan *p = pl->plan;
    pk_action *a = PK_APPEND(p->actions, p->n_actions);
    a->kind = kind;
    a->pool = pk_strdup(pool);
    a->vol = pk_strdup(vol);
    a->pool_type = type;
    a->risk = PK_RISK_SAFE;
    a->depends_on = -1;
    act_key *k = PK_APPEND(pl->keys, pl->n_keys);
    k->pool_rank = rank;
    k->group = group;
    return (int)(p->n_actions - 1);
}

static pk_action *act(planner *pl, int id)
{
    return &pl->plan->actions[id];
}

static void add_edge(planner *pl, int from, int to)
{
    if (from < 0 || to < 0 || from == to) return;
    plan_edge *e = PK_APPEND(pl->edges, pl->n_edges);
    e->from = from;
    e->to = to;
}

static void PK_PRINTF(2, 3) block(pk_action *a, const char *fmt, ...)
{
    if (a->blocked) return;     /* the first reason is the one to fix first */
    va_list ap;
    va_start(ap, fmt);
    a->blocked = true;
    a->blocked_why = pk_vasprintf(fmt, ap);
    va_end(ap);
}

static void PK_PRINTF(5, 6) add_note(planner *pl, const char *pool, const char *vol, bool error,
                                     const char *fmt, ...)
{
    pk_plan *p = pl->plan;
    pk_plan_note *n = PK_APPEND(p->notes, p->n_notes);
    n->pool = pk_strdup(pool);
    n->vol = pk_strdup(vol);
    n->error = error;
    va_list ap;
    va_start(ap, fmt);
    n->message = pk_vasprintf(fmt, ap);
    va_end(ap);
}

/* Drift corrections are only reported under `drift: report`. */
static void check_drift(planner *pl, int id)
{
    pk_action *a = act(pl, id);
    if (a->drift && pl->policy.drift == PK_DRIFT_REPORT)
        block(a, "drift: report (policy)");
}

/* An error and its causes on one line, without the "error: " prefix. */
static char *err_text(const pk_err *e)
{
    pk_buf b = PK_BUF_INIT;
    for (const pk_err *c = e; c; c = c->cause) {
        if (c != e) pk_buf_add(&b, ": ");
        pk_buf_add(&b, c->msg ? c->msg : "unknown error");
        if (c->errnum) pk_buf_addf(&b, ": %s", strerror(c->errnum));
    }
    if (!e) pk_buf_add(&b, "unknown error");
    return pk_buf_steal(&b);
}

/* Why a pool could not be observed, on one line, without the "error: "
 * prefix, and without the "cannot observe pool 'X'" wrapper the observer
 * may have put around it, since the note says that itself. */
static char *pool_err_text(const char *pool, const pk_err *e)
{
    _cleanup_free_ char *wrapper = pk_asprintf("cannot observe pool '%s'", pool);
    if (e && e->cause && pk_streq(e->msg, wrapper) && !e->errnum)
        e = e->cause;
    return err_text(e);
}

/* "qcow2 20 GiB", or "20 GiB" when the format is unknown. */
static char *vol_desc(pk_pool_type type, int format, uint64_t capacity)
{
    _cleanup_free_ char *size = pk_human_bytes(capacity);
    const char *fmt = format >= 0 ? pk_vol_format_to_string(type, format) : NULL;
    return fmt ? pk_asprintf("%s %s", fmt, size) : pk_strdup(size);
}

/* Ownership holds only while the object is the one we recorded. A record
 * without identity (nothing to compare) is taken at its word. */
static bool identity_ok(const char *recorded, const char *seen)
{
    return !recorded || pk_streq(recorded, seen);
}

static void note_replaced(planner *pl, const char *pool, const char *vol,
                          const char *recorded, const char *seen)
{
    if (vol && seen)
        add_note(pl, pool, vol, false,
                 "volume '%s/%s' was replaced outside poolkeeper (identity '%s', recorded '%s'): "
                 "it is no longer treated as owned", pool, vol, seen, recorded);
    else if (vol)
        add_note(pl, pool, vol, false,
                 "volume '%s/%s' has no identity to match the recorded '%s': "
                 "it is no longer treated as owned", pool, vol, recorded);
    else if (seen)
        add_note(pl, pool, NULL, false,
                 "pool '%s' was replaced outside poolkeeper (identity '%s', recorded '%s'): "
                 "it is no longer treated as owned", pool, seen, recorded);
    else
        add_note(pl, pool, NULL, false,
                 "pool '%s' has no identity to match the recorded '%s': "
                 "it is no longer treated as owned", pool, recorded);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort and deduplicate a list of borrowed names. */
static size_t sort_unique(const char **names, size_t n)
{
    if (n == 0) return 0;
    qsort(names, n, sizeof(*names), cmp_str);
    size_t out = 1;
    for (size_t i = 1; i < n; i++)
        if (strcmp(names[i], names[out - 1]) != 0)
            names[out++] = names[i];
    return out;
}

/* Where a desired volume will live, for matching backing stores: its
 * <target><path> if given, else the pool's target path + name (file and
 * LV pools alike). NULL when neither is known. */
static char *desired_vol_path(const pk_pool *pool, const pk_vol *v)
{
    if (v->target.path) return pk_strdup(v->target.path);
    if (pool->target_path) return pk_asprintf("%s/%s", pool->target_path, v->name);
    return NULL;
}

/* What a pool build writes to: the device or directory it takes over. */
static const char *build_target(const pk_pool *pool)
{
    if (pool->source.n_devices > 0 && pool->source.devices[0].path)
        return pool->source.devices[0].path;
    if (pool->target_path) return pool->target_path;
    if (pool->source.dir) return pool->source.dir;
    return pool->source.name;
}

/* ---- volumes ---- */

static void plan_create(planner *pl, size_t rank, const pk_pool *pool, const pk_vol *v,
                        unsigned caps, int ready, bool drift)
{
    if (!(caps & PK_CAP_CREATE_VOL)) {
        add_note(pl, pool->name, v->name, true,
                 "pool type '%s' cannot create volumes: '%s/%s' is not created",
                 pk_pool_type_to_string(pool->type), pool->name, v->name);
        return;
    }
    int id = add_action(pl, PK_ACT_VOL_CREATE, pool->name, v->name, pool->type, rank, GROUP_CREATE);
    pk_action *a = act(pl, id);
    a->after = vol_desc(pool->type, v->target.format, v->capacity);
    if (v->backing && v->backing->path) {
        char *with = pk_asprintf("%s on '%s'", a->after, v->backing->path);
        free(a->after);
        a->after = with;
    }
    a->after_bytes = v->capacity;
    a->reason = pk_desired_cite(pl->in->desired, v->file, v->line);
    a->depends_on = ready;
    a->drift = drift;
    a->dpool = pool;
    a->dvol = v;
    check_drift(pl, id);
}

static void perms_text(pk_buf *b, const pk_perms *p, bool mode, bool uid, bool gid, bool label)
{
    const char *sep = "";
    if (mode) { pk_buf_addf(b, "mode %04llo", (unsigned long long)(p->mode & 07777)); sep = ", "; }
    if (uid) { pk_buf_addf(b, "%sowner %lld", sep, (long long)p->uid); sep = ", "; }
    if (gid) { pk_buf_addf(b, "%sgroup %lld", sep, (long long)p->gid); sep = ", "; }
    if (label) pk_buf_addf(b, "%slabel %s", sep, p->label);
}

/* Owner, group, mode and label given in the desired XML and different on
 * storage. Fields the XML leaves out are not managed. */
/* Did owner, group or mode change since poolkeeper last set them? */
static bool perms_drifted(planner *pl, const pk_pool *pool, const pk_obs_vol *ov)
{
    const pk_owned *rec = pk_ownership_find(pl->in->owned, pool->name, ov->name);
    if (!rec || !rec->has_applied) return false;
    return (rec->applied_mode >= 0 && (rec->applied_mode & 07777) != (ov->perms.mode & 07777)) ||
           (rec->applied_uid >= 0 && rec->applied_uid != ov->perms.uid) ||
           (rec->applied_gid >= 0 && rec->applied_gid != ov->perms.gid);
}

static void plan_perms(planner *pl, size_t rank, const pk_pool *pool, const pk_vol *v,
                       const pk_obs_vol *ov, unsigned caps, int dep, bool drift)
{
    const pk_perms *d = &v->target.perms, *o = &ov->perms;
    bool mode = d->mode >= 0 && (d->mode & 07777) != (o->mode & 07777);
    bool uid = d->uid >= 0 && d->uid != o->uid;
    bool gid = d->gid >= 0 && d->gid != o->gid;
    bool label = d->label && o->label && strcmp(d->label, o->label) != 0;
    if (!mode && !uid && !gid && !label) return;

    pk_buf before = PK_BUF_INIT, after = PK_BUF_INIT;
    perms_text(&before, o, mode, uid, gid, label);
    perms_text(&after, d, mode, uid, gid, label);
    if (!(caps & PK_CAP_UPDATE_VOL)) {
        add_note(pl, pool->name, v->name, true,
                 "pool type '%s' cannot change volume permissions: '%s/%s' keeps %s",
                 pk_pool_type_to_string(pool->type), pool->name, v->name, pk_buf_str(&before));
        pk_buf_free(&before);
        pk_buf_free(&after);
        return;
    }
    int id = add_action(pl, PK_ACT_VOL_UPDATE, pool->name, v->name, pool->type, rank, GROUP_UPDATE);
    pk_action *a = act(pl, id);
    a->before = pk_buf_steal(&before);
    a->after = pk_buf_steal(&after);
    a->reason = pk_desired_cite(pl->in->desired, v->file, v->line);
    a->depends_on = dep;
    a->drift = drift;
    a->dpool = pool;
    a->dvol = v;
    a->ovol = ov;
    check_drift(pl, id);
}

static void plan_resize(planner *pl, size_t rank, const pk_pool *pool, const pk_vol *v,
                        const pk_obs_vol *ov, unsigned caps)
{
    bool grow = v->capacity > ov->capacity;
    if (!(caps & (grow ? PK_CAP_RESIZE_VOL : PK_CAP_SHRINK_VOL))) {
        _cleanup_free_ char *cur = pk_human_bytes(ov->capacity);
        if (grow)
            add_note(pl, pool->name, v->name, true,
                     "pool type '%s' cannot grow volumes: '%s/%s' stays at %s",
                     pk_pool_type_to_string(pool->type), pool->name, v->name, cur);
        else
            add_note(pl, pool->name, v->name, true,
                     "pool type '%s' cannot shrink volumes: '%s/%s' stays at %s",
                     pk_pool_type_to_string(pool->type), pool->name, v->name, cur);
        return;
    }
    int id = add_action(pl, PK_ACT_VOL_RESIZE, pool->name, v->name, pool->type, rank, GROUP_RESIZE);
    pk_action *a = act(pl, id);
    a->before = pk_human_bytes(ov->capacity);
    a->after = pk_human_bytes(v->capacity);
    a->before_bytes = ov->capacity;
    a->after_bytes = v->capacity;
    a->reason = pk_desired_cite(pl->in->desired, v->file,
                                v->pos_capacity.line > 0 ? v->pos_capacity.line : v->line);
    /* Drift only when the volume no longer has the size poolkeeper gave
     * it; a changed desired size is the operator's wish. */
    const pk_owned *rec = pk_ownership_find(pl->in->owned, pool->name, v->name);
    a->drift = rec && rec->has_applied && rec->applied_capacity != ov->capacity;
    a->dpool = pool;
    a->dvol = v;
    a->ovol = ov;
    if (!grow) {
        a->risk = PK_RISK_DESTRUCTIVE;
        if (!pl->policy.allow_shrink)
            block(a, "shrinking needs policy allow_shrink");
        else
            a->allowed_by = "allow_shrink";
    }
    check_drift(pl, id);
}

/* ---- file images ---- */

/* Image formats that are the same thing on disk: an iso is raw bytes, and
 * qemu's vpc is libvirt's vhd. */
static int img_class(int fmt)
{
    if (fmt == PK_IMG_ISO) return PK_IMG_RAW;
    if (fmt == PK_IMG_VHD) return PK_IMG_VPC;
    return fmt;
}

static bool same_format(unsigned caps, int a, int b)
{
    if (caps & PK_CAP_IMAGE_FORMATS) return img_class(a) == img_class(b);
    return a == b;
}

/* qemu-img makes an image's virtual size a whole number of sectors (it is
 * given KiB at create, as libvirt does, and bytes rounded up to 512 at
 * resize): either is the size asked. Raw files have exactly their size. */
static bool capacity_matches(unsigned caps, const pk_vol *v, const pk_obs_vol *ov)
{
    if (v->capacity == ov->capacity) return true;
    if (!(caps & PK_CAP_IMAGE_FORMATS)) return false;
    if (ov->format == PK_IMG_DIR) return true;   /* a directory has no size to set */
    if (img_class(ov->format) == PK_IMG_RAW && !ov->encrypted)
        return false;
    uint64_t c = v->capacity;
    return ov->capacity == (c + 511) / 512 * 512 || ov->capacity == (c + 1023) / 1024 * 1024;
}

/* What the volume's image header says and the XML asks otherwise, that
 * poolkeeper does not change in place: each is said in a note. */
static void plan_image_options(planner *pl, const pk_pool *pool, const pk_vol *v,
                               const pk_obs_vol *ov)
{
    const char *name = v->name, *pn = pool->name;
    bool qcow2 = ov->format == PK_IMG_QCOW2;
    if (qcow2 && v->target.compat && ov->compat[0] && strcmp(v->target.compat, ov->compat) != 0)
        add_note(pl, pn, name, false,
                 "volume '%s/%s': compat is %s, desired %s; changing it is not supported "
                 "(would need a new volume)", pn, name, ov->compat, v->target.compat);
    if (qcow2 && v->target.has_cluster_size && ov->cluster_size &&
        v->target.cluster_size != ov->cluster_size)
        add_note(pl, pn, name, false,
                 "volume '%s/%s': cluster size is %llu bytes, desired %llu; changing it is not "
                 "supported (would need a new volume)", pn, name,
                 (unsigned long long)ov->cluster_size, (unsigned long long)v->target.cluster_size);
    if (qcow2 && v->target.has_features &&
        (v->target.lazy_refcounts != ov->lazy_refcounts || v->target.extended_l2 != ov->extended_l2))
        add_note(pl, pn, name, false,
                 "volume '%s/%s': features are lazy_refcounts=%s extended_l2=%s, desired "
                 "lazy_refcounts=%s extended_l2=%s; changing them is not supported",
                 pn, name, ov->lazy_refcounts ? "on" : "off", ov->extended_l2 ? "on" : "off",
                 v->target.lazy_refcounts ? "on" : "off", v->target.extended_l2 ? "on" : "off");
    const char *want_backing = v->backing ? v->backing->path : NULL;
    if (want_backing && !pk_streq(want_backing, ov->backing_path))
        add_note(pl, pn, name, false,
                 "volume '%s/%s': backing store is '%s', desired '%s'; it is not changed "
                 "(would need qemu-img rebase)", pn, name,
                 ov->backing_path ? ov->backing_path : "none", want_backing);
    else if (want_backing && v->backing->format >= 0 && ov->backing_format >= 0 &&
             !same_format(PK_CAP_IMAGE_FORMATS, v->backing->format, ov->backing_format)) {
        const char *f1 = pk_img_format_to_string(ov->backing_format);
        const char *f2 = pk_img_format_to_string(v->backing->format);
        add_note(pl, pn, name, false,
                 "volume '%s/%s': backing store format is %s, desired %s; it is not changed",
                 pn, name, f1 ? f1 : "unknown", f2 ? f2 : "unknown");
    }
    if (v->target.encryption && !ov->encrypted)
        add_note(pl, pn, name, false,
                 "volume '%s/%s' is not encrypted, desired %s encryption; it is not changed "
                 "(would need a new volume)", pn, name,
                 pk_enc_format_to_string(v->target.encryption->format));
    else if (!v->target.encryption && ov->encrypted)
        add_note(pl, pn, name, false,
                 "volume '%s/%s' is encrypted, and its XML has no <encryption>; it is not changed",
                 pn, name);
    if (v->target.perms.label && !ov->perms.label)
        add_note(pl, pn, name, false,
                 "volume '%s/%s': label '%s' is not applicable: the file has no SELinux label "
                 "(SELinux is not active)", pn, name, v->target.perms.label);
}

/* A desired volume that exists and is ours. */
static void plan_change(planner *pl, size_t rank, const pk_pool *pool, const pk_vol *v,
                        const pk_obs_vol *ov, unsigned caps)
{
    if (v->target.format >= 0 && ov->format >= 0 && !same_format(caps, v->target.format, ov->format)) {
        const char *from = pk_vol_format_to_string(pool->type, ov->format);
        const char *to = pk_vol_format_to_string(pool->type, v->target.format);
        add_note(pl, pool->name, v->name, false,
                 "volume '%s/%s': format change from %s to %s is not supported "
                 "(would need a new volume)",
                 pool->name, v->name, from ? from : "unknown", to ? to : "unknown");
    }
    if (v->has_capacity && !capacity_matches(caps, v, ov))
        plan_resize(pl, rank, pool, v, ov, caps);
    plan_perms(pl, rank, pool, v, ov, caps, -1, perms_drifted(pl, pool, ov));
    if (caps & PK_CAP_IMAGE_FORMATS) plan_image_options(pl, pool, v, ov);
}

static bool vol_matches(const pk_vol *v, const pk_obs_vol *ov, unsigned caps)
{
    return v->type == ov->type &&
           (v->target.format < 0 || same_format(caps, v->target.format, ov->format)) &&
           (!v->has_capacity || capacity_matches(caps, v, ov));
}

/* A desired volume that exists but is not ours: adopt it or say so. */
static void plan_foreign(planner *pl, size_t rank, const pk_pool *pool, const pk_vol *v,
                         const pk_obs_vol *ov, unsigned caps)
{
    if (pl->policy.adopt == PK_ADOPT_MATCHING && vol_matches(v, ov, caps)) {
        int id = add_action(pl, PK_ACT_ADOPT, pool->name, v->name, pool->type, rank, GROUP_ADOPT);
        pk_action *a = act(pl, id);
        a->after = vol_desc(pool->type, ov->format, ov->capacity);
        a->after_bytes = ov->capacity;
        a->reason = pk_desired_cite(pl->in->desired, v->file, v->line);
        a->allowed_by = "adopt";
        a->dpool = pool;
        a->dvol = v;
        a->ovol = ov;
        /* Once adopted it is ours: bring its permissions in line too, so
         * that a second run has nothing left to do. */
        plan_perms(pl, rank, pool, v, ov, caps, id, false);
        return;
    }
    if (pl->policy.adopt == PK_ADOPT_MATCHING) {
        _cleanup_free_ char *found = vol_desc(pool->type, ov->format, ov->capacity);
        _cleanup_free_ char *want = vol_desc(pool->type, v->target.format, v->capacity);
        add_note(pl, pool->name, v->name, false,
                 "volume '%s/%s' exists, not owned, and does not match the desired volume "
                 "(found %s %s, desired %s %s): not adopted",
                 pool->name, v->name, pk_vol_type_to_string(ov->type), found,
                 pk_vol_type_to_string(v->type), want);
        return;
    }
    add_note(pl, pool->name, v->name, false,
             "volume '%s/%s' exists, not owned: adopt it with `poolkeeper adopt vol %s %s`",
             pool->name, v->name, pool->name, v->name);
}

static int plan_delete(planner *pl, size_t rank, const char *pool, pk_pool_type type,
                       const pk_obs_vol *ov, unsigned caps)
{
    if (!(caps & PK_CAP_DELETE_VOL)) {
        add_note(pl, pool, ov->name, true,
                 "pool type '%s' cannot delete volumes: '%s/%s' is kept",
                 pk_pool_type_to_string(type), pool, ov->name);
        return -1;
    }
    int id = add_action(pl, PK_ACT_VOL_DELETE, pool, ov->name, type, rank, GROUP_DELETE);
    pk_action *a = act(pl, id);
    a->risk = PK_RISK_DESTRUCTIVE;
    a->before = vol_desc(type, ov->format, ov->capacity);
    a->before_bytes = ov->capacity;
    a->reason = pk_strdup(pl->removed_reason);
    a->ovol = ov;
    if (!pl->policy.prune)
        block(a, "deleting needs policy prune");
    else
        a->allowed_by = "prune";
    if (ov->n_snapshots)
        add_note(pl, pool, ov->name, false, "deleting '%s/%s' also deletes its %u snapshot(s)",
                 pool, ov->name, ov->n_snapshots);
    return id;
}

/* Our record of a volume if the observed one is still the same object;
 * says so when it is not. */
static bool vol_owned(planner *pl, const char *pool, const pk_obs_vol *ov)
{
    const pk_owned *own = find_owned(pl, pool, ov->name);
    if (!own) return false;
    if (!identity_ok(own->identity, ov->identity)) {
        note_replaced(pl, pool, ov->name, own->identity, ov->identity);
        return false;
    }
    pl->owned_vols++;
    return true;
}

/* Volumes of a running desired pool whose volumes were observed. */
static void plan_vols(planner *pl, size_t rank, const pk_desired_pool *dp, const pk_obs_pool *op,
                      unsigned caps)
{
    const pk_pool *pool = dp->pool;
    /* Both lists are sorted by name: walk them together. */
    size_t i = 0, j = 0;
    while (i < dp->n_vols || j < op->n_vols) {
        const pk_vol *v = i < dp->n_vols ? dp->vols[i] : NULL;
        const pk_obs_vol *ov = j < op->n_vols ? &op->vols[j] : NULL;
        int c = !v ? 1 : !ov ? -1 : strcmp(v->name, ov->name);
        if (c < 0) {
            ov = NULL;
            i++;
        } else if (c > 0) {
            v = NULL;
            j++;
        } else {
            i++;
            j++;
        }
        /* A name seen twice in one listing is planned once. */
        if (ov && j >= 2 && pk_streq(op->vols[j - 2].name, ov->name)) continue;
        const char *name = v ? v->name : ov->name;
        if (ov && ov->error) {
            add_note(pl, pool->name, name, true,
                     "cannot observe volume '%s/%s': %s; not planning changes for it",
                     pool->name, name, ov->error);
            continue;
        }
        if (v && !ov) {
            /* Ours and gone: someone removed it, creating it again corrects drift. */
            bool was_ours = find_owned(pl, pool->name, v->name);
            plan_create(pl, rank, pool, v, caps, -1, was_ours);
            continue;
        }
        bool owned = vol_owned(pl, pool->name, ov);
        if (v && owned)
            plan_change(pl, rank, pool, v, ov, caps);
        else if (v)
            plan_foreign(pl, rank, pool, v, ov, caps);
        else if (owned) {
            int id = plan_delete(pl, rank, pool->name, op->type, ov, caps);
            /* The backend needs the pool's definition (its target) to act. */
            if (id >= 0) act(pl, id)->dpool = pool;
        }
        /* neither desired nor ours: unmanaged, `status` shows it */
    }
}

/* ---- pools ---- */

static bool pool_owned(planner *pl, const char *name, const pk_obs_pool *op)
{
    const pk_owned *own = find_owned(pl, name, NULL);
    if (!own) return false;
    if (!identity_ok(own->identity, op->identity)) {
        note_replaced(pl, name, NULL, own->identity, op->identity);
        return false;
    }
    return true;
}

static void plan_desired_pool(planner *pl, size_t rank, const pk_desired_pool *dp,
                              const pk_obs_pool *op)
{
    const pk_pool *pool = dp->pool;
    if (!op) {
        add_note(pl, pool->name, NULL, true,
                 "pool '%s' was not observed; not planning changes for it", pool->name);
        return;
    }
    if (op->error) {
        _cleanup_free_ char *why = pool_err_text(pool->name, op->error);
        add_note(pl, pool->name, NULL, true,
                 "cannot observe pool '%s': %s; not planning changes for it", pool->name, why);
        return;
    }
    unsigned caps = caps_of(pl, pool->type);
    /* A pool we own that is no longer built or started was changed behind
     * our back: bringing it back corrects drift. (Its identity went with it.) */
    bool ours = find_owned(pl, pool->name, NULL);

    if (op->state == PK_POOL_INACTIVE) {
        int id = add_action(pl, PK_ACT_POOL_START, pool->name, NULL, pool->type, rank, GROUP_POOL);
        pk_action *a = act(pl, id);
        a->reason = pk_desired_cite(pl->in->desired, pool->file, pool->line);
        a->drift = ours;
        a->dpool = pool;
        check_drift(pl, id);
        /* Its volumes may well exist but cannot be seen until it runs. */
        if (dp->n_vols > 0)
            add_note(pl, pool->name, NULL, false,
                     "pool '%s' is not running: its volumes are planned once it is started",
                     pool->name);
        return;
    }
    if (op->state == PK_POOL_RUNNING) {
        if (!op->vols_observed) {
            add_note(pl, pool->name, NULL, true,
                     "volumes of pool '%s' were not observed; not planning volume changes",
                     pool->name);
            return;
        }
        plan_vols(pl, rank, dp, op, caps);
        return;
    }

    /* ABSENT: build it (and start it), then create every desired volume. */
    if (!(caps & PK_CAP_BUILD)) {
        add_note(pl, pool->name, NULL, true,
                 "pool '%s' does not exist and pool type '%s' cannot be built; "
                 "not planning changes for it", pool->name, pk_pool_type_to_string(pool->type));
        return;
    }
    int build = add_action(pl, PK_ACT_POOL_BUILD, pool->name, NULL, pool->type, rank, GROUP_POOL);
    pk_action *a = act(pl, build);
    const char *target = build_target(pool);
    a->after = pk_strdup(target);
    a->reason = pk_desired_cite(pl->in->desired, pool->file, pool->line);
    a->drift = ours;
    a->dpool = pool;
    if (op->nonempty) {
        a->risk = PK_RISK_DESTRUCTIVE;
        /* A device probe says what is there ("it holds ext4 filesystem
         * UUID ..."), which is what an operator needs to decide. */
        if (!pl->policy.allow_format && op->probe)
            block(a, "'%s' is not empty (%s): building over it needs policy allow_format",
                  target ? target : pool->name, op->probe);
        else if (!pl->policy.allow_format)
            block(a, "'%s' is not empty: building over it needs policy allow_format",
                  target ? target : pool->name);
        else
            a->allowed_by = "allow_format";
    }
    check_drift(pl, build);
    int ready = build;
    if (caps & PK_CAP_START) {
        int start = add_action(pl, PK_ACT_POOL_START, pool->name, NULL, pool->type, rank, GROUP_POOL);
        a = act(pl, start);
        a->reason = pk_desired_cite(pl->in->desired, pool->file, pool->line);
        a->depends_on = build;
        a->drift = ours;
        a->dpool = pool;
        check_drift(pl, start);
        ready = start;
    }
    for (size_t i = 0; i < dp->n_vols; i++) {
        bool was_ours = find_owned(pl, pool->name, dp->vols[i]->name);
        plan_create(pl, rank, pool, dp->vols[i], caps, ready, was_ours);
    }
}

/* A pool that is no longer desired: delete our volumes in it (prune), then
 * the pool if it is ours, empty of anything else, and policy allows. */
static const pk_pool *retired_def(const planner *pl, const char *name)
{
    for (size_t i = 0; i < pl->in->n_retired; i++)
        if (pk_streq(pl->in->retired[i]->name, name)) return pl->in->retired[i];
    return NULL;
}

static void plan_removed_pool(planner *pl, size_t rank, const char *name, const pk_obs_pool *op)
{
    const pk_pool *def = retired_def(pl, name);
    if (!def) {
        add_note(pl, name, NULL, false,
                 "pool '%s' was removed from desired, but its definition was not saved "
                 "(it was last applied by a poolkeeper that did not keep them); to clean it "
                 "up, restore its file, apply, then remove it again", name);
        return;
    }
    if (!op) {
        add_note(pl, name, NULL, false,
                 "pool '%s' was removed from desired but was not observed; "
                 "not planning changes for it", name);
        return;
    }
    if (op->error) {
        _cleanup_free_ char *why = pool_err_text(name, op->error);
        add_note(pl, name, NULL, true,
                 "cannot observe pool '%s': %s; not planning changes for it", name, why);
        return;
    }
    if (op->state == PK_POOL_ABSENT) return;   /* already gone */

    bool ours = pool_owned(pl, name, op);
    unsigned caps = caps_of(pl, op->type);
    int *dels = NULL;
    size_t n_dels = 0, n_foreign = 0, n_unknown = 0;
    const char *foreign = NULL;
    if (op->state == PK_POOL_RUNNING && op->vols_observed) {
        const char **names = pk_calloc(op->n_vols + 1, sizeof(*names));
        for (size_t i = 0; i < op->n_vols; i++) names[i] = op->vols[i].name;
        size_t n = sort_unique(names, op->n_vols);
        for (size_t i = 0; i < n; i++) {
            const pk_obs_vol *ov = pk_obs_pool_find_vol(op, names[i]);
            if (ov->error) {
                add_note(pl, name, ov->name, true,
                         "cannot observe volume '%s/%s': %s; not planning changes for it",
                         name, ov->name, ov->error);
                n_unknown++;
            } else if (vol_owned(pl, name, ov)) {
                int id = plan_delete(pl, rank, name, op->type, ov, caps);
                if (id >= 0) {
                    act(pl, id)->dpool = def;
                    dels = pk_realloc(dels, sizeof(*dels) * (n_dels + 1));
                    dels[n_dels++] = id;
                } else {
                    n_unknown++;   /* kept: the pool cannot go either */
                }
            } else if (n_foreign++ == 0) {
                foreign = ov->name;
            }
        }
        free(names);
    }
    if (!ours) {
        free(dels);
        return;
    }
    if (!(caps & PK_CAP_DELETE_POOL)) {
        add_note(pl, name, NULL, false,
                 "pool '%s' was removed from desired, but pool type '%s' cannot delete its "
                 "storage; it is left as it is", name, pk_pool_type_to_string(op->type));
        free(dels);
        return;
    }

    int stop = -1;
    if (op->state == PK_POOL_RUNNING && (caps & PK_CAP_START)) {
        stop = add_action(pl, PK_ACT_POOL_STOP, name, NULL, op->type, rank, GROUP_POOL_STOP);
        act(pl, stop)->reason = pk_strdup(pl->removed_reason);
        act(pl, stop)->depends_on = n_dels ? dels[n_dels - 1] : -1;
        act(pl, stop)->dpool = def;
    }
    int del = add_action(pl, PK_ACT_POOL_DELETE, name, NULL, op->type, rank, GROUP_POOL_DELETE);
    pk_action *a = act(pl, del);
    a->dpool = def;
    a->risk = PK_RISK_DESTRUCTIVE;
    a->reason = pk_strdup(pl->removed_reason);
    a->depends_on = stop >= 0 ? stop : (n_dels ? dels[n_dels - 1] : -1);
    /* Every one of our volumes must be gone first, not only the last. */
    for (size_t i = 0; i < n_dels; i++) {
        add_edge(pl, dels[i], del);
        add_edge(pl, dels[i], stop);
    }
    free(dels);

    if (!pl->policy.allow_pool_delete)
        block(a, "deleting a pool needs policy allow_pool_delete");
    else if (op->state != PK_POOL_RUNNING)
        block(a, "pool '%s' is not running: its contents cannot be checked", name);
    else if (!op->vols_observed || n_unknown > 0)
        block(a, "some volumes of pool '%s' could not be observed or deleted", name);
    else if (n_foreign == 1)
        block(a, "pool '%s' holds volume '%s' that poolkeeper does not own", name, foreign);
    else if (n_foreign > 1)
        block(a, "pool '%s' holds %zu volumes that poolkeeper does not own", name, n_foreign);
    else if (op->unlisted)
        block(a, "pool '%s' holds %s that poolkeeper does not own", name, op->unlisted);
    else
        a->allowed_by = "allow_pool_delete";
    /* Stopping is only a step towards deleting: never on its own. */
    if (stop >= 0 && a->blocked)
        block(act(pl, stop), "%s", a->blocked_why);
}

/* ---- backing chains ---- */

/* Whether `path` is a volume poolkeeper sees in a desired pool: a desired
 * volume, or a file found in a desired pool's directory (a golden image put
 * there by hand is used read-only, never changed). A file anywhere else is
 * refused as a backing store: declaring a pool for its directory is how an
 * operator allows it. */
static bool backing_is_pool_vol(const planner *pl, const char *path)
{
    const pk_desired *d = pl->in->desired;
    for (size_t i = 0; i < d->n_pools; i++) {
        const pk_desired_pool *dp = &d->pools[i];
        for (size_t k = 0; k < dp->n_vols; k++) {
            _cleanup_free_ char *vp = desired_vol_path(dp->pool, dp->vols[k]);
            if (pk_streq(vp, path)) return true;
        }
        const pk_obs_pool *op = pl->in->observed ? pk_observed_find_pool(pl->in->observed, dp->pool->name)
                                                 : NULL;
        bool snaps = caps_of(pl, dp->pool->type) & PK_CAP_SNAP_BACKING;
        for (size_t k = 0; op && k < op->n_vols; k++) {
            const pk_obs_vol *ov = &op->vols[k];
            if (ov->error || !ov->path) continue;
            if (pk_streq(ov->path, path)) return true;
            size_t n = strlen(ov->path);
            if (snaps && strncmp(ov->path, path, n) == 0 && path[n] == '@' && path[n + 1]) return true;
        }
    }
    return false;
}

/* A new overlay needs its new base first; an old base goes after every
 * overlay on it, and never while an overlay we keep still uses it. */
static void plan_backing(planner *pl)
{
    pk_plan *p = pl->plan;
    size_t n = p->n_actions;
    char **paths = pk_calloc(n + 1, sizeof(*paths));
    for (size_t i = 0; i < n; i++)
        if (p->actions[i].kind == PK_ACT_VOL_CREATE)
            paths[i] = desired_vol_path(p->actions[i].dpool, p->actions[i].dvol);

    for (size_t i = 0; i < n; i++) {
        pk_action *a = &p->actions[i];
        if (a->kind != PK_ACT_VOL_CREATE || !a->dvol->backing || !a->dvol->backing->path)
            continue;
        bool found = false;
        for (size_t j = 0; j < n && !found; j++) {
            if (j == i || !paths[j] || strcmp(paths[j], a->dvol->backing->path) != 0)
                continue;
            add_edge(pl, (int)j, (int)i);
            /* The base (which itself waits for the pool) is the closer need. */
            if (a->depends_on < 0 || pk_streq(p->actions[j].pool, a->pool))
                a->depends_on = (int)j;
            found = true;
        }
        if (!found && !backing_is_pool_vol(pl, a->dvol->backing->path))
            block(a, "backing store '%s' is not a volume of any desired pool "
                  "(declare a pool for its directory to allow it)", a->dvol->backing->path);
    }

    const pk_observed *obs = pl->in->observed;
    for (size_t i = 0; i < n; i++) {
        pk_action *base = &p->actions[i];
        if (base->kind != PK_ACT_VOL_DELETE || !base->ovol->path)
            continue;
        for (size_t pi = 0; obs && pi < obs->n_pools; pi++) {
            const pk_obs_pool *op = &obs->pools[pi];
            for (size_t vi = 0; vi < op->n_vols; vi++) {
                const pk_obs_vol *ov = &op->vols[vi];
                if (ov == base->ovol || !pk_streq(ov->backing_path, base->ovol->path))
                    continue;
                size_t j;
                for (j = 0; j < n; j++)
                    if (p->actions[j].kind == PK_ACT_VOL_DELETE && p->actions[j].ovol == ov)
                        break;
                if (j < n) {
                    add_edge(pl, (int)j, (int)i);
                    if (base->depends_on < 0) base->depends_on = (int)j;
                } else {
                    block(base, "'%s/%s' is the backing file of '%s/%s', which is kept",
                          base->pool, base->vol, op->name, ov->name);
                }
            }
        }
    }
    for (size_t i = 0; i < n; i++) free(paths[i]);
    free(paths);
}

/* ---- ordering ---- */

static int cmp_canonical(const void *x, const void *y, void *ctx)
{
    const planner *pl = ctx;
    int a = *(const int *)x, b = *(const int *)y;
    const act_key *ka = &pl->keys[a], *kb = &pl->keys[b];
    if (ka->pool_rank != kb->pool_rank) return ka->pool_rank < kb->pool_rank ? -1 : 1;
    if (ka->group != kb->group) return ka->group < kb->group ? -1 : 1;
    const char *va = pl->plan->actions[a].vol, *vb = pl->plan->actions[b].vol;
    int c = strcmp(va ? va : "", vb ? vb : "");
    if (c) return c;
    return a < b ? -1 : a > b;
}

/* Min-heap of action ids by canonical rank. */
typedef struct {
    int *v;
    size_t n;
    const int *rank;
} id_heap;

static void heap_push(id_heap *h, int id)
{
    size_t i = h->n++;
    h->v[i] = id;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (h->rank[h->v[up]] <= h->rank[h->v[i]]) break;
        int t = h->v[up]; h->v[up] = h->v[i]; h->v[i] = t;
        i = up;
    }
}

static int heap_pop(id_heap *h)
{
    int top = h->v[0];
    h->v[0] = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && h->rank[h->v[l]] < h->rank[h->v[m]]) m = l;
        if (r < h->n && h->rank[h->v[r]] < h->rank[h->v[m]]) m = r;
        if (m == i) break;
        int t = h->v[m]; h->v[m] = h->v[i]; h->v[i] = t;
        i = m;
    }
    return top;
}

/* Orders the actions: canonical order, bent only where an edge requires.
 * Fills order[] with ids; returns the in-edges (CSR) for propagation. */
static void topo_order(planner *pl, int *order, int **in_start, int **in_from)
{
    size_t n = pl->plan->n_actions;
    for (size_t i = 0; i < n; i++)
        add_edge(pl, pl->plan->actions[i].depends_on, (int)i);

    int *canon = pk_calloc(n + 1, sizeof(int));
    int *rank = pk_calloc(n + 1, sizeof(int));
    for (size_t i = 0; i < n; i++) canon[i] = (int)i;
    qsort_r(canon, n, sizeof(int), cmp_canonical, pl);
    for (size_t i = 0; i < n; i++) rank[canon[i]] = (int)i;

    /* out-edges and in-edges as compressed lists */
    int *out_start = pk_calloc(n + 2, sizeof(int)), *out_to = pk_calloc(pl->n_edges + 1, sizeof(int));
    int *ins = pk_calloc(n + 2, sizeof(int)), *in_fr = pk_calloc(pl->n_edges + 1, sizeof(int));
    int *indeg = pk_calloc(n + 1, sizeof(int));
    for (size_t e = 0; e < pl->n_edges; e++) {
        out_start[pl->edges[e].from + 1]++;
        ins[pl->edges[e].to + 1]++;
        indeg[pl->edges[e].to]++;
    }
    for (size_t i = 0; i < n; i++) {
        out_start[i + 1] += out_start[i];
        ins[i + 1] += ins[i];
    }
    int *fill_o = pk_calloc(n + 1, sizeof(int)), *fill_i = pk_calloc(n + 1, sizeof(int));
    for (size_t e = 0; e < pl->n_edges; e++) {
        int f = pl->edges[e].from, t = pl->edges[e].to;
        out_to[out_start[f] + fill_o[f]++] = t;
        in_fr[ins[t] + fill_i[t]++] = f;
    }

    id_heap h = { pk_calloc(n + 1, sizeof(int)), 0, rank };
    bool *done = pk_calloc(n + 1, sizeof(bool));
    for (size_t i = 0; i < n; i++)
        if (indeg[i] == 0) heap_push(&h, (int)i);
    size_t k = 0;
    while (k < n) {
        int id;
        if (h.n > 0) {
            id = heap_pop(&h);
        } else {
            /* Only a backing cycle gets here: break it at its first action,
             * which cannot run since its base waits for it. */
            size_t c = 0;
            while (done[canon[c]]) c++;
            id = canon[c];
            block(act(pl, id), "backing files of '%s/%s' form a cycle",
                  act(pl, id)->pool, act(pl, id)->vol ? act(pl, id)->vol : "");
            indeg[id] = 0;
        }
        done[id] = true;
        order[k++] = id;
        for (int e = out_start[id]; e < out_start[id + 1]; e++) {
            int t = out_to[e];
            if (!done[t] && --indeg[t] == 0) heap_push(&h, t);
        }
    }
    free(h.v);
    free(done);
    free(fill_o);
    free(fill_i);
    free(indeg);
    free(out_start);
    free(out_to);
    free(canon);
    free(rank);
    *in_start = ins;
    *in_from = in_fr;
}

static void describe(pk_buf *b, const pk_action *a)
{
    if (a->vol)
        pk_buf_addf(b, "%s/%s", a->pool, a->vol);
    else
        pk_buf_add(b, a->pool);
}

/* Whatever needs a blocked action is blocked too. */
static void propagate(planner *pl, const int *order, const int *in_start, const int *in_from)
{
    size_t n = pl->plan->n_actions;
    for (size_t k = 0; k < n; k++) {
        pk_action *a = act(pl, order[k]);
        if (a->blocked) continue;
        /* Name the direct need first: it is what the reader looks at. */
        for (int e = in_start[order[k]] - 1; e < in_start[order[k] + 1]; e++) {
            int from = e < in_start[order[k]] ? a->depends_on : in_from[e];
            if (from < 0) continue;
            const pk_action *need = act(pl, from);
            if (!need->blocked) continue;
            pk_buf obj = PK_BUF_INIT;
            describe(&obj, need);
            block(a, "needs %s of '%s', which is blocked",
                  pk_action_kind_to_string(need->kind), pk_buf_str(&obj));
            pk_buf_free(&obj);
            break;
        }
    }
}

/* An empty desired set, or a run deleting too large a share of what we
 * own, looks like a mistake (lost checkout, wrong branch) more than intent. */
static void guard_mass_delete(planner *pl)
{
    pk_plan *p = pl->plan;
    if (pl->policy.allow_mass_delete) return;
    if (pl->in->desired->n_pools == 0) {
        for (size_t i = 0; i < p->n_actions; i++) {
            pk_action_kind k = p->actions[i].kind;
            if (k == PK_ACT_VOL_DELETE || k == PK_ACT_POOL_DELETE || k == PK_ACT_POOL_STOP)
                block(&p->actions[i], "the desired state has no pools, which looks like a "
                      "mistake; rerun with --allow-mass-delete");
        }
        return;
    }
    size_t dels = 0, owned = pl->owned_vols;
    for (size_t i = 0; i < p->n_actions; i++)
        if (p->actions[i].kind == PK_ACT_VOL_DELETE && !p->actions[i].blocked)
            dels++;
    int pct = pl->policy.max_delete_percent;
    if (dels == 0 || owned == 0 || (double)dels * 100.0 <= (double)pct * (double)owned)
        return;
    _cleanup_free_ char *share = (dels * 100) % owned == 0
        ? pk_asprintf("%zu%%", dels * 100 / owned)
        : pk_asprintf("%.1f%%", (double)dels * 100.0 / (double)owned);
    for (size_t i = 0; i < p->n_actions; i++)
        if (p->actions[i].kind == PK_ACT_VOL_DELETE)
            block(&p->actions[i], "would delete %zu of %zu owned volumes (%s), more than "
                  "max_delete_percent=%d; rerun with --allow-mass-delete",
                  dels, owned, share, pct);
}

/* Orders, propagates blocks, applies the guards, moves blocked actions last
 * and renumbers depends_on. */
static void finish(planner *pl)
{
    pk_plan *p = pl->plan;
    size_t n = p->n_actions;
    int *order = pk_calloc(n + 1, sizeof(int));
    int *in_start, *in_from;
    topo_order(pl, order, &in_start, &in_from);
    propagate(pl, order, in_start, in_from);
    guard_mass_delete(pl);
    propagate(pl, order, in_start, in_from);
    free(in_start);
    free(in_from);

    int *final = pk_calloc(n + 1, sizeof(int)), *where = pk_calloc(n + 1, sizeof(int));
    size_t k = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n; i++)
            if (p->actions[order[i]].blocked == (pass == 1))
                final[k++] = order[i];
    for (size_t i = 0; i < n; i++) where[final[i]] = (int)i;

    pk_action *sorted = pk_calloc(n + 1, sizeof(pk_action));
    for (size_t i = 0; i < n; i++) {
        sorted[i] = p->actions[final[i]];
        if (sorted[i].depends_on >= 0)
            sorted[i].depends_on = where[sorted[i].depends_on];
    }
    free(p->actions);
    p->actions = sorted;
    free(order);
    free(final);
    free(where);
}

/* ---- entry points ---- */

pk_plan *pk_plan_compute_inputs(const pk_plan_inputs *in_given)
{
    /* Lookups of ownership are binary searches; inputs built by hand may be
     * in any order, so plan with a sorted shallow copy of them. */
    pk_plan_inputs in_sorted = *in_given;
    pk_ownership owned_sorted = { 0 };
    if (in_given->owned && !pk_ownership_sorted(in_given->owned)) {
        owned_sorted.n = in_given->owned->n;
        owned_sorted.items = pk_calloc(owned_sorted.n, sizeof(*owned_sorted.items));
        memcpy(owned_sorted.items, in_given->owned->items, owned_sorted.n * sizeof(*owned_sorted.items));
        pk_ownership_sort(&owned_sorted);
        in_sorted.owned = &owned_sorted;
    }
    const pk_plan_inputs *in = &in_sorted;
    const pk_desired *d = in->desired;
    planner pl = { .in = in };
    if (in->policy)
        pl.policy = *in->policy;
    else
        pk_policy_defaults(&pl.policy);
    pl.plan = PK_NEW(pk_plan);
    pl.plan->commit = pk_strdup(d->commit);
    pl.plan->ref = pk_strdup(d->ref);
    pl.plan->worktree = d->worktree;
    char shortbuf[16];
    const char *shortid = pk_desired_short(d, shortbuf);
    pl.removed_reason = d->worktree ? pk_strdup("removed from desired in the work tree")
                                    : pk_asprintf("removed from desired in %s", shortid);

    /* Every pool we have a say about: desired ones, and those we own
     * something in. Sorted by name, each planned once. */
    size_t n_own = in->owned ? in->owned->n : 0, n = 0;
    const char **names = pk_calloc(d->n_pools + n_own + 1, sizeof(*names));
    for (size_t i = 0; i < d->n_pools; i++) names[n++] = d->pools[i].pool->name;
    for (size_t i = 0; i < n_own; i++)
        if (in->owned->items[i].pool) names[n++] = in->owned->items[i].pool;
    n = sort_unique(names, n);

    for (size_t rank = 0; rank < n; rank++) {
        const pk_desired_pool *dp = pk_desired_find_pool(d, names[rank]);
        const pk_obs_pool *op = in->observed ? pk_observed_find_pool(in->observed, names[rank]) : NULL;
        if (dp)
            plan_desired_pool(&pl, rank, dp, op);
        else
            plan_removed_pool(&pl, rank, names[rank], op);   /* we own something there */
    }
    free(names);

    plan_backing(&pl);
    finish(&pl);
    free(pl.keys);
    free(pl.edges);
    free(pl.removed_reason);
    free(owned_sorted.items);   /* shallow: the strings belong to the caller */
    return pl.plan;
}

pk_plan *pk_plan_compute(const pk_desired *desired, const pk_observed *observed,
                         const pk_ownership *owned, const pk_policy *policy)
{
    pk_plan_inputs in = {
        .desired = desired, .observed = observed, .owned = owned, .policy = policy,
    };
    return pk_plan_compute_inputs(&in);
}

void pk_plan_free(pk_plan *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n_actions; i++) {
        pk_action *a = &p->actions[i];
        free(a->pool);
        free(a->vol);
        free(a->before);
        free(a->after);
        free(a->reason);
        free(a->blocked_why);
    }
    for (size_t i = 0; i < p->n_notes; i++) {
        free(p->notes[i].pool);
        free(p->notes[i].vol);
        free(p->notes[i].message);
    }
    free(p->actions);
    free(p->notes);
    free(p->commit);
    free(p->ref);
    free(p);
}

size_t pk_plan_count_changes(const pk_plan *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n_actions; i++)
        if (!p->actions[i].blocked) n++;
    return n;
}

size_t pk_plan_count_blocked(const pk_plan *p)
{
    return p->n_actions - pk_plan_count_changes(p);
}
