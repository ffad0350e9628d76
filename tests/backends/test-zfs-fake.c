/* The zfs backend against a FAKE zfs: ZFS is not packaged on this machine
 * (Debian keeps it in contrib, as DKMS modules), so the runner's hook
 * answers every zpool/zfs command with output constructed in the format
 * libvirt's storage_backend_zfs.c documents and parses (-H: tab-separated,
 * no header; -p: exact numbers). What is checked: libvirt's command lines,
 * the parsing, the safety checks poolkeeper adds, and that a missing tool
 * is an error at observe. */
#include "fakecmd.h"
#include "../../backends/zfs.h"
#include <sys/stat.h>

static char *tmp;

static pk_pool *zpool_def(const char *name, const char *dev1, const char *dev2)
{
    _cleanup_free_ char *devs = dev1 ? pk_asprintf("<device path='%s'/><device path='%s'/>", dev1, dev2)
                                     : pk_strdup("");
    _cleanup_free_ char *xml = pk_asprintf("<pool type='zfs'><name>z</name><source><name>%s</name>%s"
                                           "</source></pool>", name, devs);
    return fc_pool(xml);
}

/* As `zfs list -H -t filesystem -o name,guid` and the libvirt comments show them. */
#define LIST_TANK "tank\t1532871449821359424\n"
#define ZPOOL_GET "tank\thealth\tONLINE\t-\ntank\tsize\t199715979264\t-\n" \
                  "tank\tfree\t198899976704\t-\ntank\tallocated\t816002560\t-\n"
#define ZVOLS "tank/vol1\t5368709120\t5452595200\t9001\n" \
              "tank/vol3\t1073741824\tnone\t9003\n" \
              "tank/sub/nested\t1048576\t1048576\t9004\n"
#define NO_DATASET "cannot open 'tank': dataset does not exist\n"

static void test_observe(void)
{
    pk_bctx c = { .no_sync = true };
    _cleanup_(pk_pool_freep) pk_pool *p = zpool_def("tank", NULL, NULL);
    pk_obs_pool o = { 0 };

    fc_start();
    fc_reply("zfs list -H -t filesystem", 0, LIST_TANK, "");
    fc_reply("zpool get", 0, ZPOOL_GET, "");
    fc_reply("zfs list -Hp -t volume", 0, ZVOLS, "");
    pk_backend_observe(&c, p, &o);
    _cleanup_free_ char *oe = fc_errstr(o.error);
    tap_ok(!o.error && o.state == PK_POOL_RUNNING, "an existing dataset runs (nothing to start) %s", oe);
    tap_is_str(fc_cmd(0), "zfs list -H -t filesystem -o name,guid tank",
               "libvirt's check, with the guid for identity");
    tap_is_str(fc_cmd(1), "zpool get -Hp health,size,free,allocated tank", "libvirt's zpool get");
    tap_is_str(fc_cmd(2), "zfs list -Hp -t volume -r -o name,volsize,refreservation,guid tank",
               "libvirt's zvol list, with the guid");
    tap_is_str(o.identity, "1532871449821359424", "pool identity: the dataset's guid");
    tap_is_int((long long)o.capacity, 199715979264LL, "capacity: size");
    tap_is_int((long long)o.available, 198899976704LL, "available: free");
    tap_is_int((long long)o.allocation, 816002560LL, "allocation: allocated");
    tap_is_int((long long)o.n_vols, 2, "two zvols directly below; the nested one is not this pool's");
    const pk_obs_vol *v = pk_obs_pool_find_vol(&o, "vol1");
    if (tap_ok(v != NULL, "vol1 listed")) {
        tap_is_str(v->key, "tank/vol1", "key: the zfs name");
        tap_is_str(v->path, "/dev/zvol/tank/vol1", "path below /dev/zvol");
        tap_is_str(v->identity, "9001", "identity: its guid");
        tap_is_int((long long)v->capacity, 5368709120LL, "capacity: volsize");
        tap_is_int((long long)v->allocation, 5452595200LL, "allocation: refreservation");
    }
    v = pk_obs_pool_find_vol(&o, "vol3");
    tap_ok(v && v->allocation == 0, "a sparse zvol's refreservation 'none' is allocation 0");
    pk_obs_pool_clear(&o);

    fc_start();
    fc_reply("zfs list -H -t filesystem", 1, "", NO_DATASET);
    pk_backend_observe(&c, p, &o);
    tap_ok(!o.error && o.state == PK_POOL_ABSENT, "'dataset does not exist': absent");
    tap_is_int((long long)fc_count(), 1, "nothing else asked");
    pk_obs_pool_clear(&o);

    fc_start();
    fc_reply("zfs list -H -t filesystem", 1, "", "The ZFS modules are not loaded.\n");
    pk_backend_observe(&c, p, &o);
    _cleanup_free_ char *me = fc_errstr(o.error);
    tap_ok(o.error && strstr(me, "modules are not loaded"), "any other failure is an error, not absence: %s", me);
    pk_obs_pool_clear(&o);

    fc_start();
    fc_reply("zfs list -H -t filesystem", 0, LIST_TANK, "");
    fc_reply("zpool get", 0, "tank\tsize\tbroken\t-\n", "");
    pk_backend_observe(&c, p, &o);
    tap_ok(o.error != NULL, "a malformed zpool get is an error");
    pk_obs_pool_clear(&o);
    fc_stop();
}

