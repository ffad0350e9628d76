/* <volume> documents: libvirt's virStorageVolDefParseXML rules (storage_conf.c,
 * storage_encryption_conf.c, virsecret.c), with every problem reported at its
 * line instead of only the first one.
 *
 * Values are read the way libvirt's XPath string() reads them: the raw text,
 * untrimmed, and an empty value counts as absent. So "<capacity>\n5\n</capacity>"
 * is malformed here exactly as it is for libvirt. Read-only elements libvirt
 * ignores on input (<source> extents, <physical>, <timestamps>) are ignored. */
#include "units.h"
#include "xml.h"
#include <errno.h>
#include <limits.h>

typedef struct {
    const pk_pool *pool;
    const char *file;
    pk_err **errs;
    size_t n_errs;
} vol_ctx;

static int line_of(xmlNode *n)
{
    long l = n ? xmlGetLineNo(n) : 0;
    return l > 0 && l <= INT_MAX ? (int)l : 0;
}

static void PK_PRINTF(3, 4) verr(vol_ctx *c, xmlNode *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pk_err_append(c->errs, pk_err_newv(c->file, line_of(at), 0, fmt, ap));
    va_end(ap);
    c->n_errs++;
}

/* XPath string(./elem): all text below the element, NULL when empty. */
static char *xstring(xmlNode *n)
{
    if (!n) return NULL;
    xmlChar *v = xmlNodeGetContent(n);
    char *s = v && *v ? pk_strdup((const char *)v) : NULL;
    xmlFree(v);
    return s;
}

/* XPath string(./@attr): NULL when absent or empty. */
static char *xattr(xmlNode *n, const char *name)
{
    char *s = pk_xml_prop(n, name);
    if (s && !*s) {
        free(s);
        return NULL;
    }
    return s;
}

/* Volume format of the pool type when none is written: raw for image pools,
 * "none" for disk pools, and -1 for pool types whose volumes have no format. */
static int default_format(pk_pool_type t)
{
    if (pk_vol_format_from_string(t, "raw") == PK_IMG_RAW) return PK_IMG_RAW;
    if (pk_vol_format_from_string(t, "none") == PK_PART_NONE) return PK_PART_NONE;
    return -1;
}

/* <format type=...> of <target> or <backingStore>. libvirt silently ignores a
 * format in pools whose volumes have none (logical, iscsi, ...); here that is an
 * error, because the volume would not be what the file says. */
static int parse_format(vol_ctx *c, xmlNode *fmt_node)
{
    pk_pool_type pt = c->pool->type;
    int def = default_format(pt);
    _cleanup_free_ char *type = xattr(fmt_node, "type");
    if (!type) return def;
    if (def < 0) {
        verr(c, fmt_node, "<format type='%s'>: volumes of '%s' pools have no format", type,
             pk_pool_type_to_string(pt));
        return -1;
    }
    int f = pk_vol_format_from_string(pt, type);
    if (f < 0) {
        verr(c, fmt_node, "<format type='%s'>: unknown volume format type '%s' for a '%s' pool", type, type,
             pk_pool_type_to_string(pt));
        return def;
    }
    return f;
}

/* virStrToLong_i in base 8, then only permission bits. */
static int parse_mode(const char *s, int64_t *out)
{
    errno = 0;
    char *end = NULL;
    long v = strtol(s, &end, 8);
    if (errno || end == s || *end || v < INT_MIN || v > INT_MAX || ((int)v & ~0777)) return -1;
    *out = v;
    return 0;
}

/* virXPathLongLong, then "fits a uid_t, or is -1". (uid_t)-1 written as
 * 4294967295 means "not set", as in libvirt (vol-gluster-dir-neg-uid). */
static int parse_id(const char *s, int64_t *out)
{
    if (!s) return -1;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) return -1;
    if (v != -1 && (v < 0 || v > (long long)UINT32_MAX)) return -1;
    *out = v == (long long)UINT32_MAX ? -1 : v;
    return 0;
}

