/* Observing files of a dir pool: formats from header magic, virtual sizes
 * and backing files compared with what qemu-img itself reports, the qcow2
 * options, read-only formats (bochs, cloop, dmg: made by hand here, since
 * qemu-img cannot make them), labels, sparse vs allocated, entries that are
 * not volumes, and the probe cache. */
#include "testutil.h"
#include <errno.h>
#include <sys/xattr.h>
#include "../../backends/fileprobe.h"
#include "../../backends/qemu_img.h"
#include "../../backends/runner.h"
#include <fcntl.h>

#define MiB (1024ULL * 1024)

static char *tmp, *pooldir;
static pk_pool *pool;
static int qemu_runs, qemu_qcow2_runs;

static bool count_hook(pk_cmd *cmd, void *opaque PK_UNUSED)
{
    char *const *argv = pk_cmd_argv(cmd);
    if (strcmp(argv[0], "qemu-img") != 0) return false;
    qemu_runs++;
    for (size_t i = 1; argv[i]; i++)
        if (strcmp(argv[i], "qcow2") == 0) qemu_qcow2_runs++;
    return false;
}

static char *vpath(const char *name)
{
    return pk_asprintf("%s/%s", pooldir, name);
}

static void observe(pk_obs_pool *op)
{
    pk_err *err = NULL;
    pk_obs_pool_clear(op);
    if (pk_dir_observe_vols(&(pk_bctx){ 0 }, pool, op, &err) < 0) {
        _cleanup_free_ char *s = tu_errstr(err);
        tap_bail("observe failed: %s", s);
    }
}

static void qemu_img(const char *fmt, const char *name, const char *size, const char *opts)
{
    _cleanup_free_ char *p = vpath(name);
    const char *argv[10] = { "qemu-img", "create", "-q", "-f", fmt };
    int n = 5;
    if (opts) { argv[n++] = "-o"; argv[n++] = opts; }
    argv[n++] = p;
    argv[n++] = size;
    argv[n] = NULL;
    if (!tu_run(argv)) tap_bail("qemu-img create %s failed", name);
}

static void test_formats(void)
{
    struct { const char *qfmt, *name, *opts; int want; } imgs[] = {
        { "qcow2", "a.qcow2", NULL, PK_IMG_QCOW2 },
        { "qcow2", "old.qcow2", "compat=0.10", PK_IMG_QCOW2 },
        { "qcow", "a.qcow", NULL, PK_IMG_QCOW },
        { "qed", "a.qed", NULL, PK_IMG_QED },
        { "vmdk", "a.vmdk", NULL, PK_IMG_VMDK },
        { "vdi", "a.vdi", NULL, PK_IMG_VDI },
        { "vpc", "a.vpc", NULL, PK_IMG_VPC },
        { "vhdx", "a.vhdx", NULL, PK_IMG_VHDX },
        { "parallels", "a.hds", NULL, PK_IMG_PLOOP },
        { "raw", "a.raw", NULL, PK_IMG_RAW },
    };
    for (size_t i = 0; i < PK_NELEM(imgs); i++)
        qemu_img(imgs[i].qfmt, imgs[i].name, "100M", imgs[i].opts);

    qemu_runs = 0;
    pk_obs_pool op = { 0 };
    observe(&op);
    /* qcow2 and raw are read in-process; the seven other image formats ask qemu-img */
    tap_is_int(qemu_runs, 7, "qemu-img ran only for the rare formats");
    for (size_t i = 0; i < PK_NELEM(imgs); i++) {
        const pk_obs_vol *v = tu_find(&op, imgs[i].name);
        _cleanup_free_ char *p = vpath(imgs[i].name);
        long long qsize = tu_qemu_virtual_size(p);
        tap_ok(v && v->format == imgs[i].want && !v->error, "%s detected as format %d (got %d) %s",
               imgs[i].name, imgs[i].want, v ? v->format : -2, v && v->error ? v->error : "");
        tap_ok(v && qsize > 0 && v->capacity == (uint64_t)qsize, "%s capacity %llu = qemu-img's %lld",
               imgs[i].name, v ? (unsigned long long)v->capacity : 0ULL, qsize);
    }
    pk_obs_pool_clear(&op);
}

static void put_be32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (24 - 8 * i));
}

static void put_be64(unsigned char *p, uint64_t v)
{
    put_be32(p, (uint32_t)(v >> 32));
    put_be32(p + 4, (uint32_t)v);
}

