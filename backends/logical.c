/* The logical backend (libvirt's storage_backend_logical.c): a pool is an
 * LVM volume group, its volumes are the group's logical volumes.
 *
 * Everything is done with the LVM tools, with libvirt's command lines where
 * libvirt has one (pvcreate, vgcreate, vgchange -aly/-aln, lvcreate). What
 * is there is read from `pvs` and `lvs` reports in JSON (--reportformat
 * json --units b --nosuffix), never from their text layout.
 *
 * Pool: absent while no volume group of that name exists; inactive when it
 * has logical volumes and none is active (vgchange -aln); running otherwise.
 * Its identity is the VG UUID. Build checks every source device with
 * libblkid first: a device holding anything (other than an unused LVM
 * physical volume, e.g. one left by an interrupted build) is only taken
 * with policy allow_format, and a physical volume of another volume group
 * never. Delete removes the group and the physical volumes, and refuses
 * while any logical volume poolkeeper does not own is left in it.
 *
 * Volumes: an LV's identity is its LV UUID; changes check it right before
 * acting, and removal selects the LV by UUID, so an LV replaced under the
 * same name is never touched. Thin pools and LVM's internal LVs are not
 * volumes. Allocation below capacity makes a sparse volume: a thin LV when
 * the group has exactly one thin pool, else libvirt's sparse snapshot of
 * the "zero" target (lvcreate --type snapshot --virtualsize). A
 * <backingStore> naming an LV of the group makes an LVM snapshot of it. A
 * snapshot's capacity is its origin's, so neither kind can be resized.
 * Capacities must be whole extents: LVM would round them up, and the
 * rounded size would differ from the desired one on every later plan.
 * Owner and mode from the XML go on the LV's device node (as libvirt does;
 * udev remakes the node on activation, and the next plan puts them back). */
#include "logical.h"
#include "blkprobe.h"
#include "mount.h"
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

/* ---- names ---- */

static const char *vg_of(const pk_pool *def)
{
    return def->source.name ? def->source.name : def->name;
}

/* LVM's rules for VG and LV names (lvm(8) "VALID NAMES"). */
static bool lvm_name_ok(const char *name)
{
    if (!name || !*name || name[0] == '-' || strlen(name) > 127 ||
        !strcmp(name, ".") || !strcmp(name, ".."))
        return false;
    for (const char *s = name; *s; s++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+_.-", *s))
            return false;
    return true;
}

static int check_vg(const pk_pool *def, pk_err **err)
{
    if (!lvm_name_ok(vg_of(def)))
        return pk_fail(err, "invalid volume group name '%s'", vg_of(def));
    return 0;
}

/* LVM keeps these substrings and prefixes for its own sub-volumes. */
static int check_lv_name(const char *name, pk_err **err)
{
    static const char *const reserved[] = {
        "_cdata", "_cmeta", "_corig", "_mimage", "_mlog", "_pmspare", "_rimage", "_rmeta",
        "_tdata", "_tmeta", "_vdata", "_vorigin",
    };
    bool ok = lvm_name_ok(name) && !pk_str_has_prefix(name, "snapshot") &&
              !pk_str_has_prefix(name, "pvmove");
    for (size_t i = 0; ok && i < PK_NELEM(reserved); i++)
        if (strstr(name, reserved[i])) ok = false;
    if (!ok)
        return pk_fail(err, "invalid logical volume name '%s'", name ? name : "");
    return 0;
}

/* The pool's target (/dev/VG unless the XML says otherwise). */
static char *target_of(const pk_pool *def)
{
    if (def->target_path) {
        char *p = pk_strdup(def->target_path);
        size_t n = strlen(p);
        while (n > 1 && p[n - 1] == '/') p[--n] = '\0';
        return p;
    }
    return pk_asprintf("/dev/%s", vg_of(def));
}

/* ---- running the LVM tools ---- */

static int need_lvm(pk_err **err)
{
    _cleanup_free_ char *p = pk_find_program("lvm");
    if (!p)
        return pk_fail(err, "logical: program 'lvm' not found (package lvm2)");
    return 0;
}

/* An LVM command. Without udev (containers, minimal systems) LVM must make
 * its /dev nodes itself, which DM_DISABLE_UDEV=1 asks for; that and a
 * private configuration directory are passed through. */
static pk_cmd *lvm_cmd(const char *prog)
{
    pk_cmd *cmd = pk_cmd_new(prog);
    pk_cmd_pass_env(cmd, "DM_DISABLE_UDEV");
    pk_cmd_pass_env(cmd, "LVM_SYSTEM_DIR");
    return cmd;
}

static pk_cmd *report_cmd(const char *prog, const char *fields)
{
    pk_cmd *cmd = lvm_cmd(prog);
    pk_cmd_add_args(cmd, "--reportformat", "json", "--units", "b", "--nosuffix", "-o", fields, NULL);
    return cmd;
}

/* The rows of kind `kind` ("pv", "lv") of a JSON report, in one array the
 * caller frees with json_object_put. */
static json_object *report_rows(const pk_cmd *cmd, const char *kind, pk_err **err)
{
    const char *prog = pk_cmd_argv(cmd)[0];
    json_object *root = json_tokener_parse(pk_cmd_stdout(cmd));
    json_object *report = NULL;
    if (!root || !json_object_object_get_ex(root, "report", &report) ||
        !json_object_is_type(report, json_type_array)) {
        json_object_put(root);
        pk_fail(err, "cannot parse the JSON report of '%s'", prog);
        return NULL;
    }
    json_object *rows = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(report); i++) {
        json_object *part = json_object_array_get_idx(report, i), *arr = NULL;
        if (!json_object_object_get_ex(part, kind, &arr) || !json_object_is_type(arr, json_type_array))
            continue;
        for (size_t j = 0; j < json_object_array_length(arr); j++)
            json_object_array_add(rows, json_object_get(json_object_array_get_idx(arr, j)));
    }
    json_object_put(root);
    return rows;
}

