/* Helpers shared by the backends tests: hand-built pools and volumes, small
 * file utilities, and qemu-img run directly (the reference to compare with). */
#pragma once
#include "../tap.h"
#include "../../backends/dir.h"
#include <sys/stat.h>

pk_pool *tu_dir_pool(const char *path);
/* A file volume; allocation as libvirt's parser leaves it when absent. */
pk_vol *tu_vol(const char *name, int format, uint64_t capacity);
void tu_vol_alloc(pk_vol *v, uint64_t allocation);

void tu_write(const char *path, const char *content);
char *tu_read(const char *path);          /* NULL if unreadable */
bool tu_exists(const char *path);         /* lstat */
struct stat tu_lstat(const char *path);   /* zeroed when missing */
char *tu_identity(const char *path);      /* "dev:ino:btime" computed here, not by the backend */

/* Run a command through the runner; false (with a diagnostic) on failure. */
bool tu_run(const char *const *argv);
/* `qemu-img info --output=json` of path: virtual size, or -1. */
long long tu_qemu_virtual_size(const char *path);
/* The observed volume named `name` of a pool observation, or NULL. */
const pk_obs_vol *tu_find(const pk_obs_pool *p, const char *name);
/* The error text of e (freed with the error); NULL when e is NULL. */
char *tu_errstr(pk_err *e);
