#!/usr/bin/env bash
# Builds every tool image into a fresh layout and prints, per tool, the
# number of paths in its layer, the layer's tar size and its gzip size, and
# the wall time of `oci-build tool --all`.
#
#   bench/tool-sizes.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
OCI_BUILD=$PWD/${1:-build}/oci-build
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

start=$(date +%s.%N)
"$OCI_BUILD" -q --layout "$W/oci" tool --all
end=$(date +%s.%N)

blob() { echo "$W/oci/blobs/sha256/${1#sha256:}"; }
printf '%-10s %7s %14s %14s %8s\n' tool paths "tar bytes" "gzip bytes" ratio
for name in $("$OCI_BUILD" list tools | awk 'NR > 1 {print $2}'); do
        m=$(jq -r --arg n "$name" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest' "$W/oci/index.json")
        layer=$(jq -r '.layers[1].digest' "$(blob "$m")")
        gz=$(stat -c %s "$(blob "$layer")")
        tarsz=$(gzip -dc "$(blob "$layer")" | wc -c)
        paths=$(gzip -dc "$(blob "$layer")" | tar -tf - | wc -l)
        printf '%-10s %7s %14s %14s %7.2fx\n' "$name" "$paths" "$tarsz" "$gz" "$(echo "$tarsz / $gz" | bc -l)"
done
printf 'oci-build tool --all: %.1f s wall on %s cores\n' "$(echo "$end - $start" | bc -l)" "$(nproc)"
