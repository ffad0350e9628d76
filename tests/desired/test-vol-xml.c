/* Volume XML: libvirt's storagevolxml2xml cases byte for byte, the fixpoint
 * format(parse(out)) == out, RelaxNG validity of everything we write (xmllint
 * with libvirt's storagevol.rng), every vol/in file of libvirt's argv suite,
 * and invalid documents with their exact located error messages. */
#include "../tap.h"
#include "../../desired/model.h"
#include "../../desired/xml.h"

static char *tmp_dir;
static int n_written;

static char *data_path(const char *rel)
{
    return pk_asprintf("%s/data/libvirt/%s", tap_data_dir(), rel);
}

static char *slurp(const char *path)
{
    char *data = NULL;
    size_t len = 0;
    pk_err *e = NULL;
    if (pk_xml_slurp(path, &data, &len, &e) < 0) {
        _cleanup_free_ char *m = pk_err_str(e);
        tap_diag("%s", m);
        pk_err_free(e);
        return NULL;
    }
    return data;
}

static char *errs_text(const pk_err *errs)
{
    pk_buf b = PK_BUF_INIT;
    for (const pk_err *e = errs; e; e = e->next) {
        _cleanup_free_ char *s = pk_err_str(e);
        if (b.len) pk_buf_addc(&b, '\n');
        pk_buf_add(&b, s);
    }
    return pk_buf_steal(&b);
}

static pk_pool *pool_from_file(const char *rel)
{
    _cleanup_free_ char *path = data_path(rel);
    pk_err *errs = NULL;
    pk_pool *p = pk_pool_parse_file(path, &errs);
    if (!p) {
        _cleanup_free_ char *m = errs_text(errs);
        tap_diag("pool %s does not parse: %s", rel, m);
    }
    pk_err_free(errs);
    return p;
}

static pk_vol *vol_from_file(const pk_pool *pool, const char *rel, unsigned flags, char **err_text)
{
    _cleanup_free_ char *path = data_path(rel);
    pk_err *errs = NULL;
    pk_vol *v = pk_vol_parse_file(pool, path, flags, &errs);
    if (err_text) *err_text = errs ? errs_text(errs) : NULL;
    else if (!v) {
        _cleanup_free_ char *m = errs_text(errs);
        tap_diag("%s", m);
    }
    pk_err_free(errs);
    return v;
}

/* xmllint --relaxng storagevol.rng on the text, through a temporary file. */
static bool rng_check(const char *xml)
{
    _cleanup_free_ char *file = pk_asprintf("%s/out-%d.xml", tmp_dir, n_written++);
    FILE *f = fopen(file, "w");
    if (!f || fputs(xml, f) < 0 || fclose(f) != 0) tap_bail("cannot write %s", file);
    _cleanup_free_ char *rng = data_path("rng/storagevol.rng");
    char *argv[] = { "xmllint", "--noout", "--relaxng", rng, file, NULL };
    _cleanup_free_ char *out = NULL;
    return tap_run(argv, &out) == 0;
}

static bool rng_valid(const char *xml, const char *what)
{
    return tap_ok(rng_check(xml), "%s: output validates with storagevol.rng", what);
}

/* "parse-flags=..." of a MANIFEST flags column. */
static unsigned manifest_parse_flags(const char *flags, bool *ok)
{
    const char *p = strstr(flags, "parse-flags=");
    *ok = true;
    if (!p) return 0;
    p += strlen("parse-flags=");
    if (pk_str_has_prefix(p, "0")) return 0;
    if (pk_str_has_prefix(p, "VIR_VOL_XML_PARSE_NO_CAPACITY") || pk_str_has_prefix(p, "NO_CAPACITY"))
        return PK_VOL_PARSE_NO_CAPACITY;
    if (pk_str_has_prefix(p, "VIR_VOL_XML_PARSE_OPT_CAPACITY")) return PK_VOL_PARSE_OPT_CAPACITY;
    *ok = false;
    return 0;
}

/* The value of "key=" in a ';'-separated flags column, or NULL. */
static char *manifest_value(const char *flags, const char *key)
{
    _cleanup_free_ char *k = pk_asprintf("%s=", key);
    const char *p = strstr(flags, k);
    if (!p) return NULL;
    p += strlen(k);
    return pk_strndup(p, strcspn(p, ";"));
}

typedef struct {
    char *kind, *name, *input, *expected, *pool, *flags;
} manifest_row;

static manifest_row *read_manifest(size_t *n)
{
    _cleanup_free_ char *path = data_path("vol-MANIFEST.tsv");
    _cleanup_free_ char *text = slurp(path);
    if (!text) tap_bail("cannot read %s", path);
    manifest_row *rows = NULL;
    *n = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#') continue;
        char *col[7] = { 0 };
        int k = 0;
        for (char *c = line; k < 7 && c; k++) {
            col[k] = c;
            c = strchr(c, '\t');
            if (c) *c++ = '\0';
        }
        if (k < 6) tap_bail("short MANIFEST row: %s", line);
        manifest_row *r = PK_APPEND(rows, *n);
        r->kind = pk_strdup(col[0]);
        r->name = pk_strdup(col[1]);
        r->input = pk_strdup(col[2]);
        r->expected = pk_strdup(col[3]);
        r->pool = pk_strdup(col[4]);
        r->flags = pk_strdup(col[5]);
    }
    return rows;
}

