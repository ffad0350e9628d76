/* The iscsi backend (libvirt's storage_backend_iscsi.c and viriscsi.c): a
 * pool is one iSCSI target, logged in through the kernel initiator with
 * open-iscsi's iscsiadm; its volumes are the target's LUNs, found through
 * sysfs (scsilun.c) and named by their /dev/disk/by-path links.
 *
 * The pool runs while a session to its target exists; start logs in (node
 * record, CHAP settings, login), stop logs out. Nothing can be built, and
 * LUNs cannot be created, resized or deleted from the initiator.
 *
 * CHAP: libvirt sets the password with `iscsiadm --op update --name
 * node.session.auth.password --value SECRET`, which shows it to every user
 * of the machine in the process list. iscsiadm reads a value from nowhere
 * else, so poolkeeper runs libvirt's commands for the method and the user
 * name, and writes the password into the node record itself
 * (/etc/iscsi/nodes/IQN/HOST,PORT,TPGT/IFACE, "name = value" lines, the
 * file iscsiadm --login reads): a new file of mode 0600 renamed over the
 * old one. As with libvirt, the password stays in the node record (where
 * open-iscsi keeps it anyway) after the pool stops. */
#include "iscsi.h"
#include "scsilun.h"
#include "secret.h"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#define DEFAULT_NODE_DIR "/etc/iscsi/nodes"
#define LOGIN_TIMEOUT_MS 120000
/* open-iscsi's limit on CHAP user names and secrets (AUTH_STR_MAX_LEN) */
#define CHAP_MAX 256

static const char *node_dir;

void pk_iscsi_set_node_dir(const char *dir)
{
    node_dir = dir;
}

/* ---- the definition ---- */

static int check_def(const pk_pool *def, pk_err **err)
{
    if (def->source.n_hosts != 1 || !def->source.hosts[0].name)
        return pk_fail(err, "pool '%s' needs exactly one source host", def->name);
    if (def->source.n_devices != 1 || !def->source.devices[0].path || !*def->source.devices[0].path)
        return pk_fail(err, "pool '%s' needs exactly one source device (the target IQN)", def->name);
    if (def->source.auth.type != PK_AUTH_NONE && def->source.auth.type != PK_AUTH_CHAP)
        return pk_fail(err, "pool '%s': iSCSI authentication must be 'chap'", def->name);
    _cleanup_free_ char *p = pk_find_program("iscsiadm");
    if (!p) return pk_fail(err, "iscsi: program 'iscsiadm' not found (package open-iscsi)");
    return 0;
}

static const char *target_iqn(const pk_pool *def)
{
    return def->source.devices[0].path;
}

static int port_of(const pk_pool *def)
{
    return def->source.hosts[0].port > 0 ? def->source.hosts[0].port : 3260;
}

/* libvirt's portal: HOST:PORT,1 ([HOST]:PORT,1 for IPv6 addresses). */
static char *portal_of(const pk_pool *def)
{
    const char *h = def->source.hosts[0].name;
    if (strchr(h, ':')) return pk_asprintf("[%s]:%d,1", h, port_of(def));
    return pk_asprintf("%s:%d,1", h, port_of(def));
}

static pk_cmd *iscsiadm(void)
{
    pk_cmd *cmd = pk_cmd_new("iscsiadm");
    pk_cmd_set_timeout(cmd, LOGIN_TIMEOUT_MS);
    return cmd;
}

static int run(pk_cmd *cmd, pk_err **err)
{
    int r = pk_cmd_run(cmd, NULL, err);
    pk_cmd_free(cmd);
    return r;
}

/* ---- sessions ---- */

