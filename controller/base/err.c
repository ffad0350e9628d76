/* Error values: built where a failure is found, carried up, printed once. */
#include "pk.h"
#include <errno.h>

pk_err *pk_err_newv(const char *file, int line, int errnum, const char *fmt, va_list ap)
{
    pk_err *e = PK_NEW(pk_err);
    e->msg = pk_vasprintf(fmt, ap);
    e->file = pk_strdup(file);
    e->line = line;
    e->errnum = errnum;
    return e;
}

pk_err *pk_err_new(const char *file, int line, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pk_err *e = pk_err_newv(file, line, errnum, fmt, ap);
    va_end(ap);
    return e;
}

static int store(pk_err **err, pk_err *e)
{
    if (err && !*err)
        *err = e;
    else
        pk_err_free(e);
    return -1;
}

int pk_fail(pk_err **err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pk_err *e = pk_err_newv(NULL, 0, 0, fmt, ap);
    va_end(ap);
    return store(err, e);
}

int pk_fail_errno(pk_err **err, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pk_err *e = pk_err_newv(NULL, 0, errnum, fmt, ap);
    va_end(ap);
    return store(err, e);
}

int pk_fail_at(pk_err **err, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pk_err *e = pk_err_newv(file, line, 0, fmt, ap);
    va_end(ap);
    return store(err, e);
}

int pk_wrap(pk_err **err, const char *fmt, ...)
{
    if (!err) return -1;
    va_list ap;
    va_start(ap, fmt);
    pk_err *e = pk_err_newv(NULL, 0, 0, fmt, ap);
    va_end(ap);
    e->cause = *err;
    /* The location belongs to the outermost error so it prints first. */
    if (e->cause && e->cause->file) {
        e->file = TAKE_PTR(e->cause->file);
        e->line = e->cause->line;
        e->col = e->cause->col;
    }
    *err = e;
    return -1;
}

void pk_err_append(pk_err **list, pk_err *e)
{
    if (!e) return;
    while (*list) list = &(*list)->next;
    *list = e;
}

size_t pk_err_count(const pk_err *list)
{
    size_t n = 0;
    for (; list; list = list->next) n++;
    return n;
}

void pk_err_free(pk_err *e)
{
    while (e) {
        pk_err *next = e->next;
        pk_err_free(e->cause);
        free(e->msg);
        free(e->file);
        free(e);
        e = next;
    }
}

char *pk_err_str(const pk_err *e)
{
    pk_buf b = PK_BUF_INIT;
    if (e->file) {
        pk_buf_add(&b, e->file);
        if (e->line > 0) pk_buf_addf(&b, ":%d", e->line);
        if (e->line > 0 && e->col > 0) pk_buf_addf(&b, ":%d", e->col);
        pk_buf_add(&b, ": ");
    }
    pk_buf_add(&b, "error: ");
    for (const pk_err *c = e; c; c = c->cause) {
        if (c != e) pk_buf_add(&b, ": ");
        pk_buf_add(&b, c->msg ? c->msg : "unknown error");
        if (c->errnum) pk_buf_addf(&b, ": %s", strerror(c->errnum));
    }
    return pk_buf_steal(&b);
}

void pk_err_print(FILE *f, const pk_err *list)
{
    for (; list; list = list->next) {
        _cleanup_free_ char *s = pk_err_str(list);
        fprintf(f, "%s\n", s);
    }
}
