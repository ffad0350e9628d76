/* The libvirt storage pool and volume XML model: typed structures, parse,
 * validate, format. Mirrors libvirt's virStoragePoolDef / virStorageVolDef
 * (src/conf/storage_conf.h) so that users' XML means exactly what it means
 * to libvirt. Parsing never touches storage. */
#pragma once
#include "../controller/base/pk.h"

/* ---------- enums (PK_ENUM tables give _to_string/_from_string) ---------- */

typedef enum {
    PK_POOL_DIR, PK_POOL_FS, PK_POOL_NETFS, PK_POOL_LOGICAL, PK_POOL_DISK,
    PK_POOL_ISCSI, PK_POOL_ISCSI_DIRECT, PK_POOL_SCSI, PK_POOL_MPATH,
    PK_POOL_RBD, PK_POOL_SHEEPDOG, PK_POOL_GLUSTER, PK_POOL_ZFS, PK_POOL_VSTORAGE,
    PK_POOL_TYPE_LAST
} pk_pool_type;
PK_ENUM_DECL(pk_pool_type);

/* Per pool type source formats: values are the libvirt enum order of each. */
typedef enum {
    PK_FS_AUTO, PK_FS_EXT2, PK_FS_EXT3, PK_FS_EXT4, PK_FS_UFS, PK_FS_ISO,
    PK_FS_UDF, PK_FS_GFS, PK_FS_GFS2, PK_FS_VFAT, PK_FS_HFSPLUS, PK_FS_XFS,
    PK_FS_OCFS2, PK_FS_VMFS, PK_FS_LAST
} pk_fs_format;            /* "auto","ext2",...,"iso9660",...,"hfs+",... */
PK_ENUM_DECL(pk_fs_format);

typedef enum {
    PK_NETFS_AUTO, PK_NETFS_NFS, PK_NETFS_GLUSTERFS, PK_NETFS_CIFS, PK_NETFS_LAST
} pk_netfs_format;
PK_ENUM_DECL(pk_netfs_format);

typedef enum {
    PK_DISK_UNKNOWN, PK_DISK_DOS, PK_DISK_DVH, PK_DISK_GPT, PK_DISK_MAC,
    PK_DISK_BSD, PK_DISK_PC98, PK_DISK_SUN, PK_DISK_LVM2, PK_DISK_LAST
} pk_disk_format;
PK_ENUM_DECL(pk_disk_format);

typedef enum { PK_LOGICAL_UNKNOWN, PK_LOGICAL_LVM2, PK_LOGICAL_LAST } pk_logical_format;
PK_ENUM_DECL(pk_logical_format);

typedef enum { PK_ADAPTER_NONE, PK_ADAPTER_SCSI_HOST, PK_ADAPTER_FC_HOST, PK_ADAPTER_LAST } pk_adapter_type;
PK_ENUM_DECL(pk_adapter_type);   /* "", "scsi_host", "fc_host" */

typedef enum { PK_AUTH_NONE, PK_AUTH_CHAP, PK_AUTH_CEPH, PK_AUTH_LAST } pk_auth_type;
PK_ENUM_DECL(pk_auth_type);      /* "none", "chap", "ceph" */

typedef enum { PK_REFRESH_VOL_DEFAULT, PK_REFRESH_VOL_CAPACITY, PK_REFRESH_VOL_LAST } pk_refresh_vol_alloc;
PK_ENUM_DECL(pk_refresh_vol_alloc);

typedef enum {
    PK_VOL_FILE, PK_VOL_BLOCK, PK_VOL_DIR, PK_VOL_NETWORK, PK_VOL_NETDIR, PK_VOL_PLOOP,
    PK_VOL_TYPE_LAST
} pk_vol_type;
PK_ENUM_DECL(pk_vol_type);

/* File image formats: libvirt's virStorageFileFormat order and names. */
typedef enum {
    PK_IMG_NONE, PK_IMG_RAW, PK_IMG_DIR, PK_IMG_BOCHS, PK_IMG_CLOOP, PK_IMG_DMG,
    PK_IMG_ISO, PK_IMG_VPC, PK_IMG_VDI, PK_IMG_FAT, PK_IMG_VHD, PK_IMG_PLOOP,
    PK_IMG_COW, PK_IMG_QCOW, PK_IMG_QCOW2, PK_IMG_QED, PK_IMG_VMDK, PK_IMG_VHDX,
    PK_IMG_LAST
} pk_img_format;
PK_ENUM_DECL(pk_img_format);

