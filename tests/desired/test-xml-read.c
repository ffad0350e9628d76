/* pk_xml_read and pk_xml_slurp on hostile input: every refusal names the
 * file and line, nothing is fetched, expanded or included, nothing hangs. */
#include "../tap.h"
#include "../../desired/model.h"
#include "../../desired/xml.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

/* Read `data` and expect a refusal whose printed form contains `want`. */
static void refused(const char *data, size_t len, const char *want, const char *what)
{
    pk_err *errs = NULL;
    xmlDoc *doc = pk_xml_read(data, len, "t.xml", &errs);
    _cleanup_free_ char *s = errs ? pk_err_str(errs) : NULL;
    bool ok = !doc && errs && pk_err_count(errs) == 1 && s && strstr(s, want);
    tap_ok(ok, "refused: %s", what);
    if (!ok) tap_diag("  got: %s\n  expected to contain: %s", s ? s : "(no error)", want);
    xmlFreeDoc(doc);
    pk_err_free(errs);
}

static void refused_str(const char *data, const char *want, const char *what)
{
    refused(data, strlen(data), want, what);
}

static xmlDoc *accepted(const char *data, size_t len, const char *what)
{
    pk_err *errs = NULL;
    xmlDoc *doc = pk_xml_read(data, len, "t.xml", &errs);
    tap_ok(doc && !errs, "accepted: %s", what);
    if (errs) {
        _cleanup_free_ char *s = pk_err_str(errs);
        tap_diag("  error: %s", s);
    }
    pk_err_free(errs);
    return doc;
}

static xmlDoc *accepted_str(const char *data, const char *what)
{
    return accepted(data, strlen(data), what);
}

static char *repeat(const char *s, size_t n)
{
    pk_buf b = PK_BUF_INIT;
    for (size_t i = 0; i < n; i++) pk_buf_add(&b, s);
    return pk_buf_steal(&b);
}

/* Nested <a> elements, depth deep, then text. */
static char *nested(size_t depth)
{
    pk_buf b = PK_BUF_INIT;
    for (size_t i = 0; i < depth; i++) pk_buf_add(&b, "<a>");
    pk_buf_add(&b, "x");
    for (size_t i = 0; i < depth; i++) pk_buf_add(&b, "</a>");
    return pk_buf_steal(&b);
}

static void test_bytes(void)
{
    refused("<pool>\n<name>a\0b</name></pool>", 29, "t.xml:2:8: error: document contains a NUL byte", "NUL byte");
    refused_str("<pool>\n\n<name>a\x01</name></pool>", "t.xml:3:8: error: document contains control character U+0001",
                "control character");
    refused_str("<pool><name>\x1b[31m</name></pool>", "control character U+001B", "terminal escape");
    refused_str("<pool>\n<name>caf\xe9</name></pool>", "t.xml:2:10: error: document is not valid UTF-8 (byte 0xE9)",
                "Latin-1 byte");
    refused_str("<pool><name>\xc0\xbc</name></pool>", "overlong encoding of U+003C", "overlong '<'");
    refused_str("<pool><name>\xed\xa0\x80</name></pool>", "U+D800 is not a character", "UTF-16 surrogate");
    refused_str("<pool><name>\xf4\x90\x80\x80</name></pool>", "U+110000 is not a character", "beyond U+10FFFF");
    refused_str("<pool><name>\xe2\x82</name></pool>", "not valid UTF-8 (byte 0xE2)", "cut sequence");
    refused_str("<pool/>\xe2\x82", "document ends in the middle of a UTF-8 sequence", "cut at the end");
    refused("\xff\xfe<\0p\0o\0o\0l\0/\0>\0", 16, "t.xml:1: error: document is UTF-16 (it starts with a byte order mark)",
            "UTF-16LE with BOM");
    refused("\xfe\xff\0<\0p\0o\0o\0l\0/\0>", 16, "document is UTF-16", "UTF-16BE with BOM");
    refused("<\0p\0o\0o\0l\0/\0>\0", 14, "document looks like UTF-16", "UTF-16LE without BOM");
    refused("\xff\xfe\0\0<\0\0\0", 8, "document is UTF-32", "UTF-32LE with BOM");
    xmlFreeDoc(accepted("\xef\xbb\xbf<pool/>", 10, "UTF-8 byte order mark"));
    xmlFreeDoc(accepted_str("<pool>\t<name>r\xc3\xa9sum\xc3\xa9 \xe2\x82\xac \xf0\x9f\x92\xbe</name>\r\n</pool>",
                            "tab, CR, 2-, 3- and 4-byte UTF-8"));
    refused_str("", "t.xml:1: error: document is empty", "empty");
    refused_str(" \n\t\n", "t.xml:1: error: document is empty", "only blanks");
}

