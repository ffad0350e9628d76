/* dir backend, volume side: create (raw sparse / preallocated / qcow2,
 * atomic), resize, update, delete with identity checks, and symlinks planted
 * in the pool. Real files, real qemu-img. */
#include "testutil.h"
#include "../../backends/runner.h"
#include "../../backends/fileprobe.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/xattr.h>

#define MiB (1024ULL * 1024)
#define GiB (1024ULL * MiB)

static char *tmp, *pooldir;
static pk_pool *pool;
static bool inject_fault;

static bool fault_hook(const char *point, const char *object)
{
    return inject_fault && strcmp(point, "vol.create.before-rename") == 0 &&
           strcmp(object, "crashy") == 0;
}

static char *vpath(const char *name)
{
    return pk_asprintf("%s/%s", pooldir, name);
}

/* create_vol; returns the error text or NULL, fills *out. */
static char *create(pk_bctx *c, pk_vol *v, pk_obs_vol *out)
{
    pk_err *e = NULL;
    pk_obs_vol_clear(out);
    if (pk_dir_create_vol(c, pool, v, out, &e) == 0) return NULL;
    return tu_errstr(e);
}

static void test_create_raw(void)
{
    pk_bctx c = { 0 };
    pk_obs_vol o = { 0 };

    _cleanup_(pk_vol_freep) pk_vol *sparse = tu_vol("sparse.raw", PK_IMG_RAW, 64 * MiB);
    tu_vol_alloc(sparse, 0);
    _cleanup_free_ char *e1 = create(&c, sparse, &o);
    tap_ok(e1 == NULL, "raw sparse created: %s", e1 ? e1 : "");
    _cleanup_free_ char *p1 = vpath("sparse.raw");
    struct stat st = tu_lstat(p1);
    tap_ok(S_ISREG(st.st_mode) && st.st_size == (off_t)(64 * MiB), "size 64 MiB");
    tap_is_int(st.st_blocks, 0, "no blocks allocated");
    tap_is_int(st.st_mode & 07777, 0600, "default mode 0600 as libvirt");
    _cleanup_free_ char *id1 = tu_identity(p1);
    tap_is_str(o.identity, id1, "result carries the identity");
    tap_ok(o.format == PK_IMG_RAW && o.capacity == 64 * MiB && o.allocation == 0 &&
           o.physical == 64 * MiB && o.type == PK_VOL_FILE, "result: raw, capacity, allocation");
    tap_is_str(o.path, p1, "result path");
    tap_is_str(o.key, p1, "key is the path, as libvirt");
    _cleanup_free_ char *t1 = vpath(".pk-tmp-sparse.raw");
    tap_ok(!tu_exists(t1), "no temporary left");

    /* no <allocation>: libvirt's parser makes it the capacity */
    _cleanup_(pk_vol_freep) pk_vol *full = tu_vol("full.raw", PK_IMG_RAW, 8 * MiB);
    _cleanup_free_ char *e2 = create(&c, full, &o);
    _cleanup_free_ char *p2 = vpath("full.raw");
    st = tu_lstat(p2);
    tap_ok(e2 == NULL && (uint64_t)st.st_blocks * 512 >= 8 * MiB, "no allocation given: fully allocated");
    tap_ok(o.allocation >= 8 * MiB, "result allocation %llu", (unsigned long long)o.allocation);

    _cleanup_(pk_vol_freep) pk_vol *part = tu_vol("part.raw", -1, 16 * MiB);
    tu_vol_alloc(part, 4 * MiB);
    part->target.perms = (pk_perms){ .mode = 0640, .uid = 4242, .gid = 4343 };
    _cleanup_free_ char *e3 = create(&c, part, &o);
    _cleanup_free_ char *p3 = vpath("part.raw");
    st = tu_lstat(p3);
    uint64_t alloc = (uint64_t)st.st_blocks * 512;
    tap_ok(e3 == NULL && alloc >= 4 * MiB && alloc < 16 * MiB, "partial allocation: %llu bytes",
           (unsigned long long)alloc);
    tap_ok((st.st_mode & 07777) == 0640 && st.st_uid == 4242 && st.st_gid == 4343,
           "owner and mode applied");
    tap_ok(o.perms.mode == 0640 && o.perms.uid == 4242 && o.perms.gid == 4343, "result perms");

    /* an existing name is never overwritten */
    tu_write(p3, "precious");
    _cleanup_(pk_vol_freep) pk_vol *again = tu_vol("part.raw", PK_IMG_RAW, MiB);
    tu_vol_alloc(again, 0);
    _cleanup_free_ char *e4 = create(&c, again, &o);
    _cleanup_free_ char *want4 = pk_asprintf("error: volume '%s' already exists", p3);
    tap_is_str(e4, want4, "existing name refused");
    _cleanup_free_ char *content = tu_read(p3);
    tap_is_str(content, "precious", "existing file untouched");

    const char *bad[] = { "a/b", "..", ".", "", ".pk-tmp-x", "tab\there" };
    for (size_t i = 0; i < PK_NELEM(bad); i++) {
        _cleanup_(pk_vol_freep) pk_vol *b = tu_vol(bad[i], PK_IMG_RAW, MiB);
        _cleanup_free_ char *e = create(&c, b, &o);
        tap_ok(e != NULL, "name '%s' refused: %s", bad[i], e ? e : "");
    }
    pk_obs_vol_clear(&o);
}

