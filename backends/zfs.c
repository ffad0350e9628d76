/* The zfs backend (libvirt's storage_backend_zfs.c): a pool is a ZFS pool
 * (<source><name>tank</name> with devices) or a dataset in one
 * (<name>tank/vms</name>), its volumes are the zvols directly below it,
 * with block devices /dev/zvol/NAME/VOL. Everything goes through the zpool
 * and zfs programs with libvirt's command lines (tab-separated -H output,
 * exact numbers with -p); neither is packaged on every machine, so a
 * missing one is an error at observe.
 *
 * The pool's and the zvols' identity is their ZFS guid. Beyond libvirt:
 * build refuses devices holding signatures unless policy allow_format
 * (then `zpool create -f`); zvols are resized with `zfs set volsize`
 * (libvirt 11.7); delete pool refuses while anything poolkeeper does not
 * own is in it, and never destroys recursively. */
#include "zfs.h"
#include "blkprobe.h"
#include <errno.h>

static int need_tools(pk_err **err)
{
    static const char *const progs[] = { "zpool", "zfs" };
    for (size_t i = 0; i < PK_NELEM(progs); i++) {
        _cleanup_free_ char *p = pk_find_program(progs[i]);
        if (!p) return pk_fail(err, "zfs: program '%s' not found", progs[i]);
    }
    return 0;
}

static int check_def(const pk_pool *def, pk_err **err)
{
    const char *n = def->source.name;
    if (!n || !*n || n[0] == '/' || n[0] == '-' || strstr(n, "//") || n[strlen(n) - 1] == '/')
        return pk_fail(err, "pool '%s' has no valid ZFS source name", def->name);
    return need_tools(err);
}

static bool is_dataset(const pk_pool *def)
{
    return strchr(def->source.name, '/') != NULL;
}

static char *zpool_name(const pk_pool *def)
{
    return pk_strndup(def->source.name, strcspn(def->source.name, "/"));
}

static char *kib(uint64_t bytes)
{
    return pk_asprintf("%lluK", (unsigned long long)(bytes / 1024 + (bytes % 1024 != 0)));
}

static int run(pk_cmd *cmd, pk_err **err)
{
    int r = pk_cmd_run(cmd, NULL, err);
    pk_cmd_free(cmd);
    return r;
}

/* Split a -H line into its tab-separated fields (in place). */
static size_t fields(char *line, char **f, size_t max)
{
    size_t n = 0;
    for (char *s = line; n < max;) {
        f[n++] = s;
        char *tab = strchr(s, '\t');
        if (!tab) break;
        *tab = '\0';
        s = tab + 1;
    }
    return n;
}

/* -p prints "none" (or "-") for unset sizes such as a sparse zvol's
 * refreservation. */
static int size_field(const char *s, uint64_t *out)
{
    if (!strcmp(s, "none") || !strcmp(s, "-")) {
        *out = 0;
        return 0;
    }
    return pk_parse_u64(s, 10, out);
}

/* ---- pool ---- */

/* The dataset's guid, NULL (not an error) when it does not exist. */
static int dataset_guid(const pk_pool *def, char **guid, pk_err **err)
{
    *guid = NULL;
    _cleanup_(pk_cmd_freep) pk_cmd *cmd = pk_cmd_new("zfs");
    pk_cmd_add_args(cmd, "list", "-H", "-t", "filesystem", "-o", "name,guid", def->source.name, NULL);
    int status;
    if (pk_cmd_run(cmd, &status, err) < 0) return -1;
    if (status != 0) {
        /* 1 with "dataset does not exist" is absence; anything else is not */
        if (status == 1 && strstr(pk_cmd_stderr(cmd), "does not exist")) return 0;
        return pk_fail(err, "'zfs list' exited with status %d: %s", status, pk_cmd_stderr(cmd));
    }
    _cleanup_free_ char *out = pk_strdup(pk_cmd_stdout(cmd));
    out[strcspn(out, "\n")] = '\0';
    char *f[2];
    if (fields(out, f, 2) != 2 || strcmp(f[0], def->source.name) != 0)
        return pk_fail(err, "unexpected output of 'zfs list': '%s'", pk_cmd_stdout(cmd));
    *guid = pk_strdup(f[1]);
    return 0;
}

