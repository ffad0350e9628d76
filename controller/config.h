/* poolkeeper.yaml (design.md §8) as typed settings, resolved with the
 * precedence command-line flag > POOLKEEPER_* environment > file > default. */
#pragma once
#include "cli.h"
#include "../reconcilers/plan.h"

typedef struct {
    char *url;
    char *secret_file;        /* HMAC key file, or NULL */
    char **events;            /* NULL-terminated; NULL = all events */
} pk_notify_target;

typedef struct pk_settings {
    char *config_file;        /* the file that was read, or NULL */
    /* desired: */
    char *desired_path;       /* local repository (or work tree) */
    char *desired_remote;     /* file://, https://, ssh:// */
    char *desired_branch;     /* default: HEAD for a local repo, "main" for a remote */
    char *desired_subdir;     /* may contain %H */
    char *ref;                /* --ref */
    bool worktree;            /* --worktree */
    char *state;              /* SQLite file */
    int64_t interval_ms;      /* 5m */
    int jitter_percent;       /* 10 */
    int64_t retry_interval_ms;/* 30s */
    pk_policy policy;
    char *secrets_dir;        /* /etc/poolkeeper/secrets */
    char *ceph_conf;
    pk_notify_target *notify; size_t n_notify;
    char *metrics_listen;     /* "127.0.0.1:9477" or NULL = off */
    int healthz_failures;     /* /healthz turns 503 after this many failed cycles (3) */
    pk_log_format log_format;
    pk_log_level log_level;
} pk_settings;

/* Defaults, then the file (opts->config, or /etc/poolkeeper/poolkeeper.yaml
 * when it exists), then POOLKEEPER_* variables, then the flags. */
int pk_settings_load(const pk_cli_opts *opts, pk_settings *out, pk_err **errs);
/* Parse one YAML file on top of *s. Every problem is appended to *errs as
 * FILE:LINE:COL: error: ...; returns -1 if there was any. */
int pk_config_parse_file(const char *path, pk_settings *s, pk_err **errs);
void pk_settings_defaults(pk_settings *s);
void pk_settings_clear(pk_settings *s);
/* Durations "30s", "5m", "1h30m", "250ms"; percentages "10%". */
int pk_parse_duration_ms(const char *s, int64_t *out);
int pk_parse_percent(const char *s, int *out);
