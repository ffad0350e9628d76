/* The configuration keys and their value types: parsing and checking one
 * value, whichever source (file, environment, flag) it came from. */
#include "config_priv.h"
#include <ctype.h>
#include <stddef.h>

_Static_assert(sizeof(pk_drift_mode) == sizeof(int) && sizeof(pk_adopt_mode) == sizeof(int) &&
               sizeof(pk_log_format) == sizeof(int) && sizeof(pk_log_level) == sizeof(int),
               "enum settings are stored through int pointers");

static const char *const log_format_names[] = { "text", "json" };
static const char *const log_level_names[] = { "debug", "info", "warn", "error" };

static int log_format_from_string(const char *s)
{
    for (size_t i = 0; i < PK_NELEM(log_format_names); i++)
        if (pk_streq(s, log_format_names[i])) return (int)i;
    return -1;
}

static const char *log_format_to_string(int v)
{
    return v >= 0 && v < (int)PK_NELEM(log_format_names) ? log_format_names[v] : NULL;
}

static int log_level_from_string(const char *s)
{
    return pk_log_level_from_string(s);   /* also takes "warning" */
}

static const char *log_level_to_string(int v)
{
    return v >= 0 && v < (int)PK_NELEM(log_level_names) ? log_level_names[v] : NULL;
}

#define F(field) offsetof(pk_settings, field)
#define SECOND 1000LL
#define DAY (86400 * SECOND)

