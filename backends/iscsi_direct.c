/* The iscsi-direct backend (see iscsi_direct.h).
 *
 * One login per pool per engine session (connection cache): observing the
 * pool reads every LUN once (REPORT LUNS, TEST UNIT READY until the unit
 * attention of a new login clears, INQUIRY, READ CAPACITY(16) for disks,
 * the device identification page for the identity) and the volume list is
 * taken from that same reading.
 *
 * Volumes are named and keyed as libvirt names them: "unit:0:0:LUN", key
 * and path "ip-PORTAL-iscsi-TARGET-lun-LUN". One difference: capacity is
 * (last LBA + 1) x block length, the LUN's real size; libvirt multiplies by
 * the last LBA and reports one block less. The identity is the LUN's NAA
 * designator from VPD page 0x83 (else its unit serial number), so a LUN
 * replaced under the same number is not taken for the one observed. */
#include "iscsi_direct.h"
#include "conn_cache.h"
#include "secret.h"
#include <errno.h>
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define CONN_KIND "iscsi-direct"
#define DEFAULT_PORT 3260
#define TIMEOUT_S 10
#define TUR_TRIES 10
#define VOL_NAME_PREFIX "unit:0:0:"

typedef struct {
    struct iscsi_context *iscsi;
    char *portal;
    char *target;
    /* The LUNs as read by observe_pool, handed to observe_vols. */
    pk_obs_vol *luns;
    size_t n_luns;
    bool have_luns;
} isd_session;

char *pk_iscsi_direct_portal(const pk_pool *def)
{
    if (def->source.n_hosts == 0) return NULL;
    const pk_pool_host *h = &def->source.hosts[0];
    if (!h->port) return pk_asprintf("%s:%d", h->name, DEFAULT_PORT);
    if (strchr(h->name, ':')) return pk_asprintf("[%s]:%d", h->name, h->port);
    return pk_asprintf("%s:%d", h->name, h->port);
}

static const char *target_of(const pk_pool *def)
{
    return def->source.n_devices ? def->source.devices[0].path : NULL;
}

static void luns_clear(isd_session *s)
{
    for (size_t i = 0; i < s->n_luns; i++) pk_obs_vol_clear(&s->luns[i]);
    free(s->luns);
    s->luns = NULL;
    s->n_luns = 0;
    s->have_luns = false;
}

static void session_free(void *p)
{
    isd_session *s = p;
    if (!s) return;
    if (s->iscsi) {
        iscsi_logout_sync(s->iscsi);
        iscsi_disconnect(s->iscsi);
        iscsi_destroy_context(s->iscsi);
    }
    luns_clear(s);
    free(s->portal);
    free(s->target);
    free(s);
}

static char *cache_key(const pk_pool *def, const char *portal)
{
    const pk_auth *a = &def->source.auth;
    return pk_asprintf("%s\n%s\n%s\n%s\n%s", portal, target_of(def), def->source.initiator_iqn,
                       a->type == PK_AUTH_CHAP && a->username ? a->username : "",
                       a->type == PK_AUTH_CHAP ? (a->secret.uuid ? a->secret.uuid : a->secret.usage) : "");
}

/* CHAP from the secrets directory: the secret's bytes are the password. */
static int set_chap(pk_bctx *c, const pk_pool *def, struct iscsi_context *iscsi, pk_err **err)
{
    const pk_auth *a = &def->source.auth;
    if (a->type == PK_AUTH_NONE) return 0;
    if (a->type != PK_AUTH_CHAP)
        return pk_fail(err, "pool '%s': iscsi-direct pools take <auth type='chap'>, not '%s'", def->name,
                       pk_auth_type_to_string(a->type));
    if (!a->username || !*a->username)
        return pk_fail(err, "pool '%s': CHAP needs a username", def->name);
    char *pw = NULL;
    size_t len = 0;
    if (pk_secret_read(c->secrets_dir, &a->secret, &pw, &len, err) < 0)
        return pk_wrap(err, "cannot read the CHAP secret of pool '%s'", def->name);
    int r = 0;
    if (len == 0 || strlen(pw) != len)
        r = pk_fail(err, "the CHAP secret of pool '%s' is empty or holds a NUL byte", def->name);
    else if (iscsi_set_initiator_username_pwd(iscsi, a->username, pw) != 0)
        r = pk_fail(err, "cannot set the CHAP credentials of pool '%s'", def->name);
    pk_secret_free(pw, len);
    return r;
}

