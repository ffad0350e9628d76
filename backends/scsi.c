/* The scsi backend (libvirt's storage_backend_scsi.c): a pool is one SCSI
 * host adapter, its volumes are the LUNs the host sees. Nothing can be
 * created, resized or deleted; observing rescans the host first.
 *
 * The adapter is named as in libvirt:
 *   <adapter type='scsi_host' name='host5'/> (or the legacy name='host5');
 *   <adapter type='scsi_host'><parentaddr unique_id='N'><address domain=…
 *     bus=… slot=… function=…/></parentaddr></adapter>: the scsi_host below
 *     that PCI device whose unique_id is N (host numbers change across
 *     boots, PCI addresses do not);
 *   <adapter type='fc_host' wwnn='…' wwpn='…' [parent='hostN' |
 *     parent_wwnn/parent_wwpn | parent_fabric_wwn] managed='yes'/>: a vHBA
 *     (an NPIV vport). With managed='yes' start creates it through the
 *     parent's vport_create and stop deletes it through vport_delete; without
 *     it the vHBA must exist already and is never deleted.
 * The pool runs while its host exists; a managed vHBA that does not exist
 * is an inactive pool, an unmanaged one an error. */
#include "scsi.h"
#include "scsilun.h"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <time.h>

static int vport_wait_ms = 10000;

void pk_scsi_set_vport_wait_ms(int ms)
{
    vport_wait_ms = ms;
}

static int write_str(const char *path, const char *s, pk_err **err)
{
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
    size_t n = strlen(s);
    if (fd < 0 || write(fd, s, n) != (ssize_t)n)
        return pk_fail_errno(err, errno, "cannot write '%s' to '%s'", s, path);
    return 0;
}

/* "hostN" (or the node device name "scsi_hostN") -> N, as libvirt's
 * virSCSIHostGetNumber */
static bool parse_host_name(const char *name, unsigned *host)
{
    char end;
    if (name && pk_str_has_prefix(name, "scsi_host")) name += strlen("scsi_");
    return name && sscanf(name, "host%u%c", host, &end) == 1;
}

/* ---- scsi_host adapters ---- */

/* libvirt's virSCSIHostFindByPCI: the host whose sysfs path goes through
 * the PCI device and whose unique_id matches. */
static int find_by_pci(const pk_adapter *a, unsigned *host, pk_err **err)
{
    char pci[32];
    snprintf(pci, sizeof(pci), "%04x:%02x:%02x.%x", a->domain, a->bus, a->slot, a->function);
    _cleanup_free_ char *dir = pk_sysfs_path("/sys/class/scsi_host");
    DIR *d = opendir(dir);
    if (!d) return pk_fail_errno(err, errno, "cannot list SCSI hosts in '%s'", dir);
    bool found = false;
    struct dirent *de;
    while (!found && (de = readdir(d))) {
        unsigned n;
        if (!parse_host_name(de->d_name, &n)) continue;
        _cleanup_free_ char *link = pk_asprintf("%s/%s", dir, de->d_name);
        _cleanup_free_ char *real = realpath(link, NULL);
        if (!real || !strstr(real, pci)) continue;
        _cleanup_free_ char *uid_file = pk_asprintf("%s/unique_id", link);
        _cleanup_free_ char *uid = pk_sysfs_read_line(uid_file);
        uint64_t u;
        if (uid && pk_parse_u64(uid, 10, &u) == 0 && u == a->unique_id) {
            *host = n;
            found = true;
        }
    }
    closedir(d);
    if (!found)
        return pk_fail(err, "no SCSI host with unique_id %u under PCI device %s", a->unique_id, pci);
    return 0;
}

static int scsi_host_of(const pk_pool *def, unsigned *host, pk_err **err)
{
    const pk_adapter *a = &def->source.adapter;
    if (a->has_parentaddr) return find_by_pci(a, host, err);
    if (!parse_host_name(a->name, host))
        return pk_fail(err, "invalid SCSI host name '%s' (expected 'hostN')", a->name ? a->name : "");
    if (!pk_scsi_host_exists(*host))
        return pk_fail(err, "SCSI host '%s' does not exist", a->name);
    return 0;
}

/* ---- fc_host adapters (vHBA) ---- */

/* A WWN as sysfs shows it ("0x2001001b32a9da4e") or as the XML does,
 * compared in lower case without the prefix. */
static bool wwn_eq(const char *sysfs_value, const char *xml)
{
    if (!sysfs_value || !xml) return false;
    if (pk_str_has_prefix(sysfs_value, "0x")) sysfs_value += 2;
    if (pk_str_has_prefix(xml, "0x")) xml += 2;
    return strcasecmp(sysfs_value, xml) == 0;
}

static char *fc_attr(unsigned host, const char *attr)
{
    _cleanup_free_ char *p = pk_sysfs_path("/sys/class/fc_host/host%u/%s", host, attr);
    return pk_sysfs_read_line(p);
}

