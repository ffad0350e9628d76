/* Connecting to Ceph for rbd pools (see rbd_conn.h). */
#include "rbd_conn.h"
#include "conn_cache.h"
#include "secret.h"
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#define CONN_KIND "rbd"
/* libvirt sets 30 s for each; a stopped cluster is caught by the probe long
 * before, so these only bound a cluster that answers and then stalls. */
#define DEFAULT_MOUNT_TIMEOUT "30"
#define DEFAULT_MON_OP_TIMEOUT "30"
#define DEFAULT_OSD_OP_TIMEOUT "30"
#define PROBE_TIMEOUT_MS 5000

/* ---- base64 (the Ceph key's text form) ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_value(char ch)
{
    const char *p = ch ? strchr(b64, ch) : NULL;
    return p ? (int)(p - b64) : -1;
}

static char *b64_encode(const unsigned char *in, size_t n)
{
    char *out = pk_malloc((n + 2) / 3 * 4 + 1), *o = out;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < n) v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < n) v |= in[i + 2];
        *o++ = b64[(v >> 18) & 63];
        *o++ = b64[(v >> 12) & 63];
        *o++ = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        *o++ = i + 2 < n ? b64[v & 63] : '=';
    }
    *o = '\0';
    return out;
}

/* Strict decoding (padding required, nothing else allowed); NULL if the
 * text is not base64. */
static unsigned char *b64_decode(const char *in, size_t n, size_t *out_len)
{
    if (n == 0 || n % 4) return NULL;
    unsigned char *out = pk_malloc(n / 4 * 3);
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            char ch = in[i + k];
            if (ch == '=' && i + 4 == n && k >= 2) {
                pad++;
                v[k] = 0;
                continue;
            }
            v[k] = pad ? -1 : b64_value(ch);
            if (v[k] < 0) {
                explicit_bzero(out, n / 4 * 3);
                free(out);
                return NULL;
            }
        }
        unsigned w = (unsigned)v[0] << 18 | (unsigned)v[1] << 12 | (unsigned)v[2] << 6 | (unsigned)v[3];
        out[o++] = (unsigned char)(w >> 16);
        if (pad < 2) out[o++] = (unsigned char)(w >> 8);
        if (pad < 1) out[o++] = (unsigned char)w;
    }
    *out_len = o;
    return out;
}

/* A CryptoKey as Ceph encodes it: le16 type, 8 bytes of creation time,
 * le16 length, then that many secret bytes (16 for AES, type 1). */
static bool is_ceph_key(const unsigned char *k, size_t n)
{
    if (n < 12) return false;
    unsigned type = k[0] | (unsigned)k[1] << 8;
    unsigned len = k[10] | (unsigned)k[11] << 8;
    return type == 1 && len > 0 && 12 + (size_t)len == n;
}

int pk_ceph_key_from_secret(const char *value, size_t len, const char *secret_name, char **key,
                            pk_err **err)
{
    *key = NULL;
    size_t n = len;
    if (n && value[n - 1] == '\n') n--;
    if (n && value[n - 1] == '\r') n--;
    size_t raw_len = 0;
    unsigned char *raw = b64_decode(value, n, &raw_len);
    if (raw) {
        bool ok = is_ceph_key(raw, raw_len);
        explicit_bzero(raw, raw_len);
        free(raw);
        if (ok) {
            *key = pk_strndup(value, n);
            return 0;
        }
    } else if (is_ceph_key((const unsigned char *)value, len)) {
        *key = b64_encode((const unsigned char *)value, len);
        return 0;
    }
    return pk_fail(err, "secret '%s' does not hold a Ceph key: it must be the key's bytes "
                        "(as libvirt stores it) or its base64 text (as 'ceph auth get-key' prints it)",
                   secret_name);
}

static void key_free(char *key)
{
    if (!key) return;
    explicit_bzero(key, strlen(key));
    free(key);
}

/* ---- monitor probe ---- */

static int wait_fd(int fd, short events, int timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = events };
    int64_t end = pk_monotonic_ms() + timeout_ms;
    for (;;) {
        int left = (int)(end - pk_monotonic_ms());
        if (left < 0) left = 0;
        int r = poll(&p, 1, left);
        if (r > 0) return 0;
        if (r == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (errno != EINTR) return -1;
    }
}

/* Connect to one address and read 8 bytes of banner: the protocol, or -1
 * with errno (EPROTO: it answered, but not as a Ceph monitor). */
