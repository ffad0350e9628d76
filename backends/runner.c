/* Running external programs: fork/exec with a clean environment, captured
 * output, a timeout on the whole process group. */
#include "runner.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#define DEFAULT_MAX_OUTPUT ((size_t)16 * 1024 * 1024)
#define STDERR_KEEP ((size_t)64 * 1024)
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct pk_cmd {
    char **argv;
    char **env;                 /* additions, "NAME=value" */
    unsigned char *in_buf; size_t in_len; bool has_in_buf;
    int in_fd;
    int *fds; size_t n_fds;
    int timeout_ms;
    size_t max_output;
    /* results */
    pk_buf out, err;
    bool out_truncated;
    /* hook reply */
    bool replied;
    int reply_status;
};

static pk_cmd_hook hook_fn;
static void *hook_opaque;

pk_cmd *pk_cmd_new(const char *prog)
{
    pk_cmd *cmd = PK_NEW(pk_cmd);
    cmd->in_fd = -1;
    cmd->max_output = DEFAULT_MAX_OUTPUT;
    pk_strv_push(&cmd->argv, prog);
    return cmd;
}

pk_cmd *pk_cmd_new_argv(const char *const *argv)
{
    pk_cmd *cmd = pk_cmd_new(argv[0]);
    for (size_t i = 1; argv[i]; i++)
        pk_cmd_add_arg(cmd, argv[i]);
    return cmd;
}

void pk_cmd_free(pk_cmd *cmd)
{
    if (!cmd) return;
    pk_strv_free(cmd->argv);
    pk_strv_free(cmd->env);
    if (cmd->in_buf) {
        explicit_bzero(cmd->in_buf, cmd->in_len);
        free(cmd->in_buf);
    }
    free(cmd->fds);
    pk_buf_free(&cmd->out);
    pk_buf_free(&cmd->err);
    free(cmd);
}

void pk_cmd_add_arg(pk_cmd *cmd, const char *arg)
{
    pk_strv_push(&cmd->argv, arg);
}

void pk_cmd_add_argf(pk_cmd *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *s = pk_vasprintf(fmt, ap);
    va_end(ap);
    pk_strv_push(&cmd->argv, s);
}

void pk_cmd_add_args(pk_cmd *cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    for (const char *a; (a = va_arg(ap, const char *));)
        pk_strv_push(&cmd->argv, a);
    va_end(ap);
}

void pk_cmd_add_env(pk_cmd *cmd, const char *name, const char *value)
{
    _cleanup_free_ char *s = pk_asprintf("%s=%s", name, value);
    pk_strv_push(&cmd->env, s);
}

void pk_cmd_pass_env(pk_cmd *cmd, const char *name)
{
    const char *v = getenv(name);
    if (v) pk_cmd_add_env(cmd, name, v);
}

void pk_cmd_set_stdin_buf(pk_cmd *cmd, const void *data, size_t len)
{
    if (cmd->in_buf) {
        explicit_bzero(cmd->in_buf, cmd->in_len);
        free(cmd->in_buf);
    }
    cmd->in_buf = pk_malloc(len ? len : 1);
    if (len) memcpy(cmd->in_buf, data, len);
    cmd->in_len = len;
    cmd->has_in_buf = true;
    cmd->in_fd = -1;
}

void pk_cmd_set_stdin_fd(pk_cmd *cmd, int fd)
{
    cmd->in_fd = fd;
    cmd->has_in_buf = false;
}

int pk_cmd_pass_fd(pk_cmd *cmd, int fd)
{
    *PK_APPEND(cmd->fds, cmd->n_fds) = fd;
    return fd;
}

void pk_cmd_set_timeout(pk_cmd *cmd, int ms)
{
    cmd->timeout_ms = ms > 0 ? ms : 0;
}

void pk_cmd_set_max_output(pk_cmd *cmd, size_t bytes)
{
    cmd->max_output = bytes;
}

const char *pk_cmd_stdout(const pk_cmd *cmd) { return pk_buf_str(&cmd->out); }
size_t pk_cmd_stdout_len(const pk_cmd *cmd) { return cmd->out.len; }
const char *pk_cmd_stderr(const pk_cmd *cmd) { return pk_buf_str(&cmd->err); }
char *const *pk_cmd_argv(const pk_cmd *cmd) { return cmd->argv; }
int pk_cmd_stdin_fd(const pk_cmd *cmd) { return cmd->in_fd; }
int pk_cmd_timeout(const pk_cmd *cmd) { return cmd->timeout_ms; }

const char *pk_cmd_stdin_data(const pk_cmd *cmd, size_t *len)
{
    if (len) *len = cmd->has_in_buf ? cmd->in_len : 0;
    return cmd->has_in_buf ? (const char *)cmd->in_buf : NULL;
}

