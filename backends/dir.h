/* The dir backend: a pool is a directory, a volume is a file in it. Its
 * operations are exported for the backends whose pools are mounted
 * directories (fs, netfs), which add mounting around them. */
#pragma once
#include "backend.h"

extern const pk_backend pk_backend_dir;

int pk_dir_observe_pool(pk_bctx *c, const pk_pool *def, pk_obs_pool *out, pk_err **err);
int pk_dir_observe_vols(pk_bctx *c, const pk_pool *def, pk_obs_pool *out, pk_err **err);
int pk_dir_build(pk_bctx *c, const pk_pool *def, pk_err **err);
int pk_dir_start(pk_bctx *c, const pk_pool *def, pk_err **err);
int pk_dir_stop(pk_bctx *c, const pk_pool *def, pk_err **err);
int pk_dir_delete_pool(pk_bctx *c, const pk_pool *def, char *const *owned_vols, pk_err **err);
int pk_dir_create_vol(pk_bctx *c, const pk_pool *def, const pk_vol *vol, pk_obs_vol *out,
                      pk_err **err);
int pk_dir_resize_vol(pk_bctx *c, const pk_pool *def, const pk_vol *vol, const pk_obs_vol *cur,
                      uint64_t new_capacity, pk_obs_vol *out, pk_err **err);
int pk_dir_update_vol(pk_bctx *c, const pk_pool *def, const pk_vol *vol, const pk_obs_vol *cur,
                      pk_obs_vol *out, pk_err **err);
int pk_dir_delete_vol(pk_bctx *c, const pk_pool *def, const pk_obs_vol *cur, pk_err **err);
int pk_dir_sync(pk_bctx *c, const pk_pool *def, pk_err **err);

/* Volumes being created live under this prefix until their final rename;
 * observation never lists such names as volumes. */
#define PK_DIR_TMP_PREFIX ".pk-tmp-"
/* The temporary name of volume `name` (caller frees). */
char *pk_dir_tmp_name(const char *name);
/* 0 if `name` can name a volume file: a plain file name that does not
 * start with `tmp_prefix`, the backend's prefix for its temporary files
 * (PK_DIR_TMP_PREFIX here, gluster has its own). */
int pk_dir_check_vol_name(const char *name, const char *tmp_prefix, pk_err **err);
