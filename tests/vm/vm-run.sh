#!/usr/bin/env bash
# vm-run.sh — run one command inside a throwaway VM booting this machine's
# Debian kernel, with this machine's root filesystem as its userspace
# (read-only 9p, RAM overlay on top). The guest has what the host kernel may
# lack: device-mapper, dm-multipath, scsi_debug, iscsi_tcp, nfs/nfsd, fcoe.
# The kernel test suite (tests/kernel/) runs in it; see tests/vm/README.md.
#
#   vm-run.sh [options] -- COMMAND [ARGS...]
#     --share DIR       host DIR mounted read-write at the same path (repeatable)
#     --scsi-disk FILE  FILE as a virtio-scsi disk /dev/sdX (repeatable)
#     --udev            run systemd-udevd in the guest (/dev/disk/by-*)
#     --env NAME=VALUE  extra environment for COMMAND (repeatable)
#     --mem SIZE (2G)  --cpus N (2)  --timeout SECONDS (900)  --verbose
#
# COMMAND runs as root with this shell's exported environment and current
# directory, stdin /dev/null; its stdout and stderr stream here. Exit status:
# COMMAND's, 124 on timeout, 125 when the VM itself failed (the tail of the
# kernel console is printed). The guest also has VM_RUN=1, VM_SCSI_DISKS (the
# /dev names of the --scsi-disk files) and, without --udev, DM_DISABLE_UDEV=1
# (libdevmapper and LVM then make their /dev nodes themselves).
#
# Adapted from the project's research harness (virtme-ng's approach). Under
# TCG every exec of a dynamic binary over 9p is slow, so the guest's set-up
# runs in static busybox from the initramfs; the kernel is booted as an
# uncompressed vmlinux through its PVH entry (skips ~4 s of xz under TCG).
# KVM is used only when /dev/kvm is hardware KVM (not PVM, which cannot run a
# stock kernel). Needs root; installs qemu-system-x86, busybox-static and
# linux-image-amd64 when missing.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
say() { printf '[vm-run] %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 125; }

mem=${VM_MEM:-2G} cpus=${VM_CPUS:-2} timeout_s=${VM_TIMEOUT:-900}
udev=${VM_UDEV:-0} verbose=${VM_VERBOSE:-0}
cache=${VM_CACHE_DIR:-${TMPDIR:-/tmp}/poolkeeper-vm}
shares=() scsidisks=() extraenv=()
while [ $# -gt 0 ]; do
    case "$1" in
        --share) shares+=("$2"); shift 2 ;;
        --scsi-disk) scsidisks+=("$2"); shift 2 ;;
        --udev) udev=1; shift ;;
        --env) extraenv+=("$2"); shift 2 ;;
        --mem) mem=$2; shift 2 ;;
        --cpus) cpus=$2; shift 2 ;;
        --timeout) timeout_s=$2; shift 2 ;;
        --verbose) verbose=1; shift ;;
        --) shift; break ;;
        *) die "unknown option '$1' (see the head of $0)" ;;
    esac
done
[ $# -gt 0 ] || die "no command given"
[ "$(id -u)" = 0 ] || die "must run as root (9p export of /, device nodes)"
case "$HERE" in *[[:space:]]*) die "the harness path must not contain blanks" ;; esac

# ---- packages and kernel
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q ' ok installed'; }
install_pkgs() {
    say "installing $*"
    # INITRD=No: no /boot/initrd.img (nobody boots it; it costs ~30 s to build)
    INITRD=No DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -qq -y \
        --no-install-recommends install "$@" >&2 || die "cannot install $*"
}
command -v qemu-system-x86_64 >/dev/null || install_pkgs qemu-system-x86
installed busybox-static || install_pkgs busybox-static
kernel() { # newest /boot/vmlinuz-V with /lib/modules/V
    local v
    for v in $(ls /boot/vmlinuz-* 2>/dev/null | sed 's|^/boot/vmlinuz-||' | sort -rV); do
        [ -f "/lib/modules/$v/modules.dep" ] && { echo "$v"; return; }
    done
}
kver=$(kernel)
[ -n "$kver" ] || { install_pkgs linux-image-amd64; kver=$(kernel); }
[ -n "$kver" ] || die "no kernel with modules under /boot and /lib/modules"