const int *pk_cmd_passed_fds(const pk_cmd *cmd, size_t *n)
{
    *n = cmd->n_fds;
    return cmd->fds;
}

void pk_cmd_set_hook(pk_cmd_hook fn, void *opaque)
{
    hook_fn = fn;
    hook_opaque = opaque;
}

void pk_cmd_hook_reply(pk_cmd *cmd, int exit_status, const char *out, const char *err)
{
    cmd->replied = true;
    cmd->reply_status = exit_status;
    pk_buf_reset(&cmd->out);
    pk_buf_reset(&cmd->err);
    pk_buf_add(&cmd->out, out ? out : "");
    pk_buf_add(&cmd->err, err ? err : "");
}

/* ---- quoting for logs ---- */

static bool needs_quotes(const char *s)
{
    if (!*s) return true;
    for (; *s; s++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:,+@%^", *s))
            return true;
    return false;
}

static void add_quoted(pk_buf *b, const char *s)
{
    if (!needs_quotes(s)) {
        pk_buf_add(b, s);
        return;
    }
    pk_buf_addc(b, '\'');
    for (; *s; s++) {
        if (*s == '\'')
            pk_buf_add(b, "'\\''");
        else
            pk_buf_addc(b, *s);
    }
    pk_buf_addc(b, '\'');
}

char *pk_cmd_to_string(const pk_cmd *cmd)
{
    pk_buf b = PK_BUF_INIT;
    for (size_t i = 0; cmd->env && cmd->env[i]; i++) {
        const char *eq = strchr(cmd->env[i], '=');
        pk_buf_addn(&b, cmd->env[i], (size_t)(eq - cmd->env[i] + 1));
        add_quoted(&b, eq + 1);
        pk_buf_addc(&b, ' ');
    }
    for (size_t i = 0; cmd->argv[i]; i++) {
        if (i) pk_buf_addc(&b, ' ');
        add_quoted(&b, cmd->argv[i]);
    }
    return pk_buf_steal(&b);
}

/* ---- finding and starting the program ---- */

static bool is_executable_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

char *pk_find_program(const char *name)
{
    if (!name || !*name) return NULL;
    if (strchr(name, '/'))
        return is_executable_file(name) ? pk_strdup(name) : NULL;
    const char *path = getenv("PATH");
    if (!path || !*path) path = DEFAULT_PATH;
    for (const char *p = path; ; ) {
        const char *colon = strchr(p, ':');
        size_t n = colon ? (size_t)(colon - p) : strlen(p);
        if (n > 0) {
            _cleanup_free_ char *cand = pk_asprintf("%.*s/%s", (int)n, p, name);
            if (is_executable_file(cand)) return TAKE_PTR(cand);
        }
        if (!colon) break;
        p = colon + 1;
    }
    return NULL;
}

static char **build_env(const pk_cmd *cmd)
{
    char **env = NULL;
    const char *path = getenv("PATH");
    _cleanup_free_ char *p = pk_asprintf("PATH=%s", path && *path ? path : DEFAULT_PATH);
    pk_strv_push(&env, "LC_ALL=C");
    pk_strv_push(&env, p);
    for (size_t i = 0; cmd->env && cmd->env[i]; i++)
        pk_strv_push(&env, cmd->env[i]);
    return env;
}

/* An fd number >= 3 with close-on-exec, so dup2 onto 0..2 in the child never
 * clobbers another of the child's fds. */
static int high_fd(int fd)
{
    if (fd >= 3) return fd;
    int n = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    int saved = errno;
    close(fd);
    errno = saved;
    return n;
}

static int make_pipe(int p[2])
{
    if (pipe2(p, O_CLOEXEC) < 0) return -1;
    p[0] = high_fd(p[0]);
    p[1] = high_fd(p[1]);
    if (p[0] < 0 || p[1] < 0) {
        if (p[0] >= 0) close(p[0]);
        if (p[1] >= 0) close(p[1]);
        return -1;
    }
    return 0;
}

static void close_fd(int *fd)
{
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static _Noreturn void child_exec(const pk_cmd *cmd, const char *path, char **envp,
                                 int in, int out, int err, int status_w)
{
    setpgid(0, 0);
    struct sigaction sa = { .sa_handler = SIG_DFL };
    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, &sa, NULL);   /* fails harmlessly for SIGKILL/SIGSTOP */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
        goto fail;
    /* Everything else the process holds closes at exec, except the fds
     * passed on purpose. */
    if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
        goto fail;
    for (size_t i = 0; i < cmd->n_fds; i++)
        if (fcntl(cmd->fds[i], F_SETFD, 0) < 0)
            goto fail;
    execve(path, cmd->argv, envp);
fail:;
    int e = errno;
    ssize_t w PK_UNUSED = write(status_w, &e, sizeof(e));
    _exit(127);
}

/* Keep the last STDERR_KEEP bytes of stderr (the end says what went wrong);
 * stdout beyond the limit is dropped and reported. */
static void capture(pk_cmd *cmd, bool is_err, const char *data, size_t n)
{
    if (is_err) {
        pk_buf_addn(&cmd->err, data, n);
        if (cmd->err.len > 2 * STDERR_KEEP) {
            size_t drop = cmd->err.len - STDERR_KEEP;
            memmove(cmd->err.s, cmd->err.s + drop, STDERR_KEEP + 1);
            cmd->err.len = STDERR_KEEP;
        }
        return;
    }
    if (cmd->out.len + n > cmd->max_output) {
        n = cmd->max_output > cmd->out.len ? cmd->max_output - cmd->out.len : 0;
        cmd->out_truncated = true;
    }
    if (n) pk_buf_addn(&cmd->out, data, n);
}

/* Writes to a pipe whose reader is gone raise SIGPIPE; keep it from killing
 * us whatever the process's disposition, and swallow the one we caused. */
static ssize_t write_nosigpipe(int fd, const void *buf, size_t n)
{
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    ssize_t r = write(fd, buf, n);
    int saved = errno;
    if (r < 0 && errno == EPIPE && !was_pending) {
        struct timespec zero = { 0, 0 };
        sigtimedwait(&pipe_set, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = saved;
    return r;
}

/* Pump stdin/stdout/stderr until both outputs reach EOF or the deadline. */
static bool pump(pk_cmd *cmd, int *in_wp, int *out_rp, int *err_rp, int64_t deadline)
{
    int in_w = *in_wp, out_r = *out_rp, err_r = *err_rp;
    *in_wp = *out_rp = *err_rp = -1;   /* ours now: closed here, whatever happens */
    bool ok = false;
    size_t in_off = 0;
    char buf[65536];
    if (in_w >= 0) fcntl(in_w, F_SETFL, O_NONBLOCK);
    while (out_r >= 0 || err_r >= 0) {
        struct pollfd pfd[3];
        int n = 0, i_in = -1, i_out = -1, i_err = -1;
        if (in_w >= 0) { i_in = n; pfd[n++] = (struct pollfd){ .fd = in_w, .events = POLLOUT }; }
        if (out_r >= 0) { i_out = n; pfd[n++] = (struct pollfd){ .fd = out_r, .events = POLLIN }; }
        if (err_r >= 0) { i_err = n; pfd[n++] = (struct pollfd){ .fd = err_r, .events = POLLIN }; }
        int wait_ms = -1;
        if (deadline) {
            int64_t left = deadline - pk_monotonic_ms();
            if (left <= 0) goto out;
            wait_ms = left > 1000000 ? 1000000 : (int)left;
        }
        int r = poll(pfd, (nfds_t)n, wait_ms);
        if (r < 0) {
            if (errno == EINTR) continue;
            goto out;
        }
        if (r == 0) continue;   /* deadline is checked at the top */
        if (i_in >= 0 && pfd[i_in].revents) {
            ssize_t w = 0;
            if (pfd[i_in].revents & POLLOUT)
                w = write_nosigpipe(in_w, cmd->in_buf + in_off, cmd->in_len - in_off);
            if (w > 0) in_off += (size_t)w;
            if ((w < 0 && errno != EAGAIN && errno != EINTR) || in_off >= cmd->in_len ||
                (pfd[i_in].revents & (POLLERR | POLLHUP)))
                close_fd(&in_w);
        }
        int *fds[2] = { &out_r, &err_r };
        int idx[2] = { i_out, i_err };
        for (int k = 0; k < 2; k++) {
            if (idx[k] < 0 || !pfd[idx[k]].revents) continue;
            ssize_t got = read(*fds[k], buf, sizeof(buf));
            if (got > 0)
                capture(cmd, k == 1, buf, (size_t)got);
            else if (got == 0 || (errno != EINTR && errno != EAGAIN))
                close_fd(fds[k]);
        }
        if (in_w >= 0 && in_off >= cmd->in_len) close_fd(&in_w);
    }
    ok = true;
out:
    close_fd(&in_w);
    close_fd(&out_r);
    close_fd(&err_r);
    return ok;
}

/* The last few lines of stderr, for error messages. */
static char *stderr_tail(const pk_cmd *cmd)
{
    const char *s = pk_buf_str(&cmd->err);
    size_t len = strlen(s);
    while (len && (s[len - 1] == '\n' || s[len - 1] == ' ' || s[len - 1] == '\r')) len--;
    size_t start = len;
    int lines = 0;
    while (start > 0) {
        if (s[start - 1] == '\n' && ++lines == 3) break;
        start--;
    }
    if (len - start > 1024) start = len - 1024;
    pk_buf b = PK_BUF_INIT;
    for (size_t i = start; i < len; i++) {
        if (s[i] == '\n') pk_buf_add(&b, "; ");
        else if (s[i] != '\r') pk_buf_addc(&b, s[i]);
    }
    return pk_buf_steal(&b);
}

static int finish(pk_cmd *cmd, int status, int *exit_status, pk_err **err)
{
    if (exit_status) {
        *exit_status = status;
        return 0;
    }
    if (status == 0) return 0;
    _cleanup_free_ char *tail = stderr_tail(cmd);
    if (tail && *tail)
        return pk_fail(err, "'%s' exited with status %d: %s", cmd->argv[0], status, tail);
    return pk_fail(err, "'%s' exited with status %d", cmd->argv[0], status);
}

int pk_cmd_run(pk_cmd *cmd, int *exit_status, pk_err **err)
{
    pk_buf_reset(&cmd->out);
    pk_buf_reset(&cmd->err);
    cmd->out_truncated = false;
    cmd->replied = false;

    if (hook_fn && hook_fn(cmd, hook_opaque))
        return finish(cmd, cmd->replied ? cmd->reply_status : 0, exit_status, err);

    for (size_t i = 0; i < cmd->n_fds; i++)
        if (cmd->fds[i] < 3)
            return pk_fail(err, "cannot pass fd %d to '%s': fds 0 to 2 are the child's stdio",
                           cmd->fds[i], cmd->argv[0]);

    _cleanup_free_ char *path = pk_find_program(cmd->argv[0]);
    if (!path)
        return pk_fail(err, "cannot find program '%s' in PATH", cmd->argv[0]);

    char **envp = build_env(cmd);
    int in_p[2] = { -1, -1 }, out_p[2] = { -1, -1 }, err_p[2] = { -1, -1 }, st_p[2] = { -1, -1 };
    int in_child = -1;
    int ret = -1;
    if (make_pipe(out_p) < 0 || make_pipe(err_p) < 0 || make_pipe(st_p) < 0) {
        pk_fail_errno(err, errno, "cannot create pipes for '%s'", cmd->argv[0]);
        goto out;
    }
    if (cmd->has_in_buf) {
        if (make_pipe(in_p) < 0) {
            pk_fail_errno(err, errno, "cannot create pipes for '%s'", cmd->argv[0]);
            goto out;
        }
        in_child = in_p[0];
    } else if (cmd->in_fd >= 0) {
        in_child = cmd->in_fd;
    } else {
        in_p[0] = high_fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
        if (in_p[0] < 0) {
            pk_fail_errno(err, errno, "cannot open '/dev/null'");
            goto out;
        }
        in_child = in_p[0];
    }

    pid_t pid = fork();
    if (pid < 0) {
        pk_fail_errno(err, errno, "cannot fork to run '%s'", cmd->argv[0]);
        goto out;
    }
    if (pid == 0)
        child_exec(cmd, path, envp, in_child, out_p[1], err_p[1], st_p[1]);

    /* Both sides set the group, so a kill right after fork hits it. */
    setpgid(pid, pid);
    close_fd(&in_p[0]);
    close_fd(&out_p[1]);
    close_fd(&err_p[1]);
    close_fd(&st_p[1]);

    int child_errno = 0;
    ssize_t got;
    do got = read(st_p[0], &child_errno, sizeof(child_errno));
    while (got < 0 && errno == EINTR);
    int status = 0;
    if (got == (ssize_t)sizeof(child_errno)) {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        pk_fail_errno(err, child_errno, "cannot execute '%s'", path);
        goto out;
    }

    int64_t deadline = cmd->timeout_ms ? pk_monotonic_ms() + cmd->timeout_ms : 0;
    bool done = pump(cmd, &in_p[1], &out_p[0], &err_p[0], deadline);
    if (!done)
        kill(-pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}

    if (!done) {
        pk_fail(err, "'%s' timed out after %d ms and was killed", cmd->argv[0], cmd->timeout_ms);
    } else if (WIFSIGNALED(status)) {
        pk_fail(err, "'%s' was killed by signal %d (%s)", cmd->argv[0],
                WTERMSIG(status), strsignal(WTERMSIG(status)));
    } else if (cmd->out_truncated) {
        pk_fail(err, "output of '%s' exceeds %zu bytes", cmd->argv[0], cmd->max_output);
    } else {
        ret = finish(cmd, WEXITSTATUS(status), exit_status, err);
    }

out:
    close_fd(&in_p[0]);
    close_fd(&in_p[1]);
    close_fd(&out_p[0]);
    close_fd(&out_p[1]);
    close_fd(&err_p[0]);
    close_fd(&err_p[1]);
    close_fd(&st_p[0]);
    close_fd(&st_p[1]);
    pk_strv_free(envp);
    return ret;
}
