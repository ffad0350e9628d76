/* The per pool type table (libvirt's poolTypeInfo[]). */
#include "pool_types.h"

static const pk_pool_type_info infos[PK_POOL_TYPE_LAST] = {
    [PK_POOL_DIR] = { 0 },
    [PK_POOL_FS] = {
        .flags = PK_SRC_DEVICE,
        .has_format = true, .default_format = PK_FS_AUTO,
        .format_to_string = pk_fs_format_to_string,
        .format_from_string = pk_fs_format_from_string,
        .ns = PK_POOL_NS_FS,
    },
    [PK_POOL_NETFS] = {
        .flags = PK_SRC_HOST | PK_SRC_DIR,
        .has_format = true, .default_format = PK_NETFS_AUTO,
        .format_to_string = pk_netfs_format_to_string,
        .format_from_string = pk_netfs_format_from_string,
        .ns = PK_POOL_NS_FS,
    },
    [PK_POOL_LOGICAL] = {
        .flags = PK_SRC_NAME | PK_SRC_DEVICE,
        .has_format = true, .default_format = PK_LOGICAL_LVM2,
        .format_to_string = pk_logical_format_to_string,
        .format_from_string = pk_logical_format_from_string,
    },
    [PK_POOL_DISK] = {
        .flags = PK_SRC_DEVICE,
        .has_format = true, .default_format = PK_DISK_UNKNOWN,
        .format_to_string = pk_disk_format_to_string,
        .format_from_string = pk_disk_format_from_string,
    },
    [PK_POOL_ISCSI] = {
        .flags = PK_SRC_HOST | PK_SRC_DEVICE | PK_SRC_INITIATOR_IQN,
    },
    [PK_POOL_ISCSI_DIRECT] = {
        .flags = PK_SRC_HOST | PK_SRC_DEVICE | PK_SRC_NETWORK | PK_SRC_INITIATOR_IQN,
    },
    [PK_POOL_SCSI] = {
        .flags = PK_SRC_ADAPTER,
    },
    [PK_POOL_MPATH] = { 0 },
    [PK_POOL_RBD] = {
        .flags = PK_SRC_HOST | PK_SRC_NETWORK | PK_SRC_NAME,
        .ns = PK_POOL_NS_RBD,
    },
    [PK_POOL_SHEEPDOG] = {
        .flags = PK_SRC_HOST | PK_SRC_NETWORK | PK_SRC_NAME,
    },
    [PK_POOL_GLUSTER] = {
        .flags = PK_SRC_HOST | PK_SRC_NETWORK | PK_SRC_NAME | PK_SRC_DIR,
    },
    [PK_POOL_ZFS] = {
        .flags = PK_SRC_NAME | PK_SRC_DEVICE,
    },
    [PK_POOL_VSTORAGE] = {
        .flags = PK_SRC_NAME,
    },
};

const pk_pool_type_info *pk_pool_type_info_get(pk_pool_type t)
{
    if ((int)t < 0 || t >= PK_POOL_TYPE_LAST) return NULL;
    return &infos[t];
}
