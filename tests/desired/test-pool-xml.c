/* The <pool> model: libvirt's storagepoolxml2xml round trips byte for byte
 * (tests/data/libvirt, copied from libvirt 11.3.0), RelaxNG validity of what
 * we write, validation errors with file:line, UUIDs and enum tables. */
#include "../tap.h"
#include "../../desired/model.h"
#include <sys/stat.h>

static char *data_path(const char *rel)
{
    return pk_asprintf("%s/data/libvirt/%s", tap_data_dir(), rel);
}

static char *slurp(const char *path)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char tmp[4096];
    size_t r;
    while ((r = fread(tmp, 1, sizeof tmp, f)) > 0) {
        buf = pk_realloc(buf, len + r + 1);
        memcpy(buf + len, tmp, r);
        len += r;
    }
    fclose(f);
    if (!buf) buf = pk_strdup("");
    else buf[len] = '\0';
    return buf;
}

static char *errs_str(const pk_err *errs)
{
    pk_buf b = PK_BUF_INIT;
    for (const pk_err *e = errs; e; e = e->next) {
        _cleanup_free_ char *s = pk_err_str(e);
        if (e != errs) pk_buf_addc(&b, '\n');
        pk_buf_add(&b, s);
    }
    return pk_buf_steal(&b);
}

/* Line by line comparison, printed as a small diff when they differ. */
static bool same_text(const char *got, const char *want, const char *what)
{
    if (pk_streq(got, want)) return true;
    tap_diag("%s differs (- expected, + got):", what);
    const char *g = got ? got : "", *w = want;
    int line = 1;
    while (*g || *w) {
        size_t gl = strcspn(g, "\n"), wl = strcspn(w, "\n");
        if (gl != wl || strncmp(g, w, gl) != 0) {
            if (*w) tap_diag("  %d: -%.*s", line, (int)wl, w);
            if (*g) tap_diag("  %d: +%.*s", line, (int)gl, g);
        }
        g += gl + (g[gl] == '\n');
        w += wl + (w[wl] == '\n');
        line++;
    }
    return false;
}

/* ---------- RelaxNG validation through xmllint ---------- */

static int have_xmllint = -1;

static bool xmllint_available(void)
{
    if (have_xmllint < 0) {
        char *const argv[] = { "xmllint", "--version", NULL };
        have_xmllint = tap_run(argv, NULL) == 0;
        if (!have_xmllint) tap_diag("xmllint not found: install libxml2-utils to run the schema checks");
    }
    return have_xmllint;
}

/* 0 when `file` validates against rng/storagepool.rng, else xmllint's
 * status. xmllint talks on stderr: kept quiet unless `show` is set. */
static int xmllint_pool(const char *file, bool show)
{
    _cleanup_free_ char *rng = data_path("rng/storagepool.rng");
    char *const argv[] = { "xmllint", "--noout", "--relaxng", rng, (char *)file, NULL };
    _cleanup_free_ char *out = NULL;
    return tap_run(argv, show ? &out : NULL);
}

static void check_schema(const char *xml, const char *name, const char *tmpdir)
{
    if (!xmllint_available()) {
        tap_skip("xmllint not installed", "%s: output validates against storagepool.rng", name);
        return;
    }
    _cleanup_free_ char *path = pk_asprintf("%s/%s.xml", tmpdir, name);
    FILE *f = fopen(path, "w");
    if (!f || fputs(xml, f) < 0) tap_bail("cannot write %s", path);
    fclose(f);
    if (!tap_is_int(xmllint_pool(path, false), 0, "%s: output validates against storagepool.rng", name))
        xmllint_pool(path, true);
}

/* ---------- the libvirt round trip corpus ---------- */

/* Format `in`, compare with `out`, check that the output is a fixpoint and
 * that it is schema valid. */
static void round_trip(const char *name, const char *in_rel, const char *out_rel, const char *tmpdir)
{
    _cleanup_free_ char *in_path = data_path(in_rel);
    _cleanup_free_ char *out_path = out_rel ? data_path(out_rel) : NULL;
    _cleanup_free_ char *want = out_path ? slurp(out_path) : NULL;
    pk_err *errs = NULL;
    _cleanup_(pk_pool_freep) pk_pool *p = pk_pool_parse_file(in_path, &errs);
    if (!tap_ok(p != NULL, "%s: parses", name)) {
        _cleanup_free_ char *s = errs_str(errs);
        tap_diag("%s", s);
        pk_err_free(errs);
        return;
    }
    _cleanup_free_ char *got = pk_pool_format(p);
    if (!tap_ok(got != NULL, "%s: formats", name)) return;
    if (want) {
        /* libvirt's test appends a missing final new line before comparing. */
        tap_ok(same_text(got, want, name), "%s: output is byte-identical to %s", name, out_rel);
    }

    pk_err *errs2 = NULL;
    _cleanup_(pk_pool_freep) pk_pool *p2 = pk_pool_parse(got, strlen(got), "formatted", &errs2);
    if (tap_ok(p2 != NULL, "%s: formatted output parses again", name)) {
        _cleanup_free_ char *again = pk_pool_format(p2);
        tap_ok(same_text(again, got, name), "%s: format is a fixpoint", name);
    } else {
        _cleanup_free_ char *s = errs_str(errs2);
        tap_diag("%s", s);
        pk_err_free(errs2);
    }
    check_schema(got, name, tmpdir);
}

