/* What a backend module (pk-backend-TYPE.so, loaded by registry.c) exports
 * besides its pk_backend table, which keeps the name its header declares
 * (pk_backend_rbd, ...). */
#pragma once

/* The poolkeeper version the module was built with (PK_VERSION_STRING).
 * A module installed by another version may disagree with this program on
 * the structures they share, so registry.c refuses it. */
#define PK_BACKEND_MODULE_VERSION_SYMBOL "pk_backend_module_version"
extern const char pk_backend_module_version[];