static void test_create_atomic(void)
{
    pk_bctx c = { 0 };
    pk_obs_vol o = { 0 };
    _cleanup_free_ char *fin = vpath("crashy");
    _cleanup_free_ char *tmpname = vpath(".pk-tmp-crashy");

    _cleanup_(pk_vol_freep) pk_vol *v = tu_vol("crashy", PK_IMG_RAW, 4 * MiB);
    inject_fault = true;
    _cleanup_free_ char *e = create(&c, v, &o);
    inject_fault = false;
    tap_ok(e && strstr(e, "fault injected"), "create stopped before the rename");
    tap_ok(!tu_exists(fin), "final name does not exist");
    tap_ok(tu_exists(tmpname) && tu_lstat(tmpname).st_size == (off_t)(4 * MiB),
           "complete data only under the temporary name");

    pk_obs_pool op = { 0 };
    pk_err *err = NULL;
    tap_ok(pk_dir_observe_vols(&c, pool, &op, &err) == 0 && !tu_find(&op, ".pk-tmp-crashy") &&
           !tu_find(&op, "crashy"), "observe lists neither");
    pk_obs_pool_clear(&op);

    _cleanup_free_ char *e2 = create(&c, v, &o);
    tap_ok(e2 == NULL && tu_exists(fin) && !tu_exists(tmpname),
           "the next create removes the stale temporary and converges");
    pk_obs_vol_clear(&o);
}

struct qhook { int calls; bool final_absent, tmp_present; char *line; int reply; };

static bool qemu_hook(pk_cmd *cmd, void *opaque)
{
    struct qhook *h = opaque;
    if (strcmp(pk_cmd_argv(cmd)[0], "qemu-img") != 0) return false;
    h->calls++;
    free(h->line);
    h->line = pk_cmd_to_string(cmd);
    _cleanup_free_ char *fin = vpath("img.qcow2");
    _cleanup_free_ char *t = vpath(".pk-tmp-img.qcow2");
    h->final_absent = !tu_exists(fin);
    h->tmp_present = tu_exists(t);
    if (h->reply) {
        pk_cmd_hook_reply(cmd, h->reply, "", "qemu-img: Could not create: disk on fire\n");
        return true;
    }
    return false;
}

