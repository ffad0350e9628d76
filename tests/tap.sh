# TAP helpers for shell tests run by meson (protocol: tap).
# Usage: . "$PK_TEST_DATA/tap.sh"; ok CMD...; is GOT WANT NAME; done_testing
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

# A fresh temporary directory, removed on exit unless PK_KEEP_TMP is set.
tmpdir() {
    local d
    d=$(mktemp -d "${TMPDIR:-/tmp}/pk-$1-XXXXXX")
    if [ -z "${PK_KEEP_TMP:-}" ]; then
        # shellcheck disable=SC2064
        trap "rm -rf '$d'" EXIT
    fi
    echo "$d"
}

# git with a fixed identity, for test repositories.
tgit() { git -c user.email=test@poolkeeper -c user.name=test -c init.defaultBranch=main "$@"; }
