/* <pool> documents into pk_pool, with libvirt's defaults and rules
 * (virStoragePoolDefParseXML in src/conf/storage_conf.c). Every problem is
 * reported with the line of the element it is about; the parse goes on
 * after a problem so that one run lists them all. */
#include "pool_parse.h"
#include <stdint.h>

void pk_pool_perr(pk_pool_pctx *c, xmlNode *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pk_err *e = pk_err_newv(c->file, pk_pool_line(at), 0, fmt, ap);
    va_end(ap);
    /* Quoted input may hold new lines; one problem stays one line. */
    pk_buf b = PK_BUF_INIT;
    for (const unsigned char *s = (const unsigned char *)e->msg; *s; s++) {
        if (*s == '\n') pk_buf_add(&b, "\\n");
        else if (*s == '\t') pk_buf_add(&b, "\\t");
        else if (*s < 0x20) pk_buf_addf(&b, "\\x%02x", *s);
        else pk_buf_addc(&b, (char)*s);
    }
    free(e->msg);
    e->msg = pk_buf_steal(&b);
    pk_err_append(&c->errs, e);
}

int pk_pool_line(xmlNode *n)
{
    long l = n ? xmlGetLineNo(n) : 0;
    return l > 0 && l <= INT32_MAX ? (int)l : 0;
}

char *pk_pool_string(xmlNode *n)
{
    if (!n) return NULL;
    xmlChar *v = xmlNodeGetContent(n);
    char *s = v && *v ? pk_strdup((const char *)v) : NULL;
    xmlFree(v);
    return s;
}

char *pk_pool_child_string(xmlNode *parent, const char *name)
{
    return pk_pool_string(pk_xml_child(parent, name));
}

char *pk_pool_attr(xmlNode *n, const char *name)
{
    char *v = pk_xml_prop(n, name);
    if (v && !*v) {
        free(v);
        return NULL;
    }
    return v;
}

int pk_pool_parse_yesno(pk_pool_pctx *c, xmlNode *n, const char *attr, pk_tristate *out)
{
    _cleanup_free_ char *v = pk_xml_prop(n, attr);
    *out = PK_TRI_ABSENT;
    if (!v) return 0;
    if (strcmp(v, "yes") == 0) {
        *out = PK_TRI_YES;
    } else if (strcmp(v, "no") == 0) {
        *out = PK_TRI_NO;
    } else {
        pk_pool_perr(c, n, "<%s>: invalid value '%s' for attribute '%s', expected 'yes' or 'no'",
                     (const char *)n->name, v, attr);
        return -1;
    }
    return 0;
}

char *pk_pool_sanitize_path(const char *path)
{
    char *clean = pk_strdup(path);
    /* Two slashes mean something else in a URI (RFC 3986): leave those alone. */
    const char *uri = strstr(path, "://");
    if (uri && strchr(path, '/') > uri) return clean;

    const char *cur = path;
    size_t idx = 0;
    /* "//x" is a different path from "/x" for POSIX, "///x" is not. */
    if (cur[0] == '/' && cur[1] == '/' && cur[2] != '/') {
        idx = 2;
        cur += 2;
    }
    while (*cur) {
        if (*cur != '/') {
            clean[idx++] = *cur++;
            continue;
        }
        while (*++cur == '/')
            ;
        if (idx != 0 && *cur == '\0') break;   /* no trailing '/' */
        clean[idx++] = '/';
    }
    clean[idx] = '\0';
    return clean;
}

/* An owner or group: a uid/gid, or -1 for "not set" (which libvirt used to
 * write itself, so it still reads it). (uid_t)-1 also means "not set". */
static void parse_id(pk_pool_pctx *c, xmlNode *n, int64_t *out)
{
    /* Numbers are read without the white space around them; libvirt is
     * stricter there, and accepting it changes no meaning. */
    _cleanup_free_ char *v = pk_xml_text(n);
    *out = -1;
    if (v && strcmp(v, "-1") == 0) return;
    uint64_t id;
    if (!v || pk_parse_u64(v, 10, &id) < 0 || id > UINT32_MAX) {
        pk_pool_perr(c, n, "<%s>: malformed %s '%s', expected a number from 0 to 4294967294 or -1",
                     (const char *)n->name, (const char *)n->name, v ? v : "");
        return;
    }
    if (id != UINT32_MAX) *out = (int64_t)id;
}

