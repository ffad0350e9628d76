#!/usr/bin/env bash
# tgt-up.sh — start a userspace iSCSI target (tgtd) on 127.0.0.1 with file-backed LUNs.
#
# Two targets, LUNs backed by sparse files in the data dir:
#   $TGT_IQN_PREFIX:plain  no auth, one LUN per size in TGT_LUNS (LUN 1, 2, ...)
#   $TGT_IQN_PREFIX:chap   incoming CHAP (TGT_CHAP_USER / TGT_CHAP_PASS), one LUN per
#                          size in TGT_CHAP_LUNS; left out when TGT_CHAP_USER is empty
# Both accept initiators from 127.0.0.1 only. tgtd runs in a private mount namespace
# where /run is a dir of the data dir: tgtd and tgtadm hard-code /var/run/tgtd for
# their control socket, and this keeps the machine untouched ($TGT_TGTADM wraps
# tgtadm accordingly).
#
# Idempotent: when already up, only prints the env. tgtd keeps no state, so after
# tgt-down.sh (no --purge) this starts it again and re-adds the same targets on the
# same backing files (their data kept; existing files are never resized).
# Prints `export NAME=value` lines (also in $TGT_DATA_DIR/env). Usage:
#   eval "$(tgt-up.sh)"
#
# Settings (environment):
#   TGT_DATA_DIR    data dir (default ${TMPDIR:-/tmp}/poolkeeper-tgt)
#   TGT_PORT        iSCSI portal port on 127.0.0.1 (default 3260; "auto": a free one)
#   TGT_IQN_PREFIX  target IQN prefix (default iqn.2024-01.org.poolkeeper)
#   TGT_LUNS        LUN sizes of the plain target (default "64M 32M")
#   TGT_CHAP_LUNS   LUN sizes of the CHAP target (default "32M 16M")
#   TGT_CHAP_USER   CHAP user (default poolkeeper; empty: no CHAP target)
#   TGT_CHAP_PASS   CHAP secret (default poolkeeper-secret; 12-16 chars suit most
#                   initiators, e.g. open-iscsi wants >= 12)
#   TGT_TIMEOUT     seconds to wait for readiness (default 20)
set -euo pipefail
SVC=tgt
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"

DIR=${TGT_DATA_DIR:-${TMPDIR:-/tmp}/poolkeeper-tgt}
TIMEOUT=${TGT_TIMEOUT:-20}

need_cmds tgtd tgtadm unshare setsid

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
NS=$DIR/bin/ns-exec
TGTADM=$DIR/bin/tgtadm

# First run: fix the settings in $DIR/config; later runs use them as they were.
if [ ! -f "$DIR/config" ]; then
    if [ -n "$(ls -A "$DIR")" ]; then
        die "$DIR is not empty and holds no tgt-up setup; refusing to use it"
    fi
    PORT=${TGT_PORT:-3260}
    [ "$PORT" = auto ] && PORT=$(free_port)
    mkdir -p "$DIR"/{bin,luns,log,ns/run}
    printf 'PORT=%q\nIQN_PREFIX=%q\nLUNS=%q\nCHAP_LUNS=%q\nCHAP_USER=%q\nCHAP_PASS=%q\n' \
        "$PORT" "${TGT_IQN_PREFIX:-iqn.2024-01.org.poolkeeper}" "${TGT_LUNS-64M 32M}" \
        "${TGT_CHAP_LUNS-32M 16M}" "${TGT_CHAP_USER-poolkeeper}" \
        "${TGT_CHAP_PASS-poolkeeper-secret}" >"$DIR/config.new"
    mv "$DIR/config.new" "$DIR/config"
fi
. "$DIR/config"
IQN_PLAIN=$IQN_PREFIX:plain
IQN_CHAP=$IQN_PREFIX:chap
# tgtd's -C N only names its control socket; the portal port makes it unique.
CTL=$PORT
PATTERN="--iscsi portal=127.0.0.1:$PORT"

cat >"$NS" <<EOF
#!/bin/sh
# ns-exec CMD... — run CMD in a private mount namespace whose /run is
# $DIR/ns/run (made by tgt-up.sh).
exec unshare --mount --propagation private -- sh -c '
    mount --bind "$DIR/ns/run" /run && exec "\$@"' ns-exec "\$@"
