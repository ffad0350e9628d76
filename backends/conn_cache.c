/* The per-session connection list behind pk_bctx.priv. A handful of
 * entries at most (one per cluster or target), so a list is enough. */
#include "conn_cache.h"

typedef struct conn {
    struct conn *next;
    char *kind;
    char *key;
    void *handle;
    pk_conn_drop_fn drop;
} conn;

typedef struct {
    conn *head;
} conn_list;

static conn **find(pk_bctx *c, const char *kind, const char *key)
{
    conn_list *l = c->priv;
    if (!l) return NULL;
    for (conn **p = &l->head; *p; p = &(*p)->next)
        if (pk_streq((*p)->kind, kind) && (!key || pk_streq((*p)->key, key)))
            return p;
    return NULL;
}

void *pk_conn_find(pk_bctx *c, const char *kind, const char *key)
{
    conn **p = find(c, kind, key);
    return p ? (*p)->handle : NULL;
}

void pk_conn_add(pk_bctx *c, const char *kind, const char *key, void *handle, pk_conn_drop_fn drop)
{
    if (!c->priv) c->priv = PK_NEW(conn_list);
    conn_list *l = c->priv;
    conn *n = PK_NEW(conn);
    n->kind = pk_strdup(kind);
    n->key = pk_strdup(key);
    n->handle = handle;
    n->drop = drop;
    n->next = l->head;
    l->head = n;
}

static void unlink_one(pk_bctx *c, conn **p)
{
    conn *n = *p;
    *p = n->next;
    if (n->drop) n->drop(n->handle);
    free(n->kind);
    free(n->key);
    free(n);
    conn_list *l = c->priv;
    if (!l->head) {
        free(l);
        c->priv = NULL;
    }
}

void pk_conn_drop(pk_bctx *c, const char *kind, const char *key)
{
    conn **p = find(c, kind, key);
    if (p) unlink_one(c, p);
}

void pk_conn_drop_kind(pk_bctx *c, const char *kind)
{
    conn **p;
    while ((p = find(c, kind, NULL)))
        unlink_one(c, p);
}
