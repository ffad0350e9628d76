/* Effective settings: built-in defaults, then the file, then POOLKEEPER_*
 * variables, then command-line flags, each level overriding the one before.
 * Every mistake of every level is collected before giving up, so a single
 * `config check` shows them all. */
#include "config_priv.h"
#include <ctype.h>
#include <errno.h>
#include <sys/stat.h>

/* *s may be uninitialised: it is overwritten, not cleared. */
void pk_settings_defaults(pk_settings *s)
{
    memset(s, 0, sizeof(*s));
    s->state = pk_strdup(PK_STATE_DEFAULT);
    s->interval_ms = 5 * 60 * 1000;
    s->fetch_timeout_ms = 2 * 60 * 1000;
    s->jitter_percent = 10;
    s->retry_interval_ms = 30 * 1000;
    pk_policy_defaults(&s->policy);
    s->secrets_dir = pk_strdup(PK_SECRETS_DIR_DEFAULT);
    s->healthz_failures = 3;
    s->log_format = PK_LOG_TEXT;
    s->log_level = PK_LOG_INFO;
    s->origins = pk_calloc(pk_config_nkeys, sizeof(*s->origins));
}

void pk_settings_clear(pk_settings *s)
{
    free(s->config_file);
    free(s->desired_path);
    free(s->desired_remote);
    free(s->desired_branch);
    free(s->desired_subdir);
    free(s->ref);
    free(s->state);
    free(s->secrets_dir);
    free(s->ceph_conf);
    for (size_t i = 0; i < s->n_notify; i++) {
        free(s->notify[i].url);
        free(s->notify[i].secret_file);
        pk_strv_free(s->notify[i].events);
    }
    free(s->notify);
    free(s->metrics_listen);
    free(s->origins);
    memset(s, 0, sizeof(*s));
}

/* Empty variables count as unset, as in most shells' idiom FOO= cmd. */
static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

const char *pk_config_resolve_file(const pk_cli_opts *opts, const char *default_file,
                                   bool *explicit_file)
{
    *explicit_file = true;
    if (opts && opts->config) return opts->config;
    if (env("POOLKEEPER_CONFIG")) return env("POOLKEEPER_CONFIG");
    *explicit_file = false;
    struct stat st;
    /* Only absence means "no file": an unreadable one is an error to report. */
    if (default_file && (stat(default_file, &st) == 0 || errno != ENOENT)) return default_file;
    return NULL;
}

static void apply_env(pk_settings *s, pk_err **errs)
{
    if (env("POOLKEEPER_DESIRED") && env("POOLKEEPER_DESIRED_REMOTE"))
        pk_err_append(errs, pk_err_new(NULL, 0, 0,
                      "POOLKEEPER_DESIRED and POOLKEEPER_DESIRED_REMOTE are mutually exclusive"));
    for (size_t i = 0; i < pk_config_nkeys; i++) {
        const pk_config_key *k = &pk_config_keys[i];
        const char *v = k->env ? env(k->env) : NULL;
        if (!v) continue;
        _cleanup_free_ char *why = NULL;
        if (pk_config_set(k, s, v, NULL, &why) < 0) {
            pk_err_append(errs, pk_err_new(NULL, 0, 0, "%s %s", k->env, why));
            continue;
        }
        pk_config_note_origin(s, k, PK_SRC_ENV, 0);
    }
}

static void apply_flag(pk_settings *s, const char *name, const char *value, pk_err **errs)
{
    const pk_config_key *k = pk_config_key_find(name);
    _cleanup_free_ char *why = NULL;
    if (pk_config_set(k, s, value, NULL, &why) < 0) {
        pk_err_append(errs, pk_err_new(NULL, 0, 0, "%s %s", k->flag, why));
        return;
    }
    pk_config_note_origin(s, k, PK_SRC_FLAG, 0);
}

