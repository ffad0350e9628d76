#!/bin/bash
# mpath pools for real: scsi_debug shows one LU through two SCSI hosts (two
# paths), multipath(8) assembles one dm-multipath map from them (udev
# running; else dmsetup makes the same map), and the backend lists it with
# libdevmapper. The pool cannot create maps: a desired volume that does not
# exist is an error note of the plan.
. "$PK_TEST_DATA/kernel/lib.sh"
cleanup() {
    multipath -F >/dev/null 2>&1
    dmsetup remove pkmpath pk-linear >/dev/null 2>&1
    [ -n "${loop:-}" ] && losetup -d "$loop"
    rmmod scsi_debug 2>/dev/null
}
disks_of() { local d; for d in /sys/bus/scsi/devices/"$1":*:*:*/block/*; do [ -e "$d" ] && echo "/dev/${d##*/}"; done; }

modprobe scsi_debug dev_size_mb=32 add_host=2 vpd_use_hostno=0
modprobe dm_multipath
hosts=()
for h in /sys/class/scsi_host/host*; do
    [ "$(cat "$h/proc_name")" = scsi_debug ] && hosts+=("${h##*/host}")
done
is "${#hosts[@]}" 2 "two scsi_debug hosts"
two_paths() { [ -n "$(disks_of "${hosts[0]}")" ] && [ -n "$(disks_of "${hosts[1]}")" ]; }
ok "one disk behind each" wait_for 30 two_paths
p1=$(disks_of "${hosts[0]}") p2=$(disks_of "${hosts[1]}")
is "$(cat /sys/block/"${p1#/dev/}"/device/wwid)" "$(cat /sys/block/"${p2#/dev/}"/device/wwid)" "$p1 and $p2 are one LU"
settle
if udev_running; then
    # every path a map, but not the VM's own (single-path) disks
    cat > /etc/multipath.conf <<'CONF'
defaults {
    user_friendly_names no
    find_multipaths no
}
blacklist {
    device {
        vendor "QEMU"
        product ".*"
    }
}
CONF
    multipath -v0
else
    dmsetup create pkmpath --table "0 $(blockdev --getsz "$p1") multipath 0 0 1 1 round-robin 0 2 1 $p1 1000 $p2 1000"
fi
maps=$(dmsetup ls --target multipath | awk '$1 != "No" { print $1 }')
is "$(echo "$maps" | grep -c .)" 1 "one multipath map over the two paths"
map=$(echo "$maps" | head -n 1)
minor=$(dmsetup info -c --noheadings -o minor "$map" | tr -d ' ')
uuid=$(dmsetup info -c --noheadings -o uuid "$map" | tr -d ' ')
diag "map '$map' (dm-$minor, uuid '$uuid')"
# a device-mapper device that is no multipath map
truncate -s 8M "$T/lin.img"
loop=$(losetup -f --show "$T/lin.img")
dmsetup create pk-linear --table "0 16384 linear $loop 0"

write_pool mp <<XML
<pool type='mpath'>
  <name>mp</name>
  <target><path>/dev/mapper</path></target>
</pool>
XML
write_vol mp "dm-$minor" <<XML
<volume><name>dm-$minor</name><capacity unit='MiB'>32</capacity></volume>
XML
write_vol mp dm-999 <<XML
<volume><name>dm-999</name><capacity unit='MiB'>32</capacity></volume>
XML
commit "the multipath maps"
out=$(pk plan 2>&1); rc=$?
is "$rc" 1 "plan reports a desired map that does not exist as an error"
like "$out" "pool type 'mpath' cannot create volumes: 'mp/dm-999' is not created" "the pool cannot create it"
like "$out" "volume 'mp/dm-$minor' exists, not owned" "the existing map is observed"
unlike "$out" '(pool\.build|pool\.start|vol\.create)' "nothing to build, start or create"
observe mp
is "$(vol_names)" "dm-$minor" "the only volume is the multipath map (not the linear device)"
is "$(obs_vol "dm-$minor" path)" "/dev/mapper/$map" "its path is /dev/mapper/NAME"
is "$(obs_vol "dm-$minor" capacity)" 33554432 "its capacity is the LU's 32 MiB"
is "$(obs_vol "dm-$minor" identity)" "$uuid" "its identity is the map's device-mapper UUID"
out=$(pk dumpxml vol mp "dm-$minor" 2>&1)
like "$out" "<key>/dev/mapper/$map</key>" "dumpxml: key is the /dev/mapper path (libvirt's)"
like "$out" "<capacity unit='bytes'>33554432</capacity>" "dumpxml: live capacity"
echo offline > /sys/block/"${p1#/dev/}"/device/state
observe mp
is "$(vol_names)" "dm-$minor" "the map is still observed with a path offline"
echo running > /sys/block/"${p1#/dev/}"/device/state

done_testing
