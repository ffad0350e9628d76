/* The pieces of connecting to Ceph that need no cluster: the key taken from
 * a secret (both forms, refusals that never show the secret), the monitor
 * probe against fake servers on 127.0.0.1 (msgr v1 and v2 banners, a
 * service that is not Ceph, a closed port), <backingStore> snapshot paths,
 * and the errors an rbd pool gets before any network traffic. */
#include "../tap.h"
#include "../../backends/rbd.h"
#include "../../backends/rbd_conn.h"
#include "../../backends/secret.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>

/* A real key as `ceph-authtool --gen-print-key` makes them, and its bytes. */
static const char key_b64[] = "AQCxxQhrNq1TChAAMSC0YoXUvT1u7dDZPgKo/w==";
static const unsigned char key_raw[] = {
    0x01, 0x00, 0xb1, 0xc5, 0x08, 0x6b, 0x36, 0xad, 0x53, 0x0a, 0x10, 0x00, 0x31, 0x20,
    0xb4, 0x62, 0x85, 0xd4, 0xbd, 0x3d, 0x6e, 0xed, 0xd0, 0xd9, 0x3e, 0x02, 0xa8, 0xff,
};

static void test_keys(void)
{
    char *key = NULL;
    pk_err *e = NULL;
    tap_ok(pk_ceph_key_from_secret(key_b64, strlen(key_b64), "s", &key, &e) == 0, "base64 key accepted");
    tap_is_str(key, key_b64, "base64 key used as it is");
    free(key);
    _cleanup_free_ char *nl = pk_asprintf("%s\n", key_b64);
    tap_ok(pk_ceph_key_from_secret(nl, strlen(nl), "s", &key, &e) == 0, "base64 key with a final newline accepted");
    tap_is_str(key, key_b64, "the newline is not part of the key");
    free(key);
    tap_ok(pk_ceph_key_from_secret((const char *)key_raw, sizeof(key_raw), "s", &key, &e) == 0,
           "raw key bytes (libvirt's secret value) accepted");
    tap_is_str(key, key_b64, "raw bytes are base64-encoded for librados");
    free(key);

    const char *bad[] = { "hunter2-not-a-key", "AQCxxQhrNq1TChAAMSC0YoXU", "", "AQCx xQhr" };
    for (size_t i = 0; i < PK_NELEM(bad); i++) {
        e = NULL;
        key = NULL;
        int r = pk_ceph_key_from_secret(bad[i], strlen(bad[i]), "usage:ceph", &key, &e);
        tap_ok(r < 0 && !key, "not a key refused (case %zu)", i);
        _cleanup_free_ char *msg = e ? pk_err_str(e) : pk_strdup("");
        tap_ok(strstr(msg, "usage:ceph") && (!*bad[i] || !strstr(msg, bad[i])),
               "the refusal names the secret, never its content (case %zu)", i);
        pk_err_free(e);
    }
    /* One byte off in the length field: not a Ceph key. */
    unsigned char broken[sizeof(key_raw)];
    memcpy(broken, key_raw, sizeof(broken));
    broken[10] = 15;
    e = NULL;
    tap_ok(pk_ceph_key_from_secret((const char *)broken, sizeof(broken), "s", &key, &e) < 0,
           "raw bytes with a wrong length field refused");
    pk_err_free(e);
}

/* ---- fake monitors ---- */

typedef struct {
    int fd;
    const char *banner;
} fake_server;

static void *serve_once(void *arg)
{
    fake_server *s = arg;
    int c = accept(s->fd, NULL, NULL);
    if (c >= 0) {
        if (s->banner && write(c, s->banner, strlen(s->banner)) < 0) { /* the probe reports it */ }
        char buf[64];
        while (read(c, buf, sizeof(buf)) > 0) { }
        close(c);
    }
    return NULL;
}

static int listen_any(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0)
        tap_bail("cannot listen on 127.0.0.1");
    *port = ntohs(a.sin_port);
    return fd;
}

static void probe_fake(const char *banner, const char *want_prefix, const char *what)
{
    int port;
    fake_server s = { .fd = listen_any(&port), .banner = banner };
    pthread_t th;
    pthread_create(&th, NULL, serve_once, &s);
    char *addr = NULL;
    pk_err *e = NULL;
    int r = pk_ceph_mon_probe("127.0.0.1", port, 2000, &addr, &e);
    if (want_prefix) {
        _cleanup_free_ char *want = pk_asprintf("%s:127.0.0.1:%d", want_prefix, port);
        tap_ok(r == 0, "%s: probe succeeds", what);
        tap_is_str(addr, want, "%s: typed address", what);
    } else {
        _cleanup_free_ char *msg = e ? pk_err_str(e) : pk_strdup("");
        tap_ok(r < 0 && strstr(msg, "Ceph monitors unreachable") && strstr(msg, "not a Ceph monitor"),
               "%s: refused as not a monitor", what);
        if (r == 0) tap_diag("got %s", addr);
    }
    free(addr);
    pk_err_free(e);
    shutdown(s.fd, SHUT_RDWR);
    pthread_join(th, NULL);
    close(s.fd);
}

