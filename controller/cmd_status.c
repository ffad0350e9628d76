/* `poolkeeper status` and `poolkeeper history`: what the state database
 * knows, next to what the desired repository says. Both only read: they
 * never create, upgrade or lock the state database and never touch storage,
 * so they are safe to run at any time, also while a run is applying. */
#include "cli.h"
#include "config.h"
#include "../desired/repo.h"
#include "../store/store.h"
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <libgen.h>
#include <sys/stat.h>

#define JSON_FLAGS (JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE)

/* ---------- small output helpers ---------- */

/* A text table: the widths come from the cells; the last column is not
 * padded, so long errors do not push the others apart. */
typedef struct {
    size_t n_cols;
    char **cells;             /* row-major, n_rows * n_cols, owned */
    size_t n_rows;
} table;

static void table_row(table *t, ...)
{
    va_list ap;
    va_start(ap, t);
    t->cells = pk_realloc(t->cells, sizeof(char *) * (t->n_rows + 1) * t->n_cols);
    for (size_t c = 0; c < t->n_cols; c++) {
        const char *v = va_arg(ap, const char *);
        t->cells[t->n_rows * t->n_cols + c] = pk_strdup(v && *v ? v : "-");
    }
    va_end(ap);
    t->n_rows++;
}

static void table_print(FILE *f, table *t)
{
    size_t *w = pk_calloc(t->n_cols, sizeof(size_t));
    for (size_t r = 0; r < t->n_rows; r++)
        for (size_t c = 0; c < t->n_cols; c++) {
            size_t l = strlen(t->cells[r * t->n_cols + c]);
            if (l > w[c]) w[c] = l;
        }
    for (size_t r = 0; r < t->n_rows; r++) {
        for (size_t c = 0; c < t->n_cols; c++) {
            const char *v = t->cells[r * t->n_cols + c];
            if (c + 1 == t->n_cols)
                fprintf(f, "%s\n", v);
            else
                fprintf(f, "%-*s  ", (int)w[c], v);
        }
    }
    free(w);
    for (size_t i = 0; i < t->n_rows * t->n_cols; i++) free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
    t->n_rows = 0;
}

static char *iso(int64_t ms)
{
    return ms > 0 ? pk_format_time(ms) : NULL;
}

static json_object *jstr(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

static json_object *jtime(int64_t ms)
{
    if (ms <= 0) return NULL;
    _cleanup_free_ char *t = pk_format_time(ms);
    return json_object_new_string(t);
}

static void jadd(json_object *o, const char *k, json_object *v)
{
    json_object_object_add(o, k, v);
}

static void print_json(json_object *o)
{
    printf("%s\n", json_object_to_json_string_ext(o, JSON_FLAGS));
    json_object_put(o);
}

/* An error and its causes on one line, without the "error: " of pk_err_str. */
static char *err_line(const pk_err *e)
{
    pk_buf b = PK_BUF_INIT;
    for (const pk_err *c = e; c; c = c->cause) {
        if (c != e) pk_buf_add(&b, ": ");
        pk_buf_add(&b, c->msg ? c->msg : "unknown error");
        if (c->errnum) pk_buf_addf(&b, ": %s", strerror(c->errnum));
    }
    return pk_buf_steal(&b);
}

static const char *short_commit(const char *commit, char buf[16])
{
    if (!commit) return NULL;
    snprintf(buf, 16, "%.7s", commit);
    return buf;
}

/* ---------- shared setup ---------- */

typedef struct {
    bool json;
    long limit;
} cmd_opts;

enum { OPT_JSON = 2000, OPT_LIMIT };

static int parse_opts(const char *cmd, int argc, char **argv, bool with_limit, cmd_opts *o)
{
    static const struct option longopts[] = {
        { "json", no_argument, NULL, OPT_JSON },
        { "limit", required_argument, NULL, OPT_LIMIT },
        { NULL, 0, NULL, 0 },
    };
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_JSON:
            o->json = true;
            break;
        case OPT_LIMIT: {
            int v;
            if (!with_limit) goto unknown;
            if (pk_parse_int(optarg, 10, &v) < 0 || v < 0) {
                fprintf(stderr, "poolkeeper %s: --limit needs a number of runs (0 = all), not '%s'\n", cmd, optarg);
                return -1;
            }
            o->limit = v;
            break;
        }
        case ':':
            fprintf(stderr, "poolkeeper %s: option '%s' needs a value\n", cmd, argv[optind - 1]);
            return -1;
        default:
        unknown:
            fprintf(stderr, "poolkeeper %s: unknown option '%s'; see 'poolkeeper help %s'\n", cmd,
                    argv[optind - 1], cmd);
            return -1;
        }
    }
    return 0;
}

/* The state database for reading, or *ret NULL when there is none yet
 * (which is not an error: nothing ever ran). */
static int open_state(const char *path, pk_store **ret)
{
    *ret = NULL;
    struct stat st;
    if (stat(path, &st) < 0 && errno == ENOENT) return 0;
    pk_err *err = NULL;
    if (pk_store_open(path, PK_STORE_READ, ret, &err) < 0) {
        pk_cli_report(err);
        pk_err_free(err);
        return -1;
    }
    return 0;
}

