/* The plan for people (aligned text, as in a code review) and for programs
 * (versioned JSON). Both are pure functions of the plan.
 *
 * JSON plan, "format_version": 1. Consumers must ignore unknown keys; a new
 * key is added without changing the version, a changed or removed one bumps it.
 *
 *   {
 *     "format_version": 1,
 *     "desired": {
 *       "commit": "3f2a9c1...",     full commit id, null when read from the work tree
 *       "ref": "main",              what was asked for ("HEAD", a branch, a tag, "worktree")
 *       "worktree": false           true: read from the files on disk (--worktree)
 *     },
 *     "state": "state.db",          state database the plan was made with, or null
 *     "actions": [                  in the order they run; blocked ones last
 *       {
 *         "kind": "vol.resize",     pool.define pool.build pool.start pool.stop pool.delete
 *                                   vol.create vol.resize vol.update vol.delete adopt
 *         "pool": "default",
 *         "pool_type": "dir",       libvirt pool type
 *         "volume": "db.raw",       null for pool actions
 *         "risk": "safe",           safe | destructive
 *         "before": "10 GiB",       human text of the current value, or null
 *         "after": "40 GiB",        human text of the value it will have, or null
 *         "before_bytes": 10737418240,  capacity in bytes: vol.resize, vol.delete; else null
 *         "after_bytes": 42949672960,   capacity in bytes: vol.create, vol.resize, adopt; else null
 *         "reason": "pools/default/db.raw.xml:6 @3f2a9c1",
 *                                   the desired file:line @commit, or
 *                                   "removed from desired in 3f2a9c1"
 *         "blocked": false,         true: policy keeps it from running
 *         "blocked_reason": null,   why, e.g. "shrinking needs policy allow_shrink"
 *         "drift": true,            corrects a change made outside poolkeeper
 *         "allowed_by": null,       policy key that lets it run ("prune", "allow_shrink",
 *                                   "allow_format", "allow_pool_delete", "adopt"), or null
 *         "depends_on": null        index in "actions" of the action it needs, or null
 *       }
 *     ],
 *     "notes": [                    what the plan cannot act on but must say
 *       { "pool": "default", "volume": "web.qcow2", "error": false,
 *         "message": "volume 'default/web.qcow2' exists, not owned: adopt it with ..." }
 *     ],                            "error": true means the run reports failure
 *     "summary": {
 *       "changes": 5,               actions that will run
 *       "blocked": 1,               actions policy blocks
 *       "pool": 2, "create": 1, "resize": 1, "update": 0, "delete": 1, "adopt": 0,
 *                                   actions that will run, by kind ("pool": all pool.*)
 *       "errors": 0                 notes with "error": true
 *     }
 *   }
 */
#include "plan.h"

#define C_GREEN "\033[32m"
#define C_YELLOW "\033[33m"
#define C_RED "\033[31m"
#define C_RESET "\033[0m"

typedef struct {
    size_t pool, create, resize, update, del, adopt, blocked, errors;
} plan_counts;

static plan_counts count(const pk_plan *p)
{
    plan_counts c = { 0 };
    for (size_t i = 0; i < p->n_actions; i++) {
        const pk_action *a = &p->actions[i];
        if (a->blocked) {
            c.blocked++;
            continue;
        }
        switch (a->kind) {
        case PK_ACT_POOL_DEFINE: case PK_ACT_POOL_BUILD: case PK_ACT_POOL_START:
        case PK_ACT_POOL_STOP: case PK_ACT_POOL_DELETE:
            c.pool++; break;
        case PK_ACT_VOL_CREATE: c.create++; break;
        case PK_ACT_VOL_RESIZE: c.resize++; break;
        case PK_ACT_VOL_UPDATE: c.update++; break;
        case PK_ACT_VOL_DELETE: c.del++; break;
        case PK_ACT_ADOPT: c.adopt++; break;
        case PK_ACT_LAST: break;
        }
    }
    for (size_t i = 0; i < p->n_notes; i++)
        if (p->notes[i].error) c.errors++;
    return c;
}

/* ---- text ---- */

static char symbol(const pk_action *a)
{
    if (a->blocked) return '!';
    switch (a->kind) {
    case PK_ACT_VOL_DELETE: case PK_ACT_POOL_DELETE: return '-';
    case PK_ACT_VOL_RESIZE: case PK_ACT_VOL_UPDATE: case PK_ACT_POOL_STOP: return '~';
    default: return '+';
    }
}

static const char *symbol_color(char s)
{
    switch (s) {
    case '+': return C_GREEN;
    case '~': return C_YELLOW;
    default: return C_RED;
    }
}

/* "default/web.qcow2", or "default (dir)" for the build that creates it. */
static char *object_text(const pk_action *a)
{
    if (a->vol) return pk_asprintf("%s/%s", a->pool, a->vol);
    if (a->kind == PK_ACT_POOL_BUILD)
        return pk_asprintf("%s (%s)", a->pool, pk_pool_type_to_string(a->pool_type));
    return pk_strdup(a->pool);
}

