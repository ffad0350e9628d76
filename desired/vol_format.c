/* Canonical <volume> XML, byte for byte what libvirt's virStorageVolDefFormat
 * writes (storage_conf.c, storage_encryption_conf.c, virsecret.c): two-space
 * indentation, single-quoted attributes, sizes in bytes, fixed element order.
 * Text and attribute values are escaped alike (' and " too), as libvirt's
 * virBufferEscapeString does. */
#include "model.h"

/* virBufferEscapeString: nothing at all when the value is NULL. */
static void add_elem(pk_buf *b, int indent, const char *name, const char *value)
{
    if (!value) return;
    pk_buf_indent(b, indent);
    pk_buf_addf(b, "<%s>", name);
    pk_buf_add_xml_attr(b, value);
    pk_buf_addf(b, "</%s>\n", name);
}

static void add_attr(pk_buf *b, const char *name, const char *value)
{
    if (!value) return;
    pk_buf_addf(b, " %s='", name);
    pk_buf_add_xml_attr(b, value);
    pk_buf_addc(b, '\'');
}

/* Owner and group are printed as the ids they are; libvirt casts them to int
 * and so writes ids above 2^31 as negative numbers it cannot read back. */
static void format_perms(pk_buf *b, int indent, const pk_perms *p)
{
    if (p->mode == -1 && p->uid == -1 && p->gid == -1 && !p->label) return;
    pk_buf_indent(b, indent);
    pk_buf_add(b, "<permissions>\n");
    if (p->mode != -1) {
        pk_buf_indent(b, indent + 2);
        pk_buf_addf(b, "<mode>0%llo</mode>\n", (unsigned long long)p->mode);
    }
    if (p->uid != -1) {
        pk_buf_indent(b, indent + 2);
        pk_buf_addf(b, "<owner>%lld</owner>\n", (long long)p->uid);
    }
    if (p->gid != -1) {
        pk_buf_indent(b, indent + 2);
        pk_buf_addf(b, "<group>%lld</group>\n", (long long)p->gid);
    }
    add_elem(b, indent + 2, "label", p->label);
    pk_buf_indent(b, indent);
    pk_buf_add(b, "</permissions>\n");
}

static void format_format(pk_buf *b, int indent, const pk_pool *pool, int fmt)
{
    const char *s = fmt >= 0 ? pk_vol_format_to_string(pool->type, fmt) : NULL;
    if (!s) return;
    pk_buf_indent(b, indent);
    pk_buf_addf(b, "<format type='%s'/>\n", s);
}

/* virStorageVolTimestampFormat: seconds, then nanoseconds only when non-zero. */
static void format_timestamps(pk_buf *b, int indent, const pk_vol *v)
{
    const pk_vol_times *t = v->target.times;
    if (!t) return;
    const struct { const char *name; const pk_timestamp *ts; } all[] = {
        { "atime", &t->atime }, { "mtime", &t->mtime },
        { "ctime", &t->ctime }, { "btime", &t->btime },
    };
    bool any = false;
    for (size_t i = 0; i < PK_NELEM(all); i++) any |= all[i].ts->sec >= 0;
    if (!any) return;
    pk_buf_indent(b, indent);
    pk_buf_add(b, "<timestamps>\n");
    for (size_t i = 0; i < PK_NELEM(all); i++) {
        const pk_timestamp *ts = all[i].ts;
        if (ts->sec < 0) continue;
        pk_buf_indent(b, indent + 2);
        pk_buf_addf(b, "<%s>%lld", all[i].name, (long long)ts->sec);
        if (ts->nsec > 0) pk_buf_addf(b, ".%09lld", (long long)ts->nsec);
        pk_buf_addf(b, "</%s>\n", all[i].name);
    }
    pk_buf_indent(b, indent);
    pk_buf_add(b, "</timestamps>\n");
}

static void format_encryption(pk_buf *b, int indent, const pk_encryption *enc)
{
    static const char *const engines[] = { NULL, "qemu", "librbd" };
    pk_buf_indent(b, indent);
    pk_buf_addf(b, "<encryption format='%s'", pk_enc_format_to_string(enc->format));
    if (enc->engine > 0 && enc->engine < (int)PK_NELEM(engines))
        pk_buf_addf(b, " engine='%s'", engines[enc->engine]);
    pk_buf_add(b, ">\n");
    for (size_t i = 0; i < enc->n_secrets; i++) {
        const pk_secret_ref *s = &enc->secrets[i];
        pk_buf_indent(b, indent + 2);
        pk_buf_add(b, "<secret type='passphrase'");
        if (s->uuid)
            add_attr(b, "uuid", s->uuid);
        else
            add_attr(b, "usage", s->usage);
        pk_buf_add(b, "/>\n");
    }
    /* libvirt keeps cipher details for LUKS only */
    if (enc->format == PK_ENC_LUKS && enc->has_cipher && enc->cipher.name) {
        pk_buf_indent(b, indent + 2);
        pk_buf_add(b, "<cipher");
        add_attr(b, "name", enc->cipher.name);
        pk_buf_addf(b, " size='%u'", enc->cipher.size);
        add_attr(b, "mode", enc->cipher.mode);
        add_attr(b, "hash", enc->cipher.hash);
        pk_buf_add(b, "/>\n");
        if (enc->has_ivgen && enc->ivgen_name) {
            pk_buf_indent(b, indent + 2);
            pk_buf_add(b, "<ivgen");
            add_attr(b, "name", enc->ivgen_name);
            add_attr(b, "hash", enc->ivgen_hash);
            pk_buf_add(b, "/>\n");
        }
    }
    pk_buf_indent(b, indent);
    pk_buf_add(b, "</encryption>\n");
}

