#!/bin/bash
# Observing an rbd pool of N images (default 1000): poolkeeper's observe
# phase (the "observe=" of `plan -v`: pool stats, rbd_list2, then every
# image opened read-only, stat'ed and its allocation read with
# rbd_diff_iterate2 on 8 threads) against the Ceph tools on the same pool in
# the same run:
#   `rbd ls -l POOL`  every image opened for name, size, parent, format, lock
#   `rbd du POOL`     every image's used extents (what poolkeeper reports as
#                     allocation; fast-diff)
# Medians of 3 interleaved runs; the ratios are the result (nothing asserted).
# Also reports `poolkeeper apply` creating the N images (1 GiB each, thin).
#
# Needs the Ceph of tests/services/ceph-up.sh (CEPH_CONF, CEPH_MON_HOST,
# CEPH_MON_PORT, CEPH_ADMIN_KEY in the environment). Makes and removes its
# own RADOS pool. Usage: rbd_bench.sh [N]   Environment: POOLKEEPER, BENCH_DIR.
set -eu
PK=${POOLKEEPER:?}
N=${1:-1000}
for v in CEPH_CONF CEPH_MON_HOST CEPH_MON_PORT CEPH_ADMIN_KEY; do
    if [ -z "${!v:-}" ]; then
        echo "rbd_bench: $v is not set: start Ceph with eval \"\$(tests/services/up.sh ceph)\"" >&2
        exit 1
    fi
done
B=$(mktemp -d "${BENCH_DIR:-/var/tmp}/pk-rbd-bench-XXXXXX")
P=pkbench$$
admin() { timeout 120 ceph --id admin "$@"; }
cleanup() {
    admin osd pool rm "$P" "$P" --yes-i-really-really-mean-it >/dev/null 2>&1 || true
    rm -rf "$B"
}
trap cleanup EXIT
export POOLKEEPER_CONFIG=/dev/null POOLKEEPER_SECRETS_DIR=$B/secrets
tgit() { git -c user.email=b@poolkeeper -c user.name=bench -c init.defaultBranch=main "$@"; }
ms() { date +%s%N | awk '{printf "%.1f", $1/1e6}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) b = 0.001; printf "%.2f", a / b }'; }
median3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
timed() { local t0 t1; t0=$(ms); "$@" >/dev/null 2>&1; t1=$(ms); awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}'; }

admin osd pool create "$P" 32 32 >/dev/null 2>&1
timeout 120 rbd --id admin pool init "$P"
mkdir -p "$B/secrets" "$B/repo/pools/ceph"
chmod 700 "$B/secrets"
(umask 077 && printf '%s\n' "$CEPH_ADMIN_KEY" >"$B/secrets/usage:bench")
cat >"$B/repo/pools/ceph.xml" <<XML
<pool type='rbd'>
  <name>ceph</name>
  <source>
    <name>$P</name>
    <host name='$CEPH_MON_HOST' port='$CEPH_MON_PORT'/>
    <auth type='ceph' username='admin'><secret usage='bench'/></auth>
  </source>
</pool>
XML
for ((i = 0; i < N; i++)); do
    printf "<volume><name>v%06d</name><capacity unit='GiB'>1</capacity></volume>\n" "$i" \
        >"$B/repo/pools/ceph/v$(printf %06d "$i").xml"
done
tgit init -q "$B/repo"
tgit -C "$B/repo" add -A
tgit -C "$B/repo" commit -qm "$N images"

echo "rbd observe benchmark ($(date -u +%FT%TZ), $(nproc) cores, $N images of 1 GiB, pool $P)"
t_apply=$(timed "$PK" apply --yes -q --desired "$B/repo" --state "$B/state.db")
echo "  apply creating $N images: $t_apply ms ($(awk -v t="$t_apply" -v n="$N" 'BEGIN{printf "%.1f", n / (t / 1000)}') images/s)"
count=$(timeout 120 rbd --id admin ls "$P" | wc -l)
[ "$count" = "$N" ] || { echo "rbd_bench: expected $N images, found $count" >&2; exit 1; }

obs=() cmd=() lsl=() du=()
for _ in 1 2 3; do
    t0=$(ms)
    line=$("$PK" plan -v --desired "$B/repo" --state "$B/state.db" 2>&1 >/dev/null | grep 'timing:' || true)
    t1=$(ms)
    obs+=("$(echo "$line" | sed -E 's/.*observe=([0-9]+).*/\1/')")
    cmd+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')")
    lsl+=("$(timed timeout 600 rbd --id admin ls -l "$P")")
    du+=("$(timed timeout 600 rbd --id admin du -p "$P")")
done
o=$(median3 "${obs[@]}") c=$(median3 "${cmd[@]}") l=$(median3 "${lsl[@]}") d=$(median3 "${du[@]}")
printf '  %-44s %10s ms\n' "poolkeeper observe phase (plan -v observe=)" "$o"
printf '  %-44s %10s ms\n' "poolkeeper plan, whole command" "$c"
printf '  %-44s %10s ms\n' "rbd ls -l" "$l"
printf '  %-44s %10s ms\n' "rbd du" "$d"
echo "  ratio observe / rbd ls -l: $(ratio "$o" "$l")"
echo "  ratio observe / rbd du:    $(ratio "$o" "$d")"
echo "  ratio whole plan / rbd ls -l: $(ratio "$c" "$l")"
