/* Prometheus metrics and health over libmicrohttpd. */
#include "metrics.h"
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

/* Cycle durations span a no-op minute-scale loop to hour-long first applies. */
static const double buckets[] = { 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600 };
#define N_BUCKETS PK_NELEM(buckets)

struct pk_metrics {
    pthread_mutex_t mu;
    uint64_t cycles[PK_RUN_RESULT_LAST];
    uint64_t bucket[N_BUCKETS];     /* non-cumulative; summed when rendered */
    uint64_t n_observations;
    double sum_seconds;
    uint64_t actions[PK_ACT_LAST][PK_CYCLE_RESULT_LAST];
    size_t drifted, blocked;
    int64_t last_success_ms, last_cycle_ms;
    int failures;                   /* consecutive */
    int healthz_failures;
    char *commit;
    bool suspended;
    pk_notify_stats notify;
};

pk_metrics *pk_metrics_new(int healthz_failures)
{
    pk_metrics *m = PK_NEW(pk_metrics);
    pthread_mutex_init(&m->mu, NULL);
    m->healthz_failures = healthz_failures > 0 ? healthz_failures : 3;
    return m;
}

void pk_metrics_free(pk_metrics *m)
{
    if (!m) return;
    pthread_mutex_destroy(&m->mu);
    free(m->commit);
    free(m);
}

void pk_metrics_set_healthz_failures(pk_metrics *m, int n)
{
    pthread_mutex_lock(&m->mu);
    m->healthz_failures = n > 0 ? n : 3;
    pthread_mutex_unlock(&m->mu);
}

void pk_metrics_cycle(pk_metrics *m, pk_run_result result, double seconds, const pk_cycle_report *r,
                      int64_t end_ms)
{
    pthread_mutex_lock(&m->mu);
    if (result >= 0 && result < PK_RUN_RESULT_LAST) m->cycles[result]++;
    size_t b = 0;
    while (b < N_BUCKETS && seconds > buckets[b]) b++;
    if (b < N_BUCKETS) m->bucket[b]++;
    m->n_observations++;
    m->sum_seconds += seconds;
    if (r) {
        for (int k = 0; k < PK_ACT_LAST; k++)
            for (int x = 0; x < PK_CYCLE_RESULT_LAST; x++) m->actions[k][x] += r->by_kind[k][x];
        m->drifted = r->drift_open;
        m->blocked = r->blocked;
    }
    m->last_cycle_ms = end_ms;
    if (result == PK_RUN_OK) {
        m->last_success_ms = end_ms;
        m->failures = 0;
    } else if (result == PK_RUN_FAILED) {
        m->failures++;
    }
    pthread_mutex_unlock(&m->mu);
}

void pk_metrics_desired(pk_metrics *m, const char *commit)
{
    pthread_mutex_lock(&m->mu);
    free(m->commit);
    m->commit = pk_strdup(commit);
    pthread_mutex_unlock(&m->mu);
}

void pk_metrics_suspended(pk_metrics *m, bool on)
{
    pthread_mutex_lock(&m->mu);
    m->suspended = on;
    pthread_mutex_unlock(&m->mu);
}

void pk_metrics_notify(pk_metrics *m, const pk_notify_stats *st)
{
    pthread_mutex_lock(&m->mu);
    m->notify = *st;
    pthread_mutex_unlock(&m->mu);
}

bool pk_metrics_healthy(pk_metrics *m, int *ret_failures)
{
    pthread_mutex_lock(&m->mu);
    int f = m->failures;
    bool ok = f < m->healthz_failures;
    pthread_mutex_unlock(&m->mu);
    if (ret_failures) *ret_failures = f;
    return ok;
}

