#!/bin/bash
# logical pools for real (device-mapper and LVM in the VM's kernel), driven
# through the poolkeeper binary and a git desired repo: build a volume group
# on two disks, thick, thin and sparse LVs, a snapshot as backing store,
# grow, shrink blocked / refused while mounted / allowed, delete with prune,
# stop and start, a volume group poolkeeper does not own left alone, and
# the pool removed from the repository and deleted by apply.
# Under TCG every LVM command costs seconds: the steps are few and big.
. "$PK_TEST_DATA/kernel/lib.sh"
# LVM makes its own /dev nodes instead of waiting for udev (much faster
# here); poolkeeper passes the variable on to the LVM tools it runs.
export DM_DISABLE_UDEV=1

loops=()
cleanup() {
    umount /mnt/pk-thick 2>/dev/null
    vgchange -q -an pkvg othervg >/dev/null 2>&1
    for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null; done
}
for i in 0 1 2; do
    truncate -s 64M "$T/disk$i.img"
    loops+=("$(losetup -f --show "$T/disk$i.img")")
done
A=${loops[0]} B=${loops[1]} C=${loops[2]}
diag "disks: $A $B (pool), $C (a group poolkeeper does not own)"
# One lvs report per step; lv NAME FIELD reads it.
LVS=
snap_lvs() { LVS=$(lvs -a --noheadings --units b --nosuffix --separator '|' \
                   -o lv_name,lv_attr,lv_size,origin,pool_lv,lv_uuid "${1:-pkvg}" 2>/dev/null | tr -d ' '); }
lv() {
    local col
    case $2 in attr) col=2 ;; size) col=3 ;; origin) col=4 ;; pool) col=5 ;; uuid) col=6 ;; esac
    printf '%s\n' "$LVS" | awk -F'|' -v n="$1" -v c="$col" '$1 == n { print $c }'
}

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
out=$(pk apply --yes 2>&1); rc=$?
is "$rc" 0 "apply on two empty disks succeeds"
like "$out" '\+ pool\.build +vg1 \(logical\)' "it builds the volume group"
like "$out" 'Apply complete: 5 done, 0 failed' "and creates three volumes"
snap_lvs
is "$(vgs --noheadings -o pv_count pkvg | tr -d ' ')" 2 "volume group pkvg on both disks"
is "$(lv thick size)" 16777216 "thick LV of 16 MiB"
is "$(lv thick attr | cut -c1,5)" "-a" "an ordinary, active LV"
is "$(lv sparse origin)" "[sparse_vorigin]" "sparse volume: libvirt's snapshot of the zero target"
is "$(lv sparse size)" 4194304 "with its 4 MiB allocation as copy-on-write area"
is "$(blockdev --getsize64 /dev/pkvg/sparse 2>&1)" 67108864 "and a 64 MiB device"
diag "$(date +%T) built"

# ---- thin (the operator made a thin pool), a snapshot, grow ------------------
lvcreate -q -y --type thin-pool -L 16M -n tpool pkvg >/dev/null 2>&1
printf 'before the snapshot' | dd of=/dev/pkvg/base conv=notrunc status=none
vol thin 32 0
vol snap 8 "" /dev/pkvg/base
vol thick 32
write_vol vg1 base <<XML
<volume>
  <name>base</name>
  <capacity unit='MiB'>8</capacity>
  <target><permissions><mode>0640</mode><owner>0</owner><group>0</group></permissions></target>
</volume>
XML
commit "a thin volume, a snapshot, thick grown, base's mode"
out=$(pk apply --yes 2>&1); rc=$?
is "$rc" 0 "apply creates the thin volume and the snapshot and grows thick"
like "$out" '~ vol\.resize +vg1/thick +16 MiB -> 32 MiB' "grow planned as vol.resize"
snap_lvs
is "$(lv thin attr | cut -c1)" "V" "sparse volume in a group with one thin pool: a thin LV"
is "$(lv thin pool)" "tpool" "in that thin pool"
is "$(lv thin size)" 33554432 "of 32 MiB"
is "$(lv snap origin)" "base" "the backing store made an LVM snapshot of base"
printf 'after the snapshot!' | dd of=/dev/pkvg/base conv=notrunc status=none
is "$(head -c 19 /dev/pkvg/snap)" "before the snapshot" "the snapshot keeps what base held"
is "$(lv thick size)" 33554432 "thick grown to 32 MiB"
is "$(lv tpool attr | cut -c1)" "t" "the operator's thin pool is untouched"
like "$out" 'vol\.update +vg1/base .*-> mode 0640' "owner and mode planned as vol.update"
is "$(stat -L -c '%a %u:%g' /dev/pkvg/base)" "640 0:0" "and set on the LV's device node"
out=$(pk dumpxml vol vg1 thick 2>&1)
like "$out" "<key>$(lv thick uuid)</key>" "dumpxml: the key is the LV UUID"
pk plan --detailed-exitcode >/dev/null 2>&1
is "$?" 0 "a second plan has nothing to do (sizes round-trip exactly)"
diag "$(date +%T) thin, snapshot, grow"

