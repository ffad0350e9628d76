/* qemu-img command lines and its JSON output. */
#include "qemu_img.h"
#include <json-c/json.h>

/* Indexed by pk_img_format. */
static const char *const qemu_names[PK_IMG_LAST] = {
    [PK_IMG_RAW] = "raw", [PK_IMG_BOCHS] = "bochs", [PK_IMG_CLOOP] = "cloop",
    [PK_IMG_DMG] = "dmg", [PK_IMG_ISO] = "raw", [PK_IMG_VPC] = "vpc",
    [PK_IMG_VDI] = "vdi", [PK_IMG_VHD] = "vpc", [PK_IMG_PLOOP] = "parallels",
    [PK_IMG_QCOW] = "qcow", [PK_IMG_QCOW2] = "qcow2", [PK_IMG_QED] = "qed",
    [PK_IMG_VMDK] = "vmdk", [PK_IMG_VHDX] = "vhdx",
};

const char *pk_qemu_format_name(int img_format)
{
    if (img_format < 0 || img_format >= PK_IMG_LAST) return NULL;
    return qemu_names[img_format];
}

int pk_qemu_format_from_name(const char *name)
{
    if (!name) return -1;
    if (strcmp(name, "luks") == 0) return PK_IMG_RAW;   /* raw payload behind a luks header */
    /* First match wins: "raw" is raw (not iso), "vpc" is vpc (not vhd). */
    for (int i = 0; i < PK_IMG_LAST; i++)
        if (qemu_names[i] && strcmp(qemu_names[i], name) == 0)
            return i;
    return -1;
}

bool pk_qemu_img_can_create(int fmt)
{
    switch (fmt) {
    case PK_IMG_RAW: case PK_IMG_ISO: case PK_IMG_QCOW: case PK_IMG_QCOW2: case PK_IMG_QED:
    case PK_IMG_VMDK: case PK_IMG_VDI: case PK_IMG_VPC: case PK_IMG_VHD: case PK_IMG_VHDX:
        return true;
    default:
        return false;
    }
}

/* qemu's option syntax doubles commas inside a value. */
static char *escape_commas(const char *s)
{
    pk_buf b = PK_BUF_INIT;
    for (; *s; s++) {
        if (*s == ',') pk_buf_addc(&b, ',');
        pk_buf_addc(&b, *s);
    }
    pk_buf_add(&b, "");
    return pk_buf_steal(&b);
}

/* libvirt's storageBackendCreateQemuImgCheckEncryption. */
static int check_encryption(const pk_vol *vol, int fmt, pk_err **err)
{
    const pk_encryption *enc = vol->target.encryption;
    if (fmt == PK_IMG_RAW || fmt == PK_IMG_ISO) {
        if (enc->format != PK_ENC_LUKS)
            return pk_fail(err, "cannot create volume '%s': a raw volume can only be encrypted with luks",
                           vol->name);
    } else if (fmt == PK_IMG_QCOW2) {
        if (enc->format != PK_ENC_LUKS)
            return pk_fail(err, "cannot create volume '%s': creation of qcow2 encrypted image is not supported, only with luks encryption",
                           vol->name);
    } else {
        return pk_fail(err, "cannot create volume '%s': encryption is only supported with the raw and qcow2 formats",
                       vol->name);
    }
    if (enc->n_secrets != 1)
        return pk_fail(err, "cannot create volume '%s': a luks volume needs exactly one secret",
                       vol->name);
    return 0;
}

