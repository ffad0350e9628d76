/* The one way poolkeeper runs external programs.
 *
 * A command is an argv array, never a shell string. The child gets a clean
 * environment (LC_ALL=C, the caller's PATH, plus what is added explicitly),
 * stdin from a buffer, an fd or /dev/null, and only the fds passed to it on
 * purpose. Its stdout and stderr are captured (bounded), and a timeout kills
 * its whole process group. Secrets go in through stdin or a passed fd, never
 * through argv, and are never shown by pk_cmd_to_string().
 *
 * Tests install a hook that sees every command before it runs and may answer
 * in its place (as libvirt's virCommandSetDryRun), so they can assert exact
 * command lines without the programs. */
#pragma once
#include "../controller/base/pk.h"

typedef struct pk_cmd pk_cmd;

pk_cmd *pk_cmd_new(const char *prog);
/* A command from a NULL-terminated argv (copied). */
pk_cmd *pk_cmd_new_argv(const char *const *argv);
void pk_cmd_free(pk_cmd *cmd);
PK_DEFINE_CLEANUP(pk_cmd, pk_cmd_free)

void pk_cmd_add_arg(pk_cmd *cmd, const char *arg);
void pk_cmd_add_argf(pk_cmd *cmd, const char *fmt, ...) PK_PRINTF(2, 3);
/* Several arguments, NULL-terminated. */
void pk_cmd_add_args(pk_cmd *cmd, ...) __attribute__((sentinel));

/* Environment additions to LC_ALL=C and PATH. pk_cmd_pass_env copies one
 * variable from this process, if it is set. */
void pk_cmd_add_env(pk_cmd *cmd, const char *name, const char *value);
void pk_cmd_pass_env(pk_cmd *cmd, const char *name);

/* stdin: a copy of the buffer (wiped when the command is freed, as it may hold
 * a secret), or an fd the caller keeps owning. Default: /dev/null. */
void pk_cmd_set_stdin_buf(pk_cmd *cmd, const void *data, size_t len);
void pk_cmd_set_stdin_fd(pk_cmd *cmd, int fd);
/* Keep fd (>= 3, still owned by the caller) open in the child under the same
 * number, for arguments like file=/dev/fd/N. Returns fd. */
int pk_cmd_pass_fd(pk_cmd *cmd, int fd);

/* Kill the child's process group after ms milliseconds (0 = no limit, the default). */
void pk_cmd_set_timeout(pk_cmd *cmd, int ms);
/* Captured stdout larger than this is an error (default 16 MiB); stderr keeps
 * its last 64 KiB. */
void pk_cmd_set_max_output(pk_cmd *cmd, size_t bytes);

/* Run the command and wait for it. With exit_status NULL a non-zero exit is an
 * error naming the program, the status and the last lines of stderr; with
 * exit_status non-NULL it is stored there and is not an error. Failing to
 * start, death by a signal and the timeout are always errors. */
int pk_cmd_run(pk_cmd *cmd, int *exit_status, pk_err **err);

/* Captured output of the last run ("" before any). */
const char *pk_cmd_stdout(const pk_cmd *cmd);
size_t pk_cmd_stdout_len(const pk_cmd *cmd);
const char *pk_cmd_stderr(const pk_cmd *cmd);

/* The command line for logs and messages: environment additions, then argv,
 * each word quoted for a POSIX shell when it needs it. stdin is never shown. */
char *pk_cmd_to_string(const pk_cmd *cmd);

/* What the command is, for hooks and tests. */
char *const *pk_cmd_argv(const pk_cmd *cmd);   /* NULL-terminated */
const char *pk_cmd_stdin_data(const pk_cmd *cmd, size_t *len);  /* NULL if none */
int pk_cmd_stdin_fd(const pk_cmd *cmd);        /* -1 if none */
const int *pk_cmd_passed_fds(const pk_cmd *cmd, size_t *n);
int pk_cmd_timeout(const pk_cmd *cmd);

/* The full path of a program found in $PATH (or the name itself when it has
 * a '/' and is executable); NULL when there is none. Caller frees. */
char *pk_find_program(const char *name);

/* Test hook, process-global: called with every command before it runs. It
 * returns false to let the command run, or true to answer in its place after
 * calling pk_cmd_hook_reply() (no reply = exit 0, no output). NULL removes it. */
typedef bool (*pk_cmd_hook)(pk_cmd *cmd, void *opaque);
void pk_cmd_set_hook(pk_cmd_hook fn, void *opaque);
void pk_cmd_hook_reply(pk_cmd *cmd, int exit_status, const char *out, const char *err);
