/* Process start cost for tests/bench/startup_bench.sh: runs a command N
 * times (fork + exec + wait, output to /dev/null) and prints
 *   MEDIAN_MS MAX_RSS_KIB
 * the median wall time of one run and the largest peak RSS of the runs.
 * Timing in C rather than in the shell keeps the measuring overhead (a
 * `date` per sample) out of figures of a millisecond or two.
 *   exec-timer N CMD ARGS... */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int n = argc > 2 ? atoi(argv[1]) : 0;
    if (n <= 0) {
        fprintf(stderr, "usage: exec-timer N CMD ARGS...\n");
        return 2;
    }
    double *ms = calloc((size_t)n, sizeof(*ms));
    long rss = 0;
    if (!ms) return 1;
    for (int i = 0; i < n; i++) {
        double t0 = now_ms();
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            int null = open("/dev/null", O_RDWR);
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
            execv(argv[2], argv + 2);
            _exit(127);
        }
        int st;
        struct rusage ru;
        if (wait4(pid, &st, 0, &ru) < 0) {
            perror("wait4");
            return 1;
        }
        ms[i] = now_ms() - t0;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "exec-timer: '%s' failed (status %d)\n", argv[2], st);
            return 1;
        }
        if (ru.ru_maxrss > rss) rss = ru.ru_maxrss;
    }
    qsort(ms, (size_t)n, sizeof(*ms), cmp_double);
    double med = n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2;
    printf("%.3f %ld\n", med, rss);
    free(ms);
    return 0;
}