static void test_encoding_declaration(void)
{
    refused_str("<?xml version='1.0' encoding='ISO-8859-1'?>\n<pool/>",
                "t.xml:1: error: XML declaration names encoding 'ISO-8859-1'; documents must be UTF-8", "ISO-8859-1");
    refused_str("<?xml version=\"1.0\"\n  encoding = \"UTF-16\" ?><pool/>", "t.xml:2: error: XML declaration names encoding 'UTF-16'",
                "UTF-16 declared, spaces around '='");
    refused_str("<?xml version='1.0' encoding='ASCII'?><pool><name>\xc3\xa9</name></pool>",
                "declares encoding 'ASCII' but contains non-ASCII characters", "ASCII declared, not true");
    xmlFreeDoc(accepted_str("<?xml version='1.0' encoding='utf-8'?><pool/>", "utf-8 (any case)"));
    xmlFreeDoc(accepted_str("<?xml version=\"1.0\" encoding=\"US-ASCII\"?><pool/>", "US-ASCII when true"));
    xmlFreeDoc(accepted_str("<?xml version='1.0'?><pool/>", "declaration without encoding"));
    refused_str("<?xml version='1.0' encoding='EBCDIC'", "malformed XML", "unterminated declaration");
}

static void test_dtd_and_entities(void)
{
    /* Billion laughs: ten levels of ten-fold expansion. */
    pk_buf b = PK_BUF_INIT;
    pk_buf_add(&b, "<?xml version='1.0'?>\n<!DOCTYPE pool [\n <!ENTITY l0 'lol'>\n");
    for (int i = 1; i < 10; i++) {
        pk_buf_addf(&b, " <!ENTITY l%d '", i);
        for (int k = 0; k < 10; k++) pk_buf_addf(&b, "&l%d;", i - 1);
        pk_buf_add(&b, "'>\n");
    }
    pk_buf_add(&b, "]>\n<pool><name>&l9;</name></pool>\n");
    refused(b.s, b.len, "t.xml:2: error: DOCTYPE declarations are not allowed", "billion laughs");
    pk_buf_free(&b);

    refused_str("<!DOCTYPE pool SYSTEM 'http://127.0.0.1:9/evil.dtd'><pool/>", "DOCTYPE declarations are not allowed",
                "external DTD");
    refused_str("<?xml version='1.0'?>\n<!DOCTYPE pool [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>\n<pool><name>&x;</name></pool>",
                "t.xml:2: error: DOCTYPE", "external entity");
    refused_str("<!DOCTYPE p [<!ENTITY % pe SYSTEM 'file:///etc/passwd'> %pe;]><pool/>", "DOCTYPE", "parameter entity");
    refused_str("<pool>\n<!-- <!DOCTYPE x> --></pool>", "t.xml:2: error: DOCTYPE declarations are not allowed",
                "DOCTYPE in a comment is refused too");
    refused_str("<pool>\n<!-- x -->\n<!ENTITY a 'b'></pool>", "t.xml:3: error: entity declarations are not allowed",
                "stray entity declaration (line of it, not of the comment)");
    refused_str("<pool><name>&xxe;</name></pool>", "t.xml:1: error: malformed XML: Entity 'xxe' not defined",
                "undeclared entity");
    refused_str("<pool><name>&#0;</name></pool>", "malformed XML: xmlParseCharRef: invalid xmlChar value 0",
                "character reference to NUL");
    refused_str("<pool><name>&#x1B;</name></pool>", "malformed XML", "character reference to ESC");

    /* Predefined entities and character references are plain text. */
    pk_err *errs = NULL;
    xmlDoc *doc = pk_xml_read("<pool><name>&lt;a&amp;b&#x41;&gt;</name></pool>", 47, "t.xml", &errs);
    _cleanup_free_ char *name = doc ? pk_xml_child_text(xmlDocGetRootElement(doc), "name") : NULL;
    tap_is_str(name, "<a&bA>", "predefined entities and character references are expanded");
    xmlFreeDoc(doc);
    pk_err_free(errs);
}