# ---- shrink and delete: blocked, refused while mounted, allowed -------------
mkfs.ext4 -q /dev/pkvg/thick
mkdir -p /mnt/pk-thick
mount /dev/pkvg/thick /mnt/pk-thick
vol thick 16
tgit -C "$R" rm -q pools/vg1/sparse.xml
commit "shrink thick, drop sparse"
out=$(pk apply --yes 2>&1); rc=$?
is "$rc" 0 "apply with only blocked actions succeeds"
like "$out" '! vol\.resize +vg1/thick.*allow_shrink' "shrink blocked without allow_shrink"
like "$out" '! vol\.delete +vg1/sparse.*prune' "deletion blocked without prune"
snap_lvs
is "$(lv thick size)" 33554432 "blocked: size unchanged"
ok "blocked: sparse still there" test -n "$(lv sparse size)"
out=$(POOLKEEPER_ALLOW_SHRINK=true POOLKEEPER_PRUNE=true pk apply --yes 2>&1); rc=$?
is "$rc" 1 "allowed, but thick holds a mounted filesystem: that action fails"
like "$out" "refusing to shrink '/dev/pkvg/thick': it is mounted on '/mnt/pk-thick'" "and says why"
snap_lvs
is "$(lv thick size)" 33554432 "the mounted filesystem's LV is not shrunk"
ok "prune deleted sparse" test -z "$(lv sparse size)"
ok "its hidden zero origin went with it" test -z "$(lv '[sparse_vorigin]' size)"
umount /mnt/pk-thick
out=$(POOLKEEPER_ALLOW_SHRINK=true pk apply --yes 2>&1); rc=$?
is "$rc" 0 "unmounted and allowed: shrunk"
snap_lvs
is "$(lv thick size)" 16777216 "thick is 16 MiB"
diag "$(date +%T) shrink, delete"

# ---- stop and start --------------------------------------------------------
pool_op "$(pool_file vg1)" stop >/dev/null 2>&1
snap_lvs
is "$(lv thick attr | cut -c5)" "-" "stop: vgchange -aln deactivated the LVs"
out=$(pk apply --yes 2>&1); rc=$?
like "$out" '\+ pool\.start +vg1' "observed inactive: the plan starts it again"
snap_lvs
is "$(lv thick attr | cut -c5)" "a" "start: vgchange -aly"
diag "$(date +%T) stop, start"

# ---- a volume group poolkeeper does not own --------------------------------
pvcreate -q "$C" >/dev/null
vgcreate -q othervg "$C" >/dev/null
lvcreate -q -y -n keep -L 8M othervg >/dev/null
lvcreate -q -y -n stray -L 8M othervg >/dev/null
snap_lvs othervg
keep_uuid=$(lv keep uuid)
write_pool other <<XML
<pool type='logical'>
  <name>other</name>
  <source><name>othervg</name><device path='$C'/></source>
</pool>
XML
write_vol other keep <<XML
<volume><name>keep</name><capacity unit='MiB'>16</capacity></volume>
XML
write_pool grab <<XML
<pool type='logical'>
  <name>grab</name>
  <source><name>newvg</name><device path='$C'/></source>