/* Partition (disk pool volume) formats, libvirt's virStorageVolFormatDisk. */
typedef enum {
    PK_PART_NONE, PK_PART_LINUX, PK_PART_FAT16, PK_PART_FAT32, PK_PART_LINUX_SWAP,
    PK_PART_LINUX_LVM, PK_PART_LINUX_RAID, PK_PART_EXTENDED, PK_PART_LAST
} pk_part_format;
PK_ENUM_DECL(pk_part_format);

typedef enum { PK_ENC_DEFAULT, PK_ENC_QCOW, PK_ENC_LUKS, PK_ENC_LUKS2, PK_ENC_LUKS_ANY, PK_ENC_FORMAT_LAST } pk_enc_format;
PK_ENUM_DECL(pk_enc_format);

/* ---------- shared pieces ---------- */

/* A secret reference: by uuid or by usage (exactly one set). */
typedef struct {
    char *uuid;    /* canonical lowercase text form, or NULL */
    char *usage;
} pk_secret_ref;

typedef struct {
    int64_t mode;   /* -1 = not given */
    int64_t uid;    /* -1 = not given */
    int64_t gid;    /* -1 = not given */
    char *label;
} pk_perms;

typedef struct {
    int line;       /* line of the element in its file, for error messages */
} pk_srcpos;

/* ---------- pool ---------- */

typedef struct { char *name; int port; /* 0 = none */ } pk_pool_host;

typedef struct { uint64_t start, end; } pk_extent;

typedef struct {
    char *path;
    pk_tristate part_separator;
    pk_extent *free_extents;  /* parsed and ignored for output, as libvirt */
    size_t n_free_extents;
} pk_pool_device;

typedef struct {
    pk_adapter_type type;
    bool legacy;              /* <adapter name='host0'/> without type */
    /* scsi_host */
    char *name;
    bool has_parentaddr;
    unsigned unique_id;
    unsigned domain, bus, slot, function;  /* PCI address of parentaddr */
    /* fc_host */
    char *parent, *parent_wwnn, *parent_wwpn, *parent_fabric_wwn;
    char *wwnn, *wwpn;
    pk_tristate managed;
} pk_adapter;

typedef struct {
    pk_auth_type type;
    char *username;
    char *secret_type;        /* optional 'type' attribute of <secret> as given */
    pk_secret_ref secret;
} pk_auth;

typedef struct {
    pk_pool_host *hosts; size_t n_hosts;
    pk_pool_device *devices; size_t n_devices;
    char *dir;
    pk_adapter adapter;
    char *initiator_iqn;
    pk_auth auth;             /* type NONE when absent */
    char *name;
    int format;               /* per pool type enum above; -1 = not given */
    char *protocol_ver;       /* netfs <protocol ver=>; NULL = none */
    char *vendor;
    char *product;
} pk_pool_source;

typedef struct { char *name; char *value; } pk_opt;

typedef struct pk_pool {
    pk_pool_type type;
    char *name;
    unsigned char uuid[16];
    bool uuid_given;          /* false: generated at parse, as libvirt does */
    uint64_t capacity, allocation, available;  /* ignored on parse; live values */
    pk_tristate cow;          /* <features><cow state=/> */
    pk_refresh_vol_alloc refresh_vol_alloc; bool has_refresh;
    pk_pool_source source;
    char *target_path;
    pk_perms target_perms;
    /* namespaces */
    char **mount_opts;        /* fs:mount_opts option names (NULL-terminated) */
    pk_opt *config_opts; size_t n_config_opts;  /* rbd:config_opts */
    /* where it came from */
    char *file;               /* path as shown in messages */
    int line;                 /* line of <pool> */
    pk_srcpos pos_name, pos_target, pos_source;
} pk_pool;

/* ---------- volume ---------- */

typedef struct {
    char *name;               /* "aes" ... */
    unsigned size;
    char *mode, *hash;
} pk_cipher;

typedef struct {
    pk_enc_format format;
    pk_secret_ref *secrets; size_t n_secrets;  /* <secret type='passphrase' ...> */
    bool has_cipher; pk_cipher cipher;
    bool has_ivgen; char *ivgen_name, *ivgen_hash;
    int engine;               /* 0 = not given, 1 = "qemu", 2 = "librbd" */
} pk_encryption;

typedef struct {
    char *path;
    int format;               /* pk_img_format / pk_part_format; -1 = none */
    pk_perms perms;
} pk_backing_store;

