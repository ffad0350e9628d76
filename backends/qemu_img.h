/* qemu-img: format names and the command lines poolkeeper runs, built the
 * way libvirt builds them (storage_util.c) so that the same XML makes the
 * same image. */
#pragma once
#include "observed.h"
#include "runner.h"

/* qemu's driver name for an image format ("raw" for iso), NULL if qemu has none. */
const char *pk_qemu_format_name(int img_format);
/* pk_img_format for a qemu driver name, -1 if unknown. */
int pk_qemu_format_from_name(const char *name);

/* `qemu-img create` for vol into `target` (a path, or /dev/fd/N). An
 * encrypted volume needs `secret_file`, the file (or /dev/fd/N) holding its
 * passphrase. Refuses what libvirt refuses (compat/features on non-qcow2,
 * backing on raw, legacy qcow encryption, ...). */
pk_cmd *pk_qemu_img_create_cmd(const pk_vol *vol, const char *target, const char *secret_file,
                               pk_err **err);
/* `qemu-img resize [--shrink] -f FMT TARGET BYTES` (bytes rounded up to 512). */
pk_cmd *pk_qemu_img_resize_cmd(int img_format, const char *target, uint64_t new_capacity,
                               bool shrink, pk_err **err);
/* The same for an encrypted volume (luks, or qcow2 with luks inside), as
 * libvirt: --object secret (file=`secret_file`) and --image-opts. */
pk_cmd *pk_qemu_img_resize_encrypted_cmd(const char *vol_name, int img_format, const char *target,
                                         const char *secret_file, uint64_t new_capacity,
                                         bool shrink, pk_err **err);
/* Whether `qemu-img create` makes images of this format (bochs, cloop and
 * dmg are read-only to qemu; iso is made as raw). */
bool pk_qemu_img_can_create(int img_format);
/* `qemu-img info -U --output=json -f FMT TARGET`, FMT a qemu driver name
 * ("qcow2", "luks", ...). */
pk_cmd *pk_qemu_img_info_cmd(const char *qemu_format, const char *target);

/* Fill capacity, backing, encryption and the qcow2 options (compat,
 * cluster size, features) of v from `qemu-img info` JSON. */
int pk_qemu_img_parse_info(const char *json, pk_obs_vol *v, pk_err **err);
