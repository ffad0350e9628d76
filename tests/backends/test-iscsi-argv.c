/* The iscsi backend's iscsiadm command lines, its reading of iscsiadm's
 * output and of sysfs, and where the CHAP password goes (never into argv).
 * This machine's kernel has no iSCSI initiator: the runner's hook answers
 * with output recorded in the kernel-test VM (tests/data/recorded/iscsi/),
 * and the sysfs files the backend reads are rebuilt in a temporary
 * directory. Real logins against tgtd: tests/kernel/test-iscsi.sh. */
#include "fakecmd.h"
#include "../../backends/iscsi.h"
#include "../../backends/scsilun.h"
#include <sys/stat.h>

#define IQN "iqn.2024-01.org.poolkeeper:plain"
#define PORTAL "127.0.0.1:3260,1"

static char *tmp;

static pk_pool *iscsi_pool(const char *extra_source, const char *target)
{
    _cleanup_free_ char *xml = pk_asprintf(
        "<pool type='iscsi'><name>tgt</name><source><host name='127.0.0.1' port='3260'/>"
        "<device path='" IQN "'/>%s</source><target><path>%s</path></target></pool>",
        extra_source, target);
    return fc_pool(xml);
}

static void write_file(const char *path, const char *content, mode_t mode)
{
    _cleanup_free_ char *dir = pk_strdup(path);
    for (char *s = dir + 1; *s; s++)
        if (*s == '/') { *s = '\0'; mkdir(dir, 0755); *s = '/'; }
    FILE *f = fopen(path, "w");
    if (!f) tap_bail("cannot write %s", path);
    fputs(content, f);
    fclose(f);
    chmod(path, mode);
}

static void mkdirs(const char *path)
{
    _cleanup_free_ char *p = pk_asprintf("%s/", path);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') { *s = '\0'; mkdir(p, 0755); *s = '/'; }
}

static void test_parse_session(void)
{
    _cleanup_free_ char *out = fc_data("recorded/iscsi/session.out");
    out[strcspn(out, "\n")] = '\0';
    char *sid = NULL, *target = NULL;
    tap_ok(pk_iscsi_parse_session(out, &sid, &target), "the recorded session line parses");
    tap_is_str(sid, "1", "session id");
    tap_is_str(target, IQN, "target");
    free(sid);
    free(target);
    const char *bad[] = { "", "iscsiadm: No active sessions.", "tcp: [] 1.2.3.4:3260,1 iqn.x",
                          "tcp:[1] 1.2.3.4:3260,1 iqn.x", "tcp: [1] 1.2.3.4:3260,1", "udp: [1] a b" };
    for (size_t i = 0; i < PK_NELEM(bad); i++) {
        sid = target = NULL;
        tap_ok(!pk_iscsi_parse_session(bad[i], &sid, &target), "not a session: '%s'", bad[i]);
    }
}

static void reply_no_session(void)
{
    _cleanup_free_ char *err = fc_data("recorded/iscsi/session-none.err");
    fc_reply("iscsiadm --mode session", 21, "", err);
}

