#include "tap.h"
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/wait.h>

static int n_run, n_failed, n_planned = -1;

void tap_plan(int n)
{
    n_planned = n;
    printf("1..%d\n", n);
    fflush(stdout);
}

static bool report(bool cond, const char *fmt, va_list ap)
{
    n_run++;
    if (!cond) n_failed++;
    printf("%s %d - ", cond ? "ok" : "not ok", n_run);
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    return cond;
}

bool tap_ok(bool cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bool r = report(cond, fmt, ap);
    va_end(ap);
    return r;
}

bool tap_is_int(long long got, long long want, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bool r = report(got == want, fmt, ap);
    va_end(ap);
    if (!r) tap_diag("  got: %lld\n  expected: %lld", got, want);
    return r;
}

bool tap_is_str(const char *got, const char *want, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bool r = report(pk_streq(got, want), fmt, ap);
    va_end(ap);
    if (!r) tap_diag("  got: %s\n  expected: %s", got ? got : "(null)", want ? want : "(null)");
    return r;
}

void tap_skip(const char *why, const char *fmt, ...)
{
    n_run++;
    printf("ok %d - ", n_run);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf(" # SKIP %s\n", why);
    fflush(stdout);
}

void tap_diag(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *s = pk_vasprintf(fmt, ap);
    va_end(ap);
    /* TAP diagnostics: every line prefixed with '#'. */
    for (char *line = s, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        printf("# %s\n", line);
    }
    fflush(stdout);
}

void tap_bail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("Bail out! ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    exit(1);
}

int tap_done(void)
{
    if (n_planned < 0) printf("1..%d\n", n_run);
    else if (n_planned != n_run) {
        printf("# planned %d tests but ran %d\n", n_planned, n_run);
        return 1;
    }
    fflush(stdout);
    return n_failed ? 1 : 0;
}

const char *tap_data_dir(void)
{
    const char *d = getenv("PK_TEST_DATA");
    return d ? d : PK_TEST_SRCDIR;
}

static char **tmpdirs;

static int rm_one(const char *path, const struct stat *sb PK_UNUSED, int flag PK_UNUSED, struct FTW *f PK_UNUSED)
{
    remove(path);
    return 0;
}

static void cleanup_tmp(void)
{
    if (getenv("PK_KEEP_TMP")) return;
    for (size_t i = 0; tmpdirs && tmpdirs[i]; i++)
        nftw(tmpdirs[i], rm_one, 16, FTW_DEPTH | FTW_PHYS);
    pk_strv_free(tmpdirs);
}

char *tap_tmpdir(const char *tag)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char *tpl = pk_asprintf("%s/pk-%s-XXXXXX", base, tag);
    if (!mkdtemp(tpl)) tap_bail("mkdtemp %s failed", tpl);
    if (!tmpdirs) atexit(cleanup_tmp);
    pk_strv_push(&tmpdirs, tpl);
    return tpl;
}

int tap_run(char *const argv[], char **out)
{
    int pfd[2];
    if (pipe(pfd) < 0) return -1;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(pfd[1], 1);
        if (!out) dup2(pfd[1], 2);
        close(pfd[0]);
        close(pfd[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(pfd[1]);
    pk_buf b = PK_BUF_INIT;
    char tmp[4096];
    ssize_t r;
    while ((r = read(pfd[0], tmp, sizeof tmp)) > 0) pk_buf_addn(&b, tmp, (size_t)r);
    close(pfd[0]);
    int st;
    waitpid(pid, &st, 0);
    if (out) *out = pk_buf_steal(&b);
    else pk_buf_free(&b);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
