/* Loading the desired state from a git repository (libgit2) or its work tree
 * (design.md §2). Fail closed: any error anywhere yields no desired set. */
#pragma once
#include "desired.h"

typedef struct pk_repo_opts {
    const char *path;         /* local repository or work tree (NULL if remote) */
    const char *remote;       /* URL cloned/fetched into cache_dir */
    const char *branch;       /* NULL: HEAD (local) / the remote's default branch */
    const char *subdir;       /* may contain %H (short host name) */
    const char *ref;          /* any rev: commit, tag, branch; overrides branch */
    bool worktree;            /* read files on disk, not a commit */
    const char *cache_dir;    /* where remotes are cloned (state dir) */
    /* A fetch that has not finished after this long is given up (and the
     * commit fetched before is used, as for any failed fetch); 0: no limit.
     * The fetch then runs in a child process that is killed at the
     * deadline: libgit2 1.5 has no network timeout of its own. */
    int64_t fetch_timeout_ms;
} pk_repo_opts;

/* Load and check everything. All problems (every file, every cross-object
 * check) are appended to *errs, sorted by file and line; NULL is returned if
 * there was any. A remote is fetched into <cache_dir>/desired-<hash of the
 * URL>.git on every call; when the fetch fails but an earlier fetch holds the
 * wanted ref, that commit is loaded and the failure is put in d->warnings
 * (never nothing: with no earlier fetch the load fails). */
pk_desired *pk_repo_load(const pk_repo_opts *o, pk_err **errs);
/* pk_repo_load for a caller that loads again and again (the service),
 * given the set it loaded last time (taken over; NULL for none). When the
 * same repository, subdir and commit are resolved again, that set is
 * returned as it is, with this call's warnings, instead of being read and
 * checked anew; otherwise it is freed. A work tree is always read anew. */
pk_desired *pk_repo_reload(const pk_repo_opts *o, pk_desired *prev, pk_err **errs);
/* True if `dir` looks like a desired repo root (has pools/ or is a git repo). */
bool pk_repo_looks_like(const char *dir);