static void test_probe(void)
{
    probe_fake("ceph v027\x00\x00\x00", "v1", "msgr v1 banner");
    probe_fake("ceph v2\n\x10\x00", "v2", "msgr v2 banner");
    probe_fake("SSH-2.0-OpenSSH_9.2\r\n", NULL, "another service");

    int port;
    int fd = listen_any(&port);
    close(fd);   /* nothing listens there now */
    char *addr = NULL;
    pk_err *e = NULL;
    int64_t t0 = pk_monotonic_ms();
    int r = pk_ceph_mon_probe("127.0.0.1", port, 5000, &addr, &e);
    _cleanup_free_ char *msg = e ? pk_err_str(e) : pk_strdup("");
    tap_ok(r < 0 && strstr(msg, "Ceph monitors unreachable") && strstr(msg, "refused"),
           "closed port: unreachable, connection refused");
    tap_ok(pk_monotonic_ms() - t0 < 2000, "closed port fails at once");
    tap_diag("%s", msg);
    pk_err_free(e);
}

static void test_snap_paths(void)
{
    char *pool, *image, *snap;
    pk_err *e = NULL;
    tap_ok(pk_rbd_parse_snap_path("rbd/base@gold", &pool, &image, &snap, &e) == 0, "POOL/IMAGE@SNAP parsed");
    tap_is_str(pool, "rbd", "pool");
    tap_is_str(image, "base", "image");
    tap_is_str(snap, "gold", "snapshot");
    free(pool);
    free(image);
    free(snap);
    const char *bad[] = { "rbd/base", "base@gold", "/base@gold", "rbd/@gold", "rbd/base@", "rbd/a/b@s", "rbd/a@b@c" };
    for (size_t i = 0; i < PK_NELEM(bad); i++) {
        e = NULL;
        tap_ok(pk_rbd_parse_snap_path(bad[i], &pool, &image, &snap, &e) < 0 && !pool, "'%s' refused", bad[i]);
        pk_err_free(e);
    }
}

/* Errors that come before any connection: the secret's file checks (no
 * mon is contacted: the pool points at a closed port it never reaches). */
static void test_secret_errors(void)
{
    _cleanup_free_ char *dir = tap_tmpdir("rbd-secrets");
    chmod(dir, 0700);
    pk_pool def = { .type = PK_POOL_RBD, .name = "ceph", .file = "pools/ceph.xml", .line = 1 };
    pk_pool_host host = { .name = "127.0.0.1", .port = 1 };
    def.source.name = "rbd";
    def.source.hosts = &host;
    def.source.n_hosts = 1;
    def.source.auth.type = PK_AUTH_CEPH;
    def.source.auth.username = "poolkeeper";
    def.source.auth.secret.usage = "ceph";
    pk_bctx c = { .secrets_dir = dir };
    const pk_backend *b = pk_backend_for(PK_POOL_RBD);
    tap_ok(b && b->observe_pool, "this build has the rbd backend");
    if (!b) return;

    pk_obs_pool out = { 0 };
    pk_err *e = NULL;
    tap_ok(b->observe_pool(&c, &def, &out, &e) < 0, "missing secret file: observe fails");
    _cleanup_free_ char *m1 = e ? pk_err_str(e) : pk_strdup("");
    tap_ok(strstr(m1, "usage:ceph") && strstr(m1, "does not exist"), "the message names the missing file");
    pk_err_free(e);

    _cleanup_free_ char *path = pk_asprintf("%s/usage:ceph", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, key_b64, strlen(key_b64)) < 0) tap_bail("cannot write %s", path);
    fchmod(fd, 0644);
    close(fd);
    e = NULL;
    tap_ok(b->observe_pool(&c, &def, &out, &e) < 0, "secret readable by others: observe fails");
    _cleanup_free_ char *m2 = e ? pk_err_str(e) : pk_strdup("");
    tap_ok(strstr(m2, "0600") && !strstr(m2, key_b64), "the message asks for mode 0600 and shows no key");
    pk_err_free(e);

    chmod(path, 0600);
    e = NULL;
    tap_ok(b->observe_pool(&c, &def, &out, &e) < 0, "a good secret, a closed port: observe fails");
    _cleanup_free_ char *m3 = e ? pk_err_str(e) : pk_strdup("");
    tap_ok(strstr(m3, "Ceph monitors unreachable at '127.0.0.1:1'"), "unreachable monitors named");
    tap_diag("%s", m3);
    pk_err_free(e);

    pk_opt bad_opt = { .name = "no_such_ceph_option", .value = "1" };
    def.config_opts = &bad_opt;
    def.n_config_opts = 1;
    def.source.n_hosts = 0;   /* fail on the option, before any connection */
    e = NULL;
    tap_ok(b->observe_pool(&c, &def, &out, &e) < 0, "unknown rbd:config_opts option: observe fails");
    _cleanup_free_ char *m4 = e ? pk_err_str(e) : pk_strdup("");
    tap_ok(strstr(m4, "pools/ceph.xml:1") && strstr(m4, "unknown Ceph option 'no_such_ceph_option'"),
           "the unknown option is named at its file");
    pk_err_free(e);
    pk_obs_pool_clear(&out);
    if (b->close) b->close(&c);
    tap_ok(c.priv == NULL, "no connection is left cached after failures");
}

int main(void)
{
    test_keys();
    test_probe();
    test_snap_paths();
    test_secret_errors();
    return tap_done();
}
