#!/bin/bash
# End to end on dir pools: real git repositories, real files, real qemu-img,
# the real poolkeeper binary. Every data-safety promise of design.md §5-§6.
set -u
. "$PK_TEST_DATA/lib.sh"
setup_repo engine

size_of() { stat -c %s "$1"; }

pool_xml default
for v in a b c d e f g; do vol_xml default $v.raw 8 raw; done
vol_xml default img.qcow2 64 qcow2 0640
commit "initial"

# ---- first apply, then nothing to do -------------------------------------
out=$(pk plan 2>&1); rc=$?
is "$rc" 0 "plan on an empty pool succeeds"
like "$out" '\+ pool\.build +default' "plan builds the pool"
like "$out" 'Plan: 1 pool, 8 to create\.' "plan creates the 8 volumes"
ok "plan changed nothing" test ! -e "$P/default"
out=$(pk apply --yes 2>&1); rc=$?
is "$rc" 0 "apply succeeds"
like "$out" 'Apply complete: 9 done, 0 failed' "apply reports 9 actions done"
is "$(size_of "$P/default/a.raw")" $((8 << 20)) "raw volume has its capacity"
is "$(qemu-img info --output=json "$P/default/img.qcow2" | grep -o '"virtual-size": [0-9]*')" '"virtual-size": 67108864' "qcow2 volume has its virtual size"
is "$(stat -c %a "$P/default/img.qcow2")" 640 "permissions from the XML applied"
pk plan --detailed-exitcode >/dev/null 2>&1
is "$?" 0 "second plan: no changes (detailed exit code 0)"
out=$(pk apply --yes 2>&1)
like "$out" 'No changes' "second apply has nothing to do"

# ---- storage poolkeeper does not own is never touched ---------------------
echo "precious" >"$P/default/foreign.raw"
mkdir -p "$P/default/somedir"
fi_before=$(stat -c '%i %s %Y' "$P/default/foreign.raw")

# ---- grow ----------------------------------------------------------------
vol_xml default a.raw 16 raw
commit "grow a"
out=$(pk plan 2>&1)
like "$out" '~ vol\.resize +default/a\.raw +8 MiB -> 16 MiB' "grow planned as vol.resize"
pk apply --yes >/dev/null 2>&1
is "$(size_of "$P/default/a.raw")" $((16 << 20)) "volume grown"

# ---- shrink: blocked, then allowed by policy ------------------------------
vol_xml default a.raw 4 raw
commit "shrink a"
out=$(pk plan 2>&1)
like "$out" '! vol\.resize +default/a\.raw.*blocked: .*allow_shrink' "shrink is blocked without allow_shrink"
out=$(pk apply --yes 2>&1); rc=$?
is "$rc" 0 "apply with only blocked actions exits 0"
is "$(size_of "$P/default/a.raw")" $((16 << 20)) "blocked shrink left the volume alone"
POOLKEEPER_ALLOW_SHRINK=true pk apply --yes >/dev/null 2>&1
is "$(size_of "$P/default/a.raw")" $((4 << 20)) "shrink applied with allow_shrink"

# ---- removal from the repo: blocked, then deleted with prune --------------
git -C "$R" rm -q "pools/default/b.raw.xml"
commit "remove b"
out=$(pk plan 2>&1)
like "$out" '! vol\.delete +default/b\.raw.*prune' "deletion blocked without prune"
pk apply --yes >/dev/null 2>&1
ok "blocked deletion left the file" test -f "$P/default/b.raw"
POOLKEEPER_PRUNE=true pk apply --yes >/dev/null 2>&1
ok "prune deleted the file" test ! -e "$P/default/b.raw"

# ---- rename = delete + create, both in the plan ---------------------------
git -C "$R" mv "pools/default/c.raw.xml" "pools/default/c2.raw.xml"
sed -i 's/<name>c.raw</<name>c2.raw</' "$R/pools/default/c2.raw.xml"
commit "rename c"
out=$(POOLKEEPER_PRUNE=true pk plan 2>&1)
like "$out" '\+ vol\.create +default/c2\.raw' "rename: the new name is created"
like "$out" '\- vol\.delete +default/c\.raw' "rename: the old name is deleted"
POOLKEEPER_PRUNE=true pk apply --yes >/dev/null 2>&1
ok "rename applied" test -f "$P/default/c2.raw" -a ! -e "$P/default/c.raw"

# ---- mass deletion guard -------------------------------------------------
git -C "$R" rm -q pools/default/d.raw.xml pools/default/e.raw.xml pools/default/f.raw.xml pools/default/g.raw.xml
commit "remove many"
out=$(POOLKEEPER_PRUNE=true pk apply --yes 2>&1)
like "$out" 'would delete 4 of 7 owned volumes.*allow-mass-delete' "mass deletion guard blocks deleting 4 of 7"
ok "guarded deletions did not happen" test -f "$P/default/d.raw" -a -f "$P/default/g.raw"
POOLKEEPER_PRUNE=true pk apply --yes --allow-mass-delete >/dev/null 2>&1
ok "--allow-mass-delete lets them through" test ! -e "$P/default/d.raw" -a ! -e "$P/default/g.raw"

