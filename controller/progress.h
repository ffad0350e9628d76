/* A one-line progress display on stderr for long applies and observations.
 * Only on a terminal: when stderr is a pipe or a file, or TERM is "dumb",
 * every call does nothing, so logs and CI output stay clean. Redraws are
 * rate-limited; the line is erased before other output and when done. */
#pragma once
#include "base/pk.h"

typedef struct pk_progress pk_progress;

/* A display labelled `what` ("applying"), or NULL when progress is not
 * shown (not a terminal, or `quiet`). Every function accepts NULL. */
pk_progress *pk_progress_new(const char *what, bool quiet);
/* Tests: draw on `fd` whether or not it is a terminal, `width` columns. */
pk_progress *pk_progress_new_fd(const char *what, int fd, int width);
/* done of total (total 0: unknown, no bar), and what is happening now. */
void pk_progress_update(pk_progress *p, size_t done, size_t total, const char *detail);
/* Erase the line before printing something else; the next update redraws. */
void pk_progress_clear(pk_progress *p);
/* Erase the line and free. */
void pk_progress_free(pk_progress *p);
PK_DEFINE_CLEANUP(pk_progress, pk_progress_free)
