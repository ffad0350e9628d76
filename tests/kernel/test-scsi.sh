#!/bin/bash
# scsi pools for real: a scsi_debug host found by name, the virtio-scsi
# controller's host found by PCI address and unique_id (parentaddr), their
# LUNs as volumes with capacities and by-path paths; and a managed vHBA
# (NPIV vport) created on start and deleted on stop, on the fc_host of the
# kernel's software FCoE initiator (VN2VN over a veth pair).
. "$PK_TEST_DATA/kernel/lib.sh"
WWNN=2000001b32a9da4e WWPN=2001001b32a9da4e
cleanup() {
    [ -n "${ctlr_up:-}" ] && { echo pkfc0 > /sys/bus/fcoe/ctlr_destroy; ip link del pkfc0; } 2>/dev/null
    rmmod scsi_debug 2>/dev/null
}
disks_of() { local d; for d in /sys/bus/scsi/devices/"$1":*:*:*/block/*; do [ -e "$d" ] && echo "/dev/${d##*/}"; done; }
host_of() { local h; for h in /sys/class/scsi_host/host*; do [ "$(cat "$h/proc_name")" = "$1" ] && echo "${h##*/host}"; done; }
scsi_pool() { # NAME ADAPTER-XML [TARGET]
    write_pool "$1" <<XML
<pool type='scsi'>
  <name>$1</name>
  <source>
    $2
  </source>
  <target><path>${3:-/dev/disk/by-path}</path></target>
</pool>
XML
}

# ---- scsi_host by name -----------------------------------------------------
modprobe scsi_debug dev_size_mb=16 num_tgts=1 max_luns=2
H=$(host_of scsi_debug)
two() { [ "$(disks_of "$H" | wc -l)" = 2 ]; }
ok "scsi_debug host$H with two disks" wait_for 30 two
settle
# scsi_debug hangs off no bus udev's path_id knows: no by-path links, by-id ones
scsi_pool dbg "<adapter type='scsi_host' name='host$H'/>" /dev/disk/by-id
write_vol dbg unit:0:0:0 <<XML
<volume><name>unit:0:0:0</name><capacity unit='MiB'>16</capacity></volume>
XML
write_vol dbg unit:0:0:9 <<XML
<volume><name>unit:0:0:9</name><capacity unit='MiB'>16</capacity></volume>
XML
commit "scsi_debug host by name"
out=$(pk plan 2>&1); rc=$?
is "$rc" 1 "a desired LUN that does not exist is an error of the plan"
like "$out" "pool type 'scsi' cannot create volumes: 'dbg/unit:0:0:9' is not created" "LUNs are not created"
like "$out" "volume 'dbg/unit:0:0:0' exists, not owned" "the existing LUN is observed under libvirt's name"
observe dbg
is "$(vol_names)" "unit:0:0:0 unit:0:0:1" "both LUNs are volumes"
is "$(obs_vol unit:0:0:1 capacity)" 16777216 "with their capacity"
dev=$(disks_of "$H" | head -n 1)
is "$(readlink -f "$(obs_vol unit:0:0:0 path)")" "$dev" "the path is a stable link to the disk"
like "$(obs_vol unit:0:0:0 path)" '^/dev/disk/by-id/' "in the target directory"
is "$(obs_vol unit:0:0:0 key)" "$(/lib/udev/scsi_id --replace-whitespace --whitelisted --device "$dev")" \
    "the key is the SCSI serial (scsi_id)"
rmmod scsi_debug
out=$(pool_op "$(pool_file dbg)" observe 2>&1); rc=$?
is "$rc" 1 "a host that went away is an observe error"
like "$out" "SCSI host 'host$H' does not exist" "naming it"
tgit -C "$R" rm -rq pools/dbg.xml pools/dbg
commit "drop dbg"

