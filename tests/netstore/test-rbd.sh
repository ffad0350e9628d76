#!/bin/bash
# rbd pools end to end: the real poolkeeper binary, a git repo of pool XML, a
# secrets directory, and a real single-node Ceph cluster (tests/services/ceph-up.sh)
# whose address comes from the environment (CEPH_CONF, CEPH_MON_HOST, CEPH_MON_PORT).
#
# The test makes its own RADOS pool and its own cephx user limited to that
# pool (profile rbd pool=...), removes both at the end, and starts a second,
# throwaway cluster for the "stopped cluster" part.
set -u
. "$PK_TEST_DATA/tap.sh"
. "$PK_TEST_DATA/netstore/services.sh"
need_service ceph CEPH_CONF CEPH_MON_HOST CEPH_MON_PORT
PK=${POOLKEEPER:?}
SVC=$PK_TEST_DATA/services

T=$(mktemp -d "${TMPDIR:-/tmp}/pk-rbd-XXXXXX")
TAG=$(unique_tag)
P=$TAG-rbd            # the RADOS pool of this run
U=$TAG                # its cephx user: client.$U, caps on $P only
R=$T/repo S=$T/state/state.db SEC=$T/secrets
C2=$T/ceph2           # the second cluster (stopped and started again)
mkdir -p "$R/pools/ceph" "$SEC"
chmod 700 "$SEC"
export POOLKEEPER_CONFIG=/dev/null POOLKEEPER_SECRETS_DIR=$SEC
LOG=$T/all-output.log  # everything poolkeeper printed, checked for the key at the end

admin() { timeout 60 ceph --id admin --connect-timeout 30 "$@"; }
rbdc() { timeout 60 rbd --id admin "$@"; }
cleanup() {
    CEPH_DATA_DIR=$C2 "$SVC/ceph-down.sh" --purge >/dev/null 2>&1
    admin osd pool rm "$P" "$P" --yes-i-really-really-mean-it >/dev/null 2>&1
    admin auth del "client.$U" >/dev/null 2>&1
    admin auth del "client.$U-other" >/dev/null 2>&1
    [ -z "${PK_KEEP_TMP:-}" ] && rm -rf "$T"
}
trap cleanup EXIT

pk() { local c=$1; shift; "$PK" "$c" --desired "$R" --state "$S" "$@" 2>&1 | tee -a "$LOG"; return "${PIPESTATUS[0]}"; }
commit() { tgit -C "$R" add -A && tgit -C "$R" commit -qm "$1" --allow-empty; }
size_of() { rbdc info --format json "$P/$1" 2>/dev/null | grep -o '"size":[0-9]*' | cut -d: -f2; }
has_image() { rbdc ls "$P" 2>/dev/null | grep -qx -- "$1"; }
MiB=$((1 << 20))
pool_xml() { # file name ceph-pool user secret-usage host port [extra-options [extra-host-xml]]
    cat >"$R/pools/$1.xml" <<XML
<pool type='rbd' xmlns:rbd='http://libvirt.org/schemas/storagepool/rbd/1.0'>
  <name>$1</name>
  <source>
    <name>$2</name>${8:-}
    <host name='$5' port='$6'/>
    <auth type='ceph' username='$3'>
      <secret usage='$4'/>
    </auth>
  </source>
  <rbd:config_opts>
    <rbd:option name='client_mount_timeout' value='10'/>${7:-}
  </rbd:config_opts>
</pool>
XML
}
vol_xml() { # pool name MiB [backing]
    local backing=""
    [ -n "${4:-}" ] && backing="<backingStore><path>$4</path></backingStore>"
    cat >"$R/pools/$1/$2.xml" <<XML
<volume>
  <name>$2</name>
  <capacity unit='MiB'>$3</capacity>
  $backing
</volume>
XML
}

# ---- the cluster side: a pool and a user limited to it -------------------
if ! admin osd pool create "$P" 8 8 >/dev/null 2>&1 || ! timeout 120 rbd --id admin pool init "$P"; then
    echo "Bail out! cannot create the RADOS pool '$P' as client.admin"
    exit 1
fi
KEY=$(admin auth get-or-create-key "client.$U" mon 'profile rbd' osd "profile rbd pool=$P" \
      mgr "profile rbd pool=$P") || { echo "Bail out! cannot create client.$U"; exit 1; }