static void add_encryption_opts(pk_buf *o, const pk_encryption *enc, const char *alias, bool qcow2)
{
    const char *pfx = qcow2 ? "encrypt." : "";
    if (qcow2) pk_buf_add(o, "encrypt.format=luks,");
    pk_buf_addf(o, "%skey-secret=%s,", pfx, alias);
    if (enc->has_cipher) {
        pk_buf_addf(o, "%scipher-alg=%s-%u,", pfx, enc->cipher.name, enc->cipher.size);
        if (enc->cipher.mode) pk_buf_addf(o, "%scipher-mode=%s,", pfx, enc->cipher.mode);
        if (enc->cipher.hash) pk_buf_addf(o, "%shash-alg=%s,", pfx, enc->cipher.hash);
    }
    if (enc->has_ivgen) {
        pk_buf_addf(o, "%sivgen-alg=%s,", pfx, enc->ivgen_name);
        if (enc->ivgen_hash) pk_buf_addf(o, "%sivgen-hash-alg=%s,", pfx, enc->ivgen_hash);
    }
}

pk_cmd *pk_qemu_img_create_cmd(const pk_vol *vol, const char *target, const char *secret_file,
                               pk_err **err)
{
    int fmt = vol->target.format < 0 || vol->target.format == PK_IMG_NONE ? PK_IMG_RAW
                                                                           : vol->target.format;
    if (!pk_qemu_img_can_create(fmt)) {
        const char *f = pk_img_format_to_string(fmt);
        if (pk_qemu_format_name(fmt))
            pk_fail(err, "cannot create volume '%s': format '%s' is read-only: qemu-img reads it but cannot create it",
                    vol->name, f ? f : "?");
        else
            pk_fail(err, "cannot create volume '%s': qemu-img cannot create images of format '%s'",
                    vol->name, f ? f : "?");
        return NULL;
    }
    const char *fname = qemu_names[fmt];
    bool qcow2 = fmt == PK_IMG_QCOW2;
    const pk_backing_store *bs = vol->backing && vol->backing->path ? vol->backing : NULL;

    const pk_encryption *enc = vol->target.encryption;
    if (enc && check_encryption(vol, fmt, err) < 0)
        return NULL;
    if (enc && !secret_file) {
        pk_fail(err, "cannot create volume '%s': its passphrase is missing", vol->name);
        return NULL;
    }
    if (enc && !qcow2) fname = "luks";
    if (!qcow2 && (vol->target.compat || vol->target.lazy_refcounts || vol->target.extended_l2 ||
                   vol->target.has_cluster_size)) {
        pk_fail(err, "cannot create volume '%s': compat, features and cluster size are only supported with the qcow2 format",
                vol->name);
        return NULL;
    }
    if (qcow2 && vol->target.compat && strcmp(vol->target.compat, "0.10") == 0 &&
        (vol->target.lazy_refcounts || vol->target.extended_l2)) {
        pk_fail(err, "cannot create volume '%s': lazy_refcounts and extended_l2 need compat 1.1 or later",
                vol->name);
        return NULL;
    }
    if (bs && (fmt == PK_IMG_RAW || fmt == PK_IMG_ISO || (enc && !qcow2))) {
        pk_fail(err, "cannot create volume '%s': a raw volume cannot have a backing store", vol->name);
        return NULL;
    }
    if (bs && bs->path[0] != '/') {
        pk_fail(err, "cannot create volume '%s': backing store path '%s' is not absolute",
                vol->name, bs->path);
        return NULL;
    }
    /* Fully allocated on request only: as libvirt, a qcow2 is sparse unless
     * asked; an explicit <allocation> at least the capacity asks. */
    bool prealloc = vol->has_allocation && vol->capacity > 0 && vol->allocation >= vol->capacity &&
                    fmt != PK_IMG_RAW && fmt != PK_IMG_ISO;
    if (prealloc && bs) {
        pk_fail(err, "cannot create volume '%s': preallocation is not possible with a backing store",
                vol->name);
        return NULL;
    }

    pk_cmd *cmd = pk_cmd_new("qemu-img");
    pk_cmd_add_args(cmd, "create", "-f", fname, NULL);
    if (bs) pk_cmd_add_args(cmd, "-b", bs->path, NULL);
    _cleanup_free_ char *alias = enc ? pk_asprintf("%s_encrypt0", vol->name) : NULL;
    if (enc) {
        _cleanup_free_ char *file = escape_commas(secret_file);
        pk_cmd_add_arg(cmd, "--object");
        pk_cmd_add_argf(cmd, "secret,id=%s,file=%s", alias, file);
    }

    pk_buf o = PK_BUF_INIT;
    if (bs) {
        const char *bf = pk_qemu_format_name(bs->format);
        pk_buf_addf(&o, "backing_fmt=%s,", bf ? bf : "raw");
    }
    if (enc) add_encryption_opts(&o, enc, alias, qcow2);
    if (prealloc) pk_buf_add(&o, "preallocation=falloc,");
    if (vol->target.nocow) pk_buf_add(&o, "nocow=on,");
    /* Without it qemu rounds a vpc's size to a disk geometry, and the
     * volume would never have the capacity the XML asks. */
    if (fmt == PK_IMG_VPC || fmt == PK_IMG_VHD) pk_buf_add(&o, "force_size=on,");
    if (qcow2) pk_buf_addf(&o, "compat=%s,", vol->target.compat ? vol->target.compat : "1.1");
    if (vol->target.has_cluster_size)
        pk_buf_addf(&o, "cluster_size=%llu,", (unsigned long long)vol->target.cluster_size);
    if (vol->target.lazy_refcounts) pk_buf_add(&o, "lazy_refcounts,");
    if (vol->target.extended_l2) pk_buf_add(&o, "extended_l2=on,");
    if (o.len) {
        o.s[--o.len] = '\0';   /* the trailing comma */
        pk_cmd_add_args(cmd, "-o", o.s, NULL);
    }
    pk_buf_free(&o);

    pk_cmd_add_arg(cmd, target);
    /* With a backing store and no capacity qemu-img takes the backing size. */
    if (!(bs && vol->capacity == 0))
        pk_cmd_add_argf(cmd, "%lluK", (unsigned long long)((vol->capacity + 1023) / 1024));
    return cmd;
}

