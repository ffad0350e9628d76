/* netfs (and fs) mount command lines against libvirt's own expected
 * command lines (tests/data/libvirt/pool-argv, the conformance pool-argv
 * cases), and the netfs backend's start/stop/observe on faked mountinfo and
 * /proc/filesystems: this machine's kernel has no NFS or CIFS client, so
 * nothing here mounts for real; the runner's hook answers for mount and
 * umount and records their argv. */
#include "../tap.h"
#include "../../backends/fs.h"
#include "../../backends/mount.h"
#include <sys/stat.h>

static char *tmp;

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f) return NULL;
    pk_buf b = PK_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) pk_buf_addn(&b, chunk, n);
    fclose(f);
    return pk_buf_steal(&b);
}

/* libvirt's .argv text: arguments joined by " \" + newline, or spaces. */
static char **parse_argv_file(const char *text)
{
    char **v = NULL;
    pk_buf word = PK_BUF_INIT;
    for (const char *s = text;; s++) {
        bool sep = !*s || *s == ' ' || *s == '\n' || (*s == '\\' && (s[1] == '\n' || !s[1]));
        if (!sep) {
            pk_buf_addc(&word, *s);
            continue;
        }
        if (word.len) {
            pk_strv_push(&v, pk_buf_str(&word));
            pk_buf_reset(&word);
        }
        if (!*s) break;
    }
    pk_buf_free(&word);
    return v;
}

static char *join(char *const *v)
{
    pk_buf b = PK_BUF_INIT;
    for (size_t i = 0; v && v[i]; i++) pk_buf_addf(&b, "%s%s", i ? " " : "", v[i]);
    return pk_buf_steal(&b);
}

static pk_pool *parse_pool_file(const char *path)
{
    pk_err *e = NULL;
    pk_pool *p = pk_pool_parse_file(path, &e);
    if (!p) {
        _cleanup_free_ char *s = pk_err_str(e);
        tap_diag("%s", s);
    }
    pk_err_free(e);
    return p;
}

static pk_pool *parse_pool(const char *xml)
{
    pk_err *e = NULL;
    pk_pool *p = pk_pool_parse(xml, strlen(xml), "test.xml", &e);
    if (!p) {
        _cleanup_free_ char *s = pk_err_str(e);
        tap_diag("%s", s);
    }
    pk_err_free(e);
    return p;
}

static char *errstr(pk_err *e)
{
    char *s = e ? pk_err_str(e) : NULL;
    pk_err_free(e);
    return s;
}

/* Every fs/netfs row of libvirt's pool-argv manifest. */
static void test_conformance(void)
{
    const char *root = tap_data_dir();
    _cleanup_free_ char *mpath = pk_asprintf("%s/data/libvirt/pool-argv/MANIFEST.tsv", root);
    _cleanup_free_ char *manifest = slurp(mpath);
    if (!tap_ok(manifest != NULL, "pool-argv manifest is readable")) return;
    int cases = 0;
    for (char *line = manifest, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        char *f[4] = { 0 };
        char *save = NULL, *s = line;
        for (int i = 0; i < 4; i++, s = NULL)
            f[i] = strtok_r(s, "\t", &save);
        if (!f[3] || strcmp(f[0], "pool-argv") != 0) continue;
        _cleanup_free_ char *xml = pk_asprintf("%s/data/libvirt/%s", root, f[2]);
        _cleanup_free_ char *argvf = pk_asprintf("%s/data/libvirt/%s", root, f[3]);
        _cleanup_(pk_pool_freep) pk_pool *p = parse_pool_file(xml);
        _cleanup_free_ char *text = slurp(argvf);
        if (!p || !text) {
            tap_ok(false, "%s: input and expected command line are readable", f[1]);
            continue;
        }
        char **want = parse_argv_file(text);
        pk_err *e = NULL;
        _cleanup_(pk_cmd_freep) pk_cmd *cmd = pk_mount_cmd(p, &e);
        _cleanup_free_ char *es = errstr(e);
        _cleanup_free_ char *got_s = cmd ? join(pk_cmd_argv(cmd)) : pk_strdup(es ? es : "");
        _cleanup_free_ char *want_s = join(want);
        tap_is_str(got_s, want_s, "%s: mount argv is libvirt's (%s)", f[1], f[3]);
        pk_strv_free(want);
        cases++;
    }
    tap_is_int(cases, 7, "all fs/netfs cases of the manifest ran");
}