static int load_settings(const pk_cli_opts *opts, pk_settings *s)
{
    pk_err *errs = NULL;
    if (pk_settings_load(opts, s, &errs) < 0) {
        pk_cli_report(errs);
        pk_err_free(errs);
        return -1;
    }
    return 0;
}

static const char *state_path(const pk_settings *s)
{
    return s->state ? s->state : PK_STATE_DEFAULT;
}

/* ================= status ================= */

/* One line of the status: a pool (vol NULL) or a volume, and what each
 * source says about it. Built by listing every source's objects, sorting
 * and folding equal keys together. */
typedef struct {
    const char *pool, *vol;
    const pk_pool *dpool;
    const pk_vol *dvol;
    const pk_obs_pool *opool;     /* for a volume: its pool's observation */
    const pk_obs_vol *ovol;
    const pk_owner *owner;
    const pk_drift *drift;        /* first of n_drift consecutive entries */
    size_t n_drift;
    const pk_journal_entry *last;
} obj;

typedef struct {
    const char *state;
    bool state_exists;
    int schema_version;
    int lock_pid;
    int64_t lock_since;
    bool locked;
    pk_desired *desired;
    char *desired_error;          /* why there is no desired state */
    pk_observed *observed;
    pk_owner *owners; size_t n_owners;
    pk_drift *drift; size_t n_drift;
    pk_journal_entry *last; size_t n_last;
    pk_run last_run; bool has_run;
    bool suspended;
    int64_t suspended_since;
    char *suspended_reason;
    obj *objs; size_t n_objs;
} status_view;

static void view_clear(status_view *v)
{
    pk_desired_free(v->desired);
    free(v->desired_error);
    pk_observed_free(v->observed);
    pk_owners_free(v->owners, v->n_owners);
    pk_drifts_free(v->drift, v->n_drift);
    pk_journal_entries_free(v->last, v->n_last);
    pk_run_clear(&v->last_run);
    free(v->suspended_reason);
    free(v->objs);
}

static int obj_cmp(const void *a, const void *b)
{
    const obj *x = a, *y = b;
    int c = strcmp(x->pool, y->pool);
    if (c) return c;
    if (!x->vol || !y->vol) return (x->vol != NULL) - (y->vol != NULL);
    return strcmp(x->vol, y->vol);
}

static obj *add_obj(status_view *v, const char *pool, const char *vol)
{
    obj *o = PK_APPEND(v->objs, v->n_objs);
    o->pool = pool;
    o->vol = vol;
    return o;
}

#define TAKE_FIELD(f) do { if (src->f) dst->f = src->f; } while (0)

static void fold_objects(status_view *v)
{
    if (!v->n_objs) return;
    qsort(v->objs, v->n_objs, sizeof(obj), obj_cmp);
    size_t out = 0;
    for (size_t i = 0; i < v->n_objs; i++) {
        if (out > 0 && obj_cmp(&v->objs[out - 1], &v->objs[i]) == 0) {
            obj *dst = &v->objs[out - 1], *src = &v->objs[i];
            TAKE_FIELD(dpool);
            TAKE_FIELD(dvol);
            TAKE_FIELD(ovol);
            TAKE_FIELD(owner);
            TAKE_FIELD(last);
            if (src->drift) {
                /* The drift rows of one object are adjacent in v->drift. */
                if (!dst->drift || src->drift < dst->drift) dst->drift = src->drift;
                dst->n_drift += src->n_drift;
            }
            continue;
        }
        v->objs[out++] = v->objs[i];
    }
    v->n_objs = out;
    /* A volume shows its pool's observation (never observed / not observable). */
    const pk_obs_pool *pool_obs = NULL;
    const char *pool = NULL;
    for (size_t i = 0; i < v->n_objs; i++) {
        obj *o = &v->objs[i];
        if (!pk_streq(pool, o->pool)) {
            pool = o->pool;
            pool_obs = pk_observed_find_pool(v->observed, pool);
        }
        o->opool = pool_obs;
    }
}

static void collect_objects(status_view *v)
{
    const pk_desired *d = v->desired;
    for (size_t i = 0; d && i < d->n_pools; i++) {
        const pk_desired_pool *dp = &d->pools[i];
        add_obj(v, dp->pool->name, NULL)->dpool = dp->pool;
        for (size_t j = 0; j < dp->n_vols; j++) {
            obj *o = add_obj(v, dp->pool->name, dp->vols[j]->name);
            o->dpool = dp->pool;
            o->dvol = dp->vols[j];
        }
    }
    const pk_observed *ob = v->observed;
    for (size_t i = 0; ob && i < ob->n_pools; i++) {
        const pk_obs_pool *p = &ob->pools[i];
        add_obj(v, p->name, NULL);
        for (size_t j = 0; j < p->n_vols; j++)
            add_obj(v, p->name, p->vols[j].name)->ovol = &p->vols[j];
    }
    for (size_t i = 0; i < v->n_owners; i++)
        add_obj(v, v->owners[i].pool, v->owners[i].vol)->owner = &v->owners[i];
    for (size_t i = 0; i < v->n_drift; i++) {
        obj *o = add_obj(v, v->drift[i].pool, v->drift[i].vol);
        o->drift = &v->drift[i];
        o->n_drift = 1;
    }
    for (size_t i = 0; i < v->n_last; i++)
        add_obj(v, v->last[i].pool, v->last[i].vol)->last = &v->last[i];
    fold_objects(v);
}

