#!/usr/bin/env bash
# Installs what is missing, builds oci-build, and builds the base image into ./oci.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
[ -d build ] || meson setup build >/dev/null
ninja -C build
./build/oci-build base
