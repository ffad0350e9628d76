#!/bin/bash
# A netfs pool with <format type='glusterfs'> (backends/fs.c: mount -t
# glusterfs over FUSE) against the glusterd of tests/services/gluster-up.sh:
# the pool is a sub-directory of the volume, mounted at a directory of the
# test; its volume is created through the mount and seen on the brick.
set -u
. "$PK_TEST_DATA/tap.sh"
. "$PK_TEST_DATA/netstore/services.sh"
need_service gluster GLUSTER_HOST GLUSTER_VOLUME GLUSTER_BRICK
PK=${POOLKEEPER:?}
GT=${PK_BUILD_DIR:?}/tests/netstore/gfapi-tool
[ -x "$GT" ] || { echo "Bail out! $GT is not built"; exit 1; }
if ! grep -qw fuse /proc/filesystems; then
    echo "Bail out! this kernel has no FUSE: netfs pools of format glusterfs cannot be mounted here"
    exit 1
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/pk-netfs-gluster-XXXXXX")
TAG=$(unique_tag)
R=$T/repo S=$T/state/state.db M=$T/mnt
cleanup() {
    mountpoint -q "$M" && umount "$M"
    "$GT" rmtree "/$TAG" >/dev/null 2>&1
    [ -z "${PK_KEEP_TMP:-}" ] && rm -rf "$T"
}
trap cleanup EXIT
export POOLKEEPER_CONFIG=/dev/null
pk() { local c=$1; shift; "$PK" "$c" --desired "$R" --state "$S" "$@" 2>&1; }

"$GT" mkdir "/$TAG" || { echo "Bail out! cannot make /$TAG in the volume"; exit 1; }
mkdir -p "$R/pools/nf"
cat >"$R/pools/nf.xml" <<XML
<pool type='netfs'>
  <name>nf</name>
  <source>
    <host name='$GLUSTER_HOST'/>
    <dir path='/$GLUSTER_VOLUME/$TAG'/>
    <format type='glusterfs'/>
  </source>
  <target>
    <path>$M</path>
  </target>
</pool>
XML
cat >"$R/pools/nf/disk.raw.xml" <<XML
<volume>
  <name>disk.raw</name>
  <capacity unit='MiB'>4</capacity>
  <allocation>0</allocation>
</volume>
XML
tgit init -q "$R"
tgit -C "$R" add -A
tgit -C "$R" commit -qm "netfs glusterfs pool"

out=$(pk apply --yes); rc=$?
is "$rc" 0 "apply builds, mounts and fills the pool"
like "$out" 'Apply complete: 3 done, 0 failed' "build, start and create done"
like "$(grep " $M " /proc/mounts)" "^$GLUSTER_HOST:/$GLUSTER_VOLUME/$TAG $M fuse\.glusterfs " "the sub-directory is mounted over FUSE"
is "$(stat -c %s "$GLUSTER_BRICK/$TAG/disk.raw" 2>/dev/null)" $((4 << 20)) "the volume is on the brick with its size"
pk plan --detailed-exitcode >/dev/null
is "$?" 0 "second plan: no changes"

# Removed from the repository: its volume deleted (prune), the pool
# unmounted and its mount point removed (allow_pool_delete), through the
# definition the state database kept.
tgit -C "$R" rm -rq pools/nf.xml pools/nf
mkdir -p "$R/pools" && touch "$R/pools/.gitkeep"
tgit -C "$R" add -A
tgit -C "$R" commit -qm "remove the pool"
out=$(POOLKEEPER_PRUNE=true POOLKEEPER_ALLOW_POOL_DELETE=true pk apply --yes --allow-mass-delete); rc=$?
is "$rc" 0 "apply cleans up the removed pool"
like "$out" 'done +pool\.stop +nf' "it is stopped (unmounted)"
ok "nothing is mounted at the target any more" test -z "$(grep " $M " /proc/mounts)"
ok "the volume is gone from the brick" test ! -e "$GLUSTER_BRICK/$TAG/disk.raw"
POOLKEEPER_PRUNE=true POOLKEEPER_ALLOW_POOL_DELETE=true pk plan --detailed-exitcode --allow-mass-delete >/dev/null
is "$?" 0 "nothing left to do"
done_testing