static const char *field(json_object *row, const char *name)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(row, name, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static int field_u64(json_object *row, const char *name, const char *prog, uint64_t *out,
                     pk_err **err)
{
    const char *s = field(row, name);
    if (!s || pk_parse_u64(s, 10, out) < 0)
        return pk_fail(err, "unexpected value of '%s' in the report of '%s': '%s'", name, prog,
                       s ? s : "(none)");
    return 0;
}

/* ---- physical volumes and the volume group ---- */

typedef struct {
    char *name, *uuid, *vg;
} pv_info;

typedef struct {
    pv_info *pvs; size_t n_pvs;
    bool vg_found;
    char *vg_uuid;
    uint64_t vg_size, vg_free, extent;
} vg_info;

static void vg_info_clear(vg_info *v)
{
    for (size_t i = 0; i < v->n_pvs; i++) {
        free(v->pvs[i].name);
        free(v->pvs[i].uuid);
        free(v->pvs[i].vg);
    }
    free(v->pvs);
    free(v->vg_uuid);
    memset(v, 0, sizeof(*v));
}

/* Every physical volume of the machine, and the numbers of `vg`: one pvs
 * report has both (orphan PVs included, with an empty vg_name). */
static int read_pvs(const char *vg, vg_info *out, pk_err **err)
{
    _cleanup_(pk_cmd_freep) pk_cmd *cmd =
        report_cmd("pvs", "pv_name,pv_uuid,vg_name,vg_uuid,vg_size,vg_free,vg_extent_size");
    if (pk_cmd_run(cmd, NULL, err) < 0) return -1;
    json_object *rows = report_rows(cmd, "pv", err);
    if (!rows) return -1;
    int ret = -1;
    for (size_t i = 0; i < json_object_array_length(rows); i++) {
        json_object *r = json_object_array_get_idx(rows, i);
        const char *name = field(r, "pv_name"), *vgn = field(r, "vg_name");
        if (!name || !vgn) {
            pk_fail(err, "unexpected report of 'pvs': a row without pv_name or vg_name");
            goto out;
        }
        pv_info *p = PK_APPEND(out->pvs, out->n_pvs);
        p->name = pk_strdup(name);
        p->uuid = pk_strdup(field(r, "pv_uuid"));
        p->vg = pk_strdup(vgn);
        if (strcmp(vgn, vg) != 0 || out->vg_found) continue;
        out->vg_found = true;
        out->vg_uuid = pk_strdup(field(r, "vg_uuid"));
        if (field_u64(r, "vg_size", "pvs", &out->vg_size, err) < 0 ||
            field_u64(r, "vg_free", "pvs", &out->vg_free, err) < 0 ||
            field_u64(r, "vg_extent_size", "pvs", &out->extent, err) < 0)
            goto out;
    }
    ret = 0;
out:
    json_object_put(rows);
    return ret;
}

/* Whether two paths name the same device (by device number; by canonical
 * path when either is not a block device). */
static bool same_device(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0 && S_ISBLK(sa.st_mode) && S_ISBLK(sb.st_mode))
        return sa.st_rdev == sb.st_rdev;
    _cleanup_free_ char *ra = realpath(a, NULL);
    _cleanup_free_ char *rb = realpath(b, NULL);
    return pk_streq(ra ? ra : a, rb ? rb : b);
}

static const pv_info *pv_of(const vg_info *v, const char *dev)
{
    for (size_t i = 0; i < v->n_pvs; i++)
        if (same_device(v->pvs[i].name, dev)) return &v->pvs[i];
    return NULL;
}

/* The source devices and the volume group must agree: none may belong to
 * another group, and an existing group must hold at least one of them
 * (libvirt's rule; more devices listed than the group has are tolerated). */
static int check_devices(const pk_pool *def, const vg_info *v, pk_err **err)
{
    const char *vg = vg_of(def);
    size_t matched = 0;
    for (size_t i = 0; i < def->source.n_devices; i++) {
        const char *dev = def->source.devices[i].path;
        const pv_info *pv = pv_of(v, dev);
        if (pv && *pv->vg && strcmp(pv->vg, vg) != 0)
            return pk_fail(err, "source device '%s' is a physical volume of volume group '%s', not '%s'",
                           dev, pv->vg, vg);
        if (pv && *pv->vg) matched++;
    }
    if (v->vg_found && def->source.n_devices > 0 && matched == 0)
        return pk_fail(err, "volume group '%s' exists but none of the pool's source devices is one of its physical volumes",
                       vg);
    return 0;
}

/* ---- logical volumes ---- */

#define LV_FIELDS "lv_name,lv_uuid,lv_attr,lv_size,origin,pool_lv,data_percent,segtype,lv_time,vg_extent_size"