/* The fc_host whose node and port names are wwnn and wwpn (or, with
 * wwnn NULL, whose fabric_name is wwpn); false when there is none. */
static bool fc_find(const char *wwnn, const char *wwpn, bool fabric, unsigned *host)
{
    _cleanup_free_ char *dir = pk_sysfs_path("/sys/class/fc_host");
    DIR *d = opendir(dir);
    if (!d) return false;
    bool found = false;
    struct dirent *de;
    while (!found && (de = readdir(d))) {
        unsigned n;
        if (!parse_host_name(de->d_name, &n)) continue;
        if (fabric) {
            _cleanup_free_ char *f = fc_attr(n, "fabric_name");
            found = wwn_eq(f, wwpn);
        } else {
            _cleanup_free_ char *pn = fc_attr(n, "port_name");
            _cleanup_free_ char *nn = fc_attr(n, "node_name");
            found = wwn_eq(pn, wwpn) && wwn_eq(nn, wwnn);
        }
        if (found) *host = n;
    }
    closedir(d);
    return found;
}

/* The host a vport hangs off: its sysfs path runs .../hostP/vport-P:0-N/hostV.
 * Returns false for a host that is no vport (a physical HBA). */
static bool vport_parent(unsigned host, unsigned *parent)
{
    _cleanup_free_ char *link = pk_sysfs_path("/sys/class/fc_host/host%u", host);
    _cleanup_free_ char *real = realpath(link, NULL);
    const char *v = real ? strstr(real, "/vport-") : NULL;
    if (!v) return false;
    const char *h = v;
    while (h > real && h[-1] != '/') h--;
    return sscanf(h, "host%u", parent) == 1;
}

static bool vport_capable(unsigned host)
{
    _cleanup_free_ char *create = pk_sysfs_path("/sys/class/fc_host/host%u/vport_create", host);
    if (access(create, W_OK) != 0) return false;
    _cleanup_free_ char *state = fc_attr(host, "port_state");
    _cleanup_free_ char *max = fc_attr(host, "max_npiv_vports");
    _cleanup_free_ char *used = fc_attr(host, "npiv_vports_inuse");
    uint64_t m = 0, u = 0;
    return pk_streq(state, "Online") && max && used && pk_parse_u64(max, 10, &m) == 0 &&
           pk_parse_u64(used, 10, &u) == 0 && m > u;
}

/* The parent to create the vHBA on: as the XML names it, else the first
 * vport-capable online fc_host (libvirt's virVHBAFindVportHost). */
static int fc_parent(const pk_adapter *a, unsigned *parent, pk_err **err)
{
    if (a->parent) {
        if (!parse_host_name(a->parent, parent))
            return pk_fail(err, "invalid parent '%s' (expected 'hostN')", a->parent);
        return 0;
    }
    if (a->parent_wwnn && a->parent_wwpn) {
        if (!fc_find(a->parent_wwnn, a->parent_wwpn, false, parent))
            return pk_fail(err, "no fc_host with wwnn '%s' and wwpn '%s'", a->parent_wwnn, a->parent_wwpn);
        return 0;
    }
    if (a->parent_fabric_wwn) {
        if (!fc_find(NULL, a->parent_fabric_wwn, true, parent))
            return pk_fail(err, "no fc_host on fabric '%s'", a->parent_fabric_wwn);
        return 0;
    }
    _cleanup_free_ char *dir = pk_sysfs_path("/sys/class/fc_host");
    DIR *d = opendir(dir);
    bool found = false;
    struct dirent *de;
    while (d && !found && (de = readdir(d)))
        found = parse_host_name(de->d_name, parent) && vport_capable(*parent);
    if (d) closedir(d);
    if (!found) return pk_fail(err, "no online fc_host can create a vport (NPIV)");
    return 0;
}

static bool managed(const pk_adapter *a)
{
    return a->managed == PK_TRI_YES;
}

/* The vHBA's host number; false when it does not exist. A vHBA that
 * exists on another parent than the XML's is an error. */
static int fc_vhba(const pk_adapter *a, unsigned *host, bool *exists, pk_err **err)
{
    *exists = fc_find(a->wwnn, a->wwpn, false, host);
    if (!*exists || !a->parent) return 0;
    unsigned want, got;
    if (!parse_host_name(a->parent, &want))
        return pk_fail(err, "invalid parent '%s' (expected 'hostN')", a->parent);
    if (!vport_parent(*host, &got))
        return pk_fail(err, "fc_host 'host%u' with wwpn '%s' is not a vHBA", *host, a->wwpn);
    if (got != want)
        return pk_fail(err, "vHBA 'host%u' with wwpn '%s' is on parent 'host%u', not '%s'",
                       *host, a->wwpn, got, a->parent);
    return 0;
}

static int wait_vhba(const pk_adapter *a, bool present, unsigned *host)
{
    for (int waited = 0;; waited += 100) {
        if (fc_find(a->wwnn, a->wwpn, false, host) == present) return 0;
        if (waited >= vport_wait_ms) return -1;
        nanosleep(&(struct timespec){ .tv_nsec = 100000000 }, NULL);
    }
}

