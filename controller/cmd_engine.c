/* plan, apply, dumpxml, adopt: the commands that observe storage. */
#include "engine.h"
#include "progress.h"
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <signal.h>
#include <sys/stat.h>

static volatile int stop_requested;

static void on_stop_signal(int sig PK_UNUSED)
{
    stop_requested = 1;
}

static void catch_stop_signals(void)
{
    struct sigaction sa = { 0 };
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* `run --trigger` signals whoever holds the lock: never die of it. */
    signal(SIGUSR1, SIG_IGN);
}

static bool use_color(void)
{
    return isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
}

static int fail_report(pk_err *errs)
{
    pk_cli_report(errs);
    pk_err_free(errs);
    return 1;
}

static size_t count_error_notes(const pk_plan *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n_notes; i++) n += p->notes[i].error;
    return n;
}

/* ---- saved plans ---- */

static int write_plan_file(const char *path, const pk_plan *plan, const pk_engine *e, pk_err **err)
{
    if (!plan->commit)
        return pk_fail(err, "a plan of the work tree (--worktree) cannot be saved: it names no commit to check at apply");
    _cleanup_free_ char *body = pk_plan_format_json(plan, e->settings.state);
    _cleanup_free_ char *fp = pk_engine_fingerprint(plan, e->observed);
    pk_buf b = PK_BUF_INIT;
    pk_buf_add(&b, "{\"format_version\":1,\"kind\":\"poolkeeper-saved-plan\",\"commit\":");
    pk_buf_add_json_str(&b, plan->commit);
    pk_buf_add(&b, ",\"fingerprint\":");
    pk_buf_add_json_str(&b, fp);
    pk_buf_add(&b, ",\"plan\":");
    pk_buf_add(&b, body);
    pk_buf_add(&b, "}\n");
    _cleanup_free_ char *tmp = pk_asprintf("%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        pk_buf_free(&b);
        return pk_fail_errno(err, errno, "cannot write plan file '%s'", tmp);
    }
    bool ok = write(fd, b.s, b.len) == (ssize_t)b.len && fsync(fd) == 0;
    close(fd);
    pk_buf_free(&b);
    if (!ok || rename(tmp, path) < 0) {
        unlink(tmp);
        return pk_fail_errno(err, errno, "cannot write plan file '%s'", path);
    }
    return 0;
}

static int read_plan_file(const char *path, char **commit, char **fingerprint, pk_err **err)
{
    json_object *root = json_object_from_file(path);
    if (!root) return pk_fail(err, "cannot read saved plan '%s': %s", path, json_util_get_last_err());
    json_object *kind, *c, *f;
    int rc = 0;
    if (!json_object_object_get_ex(root, "kind", &kind) ||
        !pk_streq(json_object_get_string(kind), "poolkeeper-saved-plan") ||
        !json_object_object_get_ex(root, "commit", &c) || !json_object_object_get_ex(root, "fingerprint", &f))
        rc = pk_fail(err, "'%s' is not a plan saved by 'poolkeeper plan --out'", path);
    else {
        *commit = pk_strdup(json_object_get_string(c));
        *fingerprint = pk_strdup(json_object_get_string(f));
    }
    json_object_put(root);
    return rc;
}

/* ---- plan ---- */

static void show_observing_bar(size_t index, size_t n, const char *pool, void *opaque)
{
    _cleanup_free_ char *what = pool ? pk_asprintf("pool '%s'", pool) : NULL;
    pk_progress_update(opaque, index, n, what);
}

