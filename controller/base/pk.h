/* poolkeeper base layer: allocation, cleanup, errors, string buffers, logging.
 * Every module includes this one header. */
#pragma once

#define _GNU_SOURCE 1
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PK_VERSION_STRING "0.1.0"

#define PK_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define PK_UNUSED __attribute__((unused))
#define PK_NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- allocation: out of memory aborts, so callers never check ---- */
void *pk_malloc(size_t n);
void *pk_calloc(size_t nmemb, size_t size);
void *pk_realloc(void *p, size_t n);
char *pk_strdup(const char *s);          /* NULL -> NULL */
char *pk_strndup(const char *s, size_t n);
char *pk_asprintf(const char *fmt, ...) PK_PRINTF(1, 2);
char *pk_vasprintf(const char *fmt, va_list ap) PK_PRINTF(1, 0);
/* "dir/name": what pk_asprintf("%s/%s") makes, for loops over many files. */
char *pk_path_join(const char *dir, const char *name);
#define PK_NEW(type) ((type *)pk_calloc(1, sizeof(type)))
/* Grow *arr (of *n elements) by one zeroed element; returns a pointer to it. */
#define PK_APPEND(arr, n) \
    ((arr) = pk_realloc((arr), sizeof(*(arr)) * ((n) + 1)), \
     memset(&(arr)[(n)], 0, sizeof(*(arr))), &(arr)[(n)++])

/* ---- cleanup ---- */
static inline void pk_freep(void *p) { free(*(void **)p); }
static inline void pk_closep(int *fd);
#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(pk_freep)
#define _cleanup_close_ _cleanup_(pk_closep)
#define PK_DEFINE_CLEANUP(type, func) \
    static inline void func##p(type **p) { if (*p) func(*p); }
/* Hand ownership out of a cleanup variable. */
#define TAKE_PTR(p) ({ __typeof__(p) _t = (p); (p) = NULL; _t; })

#include <unistd.h>
static inline void pk_closep(int *fd) { if (*fd >= 0) close(*fd); }

/* ---- string helpers ---- */
static inline bool pk_streq(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}
bool pk_str_has_prefix(const char *s, const char *prefix);
bool pk_str_has_suffix(const char *s, const char *suffix);

/* ---- errors ----
 * A pk_err carries a message, an optional input location (file:line[:col] of the
 * document that was wrong, not of the C source), an errno, and the error that
 * caused it. Functions report failure by returning -1 (or NULL) and filling a
 * caller-owned `pk_err **err`. Only the CLI prints errors, once.
 * Errors may also be chained as a list (`next`) when a pass collects many. */
typedef struct pk_err pk_err;
struct pk_err {
    char *msg;
    char *file;   /* input file the error is about, or NULL */
    int line;     /* 0 = unknown */
    int col;      /* 0 = unknown */
    int errnum;   /* errno value, 0 = none */
    pk_err *cause;
    pk_err *next; /* sibling errors of one pass */
};

/* Create a new error and store it in *err (if err != NULL and *err is NULL;
 * otherwise the new error is freed). Always returns -1. */
int pk_fail(pk_err **err, const char *fmt, ...) PK_PRINTF(2, 3);
/* As pk_fail, plus strerror(errnum) after the message. */
int pk_fail_errno(pk_err **err, int errnum, const char *fmt, ...) PK_PRINTF(3, 4);
/* As pk_fail, at an input location. */
int pk_fail_at(pk_err **err, const char *file, int line, const char *fmt, ...) PK_PRINTF(4, 5);
/* Wrap *err as the cause of a new error with this message. Returns -1. */
int pk_wrap(pk_err **err, const char *fmt, ...) PK_PRINTF(2, 3);
pk_err *pk_err_new(const char *file, int line, int errnum, const char *fmt, ...) PK_PRINTF(4, 5);
pk_err *pk_err_newv(const char *file, int line, int errnum, const char *fmt, va_list ap);
/* Append e (and its siblings) at the end of the list *list. */
void pk_err_append(pk_err **list, pk_err *e);
size_t pk_err_count(const pk_err *list);
void pk_err_free(pk_err *e);  /* frees the whole list and causes; NULL ok */
PK_DEFINE_CLEANUP(pk_err, pk_err_free)
/* "FILE:LINE: error: MSG: CAUSE: strerror" for one error (not its siblings). */
char *pk_err_str(const pk_err *e);
/* Print every error of the list, one line each, to f. */
void pk_err_print(FILE *f, const pk_err *list);

