/* The single-writer lock: an open-file-description lock (F_OFD_SETLK) on
 * PATH.lock. Unlike a classic POSIX lock it is not dropped when some other
 * descriptor of the file is closed, and two handles in one process exclude
 * each other; unlike a row in the database, the kernel releases it when its
 * holder dies, so a crash never leaves a stale lock. The file says who holds
 * it: "PID SINCE_MS\n". */
#include "store_priv.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>

static char *lock_path(const char *path)
{
    return pk_asprintf("%s.lock", path);
}

static bool read_holder(int fd, int *pid, int64_t *since)
{
    char buf[64];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0) return false;
    buf[n] = '\0';
    long long p = 0, t = 0;
    if (sscanf(buf, "%lld %lld", &p, &t) != 2 || p <= 0 || p > INT32_MAX) return false;
    *pid = (int)p;
    *since = t;
    return true;
}

static bool alive(int pid)
{
    return kill(pid, 0) == 0 || errno == EPERM;
}

static int try_lock(int fd)
{
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    return fcntl(fd, F_OFD_SETLK, &fl);
}

static int locked_error(pk_store *s, int pid, int64_t since, pk_err **err)
{
    if (pid <= 0) return pk_fail(err, "state database '%s' is locked by another process", s->path);
    _cleanup_free_ char *t = pk_format_time(since);
    return pk_fail(err, "state database '%s' is locked by pid %d since %s", s->path, pid, t);
}

int pk_store_lock_file(pk_store *s, pk_err **err)
{
    if (s->lock_fd >= 0) return 0;
    _cleanup_free_ char *lp = lock_path(s->path);
    for (int attempt = 0;; attempt++) {
        _cleanup_close_ int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
            return pk_fail_errno(err, errno, "cannot open lock file '%s' of state database '%s'", lp, s->path);
        if (try_lock(fd) < 0) {
            if (errno != EAGAIN && errno != EACCES)
                return pk_fail_errno(err, errno, "cannot lock state database '%s'", s->path);
            /* The holder writes its pid right after locking; between the
             * two, the file is empty or names a dead predecessor. Wait a
             * moment for it (and take the lock if it goes away). */
            int pid = 0;
            int64_t since = 0;
            if ((read_holder(fd, &pid, &since) && alive(pid)) || attempt >= 50)
                return locked_error(s, pid, since, err);
            struct timespec ts = { 0, 10 * 1000 * 1000 };
            nanosleep(&ts, NULL);
            continue;
        }
        /* Someone may have removed or replaced the file between our open
         * and the lock: then we hold a lock nobody else sees. */
        struct stat a, b;
        if (fstat(fd, &a) < 0 || stat(lp, &b) < 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
            if (attempt >= 50) return pk_fail(err, "cannot lock state database '%s': its lock file '%s' keeps changing", s->path, lp);
            continue;
        }
        char buf[64];
        int len = snprintf(buf, sizeof(buf), "%d %lld\n", (int)getpid(), (long long)pk_now_ms());
        if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)len, 0) != len)
            return pk_fail_errno(err, errno, "cannot write lock file '%s' of state database '%s'", lp, s->path);
        s->lock_fd = fd;
        fd = -1;
        return 0;
    }
}

static const char SQL_INTERRUPT_RUNS[] =
    "UPDATE runs SET result = 'interrupted' WHERE result = 'running'";

int pk_store_lock(pk_store *s, pk_err **err)
{
    if (s->mode != PK_STORE_WRITE)
        return pk_fail(err, "state database '%s' was opened read-only and cannot be locked", s->path);
    if (s->lock_fd >= 0) return 0;
    if (pk_store_lock_file(s, err) < 0) return -1;
    /* Runs are begun only under this lock: one still 'running' now belongs
     * to a holder that died. */
    sqlite3_stmt *st = pk_store_stmt(s, SQL_INTERRUPT_RUNS, err);
    if (!st || pk_store_step_done(s, st, err) < 0) {
        pk_store_unlock(s);
        return pk_wrap(err, "cannot mark the runs of a dead writer interrupted in state database '%s'", s->path);
    }
    return 0;
}

void pk_store_unlock(pk_store *s)
{
    if (!s || s->lock_fd < 0) return;
    /* Empty it first, so nobody reads our pid after we let go. */
    if (ftruncate(s->lock_fd, 0) < 0) { /* harmless: a dead pid is not trusted */ }
    struct flock fl = { .l_type = F_UNLCK, .l_whence = SEEK_SET };
    fcntl(s->lock_fd, F_OFD_SETLK, &fl);
    close(s->lock_fd);
    s->lock_fd = -1;
}

bool pk_store_locked(const pk_store *s)
{
    return s && s->lock_fd >= 0;
}

int pk_store_lock_holder(const char *path, int *ret_pid, int64_t *ret_since_ms, pk_err **err)
{
    _cleanup_free_ char *lp = lock_path(path);
    _cleanup_close_ int fd = open(lp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT) return 0;
        return pk_fail_errno(err, errno, "cannot read lock file '%s' of state database '%s'", lp, path);
    }
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
        return pk_fail_errno(err, errno, "cannot read lock file '%s' of state database '%s'", lp, path);
    if (fl.l_type == F_UNLCK) return 0;
    int pid = 0;
    int64_t since = 0;
    if (!read_holder(fd, &pid, &since)) {
        pid = 0;
        since = 0;
    }
    *ret_pid = pid;
    *ret_since_ms = since;
    return 1;
}
