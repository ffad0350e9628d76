/* Helpers shared by the backends tests. */
#include "testutil.h"
#include "../../backends/runner.h"
#include <fcntl.h>
#include <json-c/json.h>

pk_pool *tu_dir_pool(const char *path)
{
    pk_pool *p = PK_NEW(pk_pool);
    p->type = PK_POOL_DIR;
    p->name = pk_strdup("test");
    p->target_path = pk_strdup(path);
    p->target_perms = (pk_perms){ .mode = -1, .uid = -1, .gid = -1 };
    p->source.format = -1;
    return p;
}

pk_vol *tu_vol(const char *name, int format, uint64_t capacity)
{
    pk_vol *v = PK_NEW(pk_vol);
    v->type = PK_VOL_FILE;
    v->name = pk_strdup(name);
    v->capacity = capacity;
    v->has_capacity = true;
    v->allocation = capacity;
    v->target.format = format;
    v->target.perms = (pk_perms){ .mode = -1, .uid = -1, .gid = -1 };
    return v;
}

void tu_vol_alloc(pk_vol *v, uint64_t allocation)
{
    v->allocation = allocation;
    v->has_allocation = true;
}

void tu_write(const char *path, const char *content)
{
    FILE *f = fopen(path, "w");
    if (!f) tap_bail("cannot write %s", path);
    fputs(content, f);
    fclose(f);
}

char *tu_read(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    pk_buf b = PK_BUF_INIT;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) pk_buf_addn(&b, buf, n);
    fclose(f);
    pk_buf_add(&b, "");
    return pk_buf_steal(&b);
}

bool tu_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

struct stat tu_lstat(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0) memset(&st, 0, sizeof(st));
    return st;
}

char *tu_identity(const char *path)
{
    struct statx x;
    if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_INO | STATX_BTIME, &x) < 0)
        return NULL;
    struct stat st = tu_lstat(path);
    if (!(x.stx_mask & STATX_BTIME))
        return pk_asprintf("%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
    return pk_asprintf("%llu:%llu:%lld.%09u", (unsigned long long)st.st_dev,
                       (unsigned long long)st.st_ino, (long long)x.stx_btime.tv_sec,
                       x.stx_btime.tv_nsec);
}

bool tu_run(const char *const *argv)
{
    _cleanup_(pk_cmd_freep) pk_cmd *cmd = pk_cmd_new_argv(argv);
    pk_err *err = NULL;
    if (pk_cmd_run(cmd, NULL, &err) < 0) {
        _cleanup_free_ char *s = tu_errstr(err);
        tap_diag("%s", s);
        return false;
    }
    return true;
}

long long tu_qemu_virtual_size(const char *path)
{
    _cleanup_(pk_cmd_freep) pk_cmd *cmd = pk_cmd_new("qemu-img");
    pk_cmd_add_args(cmd, "info", "-U", "--output=json", path, NULL);
    pk_err *err = NULL;
    if (pk_cmd_run(cmd, NULL, &err) < 0) {
        _cleanup_free_ char *s = tu_errstr(err);
        tap_diag("%s", s);
        return -1;
    }
    json_object *root = json_tokener_parse(pk_cmd_stdout(cmd)), *o;
    long long size = -1;
    if (root && json_object_object_get_ex(root, "virtual-size", &o))
        size = json_object_get_int64(o);
    json_object_put(root);
    return size;
}

const pk_obs_vol *tu_find(const pk_obs_pool *p, const char *name)
{
    return pk_obs_pool_find_vol(p, name);
}

char *tu_errstr(pk_err *e)
{
    if (!e) return NULL;
    char *s = pk_err_str(e);
    pk_err_free(e);
    return s;
}