printf '%s\n' "$KEY" | secret_file "$SEC" "usage:ceph-$TAG"

# Two monitors, the first one down: the pool works through the other.
pool_xml ceph "$P" "$U" "ceph-$TAG" "$CEPH_MON_HOST" "$CEPH_MON_PORT" "" "
    <host name='127.0.0.1' port='1'/>"
vol_xml ceph a 64
vol_xml ceph b 32
vol_xml ceph c 16
tgit init -q "$R"
commit "three images"

# ---- create three images through the real binary --------------------------
out=$(pk plan); rc=$?
is "$rc" 0 "plan against the cluster succeeds (one of its two monitors down)"
like "$out" 'Plan: 3 to create\.' "plan creates the three images"
ok "plan created nothing" test -z "$(rbdc ls "$P")"
out=$(pk apply --yes); rc=$?
is "$rc" 0 "apply succeeds"
like "$out" 'Apply complete: 3 done, 0 failed' "three images created"
is "$(size_of a)" $((64 * MiB)) "image a has its capacity"
is "$(size_of b)" $((32 * MiB)) "image b has its capacity"
is "$(size_of c)" $((16 * MiB)) "image c has its capacity"
is "$(rbdc ls "$P" | grep -c '^\.pk-tmp')" 0 "no temporary image is left"
pk plan --detailed-exitcode >/dev/null
is "$?" 0 "second plan: no changes"

out=$(pk dumpxml vol ceph a)
like "$out" "<key>$P/a</key>" "volume key is POOL/IMAGE, as libvirt's"
like "$out" "<path>$P/a</path>" "volume path is POOL/IMAGE"
like "$out" "<capacity unit='bytes'>$((64 * MiB))</capacity>" "dumpxml shows the capacity"
like "$out" "<allocation unit='bytes'>0</allocation>" "a new image allocates nothing (rbd du)"
out=$(pk dumpxml pool ceph)
total=$(admin df --format json | grep -o '"total_bytes":[0-9]*' | head -1 | cut -d: -f2)
like "$out" "<capacity unit='bytes'>$total</capacity>" "pool capacity is the cluster's (ceph df total_bytes)"

# ---- grow, shrink (blocked, then allowed) --------------------------------
vol_xml ceph a 128
commit "grow a"
like "$(pk plan)" '~ vol\.resize +ceph/a +64 MiB -> 128 MiB' "grow planned"
pk apply --yes >/dev/null
is "$(size_of a)" $((128 * MiB)) "image a grown with rbd_resize2"

vol_xml ceph b 16
commit "shrink b"
like "$(pk plan)" '! vol\.resize +ceph/b.*blocked: .*allow_shrink' "shrink blocked without allow_shrink"
pk apply --yes >/dev/null
is "$?" 0 "apply with only a blocked shrink exits 0"
is "$(size_of b)" $((32 * MiB)) "blocked shrink left the image alone"
POOLKEEPER_ALLOW_SHRINK=true pk apply --yes >/dev/null
is "$(size_of b)" $((16 * MiB)) "shrink applied under allow_shrink"

# ---- delete under prune, with the image's snapshots ----------------------
rbdc snap create "$P/b@keep" >/dev/null 2>&1
git -C "$R" rm -q pools/ceph/b.xml
commit "remove b"
out=$(pk plan)
like "$out" '! vol\.delete +ceph/b.*prune' "delete blocked without prune"
like "$out" "note: deleting 'ceph/b' also deletes its 1 snapshot\(s\)" "the plan says the snapshot goes with it"
pk apply --yes >/dev/null
ok "blocked delete left the image" has_image b
# (one of three owned volumes is more than max_delete_percent allows)
out=$(POOLKEEPER_PRUNE=true pk apply --yes --allow-mass-delete); rc=$?
is "$rc" 0 "prune apply succeeds"
ok "prune deleted the image" eval '! has_image b'
like "$out" "removed snapshot 'keep' of RBD image '$P/b'" "its snapshot went first, and the log says so"

