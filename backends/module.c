/* Linked into every backend module (see module.h). */
#include "../controller/base/pk.h"
#include "module.h"

const char pk_backend_module_version[] = PK_VERSION_STRING;
