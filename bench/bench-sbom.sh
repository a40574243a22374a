#!/usr/bin/env bash
# Benchmark: what the layer facts cache saves the SBOMs. For each oci-build
# given (to compare builds of two versions), RUNS runs of:
#   cold tool --all, --no-cache    (no facts: every layer read back)
#   cold tool --all, empty cache   (facts made by the layer writer)
#   app notes, server.js changed   (tools built; a comment added each run,
#                                   so the app layer and its SBOM are new)
# Wall time, peak RSS and CPU time of each run (GNU time), and the load.
#
#   bench/bench-sbom.sh [OCI_BUILD...]    default build/oci-build; RUNS=5
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
[ $# -gt 0 ] || set -- "$PWD/build/oci-build"
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install time)" >&2; exit 2; }

W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
# A copy of the tree, so that the app's source can change.
mkdir -p "$W/src"
cp -r configs rootfs examples "$W/src/"

# run LABEL COMMAND: one timed run, printed as a row.
run() {
        /usr/bin/time -f '%e s %M KB (cpu %U user %S sys)' -o "$W/time" bash -c "$2" >/dev/null 2>"$W/err" ||
                { echo "failed: $2" >&2; tail -n 3 "$W/err" >&2; return 1; }
        printf '%-44s %s   (load %s)\n' "$1" "$(cat "$W/time")" "$(cut -d' ' -f1 /proc/loadavg)"
}

for ob in "$@"; do
        echo "# $ob"
        C="-C '$W/src/configs' --layout '$W/o'"
        for ((i = 0; i < RUNS; i++)); do
                rm -rf "$W/o" "$W/cache"
                run "cold tool --all --no-cache" "OCI_BUILD_CACHE='$W/cache' '$ob' -q --no-cache $C tool --all"
        done
        for ((i = 0; i < RUNS; i++)); do
                rm -rf "$W/o" "$W/cache"
                run "cold tool --all, empty cache" "OCI_BUILD_CACHE='$W/cache' '$ob' -q $C tool --all"
        done
        rm -rf "$W/o" "$W/cache"
        OCI_BUILD_CACHE=$W/cache "$ob" -q -C "$W/src/configs" --layout "$W/o" app notes >/dev/null
        cp "$W/src/examples/notes/server.js" "$W/server.js"
        for ((i = 0; i < RUNS; i++)); do
                printf '// run %s %s\n' "$ob" "$i" >> "$W/src/examples/notes/server.js"
                run "app notes, server.js changed" "OCI_BUILD_CACHE='$W/cache' '$ob' -q $C app notes"
        done
        cp "$W/server.js" "$W/src/examples/notes/server.js"
done