static void head(pk_buf *b, const char *name, const char *type, const char *help)
{
    pk_buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

char *pk_metrics_render(pk_metrics *m)
{
    pk_buf b = PK_BUF_INIT;
    pthread_mutex_lock(&m->mu);
    head(&b, "poolkeeper_build_info", "gauge", "The running poolkeeper's version.");
    pk_buf_addf(&b, "poolkeeper_build_info{version=\"%s\"} 1\n", PK_VERSION_STRING);
    head(&b, "poolkeeper_cycles_total", "counter", "Reconciliation cycles, by result.");
    for (int r = PK_RUN_OK; r < PK_RUN_RESULT_LAST; r++)
        pk_buf_addf(&b, "poolkeeper_cycles_total{result=\"%s\"} %llu\n", pk_run_result_to_string(r),
                    (unsigned long long)m->cycles[r]);
    head(&b, "poolkeeper_cycle_duration_seconds", "histogram", "Duration of reconciliation cycles.");
    uint64_t cum = 0;
    for (size_t i = 0; i < N_BUCKETS; i++) {
        cum += m->bucket[i];
        pk_buf_addf(&b, "poolkeeper_cycle_duration_seconds_bucket{le=\"%g\"} %llu\n", buckets[i],
                    (unsigned long long)cum);
    }
    pk_buf_addf(&b, "poolkeeper_cycle_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                (unsigned long long)m->n_observations);
    pk_buf_addf(&b, "poolkeeper_cycle_duration_seconds_sum %.6f\n", m->sum_seconds);
    pk_buf_addf(&b, "poolkeeper_cycle_duration_seconds_count %llu\n", (unsigned long long)m->n_observations);
    head(&b, "poolkeeper_actions_total", "counter", "Planned actions, by kind and what became of them.");
    for (int k = 0; k < PK_ACT_LAST; k++)
        for (int x = 0; x < PK_CYCLE_RESULT_LAST; x++)
            pk_buf_addf(&b, "poolkeeper_actions_total{kind=\"%s\",result=\"%s\"} %llu\n",
                        pk_action_kind_to_string(k), pk_cycle_result_to_string(x),
                        (unsigned long long)m->actions[k][x]);
    head(&b, "poolkeeper_drifted_objects", "gauge", "Objects changed outside poolkeeper and not corrected yet.");
    pk_buf_addf(&b, "poolkeeper_drifted_objects %zu\n", m->drifted);
    head(&b, "poolkeeper_blocked_actions", "gauge", "Actions of the last plan that policy blocks.");
    pk_buf_addf(&b, "poolkeeper_blocked_actions %zu\n", m->blocked);
    head(&b, "poolkeeper_last_success_timestamp_seconds", "gauge",
         "When the last successful cycle ended (0: none yet).");
    pk_buf_addf(&b, "poolkeeper_last_success_timestamp_seconds %.3f\n", (double)m->last_success_ms / 1000);
    head(&b, "poolkeeper_last_cycle_timestamp_seconds", "gauge", "When the last cycle ended (0: none yet).");
    pk_buf_addf(&b, "poolkeeper_last_cycle_timestamp_seconds %.3f\n", (double)m->last_cycle_ms / 1000);
    head(&b, "poolkeeper_consecutive_failures", "gauge", "Failed cycles in a row.");
    pk_buf_addf(&b, "poolkeeper_consecutive_failures %d\n", m->failures);
    head(&b, "poolkeeper_suspended", "gauge", "1 while reconciliation is suspended ('poolkeeper suspend').");
    pk_buf_addf(&b, "poolkeeper_suspended %d\n", m->suspended ? 1 : 0);
    if (m->commit) {
        head(&b, "poolkeeper_desired_info", "gauge", "The desired commit being applied.");
        pk_buf_addf(&b, "poolkeeper_desired_info{commit=\"%s\"} 1\n", m->commit);
    }
    head(&b, "poolkeeper_notifications_total", "counter",
         "Webhook POSTs: delivered, failed attempts, and events given up on.");
    pk_buf_addf(&b, "poolkeeper_notifications_total{result=\"delivered\"} %llu\n",
                (unsigned long long)m->notify.delivered);
    pk_buf_addf(&b, "poolkeeper_notifications_total{result=\"failed\"} %llu\n",
                (unsigned long long)m->notify.failed);
    pk_buf_addf(&b, "poolkeeper_notifications_total{result=\"dropped\"} %llu\n",
                (unsigned long long)m->notify.dropped);
    pthread_mutex_unlock(&m->mu);
    return pk_buf_steal(&b);
}

/* ---- the HTTP server ---- */

struct pk_metrics_server {
    struct MHD_Daemon *daemon;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type, char *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version PK_UNUSED, const char *upload PK_UNUSED,
                              size_t *upload_size, void **state PK_UNUSED)
{
    pk_metrics *m = cls;
    if (*upload_size) return MHD_NO;   /* nobody uploads to us */
    if (!pk_streq(method, "GET") && !pk_streq(method, "HEAD"))
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", pk_strdup("only GET and HEAD\n"));
    if (pk_streq(url, "/metrics"))
        return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", pk_metrics_render(m));
    if (pk_streq(url, "/healthz")) {
        int f;
        if (pk_metrics_healthy(m, &f)) return reply(c, MHD_HTTP_OK, "text/plain", pk_strdup("ok\n"));
        return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain",
                     pk_asprintf("unhealthy: the last %d cycles failed\n", f));
    }
    return reply(c, MHD_HTTP_NOT_FOUND, "text/plain", pk_strdup("not found: try /metrics or /healthz\n"));
}

/* Our own socket, so that a busy port is a precise error (MHD would only
 * say it could not start). */
static int open_listener(const char *listen_on, bool *v6, pk_err **err)
{
    _cleanup_free_ char *host = NULL;
    const char *port;
    if (listen_on[0] == '[') {
        const char *close = strchr(listen_on, ']');
        if (!close || close[1] != ':') return pk_fail(err, "metrics.listen '%s' is not HOST:PORT", listen_on);
        host = pk_strndup(listen_on + 1, (size_t)(close - listen_on - 1));
        port = close + 2;
    } else {
        const char *colon = strrchr(listen_on, ':');
        if (!colon) return pk_fail(err, "metrics.listen '%s' is not HOST:PORT", listen_on);
        host = pk_strndup(listen_on, (size_t)(colon - listen_on));
        port = colon + 1;
    }
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV | AI_PASSIVE };
    struct addrinfo *ai = NULL;
    int r = getaddrinfo(*host ? host : NULL, port, &hints, &ai);
    if (r != 0) return pk_fail(err, "cannot resolve metrics.listen '%s': %s", listen_on, gai_strerror(r));
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 16) < 0) {
        int e = errno;
        if (fd >= 0) close(fd);
        freeaddrinfo(ai);
        return pk_fail_errno(err, e, "cannot listen on metrics.listen '%s'", listen_on);
    }
    *v6 = ai->ai_family == AF_INET6;
    freeaddrinfo(ai);
    return fd;
}

int pk_metrics_serve(pk_metrics *m, const char *listen_on, pk_metrics_server **ret, pk_err **err)
{
    bool v6 = false;
    int fd = open_listener(listen_on, &v6, err);
    if (fd < 0) return -1;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);   /* signals are the main thread's */
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | (v6 ? MHD_USE_IPv6 : 0), 0, NULL, NULL, handle, m,
        MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)32, MHD_OPTION_END);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!d) {
        close(fd);
        return pk_fail(err, "cannot start the metrics server on '%s'", listen_on);
    }
    pk_metrics_server *s = PK_NEW(pk_metrics_server);
    s->daemon = d;
    *ret = s;
    return 0;
}

void pk_metrics_server_stop(pk_metrics_server *s)
{
    if (!s) return;
    MHD_stop_daemon(s->daemon);   /* closes the listening socket too */
    free(s);
}
