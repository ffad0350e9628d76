/* poolkeeper.yaml through libyaml's document API. The whole document is
 * walked even after a mistake, so one `config check` reports every problem,
 * each at the FILE:LINE:COL (1-based) of the offending key or value. */
#include "config_priv.h"
#include <errno.h>
#include <fcntl.h>
#include <yaml.h>

/* A configuration is a page of keys; anything this large is not one. */
#define MAX_CONFIG_BYTES (1024 * 1024)

typedef struct {
    const char *file;
    char *base_dir;             /* anchors relative paths; NULL = as given */
    yaml_document_t *doc;
    pk_settings *s;
    pk_err *errs;
    const char *desired_seen;   /* "desired.path" or "desired.remote", once seen */
} ctx;

static void PK_PRINTF(3, 4) fail_at(ctx *c, yaml_mark_t m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pk_err *e = pk_err_newv(c->file, (int)m.line + 1, 0, fmt, ap);
    va_end(ap);
    e->col = (int)m.column + 1;
    pk_err_append(&c->errs, e);
}

static yaml_node_t *node(ctx *c, int index)
{
    return yaml_document_get_node(c->doc, index);
}

static const char *text_of(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static bool is_null(const yaml_node_t *n)
{
    static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    for (size_t i = 0; i < PK_NELEM(nulls); i++)
        if (pk_streq(text_of(n), nulls[i])) return true;
    return false;
}

/* What a node is, for "must be X, not Y". */
static char *describe(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE: return pk_strdup("a mapping");
    case YAML_SEQUENCE_NODE: return pk_strdup("a list");
    case YAML_SCALAR_NODE:
        if (is_null(n)) return pk_strdup("empty");
        return pk_asprintf("'%s'", text_of(n));
    default: return pk_strdup("nothing");
    }
}

static const char *type_noun(const pk_config_key *k)
{
    switch (k->type) {
    case PK_CT_STRING: return "a string";
    case PK_CT_PATH: return "a path";
    case PK_CT_REMOTE: return "a URL";
    case PK_CT_SUBDIR: return "a relative path";
    case PK_CT_LISTEN: return "HOST:PORT";
    case PK_CT_BOOL: return "true or false";
    case PK_CT_DURATION: return "a duration";
    case PK_CT_PERCENT: return "a percentage";
    case PK_CT_INT: return "an integer";
    case PK_CT_ENUM: return k->choices;
    case PK_CT_NOTIFY: return "a list";
    }
    return "a value";
}

/* The text of a scalar value for key `name`, or NULL after reporting why
 * there is none. */
static const char *scalar_value(ctx *c, const char *name, const char *noun, const yaml_node_t *v)
{
    if (v->type != YAML_SCALAR_NODE) {
        _cleanup_free_ char *what = describe(v);
        fail_at(c, v->start_mark, "'%s' must be %s, not %s", name, noun, what);
        return NULL;
    }
    if (is_null(v)) {
        fail_at(c, v->start_mark, "'%s' has no value", name);
        return NULL;
    }
    if (strlen(text_of(v)) != v->data.scalar.length) {
        fail_at(c, v->start_mark, "'%s' contains a NUL character", name);
        return NULL;
    }
    return text_of(v);
}

/* The next usable pair of a mapping: its full key name (prefix.key) and
 * nodes. Non-scalar and repeated keys are reported and skipped. */
static bool next_pair(ctx *c, const yaml_node_t *map, yaml_node_pair_t *p, const char *prefix,
                      char **name, yaml_node_t **key, yaml_node_t **val)
{
    *key = node(c, p->key);
    *val = node(c, p->value);
    if ((*key)->type != YAML_SCALAR_NODE) {
        _cleanup_free_ char *what = describe(*key);
        fail_at(c, (*key)->start_mark, "a key must be a name, not %s", what);
        return false;
    }
    *name = prefix ? pk_asprintf("%s.%s", prefix, text_of(*key)) : pk_strdup(text_of(*key));
    for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
        yaml_node_t *other = node(c, q->key);
        if (other->type == YAML_SCALAR_NODE &&
            other->data.scalar.length == (*key)->data.scalar.length &&
            memcmp(other->data.scalar.value, (*key)->data.scalar.value,
                   (*key)->data.scalar.length) == 0) {
            fail_at(c, (*key)->start_mark, "duplicate key '%s' (first at line %d, column %d)",
                    *name, (int)other->start_mark.line + 1, (int)other->start_mark.column + 1);
            free(*name);
            *name = NULL;
            return false;
        }
    }
    return true;
}

