/* Untrusted XML in, a libxml2 tree out, or a clear error.
 *
 * Desired-state files come from a git repository anyone with push access can
 * write to, so they are parsed as hostile: checks on the raw bytes first (size,
 * encoding, NUL and control characters, any DOCTYPE), then libxml2 with no
 * network, no DTD loading, no entity substitution and no XInclude, stopped as
 * soon as nesting gets too deep. Every refusal names the file and the line. */
#include "xml.h"
#include "model.h"
#include <errno.h>
#include <fcntl.h>
#include <libxml/parser.h>
#include <libxml/SAX2.h>
#include <strings.h>
#include <sys/stat.h>

static pk_err *err_at(const char *file, int line, int col, const char *fmt, ...) PK_PRINTF(4, 5);
static pk_err *err_at(const char *file, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pk_err *e = pk_err_newv(file, line, 0, fmt, ap);
    va_end(ap);
    e->col = col;
    return e;
}

/* Byte order marks of the encodings people save XML in by accident. The
 * UTF-8 one is harmless and libxml2 skips it. */
static pk_err *check_bom(const unsigned char *s, size_t len, const char *file)
{
    if (len >= 4 && ((s[0] == 0xFF && s[1] == 0xFE && s[2] == 0 && s[3] == 0) ||
                     (s[0] == 0 && s[1] == 0 && s[2] == 0xFE && s[3] == 0xFF)))
        return err_at(file, 1, 0, "document is UTF-32 (it starts with a byte order mark); documents must be UTF-8");
    if (len >= 2 && ((s[0] == 0xFF && s[1] == 0xFE) || (s[0] == 0xFE && s[1] == 0xFF)))
        return err_at(file, 1, 0, "document is UTF-16 (it starts with a byte order mark); documents must be UTF-8");
    /* UTF-16 without a BOM still shows as '<' next to a NUL byte. */
    if (len >= 2 && ((s[0] == '<' && s[1] == 0) || (s[0] == 0 && s[1] == '<')))
        return err_at(file, 1, 0, "document looks like UTF-16 (NUL bytes next to '<'); documents must be UTF-8");
    return NULL;
}

/* Valid UTF-8 without NUL bytes or the C0 controls XML 1.0 forbids. The
 * position is reported as line and column (in characters) because the
 * offending byte is usually invisible in an editor. */
static pk_err *check_text(const unsigned char *s, size_t len, const char *file)
{
    int line = 1, col = 0;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        col++;
        if (c == '\n') { line++; col = 0; i++; continue; }
        if (c == 0)
            return err_at(file, line, col, "document contains a NUL byte");
        if (c < 0x20 && c != '\t' && c != '\r')
            return err_at(file, line, col, "document contains control character U+%04X, which XML does not allow", c);
        if (c < 0x80) { i++; continue; }
        size_t n;
        uint32_t cp;
        if ((c & 0xE0) == 0xC0) { n = 2; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { n = 3; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { n = 4; cp = c & 0x07; }
        else return err_at(file, line, col, "document is not valid UTF-8 (byte 0x%02X)", c);
        if (i + n > len)
            return err_at(file, line, col, "document ends in the middle of a UTF-8 sequence");
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return err_at(file, line, col, "document is not valid UTF-8 (byte 0x%02X)", c);
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        /* Overlong forms would smuggle '<' or NUL past byte-level checks. */
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000))
            return err_at(file, line, col, "document is not valid UTF-8 (overlong encoding of U+%04X)", cp);
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return err_at(file, line, col, "document is not valid UTF-8 (U+%04X is not a character)", cp);
        i += n;
    }
    return NULL;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int line_of(const char *data, const char *p)
{
    int line = 1;
    for (const char *q = data; q < p; q++) line += *q == '\n';
    return line;
}

/* libxml2 is told the input is UTF-8 whatever the declaration says, so a file
 * declaring another encoding would silently mean something else than its
 * author saw: refuse it instead. ASCII is a subset and fine when true. */
