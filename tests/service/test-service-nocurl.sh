#!/bin/bash
# libcurl is loaded by the first webhook delivery (controller/notify.c), not
# linked: without it poolkeeper still starts and reconciles, and each
# delivery fails like any other, with the reason in the log. libcurl is
# hidden in a private mount namespace (/dev/null mounted over it), which
# needs root; elsewhere the test is skipped. Real deliveries are
# service-notify's.
set -u
. "$PK_TEST_DATA/service/lib.sh" "$@"
tmpdir service-nocurl
libcurl=$(ldconfig -p | awk '/libcurl\.so\.4 .*x86-64/ { print $NF; exit }')
if [ -z "$libcurl" ] || ! unshare -m --propagation private mount --bind /dev/null "$libcurl" 2>/dev/null; then
    echo "1..0 # SKIP cannot hide libcurl here (needs root and unshare)"
    exit 0
fi
DEAD=$(free_port)   # nobody listens there
export PK_TEST_NOTIFY_TIMEOUT_MS=500 PK_TEST_NOTIFY_BACKOFF_MS=100
# setup DIR: a remote with one dir pool and a volume, DIR/pk.yaml for it
# with a webhook to the closed port.
setup() {
    mkdir -p "$1"
    remote_init "$1"
    pool_xml p "$1/pool"
    vol_xml p a.raw 64
    push "initial"
    cat >"$1/pk.yaml" <<YAML
desired:
  remote: file://$1/remote.git
state: $1/state/state.db
notify:
  - url: http://127.0.0.1:$DEAD/hook
YAML
}

setup "$T/nocurl"
# shellcheck disable=SC2016 # the inner shell expands them
unshare -m --propagation private sh -c 'mount --bind /dev/null "$1" && shift && exec "$@"' sh \
    "$libcurl" "$PK" run --once --config "$T/nocurl/pk.yaml" >"$T/nocurl.log" 2>&1
is "$?" 0 "without libcurl, 'run --once' starts and its cycle succeeds"
ok "and it applied the desired state" test -f "$T/nocurl/pool/a.raw"
log=$(cat "$T/nocurl.log")
like "$log" "webhook 'http://127\.0\.0\.1:$DEAD/hook': event [0-9]+ \(applied\) not delivered \(attempt 1 of [0-9]+\): cannot load libcurl \('libcurl\.so\.4'\): .*file too short" \
    "the delivery fails with libcurl's loading error"
like "$log" "giving up on event [0-9]+ \(applied\) after [0-9]+ attempts: cannot load libcurl" \
    "and is given up like any failed delivery"

# With libcurl, the same delivery fails on the closed port instead.
setup "$T/curl"
"$PK" run --once --config "$T/curl/pk.yaml" >"$T/curl.log" 2>&1
is "$?" 0 "with libcurl, the cycle succeeds"
log=$(cat "$T/curl.log")
like "$log" "event [0-9]+ \(applied\) not delivered \(attempt 1 of [0-9]+\): .*(onnect|refused)" \
    "libcurl, loaded for the delivery, reports the closed port"
unlike "$log" "cannot load libcurl" "libcurl loads"
done_testing