static void apply_flags(pk_settings *s, const pk_cli_opts *o, pk_err **errs)
{
    if (o->desired) apply_flag(s, "desired.path", o->desired, errs);
    if (o->state) apply_flag(s, "state", o->state, errs);
    if (o->ref) apply_flag(s, "ref", o->ref, errs);
    if (o->worktree) apply_flag(s, "worktree", "true", errs);
    if (o->log_format) apply_flag(s, "log.format", o->log_format, errs);
    if (o->verbose || o->quiet) apply_flag(s, "log.level", o->quiet ? "error" : "debug", errs);
}

int pk_settings_load_from(const pk_cli_opts *opts, const char *default_file, pk_settings *out,
                          pk_err **errs)
{
    pk_err *list = NULL;
    pk_settings_defaults(out);
    bool explicit_file;
    const char *file = pk_config_resolve_file(opts, default_file, &explicit_file);
    if (file) pk_config_parse_file(file, out, &list);
    apply_env(out, &list);
    if (opts) apply_flags(out, opts, &list);
    if (!list) return 0;
    pk_settings_clear(out);
    pk_err_append(errs, list);
    return -1;
}

int pk_settings_load(const pk_cli_opts *opts, pk_settings *out, pk_err **errs)
{
    return pk_settings_load_from(opts, PK_CONFIG_DEFAULT_FILE, out, errs);
}

const char *pk_settings_branch(const pk_settings *s)
{
    if (s->desired_branch) return s->desired_branch;
    return s->desired_remote ? "main" : NULL;
}

bool pk_notify_wants(const pk_notify_target *t, const char *event)
{
    if (!t->events) return true;
    for (char **e = t->events; *e; e++)
        if (pk_streq(*e, event)) return true;
    return false;
}

/* ---- config show ---- */

/* Plain YAML when that reads back as the same text, double-quoted otherwise. */
static void add_scalar(pk_buf *b, const char *s)
{
    bool plain = *s && (isalnum((unsigned char)*s) || *s == '/' || *s == '.' || *s == '_');
    bool dummy;
    for (const char *p = s; plain && *p; p++)
        plain = isalnum((unsigned char)*p) || strchr("/._-+%@=,", *p) ||
                (*p == ':' && p[1] && p[1] != ' ');
    if (plain && (pk_config_parse_bool(s, &dummy) == 0 || pk_streq(s, "null")))
        plain = false;
    if (plain) {
        pk_buf_add(b, s);
        return;
    }
    pk_buf_addc(b, '"');
    for (const char *p = s; *p; p++) {
        if (*p == '"' || *p == '\\')
            pk_buf_addf(b, "\\%c", *p);
        else if ((unsigned char)*p < 0x20)
            pk_buf_addf(b, "\\x%02x", (unsigned char)*p);
        else
            pk_buf_addc(b, *p);
    }
    pk_buf_addc(b, '"');
}

static char *origin_text(const pk_settings *s, const pk_config_key *k)
{
    pk_config_origin o = s->origins ? s->origins[k - pk_config_keys] : (pk_config_origin){ 0 };
    switch (o.from) {
    case PK_SRC_FILE: return pk_asprintf("%s:%d", s->config_file ? s->config_file : "file", o.line);
    case PK_SRC_ENV: return pk_strdup(k->env);
    case PK_SRC_FLAG: return pk_strdup(k->flag);
    case PK_SRC_DEFAULT: break;
    }
    return pk_strdup("default");
}

/* Pad the line being written to a column, then "# comment". */
static void add_comment(pk_buf *b, size_t line_start, const char *comment)
{
    size_t width = b->len - line_start;
    pk_buf_indent(b, width < 40 ? (int)(40 - width) : 1);
    pk_buf_addf(b, "# %s\n", comment);
}

/* The value of k as text for YAML, or NULL when unset. */
static char *value_text(const pk_settings *s, const pk_config_key *k)
{
    const void *field = (const char *)s + k->offset;
    switch (k->type) {
    case PK_CT_REMOTE:
        return pk_redact_url(*(char *const *)field);
    case PK_CT_STRING:
    case PK_CT_PATH:
    case PK_CT_SUBDIR:
    case PK_CT_LISTEN:
        return pk_strdup(*(char *const *)field);
    case PK_CT_BOOL:
        return pk_strdup(*(const bool *)field ? "true" : "false");
    case PK_CT_DURATION:
        return pk_format_duration_ms(*(const int64_t *)field);
    case PK_CT_PERCENT:
        return pk_asprintf("%d%%", *(const int *)field);
    case PK_CT_INT:
        return pk_asprintf("%d", *(const int *)field);
    case PK_CT_ENUM:
        return pk_strdup(k->to_string(*(const int *)field));
    case PK_CT_NOTIFY:
        break;
    }
    return NULL;
}