# ---- an invalid file: nothing changes, and it says why --------------------
vol_xml default new.raw 1 raw
printf '<volume><name>broken.raw</name><capacity unit="X">1</capacity></volume>\n' >"$R/pools/default/broken.raw.xml"
commit "one bad file"
out=$(POOLKEEPER_PRUNE=true pk apply --yes 2>&1); rc=$?
is "$rc" 1 "apply with an invalid desired file fails"
like "$out" 'pools/default/broken\.raw\.xml:1: error:.*unit' "the error names the file, the line and the problem"
like "$out" 'nothing was changed' "and says nothing was changed"
ok "the valid new volume was not created either" test ! -e "$P/default/new.raw"
git -C "$R" rm -q pools/default/broken.raw.xml
commit "fix"
pk apply --yes >/dev/null 2>&1

# ---- the foreign file survived every command ------------------------------
is "$(stat -c '%i %s %Y' "$P/default/foreign.raw")" "$fi_before" "the file poolkeeper does not own is untouched"
is "$(cat "$P/default/foreign.raw")" "precious" "and its content too"
ok "the unowned directory is untouched" test -d "$P/default/somedir"

# ---- saved plans ---------------------------------------------------------
vol_xml default saved.raw 2 raw
commit "for a saved plan"
pk plan --out "$T/p1.json" >/dev/null 2>&1
ok "plan --out writes the plan file" test -s "$T/p1.json"
vol_xml default saved2.raw 2 raw
commit "desired moved on"
out=$(pk apply "$T/p1.json" 2>&1); rc=$?
is "$rc" 1 "a plan for an older commit is refused"
like "$out" 'stale' "with a 'stale' message"
ok "the stale plan changed nothing" test ! -e "$P/default/saved.raw"
pk plan --out "$T/p2.json" >/dev/null 2>&1
echo "new" >"$P/default/unmanaged.raw"   # storage the plan does not touch
out=$(pk apply "$T/p2.json" 2>&1); rc=$?
is "$rc" 0 "a fresh saved plan applies (untouched objects may change)"
ok "saved plan created its volumes" test -f "$P/default/saved.raw" -a -f "$P/default/saved2.raw"
pk plan --out "$T/p3.json" >/dev/null 2>&1   # plans the regrow of a.raw
truncate -s 5M "$P/default/a.raw"
out=$(pk apply "$T/p3.json" 2>&1); rc=$?
is "$rc" 1 "a saved plan whose volume changed on disk is refused"
like "$out" 'storage changed' "with the reason"
truncate -s 4M "$P/default/a.raw"
pk apply --yes >/dev/null 2>&1

# ---- observe error on one pool is not "absent" ----------------------------
pool_xml broken
vol_xml broken x.raw 1 raw
commit "a pool whose target is a file"
: >"$P/broken"
out=$(pk plan 2>&1); rc=$?
is "$rc" 1 "plan fails when a pool cannot be observed"
like "$out" "broken" "the unobservable pool is named"
unlike "$out" '(pool\.build|vol\.create) +broken' "nothing is planned for it"
out=$(POOLKEEPER_PRUNE=true pk apply --yes 2>&1)
ok "its target was not replaced" test -f "$P/broken"
rm -f "$P/broken"
git -C "$R" rm -rq pools/broken pools/broken.xml
commit "drop broken"

# ---- two concurrent applies ----------------------------------------------
vol_xml default lock.raw 1 raw
commit "lock test"
PK_TEST_STALL=intents:1 "$PK" apply --desired "$R" --state "$S" --yes >/dev/null 2>&1 &
holder=$!
for _ in $(seq 50); do
    grep -q "$holder" "$S.lock" 2>/dev/null && break
    sleep 0.1
done
start=$(date +%s%N)
out=$(pk apply --yes 2>&1); rc=$?
took=$(( ($(date +%s%N) - start) / 1000000 ))
is "$rc" 1 "a second apply fails"
like "$out" "locked by pid $holder" "with the lock holder's pid"
diag "second apply returned after ${took} ms"
kill -9 "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
out=$(pk apply --yes 2>&1); rc=$?
is "$rc" 0 "after the holder died the next apply runs"
ok "and converges" test -f "$P/default/lock.raw"
out=$(pk plan --detailed-exitcode 2>&1)
is "$?" 0 "nothing left to do after the interrupted run"
diag "$out"

# ---- dumpxml ------------------------------------------------------------
out=$(pk dumpxml vol default img.qcow2 2>&1)
like "$out" "<key>$P/default/img.qcow2</key>" "dumpxml vol: key is the path"
like "$out" "<capacity unit='bytes'>67108864</capacity>" "dumpxml vol: live capacity"
out=$(pk dumpxml pool default 2>&1)
like "$out" "<available unit='bytes'>[1-9][0-9]*</available>" "dumpxml pool: live available space"

done_testing
