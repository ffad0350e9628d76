/* How gluster and iscsi-direct volumes are named, keyed and reached, as
 * libvirt names them (storage_backend_gluster.c, storage_backend_iscsi_direct.c),
 * including the forms the test services cannot show: IPv6 hosts, default
 * ports, sub-directories with and without a trailing slash. */
#include "../tap.h"
#include "../../backends/gluster.h"
#include "../../backends/iscsi_direct.h"

static pk_pool pool_of(pk_pool_type t, const char *host, int port, pk_pool_host *h)
{
    pk_pool p = { .type = t, .name = "p" };
    h->name = (char *)host;
    h->port = port;
    p.source.hosts = h;
    p.source.n_hosts = 1;
    return p;
}

static void gluster_url(const char *host, int port, const char *dir, const char *name, const char *want)
{
    pk_pool_host h;
    pk_pool p = pool_of(PK_POOL_GLUSTER, host, port, &h);
    p.source.name = "vol";
    p.source.dir = (char *)dir;
    _cleanup_free_ char *got = pk_gluster_url(&p, name);
    tap_is_str(got, want, "gluster url of %s:%d %s %s", host, port, dir ? dir : "(no dir)", name ? name : "(pool)");
}

static void portal(const char *host, int port, const char *want)
{
    pk_pool_host h;
    pk_pool p = pool_of(PK_POOL_ISCSI_DIRECT, host, port, &h);
    _cleanup_free_ char *got = pk_iscsi_direct_portal(&p);
    tap_is_str(got, want, "iscsi-direct portal of %s port %d", host, port);
}

int main(void)
{
    gluster_url("example.com", 0, NULL, "img", "gluster://example.com/vol/img");
    gluster_url("example.com", 0, "/", "img", "gluster://example.com/vol/img");
    gluster_url("example.com", 24007, "/sub", "img", "gluster://example.com:24007/vol/sub/img");
    gluster_url("example.com", 0, "/sub/", "img", "gluster://example.com/vol/sub/img");
    gluster_url("::1", 24008, "/sub", "img", "gluster://[::1]:24008/vol/sub/img");
    gluster_url("example.com", 0, "/sub", NULL, "gluster://example.com/vol/sub/");

    portal("iscsi.example.com", 0, "iscsi.example.com:3260");
    portal("iscsi.example.com", 3261, "iscsi.example.com:3261");
    portal("fe80::1", 3261, "[fe80::1]:3261");
    portal("fe80::1", 0, "fe80::1:3260");   /* libvirt's own form: no brackets without a port */
    return tap_done();
}
