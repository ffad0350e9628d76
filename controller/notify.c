/* Webhook delivery over libcurl: one thread and one queue per target. */
#include "notify.h"
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>

void pk_notify_limits_default(pk_notify_limits *l)
{
    l->connect_timeout_ms = 5000;
    l->timeout_ms = 10000;
    l->attempts = 4;
    l->backoff_ms = 1000;
    l->backoff_max_ms = 30000;
}

/* ---- payload, signature, secrets ---- */

static const char *severity_of(const char *kind)
{
    if (pk_streq(kind, "failed")) return "error";
    if (pk_streq(kind, "drift") || pk_streq(kind, "blocked") || pk_streq(kind, "suspended")) return "warning";
    return "info";
}

static json_object *jstr(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

char *pk_notify_body(const pk_event *e, const char *host)
{
    json_object *o = json_object_new_object();
    _cleanup_free_ char *ts = pk_format_time(e->at_ms);
    json_object_object_add(o, "format_version", json_object_new_int(1));
    json_object_object_add(o, "id", json_object_new_int64(e->id));
    json_object_object_add(o, "kind", jstr(e->kind));
    json_object_object_add(o, "severity", jstr(severity_of(e->kind)));
    json_object_object_add(o, "timestamp", jstr(ts));
    json_object_object_add(o, "host", jstr(host));
    json_object_object_add(o, "run", e->run > 0 ? json_object_new_int64(e->run) : NULL);
    json_object_object_add(o, "pool", jstr(e->pool));
    json_object_object_add(o, "volume", jstr(e->vol));
    json_object_object_add(o, "message", jstr(e->message));
    /* data is JSON text written by poolkeeper; anything else goes as a string */
    json_object *data = e->data ? json_tokener_parse(e->data) : NULL;
    if (e->data && !data) data = json_object_new_string(e->data);
    json_object_object_add(o, "data", data);
    char *body = pk_strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    char *clean = pk_notify_redact(body);
    free(body);
    return clean;
}

char *pk_notify_sign(const void *key, size_t key_len, const char *body, size_t body_len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    /* An empty key is legal HMAC; OpenSSL wants a non-NULL pointer for it. */
    static const unsigned char empty[1];
    if (!HMAC(EVP_sha256(), key_len ? key : empty, (int)key_len, (const unsigned char *)body, body_len, md,
              &md_len))
        return NULL;
    char *out = pk_malloc(7 + 2 * md_len + 1);
    memcpy(out, "sha256=", 7);
    for (unsigned i = 0; i < md_len; i++) snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
    return out;
}

int pk_notify_read_secret(const char *path, char **ret_key, size_t *ret_len, pk_err **err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return pk_fail_errno(err, errno, "cannot read webhook secret file '%s'", path);
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        return pk_fail(err, "webhook secret file '%s' is not a regular file", path);
    if (st.st_size > 4096) return pk_fail(err, "webhook secret file '%s' is larger than 4 KiB", path);
    char *key = pk_malloc((size_t)st.st_size + 1);
    size_t len = 0;
    for (;;) {
        ssize_t r = read(fd, key + len, (size_t)st.st_size - len);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            free(key);
            return pk_fail_errno(err, e, "cannot read webhook secret file '%s'", path);
        }
        if (r == 0 || (len += (size_t)r) == (size_t)st.st_size) break;
    }
    while (len > 0 && (key[len - 1] == '\n' || key[len - 1] == '\r')) len--;
    key[len] = '\0';
    if (len == 0) {
        free(key);
        return pk_fail(err, "webhook secret file '%s' is empty", path);
    }
    *ret_key = key;
    *ret_len = len;
    return 0;
}

char *pk_notify_redact(const char *s)
{
    if (!s) return NULL;
    pk_buf b = PK_BUF_INIT;
    const char *p = s;
    for (const char *sep; (sep = strstr(p, "://"));) {
        const char *auth = sep + 3;
        size_t alen = strcspn(auth, "/?#\"' \t\r\n");
        const char *at = memrchr(auth, '@', alen);
        const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        if (colon) {
            pk_buf_addn(&b, p, (size_t)(colon + 1 - p));
            pk_buf_add(&b, "***");
            p = at;
        } else {
            pk_buf_addn(&b, p, (size_t)(auth - p));
            p = auth;
        }
    }
    pk_buf_add(&b, p);
    return pk_buf_steal(&b);
}