static void test_build_delete_pool(void)
{
    _cleanup_free_ char *d1 = pk_asprintf("%s/d1", tmp);
    _cleanup_free_ char *d2 = pk_asprintf("%s/d2", tmp);
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(i ? d2 : d1, "w");
        if (f) { ftruncate(fileno(f), 1 << 20); fclose(f); }
    }
    pk_bctx c = { .no_sync = true };
    _cleanup_(pk_pool_freep) pk_pool *p = zpool_def("tank", d1, d2);
    pk_err *e = NULL;
    fc_start();
    fc_reply("zfs list -H -t filesystem", 1, "", NO_DATASET);
    fc_reply("zpool create", 0, "", "");
    int r = pk_backend_zfs.build(&c, p, &e);
    _cleanup_free_ char *e1 = fc_errstr_take(&e);
    tap_ok(r == 0, "build a zpool %s", e1);
    _cleanup_free_ char *want = pk_asprintf("zpool create tank %s %s", d1, d2);
    tap_is_str(fc_cmd(1), want, "libvirt's zpool create NAME DEV...");

    char *argv[] = { (char *)"mkswap", d2, NULL };
    tap_run(argv, NULL);
    fc_start();
    fc_reply("zfs list -H -t filesystem", 1, "", NO_DATASET);
    r = pk_backend_zfs.build(&c, p, &e);
    _cleanup_free_ char *e2 = fc_errstr_take(&e);
    tap_ok(r < 0 && strstr(e2, "holds swap") && strstr(e2, "allow_format"),
           "a device with a signature is refused (%s)", e2);
    tap_ok(!fc_find("zpool create"), "no zpool create");
    pk_bctx fmt = { .no_sync = true, .allow_format = true };
    fc_start();
    fc_reply("zfs list -H -t filesystem", 1, "", NO_DATASET);
    fc_reply("zpool create", 0, "", "");
    r = pk_backend_zfs.build(&fmt, p, &e);
    pk_err_free(e);
    e = NULL;
    _cleanup_free_ char *wantf = pk_asprintf("zpool create -f tank %s %s", d1, d2);
    tap_ok(r == 0 && pk_streq(fc_find("zpool create"), wantf), "allow_format: zpool create -f");

    fc_start();
    fc_reply("zfs list -H -t filesystem", 0, LIST_TANK, "");
    tap_ok(pk_backend_zfs.build(&c, p, &e) == 0 && fc_count() == 1, "built already: nothing to do");

    _cleanup_(pk_pool_freep) pk_pool *ds = zpool_def("tank/vms", NULL, NULL);
    fc_start();
    fc_reply("zfs list -H -t filesystem", 1, "", "cannot open 'tank/vms': dataset does not exist\n");
    fc_reply("zfs create", 0, "", "");
    r = pk_backend_zfs.build(&c, ds, &e);
    tap_ok(r == 0 && pk_streq(fc_cmd(1), "zfs create -o mountpoint=none tank/vms"),
           "a dataset pool: libvirt's zfs create -o mountpoint=none");

    /* delete: never recursive, never over what is not ours */
    fc_start();
    fc_reply("zfs list -H -t filesystem", 0, LIST_TANK, "");
    fc_reply("zfs list -H -r -t all", 0, "tank\ntank/vol1\ntank/foreign\n", "");
    char *owned[] = { (char *)"vol1", NULL };
    r = pk_backend_zfs.delete_pool(&c, p, owned, &e);
    _cleanup_free_ char *e3 = fc_errstr_take(&e);
    tap_ok(r < 0 && strstr(e3, "'tank/foreign' is in it and poolkeeper does not own it"),
           "a pool holding something not ours is kept (%s)", e3);
    tap_ok(!fc_find("zfs destroy") && !fc_find("zpool destroy"), "nothing destroyed");
    fc_start();
    fc_reply("zfs list -H -t filesystem", 0, LIST_TANK, "");
    fc_reply("zfs list -H -r -t all", 0, "tank\ntank/vol1\n", "");
    fc_reply("zfs destroy", 0, "", "");
    fc_reply("zpool destroy", 0, "", "");
    r = pk_backend_zfs.delete_pool(&c, p, owned, &e);
    tap_ok(r == 0 && pk_streq(fc_cmd(2), "zfs destroy tank/vol1") && pk_streq(fc_cmd(3), "zpool destroy tank"),
           "our zvols first, then libvirt's zpool destroy");
    fc_start();
    fc_reply("zfs list -H -t filesystem", 0, "tank/vms\t77\n", "");
    fc_reply("zfs list -H -r -t all", 0, "tank/vms\n", "");
    fc_reply("zfs destroy", 0, "", "");
    r = pk_backend_zfs.delete_pool(&c, ds, NULL, &e);
    tap_ok(r == 0 && pk_streq(fc_cmd(2), "zfs destroy tank/vms"), "an empty dataset pool: zfs destroy, without -r");
    pk_err_free(e);
    fc_stop();
}