/* ---- backend ---- */

static bool is_fc(const pk_pool *def)
{
    return def->source.adapter.type == PK_ADAPTER_FC_HOST;
}

/* The pool's host number; *exists false for a vHBA not created yet. */
static int pool_host(const pk_pool *def, unsigned *host, bool *exists, pk_err **err)
{
    *exists = true;
    if (!is_fc(def)) return scsi_host_of(def, host, err);
    return fc_vhba(&def->source.adapter, host, exists, err);
}

static int scsi_observe_pool(pk_bctx *c PK_UNUSED, const pk_pool *def, pk_obs_pool *out,
                             pk_err **err)
{
    const pk_adapter *a = &def->source.adapter;
    unsigned host;
    bool exists;
    if (pool_host(def, &host, &exists, err) < 0) return -1;
    free(out->identity);
    if (is_fc(def)) {
        out->identity = pk_asprintf("%s:%s", a->wwnn, a->wwpn);
        if (!exists) {
            if (!managed(a))
                return pk_fail(err, "no vHBA with wwnn '%s' and wwpn '%s' (managed='yes' lets poolkeeper create it)",
                               a->wwnn, a->wwpn);
            out->state = PK_POOL_INACTIVE;
            return 0;
        }
    } else if (a->has_parentaddr) {
        out->identity = pk_asprintf("pci:%04x:%02x:%02x.%x:%u", a->domain, a->bus, a->slot,
                                    a->function, a->unique_id);
    } else {
        out->identity = pk_asprintf("host%u", host);
    }
    out->state = PK_POOL_RUNNING;
    return 0;
}

static int scsi_observe_vols(pk_bctx *c PK_UNUSED, const pk_pool *def, pk_obs_pool *out,
                             pk_err **err)
{
    unsigned host;
    bool exists;
    if (pool_host(def, &host, &exists, err) < 0) return -1;
    if (!exists) return pk_fail(err, "the pool's vHBA does not exist");
    /* as libvirt's refresh: new LUNs show up only after a scan */
    if (pk_scsi_host_scan(host, err) < 0) return -1;
    return pk_scsi_host_luns(host, def->target_path, out, err);
}

static int scsi_start(pk_bctx *c PK_UNUSED, const pk_pool *def, pk_err **err)
{
    unsigned host, parent;
    bool exists;
    if (pool_host(def, &host, &exists, err) < 0) return -1;
    if (exists) return 0;
    const pk_adapter *a = &def->source.adapter;
    if (!managed(a))
        return pk_fail(err, "no vHBA with wwnn '%s' and wwpn '%s' (managed='yes' lets poolkeeper create it)",
                       a->wwnn, a->wwpn);
    if (fc_parent(a, &parent, err) < 0) return pk_wrap(err, "cannot create the vHBA of pool '%s'", def->name);
    _cleanup_free_ char *create = pk_sysfs_path("/sys/class/fc_host/host%u/vport_create", parent);
    _cleanup_free_ char *ids = pk_asprintf("%s:%s", a->wwpn, a->wwnn);
    if (write_str(create, ids, err) < 0)
        return pk_wrap(err, "cannot create the vHBA of pool '%s'", def->name);
    if (wait_vhba(a, true, &host) < 0)
        return pk_fail(err, "the vHBA with wwpn '%s' did not appear within %d ms", a->wwpn, vport_wait_ms);
    return pk_scsi_host_scan(host, err);
}

static int scsi_stop(pk_bctx *c PK_UNUSED, const pk_pool *def, pk_err **err)
{
    if (!is_fc(def) || !managed(&def->source.adapter)) return 0;
    const pk_adapter *a = &def->source.adapter;
    unsigned host, parent;
    bool exists;
    if (pool_host(def, &host, &exists, err) < 0) return -1;
    if (!exists) return 0;
    if (!vport_parent(host, &parent))
        return pk_fail(err, "fc_host 'host%u' with wwpn '%s' is not a vHBA: not deleting it", host, a->wwpn);
    _cleanup_free_ char *del = pk_sysfs_path("/sys/class/fc_host/host%u/vport_delete", parent);
    _cleanup_free_ char *ids = pk_asprintf("%s:%s", a->wwpn, a->wwnn);
    if (write_str(del, ids, err) < 0)
        return pk_wrap(err, "cannot delete the vHBA of pool '%s'", def->name);
    if (wait_vhba(a, false, &host) < 0)
        return pk_fail(err, "the vHBA with wwpn '%s' is still there after %d ms", a->wwpn, vport_wait_ms);
    return 0;
}

const pk_backend pk_backend_scsi = {
    .type = PK_POOL_SCSI,
    .caps = PK_CAP_START,
    .observe_pool = scsi_observe_pool,
    .observe_vols = scsi_observe_vols,
    .start = scsi_start,
    .stop = scsi_stop,
};
