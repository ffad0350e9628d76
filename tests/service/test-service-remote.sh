#!/bin/bash
# The service against a bare git remote on file://: new commits are applied
# at the next cycle, a bad commit changes nothing and is reported once, the
# run is triggered from outside, the configuration reloads on SIGHUP (a bad
# one is refused), /metrics and /healthz follow it all, SIGTERM exits 0.
set -u
. "$PK_TEST_DATA/service/lib.sh" "$@"
tmpdir service-remote
remote_init "$T"
S=$T/state/state.db
pool_xml p "$T/pool"
vol_xml p a.raw 64
push "initial"

echo "s3cret-key" >"$T/hook.key"
start_hook 0 "$T" hook --key "$T/hook.key" || echo "Bail out! the webhook receiver did not start"
MP=$(free_port)
M=http://127.0.0.1:$MP
config() { # interval
    cat >"$T/pk.yaml" <<YAML
desired:
  remote: file://$T/remote.git
state: $S
interval: $1
jitter: 0%
retry_interval: 1s
metrics:
  listen: 127.0.0.1:$MP
  healthz_failures: 2
notify:
  - url: http://127.0.0.1:$HOOK_PORT/hook
    secret_file: $T/hook.key
    events: [failed, recovered]
YAML
}
config 1s
L=$T/service.log
start_service "$L" --config "$T/pk.yaml"
svc=$SVC

ok "the first cycle creates the volume" wait_for 15 test -f "$T/pool/a.raw"
ok "/healthz answers 200" wait_until 5 '[ "$(http_status "$M/healthz")" = 200 ]'

# ---- a new commit is picked up at the next cycle -------------------------
vol_xml p b.raw 64
vol_xml p c.raw 128
push "add b and c"
good=$(tgit -C "$R" rev-parse HEAD)
start=$(date +%s%N)
ok "volumes of a new commit are created at the next cycle" wait_for 10 test -f "$T/pool/b.raw" -a -f "$T/pool/c.raw"
diag "created $(( ($(date +%s%N) - start) / 1000000 )) ms after the push (interval 1 s)"
is "$(stat -c %s "$T/pool/c.raw")" 131072 "with the desired capacity"
ok "/metrics names the applied commit" \
    wait_until 5 '[ "$(metric "$M" "poolkeeper_desired_info{commit=\"$good\"}")" = 1 ]'
like "$(http_get "$M/metrics")" 'poolkeeper_actions_total\{kind="vol.create",result="done"\} 3' \
    "/metrics counts the three volumes created"
like "$(http_get "$M/metrics")" 'poolkeeper_cycle_duration_seconds_count [1-9]' "and the cycles in the histogram"

# ---- a bad commit: nothing changes, told once, last good commit stays ----
failed_before=$(count_runs "$S" failed)
printf '<volume><name>d.raw</name><capacity unit="lots">1</capacity></volume>\n' >"$R/pools/p/d.raw.xml"
vol_xml p e.raw 64
rm "$R/pools/p/a.raw.xml"
push "a bad file"
ok "the bad commit fails the cycles" wait_until 15 '[ "$(count_runs "$S" failed)" -ge $((failed_before + 3)) ]'
ok "a valid volume of the bad commit is not created" test ! -e "$T/pool/e.raw"
ok "nothing is deleted either" test -f "$T/pool/a.raw" -a -f "$T/pool/b.raw"
out=$("$PK" history --state "$S" 2>&1)
like "$out" 'failed .*d\.raw\.xml' "history shows the failed run with the bad file"
ok "/healthz turns 503 after healthz_failures (2) failed cycles" \
    wait_until 5 '[ "$(http_status "$M/healthz")" = 503 ]'
is "$(metric "$M" "poolkeeper_desired_info{commit=\"$good\"}")" 1 "/metrics still names the last good commit"
ok "the webhook receives the failure" wait_for 10 grep -q '^POST failed .*d\.raw\.xml' "$T/hook.log"
is "$(grep -c '^POST failed' "$T/hook.log")" 1 "once, though every cycle fails the same way"
like "$(grep '^POST failed' "$T/hook.log")" '"severity":"error"' "as an error"

rm "$R/pools/p/d.raw.xml"
push "fix"
ok "the fixed commit applies" wait_for 10 test -f "$T/pool/e.raw"
ok "/healthz is 200 again" wait_until 5 '[ "$(http_status "$M/healthz")" = 200 ]'
ok "the webhook hears of the recovery" wait_for 10 grep -q '^POST recovered' "$T/hook.log"
ok "every delivery carried a valid HMAC signature" sh -c "! grep -v ' sig=ok ' '$T/hook.log'"
ok "the volume removed from the repo was kept (prune is off)" test -f "$T/pool/a.raw"

# ---- one writer ------------------------------------------------------------
out=$("$PK" apply --yes --config "$T/pk.yaml" 2>&1); rc=$?
is "$rc" 1 "apply is refused while the service runs"
like "$out" "locked by pid $svc" "naming the service's pid"
out=$("$PK" run --config "$T/pk.yaml" 2>&1); rc=$?
is "$rc" 1 "so is a second service"

# ---- SIGHUP: a good config, then a bad one ---------------------------------
config 1h
kill -HUP "$svc"
ok "SIGHUP reloads the configuration" wait_for 5 grep -q 'configuration reloaded' "$L"
sleep 0.3
runs=$(count_runs "$S" ok)
sleep 2
is "$(count_runs "$S" ok)" "$runs" "the new interval (1h) holds: no cycle in 2 s"
out=$("$PK" run --trigger --config "$T/pk.yaml" 2>&1); rc=$?
is "$rc" 0 "run --trigger finds the service"
like "$out" "pid $svc" "through the lock's pid"
ok "and a cycle runs at once" wait_until 5 '[ "$(count_runs "$S" ok)" -gt "$runs" ]'

printf 'interval: banana\nstate: %s\n' "$S" >"$T/pk.yaml"
kill -HUP "$svc"
ok "a bad configuration is refused" wait_for 5 grep -q 'configuration reload refused' "$L"
like "$(grep 'reload refused' "$L")" 'pk\.yaml:1:[0-9]+: .*interval' "with the file, line and key"
ok "the service is still running" kill -0 "$svc"
config 1h   # for --trigger to find the same state
runs=$(count_runs "$S" ok)
kill -USR1 "$svc"
ok "SIGUSR1 starts a cycle, with the old configuration" wait_until 5 '[ "$(count_runs "$S" ok)" -gt "$runs" ]'
is "$(http_status "$M/healthz")" 200 "metrics are still served"

# ---- SIGTERM -------------------------------------------------------------
stop_service "$svc"
is "$STOP_RC" 0 "SIGTERM: exit 0"
like "$(tail -1 "$L")" 'service ends' "and says so"
unlike "$(cat "$L")" 's3cret-key' "the webhook key never appears in the log"
out=$("$PK" run --trigger --config "$T/pk.yaml" 2>&1); rc=$?
is "$rc" 1 "run --trigger without a service fails"
like "$out" 'no poolkeeper service is running' "and says why"
done_testing
