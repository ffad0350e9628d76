/* The desired state: every pool and volume of a desired-state repository at
 * one commit (or its work tree), each remembering where it came from. */
#pragma once
#include "model.h"

typedef struct {
    pk_pool *pool;            /* owned */
    pk_vol **vols;            /* owned, sorted by name */
    size_t n_vols;
} pk_desired_pool;

typedef struct pk_desired {
    char *commit;             /* full hex id; NULL for --worktree */
    char *ref;                /* what was asked for: "HEAD", "main", "v1"... or "worktree" */
    char *root;               /* repository path (or work tree) it was read from */
    bool worktree;
    char *subdir;             /* subdir as resolved (%H expanded), or NULL */
    pk_err *warnings;         /* problems that did not make the set invalid, e.g.
                               * a failed fetch when an earlier fetch was loaded */
    pk_desired_pool *pools;   /* sorted by name */
    size_t n_pools;
} pk_desired;

void pk_desired_free(pk_desired *d);
PK_DEFINE_CLEANUP(pk_desired, pk_desired_free)
const pk_desired_pool *pk_desired_find_pool(const pk_desired *d, const char *name);
const pk_vol *pk_desired_find_vol(const pk_desired_pool *p, const char *name);
/* "pools/default/a.xml:4 @3f2a9c1" (or "@worktree") for messages and plans. */
char *pk_desired_cite(const pk_desired *d, const char *file, int line);
/* Short (7 char) commit id, or "worktree". Points into d or a static string. */
const char *pk_desired_short(const pk_desired *d, char buf[16]);