typedef struct {
    const char *name, *uuid, *attr, *origin, *pool_lv, *data_percent, *segtype, *time;
    uint64_t size;
} lv_row;

typedef struct {
    json_object *rows;
    lv_row *v;
    size_t n;
    uint64_t extent;   /* the group's extent size; 0 when it has no LV */
} lv_list;

static void lv_list_clear(lv_list *l)
{
    json_object_put(l->rows);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* All logical volumes of `vg`, hidden ones included (a sparse volume's
 * virtual size is that of its hidden "_vorigin" LV). */
static int read_lvs(const char *vg, lv_list *out, pk_err **err)
{
    _cleanup_(pk_cmd_freep) pk_cmd *cmd = report_cmd("lvs", LV_FIELDS);
    pk_cmd_add_args(cmd, "-a", vg, NULL);
    if (pk_cmd_run(cmd, NULL, err) < 0) return -1;
    out->rows = report_rows(cmd, "lv", err);
    if (!out->rows) return -1;
    size_t n = json_object_array_length(out->rows);
    out->v = pk_calloc(n + 1, sizeof(*out->v));
    for (size_t i = 0; i < n; i++) {
        json_object *r = json_object_array_get_idx(out->rows, i);
        lv_row *l = &out->v[out->n];
        l->name = field(r, "lv_name");
        l->uuid = field(r, "lv_uuid");
        l->attr = field(r, "lv_attr");
        l->origin = field(r, "origin");
        l->pool_lv = field(r, "pool_lv");
        l->data_percent = field(r, "data_percent");
        l->segtype = field(r, "segtype");
        l->time = field(r, "lv_time");
        if (!l->name || !l->uuid || !l->attr || strlen(l->attr) < 5) {
            lv_list_clear(out);
            return pk_fail(err, "unexpected report of 'lvs': a row without lv_name, lv_uuid or lv_attr");
        }
        if (field_u64(r, "lv_size", "lvs", &l->size, err) < 0 ||
            (out->n == 0 && field_u64(r, "vg_extent_size", "lvs", &out->extent, err) < 0)) {
            lv_list_clear(out);
            return -1;
        }
        out->n++;
    }
    return 0;
}

static const lv_row *lv_find(const lv_list *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].name, name) == 0) return &l->v[i];
    return NULL;
}

/* LVM's hidden LVs are shown as "[name]". */
static bool lv_hidden(const lv_row *r)
{
    return r->name[0] == '[';
}

/* A volume is any visible LV but thin pools, their data and metadata, VDO
 * pools and virtual origins (lv_attr's first letter, lvs(8)). */
static bool lv_is_volume(const lv_row *r)
{
    return !lv_hidden(r) && !strchr("tTedv", r->attr[0]);
}

static bool lv_is_thin_pool(const lv_row *r)
{
    return r->attr[0] == 't';
}

static bool lv_active(const lv_row *r)
{
    return r->attr[4] == 'a';
}

static bool lv_is_snapshot(const lv_row *r)
{
    return r->attr[0] == 's' || r->attr[0] == 'S';
}

/* A snapshot of the "zero" target: libvirt's sparse volume. */
static const lv_row *sparse_origin(const lv_list *l, const lv_row *r)
{
    if (!lv_is_snapshot(r) || !r->origin || r->origin[0] != '[') return NULL;
    const lv_row *o = lv_find(l, r->origin);
    return o && pk_streq(o->segtype, "zero") ? o : NULL;
}

/* The snapshot origin named by a row: a visible LV (snapshots and thin
 * snapshots), else NULL. */
static const lv_row *visible_origin(const lv_list *l, const lv_row *r)
{
    if (!r->origin || !*r->origin || r->origin[0] == '[') return NULL;
    return lv_find(l, r->origin);
}

/* "2026-11-27 00:01:02 +0000" (LVM's default time format). */
static bool parse_lv_time(const char *s, int64_t *sec)
{
    struct tm tm = { 0 };
    int off = 0;
    const char *rest = s ? strptime(s, "%Y-%m-%d %H:%M:%S", &tm) : NULL;
    if (!rest || sscanf(rest, " %d", &off) != 1) return false;
    int64_t t = (int64_t)timegm(&tm);
    int64_t zone = (off / 100) * 3600 + (off % 100) * 60;
    *sec = t - zone;
    return true;
}

static void fill_vol(const lv_list *l, const lv_row *r, const char *target, pk_obs_vol *v)
{
    pk_obs_vol_clear(v);
    v->name = pk_strdup(r->name);
    v->path = pk_asprintf("%s/%s", target, r->name);
    v->key = pk_strdup(r->uuid);          /* libvirt's key of an LV */
    v->identity = pk_strdup(r->uuid);
    v->type = PK_VOL_BLOCK;
    v->capacity = v->allocation = v->physical = r->size;
    const lv_row *zero = sparse_origin(l, r), *origin = visible_origin(l, r);
    if (zero) {
        v->capacity = v->physical = zero->size;   /* the COW area is the allocation */
    } else if (origin && lv_is_snapshot(r)) {
        v->capacity = v->physical = origin->size;
    } else if (r->attr[0] == 'V' && r->data_percent && *r->data_percent) {
        double pct = strtod(r->data_percent, NULL);
        v->allocation = (uint64_t)((double)r->size * pct / 100.0);
    }
    if (origin) v->backing_path = pk_asprintf("%s/%s", target, origin->name);
    v->atime.sec = v->mtime.sec = v->ctime.sec = v->btime.sec = -1;
    int64_t born;
    if (parse_lv_time(r->time, &born)) {
        /* LVM records whole seconds; the LV was made before the end of
         * that second (what crash recovery compares with its intent). */
        v->btime.sec = born;
        v->btime.nsec = 999999999;
    }
    struct stat st;
    if (lv_active(r) && stat(v->path, &st) == 0)
        v->perms = (pk_perms){ .mode = st.st_mode & 07777, .uid = st.st_uid, .gid = st.st_gid };
}

