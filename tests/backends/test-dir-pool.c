/* dir backend, pool side: observe, build, start/stop, delete_pool and the
 * registry, on real directories. */
#include "testutil.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <sys/wait.h>

static char *tmp;
static bool inject_fault;

static bool fault_hook(const char *point, const char *object PK_UNUSED)
{
    return inject_fault && strcmp(point, "pool.build.before-rename") == 0;
}

static char *observe_err(pk_bctx *c, const pk_pool *p, pk_obs_pool *o)
{
    pk_err *e = NULL;
    pk_obs_pool_clear(o);
    if (pk_dir_observe_pool(c, p, o, &e) == 0) return NULL;
    return tu_errstr(e);
}

static void test_observe_build(void)
{
    pk_bctx c = { 0 };
    _cleanup_free_ char *path = pk_asprintf("%s/a/b/pool", tmp);
    _cleanup_(pk_pool_freep) pk_pool *p = tu_dir_pool(path);
    pk_obs_pool o = { 0 };

    _cleanup_free_ char *e1 = observe_err(&c, p, &o);
    tap_ok(e1 == NULL && o.state == PK_POOL_ABSENT, "missing directory (and parents) is absent");

    pk_err *err = NULL;
    _cleanup_free_ char *s = NULL;
    pk_err *se = NULL;
    tap_ok(pk_dir_start(&c, p, &se) < 0, "start of a missing pool fails");
    s = tu_errstr(se);
    _cleanup_free_ char *want_start = pk_asprintf("error: pool target '%s' does not exist", path);
    tap_is_str(s, want_start, "start says the target is missing");

    tap_ok(pk_dir_build(&c, p, &err) == 0, "build creates the directory and its parents");
    struct stat st = tu_lstat(path);
    tap_ok(S_ISDIR(st.st_mode), "target is a directory");
    tap_is_int(st.st_mode & 07777, 0711, "default mode 0711 as libvirt");
    _cleanup_free_ char *parent = pk_asprintf("%s/a/b", tmp);
    _cleanup_free_ char *stale = pk_asprintf("%s/a/b/.pk-tmp-pool", tmp);
    tap_ok(!tu_exists(stale), "no temporary directory left");

    _cleanup_free_ char *e2 = observe_err(&c, p, &o);
    tap_ok(e2 == NULL && o.state == PK_POOL_RUNNING, "existing directory is running");
    _cleanup_free_ char *id = tu_identity(path);
    tap_is_str(o.identity, id, "pool identity is dev:ino");
    tap_is_int(o.perms.mode, 0711, "observed mode");
    tap_is_int(o.perms.uid, 0, "observed owner");
    tap_ok(!o.nonempty, "empty");
    tap_ok(o.capacity > 0 && o.available <= o.capacity &&
           o.allocation == o.capacity - o.available, "capacity/allocation/available from statvfs");

    tap_ok(pk_dir_start(&c, p, &err) == 0 && pk_dir_stop(&c, p, &err) == 0, "start and stop succeed");
    tap_ok(pk_dir_build(&c, p, &err) == 0, "build again over the empty directory is fine");

    _cleanup_free_ char *f = pk_asprintf("%s/data", path);
    tu_write(f, "x");
    _cleanup_free_ char *e3 = observe_err(&c, p, &o);
    tap_ok(e3 == NULL && o.nonempty, "nonempty observed");
    pk_err *be = NULL;
    tap_ok(pk_dir_build(&c, p, &be) < 0, "build over a non-empty directory refused");
    _cleanup_free_ char *bs = tu_errstr(be);
    _cleanup_free_ char *want = pk_asprintf("error: pool target '%s' already exists and is not empty", path);
    tap_is_str(bs, want, "refusal says why");
    c.allow_format = true;
    p->target_perms.mode = 0750;
    tap_ok(pk_dir_build(&c, p, &err) == 0, "allowed with allow_format");
    tap_is_int(tu_lstat(path).st_mode & 07777, 0750, "and it settles the mode");
    tap_ok(tu_exists(f), "without touching the contents");
    c.allow_format = false;

    /* explicit owner and mode on a new directory */
    _cleanup_free_ char *path2 = pk_asprintf("%s/owned/", tmp);   /* trailing slash */
    _cleanup_(pk_pool_freep) pk_pool *p2 = tu_dir_pool(path2);
    p2->target_perms = (pk_perms){ .mode = 0750, .uid = 4242, .gid = 4343 };
    tap_ok(pk_dir_build(&c, p2, &err) == 0, "build with owner and mode");
    _cleanup_free_ char *path2n = pk_asprintf("%s/owned", tmp);
    st = tu_lstat(path2n);
    tap_ok((st.st_mode & 07777) == 0750 && st.st_uid == 4242 && st.st_gid == 4343,
           "owner 4242:4343 mode 0750 applied");

    /* a crash before the rename leaves only a temporary directory */
    _cleanup_free_ char *path3 = pk_asprintf("%s/crash", tmp);
    _cleanup_(pk_pool_freep) pk_pool *p3 = tu_dir_pool(path3);
    inject_fault = true;
    pk_err *fe = NULL;
    tap_ok(pk_dir_build(&c, p3, &fe) < 0, "build stopped by an injected fault");
    pk_err_free(fe);
    inject_fault = false;
    _cleanup_free_ char *tmp3 = pk_asprintf("%s/.pk-tmp-crash", tmp);
    tap_ok(!tu_exists(path3) && tu_exists(tmp3), "target absent, temporary left behind");
    _cleanup_free_ char *e4 = observe_err(&c, p3, &o);
    tap_ok(e4 == NULL && o.state == PK_POOL_ABSENT, "still observed absent");
    tap_ok(pk_dir_build(&c, p3, &err) == 0, "next build converges");
    tap_ok(tu_exists(path3) && !tu_exists(tmp3), "target made, temporary gone");

    /* <features><cow state=.../> only means something on btrfs (as libvirt) */
    struct statfs sf;
    if (statfs(tmp, &sf) == 0 && sf.f_type != BTRFS_SUPER_MAGIC) {
        _cleanup_free_ char *path4 = pk_asprintf("%s/nocow", tmp);
        _cleanup_(pk_pool_freep) pk_pool *p4 = tu_dir_pool(path4);
        p4->cow = PK_TRI_NO;
        pk_err *ce = NULL;
        tap_ok(pk_dir_build(&c, p4, &ce) < 0 && !tu_exists(path4), "cow setting refused off btrfs");
        _cleanup_free_ char *cs = tu_errstr(ce);
        tap_ok(cs && strstr(cs, "not on btrfs"), "%s", cs ? cs : "");
    } else {
        tap_skip("tmpdir is on btrfs", "cow setting refused off btrfs");
    }

    tap_ok(err == NULL, "no stray error");
    pk_err_free(err);
    pk_obs_pool_clear(&o);
}