/* ---- delivery ---- */

typedef struct job {
    int64_t id;
    char *kind;
    char *body;
    int remaining;            /* targets not finished with it */
} job;

typedef struct target {
    pk_notifier *nf;
    char *url;
    char *shown;              /* url without its password, for logs */
    char *key;
    size_t key_len;
    char **events;
    job **queue;
    size_t head, n;
    int attempt;              /* failed attempts of the head job */
    int64_t next_try_ms;      /* monotonic */
    bool down;
    pthread_t thread;
    bool started;
    CURL *curl;
} target;

struct pk_notifier {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;                 /* atomic: read by transfers in flight */
    target *targets;
    size_t n_targets;
    pk_notify_limits lim;
    char *host;
    int wake_fd;
    int64_t max_queued;
    int64_t *done;
    size_t n_done;
    size_t unfinished;
    pk_notify_stats stats;
};

static void wake(pk_notifier *nf)
{
    if (nf->wake_fd < 0) return;
    char c = 'n';
    if (write(nf->wake_fd, &c, 1) < 0) { /* full pipe: the loop wakes anyway */ }
}

static void job_free(job *j)
{
    free(j->kind);
    free(j->body);
    free(j);
}

/* Under the lock: one target is finished with j. */
static void job_release(pk_notifier *nf, job *j)
{
    if (--j->remaining > 0) return;
    nf->done = pk_realloc(nf->done, sizeof(*nf->done) * (nf->n_done + 1));
    nf->done[nf->n_done++] = j->id;
    nf->unfinished--;
    job_free(j);
    pthread_cond_broadcast(&nf->cv);
    wake(nf);
}

static bool stopping(pk_notifier *nf)
{
    return __atomic_load_n(&nf->stop, __ATOMIC_RELAXED) != 0;
}

static int xferinfo(void *p, curl_off_t dt PK_UNUSED, curl_off_t dn PK_UNUSED, curl_off_t ut PK_UNUSED,
                    curl_off_t un PK_UNUSED)
{
    return stopping(p) ? 1 : 0;
}

static size_t discard(char *ptr PK_UNUSED, size_t size, size_t n, void *u PK_UNUSED)
{
    return size * n;
}

/* ---- libcurl, loaded by the first delivery ----
 * Linked, libcurl and what it pulls in (TLS, LDAP, Kerberos...) would cost
 * every poolkeeper command milliseconds and megabytes at start, for the one
 * use webhooks make of it. The table's types are curl.h's, so the compiler
 * checks each call as it would a direct one (but for the argument types of
 * curl_easy_setopt and curl_easy_getinfo, which curl.h checks with macros
 * around the direct calls only). */
typedef struct curl_api {
    __typeof__(&curl_global_init) global_init;
    __typeof__(&curl_easy_init) easy_init;
    __typeof__(&curl_easy_reset) easy_reset;
    __typeof__(&curl_easy_setopt) easy_setopt;
    __typeof__(&curl_easy_perform) easy_perform;
    __typeof__(&curl_easy_getinfo) easy_getinfo;
    __typeof__(&curl_easy_strerror) easy_strerror;
    __typeof__(&curl_easy_cleanup) easy_cleanup;
    __typeof__(&curl_slist_append) slist_append;
    __typeof__(&curl_slist_free_all) slist_free_all;
} curl_api;

#define PK_LIBCURL "libcurl.so.4"

/* Set once by curl_load (pthread_once); the library stays loaded and
 * initialised for the life of the process. */
static curl_api curl;
static char *curl_error;
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

#define CURL_SYM(field, name) \
    (curl.field = (__typeof__(curl.field))dlsym(h, name))

