/* The backends' probe cache (backend.h) kept in the state database, so that
 * a file's header is read, or `qemu-img info` run, once per change of the
 * file rather than once per observation. The backends never see the store:
 * the engine hands them this cache through pk_bctx.probe_cache. */
#pragma once
#include "../backends/backend.h"
#include "../store/store.h"

/* A cache reading `store` (in any mode) and writing to it only while it
 * holds the writer lock; what one pool's observation probed is written in
 * one transaction when the backend flushes. Errors of the store only cost
 * a probe: they are logged at debug level, never returned. */
pk_probe_cache *pk_probe_store_new(pk_store *store);
void pk_probe_store_free(pk_probe_cache *cache);
