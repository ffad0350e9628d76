/* The iscsi backend: a pool is an iSCSI target logged in with the kernel
 * initiator (open-iscsi's iscsiadm), its volumes are the target's LUNs. */
#pragma once
#include "backend.h"

extern const pk_backend pk_backend_iscsi;

/* open-iscsi's node database ("/etc/iscsi/nodes"; tests: a directory of
 * their own; NULL restores the default). */
void pk_iscsi_set_node_dir(const char *dir);

/* One line of `iscsiadm --mode session`, "tcp: [1] 127.0.0.1:3260,1
 * iqn.2024-01.org.example:t1 (non-flash)" (libvirt's pattern
 * ^tcp:\s+\[(\S+)\]\s+\S+\s+(\S+)): the session id and the target, which
 * the caller frees; false for any other line. */
bool pk_iscsi_parse_session(const char *line, char **sid, char **target);