static void free_manifest(manifest_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rows[i].kind);
        free(rows[i].name);
        free(rows[i].input);
        free(rows[i].expected);
        free(rows[i].pool);
        free(rows[i].flags);
    }
    free(rows);
}

/* storagevolxml2xmltest: parse pool/in + vol/in, format, compare with vol/out. */
static void test_xml2xml(const manifest_row *r)
{
    bool flags_ok;
    unsigned flags = manifest_parse_flags(r->flags, &flags_ok);
    if (!tap_ok(flags_ok, "%s: parse flags understood (%s)", r->name, r->flags)) return;
    _cleanup_(pk_pool_freep) pk_pool *pool = pool_from_file(r->pool);
    if (!tap_ok(pool != NULL, "%s: pool %s parses", r->name, r->pool)) return;

    _cleanup_(pk_vol_freep) pk_vol *v = vol_from_file(pool, r->input, flags, NULL);
    if (!tap_ok(v != NULL, "%s: %s parses", r->name, r->input)) return;
    _cleanup_free_ char *out = pk_vol_format(pool, v);
    _cleanup_free_ char *exp_path = data_path(r->expected);
    _cleanup_free_ char *expected = slurp(exp_path);
    tap_is_str(out, expected, "%s: format(parse(in)) is byte-identical to %s", r->name, r->expected);

    /* fixpoint: libvirt's own output reads back to itself */
    _cleanup_(pk_vol_freep) pk_vol *v2 = vol_from_file(pool, r->expected, flags, NULL);
    if (tap_ok(v2 != NULL, "%s: %s parses", r->name, r->expected)) {
        _cleanup_free_ char *out2 = pk_vol_format(pool, v2);
        tap_is_str(out2, expected, "%s: format(parse(out)) == out", r->name);
    }
    if (out) rng_valid(out, r->name);
}

/* storagevolxml2argvtest inputs: each volume (and input volume) parses against
 * its pool with the flags that test uses; what we write for it is valid. */
static void test_argv_inputs(const manifest_row *r)
{
    bool flags_ok;
    unsigned flags = manifest_parse_flags(r->flags, &flags_ok);
    if (!tap_ok(flags_ok, "argv %s: parse flags understood", r->name)) return;
    _cleanup_(pk_pool_freep) pk_pool *pool = pool_from_file(r->pool);
    if (!tap_ok(pool != NULL, "argv %s: pool %s parses", r->name, r->pool)) return;
    _cleanup_(pk_vol_freep) pk_vol *v = vol_from_file(pool, r->input, flags, NULL);
    if (tap_ok(v != NULL, "argv %s: %s parses", r->name, r->input)) {
        _cleanup_free_ char *out = pk_vol_format(pool, v);
        _cleanup_free_ char *what = pk_asprintf("argv %s (%s)", r->name, r->input);
        rng_valid(out, what);
    }

    _cleanup_free_ char *in_pool = manifest_value(r->flags, "input-pool");
    _cleanup_free_ char *in_vol = manifest_value(r->flags, "input-vol");
    if (!in_vol) return;
    _cleanup_(pk_pool_freep) pk_pool *ipool = pool_from_file(in_pool);
    if (!tap_ok(ipool != NULL, "argv %s: input pool %s parses", r->name, in_pool)) return;
    /* the test driver reads the input volume with flags 0 */
    _cleanup_(pk_vol_freep) pk_vol *iv = vol_from_file(ipool, in_vol, 0, NULL);
    tap_ok(iv != NULL, "argv %s: input volume %s parses", r->name, in_vol);
}

static void test_manifest(void)
{
    size_t n = 0, n_vol = 0, n_argv = 0;
    manifest_row *rows = read_manifest(&n);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(rows[i].kind, "vol") == 0) {
            n_vol++;
            test_xml2xml(&rows[i]);
        } else if (strcmp(rows[i].kind, "vol-argv") == 0) {
            n_argv++;
            test_argv_inputs(&rows[i]);
        }
    }
    tap_is_int((long long)n_vol, 20, "all 20 libvirt storagevolxml2xml cases ran");
    tap_is_int((long long)n_argv, 27, "all 27 libvirt storagevolxml2argv cases ran");
    free_manifest(rows, n);
}

