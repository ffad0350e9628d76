#!/bin/bash
# gluster pools end to end: the real poolkeeper binary, a git repo of pool XML
# and a real glusterd with a started volume (tests/services/gluster-up.sh),
# found through GLUSTER_HOST, GLUSTER_PORT, GLUSTER_VOLUME, GLUSTER_BRICK and
# GLUSTER_DENIED_VOLUME (a volume that refuses 127.0.0.1).
#
# The pool is a directory of its own in the volume (<dir path='/TAG'/>);
# what poolkeeper did is checked on the brick, the server's own copy.
set -u
. "$PK_TEST_DATA/tap.sh"
. "$PK_TEST_DATA/netstore/services.sh"
need_service gluster GLUSTER_HOST GLUSTER_PORT GLUSTER_VOLUME GLUSTER_BRICK GLUSTER_DENIED_VOLUME
PK=${POOLKEEPER:?}
GT=${PK_BUILD_DIR:?}/tests/netstore/gfapi-tool
[ -x "$GT" ] || { echo "Bail out! $GT is not built"; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/pk-gluster-XXXXXX")
TAG=$(unique_tag)
R=$T/repo S=$T/state/state.db
B=$GLUSTER_BRICK/$TAG   # the pool's directory as the brick holds it
cleanup() {
    "$GT" rmtree "/$TAG" >/dev/null 2>&1
    [ -z "${PK_KEEP_TMP:-}" ] && rm -rf "$T"
}
trap cleanup EXIT
export POOLKEEPER_CONFIG=/dev/null
mkdir -p "$R/pools/gl"

pk() { local c=$1; shift; "$PK" "$c" --desired "$R" --state "$S" "$@" 2>&1; }
commit() { tgit -C "$R" add -A && tgit -C "$R" commit -qm "$1" --allow-empty; }
MiB=$((1 << 20))
pool_xml() { # name volume dir port
    cat >"$R/pools/$1.xml" <<XML
<pool type='gluster'>
  <name>$1</name>
  <source>
    <host name='$GLUSTER_HOST' port='$4'/>
    <dir path='$3'/>
    <name>$2</name>
  </source>
</pool>
XML
}
vol_xml() { # name MiB format [allocation-bytes] [mode]
    local alloc="" perms=""
    [ -n "${4:-}" ] && alloc="<allocation>$4</allocation>"
    [ -n "${5:-}" ] && perms="<permissions><mode>$5</mode></permissions>"
    cat >"$R/pools/gl/$1.xml" <<XML
<volume>
  <name>$1</name>
  <capacity unit='MiB'>$2</capacity>
  $alloc
  <target>
    <format type='$3'/>
    $perms
  </target>
</volume>
XML
}
brick() { stat -c "$1" "$B/$2" 2>/dev/null; }

pool_xml gl "$GLUSTER_VOLUME" "/$TAG" "$GLUSTER_PORT"
vol_xml sparse.raw 64 raw 0
vol_xml full.raw 8 raw "" 0640
qemu_gluster=0
qemu-img --help 2>/dev/null | grep -q 'Supported formats:.* gluster' && qemu_gluster=1
vol_xml img.qcow2 128 qcow2
tgit init -q "$R"
commit "gluster pool"

# ---- the pool's directory does not exist yet: an error, not "absent" ------
out=$(pk plan); rc=$?
is "$rc" 1 "plan with a missing pool directory exits 1"
like "$out" "error: cannot observe pool 'gl': directory '/$TAG' does not exist in gluster volume '$GLUSTER_VOLUME'" \
    "a missing directory is reported as such"
"$GT" mkdir "/$TAG" || { echo "Bail out! cannot make /$TAG in the volume"; exit 1; }

# ---- create: sparse raw, allocated raw, qcow2 ------------------------------
out=$(pk plan); rc=$?
is "$rc" 0 "plan succeeds"
like "$out" 'Plan: 3 to create\.' "three files to create"
out=$(pk apply --yes); rc=$?
if [ $qemu_gluster = 1 ]; then
    is "$rc" 0 "apply succeeds"
    like "$out" 'Apply complete: 3 done, 0 failed' "three files created"
    is "$(qemu-img info --output=json "$B/img.qcow2" | grep -o '"virtual-size": [0-9]*')" "\"virtual-size\": $((128 * MiB))" \
        "qcow2 made by qemu-img over gluster:// has its virtual size"
else
    is "$rc" 1 "apply fails for the qcow2 volume"
    like "$out" "qemu-img cannot write to gluster://" "the error says this qemu-img has no gluster support"
fi
is "$(brick %s sparse.raw)" $((64 * MiB)) "sparse.raw has its size on the brick"
ok "sparse.raw is sparse (glfs_ftruncate)" test "$(( $(brick %b sparse.raw) * 512 ))" -lt $MiB
is "$(brick %s full.raw)" $((8 * MiB)) "full.raw has its size"
ok "full.raw is allocated (glfs_fallocate)" test "$(( $(brick %b full.raw) * 512 ))" -ge $((8 * MiB))
is "$(brick %a full.raw)" 640 "full.raw has the mode of its XML"
is "$(brick %a sparse.raw)" 600 "a volume without a mode gets 0600"
ok "no temporary file is left" test -z "$(ls -A "$B" | grep '^\.pk-tmp')"
[ $qemu_gluster = 1 ] && { pk plan --detailed-exitcode >/dev/null; is "$?" 0 "second plan: no changes"; }

out=$(pk dumpxml vol gl sparse.raw)
like "$out" "<key>gluster://$GLUSTER_HOST:$GLUSTER_PORT/$GLUSTER_VOLUME/$TAG/sparse.raw</key>" "key is libvirt's gluster:// URL"
like "$out" "<capacity unit='bytes'>$((64 * MiB))</capacity>" "dumpxml capacity"
out=$(pk dumpxml pool gl)
like "$out" "<capacity unit='bytes'>$(( $(stat -f -c '%S * %b' "$GLUSTER_BRICK") ))</capacity>" \
    "pool capacity from glfs_statvfs is the brick filesystem's"

# ---- grow, shrink, mode --------------------------------------------------
vol_xml sparse.raw 128 raw 0
vol_xml full.raw 16 raw "" 0600
commit "grow, chmod"
out=$(pk plan)
like "$out" '~ vol\.resize +gl/sparse\.raw +64 MiB -> 128 MiB' "grow planned"
like "$out" '~ vol\.update +gl/full\.raw +mode 0640 -> mode 0600' "mode change planned"
pk apply --yes >/dev/null
is "$(brick %s sparse.raw)" $((128 * MiB)) "sparse.raw grown"
ok "sparse.raw still sparse" test "$(( $(brick %b sparse.raw) * 512 ))" -lt $MiB
is "$(brick %s full.raw)" $((16 * MiB)) "full.raw grown"
ok "full.raw stays fully allocated" test "$(( $(brick %b full.raw) * 512 ))" -ge $((16 * MiB))
is "$(brick %a full.raw)" 600 "mode changed"
vol_xml sparse.raw 32 raw 0
commit "shrink"
like "$(pk plan)" '! vol\.resize +gl/sparse\.raw.*allow_shrink' "shrink blocked without allow_shrink"
POOLKEEPER_ALLOW_SHRINK=true pk apply --yes >/dev/null
is "$(brick %s sparse.raw)" $((32 * MiB)) "shrunk under allow_shrink"

# ---- a file poolkeeper does not own; deleting under prune -----------------
"$GT" write "/$TAG/foreign.raw" 4096
git -C "$R" rm -q pools/gl/full.raw.xml
commit "remove full.raw"
like "$(pk plan)" '! vol\.delete +gl/full\.raw.*prune' "delete blocked without prune"
out=$(POOLKEEPER_PRUNE=true pk apply --yes --allow-mass-delete); rc=$?
is "$rc" 0 "prune apply succeeds"
ok "full.raw deleted" test ! -e "$B/full.raw"
is "$(brick %s foreign.raw)" 4096 "the foreign file is untouched"

# ---- a crash just before the link: the next run finishes the job ---------
vol_xml crash.raw 4 raw 0
commit "crash.raw"
PK_TEST_CRASH=vol.create.before-rename:1 pk apply --yes >/dev/null
is "$?" 137 "killed just before the link"
ok "the complete file waits under its temporary name" test -e "$B/.pk-tmp-$(hostname | cut -d. -f1).crash.raw"
ok "nothing carries the volume's name" test ! -e "$B/crash.raw"
pk apply --yes >/dev/null
is "$(brick %s crash.raw)" $((4 * MiB)) "the next run creates it"
ok "and removes the stale temporary" test -z "$(ls -A "$B" | grep '^\.pk-tmp')"

# ---- a file replaced behind our back is not ours -------------------------
"$GT" replace "/$TAG/sparse.raw"
out=$(POOLKEEPER_PRUNE=true POOLKEEPER_ALLOW_SHRINK=true pk plan)
like "$out" "volume 'gl/sparse\.raw' was replaced outside poolkeeper" "replacement detected by gfid"
unlike "$out" 'vol\.(delete|resize) +gl/sparse' "nothing is planned on the replacement"

# ---- unreachable server, missing volume, a volume that refuses us ---------
pool_xml down "$GLUSTER_VOLUME" / 24099
pool_xml ghost "nosuchvol-$TAG" / "$GLUSTER_PORT"
pool_xml denied "$GLUSTER_DENIED_VOLUME" / "$GLUSTER_PORT"
commit "unusable pools"
out=$(pk plan); rc=$?
is "$rc" 1 "plan with unusable pools exits 1"
like "$out" "error: cannot observe pool 'down': gluster server unreachable at '$GLUSTER_HOST:24099'" "unreachable server"
like "$out" "error: cannot observe pool 'ghost': gluster volume 'nosuchvol-$TAG' does not exist" "missing volume: does not exist"
like "$out" "error: cannot observe pool 'denied': gluster volume '$GLUSTER_DENIED_VOLUME' .*refused this client \(authentication" \
    "a volume that refuses this client: authentication"
unlike "$out" "cannot observe pool 'gl'" "the good pool is still observed"

done_testing
