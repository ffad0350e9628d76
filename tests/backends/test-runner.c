/* The command runner: exit codes, output capture, stdin, environment,
 * timeouts, fd passing and the test hook, with real programs. */
#include "../tap.h"
#include "../../backends/runner.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

static char *tmpdir;

/* Run argv; returns the error message (or NULL on success); exit status and
 * outputs through the out-parameters when non-NULL. */
static char *run(pk_cmd *cmd, int *status)
{
    pk_err *err = NULL;
    if (pk_cmd_run(cmd, status, &err) == 0)
        return NULL;
    char *s = pk_err_str(err);
    pk_err_free(err);
    return s;
}

static bool contains(const char *s, const char *sub)
{
    return s && strstr(s, sub);
}

static void test_exit_codes(void)
{
    _cleanup_(pk_cmd_freep) pk_cmd *t = pk_cmd_new("true");
    _cleanup_free_ char *e1 = run(t, NULL);
    tap_ok(e1 == NULL, "true succeeds");

    _cleanup_(pk_cmd_freep) pk_cmd *f = pk_cmd_new("false");
    _cleanup_free_ char *e2 = run(f, NULL);
    tap_is_str(e2, "error: 'false' exited with status 1", "non-zero exit is an error naming program and status");

    int status = -1;
    _cleanup_free_ char *e3 = run(f, &status);
    tap_ok(e3 == NULL, "with exit_status given, a non-zero exit is not an error");
    tap_is_int(status, 1, "exit status reported");

    _cleanup_(pk_cmd_freep) pk_cmd *sh = pk_cmd_new("sh");
    pk_cmd_add_args(sh, "-c", "echo out; for i in 1 2 3 4 5; do echo line$i >&2; done; exit 3", NULL);
    _cleanup_free_ char *e4 = run(sh, NULL);
    tap_ok(contains(e4, "'sh' exited with status 3: line3; line4; line5"),
           "message carries the last lines of stderr: %s", e4);
    tap_ok(!contains(e4, "line2"), "only the last lines");
    tap_is_str(pk_cmd_stdout(sh), "out\n", "stdout captured");
    tap_ok(contains(pk_cmd_stderr(sh), "line1\nline2\n"), "stderr captured in full");

    status = -1;
    _cleanup_free_ char *e5 = run(sh, &status);
    tap_ok(e5 == NULL && status == 3, "exit status 3 reported");
}

static void test_signal_and_timeout(void)
{
    _cleanup_(pk_cmd_freep) pk_cmd *k = pk_cmd_new("sh");
    pk_cmd_add_args(k, "-c", "kill -TERM $$", NULL);
    int status = 0;
    _cleanup_free_ char *e = run(k, &status);
    tap_ok(contains(e, "'sh' was killed by signal 15"), "death by signal is an error: %s", e);

    /* The child leaves a grandchild in its process group: both must die. */
    _cleanup_(pk_cmd_freep) pk_cmd *slow = pk_cmd_new("sh");
    pk_cmd_add_args(slow, "-c", "sleep 30 & echo $!; wait", NULL);
    pk_cmd_set_timeout(slow, 300);
    int64_t t0 = pk_monotonic_ms();
    _cleanup_free_ char *e2 = run(slow, &status);
    int64_t took = pk_monotonic_ms() - t0;
    tap_ok(contains(e2, "'sh' timed out after 300 ms and was killed"), "timeout is an error: %s", e2);
    tap_ok(took < 5000, "timeout honoured (%lld ms)", (long long)took);
    int gc = atoi(pk_cmd_stdout(slow));
    bool gone = false;
    for (int i = 0; i < 100 && gc > 0 && !gone; i++) {
        _cleanup_free_ char *stat_path = pk_asprintf("/proc/%d/stat", gc);
        FILE *f = fopen(stat_path, "r");
        if (!f) { gone = true; break; }
        char buf[512] = "";
        if (fgets(buf, sizeof(buf), f)) {
            char *rp = strrchr(buf, ')');
            if (rp && rp[1] == ' ' && rp[2] == 'Z') gone = true;
        }
        fclose(f);
        if (!gone) usleep(20000);
    }
    tap_ok(gc > 0 && gone, "grandchild %d in the process group was killed", gc);
}

