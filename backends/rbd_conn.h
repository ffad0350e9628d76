/* Connecting to a Ceph cluster the way an rbd pool's XML says (libvirt's
 * virStorageBackendRBDOpenRADOSConn), with the differences a reconciler
 * needs: the key comes from secrets.dir and never reaches argv, logs or
 * librados' own log; every monitor given with a port is probed first, so a
 * stopped cluster fails at once and a refused key fails as "authentication
 * failed" instead of a time-out; and the three ways of failing that
 * operators must tell apart have messages of their own:
 *
 *   "Ceph monitors unreachable at '...'"          nothing answers
 *   "Ceph authentication as 'client.X' failed ..." the key or user is refused
 *   "Ceph pool 'X' does not exist"                  connected, no such pool
 *
 * One cluster handle per distinct connection (hosts, user, secret reference,
 * options, ceph.conf) lives in the session's connection cache. */
#pragma once
#include "backend.h"
#include <rados/librados.h>

typedef struct pk_rados {
    rados_t cluster;
    char *mons;        /* the monitors as the XML gives them, for messages */
    char *entity;      /* "client.NAME", for messages */
    char *fsid;
} pk_rados;

/* The pool's cluster handle, connected (cached for the session). */
int pk_rados_connect(pk_bctx *c, const pk_pool *def, pk_rados **out, pk_err **err);
/* An I/O context on RADOS pool `name` (NULL = the pool's <source><name>). */
int pk_rados_open_pool(pk_rados *r, const char *name, rados_ioctx_t *io, pk_err **err);
/* Forget the pool's cached handle (after an error that may have broken it). */
void pk_rados_forget(pk_bctx *c, const pk_pool *def);
/* Close every cached handle (the backend's close()). */
void pk_rados_close_all(pk_bctx *c);
/* Whether librados' return code `rc` means the connection is gone. */
bool pk_rados_conn_broken(int rc);

/* ---- pieces, exposed for tests ---- */

/* The value for rados_conf_set("key") from a secret's bytes: libvirt keeps
 * the raw key bytes (what `virsh secret-set-value --base64` decodes), and
 * people write the base64 text `ceph auth get-key` prints (a final newline
 * allowed). Both are accepted; anything else is refused without showing it. */
int pk_ceph_key_from_secret(const char *value, size_t len, const char *secret_name, char **key,
                            pk_err **err);

typedef enum { PK_MON_V1 = 1, PK_MON_V2 = 2 } pk_mon_proto;
/* Connect to a monitor at host:port and read its banner ("ceph v027" for
 * msgr v1, "ceph v2\n" for msgr v2), so the address can be given to
 * librados typed: an untyped "host:port" makes a refused key look like a
 * time-out. *addr gets the numeric address as librados wants it
 * ("v1:127.0.0.1:6789", "v2:[::1]:3300"). -1 with *err when nothing answers
 * within timeout_ms or what answers is not a Ceph monitor. */
int pk_ceph_mon_probe(const char *host, int port, int timeout_ms, char **addr, pk_err **err);