# ---- an image whose snapshot has a clone is not deleted ------------------
# The clone shows its parent image as backing store, so the planner keeps
# the parent while the clone is kept (the backend refuses it too).
rbdc snap create "$P/c@base" >/dev/null 2>&1
rbdc snap protect "$P/c@base" >/dev/null 2>&1
rbdc clone "$P/c@base" "$P/c-child" >/dev/null 2>&1
git -C "$R" rm -q pools/ceph/c.xml
commit "remove c"
out=$(POOLKEEPER_PRUNE=true pk apply --yes --allow-mass-delete); rc=$?
like "$out" "! vol\.delete +ceph/c .*blocked: 'ceph/c' is the backing file of 'ceph/c-child', which is kept" \
    "deleting an image with a clone is blocked, naming the clone"
ok "the image is still there" has_image c
ok "the clone is untouched" has_image c-child

# ---- a clone from <backingStore> POOL/IMAGE@SNAP --------------------------
rbdc create --size 16M "$P/golden" >/dev/null 2>&1
rbdc snap create "$P/golden@v1" >/dev/null 2>&1
vol_xml ceph vm1 32 "$P/golden@v1"
commit "clone vm1"
out=$(pk apply --yes); rc=$?
is "$rc" 0 "clone created"
like "$(rbdc info "$P/vm1")" "parent: $P/golden@v1" "vm1 is a clone of golden@v1"
is "$(size_of vm1)" $((32 * MiB)) "the clone was grown to its capacity"
like "$(pk dumpxml vol ceph vm1)" "<backingStore>" "the clone shows its parent as backing store"

# ---- crashes: before the rename, and after the image is made -------------
host=$(hostname | cut -d. -f1)
vol_xml ceph crash1 8
commit "crash1"
PK_TEST_CRASH=vol.create.before-rename:1 pk apply --yes >/dev/null
is "$?" 137 "killed just before the rename"
ok "the complete image waits under its temporary name" eval "rbdc ls '$P' | grep -qxF '.pk-tmp-$host.crash1'"
ok "nothing carries the volume's name" eval '! has_image crash1'
like "$(pk plan)" '\+ vol\.create +ceph/crash1' "the temporary is not taken for the volume"
pk apply --yes >/dev/null
ok "the next run creates it" has_image crash1
is "$(rbdc ls "$P" | grep -c '^\.pk-tmp')" 0 "and the stale temporary is gone"
vol_xml ceph crash2 8
commit "crash2"
PK_TEST_CRASH=op:1 pk apply --yes >/dev/null
is "$?" 137 "killed after the image was made, before its result was journaled"
ok "the image exists" has_image crash2
out=$(pk apply --yes)
like "$out" 'vol\.create crash2: completed before run [0-9]+ was interrupted' "the next run recognises it by its creation time"
unlike "$out" 'vol\.create +ceph/crash2' "and does not create it again"
is "$(sqlite3 "$S" "select how from ownership where pool = 'ceph' and vol = 'crash2'")" created "and owns it"

# ---- identity: an image replaced behind our back is not ours --------------
rbdc rm "$P/a" >/dev/null 2>&1
rbdc create --size 128M "$P/a" >/dev/null 2>&1
out=$(pk plan)
like "$out" "volume 'ceph/a' was replaced outside poolkeeper" "replacement detected by image id"
out=$(POOLKEEPER_PRUNE=true POOLKEEPER_ALLOW_SHRINK=true pk plan)
unlike "$out" 'vol\.(delete|resize) +ceph/a' "nothing is planned on the replacement"

# ---- auth: a wrong key fails cleanly; a user of another pool is refused ---
cp "$SEC/usage:ceph-$TAG" "$T/good-key"
ceph-authtool --gen-print-key | secret_file "$SEC" "usage:ceph-$TAG"
out=$(pk plan --detailed-exitcode); rc=$?
is "$rc" 1 "a wrong key: plan exits 1"
like "$out" "Ceph authentication as 'client\.$U' failed" "a wrong key is reported as an authentication failure"
unlike "$out" '^ +[-+~!] (vol|pool)\.' "a wrong key plans nothing"
cp "$T/good-key" "$SEC/usage:ceph-$TAG"

admin auth get-or-create-key "client.$U-other" mon 'profile rbd' osd "profile rbd pool=$P-other" \
    | secret_file "$SEC" "usage:ceph-$TAG-other"
pool_xml other "$P" "$U-other" "ceph-$TAG-other" "$CEPH_MON_HOST" "$CEPH_MON_PORT"
pool_xml ghost "$TAG-nosuchpool" "$U" "ceph-$TAG" "$CEPH_MON_HOST" "$CEPH_MON_PORT"
pool_xml badopt "$P" "$U" "ceph-$TAG" "$CEPH_MON_HOST" "$CEPH_MON_PORT" "
    <rbd:option name='no_such_option_$TAG' value='1'/>"
