/* The fs and netfs backends: mounted filesystems whose volumes are files. */
#pragma once
#include "backend.h"

extern const pk_backend pk_backend_fs;
extern const pk_backend pk_backend_netfs;