/* Order is the order of `config show` and of the help text. */
const pk_config_key pk_config_keys[] = {
    { .name = "desired.path", .env = "POOLKEEPER_DESIRED", .flag = "--desired",
      .type = PK_CT_PATH, .offset = F(desired_path), .unset = "the current directory" },
    { .name = "desired.remote", .env = "POOLKEEPER_DESIRED_REMOTE",
      .type = PK_CT_REMOTE, .offset = F(desired_remote), .unset = "desired.path is used" },
    { .name = "desired.branch", .env = "POOLKEEPER_BRANCH",
      .type = PK_CT_STRING, .offset = F(desired_branch),
      .unset = "HEAD of a local repository, main of a remote" },
    { .name = "desired.subdir", .env = "POOLKEEPER_SUBDIR",
      .type = PK_CT_SUBDIR, .offset = F(desired_subdir), .unset = "the repository root" },
    { .name = "desired.fetch_timeout", .env = "POOLKEEPER_FETCH_TIMEOUT",
      .type = PK_CT_DURATION, .offset = F(fetch_timeout_ms), .min = SECOND, .max = DAY },
    { .name = "state", .env = "POOLKEEPER_STATE", .flag = "--state",
      .type = PK_CT_PATH, .offset = F(state) },
    { .name = "interval", .env = "POOLKEEPER_INTERVAL",
      .type = PK_CT_DURATION, .offset = F(interval_ms), .min = SECOND, .max = 30 * DAY },
    { .name = "jitter", .env = "POOLKEEPER_JITTER",
      .type = PK_CT_PERCENT, .offset = F(jitter_percent), .min = 0, .max = 50 },
    { .name = "retry_interval", .env = "POOLKEEPER_RETRY_INTERVAL",
      .type = PK_CT_DURATION, .offset = F(retry_interval_ms), .min = SECOND, .max = 30 * DAY },
    { .name = "policy.prune", .env = "POOLKEEPER_PRUNE",
      .type = PK_CT_BOOL, .offset = F(policy.prune) },
    { .name = "policy.allow_shrink", .env = "POOLKEEPER_ALLOW_SHRINK",
      .type = PK_CT_BOOL, .offset = F(policy.allow_shrink) },
    { .name = "policy.allow_pool_delete", .env = "POOLKEEPER_ALLOW_POOL_DELETE",
      .type = PK_CT_BOOL, .offset = F(policy.allow_pool_delete) },
    { .name = "policy.allow_format", .env = "POOLKEEPER_ALLOW_FORMAT",
      .type = PK_CT_BOOL, .offset = F(policy.allow_format) },
    { .name = "policy.max_delete_percent", .env = "POOLKEEPER_MAX_DELETE_PERCENT",
      .type = PK_CT_PERCENT, .offset = F(policy.max_delete_percent), .min = 0, .max = 100 },
    { .name = "policy.drift", .env = "POOLKEEPER_DRIFT",
      .type = PK_CT_ENUM, .offset = F(policy.drift),
      .from_string = pk_drift_mode_from_string, .to_string = pk_drift_mode_to_string,
      .choices = "'correct' or 'report'" },
    { .name = "policy.adopt", .env = "POOLKEEPER_ADOPT",
      .type = PK_CT_ENUM, .offset = F(policy.adopt),
      .from_string = pk_adopt_mode_from_string, .to_string = pk_adopt_mode_to_string,
      .choices = "'never' or 'matching'" },
    { .name = "secrets.dir", .env = "POOLKEEPER_SECRETS_DIR",
      .type = PK_CT_PATH, .offset = F(secrets_dir) },
    { .name = "ceph.conf", .env = "POOLKEEPER_CEPH_CONF",
      .type = PK_CT_PATH, .offset = F(ceph_conf), .unset = "librados' own search" },
    { .name = "notify", .type = PK_CT_NOTIFY, .offset = F(notify) },
    { .name = "metrics.listen", .env = "POOLKEEPER_METRICS_LISTEN",
      .type = PK_CT_LISTEN, .offset = F(metrics_listen), .unset = "off" },
    { .name = "metrics.healthz_failures", .env = "POOLKEEPER_HEALTHZ_FAILURES",
      .type = PK_CT_INT, .offset = F(healthz_failures), .min = 1, .max = 1000 },
    { .name = "log.format", .env = "POOLKEEPER_LOG_FORMAT", .flag = "--log-format",
      .type = PK_CT_ENUM, .offset = F(log_format),
      .from_string = log_format_from_string, .to_string = log_format_to_string,
      .choices = "'text' or 'json'" },
    { .name = "log.level", .env = "POOLKEEPER_LOG_LEVEL", .flag = "-v/-q",
      .type = PK_CT_ENUM, .offset = F(log_level),
      .from_string = log_level_from_string, .to_string = log_level_to_string,
      .choices = "'debug', 'info', 'warn' or 'error'" },
    /* Per invocation, so not in the file. */
    { .name = "ref", .env = "POOLKEEPER_REF", .flag = "--ref", .cli_only = true,
      .type = PK_CT_STRING, .offset = F(ref), .unset = "the tip of desired.branch" },
    { .name = "worktree", .env = "POOLKEEPER_WORKTREE", .flag = "--worktree", .cli_only = true,
      .type = PK_CT_BOOL, .offset = F(worktree) },
};
const size_t pk_config_nkeys = PK_NELEM(pk_config_keys);

const char *const pk_config_events[] = { "applied", "failed", "drift", "blocked", "recovered", NULL };
const char pk_config_events_choices[] =
    "'applied', 'failed', 'drift', 'blocked' or 'recovered'";

int pk_config_event_index(const char *s)
{
    for (int i = 0; pk_config_events[i]; i++)
        if (pk_streq(s, pk_config_events[i])) return i;
    return -1;
}

const pk_config_key *pk_config_key_find(const char *name)
{
    for (size_t i = 0; i < pk_config_nkeys; i++)
        if (pk_streq(pk_config_keys[i].name, name)) return &pk_config_keys[i];
    return NULL;
}

bool pk_config_is_section(const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < pk_config_nkeys; i++) {
        const pk_config_key *k = &pk_config_keys[i];
        if (!k->cli_only && strncmp(k->name, name, n) == 0 && k->name[n] == '.') return true;
    }
    return false;
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return SIZE_MAX;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* A typo (two edits at most) of a key, or a key put in the wrong section
 * ("prune" at the top instead of under policy). */
