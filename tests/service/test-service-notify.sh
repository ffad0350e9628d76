#!/bin/bash
# Webhooks from the service: signed JSON events (the receiver checks the
# HMAC) for what happened, filtered per target; a dead receiver, one that
# answers 500 and one that hangs cost bounded retries and never stop the
# cycles or the other receivers; a receiver that comes back gets new events.
set -u
. "$PK_TEST_DATA/service/lib.sh" "$@"
tmpdir service-notify
remote_init "$T"
S=$T/state/state.db
pool_xml p "$T/pool"
vol_xml p a.raw 64 "" 0640
vol_xml p b.raw 64
push "initial"
printf 'correct-horse-battery\n' >"$T/good.key"
printf 'not-the-key\n' >"$T/wrong.key"

start_hook 0 "$T" good --key "$T/good.key" || echo "Bail out! receiver"
GOOD=$HOOK_PORT
start_hook 0 "$T" wrongkey --key "$T/wrong.key" || echo "Bail out! receiver"
WRONG=$HOOK_PORT
start_hook 0 "$T" err500 --key "$T/good.key" --status 500 || echo "Bail out! receiver"
E500=$HOOK_PORT
start_hook 0 "$T" slow --key "$T/good.key" --delay 3000 || echo "Bail out! receiver"
SLOW=$HOOK_PORT
DEAD=$(free_port)   # nobody listens there, for now

cat >"$T/pk.yaml" <<YAML
desired:
  remote: file://$T/remote.git
state: $S
interval: 1s
jitter: 0%
notify:
  - url: http://127.0.0.1:$GOOD/hook
    secret_file: $T/good.key
  - url: http://127.0.0.1:$WRONG/hook
    secret_file: $T/good.key
    events: [applied]
  - url: http://127.0.0.1:$E500/hook
    events: [applied]
  - url: http://127.0.0.1:$SLOW/hook
    events: [applied, drift]
  - url: http://127.0.0.1:$DEAD/hook
    secret_file: $T/good.key
    events: [applied]
YAML
L=$T/service.log
export PK_TEST_NOTIFY_TIMEOUT_MS=500 PK_TEST_NOTIFY_BACKOFF_MS=100
start_service "$L" --config "$T/pk.yaml"
svc=$SVC

ok "the good receiver gets the 'applied' event" wait_for 10 grep -q '^POST applied ' "$T/good.log"
line=$(grep '^POST applied ' "$T/good.log" | head -1)
like "$line" ' sig=ok ' "its HMAC-SHA256 signature checks out with the shared key"
like "$line" '"format_version":1,"id":[0-9]+,"kind":"applied","severity":"info","timestamp":"[0-9T:-]+Z","host":"[^"]+","run":1,' \
    "the payload has the documented header fields"
like "$line" '"data":\{"commit":"[0-9a-f]{40}","done":3,.*"actions":\[\{"kind":"pool\.build","pool":"p","volume":null\}' \
    "and the actions in data"
ok "a receiver with another key sees a bad signature" wait_for 10 grep -q '^POST applied .* sig=bad ' "$T/wrongkey.log"
ok "a target without secret_file gets unsigned events" wait_for 10 grep -q '^POST applied .* sig=none ' "$T/err500.log"
id=$(echo "$line" | awk '{print $3}')
ok "a receiver answering 500 gets 4 attempts at the event" \
    wait_until 10 '[ "$(grep -c "^POST applied $id " "$T/err500.log")" = 4 ]'
sleep 1
is "$(grep -c "^POST applied $id " "$T/err500.log")" 4 "and no more"
like "$(cat "$L")" "giving up on event $id \\(applied\\) after 4 attempts: HTTP status 500" "the service logs that it gave up"

# ---- the slow receiver does not hold anything up -------------------------
runs=$(count_runs "$S" ok)
ok "cycles go on while a receiver hangs" wait_until 8 '[ "$(count_runs "$S" ok)" -ge $((runs + 3)) ]'
like "$(cat "$L")" "webhook 'http://127.0.0.1:$SLOW/hook': event $id \\(applied\\) not delivered \\(attempt 1 of 4\\): .*timed out" \
    "the hanging receiver times out"

# ---- drift and blocked events ---------------------------------------------
chmod 0600 "$T/pool/a.raw"
ok "drift is notified" wait_for 10 grep -q '^POST drift ' "$T/good.log"
like "$(grep '^POST drift ' "$T/good.log")" '"pool":"p","volume":"a\.raw","message":"volume .p/a\.raw. was changed outside poolkeeper \(permissions\): mode 0600, desired mode 0640"' \
    "naming the object and what changed"
like "$(grep '^POST drift ' "$T/good.log")" '"severity":"warning"' "as a warning"
ok "and corrected (drift: correct)" wait_until 10 '[ "$(stat -c %a "$T/pool/a.raw")" = 640 ]'
rm "$R/pools/p/b.raw.xml"
push "remove b"
ok "a blocked deletion is notified" wait_for 10 grep -q '^POST blocked .*vol\.delete p/b\.raw is blocked: deleting needs policy prune' "$T/good.log"
sleep 2
is "$(grep -c '^POST blocked ' "$T/good.log")" 1 "once, not at every cycle"
ok "events a target did not ask for are not sent to it" sh -c "! grep -q '^POST \\(drift\\|blocked\\)' '$T/err500.log' '$T/wrongkey.log'"

# ---- the dead receiver comes back ------------------------------------------
like "$(cat "$L")" "webhook 'http://127.0.0.1:$DEAD/hook': giving up on event $id .*after 4 attempts" \
    "the dead receiver was given up on for the first event"
start_hook "$DEAD" "$T" dead --key "$T/good.key" || echo "Bail out! receiver"
vol_xml p c.raw 64
push "add c"
ok "once back, it gets the next event" wait_for 10 grep -q '^POST applied .* sig=ok .*"volume":"c\.raw"' "$T/dead.log"
ok "the good receiver got it too" wait_for 10 grep -q '"volume":"c\.raw"' "$T/good.log"
unlike "$(cat "$T"/*.log)" 'correct-horse-battery' "no secret in any payload or log"

stop_service "$svc" TERM
is "$STOP_RC" 0 "SIGTERM exits 0 with a receiver hanging"
ok "without waiting for it" test "$STOP_MS" -lt 3000
done_testing