typedef struct {
    char *path;
    uint64_t start, end;
} pk_vol_extent;

typedef struct {
    int64_t sec, nsec;        /* -1 sec = absent */
} pk_timestamp;

typedef struct {
    pk_timestamp atime, mtime, ctime, btime;   /* sec -1: absent */
} pk_vol_times;

typedef struct pk_vol {
    pk_vol_type type;
    bool type_given;
    char *name;
    char *key;
    uint64_t capacity;  bool has_capacity;
    uint64_t allocation; bool has_allocation;
    uint64_t physical;  bool has_physical;
    pk_vol_extent *extents; size_t n_extents;  /* <source><extent> (output only) */
    struct {
        char *path;
        int format;           /* image or partition format by pool type; -1 none */
        pk_perms perms;
        /* Output only (dumpxml, borrowed): a desired volume has none, and
         * a pointer keeps 100,000 of them 56 bytes smaller each. */
        const pk_vol_times *times;
        pk_encryption *encryption;  /* NULL = none */
        char *compat;         /* "0.10" / "1.1" */
        bool nocow;
        uint64_t cluster_size; bool has_cluster_size;
        bool lazy_refcounts;
        bool extended_l2;
        bool has_features;    /* <features> given, even empty (implies compat 1.1) */
    } target;
    pk_backing_store *backing;     /* NULL = none */
    /* where it came from */
    char *file;
    int line;
    pk_srcpos pos_name, pos_capacity, pos_allocation, pos_format;
} pk_vol;

/* ---------- API ---------- */

/* Parse flags (as libvirt's VIR_VOL_XML_PARSE_*). */
enum {
    PK_VOL_PARSE_NO_CAPACITY = 1 << 0,   /* capacity may be absent */
    PK_VOL_PARSE_OPT_CAPACITY = 1 << 1,  /* absent ok only with a backing store */
};

/* Hard limits applied to every input document (hostile input). */
#define PK_XML_MAX_BYTES (1024 * 1024)
#define PK_XML_MAX_DEPTH 64

/* Parse a <pool> document from memory. `file` names it in error messages.
 * Validates with libvirt's rules; every problem found is appended to *errs
 * (all of them, not only the first). Returns NULL if there was any error. */
pk_pool *pk_pool_parse(const char *data, size_t len, const char *file, pk_err **errs);
pk_pool *pk_pool_parse_file(const char *path, pk_err **errs);
void pk_pool_free(pk_pool *p);
PK_DEFINE_CLEANUP(pk_pool, pk_pool_free)
/* Canonical inactive XML, byte-identical to `virsh pool-dumpxml --inactive`. */
char *pk_pool_format(const pk_pool *p);

/* Parse a <volume> that belongs to `pool` (defaults and allowed formats depend
 * on the pool type, as in libvirt). */
pk_vol *pk_vol_parse(const pk_pool *pool, const char *data, size_t len, const char *file,
                     unsigned flags, pk_err **errs);
pk_vol *pk_vol_parse_file(const pk_pool *pool, const char *path, unsigned flags, pk_err **errs);
void pk_vol_free(pk_vol *v);
PK_DEFINE_CLEANUP(pk_vol, pk_vol_free)
char *pk_vol_format(const pk_pool *pool, const pk_vol *v);

/* Units: parse "<capacity unit='U'>N</capacity>" values with libvirt's rules
 * (virScaleInteger): unit NULL or "" = bytes; overflow is an error.
 * Returns 0 or -1 with a message in *msg (caller frees). */
int pk_scale_integer(const char *value, const char *unit, uint64_t *out, char **msg);

/* Helpers shared by model users. */
void pk_uuid_format(const unsigned char uuid[16], char out[37]);
int pk_uuid_parse(const char *s, unsigned char uuid[16]);   /* 0 ok, -1 bad */
void pk_uuid_generate(unsigned char uuid[16]);
/* A volume name valid for libvirt (no '/', not "." or "..", length). */
bool pk_name_valid(const char *name);
/* Which volume formats a pool type can hold, -1 if the pool type takes none. */
int pk_vol_format_from_string(pk_pool_type t, const char *s);
const char *pk_vol_format_to_string(pk_pool_type t, int fmt);
/* Default volume type for a pool type (file for dir/fs/netfs..., block for logical, ...). */
pk_vol_type pk_pool_default_vol_type(pk_pool_type t);
