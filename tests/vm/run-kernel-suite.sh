#!/bin/bash
# run-kernel-suite.sh BUILDDIR [MESON-TEST-ARGS...] — the kernel test suite
# (meson suite 'kernel', tests/kernel/) inside one VM booted by vm-run.sh:
# the source and build directories are shared read-write, udev runs (the
# iSCSI and SCSI tests look for /dev/disk/by-path links), and a small disk
# on a virtio-scsi controller gives the scsi test a PCI SCSI host.
# Exit status: meson's; a VM that cannot boot or hangs is a failure (and
# says so), never a skip. The log is BUILDDIR/meson-logs/kernel.txt|json.
set -u
[ $# -ge 1 ] || { echo "usage: $0 BUILDDIR [MESON-TEST-ARGS...]" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd -P)
src=$(cd "$here/../.." && pwd -P)
build=$(cd "$1" && pwd -P) || exit 2
shift
work=$(mktemp -d "${TMPDIR:-/tmp}/pk-kernel-suite.XXXXXX")
trap 'rm -rf "$work"' EXIT
truncate -s 64M "$work/scsi0.img"
shares=(--share "$src")
case "$build/" in "$src"/*) ;; *) shares+=(--share "$build") ;; esac
start=$(date +%s)
"$here/vm-run.sh" --udev --timeout "${PK_KERNEL_TIMEOUT:-1800}" "${shares[@]}" \
    --scsi-disk "$work/scsi0.img" -- \
    meson test -C "$build" --suite kernel --no-rebuild --print-errorlogs --logbase kernel \
    --num-processes 1 "$@"
rc=$?
echo "== kernel suite: exit status $rc after $(( $(date +%s) - start )) s"
case $rc in
    124) echo "ERROR: the kernel test VM timed out" >&2 ;;
    125) echo "ERROR: the kernel test VM failed to boot or crashed (see above)" >&2 ;;
esac
exit $rc
