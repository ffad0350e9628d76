/* <source> of a <pool>: hosts, devices, directory, adapter, initiator,
 * name, format, auth, protocol version, vendor and product. Follows
 * libvirt's virStoragePoolDefParseSource, virStorageAdapterParseXML and
 * virStorageAuthDefParse; problems are recorded and parsing goes on, so one
 * pass reports all of them. */
#include "pool_parse.h"
#include <ctype.h>
#include <limits.h>

/* Strict unsigned parse of an attribute (base 0: decimal, 0x hex, 0 octal),
 * as libvirt's virStrToLong_uip. */
static int parse_uint(const char *s, unsigned *out)
{
    uint64_t v;
    if (pk_parse_u64(s, 0, &v) < 0 || v > UINT_MAX) return -1;
    *out = (unsigned)v;
    return 0;
}

static void parse_host(pk_pool_pctx *c, xmlNode *n, pk_pool_source *src)
{
    _cleanup_free_ char *name = pk_xml_prop(n, "name");
    _cleanup_free_ char *port = pk_xml_prop(n, "port");
    int portnum = 0;

    if (!name)
        pk_pool_perr(c, n, "<host>: missing attribute 'name'");
    else if (!*name)
        pk_pool_perr(c, n, "<host>: attribute 'name' is empty");
    /* The schema allows -1 for "no port", which is what 0 means here. */
    if (port && (pk_parse_int(port, 10, &portnum) < 0 || portnum < -1 || portnum > 65535)) {
        pk_pool_perr(c, n, "<host>: invalid port '%s', expected a number from 0 to 65535", port);
        portnum = 0;
    }
    if (portnum < 0) portnum = 0;
    if (!name || !*name) return;
    pk_pool_host *h = PK_APPEND(src->hosts, src->n_hosts);
    h->name = TAKE_PTR(name);
    h->port = portnum;
}

static void parse_device(pk_pool_pctx *c, xmlNode *n, pk_pool_source *src)
{
    _cleanup_free_ char *path = pk_xml_prop(n, "path");
    pk_tristate sep = PK_TRI_ABSENT;

    if (!path)
        pk_pool_perr(c, n, "<device>: missing attribute 'path'");
    else if (!*path)
        pk_pool_perr(c, n, "<device>: attribute 'path' is empty");
    if (pk_pool_parse_yesno(c, n, "part_separator", &sep) < 0 || !path || !*path) return;
    /* <freeExtent> children are live data: libvirt's parser ignores them. */
    pk_pool_device *d = PK_APPEND(src->devices, src->n_devices);
    d->path = TAKE_PTR(path);
    d->part_separator = sep;
}

/* Attribute value that must be a PCI address part no bigger than `max`. */
static void parse_pci_part(pk_pool_pctx *c, xmlNode *n, const char *attr, unsigned max,
                           unsigned *out)
{
    _cleanup_free_ char *v = pk_xml_prop(n, attr);
    *out = 0;
    if (!v) return;
    if (parse_uint(v, out) < 0)
        pk_pool_perr(c, n, "<address>: invalid PCI address attribute %s='%s'", attr, v);
    else if (*out > max)
        pk_pool_perr(c, n, "<address>: PCI address %s='%s' is out of range (at most 0x%x)",
                     attr, v, max);
}

static void parse_parentaddr(pk_pool_pctx *c, xmlNode *pa, pk_adapter *a)
{
    xmlNode *addr = pk_xml_child(pa, "address");
    _cleanup_free_ char *uid = pk_xml_prop(pa, "unique_id");
    int uidnum;

    a->has_parentaddr = true;
    if (!addr) {
        pk_pool_perr(c, pa, "<parentaddr>: missing <address> element");
    } else {
        parse_pci_part(c, addr, "domain", 0xFFFF, &a->domain);
        parse_pci_part(c, addr, "bus", 0xFF, &a->bus);
        parse_pci_part(c, addr, "slot", 0x1F, &a->slot);
        parse_pci_part(c, addr, "function", 0x7, &a->function);
    }
    if (!uid)
        pk_pool_perr(c, pa, "<parentaddr>: missing attribute 'unique_id'");
    else if (pk_parse_int(uid, 10, &uidnum) < 0 || uidnum < 0)
        pk_pool_perr(c, pa, "<parentaddr>: invalid unique_id '%s', expected a non-negative integer", uid);
    else
        a->unique_id = (unsigned)uidnum;
}

