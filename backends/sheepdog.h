/* The sheepdog backend: parsed and validated, never served. */
#pragma once
#include "backend.h"

extern const pk_backend pk_backend_sheepdog;
