/* Shared by the <pool> parser files (pool_parse.c, pool_source.c). Not an
 * API: users call pk_pool_parse() from model.h. */
#pragma once
#include "model.h"
#include "pool_types.h"
#include "xml.h"

/* One parse: where the document came from and every problem found so far. */
typedef struct {
    const char *file;
    pk_err *errs;
} pk_pool_pctx;

/* Record a problem found at element `at` (its line goes into the error). */
void pk_pool_perr(pk_pool_pctx *c, xmlNode *at, const char *fmt, ...) PK_PRINTF(3, 4);

/* Line of an element in its document (0 if unknown). */
int pk_pool_line(xmlNode *n);

/* What libvirt's virXPathString("string(...)") gives: the element's text
 * exactly as written (not trimmed), or NULL when absent or empty. */
char *pk_pool_string(xmlNode *n);
char *pk_pool_child_string(xmlNode *parent, const char *name);
/* An attribute as libvirt's XPath "string(./@attr)" reads it: NULL when
 * absent or empty. */
char *pk_pool_attr(xmlNode *n, const char *name);

/* A yes/no attribute into a tristate (absent stays PK_TRI_ABSENT).
 * Returns -1 (after recording the problem) on any other value. */
int pk_pool_parse_yesno(pk_pool_pctx *c, xmlNode *n, const char *attr, pk_tristate *out);

/* Parse <source> of a pool whose type is already known (p->type). */
void pk_pool_parse_source(pk_pool_pctx *c, xmlNode *src, pk_pool *p);

/* Check the <adapter> of a pool type that needs one (libvirt's
 * virStorageAdapterValidate). `at` is the <adapter>. */
void pk_pool_check_adapter(pk_pool_pctx *c, xmlNode *at, const pk_adapter *a);

/* libvirt's virFileSanitizePath: collapse runs of '/', drop a trailing '/',
 * keep a leading "//" (POSIX), leave URIs alone. */
char *pk_pool_sanitize_path(const char *path);