static int login_error(const char *portal, const char *target, const char *user, const char *why,
                       pk_err **err)
{
    if (strstr(why, "Authentication failure") || strstr(why, "Authorization failure"))
        return pk_fail(err, "iSCSI authentication failed: target '%s' at '%s' refused %s", target, portal,
                       user ? "the CHAP credentials" : "a login without CHAP");
    if (strstr(why, "Target not found") || strstr(why, "Target removed"))
        return pk_fail(err, "iSCSI target '%s' does not exist at '%s'", target, portal);
    return pk_fail(err, "iSCSI login to target '%s' at '%s' failed: %s", target, portal, why);
}

static int session_get(pk_bctx *c, const pk_pool *def, isd_session **out, pk_err **err)
{
    const char *target = target_of(def);
    _cleanup_free_ char *portal = pk_iscsi_direct_portal(def);
    if (!portal) return pk_fail(err, "pool '%s' names no iSCSI portal (<source><host>)", def->name);
    if (!target || !*target) return pk_fail(err, "pool '%s' names no iSCSI target (<source><device path>)", def->name);
    if (!def->source.initiator_iqn)
        return pk_fail(err, "pool '%s' needs an initiator IQN (<initiator><iqn name>)", def->name);
    _cleanup_free_ char *key = cache_key(def, portal);
    isd_session *s = pk_conn_find(c, CONN_KIND, key);
    if (s) {
        *out = s;
        return 0;
    }
    struct iscsi_context *iscsi = iscsi_create_context(def->source.initiator_iqn);
    if (!iscsi) return pk_fail(err, "cannot create an iSCSI context for initiator '%s'", def->source.initiator_iqn);
    s = PK_NEW(isd_session);
    s->iscsi = iscsi;
    s->portal = TAKE_PTR(portal);
    s->target = pk_strdup(target);
    int r = -1;
    if (iscsi_set_targetname(iscsi, target) != 0 || iscsi_set_session_type(iscsi, ISCSI_SESSION_NORMAL) != 0 ||
        iscsi_set_header_digest(iscsi, ISCSI_HEADER_DIGEST_NONE_CRC32C) != 0) {
        pk_fail(err, "cannot set up an iSCSI session to '%s': %s", target, iscsi_get_error(iscsi));
        goto fail;
    }
    iscsi_set_timeout(iscsi, TIMEOUT_S);
    if (set_chap(c, def, iscsi, err) < 0) goto fail;
    if (iscsi_connect_sync(iscsi, s->portal) != 0) {
        pk_fail(err, "iSCSI portal unreachable at '%s'", s->portal);
        goto fail;
    }
    if (iscsi_login_sync(iscsi) != 0) {
        const pk_auth *a = &def->source.auth;
        login_error(s->portal, target, a->type == PK_AUTH_CHAP ? a->username : NULL, iscsi_get_error(iscsi), err);
        iscsi_disconnect(iscsi);
        goto fail;
    }
    pk_conn_add(c, CONN_KIND, key, s, session_free);
    *out = s;
    r = 0;
    return r;
fail:
    iscsi_destroy_context(iscsi);
    s->iscsi = NULL;
    session_free(s);
    return r;
}

static void session_forget(pk_bctx *c, const pk_pool *def)
{
    _cleanup_free_ char *portal = pk_iscsi_direct_portal(def);
    if (!portal) return;
    _cleanup_free_ char *key = cache_key(def, portal);
    pk_conn_drop(c, CONN_KIND, key);
}

/* ---- reading the LUNs ---- */

/* TEST UNIT READY until GOOD: the first command after a login gets a unit
 * attention, and a unit becoming ready reports NOT READY for a moment. */