char *pk_config_suggest(const char *name)
{
    char *best = NULL;
    size_t best_d = 3;
    const char *leaf = strrchr(name, '.');
    leaf = leaf ? leaf + 1 : name;
    for (size_t i = 0; i < pk_config_nkeys; i++) {
        const pk_config_key *k = &pk_config_keys[i];
        if (k->cli_only) continue;
        size_t d = edit_distance(name, k->name);
        const char *kleaf = strrchr(k->name, '.');
        if (kleaf && pk_streq(kleaf + 1, leaf)) d = d < 1 ? d : 1;
        if (d < best_d) {
            best_d = d;
            free(best);
            best = pk_strdup(k->name);
        }
    }
    /* A misspelt section ("polcy") names the section, not one of its keys. */
    for (size_t i = 0; i < pk_config_nkeys; i++) {
        const char *dot = strchr(pk_config_keys[i].name, '.');
        if (!dot) continue;
        _cleanup_free_ char *section = pk_strndup(pk_config_keys[i].name, (size_t)(dot - pk_config_keys[i].name));
        size_t d = edit_distance(name, section);
        if (d < best_d) {
            best_d = d;
            free(best);
            best = TAKE_PTR(section);
        }
    }
    return best;
}

int pk_config_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = { "true", "yes", "on", "y" };
    static const char *const no[] = { "false", "no", "off", "n" };
    for (size_t i = 0; i < PK_NELEM(yes); i++) {
        if (strcasecmp(s, yes[i]) == 0) { *out = true; return 0; }
        if (strcasecmp(s, no[i]) == 0) { *out = false; return 0; }
    }
    return -1;
}

int pk_parse_duration_ms(const char *s, int64_t *out)
{
    static const struct { const char *unit; int64_t ms; } units[] = {
        { "d", DAY }, { "h", 3600 * SECOND }, { "ms", 1 }, { "m", 60 * SECOND }, { "s", SECOND },
    };
    /* Rank of each unit above, for "largest first": d h m s ms. */
    static const int rank[] = { 0, 1, 4, 2, 3 };
    if (!s) return -1;
    uint64_t v;
    if (pk_parse_u64(s, 10, &v) == 0) {
        if (v > (uint64_t)INT64_MAX / SECOND) return -1;
        *out = (int64_t)v * SECOND;
        return 0;
    }
    int64_t total = 0;
    int last_rank = -1;
    const char *p = s;
    bool any = false;
    while (*p) {
        if (any)
            while (*p == ' ') p++;
        if (!isdigit((unsigned char)*p)) return -1;
        uint64_t n = 0;
        while (isdigit((unsigned char)*p)) {
            if (n > (UINT64_MAX - 9) / 10) return -1;
            n = n * 10 + (uint64_t)(*p++ - '0');
        }
        size_t u;
        for (u = 0; u < PK_NELEM(units); u++) {
            size_t l = strlen(units[u].unit);
            if (strncmp(p, units[u].unit, l) == 0 && !isalpha((unsigned char)p[l])) break;
        }
        if (u == PK_NELEM(units) || rank[u] <= last_rank) return -1;
        last_rank = rank[u];
        p += strlen(units[u].unit);
        if (n > (uint64_t)(INT64_MAX - total) / (uint64_t)units[u].ms) return -1;
        total += (int64_t)n * units[u].ms;
        any = true;
    }
    if (!any) return -1;
    *out = total;
    return 0;
}