static void curl_load(void)
{
    void *h = dlopen(PK_LIBCURL, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        curl_error = pk_asprintf("cannot load libcurl ('%s'): %s", PK_LIBCURL, dlerror());
        return;
    }
    if (!CURL_SYM(global_init, "curl_global_init") || !CURL_SYM(easy_init, "curl_easy_init") ||
        !CURL_SYM(easy_reset, "curl_easy_reset") || !CURL_SYM(easy_setopt, "curl_easy_setopt") ||
        !CURL_SYM(easy_perform, "curl_easy_perform") || !CURL_SYM(easy_getinfo, "curl_easy_getinfo") ||
        !CURL_SYM(easy_strerror, "curl_easy_strerror") || !CURL_SYM(easy_cleanup, "curl_easy_cleanup") ||
        !CURL_SYM(slist_append, "curl_slist_append") || !CURL_SYM(slist_free_all, "curl_slist_free_all")) {
        curl_error = pk_asprintf("libcurl ('%s') is not usable: %s", PK_LIBCURL, dlerror());
        memset(&curl, 0, sizeof(curl));
        return;
    }
    /* Never cleaned up: other notifiers of this process may come. */
    CURLcode rc = curl.global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
        curl_error = pk_asprintf("cannot initialise libcurl: %s", curl.easy_strerror(rc));
        memset(&curl, 0, sizeof(curl));
    }
}

/* libcurl, loaded; -1 with *why when it cannot be. */
static int curl_ready(char **why)
{
    pthread_once(&curl_once, curl_load);
    if (!curl_error) return 0;
    *why = pk_strdup(curl_error);
    return -1;
}

typedef enum { POST_OK, POST_RETRY, POST_GIVE_UP } post_result;

/* One POST; *why gets the reason of a failure. */
static post_result post(target *t, const job *j, char **why)
{
    pk_notifier *nf = t->nf;
    if (curl_ready(why) < 0) return POST_RETRY;
    if (!t->curl && !(t->curl = curl.easy_init())) {
        *why = pk_strdup("cannot create a libcurl handle");
        return POST_RETRY;
    }
    CURL *c = t->curl;
    curl.easy_reset(c);
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *h = NULL;
    _cleanup_free_ char *hk = pk_asprintf("X-Poolkeeper-Event: %s", j->kind);
    _cleanup_free_ char *hd = pk_asprintf("X-Poolkeeper-Delivery: %lld", (long long)j->id);
    _cleanup_free_ char *sig = t->key ? pk_notify_sign(t->key, t->key_len, j->body, strlen(j->body)) : NULL;
    _cleanup_free_ char *hs = sig ? pk_asprintf("X-Poolkeeper-Signature: %s", sig) : NULL;
    h = curl.slist_append(h, "Content-Type: application/json");
    h = curl.slist_append(h, "Expect:");
    h = curl.slist_append(h, hk);
    h = curl.slist_append(h, hd);
    if (hs) h = curl.slist_append(h, hs);
    curl.easy_setopt(c, CURLOPT_URL, t->url);
    curl.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl.easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl.easy_setopt(c, CURLOPT_POSTFIELDS, j->body);
    curl.easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(j->body));
    curl.easy_setopt(c, CURLOPT_USERAGENT, "poolkeeper/" PK_VERSION_STRING);
    curl.easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)nf->lim.connect_timeout_ms);
    curl.easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)nf->lim.timeout_ms);
    curl.easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl.easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl.easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl.easy_setopt(c, CURLOPT_XFERINFOFUNCTION, xferinfo);
    curl.easy_setopt(c, CURLOPT_XFERINFODATA, nf);
    CURLcode rc = curl.easy_perform(c);
    curl.slist_free_all(h);
    if (rc != CURLE_OK) {
        *why = pk_strdup(errbuf[0] ? errbuf : curl.easy_strerror(rc));
        return POST_RETRY;
    }
    long status = 0;
    curl.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) return POST_OK;
    *why = pk_asprintf("HTTP status %ld", status);
    /* The receiver refuses this request as such: sending it again will not help. */
    if (status >= 400 && status < 500 && status != 408 && status != 429) return POST_GIVE_UP;
    return POST_RETRY;
}

static int64_t backoff(const pk_notifier *nf, int attempt)
{
    int64_t d = nf->lim.backoff_ms;
    for (int i = 1; i < attempt && d < nf->lim.backoff_max_ms; i++) d *= 2;
    return d < nf->lim.backoff_max_ms ? d : nf->lim.backoff_max_ms;
}

