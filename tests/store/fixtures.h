/* Helpers shared by the store tests: sample observations, file snapshots,
 * and running a test step in a child process. */
#pragma once
#include "../tap.h"
#include "../../store/store_priv.h"
#include <sys/stat.h>

/* A pk_observed of `n_pools` running dir pools "pool0".. each with `n_vols`
 * raw volumes "vol00000".. (capacity i MiB, identity "64769:<i>"). */
pk_observed *fx_observed(size_t n_pools, size_t n_vols);

/* The whole content of a file (NULL if unreadable) and its length. */
char *fx_read(const char *path, size_t *len);
/* Content and mtime of a file, to show it was not touched. */
typedef struct {
    char *data;
    size_t len;
    struct timespec mtime;
    bool exists;
} fx_snapshot;
void fx_snap(const char *path, fx_snapshot *s);
bool fx_unchanged(const char *path, const fx_snapshot *s);
void fx_snap_clear(fx_snapshot *s);
/* st_mode & 07777 of path, -1 if it does not exist. */
int fx_mode(const char *path);

/* Run fn(arg) in a forked child; what it writes to `out` (a pipe) comes back
 * in *ret_out. Returns the child's exit status (128+N if killed). The child
 * must leave with _exit (exit() would remove the test's temporary dirs). */
int fx_child(int (*fn)(void *arg, FILE *out), void *arg, char **ret_out);

/* An error's text for messages and matching (no "error: " prefix). */
char *fx_err(const pk_err *e);