accel=tcg
if [ -w /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ] &&
   { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }; then
    accel=kvm
fi

# ---- initramfs: busybox + the modules needed to reach the 9p root
read -r -d '' RD_INIT <<'EOF' || true
#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /lower /rw /newroot
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
fail() { echo "vm-run initramfs: $*"; echo o > /proc/sysrq-trigger; sleep 5; exit 1; }
load() { for m in $(cat /lib/modules/order.$1); do insmod /lib/modules/$m 2>/dev/null; done; }
load base
init=
for p in $(cat /proc/cmdline); do case "$p" in init=*) init=${p#init=} ;; esac; done
N=/newroot
mount -t 9p -o ro,trans=virtio,version=9p2000.L,cache=loose,msize=262144 vmroot /lower || fail "no 9p root"
mount -t tmpfs -o mode=0755 tmpfs /rw && mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay $N || fail "no overlay"
mount -t proc proc $N/proc
mount -t sysfs sysfs $N/sys
mount -t devtmpfs -o mode=0755 devtmpfs $N/dev
mkdir -p $N/dev/pts $N/dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts $N/dev/pts
mount -t tmpfs -o mode=1777 tmpfs $N/dev/shm
ln -sf /proc/self/fd $N/dev/fd
# device nodes whose first open loads their module (/dev/mapper/control ...)
while read -r t ma mi path; do
    case "$path" in */*) mkdir -p "$N/dev/${path%/*}" ;; esac
    mknod -m 0600 "$N/dev/$path" $t $ma $mi 2>/dev/null
done < /lib/modules/static-nodes
mount -t tmpfs -o mode=0755 tmpfs $N/run
mkdir -p $N/run/lock $N/run/vmrun
mount -t tmpfs -o mode=1777 tmpfs $N/tmp
mount -t 9p -o trans=virtio,version=9p2000.L,cache=none vmrunctl $N/run/vmrun || fail "no control share"
while read -r tag path; do
    mkdir -p "$N$path" && mount -t 9p -o trans=virtio,version=9p2000.L,cache=mmap,msize=262144 \
        "$tag" "$N$path" || fail "cannot mount share $path"
done < $N/run/vmrun/shares
# no udev: mdev -d loads the driver of hotplugged devices by MODALIAS
printf '%s\n' '$MODALIAS=.* 0:0 0600 ! @/sbin/modprobe -b -q "$MODALIAS"' '.* 0:0 0600 !' > $N/etc/mdev.conf
ip link set lo up
hostname vmrun
port() {
    for i in $(seq 250); do
        for p in /sys/class/virtio-ports/*; do
            [ "$(cat $p/name 2>/dev/null)" = "$1" ] && [ -e "$N/dev/${p##*/}" ] && { echo /dev/${p##*/}; return 0; }
        done
        usleep 20000
    done
    return 1
}
disk() {
    for i in $(seq 250); do
        for b in /sys/block/*; do
            case "$(strings -n 4 $b/device/vpd_pg80 2>/dev/null)" in *"$1") echo /dev/${b##*/}; return 0 ;; esac
        done
        usleep 20000
    done
    return 1
}
out=$(port vmrun.stdout) && err=$(port vmrun.stderr) || fail "no output ports"
scsi=
n=$(cat $N/run/vmrun/nscsi)
if [ "$n" -gt 0 ]; then
    load scsi
    i=0; while [ $i -lt $n ]; do
        d=$(disk vmrun-sd$i) || fail "scsi disk $i did not appear"; scsi="$scsi${scsi:+ }$d"; i=$((i + 1))
    done
