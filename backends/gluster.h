/* The gluster backend: a pool is a directory (<source><dir>, default '/')
 * of a gluster volume (<source><name>) reached with libgfapi; its volumes
 * are the files in it (libvirt's storage_backend_gluster.c observes and
 * deletes them; poolkeeper also creates, resizes and chmods them). */
#pragma once
#include "backend.h"

#define PK_GLUSTER_TMP_PREFIX ".pk-tmp-"

extern const pk_backend pk_backend_gluster;

/* libvirt's volume path and key: gluster://HOST[:PORT]/VOLUME/DIR/NAME
 * (NAME NULL: the pool's directory, with a trailing slash). */
char *pk_gluster_url(const pk_pool *def, const char *name);
