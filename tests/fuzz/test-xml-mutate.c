/* Deterministic mutation fuzzing of the pool and volume parsers: the libvirt
 * conformance documents and the bad-input corpus are mutated with a seeded
 * generator (bit flips, truncation, XML tokens, huge numbers, duplicated and
 * swapped lines, splices) and every mutant must keep the invariants of
 * fuzz_check.h. Bounded by a count and a time budget so it can run in CI,
 * also under ASan/UBSan.
 *
 * PK_MUTATE_SEED, PK_MUTATE_COUNT and PK_MUTATE_SECONDS override the
 * defaults; a failure prints the seed and mutant number to reproduce it. */
#include "../tap.h"
#include "../../desired/model.h"
#include "fuzz_check.h"
#include <dirent.h>

#define DEFAULT_SEED 0x706f6f6c6b656570ULL   /* "poolkeep" */
#define DEFAULT_COUNT 20000
#define DEFAULT_SECONDS 60
#define MAX_MUTANT (64 * 1024)

typedef struct {
    char *name;
    char *data;
    size_t len;
} seed_doc;

static seed_doc *seeds;
static size_t n_seeds;

/* xorshift64*: small, fast and the same on every platform. */
static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}
static size_t below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every *.xml of a directory, sorted so the seed order never changes. */
static void load_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        tap_diag("no seed directory %s", dir);
        return;
    }
    char **names = NULL;
    struct dirent *de;
    while ((de = readdir(d)))
        if (pk_str_has_suffix(de->d_name, ".xml")) pk_strv_push(&names, de->d_name);
    closedir(d);
    size_t n = pk_strv_len(names);
    if (n) qsort(names, n, sizeof(*names), by_name);
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *path = pk_asprintf("%s/%s", dir, names[i]);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        pk_buf b = PK_BUF_INIT;
        char tmp[4096];
        size_t r;
        while ((r = fread(tmp, 1, sizeof tmp, f)) > 0) pk_buf_addn(&b, tmp, r);
        fclose(f);
        if (b.len == 0 || b.len > MAX_MUTANT / 2) {
            pk_buf_free(&b);
            continue;
        }
        seed_doc *s = PK_APPEND(seeds, n_seeds);
        s->name = pk_strdup(path);
        s->len = b.len;
        s->data = pk_buf_steal(&b);
    }
    pk_strv_free(names);
}

/* Tokens that have broken XML parsers and number handling before. */
static const char *const tokens[] = {
    "<", ">", "&", "'", "\"", "/", "=", "\0", "]]>", "<!--", "-->", "<![CDATA[", "<?", "?>",
    "&amp;", "&lt;", "&#0;", "&#1;", "&#x10FFFF;", "&#xD800;", "&undefined;", "\xff", "\xc0\xbc",
    "\xe2\x82", "\xef\xbb\xbf", "\r", "\t", "\n", " ", "..", "/..", "%", "%s%n", "\\",
    " unit='EiB'", " unit='KiB'", " unit='bytes'", " unit='Z'", " unit=''", " type='raw'",
    " type='qcow2'", " type='block'", " type=''", " format='luks'", " part_separator='yes'",
    "<name>x</name>", "<name/>", "<capacity>1</capacity>", "<capacity unit='EiB'>16</capacity>",
    "<allocation>0</allocation>", "<format type='qcow2'/>", "<format type='iso9660'/>",
    "<backingStore><path>/b</path><format type='raw'/></backingStore>", "<backingStore/>",
    "<encryption format='luks'><secret type='passphrase' usage='u'/></encryption>",
    "<permissions><mode>0</mode><owner>-1</owner><group>4294967295</group></permissions>",
    "<features><lazy_refcounts/></features>", "<compat>0.10</compat>", "<nocow/>",
    "<host name='h' port='0'/>", "<device path='/dev/x'/>", "<dir path='/'/>",
    "<adapter type='fc_host' wwnn='20000000c9831b4b' wwpn='10000000c9831b4b'/>",
    "<auth type='chap' username='u'><secret uuid='2ec115d7-3a88-3ceb-bc12-0ac909a6fd87'/></auth>",
    "<uuid>2ec115d7-3a88-3ceb-bc12-0ac909a6fd87</uuid>", "<uuid>2ec115d73a883cebbc120ac909a6fd87</uuid>",
    "xmlns:fs='http://libvirt.org/schemas/storagepool/fs/1.0'",
    "<fs:mount_opts><fs:option name='ro'/></fs:mount_opts>",
    "<!DOCTYPE x>", "<?xml version='1.0'?>", "<x:y/>", "<a><a><a><a><a><a><a><a>",
};

/* Values for numbers, sizes, modes and ids, at and around every limit. */
static const char *const numbers[] = {
    "", "0", "-0", "-1", "+1", "0x10", "1e3", "1.5", " 1", "007", "0777", "07777", "4294967295",
    "4294967296", "65535", "65536", "2147483648", "-2147483649", "9223372036854775807",
    "9223372036854775808", "18446744073709551615", "18446744073709551616",
    "99999999999999999999999999999999", "EiB", "bytes", "yes", "no", "/", "..", "a/b",
};