/* Every `pool` row of MANIFEST.tsv, and the pool inputs of the schema rows
 * that libvirt's parser accepts. */
static void test_corpus(const char *tmpdir)
{
    _cleanup_free_ char *manifest_path = data_path("MANIFEST.tsv");
    _cleanup_free_ char *manifest = slurp(manifest_path);
    if (!manifest) tap_bail("cannot read %s", manifest_path);
    int n_pool = 0;
    for (char *line = manifest, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        if (line[0] == '#') continue;
        char *f[7] = { 0 };
        int nf = 0;
        for (char *s = line; nf < 7; nf++) {
            f[nf] = s;
            char *tab = strchr(s, '\t');
            if (!tab) { nf++; break; }
            *tab = '\0';
            s = tab + 1;
        }
        if (nf < 6) continue;
        const char *kind = f[0], *name = f[1], *in = f[2], *out = f[3], *flags = f[5];
        if (strcmp(kind, "pool") == 0) {
            n_pool++;
            round_trip(name, in, out, tmpdir);
        } else if (strcmp(kind, "schema") == 0 && strstr(flags, "schema-valid") &&
                   (pk_str_has_prefix(in, "pool/") || strstr(flags, "rng=storagepool.rng"))) {
            round_trip(name, in, NULL, tmpdir);
        }
    }
    tap_is_int(n_pool, 38, "MANIFEST.tsv lists the 38 pool round trip cases");
}

/* libvirt's one schema-invalid pool: both the schema and our parser refuse it. */
static void test_invalid_fixture(void)
{
    const char *rel = "schemadata/storagepoolschemadata/dir-missing-target-path-invalid.xml";
    _cleanup_free_ char *path = data_path(rel);
    pk_err *errs = NULL;
    pk_pool *p = pk_pool_parse_file(path, &errs);
    tap_ok(p == NULL, "dir-missing-target-path-invalid: refused by the parser");
    pk_pool_free(p);
    tap_ok(errs && strstr(errs->msg, "<target>: missing <path>") && errs->line > 0,
           "dir-missing-target-path-invalid: error names <target> and its line");
    pk_err_free(errs);
    if (xmllint_available())
        tap_ok(xmllint_pool(path, false) != 0, "dir-missing-target-path-invalid: refused by the schema");
    else
        tap_skip("xmllint not installed", "dir-missing-target-path-invalid: refused by the schema");
}

/* ---------- validation errors ---------- */

typedef struct {
    const char *what;
    const char *xml;
    const char *want;   /* every error, one per line */
} bad_case;

#define T(path) "  <target>\n    <path>" path "</path>\n  </target>\n"

