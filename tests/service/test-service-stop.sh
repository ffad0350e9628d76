#!/bin/bash
# Stopping the service: SIGTERM or SIGINT in the middle of an apply lets the
# action in progress finish, records the run as interrupted and exits 0;
# the next start settles the interrupted run and finishes the work. Log
# lines are JSON when log.format says so. run --once exit codes.
set -u
. "$PK_TEST_DATA/service/lib.sh" "$@"
tmpdir service-stop
remote_init "$T"
S=$T/state/state.db
pool_xml p "$T/pool"
for i in $(seq -w 1 30); do vol_xml p v$i.raw 16; done
push "thirty volumes"
cat >"$T/pk.yaml" <<YAML
desired:
  remote: file://$T/remote.git
state: $S
interval: 1h
log:
  format: json
YAML
result_of() { "$PK" history --state "$S" 2>/dev/null | awk -v r="$1" '$1 == r { print $4 }'; }
nvols() { find "$T/pool" -name 'v*.raw' 2>/dev/null | wc -l; }

# ---- SIGTERM in the middle of the first apply -----------------------------
L=$T/service1.log
PK_TEST_STALL=op:4 start_service "$L" --config "$T/pk.yaml"
ok "the apply gets under way (and stalls after its 4th action)" \
    wait_until 15 '[ "$(grep -c "\"action\":\"vol.create\"" "$L")" -ge 3 ]'
stop_service "$SVC" TERM
is "$STOP_RC" 0 "SIGTERM during the apply: exit 0"
diag "stopped ${STOP_MS} ms after SIGTERM (the stall would have lasted 60 s)"
is "$(result_of 1)" interrupted "the run is recorded as interrupted"
n=$(nvols)
ok "the apply stopped part way ($n of 30 volumes)" test "$n" -ge 3 -a "$n" -lt 30
ok "no half-made volume is left behind" sh -c "! ls -a '$T/pool' | grep -q tmp"
ok "every log line is a JSON object with time and level" \
    sh -c "! grep -v '^{\"time\":\"[0-9TZ:-]*\",\"level\":\"[a-z]*\",.*\"msg\":.*}\$' '$L'"
like "$(cat "$L")" '"run":"1","object":"p/v01\.raw","action":"vol\.create","msg":"done: raw 16 KiB"' \
    "with the run, the object and the action"

# ---- the next start finishes the work -------------------------------------
L=$T/service2.log
start_service "$L" --config "$T/pk.yaml"
ok "the next start creates the rest" wait_until 15 '[ "$(nvols)" = 30 ]'
ok "its run succeeds" wait_until 5 '[ "$(result_of 2)" = ok ]'
out=$("$PK" plan --detailed-exitcode --config "$T/pk.yaml" 2>&1)
is "$?" 0 "nothing is left to do (plan works while the service runs)"
stop_service "$SVC" TERM
is "$STOP_RC" 0 "SIGTERM while idle: exit 0"
ok "the idle stop is quick" test "$STOP_MS" -lt 5000

# ---- SIGINT, the same ------------------------------------------------------
for i in $(seq -w 31 40); do vol_xml p v$i.raw 16; done
push "ten more"
L=$T/service3.log
PK_TEST_STALL=op:2 start_service "$L" --config "$T/pk.yaml"
ok "the second apply gets under way" wait_until 15 'grep -q "\"action\":\"vol.create\"" "$L"'
stop_service "$SVC" INT
is "$STOP_RC" 0 "SIGINT during the apply: exit 0"
is "$(result_of 3)" interrupted "recorded as interrupted"

# ---- run --once ------------------------------------------------------------
"$PK" run --once --config "$T/pk.yaml" >"$T/once.log" 2>&1
is "$?" 0 "run --once finishes the work and exits 0"
is "$(nvols)" 40 "all forty volumes exist"
printf 'not xml\n' >"$R/pools/p/v41.raw.xml"
push "bad"
"$PK" run --once --config "$T/pk.yaml" >"$T/once2.log" 2>&1
is "$?" 1 "run --once exits 1 when the desired state is invalid"
like "$(cat "$T/once2.log")" 'v41\.raw\.xml' "and says which file"
done_testing
