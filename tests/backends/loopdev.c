#include "loopdev.h"
#include "../../backends/runner.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* Fixed-size tables: the signal handler may only read plain memory. */
#define MAX_ITEMS 16
static char devs[MAX_ITEMS][64];
static char mounts[MAX_ITEMS][PATH_MAX];
static char losetup[PATH_MAX];
static bool installed;

static void cleanup_all(void)
{
    for (int i = MAX_ITEMS - 1; i >= 0; i--)
        if (mounts[i][0]) {
            umount2(mounts[i], MNT_DETACH);
            mounts[i][0] = '\0';
        }
    for (int i = 0; i < MAX_ITEMS; i++) {
        if (!devs[i][0] || !losetup[0]) continue;
        /* fork + execve + waitpid: all async-signal-safe. */
        pid_t pid = fork();
        if (pid == 0) {
            char *const argv[] = { losetup, (char *)"-d", devs[i], NULL };
            char *const envp[] = { NULL };
            int null = open("/dev/null", O_WRONLY);
            if (null >= 0) {
                dup2(null, 1);
                dup2(null, 2);
            }
            execve(losetup, argv, envp);
            _exit(127);
        }
        if (pid > 0) {
            int st;
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
        }
        devs[i][0] = '\0';
    }
}

static void on_signal(int sig)
{
    cleanup_all();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install(void)
{
    if (installed) return;
    installed = true;
    atexit(cleanup_all);
    static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT, SIGSEGV, SIGBUS };
    for (size_t i = 0; i < PK_NELEM(sigs); i++) {
        struct sigaction sa = { .sa_handler = on_signal };
        sigemptyset(&sa.sa_mask);
        sigaction(sigs[i], &sa, NULL);
    }
}

const char *tl_unavailable(void)
{
    if (geteuid() != 0) return "needs root for loop devices and mounts";
    if (access("/dev/loop-control", F_OK) < 0) return "no loop device support";
    _cleanup_free_ char *l = pk_find_program("losetup");
    if (!l) return "losetup is not installed";
    if (strlen(l) >= sizeof(losetup)) return "losetup path too long";
    strcpy(losetup, l);
    return NULL;
}

char *tl_loop_attach(const char *dir, const char *name, uint64_t size, bool partscan)
{
    /* tap_tmpdir() registered its removal first; ours runs before it. */
    install();
    _cleanup_free_ char *img = pk_asprintf("%s/%s", dir, name);
    int fd = open(img, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
        tap_diag("cannot create image '%s': %s", img, strerror(errno));
        if (fd >= 0) close(fd);
        return NULL;
    }
    close(fd);
    char *argv[] = { losetup, (char *)"-f", (char *)"--show", partscan ? (char *)"-P" : img,
                     partscan ? img : NULL, NULL };
    char *out = NULL;
    int rc = tap_run(argv, &out);
    if (rc != 0 || !out || strncmp(out, "/dev/loop", 9) != 0) {
        tap_diag("losetup -f --show %s failed (%d): %s", img, rc, out ? out : "");
        free(out);
        return NULL;
    }
    out[strcspn(out, "\n")] = '\0';
    for (int i = 0; i < MAX_ITEMS; i++) {
        if (!devs[i][0]) {
            snprintf(devs[i], sizeof(devs[i]), "%s", out);
            return out;
        }
    }
    tap_bail("too many loop devices in one test");
    return NULL;
}

void tl_loop_detach(const char *dev)
{
    for (int i = 0; i < MAX_ITEMS; i++) {
        if (strcmp(devs[i], dev) != 0) continue;
        char *argv[] = { losetup, (char *)"-d", devs[i], NULL };
        if (tap_run(argv, NULL) != 0)
            tap_diag("losetup -d %s failed", dev);
        devs[i][0] = '\0';
    }
}

void tl_cleanup_mount(const char *path)
{
    install();
    for (int i = 0; i < MAX_ITEMS; i++) {
        if (strcmp(mounts[i], path) == 0) return;
        if (!mounts[i][0]) {
            snprintf(mounts[i], sizeof(mounts[i]), "%s", path);
            return;
        }
    }
}

bool tl_umount(const char *path)
{
    if (umount2(path, 0) < 0 && errno != EINVAL && errno != ENOENT) {
        tap_diag("umount %s: %s", path, strerror(errno));
        return false;
    }
    return true;
}

char *tl_blkid_value(const char *dev, const char *tag)
{
    char *argv[] = { (char *)"blkid", (char *)"-p", (char *)"-o", (char *)"value", (char *)"-s",
                     (char *)tag, (char *)dev, NULL };
    char *out = NULL;
    tap_run(argv, &out);
    if (!out) return pk_strdup("");
    out[strcspn(out, "\n")] = '\0';
    return out;
}
