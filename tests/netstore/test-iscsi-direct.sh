#!/bin/bash
# iscsi-direct pools end to end: the real poolkeeper binary, a git repo of pool
# XML, a secrets directory and a real tgtd (tests/services/tgt-up.sh) with two
# targets, one without and one with CHAP, found through TGT_HOST, TGT_PORT,
# TGT_IQN_PLAIN, TGT_PLAIN_LUNS, TGT_IQN_CHAP, TGT_CHAP_LUNS, TGT_CHAP_USER,
# TGT_CHAP_PASS and TGT_INITIATOR_IQN.
#
# LUNs are observed (names, keys, capacities, identities); an initiator
# cannot make or resize them, so a missing LUN and a different capacity are
# reported, never acted on.
set -u
. "$PK_TEST_DATA/tap.sh"
. "$PK_TEST_DATA/netstore/services.sh"
need_service tgt TGT_HOST TGT_PORT TGT_IQN_PLAIN TGT_PLAIN_LUNS TGT_IQN_CHAP TGT_CHAP_LUNS \
    TGT_CHAP_USER TGT_CHAP_PASS TGT_INITIATOR_IQN
PK=${POOLKEEPER:?}

T=$(mktemp -d "${TMPDIR:-/tmp}/pk-iscsi-XXXXXX")
[ -z "${PK_KEEP_TMP:-}" ] && trap 'rm -rf "$T"' EXIT
R=$T/repo S=$T/state/state.db SEC=$T/secrets
mkdir -p "$R/pools/plain" "$R/pools/chap" "$SEC"
chmod 700 "$SEC"
export POOLKEEPER_CONFIG=/dev/null POOLKEEPER_SECRETS_DIR=$SEC
LOG=$T/all-output.log

pk() { local c=$1; shift; "$PK" "$c" --desired "$R" --state "$S" "$@" 2>&1 | tee -a "$LOG"; return "${PIPESTATUS[0]}"; }
commit() { tgit -C "$R" add -A && tgit -C "$R" commit -qm "$1" --allow-empty; }
bytes() { numfmt --from=iec "$1"; }
nth() { echo "$1" | awk -v n="$2" '{ print $n }'; }
pool_xml() { # name target port [auth-secret-usage [user]]
    local auth=""
    [ -n "${4:-}" ] && auth="<auth type='chap' username='${5:-$TGT_CHAP_USER}'><secret usage='$4'/></auth>"
    cat >"$R/pools/$1.xml" <<XML
<pool type='iscsi-direct'>
  <name>$1</name>
  <source>
    <host name='$TGT_HOST' port='$3'/>
    <device path='$2'/>
    <initiator>
      <iqn name='$TGT_INITIATOR_IQN'/>
    </initiator>
    $auth
  </source>
</pool>
XML
}
vol_xml() { # pool lun bytes
    mkdir -p "$R/pools/$1"
    cat >"$R/pools/$1/unit:0:0:$2.xml" <<XML
<volume type='network'>
  <name>unit:0:0:$2</name>
  <capacity unit='bytes'>$3</capacity>
</volume>
XML
}

printf '%s' "$TGT_CHAP_PASS" | secret_file "$SEC" usage:tgt-chap
pool_xml plain "$TGT_IQN_PLAIN" "$TGT_PORT"
pool_xml chap "$TGT_IQN_CHAP" "$TGT_PORT" tgt-chap
P1=$(bytes "$(nth "$TGT_PLAIN_LUNS" 1)") P2=$(bytes "$(nth "$TGT_PLAIN_LUNS" 2)")
C1=$(bytes "$(nth "$TGT_CHAP_LUNS" 1)") C2=$(bytes "$(nth "$TGT_CHAP_LUNS" 2)")
vol_xml plain 1 "$P1"
vol_xml chap 2 "$C2"
tgit init -q "$R"
commit "two targets"

# ---- the LUNs as they are ------------------------------------------------
out=$(pk plan); rc=$?
is "$rc" 0 "plan against both targets succeeds"
like "$out" "volume 'plain/unit:0:0:1' exists, not owned: adopt it" "a desired LUN that exists is reported, not created"
for spec in "plain 1 $P1" "plain 2 $P2" "chap 1 $C1" "chap 2 $C2"; do
    set -- $spec
    out=$(pk dumpxml vol "$1" "unit:0:0:$2")
    iqn=$TGT_IQN_PLAIN; [ "$1" = chap ] && iqn=$TGT_IQN_CHAP
    like "$out" "<capacity unit='bytes'>$3</capacity>" "$1 LUN $2: capacity $3 bytes (READ CAPACITY 16)"
    like "$out" "<key>ip-$TGT_HOST:$TGT_PORT-iscsi-$iqn-lun-$2</key>" "$1 LUN $2: libvirt's key"