static int cmp_obs_vol(const void *a, const void *b)
{
    return strcmp(((const pk_obs_vol *)a)->name, ((const pk_obs_vol *)b)->name);
}

static void fill_vols(const pk_pool *def, const lv_list *l, pk_obs_pool *out)
{
    _cleanup_free_ char *target = target_of(def);
    for (size_t i = 0; i < out->n_vols; i++) pk_obs_vol_clear(&out->vols[i]);
    free(out->vols);
    out->vols = NULL;
    out->n_vols = 0;
    for (size_t i = 0; i < l->n; i++)
        if (lv_is_volume(&l->v[i]))
            fill_vol(l, &l->v[i], target, PK_APPEND(out->vols, out->n_vols));
    if (out->n_vols) qsort(out->vols, out->n_vols, sizeof(*out->vols), cmp_obs_vol);
    out->vols_observed = true;
}

/* ---- pool ---- */

/* A device nothing but an unused LVM physical volume lives on counts as
 * empty for building: an interrupted build leaves exactly that. */
static int device_state(const char *dev, const vg_info *v, bool *nonempty, char **what,
                        pk_err **err)
{
    pk_blk_probe p = { 0 };
    if (pk_blk_probe_path(dev, &p, err) < 0) return -1;
    const pv_info *pv = pv_of(v, dev);
    bool orphan_pv = pk_streq(p.fs_type, "LVM2_member") && pv && !*pv->vg;
    *nonempty = !p.empty && !orphan_pv;
    if (what) *what = pk_blk_probe_describe(&p);
    pk_blk_probe_clear(&p);
    return 0;
}

static int logical_observe_pool(pk_bctx *c PK_UNUSED, const pk_pool *def, pk_obs_pool *out,
                                pk_err **err)
{
    if (need_lvm(err) < 0 || check_vg(def, err) < 0) return -1;
    vg_info v = { 0 };
    lv_list l = { 0 };
    int ret = -1;
    if (read_pvs(vg_of(def), &v, err) < 0 || check_devices(def, &v, err) < 0) goto out;
    if (!v.vg_found) {
        out->state = PK_POOL_ABSENT;
        pk_buf probes = PK_BUF_INIT;
        for (size_t i = 0; i < def->source.n_devices; i++) {
            const char *dev = def->source.devices[i].path;
            bool nonempty;
            _cleanup_free_ char *what = NULL;
            if (device_state(dev, &v, &nonempty, &what, err) < 0) {
                pk_buf_free(&probes);
                goto out;
            }
            out->nonempty |= nonempty;
            pk_buf_addf(&probes, "%s%s: %s", i ? ", " : "", dev, what);
        }
        free(out->probe);
        out->probe = probes.len ? pk_buf_steal(&probes) : NULL;
        pk_buf_free(&probes);
        ret = 0;
        goto out;
    }
    if (read_lvs(vg_of(def), &l, err) < 0) goto out;
    size_t n = 0, active = 0;
    for (size_t i = 0; i < l.n; i++) {
        if (!lv_is_volume(&l.v[i]) && !lv_is_thin_pool(&l.v[i])) continue;
        n++;
        if (lv_active(&l.v[i])) active++;
    }
    out->state = n > 0 && active == 0 ? PK_POOL_INACTIVE : PK_POOL_RUNNING;
    out->capacity = v.vg_size;
    out->available = v.vg_free;
    out->allocation = v.vg_size - v.vg_free;
    out->nonempty = n > 0;
    /* Thin pools and the like are no volumes, but they are somebody's. */
    pk_buf other = PK_BUF_INIT;
    size_t n_other = 0;
    for (size_t i = 0; i < l.n; i++) {
        if (lv_hidden(&l.v[i]) || lv_is_volume(&l.v[i])) continue;
        pk_buf_addf(&other, "%s'%s'", n_other++ ? ", " : "", l.v[i].name);
    }
    free(out->unlisted);
    out->unlisted = n_other ? pk_asprintf("logical volume%s %s", n_other > 1 ? "s" : "", pk_buf_str(&other)) : NULL;
    pk_buf_free(&other);
    free(out->identity);
    out->identity = pk_strdup(v.vg_uuid);
    /* The same report lists the volumes: keep them (observe_vols then has
     * nothing to do). */
    if (out->state == PK_POOL_RUNNING) fill_vols(def, &l, out);
    ret = 0;
out:
    vg_info_clear(&v);
    lv_list_clear(&l);
    return ret;
}