/* Things libxml2 could be asked to do but is not: fetch, include, transform. */
static void test_no_side_effects(void)
{
    const char *xi = "<pool xmlns:xi='http://www.w3.org/2001/XInclude'>"
                     "<name><xi:include href='/etc/passwd' parse='text'/></name></pool>";
    xmlDoc *doc = accepted(xi, strlen(xi), "XInclude is an ordinary element");
    xmlNode *name = doc ? pk_xml_child(xmlDocGetRootElement(doc), "name") : NULL;
    xmlNode *inc = name ? name->children : NULL;
    tap_ok(inc && inc->type == XML_ELEMENT_NODE && pk_streq((const char *)inc->name, "include"),
           "XInclude not processed: <xi:include> is still there");
    _cleanup_free_ char *text = pk_xml_text(name);
    tap_ok(!text, "nothing was included from /etc/passwd");
    xmlFreeDoc(doc);

    const char *pi = "<?xml-stylesheet type='text/xsl' href='http://127.0.0.1:9/x.xsl'?>\n<pool><name>p</name></pool>";
    doc = accepted(pi, strlen(pi), "xml-stylesheet processing instruction is inert");
    _cleanup_free_ char *n = doc ? pk_xml_child_text(xmlDocGetRootElement(doc), "name") : NULL;
    tap_is_str(n, "p", "document read as if the PI were not there");
    xmlFreeDoc(doc);

    refused_str("<pool><x:name>a</x:name></pool>", "malformed XML: Namespace prefix x on name is not defined",
                "undeclared namespace prefix");
}

static void test_malformed(void)
{
    refused_str("<pool>\n<name>x</pool>", "t.xml:2: error: malformed XML: Opening and ending tag mismatch: name line 2 and pool",
                "first error is reported, not a follow-up");
    refused_str("<pool a='1' a='2'/>", "malformed XML: Attribute a redefined", "duplicate attribute");
    refused_str("<pool/><pool/>", "malformed XML: Extra content at the end of the document", "two roots");
    refused_str("<pool>]]></pool>", "malformed XML: Sequence ']]>' not allowed in content", "stray ]]>");
    refused_str("  <?xml version='1.0'?><pool/>", "malformed XML", "declaration not at the start");
    refused_str("<!-- only a comment -->", "malformed XML", "no root element");
    xmlFreeDoc(accepted_str("<pool><name><![CDATA[a<b]]></name></pool>", "CDATA section"));
}

static void test_limits(void)
{
    char *deep = nested(PK_XML_MAX_DEPTH);
    xmlDoc *doc = accepted(deep, strlen(deep), "nesting exactly at the limit");
    xmlFreeDoc(doc);
    free(deep);

    deep = nested(PK_XML_MAX_DEPTH + 1);
    refused(deep, strlen(deep), "t.xml:1: error: elements nested deeper than 64 levels", "one level too deep");
    free(deep);

    /* A million levels would take libxml2 a while to build and free; the
     * parse stops at the limit instead. Also below 1 MiB on purpose. */
    char *opening = repeat("<a>\n", 200000);
    refused(opening, strlen(opening), "t.xml:65: error: elements nested deeper than 64 levels",
            "200000 levels stopped at the limit, with its line");
    free(opening);

    char *big = pk_malloc(PK_XML_MAX_BYTES + 2);
    memset(big, ' ', PK_XML_MAX_BYTES + 1);
    memcpy(big, "<pool/>", 7);
    refused(big, PK_XML_MAX_BYTES + 1, "t.xml: error: document is 1048577 bytes, larger than the limit of 1048576 bytes",
            "over the size limit");
    xmlFreeDoc(accepted(big, PK_XML_MAX_BYTES, "exactly at the size limit"));
    free(big);

    /* Line numbers past 65535 stay exact (libxml2 caps them without BIG_LINES). */
    pk_buf b = PK_BUF_INIT;
    pk_buf_add(&b, "<pool>");
    for (int i = 0; i < 70000; i++) pk_buf_add(&b, "\n");
    pk_buf_add(&b, "<name>x</nme></pool>");
    refused(b.s, b.len, "t.xml:70001: error: malformed XML", "error line past 65535");
    pk_buf_reset(&b);
    pk_buf_add(&b, "<pool>");
    for (int i = 0; i < 70000; i++) pk_buf_add(&b, "\n");
    pk_buf_add(&b, "<name>x</name></pool>");
    doc = accepted(b.s, b.len, "70000 lines");
    xmlNode *name = doc ? pk_xml_child(xmlDocGetRootElement(doc), "name") : NULL;
    tap_is_int(name ? pk_xml_line(name) : 0, 70001, "pk_xml_line past 65535 is exact");
    xmlFreeDoc(doc);
    pk_buf_free(&b);

    /* libxml2 checks attributes for duplicates pairwise: count them first. */
    pk_buf_reset(&b);
    pk_buf_add(&b, "<pool>\n<name");
    for (int i = 0; i < PK_XML_MAX_ATTRS; i++) pk_buf_addf(&b, " a%d='='", i);
    pk_buf_add(&b, ">x</name><!-- = = = --><![CDATA[ = = ]]><?pi a=b c=d?></pool>");
    xmlFreeDoc(accepted(b.s, b.len, "256 attributes; '=' in values, comments, CDATA and PIs not counted"));
    pk_buf_reset(&b);
    pk_buf_add(&b, "<pool>\n<name");
    for (int i = 0; i <= PK_XML_MAX_ATTRS; i++) pk_buf_addf(&b, "\n a%d='>'", i);
    pk_buf_add(&b, ">x</name></pool>");
    refused(b.s, b.len, "t.xml:2: error: element has 257 attributes, more than the limit of 256", "257 attributes");
    pk_buf_reset(&b);
    pk_buf_add(&b, "<pool");
    int n_attrs = 0;
    while (b.len < PK_XML_MAX_BYTES - 16) pk_buf_addf(&b, " a%x=''", n_attrs++);
    pk_buf_add(&b, "/>");
    _cleanup_free_ char *want = pk_asprintf("t.xml:1: error: element has %d attributes", n_attrs);
    int64_t t0 = pk_monotonic_ms();
    refused(b.s, b.len, want, "a megabyte of attributes");
    tap_ok(pk_monotonic_ms() - t0 < 10000, "refused without parsing them (%lld ms)", (long long)(pk_monotonic_ms() - t0));
    pk_buf_free(&b);

    /* The model does some work per element: their number is bounded too.
     * <pool> and <source> count, so 9998 hosts reach the limit exactly. */
    char *wide = repeat("<host name='h'/>", PK_XML_MAX_ELEMENTS - 2);
    _cleanup_free_ char *doc_text = pk_asprintf("<pool><source>%s</source></pool>", wide);
    doc = accepted(doc_text, strlen(doc_text), "10000 elements");
    tap_is_int(doc ? (long long)pk_xml_count(pk_xml_child(xmlDocGetRootElement(doc), "source"), "host") : -1,
               PK_XML_MAX_ELEMENTS - 2, "all siblings kept");
    xmlFreeDoc(doc);
    free(wide);
    wide = repeat("<host name='h'/>\n", 60000);
    _cleanup_free_ char *many = pk_asprintf("<pool><source>\n%s</source></pool>", wide);
    refused(many, strlen(many), "t.xml:10000: error: document has more than 10000 elements", "60000 elements");
    free(wide);
}