static void test_observe_errors(void)
{
    pk_bctx c = { 0 };
    pk_obs_pool o = { 0 };

    /* a symlink as target: an error, never followed, never absent */
    _cleanup_free_ char *real = pk_asprintf("%s/real", tmp);
    _cleanup_free_ char *link = pk_asprintf("%s/link", tmp);
    mkdir(real, 0755);
    symlink(real, link);
    _cleanup_(pk_pool_freep) pk_pool *p = tu_dir_pool(link);
    _cleanup_free_ char *e = observe_err(&c, p, &o);
    _cleanup_free_ char *want = pk_asprintf("error: pool target '%s' is a symbolic link", link);
    tap_is_str(e, want, "symlink target is an error");
    pk_err *be = NULL;
    tap_ok(pk_dir_build(&c, p, &be) < 0, "build refuses a symlink target");
    pk_err_free(be);

    _cleanup_free_ char *file = pk_asprintf("%s/plainfile", tmp);
    tu_write(file, "x");
    _cleanup_(pk_pool_freep) pk_pool *p2 = tu_dir_pool(file);
    _cleanup_free_ char *e2 = observe_err(&c, p2, &o);
    _cleanup_free_ char *want2 = pk_asprintf("error: pool target '%s' is not a directory", file);
    tap_is_str(e2, want2, "file target is an error");

    _cleanup_free_ char *under = pk_asprintf("%s/plainfile/sub", tmp);
    _cleanup_(pk_pool_freep) pk_pool *p3 = tu_dir_pool(under);
    _cleanup_free_ char *e3 = observe_err(&c, p3, &o);
    tap_ok(e3 && strstr(e3, "Not a directory"), "path through a file is an error: %s", e3);

    /* permission denied: as an unprivileged user in a child process */
    _cleanup_free_ char *locked = pk_asprintf("%s/locked", tmp);
    _cleanup_free_ char *inner = pk_asprintf("%s/locked/pool", tmp);
    mkdir(locked, 0700);
    mkdir(inner, 0755);
    chmod(tmp, 0755);
    int pfd[2];
    if (pipe(pfd) < 0) tap_bail("pipe");
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        if (setgid(65534) < 0 || setuid(65534) < 0) _exit(2);
        pk_pool *pp = tu_dir_pool(inner);
        pk_obs_pool oo = { 0 };
        pk_backend_observe(&c, pp, &oo);
        _cleanup_free_ char *msg = oo.error ? pk_err_str(oo.error) : pk_strdup("(none)");
        dprintf(pfd[1], "%d %s", oo.state, msg);
        pk_obs_pool_clear(&oo);
        pk_pool_free(pp);
        _exit(0);
    }
    close(pfd[1]);
    char buf[1024] = "";
    ssize_t n = read(pfd[0], buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    close(pfd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "unprivileged child ran");
    tap_ok(strstr(buf, "Permission denied") != NULL && strstr(buf, "cannot observe pool 'test'"),
           "EACCES is an error, not absent: %s", buf);
    pk_obs_pool_clear(&o);
}