static const bad_case bad_cases[] = {
    { "unknown pool type",
      "<pool type='lvm'>\n  <name>x</name>\n</pool>\n",
      "pools/t.xml:1: error: <pool>: unknown pool type 'lvm'" },
    { "missing pool type",
      "<pool>\n  <name>x</name>\n</pool>\n",
      "pools/t.xml:1: error: <pool>: missing attribute 'type'" },
    { "wrong root element",
      "<volume>\n  <name>x</name>\n</volume>\n",
      "pools/t.xml:1: error: unexpected root element <volume>, expecting <pool>" },
    { "missing name",
      "<pool type='dir'>\n" T("/srv") "</pool>\n",
      "pools/t.xml:1: error: <pool>: missing <name>" },
    { "empty name",
      "<pool type='dir'>\n  <name></name>\n" T("/srv") "</pool>\n",
      "pools/t.xml:2: error: <name>: pool name is empty" },
    { "name with a slash",
      "<pool type='dir'>\n  <name>a/b</name>\n" T("/srv") "</pool>\n",
      "pools/t.xml:2: error: <name>: pool name 'a/b' must not contain '/'" },
    { "name '..'",
      "<pool type='dir'>\n  <name>..</name>\n" T("/srv") "</pool>\n",
      "pools/t.xml:2: error: <name>: '..' is not a valid pool name" },
    { "name with a new line",
      "<pool type='dir'>\n  <name>\n    web\n  </name>\n" T("/srv") "</pool>\n",
      "pools/t.xml:2: error: <name>: pool name '\\n    web\\n  ' must not contain control characters such as new lines" },
    { "malformed uuid",
      "<pool type='dir'>\n  <name>x</name>\n  <uuid>1234</uuid>\n" T("/srv") "</pool>\n",
      "pools/t.xml:3: error: <uuid>: malformed uuid '1234'" },
    { "dir pool without target",
      "<pool type='dir'>\n  <name>x</name>\n</pool>\n",
      "pools/t.xml:1: error: <pool>: missing <target> with a <path> (required for pool type 'dir')" },
    { "target without path",
      "<pool type='dir'>\n  <name>x</name>\n  <target>\n  </target>\n</pool>\n",
      "pools/t.xml:3: error: <target>: missing <path> (required for pool type 'dir')" },
    { "relative target path",
      "<pool type='dir'>\n  <name>x</name>\n" T("images") "</pool>\n",
      "pools/t.xml:4: error: <path>: target path 'images' is not absolute" },
    { "mode with a sticky bit",
      "<pool type='dir'>\n  <name>x</name>\n  <target>\n    <path>/srv</path>\n    <permissions>\n"
      "      <mode>01777</mode>\n    </permissions>\n  </target>\n</pool>\n",
      "pools/t.xml:6: error: <mode>: malformed octal mode '01777', expected 0 to 0777" },
    { "mode that is not octal",
      "<pool type='dir'>\n  <name>x</name>\n  <target>\n    <path>/srv</path>\n    <permissions>\n"
      "      <mode>0789</mode>\n    </permissions>\n  </target>\n</pool>\n",
      "pools/t.xml:6: error: <mode>: malformed octal mode '0789', expected 0 to 0777" },
    { "owner and group not numbers",
      "<pool type='dir'>\n  <name>x</name>\n  <target>\n    <path>/srv</path>\n    <permissions>\n"
      "      <owner>root</owner>\n      <group>-2</group>\n    </permissions>\n  </target>\n</pool>\n",
      "pools/t.xml:6: error: <owner>: malformed owner 'root', expected a number from 0 to 4294967294 or -1\n"
      "pools/t.xml:7: error: <group>: malformed group '-2', expected a number from 0 to 4294967294 or -1" },
    { "netfs without source",
      "<pool type='netfs'>\n  <name>n</name>\n" T("/mnt") "</pool>\n",
      "pools/t.xml:1: error: <pool>: missing <source> (required for pool type 'netfs')" },
    { "netfs without host",
      "<pool type='netfs'>\n  <name>n</name>\n  <source>\n    <dir path='/export'/>\n  </source>\n" T("/mnt") "</pool>\n",
      "pools/t.xml:3: error: <source>: missing <host> (required for pool type 'netfs')" },
    { "netfs without dir",
      "<pool type='netfs'>\n  <name>n</name>\n  <source>\n    <host name='nas'/>\n  </source>\n" T("/mnt") "</pool>\n",
      "pools/t.xml:3: error: <source>: missing <dir path='...'/> (required for pool type 'netfs')" },
    { "host without name and with a bad port",
      "<pool type='netfs'>\n  <name>n</name>\n  <source>\n    <host port='2049'/>\n    <host name='nas' port='70000'/>\n"
      "    <dir path='/export'/>\n  </source>\n" T("/mnt") "</pool>\n",
      "pools/t.xml:4: error: <host>: missing attribute 'name'\n"
      "pools/t.xml:5: error: <host>: invalid port '70000', expected a number from 0 to 65535" },
    { "protocol version with a comma",
      "<pool type='netfs'>\n  <name>n</name>\n  <source>\n    <host name='nas'/>\n    <dir path='/export'/>\n"
      "    <protocol ver='4,rw'/>\n  </source>\n" T("/mnt") "</pool>\n",
      "pools/t.xml:6: error: <protocol>: protocol version '4,rw' must not contain ','" },
    { "protocol version for cifs",
      "<pool type='netfs'>\n  <name>n</name>\n  <source>\n    <host name='nas'/>\n    <dir path='share'/>\n"
      "    <format type='cifs'/>\n    <protocol ver='3'/>\n  </source>\n" T("/mnt") "</pool>\n",
      "pools/t.xml:7: error: <protocol>: a protocol version is only supported with format 'nfs' or 'auto', not 'cifs'" },
    { "protocol version for a dir pool",
      "<pool type='dir'>\n  <name>x</name>\n  <source>\n    <protocol ver='3'/>\n  </source>\n" T("/srv") "</pool>\n",
      "pools/t.xml:4: error: <protocol>: a protocol version is only supported by 'netfs' pools, not by 'dir'" },
    { "unknown fs format",
      "<pool type='fs'>\n  <name>f</name>\n  <source>\n    <device path='/dev/sdb1'/>\n    <format type='ntfs'/>\n"
      "  </source>\n" T("/mnt") "</pool>\n",
      "pools/t.xml:5: error: <format>: unknown format type 'ntfs' for pool type 'fs'" },
    { "netfs format given to a disk pool",
      "<pool type='disk'>\n  <name>d</name>\n  <source>\n    <device path='/dev/sdb'/>\n    <format type='nfs'/>\n"
      "  </source>\n" T("/dev") "</pool>\n",
      "pools/t.xml:5: error: <format>: unknown format type 'nfs' for pool type 'disk'" },
    { "fs pool without device",
      "<pool type='fs'>\n  <name>f</name>\n  <source>\n    <format type='ext4'/>\n  </source>\n" T("/mnt") "</pool>\n",
      "pools/t.xml:3: error: <source>: missing <device> (required for pool type 'fs')" },
    { "device without path, bad part_separator",
      "<pool type='disk'>\n  <name>d</name>\n  <source>\n    <device/>\n    <device path='/dev/sdc' part_separator='maybe'/>\n"
      "  </source>\n" T("/dev") "</pool>\n",
      "pools/t.xml:4: error: <device>: missing attribute 'path'\n"
      "pools/t.xml:5: error: <device>: invalid value 'maybe' for attribute 'part_separator', expected 'yes' or 'no'" },
    { "cow on a logical pool",
      "<pool type='logical'>\n  <name>vg</name>\n  <features>\n    <cow state='yes'/>\n  </features>\n</pool>\n",
      "pools/t.xml:4: error: <cow>: the cow feature is only supported by 'fs' and 'dir' pools, not by 'logical'" },
    { "cow state not yes/no",
      "<pool type='dir'>\n  <name>x</name>\n  <features>\n    <cow state='on'/>\n  </features>\n" T("/srv") "</pool>\n",
      "pools/t.xml:4: error: <cow>: invalid value 'on' for attribute 'state', expected 'yes' or 'no'" },
    { "scsi pool without adapter",
      "<pool type='scsi'>\n  <name>s</name>\n  <source>\n  </source>\n" T("/dev/disk/by-path") "</pool>\n",
      "pools/t.xml:3: error: <source>: missing <adapter> (required for pool type 'scsi')" },
    { "unknown adapter type",
      "<pool type='scsi'>\n  <name>s</name>\n  <source>\n    <adapter type='sas' name='host0'/>\n  </source>\n"
      T("/dev/disk/by-path") "</pool>\n",
      "pools/t.xml:4: error: <adapter>: unknown adapter type 'sas', expected 'scsi_host' or 'fc_host'" },
    { "fc_host without wwpn, bad wwnn",
      "<pool type='scsi'>\n  <name>s</name>\n  <source>\n    <adapter type='fc_host' wwnn='2000xyz'/>\n  </source>\n"
      T("/dev/disk/by-path") "</pool>\n",
      "pools/t.xml:4: error: <adapter>: an 'fc_host' adapter needs both 'wwnn' and 'wwpn'\n"
      "pools/t.xml:4: error: <adapter>: malformed wwnn '2000xyz', expected 16 hexadecimal digits" },
    /* libxml2 gives an element the line where its start tag ends. */
    { "fc_host parent_wwnn without parent_wwpn",
      "<pool type='scsi'>\n  <name>s</name>\n  <source>\n    <adapter type='fc_host' parent_wwnn='0x20000000c9831b4b'\n"
      "             wwnn='20000000c9831b4b' wwpn='10000000c9831b4b'/>\n  </source>\n" T("/dev/disk/by-path") "</pool>\n",
      "pools/t.xml:5: error: <adapter>: parent_wwnn '0x20000000c9831b4b' is given without parent_wwpn" },
    { "legacy adapter with fc attributes",
      "<pool type='scsi'>\n  <name>s</name>\n  <source>\n    <adapter name='host0' wwnn='20000000c9831b4b'/>\n"
      "  </source>\n" T("/dev/disk/by-path") "</pool>\n",
      "pools/t.xml:4: error: <adapter>: attributes 'wwnn', 'wwpn' and 'parent' need the adapter 'type' attribute" },
    { "scsi_host with both name and parentaddr",
      "<pool type='scsi'>\n  <name>s</name>\n  <source>\n    <adapter type='scsi_host' name='host0'>\n"
      "      <parentaddr unique_id='5'>\n        <address domain='0x0000' bus='0x00' slot='0x1f' function='0x2'/>\n"
      "      </parentaddr>\n    </adapter>\n  </source>\n" T("/dev/disk/by-path") "</pool>\n",
      "pools/t.xml:4: error: <adapter>: a 'scsi_host' adapter cannot have both the 'name' attribute and a <parentaddr>" },
    { "parentaddr without address and unique_id",
      "<pool type='scsi'>\n  <name>s</name>\n  <source>\n    <adapter type='scsi_host'>\n      <parentaddr>\n"
      "      </parentaddr>\n    </adapter>\n  </source>\n" T("/dev/disk/by-path") "</pool>\n",
      "pools/t.xml:5: error: <parentaddr>: missing <address> element\n"
      "pools/t.xml:5: error: <parentaddr>: missing attribute 'unique_id'" },
    { "PCI address out of range",
      "<pool type='scsi'>\n  <name>s</name>\n  <source>\n    <adapter type='scsi_host'>\n      <parentaddr unique_id='-1'>\n"
      "        <address domain='0x0000' bus='0x100' slot='0x1f' function='x'/>\n      </parentaddr>\n    </adapter>\n"
      "  </source>\n" T("/dev/disk/by-path") "</pool>\n",
      "pools/t.xml:5: error: <parentaddr>: invalid unique_id '-1', expected a non-negative integer\n"
      "pools/t.xml:6: error: <address>: PCI address bus='0x100' is out of range (at most 0xff)\n"
      "pools/t.xml:6: error: <address>: invalid PCI address attribute function='x'" },
    { "auth without username, type and secret",
      "<pool type='iscsi'>\n  <name>i</name>\n  <source>\n    <host name='san'/>\n    <device path='iqn.2024-01.com.example:t'/>\n"
      "    <auth>\n    </auth>\n  </source>\n" T("/dev/disk/by-path") "</pool>\n",
      "pools/t.xml:6: error: <auth>: missing attribute 'username'\n"
      "pools/t.xml:6: error: <auth>: missing attribute 'type', expected 'chap' or 'ceph'\n"
      "pools/t.xml:6: error: <auth>: missing <secret> element" },
    { "auth type none, secret with uuid and usage",
      "<pool type='iscsi'>\n  <name>i</name>\n  <source>\n    <host name='san'/>\n    <device path='iqn.2024-01.com.example:t'/>\n"
      "    <auth type='none' username='u'>\n      <secret uuid='2ec115d7-3a88-3ceb-bc12-0ac909a6fd87' usage='x'/>\n"
      "    </auth>\n  </source>\n" T("/dev/disk/by-path") "</pool>\n",
      "pools/t.xml:6: error: <auth>: invalid auth type 'none', expected 'chap' or 'ceph'\n"
      "pools/t.xml:7: error: <secret>: attributes 'uuid' and 'usage' are mutually exclusive" },
    { "secret without uuid or usage, and with a bad uuid",
      "<pool type='rbd'>\n  <name>c</name>\n  <source>\n    <name>rbd</name>\n    <host name='mon'/>\n"
      "    <auth type='ceph' username='admin'>\n      <secret/>\n    </auth>\n  </source>\n</pool>\n",
      "pools/t.xml:7: error: <secret>: missing attribute 'uuid' or 'usage'" },
    { "secret with a malformed uuid",
      "<pool type='rbd'>\n  <name>c</name>\n  <source>\n    <name>rbd</name>\n    <host name='mon'/>\n"
      "    <auth type='ceph' username='admin'>\n      <secret uuid='not-a-uuid'/>\n    </auth>\n  </source>\n</pool>\n",
      "pools/t.xml:7: error: <secret>: malformed uuid 'not-a-uuid'" },
    { "rbd without source name and host",
      "<pool type='rbd'>\n  <name>c</name>\n  <source>\n  </source>\n</pool>\n",
      "pools/t.xml:3: error: <source>: missing <name> (required for pool type 'rbd')\n"
      "pools/t.xml:3: error: <source>: missing <host> (required for pool type 'rbd')" },
    { "iscsi-direct without initiator",
      "<pool type='iscsi-direct'>\n  <name>d</name>\n  <source>\n    <host name='san'/>\n"
      "    <device path='iqn.2024-01.com.example:t'/>\n  </source>\n</pool>\n",
      "pools/t.xml:3: error: <source>: missing <initiator><iqn name='...'/> (required for pool type 'iscsi-direct')" },
    { "bad refresh allocation",
      "<pool type='rbd'>\n  <name>c</name>\n  <source>\n    <name>rbd</name>\n    <host name='mon'/>\n  </source>\n"
      "  <refresh>\n    <volume allocation='exact'/>\n  </refresh>\n</pool>\n",
      "pools/t.xml:8: error: <volume>: unknown refresh allocation 'exact', expected 'default' or 'capacity'" },
    { "rbd config option without value, with empty name",
      "<pool type='rbd' xmlns:rbd='http://libvirt.org/schemas/storagepool/rbd/1.0'>\n  <name>c</name>\n  <source>\n"
      "    <name>rbd</name>\n    <host name='mon'/>\n  </source>\n  <rbd:config_opts>\n"
      "    <rbd:option name='client_mount_timeout'/>\n    <rbd:option name='' value='1'/>\n  </rbd:config_opts>\n</pool>\n",
      "pools/t.xml:8: error: <rbd:option>: missing or empty attribute 'value' for option 'client_mount_timeout'\n"
      "pools/t.xml:9: error: <rbd:option>: missing or empty attribute 'name'" },
    { "fs mount option without name",
      "<pool type='fs' xmlns:fs='http://libvirt.org/schemas/storagepool/fs/1.0'>\n  <name>f</name>\n  <source>\n"
      "    <device path='/dev/sdb1'/>\n  </source>\n" T("/mnt") "  <fs:mount_opts>\n    <fs:option/>\n"
      "  </fs:mount_opts>\n</pool>\n",
      "pools/t.xml:10: error: <fs:option>: missing or empty attribute 'name'" },
    { "several problems, reported in line order",
      "<pool type='dir'>\n  <name>a/b</name>\n  <uuid>xyz</uuid>\n  <features>\n    <cow state='maybe'/>\n  </features>\n"
      "  <target>\n    <path>/srv</path>\n    <permissions>\n      <mode>999</mode>\n    </permissions>\n  </target>\n</pool>\n",
      "pools/t.xml:2: error: <name>: pool name 'a/b' must not contain '/'\n"
      "pools/t.xml:3: error: <uuid>: malformed uuid 'xyz'\n"
      "pools/t.xml:5: error: <cow>: invalid value 'maybe' for attribute 'state', expected 'yes' or 'no'\n"
      "pools/t.xml:10: error: <mode>: malformed octal mode '999', expected 0 to 0777" },
};

