#!/bin/bash
# File volumes end to end (issue 5): every image format qemu-img makes,
# allocation, qcow2 options, backing chains, LUKS encryption with secrets
# that never leak, permissions and labels with drift, resize, timestamps,
# and the probe cache, through the real binary, a git repository and the
# real qemu-img.
set -u
. "$PK_TEST_DATA/lib.sh"
setup_repo filevol
SEC=$T/secrets
export POOLKEEPER_SECRETS_DIR=$SEC
REAL_QEMU_IMG=$(command -v qemu-img)
MiB=$((1 << 20))

# qemu-img as poolkeeper runs it, recording every command line: the test
# reads them back to check what was run, and that no passphrase was on one.
mkdir -p "$T/bin"
cat >"$T/bin/qemu-img" <<EOF
#!/bin/sh
printf '%s\n' "\$*" >>"$T/qemu-img.argv"
exec "$REAL_QEMU_IMG" "\$@"
EOF
chmod +x "$T/bin/qemu-img"
export PATH="$T/bin:$PATH"
: >"$T/qemu-img.argv"

qinfo() { "$REAL_QEMU_IMG" info -U --output=json "$@"; }
jget() { python3 -c 'import json,sys; d=json.load(sys.stdin)
for k in sys.argv[1].split("."): d=d[k]
print(str(d).lower() if isinstance(d,bool) else d)' "$1"; }
blocks_bytes() { echo $(( $(stat -c %b "$1") * $(stat -c %B "$1") )); }

# vol NAME FORMAT CAPACITY [EXTRA-TARGET-XML] [EXTRA-VOLUME-XML] [ALLOCATION]
vol() {
    local alloc=""
    [ -n "${6:-}" ] && alloc="<allocation unit='bytes'>$6</allocation>"
    cat >"$R/pools/img/$1.xml" <<XML
<volume>
  <name>$1</name>
  <capacity unit='bytes'>$3</capacity>
  $alloc
  <target>
    <format type='$2'/>
    ${4:-}
  </target>
  ${5:-}
</volume>
XML
}

mkdir -p "$SEC"
chmod 700 "$SEC"
pool_xml img

# ---- 1. every format qemu-img creates -------------------------------------
# libvirt name, qemu driver name
# (vhdx: libvirt 11.3 has no such volume format, so neither has the XML; vhdx
# files are observed, tests/backends/test-fileprobe.c)
FORMATS="raw:raw qcow2:qcow2 qcow:qcow qed:qed vmdk:vmdk vdi:vdi vpc:vpc vhd:vpc iso:raw"
for fq in $FORMATS; do f=${fq%%:*}; vol "f-$f" "$f" $((8 * MiB)) "" "" 0; done
cat >"$R/pools/img/f-dir.xml" <<XML
<volume>
  <name>f-dir</name>
  <capacity unit='bytes'>0</capacity>
  <target>
    <format type='dir'/>
    <permissions><mode>0750</mode></permissions>
  </target>
</volume>
XML
commit "formats"
out=$(pk apply --yes 2>&1); rc=$?
is "$rc" 0 "apply creates a volume of each format"
[ "$rc" = 0 ] || diag "$out"
for fq in $FORMATS; do
    f=${fq%%:*} q=${fq##*:}
    j=$(qinfo -f "$q" "$P/img/f-$f" 2>&1)
    is "$(echo "$j" | jget format 2>/dev/null) $(echo "$j" | jget virtual-size 2>/dev/null)" "$q $((8 * MiB))" \
       "$f: qemu-img reads a $q image of 8 MiB"
done
ok "format dir: a directory with its mode" test "$(stat -c '%F %a' "$P/img/f-dir")" = "directory 750"
out=$(pk plan --detailed-exitcode 2>&1); rc=$?
is "$rc" 0 "the next plan has nothing to do (vhd is vpc, iso is raw, sizes exact)"
[ "$rc" = 0 ] || diag "$out"
x=$(pk dumpxml vol img f-vmdk 2>&1)
like "$x" "<format type='vmdk'/>" "dumpxml: vmdk observed through qemu-img info"
like "$x" "<capacity unit='bytes'>$((8 * MiB))</capacity>" "dumpxml: its virtual size"

# read-only and unsupported formats: refused with the reason, nothing made
for f in dmg bochs cloop; do vol "ro-$f" "$f" $MiB; done
vol ro-ploop ploop $MiB
commit "read-only formats"
out=$(pk apply --yes 2>&1); rc=$?
is "$rc" 1 "creating read-only formats fails"
for f in dmg bochs cloop; do
    like "$out" "cannot create volume 'ro-$f': format '$f' is read-only: qemu-img reads it but cannot create it" \
         "$f: refused as read-only"
done
like "$out" "format 'ploop' needs the ploop tools" "ploop: refused with the reason"
ok "nothing was made for them" test -z "$(ls -A "$P/img" | grep -E '^(ro-|\.pk-tmp-)')"
rm -f "$R"/pools/img/ro-*.xml
commit "no read-only formats"

# ---- probe cache: qemu-img info runs again only for a changed file -------
pk plan >/dev/null 2>&1
n_before=$(grep -c '^info ' "$T/qemu-img.argv")
pk plan >/dev/null 2>&1
pk apply --yes >/dev/null 2>&1
is "$(grep -c '^info ' "$T/qemu-img.argv")" "$n_before" "warm observations run no qemu-img info at all"
"$REAL_QEMU_IMG" resize -q -f vmdk "$P/img/f-vmdk" $((16 * MiB)) 2>/dev/null ||
    touch "$P/img/f-vmdk"
pk plan >/dev/null 2>&1
is "$(( $(grep -c '^info ' "$T/qemu-img.argv") - n_before ))" 1 "a changed image is probed again, alone"
# put it back the way it was declared
rm -f "$P/img/f-vmdk"
out=$(pk apply --yes 2>&1)
like "$out" "vol\.create +img/f-vmdk" "a vanished owned volume is made again (drift)"

# ---- 2. allocation ------------------------------------------------------
vol al-raw-full raw $((4 * MiB)) "" "" $((4 * MiB))
vol al-raw-sparse raw $((4 * MiB)) "" "" 0
vol al-raw-default raw $((4 * MiB))
vol al-q-full qcow2 $((4 * MiB)) "" "" $((4 * MiB))
vol al-q-sparse qcow2 $((64 * MiB))
commit "allocation"
pk apply --yes >/dev/null 2>&1
ok "raw, allocation = capacity: fully allocated" test "$(blocks_bytes "$P/img/al-raw-full")" -ge $((4 * MiB))
is "$(stat -c %b "$P/img/al-raw-sparse")" 0 "raw, allocation 0: sparse (no blocks)"
ok "raw, no allocation: fully allocated, as libvirt" test "$(blocks_bytes "$P/img/al-raw-default")" -ge $((4 * MiB))
ok "qcow2, allocation = capacity: preallocation=falloc" test "$(blocks_bytes "$P/img/al-q-full")" -ge $((4 * MiB))
ok "qcow2 without allocation: sparse" test "$(blocks_bytes "$P/img/al-q-sparse")" -lt $MiB
like "$(grep 'create -f qcow2' "$T/qemu-img.argv" | grep -c 'preallocation=falloc')" '^1$' \
     "preallocation=falloc passed once (for the fully allocated qcow2)"
x=$(pk dumpxml vol img al-raw-full)
like "$x" "<allocation unit='bytes'>$(blocks_bytes "$P/img/al-raw-full")</allocation>" \
     "dumpxml allocation is st_blocks * 512"

# ---- 3. qcow2 options -------------------------------------------------------
vol o-compat qcow2 $((16 * MiB)) "<compat>0.10</compat>"
vol o-cluster qcow2 $((16 * MiB)) "<clusterSize unit='KiB'>128</clusterSize>"
vol o-lazy qcow2 $((16 * MiB)) "<compat>1.1</compat><features><lazy_refcounts/></features>"
vol o-l2 qcow2 $((16 * MiB)) "<features><extended_l2/></features>"
commit "qcow2 options"
out=$(pk apply --yes 2>&1)
like "$(grep 'create -f qcow2' "$T/qemu-img.argv" | tr '\n' ' ')" \
     "compat=1\.1,cluster_size=131072 .*compat=0\.10 .*compat=1\.1,extended_l2=on .*compat=1\.1,lazy_refcounts " \
     "qemu-img create got compat, cluster_size, lazy_refcounts, extended_l2 as libvirt passes them"
is "$(qinfo "$P/img/o-compat" | jget format-specific.data.compat)" "0.10" "compat 0.10 (qemu-img info)"
is "$(qinfo "$P/img/o-cluster" | jget cluster-size)" 131072 "cluster size 128 KiB (qemu-img info)"
is "$(qinfo "$P/img/o-lazy" | jget format-specific.data.lazy-refcounts)" true "lazy_refcounts on (qemu-img info)"
is "$(qinfo "$P/img/o-l2" | jget format-specific.data.extended-l2)" true "extended_l2 on (qemu-img info)"
x=$(pk dumpxml vol img o-lazy)
like "$x" "<compat>1\.1</compat>" "dumpxml shows compat"
like "$(echo "$x" | tr -d ' \n')" "<features><lazy_refcounts/></features>" "dumpxml shows the features"
like "$(pk dumpxml vol img o-cluster)" "<clusterSize unit='B'>131072</clusterSize>" "dumpxml shows the cluster size"
pk plan --detailed-exitcode >/dev/null 2>&1
is "$?" 0 "options as declared: nothing to do"
vol o-compat qcow2 $((16 * MiB)) "<compat>1.1</compat>"
commit "compat changed in the XML"
out=$(pk plan 2>&1)
like "$out" "note: volume 'img/o-compat': compat is 0\.10, desired 1\.1; changing it is not supported" \
     "a changed option is reported, never acted on"

# ---- 4. backing chains ------------------------------------------------------
# names sort against the dependency order: the plan must reorder
vol a-top qcow2 $((32 * MiB)) "" "<backingStore><path>$P/img/b-mid</path><format type='qcow2'/></backingStore>"
vol b-mid qcow2 $((32 * MiB)) "" "<backingStore><path>$P/img/c-base</path><format type='qcow2'/></backingStore>"
vol c-base qcow2 $((32 * MiB))
commit "three-level chain"
out=$(pk plan 2>&1)
order=$(echo "$out" | grep -oE 'vol\.create +img/(a-top|b-mid|c-base)' | awk '{print $2}' | tr '\n' ' ')
is "$order" "img/c-base img/b-mid img/a-top " "plan: base, then middle, then top"
like "$out" "img/a-top .*qcow2 32 MiB on '$P/img/b-mid'" "plan shows what an overlay is on"
out=$(pk apply --yes 2>&1); rc=$?
is "$rc" 0 "chain created"
like "$(grep 'create -f qcow2 -b' "$T/qemu-img.argv" | tr '\n' ' ')" \
     "-b $P/img/c-base -o backing_fmt=qcow2.* -b $P/img/b-mid -o backing_fmt=qcow2" \
     "overlays made with -b PATH and the backing format"
chain=$(qinfo --backing-chain "$P/img/a-top" | grep -c '"filename"')
is "$chain" 3 "qemu-img sees a three-image chain"
like "$(pk dumpxml vol img a-top | tr -d '\n ')" "<backingStore><path>$P/img/b-mid</path><formattype='qcow2'/></backingStore>" \
     "dumpxml: top is on middle"
like "$(pk dumpxml vol img b-mid | tr -d '\n ')" "<backingStore><path>$P/img/c-base</path><formattype='qcow2'/></backingStore>" \
     "dumpxml: middle is on base"
git -C "$R" rm -q pools/img/c-base.xml
commit "remove the base"
out=$(POOLKEEPER_PRUNE=true pk apply --yes 2>&1)
like "$out" "vol\.delete +img/c-base.*'img/c-base' is the backing file of 'img/b-mid', which is kept" \
     "deleting a base in use is blocked, and says why"
ok "the base is still there" test -f "$P/img/c-base"
# a backing file outside every desired pool is refused; declaring its pool allows it
mkdir -p "$T/golden"
"$REAL_QEMU_IMG" create -q -f raw "$T/golden/base.raw" 8M
vol ext-overlay qcow2 $((8 * MiB)) "" "<backingStore><path>$T/golden/base.raw</path><format type='raw'/></backingStore>"
commit "overlay on an outside file"
out=$(pk apply --yes 2>&1); rc=$?
is "$rc" 1 "an outside backing file is refused"
like "$out" "backing store '$T/golden/base\.raw' of volume 'ext-overlay' is outside every pool" \
     "and the message says so"
ok "and nothing was made" test ! -e "$P/img/ext-overlay"
cat >"$R/pools/golden.xml" <<XML
<pool type='dir'>
  <name>golden</name>
  <target><path>$T/golden</path></target>
</pool>
XML
commit "declare the golden images' directory"
out=$(pk apply --yes 2>&1); rc=$?
is "$rc" 0 "with its directory declared as a pool the overlay is made"
ok "overlay exists" test -f "$P/img/ext-overlay"
is "$(stat -c %s "$T/golden/base.raw")" $((8 * MiB)) "the golden image was not touched"

# ---- 5. encryption ----------------------------------------------------------
PASS='Pk-s3cret-Passphrase-do-not-leak-91'
UUID=6cbb9b2a-52e5-4a5d-a4f7-0f6ab3b1e2f1
printf '%s' "$PASS" >"$SEC/$UUID"
printf '%s' "$PASS" >"$SEC/usage:vol-key"
chmod 600 "$SEC/$UUID" "$SEC/usage:vol-key"
vol enc-luks raw $((16 * MiB)) "<encryption format='luks'>
      <secret type='passphrase' uuid='$UUID'/>
      <cipher name='aes' size='256' mode='xts' hash='sha256'/>
      <ivgen name='plain64' hash='sha256'/>
    </encryption>"
vol enc-qcow2 qcow2 $((16 * MiB)) "<encryption format='luks'>
      <secret type='passphrase' usage='vol-key'/>
    </encryption>"
commit "encrypted volumes"
out=$(pk plan 2>&1)
plan_json=$(pk plan --json 2>&1)
log=$(pk apply --yes -v -v 2>&1); rc=$?
is "$rc" 0 "luks and qcow2+luks volumes created"
[ "$rc" = 0 ] || diag "$log"
obj="secret,id=s0,file=$SEC/$UUID"
j=$(qinfo --object "$obj" --image-opts "driver=luks,key-secret=s0,file.filename=$P/img/enc-luks" 2>&1)
is "$(echo "$j" | jget virtual-size 2>/dev/null)" $((16 * MiB)) "luks payload is 16 MiB"
ok "its data opens with the secret file's passphrase (qemu-io read)" \
   qemu-io --object "$obj" --image-opts "driver=luks,key-secret=s0,file.filename=$P/img/enc-luks" -c 'read 0 512'
out_wrong=$(qemu-io --object secret,id=s0,data=wrong --image-opts \
    "driver=luks,key-secret=s0,file.filename=$P/img/enc-luks" -c 'read 0 512' 2>&1)
like "$out_wrong" "Invalid password" "and not with a wrong one"
is "$(echo "$j" | jget format-specific.data.cipher-alg 2>/dev/null) $(echo "$j" | jget format-specific.data.cipher-mode 2>/dev/null) $(echo "$j" | jget format-specific.data.ivgen-alg 2>/dev/null) $(echo "$j" | jget format-specific.data.hash-alg 2>/dev/null)" \
   "aes-256 xts plain64 sha256" "cipher, mode, ivgen and hash as the XML asks"
j=$(qinfo --object "secret,id=s0,file=$SEC/usage:vol-key" --image-opts \
    "driver=qcow2,encrypt.key-secret=s0,file.filename=$P/img/enc-qcow2" 2>&1)
is "$(echo "$j" | jget format-specific.data.encrypt.format 2>/dev/null)" luks "qcow2 with luks inside"
ok "its data opens with its secret (qemu-io read)" \
   qemu-io --object "secret,id=s0,file=$SEC/usage:vol-key" --image-opts \
   "driver=qcow2,encrypt.key-secret=s0,file.filename=$P/img/enc-qcow2" -c 'read 0 512'

like "$(pk dumpxml vol img enc-luks)" "<encryption format='luks'>" "dumpxml shows the encryption"
# grow with the secret
vol enc-luks raw $((32 * MiB)) "<encryption format='luks'>
      <secret type='passphrase' uuid='$UUID'/>
      <cipher name='aes' size='256' mode='xts' hash='sha256'/>
      <ivgen name='plain64' hash='sha256'/>
    </encryption>"
commit "grow the luks volume"
log2=$(pk apply --yes -v -v 2>&1); rc=$?
is "$rc" 0 "encrypted volume resized"
j=$(qinfo --object "$obj" --image-opts "driver=luks,key-secret=s0,file.filename=$P/img/enc-luks" 2>&1)
is "$(echo "$j" | jget virtual-size 2>/dev/null)" $((32 * MiB)) "its payload is 32 MiB now"
like "$(grep '^resize' "$T/qemu-img.argv")" "resize --object secret,id=enc-luks_encrypt0,file=/dev/fd/[0-9]+ --image-opts driver=luks,key-secret=enc-luks_encrypt0,file\.filename=/dev/fd/[0-9]+ 33554432" \
     "resized through --image-opts with the passphrase as an fd"
# the passphrase is nowhere
hist=$(pk history 2>&1; pk history 0 2>&1)
stat_out=$(pk status 2>&1)
unlike "$(cat "$T/qemu-img.argv")" "$PASS" "no qemu-img command line carries the passphrase"
unlike "$log$log2" "$PASS" "the -v log does not"
unlike "$out$plan_json" "$PASS" "the plan (text and JSON) does not"
unlike "$hist$stat_out" "$PASS" "history and status do not"
ok "the state database (and its WAL) does not" bash -c "! cat '$S'* | grep -aq -- '$PASS'"
# a secret missing or readable by others stops the create before anything exists
vol enc-missing raw $MiB "<encryption format='luks'><secret type='passphrase' uuid='00000000-1111-2222-3333-444444444444'/></encryption>"
commit "missing secret"
out=$(pk apply --yes 2>&1); rc=$?
is "$rc" 1 "missing secret: apply fails"
like "$out" "secret file '$SEC/00000000-1111-2222-3333-444444444444' does not exist" "and names the missing file"
ok "nothing was made" test -z "$(ls -A "$P/img" | grep -E 'enc-missing')"
rm "$R/pools/img/enc-missing.xml"
chmod 644 "$SEC/usage:vol-key"
vol enc-exposed qcow2 $MiB "<encryption format='luks'><secret type='passphrase' usage='vol-key'/></encryption>"
commit "exposed secret"
out=$(pk apply --yes 2>&1); rc=$?
is "$rc" 1 "world-readable secret: apply fails"
like "$out" "secret file '$SEC/usage:vol-key' must be owned by uid [0-9]+ and readable by it alone \(mode 0600\), not 0644" \
     "and says why"
ok "nothing was made" test -z "$(ls -A "$P/img" | grep -E 'enc-exposed')"
unlike "$out" "$PASS" "the error does not carry the passphrase"
chmod 600 "$SEC/usage:vol-key"
rm "$R/pools/img/enc-exposed.xml"
commit "secrets fixed"

# ---- 6. permissions and labels ----------------------------------------------
vol p-perm raw $MiB "<permissions><owner>4242</owner><group>4343</group><mode>0640</mode></permissions>" "" 0
LBL_OLD=system_u:object_r:unlabeled_t:s0
LBL=system_u:object_r:virt_image_t:s0
vol p-label raw $MiB "<permissions><label>$LBL</label></permissions>" "" 0
commit "permissions"
pk apply --yes >/dev/null 2>&1
is "$(stat -c '%u %g %a' "$P/img/p-perm")" "4242 4343 640" "owner, group and mode applied on create"
out=$(pk plan 2>&1)
like "$out" "note: volume 'img/p-label': label '$LBL' is not applicable: the file has no SELinux label" \
     "without SELinux a label is not applicable, and the plan says so"
chmod 0666 "$P/img/p-perm"
chown 1:1 "$P/img/p-perm"
out=$(POOLKEEPER_DRIFT=report pk apply --yes 2>&1)
like "$out" "vol\.update +img/p-perm.*blocked: drift: report" "drift: report blocks the correction"
is "$(stat -c '%u %g %a' "$P/img/p-perm")" "1 1 666" "and changes nothing"
like "$(pk status 2>&1)" "p-perm" "status lists the drifted volume"
out=$(pk plan 2>&1)
like "$out" "~ vol\.update +img/p-perm +mode 0666, owner 1, group 1 -> mode 0640, owner 4242, group 4343" \
     "drift planned as vol.update, before -> after"
pk apply --yes >/dev/null 2>&1
is "$(stat -c '%u %g %a' "$P/img/p-perm")" "4242 4343 640" "drift corrected"
# a file that carries a label (set by hand here): compared and set where
# SELinux runs; elsewhere labels are neither read nor written
selinux=no
[ "$(stat -f -c %T /sys/fs/selinux 2>/dev/null)" = selinuxfs ] && selinux=yes
if setfattr -n security.selinux -v "$LBL_OLD" "$P/img/p-label" 2>/dev/null; then
    out=$(pk plan 2>&1)
    if [ $selinux = yes ]; then
        like "$out" "vol\.update +img/p-label +label $LBL_OLD -> label $LBL" "a differing label is planned"
        pk apply --yes >/dev/null 2>&1
        is "$(getfattr --only-values -n security.selinux "$P/img/p-label" 2>/dev/null | tr -d '\0')" "$LBL" "label applied"
        like "$(pk dumpxml vol img p-label)" "<label>$LBL</label>" "dumpxml shows the label"
    else
        unlike "$out" "vol\.update +img/p-label" "without SELinux a label set by hand is not read: nothing planned"
        pk apply --yes >/dev/null 2>&1
        is "$(getfattr --only-values -n security.selinux "$P/img/p-label" 2>/dev/null | tr -d '\0')" "$LBL_OLD" "and not changed"
    fi
else
    diag "this filesystem takes no security.selinux attribute: label update not tested"
fi

# ---- 8. resize ---------------------------------------------------------------
vol r-q qcow2 $((16 * MiB))
commit "r-q"
pk apply --yes >/dev/null 2>&1
cat >"$R/pools/img/r-q.xml" <<XML
<volume>
  <name>r-q</name>
  <capacity unit='GiB'>1</capacity>
  <target><format type='qcow2'/></target>
</volume>
XML
commit "grow r-q to 1 GiB"
out=$(pk apply --yes 2>&1)
like "$out" "vol\.resize +img/r-q +16 MiB -> 1 GiB" "qcow2 grow planned"
is "$(qinfo "$P/img/r-q" | jget virtual-size)" $((1024 * MiB)) "qcow2 grown by qemu-img resize"
sed -i "s|<capacity unit='GiB'>1</capacity>|<capacity unit='bytes'>1073741824</capacity>|" "$R/pools/img/r-q.xml"
commit "same size in bytes"
# (the blocked deletion of c-base stays in every plan from here on)
unlike "$(pk plan 2>&1)" "img/r-q" "capacity compared in bytes: 1 GiB is 1073741824 bytes"
sed -i "s|<capacity unit='bytes'>1073741824</capacity>|<capacity unit='MiB'>512</capacity>|" "$R/pools/img/r-q.xml"
commit "shrink r-q"
out=$(pk apply --yes 2>&1)
like "$out" "vol\.resize +img/r-q.*blocked: shrinking needs policy allow_shrink" "qcow2 shrink blocked"
is "$(qinfo "$P/img/r-q" | jget virtual-size)" $((1024 * MiB)) "and not done"
POOLKEEPER_ALLOW_SHRINK=true pk apply --yes >/dev/null 2>&1
is "$(qinfo "$P/img/r-q" | jget virtual-size)" $((512 * MiB)) "done with allow_shrink"
like "$(grep '^resize' "$T/qemu-img.argv" | tail -1)" "^resize --shrink -f qcow2 /dev/fd/[0-9]+ 536870912$" \
     "qemu-img resize --shrink only then"
vol r-odd qcow2 1000
commit "a size qemu rounds"
pk apply --yes >/dev/null 2>&1
is "$(qinfo "$P/img/r-odd" | jget virtual-size)" 1024 "qemu-img made 1 KiB of it"
unlike "$(pk plan 2>&1)" "img/r-odd" "and it is not resized for ever"

# ---- 9. timestamps and key --------------------------------------------------
x=$(pk dumpxml vol img f-raw)
like "$x" "<key>$P/img/f-raw</key>" "key is the absolute path"
like "$x" "<mtime>$(stat -c %Y "$P/img/f-raw")(\.[0-9]{9})?</mtime>" "mtime as stat says"
like "$(echo "$x" | tr -d ' \n')" "<timestamps><atime>[0-9.]+</atime><mtime>[0-9.]+</mtime><ctime>[0-9.]+</ctime>(<btime>[0-9.]+</btime>)?</timestamps>" \
     "atime, mtime, ctime (and btime where recorded), in libvirt's order"

done_testing