static char *errs_text(const pk_err *errs)
{
    if (!errs) return pk_strdup("cannot load the desired state");
    _cleanup_free_ char *first = pk_err_str(errs);
    const char *msg = pk_str_has_prefix(first, "error: ") ? first + 7 : first;
    size_t n = pk_err_count(errs);
    if (n == 1) return pk_strdup(msg);
    return pk_asprintf("%s (and %zu more errors: see 'poolkeeper validate')", msg, n - 1);
}

static void load_desired(const pk_settings *s, status_view *v)
{
    if (!s->desired_path && !s->desired_remote) {
        v->desired_error = pk_strdup("no desired repository configured (--desired DIR or desired.path)");
        return;
    }
    _cleanup_free_ char *copy = pk_strdup(state_path(s));
    pk_repo_opts ro = {
        .path = s->desired_path,
        .remote = s->desired_remote,
        .branch = s->desired_branch,
        .subdir = s->desired_subdir,
        .ref = s->ref,
        .worktree = s->worktree,
        .cache_dir = dirname(copy),
    };
    pk_err *errs = NULL;
    v->desired = pk_repo_load(&ro, &errs);
    if (!v->desired) v->desired_error = errs_text(errs);
    pk_err_free(errs);
}

static int load_store(pk_store *st, status_view *v)
{
    pk_err *err = NULL;
    v->schema_version = pk_store_found_version(st);
    int r = pk_store_read_begin(st, &err);
    if (r == 0) r = pk_store_observed_load(st, &v->observed, &err);
    if (r == 0) r = pk_store_owners_list(st, &v->owners, &v->n_owners, &err);
    if (r == 0) r = pk_store_drift_list(st, false, &v->drift, &v->n_drift, &err);
    if (r == 0) r = pk_store_journal_last_actions(st, &v->last, &v->n_last, &err);
    if (r == 0)
        r = pk_store_suspended(st, &v->suspended, &v->suspended_since, &v->suspended_reason, &err);
    if (r == 0) {
        int got = pk_store_run_get(st, 0, &v->last_run, &err);
        v->has_run = got == 1;
        r = got < 0 ? -1 : 0;
    }
    pk_store_read_end(st);
    if (r == 0 && pk_store_lock_holder(v->state, &v->lock_pid, &v->lock_since, &err) == 1)
        v->locked = true;
    if (err) {
        pk_cli_report(err);
        pk_err_free(err);
        return -1;
    }
    return 0;
}

/* The name of a volume format, which depends on the pool type. */
static const char *format_name(const pk_obs_pool *p, int format)
{
    if (format < 0) return NULL;
    switch (p ? p->type : PK_POOL_DIR) {
    case PK_POOL_DISK:
        return pk_part_format_to_string(format);
    case PK_POOL_DIR: case PK_POOL_FS: case PK_POOL_NETFS: case PK_POOL_GLUSTER:
    case PK_POOL_VSTORAGE:
        return pk_img_format_to_string(format);
    default:
        return NULL;
    }
}

static bool vols_known(const pk_obs_pool *p)
{
    return p && !p->error && (p->vols_observed || p->state == PK_POOL_ABSENT);
}

/* "present", "absent", "unknown" or "never" for a volume; a pool's state. */
static const char *observed_status(const obj *o)
{
    if (!o->vol) {
        if (!o->opool) return "never";
        if (o->opool->error) return "error";
        return pk_pool_state_to_string(o->opool->state);
    }
    if (o->ovol) return "present";
    if (!o->opool) return "never";
    return vols_known(o->opool) ? "absent" : "unknown";
}

static char *observed_text(const obj *o)
{
    const char *status = observed_status(o);
    if (pk_streq(status, "never")) return pk_strdup("never observed");
    if (!o->vol) {
        if (o->opool->error) {
            _cleanup_free_ char *e = err_line(o->opool->error);
            return pk_asprintf("error: %s", e);
        }
        _cleanup_free_ char *t = iso(o->opool->observed_at_ms);
        return pk_asprintf("%s, %s", status, t ? t : "time unknown");
    }
    if (o->ovol) {
        if (o->ovol->error) return pk_asprintf("error: %s", o->ovol->error);
        _cleanup_free_ char *size = pk_human_bytes(o->ovol->capacity);
        const char *fmt = format_name(o->opool, o->ovol->format);
        bool stale = !vols_known(o->opool);
        return pk_asprintf("%s%s%s%s", fmt ? fmt : "", fmt ? " " : "", size,
                           stale ? " (last known)" : "");
    }
    if (pk_streq(status, "absent")) return pk_strdup("absent");
    if (o->opool->error) return pk_strdup("unknown: pool could not be observed");
    return pk_asprintf("unknown: pool is %s", pk_pool_state_to_string(o->opool->state));
}

static const char *observed_identity(const obj *o)
{
    if (o->vol) return o->ovol ? o->ovol->identity : NULL;
    return o->opool && !o->opool->error ? o->opool->identity : NULL;
}

/* The storage now at this name is not what poolkeeper took ownership of. */
static bool replaced(const obj *o)
{
    const char *now = observed_identity(o);
    return o->owner && o->owner->identity && now && !pk_streq(o->owner->identity, now);
}

static char *owned_text(const obj *o)
{
    if (!o->owner) return NULL;
    const char *how = pk_own_how_to_string(o->owner->how);
    return replaced(o) ? pk_asprintf("%s (replaced since)", how) : pk_strdup(how);
}

