#!/bin/bash
# Issue 8's engine benchmark on dir pools. Every figure is a ratio to the
# physical floor measured in the same run on the same directory:
#   no-op reconcile ('plan' with nothing to do: observe + diff + store, and the
#     whole command including loading the desired state) vs readdir+fstatat;
#   'apply' creating 1,000 raw sparse volumes vs open+ftruncate+rename;
#   deleting 1,000 owned volumes vs unlink;
#   peak RSS per volume of the no-op plan.
# Usage: engine_bench.sh [SIZES...]   (default: 10000 100000)
# Environment: POOLKEEPER (binary), FLOOR (floor-files binary), BENCH_DIR.
set -eu
PK=${POOLKEEPER:?}
FLOOR=${FLOOR:?}
SIZES=${*:-10000 100000}
B=$(mktemp -d "${BENCH_DIR:-/var/tmp}/pk-bench-XXXXXX")
trap 'rm -rf "$B"' EXIT
export POOLKEEPER_CONFIG=/dev/null
tgit() { git -c user.email=b@poolkeeper -c user.name=bench -c init.defaultBranch=main "$@"; }
ms() { date +%s%N | awk '{printf "%.3f", $1/1e6}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) b = 0.001; printf "%.2f", a / b }'; }
median3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
# The value of NAME=ms in the timing lines (POOLKEEPER_TIMING=1).
field() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=\([0-9]*\).*/\1/p" | head -1; }

make_repo() { # dir pooldir n
    local r=$1 p=$2 n=$3
    mkdir -p "$r/pools/p"
    tgit init -q "$r"
    printf "<pool type='dir'><name>p</name><target><path>%s</path></target></pool>\n" "$p" >"$r/pools/p.xml"
    local i
    for ((i = 0; i < n; i++)); do
        printf "<volume><name>v%06d.raw</name><capacity unit='KiB'>64</capacity><allocation>0</allocation></volume>\n" "$i" \
            >"$r/pools/p/v$(printf %06d "$i").raw.xml"
    done
    tgit -C "$r" add -A
    tgit -C "$r" commit -qm "$n volumes"
}

echo "poolkeeper engine benchmark ($(date -u +%FT%TZ), $(nproc) cores)"
# What a plan costs with (almost) no volumes: the RSS every figure above it
# is measured against.
make_repo "$B/repo-1" "$B/pool-1" 1
"$PK" apply --yes -q --desired "$B/repo-1" --state "$B/state-1/state.db" >/dev/null
rss1=$("$FLOOR" rss "$PK" plan --desired "$B/repo-1" --state "$B/state-1/state.db")
for n in $SIZES; do
    r=$B/repo-$n p=$B/pool-$n s=$B/state-$n/state.db
    make_repo "$r" "$p" "$n"
    "$PK" apply --yes -q --desired "$r" --state "$s" >/dev/null
    # no-op plan, 3 runs each, interleaved with the floor
    plans=() floors=() inner=() loads=()
    for _ in 1 2 3; do
        sync
        f=$("$FLOOR" scan "$p" 2>/dev/null)
        t0=$(ms)
        line=$(POOLKEEPER_TIMING=1 "$PK" plan --desired "$r" --state "$s" 2>&1 >/dev/null | grep 'timing:' | tr '\n' ' ' || true)
        t1=$(ms)
        plans+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')")
        floors+=("$f")
        o=$(field observe "$line") rec=$(field record "$line") own=$(field ownership "$line")
        pln=$(field plan "$line") l=$(field load "$line")
        inner+=("$((o + rec + own + pln))")
        loads+=("$l")
    done
    fl=$(median3 "${floors[@]}") pl=$(median3 "${plans[@]}") in=$(median3 "${inner[@]}") ld=$(median3 "${loads[@]}")
    rss=$("$FLOOR" rss "$PK" plan --desired "$r" --state "$s")
    echo "no-op plan, $n volumes: floor readdir+fstatat ${fl} ms;" \
         "observe+record+ownership+plan ${in} ms (ratio $(ratio "$in" "$fl"));" \
         "whole command ${pl} ms (ratio $(ratio "$pl" "$fl"); of which loading $n XML files from git ${ld} ms)"
    echo "peak RSS of the no-op plan, $n volumes: ${rss} KiB = $(awk -v a="$rss" -v n="$n" 'BEGIN{printf "%.0f", a*1024/n}') bytes per volume;" \
         "above the ${rss1} KiB of a one-volume plan: $(awk -v a="$rss" -v b="$rss1" -v n="$n" 'BEGIN{printf "%.0f", (a-b)*1024/n}') bytes per volume"
    rm -rf "$p" "$B/state-$n"
done

# create / delete 1,000
n=1000
r=$B/repo-c p=$B/pool-c s=$B/state-c/state.db
make_repo "$r" "$p" "$n"
"$PK" plan -q --desired "$r" --state "$s" >/dev/null   # pool absent: nothing built yet
mkdir -p "$p"
"$PK" apply --yes -q --desired "$r" --state "$s" >/dev/null 2>&1 || true
rm -rf "$p"/v*.raw
mkdir -p "$B/floor"
creates=() cfloors=() deletes=() dfloors=() capply=() dapply=()
for _ in 1 2 3; do
    rm -rf "$p"/v*.raw "$B/floor"/*; mkdir -p "$p"
    # forget the previous round's ownership: a new state each time
    rm -rf "$B/state-c"
    "$PK" plan -q --desired "$r" --state "$s" >/dev/null
    sync
    cfloors+=("$("$FLOOR" create "$B/floor" $n 65536 2>/dev/null)")
    sync
    t0=$(ms); line=$(POOLKEEPER_TIMING=1 "$PK" apply --yes --desired "$r" --state "$s" 2>&1 >/dev/null | grep 'timing:' | tr '\n' ' '); t1=$(ms)
    creates+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')")
    capply+=("$(field apply "$line")")
    sync
    dfloors+=("$("$FLOOR" unlink "$B/floor" 2>/dev/null)")
    mv "$r/pools/p" "$B/vols-hold"; mkdir "$r/pools/p"
    tgit -C "$r" add -A; tgit -C "$r" commit -qm "delete all"
    sync
    t0=$(ms); line=$(POOLKEEPER_TIMING=1 POOLKEEPER_PRUNE=true "$PK" apply --yes --allow-mass-delete --desired "$r" --state "$s" 2>&1 >/dev/null | grep 'timing:' | tr '\n' ' '); t1=$(ms)
    deletes+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')")
    dapply+=("$(field apply "$line")")
    rmdir "$r/pools/p"; mv "$B/vols-hold" "$r/pools/p"
    tgit -C "$r" add -A; tgit -C "$r" commit -qm "all back"
done
cf=$(median3 "${cfloors[@]}") c=$(median3 "${creates[@]}") df=$(median3 "${dfloors[@]}") d=$(median3 "${deletes[@]}")
ca=$(median3 "${capply[@]}") da=$(median3 "${dapply[@]}")
echo "apply creating $n raw sparse volumes: floor open+ftruncate+rename ${cf} ms;" \
     "applying (journal, operations, one sync per pool and batch) ${ca} ms (ratio $(ratio "$ca" "$cf"));" \
     "whole command ${c} ms (ratio $(ratio "$c" "$cf"))"
echo "apply deleting $n owned volumes: floor unlink ${df} ms;" \
     "applying ${da} ms (ratio $(ratio "$da" "$df")); whole command ${d} ms (ratio $(ratio "$d" "$df"))"