static void parse_adapter(pk_pool_pctx *c, xmlNode *n, pk_adapter *a)
{
    _cleanup_free_ char *type = pk_xml_prop(n, "type");
    xmlNode *pa = pk_xml_child(n, "parentaddr");

    if (!type) {
        /* Before 'type' existed an adapter was just a scsi_host name; the
         * newer attributes only make sense with a type. */
        if (xmlHasProp(n, (const xmlChar *)"wwnn") ||
            xmlHasProp(n, (const xmlChar *)"wwpn") || xmlHasProp(n, (const xmlChar *)"parent"))
            pk_pool_perr(c, n, "<adapter>: attributes 'wwnn', 'wwpn' and 'parent' need the adapter 'type' attribute");
        if (pa)
            pk_pool_perr(c, n, "<adapter>: element <parentaddr> needs the adapter 'type' attribute");
        a->name = pk_xml_prop(n, "name");
        if (a->name) {
            a->type = PK_ADAPTER_SCSI_HOST;
            a->legacy = true;
        }
        return;
    }
    int t = pk_adapter_type_from_string(type);
    if (t <= PK_ADAPTER_NONE) {
        pk_pool_perr(c, n, "<adapter>: unknown adapter type '%s', expected 'scsi_host' or 'fc_host'", type);
        return;
    }
    a->type = (pk_adapter_type)t;
    if (a->type == PK_ADAPTER_FC_HOST) {
        pk_pool_parse_yesno(c, n, "managed", &a->managed);
        a->parent = pk_xml_prop(n, "parent");
        a->parent_wwnn = pk_xml_prop(n, "parent_wwnn");
        a->parent_wwpn = pk_xml_prop(n, "parent_wwpn");
        a->parent_fabric_wwn = pk_xml_prop(n, "parent_fabric_wwn");
        a->wwnn = pk_xml_prop(n, "wwnn");
        a->wwpn = pk_xml_prop(n, "wwpn");
    } else {
        a->name = pk_xml_prop(n, "name");
        if (pa) parse_parentaddr(c, pa, a);
    }
}

/* A WWN is 16 hex digits, optionally prefixed by "0x" (virValidateWWN). */
static bool wwn_valid(const char *w)
{
    if (pk_str_has_prefix(w, "0x")) w += 2;
    size_t i = 0;
    while (w[i] && isxdigit((unsigned char)w[i])) i++;
    return i == 16 && !w[i];
}

static void check_wwn(pk_pool_pctx *c, xmlNode *at, const char *attr, const char *value)
{
    if (value && !wwn_valid(value))
        pk_pool_perr(c, at, "<adapter>: malformed %s '%s', expected 16 hexadecimal digits", attr, value);
}

void pk_pool_check_adapter(pk_pool_pctx *c, xmlNode *at, const pk_adapter *a)
{
    switch (a->type) {
    case PK_ADAPTER_NONE:
    case PK_ADAPTER_LAST:
        /* A 'type' that was given but not understood is reported already. */
        if (xmlHasProp(at, (const xmlChar *)"type")) return;
        pk_pool_perr(c, at, "<adapter>: missing attribute 'type' (or the legacy 'name')");
        return;
    case PK_ADAPTER_FC_HOST:
        if (!a->wwnn || !a->wwpn)
            pk_pool_perr(c, at, "<adapter>: an 'fc_host' adapter needs both 'wwnn' and 'wwpn'");
        check_wwn(c, at, "wwnn", a->wwnn);
        check_wwn(c, at, "wwpn", a->wwpn);
        if (a->parent_wwnn && !a->parent_wwpn)
            pk_pool_perr(c, at, "<adapter>: parent_wwnn '%s' is given without parent_wwpn", a->parent_wwnn);
        if (!a->parent_wwnn && a->parent_wwpn)
            pk_pool_perr(c, at, "<adapter>: parent_wwpn '%s' is given without parent_wwnn", a->parent_wwpn);
        check_wwn(c, at, "parent_wwnn", a->parent_wwnn);
        check_wwn(c, at, "parent_wwpn", a->parent_wwpn);
        check_wwn(c, at, "parent_fabric_wwn", a->parent_fabric_wwn);
        return;
    case PK_ADAPTER_SCSI_HOST:
        if (!a->name && !a->has_parentaddr)
            pk_pool_perr(c, at, "<adapter>: a 'scsi_host' adapter needs either the 'name' attribute or a <parentaddr>");
        if (a->name && a->has_parentaddr)
            pk_pool_perr(c, at, "<adapter>: a 'scsi_host' adapter cannot have both the 'name' attribute and a <parentaddr>");
        return;
    }
}

