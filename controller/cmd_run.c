/* run, suspend, resume: the reconciliation service and its switches; and
 * __complete, the names the bash completion asks for. */
#include "engine.h"
#include "service.h"
#include <getopt.h>

static int fail_report(pk_err *errs)
{
    pk_cli_report(errs);
    pk_err_free(errs);
    return 1;
}

/* ---- run ---- */

static int cmd_run(const pk_cli_opts *opts, int argc, char **argv)
{
    static const struct option lo[] = {
        { "once", no_argument, NULL, 'o' },
        { "trigger", no_argument, NULL, 't' },
        { "allow-mass-delete", no_argument, NULL, 'm' },
        { NULL, 0, NULL, 0 },
    };
    bool once = false, trigger = false, mass = false;
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'o': once = true; break;
        case 't': trigger = true; break;
        case 'm': mass = true; break;
        default: return 1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "poolkeeper: run takes no arguments ('%s')\n", argv[optind]);
        return 1;
    }
    if (trigger && (once || mass)) {
        fprintf(stderr, "poolkeeper: run --trigger takes no other option\n");
        return 1;
    }
    if (trigger) {
        pk_settings s;
        pk_err *errs = NULL;
        if (pk_settings_load(opts, &s, &errs) < 0) return fail_report(errs);
        int pid = 0;
        int rc = pk_service_trigger(s.state, &pid, &errs);
        if (rc == 0 && !opts->quiet) printf("Asked the service (pid %d) for a cycle now.\n", pid);
        pk_settings_clear(&s);
        return rc < 0 ? fail_report(errs) : 0;
    }
    pk_service_opts so = { .cli = opts, .once = once, .allow_mass_delete = mass };
    return pk_service_run(&so);
}

/* ---- suspend / resume ---- */

static int set_suspended(const pk_cli_opts *opts, bool on, const char *reason)
{
    pk_settings s;
    pk_err *errs = NULL;
    if (pk_settings_load(opts, &s, &errs) < 0) return fail_report(errs);
    pk_store *st = NULL;
    int rc = 1;
    bool was = false;
    int64_t since = 0;
    _cleanup_free_ char *old_reason = NULL;
    if (pk_store_open(s.state, PK_STORE_WRITE, &st, &errs) < 0 ||
        pk_store_suspended(st, &was, &since, &old_reason, &errs) < 0)
        goto out;
    if (was == on) {
        _cleanup_free_ char *when = pk_format_time(since);
        if (on)
            printf("Reconciliation with state database '%s' is already suspended (since %s: %s).\n", s.state,
                   when, old_reason ? old_reason : "no reason given");
        else
            printf("Reconciliation with state database '%s' is not suspended.\n", s.state);
        rc = 0;
        goto out;
    }
    if (pk_store_suspend_set(st, on, on ? reason : NULL, &errs) < 0) goto out;
    rc = 0;
    if (on) {
        printf("Suspended reconciliation with state database '%s': 'poolkeeper run' keeps observing\n"
               "and reporting drift, but changes nothing until 'poolkeeper resume'.\n", s.state);
        goto out;
    }
    printf("Resumed reconciliation with state database '%s'.\n", s.state);
    /* A running service need not wait for its next cycle. */
    int pid = 0;
    pk_err *terr = NULL;
    if (pk_service_trigger(s.state, &pid, &terr) == 0)
        printf("Asked the service (pid %d) for a cycle now.\n", pid);
    pk_err_free(terr);
out:
    pk_store_close(st);
    pk_settings_clear(&s);
    if (errs) return fail_report(errs);
    return rc;
}

static int cmd_suspend(const pk_cli_opts *opts, int argc, char **argv)
{
    static const struct option lo[] = {
        { "reason", required_argument, NULL, 'r' },
        { NULL, 0, NULL, 0 },
    };
    const char *reason = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        if (c == 'r') reason = optarg;
        else return 1;
    }
    if (optind < argc) {
        fprintf(stderr, "poolkeeper: suspend takes no arguments ('%s'); a reason goes in --reason\n", argv[optind]);
        return 1;
    }
    return set_suspended(opts, true, reason);
}

static int cmd_resume(const pk_cli_opts *opts, int argc, char **argv)
{
    int c;
    while ((c = getopt(argc, argv, "")) != -1) return 1;
    if (optind < argc) {
        fprintf(stderr, "poolkeeper: resume takes no arguments ('%s')\n", argv[optind]);
        return 1;
    }
    return set_suspended(opts, false, NULL);
}

/* ---- __complete ---- */

/* Pool (pool == NULL) or volume names, from the desired state when it is
 * a local repository; from the state database's last observation when it
 * is a remote, since completing a word must not wait for the network. */
static int complete_names(const pk_cli_opts *opts, const char *pool)
{
    pk_settings s;
    pk_err *errs = NULL;
    int rc = 1;
    if (pk_settings_load(opts, &s, &errs) < 0) goto out;
    if (!s.desired_remote) {
        pk_engine e = { 0 };
        e.settings = s;
        if (pk_engine_load(&e, &errs) == 0) {
            const pk_desired *d = e.desired;
            const pk_desired_pool *dp = pool ? pk_desired_find_pool(d, pool) : NULL;
            for (size_t i = 0; !pool && i < d->n_pools; i++) printf("%s\n", d->pools[i].pool->name);
            for (size_t i = 0; dp && i < dp->n_vols; i++) printf("%s\n", dp->vols[i]->name);
            rc = 0;
        }
        pk_desired_free(e.desired);
    } else {
        pk_store *st = NULL;
        pk_observed *o = NULL;
        if (pk_store_open(s.state, PK_STORE_READ, &st, &errs) == 0 && pk_store_observed_load(st, &o, &errs) == 0) {
            const pk_obs_pool *op = pool && o ? pk_observed_find_pool(o, pool) : NULL;
            for (size_t i = 0; !pool && o && i < o->n_pools; i++) printf("%s\n", o->pools[i].name);
            for (size_t i = 0; op && i < op->n_vols; i++) printf("%s\n", op->vols[i].name);
            rc = 0;
        }
        pk_observed_free(o);
        pk_store_close(st);
    }
    pk_settings_clear(&s);
out:
    pk_err_free(errs);   /* a completion has nowhere to show errors */
    return rc;
}