/* Places worth hitting: right after a '>', before a '<', inside quotes. */
static size_t structural_pos(const char *d, size_t len)
{
    if (!len) return 0;
    size_t start = below(len);
    static const char marks[] = "<>'\"=";
    char m = marks[below(sizeof(marks) - 1)];
    for (size_t k = 0; k < len; k++) {
        size_t i = (start + k) % len;
        if (d[i] == m) return i + (rnd() & 1);
    }
    return start;
}

/* Start and length of the line holding position pos. */
static void line_at(const char *d, size_t len, size_t pos, size_t *start, size_t *n)
{
    size_t s = pos, e = pos;
    while (s > 0 && d[s - 1] != '\n') s--;
    while (e < len && d[e] != '\n') e++;
    if (e < len) e++;
    *start = s;
    *n = e - s;
}

static void mutate_once(pk_buf *b)
{
    if (!b->len) {
        const char *t = tokens[below(PK_NELEM(tokens))];
        pk_buf_add(b, *t ? t : "<");
        return;
    }
    size_t len = b->len;
    char *d = b->s;
    switch (below(11)) {
    case 0: /* flip a bit */
        if (len) d[below(len)] ^= (char)(1u << below(8));
        break;
    case 1: /* any byte */
        if (len) d[below(len)] = (char)rnd();
        break;
    case 2: { /* truncate */
        b->len = below(len + 1);
        b->s[b->len] = '\0';
        break;
    }
    case 3:
    case 4: { /* insert a token, often at a structural place */
        const char *t = tokens[below(PK_NELEM(tokens))];
        size_t tl = *t ? strlen(t) : 1;   /* "\0" is one NUL byte */
        size_t pos = below(2) ? structural_pos(d, len) : below(len + 1);
        if (pos > len) pos = len;
        pk_buf tmp = PK_BUF_INIT;
        pk_buf_addn(&tmp, d, pos);
        pk_buf_addn(&tmp, t, tl);
        pk_buf_addn(&tmp, d + pos, len - pos);
        pk_buf_free(b);
        *b = tmp;
        break;
    }
    case 5: { /* delete a range */
        if (!len) break;
        size_t pos = below(len), n = 1 + below(len - pos < 32 ? len - pos : 32);
        memmove(d + pos, d + pos + n, len - pos - n);
        b->len -= n;
        b->s[b->len] = '\0';
        break;
    }
    case 6:
    case 7: { /* duplicate a line: documents are one element a line, so
               * this mostly duplicates elements */
        if (!len) break;
        size_t s, n;
        line_at(d, len, below(len), &s, &n);
        pk_buf tmp = PK_BUF_INIT;
        pk_buf_addn(&tmp, d, s + n);
        pk_buf_addn(&tmp, d + s, n);
        pk_buf_addn(&tmp, d + s + n, len - s - n);
        pk_buf_free(b);
        *b = tmp;
        break;
    }
    case 8: { /* swap two lines */
        if (!len) break;
        size_t s1, n1, s2, n2;
        line_at(d, len, below(len), &s1, &n1);
        line_at(d, len, below(len), &s2, &n2);
        if (s1 == s2) break;
        if (s2 < s1) {
            size_t t = s1; s1 = s2; s2 = t;
            t = n1; n1 = n2; n2 = t;
        }
        if (s1 + n1 > s2) break;
        pk_buf tmp = PK_BUF_INIT;
        pk_buf_addn(&tmp, d, s1);
        pk_buf_addn(&tmp, d + s2, n2);
        pk_buf_addn(&tmp, d + s1 + n1, s2 - s1 - n1);
        pk_buf_addn(&tmp, d + s1, n1);
        pk_buf_addn(&tmp, d + s2 + n2, len - s2 - n2);
        pk_buf_free(b);
        *b = tmp;
        break;
    }
    case 9: { /* replace a text or attribute value by a number-ish token */
        size_t pos = structural_pos(d, len);
        if (pos >= len) break;
        char close = d[pos] == '>' ? '<' : d[pos] == '\'' ? '\'' : d[pos] == '"' ? '"' : 0;
        if (!close) break;
        size_t end = pos + 1;
        while (end < len && d[end] != close) end++;
        const char *t = numbers[below(PK_NELEM(numbers))];
        pk_buf tmp = PK_BUF_INIT;
        pk_buf_addn(&tmp, d, pos + 1);
        pk_buf_add(&tmp, t);
        pk_buf_addn(&tmp, d + end, len - end);
        pk_buf_free(b);
        *b = tmp;
        break;
    }
    default: { /* splice in a piece of another seed */
        const seed_doc *o = &seeds[below(n_seeds)];
        size_t from = below(o->len), n = below(o->len - from + 1);
        size_t pos = below(len + 1);
        pk_buf tmp = PK_BUF_INIT;
        pk_buf_addn(&tmp, d, pos);
        pk_buf_addn(&tmp, o->data + from, n);
        pk_buf_addn(&tmp, d + pos, len - pos);
        pk_buf_free(b);
        *b = tmp;
        break;
    }
    }
    if (b->len > MAX_MUTANT) {
        b->len = MAX_MUTANT;
        b->s[b->len] = '\0';
    }
}