EOF
cat >"$TGTADM" <<EOF
#!/bin/sh
# tgtadm for the tgtd of this data dir (made by tgt-up.sh).
exec "$NS" tgtadm -C $CTL "\$@"
EOF
chmod +x "$NS" "$TGTADM"

tgtd_alive() { pid_is "$DIR/tgtd.pid" "$PATTERN"; }
A() { "$TGTADM" --lld iscsi "$@"; }
portal_open() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }
# configured — tgtd has both targets (a restart has none).
configured() {
    local show
    show=$(A --mode target --op show 2>/dev/null) || return 1
    [[ "$show" == *": $IQN_PLAIN"* ]] || return 1
    [ -z "$CHAP_USER" ] || [[ "$show" == *": $IQN_CHAP"* ]]
}

print_env() {
    cat >"$DIR/env" <<EOF
export TGT_DATA_DIR=$DIR
export TGT_HOST=127.0.0.1
export TGT_PORT=$PORT
export TGT_PORTAL=127.0.0.1:$PORT
export TGT_IQN_PLAIN=$IQN_PLAIN
export TGT_PLAIN_LUNS='$LUNS'
export TGT_IQN_CHAP=$([ -n "$CHAP_USER" ] && echo "$IQN_CHAP")
export TGT_CHAP_LUNS='$([ -n "$CHAP_USER" ] && echo "$CHAP_LUNS")'
export TGT_CHAP_USER=$CHAP_USER
export TGT_CHAP_PASS=$([ -n "$CHAP_USER" ] && echo "$CHAP_PASS")
export TGT_INITIATOR_IQN=$IQN_PREFIX:initiator
export TGT_TGTADM=$TGTADM
EOF
    cat "$DIR/env"
}

if tgtd_alive && configured; then
    log "already running in $DIR"
    print_env
    exit 0
fi
if tgtd_alive; then
    # Up but without our targets: an earlier start was cut off half way.
    log "tgtd runs but is not fully set up; restarting it"
    TGT_DATA_DIR=$DIR "$HERE/tgt-down.sh"
fi

port_listening "$PORT" && die "port $PORT is taken (TGT_PORT=auto picks a free one)"
log "starting tgtd on 127.0.0.1:$PORT"
# -f: stay in the foreground so we own the PID; setsid detaches it from our
# session. The inner sh writes the pid file, then execs tgtd in the same process.
setsid "$NS" sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$DIR/tgtd.pid" \
    tgtd -f -C "$CTL" --iscsi "portal=127.0.0.1:$PORT" \
    >>"$DIR/log/tgtd.log" 2>&1 </dev/null &
wait_until "$TIMEOUT" "tgtd control socket (log: $DIR/log/tgtd.log)" \
    A --mode target --op show || exit 1

# add_target TID IQN SIZES NAME — a target with one file-backed LUN per size.
add_target() {
    local tid=$1 iqn=$2 name=$4 lun=0 size f
    A --mode target --op new --tid "$tid" --targetname "$iqn"
    for size in $3; do
        lun=$((lun + 1))
        f=$DIR/luns/$name-$lun.img
        [ -e "$f" ] || truncate -s "$size" "$f"
        A --mode logicalunit --op new --tid "$tid" --lun "$lun" --backing-store "$f"
    done
    A --mode target --op bind --tid "$tid" --initiator-address 127.0.0.1
}
add_target 1 "$IQN_PLAIN" "$LUNS" plain
if [ -n "$CHAP_USER" ]; then
    add_target 2 "$IQN_CHAP" "$CHAP_LUNS" chap
    A --mode account --op new --user "$CHAP_USER" --password "$CHAP_PASS"
    A --mode account --op bind --tid 2 --user "$CHAP_USER"
fi
wait_until "$TIMEOUT" "portal 127.0.0.1:$PORT accepting" portal_open || exit 1
log "tgtd ready (pid $(cat "$DIR/tgtd.pid")) in $(( $(now_ms) - LIB_T0 )) ms"
print_env
