/* Fake external programs through the runner's hook (see fakecmd.h). */
#include "fakecmd.h"
#include "testutil.h"
#include "../../backends/runner.h"
#include <sys/stat.h>

typedef struct {
    char *prefix;
    int status;
    char *out, *err;
    bool used;
} reply;

static reply *replies;
static size_t n_replies;
static char **cmds;
static char **through;
static char *saved_path;

static char *join(char *const *v)
{
    pk_buf b = PK_BUF_INIT;
    for (size_t i = 0; v && v[i]; i++) pk_buf_addf(&b, "%s%s", i ? " " : "", v[i]);
    pk_buf_add(&b, "");
    return pk_buf_steal(&b);
}

static bool hook(pk_cmd *cmd, void *opaque PK_UNUSED)
{
    _cleanup_free_ char *line = join(pk_cmd_argv(cmd));
    size_t len = 0;
    const char *in = pk_cmd_stdin_data(cmd, &len);
    if (in && len) {
        _cleanup_free_ char *with = pk_asprintf("%s <<< %.*s", line, (int)len, in);
        pk_strv_push(&cmds, with);
    } else {
        pk_strv_push(&cmds, line);
    }
    /* the longest matching prefix; its first unused reply, else its last */
    const char *best = NULL;
    for (size_t i = 0; i < n_replies; i++)
        if (pk_str_has_prefix(line, replies[i].prefix) &&
            (!best || strlen(replies[i].prefix) > strlen(best)))
            best = replies[i].prefix;
    reply *last = NULL;
    for (size_t i = 0; best && i < n_replies; i++) {
        reply *r = &replies[i];
        if (strcmp(r->prefix, best) != 0) continue;
        last = r;
        if (r->used) continue;
        r->used = true;
        pk_cmd_hook_reply(cmd, r->status, r->out, r->err);
        return true;
    }
    if (last) {
        pk_cmd_hook_reply(cmd, last->status, last->out, last->err);
        return true;
    }
    const char *prog = pk_cmd_argv(cmd)[0];
    for (size_t i = 0; through && through[i]; i++)
        if (strcmp(through[i], prog) == 0) return false;
    tap_diag("no fake reply for: %s", line);
    pk_cmd_hook_reply(cmd, 127, "", "no fake reply");
    return true;
}

void fc_start(void)
{
    fc_stop();
    pk_cmd_set_hook(hook, NULL);
}

void fc_stop(void)
{
    pk_cmd_set_hook(NULL, NULL);
    for (size_t i = 0; i < n_replies; i++) {
        free(replies[i].prefix);
        free(replies[i].out);
        free(replies[i].err);
    }
    free(replies);
    replies = NULL;
    n_replies = 0;
    pk_strv_free(cmds);
    cmds = NULL;
    pk_strv_free(through);
    through = NULL;
}

void fc_reply(const char *prefix, int status, const char *out, const char *err)
{
    reply *r = PK_APPEND(replies, n_replies);
    r->prefix = pk_strdup(prefix);
    r->status = status;
    r->out = pk_strdup(out ? out : "");
    r->err = pk_strdup(err ? err : "");
}

void fc_passthrough(const char *prog)
{
    pk_strv_push(&through, prog);
}

char *const *fc_cmds(void)
{
    return cmds;
}

size_t fc_count(void)
{
    return pk_strv_len(cmds);
}

void fc_clear_cmds(void)
{
    pk_strv_free(cmds);
    cmds = NULL;
}

const char *fc_cmd(size_t i)
{
    return i < fc_count() ? cmds[i] : "";
}

const char *fc_find(const char *prefix)
{
    for (size_t i = 0; cmds && cmds[i]; i++)
        if (pk_str_has_prefix(cmds[i], prefix)) return cmds[i];
    return NULL;
}

size_t fc_count_prefix(const char *prefix)
{
    size_t n = 0;
    for (size_t i = 0; cmds && cmds[i]; i++)
        if (pk_str_has_prefix(cmds[i], prefix)) n++;
    return n;
}

bool fc_saw(const char *s)
{
    for (size_t i = 0; cmds && cmds[i]; i++)
        if (strstr(cmds[i], s)) return true;
    return false;
}

static void remember_path(void)
{
    if (!saved_path) saved_path = pk_strdup(getenv("PATH") ? getenv("PATH") : "/usr/sbin:/usr/bin:/sbin:/bin");
}

static void fake_programs(const char *dir, va_list ap)
{
    remember_path();
    mkdir(dir, 0755);
    for (const char *name; (name = va_arg(ap, const char *));) {
        _cleanup_free_ char *p = pk_asprintf("%s/%s", dir, name);
        FILE *f = fopen(p, "we");
        if (!f) tap_bail("cannot create %s", p);
        fputs("#!/bin/sh\necho 'fake program: the test hook should have answered' >&2\nexit 99\n", f);
        fclose(f);
        chmod(p, 0755);
    }
    _cleanup_free_ char *path = pk_asprintf("%s:%s", dir, saved_path);
    setenv("PATH", path, 1);
}

void fc_fake_programs(const char *dir, ...)
{
    va_list ap;
    va_start(ap, dir);
    fake_programs(dir, ap);
    va_end(ap);
}

char *fc_setup(const char *test, ...)
{
    char *tmp = tap_tmpdir(test);
    _cleanup_free_ char *bin = pk_asprintf("%s/bin", tmp);
    va_list ap;
    va_start(ap, test);
    fake_programs(bin, ap);
    va_end(ap);
    return tmp;
}

/* PATH made of the directories of the saved one that do not hold prog. */
void fc_path_without(const char *prog)
{
    remember_path();
    pk_buf b = PK_BUF_INIT;
    _cleanup_free_ char *copy = pk_strdup(saved_path);
    char *save = NULL;
    for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        _cleanup_free_ char *p = pk_asprintf("%s/%s", d, prog);
        if (access(p, X_OK) == 0) continue;
        pk_buf_addf(&b, "%s%s", b.len ? ":" : "", d);
    }
    setenv("PATH", b.len ? pk_buf_str(&b) : "/nonexistent", 1);
    pk_buf_free(&b);
}

void fc_path_reset(void)
{
    if (saved_path) setenv("PATH", saved_path, 1);
}

char *fc_data(const char *rel)
{
    _cleanup_free_ char *p = pk_asprintf("%s/data/%s", tap_data_dir(), rel);
    char *s = tu_read(p);
    if (!s) tap_bail("cannot read test data %s", p);
    return s;
}

pk_pool *fc_pool(const char *xml)
{
    _cleanup_(pk_err_freep) pk_err *e = NULL;
    pk_pool *p = pk_pool_parse(xml, strlen(xml), "test.xml", &e);
    if (!p) {
        _cleanup_free_ char *s = fc_errstr(e);
        tap_bail("pool XML does not parse: %s", s);
    }
    return p;
}

pk_vol *fc_vol(const pk_pool *pool, const char *xml, unsigned flags)
{
    _cleanup_(pk_err_freep) pk_err *e = NULL;
    pk_vol *v = pk_vol_parse(pool, xml, strlen(xml), "vol.xml", flags, &e);
    if (!v) {
        _cleanup_free_ char *s = fc_errstr(e);
        tap_bail("volume XML does not parse: %s", s);
    }
    return v;
}

char *fc_errstr(const pk_err *e)
{
    return e ? pk_err_str(e) : pk_strdup("");
}

char *fc_errstr_take(pk_err **e)
{
    char *s = fc_errstr(*e);
    pk_err_free(*e);
    *e = NULL;
    return s;
}
