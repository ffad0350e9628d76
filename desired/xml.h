/* Safe XML loading for untrusted documents, and small DOM helpers.
 * No network, no DTD, no external entities, no entity expansion, no XInclude;
 * UTF-8 only (no NUL bytes or control characters); size, depth, element and
 * attribute limits (PK_XML_MAX_* here and in model.h). Every refusal names the
 * file and the line. */
#pragma once
#include "../controller/base/pk.h"
#include <libxml/tree.h>

/* At most this many attributes on one element: libxml2 compares each new
 * attribute with all earlier ones, so 100000 of them take minutes. libvirt's
 * elements have a handful. */
#define PK_XML_MAX_ATTRS 256
/* At most this many elements in one document. A libvirt pool or volume has
 * a few dozen; the limit keeps every per-element cost of the model small. */
#define PK_XML_MAX_ELEMENTS 10000

/* Parse `data` (len bytes) into a document. Errors name `file` and the line.
 * Returns NULL and appends an error to *errs on any problem. */
xmlDoc *pk_xml_read(const char *data, size_t len, const char *file, pk_err **errs);
/* Read a whole file (at most PK_XML_MAX_BYTES) into a NUL-terminated buffer. */
int pk_xml_slurp(const char *path, char **out, size_t *len, pk_err **err);

/* Property as a newly allocated string (NULL when absent). */
char *pk_xml_prop(xmlNode *n, const char *name);
/* First element child with this name (NULL when none). */
xmlNode *pk_xml_child(xmlNode *n, const char *name);
/* Count element children with this name. */
size_t pk_xml_count(xmlNode *n, const char *name);
/* Text content of the element, trimmed of surrounding whitespace; NULL if empty. */
char *pk_xml_text(xmlNode *n);
/* Child element text: pk_xml_text(pk_xml_child(n, name)). */
char *pk_xml_child_text(xmlNode *n, const char *name);
/* Namespaced child (by namespace URI and local name). */
xmlNode *pk_xml_child_ns(xmlNode *n, const char *ns_uri, const char *name);
/* Line of a node for error messages. Use this rather than n->line, which
 * libxml2 caps at 65535. */
static inline int pk_xml_line(xmlNode *n)
{
    long l = n ? xmlGetLineNo(n) : 0;
    return l > 0 && l <= INT32_MAX ? (int)l : 0;
}
static inline bool pk_xml_is(xmlNode *n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}
#define pk_xml_foreach_child(child, parent) \
    for (xmlNode *child = (parent) ? (parent)->children : NULL; child; child = child->next) \
        if (child->type == XML_ELEMENT_NODE)