/* libvirt's refresh: `zpool get -Hp health,size,free,allocated POOL` (of the
 * whole ZFS pool, also for a dataset). */
static int zpool_numbers(const pk_pool *def, pk_obs_pool *out, pk_err **err)
{
    _cleanup_free_ char *zp = zpool_name(def);
    _cleanup_(pk_cmd_freep) pk_cmd *cmd = pk_cmd_new("zpool");
    pk_cmd_add_args(cmd, "get", "-Hp", "health,size,free,allocated", zp, NULL);
    if (pk_cmd_run(cmd, NULL, err) < 0) return -1;
    _cleanup_free_ char *text = pk_strdup(pk_cmd_stdout(cmd));
    char *save = NULL;
    unsigned seen = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *f[4];
        if (fields(line, f, 4) != 4) continue;
        uint64_t *dst = !strcmp(f[1], "size") ? &out->capacity
                      : !strcmp(f[1], "free") ? &out->available
                      : !strcmp(f[1], "allocated") ? &out->allocation : NULL;
        if (!dst) continue;
        if (pk_parse_u64(f[2], 10, dst) < 0)
            return pk_fail(err, "unexpected value of '%s' in the output of 'zpool get': '%s'", f[1], f[2]);
        seen++;
    }
    if (seen != 3)
        return pk_fail(err, "'zpool get' did not report the size, free and allocated space of '%s'", zp);
    return 0;
}

static int zfs_observe_pool(pk_bctx *c PK_UNUSED, const pk_pool *def, pk_obs_pool *out, pk_err **err)
{
    if (check_def(def, err) < 0) return -1;
    _cleanup_free_ char *guid = NULL;
    if (dataset_guid(def, &guid, err) < 0) return -1;
    if (!guid) {
        out->state = PK_POOL_ABSENT;
        for (size_t i = 0; i < def->source.n_devices && !is_dataset(def); i++) {
            pk_blk_probe p = { 0 };
            if (pk_blk_probe_path(def->source.devices[i].path, &p, err) < 0) return -1;
            out->nonempty |= !p.empty;
            pk_blk_probe_clear(&p);
        }
        return 0;
    }
    out->state = PK_POOL_RUNNING;   /* ZFS has nothing to start */
    free(out->identity);
    out->identity = TAKE_PTR(guid);
    return zpool_numbers(def, out, err);
}

static int cmp_obs_vol(const void *a, const void *b)
{
    return strcmp(((const pk_obs_vol *)a)->name, ((const pk_obs_vol *)b)->name);
}

/* The zvols directly below the pool's dataset (libvirt lists with -r and
 * keeps the last name component, which would mix up nested ones). */
static int list_zvols(const pk_pool *def, pk_obs_vol **vols, size_t *n, pk_err **err)
{
    _cleanup_(pk_cmd_freep) pk_cmd *cmd = pk_cmd_new("zfs");
    pk_cmd_add_args(cmd, "list", "-Hp", "-t", "volume", "-r", "-o", "name,volsize,refreservation,guid",
                    def->source.name, NULL);
    if (pk_cmd_run(cmd, NULL, err) < 0) return -1;
    _cleanup_free_ char *text = pk_strdup(pk_cmd_stdout(cmd));
    size_t plen = strlen(def->source.name);
    const char *target = def->target_path;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *f[4];
        if (fields(line, f, 4) != 4)
            return pk_fail(err, "unexpected line in the output of 'zfs list': '%s'", line);
        if (strncmp(f[0], def->source.name, plen) != 0 || f[0][plen] != '/' ||
            strchr(f[0] + plen + 1, '/'))
            continue;
        pk_obs_vol *v = PK_APPEND(*vols, *n);
        pk_obs_vol_clear(v);
        v->name = pk_strdup(f[0] + plen + 1);
        v->key = pk_strdup(f[0]);
        v->path = target ? pk_asprintf("%s/%s", target, v->name)
                         : pk_asprintf("/dev/zvol/%s", f[0]);
        v->identity = pk_strdup(f[3]);
        v->type = PK_VOL_BLOCK;
        v->atime.sec = v->mtime.sec = v->ctime.sec = v->btime.sec = -1;
        if (size_field(f[1], &v->capacity) < 0 || size_field(f[2], &v->allocation) < 0)
            return pk_fail(err, "unexpected sizes of zvol '%s' in the output of 'zfs list'", f[0]);
        v->physical = v->capacity;
    }
    return 0;
}

