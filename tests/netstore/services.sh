# Sourced by the netstore end-to-end tests: where the services are.
#
# need_service NAME VAR... — the test needs service NAME (ceph, gluster,
# tgt), whose address is in the environment variables VAR... that
# tests/services/up.sh prints. Without them the test fails, saying how to
# start the service, unless PK_SKIP_SERVICES=1 asks to skip it.
need_service() {
    local name=$1 v missing=()
    shift
    for v in "$@"; do [ -n "${!v:-}" ] || missing+=("$v"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "${PK_SKIP_SERVICES:-}" = 1 ]; then
        echo "1..0 # SKIP $name is not running (${missing[*]} not set) and PK_SKIP_SERVICES=1"
        exit 0
    fi
    echo "Bail out! $name is not running here: ${missing[*]} not set." \
         "Start it with: eval \"\$(tests/services/up.sh $name)\", or set PK_SKIP_SERVICES=1 to skip this test."
    exit 1
}

# A name no other run of the tests uses at the same time (the normal and the
# sanitizer builds run one after the other against the same services).
unique_tag() { printf 'pk%s%04x' "$$" "$((RANDOM % 65536))"; }

# secret_file DIR NAME — write stdin to DIR/NAME, mode 0600, as secrets.dir wants.
secret_file() {
    (umask 077 && cat >"$1/$2")
}