commit "other pools"
out=$(pk plan); rc=$?
is "$rc" 1 "plan with unusable pools exits 1"
like "$out" "error: cannot observe pool 'other': .*(Operation not permitted|Permission denied)" "a user limited to another Ceph pool is refused"
like "$out" "error: cannot observe pool 'ghost': Ceph pool '$TAG-nosuchpool' does not exist" "a missing Ceph pool is 'does not exist', not absent"
like "$out" "error: cannot observe pool 'badopt': .*unknown Ceph option 'no_such_option_$TAG'" "an unknown rbd:config_opts option is an error"
unlike "$out" 'error: cannot observe pool .ceph.' "the good pool is still observed"
git -C "$R" rm -q pools/other.xml pools/ghost.xml pools/badopt.xml
commit "drop the other pools"

# ---- secrets never leave the secrets directory ---------------------------
ok "the key is in no output" eval "! grep -qF -- '$KEY' '$LOG'"
ok "the key is not in the state database" eval "! grep -qaF -- '$KEY' '$S' '$S-wal' 2>/dev/null"

# ---- a stopped cluster: errors, no changes; started again: nothing to do --
if ! env -u CEPH_MON_PORT -u CEPH_MON_V2_PORT -u CEPH_POOL -u CEPH_CLIENT -u CEPH_CONF \
        CEPH_DATA_DIR="$C2" CEPH_MGR=0 "$SVC/ceph-up.sh" >"$T/c2.env" 2>"$T/c2.log"; then
    diag "$(tail -20 "$T/c2.log")"
    echo "Bail out! the second Ceph cluster did not start"
    exit 1
fi
c2() { (. "$T/c2.env"; eval "echo \$$1"); }
R2=$T/repo2 S2=$T/state2/state.db
mkdir -p "$R2/pools/far"
c2 CEPH_CLIENT_KEY | secret_file "$SEC" "usage:ceph-far-$TAG"
R_SAVE=$R; R=$R2 S_SAVE=$S; S=$S2
pool_xml far rbd "$(c2 CEPH_CLIENT)" "ceph-far-$TAG" 127.0.0.1 "$(c2 CEPH_MON_PORT)"
vol_xml far x 8
vol_xml far y 8
tgit init -q "$R2"
commit "far"
out=$(pk apply --yes); rc=$?
is "$rc" 0 "apply on the second cluster"
CEPH_DATA_DIR=$C2 "$SVC/ceph-down.sh" >/dev/null 2>&1
vol_xml far x 16
git -C "$R2" rm -q pools/far/y.xml
commit "changes while it is down"
t0=$(date +%s)
out=$(POOLKEEPER_PRUNE=true pk plan --detailed-exitcode); rc=$?
t1=$(date +%s)
is "$rc" 1 "stopped cluster: plan exits 1"
like "$out" "error: cannot observe pool 'far': Ceph monitors unreachable at '127\.0\.0\.1:[0-9]+'" "stopped cluster: monitors unreachable"
unlike "$out" 'vol\.(create|delete|resize)' "stopped cluster: no volume is planned (unknown is never absent)"
ok "stopped cluster fails fast ($((t1 - t0)) s)" test $((t1 - t0)) -lt 10
out=$(POOLKEEPER_PRUNE=true pk apply --yes); rc=$?
is "$rc" 1 "stopped cluster: apply exits 1"
unlike "$out" 'done +vol\.' "stopped cluster: apply changes nothing"
if env -u CEPH_MON_PORT -u CEPH_MON_V2_PORT -u CEPH_CONF CEPH_DATA_DIR="$C2" "$SVC/ceph-up.sh" >/dev/null 2>"$T/c2.log"; then
    git -C "$R2" checkout -q HEAD~1 -- pools && commit "back as it was"
    out=$(pk plan --detailed-exitcode); rc=$?
    is "$rc" 0 "started again: the state is as it was, nothing to do"
    diag "$out"
else
    diag "$(tail -20 "$T/c2.log")"
    ok "the second cluster starts again" false
fi
R=$R_SAVE S=$S_SAVE

done_testing