static char *resolve_path(ctx *c, const char *text)
{
    if (c->base_dir && text[0] != '/') return pk_asprintf("%s/%s", c->base_dir, text);
    return pk_strdup(text);
}

static char **parse_events(ctx *c, const char *name, const yaml_node_t *v)
{
    if (v->type != YAML_SEQUENCE_NODE) {
        _cleanup_free_ char *what = describe(v);
        fail_at(c, v->start_mark, "'%s' must be a list of %s, not %s", name,
                pk_config_events_choices, what);
        return NULL;
    }
    if (v->data.sequence.items.start == v->data.sequence.items.top) {
        fail_at(c, v->start_mark, "'%s' is empty: leave it out to send every event", name);
        return NULL;
    }
    char **events = NULL;
    bool seen[8] = { false };
    bool ok = true;
    size_t i = 0;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++, i++) {
        const yaml_node_t *e = node(c, *it);
        _cleanup_free_ char *ename = pk_asprintf("%s[%zu]", name, i);
        const char *text = scalar_value(c, ename, pk_config_events_choices, e);
        if (!text) {
            ok = false;
            continue;
        }
        int idx = pk_config_event_index(text);
        if (idx < 0) {
            fail_at(c, e->start_mark, "'%s' must be %s, not '%s'", ename, pk_config_events_choices, text);
            ok = false;
        } else if (seen[idx]) {
            fail_at(c, e->start_mark, "'%s' lists '%s' twice", name, text);
            ok = false;
        } else {
            seen[idx] = true;
            pk_strv_push(&events, text);
        }
    }
    if (!ok) {
        pk_strv_free(events);
        return NULL;
    }
    return events;
}

static void notify_target_clear(pk_notify_target *t)
{
    free(t->url);
    free(t->secret_file);
    pk_strv_free(t->events);
}

/* One notify target: { url, secret_file, events }. false if it is wrong. */
static bool parse_target(ctx *c, const yaml_node_t *item, const char *prefix, pk_notify_target *t)
{
    static const char *const keys[] = { "url", "secret_file", "events" };
    bool ok = true, has_url = false;
    for (yaml_node_pair_t *p = item->data.mapping.pairs.start; p < item->data.mapping.pairs.top; p++) {
        _cleanup_free_ char *name = NULL;
        yaml_node_t *key, *val;
        if (!next_pair(c, item, p, prefix, &name, &key, &val)) {
            ok = false;
            continue;
        }
        const char *leaf = text_of(key);
        const char *text;
        if (pk_streq(leaf, "url")) {
            has_url = true;
            if (!(text = scalar_value(c, name, "a URL", val))) {
                ok = false;
            } else if (!((pk_str_has_prefix(text, "http://") && text[7]) ||
                         (pk_str_has_prefix(text, "https://") && text[8]))) {
                _cleanup_free_ char *shown = pk_redact_url(text);
                fail_at(c, val->start_mark, "'%s' must be an http:// or https:// URL, not '%s'",
                        name, shown);
                ok = false;
            } else {
                t->url = pk_strdup(text);
            }
        } else if (pk_streq(leaf, "secret_file")) {
            if (!(text = scalar_value(c, name, "a path", val))) {
                ok = false;
            } else if (!*text) {
                fail_at(c, val->start_mark, "'%s' must not be empty", name);
                ok = false;
            } else {
                t->secret_file = resolve_path(c, text);
            }
        } else if (pk_streq(leaf, "events")) {
            if (!(t->events = parse_events(c, name, val))) ok = false;
        } else {
            const char *hint = NULL;
            for (size_t k = 0; k < PK_NELEM(keys); k++)
                if (strncmp(leaf, keys[k], 3) == 0) hint = keys[k];
            if (hint)
                fail_at(c, key->start_mark, "unknown key '%s' (did you mean '%s.%s'?)", name, prefix, hint);
            else
                fail_at(c, key->start_mark, "unknown key '%s' (a notify target has url, secret_file and events)",
                        name);
            ok = false;
        }
    }
    if (!has_url) {
        fail_at(c, item->start_mark, "'%s' needs a 'url'", prefix);
        ok = false;
    }
    return ok;
}

