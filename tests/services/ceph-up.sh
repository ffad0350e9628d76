#!/usr/bin/env bash
# ceph-up.sh — start a throwaway single-node Ceph cluster on 127.0.0.1 for tests.
#
# One mon, one OSD (memstore by default, or bluestore on a sparse file), optional mgr,
# cephx on, `osd pool default size = 1`, an rbd pool that is `rbd pool init`ed, and a
# restricted client (profile rbd on that pool). No systemd, no cephadm, no containers.
#
# Idempotent: if the cluster in the data dir is already up, it only prints the env.
# If it was stopped with ceph-down.sh (no --purge), it is started again as it was.
# Prints `export NAME=value` lines on stdout (also written to $CEPH_DATA_DIR/env);
# progress goes to stderr. Usage:  eval "$(ceph-up.sh)"
#
# Settings (environment):
#   CEPH_DATA_DIR   data dir (default ${TMPDIR:-/tmp}/poolkeeper-ceph); everything lives here
#   CEPH_POOL       rbd pool name (default rbd)
#   CEPH_CLIENT     restricted client id (default poolkeeper -> client.poolkeeper)
#   CEPH_OSD_STORE  memstore (default, fastest) | bluestore (sparse file DATA/osd/.../block)
#   CEPH_OSD_SIZE   OSD capacity in bytes or with K/M/G suffix (default 8G; memstore
#                   only reserves RAM for data actually written)
#   CEPH_MON_PORT   msgr v1 port (default: a free one), the port a libvirt-style
#                   <host name='127.0.0.1' port='N'/> means
#   CEPH_MON_V2_PORT msgr v2 port (default: a free one)
#   CEPH_MGR        1 (default) runs a ceph-mgr; 0 skips it (saves ~1 s, 130 MiB RSS and
#                   the ceph-mgr install) but then pool/cluster usage reads as 0:
#                   rados_cluster_stat, rados_ioctx_pool_stat, ceph df all come via the mgr
#   CEPH_TIMEOUT    seconds to wait for each readiness step (default 60)
set -euo pipefail
SVC=ceph
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"

DIR=${CEPH_DATA_DIR:-${TMPDIR:-/tmp}/poolkeeper-ceph}
POOL=${CEPH_POOL:-rbd}
CLIENT=${CEPH_CLIENT:-poolkeeper}
STORE=${CEPH_OSD_STORE:-memstore}
SIZE=${CEPH_OSD_SIZE:-8G}
WITH_MGR=${CEPH_MGR:-1}
TIMEOUT=${CEPH_TIMEOUT:-60}
case $STORE in memstore|bluestore) ;; *) die "CEPH_OSD_STORE must be memstore or bluestore, not '$STORE'";; esac

T0=$LIB_T0
cmds=(ceph-mon ceph-osd ceph ceph-authtool monmaptool rbd rados timeout numfmt)
[ "$WITH_MGR" = 1 ] && cmds+=(ceph-mgr)
need_cmds "${cmds[@]}"

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
CONF=$DIR/ceph.conf
export CEPH_CONF=$CONF
unset CEPH_ARGS
# Every CLI call is bounded: a dead mon must not hang the script.
c() { timeout 30 ceph --connect-timeout 20 "$@"; }

mon_alive() { pid_is "$DIR/run/ceph-mon.a.pid" "$CONF"; }
osd_alive() { pid_is "$DIR/run/ceph-osd.0.pid" "$CONF"; }
mgr_alive() { pid_is "$DIR/run/ceph-mgr.x.pid" "$CONF"; }
mgr_active() { [[ "$(c mgr stat -f json 2>/dev/null)" == *'"available":true'* ]]; }
osd_up() { [[ "$(c osd stat -f json 2>/dev/null)" == *'"num_up_osds":1'* ]]; }

print_env() {
    local v1 v2 ckey akey
    v1=$(cat "$DIR/mon_port"); v2=$(cat "$DIR/mon_v2_port")
    akey=$(ceph-authtool -p -n client.admin "$DIR/ceph.client.admin.keyring")
    ckey=$(ceph-authtool -p -n "client.$CLIENT" "$DIR/ceph.client.$CLIENT.keyring")
    cat >"$DIR/env" <<EOF
export CEPH_CONF=$CONF
export CEPH_DATA_DIR=$DIR
export CEPH_POOL=$POOL
export CEPH_MON_HOST=127.0.0.1
export CEPH_MON_PORT=$v1
export CEPH_MON_V2_PORT=$v2
export CEPH_MON_ADDRS='[v2:127.0.0.1:$v2,v1:127.0.0.1:$v1]'
export CEPH_ADMIN_KEYRING=$DIR/ceph.client.admin.keyring
export CEPH_ADMIN_KEY=$akey
export CEPH_CLIENT=$CLIENT
export CEPH_CLIENT_KEYRING=$DIR/ceph.client.$CLIENT.keyring
export CEPH_CLIENT_KEY=$ckey
EOF
    cat "$DIR/env"
}

