#!/usr/bin/env bash
# Benchmark: the tool layer of `oci-build tool NAME` (default curl) against
# tar | gzip -6 | sha256sum and umoci on the same files, in the same run.
# Prints median wall time over RUNS runs, peak RSS and the layer size.
#
#   bench/bench-tool.sh [NAME] [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
NAME=${1:-curl}
BUILD=${2:-build}
RUNS=${RUNS:-5}
OCI_BUILD=$PWD/$BUILD/oci-build
[ -x "$OCI_BUILD" ] || { echo "build first: $OCI_BUILD is missing" >&2; exit 2; }
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install time)" >&2; exit 2; }

W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

# The tool layer's paths, as oci-build plans them, for the tar-based peers.
"$OCI_BUILD" show "$NAME" --files | awk 'NR > 1 { for (i = 4; i <= NF; i++) if ($i ~ /^\//) { print substr($i, 2); break } }' | sed '$d' > "$W/paths"
ROOT=$W/root
mkdir -p "$ROOT"
tar -C / --no-recursion -cf - -T "$W/paths" | tar -C "$ROOT" -xf -
files=$(grep -c . "$W/paths")
bytes=$(du -sb "$ROOT" | cut -f1)

row() {
        local name=$1 sizefn=$2
        shift 2
        local times=() rss=0 i t m
        for ((i = 0; i < RUNS; i++)); do
                rm -rf "$W/out"
                /usr/bin/time -f '%e %M' -o "$W/t" bash -c "$*" >/dev/null 2>&1
                read -r t m < "$W/t"
                times+=("$t")
                [ "$m" -gt "$rss" ] && rss=$m
        done
        printf '%-46s %8s s %9s MB %12s\n' "$name" \
                "$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')" \
                "$(awk -v k="$rss" 'BEGIN{printf "%.1f", k/1024}')" "$(eval "$sizefn")"
}

layer_size='jq -r ".layers[1].size" "$W/out/blobs/sha256/$(jq -r ".manifests[0].digest" "$W/out/index.json" | cut -d: -f2)"'
echo "$NAME: $files paths, $bytes bytes on disk"
printf '%-46s %10s %12s %12s\n' "method (median of $RUNS)" "wall" "peak RSS" "layer bytes"
row "oci-build tool $NAME (default, -j$(nproc))" "$layer_size" "'$OCI_BUILD' -q --layout '$W/out' tool $NAME"
row "oci-build tool $NAME (default, -j1)" "$layer_size" "'$OCI_BUILD' -q -j1 --layout '$W/out' tool $NAME"
row "oci-build tool $NAME (--level 10, -j$(nproc))" "$layer_size" "'$OCI_BUILD' -q --level 10 --layout '$W/out' tool $NAME"
row "tar --sort=name | gzip -n -6 | sha256sum" 'cat $W/size' \
        "mkdir -p '$W/out' && tar -C '$ROOT' --sort=name --mtime=@0 --numeric-owner --owner=0 --group=0 -cf - . | gzip -n -6 | tee >(wc -c > '$W/size') | sha256sum"
if command -v umoci >/dev/null; then
        row "umoci init+new+insert" 'ls -S $W/out/blobs/sha256/* | head -1 | xargs stat -c %s' \
                "umoci init --layout '$W/out' && umoci new --image '$W/out:t' && umoci insert --rootless --image '$W/out:t' '$ROOT' /"
fi
