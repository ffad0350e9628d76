/* The logical backend's LVM command lines and its reading of LVM's JSON
 * reports, without device-mapper: this machine's kernel has none, so the
 * runner's hook answers every LVM command with reports recorded from real
 * LVM in the kernel-test VM (tests/data/recorded/lvm/) or built from them.
 * The real thing, end to end, is tests/kernel/test-logical.sh in the VM. */
#include "fakecmd.h"
#include "loopdev.h"
#include "../../backends/logical.h"
#include <json-c/json.h>
#include <sys/stat.h>
#include <time.h>

static char *tmp;

static pk_pool *vg_pool(const char *vg, const char *dev1, const char *dev2)
{
    _cleanup_free_ char *xml = pk_asprintf(
        "<pool type='logical'><name>%s</name><source><name>%s</name>"
        "<device path='%s'/><device path='%s'/></source></pool>", vg, vg, dev1, dev2);
    return fc_pool(xml);
}

/* A recorded lvs report with one more LV row (as after an lvcreate). */
static char *lvs_plus(const char *base, const char *name, const char *uuid, const char *attr,
                      const char *size, const char *origin, const char *pool_lv)
{
    json_object *root = json_tokener_parse(base), *report, *lvs;
    if (!root || !json_object_object_get_ex(root, "report", &report) ||
        !json_object_object_get_ex(json_object_array_get_idx(report, 0), "lv", &lvs))
        tap_bail("unexpected recorded lvs report");
    json_object *row = json_object_new_object();
    const char *kv[][2] = {
        { "lv_name", name }, { "lv_uuid", uuid }, { "lv_attr", attr }, { "lv_size", size },
        { "origin", origin }, { "pool_lv", pool_lv }, { "data_percent", "" },
        { "segtype", "linear" }, { "lv_time", "2026-11-27 00:10:00 +0000" },
        { "vg_extent_size", "4194304" },
    };
    for (size_t i = 0; i < PK_NELEM(kv); i++)
        json_object_object_add(row, kv[i][0], json_object_new_string(kv[i][1]));
    json_object_array_add(lvs, row);
    char *s = pk_strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
    json_object_put(root);
    return s;
}

/* A signature libblkid knows, written by util-linux's mkswap. */
static void mkswap(const char *path)
{
    char *argv[] = { (char *)"mkswap", (char *)path, NULL };
    if (tap_run(argv, NULL) != 0) tap_bail("mkswap %s failed", path);
}

static const pk_obs_vol *find_vol(const pk_obs_pool *o, const char *name)
{
    return pk_obs_pool_find_vol(o, name);
}

/* ---- libvirt's start command lines ---- */

static void test_libvirt_argv(void)
{
    const char *cases[] = { "pool-logical", "pool-logical-nopath", "pool-logical-create",
                            "pool-logical-noname" };
    pk_bctx c = { .no_sync = true };
    for (size_t i = 0; i < PK_NELEM(cases); i++) {
        _cleanup_free_ char *in = pk_asprintf("%s/data/libvirt/pool/in/%s.xml", tap_data_dir(), cases[i]);
        _cleanup_free_ char *rel = pk_asprintf("libvirt/pool-argv-logical/%s.argv", cases[i]);
        _cleanup_free_ char *want_text = fc_data(rel);
        pk_err *e = NULL;
        _cleanup_(pk_pool_freep) pk_pool *p = pk_pool_parse_file(in, &e);
        pk_err_free(e);
        if (!tap_ok(p != NULL, "%s parses", cases[i])) continue;
        /* "vgchange \\\n-aly HostVG\n" -> "vgchange -aly HostVG" */
        pk_buf want = PK_BUF_INIT;
        char *save = NULL;
        for (char *w = strtok_r(want_text, " \\\n", &save); w; w = strtok_r(NULL, " \\\n", &save))
            pk_buf_addf(&want, "%s%s", want.len ? " " : "", w);
        fc_start();
        fc_reply("vgchange", 0, "", "");
        e = NULL;
        int r = pk_backend_logical.start(&c, p, &e);
        _cleanup_free_ char *es = fc_errstr_take(&e);
        tap_ok(r == 0, "%s: start succeeds %s", cases[i], es);
        tap_is_str(fc_cmd(0), pk_buf_str(&want), "%s: start runs libvirt's command line", cases[i]);
        tap_is_int((long long)fc_count(), 1, "%s: and nothing else", cases[i]);
        pk_buf_free(&want);
    }
    fc_start();
    fc_reply("vgchange", 0, "", "");
    _cleanup_(pk_pool_freep) pk_pool *p = vg_pool("pkvg", "/dev/loop0", "/dev/loop1");
    pk_err *e = NULL;
    tap_ok(pk_backend_logical.stop(&c, p, &e) == 0 && pk_streq(fc_cmd(0), "vgchange -aln pkvg"),
           "stop: vgchange -aln VG");
    pk_err_free(e);
}