static void test_bad_cases(void)
{
    for (size_t i = 0; i < PK_NELEM(bad_cases); i++) {
        const bad_case *bc = &bad_cases[i];
        pk_err *errs = NULL;
        pk_pool *p = pk_pool_parse(bc->xml, strlen(bc->xml), "pools/t.xml", &errs);
        tap_ok(p == NULL, "invalid: %s: refused", bc->what);
        _cleanup_free_ char *got = errs_str(errs);
        tap_is_str(got, bc->want, "invalid: %s: errors", bc->what);
        pk_err_free(errs);
        pk_pool_free(p);
    }
    tap_ok(PK_NELEM(bad_cases) >= 25, "at least 25 invalid documents are checked (%zu)", PK_NELEM(bad_cases));

    /* Broken XML is reported by the loader, with its line. */
    const char *broken = "<pool type='dir'>\n  <name>x</name>\n  <target>\n</pool>\n";
    pk_err *errs = NULL;
    pk_pool *p = pk_pool_parse(broken, strlen(broken), "pools/t.xml", &errs);
    tap_ok(p == NULL && errs && errs->line == 4 && strstr(errs->msg, "malformed XML"),
           "malformed XML refused with its line");
    pk_err_free(errs);
    pk_pool_free(p);

    /* Errors go after the ones already in the caller's list. */
    pk_err *list = pk_err_new("other.xml", 1, 0, "earlier problem");
    const char *zzz = "<pool type='zzz'><name>z</name></pool>";
    p = pk_pool_parse(zzz, strlen(zzz), "pools/t.xml", &list);
    tap_is_int((long long)pk_err_count(list), 2, "errors are appended to the caller's list");
    pk_err_free(list);
    pk_pool_free(p);
}

