/* Numbers, tristates and time. */
#include "pk.h"
#include <ctype.h>
#include <errno.h>
#include <time.h>

PK_ENUM_IMPL(pk_tristate, PK_TRI_LAST, "default", "yes", "no")

int pk_parse_u64(const char *s, int base, uint64_t *out)
{
    if (!s || !*s || isspace((unsigned char)*s) || *s == '-' || *s == '+') return -1;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, base);
    if (errno || end == s || *end) return -1;
    *out = v;
    return 0;
}

int pk_parse_int(const char *s, int base, int *out)
{
    if (!s || !*s || isspace((unsigned char)*s)) return -1;
    errno = 0;
    char *end = NULL;
    long v = strtol(s, &end, base);
    if (errno || end == s || *end || v < INT32_MIN || v > INT32_MAX) return -1;
    *out = (int)v;
    return 0;
}

char *pk_human_bytes(uint64_t bytes)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
    int u = 0;
    uint64_t v = bytes;
    while (u < 6 && v >= 1024 && v % 1024 == 0) {
        v /= 1024;
        u++;
    }
    if (v < 1024 || u == 6)
        return pk_asprintf("%llu %s", (unsigned long long)v, units[u]);
    /* Not a whole number of the next unit: show one decimal of the best unit. */
    double d = (double)bytes;
    u = 0;
    while (u < 6 && d >= 1024) {
        d /= 1024;
        u++;
    }
    return pk_asprintf("%.1f %s", d, units[u]);
}

int64_t pk_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t pk_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *pk_format_time(int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[32];
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return pk_strdup(buf);
}

void pk_fnv(uint64_t *h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        *h ^= c[i];
        *h *= 1099511628211ULL;
    }
}

void pk_fnv_str(uint64_t *h, const char *s)
{
    if (s) pk_fnv(h, s, strlen(s) + 1);
    else pk_fnv(h, "\xff", 1);
}

void pk_fnv_u64(uint64_t *h, uint64_t v)
{
    pk_fnv(h, &v, sizeof(v));
}
