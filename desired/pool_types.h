/* Per pool type rules of the <pool> XML: which <source> parts a type uses
 * and requires, its source format table and its XML namespace.
 * Mirrors libvirt's poolTypeInfo[] (src/conf/storage_conf.c). Internal to
 * desired/: the parser and the formatter share it. */
#pragma once
#include "model.h"

enum {
    PK_SRC_HOST = 1 << 0,
    PK_SRC_DEVICE = 1 << 1,
    PK_SRC_DIR = 1 << 2,
    PK_SRC_ADAPTER = 1 << 3,
    PK_SRC_NAME = 1 << 4,
    PK_SRC_INITIATOR_IQN = 1 << 5,
    PK_SRC_NETWORK = 1 << 6,   /* no local target: no <target> at all */
};

/* XML namespaces a pool type's backend understands. */
typedef enum { PK_POOL_NS_NONE, PK_POOL_NS_FS, PK_POOL_NS_RBD } pk_pool_ns;

#define PK_POOL_NS_FS_URI "http://libvirt.org/schemas/storagepool/fs/1.0"
#define PK_POOL_NS_RBD_URI "http://libvirt.org/schemas/storagepool/rbd/1.0"

typedef struct {
    unsigned flags;           /* PK_SRC_* */
    bool has_format;          /* the type has a <source><format> table */
    int default_format;
    const char *(*format_to_string)(int fmt);
    int (*format_from_string)(const char *s);
    pk_pool_ns ns;
} pk_pool_type_info;

const pk_pool_type_info *pk_pool_type_info_get(pk_pool_type t);
