#!/bin/bash
# netfs pools over NFS for real: the kernel NFS server in the VM exports a
# tmpfs; poolkeeper mounts it (NFSv3 from <protocol ver='3'/>, plus the
# fs:mount_opts option nolock), creates raw and qcow2 volumes in it, grows
# one, and the pool is unmounted (pool-op stop) and mounted again.
. "$PK_TEST_DATA/kernel/lib.sh"
EXPORT=/srv/pk-export
MNT=/mnt/pk-nfs
cleanup() {
    umount "$MNT" 2>/dev/null
    rpc.nfsd 0 >/dev/null 2>&1
    exportfs -ua >/dev/null 2>&1
    for p in rpc.mountd rpcbind; do kill $(pidof $p) 2>/dev/null; done
    umount /var/lib/nfs/rpc_pipefs /proc/fs/nfsd "$EXPORT" 2>/dev/null
}

# ---- the server (rpcbind -h aborts in Debian 12: plain rpcbind, only lo) ----
mkdir -p "$EXPORT" /var/lib/nfs/rpc_pipefs /var/lib/nfs/v4recovery /run/rpcbind
mount -t tmpfs -o size=128m tmpfs "$EXPORT"
rpcbind
mount -t nfsd nfsd /proc/fs/nfsd
mount -t rpc_pipefs sunrpc /var/lib/nfs/rpc_pipefs
exportfs -o rw,sync,no_subtree_check,no_root_squash,insecure "127.0.0.1:$EXPORT"
rpc.mountd --port 20048 --no-udp
rpc.nfsd --host 127.0.0.1 --no-udp --grace-time 10 --lease-time 10 4
ok "the export is offered" wait_for 30 sh -c "showmount --no-headers -e 127.0.0.1 | grep -q '^$EXPORT '"

write_pool nfs <<XML
<pool type='netfs' xmlns:fs='http://libvirt.org/schemas/storagepool/fs/1.0'>
  <name>nfs</name>
  <source>
    <host name='127.0.0.1'/>
    <dir path='$EXPORT'/>
    <format type='nfs'/>
    <protocol ver='3'/>
  </source>
  <target><path>$MNT</path></target>
  <fs:mount_opts>
    <fs:option name='nolock'/>
  </fs:mount_opts>
</pool>
XML
vol() { # NAME MiB FORMAT
    write_vol nfs "$1" <<XML
<volume>
  <name>$1</name>
  <capacity unit='MiB'>$2</capacity>
  <target><format type='$3'/></target>
</volume>
XML
}
vol disk.raw 8 raw
vol disk.qcow2 16 qcow2
commit "an NFS pool with two volumes"

out=$(pk apply --yes 2>&1); rc=$?
is "$rc" 0 "apply builds, mounts and fills the pool"
like "$out" 'done +pool\.build +nfs' "mount point made"
like "$out" 'done +pool\.start +nfs' "mounted"
m=$(awk -v t="$MNT" '$2 == t' /proc/mounts)
like "$m" "^127\.0\.0\.1:$EXPORT $MNT nfs " "127.0.0.1:$EXPORT is mounted on $MNT"
like "$m" 'vers=3' "with NFS version 3 (<protocol ver='3'/>)"
like "$m" 'nolock' "and the fs:mount_opts option"
like "$m" 'nosuid,nodev,noexec' "and libvirt's default options"
is "$(stat -c %s "$EXPORT/disk.raw")" 8388608 "the raw volume is on the server"
is "$(qemu-img info --output=json "$EXPORT/disk.qcow2" | grep -o '"virtual-size": [0-9]*')" \
   '"virtual-size": 16777216' "so is the qcow2 volume"
pk plan --detailed-exitcode >/dev/null 2>&1
is "$?" 0 "nothing left to do"

vol disk.raw 24 raw
commit "grow the raw volume"
out=$(pk apply --yes 2>&1); rc=$?
is "$rc" 0 "apply grows it over NFS"
is "$(stat -c %s "$EXPORT/disk.raw")" 25165824 "24 MiB on the server"

pool_op "$(pool_file nfs)" stop >/dev/null 2>&1
is "$(awk -v t="$MNT" '$2 == t' /proc/mounts)" "" "stop unmounted the pool"
observe nfs
is "$(obs state)" inactive "observed inactive (mount point there, nothing mounted)"
ok "the volumes stay on the server" test -f "$EXPORT/disk.qcow2"
out=$(pk apply --yes 2>&1); rc=$?
like "$out" 'done +pool\.start +nfs' "apply mounts it again"
ok "and sees the volumes" test -f "$MNT/disk.qcow2"
pk plan --detailed-exitcode >/dev/null 2>&1
is "$?" 0 "nothing left to do"

done_testing