static int cmd_plan(const pk_cli_opts *opts, int argc, char **argv)
{
    static const struct option lo[] = {
        { "json", no_argument, NULL, 'j' },
        { "out", required_argument, NULL, 'o' },
        { "detailed-exitcode", no_argument, NULL, 'd' },
        { "allow-mass-delete", no_argument, NULL, 'm' },
        { NULL, 0, NULL, 0 },
    };
    bool json = false, detailed = false, mass = false;
    const char *out = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case 'o': out = optarg; break;
        case 'd': detailed = true; break;
        case 'm': mass = true; break;
        default: return 1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "poolkeeper: plan takes no arguments ('%s')\n", argv[optind]);
        return 1;
    }
    pk_err *errs = NULL;
    pk_engine e;
    if (pk_engine_open(&e, opts, PK_ENGINE_TRY_WRITE, &errs) < 0) {
        pk_engine_close(&e);
        return fail_report(errs);
    }
    e.settings.policy.allow_mass_delete = mass;
    pk_progress *bar = pk_progress_new("observing", opts->quiet);
    e.observe_progress = show_observing_bar;
    e.observe_opaque = bar;
    int orc = pk_engine_observe(&e, 0, &errs);
    pk_progress_free(bar);
    if (orc < 0) {
        pk_engine_close(&e);
        return fail_report(errs);
    }
    _cleanup_(pk_plan_freep) pk_plan *plan = pk_engine_plan(&e);
    _cleanup_free_ char *text = json ? pk_plan_format_json(plan, e.settings.state)
                                     : pk_plan_format_text(plan, e.settings.state, use_color());
    fputs(text, stdout);
    if (out && write_plan_file(out, plan, &e, &errs) < 0) {
        pk_engine_close(&e);
        return fail_report(errs);
    }
    if (out && !json) printf("\nSaved the plan to '%s': apply it with 'poolkeeper apply %s'.\n", out, out);
    int rc = count_error_notes(plan) ? 1 : 0;
    if (rc == 0 && detailed && (pk_plan_count_changes(plan) || pk_plan_count_blocked(plan))) rc = 2;
    pk_engine_close(&e);
    return rc;
}

/* ---- apply ---- */

typedef struct {
    const char *saved;          /* saved plan file, or NULL */
    const char *saved_commit, *saved_fp;
    bool yes, quiet, json, color;
    bool cancelled;
    pk_progress *observing;     /* progress of the observation, then of the apply */
    pk_progress *applying;
    size_t total, seen;
} apply_ctx;

static void show_observing(size_t index, size_t n, const char *pool, void *opaque)
{
    apply_ctx *c = opaque;
    show_observing_bar(index, n, pool, c->observing);
}

static void show_progress(const pk_action *a, size_t index PK_UNUSED, size_t total PK_UNUSED,
                          const pk_err *error, void *opaque)
{
    apply_ctx *c = opaque;
    c->seen++;
    const char *kind = pk_action_kind_to_string(a->kind);
    if (!c->quiet || error) {
        if (isatty(STDOUT_FILENO)) pk_progress_clear(c->applying);
        if (error) {
            _cleanup_free_ char *t = pk_err_str(error);
            printf("  %sFAILED%s %-12s %s%s%s: %s\n", c->color ? "\033[31m" : "", c->color ? "\033[0m" : "",
                   kind, a->pool, a->vol ? "/" : "", a->vol ? a->vol : "", t);
        } else if (!c->json) {
            printf("  done   %-12s %s%s%s\n", kind, a->pool, a->vol ? "/" : "", a->vol ? a->vol : "");
        }
        fflush(stdout);
    }
    _cleanup_free_ char *what = pk_asprintf("%s %s%s%s", kind, a->pool, a->vol ? "/" : "", a->vol ? a->vol : "");
    pk_progress_update(c->applying, c->seen, c->total, what);
}

static bool confirm(size_t n)
{
    printf("\nApply these %zu action%s? Only 'yes' is accepted: ", n, n == 1 ? "" : "s");
    fflush(stdout);
    char line[64];
    if (!fgets(line, sizeof line, stdin)) return false;
    line[strcspn(line, "\r\n")] = '\0';
    return pk_streq(line, "yes");
}