static void parse_perms(pk_pool_pctx *c, xmlNode *perms, pk_perms *out)
{
    xmlNode *n;
    out->mode = out->uid = out->gid = -1;
    out->label = NULL;
    if (!perms) return;

    if ((n = pk_xml_child(perms, "mode"))) {
        _cleanup_free_ char *v = pk_xml_text(n);
        uint64_t mode;
        /* libvirt takes permission bits only (virStorageDefParsePerms),
         * no setuid, setgid or sticky bit. */
        if (v && (pk_parse_u64(v, 8, &mode) < 0 || mode > 0777))
            pk_pool_perr(c, n, "<mode>: malformed octal mode '%s', expected 0 to 0777", v);
        else if (v)
            out->mode = (int64_t)mode;
    }
    if ((n = pk_xml_child(perms, "owner"))) parse_id(c, n, &out->uid);
    if ((n = pk_xml_child(perms, "group"))) parse_id(c, n, &out->gid);
    out->label = pk_pool_child_string(perms, "label");
}

static void check_name(pk_pool_pctx *c, xmlNode *at, const char *name)
{
    if (pk_name_valid(name)) return;
    const char *el = (const char *)at->name;
    if (strchr(name, '/'))
        pk_pool_perr(c, at, "<%s>: pool name '%s' must not contain '/'", el, name);
    else if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        pk_pool_perr(c, at, "<%s>: '%s' is not a valid pool name", el, name);
    else if (strlen(name) > 255)
        pk_pool_perr(c, at, "<%s>: pool name is longer than 255 bytes", el);
    else
        pk_pool_perr(c, at, "<%s>: pool name '%s' must not contain control characters such as new lines", el, name);
}

static void parse_features(pk_pool_pctx *c, xmlNode *root, pk_pool *p)
{
    xmlNode *cow = pk_xml_child(pk_xml_child(root, "features"), "cow");
    pk_tristate v;
    if (!cow || pk_pool_parse_yesno(c, cow, "state", &v) < 0 || v == PK_TRI_ABSENT) return;
    if (p->type != PK_POOL_FS && p->type != PK_POOL_DIR) {
        pk_pool_perr(c, cow, "<cow>: the cow feature is only supported by 'fs' and 'dir' pools, not by '%s'",
                     pk_pool_type_to_string(p->type));
        return;
    }
    p->cow = v;
}

/* Whether a pool type cannot do without <source> at all. */
static bool source_required(pk_pool_type t, const pk_pool_type_info *info)
{
    return (info->flags & (PK_SRC_HOST | PK_SRC_DIR | PK_SRC_ADAPTER)) ||
           info->flags == PK_SRC_DEVICE || t == PK_POOL_ISCSI_DIRECT;
}

/* The parts of <source> the pool type requires (libvirt checks them in
 * virStoragePoolDefParseXML, after the defaults). */
static void check_source(pk_pool_pctx *c, xmlNode *root, xmlNode *src, pk_pool *p)
{
    const pk_pool_type_info *info = pk_pool_type_info_get(p->type);
    const char *type = pk_pool_type_to_string(p->type);

    if (!src) {
        if (source_required(p->type, info))
            pk_pool_perr(c, root, "<pool>: missing <source> (required for pool type '%s')", type);
        return;
    }
    if ((info->flags & PK_SRC_HOST) && !p->source.n_hosts && !pk_xml_child(src, "host"))
        pk_pool_perr(c, src, "<source>: missing <host> (required for pool type '%s')", type);
    if ((info->flags & PK_SRC_DIR) && !p->source.dir)
        pk_pool_perr(c, src, "<source>: missing <dir path='...'/> (required for pool type '%s')", type);
    if (info->flags & PK_SRC_ADAPTER) {
        xmlNode *ad = pk_xml_child(src, "adapter");
        if (!ad)
            pk_pool_perr(c, src, "<source>: missing <adapter> (required for pool type '%s')", type);
        else
            pk_pool_check_adapter(c, ad, &p->source.adapter);
    }
    /* A device is required only where it is the one thing that names the
     * storage (libvirt: "if DEVICE is the only source type"). */
    if (info->flags == PK_SRC_DEVICE && !p->source.n_devices && !pk_xml_child(src, "device"))
        pk_pool_perr(c, src, "<source>: missing <device> (required for pool type '%s')", type);
    if (p->type == PK_POOL_ISCSI_DIRECT && !p->source.initiator_iqn)
        pk_pool_perr(c, src, "<source>: missing <initiator><iqn name='...'/> (required for pool type '%s')", type);
}