/* ---- observing ---- */

static void test_observe(void)
{
    _cleanup_free_ char *pvs_vg = fc_data("recorded/lvm/pvs-vg.json");
    _cleanup_free_ char *pvs_none = fc_data("recorded/lvm/pvs-none.json");
    _cleanup_free_ char *lvs_all = fc_data("recorded/lvm/lvs-all.json");
    _cleanup_free_ char *lvs_inactive = fc_data("recorded/lvm/lvs-inactive.json");
    pk_bctx c = { .no_sync = true };
    _cleanup_(pk_pool_freep) pk_pool *p = vg_pool("pkvg", "/dev/loop0", "/dev/loop1");

    fc_start();
    fc_reply("pvs", 0, pvs_vg, "");
    fc_reply("lvs", 0, lvs_all, "");
    pk_obs_pool o = { 0 };
    pk_backend_observe(&c, p, &o);
    _cleanup_free_ char *oe = fc_errstr(o.error);
    tap_ok(!o.error, "a volume group with volumes is observed %s", oe);
    tap_is_str(fc_cmd(0), "pvs --reportformat json --units b --nosuffix -o "
               "pv_name,pv_uuid,vg_name,vg_uuid,vg_size,vg_free,vg_extent_size",
               "one pvs report: the PVs, their groups and the group's numbers");
    tap_is_str(fc_cmd(1), "lvs --reportformat json --units b --nosuffix -o "
               "lv_name,lv_uuid,lv_attr,lv_size,origin,pool_lv,data_percent,segtype,lv_time,vg_extent_size -a pkvg",
               "one lvs report of the group, hidden LVs included");
    tap_is_int((long long)fc_count(), 2, "and no other command");
    tap_is_int(o.state, PK_POOL_RUNNING, "active LVs: running");
    tap_is_str(o.identity, "lwDIcd-oejn-ffpe-j0pg-1Wzr-tXNL-YOEJNC", "pool identity is the VG UUID");
    tap_is_int((long long)o.capacity, 260046848, "capacity is vg_size");
    tap_is_int((long long)o.available, 180355072, "available is vg_free");
    tap_is_int((long long)(o.capacity - o.allocation), (long long)o.available, "allocation is the rest");
    tap_ok(o.vols_observed, "volumes observed with the pool");
    tap_is_int((long long)o.n_vols, 4, "thick, sparse, snap and thin; no thin pool, no hidden LV");
    const pk_obs_vol *v = find_vol(&o, "thick");
    if (tap_ok(v != NULL, "thick LV listed")) {
        tap_is_str(v->path, "/dev/pkvg/thick", "path is TARGET/NAME");
        tap_is_str(v->key, "XBr7kb-RziI-908X-pgOe-0nDf-nUzA-gzdQ6A", "key is the LV UUID (libvirt)");
        tap_is_str(v->identity, v->key, "identity is the LV UUID");
        tap_is_int(v->type, PK_VOL_BLOCK, "block volume");
        tap_is_int((long long)v->capacity, 16777216, "capacity of a thick LV is its size");
        tap_is_int((long long)v->allocation, 16777216, "and so is its allocation");
        struct tm tm = { .tm_year = 2026 - 1900, .tm_mon = 10, .tm_mday = 27, .tm_min = 57, .tm_sec = 14 };
        tap_is_int((long long)v->btime.sec, (long long)timegm(&tm),
                   "creation time from lv_time (2026-11-27 00:57:14 +0000)");
        tap_ok(v->backing_path == NULL, "no backing store");
    }
    v = find_vol(&o, "sparse");
    if (tap_ok(v != NULL, "libvirt's sparse volume listed")) {
        tap_is_int((long long)v->capacity, 67108864, "its capacity is the virtual size (of the hidden _vorigin)");
        tap_is_int((long long)v->allocation, 4194304, "its allocation is the COW area");
        tap_ok(v->backing_path == NULL, "the zero origin is no backing store");
    }
    v = find_vol(&o, "snap");
    if (tap_ok(v != NULL, "snapshot listed")) {
        tap_is_str(v->backing_path, "/dev/pkvg/thick", "a snapshot's backing store is its origin");
        tap_is_int((long long)v->capacity, 16777216, "its capacity is the origin's size");
    }
    v = find_vol(&o, "thin");
    if (tap_ok(v != NULL, "thin LV listed")) {
        tap_is_int((long long)v->capacity, 67108864, "thin capacity is the virtual size");
        tap_is_int((long long)v->allocation, 4194304, "thin allocation from data_percent (6.25%%)");
    }
    tap_ok(find_vol(&o, "tpool") == NULL, "the thin pool is not a volume");
    pk_obs_pool_clear(&o);

    fc_start();
    fc_reply("pvs", 0, pvs_vg, "");
    fc_reply("lvs", 0, lvs_inactive, "");
    pk_backend_observe(&c, p, &o);
    tap_ok(!o.error && o.state == PK_POOL_INACTIVE, "no active LV after vgchange -aln: inactive");
    pk_obs_pool_clear(&o);

    /* absent: no such group; the devices are probed with libblkid */
    _cleanup_free_ char *d1 = pk_asprintf("%s/dev1", tmp);
    _cleanup_free_ char *d2 = pk_asprintf("%s/dev2", tmp);
    FILE *f = fopen(d1, "w");
    if (f) { ftruncate(fileno(f), 1 << 20); fclose(f); }
    f = fopen(d2, "w");
    if (f) { ftruncate(fileno(f), 1 << 20); fclose(f); }
    mkswap(d2);
    _cleanup_(pk_pool_freep) pk_pool *absent = vg_pool("newvg", d1, d1);
    fc_start();
    fc_reply("pvs", 0, pvs_none, "");
    pk_backend_observe(&c, absent, &o);
    tap_ok(!o.error && o.state == PK_POOL_ABSENT && !o.nonempty, "no group, empty devices: absent, buildable");
    tap_is_int((long long)fc_count(), 1, "an absent group needs no lvs");
    pk_obs_pool_clear(&o);
    _cleanup_(pk_pool_freep) pk_pool *dirty = vg_pool("newvg", d1, d2);
    pk_backend_observe(&c, dirty, &o);
    tap_ok(!o.error && o.state == PK_POOL_ABSENT && o.nonempty, "a device with a signature: not empty");
    tap_ok(o.probe && strstr(o.probe, "swap"), "and the plan can say what it holds (%s)", o.probe ? o.probe : "");
    pk_obs_pool_clear(&o);

    /* a device of another group */
    _cleanup_(pk_pool_freep) pk_pool *other = vg_pool("othervg", "/dev/loop0", d1);
    fc_start();
    fc_reply("pvs", 0, pvs_vg, "");
    pk_backend_observe(&c, other, &o);
    _cleanup_free_ char *ge = fc_errstr(o.error);
    tap_ok(o.error && strstr(ge, "'/dev/loop0' is a physical volume of volume group 'pkvg', not 'othervg'"),
           "a source device of another group is an error, never 'absent': %s", ge);
    pk_obs_pool_clear(&o);

    /* LVM failing is an error, not absence */
    fc_start();
    fc_reply("pvs", 5, "", "  /dev/mapper/control: open failed: No such device\n");
    pk_backend_observe(&c, p, &o);
    _cleanup_free_ char *fe = fc_errstr(o.error);
    tap_ok(o.error && strstr(fe, "exited with status 5"), "a failing pvs is an observe error: %s", fe);
    pk_obs_pool_clear(&o);
    fc_stop();
}