/* The cycle's review step: check a saved plan, show the plan, confirm. */
static int review_plan(pk_engine *e, const pk_plan *plan, void *opaque, pk_err **errs)
{
    apply_ctx *c = opaque;
    pk_progress_free(TAKE_PTR(c->observing));
    if (c->saved) {
        _cleanup_free_ char *fp = pk_engine_fingerprint(plan, e->observed);
        if (!pk_streq(c->saved_commit, plan->commit))
            return pk_fail(errs, "the saved plan '%s' is stale: it was made for desired commit %.7s, the desired state is now at %.7s; run 'poolkeeper plan' again",
                           c->saved, c->saved_commit, plan->commit ? plan->commit : "worktree");
        if (!pk_streq(c->saved_fp, fp))
            return pk_fail(errs, "the saved plan '%s' is stale: storage changed since it was made; run 'poolkeeper plan' again",
                           c->saved);
    }
    if (!c->quiet) {
        _cleanup_free_ char *text = c->json ? pk_plan_format_json(plan, e->settings.state)
                                            : pk_plan_format_text(plan, e->settings.state, c->color);
        fputs(text, stdout);
    }
    size_t changes = pk_plan_count_changes(plan);
    if (changes > 0 && !c->yes && !c->saved && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)) {
        if (!confirm(changes)) {
            printf("Apply cancelled; nothing was changed.\n");
            c->cancelled = true;
            return 0;
        }
    }
    if (changes > 0 && !c->quiet && !c->json) printf("\n");
    fflush(stdout);
    c->total = changes;
    c->applying = pk_progress_new("applying", c->quiet);
    return 1;
}

/* Plan and apply in one locked session. `saved` = a saved plan file to check. */
static int apply_session(const pk_cli_opts *opts, const char *saved, bool yes, bool mass, bool quiet,
                         bool json)
{
    pk_err *errs = NULL;
    pk_engine e;
    _cleanup_free_ char *saved_commit = NULL;
    _cleanup_free_ char *saved_fp = NULL;
    if (saved && read_plan_file(saved, &saved_commit, &saved_fp, &errs) < 0) return fail_report(errs);
    if (pk_engine_open(&e, opts, PK_ENGINE_WRITE, &errs) < 0) {
        pk_engine_close(&e);
        return fail_report(errs);
    }
    e.settings.policy.allow_mass_delete = mass;
    catch_stop_signals();
    int64_t run = 0;
    if (pk_store_run_begin(e.store, e.desired->commit, e.desired->ref, &run, &errs) < 0) {
        pk_engine_close(&e);
        return fail_report(errs);
    }
    _cleanup_free_ char *run_text = pk_asprintf("%lld", (long long)run);
    pk_log_set_run(run_text);
    apply_ctx c = {
        .saved = saved, .saved_commit = saved_commit, .saved_fp = saved_fp,
        .yes = yes, .quiet = quiet, .json = json, .color = use_color(),
        .observing = pk_progress_new("observing", quiet),
    };
    e.observe_progress = show_observing;
    e.observe_opaque = &c;
    pk_cycle_hooks hooks = {
        .review = review_plan,
        .progress = show_progress,
        .opaque = &c,
        .stop = &stop_requested,
    };
    pk_cycle_report r;
    int rc = pk_engine_cycle(&e, run, &hooks, &r, NULL, &errs) < 0 ? 1 : 0;
    pk_progress_free(TAKE_PTR(c.observing));
    pk_progress_free(TAKE_PTR(c.applying));
    if (r.applied && !quiet && !json)
        printf("\nApply %s: %zu done, %zu failed, %zu skipped, %zu blocked.\n",
               stop_requested ? "interrupted" : "complete", r.stats.done, r.stats.failed, r.stats.skipped,
               r.stats.blocked);
    fflush(stdout);
    if (rc) pk_engine_event_failed(&e, run, errs ? errs : r.notes);
    /* Exit 0 says the storage is as planned: an interrupted apply is not. */
    if (r.interrupted)
        pk_fail(&errs, "apply interrupted: %zu of %zu actions did not run; the next apply or run does what is still needed",
                r.changes - r.stats.done - r.stats.failed - r.stats.skipped, r.changes);
    /* Action failures were shown as they happened, planning errors in the
     * plan; store errors were not. */
    pk_err *shown = NULL;
    for (pk_err *x = errs; x;) {
        pk_err *next = x->next;
        x->next = NULL;
        if (!pk_str_has_prefix(x->msg, "vol.") && !pk_str_has_prefix(x->msg, "pool.") &&
            !pk_str_has_prefix(x->msg, "adopt"))
            pk_err_append(&shown, x);
        else
            pk_err_free(x);
        x = next;
    }
    errs = shown;
    pk_run_result result = stop_requested ? PK_RUN_INTERRUPTED : rc ? PK_RUN_FAILED : PK_RUN_OK;
    _cleanup_free_ char *why = errs ? pk_err_str(errs) : r.notes ? pk_err_str(r.notes) : NULL;
    pk_err *eerr = NULL;
    if (pk_store_run_end(e.store, run, result, why, &eerr) < 0) {
        pk_err_append(&errs, eerr);
        rc = 1;
    }
    pk_cycle_report_clear(&r);
    pk_log_set_run(NULL);
    pk_engine_close(&e);
    if (errs) {
        pk_cli_report(errs);
        pk_err_free(errs);
        rc = 1;
    }
    return rc;
}