done
out=$(pk dumpxml vol plain unit:0:0:0)
like "$out" "<capacity unit='bytes'>0</capacity>" "the target's controller LUN 0 is listed with no capacity, as libvirt does"
like "$(pk dumpxml pool plain)" "<capacity unit='bytes'>$((P1 + P2))</capacity>" "pool capacity is the sum of its LUNs"
like "$(pk dumpxml pool chap)" "<capacity unit='bytes'>$((C1 + C2))</capacity>" "CHAP pool capacity is the sum of its LUNs"
ids=$(sqlite3 "$S" "select identity from obs_vol where pool = 'plain' order by name")
is "$(echo "$ids" | grep -cE '^naa\.[0-9a-f]{16,}$')" 3 "every LUN's identity is its NAA designator (VPD 0x83)"
is "$(echo "$ids" | sort -u | wc -l)" 3 "and they differ"

# ---- a missing LUN, a different capacity: reported, never acted on ---------
vol_xml plain 7 "$P1"
commit "a LUN that does not exist"
out=$(pk plan); rc=$?
is "$rc" 1 "a missing LUN makes plan exit 1"
like "$out" "error: pool type 'iscsi-direct' cannot create volumes: 'plain/unit:0:0:7' is not created" "the missing LUN is named"
out=$(pk apply --yes); rc=$?
is "$rc" 1 "apply exits 1 too"
unlike "$out" 'done ' "and does nothing"
git -C "$R" rm -q "pools/plain/unit:0:0:7.xml"
commit "drop it"
out=$(pk adopt vol plain unit:0:0:1); rc=$?
is "$rc" 0 "an existing LUN can be adopted"
vol_xml plain 1 $((P1 * 2))
commit "a bigger LUN 1"
out=$(pk plan); rc=$?
like "$out" "error: pool type 'iscsi-direct' cannot grow volumes: 'plain/unit:0:0:1' stays at" "a capacity difference is reported as drift that cannot be corrected"
unlike "$out" 'vol\.resize' "no resize is planned"
vol_xml plain 1 "$P1"
commit "back"

# ---- errors: each its own --------------------------------------------------
pool_xml nochap "$TGT_IQN_CHAP" "$TGT_PORT"
printf 'wrong-secret-1234' | secret_file "$SEC" usage:tgt-wrong
pool_xml wrongchap "$TGT_IQN_CHAP" "$TGT_PORT" tgt-wrong
pool_xml nosecret "$TGT_IQN_CHAP" "$TGT_PORT" tgt-missing
pool_xml ghost "$TGT_IQN_PLAIN-nosuch" "$TGT_PORT"
pool_xml down "$TGT_IQN_PLAIN" 1
commit "unusable pools"
out=$(pk plan); rc=$?
is "$rc" 1 "plan with unusable pools exits 1"
like "$out" "cannot observe pool 'nochap': iSCSI authentication failed: target '$TGT_IQN_CHAP' at '$TGT_HOST:$TGT_PORT' refused a login without CHAP" \
    "CHAP target without CHAP: authentication failed"
like "$out" "cannot observe pool 'wrongchap': iSCSI authentication failed: .*refused the CHAP credentials" "wrong CHAP secret: authentication failed"
like "$out" "cannot observe pool 'nosecret': cannot read the CHAP secret of pool 'nosecret': secret file '.*usage:tgt-missing' does not exist" \
    "missing secret file named"
like "$out" "cannot observe pool 'ghost': iSCSI target '$TGT_IQN_PLAIN-nosuch' does not exist at" "missing target: does not exist"
like "$out" "cannot observe pool 'down': iSCSI portal unreachable at '$TGT_HOST:1'" "closed port: unreachable"
unlike "$out" "cannot observe pool '(plain|chap)'" "the good pools are still observed"
ok "the CHAP secret is in no output" eval "! grep -qF -- '$TGT_CHAP_PASS' '$LOG'"
ok "the CHAP secret is not in the state database" eval "! grep -qaF -- '$TGT_CHAP_PASS' '$S' '$S-wal' 2>/dev/null"

done_testing
