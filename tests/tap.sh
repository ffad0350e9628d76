# shellcheck shell=bash
# TAP helpers for shell tests run by meson (protocol: tap), and the shell
# utilities every such test may want (tmpdir, wait_for, tgit). Tests of the
# poolkeeper binary source lib.sh instead, which sources this.
# Usage: . "$PK_TEST_DATA/tap.sh"; ok NAME CMD...; is GOT WANT NAME; done_testing
_tap_n=0
_tap_failed=0

ok() {  # ok NAME CMD... : passes when CMD exits 0
    local name=$1; shift
    _tap_n=$((_tap_n + 1))
    if "$@" >/dev/null 2>&1; then
        echo "ok $_tap_n - $name"
    else
        echo "not ok $_tap_n - $name"
        _tap_failed=$((_tap_failed + 1))
    fi
}

is() {  # is GOT WANT NAME
    _tap_n=$((_tap_n + 1))
    if [ "$1" = "$2" ]; then
        echo "ok $_tap_n - $3"
    else
        echo "not ok $_tap_n - $3"
        printf '#   got:      %s\n#   expected: %s\n' "$1" "$2" | sed 's/^\([^#]\)/# \1/'
        _tap_failed=$((_tap_failed + 1))
    fi
}

like() {  # like TEXT PATTERN NAME  (grep -E pattern)
    _tap_n=$((_tap_n + 1))
    if printf '%s\n' "$1" | grep -qE -- "$2"; then
        echo "ok $_tap_n - $3"
    else
        echo "not ok $_tap_n - $3"
        printf '%s\n' "$1" | head -20 | sed 's/^/#   /'
        echo "#   did not match: $2"
        _tap_failed=$((_tap_failed + 1))
    fi
}

unlike() {  # unlike TEXT PATTERN NAME
    _tap_n=$((_tap_n + 1))
    if printf '%s\n' "$1" | grep -qE -- "$2"; then
        echo "not ok $_tap_n - $3"
        printf '%s\n' "$1" | grep -E -- "$2" | head -5 | sed 's/^/#   /'
        _tap_failed=$((_tap_failed + 1))
    else
        echo "ok $_tap_n - $3"
    fi
}

diag() { printf '%s\n' "$*" | sed 's/^/# /'; }

done_testing() {
    echo "1..$_tap_n"
    [ "$_tap_failed" -eq 0 ]
}

# tmpdir NAME: T = a fresh temporary directory, removed when the script
# exits (also on SIGINT or SIGTERM) unless PK_KEEP_TMP is set, after the
# script's function `cleanup` when it has one. Call it as a command: in
# $(...) its exit trap would be the subshell's, which removed the directory
# at once; that form only prints the path (and the directory stays).
tmpdir() {
    T=$(mktemp -d "${TMPDIR:-/tmp}/pk-$1-XXXXXX") || exit 1
    if [ "$BASH_SUBSHELL" -gt 0 ]; then
        echo "# tmpdir: not removed at exit: run 'tmpdir $1', not T=\$(tmpdir $1)" >&2
        echo "$T"
        return
    fi
    trap _tap_exit EXIT
    trap 'exit 1' INT TERM
}
_tap_exit() {
    if declare -F cleanup >/dev/null; then cleanup; fi
    if [ -z "${PK_KEEP_TMP:-}" ]; then rm -rf "$T"; fi
}

# wait_for SECONDS CMD...: run CMD every 0.1 s until it succeeds (0), at
# most SECONDS * 10 times (1). CMD's arguments are expanded once, by the
# caller: for a condition evaluated each time, wait_until SECONDS 'SHELL
# CONDITION'.
wait_for() {
    local limit=$1 i
    shift
    for ((i = 0; i < limit * 10; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}
wait_until() { wait_for "$1" eval "$2"; }

# git with a fixed identity, for test repositories.
tgit() { git -c user.email=test@poolkeeper -c user.name=test -c init.defaultBranch=main "$@"; }
