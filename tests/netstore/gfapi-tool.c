/* gfapi-tool — what the gluster tests do inside a volume without poolkeeper:
 *
 *   gfapi-tool mkdir PATH          make a directory
 *   gfapi-tool rmtree PATH         remove a directory and everything in it
 *   gfapi-tool write PATH BYTES    a new file of BYTES bytes of 0xab (fails if it exists)
 *   gfapi-tool replace PATH        unlink PATH and make a new file of the same size
 *
 * The volume is $GLUSTER_VOLUME on $GLUSTER_HOST:$GLUSTER_PORT. It ends with
 * _exit() and no glfs_fini, which takes ten seconds on gluster 10 (see
 * backends/gluster.c); every file is closed before. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glusterfs/api/glfs.h>

static int fail(const char *what, const char *path)
{
    fprintf(stderr, "gfapi-tool: %s '%s': %s\n", what, path, strerror(errno));
    return 1;
}

static int rmtree(glfs_t *fs, const char *path)
{
    struct stat st;
    if (glfs_lstat(fs, path, &st) < 0) return errno == ENOENT ? 0 : fail("stat", path);
    if (!S_ISDIR(st.st_mode)) return glfs_unlink(fs, path) < 0 ? fail("unlink", path) : 0;
    glfs_fd_t *d = glfs_opendir(fs, path);
    if (!d) return fail("opendir", path);
    struct dirent *de;
    int rc = 0;
    while ((de = glfs_readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char sub[4096];
        snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
        rc |= rmtree(fs, sub);
    }
    glfs_closedir(d);
    return rc || glfs_rmdir(fs, path) < 0 ? fail("rmdir", path) : 0;
}

static int write_file(glfs_t *fs, const char *path, long long bytes)
{
    glfs_fd_t *fd = glfs_creat(fs, path, O_WRONLY | O_EXCL, 0644);
    if (!fd) return fail("create", path);
    char buf[65536];
    memset(buf, 0xab, sizeof(buf));
    for (long long done = 0; done < bytes;) {
        size_t n = bytes - done < (long long)sizeof(buf) ? (size_t)(bytes - done) : sizeof(buf);
        ssize_t w = glfs_write(fd, buf, n, 0);
        if (w <= 0) return fail("write", path);
        done += w;
    }
    return glfs_close(fd) < 0 ? fail("close", path) : 0;
}

int main(int argc, char **argv)
{
    const char *host = getenv("GLUSTER_HOST"), *vol = getenv("GLUSTER_VOLUME");
    const char *port = getenv("GLUSTER_PORT");
    if (argc < 3 || !host || !vol) {
        fprintf(stderr, "usage: gfapi-tool mkdir|rmtree|write|replace PATH [BYTES] (GLUSTER_HOST, GLUSTER_VOLUME set)\n");
        return 2;
    }
    glfs_t *fs = glfs_new(vol);
    if (!fs || glfs_set_volfile_server(fs, "tcp", host, port ? atoi(port) : 24007) < 0) _exit(fail("connect", vol));
    glfs_set_logging(fs, "/dev/null", 0);
    if (glfs_init(fs) < 0) _exit(fail("connect to volume", vol));
    const char *cmd = argv[1], *path = argv[2];
    int rc = 2;
    if (!strcmp(cmd, "mkdir")) {
        rc = glfs_mkdir(fs, path, 0755) < 0 ? fail("mkdir", path) : 0;
    } else if (!strcmp(cmd, "rmtree")) {
        rc = rmtree(fs, path);
    } else if (!strcmp(cmd, "write") && argc == 4) {
        rc = write_file(fs, path, atoll(argv[3]));
    } else if (!strcmp(cmd, "replace")) {
        struct stat st;
        if (glfs_stat(fs, path, &st) < 0) rc = fail("stat", path);
        else if (glfs_unlink(fs, path) < 0) rc = fail("unlink", path);
        else rc = write_file(fs, path, st.st_size);
    }
    if (rc == 2) fprintf(stderr, "gfapi-tool: bad command\n");
    fflush(NULL);
    _exit(rc);
}