bool pk_iscsi_parse_session(const char *line, char **sid, char **target)
{
    const char *s = line;
    if (strncmp(s, "tcp:", 4) != 0) return false;
    s += 4;
    if (!isspace((unsigned char)*s)) return false;
    while (isspace((unsigned char)*s)) s++;
    if (*s != '[') return false;
    const char *id = ++s;
    while (*s && *s != ']' && !isspace((unsigned char)*s)) s++;
    if (*s != ']' || s == id) return false;
    const char *id_end = s++;
    if (!isspace((unsigned char)*s)) return false;
    while (isspace((unsigned char)*s)) s++;
    while (*s && !isspace((unsigned char)*s)) s++;     /* the portal */
    if (!isspace((unsigned char)*s)) return false;
    while (isspace((unsigned char)*s)) s++;
    const char *t = s;
    while (*s && !isspace((unsigned char)*s)) s++;
    if (s == t) return false;
    *sid = pk_strndup(id, (size_t)(id_end - id));
    *target = pk_strndup(t, (size_t)(s - t));
    return true;
}

/* The id of a session to the pool's target, NULL when there is none. */
static int find_session(const pk_pool *def, char **sid, pk_err **err)
{
    *sid = NULL;
    pk_cmd *cmd = iscsiadm();
    pk_cmd_add_args(cmd, "--mode", "session", NULL);
    int status = 0;
    if (pk_cmd_run(cmd, &status, err) < 0) {
        pk_cmd_free(cmd);
        return -1;
    }
    /* 21: ISCSI_ERR_NO_OBJS_FOUND, "No active sessions." */
    if (status != 0 && status != 21) {
        const char *e = pk_cmd_stderr(cmd);
        pk_fail(err, "'iscsiadm --mode session' exited with status %d: %s", status, e);
        pk_cmd_free(cmd);
        return -1;
    }
    _cleanup_free_ char *out = pk_strdup(pk_cmd_stdout(cmd));
    pk_cmd_free(cmd);
    char *save = NULL;
    for (char *line = strtok_r(out, "\n", &save); line && !*sid; line = strtok_r(NULL, "\n", &save)) {
        char *id, *target;
        if (!pk_iscsi_parse_session(line, &id, &target)) continue;
        if (strcmp(target, target_iqn(def)) == 0)
            *sid = id;
        else
            free(id);
        free(target);
    }
    return 0;
}

/* The SCSI host of session `sid`: its device dir holds "targetH:B:T". */
static int session_host(const char *sid, unsigned *host, pk_err **err)
{
    _cleanup_free_ char *dir = pk_sysfs_path("/sys/class/iscsi_session/session%s/device", sid);
    DIR *d = opendir(dir);
    if (!d) return pk_fail_errno(err, errno, "cannot read '%s'", dir);
    bool found = false;
    struct dirent *de;
    while (!found && (de = readdir(d)))
        found = sscanf(de->d_name, "target%u:", host) == 1;
    closedir(d);
    if (!found) return pk_fail(err, "iSCSI session %s has no SCSI target in '%s'", sid, dir);
    return 0;
}

/* ---- interfaces: <initiator><iqn name=…/> ---- */

/* The iface bound to initiator `iqn` (the 5th comma field of `iscsiadm
 * --mode iface`: "NAME transport,hwaddress,ipaddress,netdev,initiatorname"). */
static int find_iface(const char *iqn, char **name, pk_err **err)
{
    *name = NULL;
    pk_cmd *cmd = iscsiadm();
    pk_cmd_add_args(cmd, "--mode", "iface", NULL);
    if (pk_cmd_run(cmd, NULL, err) < 0) {
        pk_cmd_free(cmd);
        return -1;
    }
    _cleanup_free_ char *out = pk_strdup(pk_cmd_stdout(cmd));
    pk_cmd_free(cmd);
    char *save = NULL;
    for (char *line = strtok_r(out, "\n", &save); line && !*name; line = strtok_r(NULL, "\n", &save)) {
        char *sp = strchr(line, ' ');
        if (!sp) continue;
        const char *f = sp + 1;
        for (int i = 0; i < 4 && f; i++) {
            f = strchr(f, ',');
            if (f) f++;
        }
        if (f && strcmp(f, iqn) == 0) *name = pk_strndup(line, (size_t)(sp - line));
    }
    return 0;
}

