#!/usr/bin/env bash
# Installs what is missing, builds oci-build, and builds the base image into ./oci.
#   setup.sh           only what building needs
#   setup.sh --tools   also the Debian packages of the tool images (curl, jq, git, go, node, postgres)
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
"") tools=false ;;
--tools) tools=true ;;
*)
        echo "usage: $0 [--tools]" >&2
        exit 2
        ;;
esac
scripts/deps.sh build
$tools && scripts/deps.sh tools
# Not -Dwerror=true: this is a first run on whatever compiler the user has,
# and a warning that compiler adds must not stop it; scripts/test.sh builds
# with warnings as errors.
[ -d build ] || meson setup build >/dev/null
ninja -C build
./build/oci-build base
$tools && echo "the tools' packages are installed: build/oci-build tool --all" >&2
exit 0