static int logical_observe_vols(pk_bctx *c PK_UNUSED, const pk_pool *def, pk_obs_pool *out,
                                pk_err **err)
{
    if (out->vols_observed) return 0;
    if (need_lvm(err) < 0 || check_vg(def, err) < 0) return -1;
    lv_list l = { 0 };
    if (read_lvs(vg_of(def), &l, err) < 0) return -1;
    fill_vols(def, &l, out);
    lv_list_clear(&l);
    return 0;
}

static int run_cmd(pk_cmd *cmd, pk_err **err)
{
    int r = pk_cmd_run(cmd, NULL, err);
    pk_cmd_free(cmd);
    return r;
}

/* Make `dev` an LVM physical volume (libvirt: `pvcreate DEV`). */
static int make_pv(pk_bctx *c, const char *dev, const vg_info *v, bool *created, pk_err **err)
{
    *created = false;
    const pv_info *pv = pv_of(v, dev);
    if (pv) return 0;   /* an unused PV already (check_devices refused others) */
    bool nonempty;
    _cleanup_free_ char *what = NULL;
    if (device_state(dev, v, &nonempty, &what, err) < 0) return -1;
    if (nonempty && !c->allow_format)
        return pk_fail(err, "refusing to make '%s' an LVM physical volume: it holds %s (policy allow_format permits it)",
                       dev, what);
    if (pk_blk_check_unused(dev, "make an LVM physical volume of", err) < 0) return -1;
    if (nonempty) {
        /* pvcreate would stop at the old signature and ask: erase it first. */
        _cleanup_close_ int fd = open(dev, O_RDWR | O_EXCL | O_CLOEXEC);
        if (fd < 0) return pk_fail_errno(err, errno, "cannot open '%s' exclusively", dev);
        if (pk_blk_wipe_fd(fd, dev, err) < 0) return -1;
    }
    pk_cmd *cmd = lvm_cmd("pvcreate");
    pk_cmd_add_arg(cmd, dev);
    if (run_cmd(cmd, err) < 0) return pk_wrap(err, "cannot make '%s' an LVM physical volume", dev);
    *created = true;
    return 0;
}

static int logical_build(pk_bctx *c, const pk_pool *def, pk_err **err)
{
    if (need_lvm(err) < 0 || check_vg(def, err) < 0) return -1;
    const char *vg = vg_of(def);
    if (def->source.n_devices == 0)
        return pk_fail(err, "cannot build pool '%s': it has no source device", def->name);
    vg_info v = { 0 };
    bool *made = pk_calloc(def->source.n_devices, sizeof(bool));
    int ret = -1;
    if (read_pvs(vg, &v, err) < 0 || check_devices(def, &v, err) < 0) goto out;
    if (v.vg_found) {   /* built already */
        ret = 0;
        goto out;
    }
    for (size_t i = 0; i < def->source.n_devices; i++)
        if (make_pv(c, def->source.devices[i].path, &v, &made[i], err) < 0) goto undo;
    if (pk_backend_fault("pool.build.before-vgcreate", def->name)) {
        pk_fail(err, "fault injected at 'pool.build.before-vgcreate'");
        goto out;   /* as if the process died here: no clean-up */
    }
    pk_cmd *cmd = lvm_cmd("vgcreate");
    pk_cmd_add_arg(cmd, vg);
    for (size_t i = 0; i < def->source.n_devices; i++)
        pk_cmd_add_arg(cmd, def->source.devices[i].path);
    if (run_cmd(cmd, err) < 0) {
        pk_wrap(err, "cannot create volume group '%s'", vg);
        goto undo;
    }
    ret = 0;
    goto out;
undo:
    /* As libvirt: what this build made a PV is made a plain device again. */
    for (size_t i = 0; i < def->source.n_devices; i++) {
        if (!made[i]) continue;
        pk_cmd *rm = lvm_cmd("pvremove");
        pk_cmd_add_arg(rm, def->source.devices[i].path);
        pk_err *ignored = NULL;
        run_cmd(rm, &ignored);
        pk_err_free(ignored);
    }
out:
    free(made);
    vg_info_clear(&v);
    return ret;
}

static int vgchange(const pk_pool *def, bool on, pk_err **err)
{
    if (need_lvm(err) < 0 || check_vg(def, err) < 0) return -1;
    pk_cmd *cmd = lvm_cmd("vgchange");
    pk_cmd_add_args(cmd, on ? "-aly" : "-aln", vg_of(def), NULL);
    if (run_cmd(cmd, err) < 0)
        return pk_wrap(err, on ? "cannot activate volume group '%s'" : "cannot deactivate volume group '%s'",
                       vg_of(def));
    return 0;
}

static int logical_start(pk_bctx *c PK_UNUSED, const pk_pool *def, pk_err **err)
{
    return vgchange(def, true, err);
}

static int logical_stop(pk_bctx *c PK_UNUSED, const pk_pool *def, pk_err **err)
{
    return vgchange(def, false, err);
}

static bool strv_has(char *const *v, const char *s)
{
    for (; v && *v; v++)
        if (strcmp(*v, s) == 0) return true;
    return false;
}

static int lvremove_uuid(const char *vg, const char *uuid, pk_err **err)
{
    /* Selected by UUID, not by name: an LV that took the name since it
     * was observed is not selected. */
    _cleanup_free_ char *sel = pk_asprintf("lv_uuid=%s", uuid);
    pk_cmd *cmd = lvm_cmd("lvremove");
    pk_cmd_add_args(cmd, "-f", "--select", sel, vg, NULL);
    return run_cmd(cmd, err);
}