static char *drift_text(const obj *o)
{
    if (!o->n_drift) return NULL;
    pk_buf b = PK_BUF_INIT;
    for (size_t i = 0; i < o->n_drift; i++) {
        if (i) pk_buf_add(&b, ", ");
        pk_buf_add(&b, o->drift[i].what);
    }
    return pk_buf_steal(&b);
}

/* An intent without a result: still being applied, or never finished. */
static const char *entry_state(const status_view *v, const pk_journal_entry *e)
{
    if (e->state != PK_JOURNAL_INTENT) return pk_journal_state_to_string(e->state);
    bool running = v->has_run && v->last_run.id == e->run && v->last_run.result == PK_RUN_RUNNING;
    return running ? "in progress" : "unfinished";
}

static char *last_text(const status_view *v, const obj *o)
{
    const pk_journal_entry *e = o->last;
    if (!e) return NULL;
    const char *kind = pk_action_kind_to_string(e->kind);
    const char *state = entry_state(v, e);
    if (e->error)
        return pk_asprintf("%s %s (run %lld): %s", kind ? kind : "?", state, (long long)e->run, e->error);
    return pk_asprintf("%s %s (run %lld)", kind ? kind : "?", state, (long long)e->run);
}

static const char *desired_text(const status_view *v, const obj *o)
{
    if (!v->desired) return "?";
    return (o->vol ? o->dvol != NULL : o->dpool != NULL) ? "yes" : "no";
}

static char *run_summary(const pk_run *r)
{
    pk_buf b = PK_BUF_INIT;
    pk_buf_addf(&b, "%d action%s", r->n_actions, r->n_actions == 1 ? "" : "s");
    const char *sep = ": ";
    if (r->n_done) { pk_buf_addf(&b, "%s%d done", sep, r->n_done); sep = ", "; }
    if (r->n_failed) { pk_buf_addf(&b, "%s%d failed", sep, r->n_failed); sep = ", "; }
    if (r->n_skipped) { pk_buf_addf(&b, "%s%d skipped", sep, r->n_skipped); sep = ", "; }
    int pending = r->n_actions - r->n_done - r->n_failed - r->n_skipped;
    if (pending > 0) pk_buf_addf(&b, "%s%d unfinished", sep, pending);
    return pk_buf_steal(&b);
}

static void status_text(const status_view *v)
{
    char buf[16];
    if (v->desired) {
        const pk_desired *d = v->desired;
        if (d->worktree)
            printf("poolkeeper status · desired worktree (files on disk, not a commit)");
        else
            printf("poolkeeper status · desired %s", pk_desired_short(d, buf));
        if (d->ref && !d->worktree) printf(" (%s)", d->ref);
        printf(" · state %s\n", v->state);
    } else {
        printf("poolkeeper status · state %s\n", v->state);
        printf("desired state not available: %s\n", v->desired_error);
        printf("(showing what the state database knows)\n");
    }
    if (!v->state_exists) {
        printf("no state yet: '%s' does not exist (nothing has been observed or applied)\n", v->state);
    } else if (v->has_run) {
        const pk_run *r = &v->last_run;
        _cleanup_free_ char *start = iso(r->started_ms);
        _cleanup_free_ char *summary = run_summary(r);
        printf("last run %lld: %s · started %s · %s", (long long)r->id,
               pk_run_result_to_string(r->result), start, summary);
        if (r->error) printf(" · %s", r->error);
        printf("\n");
    } else {
        printf("no runs yet\n");
    }
    if (v->suspended) {
        _cleanup_free_ char *since = iso(v->suspended_since);
        printf("suspended since %s: %s (run observes only; 'poolkeeper resume' ends it)\n",
               since ? since : "an unknown time", v->suspended_reason ? v->suspended_reason : "no reason given");
    }
    if (v->locked) {
        _cleanup_free_ char *since = iso(v->lock_since);
        if (v->lock_pid > 0)
            printf("locked by pid %d since %s\n", v->lock_pid, since ? since : "an unknown time");
        else
            printf("locked by another process\n");
    }
    printf("\n");
    if (!v->n_objs) {
        printf("no pools: none desired, observed or owned\n");
        return;
    }
    table t = { .n_cols = 6 };
    table_row(&t, "OBJECT", "DESIRED", "OBSERVED", "OWNED", "DRIFT", "LAST ACTION");
    for (size_t i = 0; i < v->n_objs; i++) {
        const obj *o = &v->objs[i];
        _cleanup_free_ char *name = o->vol ? pk_asprintf("%s/%s", o->pool, o->vol) : pk_strdup(o->pool);
        _cleanup_free_ char *obs = observed_text(o);
        _cleanup_free_ char *own = owned_text(o);
        _cleanup_free_ char *drift = drift_text(o);
        _cleanup_free_ char *last = last_text(v, o);
        table_row(&t, name, desired_text(v, o), obs, own, drift, last);
    }
    table_print(stdout, &t);
}

