/* Progress line: "applying [#######.......]  412/1000  41%  vol.create p/v" */
#include "progress.h"
#include <sys/ioctl.h>

/* Terminals are slow and people read slowly: ten redraws a second at most. */
#define REDRAW_MS 100

struct pk_progress {
    char *what;
    int fd;
    int width;                /* 0: ask the terminal at each draw */
    bool shown;               /* the line is on screen */
    int64_t last_ms;
    size_t last_done;
};

pk_progress *pk_progress_new_fd(const char *what, int fd, int width)
{
    pk_progress *p = PK_NEW(pk_progress);
    p->what = pk_strdup(what);
    p->fd = fd;
    p->width = width;
    p->last_ms = -REDRAW_MS;
    return p;
}

pk_progress *pk_progress_new(const char *what, bool quiet)
{
    const char *term = getenv("TERM");
    if (quiet || !isatty(STDERR_FILENO) || pk_streq(term, "dumb")) return NULL;
    return pk_progress_new_fd(what, STDERR_FILENO, 0);
}

static int columns(const pk_progress *p)
{
    if (p->width > 0) return p->width;
    struct winsize ws;
    if (ioctl(p->fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
    return 80;
}

static void put(const pk_progress *p, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(p->fd, s, n);
        if (w <= 0) return;   /* a vanished terminal is no reason to fail */
        s += w;
        n -= (size_t)w;
    }
}

void pk_progress_update(pk_progress *p, size_t done, size_t total, const char *detail)
{
    if (!p) return;
    int64_t now = pk_monotonic_ms();
    bool last = total > 0 && done >= total;
    if (!last && now - p->last_ms < REDRAW_MS) return;
    p->last_ms = now;
    p->last_done = done;
    int cols = columns(p) - 1;   /* the last column would wrap on some terminals */
    pk_buf b = PK_BUF_INIT;
    pk_buf_addf(&b, "\r\033[K%s", p->what);
    if (total > 0) {
        int barw = cols / 4 > 40 ? 40 : cols / 4;
        int fill = (int)((double)done / (double)total * barw);
        pk_buf_add(&b, " [");
        for (int i = 0; i < barw; i++) pk_buf_addc(&b, i < fill ? '#' : '.');
        pk_buf_addf(&b, "] %zu/%zu %3d%%", done, total, (int)(done * 100 / total));
    }
    if (detail) pk_buf_addf(&b, "  %s", detail);
    /* Cut to the width: the line must never wrap, or \r cannot erase it. */
    size_t visible = b.len - 4;
    if (visible > (size_t)cols) {
        b.len = (size_t)cols + 4;
        b.s[b.len] = '\0';
    }
    put(p, b.s, b.len);
    pk_buf_free(&b);
    p->shown = true;
}

void pk_progress_clear(pk_progress *p)
{
    if (!p || !p->shown) return;
    put(p, "\r\033[K", 4);
    p->shown = false;
}

void pk_progress_free(pk_progress *p)
{
    if (!p) return;
    pk_progress_clear(p);
    free(p->what);
    free(p);
}