/* ---- growable string buffer ---- */
typedef struct {
    char *s;    /* always NUL-terminated once anything was added */
    size_t len;
    size_t cap;
} pk_buf;
#define PK_BUF_INIT { NULL, 0, 0 }
void pk_buf_add(pk_buf *b, const char *s);
void pk_buf_addn(pk_buf *b, const char *s, size_t n);
void pk_buf_addc(pk_buf *b, char c);
void pk_buf_addf(pk_buf *b, const char *fmt, ...) PK_PRINTF(2, 3);
void pk_buf_vaddf(pk_buf *b, const char *fmt, va_list ap) PK_PRINTF(2, 0);
void pk_buf_indent(pk_buf *b, int n);  /* n spaces */
/* Append s escaped for XML attribute values (' " & < >) / text (& < >). */
void pk_buf_add_xml_attr(pk_buf *b, const char *s);
void pk_buf_add_xml_text(pk_buf *b, const char *s);
/* Append s as a JSON string literal, quotes included. */
void pk_buf_add_json_str(pk_buf *b, const char *s);
const char *pk_buf_str(const pk_buf *b); /* "" if empty */
char *pk_buf_steal(pk_buf *b);            /* caller frees; buffer reset */
void pk_buf_reset(pk_buf *b);
void pk_buf_free(pk_buf *b);              /* frees contents */

/* ---- string lists (NULL-terminated char **) ---- */
size_t pk_strv_len(char *const *v);
void pk_strv_push(char ***v, const char *s);   /* copies s */
void pk_strv_free(char **v);

/* ---- enum <-> string tables ----
 * PK_ENUM_DECL(pk_pool_type) declares pk_pool_type_to_string / _from_string;
 * PK_ENUM_IMPL(pk_pool_type, PK_POOL_TYPE_LAST, "dir", "fs", ...) defines them.
 * from_string returns -1 for unknown or NULL input. */
#define PK_ENUM_DECL(name) \
    const char *name##_to_string(int v); \
    int name##_from_string(const char *s)
#define PK_ENUM_IMPL(name, last, ...) \
    static const char *const name##_table[] = { __VA_ARGS__ }; \
    _Static_assert(PK_NELEM(name##_table) == (last), "enum table size for " #name); \
    const char *name##_to_string(int v) \
    { return (v >= 0 && v < (int)(last)) ? name##_table[v] : NULL; } \
    int name##_from_string(const char *s) \
    { \
        if (!s) return -1; \
        for (int i = 0; i < (int)(last); i++) \
            if (name##_table[i] && strcmp(name##_table[i], s) == 0) return i; \
        return -1; \
    }

/* Tristate as libvirt: absent / yes / no. */
typedef enum { PK_TRI_ABSENT = 0, PK_TRI_YES, PK_TRI_NO, PK_TRI_LAST } pk_tristate;
PK_ENUM_DECL(pk_tristate); /* "default"... only yes/no are valid XML values */

/* ---- numbers ---- */
/* Strict decimal/hex/octal (base 0 like strtoull when base == 0) parsing of a
 * whole string: no sign, no trailing garbage, overflow is an error. 0 on success. */
int pk_parse_u64(const char *s, int base, uint64_t *out);
int pk_parse_int(const char *s, int base, int *out);
/* "1.5 GiB" style rendering of a byte count (binary units), for humans. */
char *pk_human_bytes(uint64_t bytes);

/* ---- logging (stderr; the service's log lines) ---- */
typedef enum { PK_LOG_DEBUG, PK_LOG_INFO, PK_LOG_WARN, PK_LOG_ERROR } pk_log_level;
typedef enum { PK_LOG_TEXT, PK_LOG_JSON } pk_log_format;
void pk_log_setup(pk_log_level min, pk_log_format fmt);
void pk_log_set_run(const char *run_id);  /* included in every line; NULL clears */
/* object: "pool/vol" or NULL; action: "vol.create" or NULL. */
void pk_log(pk_log_level lvl, const char *object, const char *action, const char *fmt, ...)
    PK_PRINTF(4, 5);
#define pk_debug(...) pk_log(PK_LOG_DEBUG, NULL, NULL, __VA_ARGS__)
#define pk_info(...) pk_log(PK_LOG_INFO, NULL, NULL, __VA_ARGS__)
#define pk_warn(...) pk_log(PK_LOG_WARN, NULL, NULL, __VA_ARGS__)
int pk_log_level_from_string(const char *s);   /* -1 unknown */

/* ---- digests: FNV-1a 64, for fingerprints and change detection (not
 * for anything an adversary chooses) ---- */
#define PK_FNV_INIT 14695981039346656037ULL
void pk_fnv(uint64_t *h, const void *p, size_t n);
void pk_fnv_str(uint64_t *h, const char *s);   /* NULL hashes unlike any string */
void pk_fnv_u64(uint64_t *h, uint64_t v);

/* ---- time ---- */
int64_t pk_now_ms(void);          /* wall clock, ms since epoch */
int64_t pk_monotonic_ms(void);
char *pk_format_time(int64_t ms); /* "2026-11-26T23:12:28Z" */
