#!/bin/bash
# Process start cost of poolkeeper: what every short command pays before it
# does anything (the dynamic linker, the libraries' constructors). Each
# figure is the median of RUNS runs (default 20) and a ratio to a bare exec
# of /bin/true measured in the same run, plus the peak RSS:
#   poolkeeper --version
#   poolkeeper validate of a one-pool repository
#   poolkeeper plan of a one-pool repository with no volumes (no changes)
# Usage: startup_bench.sh [RUNS]
# Environment: POOLKEEPER (binary), EXEC_TIMER (exec-timer binary), BENCH_DIR.
set -eu
PK=${POOLKEEPER:?}
TIMER=${EXEC_TIMER:?}
RUNS=${1:-20}
B=$(mktemp -d "${BENCH_DIR:-/var/tmp}/pk-startup-XXXXXX")
trap 'rm -rf "$B"' EXIT
export POOLKEEPER_CONFIG=/dev/null
tgit() { git -c user.email=b@poolkeeper -c user.name=bench -c init.defaultBranch=main "$@"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) b = 0.001; printf "%.1f", a / b }'; }

r=$B/repo p=$B/pool s=$B/state/state.db
mkdir -p "$r/pools" "$p"
tgit init -q "$r"
printf "<pool type='dir'><name>p</name><target><path>%s</path></target></pool>\n" "$p" >"$r/pools/p.xml"
tgit -C "$r" add -A
tgit -C "$r" commit -qm "one pool"
"$PK" plan -q --desired "$r" --state "$s" >/dev/null   # the state DB exists before timing

echo "poolkeeper start-up benchmark ($(date -u +%FT%TZ), $(nproc) cores, median of $RUNS runs)"
echo "binary: $PK ($(ldd "$PK" 2>/dev/null | grep -c '=>') shared libraries)"
# The commands take turns, one run each per round, so that a burst of load
# on the machine falls on all of them alike.
labels=("exec /bin/true" "poolkeeper --version" "poolkeeper validate, one-pool repository"
        "poolkeeper plan, one pool without volumes")
run() { # k: one timed run of command k, "MS RSS_KIB"
    case $1 in
    0) "$TIMER" 1 /bin/true ;;
    1) "$TIMER" 1 "$PK" --version ;;
    2) "$TIMER" 1 "$PK" validate "$r" ;;
    3) "$TIMER" 1 "$PK" plan -q --desired "$r" --state "$s" ;;
    esac
}
declare -a times rss
for ((i = 0; i < RUNS; i++)); do
    for k in "${!labels[@]}"; do
        read -r t m < <(run "$k")
        times[k]+="$t "
        [ "${rss[k]:-0}" -ge "$m" ] || rss[k]=$m
    done
done
median() { tr ' ' '\n' <<<"$1" | grep . | sort -n |
    awk '{ v[NR] = $1 } END { printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
base=$(median "${times[0]}")
echo "${labels[0]}: ${base} ms, peak RSS ${rss[0]} KiB"
for ((k = 1; k < ${#labels[@]}; k++)); do
    t=$(median "${times[k]}")
    echo "${labels[k]}: ${t} ms (ratio $(ratio "$t" "$base") to /bin/true), peak RSS ${rss[k]} KiB"
done