start_daemons() {
    mkdir -p "$DIR/run" "$DIR/log" "$DIR/crash"
    if ! mon_alive; then
        log "starting ceph-mon.a"
        ceph-mon -c "$CONF" -i a || die "ceph-mon failed to start; see $DIR/log/ceph-mon.a.log"
    fi
    wait_until "$TIMEOUT" "mon quorum (log: $DIR/log/ceph-mon.a.log)" c mon stat \
        || exit 1
    if [ "$WITH_MGR" = 1 ] && [ -d "$DIR/mgr/ceph-x" ] && ! mgr_alive; then
        log "starting ceph-mgr.x"
        ceph-mgr -c "$CONF" -i x || die "ceph-mgr failed to start; see $DIR/log/ceph-mgr.x.log"
    fi
    if ! osd_alive; then
        log "starting ceph-osd.0 ($STORE)"
        ceph-osd -c "$CONF" -i 0 2>>"$DIR/log/ceph-osd.0.stderr" || die "ceph-osd failed to start; see $DIR/log/ceph-osd.0.log"
    fi
    wait_until "$TIMEOUT" "osd.0 up (log: $DIR/log/ceph-osd.0.log)" osd_up || exit 1
    if [ "$WITH_MGR" = 1 ]; then
        wait_until "$TIMEOUT" "mgr active (log: $DIR/log/ceph-mgr.x.log)" mgr_active || exit 1
    fi
}

# Already created (the .ready marker is written last): just make sure it runs.
if [ -f "$DIR/.ready" ]; then
    STORE=$(cat "$DIR/store"); POOL=$(cat "$DIR/pool"); CLIENT=$(cat "$DIR/client")
    WITH_MGR=0
    [ -d "$DIR/mgr/ceph-x" ] && WITH_MGR=1
    if mon_alive && osd_alive && { [ "$WITH_MGR" != 1 ] || mgr_alive; } && osd_up; then
        log "already running in $DIR"
    else
        start_daemons
        # I/O must work again before we say ready (PGs re-peer after an OSD restart).
        wait_until "$TIMEOUT" "all PGs of pool $POOL active" \
            timeout 20 rados -p "$POOL" ls || exit 1
        log "restarted in $DIR ($(( $(now_ms) - T0 )) ms)"
    fi
    print_env
    exit 0
fi

# A half-made cluster (interrupted run): stop whatever of ours runs and start over.
if [ -e "$CONF" ]; then
    log "incomplete cluster in $DIR (interrupted run?); wiping it"
    CEPH_DATA_DIR=$DIR "$HERE/ceph-down.sh" --purge
    mkdir -p "$DIR"
elif [ -n "$(ls -A "$DIR")" ]; then
    die "$DIR is not empty and holds no ceph-up cluster; refusing to use it"
fi
mkdir -p "$DIR/run" "$DIR/log" "$DIR/crash" "$DIR/mon" "$DIR/osd/ceph-0"

V1=${CEPH_MON_PORT:-$(free_port)}
V2=${CEPH_MON_V2_PORT:-$(free_port "$V1")}
for p in "$V1" "$V2"; do port_listening "$p" && die "port $p is already in use"; done
echo "$V1" >"$DIR/mon_port"; echo "$V2" >"$DIR/mon_v2_port"
echo "$STORE" >"$DIR/store"; echo "$POOL" >"$DIR/pool"; echo "$CLIENT" >"$DIR/client"
FSID=$(cat /proc/sys/kernel/random/uuid)

if [ "$STORE" = memstore ]; then
    # memstore writes its contents to osd_data only on a clean umount, which the
    # default fast shutdown skips: without this a restarted OSD comes back empty.
    osd_store_conf="osd_objectstore = memstore
memstore_device_bytes = $(numfmt --from=iec "$SIZE")
osd_fast_shutdown = false"
else
    # A sparse file, made by ceph-osd --mkfs; small caches keep RSS low on 24 GiB CI.
    osd_store_conf="osd_objectstore = bluestore
bluestore_block_path = \$osd_data/block.img
bluestore_block_create = true
bluestore_block_size = $(numfmt --from=iec "$SIZE")
bluestore_block_db_create = false
bluestore_block_wal_create = false
bluestore_fsck_on_mkfs = false
bluestore_cache_autotune = false
bluestore_cache_size = 134217728
osd_memory_target = 939524096"
fi

cat >"$CONF" <<EOF
# Throwaway single-node test cluster made by ceph-up.sh. Everything lives in $DIR.
[global]
fsid = $FSID
mon_host = [v2:127.0.0.1:$V2,v1:127.0.0.1:$V1]
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
ms_bind_ipv6 = false
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
auth_allow_insecure_global_id_reclaim = false
keyring = $DIR/ceph.\$name.keyring
run_dir = $DIR/run
crash_dir = $DIR/crash
pid_file = $DIR/run/\$cluster-\$name.pid
log_file = $DIR/log/\$cluster-\$name.log
mon_cluster_log_file = $DIR/log/\$cluster.\$channel.log
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_allow_pool_size_one = true
mon_allow_pool_delete = true
mon_warn_on_pool_no_redundancy = false
mon_data_avail_warn = 2
mon_data_avail_crit = 1
# One mon, one OSD: no need to batch map updates for a second (the default); this
# makes each osdmap change (osd boot, pool create, rbd pool init) near-instant.
paxos_propose_interval = 0.05
paxos_min_wait = 0.01
# Pool/cluster usage (rados_cluster_stat, rados_ioctx_pool_stat, ceph df) flows
# OSD -> mgr -> mon; report every second instead of every 5 so tests see fresh numbers.
mgr_stats_period = 1
mon_mgr_digest_period = 1