static int cmd_complete(const pk_cli_opts *opts, int argc, char **argv)
{
    pk_log_setup(PK_LOG_ERROR + 1, PK_LOG_TEXT);   /* not even errors: the terminal is the user's */
    const char *what = argc > 1 ? argv[1] : "";
    if (pk_streq(what, "commands")) {
        static const char *const names[] = { "validate", "format", "plan", "apply", "run", "suspend", "resume",
                                             "status", "history", "dumpxml", "adopt", "config", "help" };
        for (size_t i = 0; i < PK_NELEM(names); i++) printf("%s\n", names[i]);
        return 0;
    }
    if (pk_streq(what, "pools") && argc == 2) return complete_names(opts, NULL);
    if (pk_streq(what, "vols") && argc == 3) return complete_names(opts, argv[2]);
    fprintf(stderr, "Usage: poolkeeper __complete commands | pools | vols POOL\n");
    return 1;
}

const pk_command pk_command_run = {
    "run", "[--once] [--allow-mass-delete] | --trigger",
    "the reconciliation service: fetch, load, observe, plan, apply, record, notify",
    "Runs until stopped, one reconciliation cycle every 'interval' (config file;\n"
    "default 5m), give or take 'jitter'. A cycle fetches desired.remote (or reads\n"
    "desired.path), loads and checks the desired state, observes the storage,\n"
    "records it, plans, applies the actions policy allows, records the run and\n"
    "sends its events to the webhooks ('notify'). A desired state that does not\n"
    "load changes nothing: the run is recorded as failed and notified, and the\n"
    "storage stays as the last good commit left it. After a failed cycle the\n"
    "next one comes after 'retry_interval', doubling up to 'interval'. Changes\n"
    "made to storage outside poolkeeper (drift) are corrected, or only reported\n"
    "under 'policy.drift: report'. While suspended ('poolkeeper suspend') cycles\n"
    "observe and report but change nothing.\n"
    "\n"
    "The service holds the state database's writer lock while it runs, so\n"
    "'apply' and a second 'run' are refused meanwhile; 'plan', 'status' and\n"
    "'history' work. With metrics.listen set it serves /metrics (Prometheus)\n"
    "and /healthz (503 after metrics.healthz_failures failed cycles in a row).\n"
    "\n"
    "Signals:\n"
    "  SIGUSR1          start a cycle now (what 'run --trigger' sends)\n"
    "  SIGHUP           reload the configuration; an invalid one is refused and\n"
    "                   the running one kept\n"
    "  SIGTERM, SIGINT  finish the action in progress, record the run as\n"
    "                   interrupted, exit 0 (the next start resumes)\n"
    "\n"
    "Options:\n"
    "  --once               one cycle, then exit (for cron or the systemd timer in\n"
    "                       contrib/); its events are sent before exiting, waiting\n"
    "                       at most 15 s for the webhooks\n"
    "  --trigger            ask the service running on this state database for a\n"
    "                       cycle now, and exit\n"
    "  --allow-mass-delete  lift the max_delete_percent guard\n"
    "\n"
    "Exit status: 0 when stopped by a signal, or when a --once cycle succeeded\n"
    "(blocked actions are reported, not errors); 1 when the service cannot start\n"
    "(invalid configuration, lock held by another process, metrics port in use)\n"
    "or a --once cycle failed.\n",
    cmd_run,
};

const pk_command pk_command_suspend = {
    "suspend", "[--reason TEXT]",
    "pause changes by 'poolkeeper run': it keeps observing and reporting drift",
    "Records in the state database that reconciliation is suspended, with an\n"
    "optional reason (shown in the service's log and sent to the webhooks as a\n"
    "'suspended' event). From its next cycle on, 'poolkeeper run' (and 'run\n"
    "--once') still observes, records and reports drift and blocked actions,\n"
    "but applies nothing. A cycle already applying finishes. 'poolkeeper apply'\n"
    "by hand is not affected. Undo with 'poolkeeper resume'.\n"
    "\n"
    "Exit status: 0 suspended (or already suspended); 1 on error.\n",
    cmd_suspend,
};

const pk_command pk_command_resume = {
    "resume", "",
    "end a suspension: 'poolkeeper run' applies changes again",
    "Records that reconciliation is no longer suspended and, when a service is\n"
    "running on the state database, asks it for a cycle now.\n"
    "\n"
    "Exit status: 0 resumed (or not suspended); 1 on error.\n",
    cmd_resume,
};

const pk_command pk_command_complete = {
    "__complete", "commands | pools | vols POOL",
    "names for the shell completion (contrib/poolkeeper.bash-completion)",
    "Prints one name a line: the commands, the desired pools, or the desired\n"
    "volumes of POOL. Names come from the desired repository when it is local,\n"
    "from the state database's last observation when desired.remote is used\n"
    "(completion never waits for the network). Prints nothing on errors.\n",
    cmd_complete,
};
