/* `poolkeeper run`: the reconciliation service (design.md §10).
 *
 * Each cycle: fetch and load the desired state, observe, record, plan, note
 * drift, apply what policy allows (nothing while suspended), record the run,
 * queue its events for the webhooks. Cycles start `interval` (± `jitter`)
 * after the previous one ended; after a failed one, `retry_interval`,
 * doubling with each further failure up to `interval`.
 *
 * Signals: SIGUSR1 (or `run --trigger`) starts a cycle now; SIGHUP reloads
 * the configuration (an invalid one is refused and the running one kept);
 * SIGTERM and SIGINT let the action in progress finish, record the run as
 * interrupted and exit 0. The service holds the state database's writer
 * lock for its whole life, which is also how --trigger finds it. */
#pragma once
#include "config.h"

typedef struct pk_service_opts {
    const pk_cli_opts *cli;
    bool once;                /* one cycle, then deliver its events (bounded) and exit */
    bool allow_mass_delete;
} pk_service_opts;

/* Returns the process exit code: 0 after a stop signal or a successful
 * --once cycle; 1 when the service cannot start or --once failed. */
int pk_service_run(const pk_service_opts *o);

/* Milliseconds from the end of a cycle to the start of the next, after
 * `failures` failed cycles in a row, u uniform in [0, 1) for the jitter. */
int64_t pk_service_delay_ms(int64_t interval_ms, int jitter_percent, int64_t retry_interval_ms,
                            int failures, double u);

/* Ask the service running on state database `state` for a cycle now
 * (SIGUSR1 to the lock holder, after checking it is `poolkeeper run`). */
int pk_service_trigger(const char *state, int *ret_pid, pk_err **err);
