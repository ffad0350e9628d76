/* The vstorage backend (libvirt's storage_backend_vstorage.c): the cluster
 * <source><name> is mounted on the target directory with
 *   vstorage-mount -c CLUSTER TARGET -m MODE -g GROUP -u USER
 * (mode, owner and group of the target, 0711 and poolkeeper's own ids when
 * the XML gives none) and unmounted with umount; a mount is the pool's when
 * mountinfo shows "vstorage://CLUSTER" on the target. Build makes the
 * target directory, and volumes are files in the mounted directory, as in
 * dir pools. vstorage-mount is not packaged everywhere: without it
 * observing fails and says so. */
#include "vstorage.h"
#include "dir.h"
#include "mount.h"
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>

#define DEFAULT_POOL_MODE 0711

static int check_def(const pk_pool *def, pk_err **err)
{
    if (!def->source.name || !*def->source.name)
        return pk_fail(err, "pool '%s' has no cluster name", def->name);
    if (!def->target_path || def->target_path[0] != '/')
        return pk_fail(err, "pool '%s' has no absolute target path", def->name);
    _cleanup_free_ char *p = pk_find_program("vstorage-mount");
    if (!p) return pk_fail(err, "vstorage: program 'vstorage-mount' not found");
    return 0;
}

enum { NOT_MOUNTED, MOUNTED };

/* Whether the cluster is mounted on the target; -1 when something else is. */
static int mount_state(const pk_pool *def, pk_err **err)
{
    _cleanup_free_ char *tgt = realpath(def->target_path, NULL);
    if (!tgt) {
        if (errno == ENOENT) return NOT_MOUNTED;
        return pk_fail_errno(err, errno, "cannot resolve pool target '%s'", def->target_path);
    }
    pk_mountinfo mi = { 0 };
    if (pk_mountinfo_read(&mi, err) < 0) return -1;
    _cleanup_free_ char *src = pk_asprintf("vstorage://%s", def->source.name);
    int ret = NOT_MOUNTED;
    const pk_mount_entry *e = pk_mountinfo_at(&mi, tgt);
    if (e && pk_streq(e->source, src))
        ret = MOUNTED;
    else if (e)
        ret = pk_fail(err, "pool target '%s' has '%s' (%s) mounted on it, not '%s'", tgt, e->source,
                      e->fstype, src);
    pk_mountinfo_clear(&mi);
    return ret;
}

static int require_mounted(const pk_pool *def, pk_err **err)
{
    int m = mount_state(def, err);
    if (m < 0) return -1;
    if (m != MOUNTED)
        return pk_fail(err, "pool '%s' is not mounted on '%s'", def->name, def->target_path);
    return 0;
}

static int vs_observe_pool(pk_bctx *c, const pk_pool *def, pk_obs_pool *out, pk_err **err)
{
    if (check_def(def, err) < 0) return -1;
    int m = mount_state(def, err);
    if (m < 0) return -1;
    if (m == MOUNTED) {
        if (pk_dir_observe_pool(c, def, out, err) < 0) return -1;
        out->state = PK_POOL_RUNNING;
        return 0;
    }
    struct stat st;
    out->state = stat(def->target_path, &st) == 0 && S_ISDIR(st.st_mode) ? PK_POOL_INACTIVE
                                                                           : PK_POOL_ABSENT;
    return 0;
}

static int vs_build(pk_bctx *c, const pk_pool *def, pk_err **err)
{
    if (check_def(def, err) < 0) return -1;
    int m = mount_state(def, err);
    if (m < 0) return -1;
    if (m == MOUNTED) return 0;
    return pk_dir_build(c, def, err);
}

static int vs_start(pk_bctx *c PK_UNUSED, const pk_pool *def, pk_err **err)
{
    if (check_def(def, err) < 0) return -1;
    int m = mount_state(def, err);
    if (m < 0) return -1;
    if (m == MOUNTED) return 0;
    const pk_perms *p = &def->target_perms;
    uid_t uid = p->uid >= 0 ? (uid_t)p->uid : geteuid();
    gid_t gid = p->gid >= 0 ? (gid_t)p->gid : getegid();
    /* vstorage-mount takes names, not ids */
    struct passwd *pw = getpwuid(uid);
    if (!pw) return pk_fail(err, "cannot mount pool '%s': no user with uid %u", def->name, (unsigned)uid);
    _cleanup_free_ char *user = pk_strdup(pw->pw_name);
    struct group *gr = getgrgid(gid);
    if (!gr) return pk_fail(err, "cannot mount pool '%s': no group with gid %u", def->name, (unsigned)gid);
    _cleanup_free_ char *group = pk_strdup(gr->gr_name);
    _cleanup_free_ char *mode = pk_asprintf("%llo", (unsigned long long)(p->mode >= 0 ? p->mode
                                                                                    : DEFAULT_POOL_MODE));
    _cleanup_(pk_cmd_freep) pk_cmd *cmd = pk_cmd_new("vstorage-mount");
    pk_cmd_add_args(cmd, "-c", def->source.name, def->target_path, "-m", mode, "-g", group, "-u", user,
                    NULL);
    if (pk_cmd_run(cmd, NULL, err) < 0) return pk_wrap(err, "cannot mount pool '%s'", def->name);
    return 0;
}