static void parse_notify(ctx *c, const pk_config_key *k, const yaml_node_t *key, const yaml_node_t *v)
{
    pk_notify_target *list = NULL;
    size_t n = 0;
    bool ok = true;
    if (v->type == YAML_SEQUENCE_NODE) {
        size_t i = 0;
        for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++, i++) {
            const yaml_node_t *item = node(c, *it);
            _cleanup_free_ char *prefix = pk_asprintf("notify[%zu]", i);
            if (item->type != YAML_MAPPING_NODE) {
                _cleanup_free_ char *what = describe(item);
                fail_at(c, item->start_mark, "'%s' must be a mapping with a 'url', not %s", prefix, what);
                ok = false;
                continue;
            }
            pk_notify_target t = { 0 };
            if (parse_target(c, item, prefix, &t))
                *PK_APPEND(list, n) = t;
            else {
                notify_target_clear(&t);
                ok = false;
            }
        }
    } else if (!is_null(v)) {
        _cleanup_free_ char *what = describe(v);
        fail_at(c, v->start_mark, "'notify' must be a list of targets, not %s", what);
        ok = false;
    }
    if (!ok) {
        for (size_t i = 0; i < n; i++) notify_target_clear(&list[i]);
        free(list);
        return;
    }
    for (size_t i = 0; i < c->s->n_notify; i++) notify_target_clear(&c->s->notify[i]);
    free(c->s->notify);
    c->s->notify = list;
    c->s->n_notify = n;
    pk_config_note_origin(c->s, k, PK_SRC_FILE, (int)key->start_mark.line + 1);
}

static void walk_map(ctx *c, const yaml_node_t *map, const char *prefix);

static void parse_key(ctx *c, const char *name, const yaml_node_t *key, const yaml_node_t *val)
{
    if (pk_config_is_section(name)) {
        if (val->type == YAML_MAPPING_NODE) {
            walk_map(c, val, name);
        } else if (!is_null(val)) {   /* a section whose keys are all commented out */
            _cleanup_free_ char *what = describe(val);
            fail_at(c, val->start_mark, "'%s' must be a mapping, not %s", name, what);
        }
        return;
    }
    const pk_config_key *k = pk_config_key_find(name);
    if (k && k->cli_only) {
        fail_at(c, key->start_mark, "'%s' is not a configuration file key: use %s or %s",
                name, k->flag, k->env);
        return;
    }
    if (!k) {
        _cleanup_free_ char *hint = pk_config_suggest(name);
        if (hint)
            fail_at(c, key->start_mark, "unknown key '%s' (did you mean '%s'?)", name, hint);
        else
            fail_at(c, key->start_mark, "unknown key '%s'", name);
        return;
    }
    if (pk_streq(name, "desired.path") || pk_streq(name, "desired.remote")) {
        if (c->desired_seen && !pk_streq(c->desired_seen, name)) {
            fail_at(c, key->start_mark, "'desired.path' and 'desired.remote' are mutually exclusive");
            return;
        }
        c->desired_seen = k->name;
    }
    if (k->type == PK_CT_NOTIFY) {
        parse_notify(c, k, key, val);
        return;
    }
    const char *text = scalar_value(c, name, type_noun(k), val);
    if (!text) return;
    _cleanup_free_ char *why = NULL;
    if (pk_config_set(k, c->s, text, c->base_dir, &why) < 0) {
        fail_at(c, val->start_mark, "'%s' %s", name, why);
        return;
    }
    pk_config_note_origin(c->s, k, PK_SRC_FILE, (int)key->start_mark.line + 1);
}

static void walk_map(ctx *c, const yaml_node_t *map, const char *prefix)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        _cleanup_free_ char *name = NULL;
        yaml_node_t *key, *val;
        if (next_pair(c, map, p, prefix, &name, &key, &val))
            parse_key(c, name, key, val);
    }
}

