/* Minimal TAP producer for meson's `protocol: 'tap'`. */
#pragma once
#include "../controller/base/pk.h"

void tap_plan(int n);                    /* optional: otherwise tap_done() prints it */
bool tap_ok(bool cond, const char *fmt, ...) PK_PRINTF(2, 3);
bool tap_is_int(long long got, long long want, const char *fmt, ...) PK_PRINTF(3, 4);
bool tap_is_str(const char *got, const char *want, const char *fmt, ...) PK_PRINTF(3, 4);
void tap_skip(const char *why, const char *fmt, ...) PK_PRINTF(2, 3);
void tap_diag(const char *fmt, ...) PK_PRINTF(1, 2);
void tap_bail(const char *fmt, ...) PK_PRINTF(1, 2);  /* "Bail out!" and exit 1 */
int tap_done(void);                      /* prints the plan if none; returns exit code */
/* Directory of test data: $PK_TEST_DATA or the source tests/ directory. */
const char *tap_data_dir(void);
/* A fresh temporary directory removed at exit unless PK_KEEP_TMP is set. */
char *tap_tmpdir(const char *tag);
/* Run a shell-free command (argv), return exit status; output captured into *out if non-NULL. */
int tap_run(char *const argv[], char **out);