static void test_volumes(void)
{
    pk_bctx c = { .no_sync = true };
    _cleanup_(pk_pool_freep) pk_pool *p = zpool_def("tank", NULL, NULL);
    static const struct { const char *what, *xml, *usage, *argv; } cases[] = {
        { "thick", "<volume><name>v1</name><capacity unit='MiB'>10</capacity></volume>",
          "usage:\n\tget\n", "zfs create -V 10240K tank/v1" },
        { "sparse with a reservation",
          "<volume><name>v2</name><capacity unit='MiB'>10</capacity><allocation unit='MiB'>1</allocation></volume>",
          "usage:\n\tget\n", "zfs create -s -o refreservation=1024K -V 10240K tank/v2" },
        { "sparse without", "<volume><name>v3</name><capacity unit='MiB'>10</capacity><allocation>0</allocation></volume>",
          "usage:\n\tget\n", "zfs create -s -V 10240K tank/v3" },
        { "on BSD's ZFS (volmode in zfs get's usage)",
          "<volume><name>v4</name><capacity unit='MiB'>10</capacity></volume>",
          "usage:\n\tget\n\t    volmode  YES  YES  default | full | geom | dev | none\n",
          "zfs create -o volmode=dev -V 10240K tank/v4" },
    };
    for (size_t i = 0; i < PK_NELEM(cases); i++) {
        _cleanup_(pk_vol_freep) pk_vol *v = fc_vol(p, cases[i].xml, 0);
        _cleanup_free_ char *after = pk_asprintf("tank/%s\t10485760\t0\t777\n", v->name);
        fc_start();
        fc_reply("zfs list -Hp -t volume", 0, "", "");
        fc_reply("zfs list -Hp -t volume", 0, after, "");
        fc_reply("zfs get", 2, "", cases[i].usage);
        fc_reply("zfs create", 0, "", "");
        pk_obs_vol out = { 0 };
        pk_err *e = NULL;
        int r = pk_backend_zfs.create_vol(&c, p, v, &out, &e);
        _cleanup_free_ char *es = fc_errstr_take(&e);
        tap_ok(r == 0, "create %s %s", cases[i].what, es);
        tap_is_str(fc_find("zfs create"), cases[i].argv, "create %s: libvirt's argv", cases[i].what);
        tap_is_str(out.identity, "777", "create %s: the new zvol observed", cases[i].what);
        pk_obs_vol_clear(&out);
    }
    _cleanup_(pk_vol_freep) pk_vol *dup = fc_vol(p, "<volume><name>vol1</name><capacity>1</capacity></volume>", 0);
    fc_start();
    fc_reply("zfs list -Hp -t volume", 0, ZVOLS, "");
    pk_err *e = NULL;
    int r = pk_backend_zfs.create_vol(&c, p, dup, NULL, &e);
    _cleanup_free_ char *e1 = fc_errstr_take(&e);
    tap_ok(r < 0 && strstr(e1, "already exists") && !fc_find("zfs create"), "an existing zvol is not created again");

    pk_obs_vol cur = { 0 };
    pk_obs_vol_clear(&cur);
    cur.name = pk_strdup("vol1");
    cur.identity = pk_strdup("9001");
    cur.capacity = 5368709120ULL;
    fc_start();
    fc_reply("zfs list -Hp -t volume", 0, ZVOLS, "");
    fc_reply("zfs set", 0, "", "");
    pk_obs_vol out = { 0 };
    r = pk_backend_zfs.resize_vol(&c, p, NULL, &cur, 10737418240ULL, &out, &e);
    _cleanup_free_ char *e2 = fc_errstr_take(&e);
    tap_ok(r == 0 && pk_streq(fc_find("zfs set"), "zfs set volsize=10485760K tank/vol1"),
           "grow: zfs set volsize (libvirt 11.7) %s", e2);
    pk_obs_vol_clear(&out);
    fc_start();
    fc_reply("zfs list -Hp -t volume", 0, ZVOLS, "");
    r = pk_backend_zfs.resize_vol(&c, p, NULL, &cur, 1073741824ULL, &out, &e);
    _cleanup_free_ char *e3 = fc_errstr_take(&e);
    tap_ok(r < 0 && strstr(e3, "allow_shrink") && !fc_find("zfs set"), "shrink refused without allow_shrink");

    fc_start();
    fc_reply("zfs list -Hp -t volume", 0, ZVOLS, "");
    fc_reply("zfs destroy", 0, "", "");
    r = pk_backend_zfs.delete_vol(&c, p, &cur, &e);
    tap_ok(r == 0 && pk_streq(fc_find("zfs destroy"), "zfs destroy tank/vol1"), "delete: libvirt's zfs destroy");
    free(cur.identity);
    cur.identity = pk_strdup("1234");
    fc_start();
    fc_reply("zfs list -Hp -t volume", 0, ZVOLS, "");
    r = pk_backend_zfs.delete_vol(&c, p, &cur, &e);
    _cleanup_free_ char *e4 = fc_errstr_take(&e);
    tap_ok(r < 0 && strstr(e4, "was replaced since it was observed") && !fc_find("zfs destroy"),
           "a zvol with another guid under the name is not destroyed (%s)", e4);
    pk_obs_vol_clear(&cur);
    fc_stop();
}