/* ---------- defaults and normalisation ---------- */

static pk_pool *parse_ok(const char *xml, const char *what)
{
    pk_err *errs = NULL;
    pk_pool *p = pk_pool_parse(xml, strlen(xml), "pools/t.xml", &errs);
    if (!tap_ok(p != NULL, "%s: parses", what)) {
        _cleanup_free_ char *s = errs_str(errs);
        tap_diag("%s", s);
    }
    pk_err_free(errs);
    return p;
}

static const char *target_of(const char *path_xml, char **keep)
{
    _cleanup_free_ char *xml = pk_asprintf("<pool type='dir'><name>x</name><target><path>%s</path></target></pool>",
                                           path_xml);
    pk_err *errs = NULL;
    pk_pool *p = pk_pool_parse(xml, strlen(xml), "t", &errs);
    pk_err_free(errs);
    *keep = p ? pk_strdup(p->target_path) : NULL;
    pk_pool_free(p);
    return *keep;
}

static void test_defaults(void)
{
    /* No <uuid>: a random version 4 UUID, different each time. */
    const char *nouuid = "<pool type='dir'><name>x</name><target><path>/srv</path></target></pool>";
    _cleanup_(pk_pool_freep) pk_pool *a = parse_ok(nouuid, "pool without uuid");
    _cleanup_(pk_pool_freep) pk_pool *b = parse_ok(nouuid, "pool without uuid, again");
    if (a && b) {
        tap_ok(!a->uuid_given && (a->uuid[6] >> 4) == 4 && (a->uuid[8] & 0xC0) == 0x80,
               "generated uuid is a random (v4) one and marked as not given");
        tap_ok(memcmp(a->uuid, b->uuid, 16) != 0, "two generated uuids differ");
    }

    /* The 32-digit uuid form, written back in the canonical lowercase form. */
    _cleanup_(pk_pool_freep) pk_pool *u = parse_ok(
        "<pool type='dir'><name>x</name><uuid> 70A7EB156C34EE9CBF5769E8E5FF3FB2 </uuid>"
        "<target><path>/srv</path></target></pool>", "32-digit uuid");
    if (u) {
        _cleanup_free_ char *out = pk_pool_format(u);
        tap_ok(u->uuid_given && strstr(out, "<uuid>70a7eb15-6c34-ee9c-bf57-69e8e5ff3fb2</uuid>"),
               "32-digit uuid is written in the canonical form");
    }

    /* Logical pool with only a name: source name and target path follow it. */
    _cleanup_(pk_pool_freep) pk_pool *lv = parse_ok("<pool type='logical'><name>vg0</name></pool>",
                                                   "logical pool with only a name");
    if (lv) {
        tap_is_str(lv->source.name, "vg0", "logical: source name defaults to the pool name");
        tap_is_str(lv->target_path, "/dev/vg0", "logical: target path is /dev/<source name>");
        tap_is_int(lv->source.format, PK_LOGICAL_LVM2, "logical: format defaults to lvm2");
    }

    /* fs and netfs formats default to auto, and fs:mount_opts may use any prefix. */
    _cleanup_(pk_pool_freep) pk_pool *nf = parse_ok(
        "<pool type='netfs' xmlns:m='http://libvirt.org/schemas/storagepool/fs/1.0'><name>n</name>"
        "<source><host name='nas' port='-1'/><dir path='/export//a/'/><protocol ver='4.2'/></source>"
        "<target><path>/mnt/n</path><permissions><owner>4294967295</owner><group>100</group></permissions></target>"
        "<m:mount_opts><m:option name='noatime'/></m:mount_opts></pool>", "netfs with mount options");
    if (nf) {
        tap_is_int(nf->source.format, PK_NETFS_AUTO, "netfs: format defaults to auto");
        tap_is_str(nf->source.dir, "/export/a", "netfs: source dir sanitised");
        tap_is_int(nf->source.hosts[0].port, 0, "port -1 means no port");
        tap_is_int(nf->target_perms.uid, -1, "owner 4294967295 is (uid_t)-1: not set");
        tap_is_int(nf->target_perms.gid, 100, "group parsed as a decimal number");
        tap_is_str(nf->source.protocol_ver, "4.2", "protocol version kept as text");
        tap_ok(nf->mount_opts && pk_streq(nf->mount_opts[0], "noatime") && !nf->mount_opts[1],
               "fs:mount_opts read by namespace URI, whatever the prefix");
        _cleanup_free_ char *out = pk_pool_format(nf);
        tap_ok(strstr(out, "<pool type='netfs' xmlns:fs='http://libvirt.org/schemas/storagepool/fs/1.0'>") &&
               strstr(out, "  <fs:mount_opts>\n    <fs:option name='noatime'/>\n  </fs:mount_opts>\n</pool>\n") &&
               strstr(out, "<host name='nas'/>") && strstr(out, "<permissions>\n      <group>100</group>\n"),
               "netfs: written with the fs prefix, port and owner dropped");
    }

    /* Mount options on a dir pool mean nothing to libvirt: ignored. */
    _cleanup_(pk_pool_freep) pk_pool *dm = parse_ok(
        "<pool type='dir' xmlns:fs='http://libvirt.org/schemas/storagepool/fs/1.0'><name>d</name>"
        "<target><path>/srv</path></target><fs:mount_opts><fs:option name='sync'/></fs:mount_opts></pool>",
        "dir pool with mount options");
    if (dm) tap_ok(dm->mount_opts == NULL, "dir: fs:mount_opts ignored");

    /* Elements and attributes a pool type does not use are not written. */
    _cleanup_(pk_pool_freep) pk_pool *dx = parse_ok(
        "<pool type='dir'><name>it's &lt;mine&gt;</name><source><host name='h'/><device path='/dev/x'/></source>"
        "<target><path>/srv</path><permissions><label>a&amp;b</label></permissions></target></pool>",
        "dir pool with host and device in its source");
    if (dx) {
        _cleanup_free_ char *out = pk_pool_format(dx);
        tap_ok(strstr(out, "<name>it&apos;s &lt;mine&gt;</name>") && strstr(out, "<source>\n  </source>\n") &&
               strstr(out, "<label>a&amp;b</label>"), "dir: libvirt's escaping, source parts it does not use dropped");
    }

    /* virFileSanitizePath on target paths. */
    struct { const char *in, *want; } paths[] = {
        { "///var/////lib//x//", "/var/lib/x" },
        { "//srv//share/", "//srv/share" },
        { "/", "/" },
        { "///", "/" },
        { "/a/./b/../c", "/a/./b/../c" },
    };
    for (size_t i = 0; i < PK_NELEM(paths); i++) {
        char *keep = NULL;
        tap_is_str(target_of(paths[i].in, &keep), paths[i].want, "target path '%s' sanitised", paths[i].in);
        free(keep);
    }

    /* gluster: dir defaults to "/", and the target is never written. */
    _cleanup_(pk_pool_freep) pk_pool *gl = parse_ok(
        "<pool type='gluster'><source><name>vol</name><host name='g'/></source>"
        "<target><path>/ignored</path></target></pool>", "gluster pool named by its source");
    if (gl) {
        tap_is_str(gl->name, "vol", "gluster: pool name defaults to the source name");
        tap_is_str(gl->source.dir, "/", "gluster: source dir defaults to '/'");
        _cleanup_free_ char *out = pk_pool_format(gl);
        tap_ok(!strstr(out, "<target>"), "gluster: no <target> written");
    }
}