static int logical_delete_pool(pk_bctx *c PK_UNUSED, const pk_pool *def, char *const *owned_vols,
                               pk_err **err)
{
    if (need_lvm(err) < 0 || check_vg(def, err) < 0) return -1;
    const char *vg = vg_of(def);
    vg_info v = { 0 };
    lv_list l = { 0 };
    pk_buf foreign = PK_BUF_INIT;
    int ret = -1;
    if (read_pvs(vg, &v, err) < 0 || check_devices(def, &v, err) < 0) goto out;
    if (v.vg_found) {
        if (read_lvs(vg, &l, err) < 0) goto out;
        size_t nf = 0;
        for (size_t i = 0; i < l.n; i++) {
            const lv_row *r = &l.v[i];
            if (lv_hidden(r) || (lv_is_volume(r) && strv_has(owned_vols, r->name))) continue;
            if (nf++ < 5) pk_buf_addf(&foreign, "%s'%s'", nf > 1 ? ", " : "", r->name);
        }
        if (nf) {
            if (nf > 5) pk_buf_addf(&foreign, " and %zu more", nf - 5);
            pk_fail(err, "cannot delete volume group '%s': it holds logical volumes poolkeeper does not own: %s",
                    vg, pk_buf_str(&foreign));
            goto out;
        }
        for (size_t i = 0; i < l.n; i++)
            if (lv_is_volume(&l.v[i]) && lvremove_uuid(vg, l.v[i].uuid, err) < 0) goto out;
        pk_cmd *cmd = lvm_cmd("vgremove");
        pk_cmd_add_arg(cmd, vg);
        if (run_cmd(cmd, err) < 0) {
            pk_wrap(err, "cannot remove volume group '%s'", vg);
            goto out;
        }
    }
    /* The devices go back to plain ones; an earlier run may have removed
     * the group already, leaving them unused physical volumes. */
    for (size_t i = 0; i < def->source.n_devices; i++) {
        const char *dev = def->source.devices[i].path;
        const pv_info *pv = pv_of(&v, dev);
        if (!pv || (*pv->vg && strcmp(pv->vg, vg) != 0)) continue;
        pk_cmd *cmd = lvm_cmd("pvremove");
        pk_cmd_add_arg(cmd, dev);
        if (run_cmd(cmd, err) < 0) {
            pk_wrap(err, "cannot remove the LVM label of '%s'", dev);
            goto out;
        }
    }
    ret = 0;
out:
    pk_buf_free(&foreign);
    vg_info_clear(&v);
    lv_list_clear(&l);
    return ret;
}

/* ---- volumes ---- */

/* Owner and mode of the LV's device node, as libvirt sets them after
 * lvcreate (udev makes the node anew on each activation, with its own
 * rules: this lasts until then). Fields the XML leaves out stay. */
static int apply_node_perms(const pk_pool *def, const char *name, const pk_perms *p, pk_err **err)
{
    if (p->mode < 0 && p->uid < 0 && p->gid < 0) return 0;
    _cleanup_free_ char *link = pk_asprintf("/dev/%s/%s", vg_of(def), name);
    _cleanup_close_ int fd = open(link, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return pk_fail_errno(err, errno, "cannot open '%s' (is the logical volume active?)", link);
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISBLK(st.st_mode))
        return pk_fail(err, "'%s' is not a block device", link);
    if ((p->uid >= 0 || p->gid >= 0) &&
        fchown(fd, p->uid >= 0 ? (uid_t)p->uid : (uid_t)-1, p->gid >= 0 ? (gid_t)p->gid : (gid_t)-1) < 0)
        return pk_fail_errno(err, errno, "cannot change the owner of '%s'", link);
    if (p->mode >= 0 && fchmod(fd, (mode_t)p->mode) < 0)
        return pk_fail_errno(err, errno, "cannot change the mode of '%s'", link);
    return 0;
}

/* libvirt's size arguments: KiB, rounded up. */
static char *kib(uint64_t bytes)
{
    return pk_asprintf("%lluK", (unsigned long long)(bytes / 1024 + (bytes % 1024 != 0)));
}

static int observe_lv(const pk_pool *def, const char *name, pk_obs_vol *out, pk_err **err)
{
    lv_list l = { 0 };
    if (read_lvs(vg_of(def), &l, err) < 0) return -1;
    const lv_row *r = lv_find(&l, name);
    int ret = 0;
    if (!r || !lv_is_volume(r)) {
        ret = pk_fail(err, "logical volume '%s/%s' is not there after the change", vg_of(def), name);
    } else if (out) {
        _cleanup_free_ char *target = target_of(def);
        fill_vol(&l, r, target, out);
    }
    lv_list_clear(&l);
    return ret;
}

/* The origin a <backingStore> names: an LV of this pool's group, by path. */
static const lv_row *backing_lv(const pk_pool *def, const lv_list *l, const char *path, pk_err **err)
{
    _cleanup_free_ char *target = target_of(def);
    _cleanup_free_ char *alt = pk_asprintf("/dev/%s", vg_of(def));
    size_t tn = strlen(target), an = strlen(alt);
    const char *name = NULL;
    if (!strncmp(path, target, tn) && path[tn] == '/') name = path + tn + 1;
    else if (!strncmp(path, alt, an) && path[an] == '/') name = path + an + 1;
    const lv_row *r = name ? lv_find(l, name) : NULL;
    if (!r || !lv_is_volume(r)) {
        pk_fail(err, "backing store '%s' is not a logical volume of volume group '%s'", path, vg_of(def));
        return NULL;
    }
    return r;
}

