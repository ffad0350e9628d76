/* The zfs backend: a pool is a ZFS pool or dataset, its volumes are zvols
 * (through the zpool and zfs programs). */
#pragma once
#include "backend.h"

extern const pk_backend pk_backend_zfs;