static json_object *run_json(const pk_run *r)
{
    char buf[16];
    json_object *j = json_object_new_object();
    jadd(j, "id", json_object_new_int64(r->id));
    jadd(j, "result", jstr(pk_run_result_to_string(r->result)));
    jadd(j, "commit", jstr(r->commit));
    jadd(j, "commit_short", jstr(short_commit(r->commit, buf)));
    jadd(j, "ref", jstr(r->ref));
    jadd(j, "pid", json_object_new_int(r->pid));
    jadd(j, "started", jtime(r->started_ms));
    jadd(j, "ended", jtime(r->ended_ms));
    json_object *c = json_object_new_object();
    jadd(c, "total", json_object_new_int(r->n_actions));
    jadd(c, "done", json_object_new_int(r->n_done));
    jadd(c, "failed", json_object_new_int(r->n_failed));
    jadd(c, "skipped", json_object_new_int(r->n_skipped));
    jadd(c, "unfinished", json_object_new_int(r->n_actions - r->n_done - r->n_failed - r->n_skipped));
    jadd(j, "actions", c);
    jadd(j, "error", jstr(r->error));
    return j;
}

static json_object *entry_json(const pk_journal_entry *e)
{
    json_object *j = json_object_new_object();
    jadd(j, "run", json_object_new_int64(e->run));
    jadd(j, "seq", json_object_new_int(e->seq));
    jadd(j, "kind", jstr(pk_action_kind_to_string(e->kind)));
    jadd(j, "pool", jstr(e->pool));
    jadd(j, "volume", jstr(e->vol));
    jadd(j, "risk", jstr(pk_risk_to_string(e->risk)));
    jadd(j, "before", jstr(e->before));
    jadd(j, "after", jstr(e->after));
    jadd(j, "reason", jstr(e->reason));
    jadd(j, "drift", json_object_new_boolean(e->drift));
    jadd(j, "state", jstr(pk_journal_state_to_string(e->state)));
    jadd(j, "error", jstr(e->error));
    jadd(j, "started", jtime(e->started_ms));
    jadd(j, "ended", jtime(e->ended_ms));
    return j;
}

static json_object *observed_json(const obj *o)
{
    json_object *j = json_object_new_object();
    const char *status = observed_status(o);
    jadd(j, "status", jstr(status));
    if (!o->vol && o->opool) {
        const pk_obs_pool *p = o->opool;
        jadd(j, "type", jstr(pk_pool_type_to_string(p->type)));
        if (p->error) {
            _cleanup_free_ char *e = err_line(p->error);
            jadd(j, "error", jstr(e));
        } else {
            jadd(j, "capacity", json_object_new_uint64(p->capacity));
            jadd(j, "allocation", json_object_new_uint64(p->allocation));
            jadd(j, "available", json_object_new_uint64(p->available));
        }
        jadd(j, "observed_at", jtime(p->observed_at_ms));
    } else if (o->ovol) {
        const pk_obs_vol *vol = o->ovol;
        jadd(j, "format", jstr(format_name(o->opool, vol->format)));
        jadd(j, "capacity", json_object_new_uint64(vol->capacity));
        jadd(j, "allocation", json_object_new_uint64(vol->allocation));
        jadd(j, "path", jstr(vol->path));
        jadd(j, "error", jstr(vol->error));
        jadd(j, "last_known", json_object_new_boolean(!vols_known(o->opool)));
        if (o->opool) jadd(j, "observed_at", jtime(o->opool->observed_at_ms));
    }
    return j;
}

static json_object *obj_json(const status_view *v, const obj *o)
{
    json_object *j = json_object_new_object();
    jadd(j, "name", jstr(o->vol ? o->vol : o->pool));
    if (v->desired) {
        bool desired = o->vol ? o->dvol != NULL : o->dpool != NULL;
        jadd(j, "desired", json_object_new_boolean(desired));
        const char *file = o->vol ? (o->dvol ? o->dvol->file : NULL) : (o->dpool ? o->dpool->file : NULL);
        int line = o->vol ? (o->dvol ? o->dvol->line : 0) : (o->dpool ? o->dpool->line : 0);
        if (file) {
            _cleanup_free_ char *cite = pk_desired_cite(v->desired, file, line);
            jadd(j, "desired_at", jstr(cite));
        }
    } else {
        jadd(j, "desired", NULL);
    }
    jadd(j, "observed", observed_json(o));
    if (o->owner) {
        json_object *w = json_object_new_object();
        jadd(w, "how", jstr(pk_own_how_to_string(o->owner->how)));
        jadd(w, "since", jtime(o->owner->since_ms));
        jadd(w, "run", o->owner->run ? json_object_new_int64(o->owner->run) : NULL);
        jadd(w, "identity", jstr(o->owner->identity));
        jadd(w, "replaced", json_object_new_boolean(replaced(o)));
        jadd(j, "owned", w);
    } else {
        jadd(j, "owned", NULL);
    }
    json_object *drift = json_object_new_array();
    for (size_t i = 0; i < o->n_drift; i++) {
        json_object *d = json_object_new_object();
        jadd(d, "what", jstr(o->drift[i].what));
        jadd(d, "detail", jstr(o->drift[i].detail));
        jadd(d, "first_seen", jtime(o->drift[i].first_seen_ms));
        jadd(d, "last_seen", jtime(o->drift[i].last_seen_ms));
        json_object_array_add(drift, d);
    }
    jadd(j, "drift", drift);
    jadd(j, "last_action", o->last ? entry_json(o->last) : NULL);
    return j;
}