static int logical_create_vol(pk_bctx *c PK_UNUSED, const pk_pool *def, const pk_vol *vol,
                              pk_obs_vol *out, pk_err **err)
{
    if (need_lvm(err) < 0 || check_vg(def, err) < 0 || check_lv_name(vol->name, err) < 0)
        return -1;
    const char *vg = vg_of(def);
    if (vol->target.encryption)
        return pk_fail(err, "cannot create volume '%s': encrypted logical volumes are not supported",
                       vol->name);
    vg_info v = { 0 };
    lv_list l = { 0 };
    pk_cmd *cmd = NULL;
    uint64_t cap = vol->capacity;
    uint64_t alloc = vol->has_allocation && vol->allocation < cap ? vol->allocation : cap;
    _cleanup_free_ char *cap_k = kib(cap);
    _cleanup_free_ char *alloc_k = kib(alloc ? alloc : 1024);
    int ret = -1;
    if (read_lvs(vg, &l, err) < 0) goto out;
    /* an empty group's extent size is only in the pvs report */
    if (l.n == 0 && read_pvs(vg, &v, err) < 0) goto out;
    uint64_t extent = l.n ? l.extent : v.extent;
    if (lv_find(&l, vol->name)) {
        pk_fail(err, "logical volume '%s/%s' already exists", vg, vol->name);
        goto out;
    }
    cmd = lvm_cmd("lvcreate");
    if (vol->backing && vol->backing->path) {
        const lv_row *origin = backing_lv(def, &l, vol->backing->path, err);
        if (!origin) goto out;
        if (cap != origin->size) {
            pk_fail(err, "cannot create volume '%s': a snapshot's capacity is its origin's; '%s' has %llu bytes, not %llu",
                    vol->name, vol->backing->path, (unsigned long long)origin->size,
                    (unsigned long long)cap);
            goto out;
        }
        /* libvirt: lvcreate --name VOL -L CAPK -s BACKING --yes; the
         * allocation, when smaller, sizes the copy-on-write area. */
        pk_cmd_add_args(cmd, "--name", vol->name, "-L", alloc_k, "-s", vol->backing->path, "--yes", NULL);
    } else {
        if (extent && cap % extent != 0) {
            _cleanup_free_ char *ext = pk_human_bytes(extent);
            pk_fail(err, "cannot create volume '%s': its capacity of %llu bytes is not a whole number of the volume group's %s extents",
                    vol->name, (unsigned long long)cap, ext);
            goto out;
        }
        const lv_row *thin_pool = NULL;
        size_t n_thin = 0;
        for (size_t i = 0; i < l.n; i++)
            if (lv_is_thin_pool(&l.v[i]) && n_thin++ == 0) thin_pool = &l.v[i];
        if (alloc == cap) {
            pk_cmd_add_args(cmd, "--name", vol->name, "-L", cap_k, vg, "--yes", NULL);
        } else if (n_thin == 1) {
            pk_cmd_add_args(cmd, "--name", vol->name, "-V", cap_k, "--thinpool", thin_pool->name, vg,
                            "--yes", NULL);
        } else if (n_thin == 0) {
            pk_cmd_add_args(cmd, "--name", vol->name, "-L", alloc_k, "--type", "snapshot",
                            "--virtualsize", cap_k, vg, "--yes", NULL);
        } else {
            pk_fail(err, "cannot create sparse volume '%s': volume group '%s' has %zu thin pools and poolkeeper does not choose between them",
                    vol->name, vg, n_thin);
            goto out;
        }
    }
    if (pk_cmd_run(cmd, NULL, err) < 0) {
        pk_wrap(err, "cannot create logical volume '%s/%s'", vg, vol->name);
        goto out;
    }
    if (apply_node_perms(def, vol->name, &vol->target.perms, err) < 0) goto out;
    ret = observe_lv(def, vol->name, out, err);
out:
    pk_cmd_free(cmd);
    vg_info_clear(&v);
    lv_list_clear(&l);
    return ret;
}

/* The LV observed as `cur`, checked to be that very LV still. */
static const lv_row *current_lv(const pk_pool *def, const lv_list *l, const pk_obs_vol *cur,
                                pk_err **err)
{
    const lv_row *r = lv_find(l, cur->name);
    if (!r) {
        pk_fail(err, "logical volume '%s/%s' does not exist any more", vg_of(def), cur->name);
        return NULL;
    }
    if (!cur->identity || strcmp(cur->identity, r->uuid) != 0) {
        pk_fail(err, "logical volume '%s/%s' was replaced since it was observed (UUID '%s', now '%s')",
                vg_of(def), cur->name, cur->identity ? cur->identity : "", r->uuid);
        return NULL;
    }
    return r;
}

