/* Connections that network backends keep open for the length of one engine
 * session (pk_bctx), so that observing a pool, listing its volumes and
 * acting on them log in once: a RADOS cluster handle, an iSCSI session.
 *
 * They hang off pk_bctx.priv, which this module owns. Entries are found by
 * backend kind and a key the backend builds from everything that shapes the
 * connection (hosts, user, secret reference, options), never from secret
 * values. A backend's close() drops its kind; an operation that finds its
 * connection broken drops that one entry, so the next one reconnects. */
#pragma once
#include "backend.h"

typedef void (*pk_conn_drop_fn)(void *handle);

/* The handle stored under (kind, key), or NULL. */
void *pk_conn_find(pk_bctx *c, const char *kind, const char *key);
/* Store handle under (kind, key); `drop` releases it. The pair must be new. */
void pk_conn_add(pk_bctx *c, const char *kind, const char *key, void *handle, pk_conn_drop_fn drop);
/* Release the entry (kind, key), if any. */
void pk_conn_drop(pk_bctx *c, const char *kind, const char *key);
/* Release every entry of `kind` (a backend's close()). */
void pk_conn_drop_kind(pk_bctx *c, const char *kind);