static int cmd_apply(const pk_cli_opts *opts, int argc, char **argv)
{
    static const struct option lo[] = {
        { "yes", no_argument, NULL, 'y' },
        { "auto-approve", no_argument, NULL, 'y' },
        { "allow-mass-delete", no_argument, NULL, 'm' },
        { "json", no_argument, NULL, 'j' },
        { NULL, 0, NULL, 0 },
    };
    bool yes = false, mass = false, json = false;
    int c;
    while ((c = getopt_long(argc, argv, "y", lo, NULL)) != -1) {
        switch (c) {
        case 'y': yes = true; break;
        case 'm': mass = true; break;
        case 'j': json = true; break;
        default: return 1;
        }
    }
    if (argc - optind > 1) {
        fprintf(stderr, "poolkeeper: apply takes at most one PLANFILE\n");
        return 1;
    }
    return apply_session(opts, optind < argc ? argv[optind] : NULL, yes, mass, opts->quiet, json);
}

/* ---- dumpxml ---- */

static int cmd_dumpxml(const pk_cli_opts *opts, int argc, char **argv)
{
    optind = 1;
    int c;
    while ((c = getopt(argc, argv, "")) != -1) return 1;
    int nargs = argc - optind;
    bool pool = nargs == 2 && pk_streq(argv[optind], "pool");
    bool vol = nargs == 3 && pk_streq(argv[optind], "vol");
    if (!pool && !vol) {
        fprintf(stderr, "Usage: poolkeeper dumpxml pool NAME | dumpxml vol POOL NAME\n");
        return 1;
    }
    const char *pname = argv[optind + 1];
    pk_err *errs = NULL;
    pk_engine e;
    if (pk_engine_open(&e, opts, 0, &errs) < 0) {
        pk_engine_close(&e);
        return fail_report(errs);
    }
    int rc = 1;
    const pk_desired_pool *dp = pk_desired_find_pool(e.desired, pname);
    if (!dp) {
        fprintf(stderr, "poolkeeper: no pool '%s' in the desired state\n", pname);
        goto out;
    }
    pk_obs_pool op = { 0 };
    pk_backend_observe(&e.bctx, dp->pool, &op);
    if (op.error) {
        pk_cli_report(op.error);
    } else if (pool) {
        _cleanup_free_ char *x = pk_dumpxml_pool(dp->pool, &op);
        fputs(x, stdout);
        rc = 0;
    } else {
        const pk_obs_vol *ov = pk_obs_pool_find_vol(&op, argv[optind + 2]);
        if (!ov) {
            fprintf(stderr, "poolkeeper: no volume '%s' in pool '%s'\n", argv[optind + 2], pname);
        } else {
            _cleanup_free_ char *x = pk_dumpxml_vol(dp->pool, ov);
            fputs(x, stdout);
            rc = 0;
        }
    }
    pk_obs_pool_clear(&op);
out:
    pk_engine_close(&e);
    return rc;
}

