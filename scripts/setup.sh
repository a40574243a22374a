#!/usr/bin/env bash
# Installs what is missing, builds oci-build, and builds the base image into ./oci.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
# Not -Dwerror=true: this is a first run on whatever compiler the user has,
# and a warning that compiler adds must not stop it; scripts/test.sh builds
# with warnings as errors.
[ -d build ] || meson setup build >/dev/null
ninja -C build
./build/oci-build base