static void abs_deadline(struct timespec *ts, int64_t at_ms)
{
    ts->tv_sec = at_ms / 1000;
    ts->tv_nsec = (at_ms % 1000) * 1000000;
}

static void *target_main(void *arg)
{
    target *t = arg;
    pk_notifier *nf = t->nf;
    pthread_mutex_lock(&nf->mu);
    while (!nf->stop) {
        if (t->head == t->n) {
            pthread_cond_wait(&nf->cv, &nf->mu);
            continue;
        }
        int64_t now = pk_monotonic_ms();
        if (now < t->next_try_ms) {
            struct timespec ts;
            abs_deadline(&ts, t->next_try_ms);
            pthread_cond_timedwait(&nf->cv, &nf->mu, &ts);
            continue;
        }
        job *j = t->queue[t->head];
        pthread_mutex_unlock(&nf->mu);
        _cleanup_free_ char *why = NULL;
        post_result pr = post(t, j, &why);
        pthread_mutex_lock(&nf->mu);
        if (nf->stop) break;
        bool finished = true;
        if (pr == POST_OK) {
            nf->stats.delivered++;
            if (t->down)
                pk_log(PK_LOG_INFO, NULL, "notify", "webhook '%s' is reachable again", t->shown);
            else
                pk_log(PK_LOG_DEBUG, NULL, "notify", "webhook '%s': event %lld (%s) delivered", t->shown,
                       (long long)j->id, j->kind);
            t->down = false;
            t->attempt = 0;
        } else {
            nf->stats.failed++;
            t->attempt++;
            int limit = t->down ? 1 : nf->lim.attempts;
            if (pr == POST_GIVE_UP || t->attempt >= limit) {
                nf->stats.dropped++;
                pk_log(PK_LOG_WARN, NULL, "notify",
                       "webhook '%s': giving up on event %lld (%s) after %d attempts: %s", t->shown,
                       (long long)j->id, j->kind, t->attempt, why);
                t->down = pr != POST_GIVE_UP;
                t->attempt = 0;
            } else {
                pk_log(PK_LOG_WARN, NULL, "notify",
                       "webhook '%s': event %lld (%s) not delivered (attempt %d of %d): %s", t->shown,
                       (long long)j->id, j->kind, t->attempt, limit, why);
                finished = false;
                t->next_try_ms = pk_monotonic_ms() + backoff(nf, t->attempt);
            }
        }
        if (finished) {
            t->queue[t->head++] = NULL;
            if (t->head == t->n) t->head = t->n = 0;
            job_release(nf, j);
        }
    }
    pthread_mutex_unlock(&nf->mu);
    return NULL;
}

static void target_clear(target *t)
{
    free(t->url);
    free(t->shown);
    if (t->key) {
        explicit_bzero(t->key, t->key_len);
        free(t->key);
    }
    pk_strv_free(t->events);
    free(t->queue);
    if (t->curl) curl.easy_cleanup(t->curl);
}

static bool wants(const target *t, const char *kind)
{
    if (!t->events) return true;
    for (char **e = t->events; *e; e++)
        if (pk_streq(*e, kind)) return true;
    return false;
}

