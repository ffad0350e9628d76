/* The service's parts on their own: webhook signature, payload and
 * redaction, the notifier's retry rules (against a closed port), the
 * schedule, the metrics page and health, the progress line. */
#include "../tap.h"
#include "../../controller/metrics.h"
#include "../../controller/notify.h"
#include "../../controller/progress.h"
#include "../../controller/service.h"
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <sys/socket.h>

static void test_sign(void)
{
    /* RFC 4231, test cases 1 and 2 */
    unsigned char k1[20];
    memset(k1, 0x0b, sizeof(k1));
    _cleanup_free_ char *s1 = pk_notify_sign(k1, sizeof(k1), "Hi There", 8);
    tap_is_str(s1, "sha256=b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
               "HMAC-SHA256: RFC 4231 test case 1");
    const char *d2 = "what do ya want for nothing?";
    _cleanup_free_ char *s2 = pk_notify_sign("Jefe", 4, d2, strlen(d2));
    tap_is_str(s2, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
               "HMAC-SHA256: RFC 4231 test case 2");
}

static void test_redact(void)
{
    _cleanup_free_ char *a = pk_notify_redact("cannot fetch 'https://bot:s3cret@git.example.com/r.git': 401");
    tap_is_str(a, "cannot fetch 'https://bot:***@git.example.com/r.git': 401", "a URL password is redacted");
    _cleanup_free_ char *b = pk_notify_redact("file:///srv/a.git and ssh://git@h/r and http://u:p@h:80/x?y");
    tap_is_str(b, "file:///srv/a.git and ssh://git@h/r and http://u:***@h:80/x?y",
               "URLs without a password stay as they are, every password goes");
}

static void test_secret(const char *dir)
{
    _cleanup_free_ char *p = pk_asprintf("%s/key", dir);
    FILE *f = fopen(p, "w");
    fputs("k3y\r\n\n", f);
    fclose(f);
    char *key = NULL;
    size_t len = 0;
    pk_err *err = NULL;
    tap_ok(pk_notify_read_secret(p, &key, &len, &err) == 0 && len == 3 && memcmp(key, "k3y", 3) == 0,
           "a secret file is read without its trailing newlines");
    free(key);
    f = fopen(p, "w");
    fputs("\n", f);
    fclose(f);
    tap_ok(pk_notify_read_secret(p, &key, &len, &err) < 0 && strstr(err->msg, "is empty"),
           "an empty secret file is an error");
    pk_err_free(err);
    err = NULL;
    _cleanup_free_ char *missing = pk_asprintf("%s/nope", dir);
    tap_ok(pk_notify_read_secret(missing, &key, &len, &err) < 0 && err->errnum == ENOENT,
           "a missing secret file is an error with its errno");
    pk_err_free(err);
}

static void test_body(void)
{
    pk_event e = {
        .id = 42, .at_ms = 1700000000123, .kind = "drift", .run = 7, .pool = "default", .vol = "a.raw",
        .message = "volume changed; remote https://u:hunter2@h/x",
        .data = "{\"what\":\"capacity\",\"detail\":\"16 MiB, desired 8 MiB\"}",
    };
    _cleanup_free_ char *body = pk_notify_body(&e, "node1");
    json_object *o = json_tokener_parse(body);
    tap_ok(o != NULL, "the payload is JSON");
    json_object *v;
    tap_ok(json_object_object_get_ex(o, "format_version", &v) && json_object_get_int(v) == 1, "format_version 1");
    tap_ok(json_object_object_get_ex(o, "id", &v) && json_object_get_int64(v) == 42, "id");
    tap_ok(json_object_object_get_ex(o, "severity", &v) && pk_streq(json_object_get_string(v), "warning"),
           "drift is a warning");
    tap_ok(json_object_object_get_ex(o, "timestamp", &v) && pk_streq(json_object_get_string(v), "2023-11-14T22:13:20Z"),
           "timestamp in UTC");
    tap_ok(json_object_object_get_ex(o, "volume", &v) && pk_streq(json_object_get_string(v), "a.raw"), "volume");
    json_object *what = NULL;
    tap_ok(json_object_object_get_ex(o, "data", &v) && json_object_object_get_ex(v, "what", &what) &&
               pk_streq(json_object_get_string(what), "capacity"),
           "data is embedded as an object");
    tap_ok(!strstr(body, "hunter2"), "no password in the payload");
    json_object_put(o);

    pk_event e2 = { .id = 1, .at_ms = 0, .kind = "applied", .message = "m", .data = "not json" };
    _cleanup_free_ char *b2 = pk_notify_body(&e2, "h");
    o = json_tokener_parse(b2);
    tap_ok(json_object_object_get_ex(o, "data", &v) && json_object_is_type(v, json_type_string),
           "data that is not JSON goes as a string");
    tap_ok(json_object_object_get_ex(o, "run", &v) && v == NULL, "no run: null");
    json_object_put(o);
}