# ---- scsi_host by PCI address (parentaddr) ----------------------------------
V=$(host_of virtio_scsi)
if [ -n "$V" ]; then
    pci=$(readlink -f "/sys/class/scsi_host/host$V" | grep -oE '[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-9a-f]' | tail -n 1)
    uid=$(cat "/sys/class/scsi_host/host$V/unique_id")
    IFS=':.' read -r dom bus slot fn <<< "$pci"
    diag "virtio-scsi host$V at PCI $pci, unique_id $uid"
    scsi_pool pci "<adapter type='scsi_host'><parentaddr unique_id='$uid'><address domain='0x$dom' bus='0x$bus' slot='0x$slot' function='0x$fn'/></parentaddr></adapter>"
    commit "the virtio-scsi host by PCI address"
    pk plan --detailed-exitcode >/dev/null 2>&1
    is "$?" 0 "found by parentaddr: nothing to do"
    observe pci
    is "$(vol_names)" "unit:0:0:0" "its disk is a volume"
    is "$(obs_vol unit:0:0:0 capacity)" 67108864 "of the disk's 64 MiB"
    like "$(obs_vol unit:0:0:0 path)" "^/dev/disk/by-path/pci-$pci-" "named by its by-path link"
    is "$(obs identity)" "pci:$pci:$uid" "the pool is the PCI address and unique_id, not a host number"
    sed -i "s/unique_id='$uid'/unique_id='$((uid + 7))'/" "$(pool_file pci)"
    commit "wrong unique_id"
    out=$(pk plan 2>&1)
    like "$out" "no SCSI host with unique_id $((uid + 7)) under PCI device $pci" "a wrong unique_id is an observe error"
    tgit -C "$R" rm -q pools/pci.xml
    commit "drop pci"
else
    tap_skip "no virtio-scsi disk in this VM (tests/vm/run-kernel-suite.sh adds one)" "parentaddr"
fi

# ---- fc_host vHBA, managed -------------------------------------------------
modprobe fcoe
ip link add pkfc0 type veth peer name pkfc1
ip link set pkfc0 up
ip link set pkfc1 up
echo pkfc0 > /sys/bus/fcoe/ctlr_create && ctlr_up=1
ctlr=$(ls -d /sys/bus/fcoe/devices/ctlr_* | head -n 1)
echo vn2vn > "$ctlr/mode"
echo 1 > "$ctlr/enabled"
online() { grep -qx Online /sys/class/fc_host/host*/port_state; }
ok "software FCoE gives an online fc_host" wait_for 60 online
P=$(grep -lx Online /sys/class/fc_host/host*/port_state | head -n 1 | sed 's|.*/host\([0-9]*\)/.*|\1|')
vhba() { grep -l "0x$WWPN" /sys/class/fc_host/host*/port_name 2>/dev/null | sed 's|.*/host\([0-9]*\)/.*|\1|'; }
scsi_pool vhba "<adapter type='fc_host' parent='host$P' managed='yes' wwnn='$WWNN' wwpn='$WWPN'/>"
commit "a managed vHBA"
out=$(pk apply --yes 2>&1); rc=$?
is "$rc" 0 "apply starts the pool"
like "$out" 'done +pool\.start +vhba' "by creating its vHBA"
V=$(vhba)
ok "an fc_host with the pool's wwpn exists" test -n "$V"
like "$(readlink -f "/sys/class/fc_host/host$V")" "/host$P/vport-" "a vport of host$P"
is "$(cat "/sys/class/fc_host/host$V/node_name" 2>/dev/null)" "0x$WWNN" "with the pool's wwnn"
pk plan --detailed-exitcode >/dev/null 2>&1
is "$?" 0 "running: nothing to do (no LUNs behind it)"
pool_op "$(pool_file vhba)" stop >/dev/null 2>&1
is "$(vhba)" "" "stop deleted the vHBA"
observe vhba
is "$(obs state)" inactive "a managed vHBA that is not there: inactive"
sed -i "s/ managed='yes'//" "$(pool_file vhba)"
commit "unmanaged"
out=$(pk plan 2>&1); rc=$?
is "$rc" 1 "an unmanaged vHBA that does not exist is an error"
like "$out" "no vHBA with wwnn '$WWNN' and wwpn '$WWPN' \\(managed='yes' lets poolkeeper create it\\)" "saying how to have it made"

done_testing
