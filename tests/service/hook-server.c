/* A webhook receiver for the service tests (libmicrohttpd, 127.0.0.1 only).
 *
 *   hook-server PORT|0 PORTFILE LOG [--key FILE] [--status N] [--delay MS]
 *
 * Listens on 127.0.0.1:PORT (0: any free port), writes the port to PORTFILE
 * once it accepts, and appends one line per POST to LOG:
 *
 *   <X-Poolkeeper-Event> <X-Poolkeeper-Delivery> sig=<ok|bad|none> <body>
 *
 * The signature is checked here with OpenSSL's EVP_MAC interface (poolkeeper
 * signs with HMAC()), keyed with FILE's contents minus trailing newlines.
 * --status answers every request with N (default 200), --delay waits MS
 * before answering. Runs until killed. */
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char *key;
static size_t key_len;
static unsigned status = 200;
static long delay_ms;
static FILE *log_file;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

typedef struct {
    char *body;
    size_t len;
} request;

static char *hex_hmac(const char *body, size_t len)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    OSSL_PARAM params[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
                            OSSL_PARAM_construct_end() };
    unsigned char md[64];
    size_t md_len = 0;
    char *out = NULL;
    if (EVP_MAC_init(ctx, (const unsigned char *)key, key_len, params) == 1 &&
        EVP_MAC_update(ctx, (const unsigned char *)body, len) == 1 && EVP_MAC_final(ctx, md, &md_len, sizeof(md)) == 1) {
        out = malloc(8 + 2 * md_len);
        strcpy(out, "sha256=");
        for (size_t i = 0; i < md_len; i++) sprintf(out + 7 + 2 * i, "%02x", md[i]);
    }
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return out;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **state)
{
    (void)cls, (void)url, (void)version;
    request *r = *state;
    if (!r) {
        *state = calloc(1, sizeof(request));
        return MHD_YES;
    }
    if (*upload_size) {
        r->body = realloc(r->body, r->len + *upload_size + 1);
        memcpy(r->body + r->len, upload, *upload_size);
        r->len += *upload_size;
        r->body[r->len] = '\0';
        *upload_size = 0;
        return MHD_YES;
    }
    if (delay_ms) {
        struct timespec ts = { delay_ms / 1000, (delay_ms % 1000) * 1000000 };
        nanosleep(&ts, NULL);
    }
    const char *ev = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Poolkeeper-Event");
    const char *id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Poolkeeper-Delivery");
    const char *sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Poolkeeper-Signature");
    const char *verdict = "none";
    if (sig) {
        char *want = key ? hex_hmac(r->body ? r->body : "", r->len) : NULL;
        verdict = want && strcmp(want, sig) == 0 ? "ok" : "bad";
        free(want);
    }
    pthread_mutex_lock(&log_mu);
    fprintf(log_file, "%s %s %s sig=%s %s\n", method, ev ? ev : "-", id ? id : "-", verdict,
            r->body ? r->body : "");
    fflush(log_file);
    pthread_mutex_unlock(&log_mu);
    static char answer[] = "thanks\n";
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(answer), answer, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void done(void *cls, struct MHD_Connection *c, void **state, enum MHD_RequestTerminationCode t)
{
    (void)cls, (void)c, (void)t;
    request *r = *state;
    if (r) free(r->body);
    free(r);
    *state = NULL;
}

static void read_key(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(2);
    }
    key = calloc(1, 4097);
    key_len = fread(key, 1, 4096, f);
    fclose(f);
    while (key_len && (key[key_len - 1] == '\n' || key[key_len - 1] == '\r')) key[--key_len] = '\0';
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: hook-server PORT PORTFILE LOG [--key FILE] [--status N] [--delay MS]\n");
        return 2;
    }
    for (int i = 4; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--key")) read_key(argv[i + 1]);
        else if (!strcmp(argv[i], "--status")) status = (unsigned)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--delay")) delay_ms = atol(argv[i + 1]);
    }
    log_file = fopen(argv[3], "a");
    if (!log_file) {
        perror(argv[3]);
        return 2;
    }
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])) };
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0,
                                            NULL, NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, &addr,
                                            MHD_OPTION_NOTIFY_COMPLETED, done, NULL, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "hook-server: cannot listen on port %s\n", argv[1]);
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", argv[2]);
    FILE *pf = fopen(tmp, "w");
    if (!pf) return 2;
    fprintf(pf, "%u\n", (unsigned)info->port);
    fclose(pf);
    rename(tmp, argv[2]);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sig;
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    fclose(log_file);
    free(key);
    return 0;
}