static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    bind(fd, (struct sockaddr *)&a, sizeof(a));
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);   /* nobody listens there now: connections are refused at once */
    return ntohs(a.sin_port);
}

static void test_notifier(void)
{
    _cleanup_free_ char *url = pk_asprintf("http://127.0.0.1:%d/hook", closed_port());
    char *only_failed[] = { "failed", NULL };
    pk_notify_target t[] = {
        { .url = url, .events = only_failed },
    };
    pk_notify_limits lim;
    pk_notify_limits_default(&lim);
    lim.attempts = 3;
    lim.backoff_ms = 20;
    int pipefd[2];
    tap_ok(pipe2(pipefd, O_NONBLOCK) == 0, "pipe");
    pk_notifier *nf = NULL;
    pk_err *err = NULL;
    tap_ok(pk_notifier_start(&nf, t, 1, &lim, "h", pipefd[1], &err) == 0, "notifier starts");
    pk_event ev[] = {
        { .id = 1, .kind = "applied", .message = "nobody wants it" },
        { .id = 2, .kind = "failed", .message = "to a dead receiver" },
        { .id = 3, .kind = "failed", .message = "to a receiver known dead" },
    };
    pk_notifier_push(nf, ev, 3);
    pk_notifier_push(nf, ev, 3);   /* queued once only */
    size_t left = pk_notifier_flush(nf, 10000);
    tap_is_int((long long)left, 0, "every event is finished: delivered or given up");
    int64_t *ids = NULL;
    size_t n = pk_notifier_take_done(nf, &ids);
    tap_is_int((long long)n, 3, "three events done, each once");
    free(ids);
    pk_notify_stats st;
    pk_notifier_stats(nf, &st);
    tap_is_int((long long)st.failed, 4, "3 attempts for the first event, 1 once the target is down");
    tap_is_int((long long)st.dropped, 2, "both events were given up");
    tap_is_int((long long)st.delivered, 0, "nothing delivered");
    char c;
    tap_ok(read(pipefd[0], &c, 1) == 1, "the wake-up pipe was written");
    pk_notifier_stop(nf);
    close(pipefd[0]);
    close(pipefd[1]);

    pk_notify_target bad[] = { { .url = url, .secret_file = "/nonexistent/key" } };
    nf = NULL;
    tap_ok(pk_notifier_start(&nf, bad, 1, &lim, "h", -1, &err) < 0 && nf == NULL,
           "a missing secret file stops the notifier from starting");
    _cleanup_free_ char *msg = err ? pk_err_str(err) : NULL;
    tap_ok(msg && strstr(msg, "/nonexistent/key"), "and names the file");
    pk_err_free(err);
}

static void test_schedule(void)
{
    const int64_t iv = 60000, retry = 5000;
    tap_is_int(pk_service_delay_ms(iv, 0, retry, 0, 0.5), 60000, "no failure: the interval");
    tap_is_int(pk_service_delay_ms(iv, 0, retry, 1, 0.5), 5000, "first failure: retry_interval");
    tap_is_int(pk_service_delay_ms(iv, 0, retry, 2, 0.5), 10000, "second: doubled");
    tap_is_int(pk_service_delay_ms(iv, 0, retry, 4, 0.5), 40000, "fourth: 8 x");
    tap_is_int(pk_service_delay_ms(iv, 0, retry, 5, 0.5), 60000, "capped at the interval");
    tap_is_int(pk_service_delay_ms(iv, 0, retry, 60, 0.5), 60000, "and stays capped (no overflow)");
    tap_is_int(pk_service_delay_ms(iv, 0, 120000, 1, 0.5), 60000, "a retry_interval above the interval is capped");
    tap_is_int(pk_service_delay_ms(iv, 10, retry, 0, 0.0), 54000, "jitter 10%%: 10%% early at worst");
    tap_ok(pk_service_delay_ms(iv, 10, retry, 0, 0.999999) <= 66000 &&
               pk_service_delay_ms(iv, 10, retry, 0, 0.999999) > 65990,
           "and 10%% late at worst");
    tap_is_int(pk_service_delay_ms(iv, 10, retry, 0, 0.5), 60000, "the middle draw is the interval");
}

