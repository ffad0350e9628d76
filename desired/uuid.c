/* UUIDs as libvirt reads and writes them (src/util/viruuid.c). */
#include "model.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/random.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* libvirt's liberal scan: surrounding white space, then exactly 32 hex
 * digits in pairs, with '-' or ' ' allowed anywhere between the pairs.
 * So both the 36-character form and bare 32 digits are accepted. */
int pk_uuid_parse(const char *s, unsigned char uuid[16])
{
    if (!s) return -1;
    unsigned char out[16];
    const char *cur = s;
    while (is_space(*cur)) cur++;
    for (size_t i = 0; i < 16;) {
        if (*cur == '-' || *cur == ' ') {
            cur++;
            continue;
        }
        int hi = hexval(*cur);
        if (hi < 0) return -1;
        int lo = hexval(cur[1]);
        if (lo < 0) return -1;
        out[i++] = (unsigned char)(hi * 16 + lo);
        cur += 2;
    }
    while (*cur) {
        if (!is_space(*cur)) return -1;
        cur++;
    }
    memcpy(uuid, out, 16);
    return 0;
}

void pk_uuid_format(const unsigned char uuid[16], char out[37])
{
    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             uuid[0], uuid[1], uuid[2], uuid[3], uuid[4], uuid[5], uuid[6], uuid[7],
             uuid[8], uuid[9], uuid[10], uuid[11], uuid[12], uuid[13], uuid[14], uuid[15]);
}

static bool read_urandom(unsigned char *buf, size_t len)
{
    _cleanup_close_ int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return false;
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        got += (size_t)r;
    }
    return true;
}

/* A random (version 4, RFC 4122 variant) UUID. Two pools must never share
 * one, so a machine without a working random source is a fatal condition,
 * like running out of memory, rather than an error to pass up. */
void pk_uuid_generate(unsigned char uuid[16])
{
    size_t got = 0;
    while (got < 16) {
        ssize_t r = getrandom(uuid + got, 16 - got, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) break;
        got += (size_t)r;
    }
    if (got < 16 && !read_urandom(uuid, 16)) {
        fputs("poolkeeper: fatal: no source of random bytes for a UUID\n", stderr);
        abort();
    }
    uuid[6] = (unsigned char)((uuid[6] & 0x0F) | 0x40);
    uuid[8] = (unsigned char)((uuid[8] & 0x3F) | 0x80);
}