static void parse_target(pk_pool_pctx *c, xmlNode *root, pk_pool *p)
{
    xmlNode *target = pk_xml_child(root, "target");
    _cleanup_free_ char *path = NULL;

    p->pos_target.line = pk_pool_line(target);
    /* These two place their storage under a fixed path; a <path> given in
     * the XML is ignored, as libvirt does. */
    if (p->type == PK_POOL_LOGICAL) {
        if (p->source.name) path = pk_asprintf("/dev/%s", p->source.name);
    } else if (p->type == PK_POOL_ZFS) {
        if (p->source.name) path = pk_asprintf("/dev/zvol/%s", p->source.name);
    } else {
        xmlNode *pn = pk_xml_child(target, "path");
        path = pk_pool_string(pn);
        if (!target)
            pk_pool_perr(c, root, "<pool>: missing <target> with a <path> (required for pool type '%s')",
                         pk_pool_type_to_string(p->type));
        else if (!path)
            pk_pool_perr(c, target, "<target>: missing <path> (required for pool type '%s')",
                         pk_pool_type_to_string(p->type));
        else if (path[0] != '/')
            pk_pool_perr(c, pn, "<path>: target path '%s' is not absolute", path);
    }
    if (path) p->target_path = pk_pool_sanitize_path(path);
    parse_perms(c, pk_xml_child(target, "permissions"), &p->target_perms);
}

static void parse_refresh(pk_pool_pctx *c, xmlNode *root, pk_pool *p)
{
    xmlNode *vol = pk_xml_child(pk_xml_child(root, "refresh"), "volume");
    _cleanup_free_ char *alloc = pk_pool_attr(vol, "allocation");
    if (!alloc) return;
    int v = pk_refresh_vol_alloc_from_string(alloc);
    if (v < 0) {
        pk_pool_perr(c, vol, "<volume>: unknown refresh allocation '%s', expected 'default' or 'capacity'", alloc);
        return;
    }
    p->refresh_vol_alloc = (pk_refresh_vol_alloc)v;
    p->has_refresh = true;
}

static bool is_ns_elem(xmlNode *n, const char *uri, const char *name)
{
    return n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
           strcmp((const char *)n->ns->href, uri) == 0 && strcmp((const char *)n->name, name) == 0;
}

/* <fs:mount_opts><fs:option name='...'/>: extra mount options of fs and
 * netfs pools. Matched by namespace URI, whatever prefix the file uses. */
static void parse_mount_opts(pk_pool_pctx *c, xmlNode *root, pk_pool *p)
{
    pk_xml_foreach_child(mo, root) {
        if (!is_ns_elem(mo, PK_POOL_NS_FS_URI, "mount_opts")) continue;
        pk_xml_foreach_child(o, mo) {
            if (!is_ns_elem(o, PK_POOL_NS_FS_URI, "option")) continue;
            _cleanup_free_ char *name = pk_pool_attr(o, "name");
            if (!name) {
                pk_pool_perr(c, o, "<fs:option>: missing or empty attribute 'name'");
                continue;
            }
            pk_strv_push(&p->mount_opts, name);
        }
    }
}

/* <rbd:config_opts><rbd:option name='...' value='...'/>: librados options. */
static void parse_config_opts(pk_pool_pctx *c, xmlNode *root, pk_pool *p)
{
    pk_xml_foreach_child(co, root) {
        if (!is_ns_elem(co, PK_POOL_NS_RBD_URI, "config_opts")) continue;
        pk_xml_foreach_child(o, co) {
            if (!is_ns_elem(o, PK_POOL_NS_RBD_URI, "option")) continue;
            _cleanup_free_ char *name = pk_pool_attr(o, "name");
            _cleanup_free_ char *value = pk_pool_attr(o, "value");
            if (!name) {
                pk_pool_perr(c, o, "<rbd:option>: missing or empty attribute 'name'");
                continue;
            }
            if (!value) {
                pk_pool_perr(c, o, "<rbd:option>: missing or empty attribute 'value' for option '%s'", name);
                continue;
            }
            pk_opt *opt = PK_APPEND(p->config_opts, p->n_config_opts);
            opt->name = TAKE_PTR(name);
            opt->value = TAKE_PTR(value);
        }
    }
}

