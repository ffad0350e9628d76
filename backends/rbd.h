/* The rbd backend: a pool is an existing RADOS pool, its volumes are RBD
 * images (librados + librbd, as libvirt's storage_backend_rbd.c). */
#pragma once
#include "backend.h"

/* Images being created carry this prefix plus the host's name until they
 * are complete (then renamed); observing skips them. */
#define PK_RBD_TMP_PREFIX ".pk-tmp-"

extern const pk_backend pk_backend_rbd;

/* "POOL/IMAGE@SNAP" (a <backingStore> path) split into its parts; -1 with
 * *err when it does not name a snapshot that way. Exposed for tests. */
int pk_rbd_parse_snap_path(const char *path, char **pool, char **image, char **snap, pk_err **err);
