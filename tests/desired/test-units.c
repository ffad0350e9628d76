/* Units of sizes: libvirt's virScaleInteger rules, boundaries and errors. */
#include "../tap.h"
#include "../../desired/units.h"

typedef struct {
    const char *value, *unit;
    const char *want;       /* decimal result, or NULL when an error is expected */
    const char *msg;        /* expected error text */
} unit_case;

static const unit_case cases[] = {
    /* bytes: no unit, empty unit and the byte spellings */
    { "0", NULL, "0", NULL },
    { "42", "", "42", NULL },
    { "42", "b", "42", NULL },
    { "42", "B", "42", NULL },
    { "42", "byte", "42", NULL },
    { "42", "Bytes", "42", NULL },
    { "42", "BYTES", "42", NULL },
    { "18446744073709551615", NULL, "18446744073709551615", NULL },
    { "18446744073709551615", "bytes", "18446744073709551615", NULL },
    /* one letter and "iB" are powers of 1024, "B" after the letter powers of 1000 */
    { "1", "k", "1024", NULL },
    { "1", "K", "1024", NULL },
    { "1", "KiB", "1024", NULL },
    { "1", "kib", "1024", NULL },
    { "1", "KIB", "1024", NULL },
    { "1", "KB", "1000", NULL },
    { "1", "kb", "1000", NULL },
    { "1", "kB", "1000", NULL },
    { "3", "M", "3145728", NULL },
    { "3", "MiB", "3145728", NULL },
    { "3", "MB", "3000000", NULL },
    { "5", "G", "5368709120", NULL },
    { "5", "GiB", "5368709120", NULL },
    { "10", "GB", "10000000000", NULL },
    { "1", "T", "1099511627776", NULL },
    { "1", "TiB", "1099511627776", NULL },
    { "1", "TB", "1000000000000", NULL },
    { "2", "P", "2251799813685248", NULL },
    { "2", "PiB", "2251799813685248", NULL },
    { "2", "PB", "2000000000000000", NULL },
    { "1", "E", "1152921504606846976", NULL },
    { "1", "EiB", "1152921504606846976", NULL },
    { "1", "EB", "1000000000000000000", NULL },
    { "0", "EiB", "0", NULL },
    /* overflow of value * scale at every unit: the largest value that fits, and one more */
    { "18014398509481983", "KiB", "18446744073709550592", NULL },
    { "18014398509481984", "KiB", NULL, "value '18014398509481984' in unit 'KiB' is too large (at most 18446744073709551615 bytes)" },
    { "18446744073709551", "KB", "18446744073709551000", NULL },
    { "18446744073709552", "KB", NULL, "value '18446744073709552' in unit 'KB' is too large (at most 18446744073709551615 bytes)" },
    { "17592186044415", "MiB", "18446744073708503040", NULL },
    { "17592186044416", "MiB", NULL, "value '17592186044416' in unit 'MiB' is too large (at most 18446744073709551615 bytes)" },
    { "18446744073709", "MB", "18446744073709000000", NULL },
    { "18446744073710", "MB", NULL, "value '18446744073710' in unit 'MB' is too large (at most 18446744073709551615 bytes)" },
    { "17179869183", "GiB", "18446744072635809792", NULL },
    { "17179869184", "G", NULL, "value '17179869184' in unit 'G' is too large (at most 18446744073709551615 bytes)" },
    { "18446744073", "GB", "18446744073000000000", NULL },
    { "18446744074", "GB", NULL, "value '18446744074' in unit 'GB' is too large (at most 18446744073709551615 bytes)" },
    { "16777215", "TiB", "18446742974197923840", NULL },
    { "16777216", "TiB", NULL, "value '16777216' in unit 'TiB' is too large (at most 18446744073709551615 bytes)" },
    { "18446744", "TB", "18446744000000000000", NULL },
    { "18446745", "TB", NULL, "value '18446745' in unit 'TB' is too large (at most 18446744073709551615 bytes)" },
    { "16383", "PiB", "18445618173802708992", NULL },
    { "16384", "P", NULL, "value '16384' in unit 'P' is too large (at most 18446744073709551615 bytes)" },
    { "18446", "PB", "18446000000000000000", NULL },
    { "18447", "PB", NULL, "value '18447' in unit 'PB' is too large (at most 18446744073709551615 bytes)" },
    { "15", "EiB", "17293822569102704640", NULL },
    { "16", "EiB", NULL, "value '16' in unit 'EiB' is too large (at most 18446744073709551615 bytes)" },
    { "18", "EB", "18000000000000000000", NULL },
    { "19", "EB", NULL, "value '19' in unit 'EB' is too large (at most 18446744073709551615 bytes)" },
    /* the number itself (virStrToLong_ullp): leading blanks and '+' pass, nothing else */
    { "18446744073709551616", NULL, NULL, "value '18446744073709551616' is too large" },
    { " 7", "KiB", "7168", NULL },
    { "+7", NULL, "7", NULL },
    { "007", NULL, "7", NULL },
    { "-1", NULL, NULL, "negative value '-1' is not allowed" },
    { "-0", "KiB", NULL, "negative value '-0' is not allowed" },
    { "7 ", NULL, NULL, "malformed value '7 ': expected a non-negative integer" },
    { "1.5", "GiB", NULL, "malformed value '1.5': expected a non-negative integer" },
    { "0x10", NULL, NULL, "malformed value '0x10': expected a non-negative integer" },
    { "ten", NULL, NULL, "malformed value 'ten': expected a non-negative integer" },
    { "", NULL, NULL, "missing value" },
    { NULL, "KiB", NULL, "missing value" },
    /* units libvirt does not know */
    { "1", "X", NULL, "unknown unit 'X'" },
    { "1", "KiBytes", NULL, "unknown unit 'KiBytes'" },
    { "1", "iB", NULL, "unknown unit 'iB'" },
    { "1", "Ki", NULL, "unknown unit 'Ki'" },
    { "1", " GiB", NULL, "unknown unit ' GiB'" },
    { "1", "GiB ", NULL, "unknown unit 'GiB '" },
    { "1", "ZiB", NULL, "unknown unit 'ZiB'" },
    { "1", "kbb", NULL, "unknown unit 'kbb'" },
};