static void test_create_qcow2(void)
{
    pk_bctx c = { 0 };
    pk_obs_vol o = { 0 };
    struct qhook h = { 0 };
    pk_cmd_set_hook(qemu_hook, &h);

    /* failing qemu-img: error with its stderr, nothing left behind */
    h.reply = 1;
    _cleanup_(pk_vol_freep) pk_vol *v = tu_vol("img.qcow2", PK_IMG_QCOW2, GiB);
    _cleanup_free_ char *e0 = create(&c, v, &o);
    tap_ok(e0 && strstr(e0, "cannot create volume 'img.qcow2'") && strstr(e0, "disk on fire"),
           "qemu-img failure reported: %s", e0 ? e0 : "");
    _cleanup_free_ char *fin = vpath("img.qcow2");
    _cleanup_free_ char *t = vpath(".pk-tmp-img.qcow2");
    tap_ok(!tu_exists(fin) && !tu_exists(t), "failed create leaves nothing");

    h.reply = 0;
    h.calls = 0;
    _cleanup_free_ char *e1 = create(&c, v, &o);
    tap_ok(e1 == NULL, "qcow2 created: %s", e1 ? e1 : "");
    tap_is_int(h.calls, 1, "one qemu-img run (observing the result reads the header in-process)");
    tap_ok(h.line && pk_str_has_prefix(h.line, "qemu-img create -f qcow2 -o compat=1.1 /dev/fd/") &&
           pk_str_has_suffix(h.line, " 1048576K"), "command line: %s", h.line);
    tap_ok(h.final_absent && h.tmp_present, "while qemu-img runs only the temporary exists");
    tap_ok(!tu_exists(t), "temporary renamed");
    tap_is_int(tu_qemu_virtual_size(fin), (long long)GiB, "qemu-img sees a 1 GiB image");
    tap_ok(o.format == PK_IMG_QCOW2 && o.capacity == GiB && o.physical < MiB && !o.encrypted,
           "result: qcow2, virtual size, small file");
    tap_is_int(tu_lstat(fin).st_mode & 07777, 0600, "mode 0600");

    /* overlay on a raw volume */
    _cleanup_(pk_vol_freep) pk_vol *ov = tu_vol("overlay.qcow2", PK_IMG_QCOW2, 0);
    ov->backing = PK_NEW(pk_backing_store);
    ov->backing->path = vpath("sparse.raw");
    ov->backing->format = PK_IMG_RAW;
    ov->backing->perms = (pk_perms){ .mode = -1, .uid = -1, .gid = -1 };
    _cleanup_free_ char *e2 = create(&c, ov, &o);
    tap_ok(e2 == NULL, "overlay created: %s", e2 ? e2 : "");
    tap_ok(h.line && strstr(h.line, " -b ") && strstr(h.line, "-o backing_fmt=raw,compat=1.1 /dev/fd/") &&
           !pk_str_has_suffix(h.line, "K"), "no size: taken from the backing file: %s", h.line);
    tap_is_str(o.backing_path, ov->backing->path, "backing path observed");
    tap_is_int(o.backing_format, PK_IMG_RAW, "backing format observed");
    tap_is_int((long long)o.capacity, 64 * MiB, "capacity of the backing file");

    _cleanup_(pk_vol_freep) pk_vol *bad = tu_vol("bad.raw", PK_IMG_RAW, MiB);
    bad->target.compat = pk_strdup("1.1");
    bad->target.format = PK_IMG_VMDK;
    _cleanup_free_ char *e3 = create(&c, bad, &o);
    tap_ok(e3 && strstr(e3, "only supported with the qcow2 format"), "compat on vmdk refused: %s", e3 ? e3 : "");

    pk_cmd_set_hook(NULL, NULL);
    free(h.line);
    pk_obs_vol_clear(&o);
}

struct enc_hook { char *line; bool leaked; };

static bool enc_hook_fn(pk_cmd *cmd, void *opaque)
{
    struct enc_hook *h = opaque;
    _cleanup_free_ char *line = pk_cmd_to_string(cmd);
    if (strstr(line, "qemu-img create")) {
        free(h->line);
        h->line = TAKE_PTR(line);
    }
    size_t len = 0;
    const char *in = pk_cmd_stdin_data(cmd, &len);
    if ((h->line && strstr(h->line, "s3cret")) || (line && strstr(line, "s3cret")) ||
        (in && memmem(in, len, "s3cret", 6)))
        h->leaked = true;
    return false;
}

static pk_vol *luks_vol(const char *name, const char *uuid)
{
    pk_vol *v = tu_vol(name, PK_IMG_RAW, 16 * MiB);
    v->target.encryption = PK_NEW(pk_encryption);
    v->target.encryption->format = PK_ENC_LUKS;
    v->target.encryption->secrets = PK_NEW(pk_secret_ref);
    v->target.encryption->n_secrets = 1;
    v->target.encryption->secrets[0].uuid = pk_strdup(uuid);
    return v;
}

