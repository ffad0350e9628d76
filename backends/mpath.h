/* The mpath backend: the machine's device-mapper multipath maps, listed
 * with libdevmapper, as the volumes of one pool. */
#pragma once
#include "backend.h"

extern const pk_backend pk_backend_mpath;