/* An iface for `iqn`, made as libvirt makes one (new, initiatorname, then
 * a sendtargets discovery through it, without which iscsiadm knows no
 * node for it), under a name derived from the IQN. */
static int make_iface(const char *iqn, const char *portal, char **name, pk_err **err)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *s = (const unsigned char *)iqn; *s; s++) h = (h ^ *s) * 16777619u;
    _cleanup_free_ char *n = pk_asprintf("poolkeeper-iface-%08x", h);
    pk_cmd *cmd = iscsiadm();
    pk_cmd_add_args(cmd, "--mode", "iface", "--interface", n, "--op", "new", NULL);
    if (run(cmd, err) < 0) return -1;
    cmd = iscsiadm();
    pk_cmd_add_args(cmd, "--mode", "iface", "--interface", n, "--op", "update",
                    "--name", "iface.initiatorname", "--value", iqn, NULL);
    if (run(cmd, err) < 0) return -1;
    cmd = iscsiadm();
    pk_cmd_add_args(cmd, "--mode", "discovery", "--type", "sendtargets", "--portal", portal,
                    "--interface", n, NULL);
    if (run(cmd, err) < 0) return -1;
    *name = TAKE_PTR(n);
    return 0;
}

/* ---- CHAP ---- */

/* The secret, checked to be one line open-iscsi can store. */
static char *read_chap_secret(pk_bctx *c, const pk_pool *def, pk_err **err)
{
    char *value = NULL;
    size_t n = 0;
    if (pk_secret_read(c->secrets_dir, &def->source.auth.secret, &value, &n, err) < 0)
        return NULL;
    const char *why = n == 0 ? "it is empty" : n > CHAP_MAX ? "it is longer than 256 bytes" : NULL;
    for (size_t i = 0; !why && i < n; i++)
        if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f)
            why = "it holds a control character (a trailing newline?)";
    if (why) {
        pk_secret_free(value, n);
        pk_fail(err, "the CHAP secret of pool '%s' cannot be used: %s", def->name, why);
        return NULL;
    }
    return value;
}

static void free_secret(char *s)
{
    if (s) pk_secret_free(s, strlen(s));
}

