/* Fake external programs for backend tests: the runner's test hook answers
 * commands from a table of replies (recorded or constructed output) and
 * records every command line, so tests can assert exact argv without the
 * programs (zfs, vstorage-mount) or the kernel (LVM, iSCSI) they need. */
#pragma once
#include "../tap.h"
#include "../../desired/model.h"

/* The start of such a test: its temporary directory (tap_tmpdir(test),
 * returned) with these programs (NULL-terminated) faked in its bin/, first
 * in PATH (fc_fake_programs). */
char *fc_setup(const char *test, ...) __attribute__((sentinel));

/* Start answering (and recording); fc_stop() ends it and forgets all. */
void fc_start(void);
void fc_stop(void);
/* Answer commands whose words joined by spaces start with `prefix` (the
 * longest matching prefix wins). Replies given for one prefix are used in
 * order, each once, and the last one stays. A command no reply matches
 * fails with status 127, unless its program was let through with
 * fc_passthrough() (it then runs). */
void fc_reply(const char *prefix, int status, const char *out, const char *err);
void fc_passthrough(const char *prog);
/* Every command answered or let through, words joined by spaces. */
char *const *fc_cmds(void);
size_t fc_count(void);
void fc_clear_cmds(void);
/* The command at index i ("" beyond the end), the first one starting with
 * `prefix` (NULL when none), and how many did. */
const char *fc_cmd(size_t i);
const char *fc_find(const char *prefix);
size_t fc_count_prefix(const char *prefix);
/* Whether `s` appears in any argument or stdin of the commands seen. */
bool fc_saw(const char *s);

/* A directory of empty executables with these names (NULL-terminated)
 * put first in PATH, so that pk_find_program() finds the programs the
 * hook answers for. fc_path_reset() restores PATH. */
void fc_fake_programs(const char *dir, ...) __attribute__((sentinel));
void fc_path_without(const char *prog);
void fc_path_reset(void);

/* A file of this test's data directory (tests/data/...), read whole. */
char *fc_data(const char *rel);

/* Pool and volume XML of the test, parsed; a parse error bails out. */
pk_pool *fc_pool(const char *xml);
pk_vol *fc_vol(const pk_pool *pool, const char *xml, unsigned flags);
/* The message of `e` for test output ("" when there is none).
 * fc_errstr_take() also frees *e and sets it to NULL for the next call. */
char *fc_errstr(const pk_err *e);
char *fc_errstr_take(pk_err **e);