static void test_stdin(void)
{
    _cleanup_(pk_cmd_freep) pk_cmd *c = pk_cmd_new("cat");
    _cleanup_free_ char *e = run(c, NULL);
    tap_ok(e == NULL && pk_cmd_stdout_len(c) == 0, "stdin defaults to /dev/null");

    pk_cmd_set_stdin_buf(c, "hello\n", 6);
    _cleanup_free_ char *e2 = run(c, NULL);
    tap_is_str(pk_cmd_stdout(c), "hello\n", "stdin from a buffer");

    /* More than a pipe holds, both ways at once. */
    size_t big = 3 * 1024 * 1024;
    char *data = pk_malloc(big);
    for (size_t i = 0; i < big; i++) data[i] = (char)('a' + i % 26);
    pk_cmd_set_stdin_buf(c, data, big);
    _cleanup_free_ char *e3 = run(c, NULL);
    tap_ok(e3 == NULL && pk_cmd_stdout_len(c) == big && memcmp(pk_cmd_stdout(c), data, big) == 0,
           "3 MiB through stdin and stdout");

    /* A child that never reads stdin must not kill us with SIGPIPE. */
    _cleanup_(pk_cmd_freep) pk_cmd *t = pk_cmd_new("true");
    pk_cmd_set_stdin_buf(t, data, big);
    _cleanup_free_ char *e4 = run(t, NULL);
    tap_ok(e4 == NULL, "unread stdin is fine");
    free(data);

    _cleanup_free_ char *path = pk_asprintf("%s/stdin.txt", tmpdir);
    FILE *f = fopen(path, "w");
    fputs("from a file\n", f);
    fclose(f);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    _cleanup_(pk_cmd_freep) pk_cmd *c2 = pk_cmd_new("cat");
    pk_cmd_set_stdin_fd(c2, fd);
    _cleanup_free_ char *e5 = run(c2, NULL);
    tap_is_str(pk_cmd_stdout(c2), "from a file\n", "stdin from an fd");
    close(fd);
}

static void test_env(void)
{
    setenv("PK_TEST_LEAK", "secret", 1);
    setenv("PK_TEST_PASS", "passed", 1);
    _cleanup_(pk_cmd_freep) pk_cmd *c = pk_cmd_new("env");
    pk_cmd_add_env(c, "FOO", "bar baz");
    pk_cmd_pass_env(c, "PK_TEST_PASS");
    pk_cmd_pass_env(c, "PK_TEST_UNSET_VARIABLE");
    _cleanup_free_ char *e = run(c, NULL);
    const char *out = pk_cmd_stdout(c);
    tap_ok(contains(out, "LC_ALL=C\n"), "LC_ALL=C set");
    tap_ok(contains(out, "PATH="), "PATH kept");
    tap_ok(contains(out, "FOO=bar baz\n"), "explicit addition present");
    tap_ok(contains(out, "PK_TEST_PASS=passed\n"), "passed variable present");
    tap_ok(!contains(out, "PK_TEST_LEAK") && !contains(out, "PK_TEST_UNSET"), "nothing else leaks");
    size_t lines = 0;
    for (const char *s = out; *s; s++) lines += *s == '\n';
    tap_is_int((long long)lines, 4, "exactly four variables");
}

static void test_fds(void)
{
    _cleanup_free_ char *p1 = pk_asprintf("%s/passed.txt", tmpdir);
    _cleanup_free_ char *p2 = pk_asprintf("%s/leaked.txt", tmpdir);
    FILE *f = fopen(p1, "w"); fputs("passed content", f); fclose(f);
    f = fopen(p2, "w"); fputs("leaked content", f); fclose(f);
    int fd1 = open(p1, O_RDONLY | O_CLOEXEC);
    int fd2 = open(p2, O_RDONLY);   /* deliberately without O_CLOEXEC */

    _cleanup_(pk_cmd_freep) pk_cmd *c = pk_cmd_new("cat");
    pk_cmd_add_argf(c, "/dev/fd/%d", pk_cmd_pass_fd(c, fd1));
    _cleanup_free_ char *e = run(c, NULL);
    tap_is_str(pk_cmd_stdout(c), "passed content", "passed fd readable in the child");

    _cleanup_(pk_cmd_freep) pk_cmd *c2 = pk_cmd_new("cat");
    pk_cmd_add_argf(c2, "/dev/fd/%d", fd2);
    _cleanup_free_ char *e2 = run(c2, NULL);
    tap_ok(e2 != NULL && pk_cmd_stdout_len(c2) == 0, "an fd not passed is closed in the child: %s", e2);

    _cleanup_(pk_cmd_freep) pk_cmd *c3 = pk_cmd_new("true");
    pk_cmd_pass_fd(c3, 1);
    _cleanup_free_ char *e3 = run(c3, NULL);
    tap_ok(contains(e3, "cannot pass fd 1"), "stdio fds cannot be passed: %s", e3);
    close(fd1);
    close(fd2);
}

