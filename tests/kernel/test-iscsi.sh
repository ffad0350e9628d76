#!/bin/bash
# iscsi pools for real: tgtd in the VM on 127.0.0.1:3260 (one target
# without authentication, two with CHAP), the kernel initiator (iscsid,
# iscsi_tcp) driven by poolkeeper: login with and without CHAP, the CHAP
# password kept out of every command line, a wrong secret refused, the LUNs
# as volumes named by their /dev/disk/by-path links, logout on pool stop.
. "$PK_TEST_DATA/kernel/lib.sh"
PFX=iqn.2024-01.org.poolkeeper
cleanup() {
    iscsiadm --mode node --logoutall=all >/dev/null 2>&1
    iscsiadm -k 0 >/dev/null 2>&1
    for tid in 1 2 3; do tgtadm --lld iscsi --op delete --mode target --force --tid $tid >/dev/null 2>&1; done
    tgtadm --op delete --mode system >/dev/null 2>&1
    rm -rf /etc/iscsi/nodes/"$PFX":*
}

# ---- the target ------------------------------------------------------------
setsid tgtd -f --iscsi portal=127.0.0.1:3260 > "$T/tgtd.log" 2>&1 &
ok "tgtd is up" wait_for 30 tgtadm --lld iscsi --op show --mode target
target() { # TID NAME SIZE...
    local tid=$1 name=$2 lun=0; shift 2
    tgtadm --lld iscsi --op new --mode target --tid "$tid" -T "$PFX:$name"
    for size in "$@"; do
        lun=$((lun + 1))
        truncate -s "$size" "$T/$name-$lun.img"
        tgtadm --lld iscsi --op new --mode logicalunit --tid "$tid" --lun $lun -b "$T/$name-$lun.img"
    done
    tgtadm --lld iscsi --op bind --mode target --tid "$tid" -I 127.0.0.1
}
target 1 plain 32M 16M
target 2 chap 16M
target 3 chap2 8M
tgtadm --lld iscsi --op new --mode account --user pkuser --password pk-secret-1234
tgtadm --lld iscsi --op bind --mode account --tid 2 --user pkuser
tgtadm --lld iscsi --op bind --mode account --tid 3 --user pkuser

# ---- the initiator ---------------------------------------------------------
modprobe iscsi_tcp
# its own session: on SIGTERM iscsid signals its whole process group
setsid iscsid -f > "$T/iscsid.log" 2>&1 &
ok "iscsid is up" wait_for 30 grep -q ISCSIADM_ABSTRACT_NAMESPACE /proc/net/unix
mkdir -m 0700 "$T/secrets"
printf 'pk-secret-1234' > "$T/secrets/usage:pk-chap"
printf 'not-the-secret' > "$T/secrets/usage:pk-wrong"
chmod 0600 "$T/secrets/"*
export POOLKEEPER_SECRETS_DIR=$T/secrets

iscsi_pool() { # NAME TARGET [AUTH-XML]
    write_pool "$1" <<XML
<pool type='iscsi'>
  <name>$1</name>
  <source>
    <host name='127.0.0.1' port='3260'/>
    <device path='$PFX:$2'/>
    ${3:-}
  </source>
  <target><path>/dev/disk/by-path</path></target>
</pool>
XML
}
iscsi_pool plain plain
iscsi_pool chap chap "<auth type='chap' username='pkuser'><secret usage='pk-chap'/></auth>"
commit "two iSCSI pools"
out=$(pk apply --yes 2>&1); rc=$?
is "$rc" 0 "apply logs in to both targets"
like "$out" 'done +pool\.start +chap' "with CHAP"
like "$out" 'done +pool\.start +plain' "and without"
sessions=$(iscsiadm --mode session 2>/dev/null)
like "$sessions" "$PFX:plain " "a session to the plain target"
like "$sessions" "$PFX:chap " "a session to the CHAP target"
rec=$(ls /etc/iscsi/nodes/"$PFX:chap"/*/* | head -n 1)
ok "the CHAP password is in the node record" grep -qx 'node.session.auth.password = pk-secret-1234' "$rec"
is "$(stat -c %a "$rec")" 600 "which only root can read"
settle

# ---- LUNs as volumes --------------------------------------------------------
observe plain
is "$(vol_names)" "unit:0:0:1 unit:0:0:2" "the plain target's two LUNs"
bp=/dev/disk/by-path/ip-127.0.0.1:3260-iscsi-$PFX:plain-lun-1
is "$(obs_vol unit:0:0:1 path)" "$bp" "named by their by-path link"
is "$(obs_vol unit:0:0:1 capacity)" 33554432 "32 MiB"
is "$(obs_vol unit:0:0:2 capacity)" 16777216 "and 16 MiB"
observe chap
is "$(vol_names)" "unit:0:0:1" "the CHAP target's LUN"
out=$(pk dumpxml vol plain unit:0:0:1 2>&1)
like "$out" "<path>$bp</path>" "dumpxml shows the by-path device"
head -c 1048576 /dev/urandom > "$T/data"
dd if="$T/data" of="$bp" bs=1M oflag=direct status=none
ok "data written through the volume lands on the target's LUN" cmp -n 1048576 "$T/data" "$T/plain-1.img"
pk plan --detailed-exitcode >/dev/null 2>&1
is "$?" 0 "logged in: nothing to do"

# ---- a wrong secret ----------------------------------------------------------
iscsi_pool bad chap2 "<auth type='chap' username='pkuser'><secret usage='pk-wrong'/></auth>"
commit "a pool with the wrong secret"
out=$(pk apply --yes 2>&1); rc=$?
is "$rc" 1 "a login with the wrong CHAP secret fails"
like "$out" "cannot log in to iSCSI target '$PFX:chap2'.*authorization failure" "with iscsiadm's reason"
unlike "$(iscsiadm --mode session 2>/dev/null)" "$PFX:chap2" "no session"
unlike "$out" 'not-the-secret|pk-secret-1234' "no secret in the output"
tgit -C "$R" rm -q pools/bad.xml
commit "drop bad"

# ---- stop: logout ------------------------------------------------------------
pool_op "$(pool_file plain)" stop >/dev/null 2>&1
unlike "$(iscsiadm --mode session 2>/dev/null)" "$PFX:plain " "stop logged out of the plain target"
like "$(iscsiadm --mode session 2>/dev/null)" "$PFX:chap " "the other session stays"
observe plain
is "$(obs state)" inactive "observed inactive"
pool_op "$(pool_file chap)" stop >/dev/null 2>&1
is "$(iscsiadm --mode session 2>&1)" "iscsiadm: No active sessions." "stop logged out of the CHAP target too"
out=$(pk apply --yes 2>&1); rc=$?
is "$rc" 0 "apply logs in again"
like "$(iscsiadm --mode session 2>/dev/null)" "$PFX:chap " "CHAP session back (the password from the node record works)"

done_testing
