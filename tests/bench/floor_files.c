/* The physical floor the engine is compared with (issue 8's benchmark):
 *   floor-files scan DIR             readdir + fstatat of every entry
 *   floor-files create DIR N SIZE    openat(O_CREAT|O_EXCL) + ftruncate + close + rename, N files
 *   floor-files unlink DIR           unlink every regular file
 *   floor-files rss CMD ARGS...      run CMD, print its peak RSS in KiB
 * Prints the elapsed milliseconds (or KiB for rss) on stdout. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: floor-files scan|create|unlink|rss ...\n");
        return 2;
    }
    const char *mode = argv[1];
    if (strcmp(mode, "rss") == 0) {
        pid_t pid = fork();
        if (pid == 0) {
            int null = open("/dev/null", O_WRONLY);
            dup2(null, 1);
            dup2(null, 2);
            execvp(argv[2], argv + 2);
            _exit(127);
        }
        int st;
        struct rusage ru;
        wait4(pid, &st, 0, &ru);
        printf("%ld\n", ru.ru_maxrss);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
    }
    int dfd = open(argv[2], O_RDONLY | O_DIRECTORY);
    if (dfd < 0) {
        perror(argv[2]);
        return 1;
    }
    double t0 = now_ms();
    long n = 0;
    if (strcmp(mode, "scan") == 0 || strcmp(mode, "unlink") == 0) {
        DIR *d = fdopendir(dup(dfd));
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.') continue;
            struct stat st;
            if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) continue;
            if (mode[0] == 'u' && S_ISREG(st.st_mode)) unlinkat(dfd, de->d_name, 0);
            n++;
        }
        closedir(d);
    } else if (strcmp(mode, "create") == 0 && argc >= 5) {
        long count = atol(argv[3]);
        off_t size = atoll(argv[4]);
        char tmp[64], fin[64];
        for (long i = 0; i < count; i++) {
            snprintf(tmp, sizeof tmp, ".tmp-f%06ld", i);
            snprintf(fin, sizeof fin, "f%06ld.raw", i);
            int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
            if (fd < 0 || ftruncate(fd, size) < 0) {
                perror("create");
                return 1;
            }
            close(fd);
            if (renameat(dfd, tmp, dfd, fin) < 0) {
                perror("rename");
                return 1;
            }
            n++;
        }
    } else {
        fprintf(stderr, "floor-files: bad arguments\n");
        return 2;
    }
    printf("%.3f\n", now_ms() - t0);
    fprintf(stderr, "%ld entries\n", n);
    return 0;
}