/* virStorageDefParsePerms. */
static void parse_perms(vol_ctx *c, xmlNode *pn, pk_perms *perms)
{
    perms->mode = perms->uid = perms->gid = -1;
    perms->label = NULL;
    if (!pn) return;

    xmlNode *mn = pk_xml_child(pn, "mode");
    _cleanup_free_ char *mode = xstring(mn);
    if (mode && parse_mode(mode, &perms->mode) < 0)
        verr(c, mn, "<mode>: malformed octal mode '%s'", mode);

    xmlNode *on = pk_xml_child(pn, "owner");
    if (on) {
        _cleanup_free_ char *owner = xstring(on);
        if (parse_id(owner, &perms->uid) < 0)
            verr(c, on, "<owner>: malformed owner '%s': expected a user id", owner ? owner : "");
    }
    xmlNode *gn = pk_xml_child(pn, "group");
    if (gn) {
        _cleanup_free_ char *group = xstring(gn);
        if (parse_id(group, &perms->gid) < 0)
            verr(c, gn, "<group>: malformed group '%s': expected a group id", group ? group : "");
    }
    perms->label = xstring(pk_xml_child(pn, "label"));
}

/* virStrToLong_uip: an unsigned int, no sign games, nothing after it. */
static int parse_uint(const char *s, unsigned *out)
{
    errno = 0;
    char *end = NULL;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || memchr(s, '-', (size_t)(end - s)) || v > UINT_MAX) return -1;
    *out = (unsigned)v;
    return 0;
}

/* virSecretLookupParseSecret plus the passphrase type check. */
static void parse_secret(vol_ctx *c, xmlNode *sn, pk_encryption *enc)
{
    _cleanup_free_ char *type = xattr(sn, "type");
    _cleanup_free_ char *uuid = pk_xml_prop(sn, "uuid");
    _cleanup_free_ char *usage = pk_xml_prop(sn, "usage");
    bool ok = true;
    if (!type) {
        verr(c, sn, "<secret>: missing volume encryption secret type");
        ok = false;
    } else if (strcmp(type, "passphrase") != 0) {
        verr(c, sn, "<secret type='%s'>: unknown volume encryption secret type '%s'", type, type);
        ok = false;
    }
    unsigned char raw[16];
    if (!uuid && !usage) {
        verr(c, sn, "<secret>: missing secret uuid or usage attribute");
        ok = false;
    } else if (uuid && usage) {
        verr(c, sn, "<secret>: either secret uuid or usage expected, not both");
        ok = false;
    } else if (uuid && pk_uuid_parse(uuid, raw) < 0) {
        verr(c, sn, "<secret>: invalid secret uuid '%s'", uuid);
        ok = false;
    }
    if (!ok) return;
    pk_secret_ref *ref = PK_APPEND(enc->secrets, enc->n_secrets);
    if (uuid) {
        ref->uuid = pk_malloc(37);
        pk_uuid_format(raw, ref->uuid);
    } else {
        ref->usage = TAKE_PTR(usage);
    }
}

/* <cipher> and <ivgen>, which libvirt reads only for format='luks'. */
static void parse_luks_info(vol_ctx *c, xmlNode *en, pk_encryption *enc)
{
    xmlNode *cn = pk_xml_child(en, "cipher");
    if (cn) {
        _cleanup_free_ char *name = pk_xml_prop(cn, "name");
        _cleanup_free_ char *size = pk_xml_prop(cn, "size");
        bool ok = true;
        if (!name) {
            verr(c, cn, "<cipher>: missing 'name' attribute");
            ok = false;
        }
        if (!size) {
            verr(c, cn, "<cipher>: missing 'size' attribute");
            ok = false;
        } else if (parse_uint(size, &enc->cipher.size) < 0) {
            verr(c, cn, "<cipher size='%s'>: invalid size '%s': expected a non-negative integer", size, size);
            ok = false;
        }
        if (ok) {
            enc->has_cipher = true;
            enc->cipher.name = TAKE_PTR(name);
            enc->cipher.mode = pk_xml_prop(cn, "mode");
            enc->cipher.hash = pk_xml_prop(cn, "hash");
        }
    }
    xmlNode *ivn = pk_xml_child(en, "ivgen");
    if (!ivn) return;
    if (!cn) {
        verr(c, ivn, "<ivgen>: ivgen element found, but cipher is missing");
        return;
    }
    _cleanup_free_ char *ivname = pk_xml_prop(ivn, "name");
    if (!ivname) {
        verr(c, ivn, "<ivgen>: missing 'name' attribute");
        return;
    }
    if (!enc->has_cipher) return;   /* the broken <cipher> was reported */
    enc->has_ivgen = true;
    enc->ivgen_name = TAKE_PTR(ivname);
    enc->ivgen_hash = pk_xml_prop(ivn, "hash");
}

