#!/bin/sh
# Install everything poolkeeper needs to build and test on Debian 12 (as root).
# The one list of packages: .ci/run and the README quick start both use it.
set -eu
PACKAGES="
  build-essential meson ninja-build pkg-config clang git ca-certificates
  libxml2-dev libxml2-utils libsqlite3-dev sqlite3 libyaml-dev libgit2-dev
  libjson-c-dev libcurl4-openssl-dev libmicrohttpd-dev libssl-dev
  libblkid-dev libfdisk-dev
  qemu-utils
"
if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: run as root (apt-get install)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
echo "install-deps: done"