static void test_encrypted(void)
{
    const char *uuid = "f52a81b2-424e-490c-823d-6bd4235bc572";
    _cleanup_free_ char *sdir = pk_asprintf("%s/secrets", tmp);
    _cleanup_free_ char *sfile = pk_asprintf("%s/%s", sdir, uuid);
    mkdir(sdir, 0700);
    tu_write(sfile, "s3cret");
    chmod(sfile, 0600);
    pk_bctx c = { .secrets_dir = sdir };
    pk_obs_vol o = { 0 };
    struct enc_hook h = { 0 };
    pk_cmd_set_hook(enc_hook_fn, &h);

    _cleanup_(pk_vol_freep) pk_vol *v = luks_vol("enc.raw", uuid);
    _cleanup_free_ char *e1 = create(&c, v, &o);
    tap_ok(e1 == NULL, "luks volume created: %s", e1 ? e1 : "");
    tap_ok(h.line && strstr(h.line, "qemu-img create -f luks --object secret,id=enc.raw_encrypt0,file=/dev/fd/") &&
           strstr(h.line, " -o key-secret=enc.raw_encrypt0 /dev/fd/"), "passphrase passed as an fd: %s", h.line);
    tap_ok(!h.leaked, "the passphrase is in no argv and no stdin");
    tap_ok(o.format == PK_IMG_RAW && o.encrypted && o.capacity == 16 * MiB && !o.error,
           "observed: raw, encrypted, payload capacity");
    pk_cmd_set_hook(NULL, NULL);

    /* the passphrase is the right one: qemu opens the image with it, not with another */
    _cleanup_free_ char *p = vpath("enc.raw");
    _cleanup_free_ char *obj = pk_asprintf("secret,id=s0,file=%s", sfile);
    _cleanup_free_ char *img = pk_asprintf("driver=luks,key-secret=s0,file.filename=%s", p);
    _cleanup_free_ char *plain = pk_asprintf("%s/decrypted", tmp);
    const char *ok_argv[] = { "qemu-img", "convert", "--object", obj, "--image-opts", img,
                              "-O", "raw", plain, NULL };
    tap_ok(tu_run(ok_argv), "qemu-img decrypts it with the secret file's passphrase");
    const char *bad_argv[] = { "qemu-img", "convert", "--object", "secret,id=s0,data=wrong",
                               "--image-opts", img, "-O", "raw", plain, NULL };
    _cleanup_(pk_cmd_freep) pk_cmd *bad = pk_cmd_new_argv(bad_argv);
    int status = 0;
    pk_err *err = NULL;
    tap_ok(pk_cmd_run(bad, &status, &err) == 0 && status != 0, "and not with another one");

    /* secrets that must not be used */
    chmod(sfile, 0644);
    _cleanup_(pk_vol_freep) pk_vol *v2 = luks_vol("enc2.raw", uuid);
    _cleanup_free_ char *e2 = create(&c, v2, &o);
    tap_ok(e2 && strstr(e2, "must be owned by uid 0 and readable by it alone (mode 0600), not 0644"),
           "group/world-readable secret refused: %s", e2 ? e2 : "");
    _cleanup_free_ char *t2 = vpath(".pk-tmp-enc2.raw");
    _cleanup_free_ char *p2 = vpath("enc2.raw");
    tap_ok(!tu_exists(t2) && !tu_exists(p2), "nothing left behind");
    chmod(sfile, 0600);
    _cleanup_(pk_vol_freep) pk_vol *v3 = luks_vol("enc3.raw", "00000000-0000-0000-0000-000000000000");
    _cleanup_free_ char *e3 = create(&c, v3, &o);
    tap_ok(e3 && strstr(e3, "secret file '") && strstr(e3, "/00000000-0000-0000-0000-000000000000' does not exist"),
           "missing secret named: %s", e3 ? e3 : "");
    _cleanup_free_ char *lnk = pk_asprintf("%s/11111111-1111-1111-1111-111111111111", sdir);
    symlink(sfile, lnk);
    _cleanup_(pk_vol_freep) pk_vol *v4 = luks_vol("enc4.raw", "11111111-1111-1111-1111-111111111111");
    _cleanup_free_ char *e4 = create(&c, v4, &o);
    tap_ok(e4 && strstr(e4, "cannot open secret file"), "symlinked secret refused: %s", e4 ? e4 : "");
    tap_ok(!(e2 && strstr(e2, "s3cret")) && !(e3 && strstr(e3, "s3cret")), "messages never carry the passphrase");
    free(h.line);
    pk_obs_vol_clear(&o);
}

static void observe_vol(const char *name, pk_obs_vol *out)
{
    pk_obs_pool op = { 0 };
    pk_err *err = NULL;
    pk_obs_vol_clear(out);
    if (pk_dir_observe_vols(&(pk_bctx){ 0 }, pool, &op, &err) < 0) {
        _cleanup_free_ char *s = tu_errstr(err);
        tap_bail("observe failed: %s", s);
    }
    const pk_obs_vol *v = tu_find(&op, name);
    if (!v) tap_bail("volume %s not observed", name);
    /* steal it */
    for (size_t i = 0; i < op.n_vols; i++)
        if (&op.vols[i] == v) {
            *out = op.vols[i];
            op.vols[i] = op.vols[--op.n_vols];
        }
    pk_obs_pool_clear(&op);
}