static bool unit_ready(struct iscsi_context *iscsi, int lun)
{
    for (int i = 0; i < TUR_TRIES; i++) {
        struct scsi_task *t = iscsi_testunitready_sync(iscsi, lun);
        if (!t) return false;
        bool good = t->status == SCSI_STATUS_GOOD;
        bool not_ready = t->status == SCSI_STATUS_CHECK_CONDITION &&
                         t->sense.key == SCSI_SENSE_NOT_READY;
        scsi_free_scsi_task(t);
        if (good) return true;
        if (not_ready) usleep(100 * 1000);
    }
    return false;
}

static char *hex(const char *data, int len)
{
    char *s = pk_malloc((size_t)len * 2 + 1);
    for (int i = 0; i < len; i++) snprintf(s + 2 * i, 3, "%02x", (unsigned char)data[i]);
    s[2 * len] = '\0';
    return s;
}

/* "naa.<hex>" from VPD 0x83, else "serial.<text>" from VPD 0x80, else NULL. */
static char *lun_identity(struct iscsi_context *iscsi, int lun)
{
    char *id = NULL;
    struct scsi_task *t = iscsi_inquiry_sync(iscsi, lun, 1, SCSI_INQUIRY_PAGECODE_DEVICE_IDENTIFICATION, 255);
    if (t && t->status == SCSI_STATUS_GOOD) {
        struct scsi_inquiry_device_identification *di = scsi_datain_unmarshall(t);
        for (struct scsi_inquiry_device_designator *d = di ? di->designators : NULL; d && !id; d = d->next)
            if (d->designator_type == SCSI_DESIGNATOR_TYPE_NAA && d->association == SCSI_ASSOCIATION_LOGICAL_UNIT &&
                d->designator_length > 0) {
                _cleanup_free_ char *h = hex(d->designator, d->designator_length);
                id = pk_asprintf("naa.%s", h);
            }
    }
    if (t) scsi_free_scsi_task(t);
    if (id) return id;
    t = iscsi_inquiry_sync(iscsi, lun, 1, SCSI_INQUIRY_PAGECODE_UNIT_SERIAL_NUMBER, 255);
    if (t && t->status == SCSI_STATUS_GOOD) {
        struct scsi_inquiry_unit_serial_number *sn = scsi_datain_unmarshall(t);
        if (sn && sn->usn && *sn->usn) id = pk_asprintf("serial.%s", sn->usn);
    }
    if (t) scsi_free_scsi_task(t);
    return id;
}

static void read_lun(isd_session *s, int lun, pk_obs_vol *v)
{
    struct iscsi_context *iscsi = s->iscsi;
    v->name = pk_asprintf(VOL_NAME_PREFIX "%d", lun);
    v->key = pk_asprintf("ip-%s-iscsi-%s-lun-%d", s->portal, s->target, lun);
    v->path = pk_strdup(v->key);
    v->type = PK_VOL_NETWORK;
    v->format = -1;
    v->atime = v->mtime = v->ctime = v->btime = (pk_timestamp){ -1, 0 };
    if (!unit_ready(iscsi, lun)) {
        v->error = pk_asprintf("iSCSI LUN %d of '%s' is not ready: %s", lun, s->target, iscsi_get_error(iscsi));
        return;
    }
    struct scsi_task *t = iscsi_inquiry_sync(iscsi, lun, 0, 0, 64);
    struct scsi_inquiry_standard *inq = t && t->status == SCSI_STATUS_GOOD ? scsi_datain_unmarshall(t) : NULL;
    if (!inq) {
        v->error = pk_asprintf("cannot read the INQUIRY data of iSCSI LUN %d of '%s': %s", lun, s->target,
                               iscsi_get_error(iscsi));
        if (t) scsi_free_scsi_task(t);
        return;
    }
    bool disk = inq->device_type == SCSI_INQUIRY_PERIPHERAL_DEVICE_TYPE_DIRECT_ACCESS;
    scsi_free_scsi_task(t);
    v->identity = lun_identity(iscsi, lun);
    if (!disk) return;   /* as libvirt: listed, with no capacity */
    t = iscsi_readcapacity16_sync(iscsi, lun);
    struct scsi_readcapacity16 *rc = t && t->status == SCSI_STATUS_GOOD ? scsi_datain_unmarshall(t) : NULL;
    if (!rc)
        v->error = pk_asprintf("cannot read the capacity of iSCSI LUN %d of '%s': %s", lun, s->target,
                               iscsi_get_error(iscsi));
    else
        v->capacity = v->allocation = (rc->returned_lba + 1) * (uint64_t)rc->block_length;
    if (t) scsi_free_scsi_task(t);
}

