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