/* ---- the backend through the runner's hook ---- */

typedef struct {
    char **cmds;      /* each command joined by spaces */
} recorder;

static bool record_hook(pk_cmd *cmd, void *opaque)
{
    recorder *r = opaque;
    _cleanup_free_ char *s = join(pk_cmd_argv(cmd));
    pk_strv_push(&r->cmds, s);
    pk_cmd_hook_reply(cmd, 0, "", "");
    return true;
}

static char *write_mountinfo(const char *name, const char *content)
{
    char *path = pk_asprintf("%s/%s", tmp, name);
    FILE *f = fopen(path, "we");
    if (f) {
        fputs(content, f);
        fclose(f);
    }
    return path;
}

static void test_start_stop_observe(void)
{
    const char *root = tap_data_dir();
    _cleanup_free_ char *fs_nfs = pk_asprintf("%s/data/mountinfo/filesystems-nfs.txt", root);
    _cleanup_free_ char *fs_live = pk_asprintf("%s/data/mountinfo/filesystems-live.txt", root);
    _cleanup_free_ char *target = pk_asprintf("%s/nfs-target", tmp);
    _cleanup_free_ char *xml = pk_asprintf(
        "<pool type='netfs'><name>nfsimages</name><source><host name='localhost'/>"
        "<dir path='/var/lib/libvirt/images'/><format type='nfs'/><protocol ver='4.1'/></source>"
        "<target><path>%s</path></target></pool>", target);
    _cleanup_(pk_pool_freep) pk_pool *p = parse_pool(xml);
    const pk_backend *b = pk_backend_for(PK_POOL_NETFS);
    if (!tap_ok(p && b == &pk_backend_netfs, "the registry serves netfs pools")) return;
    tap_ok(b->caps & PK_CAP_START, "netfs pools can be started");
    pk_bctx c = { .no_sync = true };
    recorder rec = { 0 };
    pk_cmd_set_hook(record_hook, &rec);

    /* Nothing mounted anywhere near the target. */
    _cleanup_free_ char *mi_none = write_mountinfo("mi-none",
        "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n");
    pk_mount_set_proc_files(mi_none, fs_nfs);
    pk_obs_pool o = { 0 };
    pk_err *e = NULL;
    tap_ok(b->observe_pool(&c, p, &o, &e) == 0 && o.state == PK_POOL_ABSENT,
           "no target directory: absent");
    pk_err_free(e);
    e = NULL;
    tap_ok(b->build(&c, p, &e) == 0, "build makes the mount point");
    _cleanup_free_ char *be = errstr(e);
    e = NULL;
    struct stat st;
    tap_ok(stat(target, &st) == 0 && S_ISDIR(st.st_mode), "mount point exists");
    pk_obs_pool_clear(&o);
    tap_ok(b->observe_pool(&c, p, &o, &e) == 0 && o.state == PK_POOL_INACTIVE,
           "built, not mounted: inactive");
    pk_err_free(e);
    e = NULL;
    tap_is_int((long long)pk_strv_len(rec.cmds), 0, "nothing was run so far");

    tap_ok(b->start(&c, p, &e) == 0, "start on a kernel with NFS runs mount");
    _cleanup_free_ char *se = errstr(e);
    e = NULL;
    _cleanup_free_ char *want = pk_asprintf(
        "mount -o nodev,nosuid,noexec,nfsvers=4.1 -t nfs localhost:/var/lib/libvirt/images %s", target);
    tap_is_str(rec.cmds ? rec.cmds[0] : NULL, want, "exact mount argv through the runner");

    /* The kernel of this machine, as recorded: no NFS. */
    pk_strv_free(rec.cmds);
    rec.cmds = NULL;
    pk_mount_set_proc_files(mi_none, fs_live);
    tap_ok(b->start(&c, p, &e) < 0, "start on a kernel without NFS fails");
    _cleanup_free_ char *ke = errstr(e);
    e = NULL;
    tap_is_str(ke, "error: cannot mount pool 'nfsimages': filesystem type 'nfs' is not supported by this kernel",
               "with a clear message");
    tap_ok(rec.cmds == NULL, "and mount was never run");

    /* The running kernel: whichever it is, start either says so or mounts. */
    pk_mount_set_proc_files(mi_none, NULL);
    _cleanup_free_ char *real = slurp("/proc/filesystems");
    bool has_nfs = real && strstr(real, "\tnfs\n");
    int r = b->start(&c, p, &e);
    _cleanup_free_ char *re = errstr(e);
    e = NULL;
    if (has_nfs)
        tap_ok(r == 0 && rec.cmds && strcmp(rec.cmds[0], want) == 0, "this kernel has NFS: mount is run");
    else
        tap_ok(r < 0 && re && strstr(re, "is not supported by this kernel") && !rec.cmds,
               "this kernel has no NFS: refused before mount");

    /* Mounted (as mountinfo says): running, and stop unmounts. */
    _cleanup_free_ char *line = pk_asprintf(
        "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
        "50 27 0:60 / %s rw,nosuid,nodev,noexec,relatime - nfs4 localhost:/var/lib/libvirt/images rw,vers=4.1\n",
        target);
    _cleanup_free_ char *mi_ours = write_mountinfo("mi-ours", line);
    pk_mount_set_proc_files(mi_ours, fs_nfs);
    pk_strv_free(rec.cmds);
    rec.cmds = NULL;
    pk_obs_pool_clear(&o);
    tap_ok(b->observe_pool(&c, p, &o, &e) == 0 && o.state == PK_POOL_RUNNING,
           "its mount on the target: running");
    pk_err_free(e);
    e = NULL;
    tap_ok(o.capacity > 0 && o.allocation == o.capacity - o.available, "capacity from statvfs");
    tap_ok(b->start(&c, p, &e) == 0 && rec.cmds == NULL, "start of a mounted pool runs nothing");
    tap_ok(b->stop(&c, p, &e) == 0, "stop succeeds");
    _cleanup_free_ char *want_umount = pk_asprintf("umount %s", target);
    tap_is_str(rec.cmds ? rec.cmds[0] : NULL, want_umount, "exact umount argv");
    tap_ok(b->delete_pool(&c, p, NULL, &e) < 0, "a mounted pool is not deleted");
    _cleanup_free_ char *de = errstr(e);
    e = NULL;
    tap_ok(de && strstr(de, "stop it first"), "delete says to stop it first");

    /* Something else mounted on the target: unknown, and never unmounted. */
    _cleanup_free_ char *line2 = pk_asprintf(
        "50 27 0:61 / %s rw,relatime - nfs otherhost:/elsewhere rw,vers=3\n", target);
    _cleanup_free_ char *mi_other = write_mountinfo("mi-other", line2);
    pk_mount_set_proc_files(mi_other, fs_nfs);
    pk_strv_free(rec.cmds);
    rec.cmds = NULL;
    pk_obs_pool_clear(&o);
    tap_ok(b->observe_pool(&c, p, &o, &e) < 0, "a foreign mount on the target cannot be observed as the pool");
    _cleanup_free_ char *oe = errstr(e);
    e = NULL;
    _cleanup_free_ char *want_oe = pk_asprintf(
        "error: pool target '%s' has 'otherhost:/elsewhere' (nfs) mounted on it, not the pool's source", target);
    tap_is_str(oe, want_oe, "observe names what is mounted there");
    tap_ok(b->stop(&c, p, &e) < 0 && rec.cmds == NULL, "stop leaves a foreign mount alone");
    pk_err_free(e);
    e = NULL;
    pk_obs_vol v = { 0 };
    tap_ok(b->delete_vol(&c, p, &v, &e) < 0, "volume operations refuse a pool that is not mounted");
    pk_err_free(e);
    e = NULL;

    /* Unmounted again: delete removes the empty mount point. */
    pk_mount_set_proc_files(mi_none, fs_nfs);
    tap_ok(b->delete_pool(&c, p, NULL, &e) == 0 && stat(target, &st) < 0, "delete removes the mount point");
    pk_err_free(e);

    pk_obs_pool_clear(&o);
    pk_strv_free(rec.cmds);
    pk_cmd_set_hook(NULL, NULL);
    pk_mount_set_proc_files(NULL, NULL);
}

