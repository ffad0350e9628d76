/* Finding and checking secret files. */
#include "secret.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

int pk_secret_open(const char *secrets_dir, const pk_secret_ref *ref, pk_err **err)
{
    if (!secrets_dir)
        return pk_fail(err, "no secrets directory is configured");
    _cleanup_free_ char *name = ref->uuid ? pk_strdup(ref->uuid)
                              : ref->usage ? pk_asprintf("usage:%s", ref->usage) : NULL;
    if (!name)
        return pk_fail(err, "secret reference has neither uuid nor usage");
    if (strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return pk_fail(err, "invalid secret name '%s'", name);
    _cleanup_free_ char *path = pk_asprintf("%s/%s", secrets_dir, name);
    _cleanup_close_ int dfd = open(secrets_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return pk_fail_errno(err, errno, "cannot open secrets directory '%s'", secrets_dir);
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return pk_fail(err, "secret file '%s' does not exist", path);
        return pk_fail_errno(err, errno, "cannot open secret file '%s'", path);
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return pk_fail_errno(err, e, "cannot stat secret file '%s'", path);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return pk_fail(err, "secret file '%s' is not a regular file", path);
    }
    if ((st.st_mode & 077) || st.st_uid != geteuid()) {
        close(fd);
        return pk_fail(err, "secret file '%s' must be owned by uid %u and readable by it alone (mode 0600), not %04o owned by %u",
                       path, (unsigned)geteuid(), (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid);
    }
    return fd;
}

#define SECRET_MAX (64 * 1024)

int pk_secret_read(const char *secrets_dir, const pk_secret_ref *ref, char **value, size_t *len,
                   pk_err **err)
{
    *value = NULL;
    *len = 0;
    _cleanup_close_ int fd = pk_secret_open(secrets_dir, ref, err);
    if (fd < 0) return -1;
    char *buf = pk_malloc(SECRET_MAX + 1);
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, SECRET_MAX + 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            pk_secret_free(buf, n);
            return pk_fail_errno(err, e, "cannot read secret '%s'", ref->uuid ? ref->uuid : ref->usage);
        }
        if (r == 0) break;
        n += (size_t)r;
        if (n > SECRET_MAX) {
            pk_secret_free(buf, n);
            return pk_fail(err, "secret '%s' is larger than %d bytes", ref->uuid ? ref->uuid : ref->usage,
                           SECRET_MAX);
        }
    }
    buf[n] = '\0';
    *value = buf;
    *len = n;
    return 0;
}

void pk_secret_free(char *value, size_t len)
{
    if (!value) return;
    explicit_bzero(value, len);
    free(value);
}
