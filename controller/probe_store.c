/* Probe cache entries read from and written to the state database. */
#include "probe_store.h"

typedef struct {
    pk_probe_cache cache;     /* first: the opaque pointer is the struct */
    pk_store *store;
    bool reading;             /* inside a read transaction begun by get */
    pk_probe_key *keys;       /* gathered by put, written by flush */
    char **results;
    size_t n;
} probe_store;

static void debug_err(pk_err *e)
{
    _cleanup_free_ char *t = pk_err_str(e);
    pk_log(PK_LOG_DEBUG, NULL, NULL, "probe cache: %s", t);
    pk_err_free(e);
}

static int cache_get(void *opaque, const pk_probe_stamp *k, char **result)
{
    probe_store *ps = opaque;
    pk_err *e = NULL;
    /* One snapshot for a pool's lookups: thousands of reads cost one
     * transaction, not one each. */
    if (!ps->reading) {
        if (pk_store_read_begin(ps->store, &e) < 0) {
            debug_err(e);
            return 0;
        }
        ps->reading = true;
    }
    pk_probe_key key = { k->path, k->dev, k->ino, k->size, k->mtime_ns };
    int r = pk_store_probe_get(ps->store, &key, result, &e);
    if (r < 0) debug_err(e);
    return r == 1;
}

static void cache_put(void *opaque, const pk_probe_stamp *k, const char *result)
{
    probe_store *ps = opaque;
    if (!pk_store_locked(ps->store)) return;   /* another process writes the store */
    ps->keys = pk_realloc(ps->keys, sizeof(*ps->keys) * (ps->n + 1));
    ps->results = pk_realloc(ps->results, sizeof(*ps->results) * (ps->n + 1));
    ps->keys[ps->n] = (pk_probe_key){ pk_strdup(k->path), k->dev, k->ino, k->size, k->mtime_ns };
    ps->results[ps->n] = pk_strdup(result);
    ps->n++;
}

static void drop_pending(probe_store *ps)
{
    for (size_t i = 0; i < ps->n; i++) {
        free((char *)ps->keys[i].path);
        free(ps->results[i]);
    }
    free(ps->keys);
    free(ps->results);
    ps->keys = NULL;
    ps->results = NULL;
    ps->n = 0;
}

static void cache_flush(void *opaque)
{
    probe_store *ps = opaque;
    if (ps->reading) {
        pk_store_read_end(ps->store);
        ps->reading = false;
    }
    if (ps->n == 0) return;
    pk_err *e = NULL;
    if (pk_store_probe_put(ps->store, ps->keys, (const char *const *)ps->results, ps->n, &e) < 0)
        debug_err(e);
    drop_pending(ps);
}

pk_probe_cache *pk_probe_store_new(pk_store *store)
{
    if (!store) return NULL;
    probe_store *ps = PK_NEW(probe_store);
    ps->store = store;
    ps->cache = (pk_probe_cache){ cache_get, cache_put, cache_flush, ps };
    return &ps->cache;
}

void pk_probe_store_free(pk_probe_cache *cache)
{
    if (!cache) return;
    probe_store *ps = cache->opaque;
    cache_flush(ps);
    free(ps);
}