static void test_delete_pool(void)
{
    pk_bctx c = { 0 };
    pk_err *err = NULL;
    _cleanup_free_ char *path = pk_asprintf("%s/del", tmp);
    _cleanup_(pk_pool_freep) pk_pool *p = tu_dir_pool(path);
    tap_ok(pk_dir_build(&c, p, &err) == 0, "built pool to delete");
    _cleanup_free_ char *v1 = pk_asprintf("%s/vol1", path);
    _cleanup_free_ char *t1 = pk_asprintf("%s/.pk-tmp-vol2", path);
    _cleanup_free_ char *f1 = pk_asprintf("%s/someone-elses", path);
    tu_write(v1, "owned");
    tu_write(t1, "stale temporary");
    tu_write(f1, "not ours");

    char *owned[] = { "vol1", NULL };
    pk_err *de = NULL;
    tap_ok(pk_dir_delete_pool(&c, p, owned, &de) < 0, "refused while a file it does not own remains");
    _cleanup_free_ char *ds = tu_errstr(de);
    tap_ok(ds && strstr(ds, "'someone-elses'"), "the refusal names it: %s", ds);
    tap_ok(tu_exists(v1) && tu_exists(t1) && tu_exists(f1), "nothing was removed");

    unlink(f1);
    tap_ok(pk_dir_delete_pool(&c, p, owned, &err) == 0, "owned volumes and temporaries only: deleted");
    tap_ok(!tu_exists(path), "directory gone");
    tap_ok(pk_dir_delete_pool(&c, p, owned, &err) == 0, "deleting again is fine (idempotent)");

    tap_ok(pk_dir_build(&c, p, &err) == 0, "rebuilt");
    mkdir(v1, 0700);
    _cleanup_free_ char *deep = pk_asprintf("%s/vol1/inner", path);
    tu_write(deep, "x");
    pk_err *de2 = NULL;
    tap_ok(pk_dir_delete_pool(&c, p, owned, &de2) < 0, "never recursive: a non-empty subdirectory stops it");
    pk_err_free(de2);
    tap_ok(tu_exists(deep), "its contents stay");
    tap_ok(err == NULL, "no stray error");
}

static void test_registry(void)
{
    const pk_backend *b = pk_backend_for(PK_POOL_DIR);
    tap_ok(b == &pk_backend_dir, "dir backend registered");
    tap_ok(b && (b->caps & PK_CAP_BUILD) && (b->caps & PK_CAP_SHRINK_VOL) && !(b->caps & PK_CAP_START),
           "dir capabilities");
    tap_ok(pk_backend_for(PK_POOL_TYPE_LAST) == NULL, "no backend for an unknown pool type");

    pk_bctx c = { 0 };
    _cleanup_free_ char *path = pk_asprintf("%s/reg", tmp);
    _cleanup_(pk_pool_freep) pk_pool *p = tu_dir_pool(path);
    pk_obs_pool o = { 0 };
    pk_backend_observe(&c, p, &o);
    tap_ok(!o.error && o.state == PK_POOL_ABSENT && !o.vols_observed, "absent pool: no volumes observed");
    tap_is_str(o.name, "test", "observation named for the pool");

    mkdir(path, 0711);
    _cleanup_free_ char *f = pk_asprintf("%s/zz", path);
    _cleanup_free_ char *g = pk_asprintf("%s/aa", path);
    tu_write(f, "1");
    tu_write(g, "2");
    pk_backend_observe(&c, p, &o);
    tap_ok(!o.error && o.state == PK_POOL_RUNNING && o.vols_observed && o.n_vols == 2,
           "running pool with its volumes");
    tap_ok(o.n_vols == 2 && strcmp(o.vols[0].name, "aa") == 0 && strcmp(o.vols[1].name, "zz") == 0,
           "volumes sorted by name");
    tap_ok(o.observed_at_ms > 0, "time of observation");

    _cleanup_(pk_pool_freep) pk_pool *sd = tu_dir_pool(path);
    sd->type = PK_POOL_SHEEPDOG;
    pk_backend_observe(&c, sd, &o);
    _cleanup_free_ char *s = o.error ? pk_err_str(o.error) : NULL;
    tap_ok(s && strstr(s, "sheepdog is not supported") && o.state == PK_POOL_ABSENT && !o.vols_observed,
           "sheepdog: an error on the pool, never silently nothing: %s", s ? s : "(none)");
    pk_obs_pool_clear(&o);
}

int main(void)
{
    tmp = tap_tmpdir("dir-pool");
    pk_backend_set_fault_hook(fault_hook);
    test_observe_build();
    test_observe_errors();
    test_delete_pool();
    test_registry();
    free(tmp);
    return tap_done();
}
