# shellcheck shell=bash
# Helpers of the shell tests that run the poolkeeper binary on a desired git
# repository. R is that repository, S the state database and P the
# directory the pools live in: setup_repo sets them, or the test does.
# Usage: . "$PK_TEST_DATA/lib.sh"   (it sources tap.sh)
. "$PK_TEST_DATA/tap.sh"
PK=${POOLKEEPER:?}
export POOLKEEPER_CONFIG=/dev/null   # no /etc config leaks into the test

# setup_repo NAME: T = tmpdir NAME (see tap.sh), R = $T/repo made a git
# repository, S = $T/state/state.db, P = $T/pools (not made).
setup_repo() {
    tmpdir "$1"
    R=$T/repo
    S=$T/state/state.db
    P=$T/pools
    repo_init
}
# repo_init: $R, made a git repository.
repo_init() { mkdir -p "$R" && tgit init -q "$R"; }
# commit MESSAGE: everything in $R, committed (even when nothing changed).
commit() { tgit -C "$R" add -A && tgit -C "$R" commit -qm "$1" --allow-empty; }
# pk COMMAND ARGS...: poolkeeper COMMAND on $R and $S.
pk() { local c=$1; shift; "$PK" "$c" --desired "$R" --state "$S" "$@"; }

# pool_xml NAME [PATH]: $R/pools/NAME.xml, a dir pool on PATH (default
# $P/NAME), and $R/pools/NAME/ for its volumes.
pool_xml() {
    mkdir -p "$R/pools/$1"
    printf "<pool type='dir'>\n  <name>%s</name>\n  <target>\n    <path>%s</path>\n  </target>\n</pool>\n" \
        "$1" "${2:-$P/$1}" >"$R/pools/$1.xml"
}
# vol_xml POOL NAME CAPACITY [FORMAT] [MODE]: $R/pools/POOL/NAME.xml, the
# capacity in VOL_UNIT (MiB unless the test or its lib sets another); a
# <target> holds the format and the mode when they are given.
vol_xml() {
    local target=""
    [ -n "${4:-}" ] && target+="<format type='$4'/>"
    [ -n "${5:-}" ] && target+="<permissions><mode>$5</mode></permissions>"
    {
        printf "<volume>\n  <name>%s</name>\n  <capacity unit='%s'>%s</capacity>\n" "$2" "${VOL_UNIT:-MiB}" "$3"
        [ -z "$target" ] || printf '  <target>%s</target>\n' "$target"
        printf '</volume>\n'
    } >"$R/pools/$1/$2.xml"
}
