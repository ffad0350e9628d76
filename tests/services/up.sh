#!/usr/bin/env bash
# up.sh [ceph] [gluster] [tgt] — start the test services (all three by
# default) and print their `export NAME=value` lines on stdout:
#
#   eval "$(tests/services/up.sh)"      # then tests/run, meson test ...
#
# Each service keeps everything in its own data dir under ${TMPDIR:-/tmp}
# (see the *-up.sh scripts and README.md). A service that cannot start makes
# this fail (non-zero exit, its name and log on stderr): nothing is skipped.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
services=("$@")
[ ${#services[@]} -eq 0 ] && services=(ceph gluster tgt)
for s in "${services[@]}"; do
    case $s in ceph|gluster|tgt) ;; *) echo "up.sh: unknown service '$s' (ceph, gluster, tgt)" >&2; exit 2;; esac
done
for s in "${services[@]}"; do
    if ! out=$("$HERE/$s-up.sh"); then
        echo "up.sh: $s failed to start (see the messages above)" >&2
        exit 1
    fi
    printf '%s\n' "$out"
done
