/* The vstorage backend: a Virtuozzo Storage cluster mounted with
 * vstorage-mount, whose volumes are files (handled as in dir pools). */
#pragma once
#include "backend.h"

extern const pk_backend pk_backend_vstorage;