static void parse_auth(pk_pool_pctx *c, xmlNode *n, pk_auth *auth)
{
    _cleanup_free_ char *username = pk_pool_attr(n, "username");
    _cleanup_free_ char *type = pk_pool_attr(n, "type");
    xmlNode *sec = pk_xml_child(n, "secret");
    int t = PK_AUTH_NONE;

    if (!username)
        pk_pool_perr(c, n, "<auth>: missing attribute 'username'");
    /* 'none' is a valid enum value but not a usable pool authentication. */
    if (!type)
        pk_pool_perr(c, n, "<auth>: missing attribute 'type', expected 'chap' or 'ceph'");
    else if ((t = pk_auth_type_from_string(type)) <= PK_AUTH_NONE)
        pk_pool_perr(c, n, "<auth>: invalid auth type '%s', expected 'chap' or 'ceph'", type);

    pk_secret_ref ref = { NULL, NULL };
    _cleanup_free_ char *uuid = NULL;
    bool sec_ok = false;
    if (!sec) {
        pk_pool_perr(c, n, "<auth>: missing <secret> element");
    } else {
        uuid = pk_xml_prop(sec, "uuid");
        ref.usage = pk_xml_prop(sec, "usage");
        unsigned char raw[16];
        if (!uuid && !ref.usage) {
            pk_pool_perr(c, sec, "<secret>: missing attribute 'uuid' or 'usage'");
        } else if (uuid && ref.usage) {
            pk_pool_perr(c, sec, "<secret>: attributes 'uuid' and 'usage' are mutually exclusive");
        } else if (uuid && pk_uuid_parse(uuid, raw) < 0) {
            pk_pool_perr(c, sec, "<secret>: malformed uuid '%s'", uuid);
        } else if (ref.usage && !*ref.usage) {
            pk_pool_perr(c, sec, "<secret>: attribute 'usage' is empty");
        } else {
            if (uuid) {
                ref.uuid = pk_malloc(37);
                pk_uuid_format(raw, ref.uuid);
            }
            sec_ok = true;
        }
    }
    if (!username || t <= PK_AUTH_NONE || !sec_ok) {
        free(ref.usage);
        free(ref.uuid);
        return;
    }
    auth->type = (pk_auth_type)t;
    auth->username = TAKE_PTR(username);
    auth->secret_type = pk_xml_prop(sec, "type");
    auth->secret = ref;
}

static void parse_protocol(pk_pool_pctx *c, xmlNode *n, pk_pool *p)
{
    _cleanup_free_ char *ver = pk_pool_attr(n, "ver");
    if (!ver) return;
    if (p->type != PK_POOL_NETFS) {
        pk_pool_perr(c, n, "<protocol>: a protocol version is only supported by 'netfs' pools, not by '%s'",
                     pk_pool_type_to_string(p->type));
        return;
    }
    if (p->source.format < 0) return;  /* bad <format>, already reported */
    if (p->source.format != PK_NETFS_NFS && p->source.format != PK_NETFS_AUTO) {
        pk_pool_perr(c, n, "<protocol>: a protocol version is only supported with format 'nfs' or 'auto', not '%s'",
                     pk_netfs_format_to_string(p->source.format));
        return;
    }
    /* It becomes part of a mount -o list. */
    if (strchr(ver, ',')) {
        pk_pool_perr(c, n, "<protocol>: protocol version '%s' must not contain ','", ver);
        return;
    }
    p->source.protocol_ver = TAKE_PTR(ver);
}

static void parse_format(pk_pool_pctx *c, xmlNode *src, pk_pool *p)
{
    const pk_pool_type_info *info = pk_pool_type_info_get(p->type);
    xmlNode *fmt = pk_xml_child(src, "format");
    _cleanup_free_ char *type = pk_pool_attr(fmt, "type");

    p->source.format = info->has_format ? info->default_format : -1;
    if (!info->has_format || !type) return;
    p->source.format = info->format_from_string(type);
    if (p->source.format < 0)
        pk_pool_perr(c, fmt, "<format>: unknown format type '%s' for pool type '%s'", type,
                     pk_pool_type_to_string(p->type));
}

void pk_pool_parse_source(pk_pool_pctx *c, xmlNode *src, pk_pool *p)
{
    pk_pool_source *s = &p->source;
    xmlNode *n;

    s->name = pk_pool_child_string(src, "name");
    if (p->type == PK_POOL_RBD && !s->name)
        pk_pool_perr(c, src, "<source>: missing <name> (required for pool type 'rbd')");

    parse_format(c, src, p);

    pk_xml_foreach_child(h, src)
        if (pk_xml_is(h, "host") && !h->ns) parse_host(c, h, s);

    if ((n = pk_xml_child(pk_xml_child(src, "initiator"), "iqn")))
        s->initiator_iqn = pk_pool_attr(n, "name");

    pk_xml_foreach_child(d, src)
        if (pk_xml_is(d, "device") && !d->ns) parse_device(c, d, s);

    _cleanup_free_ char *dir = pk_pool_attr(pk_xml_child(src, "dir"), "path");
    if (dir)
        s->dir = pk_pool_sanitize_path(dir);
    else if (p->type == PK_POOL_GLUSTER)
        s->dir = pk_strdup("/");   /* gluster: the volume's root */

    if ((n = pk_xml_child(src, "adapter")))
        parse_adapter(c, n, &s->adapter);

    if ((n = pk_xml_child(src, "auth")))
        parse_auth(c, n, &s->auth);

    if ((n = pk_xml_child(src, "protocol")))
        parse_protocol(c, n, p);

    s->vendor = pk_pool_attr(pk_xml_child(src, "vendor"), "name");
    s->product = pk_pool_attr(pk_xml_child(src, "product"), "name");
}