</pool>
XML
commit "declare the existing group, and a pool on its disk"
out=$(POOLKEEPER_PRUNE=true POOLKEEPER_ALLOW_SHRINK=true POOLKEEPER_ALLOW_FORMAT=true pk apply --yes 2>&1); rc=$?
is "$rc" 1 "a pool on another group's disk makes the run fail"
like "$out" "'$C' is a physical volume of volume group 'othervg', not 'newvg'" "saying whose disk it is"
like "$out" "volume 'other/keep' exists, not owned" "the LV with a desired name: exists, not owned"
unlike "$out" '(pool\.build|vol\.resize|vol\.delete|vol\.create) +(other|grab)' "nothing planned on either"
snap_lvs othervg
is "$(lv keep uuid)" "$keep_uuid" "its LV is the same one"
is "$(lv keep size)" 8388608 "with its size"
ok "the undeclared LV is untouched" test -n "$(lv stray size)"
tgit -C "$R" rm -rq pools/grab.xml pools/other.xml pools/other
commit "forget the other pools"
diag "$(date +%T) foreign group"

# ---- delete the pool -------------------------------------------------------
out=$(pool_op "$(pool_file vg1)" delete 2>&1); rc=$?
is "$rc" 1 "the pool is not deleted while it holds LVs"
like "$out" "does not own: 'base', 'snap', 'thick', 'thin', 'tpool'" "naming them"
tgit -C "$R" rm -q pools/vg1/thick.xml pools/vg1/base.xml pools/vg1/thin.xml pools/vg1/snap.xml
commit "drop every volume"
out=$(POOLKEEPER_PRUNE=true pk apply --yes --allow-mass-delete 2>&1); rc=$?
is "$rc" 0 "prune deletes them all, the snapshot before its origin"
ok "snap deleted before base" test "$(printf '%s\n' "$out" | grep -n 'done.*vol.delete.*vg1/snap' | cut -d: -f1)" \
    -lt "$(printf '%s\n' "$out" | grep -n 'done.*vol.delete.*vg1/base' | cut -d: -f1)"
snap_lvs
is "$(printf '%s\n' "$LVS" | grep -v '^\[' | cut -d'|' -f1 | tr '\n' ' ')" "tpool " "only the operator's thin pool is left"
# The pool removed from the repository: cleaned up through the definition
# the state database kept, once nothing poolkeeper does not own is left.
cp "$(pool_file vg1)" "$T/vg1.xml"
tgit -C "$R" rm -rq pools/vg1.xml
touch "$R/pools/.gitkeep"   # git keeps no empty directory: an empty desired set
commit "remove the pool"
out=$(POOLKEEPER_ALLOW_POOL_DELETE=true pk apply --yes --allow-mass-delete 2>&1); rc=$?
like "$out" "pool 'vg1' holds logical volume 'tpool' that poolkeeper does not own" "removed: not deleted while it holds the operator's thin pool"
unlike "$out" "done +pool\.(stop|delete)" "not even stopped"
ok "the volume group is still there" test -n "$(vgs --noheadings -o vg_name pkvg 2>/dev/null)"
lvremove -q -y pkvg/tpool >/dev/null
out=$(pk plan --allow-mass-delete 2>&1)
like "$out" '! pool\.delete +vg1 .*blocked: deleting a pool needs policy allow_pool_delete' "emptied: deletion waits for allow_pool_delete"
out=$(POOLKEEPER_ALLOW_POOL_DELETE=true pk plan 2>&1)
like "$out" "blocked: the desired state has no pools, which looks like a mistake" "and, the desired set being empty now, for --allow-mass-delete"
out=$(POOLKEEPER_ALLOW_POOL_DELETE=true pk apply --yes --allow-mass-delete 2>&1); rc=$?
is "$rc" 0 "apply deletes the removed, empty pool"
like "$out" 'done +pool\.delete +vg1' "through pool.delete"
ok "the volume group is gone" test -z "$(vgs --noheadings -o vg_name pkvg 2>/dev/null)"
ok "its disks are no physical volumes any more" test -z "$(pvs --noheadings -o pv_name "$A" "$B" 2>/dev/null)"
is "$(blkid -p -o value -s TYPE "$A")" "" "no LVM label left on the first disk"
OBS=$(pool_op "$T/vg1.xml" observe 2>&1)
is "$(obs state)" absent "the pool is absent (buildable again)"
POOLKEEPER_ALLOW_POOL_DELETE=true pk plan --detailed-exitcode --allow-mass-delete >/dev/null 2>&1
is "$?" 0 "and nothing is left to do"
ok "othervg survived all of it" lvs othervg/keep
diag "$(date +%T) deleted"

done_testing
