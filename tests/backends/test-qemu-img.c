/* qemu-img command lines against libvirt's own expected argv files
 * (tests/data/libvirt/vol-argv, from libvirt's storagevolxml2argvtest), and
 * the parsing of `qemu-img info` JSON. */
#include "../tap.h"
#include "../../backends/qemu_img.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    pk_buf b = PK_BUF_INIT;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) pk_buf_addn(&b, buf, n);
    fclose(f);
    pk_buf_add(&b, "");
    return pk_buf_steal(&b);
}

/* libvirt's argv files put one argument per line, joined by " \\\n". */
static char *argv_file_line(const char *path)
{
    _cleanup_free_ char *s = slurp(path);
    if (!s) return NULL;
    pk_buf b = PK_BUF_INIT;
    for (const char *p = s; *p; p++) {
        if (p[0] == ' ' && p[1] == '\\' && p[2] == '\n') {
            pk_buf_addc(&b, ' ');
            p += 2;
        } else if (!(p[0] == '\n' && p[1] == '\0')) {
            pk_buf_addc(&b, *p);
        }
    }
    return pk_buf_steal(&b);
}

static pk_pool *dir_pool(void)
{
    _cleanup_free_ char *path = pk_asprintf("%s/data/libvirt/pool/in/pool-dir.xml", tap_data_dir());
    pk_err *errs = NULL;
    pk_pool *p = pk_pool_parse_file(path, &errs);
    if (!p) {
        _cleanup_free_ char *s = errs ? pk_err_str(errs) : NULL;
        tap_bail("cannot parse %s: %s", path, s ? s : "");
    }
    pk_err_free(errs);
    return p;
}

static void test_libvirt_cases(void)
{
    static const struct {
        const char *name, *xml, *argv;
        unsigned flags;
        const char *refusal;   /* expected error substring, NULL = ok */
    } cases[] = {
        { "qcow2-compat", "vol-qcow2.xml", "qcow2-compat.argv", 0, NULL },
        { "qcow2-lazy", "vol-qcow2-lazy.xml", "qcow2-lazy.argv", 0, NULL },
        { "qcow2-1.1", "vol-qcow2-1.1.xml", "qcow2-1.1.argv", 0, NULL },
        { "qcow2-nocow-compat", "vol-qcow2-nocow.xml", "qcow2-nocow-compat.argv", 0, NULL },
        { "qcow2-zerocapacity", "vol-qcow2-zerocapacity.xml", "qcow2-zerocapacity.argv", 0, NULL },
        { "qcow2-nocapacity", "vol-qcow2-nocapacity-backing.xml", "qcow2-nocapacity.argv",
          PK_VOL_PARSE_OPT_CAPACITY, NULL },
        { "qcow2-clusterSize", "vol-qcow2-clusterSize.xml", "qcow2-clusterSize.argv", 0, NULL },
        { "iso", "vol-file-iso.xml", "iso.argv", 0, NULL },
        { "qcow2-0.10-lazy", "vol-qcow2-0.10-lazy.xml", NULL, 0, "need compat 1.1" },
        { "qcow2-encryption", "vol-qcow2-encryption.xml", NULL, 0,
          "creation of qcow2 encrypted image is not supported" },
        { "luks", "vol-luks.xml", "luks.argv", 0, NULL },
        { "luks-cipher", "vol-luks-cipher.xml", "luks-cipher.argv", 0, NULL },
        { "qcow2-luks", "vol-qcow2-luks.xml", "qcow2-luks.argv", 0, NULL },
    };
    _cleanup_(pk_pool_freep) pk_pool *pool = dir_pool();
    for (size_t i = 0; i < PK_NELEM(cases); i++) {
        _cleanup_free_ char *xml = pk_asprintf("%s/data/libvirt/vol/in/%s", tap_data_dir(), cases[i].xml);
        pk_err *errs = NULL;
        _cleanup_(pk_vol_freep) pk_vol *vol = pk_vol_parse_file(pool, xml, cases[i].flags, &errs);
        if (!vol) {
            _cleanup_free_ char *s = errs ? pk_err_str(errs) : NULL;
            tap_ok(false, "%s: parse %s: %s", cases[i].name, cases[i].xml, s ? s : "");
            pk_err_free(errs);
            continue;
        }
        pk_err *err = NULL;
        _cleanup_(pk_cmd_freep) pk_cmd *cmd = pk_qemu_img_create_cmd(vol, vol->target.path,
                                                                "/path/to/secretFile", &err);
        _cleanup_free_ char *es = err ? pk_err_str(err) : NULL;
        pk_err_free(err);
        if (cases[i].refusal) {
            tap_ok(!cmd && es && strstr(es, cases[i].refusal), "%s: refused: %s", cases[i].name,
                   es ? es : "(accepted)");
            continue;
        }
        _cleanup_free_ char *argvf = pk_asprintf("%s/data/libvirt/vol-argv/%s", tap_data_dir(),
                                                 cases[i].argv);
        _cleanup_free_ char *want = argv_file_line(argvf);
        _cleanup_free_ char *got = cmd ? pk_cmd_to_string(cmd) : NULL;
        tap_is_str(got ? got : es, want, "%s: same command line as libvirt", cases[i].name);
    }
}