static int logical_resize_vol(pk_bctx *c, const pk_pool *def, const pk_vol *vol PK_UNUSED,
                              const pk_obs_vol *cur, uint64_t new_capacity, pk_obs_vol *out,
                              pk_err **err)
{
    if (need_lvm(err) < 0 || check_vg(def, err) < 0 || check_lv_name(cur->name, err) < 0)
        return -1;
    const char *vg = vg_of(def);
    lv_list l = { 0 };
    _cleanup_free_ char *path = pk_asprintf("/dev/%s/%s", vg, cur->name);
    _cleanup_free_ char *lv = pk_asprintf("%s/%s", vg, cur->name);
    _cleanup_free_ char *size = kib(new_capacity);
    int ret = -1;
    if (read_lvs(vg, &l, err) < 0) goto out;
    const lv_row *r = current_lv(def, &l, cur, err);
    if (!r) goto out;
    if (lv_is_snapshot(r)) {
        pk_fail(err, "cannot resize volume '%s/%s': it is a snapshot, whose capacity is its origin's",
                vg, cur->name);
        goto out;
    }
    if (l.extent && new_capacity % l.extent != 0) {
        _cleanup_free_ char *ext = pk_human_bytes(l.extent);
        pk_fail(err, "cannot resize volume '%s/%s' to %llu bytes: not a whole number of the volume group's %s extents",
                vg, cur->name, (unsigned long long)new_capacity, ext);
        goto out;
    }
    if (new_capacity == r->size) {
        ret = observe_lv(def, cur->name, out, err);
        goto out;
    }
    bool shrink = new_capacity < r->size;
    if (shrink) {
        if (!c->allow_shrink) {
            pk_fail(err, "shrinking volume '%s/%s' from %llu to %llu bytes needs policy allow_shrink",
                    vg, cur->name, (unsigned long long)r->size, (unsigned long long)new_capacity);
            goto out;
        }
        /* Mounted, held by another device or opened exclusively (a
         * filesystem, a VM): shrinking would cut it off under its user. */
        if (lv_active(r) && access(path, F_OK) == 0 && pk_blk_check_unused(path, "shrink", err) < 0)
            goto out;
    }
    pk_cmd *cmd = lvm_cmd("lvresize");
    /* --yes only where LVM asks "this may destroy your data": the shrink
     * policy allowed exactly that. */
    if (shrink) pk_cmd_add_arg(cmd, "--yes");
    pk_cmd_add_args(cmd, "-L", size, lv, NULL);
    if (run_cmd(cmd, err) < 0) {
        pk_wrap(err, "cannot resize logical volume '%s'", lv);
        goto out;
    }
    ret = observe_lv(def, cur->name, out, err);
out:
    lv_list_clear(&l);
    return ret;
}

static int logical_update_vol(pk_bctx *c PK_UNUSED, const pk_pool *def, const pk_vol *vol,
                              const pk_obs_vol *cur, pk_obs_vol *out, pk_err **err)
{
    if (need_lvm(err) < 0 || check_vg(def, err) < 0 || check_lv_name(cur->name, err) < 0)
        return -1;
    lv_list l = { 0 };
    int ret = -1;
    if (read_lvs(vg_of(def), &l, err) < 0) goto out;
    if (!current_lv(def, &l, cur, err) ||
        apply_node_perms(def, cur->name, &vol->target.perms, err) < 0)
        goto out;
    ret = observe_lv(def, cur->name, out, err);
out:
    lv_list_clear(&l);
    return ret;
}

static int logical_delete_vol(pk_bctx *c PK_UNUSED, const pk_pool *def, const pk_obs_vol *cur,
                              pk_err **err)
{
    if (need_lvm(err) < 0 || check_vg(def, err) < 0 || check_lv_name(cur->name, err) < 0)
        return -1;
    const char *vg = vg_of(def);
    lv_list l = { 0 };
    int ret = -1;
    if (read_lvs(vg, &l, err) < 0) goto out;
    if (!lv_find(&l, cur->name)) {   /* done already */
        ret = 0;
        goto out;
    }
    const lv_row *r = current_lv(def, &l, cur, err);
    if (!r) goto out;
    /* lvremove -f of an origin takes its snapshots with it. */
    for (size_t i = 0; i < l.n; i++) {
        if (pk_streq(l.v[i].origin, r->name) && lv_is_volume(&l.v[i])) {
            pk_fail(err, "cannot delete volume '%s/%s': logical volume '%s' is a snapshot of it",
                    vg, cur->name, l.v[i].name);
            goto out;
        }
    }
    if (lvremove_uuid(vg, r->uuid, err) < 0) {
        pk_wrap(err, "cannot delete logical volume '%s/%s'", vg, cur->name);
        goto out;
    }
    ret = 0;
out:
    lv_list_clear(&l);
    return ret;
}

const pk_backend pk_backend_logical = {
    .type = PK_POOL_LOGICAL,
    .caps = PK_CAP_BUILD | PK_CAP_START | PK_CAP_DELETE_POOL | PK_CAP_CREATE_VOL |
            PK_CAP_RESIZE_VOL | PK_CAP_SHRINK_VOL | PK_CAP_UPDATE_VOL | PK_CAP_DELETE_VOL |
            PK_CAP_BACKING,
    .observe_pool = logical_observe_pool,
    .observe_vols = logical_observe_vols,
    .build = logical_build,
    .start = logical_start,
    .stop = logical_stop,
    .delete_pool = logical_delete_pool,
    .create_vol = logical_create_vol,
    .resize_vol = logical_resize_vol,
    .update_vol = logical_update_vol,
    .delete_vol = logical_delete_vol,
};
