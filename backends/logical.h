/* The logical backend: a pool is an LVM volume group, its volumes are the
 * logical volumes (libvirt's storage_backend_logical.c, run through the LVM
 * tools; reports are read as JSON). */
#pragma once
#include "backend.h"

extern const pk_backend pk_backend_logical;