/* Cases libvirt's suite does not run, and what libvirt does with them. */
static void test_documented_exceptions(void)
{
    _cleanup_(pk_pool_freep) pk_pool *dir = pool_from_file("pool/in/pool-dir.xml");
    if (!tap_ok(dir != NULL, "pool-dir parses")) return;

    /* libvirt: virStorageVolDefParseXML reports "missing capacity element"
     * unless VIR_VOL_XML_PARSE_NO_CAPACITY is given (CHECKS.md: virsh vol-create
     * refuses vol-qcow2-nocapacity for that reason). */
    char *err = NULL;
    pk_vol *v = vol_from_file(dir, "vol/in/vol-qcow2-nocapacity.xml", 0, &err);
    _cleanup_free_ char *path = data_path("vol/in/vol-qcow2-nocapacity.xml");
    _cleanup_free_ char *want = pk_asprintf("%s:1: error: missing capacity element", path);
    tap_ok(v == NULL, "vol-qcow2-nocapacity without NO_CAPACITY fails, as in libvirt");
    tap_is_str(err, want, "... with libvirt's reason");
    free(err);
    pk_vol_free(v);

    /* OPT_CAPACITY (what storageVolCreateXML uses) needs a backing store */
    err = NULL;
    v = vol_from_file(dir, "vol/in/vol-qcow2-nocapacity.xml", PK_VOL_PARSE_OPT_CAPACITY, &err);
    tap_ok(v == NULL && err && strstr(err, "missing capacity element"),
           "vol-qcow2-nocapacity with OPT_CAPACITY and no backing store fails");
    free(err);
    pk_vol_free(v);
    v = vol_from_file(dir, "vol/in/vol-qcow2-nocapacity-backing.xml", PK_VOL_PARSE_OPT_CAPACITY, NULL);
    tap_ok(v && !v->has_capacity && v->capacity == 0 && v->backing,
           "vol-qcow2-nocapacity-backing with OPT_CAPACITY parses, capacity taken from the backing store");
    pk_vol_free(v);

    /* vol/out/vol-qcow2-nocow.xml is used by no libvirt driver: it predates the
     * formatter dropping an empty <source>. libvirt never writes <nocow/> either,
     * so our output is that file without the empty <source> element. */
    v = vol_from_file(dir, "vol/in/vol-qcow2-nocow.xml", 0, NULL);
    if (tap_ok(v != NULL, "vol-qcow2-nocow parses")) {
        tap_ok(v->target.nocow, "vol-qcow2-nocow: <nocow/> is read");
        _cleanup_free_ char *out = pk_vol_format(dir, v);
        _cleanup_free_ char *opath = data_path("vol/out/vol-qcow2-nocow.xml");
        _cleanup_free_ char *stale = slurp(opath);
        const char *empty_source = "  <source>\n  </source>\n";
        char *at = stale ? strstr(stale, empty_source) : NULL;
        if (at) memmove(at, at + strlen(empty_source), strlen(at + strlen(empty_source)) + 1);
        tap_ok(at != NULL, "vol-qcow2-nocow.xml (stale) has the empty <source>");
        tap_is_str(out, stale, "vol-qcow2-nocow: identical to the stale file minus the empty <source>");
    }
    pk_vol_free(v);
}

/* ---------- inline documents ---------- */

static const char *const pool_docs[] = {
    "<pool type='dir'><name>p</name><target><path>/var/lib/p</path></target></pool>",
    "<pool type='disk'><name>sda</name><source><device path='/dev/sda'/></source>"
    "<target><path>/dev</path></target></pool>",
    "<pool type='logical'><name>vg</name><source><name>vg</name></source></pool>",
    "<pool type='gluster'><name>g</name><source><host name='h'/><dir path='/'/><name>vol</name></source></pool>",
    "<pool type='iscsi'><name>i</name><source><host name='h'/><device path='iqn.2024-01.x:t'/></source>"
    "<target><path>/dev/disk/by-path</path></target></pool>",
};
enum { DIR_POOL, DISK_POOL, LOGICAL_POOL, GLUSTER_POOL, ISCSI_POOL, N_POOLS };
static pk_pool *pools[N_POOLS];

static void load_inline_pools(void)
{
    for (int i = 0; i < N_POOLS; i++) {
        pk_err *errs = NULL;
        pools[i] = pk_pool_parse(pool_docs[i], strlen(pool_docs[i]), "pools/p.xml", &errs);
        if (!pools[i]) {
            _cleanup_free_ char *m = errs_text(errs);
            tap_bail("inline pool %d does not parse: %s", i, m);
        }
        pk_err_free(errs);
    }
}

typedef struct {
    int pool;
    unsigned flags;
    const char *xml;
    const char *errors;   /* every error, one per line */
} bad_case;