static void test_gluster_cifs_start(void)
{
    const char *root = tap_data_dir();
    _cleanup_free_ char *fs_nfs = pk_asprintf("%s/data/mountinfo/filesystems-nfs.txt", root);
    _cleanup_free_ char *fs_live = pk_asprintf("%s/data/mountinfo/filesystems-live.txt", root);
    _cleanup_free_ char *target = pk_asprintf("%s/gl", tmp);
    mkdir(target, 0755);
    _cleanup_free_ char *mi_none = write_mountinfo("mi-none2", "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n");
    recorder rec = { 0 };
    pk_cmd_set_hook(record_hook, &rec);
    pk_bctx c = { .no_sync = true };
    pk_err *e = NULL;

    _cleanup_free_ char *gxml = pk_asprintf(
        "<pool type='netfs'><name>gl</name><source><host name='127.1'/><dir path='/poolkeeper'/>"
        "<format type='glusterfs'/></source><target><path>%s</path></target></pool>", target);
    _cleanup_(pk_pool_freep) pk_pool *g = parse_pool(gxml);
    pk_mount_set_proc_files(mi_none, fs_nfs);
    _cleanup_free_ char *helper = pk_find_program("mount.glusterfs");
    int r = g ? pk_backend_netfs.start(&c, g, &e) : -1;
    _cleanup_free_ char *ge = errstr(e);
    e = NULL;
    if (helper) {
        _cleanup_free_ char *want = pk_asprintf(
            "mount -o nodev,nosuid,noexec,direct-io-mode=1 -t glusterfs 127.1:/poolkeeper %s", target);
        tap_ok(r == 0 && rec.cmds && strcmp(rec.cmds[0], want) == 0, "glusterfs: FUSE mount argv");
    } else {
        tap_is_str(ge, "error: cannot mount pool 'gl': filesystem type 'glusterfs' needs the program 'mount.glusterfs', which is not installed",
                   "glusterfs without its client: clear error, nothing run");
    }
    pk_strv_free(rec.cmds);
    rec.cmds = NULL;

    _cleanup_free_ char *cxml = pk_asprintf(
        "<pool type='netfs' xmlns:fs='http://libvirt.org/schemas/storagepool/fs/1.0'><name>c</name>"
        "<source><host name='example.com'/><dir path='share'/><format type='cifs'/></source>"
        "<target><path>%s</path></target><fs:mount_opts><fs:option name='ro'/></fs:mount_opts></pool>",
        target);
    _cleanup_(pk_pool_freep) pk_pool *cp = parse_pool(cxml);
    tap_ok(cp && pk_backend_netfs.start(&c, cp, &e) == 0, "cifs start on a kernel with cifs");
    pk_err_free(e);
    e = NULL;
    _cleanup_free_ char *want_c = pk_asprintf(
        "mount -o nodev,nosuid,noexec,guest,ro -t cifs //example.com/share %s", target);
    tap_is_str(rec.cmds ? rec.cmds[0] : NULL, want_c, "cifs argv: guest, then fs:mount_opts");
    pk_strv_free(rec.cmds);
    rec.cmds = NULL;
    pk_mount_set_proc_files(mi_none, fs_live);
    tap_ok(cp && pk_backend_netfs.start(&c, cp, &e) < 0 && !rec.cmds, "cifs refused by a kernel without it");
    _cleanup_free_ char *ce = errstr(e);
    tap_ok(ce && strstr(ce, "filesystem type 'cifs' is not supported by this kernel"), "with a clear message");

    pk_strv_free(rec.cmds);
    pk_cmd_set_hook(NULL, NULL);
    pk_mount_set_proc_files(NULL, NULL);
}

static void test_umount_cmd(void)
{
    _cleanup_(pk_pool_freep) pk_pool *p = parse_pool(
        "<pool type='fs'><name>f</name><source><device path='/dev/sda6'/><format type='auto'/>"
        "</source><target><path>/mnt</path></target></pool>");
    pk_err *e = NULL;
    _cleanup_(pk_cmd_freep) pk_cmd *m = p ? pk_mount_cmd(p, &e) : NULL;
    _cleanup_free_ char *ms = m ? join(pk_cmd_argv(m)) : NULL;
    tap_is_str(ms, "mount -o nodev,nosuid,noexec -t auto /dev/sda6 /mnt", "fs format auto is passed as -t auto");
    _cleanup_(pk_cmd_freep) pk_cmd *u = p ? pk_umount_cmd(p, &e) : NULL;
    _cleanup_free_ char *us = u ? join(pk_cmd_argv(u)) : NULL;
    tap_is_str(us, "umount /mnt", "umount argv");
    pk_err_free(e);
}

int main(void)
{
    tmp = tap_tmpdir("netfs");
    test_conformance();
    test_start_stop_observe();
    test_gluster_cifs_start();
    test_umount_cmd();
    free(tmp);
    return tap_done();
}