static int zfs_observe_vols(pk_bctx *c PK_UNUSED, const pk_pool *def, pk_obs_pool *out, pk_err **err)
{
    if (check_def(def, err) < 0) return -1;
    pk_obs_vol *vols = NULL;
    size_t n = 0;
    if (list_zvols(def, &vols, &n, err) < 0) {
        for (size_t i = 0; i < n; i++) pk_obs_vol_clear(&vols[i]);
        free(vols);
        return -1;
    }
    if (n) qsort(vols, n, sizeof(*vols), cmp_obs_vol);
    for (size_t i = 0; i < out->n_vols; i++) pk_obs_vol_clear(&out->vols[i]);
    free(out->vols);
    out->vols = vols;
    out->n_vols = n;
    out->vols_observed = true;
    return 0;
}

static int zfs_build(pk_bctx *c, const pk_pool *def, pk_err **err)
{
    if (check_def(def, err) < 0) return -1;
    _cleanup_free_ char *guid = NULL;
    if (dataset_guid(def, &guid, err) < 0) return -1;
    if (guid) return 0;   /* built already */
    pk_cmd *cmd;
    if (is_dataset(def)) {
        cmd = pk_cmd_new("zfs");
        pk_cmd_add_args(cmd, "create", "-o", "mountpoint=none", def->source.name, NULL);
    } else {
        if (def->source.n_devices == 0)
            return pk_fail(err, "cannot build pool '%s': it has no source device", def->name);
        bool nonempty = false;
        for (size_t i = 0; i < def->source.n_devices; i++) {
            const char *dev = def->source.devices[i].path;
            pk_blk_probe p = { 0 };
            if (pk_blk_probe_path(dev, &p, err) < 0) return -1;
            _cleanup_free_ char *what = pk_blk_probe_describe(&p);
            bool empty = p.empty;
            pk_blk_probe_clear(&p);
            if (!empty && !c->allow_format)
                return pk_fail(err, "refusing to make a ZFS pool on '%s': it holds %s (policy allow_format permits it)",
                               dev, what);
            nonempty |= !empty;
        }
        cmd = pk_cmd_new("zpool");
        pk_cmd_add_arg(cmd, "create");
        /* zpool asks for -f over old signatures: the policy allowed it */
        if (nonempty) pk_cmd_add_arg(cmd, "-f");
        pk_cmd_add_arg(cmd, def->source.name);
        for (size_t i = 0; i < def->source.n_devices; i++)
            pk_cmd_add_arg(cmd, def->source.devices[i].path);
    }
    if (run(cmd, err) < 0) return pk_wrap(err, "cannot build pool '%s'", def->name);
    return 0;
}

static bool strv_has(char *const *v, const char *s)
{
    for (; v && *v; v++)
        if (strcmp(*v, s) == 0) return true;
    return false;
}

