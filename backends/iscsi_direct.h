/* The iscsi-direct backend: the LUNs of one iSCSI target, seen through
 * libiscsi's own initiator (no kernel, no iscsiadm), as libvirt's
 * storage_backend_iscsi_direct.c sees them. An initiator cannot create,
 * resize or delete LUNs: the backend only observes. */
#pragma once
#include "backend.h"

extern const pk_backend pk_backend_iscsi_direct;

/* libvirt's portal text: "HOST:3260" without a port, "HOST:PORT" or
 * "[HOST]:PORT" (IPv6) with one. */
char *pk_iscsi_direct_portal(const pk_pool *def);