static void test_resize_info(void)
{
    pk_err *err = NULL;
    _cleanup_(pk_cmd_freep) pk_cmd *r = pk_qemu_img_resize_cmd(PK_IMG_QCOW2, "/dev/fd/5", 1000, true, &err);
    _cleanup_free_ char *rs = pk_cmd_to_string(r);
    tap_is_str(rs, "qemu-img resize --shrink -f qcow2 /dev/fd/5 1024", "resize: --shrink, size rounded up to 512");
    _cleanup_(pk_cmd_freep) pk_cmd *r2 = pk_qemu_img_resize_cmd(PK_IMG_VMDK, "x", 2048, false, &err);
    _cleanup_free_ char *rs2 = pk_cmd_to_string(r2);
    tap_is_str(rs2, "qemu-img resize -f vmdk x 2048", "resize without --shrink");
    tap_ok(pk_qemu_img_resize_cmd(PK_IMG_DIR, "x", 1, false, &err) == NULL, "no qemu driver: refused");
    pk_err_free(err);
    err = NULL;

    _cleanup_(pk_cmd_freep) pk_cmd *i = pk_qemu_img_info_cmd("vdi", "/dev/fd/4");
    _cleanup_free_ char *is = pk_cmd_to_string(i);
    tap_is_str(is, "qemu-img info -U --output=json -f vdi /dev/fd/4", "info never probes the format");

    pk_obs_vol v = { .backing_format = -1 };
    tap_ok(pk_qemu_img_parse_info("{\"virtual-size\": 10737418240, \"backing-filename\": \"/b.img\","
                                  " \"backing-filename-format\": \"qcow2\", \"encrypted\": true}", &v, &err) == 0,
           "info parsed");
    tap_ok(v.capacity == 10737418240ULL && pk_streq(v.backing_path, "/b.img") &&
           v.backing_format == PK_IMG_QCOW2 && v.encrypted, "virtual size, backing, encryption");
    pk_obs_vol_clear(&v);
    tap_ok(pk_qemu_img_parse_info("{\"format\": \"raw\"}", &v, &err) < 0, "missing virtual-size is an error");
    _cleanup_free_ char *e1 = err ? pk_err_str(err) : NULL;
    tap_is_str(e1, "error: cannot parse the output of 'qemu-img info': no 'virtual-size'", "message");
    pk_err_free(err);
    err = NULL;
    tap_ok(pk_qemu_img_parse_info("{\"virtual-size\": ", &v, &err) < 0, "truncated JSON is an error");
    pk_err_free(err);
    err = NULL;
    tap_ok(pk_qemu_img_parse_info("[1]", &v, &err) < 0, "non-object is an error");
    pk_err_free(err);
    err = NULL;
    pk_obs_vol_clear(&v);

    /* the passphrase file is an option value: commas doubled, as libvirt */
    _cleanup_(pk_pool_freep) pk_pool *pool = dir_pool();
    _cleanup_free_ char *xml = pk_asprintf("%s/data/libvirt/vol/in/vol-luks.xml", tap_data_dir());
    pk_err *errs = NULL;
    _cleanup_(pk_vol_freep) pk_vol *vol = pk_vol_parse_file(pool, xml, 0, &errs);
    pk_err_free(errs);
    _cleanup_(pk_cmd_freep) pk_cmd *c = vol ? pk_qemu_img_create_cmd(vol, "/t", "/s,x", &err) : NULL;
    _cleanup_free_ char *cs = c ? pk_cmd_to_string(c) : NULL;
    tap_ok(cs && strstr(cs, " secret,id=LuksDemo.img_encrypt0,file=/s,,x "), "comma escaped: %s", cs ? cs : "");
    _cleanup_(pk_cmd_freep) pk_cmd *c2 = vol ? pk_qemu_img_create_cmd(vol, "/t", NULL, &err) : NULL;
    _cleanup_free_ char *e2 = err ? pk_err_str(err) : NULL;
    tap_ok(!c2 && e2 && strstr(e2, "passphrase is missing"), "no passphrase file: refused");
    pk_err_free(err);
    err = NULL;

    tap_is_str(pk_qemu_format_name(PK_IMG_ISO), "raw", "iso is raw to qemu");
    tap_is_int(pk_qemu_format_from_name("raw"), PK_IMG_RAW, "raw");
    tap_is_int(pk_qemu_format_from_name("vpc"), PK_IMG_VPC, "vpc is vpc");
    tap_is_int(pk_qemu_format_from_name("luks"), PK_IMG_RAW, "luks payload is raw");
    tap_is_int(pk_qemu_format_from_name("nbd"), -1, "unknown");
}