static int zfs_delete_pool(pk_bctx *c PK_UNUSED, const pk_pool *def, char *const *owned_vols,
                           pk_err **err)
{
    if (check_def(def, err) < 0) return -1;
    _cleanup_free_ char *guid = NULL;
    if (dataset_guid(def, &guid, err) < 0) return -1;
    if (!guid) return 0;   /* gone already */
    /* Everything below the dataset, of any type: only our zvols may be
     * there, and they go first; nothing is destroyed recursively. */
    _cleanup_(pk_cmd_freep) pk_cmd *list = pk_cmd_new("zfs");
    pk_cmd_add_args(list, "list", "-H", "-r", "-t", "all", "-o", "name", def->source.name, NULL);
    if (pk_cmd_run(list, NULL, err) < 0) return -1;
    _cleanup_free_ char *text = pk_strdup(pk_cmd_stdout(list));
    size_t plen = strlen(def->source.name);
    char **ours = NULL;
    char *save = NULL;
    int ret = -1;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strcmp(line, def->source.name) == 0) continue;
        const char *child = line + plen + 1;
        if (strncmp(line, def->source.name, plen) != 0 || line[plen] != '/' || strchr(child, '/') ||
            strchr(child, '@') || !strv_has(owned_vols, child)) {
            pk_fail(err, "cannot delete pool '%s': '%s' is in it and poolkeeper does not own it",
                    def->name, line);
            goto out;
        }
        pk_strv_push(&ours, line);
    }
    for (size_t i = 0; ours && ours[i]; i++) {
        pk_cmd *cmd = pk_cmd_new("zfs");
        pk_cmd_add_args(cmd, "destroy", ours[i], NULL);
        if (run(cmd, err) < 0) goto out;
    }
    pk_cmd *cmd;
    if (is_dataset(def)) {
        cmd = pk_cmd_new("zfs");
        pk_cmd_add_args(cmd, "destroy", def->source.name, NULL);
    } else {
        cmd = pk_cmd_new("zpool");
        pk_cmd_add_args(cmd, "destroy", def->source.name, NULL);
    }
    if (run(cmd, err) < 0) {
        pk_wrap(err, "cannot delete pool '%s'", def->name);
        goto out;
    }
    ret = 0;
out:
    pk_strv_free(ours);
    return ret;
}

/* ---- volumes ---- */

static int find_zvol(const pk_pool *def, const char *name, pk_obs_vol *out, bool *found, pk_err **err)
{
    pk_obs_vol *vols = NULL;
    size_t n = 0;
    int ret = list_zvols(def, &vols, &n, err);
    *found = false;
    for (size_t i = 0; i < n; i++) {
        if (ret == 0 && !*found && strcmp(vols[i].name, name) == 0) {
            *found = true;
            if (out) {
                pk_obs_vol_clear(out);
                *out = vols[i];
                continue;
            }
        }
        pk_obs_vol_clear(&vols[i]);
    }
    free(vols);
    return ret;
}

/* BSD's ZFS wants -o volmode=dev to expose a zvol as a disk device;
 * libvirt asks `zfs get`'s usage text (exit status 2) whether it knows the
 * property. */
static bool volmode_needed(void)
{
    _cleanup_(pk_cmd_freep) pk_cmd *cmd = pk_cmd_new("zfs");
    pk_cmd_add_arg(cmd, "get");
    int status = 0;
    pk_err *e = NULL;
    int r = pk_cmd_run(cmd, &status, &e);
    pk_err_free(e);
    return r == 0 && status == 2 && strstr(pk_cmd_stderr(cmd), " volmode ");
}

static int zfs_create_vol(pk_bctx *c PK_UNUSED, const pk_pool *def, const pk_vol *vol, pk_obs_vol *out,
                          pk_err **err)
{
    if (check_def(def, err) < 0) return -1;
    if (!pk_name_valid(vol->name) || strchr(vol->name, '@') || strchr(vol->name, ' '))
        return pk_fail(err, "invalid volume name '%s'", vol->name);
    if (vol->target.encryption)
        return pk_fail(err, "cannot create volume '%s': encrypted zvols are not supported", vol->name);
    bool found;
    if (find_zvol(def, vol->name, NULL, &found, err) < 0) return -1;
    if (found) return pk_fail(err, "zvol '%s/%s' already exists", def->source.name, vol->name);
    uint64_t alloc = vol->has_allocation ? vol->allocation : vol->capacity;
    _cleanup_free_ char *full = pk_asprintf("%s/%s", def->source.name, vol->name);
    _cleanup_free_ char *cap = kib(vol->capacity);
    pk_cmd *cmd = pk_cmd_new("zfs");
    pk_cmd_add_arg(cmd, "create");
    if (volmode_needed()) pk_cmd_add_args(cmd, "-o", "volmode=dev", NULL);
    if (alloc != vol->capacity) {
        pk_cmd_add_arg(cmd, "-s");
        if (alloc > 0) {
            _cleanup_free_ char *a = kib(alloc);
            pk_cmd_add_arg(cmd, "-o");
            pk_cmd_add_argf(cmd, "refreservation=%s", a);
        }
    }
    pk_cmd_add_args(cmd, "-V", cap, full, NULL);
    if (run(cmd, err) < 0) return pk_wrap(err, "cannot create zvol '%s'", full);
    if (find_zvol(def, vol->name, out, &found, err) < 0) return -1;
    if (!found) return pk_fail(err, "zvol '%s' is not there after it was created", full);
    return 0;
}

