/* pk_pool to XML exactly as libvirt's virStoragePoolDefFormat writes it:
 * fixed element order, two-space indentation, single quotes, and the
 * escaping of virBufferEscapeString. */
#include "pool_types.h"

/* virBufferEscapeString: the five XML specials become entities in text and
 * attributes alike, and control characters other than tab, new line and
 * carriage return are dropped. */
static void add_esc(pk_buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '<': pk_buf_add(b, "&lt;"); break;
        case '>': pk_buf_add(b, "&gt;"); break;
        case '&': pk_buf_add(b, "&amp;"); break;
        case '"': pk_buf_add(b, "&quot;"); break;
        case '\'': pk_buf_add(b, "&apos;"); break;
        default:
            if (*p >= 0x20 || *p == '\n' || *p == '\t' || *p == '\r')
                pk_buf_addc(b, (char)*p);
        }
    }
}

/* " attr='value'" when value is set. */
static void add_attr(pk_buf *b, const char *attr, const char *value)
{
    if (!value) return;
    pk_buf_addf(b, " %s='", attr);
    add_esc(b, value);
    pk_buf_addc(b, '\'');
}

/* "<tag>text</tag>\n" at indentation `ind` when text is set. */
static void add_text_elem(pk_buf *b, int ind, const char *tag, const char *text)
{
    if (!text) return;
    pk_buf_indent(b, ind);
    pk_buf_addf(b, "<%s>", tag);
    add_esc(b, text);
    pk_buf_addf(b, "</%s>\n", tag);
}

/* "<tag attr='value'/>\n" at indentation `ind` when value is set. */
static void add_empty_elem(pk_buf *b, int ind, const char *tag, const char *attr, const char *value)
{
    if (!value) return;
    pk_buf_indent(b, ind);
    pk_buf_addf(b, "<%s", tag);
    add_attr(b, attr, value);
    pk_buf_add(b, "/>\n");
}

static void format_adapter(pk_buf *b, const pk_adapter *a)
{
    pk_buf_indent(b, 4);
    pk_buf_addf(b, "<adapter type='%s'", pk_adapter_type_to_string(a->type));
    if (a->type == PK_ADAPTER_FC_HOST) {
        add_attr(b, "parent", a->parent);
        add_attr(b, "parent_wwnn", a->parent_wwnn);
        add_attr(b, "parent_wwpn", a->parent_wwpn);
        add_attr(b, "parent_fabric_wwn", a->parent_fabric_wwn);
        if (a->managed != PK_TRI_ABSENT)
            pk_buf_addf(b, " managed='%s'", pk_tristate_to_string(a->managed));
        add_attr(b, "wwnn", a->wwnn);
        add_attr(b, "wwpn", a->wwpn);
        pk_buf_add(b, "/>\n");
    } else if (a->name) {
        add_attr(b, "name", a->name);
        pk_buf_add(b, "/>\n");
    } else {
        pk_buf_add(b, ">\n");
        pk_buf_indent(b, 6);
        pk_buf_addf(b, "<parentaddr unique_id='%u'>\n", a->unique_id);
        pk_buf_indent(b, 8);
        /* 'function' really is "0x" and then decimal in libvirt; it is at most 7. */
        pk_buf_addf(b, "<address domain='0x%04x' bus='0x%02x' slot='0x%02x' function='0x%u'/>\n",
                    a->domain, a->bus, a->slot, a->function);
        pk_buf_indent(b, 6);
        pk_buf_add(b, "</parentaddr>\n");
        pk_buf_indent(b, 4);
        pk_buf_add(b, "</adapter>\n");
    }
}

static void format_auth(pk_buf *b, const pk_auth *auth)
{
    pk_buf_indent(b, 4);
    pk_buf_addf(b, "<auth type='%s'", pk_auth_type_to_string(auth->type));
    add_attr(b, "username", auth->username);
    pk_buf_add(b, ">\n");
    pk_buf_indent(b, 6);
    pk_buf_add(b, "<secret");
    add_attr(b, "type", auth->secret_type);
    if (auth->secret.uuid)
        add_attr(b, "uuid", auth->secret.uuid);
    else
        add_attr(b, "usage", auth->secret.usage);
    pk_buf_add(b, "/>\n");
    pk_buf_indent(b, 4);
    pk_buf_add(b, "</auth>\n");
}

/* Only the parts the pool type uses are written, whatever else the input
 * had (virStoragePoolSourceFormat). */
