/* Observing files of a dir pool: formats from header magic, virtual sizes
 * and backing files compared with what qemu-img itself reports, sparse vs
 * allocated, and entries that are not volumes. */
#include "testutil.h"
#include "../../backends/fileprobe.h"
#include "../../backends/qemu_img.h"
#include "../../backends/runner.h"
#include <fcntl.h>

#define MiB (1024ULL * 1024)

static char *tmp, *pooldir;
static pk_pool *pool;
static int qemu_runs;

static bool count_hook(pk_cmd *cmd, void *opaque PK_UNUSED)
{
    if (strcmp(pk_cmd_argv(cmd)[0], "qemu-img") == 0) qemu_runs++;
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
        { "raw", "a.raw", NULL, PK_IMG_RAW },
    };
    for (size_t i = 0; i < PK_NELEM(imgs); i++)
        qemu_img(imgs[i].qfmt, imgs[i].name, "100M", imgs[i].opts);

    qemu_runs = 0;
    pk_obs_pool op = { 0 };
    observe(&op);
    /* qcow2 and raw are read in-process; the six other image formats ask qemu-img */
    tap_is_int(qemu_runs, 6, "qemu-img ran only for the rare formats");
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
    test_backing_and_encryption();
    test_entries();
    test_header_units();

    pk_cmd_set_hook(NULL, NULL);
    pk_pool_free(pool);
    free(pooldir);
    free(tmp);
    return tap_done();
}
