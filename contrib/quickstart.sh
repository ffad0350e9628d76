#!/bin/sh
# Quick start, on a fresh Debian 12 machine, as root, from a clone:
#   install dependencies, build, then plan and apply the example desired state
#   (contrib/example-repo: dir pools under /var/lib/poolkeeper-example, state in
#   ./.poolkeeper/state.db), and show that a second apply has nothing to do.
set -eu
cd "$(dirname "$0")/.."
contrib/install-deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null
pk() { ./build/controller/poolkeeper "$@" --config contrib/quickstart.yaml; }

echo "== poolkeeper validate"
pk validate
echo "== poolkeeper plan"
pk plan
echo "== poolkeeper apply"
pk apply --yes
echo "== poolkeeper apply (again: nothing to do)"
pk apply --yes
echo "== poolkeeper status"
pk status
ls -ls /var/lib/poolkeeper-example/default