static char *resize(pk_bctx *c, const pk_vol *v, const pk_obs_vol *cur, uint64_t cap, pk_obs_vol *out)
{
    pk_err *e = NULL;
    pk_obs_vol_clear(out);
    if (pk_dir_resize_vol(c, pool, v, cur, cap, out, &e) == 0) return NULL;
    return tu_errstr(e);
}

static void test_resize(void)
{
    pk_bctx c = { 0 };
    pk_obs_vol cur = { 0 }, o = { 0 };

    _cleanup_(pk_vol_freep) pk_vol *sv = tu_vol("grow.raw", PK_IMG_RAW, 8 * MiB);
    tu_vol_alloc(sv, 0);
    _cleanup_free_ char *e0 = create(&c, sv, &cur);
    _cleanup_free_ char *e1 = resize(&c, sv, &cur, 32 * MiB, &o);
    _cleanup_free_ char *p = vpath("grow.raw");
    tap_ok(e1 == NULL && tu_lstat(p).st_size == (off_t)(32 * MiB) && tu_lstat(p).st_blocks == 0,
           "sparse raw grows sparse");
    tap_ok(o.capacity == 32 * MiB, "result capacity");

    pk_obs_vol_clear(&cur);
    cur = o;
    memset(&o, 0, sizeof(o));
    _cleanup_free_ char *e2 = resize(&c, sv, &cur, 16 * MiB, &o);
    _cleanup_free_ char *want = pk_asprintf("error: shrinking volume '%s' from 33554432 to 16777216 bytes needs policy allow_shrink", p);
    tap_is_str(e2, want, "shrink refused without allow_shrink");
    tap_ok(tu_lstat(p).st_size == (off_t)(32 * MiB), "size unchanged");
    c.allow_shrink = true;
    _cleanup_free_ char *e3 = resize(&c, sv, &cur, 16 * MiB, &o);
    tap_ok(e3 == NULL && tu_lstat(p).st_size == (off_t)(16 * MiB), "shrink allowed with allow_shrink");
    c.allow_shrink = false;

    _cleanup_(pk_vol_freep) pk_vol *fv = tu_vol("fullgrow.raw", PK_IMG_RAW, 4 * MiB);
    _cleanup_free_ char *e4 = create(&c, fv, &cur);
    _cleanup_free_ char *e5 = resize(&c, fv, &cur, 12 * MiB, &o);
    _cleanup_free_ char *pf = vpath("fullgrow.raw");
    tap_ok(e5 == NULL && (uint64_t)tu_lstat(pf).st_blocks * 512 >= 12 * MiB,
           "fully allocated raw stays fully allocated");

    /* qcow2 through qemu-img */
    _cleanup_(pk_vol_freep) pk_vol *qv = tu_vol("grow.qcow2", PK_IMG_QCOW2, GiB);
    _cleanup_free_ char *e6 = create(&c, qv, &cur);
    _cleanup_free_ char *e7 = resize(&c, qv, &cur, 2 * GiB, &o);
    _cleanup_free_ char *pq = vpath("grow.qcow2");
    tap_ok(e7 == NULL && o.capacity == 2 * GiB, "qcow2 grown: %s", e7 ? e7 : "");
    tap_is_int(tu_qemu_virtual_size(pq), (long long)(2 * GiB), "qemu-img agrees");
    pk_obs_vol_clear(&cur);
    cur = o;
    memset(&o, 0, sizeof(o));
    _cleanup_free_ char *e8 = resize(&c, qv, &cur, GiB / 2, &o);
    tap_ok(e8 && strstr(e8, "needs policy allow_shrink"), "qcow2 shrink refused");
    c.allow_shrink = true;
    _cleanup_free_ char *e9 = resize(&c, qv, &cur, GiB / 2, &o);
    tap_ok(e9 == NULL && o.capacity == GiB / 2, "qcow2 shrunk with --shrink: %s", e9 ? e9 : "");
    tap_is_int(tu_qemu_virtual_size(pq), (long long)(GiB / 2), "qemu-img agrees");

    /* formats disagree: never act on a header the guest may have written */
    _cleanup_(pk_vol_freep) pk_vol *lie = tu_vol("grow.qcow2", PK_IMG_RAW, GiB);
    pk_obs_vol_clear(&cur);
    cur = o;
    memset(&o, 0, sizeof(o));
    _cleanup_free_ char *e10 = resize(&c, lie, &cur, 4 * GiB, &o);
    tap_ok(e10 && strstr(e10, "observed format differs"), "format mismatch refused: %s", e10 ? e10 : "");
    c.allow_shrink = false;

    /* replaced since observed */
    observe_vol("grow.raw", &cur);
    _cleanup_free_ char *side = vpath("side");
    tu_write(side, "new file");
    rename(side, p);
    _cleanup_free_ char *e11 = resize(&c, sv, &cur, 64 * MiB, &o);
    tap_ok(e11 && strstr(e11, "was replaced since it was observed"), "replaced file not resized: %s",
           e11 ? e11 : "");
    tap_ok(tu_lstat(p).st_size == 8, "replacement untouched");
    pk_obs_vol_clear(&cur);
    pk_obs_vol_clear(&o);
}