fi
printf 'VM_OUT=%s\nVM_ERR=%s\nVM_SCSI_DISKS="%s"\n' "$out" "$err" "$scsi" > $N/run/vm-run.env
umount /proc /sys
exec switch_root $N "$init"
EOF
RD_MODULES_base="virtio_pci 9pnet_virtio 9p overlay virtio_console"
RD_MODULES_scsi="virtio_scsi sd_mod"
key=$(printf '%s\n' "$RD_INIT" "$RD_MODULES_base" "$RD_MODULES_scsi" "$(ls -l /bin/busybox)" | md5sum | cut -c1-12)
initramfs=$cache/initramfs-$kver-$key.cpio.gz
build_initramfs() {
    local rd group m f
    mkdir -p "$cache"
    rd=$(mktemp -d "$cache/rd.XXXXXX")
    mkdir -p "$rd/bin" "$rd/lib/modules"
    cp /bin/busybox "$rd/bin/busybox"
    printf '%s\n' "$RD_INIT" > "$rd/init"
    chmod 755 "$rd/init"
    for group in base scsi; do
        eval "list=\$RD_MODULES_$group"
        # shellcheck disable=SC2154
        for m in $list; do modprobe -S "$kver" --show-depends "$m"; done |
            awk '$1 == "insmod" && !seen[$2]++ { print $2 }' | while read -r f; do
            m=$(basename "$f"); m=${m%.ko*}.ko
            [ "$group" = base ] || ! grep -qx "$m" "$rd/lib/modules/order.base" || continue
            case "$f" in
                *.ko) cp "$f" "$rd/lib/modules/$m" ;;
                *.ko.xz) xz -dc "$f" > "$rd/lib/modules/$m" ;;
                *.ko.zst) zstd -qdc "$f" > "$rd/lib/modules/$m" ;;
                *.ko.gz) gzip -dc "$f" > "$rd/lib/modules/$m" ;;
            esac
            echo "$m"
        done > "$rd/lib/modules/order.$group"
    done
    # what `kmod static-nodes` would read (it only knows the running kernel)
    awk '!/^#/ && NF == 3 { t = substr($3, 1, 1); split(substr($3, 2), n, ":"); print t, n[1], n[2], $2 }' \
        "/lib/modules/$kver/modules.devname" > "$rd/lib/modules/static-nodes"
    (cd "$rd" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -1) \
        > "$initramfs.$$"
    mv -f "$initramfs.$$" "$initramfs"
    rm -rf "$rd"
}
[ -s "$initramfs" ] || build_initramfs