#define F "pools/p/v.xml"
static const bad_case bad[] = {
    { DIR_POOL, 0, "<pool type='dir'/>\n",
      F ":1: error: expecting root element of 'volume', found 'pool'" },
    { DIR_POOL, 0, "<volume>\n  <capacity>1</capacity>\n</volume>\n",
      F ":1: error: missing volume name element" },
    { DIR_POOL, 0, "<volume>\n  <name>a/b</name>\n  <capacity>1</capacity>\n</volume>\n",
      F ":2: error: <name>: invalid volume name 'a/b': it must be a single path component of printable "
        "characters, at most 255 bytes, not '.' or '..'" },
    { DIR_POOL, 0, "<volume>\n  <name>..</name>\n  <capacity>1</capacity>\n</volume>\n",
      F ":2: error: <name>: invalid volume name '..': it must be a single path component of printable "
        "characters, at most 255 bytes, not '.' or '..'" },
    { DIR_POOL, 0, "<volume>\n  <name></name>\n  <capacity>1</capacity>\n</volume>\n",
      F ":2: error: <name>: the volume name is empty" },
    { DIR_POOL, 0, "<volume type='blob'>\n  <name>v</name>\n  <capacity>1</capacity>\n</volume>\n",
      F ":1: error: unknown volume type 'blob'" },
    /* design §2, beyond libvirt: the volume type must be one the pool type holds */
    { DIR_POOL, 0, "<volume type='block'>\n  <name>v</name>\n  <capacity>1</capacity>\n</volume>\n",
      F ":1: error: <volume type='block'>: a 'dir' pool cannot hold volumes of type 'block' "
        "(only 'file', 'dir' or 'ploop')" },
    { LOGICAL_POOL, 0, "<volume type='file'>\n  <name>lv</name>\n  <capacity>1</capacity>\n</volume>\n",
      F ":1: error: <volume type='file'>: a 'logical' pool cannot hold volumes of type 'file' (only 'block')" },
    { GLUSTER_POOL, 0, "<volume type='dir'>\n  <name>d</name>\n  <capacity>1</capacity>\n</volume>\n",
      F ":1: error: <volume type='dir'>: a 'gluster' pool cannot hold volumes of type 'dir' "
        "(only 'network' or 'netdir')" },
    { DIR_POOL, 0, "<volume>\n  <name>v</name>\n</volume>\n",
      F ":1: error: missing capacity element" },
    { DIR_POOL, PK_VOL_PARSE_OPT_CAPACITY, "<volume>\n  <name>v</name>\n</volume>\n",
      F ":1: error: missing capacity element (needed unless a <backingStore> gives the size)" },
    { DIR_POOL, 0, "<volume>\n  <name>v</name>\n  <capacity/>\n</volume>\n",
      F ":3: error: <capacity>: missing value" },
    { DIR_POOL, 0, "<volume>\n  <name>v</name>\n\n  <capacity unit='X'>5</capacity>\n</volume>\n",
      F ":4: error: <capacity unit='X'>: unknown unit 'X'" },
    { DIR_POOL, 0, "<volume>\n  <name>v</name>\n  <capacity>-1</capacity>\n</volume>\n",
      F ":3: error: <capacity>: negative value '-1' is not allowed" },
    { DIR_POOL, 0, "<volume>\n  <name>v</name>\n  <capacity unit='GiB'>1.5</capacity>\n</volume>\n",
      F ":3: error: <capacity unit='GiB'>: malformed value '1.5': expected a non-negative integer" },
    /* libvirt reads the raw text: a pretty-printed number has a trailing newline */
    { DIR_POOL, 0, "<volume>\n  <name>v</name>\n  <capacity>\n    5\n  </capacity>\n</volume>\n",
      F ":3: error: <capacity>: malformed value '\n    5\n  ': expected a non-negative integer" },
    { DIR_POOL, 0, "<volume>\n  <name>v</name>\n  <capacity unit='EiB'>8</capacity>\n</volume>\n",
      F ":3: error: <capacity unit='EiB'>: value '8' in unit 'EiB' is too large (at most 9223372036854775807 bytes)" },
    { DIR_POOL, 0,
      "<volume>\n  <name>v</name>\n  <capacity>1</capacity>\n"
      "  <allocation>9223372036854775808</allocation>\n</volume>\n",
      F ":4: error: <allocation>: value '9223372036854775808' is too large (at most 9223372036854775807 bytes)" },
    { DIR_POOL, 0,
      "<volume>\n  <name>v</name>\n  <capacity>1</capacity>\n"
      "  <target>\n    <format type='qcow3'/>\n  </target>\n</volume>\n",
      F ":5: error: <format type='qcow3'>: unknown volume format type 'qcow3' for a 'dir' pool" },
    /* "none" is not a file format for libvirt (virStorageVolumeFormatFromString) */
    { DIR_POOL, 0,
      "<volume>\n  <name>v</name>\n  <capacity>1</capacity>\n"
      "  <target>\n    <format type='none'/>\n  </target>\n</volume>\n",
      F ":5: error: <format type='none'>: unknown volume format type 'none' for a 'dir' pool" },
    { DISK_POOL, 0,
      "<volume>\n  <name>sda1</name>\n  <capacity>1</capacity>\n"
      "  <target>\n    <format type='qcow2'/>\n  </target>\n</volume>\n",
      F ":5: error: <format type='qcow2'>: unknown volume format type 'qcow2' for a 'disk' pool" },
    { LOGICAL_POOL, 0,
      "<volume>\n  <name>lv</name>\n  <capacity>1</capacity>\n"
      "  <target>\n    <format type='qcow2'/>\n  </target>\n</volume>\n",
      F ":5: error: <format type='qcow2'>: volumes of 'logical' pools have no format" },
    { ISCSI_POOL, 0,
      "<volume>\n  <name>lun</name>\n  <capacity>1</capacity>\n"
      "  <target>\n    <format type='raw'/>\n  </target>\n</volume>\n",
      F ":5: error: <format type='raw'>: volumes of 'iscsi' pools have no format" },
    { DIR_POOL, 0,
      "<volume>\n  <name>v</name>\n  <capacity>1</capacity>\n  <backingStore>\n"
      "    <path>/b.img</path>\n    <format type='vmdk4'/>\n  </backingStore>\n</volume>\n",
      F ":6: error: <format type='vmdk4'>: unknown volume format type 'vmdk4' for a 'dir' pool" },
    { DIR_POOL, 0,
      "<volume>\n  <name>v</name>\n  <capacity>1</capacity>\n  <target>\n    <permissions>\n"
      "      <mode>0999</mode>\n      <owner>root</owner>\n      <group>-2</group>\n"
      "    </permissions>\n  </target>\n</volume>\n",
      F ":6: error: <mode>: malformed octal mode '0999'\n"
      F ":7: error: <owner>: malformed owner 'root': expected a user id\n"
      F ":8: error: <group>: malformed group '-2': expected a group id" },
    /* only permission bits: no setuid/sticky */
    { DIR_POOL, 0,
      "<volume>\n  <name>v</name>\n  <capacity>1</capacity>\n  <target>\n    <permissions>\n"
      "      <mode>01777</mode>\n      <owner/>\n      <group>4294967296</group>\n"
      "    </permissions>\n  </target>\n</volume>\n",
      F ":6: error: <mode>: malformed octal mode '01777'\n"
      F ":7: error: <owner>: malformed owner '': expected a user id\n"
      F ":8: error: <group>: malformed group '4294967296': expected a group id" },
    { DIR_POOL, 0,
      "<volume>\n  <name>v</name>\n  <capacity>1</capacity>\n  <backingStore>\n"
      "    <path>/b.img</path>\n    <permissions>\n      <mode>rw</mode>\n    </permissions>\n"
      "  </backingStore>\n</volume>\n",
      F ":7: error: <mode>: malformed octal mode 'rw'" },
    { DIR_POOL, 0,
      "<volume>\n  <name>v</name>\n  <capacity>1</capacity>\n  <target>\n"
      "    <encryption>\n    </encryption>\n  </target>\n</volume>\n",
      F ":5: error: <encryption>: missing volume encryption format" },
    { DIR_POOL, 0,
      "<volume>\n  <name>v</name>\n  <capacity>1</capacity>\n  <target>\n"
      "    <encryption format='aes' engine='default'/>\n  </target>\n</volume>\n",
      F ":5: error: <encryption format='aes'>: unknown volume encryption format type 'aes'\n"
      F ":5: error: <encryption engine='default'>: invalid engine 'default': expected 'qemu' or 'librbd'" },
    { DIR_POOL, 0,
      "<volume>\n  <name>v</name>\n  <capacity>1</capacity>\n  <target>\n"
      "    <encryption format='luks'>\n"
      "      <secret uuid='f52a81b2-424e-490c-823d-6bd4235bc572'/>\n"
      "      <secret type='volume' usage='x'/>\n"
      "      <secret type='passphrase'/>\n"
      "      <secret type='passphrase' uuid='f52a81b2-424e-490c-823d-6bd4235bc572' usage='x'/>\n"
      "      <secret type='passphrase' uuid='f52a81b2-424e'/>\n"
      "    </encryption>\n  </target>\n</volume>\n",
      F ":6: error: <secret>: missing volume encryption secret type\n"
      F ":7: error: <secret type='volume'>: unknown volume encryption secret type 'volume'\n"
      F ":8: error: <secret>: missing secret uuid or usage attribute\n"
      F ":9: error: <secret>: either secret uuid or usage expected, not both\n"
      F ":10: error: <secret>: invalid secret uuid 'f52a81b2-424e'" },
    { DIR_POOL, 0,
      "<volume>\n  <name>v</name>\n  <capacity>1</capacity>\n  <target>\n"
      "    <encryption format='luks'>\n"
      "      <secret type='passphrase' usage='x'/>\n"
      "      <cipher size='-256'/>\n"
      "      <ivgen hash='sha256'/>\n"
      "    </encryption>\n  </target>\n</volume>\n",
      F ":7: error: <cipher>: missing 'name' attribute\n"
      F ":7: error: <cipher size='-256'>: invalid size '-256': expected a non-negative integer\n"
      F ":8: error: <ivgen>: missing 'name' attribute" },
    { DIR_POOL, 0,
      "<volume>\n  <name>v</name>\n  <capacity>1</capacity>\n  <target>\n"
      "    <encryption format='luks'>\n"
      "      <ivgen name='plain64'/>\n"
      "    </encryption>\n  </target>\n</volume>\n",
      F ":6: error: <ivgen>: ivgen element found, but cipher is missing" },
    { DIR_POOL, 0,
      "<volume>\n  <name>v</name>\n  <capacity>1</capacity>\n  <target>\n"
      "    <encryption format='luks'>\n"
      "      <cipher name='aes'/>\n"
      "    </encryption>\n  </target>\n</volume>\n",
      F ":6: error: <cipher>: missing 'size' attribute" },
    { DIR_POOL, 0,
      "<volume>\n  <name>v</name>\n  <capacity>1</capacity>\n  <target>\n"
      "    <compat>1</compat>\n  </target>\n</volume>\n",
      F ":5: error: <compat>: invalid compat '1': expected a version like '1.1' or '0.10'" },
    { DIR_POOL, 0,
      "<volume>\n  <name>v</name>\n  <capacity>1</capacity>\n  <target>\n"
      "    <compat>1.1.1</compat>\n  </target>\n</volume>\n",
      F ":5: error: <compat>: invalid compat '1.1.1': expected a version like '1.1' or '0.10'" },
    { DIR_POOL, 0,
      "<volume>\n  <name>v</name>\n  <capacity>1</capacity>\n  <target>\n"
      "    <clusterSize unit='KB'>x</clusterSize>\n  </target>\n</volume>\n",
      F ":5: error: <clusterSize unit='KB'>: malformed value 'x': expected a non-negative integer" },
    { DIR_POOL, 0,
      "<volume>\n  <name>v</name>\n  <capacity>1</capacity>\n  <target>\n"
      "    <clusterSize unit='KiBi'>64</clusterSize>\n  </target>\n</volume>\n",
      F ":5: error: <clusterSize unit='KiBi'>: unknown unit 'KiBi'" },
    { DIR_POOL, 0,
      "<volume>\n  <name>v</name>\n  <capacity>1</capacity>\n  <target>\n"
      "    <features>\n      <lazy_refcounts/>\n      <preallocation/>\n    </features>\n"
      "  </target>\n</volume>\n",
      F ":7: error: <features>: unsupported feature 'preallocation'" },
    /* every problem of a document, not only the first */
    { DIR_POOL, 0,
      "<volume type='disk'>\n  <capacity unit='parsecs'>3</capacity>\n  <allocation>-5</allocation>\n"
      "  <target>\n    <format type='qcow'/>\n    <compat>x.y</compat>\n"
      "    <permissions><mode>8</mode></permissions>\n  </target>\n</volume>\n",
      F ":1: error: missing volume name element\n"
      F ":1: error: unknown volume type 'disk'\n"
      F ":2: error: <capacity unit='parsecs'>: unknown unit 'parsecs'\n"
      F ":3: error: <allocation>: negative value '-5' is not allowed\n"
      F ":7: error: <mode>: malformed octal mode '8'\n"
      F ":6: error: <compat>: invalid compat 'x.y': expected a version like '1.1' or '0.10'" },
    { DIR_POOL, 0, "<volume>\n  <name>v</name>\n  <capacity>1</capacity>\n</volum>\n",
      F ":4: error: malformed XML: Opening and ending tag mismatch: volume line 1 and volum" },
};
#undef F

