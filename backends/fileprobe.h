/* Observing the files of directory-backed pools (dir, fs, netfs): one entry
 * of the pool directory as a volume, its image format read from its header. */
#pragma once
#include "observed.h"

struct statx;

/* A file's identity: "DEV:INO", plus ":SEC.NSEC" of its birth time where
 * the filesystem records one. Inode numbers are handed out again at once
 * after a delete (ext4 does, in this project's own tests), so dev:ino alone
 * would take a new file for the old one. */
char *pk_file_identity(const struct statx *stx);
/* statx of an entry of dirfd (NULL name = dirfd itself) without following
 * links, with what pk_file_identity needs. 0 or -1 with errno. */
int pk_file_statx(int dirfd, const char *name, struct statx *stx);

struct pk_probe_cache;

/* How far to trust the filesystem while probing one pool. */
typedef struct {
    /* st_blocks == 0 means "all zeroes" (true of local filesystems; not of
     * some network and FUSE ones that report no blocks at all). */
    bool zero_blocks_is_sparse;
    bool btrfs;               /* files may carry FS_NOCOW_FL */
    bool labels;              /* SELinux runs: files carry labels worth reading */
    /* Results of earlier probes (backend.h); NULL = probe every file. */
    const struct pk_probe_cache *cache;
} pk_probe_opts;

/* The options for the filesystem that holds the directory fd. */
pk_probe_opts pk_probe_opts_for(int dirfd);
/* Whether SELinux runs here (selinuxfs mounted): labels mean something. */
bool pk_selinux_active(void);

/* A probe result as the text kept in the probe cache (one line), and back. The text
 * records the inode change time `ctime_ns` too: a result read back for a
 * file whose ctime differs (a chmod, a new label, a header rewritten with
 * its mtime put back) is refused (returns -1), as is anything malformed.
 * Only header facts are kept: never a secret. */
char *pk_probe_result_encode(const pk_obs_vol *v, int64_t ctime_ns);
int pk_probe_result_decode(const char *text, int64_t ctime_ns, pk_obs_vol *v);

/* Observe entry `name` of the directory dirfd (whose path is dirpath) into
 * *out, which must be cleared. Returns 1 when the entry does not exist (any
 * more), else 0: what could not be observed is in out->error. Never follows
 * a symbolic link: one is reported as a volume with an error. */
int pk_file_observe(int dirfd, const char *dirpath, const char *name,
                    const pk_probe_opts *opts, pk_obs_vol *out);

/* Image format from the first bytes of a file (at least 512 of `len` bytes
 * when the file has them); *encrypted is set for luks headers. */
int pk_probe_format(const unsigned char *buf, size_t len, bool *encrypted);

/* Read virtual size, backing file and encryption from a qcow2 header held in
 * buf (the file's first len bytes; fd to read past them). 0, or -1 with *err. */
int pk_qcow2_read_header(int fd, const unsigned char *buf, size_t len, pk_obs_vol *v, pk_err **err);
