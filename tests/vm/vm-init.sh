#!/bin/bash
# vm-init.sh — PID 1 in a vm-run.sh guest (kernel command line init=). The
# initramfs has mounted everything; this starts mdev (or udev with --udev),
# runs the command vm-run.sh wrote, records its exit status for the host and
# powers off. Bash builtins only: under TCG each exec over 9p is slow.
[ $$ = 1 ] || { echo "vm-init.sh: only runs as PID 1 of a vm-run.sh guest" >&2; exit 2; }
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
umask 022
halt() { /bin/busybox poweroff -f; echo o > /proc/sysrq-trigger; read -r -t 5 _ < /dev/console; exit 1; }
fail() { echo "vm-init: $*" > /dev/console; halt; }
. /run/vm-run.env || fail "no /run/vm-run.env"
export VM_SCSI_DISKS
read -r first < /run/vmrun/cmd
if [ "$first" = VM_UDEV=1 ]; then
    udevd=/lib/systemd/systemd-udevd
    [ -x "$udevd" ] || udevd=$(command -v systemd-udevd || command -v udevd)
    { "$udevd" --daemon --resolve-names=never && udevadm trigger --action=add &&
      udevadm settle -t 60; } > /dev/console 2>&1 || fail "udev did not start"
else
    /bin/busybox mdev -d || fail "mdev -d did not start"
fi
rc=0
( . /run/vmrun/cmd ) < /dev/null > "$VM_OUT" 2> "$VM_ERR" || rc=$?
echo "$rc" > /run/vmrun/rc
halt