static pk_pool *parse_pool(pk_pool_pctx *c, xmlNode *root)
{
    pk_pool *p = PK_NEW(pk_pool);
    p->file = pk_strdup(c->file);
    p->line = pk_pool_line(root);
    p->source.format = -1;
    p->target_perms.mode = p->target_perms.uid = p->target_perms.gid = -1;

    _cleanup_free_ char *type = pk_xml_prop(root, "type");
    int t = pk_pool_type_from_string(type);
    if (!type)
        pk_pool_perr(c, root, "<pool>: missing attribute 'type'");
    else if (t < 0)
        pk_pool_perr(c, root, "<pool>: unknown pool type '%s'", type);
    p->type = t < 0 ? PK_POOL_DIR : (pk_pool_type)t;
    const pk_pool_type_info *info = pk_pool_type_info_get(p->type);

    xmlNode *src = pk_xml_child(root, "source");
    p->pos_source.line = pk_pool_line(src);
    if (t >= 0) {
        if (src)
            pk_pool_parse_source(c, src, p);
        else if (info->has_format)
            p->source.format = info->default_format;
    }

    /* Types that name their storage (a VG, an RBD pool, ...) may leave out
     * one of the two names: each defaults to the other. */
    xmlNode *name_node = pk_xml_child(root, "name");
    p->pos_name.line = pk_pool_line(name_node);
    p->name = pk_pool_string(name_node);
    xmlNode *name_at = name_node;
    if (!p->name && t >= 0 && (info->flags & PK_SRC_NAME) && p->source.name) {
        p->name = pk_strdup(p->source.name);
        name_at = pk_xml_child(src, "name");
    }
    if (!p->name && name_node)
        pk_pool_perr(c, name_node, "<name>: pool name is empty");
    else if (!p->name)
        pk_pool_perr(c, root, "<pool>: missing <name>");
    else
        check_name(c, name_at, p->name);

    xmlNode *uuid_node = pk_xml_child(root, "uuid");
    _cleanup_free_ char *uuid = pk_pool_string(uuid_node);
    if (!uuid) {
        pk_uuid_generate(p->uuid);
    } else if (pk_uuid_parse(uuid, p->uuid) < 0) {
        pk_pool_perr(c, uuid_node, "<uuid>: malformed uuid '%s'", uuid);
    } else {
        p->uuid_given = true;
    }

    if (t < 0) return p;   /* the rest depends on the type */

    parse_features(c, root, p);
    check_source(c, root, src, p);
    if ((info->flags & PK_SRC_NAME) && !p->source.name && p->name)
        p->source.name = pk_strdup(p->name);

    /* Network pools have no local path: <target> is ignored for them. */
    if (!(info->flags & PK_SRC_NETWORK))
        parse_target(c, root, p);

    parse_refresh(c, root, p);
    if (info->ns == PK_POOL_NS_FS)
        parse_mount_opts(c, root, p);
    else if (info->ns == PK_POOL_NS_RBD)
        parse_config_opts(c, root, p);
    return p;
}

/* Problems in document order, whatever order the checks ran in. */
static pk_err *sort_by_line(pk_err *list)
{
    pk_err *sorted = NULL;
    while (list) {
        pk_err *e = list;
        list = e->next;
        pk_err **at = &sorted;
        while (*at && (*at)->line <= e->line) at = &(*at)->next;
        e->next = *at;
        *at = e;
    }
    return sorted;
}

pk_pool *pk_pool_parse(const char *data, size_t len, const char *file, pk_err **errs)
{
    xmlDoc *doc = pk_xml_read(data, len, file, errs);
    if (!doc) return NULL;

    pk_pool_pctx c = { .file = file, .errs = NULL };
    pk_pool *p = NULL;
    xmlNode *root = xmlDocGetRootElement(doc);
    if (!pk_xml_is(root, "pool"))
        pk_pool_perr(&c, root, "unexpected root element <%s>, expecting <pool>", (const char *)root->name);
    else
        p = parse_pool(&c, root);
    xmlFreeDoc(doc);

    if (c.errs) {
        pk_err_append(errs, sort_by_line(c.errs));
        pk_pool_free(p);
        return NULL;
    }
    return p;
}

pk_pool *pk_pool_parse_file(const char *path, pk_err **errs)
{
    _cleanup_free_ char *data = NULL;
    size_t len = 0;
    pk_err *err = NULL;
    if (pk_xml_slurp(path, &data, &len, &err) < 0) {
        pk_err_append(errs, err);
        return NULL;
    }
    return pk_pool_parse(data, len, path, errs);
}

static void source_clear(pk_pool_source *s)
{
    for (size_t i = 0; i < s->n_hosts; i++) free(s->hosts[i].name);
    free(s->hosts);
    for (size_t i = 0; i < s->n_devices; i++) {
        free(s->devices[i].path);
        free(s->devices[i].free_extents);
    }
    free(s->devices);
    free(s->dir);
    pk_adapter *a = &s->adapter;
    free(a->name);
    free(a->parent);
    free(a->parent_wwnn);
    free(a->parent_wwpn);
    free(a->parent_fabric_wwn);
    free(a->wwnn);
    free(a->wwpn);
    free(s->initiator_iqn);
    free(s->auth.username);
    free(s->auth.secret_type);
    free(s->auth.secret.uuid);
    free(s->auth.secret.usage);
    free(s->name);
    free(s->protocol_ver);
    free(s->vendor);
    free(s->product);
}

void pk_pool_free(pk_pool *p)
{
    if (!p) return;
    free(p->name);
    source_clear(&p->source);
    free(p->target_path);
    free(p->target_perms.label);
    pk_strv_free(p->mount_opts);
    for (size_t i = 0; i < p->n_config_opts; i++) {
        free(p->config_opts[i].name);
        free(p->config_opts[i].value);
    }
    free(p->config_opts);
    free(p->file);
    free(p);
}