static void test_update_delete(void)
{
    pk_bctx c = { 0 };
    pk_obs_vol cur = { 0 }, o = { 0 };
    pk_err *err = NULL;

    _cleanup_(pk_vol_freep) pk_vol *v = tu_vol("perm.raw", PK_IMG_RAW, MiB);
    tu_vol_alloc(v, 0);
    _cleanup_free_ char *e0 = create(&c, v, &cur);
    v->target.perms = (pk_perms){ .mode = 0644, .uid = 1234, .gid = 5678 };
    tap_ok(pk_dir_update_vol(&c, pool, v, &cur, &o, &err) == 0, "update");
    _cleanup_free_ char *p = vpath("perm.raw");
    struct stat st = tu_lstat(p);
    tap_ok((st.st_mode & 07777) == 0644 && st.st_uid == 1234 && st.st_gid == 5678, "perms applied");
    tap_ok(o.perms.mode == 0644 && o.perms.uid == 1234 && o.perms.gid == 5678, "result perms");
    v->target.perms = (pk_perms){ .mode = 0600, .uid = -1, .gid = -1 };
    tap_ok(pk_dir_update_vol(&c, pool, v, &cur, &o, &err) == 0 &&
           tu_lstat(p).st_mode % 01000 == 0600 && tu_lstat(p).st_uid == 1234,
           "only the given fields change");

    /* delete: replaced file is not deleted */
    _cleanup_free_ char *side = vpath("side2");
    tu_write(side, "someone else's");
    rename(side, p);
    pk_err *de = NULL;
    tap_ok(pk_dir_delete_vol(&c, pool, &cur, &de) < 0, "delete of a replaced file refused");
    _cleanup_free_ char *ds = tu_errstr(de);
    tap_ok(ds && strstr(ds, "was replaced since it was observed"), "%s", ds ? ds : "");
    _cleanup_free_ char *content = tu_read(p);
    tap_is_str(content, "someone else's", "replacement kept");
    pk_err *ue = NULL;
    tap_ok(pk_dir_update_vol(&c, pool, v, &cur, &o, &ue) < 0, "update of a replaced file refused");
    pk_err_free(ue);

    observe_vol("perm.raw", &cur);
    tap_ok(pk_dir_delete_vol(&c, pool, &cur, &err) == 0 && !tu_exists(p), "delete of the observed file");
    tap_ok(pk_dir_delete_vol(&c, pool, &cur, &err) == 0, "deleting again is fine (idempotent)");
    tap_ok(err == NULL, "no stray error");

    /* deleted and made again outside: often the very same inode number */
    _cleanup_(pk_vol_freep) pk_vol *r = tu_vol("reuse.raw", PK_IMG_RAW, MiB);
    _cleanup_free_ char *e1 = create(&c, r, &cur);
    _cleanup_free_ char *pr = vpath("reuse.raw");
    ino_t old_ino = tu_lstat(pr).st_ino;
    unlink(pr);
    tu_write(pr, "new owner");
    tap_diag("inode number %s", tu_lstat(pr).st_ino == old_ino ? "reused" : "not reused");
    pk_err *re = NULL;
    tap_ok(pk_dir_delete_vol(&c, pool, &cur, &re) < 0 && tu_exists(pr),
           "a new file under the old name is not deleted, even on a reused inode");
    pk_err_free(re);
    pk_obs_vol_clear(&cur);
    pk_obs_vol_clear(&o);
}

