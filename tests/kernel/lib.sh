# shellcheck shell=bash
# Helpers for the kernel tests (sourced). They run inside the test VM
# (tests/vm/vm-run.sh sets VM_RUN=1); anywhere else they skip.
. "$PK_TEST_DATA/tap.sh"
if [ "${VM_RUN:-}" != 1 ]; then
    echo "1..0 # SKIP kernel tests run inside the VM: tests/vm/run-kernel-suite.sh"
    exit 0
fi
set -u
PK=${POOLKEEPER:?}
POOL_OP=${PK_BUILD_DIR:?}/tests/kernel/pool-op
export POOLKEEPER_CONFIG=/dev/null

T=$(tmpdir "kernel-${0##*/test-}")
R=$T/repo
S=$T/state/state.db
mkdir -p "$R/pools" "$T/state"
tgit init -q "$R"

pk() { local c=$1; shift; "$PK" "$c" --desired "$R" --state "$S" "$@"; }
commit() { tgit -C "$R" add -A && tgit -C "$R" commit -qm "$1" --allow-empty; }
pool_file() { echo "$R/pools/$1.xml"; }
# write_pool NAME <<XML ... ; write_vol POOL NAME <<XML ...
write_pool() { mkdir -p "$R/pools/$1"; cat > "$R/pools/$1.xml"; }
write_vol() { mkdir -p "$R/pools/$1"; cat > "$R/pools/$1/$2.xml"; }
pool_op() { "$POOL_OP" "$@"; }
# observe POOL: what the backend observes now (pool-op observe), kept in
# $OBS for the readers below: obs FIELD ("state", "capacity", "identity"),
# obs_vol VOL KEY (a key=value of a volume line), vol_names.
OBS=
observe() { OBS=$(pool_op "$(pool_file "$1")" observe 2>&1); }
obs() { printf '%s\n' "$OBS" | awk -v f="$1" '$1 == f { $1 = ""; sub(/^ /, ""); print }'; }
obs_vol() {
    printf '%s\n' "$OBS" |
        awk -v v="$1" -v k="$2" '$1 == "vol" && $2 == v { for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) { sub(/^[^=]*=/, "", $i); print $i } } }'
}
vol_names() { printf '%s\n' "$OBS" | awk '$1 == "vol" { print $2 }' | tr '\n' ' ' | sed 's/ $//'; }
# wait_for SECONDS CMD...: poll every 0.2 s
wait_for() {
    local t=$1; shift
    local end=$(( $(date +%s) + t ))
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$end" ] || return 1
        sleep 0.2
    done
}
udev_running() { [ -S /run/udev/control ]; }
settle() { ! udev_running || udevadm settle -t 60; }
