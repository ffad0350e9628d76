/* Log lines on stderr, text or JSON, with the run id and object they concern.
 * Messages must never contain secrets: callers log names and paths, not values. */
#include "pk.h"

static pk_log_level min_level = PK_LOG_INFO;
static pk_log_format log_format = PK_LOG_TEXT;
static _Thread_local char *run_id;   /* per thread: the notifier's threads log without one */

static const char *const level_names[] = { "debug", "info", "warning", "error" };

void pk_log_setup(pk_log_level min, pk_log_format fmt)
{
    min_level = min;
    log_format = fmt;
}

void pk_log_set_run(const char *id)
{
    free(run_id);
    run_id = pk_strdup(id);
}

int pk_log_level_from_string(const char *s)
{
    for (size_t i = 0; i < PK_NELEM(level_names); i++)
        if (pk_streq(s, level_names[i])) return (int)i;
    if (pk_streq(s, "warn")) return PK_LOG_WARN;
    return -1;
}

void pk_log(pk_log_level lvl, const char *object, const char *action, const char *fmt, ...)
{
    if (lvl < min_level) return;
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *msg = pk_vasprintf(fmt, ap);
    va_end(ap);
    _cleanup_free_ char *ts = pk_format_time(pk_now_ms());
    pk_buf b = PK_BUF_INIT;
    if (log_format == PK_LOG_JSON) {
        pk_buf_add(&b, "{\"time\":");
        pk_buf_add_json_str(&b, ts);
        pk_buf_add(&b, ",\"level\":");
        pk_buf_add_json_str(&b, level_names[lvl]);
        if (run_id) { pk_buf_add(&b, ",\"run\":"); pk_buf_add_json_str(&b, run_id); }
        if (object) { pk_buf_add(&b, ",\"object\":"); pk_buf_add_json_str(&b, object); }
        if (action) { pk_buf_add(&b, ",\"action\":"); pk_buf_add_json_str(&b, action); }
        pk_buf_add(&b, ",\"msg\":");
        pk_buf_add_json_str(&b, msg);
        pk_buf_add(&b, "}\n");
    } else {
        pk_buf_addf(&b, "%s %s", ts, level_names[lvl]);
        if (run_id) pk_buf_addf(&b, " run=%s", run_id);
        if (action) pk_buf_addf(&b, " %s", action);
        if (object) pk_buf_addf(&b, " %s", object);
        pk_buf_addf(&b, ": %s\n", msg);
    }
    fputs(pk_buf_str(&b), stderr);
    pk_buf_free(&b);
}
