/* How much poolkeeper's volume parsing costs next to libxml2 alone.
 *
 * Generates N (default 10000) varied volume files in a temporary directory
 * (raw/qcow2/iso/vmdk, every unit, permissions, labels, backing stores,
 * qcow2 features), reads them into memory, then times:
 *   - plain libxml2: xmlReadMemory + xmlFreeDoc of each file (the floor)
 *   - pk_xml_read: the hardened read (byte checks, limits) + xmlFreeDoc
 *   - parse+validate+format: pk_vol_parse against a dir pool, pk_vol_format
 * Each is run several times and the best run is kept. Usage: xml-bench [N] */
#include "../../controller/base/pk.h"
#include "../../desired/model.h"
#include "../../desired/xml.h"
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libxml/parser.h>
#include <sys/stat.h>
#include <time.h>

#define ROUNDS 3

typedef struct {
    char *data;
    size_t len;
    char *path;
} doc;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Deterministic variety: the i-th file always looks the same. */
static char *volume_xml(size_t i)
{
    static const char *const units[] = { "bytes", "KiB", "MiB", "GiB", "TiB", "K", "M", "G", "KB", "MB", "GB", "" };
    static const char *const fmts[] = { "raw", "qcow2", "qcow2", "raw", "iso", "vmdk" };
    static const char *const modes[] = { "0600", "0640", "0644", "0660", "0400", "00" };
    const char *fmt = fmts[i % PK_NELEM(fmts)];
    const char *unit = units[i % PK_NELEM(units)];
    bool qcow2 = strcmp(fmt, "qcow2") == 0;
    pk_buf b = PK_BUF_INIT;
    pk_buf_add(&b, i % 7 ? "<volume>\n" : "<volume type='file'>\n");
    pk_buf_addf(&b, "  <name>vol-%05zu.%s</name>\n", i, qcow2 ? "qcow2" : fmt);
    if (*unit)
        pk_buf_addf(&b, "  <capacity unit='%s'>%zu</capacity>\n", unit, 1 + i % 500);
    else
        pk_buf_addf(&b, "  <capacity>%zu</capacity>\n", (size_t)1073741824 + i * 4096);
    if (i % 3 == 0) pk_buf_addf(&b, "  <allocation unit='MiB'>%zu</allocation>\n", i % 64);
    pk_buf_add(&b, "  <target>\n");
    pk_buf_addf(&b, "    <path>/var/lib/libvirt/images/vol-%05zu</path>\n", i);
    pk_buf_addf(&b, "    <format type='%s'/>\n", fmt);
    if (i % 4 != 1) {
        pk_buf_add(&b, "    <permissions>\n");
        pk_buf_addf(&b, "      <mode>%s</mode>\n", modes[i % PK_NELEM(modes)]);
        pk_buf_addf(&b, "      <owner>%zu</owner>\n      <group>%zu</group>\n", 100 + i % 20, 100 + i % 30);
        if (i % 5 == 0) pk_buf_add(&b, "      <label>system_u:object_r:svirt_image_t:s0:c10,c20</label>\n");
        pk_buf_add(&b, "    </permissions>\n");
    }
    if (qcow2 && i % 2 == 0)
        pk_buf_add(&b, "    <compat>1.1</compat>\n    <features>\n      <lazy_refcounts/>\n    </features>\n");
    pk_buf_add(&b, "  </target>\n");
    if (qcow2 && i % 3 == 0)
        pk_buf_addf(&b, "  <backingStore>\n    <path>/var/lib/libvirt/images/base-%zu.img</path>\n"
                        "    <format type='raw'/>\n  </backingStore>\n", i % 10);
    pk_buf_add(&b, "</volume>\n");
    return pk_buf_steal(&b);
}