static void encryption_free(pk_encryption *enc)
{
    if (!enc) return;
    for (size_t i = 0; i < enc->n_secrets; i++) {
        free(enc->secrets[i].uuid);
        free(enc->secrets[i].usage);
    }
    free(enc->secrets);
    free(enc->cipher.name);
    free(enc->cipher.mode);
    free(enc->cipher.hash);
    free(enc->ivgen_name);
    free(enc->ivgen_hash);
    free(enc);
}

/* virStorageEncryptionParseNode. */
static pk_encryption *parse_encryption(vol_ctx *c, xmlNode *en)
{
    size_t errs_before = c->n_errs;
    pk_encryption *enc = PK_NEW(pk_encryption);
    _cleanup_free_ char *format = xattr(en, "format");
    int f = format ? pk_enc_format_from_string(format) : -1;
    if (!format)
        verr(c, en, "<encryption>: missing volume encryption format");
    else if (f < 0)
        verr(c, en, "<encryption format='%s'>: unknown volume encryption format type '%s'", format, format);
    else
        enc->format = (pk_enc_format)f;

    _cleanup_free_ char *engine = pk_xml_prop(en, "engine");
    if (engine) {
        if (strcmp(engine, "qemu") == 0)
            enc->engine = 1;
        else if (strcmp(engine, "librbd") == 0)
            enc->engine = 2;
        else
            verr(c, en, "<encryption engine='%s'>: invalid engine '%s': expected 'qemu' or 'librbd'", engine,
                 engine);
    }

    pk_xml_foreach_child(sn, en)
        if (!sn->ns && strcmp((const char *)sn->name, "secret") == 0) parse_secret(c, sn, enc);

    if (f == PK_ENC_LUKS) parse_luks_info(c, en, enc);

    if (c->n_errs != errs_before) {
        encryption_free(enc);
        return NULL;
    }
    return enc;
}

/* virStorageCheckCompat: "N.M" where both halves are what virStrToLong_ui
 * takes. Only the first '.' splits, so "1.1.1" fails on "1.1". */
static bool compat_part_ok(const char *s)
{
    errno = 0;
    char *end = NULL;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end) return false;
    /* virStrToLong_ui lets "-N" stand for UINT_MAX + 1 - N */
    if (memchr(s, '-', (size_t)(end - s))) return -v <= UINT_MAX;
    return v <= UINT_MAX;
}

static bool compat_ok(const char *compat)
{
    const char *dot = strchr(compat, '.');
    if (!dot) return false;
    _cleanup_free_ char *major = pk_strndup(compat, (size_t)(dot - compat));
    return compat_part_ok(major) && compat_part_ok(dot + 1);
}

/* "<capacity unit='GiB'>" for messages; the unit only when one was given. */
static void size_err(vol_ctx *c, xmlNode *n, const char *elem, const char *unit, const char *msg)
{
    if (unit)
        verr(c, n, "<%s unit='%s'>: %s", elem, unit, msg);
    else
        verr(c, n, "<%s>: %s", elem, msg);
}

/* virStorageSize (capacity, allocation: at most INT64_MAX, off_t is signed)
 * and virParseScaledValue (clusterSize: any 64 bit value). */
static bool parse_size(vol_ctx *c, xmlNode *n, const char *elem, uint64_t max, uint64_t *out)
{
    _cleanup_free_ char *value = xstring(n);
    if (!value) return false;
    _cleanup_free_ char *unit = xattr(n, "unit");
    _cleanup_free_ char *msg = NULL;
    if (pk_scale_integer_max(value, unit, max, out, &msg) < 0) {
        size_err(c, n, elem, unit, msg);
        *out = 0;
    }
    return true;
}

static void parse_features(vol_ctx *c, xmlNode *fn, pk_vol *v)
{
    v->target.has_features = true;
    /* libvirt: asking for qcow2 features means the 1.1 format */
    if (!v->target.compat) v->target.compat = pk_strdup("1.1");
    pk_xml_foreach_child(f, fn) {
        const char *name = (const char *)f->name;
        if (strcmp(name, "lazy_refcounts") == 0)
            v->target.lazy_refcounts = true;
        else if (strcmp(name, "extended_l2") == 0)
            v->target.extended_l2 = true;
        else
            verr(c, f, "<features>: unsupported feature '%s'", name);
    }
}