static void test_missing_tools(void)
{
    _cleanup_(pk_pool_freep) pk_pool *p = zpool_def("tank", NULL, NULL);
    pk_bctx c = { .no_sync = true };
    const char *progs[] = { "zpool", "zfs" };
    for (size_t i = 0; i < PK_NELEM(progs); i++) {
        _cleanup_free_ char *bin = pk_asprintf("%s/bin-%zu", tmp, i);
        fc_path_reset();
        fc_fake_programs(bin, progs[1 - i], NULL);
        /* the other program only, and no real one anywhere in PATH */
        _cleanup_free_ char *path = pk_asprintf("%s:/nonexistent", bin);
        setenv("PATH", path, 1);
        pk_obs_pool o = { 0 };
        pk_backend_observe(&c, p, &o);
        _cleanup_free_ char *s = fc_errstr(o.error);
        _cleanup_free_ char *want = pk_asprintf("zfs: program '%s' not found", progs[i]);
        tap_ok(o.error && strstr(s, want), "without %s: %s", progs[i], s);
        pk_obs_pool_clear(&o);
    }
    fc_path_reset();
}

int main(void)
{
    tmp = fc_setup("zfs-fake", "zpool", "zfs", NULL);
    test_observe();
    test_build_delete_pool();
    test_volumes();
    test_missing_tools();
    fc_stop();
    return tap_done();
}