/* libyaml stops at the first syntax error: report it where it is. */
static void syntax_error(ctx *c, const yaml_parser_t *p, const char *text)
{
    yaml_mark_t m = p->problem_mark;
    if (p->error == YAML_READER_ERROR) {
        /* Encoding errors only know a byte offset. */
        m = (yaml_mark_t){ 0 };
        for (size_t i = 0; i < p->problem_offset && text[i]; i++) {
            if (text[i] == '\n') {
                m.line++;
                m.column = 0;
            } else {
                m.column++;
            }
        }
    }
    const char *problem = p->problem ? p->problem : "cannot be parsed";
    if (p->context)
        fail_at(c, m, "invalid YAML: %s (%s at line %d, column %d)", problem, p->context,
                (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
    else
        fail_at(c, m, "invalid YAML: %s", problem);
}

typedef struct {
    pk_err *e;
    size_t order;
} ranked_err;

static int cmp_position(const void *a, const void *b)
{
    const ranked_err *x = a, *y = b;
    if (x->e->line != y->e->line) return x->e->line < y->e->line ? -1 : 1;
    if (x->e->col != y->e->col) return x->e->col < y->e->col ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Errors in the order of the file, as an editor walks them; a check found
 * after its object (a missing 'url') would otherwise come late. */
static pk_err *sort_by_position(pk_err *list)
{
    size_t n = pk_err_count(list);
    if (n < 2) return list;
    ranked_err *v = pk_calloc(n, sizeof(*v));
    size_t i = 0;
    for (pk_err *e = list; e; e = e->next, i++) v[i] = (ranked_err){ e, i };
    qsort(v, n, sizeof(*v), cmp_position);
    for (i = 0; i + 1 < n; i++) v[i].e->next = v[i + 1].e;
    v[n - 1].e->next = NULL;
    pk_err *head = v[0].e;
    free(v);
    return head;
}

static char *read_config(const char *path, size_t *len, pk_err **err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        pk_err_append(err, pk_err_new(path, 0, errno, "cannot open the configuration file"));
        return NULL;
    }
    pk_buf b = PK_BUF_INIT;
    pk_buf_add(&b, "");
    char chunk[8192];
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            pk_err_append(err, pk_err_new(path, 0, errno, "cannot read the configuration file"));
            pk_buf_free(&b);
            return NULL;
        }
        if (r == 0) break;
        pk_buf_addn(&b, chunk, (size_t)r);
        if (b.len > MAX_CONFIG_BYTES) {
            pk_err_append(err, pk_err_new(path, 0, 0, "the configuration file is larger than %d bytes",
                                          MAX_CONFIG_BYTES));
            pk_buf_free(&b);
            return NULL;
        }
    }
    *len = b.len;
    return pk_buf_steal(&b);
}

int pk_config_parse_file(const char *path, pk_settings *s, pk_err **errs)
{
    size_t len = 0;
    _cleanup_free_ char *text = read_config(path, &len, errs);
    if (!text) return -1;
    ctx c = { .file = path, .s = s };
    const char *slash = strrchr(path, '/');
    if (slash) c.base_dir = slash == path ? pk_strdup("/") : pk_strndup(path, (size_t)(slash - path));

    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) abort();
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    yaml_document_t doc;
    if (!yaml_parser_load(&parser, &doc)) {
        syntax_error(&c, &parser, text);
    } else {
        c.doc = &doc;
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (root && root->type == YAML_MAPPING_NODE) {
            walk_map(&c, root, NULL);
        } else if (root && !is_null(root)) {
            _cleanup_free_ char *what = describe(root);
            fail_at(&c, root->start_mark, "the configuration must be a mapping of keys, not %s", what);
        }
        yaml_document_t next;
        if (root && !yaml_parser_load(&parser, &next)) {
            syntax_error(&c, &parser, text);
        } else if (root) {
            yaml_node_t *next_root = yaml_document_get_root_node(&next);
            if (next_root)
                fail_at(&c, next.start_mark, "a configuration file holds one YAML document; a second one starts here");
            yaml_document_delete(&next);
        }
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    free(c.base_dir);

    free(s->config_file);
    s->config_file = pk_strdup(path);
    if (!c.errs) return 0;
    pk_err_append(errs, sort_by_position(c.errs));
    return -1;
}