/* ---- adopt ---- */

static int cmd_adopt(const pk_cli_opts *opts, int argc, char **argv)
{
    static const struct option lo[] = {
        { "force", no_argument, NULL, 'f' },
        { NULL, 0, NULL, 0 },
    };
    bool force = false;
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (c == 'f') force = true;
        else return 1;
    }
    int nargs = argc - optind;
    bool pool = nargs == 2 && pk_streq(argv[optind], "pool");
    bool vol = nargs == 3 && pk_streq(argv[optind], "vol");
    if (!pool && !vol) {
        fprintf(stderr, "Usage: poolkeeper adopt pool NAME | adopt vol POOL NAME\n");
        return 1;
    }
    const char *pname = argv[optind + 1];
    const char *vname = vol ? argv[optind + 2] : NULL;
    pk_err *errs = NULL;
    pk_engine e;
    if (pk_engine_open(&e, opts, PK_ENGINE_WRITE, &errs) < 0 || pk_engine_observe(&e, 0, &errs) < 0) {
        pk_engine_close(&e);
        return fail_report(errs);
    }
    int rc = 1;
    const pk_desired_pool *dp = pk_desired_find_pool(e.desired, pname);
    const pk_obs_pool *op = pk_observed_find_pool(e.observed, pname);
    const pk_vol *dv = dp && vname ? pk_desired_find_vol(dp, vname) : NULL;
    const pk_obs_vol *ov = op && vname ? pk_obs_pool_find_vol(op, vname) : NULL;
    if (!dp) {
        pk_fail(&errs, "no pool '%s' in the desired state: only desired storage can be adopted", pname);
    } else if (op->error) {
        pk_err_append(&errs, TAKE_PTR(((pk_obs_pool *)op)->error));
    } else if (pool && op->state == PK_POOL_ABSENT) {
        pk_fail(&errs, "pool '%s' does not exist: nothing to adopt", pname);
    } else if (vol && !dv) {
        pk_fail(&errs, "no volume '%s/%s' in the desired state: only desired storage can be adopted", pname, vname);
    } else if (vol && !ov) {
        pk_fail(&errs, "volume '%s/%s' does not exist: nothing to adopt", pname, vname);
    } else if (vol && pk_ownership_find(&e.owned, pname, vname)) {
        printf("Volume '%s/%s' is already owned.\n", pname, vname);
        rc = 0;
    } else if (vol && !force && dv->target.format >= 0 && ov->format >= 0 && dv->target.format != ov->format) {
        pk_fail(&errs, "volume '%s/%s' is %s but the desired state says %s; fix the XML or use --force",
                pname, vname, pk_vol_format_to_string(dp->pool->type, ov->format),
                pk_vol_format_to_string(dp->pool->type, dv->target.format));
    } else {
        const char *id = vol ? ov->identity : op->identity;
        const char *key = vol ? ov->key : dp->pool->target_path;
        if (pk_store_own_take(e.store, pname, vname, id, key, PK_OWN_ADOPTED, 0, &errs) == 0) {
            printf("Adopted %s '%s%s%s'.\n", vol ? "volume" : "pool", pname, vol ? "/" : "", vol ? vname : "");
            rc = 0;
        }
    }
    pk_engine_close(&e);
    if (errs) return fail_report(errs);
    return rc;
}