static int vs_stop(pk_bctx *c PK_UNUSED, const pk_pool *def, pk_err **err)
{
    if (check_def(def, err) < 0) return -1;
    int m = mount_state(def, err);
    if (m < 0) return -1;
    if (m == NOT_MOUNTED) return 0;
    _cleanup_(pk_cmd_freep) pk_cmd *cmd = pk_umount_cmd(def, err);
    if (!cmd) return -1;
    if (pk_cmd_run(cmd, NULL, err) < 0) return pk_wrap(err, "cannot unmount pool '%s'", def->name);
    return 0;
}

static int vs_delete_pool(pk_bctx *c, const pk_pool *def, char *const *owned_vols, pk_err **err)
{
    if (check_def(def, err) < 0) return -1;
    int m = mount_state(def, err);
    if (m < 0) return -1;
    if (m == MOUNTED)
        return pk_fail(err, "cannot delete pool '%s': it is mounted on '%s' (stop it first)",
                       def->name, def->target_path);
    return pk_dir_delete_pool(c, def, owned_vols, err);
}

/* ---- volumes: the dir backend's, inside the mounted cluster ---- */

static int vs_observe_vols(pk_bctx *c, const pk_pool *def, pk_obs_pool *out, pk_err **err)
{
    if (check_def(def, err) < 0 || require_mounted(def, err) < 0) return -1;
    return pk_dir_observe_vols(c, def, out, err);
}

static int vs_create_vol(pk_bctx *c, const pk_pool *def, const pk_vol *vol, pk_obs_vol *out,
                         pk_err **err)
{
    if (check_def(def, err) < 0 || require_mounted(def, err) < 0) return -1;
    return pk_dir_create_vol(c, def, vol, out, err);
}

static int vs_resize_vol(pk_bctx *c, const pk_pool *def, const pk_vol *vol, const pk_obs_vol *cur,
                         uint64_t new_capacity, pk_obs_vol *out, pk_err **err)
{
    if (check_def(def, err) < 0 || require_mounted(def, err) < 0) return -1;
    return pk_dir_resize_vol(c, def, vol, cur, new_capacity, out, err);
}

static int vs_update_vol(pk_bctx *c, const pk_pool *def, const pk_vol *vol, const pk_obs_vol *cur,
                         pk_obs_vol *out, pk_err **err)
{
    if (check_def(def, err) < 0 || require_mounted(def, err) < 0) return -1;
    return pk_dir_update_vol(c, def, vol, cur, out, err);
}

static int vs_delete_vol(pk_bctx *c, const pk_pool *def, const pk_obs_vol *cur, pk_err **err)
{
    if (check_def(def, err) < 0 || require_mounted(def, err) < 0) return -1;
    return pk_dir_delete_vol(c, def, cur, err);
}

const pk_backend pk_backend_vstorage = {
    .type = PK_POOL_VSTORAGE,
    .caps = PK_CAP_BUILD | PK_CAP_START | PK_CAP_DELETE_POOL | PK_CAP_CREATE_VOL |
            PK_CAP_RESIZE_VOL | PK_CAP_SHRINK_VOL | PK_CAP_UPDATE_VOL | PK_CAP_DELETE_VOL |
            PK_CAP_IMAGE_FORMATS | PK_CAP_BACKING,
    .observe_pool = vs_observe_pool,
    .observe_vols = vs_observe_vols,
    .build = vs_build,
    .start = vs_start,
    .stop = vs_stop,
    .delete_pool = vs_delete_pool,
    .create_vol = vs_create_vol,
    .resize_vol = vs_resize_vol,
    .update_vol = vs_update_vol,
    .delete_vol = vs_delete_vol,
};
