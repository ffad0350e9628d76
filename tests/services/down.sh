#!/usr/bin/env bash
# down.sh [--purge] [ceph] [gluster] [tgt] — stop the test services (all
# three by default); --purge also deletes their data dirs. Every service is
# stopped even when another one fails to; the exit status says if any did.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
purge=()
if [ "${1:-}" = --purge ]; then purge=(--purge); shift; fi
services=("$@")
[ ${#services[@]} -eq 0 ] && services=(tgt gluster ceph)
rc=0
for s in "${services[@]}"; do
    case $s in ceph|gluster|tgt) ;; *) echo "down.sh: unknown service '$s'" >&2; rc=2; continue;; esac
    "$HERE/$s-down.sh" "${purge[@]}" || { echo "down.sh: stopping $s failed" >&2; rc=1; }
done
exit $rc
