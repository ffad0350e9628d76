/* Invariants of parse and format on arbitrary bytes; see fuzz_check.h. */
#include "fuzz_check.h"
#include "../../desired/model.h"

#define FUZZ_FILE "fuzz.xml"

/* Pools of the types whose rules differ most for volumes: file images with
 * a default format, LVM without formats, partitions, network images. */
static const char *const fixed_pool_xml[] = {
    "<pool type='dir'><name>fz-dir</name><target><path>/var/lib/fz</path></target></pool>",
    "<pool type='logical'><name>fzvg</name><source><name>fzvg</name><format type='lvm2'/></source>"
    "<target><path>/dev/fzvg</path></target></pool>",
    "<pool type='disk'><name>fz-disk</name><source><device path='/dev/sdz'/><format type='gpt'/></source>"
    "<target><path>/dev</path></target></pool>",
    "<pool type='rbd'><name>fz-rbd</name><source><name>rbd</name><host name='mon1'/></source></pool>",
};
static pk_pool *fixed_pools[PK_NELEM(fixed_pool_xml)];

static void init_pools(void)
{
    if (fixed_pools[0]) return;
    for (size_t i = 0; i < PK_NELEM(fixed_pool_xml); i++) {
        pk_err *errs = NULL;
        fixed_pools[i] = pk_pool_parse(fixed_pool_xml[i], strlen(fixed_pool_xml[i]), "fixed.xml", &errs);
        if (!fixed_pools[i]) {
            _cleanup_free_ char *s = errs ? pk_err_str(errs) : pk_strdup("no error");
            fprintf(stderr, "fuzz: fixed pool %zu does not parse: %s\n", i, s);
            abort();
        }
    }
}

void pk_fuzz_xml_cleanup(void)
{
    for (size_t i = 0; i < PK_NELEM(fixed_pools); i++) {
        pk_pool_free(fixed_pools[i]);
        fixed_pools[i] = NULL;
    }
}

/* A refusal must come with errors, each naming the file and a line. */
static char *check_errors(const char *what, bool accepted, pk_err *errs)
{
    if (accepted && errs) {
        _cleanup_free_ char *s = pk_err_str(errs);
        return pk_asprintf("%s: accepted, yet reported an error: %s", what, s);
    }
    if (!accepted && !errs) return pk_asprintf("%s: refused without any error", what);
    for (pk_err *e = errs; e; e = e->next) {
        if (!e->msg || !*e->msg) return pk_asprintf("%s: an error without a message", what);
        if (!pk_streq(e->file, FUZZ_FILE) || e->line <= 0) {
            _cleanup_free_ char *s = pk_err_str(e);
            return pk_asprintf("%s: error without its file and line: %s", what, s);
        }
    }
    return NULL;
}

static char *check_pool(const uint8_t *data, size_t len, pk_fuzz_result *res)
{
    pk_err *errs = NULL;
    pk_pool *p = pk_pool_parse((const char *)data, len, FUZZ_FILE, &errs);
    char *why = check_errors("pool", p != NULL, errs);
    pk_err_free(errs);
    if (why || !p) {
        pk_pool_free(p);
        return why;
    }
    res->pool_ok = true;
    _cleanup_free_ char *out1 = pk_pool_format(p);
    pk_pool_free(p);
    errs = NULL;
    pk_pool *p2 = pk_pool_parse(out1, strlen(out1), FUZZ_FILE, &errs);
    if (!p2) {
        _cleanup_free_ char *s = errs ? pk_err_str(errs) : pk_strdup("no error");
        pk_err_free(errs);
        return pk_asprintf("pool: formatted output does not parse again: %s\n--- output:\n%s", s, out1);
    }
    pk_err_free(errs);
    _cleanup_free_ char *out2 = pk_pool_format(p2);
    pk_pool_free(p2);
    if (!pk_streq(out1, out2))
        return pk_asprintf("pool: format is not a fixpoint\n--- first:\n%s--- second:\n%s", out1, out2);
    return NULL;
}

static char *check_vol(const pk_pool *pool, const uint8_t *data, size_t len, pk_fuzz_result *res)
{
    const char *ptype = pk_pool_type_to_string(pool->type);
    pk_err *errs = NULL;
    pk_vol *v = pk_vol_parse(pool, (const char *)data, len, FUZZ_FILE, PK_VOL_PARSE_OPT_CAPACITY, &errs);
    _cleanup_free_ char *what = pk_asprintf("volume in a '%s' pool", ptype);
    char *why = check_errors(what, v != NULL, errs);
    pk_err_free(errs);
    if (why || !v) {
        pk_vol_free(v);
        return why;
    }
    res->vols_ok++;
    _cleanup_free_ char *out1 = pk_vol_format(pool, v);
    pk_vol_free(v);
    errs = NULL;
    pk_vol *v2 = pk_vol_parse(pool, out1, strlen(out1), FUZZ_FILE, PK_VOL_PARSE_OPT_CAPACITY, &errs);
    if (!v2) {
        _cleanup_free_ char *s = errs ? pk_err_str(errs) : pk_strdup("no error");
        pk_err_free(errs);
        return pk_asprintf("%s: formatted output does not parse again: %s\n--- output:\n%s", what, s, out1);
    }
    pk_err_free(errs);
    _cleanup_free_ char *out2 = pk_vol_format(pool, v2);
    pk_vol_free(v2);
    if (!pk_streq(out1, out2))
        return pk_asprintf("%s: format is not a fixpoint\n--- first:\n%s--- second:\n%s", what, out1, out2);
    return NULL;
}

char *pk_fuzz_xml_check(const uint8_t *data, size_t len, pk_fuzz_result *res)
{
    pk_fuzz_result ignored;
    if (!res) res = &ignored;
    memset(res, 0, sizeof(*res));
    init_pools();
    char *why = check_pool(data, len, res);
    for (size_t i = 0; !why && i < PK_NELEM(fixed_pools); i++)
        why = check_vol(fixed_pools[i], data, len, res);
    return why;
}