static void test_symlinks(void)
{
    pk_bctx c = { .allow_shrink = true };
    pk_obs_vol o = { 0 }, cur = { 0 };
    _cleanup_free_ char *outside = pk_asprintf("%s/outside-secret", tmp);
    tu_write(outside, "do not touch");
    _cleanup_free_ char *evil = vpath("evil");
    symlink(outside, evil);

    observe_vol("evil", &cur);
    _cleanup_free_ char *want = pk_asprintf("'%s' is a symbolic link, not a regular file", evil);
    tap_is_str(cur.error, want, "observe reports the link as not a regular file");

    _cleanup_(pk_vol_freep) pk_vol *v = tu_vol("evil", PK_IMG_RAW, 16 * MiB);
    _cleanup_free_ char *e1 = create(&c, v, &o);
    tap_ok(e1 && strstr(e1, "already exists"), "create over the link refused");
    cur.format = PK_IMG_RAW;   /* as if a planner believed it */
    _cleanup_free_ char *e2 = resize(&c, v, &cur, 0, &o);
    tap_ok(e2 && strstr(e2, "is a symbolic link"), "resize through the link refused: %s", e2 ? e2 : "");
    pk_err *ue = NULL;
    v->target.perms.mode = 0666;
    tap_ok(pk_dir_update_vol(&c, pool, v, &cur, &o, &ue) < 0, "update through the link refused");
    pk_err_free(ue);
    _cleanup_free_ char *content = tu_read(outside);
    tap_is_str(content, "do not touch", "outside file content untouched");
    tap_is_int(tu_lstat(outside).st_mode & 07777, 0644, "outside file mode untouched");

    /* a link planted at the temporary name is removed, not followed */
    _cleanup_free_ char *trap = vpath(".pk-tmp-victim");
    symlink(outside, trap);
    _cleanup_(pk_vol_freep) pk_vol *victim = tu_vol("victim", PK_IMG_RAW, 16 * MiB);
    _cleanup_free_ char *e3 = create(&c, victim, &o);
    _cleanup_free_ char *pv = vpath("victim");
    tap_ok(e3 == NULL && S_ISREG(tu_lstat(pv).st_mode), "create succeeded with a real file");
    _cleanup_free_ char *content2 = tu_read(outside);
    tap_ok(pk_streq(content2, "do not touch") && tu_lstat(outside).st_size == 12, "outside file untouched");

    /* deleting the observed link removes the link only */
    observe_vol("evil", &cur);
    pk_err *err = NULL;
    tap_ok(pk_dir_delete_vol(&c, pool, &cur, &err) == 0 && !tu_exists(evil) && tu_exists(outside),
           "delete removes the link, not its target");
    pk_obs_vol_clear(&cur);
    pk_obs_vol_clear(&o);
}

static struct timespec dir_mtime(void)
{
    struct stat st = tu_lstat(pooldir);
    return st.st_mtim;
}

static int qemu_calls;
static bool count_qemu(pk_cmd *cmd, void *opaque PK_UNUSED)
{
    if (strcmp(pk_cmd_argv(cmd)[0], "qemu-img") == 0) qemu_calls++;
    return false;
}