static int format_source(pk_buf *b, const pk_pool *p, const pk_pool_type_info *info)
{
    const pk_pool_source *s = &p->source;

    pk_buf_add(b, "  <source>\n");
    if (info->flags & PK_SRC_HOST) {
        for (size_t i = 0; i < s->n_hosts; i++) {
            pk_buf_indent(b, 4);
            pk_buf_add(b, "<host");
            add_attr(b, "name", s->hosts[i].name);
            if (s->hosts[i].port) pk_buf_addf(b, " port='%d'", s->hosts[i].port);
            pk_buf_add(b, "/>\n");
        }
    }
    if (info->flags & PK_SRC_DEVICE) {
        for (size_t i = 0; i < s->n_devices; i++) {
            const pk_pool_device *d = &s->devices[i];
            pk_buf_indent(b, 4);
            pk_buf_add(b, "<device");
            add_attr(b, "path", d->path);
            if (d->part_separator != PK_TRI_ABSENT)
                pk_buf_addf(b, " part_separator='%s'", pk_tristate_to_string(d->part_separator));
            if (!d->n_free_extents) {
                pk_buf_add(b, "/>\n");
                continue;
            }
            /* Live data only: never set by the parser. */
            pk_buf_add(b, ">\n");
            for (size_t j = 0; j < d->n_free_extents; j++) {
                pk_buf_indent(b, 6);
                pk_buf_addf(b, "<freeExtent start='%llu' end='%llu'/>\n",
                            (unsigned long long)d->free_extents[j].start,
                            (unsigned long long)d->free_extents[j].end);
            }
            pk_buf_indent(b, 4);
            pk_buf_add(b, "</device>\n");
        }
    }
    if (info->flags & PK_SRC_DIR)
        add_empty_elem(b, 4, "dir", "path", s->dir);
    if ((info->flags & PK_SRC_ADAPTER) &&
        (s->adapter.type == PK_ADAPTER_SCSI_HOST || s->adapter.type == PK_ADAPTER_FC_HOST))
        format_adapter(b, &s->adapter);
    if (info->flags & PK_SRC_NAME)
        add_text_elem(b, 4, "name", s->name);
    if ((info->flags & PK_SRC_INITIATOR_IQN) && s->initiator_iqn) {
        pk_buf_add(b, "    <initiator>\n");
        add_empty_elem(b, 6, "iqn", "name", s->initiator_iqn);
        pk_buf_add(b, "    </initiator>\n");
    }
    if (info->has_format) {
        const char *f = info->format_to_string(s->format);
        if (!f) return -1;
        pk_buf_addf(b, "    <format type='%s'/>\n", f);
    }
    if (s->auth.type != PK_AUTH_NONE)
        format_auth(b, &s->auth);
    add_empty_elem(b, 4, "protocol", "ver", s->protocol_ver);
    add_empty_elem(b, 4, "vendor", "name", s->vendor);
    add_empty_elem(b, 4, "product", "name", s->product);
    pk_buf_add(b, "  </source>\n");
    return 0;
}

static void format_target(pk_buf *b, const pk_pool *p)
{
    const pk_perms *perms = &p->target_perms;

    pk_buf_add(b, "  <target>\n");
    add_text_elem(b, 4, "path", p->target_path);
    if (perms->mode != -1 || perms->uid != -1 || perms->gid != -1 || perms->label) {
        pk_buf_add(b, "    <permissions>\n");
        if (perms->mode != -1) pk_buf_addf(b, "      <mode>0%o</mode>\n", (unsigned)perms->mode);
        if (perms->uid != -1) pk_buf_addf(b, "      <owner>%lld</owner>\n", (long long)perms->uid);
        if (perms->gid != -1) pk_buf_addf(b, "      <group>%lld</group>\n", (long long)perms->gid);
        add_text_elem(b, 6, "label", perms->label);
        pk_buf_add(b, "    </permissions>\n");
    }
    pk_buf_add(b, "  </target>\n");
}

char *pk_pool_format(const pk_pool *p)
{
    const pk_pool_type_info *info = pk_pool_type_info_get(p->type);
    if (!info) return NULL;
    bool fs_ns = info->ns == PK_POOL_NS_FS && p->mount_opts && p->mount_opts[0];
    bool rbd_ns = info->ns == PK_POOL_NS_RBD && p->n_config_opts > 0;
    char uuid[37];
    pk_buf b = PK_BUF_INIT;

    pk_buf_addf(&b, "<pool type='%s'", pk_pool_type_to_string(p->type));
    if (fs_ns) pk_buf_add(&b, " xmlns:fs='" PK_POOL_NS_FS_URI "'");
    if (rbd_ns) pk_buf_add(&b, " xmlns:rbd='" PK_POOL_NS_RBD_URI "'");
    pk_buf_add(&b, ">\n");
    add_text_elem(&b, 2, "name", p->name);
    pk_uuid_format(p->uuid, uuid);
    pk_buf_addf(&b, "  <uuid>%s</uuid>\n", uuid);
    pk_buf_addf(&b, "  <capacity unit='bytes'>%llu</capacity>\n", (unsigned long long)p->capacity);
    pk_buf_addf(&b, "  <allocation unit='bytes'>%llu</allocation>\n", (unsigned long long)p->allocation);
    pk_buf_addf(&b, "  <available unit='bytes'>%llu</available>\n", (unsigned long long)p->available);

    if (p->cow != PK_TRI_ABSENT) {
        pk_buf_add(&b, "  <features>\n");
        pk_buf_addf(&b, "    <cow state='%s'/>\n", pk_tristate_to_string(p->cow));
        pk_buf_add(&b, "  </features>\n");
    }
    if (format_source(&b, p, info) < 0) {
        pk_buf_free(&b);
        return NULL;
    }
    /* Network pools (rbd, sheepdog, gluster, iscsi-direct) have no local target. */
    if (!(info->flags & PK_SRC_NETWORK))
        format_target(&b, p);
    if (p->has_refresh) {
        pk_buf_add(&b, "  <refresh>\n");
        pk_buf_addf(&b, "    <volume allocation='%s'/>\n", pk_refresh_vol_alloc_to_string(p->refresh_vol_alloc));
        pk_buf_add(&b, "  </refresh>\n");
    }
    if (fs_ns) {
        pk_buf_add(&b, "  <fs:mount_opts>\n");
        for (char **o = p->mount_opts; *o; o++)
            add_empty_elem(&b, 4, "fs:option", "name", *o);
        pk_buf_add(&b, "  </fs:mount_opts>\n");
    }
    if (rbd_ns) {
        pk_buf_add(&b, "  <rbd:config_opts>\n");
        for (size_t i = 0; i < p->n_config_opts; i++) {
            pk_buf_add(&b, "    <rbd:option");
            add_attr(&b, "name", p->config_opts[i].name);
            add_attr(&b, "value", p->config_opts[i].value);
            pk_buf_add(&b, "/>\n");
        }
        pk_buf_add(&b, "  </rbd:config_opts>\n");
    }
    pk_buf_add(&b, "</pool>\n");
    return pk_buf_steal(&b);
}
