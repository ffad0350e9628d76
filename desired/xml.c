/* Untrusted XML in, a libxml2 tree out, or a clear error. */
#include "xml.h"
#include "model.h"
#include <errno.h>
#include <fcntl.h>
#include <libxml/parser.h>
#include <sys/stat.h>

/* Valid UTF-8 without NUL bytes or other C0 controls XML forbids. Returns the
 * 1-based line of the first bad byte, or 0 when all is well. */
static int bad_utf8_line(const unsigned char *s, size_t len, const char **why)
{
    int line = 1;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c == '\n') { line++; i++; continue; }
        if (c == 0) { *why = "NUL byte"; return line; }
        if (c < 0x20 && c != '\t' && c != '\r') { *why = "control character"; return line; }
        if (c < 0x80) { i++; continue; }
        size_t n;
        uint32_t cp;
        if ((c & 0xE0) == 0xC0) { n = 2; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { n = 3; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { n = 4; cp = c & 0x07; }
        else { *why = "invalid UTF-8"; return line; }
        if (i + n > len) { *why = "truncated UTF-8 sequence"; return line; }
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80) { *why = "invalid UTF-8"; return line; }
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            *why = "invalid UTF-8";
            return line;
        }
        i += n;
    }
    return 0;
}

static int depth_ok(xmlNode *n, int depth)
{
    if (depth > PK_XML_MAX_DEPTH) return n ? n->line : 0;
    for (xmlNode *c = n ? n->children : NULL; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) continue;
        int bad = depth_ok(c, depth + 1);
        if (bad) return bad;
    }
    return 0;
}

static void silent(void *ctx PK_UNUSED, const char *msg PK_UNUSED, ...) {}

xmlDoc *pk_xml_read(const char *data, size_t len, const char *file, pk_err **errs)
{
    if (len > PK_XML_MAX_BYTES) {
        pk_err_append(errs, pk_err_new(file, 0, 0, "document is %zu bytes, larger than the limit of %d bytes",
                                       len, PK_XML_MAX_BYTES));
        return NULL;
    }
    const char *why = NULL;
    int line = bad_utf8_line((const unsigned char *)data, len, &why);
    if (line) {
        pk_err_append(errs, pk_err_new(file, line, 0, "%s: documents must be UTF-8 text", why));
        return NULL;
    }
    /* A DOCTYPE is the door to entity bombs and external entities; libvirt's
     * documents never need one, so refuse it outright. */
    if (memmem(data, len, "<!DOCTYPE", 9) || memmem(data, len, "<!ENTITY", 8)) {
        const char *p = memmem(data, len, "<!", 2);
        int l = 1;
        for (const char *q = data; p && q < p; q++) l += *q == '\n';
        pk_err_append(errs, pk_err_new(file, l, 0, "DOCTYPE and entity declarations are not allowed"));
        return NULL;
    }
    xmlParserCtxt *ctxt = xmlNewParserCtxt();
    if (!ctxt) {
        pk_err_append(errs, pk_err_new(file, 0, 0, "cannot create XML parser"));
        return NULL;
    }
    xmlSetGenericErrorFunc(NULL, silent);
    int opts = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA;
    xmlDoc *doc = xmlCtxtReadMemory(ctxt, data, (int)len, file, "UTF-8", opts);
    if (!doc) {
        const xmlError *xe = xmlCtxtGetLastError(ctxt);
        char *msg = pk_strdup(xe && xe->message ? xe->message : "malformed XML");
        size_t ml = strlen(msg);
        while (ml && (msg[ml - 1] == '\n' || msg[ml - 1] == ' ')) msg[--ml] = '\0';
        pk_err_append(errs, pk_err_new(file, xe ? xe->line : 0, 0, "malformed XML: %s", msg));
        free(msg);
        xmlFreeParserCtxt(ctxt);
        return NULL;
    }
    xmlFreeParserCtxt(ctxt);
    xmlNode *root = xmlDocGetRootElement(doc);
    if (!root) {
        pk_err_append(errs, pk_err_new(file, 0, 0, "empty document"));
        xmlFreeDoc(doc);
        return NULL;
    }
    int deep = depth_ok(root, 1);
    if (deep) {
        pk_err_append(errs, pk_err_new(file, deep, 0, "elements nested deeper than %d levels", PK_XML_MAX_DEPTH));
        xmlFreeDoc(doc);
        return NULL;
    }
    return doc;
}

int pk_xml_slurp(const char *path, char **out, size_t *len, pk_err **err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return pk_fail_errno(err, errno, "cannot open '%s'", path);
    struct stat st;
    if (fstat(fd, &st) < 0) return pk_fail_errno(err, errno, "cannot stat '%s'", path);
    if (!S_ISREG(st.st_mode)) return pk_fail(err, "'%s' is not a regular file", path);
    if (st.st_size > PK_XML_MAX_BYTES)
        return pk_fail(err, "'%s' is %lld bytes, larger than the limit of %d bytes", path,
                       (long long)st.st_size, PK_XML_MAX_BYTES);
    char *buf = pk_malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) { free(buf); return pk_fail_errno(err, errno, "cannot read '%s'", path); }
        if (r == 0) break;
        got += (size_t)r;
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return 0;
}

char *pk_xml_prop(xmlNode *n, const char *name)
{
    if (!n) return NULL;
    xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);
    if (!v) return NULL;
    char *s = pk_strdup((const char *)v);
    xmlFree(v);
    return s;
}

xmlNode *pk_xml_child(xmlNode *n, const char *name)
{
    pk_xml_foreach_child(c, n)
        if (!c->ns && strcmp((const char *)c->name, name) == 0) return c;
    return NULL;
}

size_t pk_xml_count(xmlNode *n, const char *name)
{
    size_t k = 0;
    pk_xml_foreach_child(c, n)
        if (!c->ns && strcmp((const char *)c->name, name) == 0) k++;
    return k;
}

xmlNode *pk_xml_child_ns(xmlNode *n, const char *ns_uri, const char *name)
{
    pk_xml_foreach_child(c, n)
        if (c->ns && c->ns->href && strcmp((const char *)c->ns->href, ns_uri) == 0 &&
            strcmp((const char *)c->name, name) == 0)
            return c;
    return NULL;
}

char *pk_xml_text(xmlNode *n)
{
    if (!n) return NULL;
    xmlChar *v = xmlNodeGetContent(n);
    if (!v) return NULL;
    const char *s = (const char *)v;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
    size_t l = strlen(s);
    while (l && (s[l - 1] == ' ' || s[l - 1] == '\t' || s[l - 1] == '\n' || s[l - 1] == '\r')) l--;
    char *r = l ? pk_strndup(s, l) : NULL;
    xmlFree(v);
    return r;
}

char *pk_xml_child_text(xmlNode *n, const char *name)
{
    return pk_xml_text(pk_xml_child(n, name));
}