/* The zvol observed as `cur`, checked to be that very one still. */
static int check_current(const pk_pool *def, const pk_obs_vol *cur, bool *found, pk_err **err)
{
    pk_obs_vol now = { 0 };
    pk_obs_vol_clear(&now);
    if (find_zvol(def, cur->name, &now, found, err) < 0) return -1;
    int ret = 0;
    if (*found && !pk_streq(now.identity, cur->identity))
        ret = pk_fail(err, "zvol '%s/%s' was replaced since it was observed (guid '%s', now '%s')",
                      def->source.name, cur->name, cur->identity ? cur->identity : "", now.identity);
    pk_obs_vol_clear(&now);
    return ret;
}

static int zfs_resize_vol(pk_bctx *c, const pk_pool *def, const pk_vol *vol PK_UNUSED,
                          const pk_obs_vol *cur, uint64_t new_capacity, pk_obs_vol *out, pk_err **err)
{
    if (check_def(def, err) < 0) return -1;
    bool found;
    if (check_current(def, cur, &found, err) < 0) return -1;
    _cleanup_free_ char *full = pk_asprintf("%s/%s", def->source.name, cur->name);
    if (!found) return pk_fail(err, "zvol '%s' does not exist any more", full);
    if (new_capacity < cur->capacity) {
        if (!c->allow_shrink)
            return pk_fail(err, "shrinking zvol '%s' from %llu to %llu bytes needs policy allow_shrink",
                           full, (unsigned long long)cur->capacity, (unsigned long long)new_capacity);
        if (cur->path && access(cur->path, F_OK) == 0 && pk_blk_check_unused(cur->path, "shrink", err) < 0)
            return -1;
    }
    _cleanup_free_ char *size = kib(new_capacity);
    pk_cmd *cmd = pk_cmd_new("zfs");
    pk_cmd_add_arg(cmd, "set");
    pk_cmd_add_argf(cmd, "volsize=%s", size);
    pk_cmd_add_arg(cmd, full);
    if (run(cmd, err) < 0) return pk_wrap(err, "cannot resize zvol '%s'", full);
    if (find_zvol(def, cur->name, out, &found, err) < 0) return -1;
    if (!found) return pk_fail(err, "zvol '%s' is not there after it was resized", full);
    return 0;
}

static int zfs_delete_vol(pk_bctx *c PK_UNUSED, const pk_pool *def, const pk_obs_vol *cur, pk_err **err)
{
    if (check_def(def, err) < 0) return -1;
    bool found;
    if (check_current(def, cur, &found, err) < 0) return -1;
    if (!found) return 0;   /* done already */
    _cleanup_free_ char *full = pk_asprintf("%s/%s", def->source.name, cur->name);
    pk_cmd *cmd = pk_cmd_new("zfs");
    pk_cmd_add_args(cmd, "destroy", full, NULL);
    if (run(cmd, err) < 0) return pk_wrap(err, "cannot delete zvol '%s'", full);
    return 0;
}

const pk_backend pk_backend_zfs = {
    .type = PK_POOL_ZFS,
    .caps = PK_CAP_BUILD | PK_CAP_DELETE_POOL | PK_CAP_CREATE_VOL | PK_CAP_RESIZE_VOL |
            PK_CAP_SHRINK_VOL | PK_CAP_DELETE_VOL,
    .observe_pool = zfs_observe_pool,
    .observe_vols = zfs_observe_vols,
    .build = zfs_build,
    .delete_pool = zfs_delete_pool,
    .create_vol = zfs_create_vol,
    .resize_vol = zfs_resize_vol,
    .delete_vol = zfs_delete_vol,
};
