/* The vstorage backend against a FAKE vstorage-mount: Virtuozzo Storage is
 * not packaged here, so the runner's hook answers vstorage-mount and umount,
 * and mountinfo is a file of the test's making (with the "vstorage://NAME"
 * source libvirt looks for). Checked: libvirt's command line, mount
 * detection, and that a missing tool is an error at observe. Also here:
 * sheepdog pools, which are never served, fail at observe. */
#include "fakecmd.h"
#include "../../backends/vstorage.h"
#include "../../backends/mount.h"
#include <sys/stat.h>

static char *tmp;

static char *mountinfo(const char *name, const char *content)
{
    char *path = pk_asprintf("%s/%s", tmp, name);
    FILE *f = fopen(path, "w");
    if (!f) tap_bail("cannot write %s", path);
    fputs(content, f);
    fclose(f);
    return path;
}

static void test_vstorage(void)
{
    _cleanup_free_ char *target = pk_asprintf("%s/vs", tmp);
    _cleanup_free_ char *xml = pk_asprintf(
        "<pool type='vstorage'><name>vs</name><source><name>cluster1</name></source>"
        "<target><path>%s</path></target></pool>", target);
    _cleanup_(pk_pool_freep) pk_pool *p = fc_pool(xml);
    _cleanup_free_ char *xml2 = pk_asprintf(
        "<pool type='vstorage'><name>vs</name><source><name>cluster1</name></source>"
        "<target><path>%s</path><permissions><mode>0750</mode><owner>0</owner><group>0</group>"
        "</permissions></target></pool>", target);
    _cleanup_(pk_pool_freep) pk_pool *p2 = fc_pool(xml2);
    _cleanup_free_ char *none = mountinfo("mi-none", "22 1 0:21 / / rw - ext4 /dev/vda rw\n");
    _cleanup_free_ char *mounted_text = pk_asprintf(
        "22 1 0:21 / / rw - ext4 /dev/vda rw\n"
        "90 22 0:52 / %s rw,nosuid,nodev,relatime - fuse.vstorage vstorage://cluster1 rw,user_id=0\n", target);
    _cleanup_free_ char *mounted = mountinfo("mi-mounted", mounted_text);
    _cleanup_free_ char *other_text = pk_asprintf(
        "22 1 0:21 / / rw - ext4 /dev/vda rw\n"
        "90 22 0:52 / %s rw - fuse.vstorage vstorage://cluster2 rw\n", target);
    _cleanup_free_ char *other = mountinfo("mi-other", other_text);
    const pk_backend *b = pk_backend_for(PK_POOL_VSTORAGE);
    tap_ok(b == &pk_backend_vstorage, "the registry serves vstorage pools");
    pk_bctx c = { .no_sync = true };
    pk_obs_pool o = { 0 };
    pk_err *e = NULL;

    pk_mount_set_proc_files(none, NULL);
    fc_start();
    pk_backend_observe(&c, p, &o);
    tap_ok(!o.error && o.state == PK_POOL_ABSENT, "no target directory: absent");
    pk_obs_pool_clear(&o);
    tap_ok(b->build(&c, p, &e) == 0, "build makes the target directory");
    struct stat st;
    tap_ok(stat(target, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0711,
           "mode 0711, libvirt's default");
    pk_backend_observe(&c, p, &o);
    tap_ok(!o.error && o.state == PK_POOL_INACTIVE, "target there, cluster not mounted: inactive");
    pk_obs_pool_clear(&o);

    fc_reply("vstorage-mount", 0, "", "");
    int r = b->start(&c, p, &e);
    _cleanup_free_ char *e1 = fc_errstr_take(&e);
    _cleanup_free_ char *want = pk_asprintf("vstorage-mount -c cluster1 %s -m 711 -g root -u root", target);
    tap_ok(r == 0, "start %s", e1);
    tap_is_str(fc_cmd(0), want, "libvirt's vstorage-mount line: mode 0711, our own user and group");
    fc_clear_cmds();
    r = b->start(&c, p2, &e);
    _cleanup_free_ char *want2 = pk_asprintf("vstorage-mount -c cluster1 %s -m 750 -g root -u root", target);
    tap_is_str(fc_cmd(0), want2, "the target's permissions as mode, user and group names");

    pk_mount_set_proc_files(mounted, NULL);
    fc_clear_cmds();
    pk_backend_observe(&c, p, &o);
    tap_ok(!o.error && o.state == PK_POOL_RUNNING && o.vols_observed && o.n_vols == 0,
           "vstorage://cluster1 on the target: running, its files are the volumes");
    pk_obs_pool_clear(&o);
    tap_ok(b->start(&c, p, &e) == 0 && fc_count() == 0, "start when mounted: nothing to do");
    fc_reply("umount", 0, "", "");
    r = b->stop(&c, p, &e);
    _cleanup_free_ char *wantu = pk_asprintf("umount %s", target);
    tap_ok(r == 0 && pk_streq(fc_cmd(0), wantu), "stop: umount TARGET");
    r = b->delete_pool(&c, p, NULL, &e);
    _cleanup_free_ char *e2 = fc_errstr_take(&e);
    tap_ok(r < 0 && strstr(e2, "is mounted"), "a mounted pool is not deleted (%s)", e2);

    pk_mount_set_proc_files(other, NULL);
    pk_backend_observe(&c, p, &o);
    _cleanup_free_ char *oe = fc_errstr(o.error);
    tap_ok(o.error && strstr(oe, "vstorage://cluster2"), "another cluster on the target is an error: %s", oe);
    pk_obs_pool_clear(&o);

    pk_mount_set_proc_files(none, NULL);
    fc_path_without("vstorage-mount");
    pk_backend_observe(&c, p, &o);
    _cleanup_free_ char *me = fc_errstr(o.error);
    tap_ok(o.error && strstr(me, "vstorage: program 'vstorage-mount' not found"),
           "without vstorage-mount observe fails naming it: %s", me);
    pk_obs_pool_clear(&o);
    fc_path_reset();
    pk_mount_set_proc_files(NULL, NULL);
    fc_stop();
}

static void test_sheepdog(void)
{
    _cleanup_(pk_pool_freep) pk_pool *p = fc_pool(
        "<pool type='sheepdog'><name>sd</name><source><name>sd</name><host name='localhost' port='7000'/>"
        "</source></pool>");
    pk_bctx c = { .no_sync = true };
    pk_obs_pool o = { 0 };
    pk_backend_observe(&c, p, &o);
    _cleanup_free_ char *s = fc_errstr(o.error);
    tap_ok(o.error && strstr(s, "sheepdog is not supported"), "a sheepdog pool: %s", s);
    tap_ok(o.state == PK_POOL_ABSENT && !o.vols_observed, "and nothing is observed of it");
    const pk_backend *b = pk_backend_for(PK_POOL_SHEEPDOG);
    tap_ok(b && b->caps == 0, "no capability: the planner plans nothing for it");
    pk_obs_pool_clear(&o);
}

int main(void)
{
    tmp = fc_setup("vstorage-fake", "vstorage-mount", NULL);
    test_vstorage();
    test_sheepdog();
    return tap_done();
}
