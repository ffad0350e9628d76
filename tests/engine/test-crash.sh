#!/bin/bash
# Crash consistency: an apply of 200 volumes killed with SIGKILL at many
# points (after a batch of intents, after single operations, after a batch of
# results, inside a create before its rename), then run again: it must
# converge with nothing duplicated, no partial file under a final name, and
# ownership right (every volume deletable by prune afterwards).
set -u
. "$PK_TEST_DATA/lib.sh"
setup_repo crash
export POOLKEEPER_BATCH=16      # 200 volumes = 13 batches
N=200

pool_xml p "$T/pool"
for i in $(seq -w 1 $N); do vol_xml p "v$i.raw" 1; done
commit "200 volumes"

check_round() { # label state-file
    local label=$1 S=$2 bad=0 f
    for f in "$T"/pool/v*.raw; do
        [ -e "$f" ] || continue
        [ "$(stat -c %s "$f")" = 1048576 ] || bad=$((bad + 1))
    done
    is "$bad" 0 "$label: no partial file under a final name after the crash"
    out=$(pk apply --yes 2>&1); rc=$?
    is "$rc" 0 "$label: the next apply succeeds"
    is "$(find "$T/pool" -maxdepth 1 -name 'v*.raw' | wc -l)" $N "$label: all $N volumes exist"
    is "$(find "$T/pool" -maxdepth 1 -name '.pk-tmp-*' | wc -l)" 0 "$label: no temporary file left"
    out=$(pk plan --detailed-exitcode 2>&1); rc=$?
    is "$rc" 0 "$label: converged (plan has nothing to do)"
    unlike "$out" 'not owned' "$label: every volume is owned"
}

for point in intents:1 intents:4 op:1 op:17 op:100 op:200 results:1 results:7 \
             vol.create.before-rename:1 vol.create.before-rename:150; do
    rm -rf "$T/pool" "$T/state"
    S=$T/state/state.db
    PK_TEST_CRASH=$point pk apply --yes >/dev/null 2>&1
    rc=$?
    is "$rc" 137 "crash at $point: the apply was killed"
    check_round "crash at $point" "$S"
done

# Deletion interrupted half way, then finished; ownership released.
tgit -C "$R" rm -rq pools/p && commit "keep only the pool"
mkdir -p "$R/pools/p"
PK_TEST_CRASH=op:50 POOLKEEPER_PRUNE=true pk apply --yes --allow-mass-delete >/dev/null 2>&1
is "$?" 137 "crash at op:50 of a prune of $N volumes"
left=$(find "$T/pool" -maxdepth 1 -name 'v*.raw' | wc -l)
ok "some volumes were deleted before the crash ($left left)" test "$left" -lt $N -a "$left" -gt 0
POOLKEEPER_PRUNE=true pk apply --yes --allow-mass-delete >/dev/null 2>&1
is "$?" 0 "the prune finishes after the crash"
is "$(find "$T/pool" -maxdepth 1 -name 'v*.raw' | wc -l)" 0 "every owned volume was deleted: ownership was right"
out=$(pk plan --detailed-exitcode 2>&1)
is "$?" 0 "nothing left to do"

done_testing
