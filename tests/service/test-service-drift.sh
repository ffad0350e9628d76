#!/bin/bash
# Drift — storage changed outside poolkeeper — is detected at each cycle,
# recorded with when it was first and last seen, shown by `status`, resolved
# once corrected; corrected under `drift: correct`, only reported under
# `drift: report`. suspend/resume: the service observes but changes nothing.
set -u
. "$PK_TEST_DATA/service/lib.sh" "$@"
setup_repo service-drift
P=$T/pool   # the directory of pool p
pool_xml p "$P"
vol_xml p a.raw 64 "" 0640
vol_xml p b.raw 64 "" 0640
vol_xml p c.raw 64
commit "initial"
for mode in report correct; do
    printf 'desired:\n  path: %s\nstate: %s\ninterval: 1s\njitter: 0%%\npolicy:\n  drift: %s\n' \
        "$R" "$S" "$mode" >"$T/$mode.yaml"
done
once() { "$PK" run --once --config "$T/$1.yaml" >>"$T/once.log" 2>&1; }
status() { "$PK" status --config "$T/correct.yaml" 2>&1; }
drift_of() { # OBJECT: its DRIFT column (the table is aligned on its header)
    status | awk -v o="$1" '/^OBJECT / { c = index($0, "DRIFT") } c && $1 == o { split(substr($0, c), f, " "); print f[1] }'
}

once correct
ok "the first run creates the volumes" test -f "$P/a.raw" -a -f "$P/b.raw" -a -f "$P/c.raw"

# ---- drift: report ---------------------------------------------------------
truncate -s 16K "$P/a.raw"
chmod 0600 "$P/b.raw"
rm "$P/c.raw"
once report
is "$?" 0 "a run under 'drift: report' succeeds (drift is reported, not an error)"
is "$(stat -c %s "$P/a.raw")" 16384 "the shrunk volume is left alone"
is "$(stat -c %a "$P/b.raw")" 600 "the changed mode is left alone"
ok "the deleted volume is not recreated" test ! -e "$P/c.raw"
is "$(drift_of p/a.raw)" capacity "status shows the capacity drift"
is "$(drift_of p/b.raw)" permissions "the permissions drift"
is "$(drift_of p/c.raw)" missing "and the missing volume"
like "$(cat "$T/once.log")" "volume 'p/b\\.raw' was changed outside poolkeeper \\(permissions\\): mode 0600, desired mode 0640" \
    "the log says what drifted"
out=$("$PK" plan --config "$T/report.yaml" 2>&1)
like "$out" '! vol\.update +p/b\.raw.*blocked: drift: report' "the plan shows the corrections as blocked by policy"
first=$("$PK" status --json --config "$T/correct.yaml" | grep -A3 '"what": "permissions"' | grep first_seen)
sleep 1.1
once report
is "$("$PK" status --json --config "$T/correct.yaml" | grep -A3 '"what": "permissions"' | grep first_seen)" "$first" \
    "seen again, a drift keeps when it was first seen"
like "$("$PK" status --json --config "$T/correct.yaml")" '"last_seen"' "and records when it was last seen"

# corrected by hand: resolved without poolkeeper touching anything
chmod 0640 "$P/b.raw"
once report
is "$(drift_of p/b.raw)" - "a drift undone by hand is resolved"
is "$(drift_of p/a.raw)" capacity "the others stay open"

# ---- drift: correct --------------------------------------------------------
once correct
is "$?" 0 "a run under 'drift: correct' succeeds"
is "$(stat -c %s "$P/a.raw")" 65536 "the capacity is restored"
ok "the missing volume is recreated" test -f "$P/c.raw"
is "$(drift_of p/a.raw)" - "and the drift is resolved"
is "$(drift_of p/c.raw)" - "for every object"

# the pool's directory itself
rm -rf "$P"
once report
ok "under report a removed pool stays removed" test ! -e "$P"
is "$(drift_of p)" missing "status shows the pool as missing"
once correct
ok "under correct it is rebuilt with its volumes" test -f "$P/a.raw" -a -f "$P/b.raw" -a -f "$P/c.raw"
is "$(drift_of p)" - "and its drift resolved"

# ---- one pool that cannot be observed does not stop the others -------------
pool_xml q "$T/q"
vol_xml q x.raw 4
: >"$T/q"   # its target is a file: observing the pool fails
vol_xml p e.raw 64
commit "a broken pool next to a good one"
once correct
is "$?" 1 "a cycle with a pool that cannot be observed fails"
ok "but the other pool's new volume is created" test -f "$P/e.raw"
ok "and the broken pool's target is left alone" test -f "$T/q"
like "$(tail -20 "$T/once.log")" "cannot observe pool 'q'" "the log names the pool"
rm -r "$R/pools/q" "$R/pools/q.xml" "$T/q"
commit "drop q"

# ---- suspend / resume ------------------------------------------------------
out=$("$PK" suspend --reason "disk swap" --config "$T/correct.yaml" 2>&1)
is "$?" 0 "suspend"
like "$out" "Suspended reconciliation" "says what it did"
vol_xml p d.raw 64
commit "add d"
once correct
is "$?" 0 "run --once while suspended succeeds"
ok "and creates nothing" test ! -e "$P/d.raw"
like "$(tail -5 "$T/once.log")" 'suspended since .*disk swap.*applying nothing' "its log says why"
out=$("$PK" suspend --config "$T/correct.yaml" 2>&1)
like "$out" 'already suspended .*disk swap' "suspending twice says it already is"
like "$(status)" 'suspended since .*: disk swap' "status shows the suspension and its reason"

L=$T/service.log
start_service "$L" --config "$T/correct.yaml"
svc=$SVC
ok "the suspended service runs cycles" wait_until 10 '[ "$(grep -c "cycle ok" "$L")" -ge 2 ]'
chmod 0600 "$P/a.raw"
ok "it still observes and records drift" wait_until 10 '[ "$(drift_of p/a.raw)" = permissions ]'
is "$(stat -c %a "$P/a.raw")" 600 "but corrects nothing"
ok "nor creates anything" test ! -e "$P/d.raw"
out=$("$PK" resume --config "$T/correct.yaml" 2>&1)
is "$?" 0 "resume"
like "$out" "Asked the service \\(pid $svc\\) for a cycle now" "resume wakes the running service"
ok "the service applies the new volume" wait_for 5 test -f "$P/d.raw"
ok "and corrects the drift" wait_until 5 '[ "$(stat -c %a "$P/a.raw")" = 640 ]'
stop_service "$svc" TERM
is "$STOP_RC" 0 "the service stops"
done_testing