int pk_notifier_start(pk_notifier **ret, const pk_notify_target *targets, size_t n,
                      const pk_notify_limits *limits, const char *host, int wake_fd, pk_err **err)
{
    *ret = NULL;
    pk_notifier *nf = PK_NEW(pk_notifier);
    nf->targets = pk_calloc(n ? n : 1, sizeof(target));
    nf->n_targets = n;
    if (limits) nf->lim = *limits;
    else pk_notify_limits_default(&nf->lim);
    nf->host = pk_strdup(host);
    nf->wake_fd = wake_fd;
    for (size_t i = 0; i < n; i++) {
        target *t = &nf->targets[i];
        t->nf = nf;
        t->url = pk_strdup(targets[i].url);
        t->shown = pk_redact_url(targets[i].url);
        for (char **e = targets[i].events; e && *e; e++) pk_strv_push(&t->events, *e);
        if (targets[i].events && !t->events) t->events = pk_calloc(1, sizeof(char *));
        if (targets[i].secret_file &&
            pk_notify_read_secret(targets[i].secret_file, &t->key, &t->key_len, err) < 0) {
            pk_wrap(err, "cannot set up webhook '%s'", t->shown);
            for (size_t k = 0; k <= i; k++) target_clear(&nf->targets[k]);
            free(nf->targets);
            free(nf->host);
            free(nf);
            return -1;
        }
    }
    pthread_mutex_init(&nf->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&nf->cv, &ca);
    pthread_condattr_destroy(&ca);
    /* Signals are the main thread's business. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (size_t i = 0; i < n; i++) {
        target *t = &nf->targets[i];
        int r = pthread_create(&t->thread, NULL, target_main, t);
        if (r != 0) {
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            pk_notifier_stop(nf);
            return pk_fail_errno(err, r, "cannot start the webhook thread");
        }
        t->started = true;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    *ret = nf;
    return 0;
}

void pk_notifier_push(pk_notifier *nf, const pk_event *events, size_t n)
{
    if (!nf) return;
    pthread_mutex_lock(&nf->mu);
    for (size_t i = 0; i < n; i++) {
        const pk_event *e = &events[i];
        if (e->id <= nf->max_queued) continue;
        nf->max_queued = e->id;
        job *j = PK_NEW(job);
        j->id = e->id;
        j->kind = pk_strdup(e->kind);
        j->body = pk_notify_body(e, nf->host);
        j->remaining = 1;   /* held while queueing, so it cannot finish half queued */
        nf->unfinished++;
        for (size_t k = 0; k < nf->n_targets; k++) {
            target *t = &nf->targets[k];
            if (!wants(t, e->kind)) continue;
            t->queue = pk_realloc(t->queue, sizeof(*t->queue) * (t->n + 1));
            t->queue[t->n++] = j;
            j->remaining++;
        }
        job_release(nf, j);
    }
    pthread_cond_broadcast(&nf->cv);
    pthread_mutex_unlock(&nf->mu);
}

size_t pk_notifier_take_done(pk_notifier *nf, int64_t **ret_ids)
{
    *ret_ids = NULL;
    if (!nf) return 0;
    pthread_mutex_lock(&nf->mu);
    size_t n = nf->n_done;
    *ret_ids = nf->done;
    nf->done = NULL;
    nf->n_done = 0;
    pthread_mutex_unlock(&nf->mu);
    return n;
}

size_t pk_notifier_flush(pk_notifier *nf, int64_t timeout_ms)
{
    if (!nf) return 0;
    int64_t deadline = pk_monotonic_ms() + timeout_ms;
    pthread_mutex_lock(&nf->mu);
    while (nf->unfinished > 0 && pk_monotonic_ms() < deadline) {
        struct timespec ts;
        abs_deadline(&ts, deadline);
        pthread_cond_timedwait(&nf->cv, &nf->mu, &ts);
    }
    size_t left = nf->unfinished;
    pthread_mutex_unlock(&nf->mu);
    return left;
}

void pk_notifier_stats(pk_notifier *nf, pk_notify_stats *ret)
{
    memset(ret, 0, sizeof(*ret));
    if (!nf) return;
    pthread_mutex_lock(&nf->mu);
    *ret = nf->stats;
    pthread_mutex_unlock(&nf->mu);
}

void pk_notifier_stop(pk_notifier *nf)
{
    if (!nf) return;
    pthread_mutex_lock(&nf->mu);
    __atomic_store_n(&nf->stop, 1, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&nf->cv);
    pthread_mutex_unlock(&nf->mu);
    for (size_t i = 0; i < nf->n_targets; i++)
        if (nf->targets[i].started) pthread_join(nf->targets[i].thread, NULL);
    /* Jobs still queued: each is freed once, by its last holder. */
    for (size_t i = 0; i < nf->n_targets; i++) {
        target *t = &nf->targets[i];
        for (size_t k = t->head; k < t->n; k++)
            if (--t->queue[k]->remaining == 0) job_free(t->queue[k]);
        target_clear(t);
    }
    free(nf->targets);
    free(nf->done);
    free(nf->host);
    pthread_cond_destroy(&nf->cv);
    pthread_mutex_destroy(&nf->mu);
    free(nf);
}