static int probe_addr(const struct addrinfo *ai, int timeout_ms)
{
    _cleanup_close_ int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                                    ai->ai_protocol);
    if (fd < 0) return -1;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        if (errno != EINPROGRESS) return -1;
        if (wait_fd(fd, POLLOUT, timeout_ms) < 0) return -1;
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) return -1;
        if (soerr) {
            errno = soerr;
            return -1;
        }
    }
    char banner[8];
    size_t got = 0;
    int64_t end = pk_monotonic_ms() + timeout_ms;
    while (got < sizeof(banner)) {
        int left = (int)(end - pk_monotonic_ms());
        if (wait_fd(fd, POLLIN, left > 0 ? left : 0) < 0) return -1;
        ssize_t r = read(fd, banner + got, sizeof(banner) - got);
        if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (r < 0) return -1;
        if (r == 0) {
            errno = EPROTO;
            return -1;
        }
        got += (size_t)r;
    }
    if (memcmp(banner, "ceph v2\n", 8) == 0) return PK_MON_V2;
    if (memcmp(banner, "ceph v02", 8) == 0) return PK_MON_V1;
    errno = EPROTO;
    return -1;
}

int pk_ceph_mon_probe(const char *host, int port, int timeout_ms, char **addr, pk_err **err)
{
    *addr = NULL;
    char portbuf[16];
    snprintf(portbuf, sizeof(portbuf), "%d", port);
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, portbuf, &hints, &res);
    if (rc != 0)
        return pk_fail(err, "Ceph monitors unreachable at '%s:%d': %s", host, port, gai_strerror(rc));
    int last = ECONNREFUSED;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int proto = probe_addr(ai, timeout_ms);
        if (proto < 0) {
            last = errno;
            continue;
        }
        char num[NI_MAXHOST];
        if (getnameinfo(ai->ai_addr, ai->ai_addrlen, num, sizeof(num), NULL, 0, NI_NUMERICHOST) != 0)
            continue;
        const char *v = proto == PK_MON_V2 ? "v2" : "v1";
        *addr = ai->ai_family == AF_INET6 ? pk_asprintf("%s:[%s]:%d", v, num, port)
                                          : pk_asprintf("%s:%s:%d", v, num, port);
        freeaddrinfo(res);
        return 0;
    }
    freeaddrinfo(res);
    if (last == EPROTO)
        return pk_fail(err, "Ceph monitors unreachable at '%s:%d': what answers there is not a Ceph monitor",
                       host, port);
    return pk_fail_errno(err, last, "Ceph monitors unreachable at '%s:%d'", host, port);
}

/* ---- the connection ---- */

static const char *opt_value(const pk_pool *def, const char *name)
{
    for (size_t i = 0; i < def->n_config_opts; i++)
        if (pk_streq(def->config_opts[i].name, name)) return def->config_opts[i].value;
    return NULL;
}

/* Everything that shapes the connection, and nothing secret. */
static char *cache_key(const pk_bctx *c, const pk_pool *def)
{
    pk_buf b = PK_BUF_INIT;
    pk_buf_addf(&b, "conf=%s\n", c->ceph_conf ? c->ceph_conf : "");
    if (def->source.auth.type == PK_AUTH_CEPH) {
        const pk_secret_ref *s = &def->source.auth.secret;
        pk_buf_addf(&b, "user=%s\nsecret=%s:%s\n", def->source.auth.username ? def->source.auth.username : "",
                    s->uuid ? "uuid" : "usage", s->uuid ? s->uuid : s->usage ? s->usage : "");
    }
    for (size_t i = 0; i < def->source.n_hosts; i++)
        pk_buf_addf(&b, "host=%s:%d\n", def->source.hosts[i].name, def->source.hosts[i].port);
    for (size_t i = 0; i < def->n_config_opts; i++)
        pk_buf_addf(&b, "opt=%s=%s\n", def->config_opts[i].name, def->config_opts[i].value);
    return pk_buf_steal(&b);
}

static char *mons_text(const pk_pool *def)
{
    pk_buf b = PK_BUF_INIT;
    for (size_t i = 0; i < def->source.n_hosts; i++) {
        const pk_pool_host *h = &def->source.hosts[i];
        if (i) pk_buf_addc(&b, ',');
        bool v6 = strchr(h->name, ':') != NULL;
        if (h->port) pk_buf_addf(&b, v6 ? "[%s]:%d" : "%s:%d", h->name, h->port);
        else pk_buf_add(&b, h->name);
    }
    if (!def->source.n_hosts) pk_buf_add(&b, "(mon_host of the Ceph configuration)");
    return pk_buf_steal(&b);
}

static void rados_free(void *p)
{
    pk_rados *r = p;
    if (!r) return;
    if (r->cluster) rados_shutdown(r->cluster);
    free(r->mons);
    free(r->entity);
    free(r->fsid);
    free(r);
}

