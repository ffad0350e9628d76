/* Allocation wrappers: poolkeeper treats out-of-memory as fatal, like libvirt and
 * systemd's tools, so no caller carries an OOM branch it can never test. */
#include "pk.h"

static void oom(void)
{
    fputs("poolkeeper: out of memory\n", stderr);
    abort();
}

void *pk_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom();
    return p;
}

void *pk_calloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
    if (!p) oom();
    return p;
}

void *pk_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) oom();
    return q;
}

char *pk_strdup(const char *s)
{
    if (!s) return NULL;
    char *d = strdup(s);
    if (!d) oom();
    return d;
}

char *pk_strndup(const char *s, size_t n)
{
    if (!s) return NULL;
    char *d = strndup(s, n);
    if (!d) oom();
    return d;
}

char *pk_path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = pk_malloc(a + b + 2);
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

char *pk_vasprintf(const char *fmt, va_list ap)
{
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) oom();
    return s;
}

char *pk_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = pk_vasprintf(fmt, ap);
    va_end(ap);
    return s;
}

bool pk_str_has_prefix(const char *s, const char *prefix)
{
    return s && prefix && strncmp(s, prefix, strlen(prefix)) == 0;
}

bool pk_str_has_suffix(const char *s, const char *suffix)
{
    if (!s || !suffix) return false;
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

size_t pk_strv_len(char *const *v)
{
    size_t n = 0;
    while (v && v[n]) n++;
    return n;
}

void pk_strv_push(char ***v, const char *s)
{
    size_t n = pk_strv_len(*v);
    *v = pk_realloc(*v, sizeof(char *) * (n + 2));
    (*v)[n] = pk_strdup(s);
    (*v)[n + 1] = NULL;
}

void pk_strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++) free(v[i]);
    free(v);
}
