#!/usr/bin/env bash
# The layer cache: a rebuild with nothing changed writes no blob and gives the
# same digests; a byte changed in one tool's closure, or a file whose ctime
# alone changed, rebuilds exactly that tool's layer; a cache entry whose blob
# was deleted or damaged is not trusted; two builds sharing one cache at the
# same time both land; -j and the cache change no digest; an app build with
# its tools built writes only its own layer; an unusable cache directory
# costs nothing but a line; the md5 of a packaged file is remembered, but a
# changed file gets its new md5 in the .md5sums records (md5sum -c in the
# image umoci unpacks) and a damaged md5 cache is ignored. Every layout is
# judged by oci-validate.
. "$(dirname "$0")/lib.sh"

need jq
S=$T/sysroot
C=$T/tree/configs
export OCI_BUILD_CACHE=$T/cache

# --- a sysroot with the files of base, jq and curl --------------------------
copy_sources "$S" base jq curl
cp -a --parents /var/lib/dpkg/status /var/lib/dpkg/info/*.list /etc/ld.so.conf /etc/ld.so.conf.d "$S"
mkdir -p "$T/tree"
cp -a "$SOURCE_ROOT/configs" "$SOURCE_ROOT/rootfs" "$T/tree"
mkdir -p "$C/apps" "$T/app"
echo 'hello from a cached build' > "$T/app/hello.txt"
printf 'name: mini\nversion: "1.0"\ndescription: a test app on jq\ntools: [jq]\nartifacts:\n  - { path: /app/hello.txt, source: %s }\nconfig:\n  cmd: [/usr/bin/jq, -n, "1"]\n' \
        "$T/app/hello.txt" > "$C/apps/mini.yml"
# A tool with a data layer made by a host command, as postgres' by initdb:
# the command counts its runs and writes a random identifier, so that its
# output is not reproducible either.
mkdir -p "$T/bin"
printf '#!/bin/sh\necho run >> "%s"\nod -An -N8 -tx8 /dev/urandom > "$1/id"\n' "$T/data-runs" > "$T/bin/mkdata"
chmod 755 "$T/bin/mkdata"
sed -e 's/^name: jq/name: jqd/' "$C/tools/jq.yml" > "$C/tools/jqd.yml"
printf 'data:\n  path: /var/lib/jqd\n  owner: "1000:1000"\n  mode: "0700"\n  command: [%s, "{dir}"]\n' "$T/bin/mkdata" >> "$C/tools/jqd.yml"
# Data commands that run while the layers below their own are written: one
# waits until the base and tool layers are in the layout it is given (and
# fails if they never come), one fails once they are.
printf '#!/bin/sh\ni=0\nwhile [ "$(ls "$2/blobs/sha256" 2>/dev/null | wc -l)" -lt 2 ]; do\n' > "$T/bin/waitdata"
printf '        i=$((i + 1)); [ $i -gt 300 ] && { echo "the layers below were not written meanwhile" >&2; exit 1; }\n' >> "$T/bin/waitdata"
printf '        sleep 0.05\ndone\necho made > "$1/made"\n' >> "$T/bin/waitdata"
chmod 755 "$T/bin/waitdata"
sed -e 's/^name: jq/name: jqw/' "$C/tools/jq.yml" > "$C/tools/jqw.yml"
printf 'data:\n  path: /var/lib/jqw\n  command: [%s, "{dir}", %s]\n' "$T/bin/waitdata" "$T/oci-overlap" >> "$C/tools/jqw.yml"
sed -e 's/^name: jq/name: jqf/' "$C/tools/jq.yml" > "$C/tools/jqf.yml"
printf 'data:\n  path: /var/lib/jqf\n  command: [/bin/sh, -c, "sleep 0.5; echo initdb says no >&2; exit 3"]\n' >> "$C/tools/jqf.yml"
# An app whose build step makes its artifact from a source file, counting
# its runs outside the tree it reads.
mkdir -p "$T/app2"
echo 'version one' > "$T/app2/src.txt"
printf 'name: stepapp\nversion: "1.0"\ndescription: a test app with a build step\ntools: [jq]\nbuild:\n  - command: [sh, -c, "cp src.txt out.txt; echo run >> %s"]\n    workdir: %s\nartifacts:\n  - { path: /app/out.txt, source: %s }\nconfig:\n  cmd: [/usr/bin/jq, -n, "1"]\n' \
        "$T/step-runs" "$T/app2" "$T/app2/out.txt" > "$C/apps/stepapp.yml"
runs() { cat "$1" 2>/dev/null | wc -l; }
# Files changed within the last seconds are not remembered (their timestamps
# may not tell a second change in the same clock tick): let them settle.
settle() { sleep 2.2; }
settle

# The run record (test-noop.sh) would skip the planning whose layer and
# step caches this test judges: each build here starts without one.
ob() {
        rm -rf "${OCI_BUILD_CACHE:?}/runs"
        "$OCI_BUILD" -C "$C" --sysroot "$S" "$@"
}
# Names, inode numbers and mtimes (ns) of the blobs, and of their directory.
blob_state() { (cd "$1/blobs/sha256" && stat -c '%n %i %.9Y' . * | LC_ALL=C sort); }
written() { grep -c ': written$' <<<"$1"; }
cached() { grep -c ': from the cache$' <<<"$1"; }
by_tar() { grep -c ': from the cache, by its tar$' <<<"$1"; }

L=$T/oci
out=$(ob -v --layout "$L" tool jq curl 2>&1)
check "cold build of jq and curl from the sysroot copy" test $? -eq 0
check "a cold build writes its three layers" test "$(written "$out")" -eq 3
validate "oci-validate passes on the cold build" "$L" jq curl
check "the cache holds two entries per layer (by its sources, by its shape)" \
        test "$(find "$OCI_BUILD_CACHE/layers" -type f | wc -l)" -eq 6
check "the cache is private" test "$(stat -c %a "$OCI_BUILD_CACHE/layers")" = 700
check "the md5 cache holds the packaged files, privately" \
        test "$(grep -c '^[0-9]* [0-9]* [0-9]* [0-9]* [0-9]* [0-9]* [0-9a-f]\{32\}$' "$OCI_BUILD_CACHE/md5/sums")" -gt 10 -a \
        "$(stat -c %a "$OCI_BUILD_CACHE/md5/sums")" = 600
before=$(blob_state "$L")
index=$(cat "$L/index.json")

out=$(ob -v --layout "$L" tool jq curl 2>&1)
check "no-op rebuild succeeds" test $? -eq 0
check "no-op rebuild: every layer from the cache, none written" \
        test "$(cached "$out")" -eq 3 -a "$(written "$out")" -eq 0
check "no-op rebuild: no blob written (names, inodes and mtimes unchanged)" test "$(blob_state "$L")" = "$before"
check "no-op rebuild: identical index and digests" test "$(cat "$L/index.json")" = "$index"

out=$(ob -v --no-cache --layout "$L" tool jq curl 2>&1)
check "--no-cache writes every layer again" test "$(written "$out")" -eq 3 -a "$(cached "$out")" -eq 0
check "--no-cache gives the same digests" test "$(cat "$L/index.json")" = "$index"

# --- one byte of jq's closure ------------------------------------------------
ONIG=$(readlink -f "$S/usr/lib/x86_64-linux-gnu/libonig.so.5")
[ -f "$ONIG" ] || ONIG=$(find "$S" -name 'libonig.so.5.*' -type f | head -n 1)
jq_layer=$(layers "$L" jq | sed -n 2p)
curl_layers=$(layers "$L" curl)
printf '\x5a' | dd of="$ONIG" bs=1 seek=4096 conv=notrunc status=none
settle
out=$(ob -v --layout "$L" tool jq curl 2>&1)
check "a byte changed in libonig: exactly one layer written" \
        test "$(written "$out")" -eq 1 -a "$(cached "$out")" -eq 2
check "... and it is jq's: its tool layer changed" test "$(layers "$L" jq | sed -n 2p)" != "$jq_layer"
check "... curl's layers did not" test "$(layers "$L" curl)" = "$curl_layers"
# The md5 cache knew libonig: the record must say its new md5.
md5sums_check() {       # LAYOUT NAME [PATH]: md5sum -c of every status.d/*.md5sums in the unpacked image, which list PATH
        local U=$T/u-md5-$2-$RANDOM
        umoci unpack --rootless --image "$1:$2" "$U" >/dev/null || return 1
        (cd "$U/rootfs" && ls var/lib/dpkg/status.d/*.md5sums >/dev/null && md5sum -c --quiet var/lib/dpkg/status.d/*.md5sums &&
                { [ -z "${3:-}" ] || grep -h "  $3\$" var/lib/dpkg/status.d/*.md5sums; }) || return 1
        rm -rf "$U"
}
if have umoci; then
        check "... its .md5sums record has libonig's new md5 (md5sum -c in the unpacked image)" \
                md5sums_check "$L" jq "${ONIG#"$S"/}"
        check "... and curl's records still pass md5sum -c" md5sums_check "$L" curl
else
        skip "... its .md5sums record has libonig's new md5" "umoci not available"
fi
C2=$T/cold
ob -q --no-cache --layout "$C2" tool jq curl
check "the result is what a cold build gives" test "$(manifest "$L" jq) $(manifest "$L" curl)" = \
        "$(manifest "$C2" jq) $(manifest "$C2" curl)"
validate "oci-validate passes after the partial rebuild" "$L" jq curl

# Only the ctime: chmod to the same mode.
chmod "$(stat -c %a "$ONIG")" "$ONIG"
settle
index=$(cat "$L/index.json")
before=$(blob_state "$L")
out=$(ob -v --layout "$L" tool jq curl 2>&1)
check "a file whose ctime alone changed: its layer's tar hashed, the same as before: none written" \
        test "$(by_tar "$out")" -eq 1 -a "$(written "$out")" -eq 0 -a "$(cached "$out")" -eq 2
check "... with the same digests as before" test "$(cat "$L/index.json")" = "$index"
check "... and no blob written (names, inodes and mtimes unchanged)" test "$(blob_state "$L")" = "$before"
out=$(ob -v --layout "$L" tool jq curl 2>&1)
check "... the next build finds it by its sources again" test "$(cached "$out")" -eq 3

# --- entries whose blob is gone or damaged ----------------------------------
jq_layer=$(layers "$L" jq | sed -n 2p)
rm "$L/blobs/sha256/${jq_layer#sha256:}"
out=$(ob -v --layout "$L" tool jq 2>&1)
check "a deleted blob behind a cache entry is written again" test "$(written "$out")" -eq 1
check "... and is back, intact" test "$(sha256sum <"$L/blobs/sha256/${jq_layer#sha256:}" | cut -d' ' -f1)" = "${jq_layer#sha256:}"
curl_layer=$(layers "$L" curl | sed -n 2p)
CB=$L/blobs/sha256/${curl_layer#sha256:}
size=$(stat -c %s "$CB")
printf '\x00\x01\x02\x03' | dd of="$CB" bs=1 seek=$((size / 2)) conv=notrunc status=none
out=$(ob -v --layout "$L" tool curl 2>&1)
check "a damaged blob (same size) behind a cache entry is not trusted: written again" test "$(written "$out")" -eq 1
check "... and is intact again" test "$(sha256sum <"$CB" | cut -d' ' -f1)" = "${curl_layer#sha256:}"
validate "oci-validate passes after the repairs" "$L" jq curl

# --- two builds at once, one cache -------------------------------------------
export OCI_BUILD_CACHE=$T/cache-shared
ob -q --layout "$T/p1" tool jq curl & P1=$!
ob -q --layout "$T/p2" tool jq curl & P2=$!
wait $P1; r1=$?
wait $P2; r2=$?
check "two concurrent builds sharing a cache both succeed" test $r1 -eq 0 -a $r2 -eq 0
validate "oci-validate passes on the first" "$T/p1" jq curl
validate "oci-validate passes on the second" "$T/p2" jq curl
check "both have the same digests" test "$(manifest "$T/p1" curl)" = "$(manifest "$T/p2" curl)"
check "the shared cache has no half-written entry" \
        bash -c "for f in '$OCI_BUILD_CACHE'/layers/*; do jq -e .digest \"\$f\" >/dev/null || exit 1; done"

# --- -j and the cache change no digest ---------------------------------------
export OCI_BUILD_CACHE=$T/cache-j
digests=()
for args in "--no-cache -j1" "--no-cache -j2" "-j1" "-j2" "-j1"; do
        rm -rf "$T/j"
        # shellcheck disable=SC2086
        ob -q $args --layout "$T/j" tool jq curl
        digests+=("$(manifest "$T/j" jq 2>/dev/null) $(manifest "$T/j" curl 2>/dev/null)")
done
check "identical digests at -j1 and -j2, with and without the cache" \
        test "$(printf '%s\n' "${digests[@]}" | grep -c '^sha256:[0-9a-f]* sha256:[0-9a-f]*$')" -eq 5 -a \
        "$(printf '%s\n' "${digests[@]}" | sort -u | wc -l)" -eq 1

# --- an app on tools already built writes only its own layer -----------------
before=$(ls "$L/blobs/sha256" | sort)
out=$(ob -v --layout "$L" app mini 2>&1)
check "app mini builds" test $? -eq 0
new=$(comm -13 <(echo "$before") <(ls "$L/blobs/sha256" | sort) | wc -l)
check "the app build wrote five blobs: its layer, config and manifest, its SBOM and the SBOM's artifact manifest ($new)" \
        test "$new" -eq 5
check "... base and jq layers came from the cache" test "$(written "$out")" -eq 1 -a "$(cached "$out")" -eq 2
validate "oci-validate passes on the app" "$L" mini

# --- the step cache: a data command ------------------------------------------
LD=$T/oci-data
out=$(ob -v --layout "$LD" tool jqd 2>&1)
check "a tool with a data layer builds" test $? -eq 0 -a "$(runs "$T/data-runs")" -eq 1
check "... its progress counts three layers, the files of the data layer once made" \
        grep -Eq '^jqd: writing 3 layers \(.* of files, and those of a data layer still being made\)$' <<<"$out"
validate "oci-validate passes on the tool with a data layer" "$LD" jqd
check "the data layer is the image's third" test "$(layers "$LD" jqd | wc -l)" -eq 3
before=$(blob_state "$LD")
index=$(cat "$LD/index.json")
out=$(ob -v --layout "$LD" tool jqd 2>&1)
check "no-op rebuild: the data command does not run" test "$(runs "$T/data-runs")" -eq 1
check "... its layer comes from the step cache" grep -q 'data layer .*: from the step cache' <<<"$out"
check "... its progress counts the cached layer too" grep -Eq '^jqd: writing 3 layers \([^,]* of files\)$' <<<"$out"
check "... no blob written (names, inodes and mtimes unchanged)" test "$(blob_state "$LD")" = "$before"
check "... identical index and digests" test "$(cat "$LD/index.json")" = "$index"
data_layer=$(layers "$LD" jqd | sed -n 3p)
rm "$LD/blobs/sha256/${data_layer#sha256:}"
out=$(ob -v --layout "$LD" tool jqd 2>&1)
check "a deleted blob behind a step cache entry: the command runs again" test "$(runs "$T/data-runs")" -eq 2
new_layer=$(layers "$LD" jqd | sed -n 3p)
check "... and its new layer is in the layout, intact" \
        test "$(sha256sum <"$LD/blobs/sha256/${new_layer#sha256:}" | cut -d' ' -f1)" = "${new_layer#sha256:}"
validate "oci-validate passes after the data layer was made again" "$LD" jqd
before=$(blob_state "$LD")
out=$(ob -v --layout "$LD" tool jqd 2>&1)
check "... and the next build finds it" test "$(runs "$T/data-runs")" -eq 2 -a "$(blob_state "$LD")" = "$before"
out=$(ob -v --no-cache --layout "$LD" tool jqd 2>&1)
check "--no-cache runs the data command" test "$(runs "$T/data-runs")" -eq 3
check "... and gives a new data layer (it is not reproducible)" test "$(layers "$LD" jqd | sed -n 3p)" != "$new_layer"
touch "$T/bin/mkdata"
settle
out=$(ob -v --layout "$LD" tool jqd 2>&1)
check "a data command whose program changed runs again" test "$(runs "$T/data-runs")" -eq 4
validate "oci-validate passes on the last build" "$LD" jqd

# --- a data command runs while the layers below its own are written --------
mkdir -p "$T/tmpd"
out=$(TMPDIR=$T/tmpd ob --layout "$T/oci-overlap" tool jqw 2>&1)
check "a data command runs on while the base and tool layers are written" test $? -eq 0
check "... its layer holds what it made" \
        bash -c "tar -tzf '$T/oci-overlap/blobs/sha256/$(layers "$T/oci-overlap" jqw | sed -n 3p | cut -d: -f2)' |
                grep -Eq '^(\./)?var/lib/jqw/made\$'"
validate "oci-validate passes on it" "$T/oci-overlap" jqw
check "... its directory is removed" test -z "$(ls -A "$T/tmpd")"
before=$(blob_state "$LD")
index=$(cat "$LD/index.json")
out=$(TMPDIR=$T/tmpd ob -q --layout "$LD" tool jqf 2>&1)
rc=$?
check "a data command that fails when its layer is due fails the build" test $rc -eq 1
check "... with the config, the command, its exit status and its output" test "$out" = \
        "oci-build: $C/tools/jqf.yml: data.command '/bin/sh' failed (exit status 3): initdb says no"
check "... and leaves the layout as it was (blobs, index)" \
        test "$(blob_state "$LD")" = "$before" -a "$(cat "$LD/index.json")" = "$index"
check "... and no directory of its own" test -z "$(ls -A "$T/tmpd")"
out=$(TMPDIR=$T/tmpd ob -q --layout "$T/oci-fail" tool jqf 2>&1)
check "... into a new layout, it leaves none" test $? -eq 1 -a ! -e "$T/oci-fail"

# --- the step cache: an app's build step --------------------------------------
out=$(ob -v --layout "$LD" app stepapp 2>&1)
check "an app with a build step builds" test $? -eq 0 -a "$(runs "$T/step-runs")" -eq 1
validate "oci-validate passes on the app" "$LD" stepapp
app_layer=$(layers "$LD" stepapp | tail -n 1)
before=$(blob_state "$LD")
index=$(cat "$LD/index.json")
out=$(ob -v --layout "$LD" app stepapp 2>&1)
check "unchanged rebuild: the step does not run" test "$(runs "$T/step-runs")" -eq 1
check "... no blob written, same digests" test "$(blob_state "$LD")" = "$before" -a "$(cat "$LD/index.json")" = "$index"
echo 'version two' > "$T/app2/src.txt"
out=$(ob -v --layout "$LD" app stepapp 2>&1)
check "a source file changed: the step runs again" test "$(runs "$T/step-runs")" -eq 2
check "... and the app layer is new" test "$(layers "$LD" stepapp | tail -n 1)" != "$app_layer"
new_app=$(layers "$LD" stepapp | tail -n 1)
check "... and holds the new file" \
        bash -c "tar -xzOf '$LD/blobs/sha256/${new_app#sha256:}' app/out.txt | grep -qx 'version two'"
validate "oci-validate passes on the rebuilt app" "$LD" stepapp
before=$(blob_state "$LD")
index=$(cat "$LD/index.json")
out=$(ob -v --layout "$LD" app stepapp 2>&1)
check "... then an unchanged rebuild runs nothing and writes no blob" \
        test "$(runs "$T/step-runs")" -eq 2 -a "$(blob_state "$LD")" = "$before" -a "$(cat "$LD/index.json")" = "$index"
out=$(ob -v --no-cache --layout "$LD" app stepapp 2>&1)
check "--no-cache runs the step" test "$(runs "$T/step-runs")" -eq 3
check "... with the same digests" test "$(cat "$LD/index.json")" = "$index"

# --- a cache that cannot be used ----------------------------------------------
mkdir -p "$T/bad"
touch "$T/bad/layers"
rm -rf "$T/u"
err=$(OCI_BUILD_CACHE=$T/bad ob --layout "$T/u" tool jq curl 2>&1 >/dev/null)
check "a cache path that is a file: the build succeeds" test -f "$T/u/index.json"
check "... and says so once" test "$(grep -c 'layer cache' <<<"$err")" -eq 1
validate "oci-validate passes without the cache" "$T/u" jq curl
export OCI_BUILD_CACHE=$T/cache
for f in "$OCI_BUILD_CACHE"/layers/*; do echo 'not json' > "$f"; done
out=$(ob -v --layout "$L" tool jq curl 2>&1)
check "garbage cache entries: the build succeeds, writing every layer" test "$(written "$out")" -eq 3
check "... and says so once" test "$(grep -c 'damaged layer cache entry' <<<"$out")" -eq 1
out=$(ob -v --layout "$L" tool jq curl 2>&1)
check "... and the entries are whole again" test "$(cached "$out")" -eq 3

# --- a damaged md5 cache --------------------------------------------------------
index=$(cat "$L/index.json")
head -c 200 "$OCI_BUILD_CACHE/md5/sums" > "$T/cut"
for garbage in "$T/cut" /dev/urandom; do
        head -c 4096 "$garbage" > "$OCI_BUILD_CACHE/md5/sums"
        out=$(ob -v --layout "$L" tool jq curl 2>&1)
        check "a damaged md5 cache ($garbage): the build succeeds from the layer cache, same digests" \
                test $? -eq 0 -a "$(cached "$out")" -eq 3 -a "$(cat "$L/index.json")" = "$index"
        check "... and the md5 cache is whole again" grep -q '^end [0-9]*$' "$OCI_BUILD_CACHE/md5/sums"
done
if have umoci; then
        check "... and the records still pass md5sum -c" md5sums_check "$L" jq
else
        skip "... and the records still pass md5sum -c" "umoci not available"
fi
mkdir -p "$T/bad-md5"
touch "$T/bad-md5/md5"
err=$(OCI_BUILD_CACHE=$T/bad-md5 ob --layout "$T/u2" tool jq curl 2>&1 >/dev/null)
check "an md5 cache path that is a file: the build succeeds and says so once" \
        test -f "$T/u2/index.json" -a "$(grep -c 'md5 cache' <<<"$err")" -eq 1

finish