[mon]
mon_data = $DIR/mon/\$cluster-\$id
keyring = \$mon_data/keyring
admin_socket = $DIR/run/\$cluster-\$name.asok

[mgr]
mgr_data = $DIR/mgr/\$cluster-\$id
keyring = \$mgr_data/keyring
admin_socket = $DIR/run/\$cluster-\$name.asok

[osd]
osd_data = $DIR/osd/\$cluster-\$id
keyring = \$osd_data/keyring
admin_socket = $DIR/run/\$cluster-\$name.asok
$osd_store_conf
EOF

log "creating cluster $FSID in $DIR (mon v1 port $V1, v2 port $V2, $STORE)"
{
    ceph-authtool --create-keyring "$DIR/mon.keyring" --gen-key -n mon. --cap mon 'allow *'
    ceph-authtool --create-keyring "$DIR/ceph.client.admin.keyring" --gen-key -n client.admin \
        --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' --cap mds 'allow *'
    ceph-authtool "$DIR/mon.keyring" --import-keyring "$DIR/ceph.client.admin.keyring"
} >>"$DIR/log/mkfs.log"
monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$V2,v1:127.0.0.1:$V1]" \
    "$DIR/monmap" >>"$DIR/log/mkfs.log"
ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/mon.keyring" \
    >>"$DIR/log/mkfs.log" 2>&1 || die "ceph-mon --mkfs failed; see $DIR/log/mkfs.log"
rm -f "$DIR/monmap"
ceph-mon -c "$CONF" -i a || die "ceph-mon failed to start; see $DIR/log/ceph-mon.a.log"
wait_until "$TIMEOUT" "mon quorum (log: $DIR/log/ceph-mon.a.log)" c mon stat || exit 1
log "mon up"

if [ "$WITH_MGR" = 1 ]; then
    mkdir -p "$DIR/mgr/ceph-x"
    c auth get-or-create mgr.x mon 'allow profile mgr' osd 'allow *' mds 'allow *' \
        -o "$DIR/mgr/ceph-x/keyring"
    ceph-mgr -c "$CONF" -i x || die "ceph-mgr failed to start; see $DIR/log/ceph-mgr.x.log"
fi

OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
OSD_KEY=$(ceph-authtool --gen-print-key)
printf '{"cephx_secret": "%s"}\n' "$OSD_KEY" >"$DIR/osd/secret.json"
OSD_ID=$(c osd new "$OSD_UUID" -i "$DIR/osd/secret.json")
rm -f "$DIR/osd/secret.json"
[ "$OSD_ID" = 0 ] || die "expected osd id 0, got '$OSD_ID'"
ceph-authtool --create-keyring "$DIR/osd/ceph-0/keyring" -n osd.0 --add-key "$OSD_KEY" \
    >>"$DIR/log/mkfs.log"
ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$OSD_UUID" >>"$DIR/log/mkfs.log" 2>&1 \
    || die "ceph-osd --mkfs failed; see $DIR/log/mkfs.log and $DIR/log/ceph-osd.0.log"
log "osd.0 made"
ceph-osd -c "$CONF" -i 0 2>>"$DIR/log/ceph-osd.0.stderr" \
    || die "ceph-osd failed to start; see $DIR/log/ceph-osd.0.log"
wait_until "$TIMEOUT" "osd.0 up (log: $DIR/log/ceph-osd.0.log)" osd_up || exit 1
log "osd.0 up"

c osd pool create "$POOL" 8 8 replicated >/dev/null 2>&1
log "pool $POOL created"
# rbd pool init enables the rbd application and needs active PGs, so it doubles as
# the "I/O works" readiness check.
timeout "$TIMEOUT" rbd pool init "$POOL" \
    || die "rbd pool init $POOL failed or timed out; see $DIR/log/ceph-osd.0.log"
c auth get-or-create "client.$CLIENT" mon 'profile rbd' \
    osd "profile rbd pool=$POOL" mgr "profile rbd pool=$POOL" \
    -o "$DIR/ceph.client.$CLIENT.keyring"
if [ "$WITH_MGR" = 1 ]; then
    wait_until "$TIMEOUT" "mgr active (log: $DIR/log/ceph-mgr.x.log)" mgr_active || exit 1
fi
touch "$DIR/.ready"
log "cluster ready in $(( $(now_ms) - T0 )) ms"
print_env
