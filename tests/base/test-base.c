/* The base layer: errors, buffers, numbers. */
#include "../tap.h"

static void test_errors(void)
{
    pk_err *e = NULL;
    tap_is_int(pk_fail_at(&e, "pools/a.xml", 7, "<capacity unit='%s'>: unknown unit '%s'", "X", "X"), -1,
               "pk_fail_at returns -1");
    _cleanup_free_ char *s = pk_err_str(e);
    tap_is_str(s, "pools/a.xml:7: error: <capacity unit='X'>: unknown unit 'X'", "located error text");
    pk_wrap(&e, "loading repository");
    _cleanup_free_ char *w = pk_err_str(e);
    tap_is_str(w, "pools/a.xml:7: error: loading repository: <capacity unit='X'>: unknown unit 'X'",
               "wrapped error keeps the location first and the cause after");
    pk_err_free(e);

    pk_err *list = NULL;
    pk_err_append(&list, pk_err_new("a", 1, 0, "one"));
    pk_err_append(&list, pk_err_new("b", 2, 0, "two"));
    tap_is_int((long long)pk_err_count(list), 2, "error list counts siblings");
    pk_err_free(list);

    pk_err *first = NULL;
    pk_fail(&first, "first");
    pk_fail(&first, "second");
    tap_is_str(first->msg, "first", "the first failure is kept, later ones dropped");
    pk_err_free(first);

    pk_err *en = NULL;
    pk_fail_errno(&en, 2, "cannot open '%s'", "x");
    _cleanup_free_ char *es = pk_err_str(en);
    tap_ok(strstr(es, "cannot open 'x': No such file") != NULL, "errno text appended: %s", es);
    pk_err_free(en);
}

static void test_buf(void)
{
    pk_buf b = PK_BUF_INIT;
    tap_is_str(pk_buf_str(&b), "", "empty buffer is \"\"");
    for (int i = 0; i < 1000; i++) pk_buf_addf(&b, "%d,", i);
    tap_ok(b.len > 3000 && pk_str_has_suffix(b.s, "999,"), "buffer grows");
    pk_buf_reset(&b);
    pk_buf_add_xml_attr(&b, "<a & 'b' \"c\">");
    tap_is_str(pk_buf_str(&b), "&lt;a &amp; &apos;b&apos; &quot;c&quot;&gt;", "xml attribute escaping");
    pk_buf_reset(&b);
    pk_buf_add_json_str(&b, "a\"b\\\n\x01");
    tap_is_str(pk_buf_str(&b), "\"a\\\"b\\\\\\n\\u0001\"", "json string escaping");
    pk_buf_free(&b);
}

static void test_numbers(void)
{
    uint64_t v = 0;
    tap_ok(pk_parse_u64("18446744073709551615", 10, &v) == 0 && v == UINT64_MAX, "u64 max parses");
    tap_ok(pk_parse_u64("18446744073709551616", 10, &v) < 0, "u64 overflow rejected");
    tap_ok(pk_parse_u64("-1", 10, &v) < 0, "negative rejected");
    tap_ok(pk_parse_u64("12x", 10, &v) < 0, "trailing garbage rejected");
    tap_ok(pk_parse_u64("", 10, &v) < 0, "empty rejected");
    tap_ok(pk_parse_u64("0755", 8, &v) == 0 && v == 0755, "octal");
    _cleanup_free_ char *h1 = pk_human_bytes(10ULL << 30);
    tap_is_str(h1, "10 GiB", "human bytes whole unit");
    _cleanup_free_ char *h2 = pk_human_bytes(1536);
    tap_is_str(h2, "1.5 KiB", "human bytes fraction");
    _cleanup_free_ char *h3 = pk_human_bytes(1000);
    tap_is_str(h3, "1000 B", "human bytes small");
}

int main(void)
{
    test_errors();
    test_buf();
    test_numbers();
    return tap_done();
}
