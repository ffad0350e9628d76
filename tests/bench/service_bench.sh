#!/bin/bash
# Idle cost of the reconciliation service (issue 6): 'poolkeeper run' on a
# dir pool of N volumes with nothing to do, against the no-op 'plan' of the
# same state (what tests/bench/engine_bench.sh measures), in the same run:
#   CPU seconds (user + system) per cycle, from /proc/PID/stat, vs the CPU
#     seconds of one no-op 'plan' process (load + observe + plan);
#   resident memory between cycles (VmRSS) and at its peak (VmHWM), from
#     /proc/PID/status, vs the peak RSS of the no-op 'plan';
#   CPU used while waiting between cycles.
# Every figure is printed with its ratio; nothing is asserted.
# Usage: service_bench.sh [N] [CYCLES]   (default 10000 volumes, 5 cycles)
# Environment: POOLKEEPER (binary), FLOOR (floor-files binary), BENCH_DIR.
set -eu
PK=${POOLKEEPER:?}
FLOOR=${FLOOR:?}
N=${1:-10000}
CYCLES=${2:-5}
B=$(mktemp -d "${BENCH_DIR:-/var/tmp}/pk-svc-bench-XXXXXX")
SVC=""
trap '[ -n "$SVC" ] && kill -9 "$SVC" 2>/dev/null; rm -rf "$B"' EXIT
export POOLKEEPER_CONFIG=/dev/null
TCK=$(getconf CLK_TCK)
tgit() { git -c user.email=b@poolkeeper -c user.name=bench -c init.defaultBranch=main "$@"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) b = 0.001; printf "%.2f", a / b }'; }
median3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
cpu_s() { awk -v t="$TCK" '{ printf "%.3f", ($14 + $15) / t }' "/proc/$1/stat"; }
status_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
cycles_done() { grep -c 'cycle ok' "$1" 2>/dev/null || true; }
wait_cycles() { # LOG COUNT
    local i
    for ((i = 0; i < 6000; i++)); do
        [ "$(cycles_done "$1")" -ge "$2" ] && return 0
        sleep 0.05
    done
    echo "service_bench: the service did not complete $2 cycles" >&2
    exit 1
}

R=$B/repo P=$B/pool S=$B/state/state.db
mkdir -p "$R/pools/p"
tgit init -q "$R"
printf "<pool type='dir'><name>p</name><target><path>%s</path></target></pool>\n" "$P" >"$R/pools/p.xml"
for ((i = 0; i < N; i++)); do
    printf "<volume><name>v%06d.raw</name><capacity unit='KiB'>64</capacity></volume>\n" "$i" \
        >"$R/pools/p/v$(printf %06d "$i").raw.xml"
done
tgit -C "$R" add -A
tgit -C "$R" commit -qm "$N volumes"
"$PK" apply --yes -q --desired "$R" --state "$S" >/dev/null

echo "poolkeeper service benchmark ($(date -u +%FT%TZ), $(nproc) cores, $N volumes, nothing to do)"

# ---- the no-op plan ---------------------------------------------------------
TIMEFORMAT='%U %S'
plans=() rsss=()
for _ in 1 2 3; do
    t=$( { time "$PK" plan -q --desired "$R" --state "$S" >/dev/null 2>&1; } 2>&1 )
    plans+=("$(echo "$t" | awk '{ printf "%.3f", $1 + $2 }')")
    rsss+=("$("$FLOOR" rss "$PK" plan -q --desired "$R" --state "$S")")
done
plan_cpu=$(median3 "${plans[@]}")
plan_rss=$(median3 "${rsss[@]}")
echo "no-op plan: ${plan_cpu} s CPU, peak RSS ${plan_rss} KiB"

# ---- the service, cycling back to back (interval 1s) --------------------------
printf 'desired:\n  path: %s\nstate: %s\ninterval: 1s\njitter: 0%%\n' "$R" "$S" >"$B/fast.yaml"
L=$B/fast.log
"$PK" run --config "$B/fast.yaml" 2>"$L" &
SVC=$!
wait_cycles "$L" 1          # the first cycle warms the page cache and the heap
c0=$(cpu_s "$SVC")
wait_cycles "$L" $((1 + CYCLES))
c1=$(cpu_s "$SVC")
rss=$(status_kib "$SVC" VmRSS)
hwm=$(status_kib "$SVC" VmHWM)
kill -TERM "$SVC"
wait "$SVC" || true
SVC=""
per=$(awk -v a="$c0" -v b="$c1" -v n="$CYCLES" 'BEGIN { printf "%.3f", (b - a) / n }')
echo "service cycle: ${per} s CPU per cycle over $CYCLES cycles (ratio to the no-op plan $(ratio "$per" "$plan_cpu"))"
echo "service memory: ${rss} KiB resident after a cycle (ratio $(ratio "$rss" "$plan_rss")), peak ${hwm} KiB (ratio $(ratio "$hwm" "$plan_rss"))"

# ---- the service between cycles (interval 1h) ---------------------------------
printf 'desired:\n  path: %s\nstate: %s\ninterval: 1h\n' "$R" "$S" >"$B/slow.yaml"
L=$B/slow.log
"$PK" run --config "$B/slow.yaml" 2>"$L" &
SVC=$!
wait_cycles "$L" 1
sleep 0.5
c0=$(cpu_s "$SVC")
sleep 5
c1=$(cpu_s "$SVC")
rss=$(status_kib "$SVC" VmRSS)
kill -TERM "$SVC"
wait "$SVC" || true
SVC=""
idle=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.3f", b - a }')
echo "service waiting: ${idle} s CPU in 5 s between cycles; ${rss} KiB resident (ratio to the no-op plan's peak $(ratio "$rss" "$plan_rss"))"
