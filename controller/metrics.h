/* Service metrics, and the HTTP endpoint that serves them (libmicrohttpd):
 *   GET /metrics   Prometheus text format 0.0.4
 *   GET /healthz   200 "ok" while cycles succeed; 503 once
 *                  metrics.healthz_failures cycles in a row have failed
 * The counters live in pk_metrics, updated by the service loop; the server
 * (its own thread) only reads them, under a lock. */
#pragma once
#include "engine.h"
#include "notify.h"

typedef struct pk_metrics pk_metrics;

pk_metrics *pk_metrics_new(int healthz_failures);
void pk_metrics_free(pk_metrics *m);
void pk_metrics_set_healthz_failures(pk_metrics *m, int n);

/* A cycle ended: result (ok, failed, interrupted), its duration, what its
 * actions did (r may be NULL: it failed before planning), when it ended. */
void pk_metrics_cycle(pk_metrics *m, pk_run_result result, double seconds, const pk_cycle_report *r,
                      int64_t end_ms);
/* The desired commit being applied (the last one that loaded). */
void pk_metrics_desired(pk_metrics *m, const char *commit);
void pk_metrics_suspended(pk_metrics *m, bool on);
void pk_metrics_notify(pk_metrics *m, const pk_notify_stats *st);

/* The /metrics page; caller frees. */
char *pk_metrics_render(pk_metrics *m);
/* Consecutive failed cycles, and whether /healthz says ok. */
bool pk_metrics_healthy(pk_metrics *m, int *ret_failures);

typedef struct pk_metrics_server pk_metrics_server;
/* Listen on "HOST:PORT" ("[::1]:9477" for IPv6) and serve m. */
int pk_metrics_serve(pk_metrics *m, const char *listen, pk_metrics_server **ret, pk_err **err);
void pk_metrics_server_stop(pk_metrics_server *srv);
