#!/bin/bash
# Pools removed from the desired repository: their owned volumes are deleted
# under prune and the pool's storage under allow_pool_delete, acting through
# the definition the state database kept; nothing poolkeeper does not own is
# touched, and an apply killed half way through a cleanup converges.
# Real git repositories, real files, the real binary.
set -u
. "$PK_TEST_DATA/lib.sh"
setup_repo retired
remove_pool() { tgit -C "$R" rm -rq "pools/$1.xml" "pools/$1" && commit "remove $1"; }
count() { find "$1" -maxdepth 1 -name "$2" 2>/dev/null | wc -l; }

pool_xml keep
for v in a b c d e f g h; do vol_xml keep $v.raw 1; done
pool_xml old
for v in x y z; do vol_xml old $v.raw 2; done
commit "two pools"
pk apply --yes >/dev/null 2>&1
is "$?" 0 "both pools built and filled"
is "$(count "$P/old" '*.raw')" 3 "pool 'old' holds its 3 volumes"

# ---- removed: without policy nothing goes ---------------------------------
remove_pool old
out=$(pk plan 2>&1)
like "$out" '! vol\.delete +old/x\.raw .*blocked: deleting needs policy prune' "volumes of the removed pool: deletion blocked without prune"
like "$out" '! pool\.delete +old .*blocked' "the removed pool's deletion is blocked"
unlike "$out" 'definition was not saved' "the removed pool's definition was saved"
pk apply --yes >/dev/null 2>&1
is "$(count "$P/old" '*.raw')" 3 "apply without policy deleted nothing"

# ---- restored before cleanup: back to normal ------------------------------
tgit -C "$R" revert --no-edit HEAD >/dev/null
pk plan --detailed-exitcode >/dev/null 2>&1
is "$?" 0 "the pool's file restored: nothing to do"
remove_pool old

# ---- prune: the volumes go, the pool stays --------------------------------
echo precious >"$P/old/notes.txt"
out=$(POOLKEEPER_PRUNE=true pk apply --yes --allow-mass-delete 2>&1); rc=$?
like "$out" 'vol\.delete +old/x\.raw' "prune deletes the owned volumes of a removed pool"
is "$(count "$P/old" '*.raw')" 0 "its 3 volumes are gone"
is "$(cat "$P/old/notes.txt")" precious "a file poolkeeper does not own is untouched"
ok "the pool's directory stays without allow_pool_delete" test -d "$P/old"
is "$(count "$P/keep" '*.raw')" 8 "the other pool is untouched"

# ---- allow_pool_delete: refused while foreign content is there ------------
out=$(POOLKEEPER_PRUNE=true POOLKEEPER_ALLOW_POOL_DELETE=true pk plan 2>&1)
like "$out" "pool 'old' holds volume 'notes\.txt' that poolkeeper does not own" "pool deletion blocked by foreign content"
POOLKEEPER_PRUNE=true POOLKEEPER_ALLOW_POOL_DELETE=true pk apply --yes >/dev/null 2>&1
ok "the directory with foreign content stays" test -f "$P/old/notes.txt"

rm "$P/old/notes.txt"
out=$(POOLKEEPER_PRUNE=true POOLKEEPER_ALLOW_POOL_DELETE=true pk apply --yes 2>&1); rc=$?
is "$rc" 0 "apply deleting the emptied removed pool succeeds"
like "$out" '- pool\.delete +old' "the removed pool is deleted"
ok "its directory is gone" test ! -e "$P/old"
out=$(POOLKEEPER_PRUNE=true POOLKEEPER_ALLOW_POOL_DELETE=true pk plan --detailed-exitcode 2>&1); rc=$?
is "$rc" 0 "converged: nothing left to do"
unlike "$out" "'old'" "the removed pool is forgotten"
like "$(pk status 2>&1)" '(^|\n)old +no +absent' "status: the removed pool is recorded as absent"
is "$(sqlite3 "$S" "SELECT count(*) FROM pool_def WHERE name = 'old'")" 0 "its saved definition is dropped"
is "$(sqlite3 "$S" "SELECT count(*) FROM ownership WHERE pool = 'old'")" 0 "and nothing in it is owned any more"

# ---- the saved definition follows the repository --------------------------
pool_xml tmp
for i in $(seq -w 1 40); do vol_xml tmp "t$i.raw" 1; done
commit "pool tmp"
pk apply --yes >/dev/null 2>&1
printf "<pool type='dir'><name>tmp</name><target><path>%s</path><permissions><mode>0750</mode></permissions></target></pool>\n" \
    "$P/tmp" >"$R/pools/tmp.xml"
commit "tmp: mode"
pk apply --yes >/dev/null 2>&1
is "$(sqlite3 "$S" "SELECT xml LIKE '%0750%' FROM pool_def WHERE name = 'tmp'")" 1 "the saved definition follows the repository"

# ---- killed half way through a cleanup, then converges --------------------
remove_pool tmp
PK_TEST_CRASH=op:20 POOLKEEPER_BATCH=8 POOLKEEPER_PRUNE=true POOLKEEPER_ALLOW_POOL_DELETE=true \
    pk apply --yes --allow-mass-delete >/dev/null 2>&1
is "$?" 137 "cleanup of a removed pool killed at its 20th operation"
left=$(count "$P/tmp" '*.raw')
ok "some volumes were deleted before the kill ($left left)" test "$left" -gt 0 -a "$left" -lt 40
out=$(POOLKEEPER_PRUNE=true POOLKEEPER_ALLOW_POOL_DELETE=true pk apply --yes --allow-mass-delete 2>&1); rc=$?
is "$rc" 0 "the next apply finishes the cleanup"
ok "the removed pool's directory is gone" test ! -e "$P/tmp"
POOLKEEPER_PRUNE=true POOLKEEPER_ALLOW_POOL_DELETE=true pk plan --detailed-exitcode >/dev/null 2>&1
is "$?" 0 "converged after the interrupted cleanup"
is "$(count "$P/keep" '*.raw')" 8 "the desired pool kept its 8 volumes throughout"

done_testing
