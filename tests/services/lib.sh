# lib.sh — helpers shared by the *-up.sh / *-down.sh service scripts.
# Sourced, never run. Needs bash; callers run under `set -euo pipefail`.
# (From the team's services lab, shared/services/, where these recipes were
# first measured; see README.md here.)

# now_ms — wall clock in milliseconds, for the start-time report.
now_ms() { date +%s%3N; }
LIB_T0=$(now_ms)

# log MSG... — progress to stderr (with seconds since start), so stdout stays
# clean for the env lines.
log() {
    local ms=$(( $(now_ms) - LIB_T0 ))
    printf '[%s %d.%02ds] %s\n' "${SVC:-svc}" $(( ms / 1000 )) $(( ms % 1000 / 10 )) "$*" >&2
}
die() { printf '[%s] ERROR: %s\n' "${SVC:-svc}" "$*" >&2; exit 1; }

# need_cmds CMD... — every CMD must be on PATH; a missing one stops the script
# with the package list to install (the scripts never install anything: CI and
# developers run contrib/install-deps.sh once).
need_cmds() {
    local missing=() c
    for c in "$@"; do command -v "$c" >/dev/null 2>&1 || missing+=("$c"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    die "missing programs: ${missing[*]}; install the test dependencies with contrib/install-deps.sh"
}

# port_listening PORT — true if something listens on TCP PORT (any address).
# Reads /proc/net/tcp{,6} so it needs neither ss nor python.
port_listening() {
    local hex
    hex=$(printf ':%04X' "$1")
    awk -v h="$hex" '$4 == "0A" && substr($2, length($2) - 4) == h { f = 1 } END { exit !f }' \
        /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# free_port [AVOID...] — a TCP port nobody listens on, below the ephemeral range
# (32768+) and away from Ceph's daemon range (6800-7300). Ports in AVOID are skipped.
free_port() {
    local p _ a ok
    for _ in $(seq 1 200); do
        p=$(( 20000 + (RANDOM % 12000) ))
        ok=1
        for a in "$@"; do [ "$a" = "$p" ] && ok=0; done
        [ $ok = 1 ] && ! port_listening "$p" && { echo "$p"; return 0; }
    done
    die "no free TCP port found"
}

# wait_until TIMEOUT_S WHAT CMD... — run CMD every 0.2 s until it succeeds.
# On timeout, print WHAT and fail. CMD's output is discarded.
wait_until() {
    local timeout=$1 what=$2; shift 2
    local deadline=$(( $(date +%s) + timeout ))
    while ! "$@" >/dev/null 2>&1; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            log "timed out after ${timeout}s waiting for: $what"
            return 1
        fi
        sleep 0.2
    done
}

# pid_is PIDFILE PATTERN — true if PIDFILE names a live process whose command
# line contains PATTERN (guards against a recycled PID).
pid_is() {
    local pid cmd
    pid=$(cat "$1" 2>/dev/null) || return 1
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ "$cmd" == *"$2"* ]]
}

# alive PID — true while PID exists and is not a zombie (PID 1 here may be slow
# to reap orphans, and kill -0 succeeds on a zombie).
alive() {
    local st
    st=$(sed 's/^.*) //; s/ .*//' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# stop_pid PIDFILE PATTERN [GRACE_S] — SIGTERM the process in PIDFILE if it is
# ours (see pid_is), wait up to GRACE_S (default 10), then SIGKILL. Removes PIDFILE.
stop_pid() {
    local pidfile=$1 pattern=$2 grace=${3:-10} pid _
    if pid_is "$pidfile" "$pattern"; then
        pid=$(cat "$pidfile")
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 $(( grace * 10 ))); do
            alive "$pid" || break
            sleep 0.1
        done
        if alive "$pid"; then
            log "pid $pid ($pattern) ignored SIGTERM for ${grace}s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            for _ in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
        fi
    fi
    rm -f "$pidfile"
}

# pids_naming STRING EXE... — PIDs of live processes with STRING in their command
# line whose executable's basename is one of EXE (used with a data dir path: only
# daemons started for that dir name it). Never this shell or its ancestors.
pids_naming() {
    local str=$1 d pid cmd exe e ok ancestors=" " p=$$
    shift
    while [ "$p" -gt 1 ] 2>/dev/null; do
        ancestors+="$p "
        p=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | cut -d' ' -f2) || break
    done
    for d in /proc/[0-9]*; do
        pid=${d#/proc/}
        [[ "$ancestors" == *" $pid "* ]] && continue
        exe=$(readlink "$d/exe" 2>/dev/null) || continue
        ok=0
        for e in "$@"; do [ "${exe##*/}" = "$e" ] && ok=1; done
        [ $ok = 1 ] || continue
        cmd=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null) || continue
        [[ "$cmd" == *"$str"* ]] && alive "$pid" && echo "$pid"
    done
    return 0
}

# stop_naming STRING EXE... — SIGTERM every process pids_naming finds (daemons
# that never wrote a pid file, e.g. after an interrupted start), SIGKILL after 5 s.
stop_naming() {
    local pids=() pid _
    mapfile -t pids < <(pids_naming "$@")
    [ ${#pids[@]} -eq 0 ] && return 0
    log "stopping leftover processes naming $1: ${pids[*]}"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 1 50); do
        mapfile -t pids < <(for pid in "${pids[@]}"; do if alive "$pid"; then echo "$pid"; fi; done)
        [ ${#pids[@]} -eq 0 ] && return 0
        sleep 0.1
    done
    kill -KILL "${pids[@]}" 2>/dev/null || true
}

# rss_kb PID — resident set size in KiB (0 if gone).
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
