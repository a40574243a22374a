#!/usr/bin/env bash
# Benchmark: `oci-build base` against other ways of producing the same layer,
# measured in the same run on the same tree. Prints a table: median wall time
# over RUNS runs, peak RSS, and the compressed size.
#
#   bench/bench-base.sh [BUILD_DIR]      (default build; RUNS=7)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
RUNS=${RUNS:-7}
OCI_BUILD=$PWD/$BUILD/oci-build
[ -x "$OCI_BUILD" ] || { echo "build first: $OCI_BUILD is missing" >&2; exit 2; }
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install time)" >&2; exit 2; }

W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

# The same tree the base layer holds, staged once for the tar-based peers.
ROOT=$W/root
mkdir -p "$ROOT/etc/ssl/certs" "$ROOT/usr/share"
cp -a rootfs/. "$ROOT/"
cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/"
cp -a /usr/share/zoneinfo "$ROOT/usr/share/"

# run NAME SIZE_CMD COMMAND -- prints one table row
row() {
        local name=$1 sizefn=$2
        shift 2
        local times=() rss=0 i
        for ((i = 0; i < RUNS; i++)); do
                rm -rf "$W/out"
                /usr/bin/time -f '%e %M' -o "$W/t" bash -c "$*" >/dev/null 2>&1
                read -r t m < "$W/t"
                times+=("$t")
                [ "$m" -gt "$rss" ] && rss=$m
        done
        local median
        median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
        printf '%-44s %8s s %9s MB %12s\n' "$name" "$median" "$(awk -v k="$rss" 'BEGIN{printf "%.1f", k/1024}')" \
                "$(eval "$sizefn")"
}

printf '%-44s %10s %12s %12s\n' "method (median of $RUNS)" "wall" "peak RSS" "bytes"
row "oci-build base (default, -j$(nproc))" 'du -cb $W/out/blobs/sha256/* | tail -1 | cut -f1' \
        "'$OCI_BUILD' -q --layout '$W/out' base"
row "oci-build base (default, -j1)" 'du -cb $W/out/blobs/sha256/* | tail -1 | cut -f1' \
        "'$OCI_BUILD' -q -j1 --layout '$W/out' base"
row "oci-build base (--level 6)" 'du -cb $W/out/blobs/sha256/* | tail -1 | cut -f1' \
        "'$OCI_BUILD' -q --level 6 --layout '$W/out' base"
row "oci-build base (--level 12)" 'du -cb $W/out/blobs/sha256/* | tail -1 | cut -f1' \
        "'$OCI_BUILD' -q --level 12 --layout '$W/out' base"
row "tar --sort=name | gzip -n -6 | sha256sum" 'cat $W/size' \
        "mkdir -p '$W/out' && tar -C '$ROOT' --sort=name --mtime=@0 --numeric-owner --owner=0 --group=0 -cf - . | gzip -n -6 | tee >(wc -c > '$W/size') | sha256sum"
if command -v umoci >/dev/null; then
        row "umoci init+new+insert (stages nothing)" 'du -cb $W/out/blobs/sha256/* | tail -1 | cut -f1' \
                "umoci init --layout '$W/out' && umoci new --image '$W/out:base' && umoci insert --rootless --image '$W/out:base' '$ROOT' /"
fi