static int conf_set(pk_rados *r, const char *name, const char *value, pk_err **err)
{
    int rc = rados_conf_set(r->cluster, name, value);
    if (rc < 0) return pk_fail_errno(err, -rc, "cannot set Ceph option '%s'", name);
    return 0;
}

/* mon_host for librados: each monitor with a port probed and typed; one
 * without a port is left to librados (it tries 3300 and 6789 itself). */
static int mon_host(const pk_pool *def, int timeout_ms, char **out, pk_err **err)
{
    pk_buf b = PK_BUF_INIT;
    pk_err *first = NULL;
    size_t usable = 0;
    for (size_t i = 0; i < def->source.n_hosts; i++) {
        const pk_pool_host *h = &def->source.hosts[i];
        _cleanup_free_ char *addr = NULL;
        if (!h->port) {
            addr = pk_strdup(h->name);
        } else {
            pk_err *e = NULL;
            if (pk_ceph_mon_probe(h->name, h->port, timeout_ms, &addr, &e) < 0) {
                if (!first) first = e;
                else pk_err_free(e);
                continue;
            }
        }
        if (usable++) pk_buf_addc(&b, ',');
        pk_buf_add(&b, addr);
    }
    if (!usable) {
        pk_buf_free(&b);
        pk_err_append(err, first);
        return -1;
    }
    pk_err_free(first);
    *out = pk_buf_steal(&b);
    return 0;
}

static int timeout_ms_of(const pk_pool *def)
{
    const char *v = opt_value(def, "client_mount_timeout");
    uint64_t s = 0;
    if (v && pk_parse_u64(v, 10, &s) == 0 && s > 0 && s * 1000 < PROBE_TIMEOUT_MS)
        return (int)(s * 1000);
    return PROBE_TIMEOUT_MS;
}

/* The pool's options: libvirt's defaults, then <rbd:config_opts>, which may
 * override them. Values of options that may hold keys are never shown. */
static int apply_options(pk_rados *r, const pk_pool *def, pk_err **err)
{
    static const char *const defaults[][2] = {
        { "client_mount_timeout", DEFAULT_MOUNT_TIMEOUT },
        { "rados_mon_op_timeout", DEFAULT_MON_OP_TIMEOUT },
        { "rados_osd_op_timeout", DEFAULT_OSD_OP_TIMEOUT },
        { "rbd_default_format", "2" },
    };
    for (size_t i = 0; i < PK_NELEM(defaults); i++)
        if (conf_set(r, defaults[i][0], defaults[i][1], err) < 0) return -1;
    for (size_t i = 0; i < def->n_config_opts; i++) {
        const pk_opt *o = &def->config_opts[i];
        if (!o->name || !*o->name)
            return pk_fail_at(err, def->file, def->line, "<rbd:option> of pool '%s' has an empty name",
                              def->name);
        if (!o->value || !*o->value)
            return pk_fail_at(err, def->file, def->line, "<rbd:option name='%s'> of pool '%s' has an empty value",
                              o->name, def->name);
        int rc = rados_conf_set(r->cluster, o->name, o->value);
        bool secretish = strstr(o->name, "key") || strstr(o->name, "secret");
        if (rc == -ENOENT)
            return pk_fail_at(err, def->file, def->line, "unknown Ceph option '%s' in <rbd:config_opts> of pool '%s'",
                              o->name, def->name);
        if (rc < 0 && secretish)
            return pk_fail_at(err, def->file, def->line, "invalid value for Ceph option '%s' in <rbd:config_opts> of pool '%s'",
                              o->name, def->name);
        if (rc < 0)
            return pk_fail_at(err, def->file, def->line, "invalid value '%s' for Ceph option '%s' in <rbd:config_opts> of pool '%s'",
                              o->value, o->name, def->name);
    }
    return 0;
}

static int set_key(pk_bctx *c, pk_rados *r, const pk_pool *def, pk_err **err)
{
    const pk_auth *a = &def->source.auth;
    const char *sname = a->secret.uuid ? a->secret.uuid : a->secret.usage;
    char *value = NULL;
    size_t len = 0;
    if (pk_secret_read(c->secrets_dir, &a->secret, &value, &len, err) < 0)
        return pk_wrap(err, "cannot read the Ceph key of pool '%s'", def->name);
    char *key = NULL;
    int rc = pk_ceph_key_from_secret(value, len, sname ? sname : "", &key, err);
    pk_secret_free(value, len);
    if (rc < 0) return -1;
    rc = rados_conf_set(r->cluster, "key", key);
    key_free(key);
    if (rc < 0) return pk_fail_errno(err, -rc, "cannot give librados the key of pool '%s'", def->name);
    return conf_set(r, "auth_supported", "cephx", err);
}