const pk_command pk_command_plan = {
    "plan", "[--json] [--out PLANFILE] [--detailed-exitcode] [--allow-mass-delete]",
    "observe storage and print what apply would change",
    "Loads the desired state (a commit of the desired repository, or --worktree),\n"
    "observes every desired pool and its volumes, records the observation in the\n"
    "state database (unless another process holds its lock) and prints the plan.\n"
    "Nothing is changed.\n"
    "\n"
    "  + create   ~ change   - delete   ! blocked by policy (with the reason)\n"
    "\n"
    "Options:\n"
    "  --json               the plan as JSON (\"format_version\": 1; see README)\n"
    "  --out PLANFILE       also save the plan; 'poolkeeper apply PLANFILE' applies\n"
    "                       exactly it, and refuses if the desired commit or the\n"
    "                       storage it touches changed meanwhile\n"
    "  --detailed-exitcode  exit 2 when there are changes or blocked actions\n"
    "  --allow-mass-delete  lift the max_delete_percent guard for this plan\n"
    "\n"
    "Exit status: 0 no error (with --detailed-exitcode: no changes); 1 error\n"
    "(invalid desired state, a pool that cannot be observed); 2 changes present\n"
    "(--detailed-exitcode only).\n",
    cmd_plan,
};

const pk_command pk_command_apply = {
    "apply", "[--yes] [--allow-mass-delete] [--json] [PLANFILE]",
    "plan and apply, or apply a saved plan",
    "Takes the state database's writer lock, observes, plans, shows the plan, asks\n"
    "for confirmation when run on a terminal (type 'yes'; --yes skips it) and\n"
    "applies the actions that policy allows. Each action's intent is journaled\n"
    "before it runs and its result after; an apply cut off half way is settled\n"
    "by the next run. One failed action skips only the actions that depend on it.\n"
    "\n"
    "With PLANFILE (from 'plan --out'), applies that plan after checking that the\n"
    "desired commit and the storage it touches are still what it was made from.\n"
    "\n"
    "Options:\n"
    "  -y, --yes, --auto-approve   do not ask\n"
    "  --allow-mass-delete         lift the max_delete_percent guard for this run\n"
    "  --json                      print the plan as JSON before applying\n"
    "\n"
    "On a terminal, a progress line on standard error follows the observation\n"
    "and the actions (not with -q, nor when standard error is not a terminal).\n"
    "SIGINT or SIGTERM lets the action in progress finish and stops there; the\n"
    "run is recorded as interrupted and the next apply or run finishes it.\n"
    "\n"
    "Exit status: 0 when every allowed action succeeded (blocked ones are\n"
    "reported, not errors); 1 on any failure, an invalid desired state, a pool\n"
    "that could not be observed, an interrupted apply, or when another process\n"
    "holds the lock (for instance a running 'poolkeeper run').\n",
    cmd_apply,
};

const pk_command pk_command_dumpxml = {
    "dumpxml", "pool NAME | vol POOL NAME",
    "print the observed state of a pool or volume as libvirt XML",
    "Observes the pool (and the volume) now and prints it as libvirt's\n"
    "pool-dumpxml / vol-dumpxml would: live capacity, allocation and available;\n"
    "for volumes key = path, physical size, format, permissions, timestamps and\n"
    "backing store. Only pools of the desired state can be shown.\n"
    "\n"
    "Exit status: 0 on success, 1 when the object is unknown or cannot be observed.\n",
    cmd_dumpxml,
};

const pk_command pk_command_adopt = {
    "adopt", "[--force] pool NAME | vol POOL NAME",
    "take ownership of existing storage that matches the desired state",
    "poolkeeper changes and deletes only storage it owns: what it created, or\n"
    "what was adopted with this command. The object must be in the desired\n"
    "state and exist; a volume's format must match the desired XML (--force\n"
    "adopts anyway). Its identity (device and inode for files) is recorded, so a\n"
    "file replaced later is not treated as owned.\n"
    "\n"
    "Exit status: 0 adopted (or already owned); 1 otherwise.\n",
    cmd_adopt,
};
