/* SCSI logical units of one SCSI host as pool volumes, shared by the scsi
 * and iscsi backends (libvirt's virStorageBackendSCSIFindLUs), read from
 * sysfs. Tests point the sysfs root at a tree of their own. */
#pragma once
#include "observed.h"

/* "/" normally; tests: a directory holding sys/... (NULL restores "/"). */
void pk_sysfs_set_root(const char *root);
/* ROOT + path ("/sys/class/scsi_host"); caller frees. */
char *pk_sysfs_path(const char *fmt, ...) PK_PRINTF(1, 2);

/* The first line of a small sysfs file, without its newline; NULL when
 * unreadable. Caller frees. */
char *pk_sysfs_read_line(const char *path);

/* Whether /sys/class/scsi_host/hostN exists. */
bool pk_scsi_host_exists(unsigned host);
/* Ask host N to scan for new LUNs ("- - -" into its scan file). */
int pk_scsi_host_scan(unsigned host, pk_err **err);

/* The disk (type 0) and CD-ROM (type 5) LUNs of host N as volumes of `out`
 * (replacing what it held, sorted by name), named "unit:B:T:L" as libvirt
 * names them, with the pool's capacity and allocation their sum. A LUN's
 * path is the first link in `target_path` that resolves to its /dev node
 * (or the node itself when the target is "/dev"); its key the SCSI serial
 * that udev's scsi_id reports, else the path. A LUN without such a link
 * (udev has not made it) is listed with an error, never left out. */
int pk_scsi_host_luns(unsigned host, const char *target_path, pk_obs_pool *out, pk_err **err);
