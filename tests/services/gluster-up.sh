#!/usr/bin/env bash
# gluster-up.sh — start glusterd and a started single-brick volume on 127.0.0.1.
#
# glusterd and its brick process run in a private mount namespace in which
# /var/lib/glusterd, /var/log/glusterfs and /run/gluster are bind-mounted from the
# data dir: glusterd 10 and the gluster CLI write to those paths whatever their
# options say (snaps dir, ss_brick, geo-replication template), and this keeps the
# machine untouched. The brick is a directory in the data dir (`force`).
#
# Idempotent: when already up, only prints the env. After gluster-down.sh (no
# --purge) it starts glusterd again, which restarts the brick of the started volume.
# Prints `export NAME=value` lines (also in $GLUSTER_DATA_DIR/env). Usage:
#   eval "$(gluster-up.sh)"
#
# Settings (environment):
#   GLUSTER_DATA_DIR  data dir (default ${TMPDIR:-/tmp}/poolkeeper-gluster)
#   GLUSTER_VOLUME    volume name (default poolkeeper)
# A second started volume, $GLUSTER_VOLUME-denied, refuses clients from
# 127.0.0.1 (auth.reject): what a gluster pool meets when the server's access
# control turns it away.
#   GLUSTER_TIMEOUT   seconds to wait for each readiness step (default 30)
# glusterd listens on 127.0.0.1:24007 — fixed: glusterd starts brick processes with
# `-s HOST` and no port, so they fetch their volfile from 24007 whatever glusterd's
# listen-port is. Hence one instance per machine. Bricks use ports 49152-49251.
set -euo pipefail
SVC=gluster
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"

DIR=${GLUSTER_DATA_DIR:-${TMPDIR:-/tmp}/poolkeeper-gluster}
VOL=${GLUSTER_VOLUME:-poolkeeper}
TIMEOUT=${GLUSTER_TIMEOUT:-30}
PORT=24007
# The CLI refuses a brick host spelled "127.0.0.1" or "localhost" (a literal
# string check in cli-cmd-parser). "127.1" is the same address in inet_aton's short
# form: it passes, glusterd sees it as local, and clients connect to 127.0.0.1.
BRICK_HOST=127.1

need_cmds glusterd gluster unshare mount

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
VOLFILE=$DIR/glusterd.vol
NS=$DIR/bin/ns-exec
CLI=$DIR/bin/gluster

glusterd_alive() { pid_is "$DIR/run/glusterd.pid" "$VOLFILE"; }
# brick_online [VOLUME] — the volume's brick reports online (status 1) with a port.
brick_online() {
    local x
    x=$("$CLI" volume status "${1:-$VOL}" --xml 2>/dev/null) || return 1
    [[ "$x" == *"<status>1</status>"* ]]
}
bricks_online() { brick_online "$VOL" && brick_online "$VOL-denied"; }

print_env() {
    cat >"$DIR/env" <<EOF
export GLUSTER_DATA_DIR=$DIR
export GLUSTER_HOST=127.0.0.1
export GLUSTER_PORT=$PORT
export GLUSTER_VOLUME=$VOL
export GLUSTER_DENIED_VOLUME=$VOL-denied
export GLUSTER_BRICK=$DIR/bricks/$VOL
export GLUSTER_CLI=$CLI
export GLUSTER_LOG_DIR=$DIR/log
EOF
    cat "$DIR/env"
}

start_glusterd() {
    port_listening "$PORT" && die "port $PORT is taken (another glusterd?); gluster needs it"
    log "starting glusterd"
    # glusterd daemonizes; the parent returns once the child is set up.
    "$NS" glusterd -f "$VOLFILE" -p "$DIR/run/glusterd.pid" -l "$DIR/log/glusterd.log" \
        || die "glusterd failed to start; see $DIR/log/glusterd.log"
    wait_until "$TIMEOUT" "glusterd answering (log: $DIR/log/glusterd.log)" \
        "$CLI" volume list || exit 1
}