static void test_metrics(void)
{
    pk_metrics *m = pk_metrics_new(2);
    int f = -1;
    tap_ok(pk_metrics_healthy(m, &f) && f == 0, "healthy before any cycle");
    pk_cycle_report r = { 0 };
    r.by_kind[PK_ACT_VOL_CREATE][PK_CYCLE_DONE] = 3;
    r.by_kind[PK_ACT_VOL_DELETE][PK_CYCLE_BLOCKED] = 1;
    r.blocked = 1;
    r.drift_open = 2;
    pk_metrics_cycle(m, PK_RUN_OK, 0.3, &r, 1700000000500);
    pk_metrics_cycle(m, PK_RUN_FAILED, 12, NULL, 1700000001000);
    tap_ok(pk_metrics_healthy(m, &f) && f == 1, "one failure: still healthy (threshold 2)");
    pk_metrics_cycle(m, PK_RUN_FAILED, 0.05, NULL, 1700000002000);
    tap_ok(!pk_metrics_healthy(m, &f) && f == 2, "two failures in a row: unhealthy");
    pk_metrics_desired(m, "0123abc");
    _cleanup_free_ char *page = pk_metrics_render(m);
    tap_ok(strstr(page, "poolkeeper_cycles_total{result=\"ok\"} 1\n") &&
               strstr(page, "poolkeeper_cycles_total{result=\"failed\"} 2\n"),
           "cycles by result");
    tap_ok(strstr(page, "poolkeeper_cycle_duration_seconds_bucket{le=\"0.1\"} 1\n") &&
               strstr(page, "poolkeeper_cycle_duration_seconds_bucket{le=\"0.5\"} 2\n") &&
               strstr(page, "poolkeeper_cycle_duration_seconds_bucket{le=\"10\"} 2\n") &&
               strstr(page, "poolkeeper_cycle_duration_seconds_bucket{le=\"30\"} 3\n") &&
               strstr(page, "poolkeeper_cycle_duration_seconds_bucket{le=\"+Inf\"} 3\n") &&
               strstr(page, "poolkeeper_cycle_duration_seconds_count 3\n"),
           "the histogram is cumulative");
    tap_ok(strstr(page, "poolkeeper_actions_total{kind=\"vol.create\",result=\"done\"} 3\n") &&
               strstr(page, "poolkeeper_actions_total{kind=\"vol.delete\",result=\"blocked\"} 1\n"),
           "actions by kind and result");
    tap_ok(strstr(page, "poolkeeper_drifted_objects 2\n") && strstr(page, "poolkeeper_blocked_actions 1\n"),
           "drift and blocked gauges");
    tap_ok(strstr(page, "poolkeeper_last_success_timestamp_seconds 1700000000.500\n") != NULL,
           "last success time");
    tap_ok(strstr(page, "poolkeeper_desired_info{commit=\"0123abc\"} 1\n") != NULL, "desired commit");
    tap_ok(strstr(page, "# TYPE poolkeeper_cycle_duration_seconds histogram\n") != NULL, "types are declared");
    pk_metrics_cycle(m, PK_RUN_INTERRUPTED, 1, NULL, 1700000003000);
    tap_ok(!pk_metrics_healthy(m, NULL), "an interrupted cycle does not reset the failures");
    pk_metrics_cycle(m, PK_RUN_OK, 1, NULL, 1700000004000);
    tap_ok(pk_metrics_healthy(m, &f) && f == 0, "a good cycle makes it healthy again");
    pk_metrics_free(m);
}

static size_t drain(int fd, char *buf, size_t cap)
{
    ssize_t n = read(fd, buf, cap - 1);
    buf[n > 0 ? n : 0] = '\0';
    return n > 0 ? (size_t)n : 0;
}

static void test_progress(void)
{
    int p[2];
    if (pipe2(p, O_NONBLOCK) < 0) tap_bail("pipe");
    char buf[4096];
    pk_progress *pr = pk_progress_new_fd("applying", p[1], 40);
    pk_progress_update(pr, 0, 1000, "vol.create pool/a-rather-long-volume-name-for-the-line.raw");
    size_t n = drain(p[0], buf, sizeof(buf));
    tap_ok(n > 0 && pk_str_has_prefix(buf, "\r\033[Kapplying ["), "the first update draws");
    tap_ok(n - 4 <= 39, "the line is cut to the terminal width (%zu)", n - 4);
    for (size_t i = 1; i < 500; i++) pk_progress_update(pr, i, 1000, "x");
    n = drain(p[0], buf, sizeof(buf));
    tap_is_int((long long)n, 0, "updates within 100 ms are not drawn");
    pk_progress_update(pr, 1000, 1000, NULL);
    n = drain(p[0], buf, sizeof(buf));
    tap_ok(strstr(buf, "1000/1000 100%") != NULL, "the last update is always drawn");
    pk_progress_free(pr);
    n = drain(p[0], buf, sizeof(buf));
    tap_is_str(buf, "\r\033[K", "freeing erases the line");
    tap_ok(pk_progress_new("applying", false) == NULL, "no progress when stderr is not a terminal");
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    _cleanup_free_ char *dir = tap_tmpdir("service-parts");
    test_sign();
    test_redact();
    test_secret(dir);
    test_body();
    test_notifier();
    test_schedule();
    test_metrics();
    test_progress();
    return tap_done();
}
