/* Growable, always NUL-terminated string buffer. */
#include "pk.h"

static void grow(pk_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) cap *= 2;
    b->s = pk_realloc(b->s, cap);
    b->cap = cap;
}

void pk_buf_addn(pk_buf *b, const char *s, size_t n)
{
    grow(b, n);
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void pk_buf_add(pk_buf *b, const char *s)
{
    if (s) pk_buf_addn(b, s, strlen(s));
}

void pk_buf_addc(pk_buf *b, char c)
{
    pk_buf_addn(b, &c, 1);
}

void pk_buf_vaddf(pk_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) return;
    grow(b, (size_t)n);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void pk_buf_addf(pk_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pk_buf_vaddf(b, fmt, ap);
    va_end(ap);
}

void pk_buf_indent(pk_buf *b, int n)
{
    for (int i = 0; i < n; i++) pk_buf_addc(b, ' ');
}

static void add_escaped(pk_buf *b, const char *s, bool attr)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': pk_buf_add(b, "&lt;"); break;
        case '>': pk_buf_add(b, "&gt;"); break;
        case '&': pk_buf_add(b, "&amp;"); break;
        case '\'': if (attr) pk_buf_add(b, "&apos;"); else pk_buf_addc(b, *s); break;
        case '"': if (attr) pk_buf_add(b, "&quot;"); else pk_buf_addc(b, *s); break;
        default: pk_buf_addc(b, *s);
        }
    }
}

void pk_buf_add_xml_attr(pk_buf *b, const char *s) { add_escaped(b, s, true); }
void pk_buf_add_xml_text(pk_buf *b, const char *s) { add_escaped(b, s, false); }

void pk_buf_add_json_str(pk_buf *b, const char *s)
{
    pk_buf_addc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        switch (*p) {
        case '"': pk_buf_add(b, "\\\""); break;
        case '\\': pk_buf_add(b, "\\\\"); break;
        case '\n': pk_buf_add(b, "\\n"); break;
        case '\r': pk_buf_add(b, "\\r"); break;
        case '\t': pk_buf_add(b, "\\t"); break;
        default:
            if (*p < 0x20)
                pk_buf_addf(b, "\\u%04x", *p);
            else
                pk_buf_addc(b, (char)*p);
        }
    }
    pk_buf_addc(b, '"');
}

const char *pk_buf_str(const pk_buf *b) { return b->s ? b->s : ""; }

char *pk_buf_steal(pk_buf *b)
{
    char *s = b->s ? b->s : pk_strdup("");
    b->s = NULL;
    b->len = b->cap = 0;
    return s;
}

void pk_buf_reset(pk_buf *b)
{
    b->len = 0;
    if (b->s) b->s[0] = '\0';
}

void pk_buf_free(pk_buf *b)
{
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}
