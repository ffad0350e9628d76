/* Mounts for fs and netfs pools: reading /proc/self/mountinfo, finding a
 * pool's mount in it, and the mount/umount command lines libvirt uses.
 *
 * A block device is recognised in mountinfo by its major:minor, never by the
 * source string (which may be any of its names, or stale after a rename).
 * Network filesystems have no device: they are recognised by their mount
 * point, filesystem type and source. */
#pragma once
#include "runner.h"
#include "../desired/model.h"
#include <sys/types.h>

typedef struct {
    int id, parent_id;
    unsigned major, minor;
    char *root;          /* path inside the filesystem that is mounted */
    char *mount_point;   /* unescaped (\040 -> ' ') */
    char *options;       /* per mount: "rw,nosuid,nodev" */
    char *fstype;        /* "ext4", "nfs4", "fuse.glusterfs" */
    char *source;        /* "/dev/loop0", "host:/dir", "//host/share" */
    char *super_options;
} pk_mount_entry;

typedef struct {
    pk_mount_entry *v;
    size_t n;
} pk_mountinfo;

/* Parse the text of a mountinfo file (proc(5) format). `what` names it in
 * error messages. A malformed line is an error: a half-read table could
 * make a mounted device look free. */
int pk_mountinfo_parse(const char *text, size_t len, const char *what, pk_mountinfo *out,
                       pk_err **err);
/* Read and parse /proc/self/mountinfo (or the file set for tests). */
int pk_mountinfo_read(pk_mountinfo *out, pk_err **err);
void pk_mountinfo_clear(pk_mountinfo *mi);

/* The entry mounted last (topmost) on exactly this path, or NULL. */
const pk_mount_entry *pk_mountinfo_at(const pk_mountinfo *mi, const char *mount_point);
/* Entries of the block device major:minor, one at a time: start with
 * *pos = 0; returns NULL when there are no more. */
const pk_mount_entry *pk_mountinfo_next_dev(const pk_mountinfo *mi, unsigned major,
                                            unsigned minor, size_t *pos);

/* What the pool's mount source is: the device path for fs pools, HOST:DIR
 * for nfs, auto and glusterfs, //HOST/DIR for cifs (libvirt's strings).
 * NULL with an error when the definition lacks what it needs. */
char *pk_mount_source(const pk_pool *def, pk_err **err);
/* `mount -o nodev,nosuid,noexec[,...] [-t TYPE] SRC TARGET` exactly as
 * libvirt builds it on Linux (the -linux.argv files of the conformance pool-argv cases). */
pk_cmd *pk_mount_cmd(const pk_pool *def, pk_err **err);
/* `umount TARGET`. */
pk_cmd *pk_umount_cmd(const pk_pool *def, pk_err **err);

/* Whether entry `e` (found on the pool's target) is the pool's own mount:
 * for fs pools the device `rdev` (major:minor), for netfs pools the
 * filesystem type family and the source, compared without regard to
 * repeated or trailing slashes. */
bool pk_mount_entry_is_pool(const pk_mount_entry *e, const pk_pool *def, dev_t rdev);

/* Refuse, with "... is not supported by this kernel", a filesystem type the
 * running kernel cannot mount (read from /proc/filesystems; FUSE types need
 * "fuse" and their mount helper). `fstype` is the -t value, or "nfs" for
 * netfs format auto. */
int pk_mount_check_kernel(const char *fstype, pk_err **err);

/* Tests: read these files instead of /proc/self/mountinfo and
 * /proc/filesystems (NULL restores the real ones). */
void pk_mount_set_proc_files(const char *mountinfo, const char *filesystems);
