/* The configuration schema: one table of keys that the YAML reader, the
 * POOLKEEPER_* variables, the flags and `config show` all go through, so a
 * key is typed, checked and named the same way wherever its value comes from. */
#pragma once
#include "config.h"

typedef enum {
    PK_CT_STRING,       /* any non-empty text */
    PK_CT_PATH,         /* a file name; relative ones are taken from the config file's directory */
    PK_CT_REMOTE,       /* file://, http(s)://, ssh:// URL or user@host:path */
    PK_CT_SUBDIR,       /* relative path inside the repository, may hold %H */
    PK_CT_LISTEN,       /* HOST:PORT */
    PK_CT_BOOL,
    PK_CT_DURATION,     /* int64_t milliseconds */
    PK_CT_PERCENT,      /* int */
    PK_CT_INT,          /* int */
    PK_CT_ENUM,         /* int-sized enum */
    PK_CT_NOTIFY,       /* the notify list: only the YAML reader fills it */
} pk_config_type;

typedef struct {
    const char *name;           /* dotted path in the file: "policy.prune" */
    const char *env;            /* POOLKEEPER_* variable, or NULL */
    const char *flag;           /* command-line flag that sets it, or NULL */
    pk_config_type type;
    size_t offset;              /* of the field in pk_settings */
    int64_t min, max;           /* bounds of INT, PERCENT, DURATION (ms) */
    int (*from_string)(const char *s);      /* ENUM */
    const char *(*to_string)(int v);        /* ENUM */
    const char *choices;        /* ENUM: "'correct' or 'report'", for messages */
    const char *unset;          /* what an unset (NULL) string means, for `config show` */
    bool cli_only;              /* environment or flag only, not a file key */
} pk_config_key;

extern const pk_config_key pk_config_keys[];
extern const size_t pk_config_nkeys;

const pk_config_key *pk_config_key_find(const char *name);
/* "desired", "policy", ...: names that hold a mapping of keys. */
bool pk_config_is_section(const char *name);
/* The closest known file key or section to an unknown one, for "did you
 * mean", or NULL. The caller frees it. */
char *pk_config_suggest(const char *name);

/* Parse `text` as key k's type and store it in s. base_dir (or NULL) anchors
 * relative PATH values. On failure returns -1 and sets *why to the rest of a
 * sentence whose subject is the key ("must be true or false, not 'maybe'"). */
int pk_config_set(const pk_config_key *k, pk_settings *s, const char *text,
                  const char *base_dir, char **why);
/* Record where k's value came from (no-op when s->origins is NULL). */
void pk_config_note_origin(pk_settings *s, const pk_config_key *k, pk_config_source from,
                           int line);
/* The YAML 1.1 booleans: true/false, yes/no, on/off, y/n. */
int pk_config_parse_bool(const char *s, bool *out);
/* One notify event name ("applied", ...), or -1. */
int pk_config_event_index(const char *s);
extern const char *const pk_config_events[];
extern const char pk_config_events_choices[];