if [ -f "$DIR/.ready" ]; then
    VOL=$(cat "$DIR/volume")
    if glusterd_alive && bricks_online; then
        log "already running in $DIR"
    else
        if glusterd_alive; then
            # A dead brick under a live glusterd: only `start force` respawns it.
            log "brick of $VOL is down; restarting it"
            "$CLI" volume start "$VOL" force >>"$DIR/log/setup.log" 2>&1 || true
            "$CLI" volume start "$VOL-denied" force >>"$DIR/log/setup.log" 2>&1 || true
        else
            # glusterd restarts the bricks of started volumes by itself.
            start_glusterd
        fi
        wait_until "$TIMEOUT" "bricks of $VOL online (log: $DIR/log/bricks/)" bricks_online || exit 1
        log "restarted in $DIR"
    fi
    print_env
    exit 0
fi

if [ -e "$VOLFILE" ]; then
    log "incomplete setup in $DIR (interrupted run?); wiping it"
    GLUSTER_DATA_DIR=$DIR "$HERE/gluster-down.sh" --purge
    mkdir -p "$DIR"
elif [ -n "$(ls -A "$DIR")" ]; then
    die "$DIR is not empty and holds no gluster-up setup; refusing to use it"
fi

mkdir -p "$DIR"/{bin,lib,run,log,bricks/"$VOL",bricks/"$VOL-denied"} "$DIR"/ns/{var-lib-glusterd,var-log-glusterfs,run-gluster}
echo "$VOL" >"$DIR/volume"
# `volume set VOL group virt` and friends read working-directory/groups.
[ -d /var/lib/glusterd/groups ] && cp -r /var/lib/glusterd/groups "$DIR/lib/"

cat >"$NS" <<EOF
#!/bin/sh
# ns-exec CMD... — run CMD in a private mount namespace where glusterd's fixed
# paths are bind-mounted from this data dir (made by gluster-up.sh).
exec unshare --mount --propagation private -- sh -c '
    mount --bind "$DIR/ns/var-lib-glusterd" /var/lib/glusterd &&
    mount --bind "$DIR/ns/var-log-glusterfs" /var/log/glusterfs &&
    mount --bind "$DIR/ns/run-gluster" /run/gluster &&
    exec "\$@"' ns-exec "\$@"
EOF
cat >"$CLI" <<EOF
#!/bin/sh
# The gluster CLI for the glusterd of this data dir (made by gluster-up.sh).
exec "$NS" gluster --glusterd-sock="$DIR/run/glusterd.socket" \\
    --log-file="$DIR/log/cli.log" --mode=script "\$@"
EOF
chmod +x "$NS" "$CLI"

cat >"$VOLFILE" <<EOF
# glusterd for poolkeeper tests, made by gluster-up.sh. Everything lives in $DIR.
volume management
    type mgmt/glusterd
    option working-directory $DIR/lib
    option run-directory $DIR/run
    option logging-directory $DIR/log
    option glusterd-sockfile $DIR/run/glusterd.socket
    option transport-type socket
    option transport.socket.listen-port $PORT
    option transport.socket.bind-address 127.0.0.1
    option transport.address-family inet
    option ping-timeout 0
    option event-threads 1
    option base-port 49152
    option max-port 49251
end-volume
EOF

start_glusterd
log "glusterd up; creating volume $VOL"
"$CLI" volume create "$VOL" "$BRICK_HOST:$DIR/bricks/$VOL" force >>"$DIR/log/setup.log" 2>&1 \
    || die "volume create failed; see $DIR/log/setup.log and $DIR/log/glusterd.log"
"$CLI" volume start "$VOL" >>"$DIR/log/setup.log" 2>&1 \
    || die "volume start failed; see $DIR/log/setup.log and $DIR/log/bricks/"
for v in "$VOL-denied"; do
    "$CLI" volume create "$v" "$BRICK_HOST:$DIR/bricks/$v" force >>"$DIR/log/setup.log" 2>&1 \
        || die "volume create $v failed; see $DIR/log/setup.log"
    "$CLI" volume set "$v" auth.reject 127.0.0.1 >>"$DIR/log/setup.log" 2>&1 \
        || die "volume set $v auth.reject failed; see $DIR/log/setup.log"
    "$CLI" volume start "$v" >>"$DIR/log/setup.log" 2>&1 \
        || die "volume start $v failed; see $DIR/log/setup.log"
done
wait_until "$TIMEOUT" "bricks of $VOL online (log: $DIR/log/bricks/)" bricks_online || exit 1
touch "$DIR/.ready"
log "volume $VOL started in $(( $(now_ms) - LIB_T0 )) ms"
print_env