static void status_json(const status_view *v)
{
    json_object *root = json_object_new_object();
    jadd(root, "format_version", json_object_new_int(1));
    json_object *state = json_object_new_object();
    jadd(state, "path", jstr(v->state));
    jadd(state, "exists", json_object_new_boolean(v->state_exists));
    jadd(state, "schema_version", v->state_exists ? json_object_new_int(v->schema_version) : NULL);
    if (v->locked) {
        json_object *l = json_object_new_object();
        jadd(l, "pid", v->lock_pid > 0 ? json_object_new_int(v->lock_pid) : NULL);
        jadd(l, "since", jtime(v->lock_since));
        jadd(state, "locked_by", l);
    } else {
        jadd(state, "locked_by", NULL);
    }
    jadd(root, "state", state);

    json_object *des = json_object_new_object();
    jadd(des, "loaded", json_object_new_boolean(v->desired != NULL));
    if (v->desired) {
        jadd(des, "commit", jstr(v->desired->commit));
        jadd(des, "ref", jstr(v->desired->ref));
        jadd(des, "worktree", json_object_new_boolean(v->desired->worktree));
    }
    jadd(des, "error", jstr(v->desired_error));
    jadd(root, "desired", des);
    jadd(root, "last_run", v->has_run ? run_json(&v->last_run) : NULL);
    if (v->suspended) {
        json_object *sj = json_object_new_object();
        jadd(sj, "since", jtime(v->suspended_since));
        jadd(sj, "reason", jstr(v->suspended_reason));
        jadd(root, "suspended", sj);
    } else {
        jadd(root, "suspended", NULL);
    }

    json_object *pools = json_object_new_array();
    json_object *vols = NULL;
    for (size_t i = 0; i < v->n_objs; i++) {
        const obj *o = &v->objs[i];
        json_object *j = obj_json(v, o);
        if (!o->vol) {
            vols = json_object_new_array();
            jadd(j, "volumes", vols);
            json_object_array_add(pools, j);
        } else if (vols) {
            json_object_array_add(vols, j);
        } else {
            json_object_put(j);   /* cannot happen: a pool row sorts first */
        }
    }
    jadd(root, "pools", pools);
    print_json(root);
}

static int run_status(const pk_cli_opts *opts, int argc, char **argv)
{
    cmd_opts o = { 0 };
    if (parse_opts("status", argc, argv, false, &o) < 0) return 1;
    if (optind < argc) {
        fprintf(stderr, "poolkeeper status: unexpected argument '%s'; see 'poolkeeper help status'\n", argv[optind]);
        return 1;
    }
    pk_settings s = { 0 };
    if (load_settings(opts, &s) < 0) return 1;
    status_view v = { .state = state_path(&s) };
    _cleanup_(pk_store_closep) pk_store *st = NULL;
    int rc = 0;
    if (open_state(v.state, &st) < 0) {
        rc = 1;
    } else {
        v.state_exists = st != NULL;
        if (st && load_store(st, &v) < 0) rc = 1;
    }
    if (rc == 0) {
        load_desired(&s, &v);
        collect_objects(&v);
        if (o.json)
            status_json(&v);
        else
            status_text(&v);
    }
    view_clear(&v);
    pk_settings_clear(&s);
    return rc;
}

/* ================= history ================= */

static void history_list_text(const char *state, const pk_run *runs, size_t n)
{
    printf("poolkeeper history · state %s\n\n", state);
    if (!n) {
        printf("no runs yet\n");
        return;
    }
    table t = { .n_cols = 7 };
    table_row(&t, "RUN", "STARTED", "ENDED", "RESULT", "DESIRED", "ACTIONS", "ERROR");
    for (size_t i = 0; i < n; i++) {
        const pk_run *r = &runs[i];
        char id[24], buf[16];
        snprintf(id, sizeof(id), "%lld", (long long)r->id);
        _cleanup_free_ char *start = iso(r->started_ms);
        _cleanup_free_ char *end = iso(r->ended_ms);
        _cleanup_free_ char *summary = run_summary(r);
        table_row(&t, id, start, end, pk_run_result_to_string(r->result),
                  short_commit(r->commit, buf), summary, r->error);
    }
    table_print(stdout, &t);
}

static void history_run_text(const char *state, const pk_run *r, const pk_journal_entry *e,
                             size_t n)
{
    char buf[16];
    _cleanup_free_ char *start = iso(r->started_ms);
    _cleanup_free_ char *end = iso(r->ended_ms);
    _cleanup_free_ char *summary = run_summary(r);
    printf("poolkeeper history · run %lld · state %s\n\n", (long long)r->id, state);
    printf("result:   %s\n", pk_run_result_to_string(r->result));
    if (r->commit)
        printf("desired:  %s%s%s%s\n", short_commit(r->commit, buf), r->ref ? " (" : "",
               r->ref ? r->ref : "", r->ref ? ")" : "");
    else
        printf("desired:  not loaded\n");
    printf("started:  %s (pid %d)\n", start ? start : "-", r->pid);
    printf("ended:    %s\n", end ? end : r->result == PK_RUN_RUNNING ? "still running" : "never (interrupted)");
    printf("journal:  %s\n", summary);
    if (r->error) printf("error:    %s\n", r->error);
    printf("\n");
    if (!n) {
        printf("no actions\n");
        return;
    }
    table t = { .n_cols = 7 };
    table_row(&t, "SEQ", "ACTION", "OBJECT", "CHANGE", "RESULT", "REASON", "ERROR");
    for (size_t i = 0; i < n; i++) {
        char seq[16];
        snprintf(seq, sizeof(seq), "%d", e[i].seq);
        _cleanup_free_ char *name = e[i].vol ? pk_asprintf("%s/%s", e[i].pool, e[i].vol) : pk_strdup(e[i].pool);
        _cleanup_free_ char *change = e[i].before || e[i].after
            ? pk_asprintf("%s -> %s", e[i].before ? e[i].before : "-", e[i].after ? e[i].after : "-")
            : NULL;
        const char *kind = pk_action_kind_to_string(e[i].kind);
        const char *res = e[i].state != PK_JOURNAL_INTENT ? pk_journal_state_to_string(e[i].state)
                          : r->result == PK_RUN_RUNNING ? "in progress" : "unfinished";
        table_row(&t, seq, kind ? kind : "?", name, change, res, e[i].reason, e[i].error);
    }
    table_print(stdout, &t);
}