static void add_notify(pk_buf *b, const pk_settings *s, const pk_config_key *k)
{
    size_t start = b->len;
    _cleanup_free_ char *from = origin_text(s, k);
    if (!s->n_notify) {
        pk_buf_add(b, "notify: []");
        add_comment(b, start, from);
        return;
    }
    pk_buf_add(b, "notify:");
    add_comment(b, start, from);
    for (size_t i = 0; i < s->n_notify; i++) {
        const pk_notify_target *t = &s->notify[i];
        _cleanup_free_ char *url = pk_redact_url(t->url);
        pk_buf_add(b, "  - url: ");
        add_scalar(b, url);
        pk_buf_addc(b, '\n');
        if (t->secret_file) {
            /* The name of the key file, never what it holds. */
            pk_buf_add(b, "    secret_file: ");
            add_scalar(b, t->secret_file);
            pk_buf_addc(b, '\n');
        }
        pk_buf_add(b, "    events: [");
        for (size_t e = 0; t->events ? t->events[e] != NULL : pk_config_events[e] != NULL; e++)
            pk_buf_addf(b, "%s%s", e ? ", " : "", t->events ? t->events[e] : pk_config_events[e]);
        pk_buf_add(b, "]\n");
    }
}

char *pk_settings_format_yaml(const pk_settings *s)
{
    pk_buf b = PK_BUF_INIT;
    pk_buf_add(&b, "# poolkeeper effective configuration\n");
    if (s->config_file)
        pk_buf_addf(&b, "# file: %s\n", s->config_file);
    else
        pk_buf_add(&b, "# file: none (built-in defaults)\n");
    char section[32] = "";
    for (size_t i = 0; i < pk_config_nkeys; i++) {
        const pk_config_key *k = &pk_config_keys[i];
        if (k->cli_only) continue;
        const char *dot = strchr(k->name, '.');
        size_t slen = dot ? (size_t)(dot - k->name) : 0;
        if (!dot) {
            section[0] = '\0';
        } else if (strncmp(section, k->name, slen) != 0 || section[slen] != '\0') {
            snprintf(section, sizeof section, "%.*s", (int)slen, k->name);
            pk_buf_addf(&b, "%s:\n", section);
        }
        if (k->type == PK_CT_NOTIFY) {
            add_notify(&b, s, k);
            continue;
        }
        const char *leaf = dot ? dot + 1 : k->name;
        int indent = dot ? 2 : 0;
        size_t start = b.len;
        _cleanup_free_ char *v = value_text(s, k);
        _cleanup_free_ char *from = origin_text(s, k);
        pk_buf_indent(&b, indent);
        if (v) {
            pk_buf_addf(&b, "%s: ", leaf);
            if (k->type == PK_CT_BOOL)   /* true/false must stay booleans, not strings */
                pk_buf_add(&b, v);
            else
                add_scalar(&b, v);
            add_comment(&b, start, from);
        } else {
            pk_buf_addf(&b, "# %s: not set: %s\n", leaf, k->unset ? k->unset : "none");
        }
    }
    /* Per-invocation settings, shown but not part of a file. */
    for (size_t i = 0; i < pk_config_nkeys; i++) {
        const pk_config_key *k = &pk_config_keys[i];
        if (!k->cli_only) continue;
        _cleanup_free_ char *v = value_text(s, k);
        _cleanup_free_ char *from = origin_text(s, k);
        if (v && !(k->type == PK_CT_BOOL && pk_streq(v, "false")))
            pk_buf_addf(&b, "# %s: %s (%s; not a file key)\n", k->name, v, from);
    }
    return pk_buf_steal(&b);
}