pk_cmd *pk_qemu_img_resize_cmd(int img_format, const char *target, uint64_t new_capacity,
                               bool shrink, pk_err **err)
{
    const char *fname = pk_qemu_format_name(img_format);
    if (!fname) {
        pk_fail(err, "qemu-img cannot resize images of this format");
        return NULL;
    }
    pk_cmd *cmd = pk_cmd_new("qemu-img");
    pk_cmd_add_arg(cmd, "resize");
    if (shrink) pk_cmd_add_arg(cmd, "--shrink");
    pk_cmd_add_args(cmd, "-f", fname, target, NULL);
    pk_cmd_add_argf(cmd, "%llu", (unsigned long long)((new_capacity + 511) / 512 * 512));
    return cmd;
}

pk_cmd *pk_qemu_img_resize_encrypted_cmd(const char *vol_name, int img_format, const char *target,
                                         const char *secret_file, uint64_t new_capacity,
                                         bool shrink, pk_err **err)
{
    if (img_format != PK_IMG_RAW && img_format != PK_IMG_QCOW2) {
        pk_fail(err, "cannot resize volume '%s': encryption is only supported with the raw and qcow2 formats",
                vol_name);
        return NULL;
    }
    _cleanup_free_ char *alias = pk_asprintf("%s_encrypt0", vol_name);
    _cleanup_free_ char *sfile = escape_commas(secret_file);
    _cleanup_free_ char *tfile = escape_commas(target);
    pk_cmd *cmd = pk_cmd_new("qemu-img");
    pk_cmd_add_arg(cmd, "resize");
    if (shrink) pk_cmd_add_arg(cmd, "--shrink");
    pk_cmd_add_arg(cmd, "--object");
    pk_cmd_add_argf(cmd, "secret,id=%s,file=%s", alias, sfile);
    pk_cmd_add_arg(cmd, "--image-opts");
    if (img_format == PK_IMG_QCOW2)
        pk_cmd_add_argf(cmd, "driver=qcow2,encrypt.key-secret=%s,file.filename=%s", alias, tfile);
    else
        pk_cmd_add_argf(cmd, "driver=luks,key-secret=%s,file.filename=%s", alias, tfile);
    pk_cmd_add_argf(cmd, "%llu", (unsigned long long)((new_capacity + 511) / 512 * 512));
    return cmd;
}

