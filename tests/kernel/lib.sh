# shellcheck shell=bash
# Helpers for the kernel tests (sourced). They run inside the test VM
# (tests/vm/vm-run.sh sets VM_RUN=1); anywhere else they skip. Besides
# lib.sh's (pk, commit, R, S, T), they read what a backend observes.
if [ "${VM_RUN:-}" != 1 ]; then
    echo "1..0 # SKIP kernel tests run inside the VM: tests/vm/run-kernel-suite.sh"
    exit 0
fi
set -u
. "$PK_TEST_DATA/lib.sh"
POOL_OP=${PK_BUILD_DIR:?}/tests/kernel/pool-op

setup_repo "kernel-${0##*/test-}"
mkdir -p "$R/pools" "$T/state"

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
udev_running() { [ -S /run/udev/control ]; }
settle() { ! udev_running || udevadm settle -t 60; }
