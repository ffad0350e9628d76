/* libvirt's unit suffixes for sizes: virScaleInteger with the number syntax
 * of virStrToLong_ullp, so that every size means here what it means to
 * libvirt (and what libvirt refuses is refused here). */
#include "units.h"
#include <ctype.h>
#include <errno.h>
#include <strings.h>

/* The multiplier of `unit`, or 0 if libvirt does not know the suffix.
 * Bytes: "", b, byte, bytes. Otherwise a letter k m g t p e, alone or with
 * "iB" (powers of 1024), or with "B" (powers of 1000); all case-insensitive,
 * so "kb" is 1000 and "K" is 1024, as virScaleInteger decides. */
static uint64_t unit_scale(const char *unit)
{
    if (!unit || !*unit || strcasecmp(unit, "b") == 0 || strcasecmp(unit, "byte") == 0 ||
        strcasecmp(unit, "bytes") == 0)
        return 1;
    uint64_t base;
    if (!unit[1] || strcasecmp(unit + 1, "iB") == 0)
        base = 1024;
    else if (tolower((unsigned char)unit[1]) == 'b' && !unit[2])
        base = 1000;
    else
        return 0;
    const char *letters = "kmgtpe";
    const char *at = strchr(letters, tolower((unsigned char)unit[0]));
    if (!at) return 0;
    uint64_t scale = base;
    for (const char *l = letters; l < at; l++) scale *= base;
    return scale;
}

/* virStrToLong_ullp: strtoull in base 10 over the whole string. Leading
 * white space and '+' pass (strtoull skips them); any '-' is refused
 * rather than wrapped around; nothing may follow the digits. */
static int parse_count(const char *value, uint64_t *out, char **msg)
{
    if (!value || !*value) {
        *msg = pk_strdup("missing value");
        return -1;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(value, &end, 10);
    if (end == value || *end) {
        *msg = pk_asprintf("malformed value '%s': expected a non-negative integer", value);
        return -1;
    }
    if (memchr(value, '-', (size_t)(end - value))) {
        *msg = pk_asprintf("negative value '%s' is not allowed", value);
        return -1;
    }
    if (errno == ERANGE) {
        *msg = pk_asprintf("value '%s' is too large", value);
        return -1;
    }
    *out = v;
    return 0;
}

int pk_scale_integer_max(const char *value, const char *unit, uint64_t max, uint64_t *out, char **msg)
{
    *msg = NULL;
    uint64_t n;
    if (parse_count(value, &n, msg) < 0) return -1;
    uint64_t scale = unit_scale(unit);
    if (!scale) {
        *msg = pk_asprintf("unknown unit '%s'", unit);
        return -1;
    }
    if (n && n > max / scale) {
        if (unit && *unit)
            *msg = pk_asprintf("value '%s' in unit '%s' is too large (at most %llu bytes)", value, unit,
                               (unsigned long long)max);
        else
            *msg = pk_asprintf("value '%s' is too large (at most %llu bytes)", value, (unsigned long long)max);
        return -1;
    }
    *out = n * scale;
    return 0;
}

int pk_scale_integer(const char *value, const char *unit, uint64_t *out, char **msg)
{
    return pk_scale_integer_max(value, unit, UINT64_MAX, out, msg);
}