/* ---------- uuid ---------- */

static void test_uuid(void)
{
    unsigned char u[16];
    char s[37];
    struct { const char *in; const char *want; } ok[] = {
        { "2ec115d7-3a88-3ceb-bc12-0ac909a6fd87", "2ec115d7-3a88-3ceb-bc12-0ac909a6fd87" },
        { "2EC115D73A883CEBBC120AC909A6FD87", "2ec115d7-3a88-3ceb-bc12-0ac909a6fd87" },
        { "  2ec1 15d7-3a88-3ceb-bc12-0ac909a6fd87\n", "2ec115d7-3a88-3ceb-bc12-0ac909a6fd87" },
        { "2e-c1-15-d7-3a-88-3c-eb-bc-12-0a-c9-09-a6-fd-87", "2ec115d7-3a88-3ceb-bc12-0ac909a6fd87" },
        { "00000000000000000000000000000000", "00000000-0000-0000-0000-000000000000" },
    };
    for (size_t i = 0; i < PK_NELEM(ok); i++) {
        int r = pk_uuid_parse(ok[i].in, u);
        if (r == 0) pk_uuid_format(u, s);
        tap_ok(r == 0 && strcmp(s, ok[i].want) == 0, "uuid form %zu parses to %s", i + 1, ok[i].want);
    }
    const char *bad[] = {
        "", "2ec115d7-3a88-3ceb-bc12-0ac909a6fd8", "2ec115d7-3a88-3ceb-bc12-0ac909a6fd870",
        "2ec115d7-3a88-3ceb-bc12-0ac909a6fdg7", "2ec115d7-3a88-3ceb-bc12-0ac909a6fd87x",
        "2-ec115d7-3a88-3ceb-bc12-0ac909a6fd87" /* '-' inside a pair */, NULL,
    };
    for (size_t i = 0; i < PK_NELEM(bad); i++)
        tap_ok(pk_uuid_parse(bad[i], u) < 0, "uuid '%s' refused", bad[i] ? bad[i] : "(null)");

    unsigned char g1[16], g2[16];
    pk_uuid_generate(g1);
    pk_uuid_generate(g2);
    pk_uuid_format(g1, s);
    tap_ok(memcmp(g1, g2, 16) != 0 && s[14] == '4' && strchr("89ab", s[19]),
           "generated uuids are random version 4 (%s)", s);
}