/* ---- volumes ---- */

static void test_create(void)
{
    _cleanup_free_ char *pvs_vg = fc_data("recorded/lvm/pvs-vg.json");
    _cleanup_free_ char *lvs_all = fc_data("recorded/lvm/lvs-all.json");
    _cleanup_free_ char *lvs_empty = fc_data("recorded/lvm/lvs-empty.json");
    pk_bctx c = { .no_sync = true };
    _cleanup_(pk_pool_freep) pk_pool *p = vg_pool("pkvg", "/dev/loop0", "/dev/loop1");
    static const struct {
        const char *what, *xml, *before, *argv, *attr, *origin, *pool_lv;
    } cases[] = {
        { "thick (no allocation given)",
          "<volume><name>v1</name><capacity unit='MiB'>32</capacity></volume>", "empty",
          "lvcreate --name v1 -L 32768K pkvg --yes", "-wi-a-----", "", "" },
        { "sparse, no thin pool: libvirt's snapshot of zeros",
          "<volume><name>v2</name><capacity unit='MiB'>64</capacity><allocation unit='MiB'>4</allocation></volume>",
          "empty", "lvcreate --name v2 -L 4096K --type snapshot --virtualsize 65536K pkvg --yes",
          "swi-a-s---", "[v2_vorigin]", "" },
        { "sparse with allocation 0: 1K, as libvirt",
          "<volume><name>v3</name><capacity unit='MiB'>64</capacity><allocation>0</allocation></volume>",
          "empty", "lvcreate --name v3 -L 1K --type snapshot --virtualsize 65536K pkvg --yes",
          "swi-a-s---", "[v3_vorigin]", "" },
        { "sparse, one thin pool: a thin LV",
          "<volume><name>v4</name><capacity unit='MiB'>64</capacity><allocation>0</allocation></volume>",
          "all", "lvcreate --name v4 -V 65536K --thinpool tpool pkvg --yes", "Vwi-a-tz--", "", "tpool" },
        { "backing store: an LVM snapshot of it (libvirt's -s)",
          "<volume><name>v5</name><capacity unit='MiB'>16</capacity>"
          "<backingStore><path>/dev/pkvg/thick</path></backingStore></volume>",
          "all", "lvcreate --name v5 -L 16384K -s /dev/pkvg/thick --yes", "swi-a-s---", "thick", "" },
    };
    for (size_t i = 0; i < PK_NELEM(cases); i++) {
        _cleanup_(pk_vol_freep) pk_vol *v = fc_vol(p, cases[i].xml, PK_VOL_PARSE_OPT_CAPACITY);
        const char *before = strcmp(cases[i].before, "all") == 0 ? lvs_all : lvs_empty;
        _cleanup_free_ char *after = lvs_plus(before, v->name, "NEW000-uuid", cases[i].attr,
                                              "67108864", cases[i].origin, cases[i].pool_lv);
        fc_start();
        fc_reply("pvs", 0, pvs_vg, "");
        fc_reply("lvs", 0, before, "");
        fc_reply("lvs", 0, after, "");
        fc_reply("lvcreate", 0, "", "");
        pk_obs_vol out = { 0 };
        pk_err *e = NULL;
        int r = pk_backend_logical.create_vol(&c, p, v, &out, &e);
        _cleanup_free_ char *es = fc_errstr_take(&e);
        tap_ok(r == 0, "create %s %s", cases[i].what, es);
        tap_is_str(fc_find("lvcreate"), cases[i].argv, "create %s: argv", cases[i].what);
        tap_is_str(out.identity, "NEW000-uuid", "create %s: the new LV observed by its UUID", cases[i].what);
        pk_obs_vol_clear(&out);
    }

    struct { const char *what, *xml, *msg; } bad[] = {
        { "a capacity that is not whole extents",
          "<volume><name>odd</name><capacity unit='MiB'>10</capacity></volume>",
          "not a whole number of the volume group's 4 MiB extents" },
        { "an existing name", "<volume><name>thick</name><capacity unit='MiB'>16</capacity></volume>",
          "logical volume 'pkvg/thick' already exists" },
        { "a backing store outside the group",
          "<volume><name>s2</name><capacity unit='MiB'>16</capacity>"
          "<backingStore><path>/dev/othervg/x</path></backingStore></volume>",
          "is not a logical volume of volume group 'pkvg'" },
        { "a snapshot whose capacity is not its origin's",
          "<volume><name>s3</name><capacity unit='MiB'>8</capacity>"
          "<backingStore><path>/dev/pkvg/thick</path></backingStore></volume>",
          "a snapshot's capacity is its origin's" },
        { "a name LVM keeps for itself", "<volume><name>x_tmeta</name><capacity unit='MiB'>4</capacity></volume>",
          "invalid logical volume name 'x_tmeta'" },
    };
    for (size_t i = 0; i < PK_NELEM(bad); i++) {
        _cleanup_(pk_vol_freep) pk_vol *v = fc_vol(p, bad[i].xml, PK_VOL_PARSE_OPT_CAPACITY);
        fc_start();
        fc_reply("pvs", 0, pvs_vg, "");
        fc_reply("lvs", 0, lvs_all, "");
        pk_obs_vol out = { 0 };
        pk_err *e = NULL;
        int r = pk_backend_logical.create_vol(&c, p, v, &out, &e);
        _cleanup_free_ char *es = fc_errstr_take(&e);
        tap_ok(r < 0 && strstr(es, bad[i].msg), "refused: %s (%s)", bad[i].what, es);
        tap_ok(!fc_find("lvcreate"), "and no lvcreate ran for %s", bad[i].what);
        pk_obs_vol_clear(&out);
    }
    /* two thin pools: poolkeeper does not pick one */
    _cleanup_free_ char *two = lvs_plus(lvs_all, "tpool2", "TP2", "twi-a-tz--", "33554432", "", "");
    _cleanup_(pk_vol_freep) pk_vol *sv = fc_vol(p,
        "<volume><name>v9</name><capacity unit='MiB'>64</capacity><allocation>0</allocation></volume>",
        PK_VOL_PARSE_OPT_CAPACITY);
    fc_start();
    fc_reply("pvs", 0, pvs_vg, "");
    fc_reply("lvs", 0, two, "");
    pk_err *e = NULL;
    int r = pk_backend_logical.create_vol(&c, p, sv, NULL, &e);
    _cleanup_free_ char *es = fc_errstr_take(&e);
    tap_ok(r < 0 && strstr(es, "has 2 thin pools"), "two thin pools: sparse create refused (%s)", es);
    fc_stop();
}