static void test_errors(void)
{
    _cleanup_(pk_cmd_freep) pk_cmd *c = pk_cmd_new("pk-no-such-program");
    _cleanup_free_ char *e = run(c, NULL);
    tap_is_str(e, "error: cannot find program 'pk-no-such-program' in PATH", "missing program named");

    _cleanup_free_ char *bad = pk_asprintf("%s/not-a-program", tmpdir);
    FILE *f = fopen(bad, "w");
    fputs("\x7f" "ELF garbage", f);
    fclose(f);
    chmod(bad, 0755);
    _cleanup_(pk_cmd_freep) pk_cmd *c2 = pk_cmd_new(bad);
    _cleanup_free_ char *e2 = run(c2, NULL);
    tap_ok(contains(e2, "cannot execute") && contains(e2, "Exec format error"),
           "exec failure reported with errno: %s", e2);

    _cleanup_(pk_cmd_freep) pk_cmd *c3 = pk_cmd_new("echo");
    pk_cmd_add_arg(c3, "0123456789abcdef");
    pk_cmd_set_max_output(c3, 10);
    _cleanup_free_ char *e3 = run(c3, NULL);
    tap_ok(contains(e3, "output of 'echo' exceeds 10 bytes"), "stdout is bounded: %s", e3);
}

static void test_to_string(void)
{
    _cleanup_(pk_cmd_freep) pk_cmd *c = pk_cmd_new("qemu-img");
    pk_cmd_add_env(c, "FOO", "x y");
    pk_cmd_add_args(c, "create", "-o", "compat=1.1,lazy_refcounts", "a b", "it's", "", "$HOME", NULL);
    pk_cmd_set_stdin_buf(c, "secret", 6);
    _cleanup_free_ char *s = pk_cmd_to_string(c);
    tap_is_str(s, "FOO='x y' qemu-img create -o compat=1.1,lazy_refcounts 'a b' 'it'\\''s' '' '$HOME'",
               "quoted for a shell, stdin not shown");
}

struct hook_seen { char *line; int calls; };

static bool hook(pk_cmd *cmd, void *opaque)
{
    struct hook_seen *seen = opaque;
    seen->calls++;
    free(seen->line);
    seen->line = pk_cmd_to_string(cmd);
    if (strcmp(pk_cmd_argv(cmd)[0], "qemu-img") == 0) {
        pk_cmd_hook_reply(cmd, 1, "canned\n", "qemu-img: it failed\n");
        return true;
    }
    if (strcmp(pk_cmd_argv(cmd)[0], "lvs") == 0)
        return true;   /* no reply: exit 0, no output */
    return false;
}

static void test_hook(void)
{
    struct hook_seen seen = { 0 };
    pk_cmd_set_hook(hook, &seen);

    _cleanup_(pk_cmd_freep) pk_cmd *q = pk_cmd_new("qemu-img");
    pk_cmd_add_args(q, "info", "--output=json", "/x", NULL);
    _cleanup_free_ char *e = run(q, NULL);
    tap_is_str(seen.line, "qemu-img info --output=json /x", "hook sees the exact command line");
    tap_is_str(e, "error: 'qemu-img' exited with status 1: qemu-img: it failed", "canned failure");
    tap_is_str(pk_cmd_stdout(q), "canned\n", "canned stdout");

    _cleanup_(pk_cmd_freep) pk_cmd *l = pk_cmd_new("lvs");
    _cleanup_free_ char *e2 = run(l, NULL);
    tap_ok(e2 == NULL && pk_cmd_stdout_len(l) == 0, "answered without a reply: success, no output");

    _cleanup_(pk_cmd_freep) pk_cmd *ec = pk_cmd_new("echo");
    pk_cmd_add_arg(ec, "real");
    _cleanup_free_ char *e3 = run(ec, NULL);
    tap_is_str(pk_cmd_stdout(ec), "real\n", "hook lets other commands run");
    tap_is_int(seen.calls, 3, "hook saw every command");

    pk_cmd_set_hook(NULL, NULL);
    free(seen.line);
}

int main(void)
{
    tmpdir = tap_tmpdir("runner");
    test_exit_codes();
    test_signal_and_timeout();
    test_stdin();
    test_env();
    test_fds();
    test_errors();
    test_to_string();
    test_hook();
    free(tmpdir);
    return tap_done();
}