/* ---------- enum tables ---------- */

#define ROUND_TRIP(name, last) do { \
        bool good = true; \
        for (int i = 0; i < (int)(last); i++) \
            good = good && name##_from_string(name##_to_string(i)) == i; \
        good = good && name##_to_string(last) == NULL && name##_from_string("bogus") == -1 && \
               name##_from_string(NULL) == -1; \
        tap_ok(good, #name ": every value round-trips through its string"); \
    } while (0)

static void test_enums(void)
{
    ROUND_TRIP(pk_pool_type, PK_POOL_TYPE_LAST);
    ROUND_TRIP(pk_fs_format, PK_FS_LAST);
    ROUND_TRIP(pk_netfs_format, PK_NETFS_LAST);
    ROUND_TRIP(pk_disk_format, PK_DISK_LAST);
    ROUND_TRIP(pk_logical_format, PK_LOGICAL_LAST);
    ROUND_TRIP(pk_adapter_type, PK_ADAPTER_LAST);
    ROUND_TRIP(pk_auth_type, PK_AUTH_LAST);
    ROUND_TRIP(pk_refresh_vol_alloc, PK_REFRESH_VOL_LAST);
    ROUND_TRIP(pk_vol_type, PK_VOL_TYPE_LAST);
    ROUND_TRIP(pk_img_format, PK_IMG_LAST);
    ROUND_TRIP(pk_part_format, PK_PART_LAST);
    ROUND_TRIP(pk_enc_format, PK_ENC_FORMAT_LAST);

    tap_is_str(pk_pool_type_to_string(PK_POOL_ISCSI_DIRECT), "iscsi-direct", "pool type iscsi-direct");
    tap_is_str(pk_fs_format_to_string(PK_FS_ISO), "iso9660", "fs format iso9660");
    tap_is_str(pk_fs_format_to_string(PK_FS_HFSPLUS), "hfs+", "fs format hfs+");
    tap_is_str(pk_adapter_type_to_string(PK_ADAPTER_FC_HOST), "fc_host", "adapter type fc_host");
    tap_is_str(pk_img_format_to_string(PK_IMG_QCOW2), "qcow2", "image format qcow2");
    tap_is_str(pk_part_format_to_string(PK_PART_LINUX_SWAP), "linux-swap", "partition format linux-swap");
    tap_is_str(pk_enc_format_to_string(PK_ENC_LUKS_ANY), "luks-any", "encryption format luks-any");

    /* Volume formats by pool type (libvirt's poolTypeInfo volOptions). */
    tap_is_int(pk_vol_format_from_string(PK_POOL_DIR, "qcow2"), PK_IMG_QCOW2, "dir volumes: qcow2");
    tap_is_int(pk_vol_format_from_string(PK_POOL_RBD, "raw"), PK_IMG_RAW, "rbd volumes: raw");
    tap_is_int(pk_vol_format_from_string(PK_POOL_DIR, "none"), -1, "dir volumes: 'none' refused");
    tap_is_int(pk_vol_format_from_string(PK_POOL_DISK, "none"), PK_PART_NONE, "disk volumes: 'none' partition");
    tap_is_int(pk_vol_format_from_string(PK_POOL_DISK, "qcow2"), -1, "disk volumes: qcow2 refused");
    tap_is_int(pk_vol_format_from_string(PK_POOL_LOGICAL, "raw"), -1, "logical volumes take no format");
    tap_ok(pk_vol_format_to_string(PK_POOL_ISCSI, 0) == NULL, "iscsi volumes print no format");
    tap_is_str(pk_vol_format_to_string(PK_POOL_GLUSTER, PK_IMG_RAW), "raw", "gluster volume format name");
    tap_is_str(pk_vol_format_to_string(PK_POOL_DISK, PK_PART_EXTENDED), "extended", "disk volume format name");
    tap_is_int(pk_pool_default_vol_type(PK_POOL_DIR), PK_VOL_FILE, "dir volumes are files");
    tap_is_int(pk_pool_default_vol_type(PK_POOL_LOGICAL), PK_VOL_BLOCK, "logical volumes are block devices");
    tap_is_int(pk_pool_default_vol_type(PK_POOL_RBD), PK_VOL_NETWORK, "rbd volumes are network volumes");

    /* Names. */
    tap_ok(pk_name_valid("disk1.qcow2") && pk_name_valid("a b") && pk_name_valid("..."),
           "ordinary names are valid");
    tap_ok(!pk_name_valid("") && !pk_name_valid(NULL) && !pk_name_valid(".") && !pk_name_valid("..") &&
           !pk_name_valid("a/b") && !pk_name_valid("a\nb"), "empty, '.', '..', '/' and control characters are not");
    char longname[257];
    memset(longname, 'a', 256);
    longname[256] = '\0';
    tap_ok(!pk_name_valid(longname), "a 256 byte name is too long");
    longname[255] = '\0';
    tap_ok(pk_name_valid(longname), "a 255 byte name is fine");
}

int main(void)
{
    _cleanup_free_ char *tmpdir = tap_tmpdir("pool-xml");
    test_corpus(tmpdir);
    test_invalid_fixture();
    test_bad_cases();
    test_defaults();
    test_uuid();
    test_enums();
    return tap_done();
}
