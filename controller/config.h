/* poolkeeper.yaml (design.md §8) as typed settings, resolved with the
 * precedence command-line flag > POOLKEEPER_* environment > file > default. */
#pragma once
#include "cli.h"
#include "../reconcilers/plan.h"

#define PK_CONFIG_DEFAULT_FILE "/etc/poolkeeper/poolkeeper.yaml"
#define PK_STATE_DEFAULT "./.poolkeeper/state.db"
#define PK_SECRETS_DIR_DEFAULT "/etc/poolkeeper/secrets"

/* Where a setting's value came from, for `config show`. */
typedef enum { PK_SRC_DEFAULT = 0, PK_SRC_FILE, PK_SRC_ENV, PK_SRC_FLAG } pk_config_source;
typedef struct {
    pk_config_source from;
    int line;                 /* PK_SRC_FILE: line in config_file */
} pk_config_origin;

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
    int64_t fetch_timeout_ms; /* 2m: a fetch of desired_remote still running is given up */
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
    pk_config_origin *origins;/* one per schema key (config_priv.h); NULL = not tracked */
} pk_settings;

/* Defaults, then the file (opts->config, or /etc/poolkeeper/poolkeeper.yaml
 * when it exists), then POOLKEEPER_* variables, then the flags. */
int pk_settings_load(const pk_cli_opts *opts, pk_settings *out, pk_err **errs);
/* As pk_settings_load with another default file (tests; NULL = none). On
 * failure every error is in *errs and *out is cleared. */
int pk_settings_load_from(const pk_cli_opts *opts, const char *default_file, pk_settings *out,
                          pk_err **errs);
/* The config file to read: --config, else $POOLKEEPER_CONFIG, else
 * default_file when it exists, else NULL. *explicit_file tells whether the
 * user named it (then a missing file is an error). */
const char *pk_config_resolve_file(const pk_cli_opts *opts, const char *default_file,
                                   bool *explicit_file);
/* Parse one YAML file on top of *s. Every problem is appended to *errs as
 * FILE:LINE:COL: error: ...; returns -1 if there was any. */
int pk_config_parse_file(const char *path, pk_settings *s, pk_err **errs);
void pk_settings_defaults(pk_settings *s);
void pk_settings_clear(pk_settings *s);
/* Durations "30s", "5m", "1h30m", "250ms"; percentages "10%". */
int pk_parse_duration_ms(const char *s, int64_t *out);
int pk_parse_percent(const char *s, int *out);
/* (A bare integer duration is seconds; the units d h m s ms come largest
 * first, optionally spaced: "1h 30m". A percentage is "10%" or "10"; range
 * checks are the caller's. Both return 0, or -1 on bad syntax.) */

/* The canonical spelling of a duration: "1h30m", "250ms", "0s". */
char *pk_format_duration_ms(int64_t ms);
/* The effective settings as YAML that reads back as the same settings, each
 * value commented with where it came from. Secrets are never read; URLs have
 * their password replaced by "***". */
char *pk_settings_format_yaml(const pk_settings *s);
/* desired.branch, or its default: "main" for a remote, NULL (= HEAD) for a path. */
const char *pk_settings_branch(const pk_settings *s);
/* Whether a notify target wants an event ("applied", "failed", "drift",
 * "blocked", "recovered"). */
bool pk_notify_wants(const pk_notify_target *t, const char *event);
/* url with any password in it replaced by "***" (for logs and output). */
char *pk_redact_url(const char *url);