static void test_invalid(void)
{
    for (size_t i = 0; i < PK_NELEM(bad); i++) {
        pk_err *errs = NULL;
        pk_vol *v = pk_vol_parse(pools[bad[i].pool], bad[i].xml, strlen(bad[i].xml), "pools/p/v.xml",
                                 bad[i].flags, &errs);
        _cleanup_free_ char *got = errs_text(errs);
        tap_ok(v == NULL, "invalid %zu refused", i + 1);
        tap_is_str(got, bad[i].errors, "invalid %zu: located messages", i + 1);
        pk_vol_free(v);
        pk_err_free(errs);
    }
}

/* ---------- accepted documents and what they become ---------- */

typedef struct {
    const char *what;
    int pool;
    unsigned flags;
    const char *xml;
    const char *out;
    /* libvirt itself writes this, but storagecommon.rng wants <cipher> and
     * <ivgen> together while libvirt's parser and formatter take a lone <cipher> */
    bool schema_rejects;
} good_case;

static const good_case good[] = {
    { "owner/group 4294967295 and -1 both mean unset; mode 0 prints 00; owner is decimal",
      DIR_POOL, 0,
      "<volume><name>v</name><capacity> 5</capacity>"
      "<target><permissions><mode>0</mode><owner>-1</owner><group>4294967295</group></permissions></target>"
      "</volume>",
      "<volume type='file'>\n"
      "  <name>v</name>\n"
      "  <capacity unit='bytes'>5</capacity>\n"
      "  <allocation unit='bytes'>5</allocation>\n"
      "  <target>\n"
      "    <format type='raw'/>\n"
      "    <permissions>\n"
      "      <mode>00</mode>\n"
      "    </permissions>\n"
      "  </target>\n"
      "</volume>\n" },
    { "allocation above capacity is accepted, as in libvirt; read-only elements are dropped",
      DIR_POOL, 0,
      "<volume>\n  <name>v.img</name>\n  <capacity unit='KB'>1</capacity>\n"
      "  <allocation unit='k'>2</allocation>\n  <physical>99</physical>\n"
      "  <source><device path='/dev/sda'><extent start='0' end='1'/></device></source>\n"
      "  <target><path>/var/lib/p/v.img</path><format type='qcow2'/>"
      "<timestamps><atime>1.5</atime></timestamps><nocow/></target>\n"
      "  <unknown-element/>\n"
      "</volume>\n",
      "<volume type='file'>\n"
      "  <name>v.img</name>\n"
      "  <capacity unit='bytes'>1000</capacity>\n"
      "  <allocation unit='bytes'>2048</allocation>\n"
      "  <target>\n"
      "    <path>/var/lib/p/v.img</path>\n"
      "    <format type='qcow2'/>\n"
      "  </target>\n"
      "</volume>\n" },
    { "luks2 keeps its secret (usage) but, as libvirt, not cipher details; engine and quotes kept",
      DIR_POOL, 0,
      "<volume><name>it's</name><key>k&amp;\"q\"</key><capacity>1</capacity>"
      "<target><encryption format='luks2' engine='librbd'><secret type='passphrase' usage='my &lt;vol&gt;'/>"
      "<cipher name='aes' size='256'/></encryption></target></volume>",
      "<volume type='file'>\n"
      "  <name>it&apos;s</name>\n"
      "  <key>k&amp;&quot;q&quot;</key>\n"
      "  <capacity unit='bytes'>1</capacity>\n"
      "  <allocation unit='bytes'>1</allocation>\n"
      "  <target>\n"
      "    <format type='raw'/>\n"
      "    <encryption format='luks2' engine='librbd'>\n"
      "      <secret type='passphrase' usage='my &lt;vol&gt;'/>\n"
      "    </encryption>\n"
      "  </target>\n"
      "</volume>\n" },
    { "secret uuid in any case and without dashes is written canonically; cipher without ivgen",
      DIR_POOL, 0,
      "<volume><name>v</name><capacity>1</capacity><target><encryption format='luks'>"
      "<secret type='passphrase' uuid='F52A81B2424E490C823D6BD4235BC572'/>"
      "<cipher name='aes' size='128' mode='xts'/></encryption><compat>0.10</compat>"
      "<clusterSize>65536</clusterSize></target></volume>",
      "<volume type='file'>\n"
      "  <name>v</name>\n"
      "  <capacity unit='bytes'>1</capacity>\n"
      "  <allocation unit='bytes'>1</allocation>\n"
      "  <target>\n"
      "    <format type='raw'/>\n"
      "    <encryption format='luks'>\n"
      "      <secret type='passphrase' uuid='f52a81b2-424e-490c-823d-6bd4235bc572'/>\n"
      "      <cipher name='aes' size='128' mode='xts'/>\n"
      "    </encryption>\n"
      "    <compat>0.10</compat>\n"
      "    <clusterSize unit='B'>65536</clusterSize>\n"
      "  </target>\n"
      "</volume>\n", true },
    { "features in libvirt's order, compat defaults to 1.1; zero clusterSize is not written",
      DIR_POOL, 0,
      "<volume><name>v</name><capacity unit='MB'>2</capacity><target><format type='qcow2'/>"
      "<clusterSize unit='KiB'>0</clusterSize><features><extended_l2/><lazy_refcounts/></features>"
      "</target></volume>",
      "<volume type='file'>\n"
      "  <name>v</name>\n"
      "  <capacity unit='bytes'>2000000</capacity>\n"
      "  <allocation unit='bytes'>2000000</allocation>\n"
      "  <target>\n"
      "    <format type='qcow2'/>\n"
      "    <compat>1.1</compat>\n"
      "    <features>\n"
      "      <lazy_refcounts/>\n"
      "      <extended_l2/>\n"
      "    </features>\n"
      "  </target>\n"
      "</volume>\n" },
    { "logical pool: no <format>, and a volume without type is a block device there",
      LOGICAL_POOL, 0,
      "<volume><name>lv</name><capacity unit='GiB'>1</capacity>"
      "<backingStore><path>/dev/vg/origin</path></backingStore></volume>",
      "<volume type='block'>\n"
      "  <name>lv</name>\n"
      "  <capacity unit='bytes'>1073741824</capacity>\n"
      "  <allocation unit='bytes'>1073741824</allocation>\n"
      "  <target>\n"
      "  </target>\n"
      "  <backingStore>\n"
      "    <path>/dev/vg/origin</path>\n"
      "  </backingStore>\n"
      "</volume>\n" },
    { "disk pool: partition formats, default none; backing store without path is ignored",
      DISK_POOL, 0,
      "<volume><name>sda1</name><capacity>512</capacity><target><format type='linux-swap'/></target>"
      "<backingStore><format type='linux'/></backingStore></volume>",
      "<volume type='block'>\n"
      "  <name>sda1</name>\n"
      "  <capacity unit='bytes'>512</capacity>\n"
      "  <allocation unit='bytes'>512</allocation>\n"
      "  <target>\n"
      "    <format type='linux-swap'/>\n"
      "  </target>\n"
      "</volume>\n" },
    { "gluster pool: image formats; backing store format defaults to raw",
      GLUSTER_POOL, PK_VOL_PARSE_OPT_CAPACITY,
      "<volume type='network'><name>v</name><target><format type='qcow2'/></target>"
      "<backingStore><path>/base.img</path></backingStore></volume>",
      "<volume type='network'>\n"
      "  <name>v</name>\n"
      "  <capacity unit='bytes'>0</capacity>\n"
      "  <allocation unit='bytes'>0</allocation>\n"
      "  <target>\n"
      "    <format type='qcow2'/>\n"
      "  </target>\n"
      "  <backingStore>\n"
      "    <path>/base.img</path>\n"
      "    <format type='raw'/>\n"
      "  </backingStore>\n"
      "</volume>\n" },
};