static pk_obs_vol observed(const char *lvs_json, const char *name)
{
    pk_bctx c = { .no_sync = true };
    _cleanup_(pk_pool_freep) pk_pool *p = vg_pool("pkvg", "/dev/loop0", "/dev/loop1");
    _cleanup_free_ char *pvs_vg = fc_data("recorded/lvm/pvs-vg.json");
    fc_start();
    fc_reply("pvs", 0, pvs_vg, "");
    fc_reply("lvs", 0, lvs_json, "");
    pk_obs_pool o = { 0 };
    pk_backend_observe(&c, p, &o);
    pk_obs_vol v = { 0 };
    const pk_obs_vol *f = pk_obs_pool_find_vol(&o, name);
    if (!f) tap_bail("no observed volume %s", name);
    v = *f;
    v.name = pk_strdup(f->name);
    v.key = pk_strdup(f->key);
    v.path = pk_strdup(f->path);
    v.identity = pk_strdup(f->identity);
    v.backing_path = pk_strdup(f->backing_path);
    v.perms.label = NULL;
    v.error = NULL;
    v.extents = NULL;
    v.part_type = NULL;
    pk_obs_pool_clear(&o);
    fc_stop();
    return v;
}

static void test_resize_delete(void)
{
    _cleanup_free_ char *pvs_vg = fc_data("recorded/lvm/pvs-vg.json");
    _cleanup_free_ char *lvs_all = fc_data("recorded/lvm/lvs-all.json");
    pk_bctx c = { .no_sync = true };
    _cleanup_(pk_pool_freep) pk_pool *p = vg_pool("pkvg", "/dev/loop0", "/dev/loop1");
    pk_obs_vol thick = observed(lvs_all, "thick");
    pk_obs_vol thin = observed(lvs_all, "thin");
    pk_obs_vol snap = observed(lvs_all, "snap");
    pk_obs_vol sparse = observed(lvs_all, "sparse");
    pk_err *e = NULL;

    fc_start();
    fc_reply("pvs", 0, pvs_vg, "");
    fc_reply("lvs", 0, lvs_all, "");
    fc_reply("lvresize", 0, "", "");
    pk_obs_vol out = { 0 };
    int r = pk_backend_logical.resize_vol(&c, p, NULL, &thick, 32 << 20, &out, &e);
    _cleanup_free_ char *e1 = fc_errstr_take(&e);
    tap_ok(r == 0, "grow a thick LV %s", e1);
    tap_is_str(fc_find("lvresize"), "lvresize -L 32768K pkvg/thick", "grow: lvresize -L, no --yes");
    pk_obs_vol_clear(&out);

    fc_start();
    fc_reply("pvs", 0, pvs_vg, "");
    fc_reply("lvs", 0, lvs_all, "");
    r = pk_backend_logical.resize_vol(&c, p, NULL, &thick, 8 << 20, &out, &e);
    _cleanup_free_ char *e2 = fc_errstr_take(&e);
    tap_ok(r < 0 && strstr(e2, "needs policy allow_shrink"), "shrink refused without allow_shrink (%s)", e2);
    tap_ok(!fc_find("lvresize"), "and nothing was resized");

    pk_bctx shrink = { .no_sync = true, .allow_shrink = true };
    fc_start();
    fc_reply("pvs", 0, pvs_vg, "");
    fc_reply("lvs", 0, lvs_all, "");
    fc_reply("lvresize", 0, "", "");
    r = pk_backend_logical.resize_vol(&shrink, p, NULL, &thin, 32 << 20, &out, &e);
    _cleanup_free_ char *e3 = fc_errstr_take(&e);
    tap_ok(r == 0, "shrink a thin LV with allow_shrink %s", e3);
    tap_is_str(fc_find("lvresize"), "lvresize --yes -L 32768K pkvg/thin", "shrink: lvresize --yes");
    pk_obs_vol_clear(&out);

    fc_start();
    fc_reply("pvs", 0, pvs_vg, "");
    fc_reply("lvs", 0, lvs_all, "");
    r = pk_backend_logical.resize_vol(&shrink, p, NULL, &snap, 32 << 20, &out, &e);
    _cleanup_free_ char *e4 = fc_errstr_take(&e);
    tap_ok(r < 0 && strstr(e4, "is a snapshot"), "a snapshot cannot be resized (%s)", e4);
    r = pk_backend_logical.resize_vol(&shrink, p, NULL, &sparse, 128 << 20, &out, &e);
    _cleanup_free_ char *e5 = fc_errstr_take(&e);
    tap_ok(r < 0 && strstr(e5, "is a snapshot"), "nor can a sparse volume (%s)", e5);
    tap_ok(!fc_find("lvresize"), "no lvresize for them");

    /* replaced under the same name */
    pk_obs_vol stale = thick;
    stale.identity = "OLD-uuid";
    fc_start();
    fc_reply("pvs", 0, pvs_vg, "");
    fc_reply("lvs", 0, lvs_all, "");
    r = pk_backend_logical.resize_vol(&c, p, NULL, &stale, 32 << 20, &out, &e);
    _cleanup_free_ char *e6 = fc_errstr_take(&e);
    tap_ok(r < 0 && strstr(e6, "was replaced since it was observed"), "resize checks the LV UUID (%s)", e6);
    r = pk_backend_logical.delete_vol(&c, p, &stale, &e);
    _cleanup_free_ char *e7 = fc_errstr_take(&e);
    tap_ok(r < 0 && strstr(e7, "was replaced"), "so does delete (%s)", e7);
    tap_ok(!fc_find("lvremove") && !fc_find("lvresize"), "nothing ran on the replaced LV");

    fc_start();
    fc_reply("lvs", 0, lvs_all, "");
    fc_reply("lvremove", 0, "", "");
    r = pk_backend_logical.delete_vol(&c, p, &snap, &e);
    _cleanup_free_ char *e8 = fc_errstr_take(&e);
    tap_ok(r == 0, "delete a snapshot %s", e8);
    tap_is_str(fc_find("lvremove"), "lvremove -f --select lv_uuid=VWEJGs-qvef-WSiE-mFAq-di4J-3iJY-jPsYwB pkvg",
               "lvremove selects the LV by its UUID");
    fc_start();
    fc_reply("lvs", 0, lvs_all, "");
    r = pk_backend_logical.delete_vol(&c, p, &thick, &e);
    _cleanup_free_ char *e9 = fc_errstr_take(&e);
    tap_ok(r < 0 && strstr(e9, "'snap' is a snapshot of it"), "an origin with a snapshot is kept (%s)", e9);
    tap_ok(!fc_find("lvremove"), "lvremove -f would have taken the snapshot too: not run");
    _cleanup_free_ char *lvs_empty = fc_data("recorded/lvm/lvs-empty.json");
    fc_start();
    fc_reply("lvs", 0, lvs_empty, "");
    tap_ok(pk_backend_logical.delete_vol(&c, p, &thick, &e) == 0 && fc_count() == 1,
           "deleting an LV that is gone is done already");
    pk_err_free(e);
    pk_obs_vol_clear(&thick);
    pk_obs_vol_clear(&thin);
    pk_obs_vol_clear(&snap);
    pk_obs_vol_clear(&sparse);
    fc_stop();
}