static int rm_one(const char *path, const struct stat *sb PK_UNUSED, int flag PK_UNUSED, struct FTW *f PK_UNUSED)
{
    return remove(path);
}

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    size_t len = strlen(text);
    ssize_t w = write(fd, text, len);
    int rc = w == (ssize_t)len ? 0 : -1;
    if (close(fd) < 0) rc = -1;
    return rc;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
    if (n == 0) n = 1;
    LIBXML_TEST_VERSION;

    const char *tmpbase = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    _cleanup_free_ char *dir = pk_asprintf("%s/pk-xml-bench-XXXXXX", tmpbase);
    if (!mkdtemp(dir)) {
        fprintf(stderr, "xml-bench: cannot create a directory in %s: %s\n", tmpbase, strerror(errno));
        return 1;
    }
    doc *docs = pk_calloc(n, sizeof(*docs));
    size_t bytes = 0;
    int rc = 1;
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *text = volume_xml(i);
        docs[i].path = pk_asprintf("%s/vol-%05zu.xml", dir, i);
        if (write_file(docs[i].path, text) < 0) {
            fprintf(stderr, "xml-bench: cannot write %s: %s\n", docs[i].path, strerror(errno));
            goto out;
        }
    }
    /* Read back from disk: the same bytes every timed loop sees. */
    for (size_t i = 0; i < n; i++) {
        pk_err *err = NULL;
        if (pk_xml_slurp(docs[i].path, &docs[i].data, &docs[i].len, &err) < 0) {
            _cleanup_free_ char *s = pk_err_str(err);
            fprintf(stderr, "xml-bench: %s\n", s);
            pk_err_free(err);
            goto out;
        }
        bytes += docs[i].len;
    }

    static const char pool_xml[] =
        "<pool type='dir'><name>bench</name><target><path>/var/lib/libvirt/images</path></target></pool>";
    pk_err *errs = NULL;
    pk_pool *pool = pk_pool_parse(pool_xml, strlen(pool_xml), "bench-pool.xml", &errs);
    if (!pool) {
        _cleanup_free_ char *s = errs ? pk_err_str(errs) : pk_strdup("unknown error");
        fprintf(stderr, "xml-bench: the pool does not parse: %s\n", s);
        pk_err_free(errs);
        goto out;
    }

    double best_plain = 1e30, best_safe = 1e30, best_full = 1e30;
    size_t out_bytes = 0;
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = now_s();
        for (size_t i = 0; i < n; i++) {
            xmlDoc *d = xmlReadMemory(docs[i].data, (int)docs[i].len, docs[i].path, NULL, XML_PARSE_NONET);
            if (!d) {
                fprintf(stderr, "xml-bench: libxml2 refused %s\n", docs[i].path);
                goto out_pool;
            }
            xmlFreeDoc(d);
        }
        double t1 = now_s();
        for (size_t i = 0; i < n; i++) {
            errs = NULL;
            xmlDoc *d = pk_xml_read(docs[i].data, docs[i].len, docs[i].path, &errs);
            if (!d) {
                _cleanup_free_ char *s = pk_err_str(errs);
                fprintf(stderr, "xml-bench: %s\n", s);
                pk_err_free(errs);
                goto out_pool;
            }
            xmlFreeDoc(d);
        }
        double t2 = now_s();
        out_bytes = 0;
        for (size_t i = 0; i < n; i++) {
            errs = NULL;
            pk_vol *v = pk_vol_parse(pool, docs[i].data, docs[i].len, docs[i].path, PK_VOL_PARSE_OPT_CAPACITY, &errs);
            if (!v) {
                _cleanup_free_ char *s = errs ? pk_err_str(errs) : pk_strdup("unknown error");
                fprintf(stderr, "xml-bench: %s\n", s);
                pk_err_free(errs);
                goto out_pool;
            }
            char *text = pk_vol_format(pool, v);
            out_bytes += strlen(text);
            free(text);
            pk_vol_free(v);
        }
        double t3 = now_s();
        if (t1 - t0 < best_plain) best_plain = t1 - t0;
        if (t2 - t1 < best_safe) best_safe = t2 - t1;
        if (t3 - t2 < best_full) best_full = t3 - t2;
    }
    double plain = (double)n / best_plain, safe = (double)n / best_safe, full = (double)n / best_full;
    printf("%zu volume files, %zu bytes in, %zu bytes of canonical XML out; best of %d rounds\n", n, bytes,
           out_bytes, ROUNDS);
    printf("hardened pk_xml_read: %.0f files/s (%.2fx the plain parse time)\n", safe, plain / safe);
    printf("parse+validate+format: %.0f files/s; plain libxml2 parse: %.0f files/s; ratio %.2f\n", full, plain,
           plain / full);
    rc = 0;
out_pool:
    pk_pool_free(pool);
out:
    for (size_t i = 0; i < n; i++) {
        free(docs[i].data);
        free(docs[i].path);
    }
    free(docs);
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    xmlCleanupParser();
    return rc;
}