static int cmp_obs_vol(const void *a, const void *b)
{
    return strcmp(((const pk_obs_vol *)a)->name, ((const pk_obs_vol *)b)->name);
}

static int scan_luns(pk_bctx *c, const pk_pool *def, isd_session *s, pk_err **err)
{
    luns_clear(s);
    struct scsi_task *t = iscsi_reportluns_sync(s->iscsi, 0, 16);
    if (t && t->status == SCSI_STATUS_GOOD) {
        int full = scsi_datain_getfullsize(t);
        if (full > t->datain.size) {
            scsi_free_scsi_task(t);
            t = iscsi_reportluns_sync(s->iscsi, 0, full);
        }
    }
    struct scsi_reportluns_list *list = t && t->status == SCSI_STATUS_GOOD ? scsi_datain_unmarshall(t) : NULL;
    if (!list) {
        pk_fail(err, "cannot list the LUNs of iSCSI target '%s' at '%s': %s", s->target, s->portal,
                iscsi_get_error(s->iscsi));
        if (t) scsi_free_scsi_task(t);
        session_forget(c, def);   /* the session may be gone */
        return -1;
    }
    s->luns = pk_calloc(list->num + 1, sizeof(pk_obs_vol));
    for (uint32_t i = 0; i < list->num; i++) {
        pk_obs_vol_clear(&s->luns[i]);
        read_lun(s, list->luns[i], &s->luns[i]);
    }
    s->n_luns = list->num;
    scsi_free_scsi_task(t);
    if (s->n_luns) qsort(s->luns, s->n_luns, sizeof(*s->luns), cmp_obs_vol);
    s->have_luns = true;
    return 0;
}

static int isd_observe_pool(pk_bctx *c, const pk_pool *def, pk_obs_pool *out, pk_err **err)
{
    isd_session *s;
    if (session_get(c, def, &s, err) < 0) return -1;
    if (scan_luns(c, def, s, err) < 0) return -1;
    out->state = PK_POOL_RUNNING;
    out->capacity = out->allocation = out->available = 0;
    for (size_t i = 0; i < s->n_luns; i++) {
        out->capacity += s->luns[i].capacity;
        out->allocation += s->luns[i].allocation;
    }
    free(out->identity);
    out->identity = pk_asprintf("%s/%s", s->portal, s->target);
    return 0;
}

static int isd_observe_vols(pk_bctx *c, const pk_pool *def, pk_obs_pool *out, pk_err **err)
{
    isd_session *s;
    if (session_get(c, def, &s, err) < 0) return -1;
    if (!s->have_luns && scan_luns(c, def, s, err) < 0) return -1;
    for (size_t i = 0; i < out->n_vols; i++) pk_obs_vol_clear(&out->vols[i]);
    free(out->vols);
    out->vols = TAKE_PTR(s->luns);
    out->n_vols = s->n_luns;
    out->vols_observed = true;
    s->n_luns = 0;
    s->have_luns = false;   /* taken: the next observation reads them again */
    return 0;
}

static void isd_close(pk_bctx *c)
{
    pk_conn_drop_kind(c, CONN_KIND);
}

const pk_backend pk_backend_iscsi_direct = {
    .type = PK_POOL_ISCSI_DIRECT,
    .caps = 0,
    .observe_pool = isd_observe_pool,
    .observe_vols = isd_observe_vols,
    .close = isd_close,
};