static void test_delete_pool(void)
{
    _cleanup_free_ char *pvs_vg = fc_data("recorded/lvm/pvs-vg.json");
    _cleanup_free_ char *lvs_all = fc_data("recorded/lvm/lvs-all.json");
    _cleanup_free_ char *lvs_empty = fc_data("recorded/lvm/lvs-empty.json");
    _cleanup_free_ char *pvs_orphan = fc_data("recorded/lvm/pvs-vg-orphan.json");
    pk_bctx c = { .no_sync = true };
    _cleanup_(pk_pool_freep) pk_pool *p = vg_pool("pkvg", "/dev/loop0", "/dev/loop1");
    pk_err *e = NULL;
    fc_start();
    fc_reply("pvs", 0, pvs_vg, "");
    fc_reply("lvs", 0, lvs_all, "");
    int r = pk_backend_logical.delete_pool(&c, p, NULL, &e);
    _cleanup_free_ char *e1 = fc_errstr_take(&e);
    tap_ok(r < 0 && strstr(e1, "does not own: 'snap', 'sparse', 'thick', 'thin', 'tpool'"),
           "a group holding LVs we do not own is kept (%s)", e1);
    tap_ok(!fc_find("vgremove") && !fc_find("lvremove"), "nothing removed");

    fc_start();
    fc_reply("pvs", 0, pvs_orphan, "");
    fc_reply("lvs", 0, lvs_empty, "");
    fc_reply("vgremove", 0, "", "");
    fc_reply("pvremove", 0, "", "");
    r = pk_backend_logical.delete_pool(&c, p, NULL, &e);
    _cleanup_free_ char *e2 = fc_errstr_take(&e);
    tap_ok(r == 0, "an empty group is deleted %s", e2);
    tap_is_str(fc_cmd(2), "vgremove pkvg", "vgremove without -f: LVM refuses if an LV appeared meanwhile");
    tap_is_str(fc_cmd(3), "pvremove /dev/loop0", "then pvremove of each device");
    tap_is_str(fc_cmd(4), "pvremove /dev/loop1", "(second device)");
    tap_is_int((long long)fc_count(), 5, "and nothing else (the unused PV /dev/loop2 is not ours)");
    fc_stop();
}