static void parse_target(vol_ctx *c, xmlNode *tn, pk_vol *v)
{
    v->target.path = xstring(pk_xml_child(tn, "path"));

    xmlNode *fmt = pk_xml_child(tn, "format");
    v->pos_format.line = line_of(fmt);
    v->target.format = parse_format(c, fmt);

    parse_perms(c, pk_xml_child(tn, "permissions"), &v->target.perms);

    xmlNode *en = pk_xml_child(tn, "encryption");
    if (en) v->target.encryption = parse_encryption(c, en);

    xmlNode *cn = pk_xml_child(tn, "compat");
    v->target.compat = xstring(cn);
    if (v->target.compat && !compat_ok(v->target.compat))
        verr(c, cn, "<compat>: invalid compat '%s': expected a version like '1.1' or '0.10'", v->target.compat);

    v->target.nocow = pk_xml_child(tn, "nocow") != NULL;

    v->target.has_cluster_size =
        parse_size(c, pk_xml_child(tn, "clusterSize"), "clusterSize", UINT64_MAX, &v->target.cluster_size);

    xmlNode *fn = pk_xml_child(tn, "features");
    if (fn) parse_features(c, fn, v);
}

static void parse_backing(vol_ctx *c, xmlNode *bn, pk_vol *v)
{
    /* libvirt takes a backing store only when it names a path */
    char *path = xstring(pk_xml_child(bn, "path"));
    if (!path) return;
    pk_backing_store *b = v->backing = PK_NEW(pk_backing_store);
    b->path = path;
    b->format = parse_format(c, pk_xml_child(bn, "format"));
    parse_perms(c, pk_xml_child(bn, "permissions"), &b->perms);
}

/* Beyond libvirt, which takes any type and lets the next pool refresh
 * overwrite it (design §2: a volume type the pool type cannot hold is an
 * error). The allowed types are the ones libvirt's backends give volumes of
 * each pool type. */
static bool type_fits_pool(pk_vol_type vt, pk_pool_type pt, const char **allowed)
{
    switch (pt) {
    case PK_POOL_DIR:
    case PK_POOL_FS:
    case PK_POOL_NETFS:
    case PK_POOL_VSTORAGE:
        *allowed = "'file', 'dir' or 'ploop'";
        return vt == PK_VOL_FILE || vt == PK_VOL_DIR || vt == PK_VOL_PLOOP;
    case PK_POOL_LOGICAL:
    case PK_POOL_DISK:
    case PK_POOL_ISCSI:
    case PK_POOL_SCSI:
    case PK_POOL_MPATH:
    case PK_POOL_ZFS:
        *allowed = "'block'";
        return vt == PK_VOL_BLOCK;
    case PK_POOL_GLUSTER:
        *allowed = "'network' or 'netdir'";
        return vt == PK_VOL_NETWORK || vt == PK_VOL_NETDIR;
    case PK_POOL_ISCSI_DIRECT:
    case PK_POOL_RBD:
    case PK_POOL_SHEEPDOG:
        *allowed = "'network'";
        return vt == PK_VOL_NETWORK;
    case PK_POOL_TYPE_LAST:
        break;
    }
    *allowed = "none";
    return false;
}

static void parse_type(vol_ctx *c, xmlNode *root, pk_vol *v)
{
    pk_pool_type pt = c->pool->type;
    _cleanup_free_ char *type = xattr(root, "type");
    if (!type) {
        v->type = pk_pool_default_vol_type(pt);
        return;
    }
    v->type_given = true;
    int t = pk_vol_type_from_string(type);
    if (t < 0) {
        verr(c, root, "unknown volume type '%s'", type);
        return;
    }
    v->type = (pk_vol_type)t;
    const char *allowed;
    if (!type_fits_pool(v->type, pt, &allowed))
        verr(c, root, "<volume type='%s'>: a '%s' pool cannot hold volumes of type '%s' (only %s)", type,
             pk_pool_type_to_string(pt), type, allowed);
}