static char *detail_text(const pk_action *a)
{
    if (a->before && a->after) return pk_asprintf("%s -> %s", a->before, a->after);
    if (a->after) return pk_strdup(a->after);
    if (a->before) return pk_strdup(a->before);
    return pk_strdup("");
}

/* The last column: why it is blocked, or where it comes from and which
 * policy lets it run. A reason repeated from the line above (a pool's
 * start after its build) is not printed again. */
static char *tail_text(const pk_action *a, const pk_action *prev)
{
    if (a->blocked) return pk_asprintf("blocked: %s", a->blocked_why);
    pk_buf b = PK_BUF_INIT;
    bool repeat = prev && !prev->blocked && pk_streq(prev->reason, a->reason) &&
                  pk_streq(prev->pool, a->pool) && pk_streq(prev->vol, a->vol);
    if (a->reason && !repeat) pk_buf_add(&b, a->reason);
    if (a->allowed_by) {
        if (b.len) pk_buf_addc(&b, ' ');
        if (strcmp(a->allowed_by, "adopt") == 0)
            pk_buf_add(&b, "(adopt: matching)");
        else
            pk_buf_addf(&b, "(%s: on)", a->allowed_by);
    }
    return pk_buf_steal(&b);
}

static void pad(pk_buf *b, const char *s, size_t width)
{
    pk_buf_add(b, s);
    for (size_t n = strlen(s); n < width; n++) pk_buf_addc(b, ' ');
}

static void rtrim(pk_buf *b)
{
    while (b->len > 0 && b->s[b->len - 1] == ' ') b->s[--b->len] = '\0';
}

static void add_count(pk_buf *b, size_t n, const char *what, bool *first)
{
    if (n == 0) return;
    pk_buf_addf(b, "%s%zu %s", *first ? "" : ", ", n, what);
    *first = false;
}

char *pk_plan_format_text(const pk_plan *p, const char *state, bool color)
{
    pk_buf b = PK_BUF_INIT;
    pk_buf_add(&b, "poolkeeper plan · desired ");
    if (p->worktree)
        pk_buf_add(&b, "worktree");
    else if (p->commit)
        pk_buf_addf(&b, "%.7s (%s)", p->commit, p->ref ? p->ref : "?");
    else
        pk_buf_add(&b, "(none)");
    if (state) pk_buf_addf(&b, " · state %s", state);
    pk_buf_add(&b, "\n\n");

    size_t n = p->n_actions, kind_w = 0, obj_w = 0, det_w = 0;
    char **obj = pk_calloc(n + 1, sizeof(char *)), **det = pk_calloc(n + 1, sizeof(char *));
    for (int k = 0; k < PK_ACT_LAST; k++) {
        size_t l = strlen(pk_action_kind_to_string(k));
        if (l > kind_w) kind_w = l;
    }
    for (size_t i = 0; i < n; i++) {
        obj[i] = object_text(&p->actions[i]);
        det[i] = detail_text(&p->actions[i]);
        if (strlen(obj[i]) > obj_w) obj_w = strlen(obj[i]);
        if (strlen(det[i]) > det_w) det_w = strlen(det[i]);
    }
    for (size_t i = 0; i < n; i++) {
        const pk_action *a = &p->actions[i];
        char s = symbol(a);
        if (color)
            pk_buf_addf(&b, "  %s%c%s ", symbol_color(s), s, C_RESET);
        else
            pk_buf_addf(&b, "  %c ", s);
        pad(&b, pk_action_kind_to_string(a->kind), kind_w + 2);
        pad(&b, obj[i], obj_w + 2);
        if (det_w) pad(&b, det[i], det_w + 2);
        _cleanup_free_ char *tail = tail_text(a, i > 0 ? &p->actions[i - 1] : NULL);
        pk_buf_add(&b, tail);
        rtrim(&b);
        pk_buf_addc(&b, '\n');
        free(obj[i]);
        free(det[i]);
    }
    free(obj);
    free(det);
    if (n) pk_buf_addc(&b, '\n');

    for (size_t i = 0; i < p->n_notes; i++) {
        const pk_plan_note *note = &p->notes[i];
        if (note->error && color)
            pk_buf_addf(&b, "  %serror:%s %s\n", C_RED, C_RESET, note->message);
        else
            pk_buf_addf(&b, "  %s: %s\n", note->error ? "error" : "note", note->message);
    }
    if (p->n_notes) pk_buf_addc(&b, '\n');

    if (n == 0 && p->n_notes == 0) {
        pk_buf_add(&b, "No changes. Storage matches the desired state.\n");
    } else if (n == 0) {
        pk_buf_add(&b, "No changes planned; see the notes above.\n");
    } else {
        plan_counts c = count(p);
        bool first = true;
        pk_buf_add(&b, "Plan: ");
        add_count(&b, c.pool, "pool", &first);
        add_count(&b, c.create, "to create", &first);
        add_count(&b, c.resize, "to resize", &first);
        add_count(&b, c.update, "to update", &first);
        add_count(&b, c.del, "to delete", &first);
        add_count(&b, c.adopt, "to adopt", &first);
        add_count(&b, c.blocked, "blocked", &first);
        pk_buf_add(&b, ".\n");
    }
    return pk_buf_steal(&b);
}

