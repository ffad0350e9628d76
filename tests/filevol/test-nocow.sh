#!/bin/bash
# <nocow/> end to end on a real btrfs: a loop device on an image file,
# mounted for the test and ALWAYS unmounted and detached afterwards, even
# when a step fails. FS_NOCOW_FL must be set before any data is written
# (btrfs ignores it on a non-empty file): lsattr shows 'C'. On a filesystem
# that does not copy on write the element is a no-op, logged.
set -u
. "$PK_TEST_DATA/lib.sh"
if [ "$(id -u)" != 0 ] || ! command -v mkfs.btrfs >/dev/null || ! command -v losetup >/dev/null ||
   ! command -v lsattr >/dev/null; then
    echo "1..0 # SKIP needs root, mkfs.btrfs (btrfs-progs), losetup and lsattr"
    exit 0
fi
setup_repo nocow
LOOP=""
MNT=$T/mnt
cleanup() {
    mountpoint -q "$MNT" && umount "$MNT"
    [ -n "$LOOP" ] && losetup -d "$LOOP"
}

truncate -s 256M "$T/btrfs.img"
LOOP=$(losetup -f --show "$T/btrfs.img") || { echo "1..0 # SKIP no free loop device"; LOOP=""; exit 0; }
mkfs.btrfs -q "$LOOP" >/dev/null 2>&1 || { echo "Bail out! mkfs.btrfs failed"; exit 1; }
mkdir -p "$MNT"
mount "$LOOP" "$MNT" || { echo "1..0 # SKIP cannot mount btrfs here"; exit 0; }

pool_xml bt "$MNT/pool"
pool_xml ext "$T/extpool"
vol() { # pool name format nocow
    cat >"$R/pools/$1/$2.xml" <<XML
<volume>
  <name>$2</name>
  <capacity unit='MiB'>16</capacity>
  <target>
    <format type='$3'/>
    $4
  </target>
</volume>
XML
}
vol bt nocow.raw raw "<nocow/>"
vol bt nocow.qcow2 qcow2 "<nocow/>"
vol bt cow.raw raw ""
vol ext nocow.raw raw "<nocow/>"
commit "nocow volumes"
out=$(pk apply --yes -v 2>&1); rc=$?
is "$rc" 0 "apply on btrfs succeeds"
[ "$rc" = 0 ] || diag "$out"
attr() { lsattr -d "$1" 2>/dev/null | awk '{print $1}'; }
like "$(attr "$MNT/pool/nocow.raw")" "C" "raw with <nocow/>: lsattr shows C"
like "$(attr "$MNT/pool/nocow.qcow2")" "C" "qcow2 with <nocow/>: lsattr shows C"
unlike "$(attr "$MNT/pool/cow.raw")" "C" "a volume without <nocow/> copies on write"
ok "the raw volume still got its data (fully allocated)" \
   test "$(( $(stat -c %b "$MNT/pool/nocow.raw") * 512 ))" -ge $((16 << 20))
like "$out" "nocow: '$T/extpool/nocow\.raw' is not on btrfs, which alone copies on write: nothing to do" \
     "off btrfs it is a no-op, and the log says so"
ok "the ext volume exists" test -f "$T/extpool/nocow.raw"
pk plan --detailed-exitcode >/dev/null 2>&1
is "$?" 0 "the next plan has nothing to do"
done_testing