static void test_good(void)
{
    for (size_t i = 0; i < PK_NELEM(good); i++) {
        const good_case *g = &good[i];
        const pk_pool *pool = pools[g->pool];
        pk_err *errs = NULL;
        _cleanup_(pk_vol_freep) pk_vol *v = pk_vol_parse(pool, g->xml, strlen(g->xml), "v.xml", g->flags, &errs);
        _cleanup_free_ char *et = errs_text(errs);
        pk_err_free(errs);
        if (!tap_ok(v != NULL, "%s: parses", g->what)) {
            tap_diag("%s", et);
            continue;
        }
        _cleanup_free_ char *out = pk_vol_format(pool, v);
        tap_is_str(out, g->out, "%s: output", g->what);
        _cleanup_(pk_vol_freep) pk_vol *v2 = pk_vol_parse(pool, out, strlen(out), "v.xml", g->flags, NULL);
        _cleanup_free_ char *out2 = v2 ? pk_vol_format(pool, v2) : NULL;
        tap_is_str(out2, out, "%s: fixpoint", g->what);
        if (g->schema_rejects)
            tap_ok(!rng_check(out), "%s: storagevol.rng rejects it, as it rejects libvirt's output", g->what);
        else
            rng_valid(out, g->what);
    }
}

/* What the model remembers beyond the XML: lines, defaults, flags. */
static void test_model(void)
{
    const char *xml =
        "<volume>\n"
        "  <name>web.qcow2</name>\n"
        "  <capacity unit='G'>20</capacity>\n"
        "  <target>\n"
        "    <format type='qcow2'/>\n"
        "  </target>\n"
        "</volume>\n";
    pk_err *errs = NULL;
    _cleanup_(pk_vol_freep) pk_vol *v = pk_vol_parse(pools[DIR_POOL], xml, strlen(xml), "pools/p/web.qcow2.xml", 0, &errs);
    pk_err_free(errs);
    if (!tap_ok(v != NULL, "model: parses")) return;
    tap_is_str(v->file, "pools/p/web.qcow2.xml", "model: file remembered");
    tap_is_int(v->line, 1, "model: line of <volume>");
    tap_is_int(v->pos_name.line, 2, "model: line of <name>");
    tap_is_int(v->pos_capacity.line, 3, "model: line of <capacity>");
    tap_is_int(v->pos_allocation.line, 0, "model: no <allocation>");
    tap_is_int(v->pos_format.line, 5, "model: line of <format>");
    tap_ok(!v->type_given && v->type == PK_VOL_FILE, "model: type defaults from the pool (file)");
    tap_ok(v->has_capacity && v->capacity == 20ULL << 30, "model: capacity 20 GiB");
    tap_ok(!v->has_allocation && v->allocation == v->capacity, "model: allocation defaults to capacity");
    tap_is_int(v->target.format, PK_IMG_QCOW2, "model: format qcow2");
    tap_ok(v->target.perms.mode == -1 && v->target.perms.uid == -1 && v->target.perms.gid == -1,
           "model: no permissions given");
    tap_ok(v->target.times == NULL, "model: no timestamps");
    tap_ok(!v->backing && !v->target.encryption && !v->target.compat, "model: nothing else set");
}

