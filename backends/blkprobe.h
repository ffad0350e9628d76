/* What a block device holds, and whether it may be written: the guard in
 * front of every mkfs and every partition table change (libvirt's
 * virStorageBackendDeviceIsEmpty, with libblkid), plus the "in use" checks
 * libvirt leaves to mkfs and parted. */
#pragma once
#include "../controller/base/pk.h"
#include <sys/types.h>

typedef struct {
    bool empty;          /* no signature of any kind */
    bool ambivalent;     /* blkid found several filesystem signatures */
    char *fs_type;       /* blkid TYPE: "ext4", "xfs", "LVM2_member", ... or NULL */
    char *fs_usage;      /* blkid USAGE: "filesystem", "raid", "crypto", "other" */
    char *fs_uuid;
    char *pt_type;       /* blkid PTTYPE: "gpt", "dos", "sun", ... or NULL */
    char *pt_uuid;       /* PTUUID: GPT disk GUID or the dos disk id */
    uint64_t size;       /* bytes */
} pk_blk_probe;

/* Probe the device (or image file) at `path` for filesystem, RAID, crypto,
 * LVM signatures and partition tables. */
int pk_blk_probe_path(const char *path, pk_blk_probe *out, pk_err **err);
void pk_blk_probe_clear(pk_blk_probe *p);
/* For plans and messages: "ext4 filesystem (UUID 1b2c...)", "gpt partition
 * table", "LVM2_member signature (raid)", "no signature". Caller frees. */
char *pk_blk_probe_describe(const pk_blk_probe *p);

/* The block device at `path`: its device number, refusing anything else. */
int pk_blk_rdev(const char *path, dev_t *rdev, pk_err **err);

/* Refuse a device that is in use: mounted (itself or one of its
 * partitions, by major:minor in mountinfo), held by another device (sysfs
 * holders: dm, md, ...), or open exclusively by someone (O_EXCL open
 * fails with EBUSY). `what` says what was about to happen ("format",
 * "repartition"), for the message. */
int pk_blk_check_unused(const char *path, const char *what, pk_err **err);

/* Erase every signature blkid finds (as `wipefs --all`): before a
 * filesystem is made over something else, so that the old signature cannot
 * make the device ambiguous afterwards. `fd` is open read-write on the
 * device (exclusively). */
int pk_blk_wipe_fd(int fd, const char *path, pk_err **err);