static void parse_name(vol_ctx *c, xmlNode *root, pk_vol *v)
{
    xmlNode *nn = pk_xml_child(root, "name");
    v->pos_name.line = line_of(nn);
    v->name = xstring(nn);
    if (!nn)
        verr(c, root, "missing volume name element");
    else if (!v->name)
        verr(c, nn, "<name>: the volume name is empty");
    else if (!pk_name_valid(v->name))
        verr(c, nn, "<name>: invalid volume name '%s': it must be a single path component "
                    "of printable characters, at most 255 bytes, not '.' or '..'", v->name);
}

static pk_vol *parse_root(const pk_pool *pool, xmlNode *root, const char *file, unsigned flags, pk_err **errs)
{
    vol_ctx c = { pool, file, errs, 0 };
    if (strcmp((const char *)root->name, "volume") != 0) {
        verr(&c, root, "expecting root element of 'volume', found '%s'", (const char *)root->name);
        return NULL;
    }
    _cleanup_(pk_vol_freep) pk_vol *v = PK_NEW(pk_vol);
    v->file = pk_strdup(file);
    v->line = line_of(root);
    v->target.format = -1;
    v->target.perms.mode = v->target.perms.uid = v->target.perms.gid = -1;

    parse_name(&c, root, v);
    /* libvirt: "normally generated by pool refresh, but useful for unit tests" */
    v->key = xstring(pk_xml_child(root, "key"));

    parse_type(&c, root, v);

    xmlNode *bn = pk_xml_child(root, "backingStore");
    if (bn) parse_backing(&c, bn, v);

    xmlNode *cap = pk_xml_child(root, "capacity");
    v->pos_capacity.line = line_of(cap);
    v->has_capacity = parse_size(&c, cap, "capacity", INT64_MAX, &v->capacity);
    if (!v->has_capacity && !(flags & PK_VOL_PARSE_NO_CAPACITY) &&
        !((flags & PK_VOL_PARSE_OPT_CAPACITY) && v->backing)) {
        if (cap)
            verr(&c, cap, "<capacity>: missing value");
        else if (flags & PK_VOL_PARSE_OPT_CAPACITY)
            verr(&c, root, "missing capacity element (needed unless a <backingStore> gives the size)");
        else
            verr(&c, root, "missing capacity element");
    }

    xmlNode *alloc = pk_xml_child(root, "allocation");
    v->pos_allocation.line = line_of(alloc);
    v->has_allocation = parse_size(&c, alloc, "allocation", INT64_MAX, &v->allocation);
    if (!v->has_allocation) v->allocation = v->capacity;

    parse_target(&c, pk_xml_child(root, "target"), v);

    if (c.n_errs) return NULL;
    return TAKE_PTR(v);
}

pk_vol *pk_vol_parse(const pk_pool *pool, const char *data, size_t len, const char *file, unsigned flags,
                     pk_err **errs)
{
    if (!file) file = "(volume)";
    if (!pool) {
        pk_err_append(errs, pk_err_new(file, 0, 0, "a volume cannot be read without its pool"));
        return NULL;
    }
    xmlDoc *doc = pk_xml_read(data, len, file, errs);
    if (!doc) return NULL;
    pk_vol *v = parse_root(pool, xmlDocGetRootElement(doc), file, flags, errs);
    xmlFreeDoc(doc);
    return v;
}

pk_vol *pk_vol_parse_file(const pk_pool *pool, const char *path, unsigned flags, pk_err **errs)
{
    _cleanup_free_ char *data = NULL;
    size_t len = 0;
    pk_err *e = NULL;
    if (pk_xml_slurp(path, &data, &len, &e) < 0) {
        pk_err_append(errs, e);
        return NULL;
    }
    return pk_vol_parse(pool, data, len, path, flags, errs);
}

static void perms_clear(pk_perms *p)
{
    free(p->label);
    p->label = NULL;
}

void pk_vol_free(pk_vol *v)
{
    if (!v) return;
    free(v->name);
    free(v->key);
    for (size_t i = 0; i < v->n_extents; i++) free(v->extents[i].path);
    free(v->extents);
    free(v->target.path);
    perms_clear(&v->target.perms);
    encryption_free(v->target.encryption);
    free(v->target.compat);
    if (v->backing) {
        free(v->backing->path);
        perms_clear(&v->backing->perms);
        free(v->backing);
    }
    free(v->file);
    free(v);
}
