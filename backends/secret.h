/* Secrets (design.md §5): one file per secret in secrets.dir, named by the
 * secret's uuid or "usage:" + its usage, owned by poolkeeper's user and
 * readable by it alone. The value is the file's bytes as they are (nothing
 * stripped, as libvirt stores secret values). Backends pass the open fd to
 * programs (file=/dev/fd/N) so a secret never appears in argv, logs, plans
 * or the state DB; error messages name the file, never its content. */
#pragma once
#include "../desired/model.h"

/* Open the secret `ref` read-only; returns the fd (close-on-exec), or -1
 * with *err when it is missing, not a regular file, or readable by others. */
int pk_secret_open(const char *secrets_dir, const pk_secret_ref *ref, pk_err **err);

/* Read the secret `ref` whole (at most 64 KiB) into *value, NUL-terminated
 * for convenience (*len excludes the NUL; the value itself may hold NULs).
 * Same checks as pk_secret_open. Free it with pk_secret_free, which wipes it. */
int pk_secret_read(const char *secrets_dir, const pk_secret_ref *ref, char **value, size_t *len,
                   pk_err **err);
void pk_secret_free(char *value, size_t len);
