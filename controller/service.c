/* The reconciliation loop: schedule, signals, reload, and what each cycle
 * records and tells (run rows, events, metrics, log lines). */
#include "service.h"
#include "engine.h"
#include "metrics.h"
#include "notify.h"
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>

/* --once waits this long for its events to reach the webhooks. */
#define ONCE_FLUSH_MS 15000

int64_t pk_service_delay_ms(int64_t interval_ms, int jitter_percent, int64_t retry_interval_ms,
                            int failures, double u)
{
    int64_t base = interval_ms;
    if (failures > 0) {
        base = retry_interval_ms;
        for (int i = 1; i < failures && base < interval_ms; i++) base *= 2;
        if (base > interval_ms) base = interval_ms;
    }
    double j = (double)jitter_percent / 100.0 * (2.0 * u - 1.0);
    int64_t d = (int64_t)((double)base * (1.0 + j));
    return d < 0 ? 0 : d;
}

/* ---- signals ---- */

static volatile int stop_flag;          /* read by pk_apply between actions */
static volatile sig_atomic_t reload_flag, trigger_flag;
static int wake_pipe[2] = { -1, -1 };

static void on_signal(int sig)
{
    int saved = errno;
    if (sig == SIGTERM || sig == SIGINT) stop_flag = 1;
    else if (sig == SIGHUP) reload_flag = 1;
    else if (sig == SIGUSR1) trigger_flag = 1;
    if (wake_pipe[1] >= 0 && write(wake_pipe[1], "s", 1) < 0) { /* full: a wake-up is pending anyway */ }
    errno = saved;
}

static int setup_signals(pk_err **err)
{
    if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return pk_fail_errno(err, errno, "cannot create the service's wake-up pipe");
    struct sigaction sa = { 0 };
    sa.sa_handler = on_signal;
    /* Restarting keeps libraries (SQLite, libgit2, libcurl) clear of EINTR;
     * poll() in the wait is woken through the pipe. */
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1 };
    for (size_t i = 0; i < PK_NELEM(sigs); i++) sigaction(sigs[i], &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static void teardown_signals(void)
{
    int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1 };
    for (size_t i = 0; i < PK_NELEM(sigs); i++) signal(sigs[i], SIG_DFL);
    for (int i = 0; i < 2; i++) {
        if (wake_pipe[i] >= 0) close(wake_pipe[i]);
        wake_pipe[i] = -1;
    }
}

static void drain_wake_pipe(void)
{
    char buf[64];
    while (read(wake_pipe[0], buf, sizeof(buf)) > 0) {}
}

/* ---- the service ---- */

typedef struct service {
    const pk_service_opts *o;
    pk_engine e;              /* settings and store live as long as the service */
    pk_metrics *metrics;
    pk_metrics_server *server;
    pk_notifier *notifier;
    char host[256];
    int failures;             /* failed cycles in a row */
    char *last_failure;       /* text of the last "failed" event sent */
    uint64_t blocked_reported;
    int64_t queued_upto;      /* highest event id handed to the notifier */
    uint64_t rng;
} service;