/* The mutant as a C string literal, for reproducing a failure by hand. */
static char *escaped(const char *d, size_t len)
{
    pk_buf b = PK_BUF_INIT;
    for (size_t i = 0; i < len && i < 4096; i++) {
        unsigned char c = (unsigned char)d[i];
        if (c == '\n') pk_buf_add(&b, "\\n\"\n\"");
        else if (c == '"' || c == '\\') pk_buf_addf(&b, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f) pk_buf_addf(&b, "\\x%02x\"\"", c);
        else pk_buf_addc(&b, (char)c);
    }
    return pk_buf_steal(&b);
}

static long env_long(const char *name, long def)
{
    const char *v = getenv(name);
    if (!v || !*v) return def;
    return strtol(v, NULL, 0);
}

int main(void)
{
    const char *base = tap_data_dir();
    static const char *const dirs[] = {
        "data/libvirt/pool/in", "data/libvirt/pool/out", "data/libvirt/vol/in", "data/libvirt/vol/out",
        "data/libvirt/schemadata/examples-xml-storage", "data/bad", "data/bad/base",
    };
    for (size_t i = 0; i < PK_NELEM(dirs); i++) {
        _cleanup_free_ char *d = pk_asprintf("%s/%s", base, dirs[i]);
        load_dir(d);
    }
    tap_ok(n_seeds >= 100, "%zu seed documents loaded", n_seeds);
    if (!n_seeds) return tap_done();

    /* The seeds themselves first: the good ones must also keep the fixpoint. */
    size_t seeds_ok = 0, seed_failures = 0;
    for (size_t i = 0; i < n_seeds; i++) {
        pk_fuzz_result r;
        char *why = pk_fuzz_xml_check((const uint8_t *)seeds[i].data, seeds[i].len, &r);
        if (why) {
            if (seed_failures++ < 5) tap_diag("seed %s: %s", seeds[i].name, why);
            free(why);
        }
        seeds_ok += r.pool_ok || r.vols_ok;
    }
    tap_is_int((long long)seed_failures, 0, "every seed keeps the invariants");
    tap_ok(seeds_ok >= 50, "%zu seeds are accepted as a pool or a volume", seeds_ok);

    uint64_t seed = (uint64_t)env_long("PK_MUTATE_SEED", (long)(DEFAULT_SEED & 0x7fffffffffffffffULL));
    long count = env_long("PK_MUTATE_COUNT", DEFAULT_COUNT);
    long seconds = env_long("PK_MUTATE_SECONDS", DEFAULT_SECONDS);
    rng_state = seed ? seed : 1;
    tap_diag("seed 0x%llx, up to %ld mutants or %ld s", (unsigned long long)seed, count, seconds);

    int64_t deadline = pk_monotonic_ms() + seconds * 1000;
    long done = 0, failures = 0, accepted_pool = 0, accepted_vol = 0;
    for (long n = 0; n < count; n++) {
        if ((n & 63) == 0 && pk_monotonic_ms() > deadline) break;
        const seed_doc *s = &seeds[below(n_seeds)];
        pk_buf b = PK_BUF_INIT;
        pk_buf_addn(&b, s->data, s->len);
        int rounds = below(3) ? 1 : 2 + (int)below(3);   /* mostly one change: more mutants stay valid */
        for (int k = 0; k < rounds; k++) mutate_once(&b);
        pk_fuzz_result r;
        char *why = pk_fuzz_xml_check((const uint8_t *)pk_buf_str(&b), b.len, &r);
        if (why) {
            if (failures++ < 5) {
                _cleanup_free_ char *lit = escaped(pk_buf_str(&b), b.len);
                tap_diag("mutant %ld of seed %s (seed 0x%llx): %s\n--- mutant (%zu bytes):\n\"%s\"", n, s->name,
                         (unsigned long long)seed, why, b.len, lit);
            }
            free(why);
        }
        accepted_pool += r.pool_ok;
        accepted_vol += r.vols_ok > 0;
        pk_buf_free(&b);
        done++;
    }
    tap_is_int(failures, 0, "%ld mutants: no invariant broken", done);
    tap_diag("accepted: %ld as a pool, %ld as a volume", accepted_pool, accepted_vol);
    /* A mutator that only produced garbage would test the error paths alone. */
    tap_ok(accepted_pool > 0 && accepted_vol > 0, "mutants reach the accept-and-format path too");
    tap_ok(done >= 1000 || done == count, "at least 1000 mutants ran in the time budget (%ld)", done);

    for (size_t i = 0; i < n_seeds; i++) {
        free(seeds[i].name);
        free(seeds[i].data);
    }
    free(seeds);
    pk_fuzz_xml_cleanup();
    return tap_done();
}