char *pk_format_duration_ms(int64_t ms)
{
    static const struct { const char *unit; int64_t ms; } units[] = {
        { "d", DAY }, { "h", 3600 * SECOND }, { "m", 60 * SECOND }, { "s", SECOND }, { "ms", 1 },
    };
    if (ms <= 0) return pk_strdup("0s");
    pk_buf b = PK_BUF_INIT;
    for (size_t i = 0; i < PK_NELEM(units); i++) {
        if (ms >= units[i].ms) {
            pk_buf_addf(&b, "%lld%s", (long long)(ms / units[i].ms), units[i].unit);
            ms %= units[i].ms;
        }
    }
    return pk_buf_steal(&b);
}

int pk_parse_percent(const char *s, int *out)
{
    if (!s || !isdigit((unsigned char)*s)) return -1;
    size_t n = strlen(s);
    _cleanup_free_ char *digits = pk_strndup(s, s[n - 1] == '%' ? n - 1 : n);
    return pk_parse_int(digits, 10, out) == 0 && *out >= 0 ? 0 : -1;
}

/* user:password@ in a URL's authority becomes user:***@. Over http(s) a
 * lone user name is usually a token, so it goes too; ssh://git@ stays. */
char *pk_redact_url(const char *url)
{
    if (!url) return NULL;
    const char *auth = strstr(url, "://");
    if (!auth) return pk_strdup(url);
    auth += 3;
    size_t alen = strcspn(auth, "/?#");
    const char *at = memrchr(auth, '@', alen);
    if (!at) return pk_strdup(url);
    const char *colon = memchr(auth, ':', (size_t)(at - auth));
    if (colon) return pk_asprintf("%.*s:***%s", (int)(colon - url), url, at);
    if (pk_str_has_prefix(url, "http://") || pk_str_has_prefix(url, "https://"))
        return pk_asprintf("%.*s***%s", (int)(auth - url), url, at);
    return pk_strdup(url);
}

static bool valid_listen(const char *s, char **why)
{
    const char *colon;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close == s + 1 || close[1] != ':') goto bad;
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || colon == s || memchr(s, ':', (size_t)(colon - s))) goto bad;
    }
    int port;
    if (pk_parse_int(colon + 1, 10, &port) < 0 || !isdigit((unsigned char)colon[1])) goto bad;
    if (port < 1 || port > 65535) {
        *why = pk_asprintf("must have a port between 1 and 65535, not '%s'", s);
        return false;
    }
    return true;
bad:
    *why = pk_asprintf("must be HOST:PORT such as 127.0.0.1:9477 or [::1]:9477, not '%s'", s);
    return false;
}

static bool valid_remote(const char *s, char **why)
{
    static const char *const schemes[] = { "file://", "http://", "https://", "ssh://" };
    for (size_t i = 0; i < PK_NELEM(schemes); i++)
        if (pk_str_has_prefix(s, schemes[i]) && s[strlen(schemes[i])]) return true;
    /* scp-like user@host:path, as git accepts it */
    const char *at = strchr(s, '@');
    const char *colon = at ? strchr(at, ':') : NULL;
    if (at && at > s && colon && colon > at + 1 && colon[1] && !memchr(s, '/', (size_t)(colon - s)))
        return true;
    _cleanup_free_ char *shown = pk_redact_url(s);
    *why = pk_asprintf("must be a file://, http://, https:// or ssh:// URL or user@host:path, not '%s'",
                       shown);
    return false;
}

static bool valid_subdir(const char *s, char **why)
{
    for (const char *p = strchr(s, '%'); p; p = strchr(p + 2, '%')) {
        if (p[1] != 'H') {
            *why = pk_asprintf("may hold no placeholder but %%H, not '%s'", s);
            return false;
        }
    }
    bool dotdot = false;
    for (const char *p = s; *p; p += strcspn(p, "/"), p += *p == '/') {
        size_t l = strcspn(p, "/");
        if (l == 2 && p[0] == '.' && p[1] == '.') dotdot = true;
    }
    if (s[0] == '/' || dotdot) {
        *why = pk_asprintf("must be a relative path inside the repository, not '%s'", s);
        return false;
    }
    return true;
}

