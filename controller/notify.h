/* Webhooks (design.md §8 notify): each event of the state database's queue
 * is POSTed as JSON to every target that wants its kind, signed with
 * HMAC-SHA256 when the target has a secret_file:
 *
 *   X-Poolkeeper-Signature: sha256=<hex HMAC-SHA256 of the body, keyed with
 *                           the secret file's contents minus trailing newlines>
 *
 * Delivery runs in one thread per target, so a slow or dead receiver never
 * holds up reconciliation or the other targets. Each event gets a bounded
 * number of attempts with a doubling backoff; a target that exhausted them
 * is "down" and gets one attempt per event until one succeeds again. 4xx
 * answers other than 408 and 429 are not retried. Delivery is at least
 * once: the event id (also in X-Poolkeeper-Delivery) lets receivers drop
 * repeats after a restart. */
#pragma once
#include "config.h"
#include "../store/store.h"

typedef struct pk_notifier pk_notifier;

typedef struct pk_notify_limits {
    int64_t connect_timeout_ms;   /* 5 s */
    int64_t timeout_ms;           /* whole request: 10 s */
    int attempts;                 /* per event and target: 4 */
    int64_t backoff_ms;           /* before the 2nd attempt, doubling: 1 s */
    int64_t backoff_max_ms;       /* 30 s */
} pk_notify_limits;
void pk_notify_limits_default(pk_notify_limits *l);

/* Read every target's secret (failing if one cannot be read), start the
 * threads. `host` goes into each payload. `wake_fd` (or -1) gets a byte
 * written whenever events are done, so a poll loop can collect them. */
int pk_notifier_start(pk_notifier **ret, const pk_notify_target *targets, size_t n,
                      const pk_notify_limits *limits, const char *host, int wake_fd, pk_err **err);
/* Queue events for delivery (copied). Events no target wants are done at
 * once. Events are queued at most once: ids at or below the highest queued
 * so far are ignored. */
void pk_notifier_push(pk_notifier *nf, const pk_event *events, size_t n);
/* The ids of the events every target is finished with (delivered, or given
 * up), since the last call; caller frees *ret_ids. */
size_t pk_notifier_take_done(pk_notifier *nf, int64_t **ret_ids);
/* Wait until every queued event is finished or timeout_ms passed; returns
 * how many are still unfinished. */
size_t pk_notifier_flush(pk_notifier *nf, int64_t timeout_ms);
/* Abort transfers in flight, join the threads, free. Unfinished events stay
 * pending in the store, for the next start. NULL is fine. */
void pk_notifier_stop(pk_notifier *nf);

typedef struct pk_notify_stats {
    uint64_t delivered;           /* POSTs answered 2xx */
    uint64_t failed;              /* attempts that failed */
    uint64_t dropped;             /* events a target gave up on */
} pk_notify_stats;
void pk_notifier_stats(pk_notifier *nf, pk_notify_stats *ret);

/* The JSON payload of an event ("format_version": 1; see README). */
char *pk_notify_body(const pk_event *e, const char *host);
/* "sha256=<hex>" of body under key. */
char *pk_notify_sign(const void *key, size_t key_len, const char *body, size_t body_len);
/* Read a secret file: its contents minus trailing CR/LF. */
int pk_notify_read_secret(const char *path, char **ret_key, size_t *ret_len, pk_err **err);
/* s with the password of every URL in it ("scheme://user:password@")
 * replaced by "***", for logs and payloads. */
char *pk_notify_redact(const char *s);