static void format_features(pk_buf *b, int indent, const pk_vol *v)
{
    if (!v->target.has_features && !v->target.lazy_refcounts && !v->target.extended_l2) return;
    pk_buf_indent(b, indent);
    if (!v->target.lazy_refcounts && !v->target.extended_l2) {
        pk_buf_add(b, "<features/>\n");
        return;
    }
    pk_buf_add(b, "<features>\n");
    if (v->target.lazy_refcounts) {
        pk_buf_indent(b, indent + 2);
        pk_buf_add(b, "<lazy_refcounts/>\n");
    }
    if (v->target.extended_l2) {
        pk_buf_indent(b, indent + 2);
        pk_buf_add(b, "<extended_l2/>\n");
    }
    pk_buf_indent(b, indent);
    pk_buf_add(b, "</features>\n");
}

/* virStorageVolTargetDefFormat for <target>. */
static void format_target(pk_buf *b, const pk_pool *pool, const pk_vol *v)
{
    pk_buf_add(b, "  <target>\n");
    add_elem(b, 4, "path", v->target.path);
    format_format(b, 4, pool, v->target.format);
    format_perms(b, 4, &v->target.perms);
    format_timestamps(b, 4, v);
    if (v->target.encryption) format_encryption(b, 4, v->target.encryption);
    add_elem(b, 4, "compat", v->target.compat);
    if (v->target.cluster_size > 0)
        pk_buf_addf(b, "    <clusterSize unit='B'>%llu</clusterSize>\n", (unsigned long long)v->target.cluster_size);
    format_features(b, 4, v);
    pk_buf_add(b, "  </target>\n");
}

/* The same function for <backingStore>, which carries only these. */
static void format_backing(pk_buf *b, const pk_pool *pool, const pk_backing_store *bs)
{
    pk_buf_add(b, "  <backingStore>\n");
    add_elem(b, 4, "path", bs->path);
    format_format(b, 4, pool, bs->format);
    format_perms(b, 4, &bs->perms);
    pk_buf_add(b, "  </backingStore>\n");
}

/* virStorageVolDefFormatSourceExtents: consecutive extents of one device
 * share a <device> element. Empty <source> is not written. */
static void format_source(pk_buf *b, const pk_vol *v)
{
    if (!v->n_extents) return;
    pk_buf_add(b, "  <source>\n");
    const char *dev = NULL;
    for (size_t i = 0; i < v->n_extents; i++) {
        const pk_vol_extent *x = &v->extents[i];
        if (!dev || !pk_streq(dev, x->path)) {
            if (dev) pk_buf_add(b, "    </device>\n");
            pk_buf_add(b, "    <device");
            add_attr(b, "path", x->path);
            pk_buf_add(b, ">\n");
        }
        pk_buf_addf(b, "      <extent start='%llu' end='%llu'/>\n", (unsigned long long)x->start,
                    (unsigned long long)x->end);
        dev = x->path ? x->path : "";
    }
    pk_buf_add(b, "    </device>\n");
    pk_buf_add(b, "  </source>\n");
}

char *pk_vol_format(const pk_pool *pool, const pk_vol *v)
{
    pk_buf b = PK_BUF_INIT;
    const char *type = pk_vol_type_to_string(v->type);
    pk_buf_addf(&b, "<volume type='%s'>\n", type ? type : "file");
    add_elem(&b, 2, "name", v->name);
    add_elem(&b, 2, "key", v->key);
    format_source(&b, v);
    pk_buf_addf(&b, "  <capacity unit='bytes'>%llu</capacity>\n", (unsigned long long)v->capacity);
    pk_buf_addf(&b, "  <allocation unit='bytes'>%llu</allocation>\n", (unsigned long long)v->allocation);
    /* display only: libvirt never reads it back */
    if (v->physical) pk_buf_addf(&b, "  <physical unit='bytes'>%llu</physical>\n", (unsigned long long)v->physical);
    format_target(&b, pool, v);
    if (v->backing) format_backing(&b, pool, v->backing);
    pk_buf_add(&b, "</volume>\n");
    return pk_buf_steal(&b);
}