/* ---- JSON ---- */

static void json_str_or_null(pk_buf *b, const char *s)
{
    if (s)
        pk_buf_add_json_str(b, s);
    else
        pk_buf_add(b, "null");
}

static void json_bytes(pk_buf *b, bool known, uint64_t v)
{
    if (known)
        pk_buf_addf(b, "%llu", (unsigned long long)v);
    else
        pk_buf_add(b, "null");
}

static void json_action(pk_buf *b, const pk_action *a)
{
    bool before_bytes = a->kind == PK_ACT_VOL_RESIZE || a->kind == PK_ACT_VOL_DELETE;
    bool after_bytes = a->kind == PK_ACT_VOL_CREATE || a->kind == PK_ACT_VOL_RESIZE ||
                       a->kind == PK_ACT_ADOPT;
    pk_buf_add(b, "{\"kind\": ");
    pk_buf_add_json_str(b, pk_action_kind_to_string(a->kind));
    pk_buf_add(b, ", \"pool\": ");
    json_str_or_null(b, a->pool);
    pk_buf_add(b, ", \"pool_type\": ");
    json_str_or_null(b, pk_pool_type_to_string(a->pool_type));
    pk_buf_add(b, ", \"volume\": ");
    json_str_or_null(b, a->vol);
    pk_buf_add(b, ", \"risk\": ");
    pk_buf_add_json_str(b, pk_risk_to_string(a->risk));
    pk_buf_add(b, ", \"before\": ");
    json_str_or_null(b, a->before);
    pk_buf_add(b, ", \"after\": ");
    json_str_or_null(b, a->after);
    pk_buf_add(b, ", \"before_bytes\": ");
    json_bytes(b, before_bytes, a->before_bytes);
    pk_buf_add(b, ", \"after_bytes\": ");
    json_bytes(b, after_bytes, a->after_bytes);
    pk_buf_add(b, ", \"reason\": ");
    json_str_or_null(b, a->reason);
    pk_buf_addf(b, ", \"blocked\": %s, \"blocked_reason\": ", a->blocked ? "true" : "false");
    json_str_or_null(b, a->blocked ? a->blocked_why : NULL);
    pk_buf_addf(b, ", \"drift\": %s, \"allowed_by\": ", a->drift ? "true" : "false");
    json_str_or_null(b, a->allowed_by);
    pk_buf_add(b, ", \"depends_on\": ");
    if (a->depends_on >= 0)
        pk_buf_addf(b, "%d", a->depends_on);
    else
        pk_buf_add(b, "null");
    pk_buf_addc(b, '}');
}

char *pk_plan_format_json(const pk_plan *p, const char *state)
{
    pk_buf b = PK_BUF_INIT;
    pk_buf_add(&b, "{\n  \"format_version\": 1,\n  \"desired\": {\"commit\": ");
    json_str_or_null(&b, p->commit);
    pk_buf_add(&b, ", \"ref\": ");
    json_str_or_null(&b, p->ref);
    pk_buf_addf(&b, ", \"worktree\": %s},\n  \"state\": ", p->worktree ? "true" : "false");
    json_str_or_null(&b, state);

    pk_buf_add(&b, ",\n  \"actions\": [");
    for (size_t i = 0; i < p->n_actions; i++) {
        pk_buf_add(&b, i ? ",\n    " : "\n    ");
        json_action(&b, &p->actions[i]);
    }
    pk_buf_add(&b, p->n_actions ? "\n  ],\n  \"notes\": [" : "],\n  \"notes\": [");
    for (size_t i = 0; i < p->n_notes; i++) {
        const pk_plan_note *note = &p->notes[i];
        pk_buf_add(&b, i ? ",\n    " : "\n    ");
        pk_buf_add(&b, "{\"pool\": ");
        json_str_or_null(&b, note->pool);
        pk_buf_add(&b, ", \"volume\": ");
        json_str_or_null(&b, note->vol);
        pk_buf_addf(&b, ", \"error\": %s, \"message\": ", note->error ? "true" : "false");
        json_str_or_null(&b, note->message);
        pk_buf_addc(&b, '}');
    }
    pk_buf_add(&b, p->n_notes ? "\n  ],\n" : "],\n");

    plan_counts c = count(p);
    pk_buf_addf(&b, "  \"summary\": {\"changes\": %zu, \"blocked\": %zu, \"pool\": %zu, "
                "\"create\": %zu, \"resize\": %zu, \"update\": %zu, \"delete\": %zu, "
                "\"adopt\": %zu, \"errors\": %zu}\n}\n",
                p->n_actions - c.blocked, c.blocked, c.pool, c.create, c.resize, c.update,
                c.del, c.adopt, c.errors);
    return pk_buf_steal(&b);
}