static void test_slurp(void)
{
    _cleanup_free_ char *tmp = tap_tmpdir("xmlread");
    char *data = NULL;
    size_t len = 0;
    pk_err *err = NULL;

    _cleanup_free_ char *fifo = pk_asprintf("%s/fifo.xml", tmp);
    tap_ok(mkfifo(fifo, 0600) == 0, "made a FIFO");
    int rc = pk_xml_slurp(fifo, &data, &len, &err);
    _cleanup_free_ char *s = err ? pk_err_str(err) : NULL;
    tap_ok(rc < 0 && s && strstr(s, "is not a regular file"), "a FIFO is refused without waiting for a writer");
    pk_err_free(err);
    err = NULL;

    rc = pk_xml_slurp(tmp, &data, &len, &err);
    tap_ok(rc < 0 && err, "a directory is refused");
    pk_err_free(err);
    err = NULL;

    _cleanup_free_ char *missing = pk_asprintf("%s/missing.xml", tmp);
    rc = pk_xml_slurp(missing, &data, &len, &err);
    tap_ok(rc < 0 && err && err->errnum == ENOENT, "a missing file is refused with ENOENT");
    pk_err_free(err);
    err = NULL;

    _cleanup_free_ char *huge = pk_asprintf("%s/huge.xml", tmp);
    int fd = open(huge, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    tap_ok(fd >= 0 && ftruncate(fd, 64 * 1024 * 1024) == 0, "made a 64 MiB sparse file");
    if (fd >= 0) close(fd);
    rc = pk_xml_slurp(huge, &data, &len, &err);
    _cleanup_free_ char *hs = err ? pk_err_str(err) : NULL;
    _cleanup_free_ char *want = pk_asprintf("%s: error: document is 67108864 bytes, larger than the limit", huge);
    tap_ok(rc < 0 && hs && strstr(hs, want), "an oversized file is refused before it is read");
    if (hs && !strstr(hs, want)) tap_diag("got: %s", hs);
    pk_err_free(err);
    err = NULL;

    _cleanup_free_ char *ok = pk_asprintf("%s/ok.xml", tmp);
    fd = open(ok, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    tap_ok(fd >= 0 && write(fd, "<pool/>\n", 8) == 8, "wrote a small file");
    if (fd >= 0) close(fd);
    rc = pk_xml_slurp(ok, &data, &len, &err);
    tap_ok(rc == 0 && len == 8 && data && strcmp(data, "<pool/>\n") == 0, "a small file is read whole, NUL-terminated");
    free(data);
    pk_err_free(err);
}

int main(void)
{
    test_bytes();
    test_encoding_declaration();
    test_dtd_and_entities();
    test_no_side_effects();
    test_malformed();
    test_limits();
    test_slurp();
    return tap_done();
}
