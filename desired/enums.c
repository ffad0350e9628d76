/* String tables of the storage XML enums, with libvirt's exact spellings
 * (src/conf/storage_conf.c, storage_adapter_conf.c, storage_source_conf.c,
 * storage_encryption_conf.c), and the per pool type volume format rules. */
#include "model.h"

PK_ENUM_IMPL(pk_pool_type, PK_POOL_TYPE_LAST,
             "dir", "fs", "netfs",
             "logical", "disk", "iscsi",
             "iscsi-direct", "scsi", "mpath",
             "rbd", "sheepdog", "gluster",
             "zfs", "vstorage")

PK_ENUM_IMPL(pk_fs_format, PK_FS_LAST,
             "auto", "ext2", "ext3",
             "ext4", "ufs", "iso9660", "udf",
             "gfs", "gfs2", "vfat", "hfs+", "xfs", "ocfs2",
             "vmfs")

PK_ENUM_IMPL(pk_netfs_format, PK_NETFS_LAST,
             "auto", "nfs", "glusterfs", "cifs")

PK_ENUM_IMPL(pk_disk_format, PK_DISK_LAST,
             "unknown", "dos", "dvh", "gpt",
             "mac", "bsd", "pc98", "sun", "lvm2")

PK_ENUM_IMPL(pk_logical_format, PK_LOGICAL_LAST,
             "unknown", "lvm2")

/* "default" is libvirt's name for "no type given"; the parser refuses it
 * written out, as libvirt does (VIR_XML_PROP_NONZERO). */
PK_ENUM_IMPL(pk_adapter_type, PK_ADAPTER_LAST,
             "default", "scsi_host", "fc_host")

PK_ENUM_IMPL(pk_auth_type, PK_AUTH_LAST,
             "none", "chap", "ceph")

PK_ENUM_IMPL(pk_refresh_vol_alloc, PK_REFRESH_VOL_LAST,
             "default", "capacity")

PK_ENUM_IMPL(pk_vol_type, PK_VOL_TYPE_LAST,
             "file", "block", "dir", "network",
             "netdir", "ploop")

PK_ENUM_IMPL(pk_img_format, PK_IMG_LAST,
             "none",
             "raw", "dir", "bochs",
             "cloop", "dmg", "iso",
             "vpc", "vdi",
             "fat", "vhd", "ploop",
             "cow", "qcow", "qcow2", "qed", "vmdk",
             "vhdx")

PK_ENUM_IMPL(pk_part_format, PK_PART_LAST,
             "none", "linux", "fat16",
             "fat32", "linux-swap",
             "linux-lvm", "linux-raid",
             "extended")

PK_ENUM_IMPL(pk_enc_format, PK_ENC_FORMAT_LAST,
             "default", "qcow", "luks", "luks2", "luks-any")

/* Which format family the volumes of a pool type use: libvirt's
 * poolTypeInfo[].volOptions. Pool types without one print no <format>. */
typedef enum { VOLFMT_NONE, VOLFMT_IMAGE, VOLFMT_PARTITION } volfmt_family;

static volfmt_family vol_format_family(pk_pool_type t)
{
    switch (t) {
    case PK_POOL_DIR:
    case PK_POOL_FS:
    case PK_POOL_NETFS:
    case PK_POOL_RBD:
    case PK_POOL_GLUSTER:
    case PK_POOL_VSTORAGE:
        return VOLFMT_IMAGE;
    case PK_POOL_DISK:
        return VOLFMT_PARTITION;
    case PK_POOL_LOGICAL:
    case PK_POOL_ISCSI:
    case PK_POOL_ISCSI_DIRECT:
    case PK_POOL_SCSI:
    case PK_POOL_MPATH:
    case PK_POOL_SHEEPDOG:
    case PK_POOL_ZFS:
    case PK_POOL_TYPE_LAST:
        break;
    }
    return VOLFMT_NONE;
}

int pk_vol_format_from_string(pk_pool_type t, const char *s)
{
    int f;
    switch (vol_format_family(t)) {
    case VOLFMT_IMAGE:
        f = pk_img_format_from_string(s);
        /* libvirt refuses "none" for image volumes (virStorageVolumeFormatFromString),
         * and 11.3.0 does not know "vhdx" at all: only the enum has a slot for it. */
        if (f == PK_IMG_NONE || f == PK_IMG_VHDX) return -1;
        return f;
    case VOLFMT_PARTITION:
        return pk_part_format_from_string(s);
    case VOLFMT_NONE:
        break;
    }
    return -1;
}

const char *pk_vol_format_to_string(pk_pool_type t, int fmt)
{
    switch (vol_format_family(t)) {
    case VOLFMT_IMAGE:
        return pk_img_format_to_string(fmt);
    case VOLFMT_PARTITION:
        return pk_part_format_to_string(fmt);
    case VOLFMT_NONE:
        break;
    }
    return NULL;
}

/* What a volume of this pool type is once created: the type libvirt's
 * backends give it on refresh (file for file systems, block for LVs,
 * partitions and LUNs, network for the network protocols). */
pk_vol_type pk_pool_default_vol_type(pk_pool_type t)
{
    switch (t) {
    case PK_POOL_DIR:
    case PK_POOL_FS:
    case PK_POOL_NETFS:
    case PK_POOL_VSTORAGE:
        return PK_VOL_FILE;
    case PK_POOL_LOGICAL:
    case PK_POOL_DISK:
    case PK_POOL_ISCSI:
    case PK_POOL_SCSI:
    case PK_POOL_MPATH:
    case PK_POOL_ZFS:
        return PK_VOL_BLOCK;
    case PK_POOL_ISCSI_DIRECT:
    case PK_POOL_RBD:
    case PK_POOL_SHEEPDOG:
    case PK_POOL_GLUSTER:
        return PK_VOL_NETWORK;
    case PK_POOL_TYPE_LAST:
        break;
    }
    return PK_VOL_FILE;
}

/* Names become file names, LV names, map keys and log fields, so beyond
 * libvirt's own rule (no '/') refuse what cannot be a single path component
 * and anything a line-oriented reader would choke on. */
#define PK_NAME_MAX 255

bool pk_name_valid(const char *name)
{
    if (!name || !*name) return false;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) return false;
    size_t len = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++, len++)
        if (*p == '/' || *p < 0x20 || *p == 0x7f) return false;
    return len <= PK_NAME_MAX;
}