static pk_err *check_declared_encoding(const char *data, size_t len, const char *file)
{
    if (!data || len < 6) return NULL;
    size_t start = len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    if (len - start < 6 || memcmp(data + start, "<?xml", 5) != 0 ||
        !is_space(data[start + 5]))
        return NULL;
    const char *decl = data + start;
    const char *end = memmem(decl, len - start, "?>", 2);
    if (!end) return NULL;  /* libxml2 reports the broken declaration */
    const char *p = memmem(decl, (size_t)(end - decl), "encoding", 8);
    if (!p) return NULL;
    p += 8;
    while (p < end && is_space(*p)) p++;
    if (p >= end || *p != '=') return NULL;
    p++;
    while (p < end && is_space(*p)) p++;
    if (p >= end || (*p != '"' && *p != '\'')) return NULL;
    const char *q = memchr(p + 1, *p, (size_t)(end - p - 1));
    if (!q) return NULL;
    _cleanup_free_ char *enc = pk_strndup(p + 1, (size_t)(q - p - 1));
    if (strcasecmp(enc, "UTF-8") == 0 || strcasecmp(enc, "UTF8") == 0) return NULL;
    if (strcasecmp(enc, "US-ASCII") == 0 || strcasecmp(enc, "ASCII") == 0) {
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)data[i] >= 0x80)
                return err_at(file, line_of(data, data + i), 0,
                              "document declares encoding '%s' but contains non-ASCII characters", enc);
        return NULL;
    }
    return err_at(file, line_of(data, p), 0, "XML declaration names encoding '%s'; documents must be UTF-8", enc);
}

/* A DOCTYPE is the door to entity bombs and external entities; libvirt's
 * documents never need one, so refuse it anywhere in the text, even in a
 * comment, rather than trust a parser option. */
static pk_err *check_no_dtd(const char *data, size_t len, const char *file)
{
    const char *d = memmem(data, len, "<!DOCTYPE", 9);
    const char *e = memmem(data, len, "<!ENTITY", 8);
    if (d && (!e || d < e))
        return err_at(file, line_of(data, d), 0, "DOCTYPE declarations are not allowed");
    if (e)
        return err_at(file, line_of(data, e), 0, "entity declarations are not allowed");
    return NULL;
}

/* Position just past the first `end` at or after i (len if none), counting
 * the new lines crossed into *line. */
static size_t skip_past(const char *data, size_t len, size_t i, const char *end, int *line)
{
    size_t el = strlen(end);
    for (; i < len; i++) {
        if (data[i] == '\n') (*line)++;
        if (data[i] == end[0] && len - i >= el && memcmp(data + i, end, el) == 0) return i + el;
    }
    return len;
}

/* Count the attributes of every start tag before libxml2 sees them. A light
 * scan: comments, CDATA sections and processing instructions are skipped, and
 * an '=' counts when it is outside quotes inside a tag. */
static pk_err *check_attribute_count(const char *data, size_t len, const char *file)
{
    int line = 1;
    size_t i = 0;
    while (i < len) {
        if (data[i] != '<') {
            line += data[i++] == '\n';
            continue;
        }
        if (len - i >= 4 && memcmp(data + i, "<!--", 4) == 0) {
            i = skip_past(data, len, i + 4, "-->", &line);
        } else if (len - i >= 9 && memcmp(data + i, "<![CDATA[", 9) == 0) {
            i = skip_past(data, len, i + 9, "]]>", &line);
        } else if (len - i >= 2 && data[i + 1] == '?') {
            i = skip_past(data, len, i + 2, "?>", &line);
        } else {
            int tag_line = line;
            size_t n = 0;
            char quote = 0;
            for (i++; i < len; i++) {
                char c = data[i];
                line += c == '\n';
                if (quote) {
                    if (c == quote) quote = 0;
                } else if (c == '"' || c == '\'') {
                    quote = c;
                } else if (c == '=') {
                    n++;
                } else if (c == '>') {
                    i++;
                    break;
                }
            }
            if (n > PK_XML_MAX_ATTRS)
                return err_at(file, tag_line, 0, "element has %zu attributes, more than the limit of %d", n,
                              PK_XML_MAX_ATTRS);
        }
    }
    return NULL;
}

/* Parse state reachable from libxml2 callbacks through ctxt->_private. */
typedef struct {
    int error_line;           /* first libxml2 error */
    char *error_msg;
    int deep_line;            /* where nesting passed the limit, 0 = never */
    size_t n_elements;
    int many_line;            /* where the element count passed the limit */
} read_state;

/* libxml2 keeps reporting follow-up errors after the first one; the first is
 * the one that explains the problem. */
static void on_error(void *user, xmlErrorPtr xe)
{
    xmlParserCtxt *ctxt = user;
    read_state *st = ctxt->_private;
    if (!xe || xe->level < XML_ERR_ERROR || st->error_msg) return;
    char *msg = pk_strdup(xe->message ? xe->message : "unknown error");
    /* Some messages go on with a dump of the input on further lines. */
    size_t ml = strcspn(msg, "\n");
    msg[ml] = '\0';
    while (ml && msg[ml - 1] == ' ') msg[--ml] = '\0';
    st->error_msg = msg;
    st->error_line = xe->line;
}

/* Enforce the depth and element limits while parsing, so a document of a
 * million nested elements is stopped at the limit instead of being built. */
