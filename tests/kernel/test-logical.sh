#!/bin/bash
# logical pools for real (device-mapper and LVM in the VM's kernel), driven
# through the poolkeeper binary and a git desired repo: build a volume group
# on two disks, thick, thin and sparse LVs, a snapshot as backing store,
# grow, shrink blocked / refused while mounted / allowed, delete with prune,
# stop and start, a volume group poolkeeper does not own left alone, and
# the pool deleted (pool-op: the engine plans that only for removed pools).
. "$PK_TEST_DATA/kernel/lib.sh"

loops=()
cleanup() {
    umount /mnt/pk-thick 2>/dev/null
    vgchange -q -an pkvg othervg >/dev/null 2>&1
    for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT
for i in 0 1 2; do
    truncate -s 64M "$T/disk$i.img"
    loops+=("$(losetup -f --show "$T/disk$i.img")")
done
A=${loops[0]} B=${loops[1]} C=${loops[2]}
diag "disks: $A $B (pool), $C (a group poolkeeper does not own)"
lv() { lvs --noheadings --units b --nosuffix -o "$2" "pkvg/$1" 2>/dev/null | tr -d ' '; }

write_pool vg1 <<XML
<pool type='logical'>
  <name>vg1</name>
  <source>
    <name>pkvg</name>
    <device path='$A'/>
    <device path='$B'/>
    <format type='lvm2'/>
  </source>
  <target><path>/dev/pkvg</path></target>
</pool>
XML
vol() { # NAME CAPACITY-MiB [ALLOCATION-MiB] [BACKING]
    local alloc= backing=
    [ -n "${3:-}" ] && alloc="<allocation unit='MiB'>$3</allocation>"
    [ -n "${4:-}" ] && backing="<backingStore><path>$4</path></backingStore>"
    write_vol vg1 "$1" <<XML
<volume>
  <name>$1</name>
  <capacity unit='MiB'>$2</capacity>
  $alloc
  $backing
</volume>
XML
}
vol thick 16
vol base 8
vol sparse 64 4
commit "a group on two disks, thick and sparse volumes"

# ---- build and create ------------------------------------------------------
out=$(pk plan 2>&1)
like "$out" '\+ pool\.build +vg1' "plan builds the volume group"
like "$out" 'vol\.create +vg1/sparse' "and creates the volumes"
out=$(pk apply --yes 2>&1); rc=$?
is "$rc" 0 "apply succeeds"
diag "$out"
is "$(vgs --noheadings -o pv_count pkvg | tr -d ' ')" 2 "volume group pkvg on both disks"
is "$(lv thick lv_size)" 16777216 "thick LV of 16 MiB"
is "$(lv thick lv_attr | cut -c1,5)" "-a" "an ordinary, active LV"
is "$(lv sparse origin)" "[sparse_vorigin]" "sparse volume: libvirt's snapshot of the zero target"
is "$(lv sparse lv_size)" 4194304 "with its 4 MiB allocation as COW area"
ok "its device exists" test -b /dev/pkvg/sparse
is "$(blockdev --getsize64 /dev/pkvg/sparse)" 67108864 "and is 64 MiB big"
pk plan --detailed-exitcode >/dev/null 2>&1
is "$?" 0 "a second plan has nothing to do (sizes round-trip exactly)"
out=$(pk dumpxml vol vg1 thick 2>&1)
like "$out" "<key>$(lv thick lv_uuid)</key>" "dumpxml: the key is the LV UUID"

# ---- thin (the operator made a thin pool) and a snapshot as backing store --
lvcreate -q -y --type thin-pool -L 16M -n tpool pkvg >/dev/null 2>&1
printf 'before the snapshot' | dd of=/dev/pkvg/base conv=notrunc status=none
vol thin 32 0
vol snap 8 "" /dev/pkvg/base
commit "a thin volume and a snapshot"
out=$(pk apply --yes 2>&1); rc=$?
is "$rc" 0 "apply creates the thin volume and the snapshot"
diag "$out"
is "$(lv thin lv_attr | cut -c1)" "V" "sparse volume in a group with one thin pool: a thin LV"
is "$(lv thin pool_lv)" "tpool" "in that thin pool"
is "$(lv thin lv_size)" 33554432 "of 32 MiB"
is "$(lv snap origin)" "base" "the backing store made an LVM snapshot of base"
printf 'after the snapshot!' | dd of=/dev/pkvg/base conv=notrunc status=none
is "$(head -c 19 /dev/pkvg/snap)" "before the snapshot" "the snapshot keeps what base held"
is "$(lv tpool lv_attr | cut -c1)" "t" "the operator's thin pool is untouched"
pk plan --detailed-exitcode >/dev/null 2>&1
is "$?" 0 "nothing left to do"

# ---- grow, shrink ----------------------------------------------------------
vol thick 32
commit "grow thick"
out=$(pk plan 2>&1)
like "$out" '~ vol\.resize +vg1/thick +16 MiB -> 32 MiB' "grow planned"
pk apply --yes >/dev/null 2>&1
is "$(lv thick lv_size)" 33554432 "thick grown to 32 MiB"

mkfs.ext4 -q /dev/pkvg/thick
mkdir -p /mnt/pk-thick
mount /dev/pkvg/thick /mnt/pk-thick
vol thick 16
commit "shrink thick"
out=$(pk plan 2>&1)
like "$out" '! vol\.resize +vg1/thick.*allow_shrink' "shrink blocked without allow_shrink"
pk apply --yes >/dev/null 2>&1
is "$(lv thick lv_size)" 33554432 "blocked: size unchanged"
out=$(POOLKEEPER_ALLOW_SHRINK=true pk apply --yes 2>&1); rc=$?
is "$rc" 1 "allowed, but the LV holds a mounted filesystem: the action fails"
like "$out" "refusing to shrink '/dev/pkvg/thick': it is mounted on '/mnt/pk-thick'" "and says why"
is "$(lv thick lv_size)" 33554432 "the mounted filesystem's LV is not shrunk"
umount /mnt/pk-thick
out=$(POOLKEEPER_ALLOW_SHRINK=true pk apply --yes 2>&1); rc=$?
is "$rc" 0 "unmounted, allowed: shrunk"
is "$(lv thick lv_size)" 16777216 "thick is 16 MiB"

# ---- delete with prune -----------------------------------------------------
tgit -C "$R" rm -q pools/vg1/sparse.xml
commit "drop sparse"
out=$(pk plan 2>&1)
like "$out" '! vol\.delete +vg1/sparse.*prune' "deletion blocked without prune"
pk apply --yes >/dev/null 2>&1
ok "blocked: the LV is still there" lvs pkvg/sparse
POOLKEEPER_PRUNE=true pk apply --yes >/dev/null 2>&1
ok "prune deleted it" test -z "$(lvs --noheadings -o lv_name pkvg/sparse 2>/dev/null)"
ok "its hidden zero origin went with it" test -z "$(lvs -a --noheadings -o lv_name pkvg | grep sparse)"

# ---- stop and start --------------------------------------------------------
pool_op "$(pool_file vg1)" stop >/dev/null 2>&1
is "$(lv thick lv_attr | cut -c5)" "-" "stop: vgchange -aln deactivated the LVs"
is "$(obs vg1 state)" inactive "observed inactive"
out=$(pk plan 2>&1)
like "$out" '\+ pool\.start +vg1' "the plan starts it again"
pk apply --yes >/dev/null 2>&1
is "$(lv thick lv_attr | cut -c5)" "a" "start: vgchange -aly"

# ---- a volume group poolkeeper does not own --------------------------------
pvcreate -q "$C" >/dev/null
vgcreate -q othervg "$C" >/dev/null
lvcreate -q -y -n keep -L 8M othervg >/dev/null
lvcreate -q -y -n stray -L 8M othervg >/dev/null
keep_uuid=$(lvs --noheadings -o lv_uuid othervg/keep | tr -d ' ')
write_pool other <<XML
<pool type='logical'>
  <name>other</name>
  <source><name>othervg</name><device path='$C'/></source>
</pool>
XML
write_vol other keep <<XML
<volume><name>keep</name><capacity unit='MiB'>16</capacity></volume>
XML
commit "declare the existing group"
out=$(POOLKEEPER_PRUNE=true POOLKEEPER_ALLOW_SHRINK=true pk plan 2>&1)
like "$out" "volume 'other/keep' exists, not owned" "its LV with a desired name: exists, not owned"
unlike "$out" '(pool\.build|vol\.resize|vol\.delete) +other' "nothing planned on it"
POOLKEEPER_PRUNE=true POOLKEEPER_ALLOW_SHRINK=true pk apply --yes >/dev/null 2>&1
is "$(lvs --noheadings -o lv_uuid othervg/keep | tr -d ' ')" "$keep_uuid" "its LV is the same one"
is "$(lvs --noheadings --units b --nosuffix -o lv_size othervg/keep | tr -d ' ')" 8388608 "with its size"
ok "the undeclared LV is untouched" lvs othervg/stray
write_pool grab <<XML
<pool type='logical'>
  <name>grab</name>
  <source><name>newvg</name><device path='$C'/></source>
</pool>
XML
commit "a pool on a disk of another group"
out=$(POOLKEEPER_ALLOW_FORMAT=true pk plan 2>&1); rc=$?
is "$rc" 1 "a pool on another group's physical volume cannot even be planned"
like "$out" "'$C' is a physical volume of volume group 'othervg', not 'newvg'" "and says whose it is"
POOLKEEPER_ALLOW_FORMAT=true pk apply --yes >/dev/null 2>&1
ok "othervg is intact" vgs othervg
tgit -C "$R" rm -rq pools/grab.xml pools/other.xml pools/other
commit "forget the other pools"

# ---- delete the pool -------------------------------------------------------
out=$(pool_op "$(pool_file vg1)" delete 2>&1); rc=$?
is "$rc" 1 "the pool is not deleted while it holds LVs"
like "$out" "does not own: 'base', 'snap', 'thick', 'thin', 'tpool'" "naming them"
tgit -C "$R" rm -q pools/vg1/thick.xml pools/vg1/base.xml pools/vg1/thin.xml pools/vg1/snap.xml
commit "drop every volume"
out=$(POOLKEEPER_PRUNE=true pk apply --yes --allow-mass-delete 2>&1); rc=$?
is "$rc" 0 "prune deletes them (the snapshot before its origin)"
diag "$out"
is "$(lvs --noheadings -o lv_name pkvg | tr -d ' ' | tr '\n' ' ')" "tpool " "only the operator's thin pool is left"
lvremove -q -y pkvg/tpool >/dev/null
out=$(pool_op "$(pool_file vg1)" delete 2>&1); rc=$?
is "$rc" 0 "an empty group is deleted"
diag "$out"
ok "the volume group is gone" test -z "$(vgs --noheadings -o vg_name pkvg 2>/dev/null)"
ok "its disks are no physical volumes any more" test -z "$(pvs --noheadings -o pv_name "$A" "$B" 2>/dev/null)"
is "$(blkid -p -o value -s TYPE "$A")" "" "no LVM label left on the first disk"
is "$(obs vg1 state)" absent "the pool is absent (buildable again)"
ok "othervg survived all of it" lvs othervg/keep

done_testing