static void run_case(const unit_case *c)
{
    uint64_t got = 12345;
    char *msg = NULL;
    int rc = pk_scale_integer(c->value, c->unit, &got, &msg);
    const char *v = c->value ? c->value : "(null)";
    const char *u = c->unit ? c->unit : "(null)";
    if (c->want) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%llu", (unsigned long long)got);
        if (tap_is_int(rc, 0, "'%s' unit '%s' accepted", v, u))
            tap_is_str(buf, c->want, "'%s' unit '%s' = %s", v, u, c->want);
        else
            tap_diag("message: %s", msg ? msg : "(none)");
    } else {
        tap_is_int(rc, -1, "'%s' unit '%s' refused", v, u);
        tap_is_str(msg, c->msg, "'%s' unit '%s' message", v, u);
        tap_is_int((long long)got, 12345, "'%s' unit '%s' leaves the output alone", v, u);
    }
    free(msg);
}

/* Volume sizes stop at INT64_MAX, as libvirt's virStorageSize (off_t is signed). */
static void test_int64_limit(void)
{
    static const struct { const char *value, *unit, *want; } lim[] = {
        { "9223372036854775807", NULL, "9223372036854775807" },
        { "9223372036854775808", NULL, NULL },
        { "9007199254740991", "KiB", "9223372036854774784" },
        { "9007199254740992", "KiB", NULL },
        { "8388607", "TiB", "9223370937343148032" },
        { "8388608", "T", NULL },
        { "7", "EiB", "8070450532247928832" },
        { "8", "EiB", NULL },
    };
    for (size_t i = 0; i < PK_NELEM(lim); i++) {
        uint64_t got = 0;
        char *msg = NULL;
        int rc = pk_scale_integer_max(lim[i].value, lim[i].unit, INT64_MAX, &got, &msg);
        if (lim[i].want) {
            char buf[32];
            snprintf(buf, sizeof(buf), "%llu", (unsigned long long)got);
            tap_ok(rc == 0 && strcmp(buf, lim[i].want) == 0, "int64 limit: %s %s fits", lim[i].value,
                   lim[i].unit ? lim[i].unit : "bytes");
        } else {
            tap_ok(rc == -1 && msg && strstr(msg, "is too large (at most 9223372036854775807 bytes)"),
                   "int64 limit: %s %s refused: %s", lim[i].value, lim[i].unit ? lim[i].unit : "bytes",
                   msg ? msg : "(no message)");
        }
        free(msg);
    }
}

int main(void)
{
    for (size_t i = 0; i < PK_NELEM(cases); i++) run_case(&cases[i]);
    test_int64_limit();
    return tap_done();
}