static void test_observe(void)
{
    pk_bctx c = { .no_sync = true };
    _cleanup_(pk_pool_freep) pk_pool *p = iscsi_pool("", "/dev/disk/by-path");
    _cleanup_free_ char *sess = fc_data("recorded/iscsi/session.out");
    pk_obs_pool o = { 0 };

    fc_start();
    reply_no_session();
    pk_backend_observe(&c, p, &o);
    tap_ok(!o.error && o.state == PK_POOL_INACTIVE, "no session (iscsiadm exit 21): inactive");
    tap_is_str(fc_cmd(0), "iscsiadm --mode session", "sessions listed as libvirt lists them");
    pk_obs_pool_clear(&o);

    fc_start();
    fc_reply("iscsiadm --mode session", 0, "tcp: [3] 127.0.0.1:3260,1 iqn.2024-01.org.other:x (non-flash)\n", "");
    pk_backend_observe(&c, p, &o);
    tap_ok(!o.error && o.state == PK_POOL_INACTIVE, "a session to another target: still inactive");
    pk_obs_pool_clear(&o);

    fc_start();
    fc_reply("iscsiadm --mode session", 12, "", "iscsiadm: can not connect to iSCSI daemon (111)!\n");
    pk_backend_observe(&c, p, &o);
    _cleanup_free_ char *e12 = fc_errstr(o.error);
    tap_ok(o.error && strstr(e12, "status 12") && strstr(e12, "iSCSI daemon"),
           "iscsiadm failing is an observe error, not 'inactive': %s", e12);
    pk_obs_pool_clear(&o);

    /* running: the session's LUNs through sysfs, as recorded */
    _cleanup_free_ char *root = pk_asprintf("%s/sysroot", tmp);
    _cleanup_free_ char *tdir = pk_asprintf("%s/sys/class/iscsi_session/session1/device/target0:0:0", root);
    mkdirs(tdir);
    _cleanup_free_ char *luns = fc_data("recorded/iscsi/sysfs-luns");
    char *save = NULL;
    for (char *line = strtok_r(luns, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char name[64] = "", type[16] = "", block[16] = "";
        if (sscanf(line, "%63s type=%15s block=%15s", name, type, block) < 2) continue;
        if (!strchr(name, ':') || pk_str_has_prefix(name, "target")) continue;
        _cleanup_free_ char *tf = pk_asprintf("%s/sys/bus/scsi/devices/%s/type", root, name);
        _cleanup_free_ char *tv = pk_asprintf("%s\n", type);
        write_file(tf, tv, 0644);
        if (*block) {
            _cleanup_free_ char *bd = pk_asprintf("%s/sys/bus/scsi/devices/%s/block/%s", root, name, block);
            mkdirs(bd);
        }
    }
    _cleanup_free_ char *sizes = fc_data("recorded/iscsi/sysfs-sizes");
    save = NULL;
    for (char *line = strtok_r(sizes, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char dev[16];
        unsigned long long n;
        if (sscanf(line, "%15s %llu", dev, &n) != 2) continue;
        _cleanup_free_ char *sf = pk_asprintf("%s/sys/block/%s/size", root, dev);
        _cleanup_free_ char *sv = pk_asprintf("%llu\n", n);
        write_file(sf, sv, 0644);
    }
    pk_sysfs_set_root(root);
    _cleanup_free_ char *ids = fc_data("recorded/iscsi/scsi-id");
    _cleanup_free_ char *rescan = fc_data("recorded/iscsi/rescan.out");
    _cleanup_(pk_pool_freep) pk_pool *pdev = iscsi_pool("", "/dev");
    fc_start();
    fc_reply("iscsiadm --mode session", 0, sess, "");
    fc_reply("iscsiadm --mode session -r", 0, rescan, "");
    save = NULL;
    for (char *line = strtok_r(ids, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char dev[32], key[128];
        if (sscanf(line, "%31s %127s", dev, key) != 2) continue;
        _cleanup_free_ char *prefix = pk_asprintf("/lib/udev/scsi_id --replace-whitespace --whitelisted --device %s", dev);
        _cleanup_free_ char *out = pk_asprintf("%s\n", key);
        fc_reply(prefix, 0, out, "");
    }
    pk_backend_observe(&c, pdev, &o);
    _cleanup_free_ char *oe = fc_errstr(o.error);
    tap_ok(!o.error && o.state == PK_POOL_RUNNING, "a session to the target: running %s", oe);
    tap_ok(fc_find("iscsiadm --mode session -r 1 -R") != NULL, "the session is rescanned (libvirt's -r SID -R)");
    tap_is_int((long long)o.n_vols, 2, "two disk LUNs; the controller LUN 0 (type 12) is none");
    if (o.n_vols == 2) {
        tap_is_str(o.vols[0].name, "unit:0:0:1", "named unit:B:T:L as libvirt names them");
        tap_is_str(o.vols[0].path, "/dev/sda", "target /dev: the raw node");
        tap_is_str(o.vols[0].key, "360000000000000000e00000000010001", "key from scsi_id");
        tap_is_int((long long)o.vols[0].capacity, 33554432, "capacity from sysfs (32 MiB)");
        tap_is_str(o.vols[1].name, "unit:0:0:2", "second LUN");
        tap_is_int((long long)o.vols[1].capacity, 16777216, "its capacity (16 MiB)");
    }
    tap_is_int((long long)o.capacity, 50331648, "pool capacity: the LUNs' sum");
    pk_obs_pool_clear(&o);

    /* by-path target without udev: the LUNs are there, their links are not */
    fc_clear_cmds();
    pk_backend_observe(&c, p, &o);
    tap_is_int((long long)o.n_vols, 2, "without the by-path links the LUNs are still listed");
    tap_ok(o.n_vols == 2 && o.vols[0].error && strstr(o.vols[0].error, "no link in '/dev/disk/by-path'"),
           "each with an error instead of a path: %s", o.n_vols ? o.vols[0].error : "");
    pk_obs_pool_clear(&o);
    pk_sysfs_set_root(NULL);
    fc_stop();
}

static void test_start_stop(void)
{
    pk_bctx c = { .no_sync = true };
    _cleanup_(pk_pool_freep) pk_pool *p = iscsi_pool("", "/dev/disk/by-path");
    _cleanup_free_ char *sess = fc_data("recorded/iscsi/session.out");
    _cleanup_free_ char *login = fc_data("recorded/iscsi/login.out");
    _cleanup_free_ char *logout = fc_data("recorded/iscsi/logout.out");
    _cleanup_free_ char *node_new = fc_data("recorded/iscsi/node-new.out");
    pk_err *e = NULL;

    fc_start();
    reply_no_session();
    fc_reply("iscsiadm --mode node", 0, node_new, "");
    fc_reply("iscsiadm --mode node --portal " PORTAL " --targetname " IQN " --login", 0, login, "");
    int r = pk_backend_iscsi.start(&c, p, &e);
    _cleanup_free_ char *e1 = fc_errstr_take(&e);
    tap_ok(r == 0, "start without CHAP %s", e1);
    tap_is_str(fc_cmd(1), "iscsiadm --mode node --portal " PORTAL " --targetname " IQN " --op new",
               "libvirt's node record first");
    tap_is_str(fc_cmd(2), "iscsiadm --mode node --portal " PORTAL " --targetname " IQN " --login",
               "then libvirt's login");
    tap_is_int((long long)fc_count(), 3, "nothing else");

    fc_start();
    fc_reply("iscsiadm --mode session", 0, sess, "");
    tap_ok(pk_backend_iscsi.start(&c, p, &e) == 0 && fc_count() == 1, "start with a session: nothing to do");

    fc_start();
    fc_reply("iscsiadm --mode session", 0, sess, "");
    fc_reply("iscsiadm --mode node", 0, logout, "");
    r = pk_backend_iscsi.stop(&c, p, &e);
    _cleanup_free_ char *e2 = fc_errstr_take(&e);
    tap_ok(r == 0, "stop %s", e2);
    tap_is_str(fc_cmd(1), "iscsiadm --mode node --portal " PORTAL " --targetname " IQN " --logout",
               "stop logs out (libvirt's argv)");
    fc_start();
    reply_no_session();
    tap_ok(pk_backend_iscsi.stop(&c, p, &e) == 0 && fc_count() == 1, "stop without a session: nothing to do");

    /* a failed login is an error with iscsiadm's words */
    fc_start();
    reply_no_session();
    fc_reply("iscsiadm --mode node", 0, node_new, "");
    fc_reply("iscsiadm --mode node --portal " PORTAL " --targetname " IQN " --login", 24, "",
             "iscsiadm: initiator reported error (24 - iSCSI login failed due to authorization failure)\n");
    r = pk_backend_iscsi.start(&c, p, &e);
    _cleanup_free_ char *e3 = fc_errstr_take(&e);
    tap_ok(r < 0 && strstr(e3, "cannot log in to iSCSI target") && strstr(e3, "authorization failure"),
           "failed login: %s", e3);
    fc_stop();
}

static void test_chap(void)
{
    _cleanup_free_ char *secrets = pk_asprintf("%s/secrets", tmp);
    _cleanup_free_ char *nodes = pk_asprintf("%s/nodes", tmp);
    mkdir(secrets, 0700);
    _cleanup_free_ char *sfile = pk_asprintf("%s/usage:iscsi-pk", secrets);
    write_file(sfile, "pk-secret-123", 0600);
    _cleanup_free_ char *record = pk_asprintf("%s/" IQN "/127.0.0.1,3260,1/default", nodes);
    _cleanup_free_ char *recorded = fc_data("recorded/iscsi/node-record-default");
    write_file(record, recorded, 0600);
    /* a second iface's record of the same portal gets it too; another
     * portal's does not */
    _cleanup_free_ char *record2 = pk_asprintf("%s/" IQN "/127.0.0.1,3260,1/iser", nodes);
    write_file(record2, recorded, 0600);
    _cleanup_free_ char *other = pk_asprintf("%s/" IQN "/127.0.0.2,3260,1/default", nodes);
    write_file(other, recorded, 0600);
    pk_iscsi_set_node_dir(nodes);

    pk_bctx c = { .no_sync = true, .secrets_dir = secrets };
    _cleanup_(pk_pool_freep) pk_pool *p = iscsi_pool(
        "<auth type='chap' username='pkuser'><secret usage='iscsi-pk'/></auth>", "/dev/disk/by-path");
    _cleanup_free_ char *login = fc_data("recorded/iscsi/login.out");
    pk_err *e = NULL;
    fc_start();
    reply_no_session();
    fc_reply("iscsiadm --mode node", 0, "", "");
    int r = pk_backend_iscsi.start(&c, p, &e);
    _cleanup_free_ char *e1 = fc_errstr_take(&e);
    tap_ok(r == 0, "start with CHAP %s", e1);
    tap_is_str(fc_cmd(2), "iscsiadm --mode node --portal " PORTAL " --target " IQN
               " --op update --name node.session.auth.authmethod --value CHAP",
               "auth method set with libvirt's command line");
    tap_is_str(fc_cmd(3), "iscsiadm --mode node --portal " PORTAL " --target " IQN
               " --op update --name node.session.auth.username --value pkuser",
               "user name set with libvirt's command line");
    tap_is_str(fc_cmd(4), "iscsiadm --mode node --portal " PORTAL " --targetname " IQN " --login",
               "then login");
    tap_is_int((long long)fc_count(), 5, "no --value for the password");
    tap_ok(!fc_saw("pk-secret-123"), "the secret appears in no command line and no stdin");
    FILE *f = fopen(record, "r");
    pk_buf b = PK_BUF_INIT;
    char line[512];
    while (f && fgets(line, sizeof(line), f)) pk_buf_add(&b, line);
    if (f) fclose(f);
    const char *text = pk_buf_str(&b);
    const char *pw = strstr(text, "node.session.auth.password = pk-secret-123\n");
    const char *end = strstr(text, "# END RECORD");
    tap_ok(pw && end && pw < end, "the password is in the node record, before its end marker");
    tap_ok(strstr(text, "node.conn[0].address = 127.0.0.1\n") && strstr(text, "# BEGIN RECORD 2.1.8\n"),
           "the rest of the record is kept");
    struct stat st;
    tap_ok(stat(record, &st) == 0 && (st.st_mode & 07777) == 0600, "the record stays mode 0600");
    pk_buf_free(&b);
    f = fopen(record2, "r");
    bool in2 = false;
    while (f && fgets(line, sizeof(line), f)) in2 |= strstr(line, "pk-secret-123") != NULL;
    if (f) fclose(f);
    tap_ok(in2, "every iface record of the portal gets it");
    f = fopen(other, "r");
    bool in3 = false;
    while (f && fgets(line, sizeof(line), f)) in3 |= strstr(line, "pk-secret-123") != NULL;
    if (f) fclose(f);
    tap_ok(!in3, "another portal's record does not");

    /* written again: one password line, not two */
    fc_start();
    reply_no_session();
    fc_reply("iscsiadm --mode node", 0, "", "");
    write_file(sfile, "new-secret-4567", 0600);
    r = pk_backend_iscsi.start(&c, p, &e);
    pk_err_free(e);
    e = NULL;
    f = fopen(record, "r");
    int lines = 0;
    bool has_new = false;
    while (f && fgets(line, sizeof(line), f)) {
        if (pk_str_has_prefix(line, "node.session.auth.password")) lines++;
        has_new |= strstr(line, "= new-secret-4567") != NULL;
    }
    if (f) fclose(f);
    tap_ok(r == 0 && lines == 1 && has_new, "a changed secret replaces the password line");

    /* secrets a node record cannot hold */
    const char *bad[][2] = {
        { "pk-secret-123\n", "control character" },
        { "", "it is empty" },
    };
    for (size_t i = 0; i < PK_NELEM(bad); i++) {
        write_file(sfile, bad[i][0], 0600);
        fc_start();
        reply_no_session();
        fc_reply("iscsiadm --mode node", 0, "", "");
        r = pk_backend_iscsi.start(&c, p, &e);
        _cleanup_free_ char *es = fc_errstr_take(&e);
        tap_ok(r < 0 && strstr(es, bad[i][1]), "unusable secret refused: %s", es);
        tap_ok(!fc_find("iscsiadm --mode node --portal " PORTAL " --targetname " IQN " --login"),
               "and no login attempted");
    }
    write_file(sfile, "pk-secret-123", 0644);
    fc_start();
    reply_no_session();
    fc_reply("iscsiadm --mode node", 0, "", "");
    r = pk_backend_iscsi.start(&c, p, &e);
    _cleanup_free_ char *e4 = fc_errstr_take(&e);
    tap_ok(r < 0 && strstr(e4, "mode 0600"), "a secret file others can read is refused: %s", e4);
    pk_iscsi_set_node_dir(NULL);
    fc_stop();
}

static void test_initiator_iface(void)
{
    pk_bctx c = { .no_sync = true };
    _cleanup_(pk_pool_freep) pk_pool *p = iscsi_pool(
        "<initiator><iqn name='iqn.2024-01.org.poolkeeper:initiator'/></initiator>", "/dev/disk/by-path");
    _cleanup_free_ char *iface = fc_data("recorded/iscsi/iface.out");
    _cleanup_free_ char *disc = fc_data("recorded/iscsi/discovery.out");
    pk_err *e = NULL;
    fc_start();
    reply_no_session();
    fc_reply("iscsiadm --mode iface", 0, iface, "");
    fc_reply("iscsiadm --mode iface --interface", 0, "", "");
    fc_reply("iscsiadm --mode discovery", 0, disc, "");
    fc_reply("iscsiadm --mode node", 0, "", "");
    int r = pk_backend_iscsi.start(&c, p, &e);
    _cleanup_free_ char *e1 = fc_errstr_take(&e);
    tap_ok(r == 0, "start with an initiator IQN %s", e1);
    const char *mk = fc_find("iscsiadm --mode iface --interface");
    tap_ok(mk && strstr(mk, " --op new") && strstr(mk, "poolkeeper-iface-"),
           "no iface had that IQN: one is made (%s)", mk ? mk : "");
    char name[64] = "";
    if (mk) sscanf(mk, "iscsiadm --mode iface --interface %63s", name);
    _cleanup_free_ char *upd = pk_asprintf("iscsiadm --mode iface --interface %s --op update --name "
                                           "iface.initiatorname --value iqn.2024-01.org.poolkeeper:initiator", name);
    _cleanup_free_ char *dis = pk_asprintf("iscsiadm --mode discovery --type sendtargets --portal " PORTAL
                                           " --interface %s", name);
    _cleanup_free_ char *log = pk_asprintf("iscsiadm --mode node --portal " PORTAL " --targetname " IQN
                                           " --login --interface %s", name);
    tap_ok(fc_find(upd) != NULL, "bound to the initiator IQN (libvirt's commands)");
    tap_ok(fc_find(dis) != NULL, "sendtargets discovery through it");
    tap_ok(fc_find(log) != NULL, "login through it");

    /* an iface bound to the IQN exists: used as it is */
    _cleanup_free_ char *with = pk_asprintf("%smine tcp,<empty>,<empty>,<empty>,iqn.2024-01.org.poolkeeper:initiator\n", iface);
    fc_start();
    reply_no_session();
    fc_reply("iscsiadm --mode iface", 0, with, "");
    fc_reply("iscsiadm --mode node", 0, "", "");
    r = pk_backend_iscsi.start(&c, p, &e);
    pk_err_free(e);
    tap_ok(r == 0 && !fc_find("iscsiadm --mode iface --interface") &&
           fc_find("iscsiadm --mode node --portal " PORTAL " --targetname " IQN " --login --interface mine"),
           "the existing iface 'mine' is used");
    fc_stop();
}

static void test_missing_tool(void)
{
    fc_path_without("iscsiadm");
    _cleanup_(pk_pool_freep) pk_pool *p = iscsi_pool("", "/dev/disk/by-path");
    pk_bctx c = { .no_sync = true };
    pk_obs_pool o = { 0 };
    pk_backend_observe(&c, p, &o);
    _cleanup_free_ char *s = fc_errstr(o.error);
    tap_ok(o.error && strstr(s, "iscsi: program 'iscsiadm' not found"), "without open-iscsi: %s", s);
    pk_obs_pool_clear(&o);
    fc_path_reset();
}

int main(void)
{
    tmp = fc_setup("iscsi-argv", "iscsiadm", NULL);
    test_parse_session();
    test_observe();
    test_start_stop();
    test_chap();
    test_initiator_iface();
    test_missing_tool();
    fc_stop();
    return tap_done();
}