static void on_start_element(void *user, const xmlChar *localname, const xmlChar *prefix,
                             const xmlChar *uri, int nb_namespaces, const xmlChar **namespaces,
                             int nb_attributes, int nb_defaulted, const xmlChar **attributes)
{
    xmlParserCtxt *ctxt = user;
    read_state *st = ctxt->_private;
    xmlSAX2StartElementNs(ctxt, localname, prefix, uri, nb_namespaces, namespaces,
                          nb_attributes, nb_defaulted, attributes);
    if (st->deep_line || st->many_line) return;
    int line = ctxt->input ? ctxt->input->line : 0;
    if (ctxt->nodeNr > PK_XML_MAX_DEPTH) {
        st->deep_line = line;
        xmlStopParser(ctxt);
    } else if (++st->n_elements > PK_XML_MAX_ELEMENTS) {
        st->many_line = line;
        xmlStopParser(ctxt);
    }
}

static void silent(void *ctx PK_UNUSED, const char *msg PK_UNUSED, ...) {}

static bool only_space(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!is_space(s[i])) return false;
    return true;
}

xmlDoc *pk_xml_read(const char *data, size_t len, const char *file, pk_err **errs)
{
    if (len > PK_XML_MAX_BYTES) {
        pk_err_append(errs, err_at(file, 0, 0, "document is %zu bytes, larger than the limit of %d bytes",
                                   len, PK_XML_MAX_BYTES));
        return NULL;
    }
    if (only_space(data, len)) {
        pk_err_append(errs, err_at(file, 1, 0, "document is empty"));
        return NULL;
    }
    const unsigned char *u = (const unsigned char *)data;
    pk_err *e = check_bom(u, len, file);
    if (!e) e = check_text(u, len, file);
    if (!e) e = check_declared_encoding(data, len, file);
    if (!e) e = check_no_dtd(data, len, file);
    if (!e) e = check_attribute_count(data, len, file);
    if (e) {
        pk_err_append(errs, e);
        return NULL;
    }

    xmlParserCtxt *ctxt = xmlNewParserCtxt();
    if (!ctxt) {
        pk_err_append(errs, err_at(file, 0, 0, "cannot create XML parser"));
        return NULL;
    }
    read_state st = { 0 };
    ctxt->_private = &st;
    ctxt->sax->serror = on_error;
    ctxt->sax->startElementNs = on_start_element;
    xmlSetGenericErrorFunc(NULL, silent);
    /* Not set, on purpose: XML_PARSE_NOENT (entity substitution),
     * XML_PARSE_DTDLOAD/DTDATTR/DTDVALID (DTD loading), XML_PARSE_XINCLUDE,
     * XML_PARSE_HUGE (libxml2's own size and amplification limits stay on). */
    int opts = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA |
               XML_PARSE_BIG_LINES;
    xmlDoc *doc = xmlCtxtReadMemory(ctxt, data, (int)len, file, "UTF-8", opts);
    xmlFreeParserCtxt(ctxt);

    if (st.deep_line)
        e = err_at(file, st.deep_line, 0, "elements nested deeper than %d levels", PK_XML_MAX_DEPTH);
    else if (st.many_line)
        e = err_at(file, st.many_line, 0, "document has more than %d elements", PK_XML_MAX_ELEMENTS);
    else if (st.error_msg)
        /* Namespace errors leave a document behind; still refuse it. */
        e = err_at(file, st.error_line, 0, "malformed XML: %s", st.error_msg);
    else if (!doc)
        e = err_at(file, 0, 0, "malformed XML");
    else if (doc->intSubset || doc->extSubset)
        e = err_at(file, 1, 0, "DOCTYPE declarations are not allowed");
    else if (!xmlDocGetRootElement(doc))
        e = err_at(file, 1, 0, "document has no root element");
    free(st.error_msg);
    if (e) {
        pk_err_append(errs, e);
        xmlFreeDoc(doc);
        return NULL;
    }
    return doc;
}

int pk_xml_slurp(const char *path, char **out, size_t *len, pk_err **err)
{
    /* O_NONBLOCK: opening a FIFO must not wait for a writer. It has no effect
     * on the regular files that get past the check below. */
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) return pk_fail_errno(err, errno, "cannot open '%s'", path);
    struct stat st;
    if (fstat(fd, &st) < 0) return pk_fail_errno(err, errno, "cannot stat '%s'", path);
    if (!S_ISREG(st.st_mode)) return pk_fail(err, "'%s' is not a regular file", path);
    if (st.st_size > PK_XML_MAX_BYTES)
        return pk_fail_at(err, path, 0, "document is %lld bytes, larger than the limit of %d bytes",
                          (long long)st.st_size, PK_XML_MAX_BYTES);
    /* A file that grows meanwhile is read up to the size fstat saw. */
    char *buf = pk_malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int saved = errno;
            free(buf);
            return pk_fail_errno(err, saved, "cannot read '%s'", path);
        }
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
