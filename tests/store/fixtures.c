#include "fixtures.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/wait.h>

pk_observed *fx_observed(size_t n_pools, size_t n_vols)
{
    pk_observed *o = PK_NEW(pk_observed);
    for (size_t p = 0; p < n_pools; p++) {
        pk_obs_pool *pool = PK_APPEND(o->pools, o->n_pools);
        pool->name = pk_asprintf("pool%zu", p);
        pool->type = PK_POOL_DIR;
        pool->state = PK_POOL_RUNNING;
        pool->capacity = 100ull << 30;
        pool->allocation = 10ull << 30;
        pool->available = 90ull << 30;
        pool->perms = (pk_perms){ .mode = 0755, .uid = 0, .gid = 0 };
        pool->identity = pk_asprintf("64769:%zu", 1000 + p);
        pool->vols_observed = true;
        pool->observed_at_ms = 1700000000000 + (int64_t)p;
        pool->vols = n_vols ? pk_calloc(n_vols, sizeof(pk_obs_vol)) : NULL;
        pool->n_vols = n_vols;
        for (size_t i = 0; i < n_vols; i++) {
            pk_obs_vol *v = &pool->vols[i];
            v->name = pk_asprintf("vol%05zu", i);
            v->path = pk_asprintf("/srv/pool%zu/vol%05zu", p, i);
            v->key = pk_strdup(v->path);
            v->type = PK_VOL_FILE;
            v->format = PK_IMG_RAW;
            v->capacity = (uint64_t)(i + 1) << 20;
            v->allocation = 4096 * i;
            v->physical = v->capacity;
            v->perms = (pk_perms){ .mode = 0600, .uid = 107, .gid = 107, .label = NULL };
            v->identity = pk_asprintf("64769:%zu", 100000 * (p + 1) + i);
            v->backing_format = -1;
            v->atime = v->ctime = v->btime = (pk_timestamp){ -1, 0 };
            v->mtime = (pk_timestamp){ 1700000000, (int64_t)i };
            v->mtime_ns = 1700000000ll * 1000000000 + (int64_t)i;
        }
    }
    return o;
}

char *fx_read(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    pk_buf b = PK_BUF_INIT;
    char tmp[65536];
    ssize_t r;
    while ((r = read(fd, tmp, sizeof(tmp))) > 0) pk_buf_addn(&b, tmp, (size_t)r);
    close(fd);
    *len = b.len;
    if (!b.s) return pk_calloc(1, 1);
    return pk_buf_steal(&b);
}

void fx_snap(const char *path, fx_snapshot *s)
{
    memset(s, 0, sizeof(*s));
    struct stat st;
    if (stat(path, &st) < 0) return;
    s->exists = true;
    s->mtime = st.st_mtim;
    s->data = fx_read(path, &s->len);
}

bool fx_unchanged(const char *path, const fx_snapshot *s)
{
    struct stat st;
    if (stat(path, &st) < 0) return !s->exists;
    size_t len = 0;
    _cleanup_free_ char *data = fx_read(path, &len);
    return s->exists && data && len == s->len && memcmp(data, s->data, len) == 0 &&
           st.st_mtim.tv_sec == s->mtime.tv_sec && st.st_mtim.tv_nsec == s->mtime.tv_nsec;
}

void fx_snap_clear(fx_snapshot *s)
{
    free(s->data);
    memset(s, 0, sizeof(*s));
}

int fx_mode(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0) return -1;
    return (int)(st.st_mode & 07777);
}

int fx_child(int (*fn)(void *arg, FILE *out), void *arg, char **ret_out)
{
    int pfd[2];
    if (pipe(pfd) < 0) tap_bail("pipe: %s", strerror(errno));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) tap_bail("fork: %s", strerror(errno));
    if (pid == 0) {
        close(pfd[0]);
        FILE *out = fdopen(pfd[1], "w");
        int rc = fn(arg, out);
        fclose(out);
        _exit(rc);
    }
    close(pfd[1]);
    pk_buf b = PK_BUF_INIT;
    char tmp[4096];
    ssize_t r;
    while ((r = read(pfd[0], tmp, sizeof(tmp))) > 0) pk_buf_addn(&b, tmp, (size_t)r);
    close(pfd[0]);
    int st;
    waitpid(pid, &st, 0);
    if (ret_out) *ret_out = b.s ? pk_buf_steal(&b) : pk_strdup("");
    else pk_buf_free(&b);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

char *fx_err(const pk_err *e)
{
    return e ? pk_store_err_text(e) : pk_strdup("(no error)");
}