static int connect_new(pk_bctx *c, const pk_pool *def, pk_rados *r, pk_err **err)
{
    const pk_auth *a = &def->source.auth;
    bool cephx = a->type == PK_AUTH_CEPH;
    if (a->type != PK_AUTH_NONE && !cephx)
        return pk_fail(err, "pool '%s': rbd pools take <auth type='ceph'>, not '%s'", def->name,
                       pk_auth_type_to_string(a->type));
    const char *user = cephx ? a->username : NULL;
    r->entity = pk_asprintf("client.%s", user ? user : "admin");
    r->mons = mons_text(def);
    int rc = rados_create(&r->cluster, user);
    if (rc < 0) return pk_fail_errno(err, -rc, "cannot create a RADOS handle");

    /* The configuration file first, so that the pool's settings win. */
    rc = rados_conf_read_file(r->cluster, c->ceph_conf);
    if (rc < 0 && c->ceph_conf)
        return pk_fail_errno(err, -rc, "cannot read the Ceph configuration '%s'", c->ceph_conf);
    /* librados must never print: its messages may quote a key. */
    if (conf_set(r, "log_to_stderr", "false", err) < 0 || conf_set(r, "err_to_stderr", "false", err) < 0)
        return -1;
    if (cephx) {
        if (set_key(c, r, def, err) < 0) return -1;
    } else if (conf_set(r, "auth_supported", "none", err) < 0) {
        return -1;
    }
    /* As libvirt: the monitors, the defaults, then <rbd:config_opts>, which
     * may override anything before them. */
    if (def->source.n_hosts) {
        _cleanup_free_ char *mh = NULL;
        if (mon_host(def, timeout_ms_of(def), &mh, err) < 0) return -1;
        if (conf_set(r, "mon_host", mh, err) < 0) return -1;
    }
    if (apply_options(r, def, err) < 0) return -1;

    rc = rados_connect(r->cluster);
    if (rc == -EACCES || rc == -EPERM)
        return pk_fail(err, "Ceph authentication as '%s' failed at '%s': the monitors refused the key",
                       r->entity, r->mons);
    if (rc == -ENOENT && !cephx)
        return pk_fail(err, "Ceph authentication as '%s' failed at '%s': no key (the pool has no <auth> and the Ceph configuration names no keyring)",
                       r->entity, r->mons);
    if (rc == -ETIMEDOUT) {
        const char *t = opt_value(def, "client_mount_timeout");
        return pk_fail(err, "Ceph monitors unreachable at '%s': no answer within %s s", r->mons,
                       t ? t : DEFAULT_MOUNT_TIMEOUT);
    }
    if (rc < 0)
        return pk_fail_errno(err, -rc, "cannot connect to the Ceph cluster at '%s' as '%s'", r->mons, r->entity);
    char fsid[64] = "";
    if (rados_cluster_fsid(r->cluster, fsid, sizeof(fsid)) >= 0)
        r->fsid = pk_strdup(fsid);
    return 0;
}

int pk_rados_connect(pk_bctx *c, const pk_pool *def, pk_rados **out, pk_err **err)
{
    _cleanup_free_ char *key = cache_key(c, def);
    pk_rados *r = pk_conn_find(c, CONN_KIND, key);
    if (r) {
        *out = r;
        return 0;
    }
    r = PK_NEW(pk_rados);
    if (connect_new(c, def, r, err) < 0) {
        rados_free(r);
        return -1;
    }
    pk_conn_add(c, CONN_KIND, key, r, rados_free);
    *out = r;
    return 0;
}

int pk_rados_open_pool(pk_rados *r, const char *name, rados_ioctx_t *io, pk_err **err)
{
    int rc = rados_ioctx_create(r->cluster, name, io);
    if (rc == -ENOENT) return pk_fail(err, "Ceph pool '%s' does not exist", name);
    if (rc < 0) return pk_fail_errno(err, -rc, "cannot open Ceph pool '%s'", name);
    return 0;
}

void pk_rados_forget(pk_bctx *c, const pk_pool *def)
{
    _cleanup_free_ char *key = cache_key(c, def);
    pk_conn_drop(c, CONN_KIND, key);
}

void pk_rados_close_all(pk_bctx *c)
{
    pk_conn_drop_kind(c, CONN_KIND);
}

bool pk_rados_conn_broken(int rc)
{
    /* ESHUTDOWN is how librados reports a client the cluster blocklisted. */
    return rc == -ETIMEDOUT || rc == -ENOTCONN || rc == -ESHUTDOWN || rc == -ECONNRESET;
}