static double uniform(service *sv)
{
    /* xorshift64*: jitter needs spread, not secrecy */
    sv->rng ^= sv->rng >> 12;
    sv->rng ^= sv->rng << 25;
    sv->rng ^= sv->rng >> 27;
    return (double)((sv->rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

/* Errors are logged one per line, with any URL password removed. */
static void log_errors(pk_log_level lvl, const char *prefix, const pk_err *errs)
{
    for (const pk_err *x = errs; x; x = x->next) {
        _cleanup_free_ char *t = pk_err_str(x);
        _cleanup_free_ char *clean = pk_notify_redact(t);
        pk_log(lvl, NULL, NULL, "%s%s", prefix, clean);
    }
}

static int start_notifier(service *sv, const pk_settings *s, pk_notifier **ret, pk_err **err)
{
    *ret = NULL;
    if (s->n_notify == 0) return 0;
    pk_notify_limits lim;
    pk_notify_limits_default(&lim);
    /* Tests only: receivers that hang or fail, without waiting for minutes. */
    const char *t = getenv("PK_TEST_NOTIFY_TIMEOUT_MS"), *b = getenv("PK_TEST_NOTIFY_BACKOFF_MS");
    if (t) lim.timeout_ms = lim.connect_timeout_ms = atoll(t);
    if (b) lim.backoff_ms = atoll(b);
    return pk_notifier_start(ret, s->notify, s->n_notify, &lim, sv->host, wake_pipe[1], err);
}

/* Mark what the notifier finished as delivered. */
static void mark_delivered(service *sv)
{
    pk_err *err = NULL;
    int64_t *ids = NULL;
    size_t n = pk_notifier_take_done(sv->notifier, &ids);
    for (size_t i = 0; i < n && !err; i++) pk_store_event_delivered(sv->e.store, ids[i], &err);
    free(ids);
    if (err) {
        log_errors(PK_LOG_WARN, "", err);
        pk_err_free(err);
    }
}

/* Stop the notifier, keeping what it finished. Events it did not finish
 * stay pending in the store, for the next notifier or the next start. */
static void stop_notifier(service *sv)
{
    mark_delivered(sv);
    pk_notifier_stop(sv->notifier);
    sv->notifier = NULL;
    sv->queued_upto = 0;
}

/* Mark what the notifier finished as delivered, and queue what is new.
 * Without any webhook, events are delivered by definition. */
static void pump_events(service *sv)
{
    mark_delivered(sv);
    pk_store *st = sv->e.store;
    pk_err *err = NULL;
    pk_event *ev = NULL;
    size_t n_ev = 0;
    bool targets = sv->e.settings.n_notify > 0;
    if (pk_store_events_list(st, sv->queued_upto, 0, true, &ev, &n_ev, &err) == 0) {
        if (targets) pk_notifier_push(sv->notifier, ev, n_ev);
        for (size_t i = 0; i < n_ev; i++) {
            if (!targets && !err) pk_store_event_delivered(st, ev[i].id, &err);
            if (ev[i].id > sv->queued_upto) sv->queued_upto = ev[i].id;
        }
        pk_events_free(ev, n_ev);
    }
    if (err) {
        log_errors(PK_LOG_WARN, "", err);
        pk_err_free(err);
    }
    pk_notify_stats ns;
    pk_notifier_stats(sv->notifier, &ns);
    pk_metrics_notify(sv->metrics, &ns);
}

static void event(service *sv, const char *kind, int64_t run, const char *message)
{
    pk_err *err = NULL;
    if (pk_store_event_append(sv->e.store, kind, run, NULL, NULL, message, NULL, NULL, &err) < 0) {
        log_errors(PK_LOG_WARN, "", err);
        pk_err_free(err);
    }
}

static void log_action(const pk_action *a, size_t index PK_UNUSED, size_t total PK_UNUSED,
                       const pk_err *error, void *opaque PK_UNUSED)
{
    if (error) return;   /* pk_apply logs failures itself */
    _cleanup_free_ char *obj = a->vol ? pk_asprintf("%s/%s", a->pool, a->vol) : pk_strdup(a->pool);
    if (a->after)
        pk_log(PK_LOG_INFO, obj, pk_action_kind_to_string(a->kind), "done: %s", a->after);
    else
        pk_log(PK_LOG_INFO, obj, pk_action_kind_to_string(a->kind), "done");
}

/* One cycle; returns its result. */
static pk_run_result cycle(service *sv)
{
    pk_engine *e = &sv->e;
    int64_t t0 = pk_monotonic_ms();
    pk_err *errs = NULL;
    pk_cycle_report r = { 0 };
    bool planned = false;
    bool suspended = false;
    int64_t since = 0;
    _cleanup_free_ char *reason = NULL;
    if (pk_store_suspended(e->store, &suspended, &since, &reason, &errs) < 0) {
        log_errors(PK_LOG_ERROR, "", errs);
        pk_err_free(errs);
        pk_metrics_cycle(sv->metrics, PK_RUN_FAILED, (double)(pk_monotonic_ms() - t0) / 1000, NULL, pk_now_ms());
        return PK_RUN_FAILED;
    }
    pk_metrics_suspended(sv->metrics, suspended);

    int64_t run = 0;
    if (pk_store_run_begin(e->store, NULL, NULL, &run, &errs) < 0) {
        log_errors(PK_LOG_ERROR, "", errs);
        pk_err_free(errs);
        pk_metrics_cycle(sv->metrics, PK_RUN_FAILED, (double)(pk_monotonic_ms() - t0) / 1000, NULL, pk_now_ms());
        return PK_RUN_FAILED;
    }
    _cleanup_free_ char *run_text = pk_asprintf("%lld", (long long)run);
    pk_log_set_run(run_text);
    if (suspended) {
        _cleanup_free_ char *when = pk_format_time(since);
        pk_log(PK_LOG_INFO, NULL, NULL, "suspended since %s (%s): observing only, applying nothing",
               when, reason ? reason : "no reason given");
    }

    int rc = 0;
    bool fetch_warning = false;
    char sb[16];
    if (pk_engine_load(e, &errs) < 0) {
        rc = -1;
    } else {
        fetch_warning = e->desired->warnings != NULL;
        pk_metrics_desired(sv->metrics, e->desired->commit);
        pk_log(PK_LOG_DEBUG, NULL, NULL, "desired state %s (%s): %zu pools, loaded in %lld ms",
               pk_desired_short(e->desired, sb), e->desired->ref, e->desired->n_pools, (long long)e->ms_load);
        if (pk_store_run_set_desired(e->store, run, e->desired->commit, e->desired->ref, &errs) < 0) {
            rc = -1;
        } else {
            pk_cycle_hooks h = {
                .progress = log_action,
                .stop = &stop_flag,
                .suspended = suspended,
                .blocked_reported = sv->blocked_reported,
            };
            rc = pk_engine_cycle(e, run, &h, &r, NULL, &errs);
            planned = true;
            sv->blocked_reported = r.blocked_digest;
            pk_err_append(&errs, TAKE_PTR(r.notes));
        }
        /* The commit fetched before was applied, but the branch is not
         * followed: that is a failure to retry and to be told about. */
        for (const pk_err *w = e->desired ? e->desired->warnings : NULL; fetch_warning && w; w = w->next)
            pk_err_append(&errs, pk_err_new(NULL, 0, 0, "%s", w->msg));
        if (fetch_warning) rc = -1;
    }

    pk_run_result result = stop_flag && (!planned || r.interrupted) ? PK_RUN_INTERRUPTED
                           : rc < 0                                  ? PK_RUN_FAILED
                                                                     : PK_RUN_OK;
    _cleanup_free_ char *first = errs ? pk_err_str(errs) : NULL;
    _cleanup_free_ char *why = first ? pk_notify_redact(first) : NULL;
    if (result == PK_RUN_FAILED) {
        log_errors(PK_LOG_ERROR, "", errs);
        /* The same failure again (a bad commit, a dead pool) is logged each
         * time, but told to the webhooks once. */
        if (!pk_streq(why, sv->last_failure)) {
            pk_engine_event_failed(e, run, errs);
            free(sv->last_failure);
            sv->last_failure = pk_strdup(why);
        }
    } else if (result == PK_RUN_OK && sv->failures > 0) {
        _cleanup_free_ char *msg = pk_asprintf("reconciliation recovered after %d failed cycles", sv->failures);
        pk_log(PK_LOG_INFO, NULL, NULL, "%s", msg);
        event(sv, "recovered", run, msg);
        free(sv->last_failure);
        sv->last_failure = NULL;
    }
    pk_err *eerr = NULL;
    if (pk_store_run_end(e->store, run, result, why, &eerr) < 0) {
        log_errors(PK_LOG_ERROR, "", eerr);
        pk_err_free(eerr);
        if (result == PK_RUN_OK) result = PK_RUN_FAILED;
    }
    int64_t ms = pk_monotonic_ms() - t0;
    pk_metrics_cycle(sv->metrics, result, (double)ms / 1000, planned ? &r : NULL, pk_now_ms());
    if (result == PK_RUN_FAILED) sv->failures++;
    else if (result == PK_RUN_OK) sv->failures = 0;

    const char *commit = e->desired ? pk_desired_short(e->desired, sb) : "none";
    pk_log(result == PK_RUN_OK ? PK_LOG_INFO : PK_LOG_WARN, NULL, NULL,
           "cycle %s in %lld ms: desired %s, %zu applied, %zu failed, %zu skipped, %zu blocked, %zu pending, %zu drifted%s",
           pk_run_result_to_string(result), (long long)ms, commit, r.stats.done, r.stats.failed,
           r.stats.skipped, r.blocked,
           r.changes > r.stats.done + r.stats.failed + r.stats.skipped ? r.changes - r.stats.done - r.stats.failed - r.stats.skipped : 0,
           r.drift_open, suspended ? " (suspended)" : "");
    pk_err_free(errs);
    pk_cycle_report_clear(&r);
    pk_log_set_run(NULL);
    pk_engine_release(e);
    /* A cycle over many volumes leaves the heap at its peak; hand it back
     * while the service sleeps. */
    malloc_trim(0);
    return result;
}

/* ---- reload ---- */

/* Read the configuration again. Everything that can fail is prepared
 * first; only then is the running configuration replaced. */
static void reload(service *sv)
{
    pk_settings ns;
    pk_err *errs = NULL;
    pk_store *store = NULL;
    pk_metrics_server *server = NULL;
    pk_notifier *notifier = NULL;
    if (pk_settings_load(sv->o->cli, &ns, &errs) < 0) goto refuse;
    bool new_state = !pk_streq(ns.state, sv->e.settings.state);
    if (new_state && (pk_store_open(ns.state, PK_STORE_WRITE, &store, &errs) < 0 ||
                      pk_store_lock(store, &errs) < 0))
        goto undo;
    /* The old server holds its port: a listener on the same address is kept. */
    bool new_listen = !pk_streq(ns.metrics_listen, sv->e.settings.metrics_listen);
    if (new_listen && ns.metrics_listen && pk_metrics_serve(sv->metrics, ns.metrics_listen, &server, &errs) < 0)
        goto undo;
    if (start_notifier(sv, &ns, &notifier, &errs) < 0) goto undo;

    /* Everything is ready: switch over. The new targets get what is still
     * pending. */
    stop_notifier(sv);
    sv->notifier = notifier;
    if (new_listen) {
        pk_metrics_server_stop(sv->server);
        sv->server = server;
    }
    if (new_state) {
        pk_store_close(sv->e.store);
        sv->e.store = store;
    }
    pk_settings_clear(&sv->e.settings);
    sv->e.settings = ns;
    sv->e.settings.policy.allow_mass_delete = sv->o->allow_mass_delete;
    pk_engine_set_bctx(&sv->e);
    pk_metrics_set_healthz_failures(sv->metrics, ns.healthz_failures);
    pk_log_setup(ns.log_level, ns.log_format);
    sv->blocked_reported = 0;
    pk_log(PK_LOG_INFO, NULL, NULL, "configuration reloaded from '%s'",
           ns.config_file ? ns.config_file : "(defaults and environment)");
    pump_events(sv);
    return;
undo:
    pk_metrics_server_stop(server);
    pk_store_close(store);
    pk_settings_clear(&ns);
refuse:
    log_errors(PK_LOG_ERROR, "configuration reload refused, keeping the running configuration: ", errs);
    pk_err_free(errs);
}

/* ---- the loop ---- */

static void wait_until(service *sv, int64_t deadline)
{
    while (!stop_flag && !reload_flag && !trigger_flag) {
        pump_events(sv);
        int64_t now = pk_monotonic_ms();
        if (now >= deadline) return;
        struct pollfd p = { .fd = wake_pipe[0], .events = POLLIN };
        int64_t left = deadline - now;
        poll(&p, 1, left > 60000 ? 60000 : (int)left);
        drain_wake_pipe();
    }
}

static int start(service *sv, pk_err **errs)
{
    pk_settings *s = &sv->e.settings;
    if (pk_settings_load(sv->o->cli, s, errs) < 0) return -1;
    s->policy.allow_mass_delete = sv->o->allow_mass_delete;
    pk_log_setup(s->log_level, s->log_format);
    if (gethostname(sv->host, sizeof(sv->host) - 1) < 0) snprintf(sv->host, sizeof(sv->host), "unknown");
    sv->rng = (uint64_t)pk_now_ms() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ULL;
    if (setup_signals(errs) < 0) return -1;
    if (pk_engine_open_store(&sv->e, PK_ENGINE_WRITE, errs) < 0) return -1;
    sv->metrics = pk_metrics_new(s->healthz_failures);
    if (!sv->o->once && s->metrics_listen && pk_metrics_serve(sv->metrics, s->metrics_listen, &sv->server, errs) < 0)
        return -1;
    if (start_notifier(sv, s, &sv->notifier, errs) < 0) return -1;
    return 0;
}

static void finish(service *sv)
{
    stop_notifier(sv);
    pk_metrics_server_stop(sv->server);
    pk_metrics_free(sv->metrics);
    free(sv->last_failure);
    pk_engine_close(&sv->e);
    teardown_signals();
}

int pk_service_run(const pk_service_opts *o)
{
    service sv = { .o = o };
    pk_err *errs = NULL;
    stop_flag = reload_flag = trigger_flag = 0;
    if (start(&sv, &errs) < 0) {
        pk_cli_report(errs);
        pk_err_free(errs);
        pk_notifier_stop(sv.notifier);
        sv.notifier = NULL;
        pk_metrics_server_stop(sv.server);
        pk_metrics_free(sv.metrics);
        pk_engine_close(&sv.e);
        teardown_signals();
        return 1;
    }
    const pk_settings *s = &sv.e.settings;
    pk_settings *cur = &sv.e.settings;
    if (o->once) {
        pk_run_result r = cycle(&sv);
        pump_events(&sv);
        size_t left = pk_notifier_flush(sv.notifier, ONCE_FLUSH_MS);
        if (left)
            pk_log(PK_LOG_WARN, NULL, "notify", "%zu events not delivered yet: they are sent by the next run", left);
        finish(&sv);
        return r == PK_RUN_FAILED ? 1 : 0;
    }
    _cleanup_free_ char *iv = pk_format_duration_ms(s->interval_ms);
    _cleanup_free_ char *shown = pk_notify_redact(s->desired_remote ? s->desired_remote
                                                  : s->desired_path ? s->desired_path : ".");
    pk_log(PK_LOG_INFO, NULL, NULL, "service started (pid %d): desired '%s', state '%s', every %s%s%s",
           (int)getpid(), shown, s->state, iv, s->metrics_listen ? ", metrics on " : "",
           s->metrics_listen ? s->metrics_listen : "");
    while (!stop_flag) {
        trigger_flag = 0;
        cycle(&sv);
        pump_events(&sv);
        if (stop_flag) break;
        int64_t delay = pk_service_delay_ms(cur->interval_ms, cur->jitter_percent, cur->retry_interval_ms,
                                            sv.failures, uniform(&sv));
        int64_t deadline = pk_monotonic_ms() + delay;
        pk_log(PK_LOG_DEBUG, NULL, NULL, "next cycle in %lld ms", (long long)delay);
        for (;;) {
            wait_until(&sv, deadline);
            if (stop_flag || trigger_flag) break;
            if (!reload_flag) break;
            reload_flag = 0;
            reload(&sv);
            /* A new interval counts from the end of the last cycle. */
            int64_t nd = pk_service_delay_ms(cur->interval_ms, cur->jitter_percent, cur->retry_interval_ms,
                                             sv.failures, uniform(&sv));
            deadline = deadline - delay + nd;
            delay = nd;
        }
        if (trigger_flag && !stop_flag) pk_log(PK_LOG_INFO, NULL, NULL, "cycle requested (SIGUSR1)");
    }
    pk_log(PK_LOG_INFO, NULL, NULL, "stopping (signal): service ends");
    finish(&sv);
    return 0;
}

/* ---- run --trigger ---- */

/* Is pid a `poolkeeper run` service (not an apply that holds the lock)? */
static bool is_service(int pid)
{
    _cleanup_free_ char *path = pk_asprintf("/proc/%d/cmdline", pid);
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    if (n <= 0) return false;
    buf[n] = '\0';
    bool poolkeeper = strstr(buf, "poolkeeper") != NULL;
    bool run = false, once = false;
    for (const char *a = buf; a < buf + n; a += strlen(a) + 1) {
        if (pk_streq(a, "run")) run = true;
        if (pk_streq(a, "--once") || pk_streq(a, "--trigger")) once = true;
    }
    return poolkeeper && run && !once;
}

int pk_service_trigger(const char *state, int *ret_pid, pk_err **err)
{
    int pid = 0;
    int64_t since = 0;
    int r = pk_store_lock_holder(state, &pid, &since, err);
    if (r < 0) return -1;
    if (r == 0) return pk_fail(err, "no poolkeeper service is running on state database '%s'", state);
    if (pid <= 0)
        return pk_fail(err, "state database '%s' is locked, but its lock file does not say by whom", state);
    if (!is_service(pid))
        return pk_fail(err, "state database '%s' is locked by pid %d, which is not a 'poolkeeper run' service", state, pid);
    if (kill(pid, SIGUSR1) < 0) return pk_fail_errno(err, errno, "cannot signal the service (pid %d)", pid);
    *ret_pid = pid;
    return 0;
}
