/* Scaled integers ("<capacity unit='GiB'>5</capacity>") with libvirt's rules
 * (virStrToLong_ullp + virScaleInteger). pk_scale_integer (model.h) is this
 * with the limit ULLONG_MAX; volume sizes use INT64_MAX, as libvirt does,
 * because off_t is signed. */
#pragma once
#include "model.h"

/* Parse `value` scaled by `unit` into *out, refusing results above `max`.
 * Returns 0, or -1 with a complete message in *msg (caller frees). */
int pk_scale_integer_max(const char *value, const char *unit, uint64_t max, uint64_t *out, char **msg);