static void put_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void write_file(const char *name, const void *data, size_t len)
{
    _cleanup_free_ char *p = vpath(name);
    int fd = open(p, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    if (fd < 0 || write(fd, data, len) != (ssize_t)len) tap_bail("cannot write %s", p);
    close(fd);
}

/* The smallest images qemu's bochs, cloop and dmg drivers open: 1 MiB
 * each, with nothing in them (block/bochs.c, cloop.c, dmg.c). */
static void make_readonly_images(void)
{
    unsigned char bochs[512 + 1024] = { 0 };
    memcpy(bochs, "Bochs Virtual HD Image", 22);
    memcpy(bochs + 32, "Redolog", 7);
    memcpy(bochs + 48, "Growing", 7);
    put_le32(bochs + 64, 0x00020000);   /* version */
    put_le32(bochs + 68, 512);          /* header size */
    put_le32(bochs + 72, 256);          /* catalog entries */
    put_le32(bochs + 76, 512);          /* bitmap size */
    put_le32(bochs + 80, 4096);         /* extent size */
    put_le32(bochs + 88, (uint32_t)MiB); /* disk size, 64-bit little endian */
    memset(bochs + 512, 0xff, 1024);    /* catalog: nothing allocated */
    write_file("old.bochs", bochs, sizeof(bochs));

    static const char cloop_magic[] =
        "#!/bin/sh\n#V2.0 Format\nmodprobe cloop file=$0 && mount -r -t iso9660 /dev/cloop $1\n";
    unsigned char cloop[128 + 8 + 17 * 8] = { 0 };
    memcpy(cloop, cloop_magic, sizeof(cloop_magic) - 1);
    put_be32(cloop + 128, 65536);       /* block size */
    put_be32(cloop + 132, 16);          /* blocks */
    for (int i = 0; i <= 16; i++) put_be64(cloop + 136 + 8 * i, sizeof(cloop));
    write_file("old.cloop", cloop, sizeof(cloop));

    static const char plist[] = "<plist><dict></dict></plist>";
    unsigned char dmg[1024 + 512] = { 0 };
    memcpy(dmg, plist, sizeof(plist) - 1);
    unsigned char *koly = dmg + 1024;
    memcpy(koly, "koly", 4);
    put_be64(koly + 0xd8, 0);                   /* XML offset */
    put_be64(koly + 0xe0, sizeof(plist) - 1);   /* XML length */
    put_be64(koly + 0x1ec, 2048);               /* sectors */
    write_file("old.dmg", dmg, sizeof(dmg));
}

static void test_readonly_formats(void)
{
    make_readonly_images();
    pk_obs_pool op = { 0 };
    observe(&op);
    struct { const char *name; int want; } imgs[] = {
        { "old.bochs", PK_IMG_BOCHS }, { "old.cloop", PK_IMG_CLOOP }, { "old.dmg", PK_IMG_DMG },
    };
    for (size_t i = 0; i < PK_NELEM(imgs); i++) {
        const pk_obs_vol *v = tu_find(&op, imgs[i].name);
        _cleanup_free_ char *p = vpath(imgs[i].name);
        long long qsize = tu_qemu_virtual_size(p);
        tap_ok(v && v->format == imgs[i].want && !v->error, "%s: read-only format observed (%s)",
               imgs[i].name, v && v->error ? v->error : "");
        tap_ok(v && qsize == (long long)MiB && v->capacity == MiB,
               "%s: capacity %llu, qemu-img says %lld", imgs[i].name,
               v ? (unsigned long long)v->capacity : 0ULL, qsize);
    }
    pk_obs_pool_clear(&op);
}

/* The qcow2 options read from the header in-process, against what
 * `qemu-img info` says of the same file (parsed by pk_qemu_img_parse_info). */
static void test_qcow2_options(void)
{
    struct { const char *name, *opts; } imgs[] = {
        { "o-010.qcow2", "compat=0.10" },
        { "o-11.qcow2", "compat=1.1,cluster_size=131072" },
        { "o-lazy.qcow2", "compat=1.1,lazy_refcounts=on,cluster_size=4096" },
        { "o-l2.qcow2", "compat=1.1,extended_l2=on" },
    };
    for (size_t i = 0; i < PK_NELEM(imgs); i++) qemu_img("qcow2", imgs[i].name, "32M", imgs[i].opts);
    pk_obs_pool op = { 0 };
    qemu_qcow2_runs = 0;
    observe(&op);
    tap_is_int(qemu_qcow2_runs, 0, "qcow2 options read in-process");
    for (size_t i = 0; i < PK_NELEM(imgs); i++) {
        const pk_obs_vol *v = tu_find(&op, imgs[i].name);
        _cleanup_free_ char *p = vpath(imgs[i].name);
        const char *argv[] = { "qemu-img", "info", "-U", "--output=json", "-f", "qcow2", p, NULL };
        _cleanup_(pk_cmd_freep) pk_cmd *cmd = pk_cmd_new_argv(argv);
        pk_err *err = NULL;
        pk_obs_vol q = { .backing_format = -1 };
        if (pk_cmd_run(cmd, NULL, &err) < 0 || pk_qemu_img_parse_info(pk_cmd_stdout(cmd), &q, &err) < 0)
            tap_bail("qemu-img info %s", imgs[i].name);
        tap_ok(v && strcmp(v->compat, q.compat) == 0 && v->cluster_size == q.cluster_size &&
               v->lazy_refcounts == q.lazy_refcounts && v->extended_l2 == q.extended_l2,
               "%s: compat %s cluster %llu lazy %d l2 %d, as qemu-img says", imgs[i].name,
               v ? v->compat : "", v ? (unsigned long long)v->cluster_size : 0ULL,
               v ? v->lazy_refcounts : -1, v ? v->extended_l2 : -1);
        pk_obs_vol_clear(&q);
    }
    const pk_obs_vol *v = tu_find(&op, "o-lazy.qcow2");
    tap_ok(v && strcmp(v->compat, "1.1") == 0 && v->cluster_size == 4096 && v->lazy_refcounts &&
           !v->extended_l2, "lazy_refcounts and a 4 KiB cluster");
    v = tu_find(&op, "o-010.qcow2");
    tap_ok(v && strcmp(v->compat, "0.10") == 0 && v->cluster_size == 65536, "compat 0.10, default cluster");
    v = tu_find(&op, "o-l2.qcow2");
    tap_ok(v && v->extended_l2 && !v->lazy_refcounts, "extended_l2");
    pk_obs_pool_clear(&op);
}

/* ---- the probe cache, as a plain in-memory table ---- */

typedef struct {
    char *path, *result;
    pk_probe_stamp key;
} fake_entry;

typedef struct {
    fake_entry *e;
    size_t n;
    int gets, hits, puts, flushes;
} fake_cache;

static int fake_get(void *opaque, const pk_probe_stamp *k, char **result)
{
    fake_cache *fc = opaque;
    fc->gets++;
    for (size_t i = 0; i < fc->n; i++) {
        const pk_probe_stamp *s = &fc->e[i].key;
        if (strcmp(fc->e[i].path, k->path) == 0 && s->dev == k->dev && s->ino == k->ino &&
            s->size == k->size && s->mtime_ns == k->mtime_ns) {
            fc->hits++;
            *result = pk_strdup(fc->e[i].result);
            return 1;
        }
    }
    return 0;
}

static void fake_put(void *opaque, const pk_probe_stamp *k, const char *result)
{
    fake_cache *fc = opaque;
    fc->puts++;
    for (size_t i = 0; i < fc->n; i++)
        if (strcmp(fc->e[i].path, k->path) == 0) {
            free(fc->e[i].result);
            fc->e[i].result = pk_strdup(result);
            fc->e[i].key = *k;
            fc->e[i].key.path = fc->e[i].path;
            return;
        }
    fake_entry *e = PK_APPEND(fc->e, fc->n);
    e->path = pk_strdup(k->path);
    e->result = pk_strdup(result);
    e->key = *k;
    e->key.path = e->path;
}

static void fake_flush(void *opaque)
{
    ((fake_cache *)opaque)->flushes++;
}

static void observe_cached(const pk_probe_cache *cache, pk_obs_pool *op)
{
    pk_err *err = NULL;
    pk_obs_pool_clear(op);
    if (pk_dir_observe_vols(&(pk_bctx){ .probe_cache = cache }, pool, op, &err) < 0) {
        _cleanup_free_ char *s = tu_errstr(err);
        tap_bail("observe failed: %s", s);
    }
}

/* Everything but the times and the error: what a cache hit must give back. */
static char *vol_facts(const pk_obs_vol *v)
{
    return pk_asprintf("%d %llu %llu %s %d %d %d %s %llu %d %d %d %s %s", v->format,
                       (unsigned long long)v->capacity, (unsigned long long)v->allocation,
                       v->backing_path ? v->backing_path : "-", v->backing_format, v->encrypted,
                       v->enc_format, v->compat, (unsigned long long)v->cluster_size,
                       v->lazy_refcounts, v->extended_l2, v->nocow,
                       v->perms.label ? v->perms.label : "-", v->identity);
}

static void test_cache(void)
{
    fake_cache fc = { 0 };
    pk_probe_cache cache = { fake_get, fake_put, fake_flush, &fc };
    pk_obs_pool plain = { 0 }, cold = { 0 }, warm = { 0 };
    observe(&plain);
    qemu_runs = 0;
    observe_cached(&cache, &cold);
    int cold_runs = qemu_runs;
    size_t files = 0;
    for (size_t i = 0; i < cold.n_vols; i++) files += cold.vols[i].type == PK_VOL_FILE && !cold.vols[i].error;
    tap_ok(fc.hits == 0 && fc.puts == (int)files && fc.flushes == 1,
           "cold: every file probed and put (%d of %zu), one flush", fc.puts, files);
    qemu_runs = 0;
    fc.hits = 0;
    observe_cached(&cache, &warm);
    tap_is_int(qemu_runs, 0, "warm: no qemu-img at all (cold ran it %d times)", cold_runs);
    tap_is_int(fc.hits, (long long)files, "warm: every file a cache hit");
    bool same = plain.n_vols == warm.n_vols;
    for (size_t i = 0; same && i < plain.n_vols; i++) {
        _cleanup_free_ char *a = vol_facts(&plain.vols[i]);
        _cleanup_free_ char *b = vol_facts(&warm.vols[i]);
        if (strcmp(a, b) != 0) {
            tap_diag("%s: '%s' != '%s'", plain.vols[i].name, a, b);
            same = false;
        }
    }
    tap_ok(same, "a cache hit gives what probing gives, for each of %zu entries", plain.n_vols);

    /* a changed file is probed again; so is one whose ctime alone moved
     * (chmod, a label), and one whose cached text is damaged */
    _cleanup_free_ char *vmdk = vpath("a.vmdk");
    _cleanup_free_ char *vdi = vpath("a.vdi");
    _cleanup_free_ char *qed = vpath("a.qed");
    const char *touch[] = { "touch", vmdk, NULL };
    tu_run(touch);
    chmod(vdi, 0640);
    for (size_t i = 0; i < fc.n; i++)
        if (strcmp(fc.e[i].path, qed) == 0) {
            free(fc.e[i].result);
            fc.e[i].result = pk_strdup("pk1\t1\tqed\t");
        }
    qemu_runs = 0;
    fc.puts = 0;
    observe_cached(&cache, &warm);
    tap_is_int(qemu_runs, 3, "touched, chmod-ed and damaged entries probed again, nothing else");
    tap_is_int(fc.puts, 3, "and put again");
    const pk_obs_vol *v = tu_find(&warm, "a.qed");
    tap_ok(v && v->format == PK_IMG_QED && v->capacity == 100 * MiB, "damaged entry: probed value");

    /* round trip of the cache text */
    pk_obs_vol in = { .format = PK_IMG_QCOW2, .capacity = 42, .backing_path = pk_strdup("/a \"b\"\n"),
                      .backing_format = PK_IMG_RAW, .encrypted = true, .enc_format = PK_ENC_LUKS,
                      .compat = "0.10", .cluster_size = 4096, .lazy_refcounts = true,
                      .extended_l2 = true, .nocow = true,
                      .perms = { .mode = -1, .uid = -1, .gid = -1, .label = pk_strdup("a_t") } };
    _cleanup_free_ char *text = pk_probe_result_encode(&in, 123456789);
    pk_obs_vol out = { .backing_format = -1 };
    tap_ok(pk_probe_result_decode(text, 123456789, &out) == 0, "decoded: %s", text);
    _cleanup_free_ char *fa = vol_facts(&in);
    _cleanup_free_ char *fb = vol_facts(&out);
    tap_is_str(fb, fa, "round trip keeps every fact");
    pk_obs_vol_clear(&out);
    tap_ok(pk_probe_result_decode(text, 123456780, &out) < 0, "another ctime: refused");
    pk_obs_vol_clear(&out);
    tap_ok(pk_probe_result_decode("pk2\t0", 0, &out) < 0 && pk_probe_result_decode(NULL, 0, &out) < 0,
           "other versions and nothing: refused");
    _cleanup_free_ char *bad = pk_strdup(text);
    bad[strlen(bad) - 1] = '\\';   /* a dangling escape in the label */
    tap_ok(pk_probe_result_decode(bad, 123456789, &out) < 0, "a bad escape: refused");
    pk_obs_vol_clear(&out);
    pk_obs_vol_clear(&out);
    pk_obs_vol_clear(&in);

    for (size_t i = 0; i < fc.n; i++) {
        free(fc.e[i].path);
        free(fc.e[i].result);
    }
    free(fc.e);
    pk_obs_pool_clear(&plain);
    pk_obs_pool_clear(&cold);
    pk_obs_pool_clear(&warm);
}

static void test_label(void)
{
    _cleanup_free_ char *p = vpath("labelled.raw");
    tu_write(p, "x");
    const char *label = "system_u:object_r:virt_image_t:s0";
    if (setxattr(p, "security.selinux", label, strlen(label) + 1, 0) < 0) {
        tap_diag("no security.selinux on this filesystem (%s): label not tested", strerror(errno));
        return;
    }
    /* Labels are read where SELinux runs (pk_probe_opts_for); ask for them
     * here whether it does or not. */
    _cleanup_close_ int dfd = open(pool->target_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    pk_probe_opts opts = pk_probe_opts_for(dfd);
    tap_is_int(opts.labels, pk_selinux_active(), "labels are read by default only where SELinux runs");
    opts.labels = true;
    pk_obs_vol v = { 0 }, w = { 0 };
    pk_file_observe(dfd, pool->target_path, "labelled.raw", &opts, &v);
    tap_is_str(v.perms.label, label, "SELinux label observed");
    pk_file_observe(dfd, pool->target_path, "a.raw", &opts, &w);
    tap_ok(w.name && !w.perms.label, "a file without a label has none");
    pk_obs_vol_clear(&v);
    pk_obs_vol_clear(&w);
    if (!pk_selinux_active()) {
        pk_obs_pool op = { 0 };
        observe(&op);
        const pk_obs_vol *x = tu_find(&op, "labelled.raw");
        tap_ok(x && !x->perms.label, "without SELinux the pool's observation reads no label");
        pk_obs_pool_clear(&op);
    }
}

static void test_backing_and_encryption(void)
{
    _cleanup_free_ char *base = vpath("a.qcow2");
    _cleanup_free_ char *opts = pk_asprintf("backing_file=%s,backing_fmt=qcow2", base);
    qemu_img("qcow2", "over.qcow2", "200M", opts);
    qemu_img("qcow2", "rel.qcow2", "100M", "backing_file=a.raw,backing_fmt=raw");
    _cleanup_free_ char *opts2 = pk_asprintf("backing_file=%s,backing_fmt=qcow2,compat=0.10", base);
    qemu_img("qcow2", "over010.qcow2", "100M", opts2);
    {   /* no backing format recorded: qemu-img 7 refuses to make one, so
         * turn the backing format extension into an unknown one */
        qemu_img("qcow2", "nofmt.qcow2", "100M", opts);
        _cleanup_free_ char *p = vpath("nofmt.qcow2");
        int fd = open(p, O_RDWR);
        unsigned char h[4096];
        ssize_t n = pread(fd, h, sizeof(h), 0);
        bool patched = false;
        for (ssize_t i = 104; i + 4 <= n && !patched; i += 8)
            if (memcmp(h + i, "\xe2\x79\x2a\xca", 4) == 0)
                patched = pwrite(fd, "\x12\x34\x56\x78", 4, i) == 4;
        close(fd);
        if (!patched) tap_bail("no backing format extension found");
    }
    {
        /* Making luks keyslots costs qemu-img seconds (PBKDF calibration):
         * one real luks image below; the encrypted qcow2 is a plain one
         * whose crypt_method field says luks (2). */
        qemu_img("qcow2", "enc.qcow2", "16M", NULL);
        _cleanup_free_ char *p = vpath("enc.qcow2");
        int fd = open(p, O_RDWR);
        if (pwrite(fd, "\0\0\0\x02", 4, 32) != 4) tap_bail("patch crypt_method");
        close(fd);
        _cleanup_free_ char *l = vpath("disk.luks");
        const char *argv2[] = { "qemu-img", "create", "-q", "--object", "secret,id=s0,data=abc",
                                "-f", "luks", "-o", "key-secret=s0,iter-time=10", l, "16M", NULL };
        if (!tu_run(argv2)) tap_bail("qemu-img create luks failed");
    }
    pk_obs_pool op = { 0 };
    observe(&op);
    const pk_obs_vol *v = tu_find(&op, "over.qcow2");
    tap_ok(v && pk_streq(v->backing_path, base) && v->backing_format == PK_IMG_QCOW2 &&
           v->capacity == 200 * MiB, "qcow2 v3 overlay: backing path, format, size");
    v = tu_find(&op, "over010.qcow2");
    tap_ok(v && pk_streq(v->backing_path, base) && v->backing_format == PK_IMG_QCOW2 &&
           v->capacity == 100 * MiB, "qcow2 v2 (compat 0.10) overlay");
    v = tu_find(&op, "rel.qcow2");
    _cleanup_free_ char *rawp = vpath("a.raw");
    tap_ok(v && pk_streq(v->backing_path, rawp) && v->backing_format == PK_IMG_RAW,
           "relative backing name resolved against the pool: %s", v ? v->backing_path : "");
    v = tu_find(&op, "nofmt.qcow2");
    tap_ok(v && pk_streq(v->backing_path, base) && v->backing_format == -1, "no backing format recorded");
    v = tu_find(&op, "enc.qcow2");
    tap_ok(v && v->encrypted && v->format == PK_IMG_QCOW2 && v->capacity == 16 * MiB, "encrypted qcow2");
    v = tu_find(&op, "disk.luks");
    tap_ok(v && v->encrypted && v->format == PK_IMG_RAW && v->capacity == 16 * MiB && !v->error,
           "luks: raw, encrypted, payload size from qemu-img: %s", v && v->error ? v->error : "");
    v = tu_find(&op, "a.qcow2");
    tap_ok(v && !v->backing_path && !v->encrypted, "plain qcow2 has no backing, not encrypted");
    pk_obs_pool_clear(&op);
}

static void test_entries(void)
{
    _cleanup_free_ char *sparse = vpath("sparse.img");
    _cleanup_free_ char *alloc = vpath("alloc.img");
    _cleanup_free_ char *iso = vpath("cd.iso");
    _cleanup_free_ char *sub = vpath("subdir");
    _cleanup_free_ char *fifo = vpath("fifo");
    _cleanup_free_ char *tmpf = vpath(".pk-tmp-half");
    _cleanup_free_ char *lnk = vpath("link");
    _cleanup_free_ char *fake = vpath("fake-header.raw");

    int fd = open(sparse, O_CREAT | O_WRONLY, 0644);
    if (ftruncate(fd, 10 * MiB) < 0) tap_bail("ftruncate");
    close(fd);
    fd = open(alloc, O_CREAT | O_WRONLY, 0640);
    posix_fallocate(fd, 0, 2 * MiB);
    close(fd);
    fd = open(iso, O_CREAT | O_WRONLY, 0644);
    if (ftruncate(fd, MiB) < 0 || pwrite(fd, "\1CD001", 6, 0x8000) != 6) tap_bail("iso");
    close(fd);
    /* magic bytes beyond the end of a short file do not count */
    tu_write(fake, "QFI");
    mkdir(sub, 0755);
    mkfifo(fifo, 0644);
    tu_write(tmpf, "half made");
    symlink("/etc/passwd", lnk);

    pk_obs_pool op = { 0 };
    observe(&op);
    const pk_obs_vol *v = tu_find(&op, "sparse.img");
    tap_ok(v && v->format == PK_IMG_RAW && v->capacity == 10 * MiB && v->allocation == 0 &&
           v->physical == 10 * MiB, "sparse raw: capacity 10 MiB, allocation 0");
    tap_ok(v && v->perms.mode == 0644 && v->perms.uid == 0, "perms observed");
    _cleanup_free_ char *id = tu_identity(sparse);
    tap_ok(v && pk_streq(v->identity, id), "identity");
    tap_ok(v && v->mtime.sec > 0 && v->atime.sec > 0 && v->ctime.sec > 0 && v->mtime_ns > 0, "timestamps");
    v = tu_find(&op, "alloc.img");
    tap_ok(v && v->allocation >= 2 * MiB && v->capacity == 2 * MiB && v->perms.mode == 0640,
           "allocated raw: allocation st_blocks*512");
    v = tu_find(&op, "cd.iso");
    tap_ok(v && v->format == PK_IMG_ISO, "iso9660 detected");
    v = tu_find(&op, "fake-header.raw");
    tap_ok(v && v->format == PK_IMG_RAW && !v->error, "a 3-byte file is raw");
    v = tu_find(&op, "subdir");
    tap_ok(v && v->type == PK_VOL_DIR && v->format == PK_IMG_DIR && !v->error, "directory listed as dir volume");
    v = tu_find(&op, "fifo");
    tap_ok(v && v->error && strstr(v->error, "is not a regular file"), "fifo reported with an error");
    v = tu_find(&op, "link");
    tap_ok(v && v->error && strstr(v->error, "is a symbolic link"), "link reported, not followed");
    tap_ok(!tu_find(&op, ".pk-tmp-half"), "temporary files are not volumes");
    bool sorted = true;
    for (size_t i = 1; i < op.n_vols; i++)
        if (strcmp(op.vols[i - 1].name, op.vols[i].name) >= 0) sorted = false;
    tap_ok(sorted, "sorted by name");
    pk_obs_pool_clear(&op);
}

static void test_header_units(void)
{
    bool enc;
    unsigned char buf[512] = { 0 };
    tap_is_int(pk_probe_format(buf, sizeof(buf), &enc), PK_IMG_RAW, "zeroes are raw");
    memcpy(buf, "QFI\xfb\0\0\0\x03", 8);
    tap_is_int(pk_probe_format(buf, sizeof(buf), &enc), PK_IMG_QCOW2, "qcow2 v3");
    memcpy(buf, "QFI\xfb\0\0\0\x01", 8);
    tap_is_int(pk_probe_format(buf, sizeof(buf), &enc), PK_IMG_QCOW, "qcow v1");
    memcpy(buf, "LUKS\xba\xbe\0\x01", 8);
    tap_ok(pk_probe_format(buf, sizeof(buf), &enc) == PK_IMG_RAW && enc, "luks: raw, encrypted");
    memset(buf, 0, sizeof(buf));
    memcpy(buf + 0x40, "\x7f\x10\xda\xbe", 4);
    tap_is_int(pk_probe_format(buf, sizeof(buf), &enc), PK_IMG_VDI, "vdi signature at 0x40");
    tap_is_int(pk_probe_format(buf, 0x42, &enc), PK_IMG_RAW, "a signature past the data read does not count");

    /* hostile qcow2 headers fail cleanly */
    unsigned char q[104] = "QFI\xfb\0\0\0\x03";
    pk_obs_vol v = { 0 };
    pk_err *err = NULL;
    tap_ok(pk_qcow2_read_header(-1, q, 50, &v, &err) < 0, "truncated header refused");
    pk_err_free(err); err = NULL;
    q[103] = 10;   /* header_length 10 < 104 */
    tap_ok(pk_qcow2_read_header(-1, q, sizeof(q), &v, &err) < 0, "bad header length refused");
    pk_err_free(err); err = NULL;
    q[103] = 104;
    q[15] = 200; q[19] = 0; q[18] = 0x10;   /* backing name of 4096 bytes */
    tap_ok(pk_qcow2_read_header(-1, q, sizeof(q), &v, &err) < 0, "over-long backing name refused");
    pk_err_free(err);
    pk_obs_vol_clear(&v);
}

int main(void)
{
    tmp = tap_tmpdir("fileprobe");
    pooldir = pk_asprintf("%s/pool", tmp);
    pool = tu_dir_pool(pooldir);
    pk_err *err = NULL;
    if (pk_dir_build(&(pk_bctx){ 0 }, pool, &err) < 0) tap_bail("build failed");
    pk_cmd_set_hook(count_hook, NULL);

    test_formats();
    test_readonly_formats();
    test_qcow2_options();
    test_backing_and_encryption();
    test_label();
    test_cache();
    test_entries();
    test_header_units();

    pk_cmd_set_hook(NULL, NULL);
    pk_pool_free(pool);
    free(pooldir);
    free(tmp);
    return tap_done();
}