/* Replace the password line of one node record file. */
static int write_record_password(const char *dir, const char *name, const char *secret, pk_err **err)
{
    _cleanup_free_ char *path = pk_asprintf("%s/%s", dir, name);
    FILE *in = fopen(path, "re");
    if (!in) return pk_fail_errno(err, errno, "cannot read iSCSI node record '%s'", path);
    static const char key[] = "node.session.auth.password";
    pk_buf out = PK_BUF_INIT;
    char *line = NULL;
    size_t cap = 0;
    bool placed = false;
    while (getline(&line, &cap, in) >= 0) {
        size_t kl = strlen(key);
        if (!strncmp(line, key, kl) && (line[kl] == ' ' || line[kl] == '=')) continue;
        if (!placed && !strncmp(line, "# END RECORD", 12)) {
            pk_buf_addf(&out, "%s = %s\n", key, secret);
            placed = true;
        }
        pk_buf_add(&out, line);
    }
    free(line);
    fclose(in);
    if (!placed) pk_buf_addf(&out, "%s = %s\n", key, secret);

    _cleanup_free_ char *tmp = pk_asprintf("%s/.pk-tmp-%s", dir, name);
    int ret = -1;
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        pk_fail_errno(err, errno, "cannot create '%s'", tmp);
        goto out;
    }
    size_t off = 0;
    while (off < out.len) {
        ssize_t w = write(fd, out.s + off, out.len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    if (off != out.len || fsync(fd) < 0) {
        pk_fail_errno(err, errno, "cannot write '%s'", tmp);
        close(fd);
        unlink(tmp);
        goto out;
    }
    close(fd);
    if (rename(tmp, path) < 0) {
        pk_fail_errno(err, errno, "cannot replace iSCSI node record '%s'", path);
        unlink(tmp);
        goto out;
    }
    ret = 0;
out:
    if (out.s) explicit_bzero(out.s, out.len);
    pk_buf_free(&out);
    return ret;
}

/* Every record of (target, portal): NODE_DIR/IQN/HOST,PORT,TPGT/IFACE
 * files (or, in open-iscsi's older layout, NODE_DIR/IQN/HOST,PORT,TPGT
 * itself). */
static int write_password(const pk_pool *def, const char *secret, pk_err **err)
{
    const char *root = node_dir ? node_dir : DEFAULT_NODE_DIR;
    _cleanup_free_ char *tdir = pk_asprintf("%s/%s", root, target_iqn(def));
    _cleanup_free_ char *prefix = pk_asprintf("%s,%d,", def->source.hosts[0].name, port_of(def));
    DIR *d = opendir(tdir);
    if (!d) return pk_fail_errno(err, errno, "cannot read the iSCSI node records in '%s'", tdir);
    size_t written = 0;
    int ret = 0;
    struct dirent *de;
    while (ret == 0 && (de = readdir(d))) {
        if (!pk_str_has_prefix(de->d_name, prefix)) continue;
        _cleanup_free_ char *p = pk_asprintf("%s/%s", tdir, de->d_name);
        struct stat st;
        if (lstat(p, &st) < 0) continue;
        if (S_ISREG(st.st_mode)) {
            ret = write_record_password(tdir, de->d_name, secret, err);
            written++;
            continue;
        }
        if (!S_ISDIR(st.st_mode)) continue;
        DIR *id = opendir(p);
        if (!id) {
            ret = pk_fail_errno(err, errno, "cannot read '%s'", p);
            break;
        }
        struct dirent *ie;
        while (ret == 0 && (ie = readdir(id))) {
            if (ie->d_name[0] == '.') continue;
            _cleanup_free_ char *f = pk_asprintf("%s/%s", p, ie->d_name);
            if (lstat(f, &st) < 0 || !S_ISREG(st.st_mode)) continue;
            ret = write_record_password(p, ie->d_name, secret, err);
            written++;
        }
        closedir(id);
    }
    closedir(d);
    if (ret == 0 && written == 0)
        ret = pk_fail(err, "no iSCSI node record of portal '%s' in '%s'", prefix, tdir);
    return ret;
}

static int set_auth(pk_bctx *c, const pk_pool *def, const char *portal, pk_err **err)
{
    const pk_auth *a = &def->source.auth;
    if (a->type != PK_AUTH_CHAP) return 0;
    if (!a->username || !*a->username || strlen(a->username) > CHAP_MAX)
        return pk_fail(err, "pool '%s': invalid CHAP user name", def->name);
    char *secret = read_chap_secret(c, def, err);
    if (!secret) return -1;
    static const char *const names[] = { "node.session.auth.authmethod", "node.session.auth.username" };
    const char *values[] = { "CHAP", a->username };
    int ret = 0;
    for (size_t i = 0; ret == 0 && i < PK_NELEM(names); i++) {
        pk_cmd *cmd = iscsiadm();
        pk_cmd_add_args(cmd, "--mode", "node", "--portal", portal, "--target", target_iqn(def),
                        "--op", "update", "--name", names[i], "--value", values[i], NULL);
        ret = run(cmd, err);
    }
    if (ret == 0) ret = write_password(def, secret, err);
    free_secret(secret);
    if (ret < 0) return pk_wrap(err, "cannot set the CHAP credentials of pool '%s'", def->name);
    return 0;
}

/* ---- backend ---- */

static int iscsi_observe_pool(pk_bctx *c PK_UNUSED, const pk_pool *def, pk_obs_pool *out,
                              pk_err **err)
{
    if (check_def(def, err) < 0) return -1;
    _cleanup_free_ char *sid = NULL;
    if (find_session(def, &sid, err) < 0) return -1;
    out->state = sid ? PK_POOL_RUNNING : PK_POOL_INACTIVE;
    free(out->identity);
    out->identity = pk_strdup(target_iqn(def));
    return 0;
}

static int iscsi_observe_vols(pk_bctx *c PK_UNUSED, const pk_pool *def, pk_obs_pool *out,
                              pk_err **err)
{
    if (check_def(def, err) < 0) return -1;
    _cleanup_free_ char *sid = NULL;
    if (find_session(def, &sid, err) < 0) return -1;
    if (!sid) return pk_fail(err, "no iSCSI session to target '%s'", target_iqn(def));
    /* as libvirt's refresh: rescan the session for new LUNs */
    pk_cmd *cmd = iscsiadm();
    pk_cmd_add_args(cmd, "--mode", "session", "-r", sid, "-R", NULL);
    if (run(cmd, err) < 0) return -1;
    unsigned host;
    if (session_host(sid, &host, err) < 0) return -1;
    return pk_scsi_host_luns(host, def->target_path, out, err);
}

/* The --interface for the pool's initiator IQN, NULL without one. */
static int iface_of(const pk_pool *def, const char *portal, bool create, char **iface, pk_err **err)
{
    *iface = NULL;
    const char *iqn = def->source.initiator_iqn;
    if (!iqn) return 0;
    if (find_iface(iqn, iface, err) < 0) return -1;
    if (!*iface && create) return make_iface(iqn, portal, iface, err);
    return 0;
}

static int iscsi_start(pk_bctx *c, const pk_pool *def, pk_err **err)
{
    if (check_def(def, err) < 0) return -1;
    _cleanup_free_ char *sid = NULL;
    if (find_session(def, &sid, err) < 0) return -1;
    if (sid) return 0;
    _cleanup_free_ char *portal = portal_of(def);
    _cleanup_free_ char *iface = NULL;
    /* The iface (and its node record, made by discovery) first, so that
     * the credentials below reach its record too. */
    if (iface_of(def, portal, true, &iface, err) < 0)
        return pk_wrap(err, "cannot log in to iSCSI target '%s'", target_iqn(def));
    pk_cmd *cmd = iscsiadm();
    pk_cmd_add_args(cmd, "--mode", "node", "--portal", portal, "--targetname", target_iqn(def),
                    "--op", "new", NULL);
    if (run(cmd, err) < 0 || set_auth(c, def, portal, err) < 0)
        return pk_wrap(err, "cannot log in to iSCSI target '%s'", target_iqn(def));
    cmd = iscsiadm();
    pk_cmd_add_args(cmd, "--mode", "node", "--portal", portal, "--targetname", target_iqn(def),
                    "--login", NULL);
    if (iface) pk_cmd_add_args(cmd, "--interface", iface, NULL);
    if (run(cmd, err) < 0)
        return pk_wrap(err, "cannot log in to iSCSI target '%s'", target_iqn(def));
    return 0;
}

static int iscsi_stop(pk_bctx *c PK_UNUSED, const pk_pool *def, pk_err **err)
{
    if (check_def(def, err) < 0) return -1;
    _cleanup_free_ char *sid = NULL;
    if (find_session(def, &sid, err) < 0) return -1;
    if (!sid) return 0;
    _cleanup_free_ char *portal = portal_of(def);
    _cleanup_free_ char *iface = NULL;
    if (iface_of(def, portal, false, &iface, err) < 0) return -1;
    pk_cmd *cmd = iscsiadm();
    pk_cmd_add_args(cmd, "--mode", "node", "--portal", portal, "--targetname", target_iqn(def),
                    "--logout", NULL);
    if (iface) pk_cmd_add_args(cmd, "--interface", iface, NULL);
    if (run(cmd, err) < 0)
        return pk_wrap(err, "cannot log out of iSCSI target '%s'", target_iqn(def));
    return 0;
}

const pk_backend pk_backend_iscsi = {
    .type = PK_POOL_ISCSI,
    .caps = PK_CAP_START,
    .observe_pool = iscsi_observe_pool,
    .observe_vols = iscsi_observe_vols,
    .start = iscsi_start,
    .stop = iscsi_stop,
};