static int set_string(const pk_config_key *k, pk_settings *s, const char *text,
                      const char *base_dir, char **why)
{
    if (!*text) {
        *why = pk_strdup("must not be empty");
        return -1;
    }
    if ((k->type == PK_CT_LISTEN && !valid_listen(text, why)) ||
        (k->type == PK_CT_REMOTE && !valid_remote(text, why)) ||
        (k->type == PK_CT_SUBDIR && !valid_subdir(text, why)))
        return -1;
    char **field = (char **)((char *)s + k->offset);
    free(*field);
    if (k->type == PK_CT_PATH && base_dir && text[0] != '/')
        *field = pk_asprintf("%s/%s", base_dir, text);
    else
        *field = pk_strdup(text);
    /* Where the desired state lives is one choice: naming one drops the other. */
    if (k->offset == offsetof(pk_settings, desired_path)) {
        free(s->desired_remote);
        s->desired_remote = NULL;
    } else if (k->offset == offsetof(pk_settings, desired_remote)) {
        free(s->desired_path);
        s->desired_path = NULL;
    }
    return 0;
}

int pk_config_set(const pk_config_key *k, pk_settings *s, const char *text,
                  const char *base_dir, char **why)
{
    void *field = (char *)s + k->offset;
    switch (k->type) {
    case PK_CT_STRING:
    case PK_CT_PATH:
    case PK_CT_REMOTE:
    case PK_CT_SUBDIR:
    case PK_CT_LISTEN:
        return set_string(k, s, text, base_dir, why);
    case PK_CT_BOOL:
        if (pk_config_parse_bool(text, field) < 0) {
            *why = pk_asprintf("must be true or false, not '%s'", text);
            return -1;
        }
        return 0;
    case PK_CT_DURATION: {
        int64_t ms;
        if (pk_parse_duration_ms(text, &ms) < 0) {
            *why = pk_asprintf("must be a duration such as 250ms, 30s, 5m or 1h30m, not '%s'", text);
            return -1;
        }
        if (ms < k->min || ms > k->max) {
            _cleanup_free_ char *lo = pk_format_duration_ms(k->min);
            _cleanup_free_ char *hi = pk_format_duration_ms(k->max);
            *why = pk_asprintf("must be between %s and %s, not '%s'", lo, hi, text);
            return -1;
        }
        *(int64_t *)field = ms;
        return 0;
    }
    case PK_CT_PERCENT: {
        int v;
        if (pk_parse_percent(text, &v) < 0) {
            *why = pk_asprintf("must be a percentage such as 10%% (or 10), not '%s'", text);
            return -1;
        }
        if (v < k->min || v > k->max) {
            *why = pk_asprintf("must be between %lld%% and %lld%%, not '%s'",
                               (long long)k->min, (long long)k->max, text);
            return -1;
        }
        *(int *)field = v;
        return 0;
    }
    case PK_CT_INT: {
        int v;
        if (pk_parse_int(text, 10, &v) < 0) {
            *why = pk_asprintf("must be an integer, not '%s'", text);
            return -1;
        }
        if (v < k->min || v > k->max) {
            *why = pk_asprintf("must be between %lld and %lld, not '%s'",
                               (long long)k->min, (long long)k->max, text);
            return -1;
        }
        *(int *)field = v;
        return 0;
    }
    case PK_CT_ENUM: {
        int v = k->from_string(text);
        if (v < 0) {
            *why = pk_asprintf("must be %s, not '%s'", k->choices, text);
            return -1;
        }
        *(int *)field = v;
        return 0;
    }
    case PK_CT_NOTIFY:
        break;
    }
    *why = pk_strdup("cannot be set from text");
    return -1;
}

void pk_config_note_origin(pk_settings *s, const pk_config_key *k, pk_config_source from, int line)
{
    if (!s->origins) return;
    pk_config_origin *o = &s->origins[k - pk_config_keys];
    o->from = from;
    o->line = line;
}