/* Live values from the backends (design: dumpxml): extents, physical and
 * timestamps are written in libvirt's places. */
static void test_observed_format(void)
{
    pk_vol v = { 0 };
    v.type = PK_VOL_BLOCK;
    v.name = "sda1";
    v.key = "/dev/sda1";
    v.capacity = 1000;
    v.allocation = 1000;
    v.physical = 4096;
    pk_vol_extent ext[] = {
        { "/dev/sda", 0, 10 }, { "/dev/sda", 20, 30 }, { "/dev/sdb", 5, 6 },
    };
    v.extents = ext;
    v.n_extents = PK_NELEM(ext);
    v.target.path = "/dev/sda1";
    v.target.format = PK_PART_LINUX;
    v.target.perms = (pk_perms){ 0660, 0, 6, NULL };
    pk_vol_times times = {
        .atime = { 1341933637, 273190990 },
        .mtime = { 1341930622, 0 },
        .ctime = { 1341930622, 47245868 },
        .btime = { -1, -1 },
    };
    v.target.times = &times;
    _cleanup_free_ char *out = pk_vol_format(pools[DISK_POOL], &v);
    tap_is_str(out,
               "<volume type='block'>\n"
               "  <name>sda1</name>\n"
               "  <key>/dev/sda1</key>\n"
               "  <source>\n"
               "    <device path='/dev/sda'>\n"
               "      <extent start='0' end='10'/>\n"
               "      <extent start='20' end='30'/>\n"
               "    </device>\n"
               "    <device path='/dev/sdb'>\n"
               "      <extent start='5' end='6'/>\n"
               "    </device>\n"
               "  </source>\n"
               "  <capacity unit='bytes'>1000</capacity>\n"
               "  <allocation unit='bytes'>1000</allocation>\n"
               "  <physical unit='bytes'>4096</physical>\n"
               "  <target>\n"
               "    <path>/dev/sda1</path>\n"
               "    <format type='linux'/>\n"
               "    <permissions>\n"
               "      <mode>0660</mode>\n"
               "      <owner>0</owner>\n"
               "      <group>6</group>\n"
               "    </permissions>\n"
               "    <timestamps>\n"
               "      <atime>1341933637.273190990</atime>\n"
               "      <mtime>1341930622</mtime>\n"
               "      <ctime>1341930622.047245868</ctime>\n"
               "    </timestamps>\n"
               "  </target>\n"
               "</volume>\n",
               "observed volume: extents grouped by device, physical and timestamps");
    rng_valid(out, "observed volume");
}

int main(void)
{
    tmp_dir = tap_tmpdir("vol-xml");
    test_manifest();
    test_documented_exceptions();
    load_inline_pools();
    test_invalid();
    test_good();
    test_model();
    test_observed_format();
    for (int i = 0; i < N_POOLS; i++) pk_pool_free(pools[i]);
    free(tmp_dir);
    return tap_done();
}
