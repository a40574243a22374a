#!/usr/bin/env bash
# The run record: a rebuild with nothing changed writes nothing (index.json
# and every blob keep their inode and mtime) and prints what the first build
# printed; a byte of a library, a ctime, a config, a file appearing where a
# lookup failed, the dpkg database, a blob or image removed, a damaged
# record, --no-cache and the environment each make the next build plan
# again. Every layout is judged by oci-validate.
. "$(dirname "$0")/lib.sh"

need jq
S=$T/sysroot
C=$T/tree/configs
export OCI_BUILD_CACHE=$T/cache
RUNS=$OCI_BUILD_CACHE/runs
HIT='nothing changed since the last build'

# --- a sysroot with the files of base, jq and curl --------------------------
copy_sources "$S" base jq curl
cp -a --parents /var/lib/dpkg/status /etc/ld.so.conf /etc/ld.so.conf.d "$S"
mkdir -p "$T/tree"
cp -a "$SOURCE_ROOT/configs" "$SOURCE_ROOT/rootfs" "$T/tree"
# Files changed within the last moments are not recorded (their timestamps
# may not tell a second change in the same clock tick): let them settle.
settle() { sleep 2.2; }
settle

ob() { "$OCI_BUILD" -C "$C" --sysroot "$S" "$@"; }
config_blob() { jq -r '.config.digest' "$1/blobs/sha256/$(manifest "$1" "$2" | cut -d: -f2)" | cut -d: -f2; }
# Names, inode numbers and mtimes (ns) of the blobs, index.json and the
# layout directory itself (a lock or temporary file would change it).
layout_state() {
        (cd "$1" && stat -c '%n %i %.9Y' . index.json oci-layout blobs/sha256 blobs/sha256/* | LC_ALL=C sort)
}
build() {       # OUT ARGS...: stdout in $T/OUT.out, stderr in $T/OUT.err
        local out=$1
        shift
        ob --layout "$L" "$@" tool curl jq >"$T/$out.out" 2>"$T/$out.err"
}
hit() { grep -q "$HIT" "$T/$1.err"; }
replanned() { ! hit "$1" && [ -s "$T/$1.out" ]; }

L=$T/oci
build cold
check "cold build of curl and jq from the sysroot copy" test $? -eq 0
validate "oci-validate passes on the cold build" "$L" curl jq
check "... and it left a run record" test "$(find "$RUNS" -type f | wc -l)" -eq 1
check "the run records are private" test "$(stat -c %a "$RUNS")" = 700
before=$(layout_state "$L")

build noop
check "a no-op rebuild succeeds" test $? -eq 0
check "... says that nothing changed" hit noop
check "... prints what the first build printed" cmp "$T/cold.out" "$T/noop.out"
check "... writes nothing (index.json, blobs: inodes and mtimes unchanged)" test "$(layout_state "$L")" = "$before"
validate "oci-validate passes after the no-op rebuild" "$L" curl jq
ob -q --layout "$L" tool curl jq >"$T/quiet.out" 2>"$T/quiet.err"
check "with -q: nothing on stderr, nothing on stdout" test ! -s "$T/quiet.err" -a ! -s "$T/quiet.out"
ob --layout "$T/elsewhere" tool curl jq >"$T/else.out" 2>"$T/else.err"
check "another layout is built, not skipped" test "$(manifest "$T/elsewhere" curl)" = "$(manifest "$L" curl)"
check "... and it named its own layout" grep -q " $T/elsewhere (" "$T/else.out"

# --- one byte of a library in curl's closure ---------------------------------
LIB=$(readlink -f "$S/usr/lib/x86_64-linux-gnu/libcurl.so.4")
[ -f "$LIB" ] || LIB=$(find "$S" -name 'libcurl.so.4.*' -type f | head -n 1)
curl_layer=$(layers "$L" curl | sed -n 2p)
jq_layers=$(layers "$L" jq)
printf '\x5a' | dd of="$LIB" bs=1 seek=4096 conv=notrunc status=none
settle
build byte
check "a byte changed in libcurl: the build plans again" replanned byte
check "... and curl's tool layer changed" test "$(layers "$L" curl | sed -n 2p)" != "$curl_layer"
check "... jq's layers did not" test "$(layers "$L" jq)" = "$jq_layers"
validate "oci-validate passes after the library changed" "$L" curl jq

# Only the ctime: chmod to the same mode.
index=$(cat "$L/index.json")
chmod "$(stat -c %a "$LIB")" "$LIB"
settle
build ctime
check "a file whose ctime alone changed: the build plans again" replanned ctime
check "... with the same digests" test "$(cat "$L/index.json")" = "$index"
build again
check "... and the next build is a no-op again" hit again

# --- a config edited -----------------------------------------------------------
sed -i 's/^description: .*/description: "jq, as edited by the run-record test"/' "$C/tools/jq.yml"
settle
build config
check "an edited config: the build plans again" replanned config
check "... and the new description is in jq's config blob" \
        grep -q 'as edited by the run-record test' "$L/blobs/sha256/$(config_blob "$L" jq)"
validate "oci-validate passes after the config changed" "$L" curl jq

# --- a file where a lookup failed, a file in a directory listed ---------------
build settled
check "(settled: a no-op)" hit settled
# The library search path has /usr/local/lib (ld.so.conf.d), which the
# sysroot copy lacks: the lookup of libcurl there failed, and was noted.
missing=$(grep -a '^j l 2 ' "$RUNS"/* | awk '{ print $NF }' | grep -c "^$S/usr/local")
check "the record holds a failed library lookup under /usr/local" test "$missing" -gt 0
index=$(cat "$L/index.json")
mkdir -p "$S/usr/local/lib"
: >"$S/usr/local/lib/libcurl.so.4"
settle
build negative
check "a file appearing where a library lookup failed: the build plans again" replanned negative
check "... and, an empty file being no library, gives the same digests" test "$(cat "$L/index.json")" = "$index"
rm -rf "$S/usr/local"
printf '# a new include\n' >"$S/etc/ld.so.conf.d/zz-new.conf"
settle
build listed
check "a new file in ld.so.conf.d (an include glob lists it): the build plans again" replanned listed

# --- the dpkg database ----------------------------------------------------------
old=$(awk '/^Package: jq$/ { p = 1 } p && /^Version: / { print $2; exit }' "$S/var/lib/dpkg/status")
awk '/^Package: jq$/ { p = 1 } /^$/ { p = 0 } p && /^Version: / { $0 = $0 "+local1" } { print }' \
        "$S/var/lib/dpkg/status" >"$T/status" && cat "$T/status" >"$S/var/lib/dpkg/status"
settle
build dpkg
check "jq's version changed in the dpkg status: the build plans again" replanned dpkg
check "... and jq's image has the new version" test "$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "jq") | .annotations["org.debian.version"]' "$L/index.json")" = "$old+local1"
validate "oci-validate passes after the dpkg database changed" "$L" curl jq

# --- what the layout lost ---------------------------------------------------------
build settled2
check "(settled again: a no-op)" hit settled2
"$OCI_BUILD" -q --layout "$L" clean curl
build clean
check "after 'clean curl': the build plans again" replanned clean
check "... and curl is back" test -n "$(manifest "$L" curl)"
validate "oci-validate passes after curl was built again" "$L" curl jq
cfg=$(config_blob "$L" jq)
rm "$L/blobs/sha256/$cfg"
build blob
check "a recorded blob deleted: the build plans again" replanned blob
check "... and the blob is back, intact" test "$(sha256sum <"$L/blobs/sha256/$cfg" | cut -d' ' -f1)" = "$cfg"
validate "oci-validate passes after the blob was restored" "$L" curl jq

# --- a damaged record -----------------------------------------------------------
for f in "$RUNS"/*; do head -c 2000 /dev/urandom >"$f"; done
build garbage
check "a garbage run record: the build succeeds and plans again" replanned garbage
validate "oci-validate passes after the garbage record" "$L" curl jq
for f in "$RUNS"/*; do head -n 20 "$f" >"$f.cut" && mv "$f.cut" "$f"; done
build truncated
check "a truncated run record: the build plans again" replanned truncated
build whole
check "... and the record is whole again" hit whole

# --- --no-cache and the environment -----------------------------------------------
build nocache --no-cache
check "--no-cache never takes the fast path" replanned nocache
OB_NOOP_TEST_VARIABLE=1 build env
check "a variable added to the environment: the build plans again" replanned env
OB_NOOP_TEST_VARIABLE=1 build env2
check "... and with it again, a no-op" hit env2
SOURCE_DATE_EPOCH=1700000000 build sde
check "another SOURCE_DATE_EPOCH: the build plans again" replanned sde
check "... and its images are another's" test "$(cat "$T/sde.out")" != "$(cat "$T/whole.out")"
validate "oci-validate passes on the last build" "$L" curl jq

finish