# the uncompressed kernel for a PVH boot, when the kernel has PVH
kimage=/boot/vmlinuz-$kver
vmlinux=$cache/vmlinux-$kver
if [ ! -s "$vmlinux" ] && grep -q '^CONFIG_PVH=y' "/boot/config-$kver" 2>/dev/null; then
    off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$kimage" | head -n 1 | cut -d: -f1)
    # (process substitution: tail's SIGPIPE when xz stops must not count)
    if [ -n "$off" ] && xz -dc --single-stream < <(tail -c "+$((off + 1))" "$kimage") > "$vmlinux.$$" 2>/dev/null &&
       [ "$(head -c 4 "$vmlinux.$$" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; then
        mv -f "$vmlinux.$$" "$vmlinux"
    else
        rm -f "$vmlinux.$$"
    fi
fi
[ -s "$vmlinux" ] && kimage=$vmlinux

# ---- the run directory: command, shares, and where the guest writes rc
ctl=$(mktemp -d "${TMPDIR:-/tmp}/vm-run.XXXXXX")
qpid='' readers=()
cleanup() {
    [ -z "$qpid" ] || kill "$qpid" 2>/dev/null || true
    for p in "${readers[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$ctl"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

i=0
cwd=$(pwd -P)
for s in "${shares[@]}"; do
    [ -d "$s" ] || die "--share $s: not a directory"
    printf 'vmshare%d %s\n' $i "$(cd "$s" && pwd -P)"
    i=$((i + 1))
done > "$ctl/shares"
echo "${#scsidisks[@]}" > "$ctl/nscsi"
{
    printf 'VM_UDEV=%s\n' "$udev"
    [ "$udev" = 1 ] || printf 'export DM_DISABLE_UDEV=1\n'
    while IFS= read -r -d '' kv; do
        n=${kv%%=*}
        [[ $n =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || continue
        case "$n" in PWD|OLDPWD|SHLVL|_|SHELLOPTS|BASHOPTS|BASH_*|UID|EUID|PPID|HOSTNAME) continue ;; esac
        printf 'export %s=%q\n' "$n" "${kv#*=}"
    done < <(env -0)
    for kv in "${extraenv[@]}"; do printf 'export %s=%q\n' "${kv%%=*}" "${kv#*=}"; done
    printf 'export VM_RUN=1\ncd -- %q || exit 125\nexec' "$cwd"
    printf ' %q' "$@"
    printf '\n'
} > "$ctl/cmd"

# ---- qemu
qesc() { printf '%s' "${1//,/,,}"; }
qemu=(qemu-system-x86_64 -name vm-run -nodefaults -no-user-config -display none -no-reboot
      -m "$mem" -smp "$cpus")
if [ $accel = kvm ]; then qemu+=(-machine q35,accel=kvm -cpu host); else qemu+=(-machine q35,accel=tcg -cpu max); fi
cmdline="console=ttyS0 panic=-1 init=$HERE/vm-init.sh mitigations=off random.trust_cpu=on"
cmdline+=" tsc=reliable no_timer_check i8042.noaux i8042.nomux i8042.nopnp i8042.nokbd"
cmdline+=" 8250.nr_uarts=1 edd=off rcupdate.rcu_expedited=1 cryptomgr.notests=1 init_on_alloc=0"
[ "$verbose" = 1 ] && cmdline+=" loglevel=6" || cmdline+=" quiet loglevel=3"
mkfifo "$ctl/out" "$ctl/err"
cat < "$ctl/out" & readers+=($!)
cat < "$ctl/err" >&2 & readers+=($!)
qemu+=(-kernel "$kimage" -initrd "$initramfs" -append "$cmdline"
       -chardev "file,id=con,path=$(qesc "$ctl/console.log")" -serial chardev:con
       -device virtio-serial-pci,id=vser
       -chardev "file,id=out,path=$(qesc "$ctl/out")" -device virtserialport,bus=vser.0,chardev=out,name=vmrun.stdout
       -chardev "file,id=err,path=$(qesc "$ctl/err")" -device virtserialport,bus=vser.0,chardev=err,name=vmrun.stderr
       -device virtio-rng-pci
       -virtfs local,path=/,mount_tag=vmroot,security_model=none,readonly=on,multidevs=remap
       -virtfs "local,path=$(qesc "$ctl"),mount_tag=vmrunctl,security_model=none,multidevs=remap")
i=0
while read -r _ path; do
    qemu+=(-virtfs "local,path=$(qesc "$path"),mount_tag=vmshare$i,security_model=passthrough,multidevs=remap")
    i=$((i + 1))
done < "$ctl/shares"
if [ ${#scsidisks[@]} -gt 0 ]; then
    qemu+=(-device virtio-scsi-pci,id=vscsi)
    i=0
    for d in "${scsidisks[@]}"; do
        [ -e "$d" ] || die "--scsi-disk $d: no such file"
        qemu+=(-drive "file=$(qesc "$d"),if=none,id=sd$i,format=raw,cache=writeback"
               -device "scsi-hd,bus=vscsi.0,scsi-id=$i,lun=0,drive=sd$i,serial=vmrun-sd$i")
        i=$((i + 1))
    done
fi
[ "$verbose" = 1 ] && say "kernel $kver ($accel): ${qemu[*]}"
timeout -k 5 "$timeout_s" "${qemu[@]}" < /dev/null > "$ctl/qemu.log" 2>&1 &
qpid=$!
qrc=0
wait "$qpid" || qrc=$?
qpid=''
for _ in $(seq 50); do   # let the readers drain the FIFOs
    alive=0
    for p in "${readers[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.05
done

if [ -s "$ctl/rc" ]; then
    [ "$verbose" = 0 ] || tail -n 60 "$ctl/console.log" >&2
    exit "$(cat "$ctl/rc")"
fi
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then say "timed out after ${timeout_s}s"; rc=124; else rc=125; fi
say "the VM ended (qemu status $qrc) without the command's exit status"
{ cat "$ctl/qemu.log"; echo "--- kernel console (last 40 lines):"; tail -n 40 "$ctl/console.log"; } >&2
exit $rc