static int parse_run_id(const char *arg, int64_t *out)
{
    if (pk_streq(arg, "last")) {
        *out = 0;
        return 0;
    }
    uint64_t v;
    if (pk_parse_u64(arg, 10, &v) < 0 || v == 0 || v > INT64_MAX) return -1;
    *out = (int64_t)v;
    return 0;
}

static int history_one(pk_store *st, const char *state, int64_t id, bool json)
{
    pk_err *err = NULL;
    pk_run r = { 0 };
    pk_journal_entry *e = NULL;
    size_t n = 0;
    int got = pk_store_run_get(st, id, &r, &err);
    if (got == 1 && pk_store_journal_list(st, r.id, &e, &n, &err) < 0) got = -1;
    if (got < 0) {
        pk_cli_report(err);
        pk_err_free(err);
        pk_run_clear(&r);
        return 1;
    }
    if (got == 0) {
        if (id)
            fprintf(stderr, "poolkeeper history: no run %lld in state database '%s'; see 'poolkeeper history' for the list\n", (long long)id, state);
        else
            fprintf(stderr, "poolkeeper history: no runs yet in state database '%s'\n", state);
        return 1;
    }
    if (json) {
        json_object *root = json_object_new_object();
        jadd(root, "format_version", json_object_new_int(1));
        jadd(root, "state", jstr(state));
        jadd(root, "run", run_json(&r));
        json_object *a = json_object_new_array();
        for (size_t i = 0; i < n; i++) json_object_array_add(a, entry_json(&e[i]));
        jadd(root, "actions", a);
        print_json(root);
    } else {
        history_run_text(state, &r, e, n);
    }
    pk_journal_entries_free(e, n);
    pk_run_clear(&r);
    return 0;
}

static int run_history(const pk_cli_opts *opts, int argc, char **argv)
{
    cmd_opts o = { .limit = 20 };
    if (parse_opts("history", argc, argv, true, &o) < 0) return 1;
    int64_t id = -1;
    if (optind < argc) {
        if (optind + 1 < argc) {
            fprintf(stderr, "poolkeeper history: one RUN at most; see 'poolkeeper help history'\n");
            return 1;
        }
        if (parse_run_id(argv[optind], &id) < 0) {
            fprintf(stderr, "poolkeeper history: RUN is a run number or 'last', not '%s'\n", argv[optind]);
            return 1;
        }
    }
    pk_settings s = { 0 };
    if (load_settings(opts, &s) < 0) return 1;
    const char *state = state_path(&s);
    _cleanup_(pk_store_closep) pk_store *st = NULL;
    int rc = 0;
    if (open_state(state, &st) < 0) {
        rc = 1;
    } else if (!st) {
        if (id >= 0) {
            fprintf(stderr, "poolkeeper history: no state yet: state database '%s' does not exist\n", state);
            rc = 1;
        } else if (o.json) {
            json_object *root = json_object_new_object();
            jadd(root, "format_version", json_object_new_int(1));
            jadd(root, "state", jstr(state));
            jadd(root, "exists", json_object_new_boolean(false));
            jadd(root, "runs", json_object_new_array());
            print_json(root);
        } else {
            printf("poolkeeper history · state %s\n\nno state yet: '%s' does not exist (nothing has run)\n", state, state);
        }
    } else if (id >= 0) {
        rc = history_one(st, state, id, o.json);
    } else {
        pk_err *err = NULL;
        pk_run *runs = NULL;
        size_t n = 0;
        if (pk_store_runs_list(st, (size_t)o.limit, &runs, &n, &err) < 0) {
            pk_cli_report(err);
            pk_err_free(err);
            rc = 1;
        } else if (o.json) {
            json_object *root = json_object_new_object();
            jadd(root, "format_version", json_object_new_int(1));
            jadd(root, "state", jstr(state));
            jadd(root, "exists", json_object_new_boolean(true));
            json_object *a = json_object_new_array();
            for (size_t i = 0; i < n; i++) json_object_array_add(a, run_json(&runs[i]));
            jadd(root, "runs", a);
            print_json(root);
        } else {
            history_list_text(state, runs, n);
        }
        pk_runs_free(runs, n);
    }
    pk_settings_clear(&s);
    return rc;
}

