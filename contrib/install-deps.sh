#!/bin/sh
# Install everything poolkeeper needs to build and test on Debian 12 (as root).
# The one list of packages: .ci/run and the README quick start both use it.
# (rbd, gluster, iscsi-direct backends: their -dev libraries; qemu-block-extra
# gives qemu-img its gluster:// protocol; the Ceph, Gluster and tgt daemons are
# for the netstore tests, started by tests/services/up.sh. The kernel-backed
# pools: libdevmapper, the LVM, multipath, open-iscsi and NFS tools; the kernel
# tests run them in a VM booting linux-image-amd64 under QEMU, see tests/vm/.)
set -eu
PACKAGES="
  build-essential meson ninja-build pkg-config clang git ca-certificates
  libxml2-dev libxml2-utils libsqlite3-dev sqlite3 libyaml-dev libgit2-dev
  libjson-c-dev libcurl4-openssl-dev libmicrohttpd-dev libssl-dev
  libblkid-dev libfdisk-dev
  qemu-utils e2fsprogs xfsprogs btrfs-progs dosfstools attr util-linux bsdutils python3
  librbd-dev librados-dev libglusterfs-dev libiscsi-dev qemu-block-extra
  ceph-mon ceph-osd ceph-mgr ceph-common glusterfs-server glusterfs-client tgt
  libdevmapper-dev lvm2 thin-provisioning-tools multipath-tools open-iscsi udev
  nfs-kernel-server nfs-common rpcbind iproute2
  qemu-system-x86 busybox-static linux-image-amd64
"
if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: run as root (apt-get install)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# The kernel is only booted by tests/vm/vm-run.sh: no /boot/initrd.img (~1 min).
export INITRD=No
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
echo "install-deps: done"