static void test_encrypted_resize_and_options(void)
{
    pk_err *err = NULL;
    _cleanup_(pk_cmd_freep) pk_cmd *r = pk_qemu_img_resize_encrypted_cmd("v,1", PK_IMG_RAW, "/dev/fd/7",
                                                                      "/dev/fd/8", 1000, false, &err);
    _cleanup_free_ char *rs = r ? pk_cmd_to_string(r) : NULL;
    tap_is_str(rs, "qemu-img resize --object secret,id=v,1_encrypt0,file=/dev/fd/8 --image-opts "
               "driver=luks,key-secret=v,1_encrypt0,file.filename=/dev/fd/7 1024",
               "luks resize: the secret as an object, the image as options (as libvirt)");
    _cleanup_(pk_cmd_freep) pk_cmd *r2 = pk_qemu_img_resize_encrypted_cmd("q", PK_IMG_QCOW2, "/a,b",
                                                                       "/s", 4096, true, &err);
    _cleanup_free_ char *rs2 = r2 ? pk_cmd_to_string(r2) : NULL;
    tap_is_str(rs2, "qemu-img resize --shrink --object secret,id=q_encrypt0,file=/s --image-opts "
               "driver=qcow2,encrypt.key-secret=q_encrypt0,file.filename=/a,,b 4096",
               "qcow2+luks resize: encrypt.key-secret, commas in paths doubled");
    tap_ok(pk_qemu_img_resize_encrypted_cmd("x", PK_IMG_VMDK, "/t", "/s", 1, false, &err) == NULL,
           "encrypted vmdk: refused");
    pk_err_free(err);
    err = NULL;

    tap_ok(pk_qemu_img_can_create(PK_IMG_QCOW2) && pk_qemu_img_can_create(PK_IMG_VHD) &&
           !pk_qemu_img_can_create(PK_IMG_DMG) && !pk_qemu_img_can_create(PK_IMG_BOCHS) &&
           !pk_qemu_img_can_create(PK_IMG_CLOOP) && !pk_qemu_img_can_create(PK_IMG_PLOOP),
           "creatable formats");
    _cleanup_(pk_pool_freep) pk_pool *pool = dir_pool();
    static const char ro[] = "<volume><name>old.dmg</name><capacity>1048576</capacity>"
                             "<target><format type='dmg'/></target></volume>";
    pk_err *errs = NULL;
    _cleanup_(pk_vol_freep) pk_vol *v = pk_vol_parse(pool, ro, sizeof(ro) - 1, "ro.xml", 0, &errs);
    pk_err_free(errs);
    _cleanup_(pk_cmd_freep) pk_cmd *c = v ? pk_qemu_img_create_cmd(v, "/t", NULL, &err) : NULL;
    _cleanup_free_ char *es = err ? pk_err_str(err) : NULL;
    tap_is_str(es, "error: cannot create volume 'old.dmg': format 'dmg' is read-only: qemu-img reads it but cannot create it",
               "read-only format: refused, and says so");
    pk_err_free(err);
    err = NULL;
    static const char vpc[] = "<volume><name>d.vhd</name><capacity>1000000</capacity>"
                              "<target><format type='vhd'/></target></volume>";
    errs = NULL;
    _cleanup_(pk_vol_freep) pk_vol *vv = pk_vol_parse(pool, vpc, sizeof(vpc) - 1, "vpc.xml", 0, &errs);
    pk_err_free(errs);
    _cleanup_(pk_cmd_freep) pk_cmd *cv = vv ? pk_qemu_img_create_cmd(vv, "/t", NULL, &err) : NULL;
    _cleanup_free_ char *cvs = cv ? pk_cmd_to_string(cv) : NULL;
    tap_is_str(cvs, "qemu-img create -f vpc -o force_size=on /t 977K",
               "vhd is qemu's vpc, made at its exact size (no disk geometry rounding)");

    /* qemu-img info's format-specific data */
    pk_obs_vol q = { .backing_format = -1 };
    tap_ok(pk_qemu_img_parse_info("{\"virtual-size\": 1024, \"cluster-size\": 4096, \"format-specific\":"
                                  " {\"type\": \"qcow2\", \"data\": {\"compat\": \"0.10\","
                                  " \"lazy-refcounts\": true, \"extended-l2\": false,"
                                  " \"encrypt\": {\"format\": \"luks\"}}}}", &q, &err) == 0 &&
           strcmp(q.compat, "0.10") == 0 && q.cluster_size == 4096 && q.lazy_refcounts &&
           !q.extended_l2 && q.enc_format == PK_ENC_LUKS, "qcow2 options from qemu-img info");
    pk_obs_vol_clear(&q);
    tap_ok(pk_qemu_img_parse_info("{\"virtual-size\": 1024, \"format-specific\":"
                                  " {\"type\": \"luks\", \"data\": {\"cipher-alg\": \"aes-256\"}}}", &q, &err) == 0 &&
           q.encrypted && q.enc_format == PK_ENC_LUKS && q.compat[0] == '\0', "luks from qemu-img info");
    pk_obs_vol_clear(&q);
}

int main(void)
{
    test_libvirt_cases();
    test_resize_info();
    test_encrypted_resize_and_options();
    return tap_done();
}
