# shellcheck shell=bash
# Helpers of the service tests: a bare remote and a clone to push from, a
# config file, the service in the background, the webhook receiver; the
# repository helpers of lib.sh (pool_xml, vol_xml with capacities in KiB
# here, commit) write into R, the clone. Services and receivers started here
# are killed at exit by `cleanup`, which tmpdir's exit trap runs.
# Usage: . "$PK_TEST_DATA/service/lib.sh" HOOK_SERVER PK_HTTP
. "$PK_TEST_DATA/lib.sh"
HOOK_SERVER=${1:?hook-server binary}
PK_HTTP=${2:?pk-http binary}
VOL_UNIT=KiB
SVC_PIDS=""

cleanup() {
    local p
    for p in $SVC_PIDS; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
}

# remote_init DIR: DIR/remote.git (bare) and R = DIR/work, a clone to push from
remote_init() {
    tgit init -q --bare "$1/remote.git"
    R=$1/work
    repo_init
    tgit -C "$R" remote add origin "$1/remote.git"
}
# push MESSAGE: commit everything in R and push it to the remote's main
push() { commit "$1" && tgit -C "$R" push -q origin HEAD:main; }

# start_service LOG ARGS...: poolkeeper run in the background; SVC = its pid
start_service() {
    local log=$1
    shift
    "$PK" run "$@" >>"$log" 2>&1 &
    SVC=$!
    SVC_PIDS="$SVC_PIDS $SVC"
}
# stop_service PID [SIGNAL]: SIGTERM (or SIGNAL), then STOP_RC = its exit
# code, or "timeout" after 20 s; STOP_MS = how long it took. Not in $(...):
# only this shell can wait for its children.
stop_service() {
    local t0 i
    t0=$(date +%s%N)
    kill -"${2:-TERM}" "$1" 2>/dev/null
    for ((i = 0; i < 200; i++)); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$1" 2>/dev/null; then
        kill -9 "$1"
        wait "$1" 2>/dev/null
        STOP_RC=timeout
    else
        wait "$1"
        STOP_RC=$?
    fi
    STOP_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
}

free_port() { "$PK_HTTP" free-port; }
http_get() { "$PK_HTTP" get "$1"; }
# metric URL NAME-WITH-LABELS: its value, or nothing
metric() { http_get "$1/metrics" 2>/dev/null | awk -v n="$2" '$1 == n { print $2 }'; }
http_status() { http_get "$1" 2>/dev/null | head -1; }

# start_hook PORT DIR NAME ARGS...: receiver logging to DIR/NAME.log; HOOK_PORT, HOOK_PID
start_hook() {
    local port=$1 dir=$2 name=$3
    shift 3
    rm -f "$dir/$name.port"
    "$HOOK_SERVER" "$port" "$dir/$name.port" "$dir/$name.log" "$@" &
    HOOK_PID=$!
    SVC_PIDS="$SVC_PIDS $HOOK_PID"
    wait_for 10 test -s "$dir/$name.port" || return 1
    HOOK_PORT=$(cat "$dir/$name.port")
}
count_runs() { # STATE RESULT: how many runs with that result
    "$PK" history --json --limit 0 --state "$1" 2>/dev/null | grep -o "\"result\": *\"$2\"" | wc -l
}
