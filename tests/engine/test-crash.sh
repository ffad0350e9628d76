#!/bin/bash
# Crash consistency: an apply of 200 volumes killed with SIGKILL at many
# points (after a batch of intents, after single operations, after a batch of
# results, inside a create before its rename), then run again: it must
# converge with nothing duplicated, no partial file under a final name, and
# ownership right (every volume deletable by prune afterwards).
set -u
. "$PK_TEST_DATA/tap.sh"
PK=${POOLKEEPER:?}
T=$(tmpdir crash)
R=$T/repo
export POOLKEEPER_CONFIG=/dev/null
export POOLKEEPER_BATCH=16      # 200 volumes = 13 batches
N=200

mkdir -p "$R/pools/p"
tgit init -q "$R"
cat >"$R/pools/p.xml" <<XML
<pool type='dir'><name>p</name><target><path>$T/pool</path></target></pool>
XML
for i in $(seq -w 1 $N); do
    printf "<volume><name>v%s.raw</name><capacity unit='KiB'>1024</capacity></volume>\n" "$i" \
        >"$R/pools/p/v$i.raw.xml"
done
tgit -C "$R" add -A && tgit -C "$R" commit -qm "200 volumes"

check_round() { # label state-file
    local label=$1 S=$2 bad=0 f
    for f in "$T"/pool/v*.raw; do
        [ -e "$f" ] || continue
        [ "$(stat -c %s "$f")" = 1048576 ] || bad=$((bad + 1))
    done
    is "$bad" 0 "$label: no partial file under a final name after the crash"
    out=$("$PK" apply --yes --desired "$R" --state "$S" 2>&1); rc=$?
    is "$rc" 0 "$label: the next apply succeeds"
    is "$(find "$T/pool" -maxdepth 1 -name 'v*.raw' | wc -l)" $N "$label: all $N volumes exist"
    is "$(find "$T/pool" -maxdepth 1 -name '.pk-tmp-*' | wc -l)" 0 "$label: no temporary file left"
    out=$("$PK" plan --detailed-exitcode --desired "$R" --state "$S" 2>&1); rc=$?
    is "$rc" 0 "$label: converged (plan has nothing to do)"
    unlike "$out" 'not owned' "$label: every volume is owned"
}

for point in intents:1 intents:4 op:1 op:17 op:100 op:200 results:1 results:7 \
             vol.create.before-rename:1 vol.create.before-rename:150; do
    rm -rf "$T/pool" "$T/state"
    S=$T/state/state.db
    PK_TEST_CRASH=$point "$PK" apply --yes --desired "$R" --state "$S" >/dev/null 2>&1
    rc=$?
    is "$rc" 137 "crash at $point: the apply was killed"
    check_round "crash at $point" "$S"
done

# Deletion interrupted half way, then finished; ownership released.
tgit -C "$R" rm -rq pools/p && tgit -C "$R" commit -qm "keep only the pool" --allow-empty
mkdir -p "$R/pools/p"
PK_TEST_CRASH=op:50 POOLKEEPER_PRUNE=true "$PK" apply --yes --allow-mass-delete --desired "$R" --state "$S" >/dev/null 2>&1
is "$?" 137 "crash at op:50 of a prune of $N volumes"
left=$(find "$T/pool" -maxdepth 1 -name 'v*.raw' | wc -l)
ok "some volumes were deleted before the crash ($left left)" test "$left" -lt $N -a "$left" -gt 0
POOLKEEPER_PRUNE=true "$PK" apply --yes --allow-mass-delete --desired "$R" --state "$S" >/dev/null 2>&1
is "$?" 0 "the prune finishes after the crash"
is "$(find "$T/pool" -maxdepth 1 -name 'v*.raw' | wc -l)" 0 "every owned volume was deleted: ownership was right"
out=$("$PK" plan --detailed-exitcode --desired "$R" --state "$S" 2>&1)
is "$?" 0 "nothing left to do"

done_testing