static void test_secret_first_and_dir_volumes(void)
{
    _cleanup_free_ char *sdir = pk_asprintf("%s/secrets2", tmp);
    mkdir(sdir, 0700);
    pk_bctx c = { .secrets_dir = sdir };
    pk_obs_vol o = { 0 };
    pk_cmd_set_hook(count_qemu, NULL);

    /* the pool directory is not even touched: no temporary came and went */
    struct timespec before = dir_mtime();
    _cleanup_(pk_vol_freep) pk_vol *v = luks_vol("late.raw", "22222222-2222-2222-2222-222222222222");
    _cleanup_free_ char *e1 = create(&c, v, &o);
    struct timespec after = dir_mtime();
    tap_ok(e1 && strstr(e1, "does not exist"), "missing secret refused: %s", e1 ? e1 : "");
    tap_ok(before.tv_sec == after.tv_sec && before.tv_nsec == after.tv_nsec && qemu_calls == 0,
           "before anything was created (directory unchanged, no qemu-img)");
    pk_cmd_set_hook(NULL, NULL);

    /* libvirt's 'dir' format: a directory volume, owner and mode applied */
    _cleanup_(pk_vol_freep) pk_vol *d = tu_vol("subvol", PK_IMG_DIR, 0);
    d->target.perms = (pk_perms){ .mode = 0750, .uid = 4242, .gid = -1 };
    _cleanup_free_ char *e2 = create(&c, d, &o);
    _cleanup_free_ char *dp = vpath("subvol");
    struct stat st = tu_lstat(dp);
    tap_ok(e2 == NULL && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0750 && st.st_uid == 4242,
           "dir volume made with its perms: %s", e2 ? e2 : "");
    tap_ok(o.type == PK_VOL_DIR && o.format == PK_IMG_DIR, "observed as a dir volume");
    _cleanup_free_ char *e3 = create(&c, d, &o);
    tap_ok(e3 && strstr(e3, "already exists"), "made once only");
    pk_err *err = NULL;
    pk_obs_vol cur = { 0 };
    observe_vol("subvol", &cur);
    tap_ok(pk_dir_delete_vol(&c, pool, &cur, &err) == 0 && !tu_exists(dp), "and deleted");
    pk_err_free(err);
    pk_obs_vol_clear(&cur);

    /* read-only formats and ploop: refused before anything exists */
    int ro[] = { PK_IMG_DMG, PK_IMG_BOCHS, PK_IMG_CLOOP, PK_IMG_PLOOP };
    _cleanup_free_ char *rop = vpath("ro.img");
    for (size_t i = 0; i < PK_NELEM(ro); i++) {
        _cleanup_(pk_vol_freep) pk_vol *r = tu_vol("ro.img", ro[i], 1024 * 1024);
        _cleanup_free_ char *e = create(&c, r, &o);
        tap_ok(e && (strstr(e, "is read-only") || strstr(e, "ploop tools")) && !tu_exists(rop),
               "format %s refused: %s", pk_img_format_to_string(ro[i]), e ? e : "");
    }

    /* nocow off btrfs: made all the same */
    _cleanup_(pk_vol_freep) pk_vol *n = tu_vol("nocow.raw", PK_IMG_RAW, 1024 * 1024);
    n->target.nocow = true;
    _cleanup_free_ char *e4 = create(&c, n, &o);
    tap_ok(e4 == NULL && !o.nocow, "nocow off btrfs is a no-op: %s", e4 ? e4 : "");

    /* a label: not applied without SELinux; changed where the file has one */
    _cleanup_(pk_vol_freep) pk_vol *l = tu_vol("label.raw", PK_IMG_RAW, 1024 * 1024);
    l->target.perms.label = pk_strdup("system_u:object_r:virt_image_t:s0");
    _cleanup_free_ char *e5 = create(&c, l, &o);
    tap_ok(e5 == NULL && !o.perms.label, "label not applicable here: created without one");
    _cleanup_free_ char *lp = vpath("label.raw");
    const char *old_label = "system_u:object_r:unlabeled_t:s0";
    if (setxattr(lp, "security.selinux", old_label, strlen(old_label) + 1, 0) == 0) {
        observe_vol("label.raw", &cur);
        pk_obs_vol nv = { 0 };
        int r = pk_dir_update_vol(&c, pool, l, &cur, &nv, &err);
        char got[256] = "";
        ssize_t gl = getxattr(lp, "security.selinux", got, sizeof(got) - 1);
        if (gl > 0) got[gl] = '\0';
        if (pk_selinux_active())
            tap_ok(r == 0 && pk_streq(nv.perms.label, l->target.perms.label) &&
                   pk_streq(got, l->target.perms.label), "update sets the label: %s",
                   nv.perms.label ? nv.perms.label : "(none)");
        else
            tap_ok(r == 0 && !cur.perms.label && !nv.perms.label && pk_streq(got, old_label),
                   "without SELinux a label is neither read nor changed");
        pk_obs_vol_clear(&nv);
        pk_obs_vol_clear(&cur);
    } else {
        tap_diag("no security.selinux here: label update not tested");
    }
    pk_obs_vol_clear(&o);
}

int main(void)
{
    tmp = tap_tmpdir("dir-vol");
    pooldir = pk_asprintf("%s/pool", tmp);
    pool = tu_dir_pool(pooldir);
    pk_err *err = NULL;
    if (pk_dir_build(&(pk_bctx){ 0 }, pool, &err) < 0) tap_bail("build failed");
    pk_backend_set_fault_hook(fault_hook);

    test_create_raw();
    test_create_atomic();
    test_create_qcow2();
    test_resize();
    test_update_delete();
    test_symlinks();
    test_encrypted();
    test_secret_first_and_dir_volumes();

    pk_pool_free(pool);
    free(pooldir);
    free(tmp);
    return tap_done();
}
