/* The disk backend: a pool is a partition table on a whole device, its
 * volumes are the partitions (libfdisk for the table, libblkid for the
 * guard before writing one). */
#pragma once
#include "backend.h"

extern const pk_backend pk_backend_disk;

/* The device path of partition `n` of the disk whose canonical path is
 * `disk`, by libvirt's rule (libvirt_parthelper, 11.3): a 'p' between the
 * two when the disk's name ends in a digit, or when it is a device-mapper
 * device and part_separator='yes'; nothing otherwise. Caller frees. */
char *pk_disk_part_path(const char *disk, bool devmapper, pk_tristate part_separator, unsigned n);