const pk_command pk_command_status = {
    .name = "status",
    .args = "[--json]",
    .summary = "show pools and volumes: desired, observed, owned, drift and last action",
    .help =
        "Shows one line per pool and per volume that the desired state names, that\n"
        "was observed, or that poolkeeper owns, with what each source says:\n"
        "\n"
        "  OBJECT       POOL or POOL/VOLUME\n"
        "  DESIRED      yes / no: whether the desired repository declares it ('?' when\n"
        "               the desired state could not be loaded)\n"
        "  OBSERVED     as last recorded by plan, apply or run: a pool's state (absent,\n"
        "               inactive, running) and when it was observed, or the error that\n"
        "               kept it from being observed; a volume's format and capacity,\n"
        "               'absent', or 'unknown' when its pool could not be listed. 'never\n"
        "               observed' before the first observation. '(last known)' marks a\n"
        "               volume of a pool whose volumes were not listed last time\n"
        "  OWNED        created / adopted: poolkeeper may change or delete it; '-': it\n"
        "               is left alone. '(replaced since)': the storage there now is not\n"
        "               the one poolkeeper took (another inode, image or UUID)\n"
        "  DRIFT        what was changed outside poolkeeper and is not corrected yet\n"
        "  LAST ACTION  the last journalled action on it: kind, result (done, failed,\n"
        "               skipped; in progress; unfinished = its run stopped before the\n"
        "               result was recorded), run number, error\n"
        "\n"
        "A header names the desired commit, the state database, the last run, whether\n"
        "reconciliation is suspended ('poolkeeper suspend') and, while a writer (apply,\n"
        "run) holds it, who holds the lock.\n"
        "\n"
        "status only reads. It does not observe storage (run 'poolkeeper plan' for a\n"
        "fresh observation), never creates, upgrades or locks the state database, and\n"
        "works while a run is applying. Without a state database it says 'no state\n"
        "yet' and lists the desired pools as never observed. When the desired state\n"
        "cannot be loaded (not configured, invalid, repository unreadable) it says so\n"
        "and still shows what the state database knows.\n"
        "\n"
        "Options:\n"
        "  --json              print a JSON object instead (\"format_version\": 1): state\n"
        "                      {path, exists, schema_version, locked_by}, desired {loaded,\n"
        "                      commit, ref, worktree, error}, last_run, suspended {since,\n"
        "                      reason} or null, and pools[] each\n"
        "                      with name, desired, desired_at, observed {status, ...},\n"
        "                      owned {how, since, run, identity, replaced} or null,\n"
        "                      drift[], last_action and volumes[] (the same fields)\n"
        "\n"
        "Exit status: 0 when the state could be shown (also with no state yet, or\n"
        "without the desired state); 1 when the configuration or the state database\n"
        "cannot be read (corrupt, another program's file, a newer schema).\n"
        "\n"
        "Examples:\n"
        "  poolkeeper status\n"
        "  poolkeeper status --state /var/lib/poolkeeper/state.db --json | jq '.pools[].name'\n",
    .run = run_status,
};

const pk_command pk_command_history = {
    .name = "history",
    .args = "[--limit N] [--json] [RUN]",
    .summary = "list past runs, or show one run's actions with their results and errors",
    .help =
        "Without RUN: the most recent runs (apply, run --once, each cycle of run), newest\n"
        "first: number, start and end time, result, desired commit, how many actions\n"
        "were done, failed, skipped or left unfinished, and the error that stopped the\n"
        "run as a whole, if any.\n"
        "\n"
        "With RUN (a run number, or 'last'): that run's desired commit and ref, pid,\n"
        "times, and every action it journalled in order: kind, object, the change\n"
        "(before -> after), result, the reason (desired file:line @commit, or 'removed\n"
        "from desired in COMMIT') and the error of a failed or skipped action.\n"
        "\n"
        "Results of a run: running (still applying, or its process has not been\n"
        "followed by another writer yet), ok, failed (an action or the cycle failed),\n"
        "interrupted (its process died; the next writer found it). Results of an\n"
        "action: done, failed, skipped (blocked by policy, or its dependency failed),\n"
        "unfinished (its intent was journalled but no result: the process stopped\n"
        "while applying it; the next run re-observes and converges), in progress\n"
        "(the same, while its run is still running).\n"
        "\n"
        "history only reads the state database; it never creates, upgrades or locks it.\n"
        "\n"
        "Options:\n"
        "  --limit N           list at most N runs (default 20; 0 = all)\n"
        "  --json              print a JSON object instead (\"format_version\": 1):\n"
        "                      {state, exists, runs[]} without RUN; {state, run,\n"
        "                      actions[]} with RUN. A run: id, result, commit, ref, pid,\n"
        "                      started, ended, actions {total, done, failed, skipped,\n"
        "                      unfinished}, error. An action: run, seq, kind, pool,\n"
        "                      volume, risk, before, after, reason, drift, state, error,\n"
        "                      started, ended. Times are UTC, ISO 8601\n"
        "\n"
        "Exit status: 0 on success (also when nothing has run yet); 1 when RUN does\n"
        "not exist or the state database cannot be read.\n"
        "\n"
        "Examples:\n"
        "  poolkeeper history\n"
        "  poolkeeper history last\n"
        "  poolkeeper history --json 12 | jq '.actions[] | select(.state == \"failed\")'\n",
    .run = run_history,
};