/* ---- build, on real loop devices (pvcreate and vgcreate answered) ---- */

static char *pvs_report(const char *const *names, const char *const *vgs, size_t n)
{
    pk_buf b = PK_BUF_INIT;
    pk_buf_add(&b, "{\"report\":[{\"pv\":[");
    for (size_t i = 0; i < n; i++)
        pk_buf_addf(&b, "%s{\"pv_name\":\"%s\",\"pv_uuid\":\"U%zu\",\"vg_name\":\"%s\",\"vg_uuid\":\"\","
                    "\"vg_size\":\"0\",\"vg_free\":\"0\",\"vg_extent_size\":\"0\"}",
                    i ? "," : "", names[i], i, vgs[i]);
    pk_buf_add(&b, "]}]}");
    return pk_buf_steal(&b);
}

static void test_build(void)
{
    const char *why = tl_unavailable();
    if (why) {
        tap_skip(why, "build on loop devices");
        return;
    }
    _cleanup_free_ char *d1 = tl_loop_attach(tmp, "pv1.img", 8 << 20, false);
    _cleanup_free_ char *d2 = tl_loop_attach(tmp, "pv2.img", 8 << 20, false);
    if (!tap_ok(d1 && d2, "two loop devices")) return;
    _cleanup_(pk_pool_freep) pk_pool *p = vg_pool("newvg", d1, d2);
    pk_bctx c = { .no_sync = true };
    _cleanup_free_ char *none = pvs_report(NULL, NULL, 0);
    pk_err *e = NULL;

    fc_start();
    fc_reply("pvs", 0, none, "");
    fc_reply("pvcreate", 0, "", "");
    fc_reply("vgcreate", 0, "", "");
    int r = pk_backend_logical.build(&c, p, &e);
    _cleanup_free_ char *e1 = fc_errstr_take(&e);
    tap_ok(r == 0, "build on two empty devices %s", e1);
    _cleanup_free_ char *w1 = pk_asprintf("pvcreate %s", d1);
    _cleanup_free_ char *w2 = pk_asprintf("pvcreate %s", d2);
    _cleanup_free_ char *w3 = pk_asprintf("vgcreate newvg %s %s", d1, d2);
    tap_is_str(fc_cmd(1), w1, "libvirt's pvcreate DEV");
    tap_is_str(fc_cmd(2), w2, "for each device");
    tap_is_str(fc_cmd(3), w3, "then libvirt's vgcreate VG DEV...");

    /* an interrupted build left d1 an unused PV: it is taken as it is */
    const char *names[] = { d1 };
    const char *vgs[] = { "" };
    _cleanup_free_ char *orphan = pvs_report(names, vgs, 1);
    fc_start();
    fc_reply("pvs", 0, orphan, "");
    fc_reply("pvcreate", 0, "", "");
    fc_reply("vgcreate", 0, "", "");
    r = pk_backend_logical.build(&c, p, &e);
    pk_err_free(e);
    e = NULL;
    tap_ok(r == 0 && fc_count_prefix("pvcreate") == 1 && pk_streq(fc_find("pvcreate"), w2),
           "an unused PV left by an interrupted build is reused, not re-created");

    /* a signature on d2 */
    mkswap(d2);
    fc_start();
    fc_reply("pvs", 0, none, "");
    fc_reply("pvcreate", 0, "", "");
    r = pk_backend_logical.build(&c, p, &e);
    _cleanup_free_ char *e2 = fc_errstr_take(&e);
    tap_ok(r < 0 && strstr(e2, "holds swap") && strstr(e2, "allow_format"),
           "a device with a signature is refused without allow_format (%s)", e2);
    tap_ok(!fc_find("vgcreate"), "no group was made");
    tap_ok(fc_find("pvremove") != NULL, "and the PV made on the first device was removed again");

    pk_bctx fmt = { .no_sync = true, .allow_format = true };
    fc_start();
    fc_reply("pvs", 0, none, "");
    fc_reply("pvcreate", 0, "", "");
    fc_reply("vgcreate", 0, "", "");
    r = pk_backend_logical.build(&fmt, p, &e);
    _cleanup_free_ char *e3 = fc_errstr_take(&e);
    tap_ok(r == 0 && fc_count_prefix("pvcreate") == 2, "allow_format: built %s", e3);
    _cleanup_free_ char *sig = tl_blkid_value(d2, "TYPE");
    tap_is_str(sig, "", "the old signature was erased before pvcreate");

    /* a device of another group: never, whatever the policy */
    const char *vg_other[] = { "othervg" };
    const char *names2[] = { d2 };
    _cleanup_free_ char *taken = pvs_report(names2, vg_other, 1);
    fc_start();
    fc_reply("pvs", 0, taken, "");
    r = pk_backend_logical.build(&fmt, p, &e);
    _cleanup_free_ char *e4 = fc_errstr_take(&e);
    tap_ok(r < 0 && strstr(e4, "is a physical volume of volume group 'othervg'"),
           "a PV of another group is never taken (%s)", e4);
    tap_ok(!fc_find("pvcreate"), "nothing was written");
    fc_stop();
    tl_loop_detach(d1);
    tl_loop_detach(d2);
}

static void test_missing_tool(void)
{
    fc_path_without("lvm");
    _cleanup_(pk_pool_freep) pk_pool *p = vg_pool("pkvg", "/dev/loop0", "/dev/loop1");
    pk_bctx c = { .no_sync = true };
    pk_obs_pool o = { 0 };
    pk_backend_observe(&c, p, &o);
    _cleanup_free_ char *s = fc_errstr(o.error);
    tap_ok(o.error && strstr(s, "logical: program 'lvm' not found"),
           "without LVM observe fails naming the program: %s", s);
    pk_obs_pool_clear(&o);
    fc_path_reset();
}

int main(void)
{
    /* The LVM tools may be missing here: the hook answers for them. */
    tmp = fc_setup("logical-argv", "lvm", NULL);
    test_libvirt_argv();
    test_observe();
    test_create();
    test_resize_delete();
    test_delete_pool();
    test_build();
    test_missing_tool();
    fc_stop();
    return tap_done();
}