pk_cmd *pk_qemu_img_info_cmd(const char *qemu_format, const char *target)
{
    pk_cmd *cmd = pk_cmd_new("qemu-img");
    /* -U: the image may be in use by a running guest; -f: never let qemu
     * guess a format from the contents. */
    pk_cmd_add_args(cmd, "info", "-U", "--output=json", NULL);
    pk_cmd_add_args(cmd, "-f", qemu_format, target, NULL);
    return cmd;
}

int pk_qemu_img_parse_info(const char *json, pk_obs_vol *v, pk_err **err)
{
    enum json_tokener_error jerr = json_tokener_success;
    json_object *root = json_tokener_parse_verbose(json, &jerr);
    if (!root || !json_object_is_type(root, json_type_object)) {
        if (root) json_object_put(root);
        return pk_fail(err, "cannot parse the output of 'qemu-img info': %s",
                       root ? "not a JSON object" : json_tokener_error_desc(jerr));
    }
    int ret = -1;
    json_object *o;
    if (!json_object_object_get_ex(root, "virtual-size", &o) ||
        !json_object_is_type(o, json_type_int) || json_object_get_int64(o) < 0) {
        pk_fail(err, "cannot parse the output of 'qemu-img info': no 'virtual-size'");
        goto out;
    }
    v->capacity = (uint64_t)json_object_get_int64(o);
    if (json_object_object_get_ex(root, "backing-filename", &o) &&
        json_object_is_type(o, json_type_string)) {
        free(v->backing_path);
        v->backing_path = pk_strdup(json_object_get_string(o));
        v->backing_format = -1;
        if (json_object_object_get_ex(root, "backing-filename-format", &o) &&
            json_object_is_type(o, json_type_string))
            v->backing_format = pk_qemu_format_from_name(json_object_get_string(o));
    }
    if (json_object_object_get_ex(root, "encrypted", &o) && json_object_get_boolean(o))
        v->encrypted = true;
    json_object *fs, *type, *data;
    if (json_object_object_get_ex(root, "format-specific", &fs) &&
        json_object_object_get_ex(fs, "type", &type) && json_object_is_type(type, json_type_string) &&
        json_object_object_get_ex(fs, "data", &data) && json_object_is_type(data, json_type_object)) {
        const char *t = json_object_get_string(type);
        if (strcmp(t, "luks") == 0) {
            v->encrypted = true;
            v->enc_format = PK_ENC_LUKS;
        } else if (strcmp(t, "qcow2") == 0) {
            if (json_object_object_get_ex(data, "compat", &o) && json_object_is_type(o, json_type_string))
                snprintf(v->compat, sizeof(v->compat), "%s", json_object_get_string(o));
            v->lazy_refcounts = json_object_object_get_ex(data, "lazy-refcounts", &o) &&
                                json_object_get_boolean(o);
            v->extended_l2 = json_object_object_get_ex(data, "extended-l2", &o) &&
                             json_object_get_boolean(o);
            json_object *enc;
            if (json_object_object_get_ex(data, "encrypt", &enc) &&
                json_object_object_get_ex(enc, "format", &o) && json_object_is_type(o, json_type_string))
                v->enc_format = strcmp(json_object_get_string(o), "luks") == 0 ? PK_ENC_LUKS : PK_ENC_QCOW;
            if (json_object_object_get_ex(root, "cluster-size", &o) && json_object_is_type(o, json_type_int))
                v->cluster_size = (uint64_t)json_object_get_int64(o);
        }
    }
    ret = 0;
out:
    json_object_put(root);
    return ret;
}
