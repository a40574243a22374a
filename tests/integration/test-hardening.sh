#!/usr/bin/env bash
# Hostile sysroots and damaged layouts: host files cannot be swapped in,
# blobs are checked before reuse, a damaged layout is left as it is, a FIFO
# does not hang, private files are not copied unless named exactly.
. "$(dirname "$0")/lib.sh"

SWAP_DIRS=${SWAP_DIRS:-}
MARKER=OUTSIDE-THE-SYSROOT-$$-marker

# All the bytes of a layout's blobs, layers unpacked.
blob_bytes() {
        local b
        for b in "$1"/blobs/sha256/*; do
                gzip -dc "$b" 2>/dev/null || cat "$b"
        done
}

# --- 1. a directory of the sysroot swapped for a symlink while builds run ---
S=$T/race/sys
C=$T/race/cfg
mkdir -p "$S/data/sub" "$T/race/outside" "$C"
for i in $(seq 20); do
        printf 'inside %02d\n' "$i" > "$S/data/sub/f$i"
        printf '%s %02d\n' "$MARKER" "$i" > "$T/race/outside/f$i"
done
ln -s "$T/race/outside" "$S/swap"
printf 'name: base\ndescription: a sysroot that changes under the build\nfiles:\n  - /data\n' > "$C/base.yml"
if [ -z "$SWAP_DIRS" ] || [ ! -x "$SWAP_DIRS" ]; then
        skip "no byte from outside the sysroot in 50 racing builds" "the swap-dirs helper was not built"
else
        "$SWAP_DIRS" "$S/data/sub" "$S/swap" 30 &
        swapper=$!
        CLEANUP_PIDS+=("$swapper")
        built=0 failed=0 bad_errors=()
        for i in $(seq 50); do
                if err=$("$OCI_BUILD" -q -C "$C" --sysroot "$S" --layout "$T/race/L$((i % 5))" base 2>&1 >/dev/null); then
                        built=$((built + 1))
                else
                        failed=$((failed + 1))
                        printf '%s\n' "$err" | grep -Eq "changed while the image was being built|cannot|does not exist|not a directory" \
                                || bad_errors+=("$err")
                fi
        done
        kill "$swapper" 2>/dev/null; wait "$swapper" 2>/dev/null
        leaked=$(for L in "$T"/race/L*; do [ -d "$L/blobs" ] && blob_bytes "$L"; done | grep -ac "$MARKER")
        if [ "$leaked" -ne 0 ]; then
                not_ok "no byte from outside the sysroot in 50 racing builds" "$leaked lines with the marker in the layers"
        elif [ "${#bad_errors[@]}" -ne 0 ]; then
                not_ok "no byte from outside the sysroot in 50 racing builds" "unexpected errors:" "${bad_errors[@]:0:3}"
        else
                ok "no byte from outside the sysroot in 50 racing builds ($built built, $failed refused as changed)"
        fi
fi

# --- 2. a damaged or planted blob is replaced, not reused -------------------
CFG=$T/cfg
mkdir -p "$CFG"
cp -r "$SOURCE_ROOT/configs" "$CFG/configs"
cp -r "$SOURCE_ROOT/rootfs" "$CFG/rootfs"
CFG=$CFG/configs
L=$T/base
"$OCI_BUILD" -q -C "$CFG" --layout "$L" base || not_ok "build base"
blobs_ok() {    # every blob hashes to its name and is a regular file
        local b
        for b in "$1"/blobs/sha256/*; do
                [ -f "$b" ] && [ ! -L "$b" ] || { echo "$b is not a regular file"; return 1; }
                [ "$(sha256sum < "$b" | cut -d' ' -f1)" = "$(basename "$b")" ] || { echo "$b is corrupt"; return 1; }
        done
}
layer=$(ls -S "$L"/blobs/sha256/* | head -n 1)
printf '\377' | dd of="$layer" bs=1 seek=100 conv=notrunc status=none
check "the flipped byte is there before the rebuild" bash -c "! sha256sum < '$layer' | grep -q $(basename "$layer")"
"$OCI_BUILD" -q -C "$CFG" --layout "$L" base
check "rebuilding base repairs a layer blob with a flipped byte" blobs_ok "$L"
size=$(stat -c %s "$layer")
head -c "$size" /dev/zero > "$T/planted"
rm -f "$layer" && ln -s "$T/planted" "$layer"
"$OCI_BUILD" -q -C "$CFG" --layout "$L" base
check "a symlink planted under a blob's name is replaced by the real file" blobs_ok "$L"
check "the planted symlink's target is left alone" cmp -s "$T/planted" <(head -c "$size" /dev/zero)
if have_validator; then
        check "oci-validate accepts the repaired layout" "$OCI_VALIDATE" "$L" base
else
        skip "oci-validate accepts the repaired layout" "oci-validate (shared/bin) or python3-jsonschema missing"
fi

# --- 3. a damaged layout is not changed ---------------------------------------
D=$T/damaged
cp -a "$L" "$D"
rm -rf "$D/blobs"
before=$(tree_sum "$D")
expect_fail "a layout without blobs/ is not written into" "'$D'.*'blobs/sha256'" \
        "$OCI_BUILD" -q -C "$CFG" --layout "$D" base
expect_fail "clean NAME on a layout without blobs/ changes nothing" "'$D'.*'blobs/sha256'" \
        "$OCI_BUILD" --layout "$D" clean base
check "the layout without blobs/ is byte-identical afterwards" test "$before" = "$(tree_sum "$D")"

D=$T/malformed
cp -a "$L" "$D"
python3 - "$D/index.json" <<'PY'
import json, sys
p = sys.argv[1]
j = json.load(open(p))
j["manifests"].append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1,
                       "annotations": {"org.opencontainers.image.ref.name": "broken"}})
json.dump(j, open(p, "w"))
PY
before=$(tree_sum "$D")
expect_fail "clean refuses a layout with a malformed descriptor" "index.json.*manifests\[[0-9]+\].*digest" \
        "$OCI_BUILD" --layout "$D" clean
expect_fail "clean NAME refuses it too" "index.json.*manifests\[[0-9]+\].*digest" "$OCI_BUILD" --layout "$D" clean base
check "the layout with a malformed descriptor is byte-identical afterwards" test "$before" = "$(tree_sum "$D")"

# A second image whose manifest blob is missing: clean NAME of the first must
# not rewrite the index and then fail.
D=$T/missing-manifest
cp -a "$L" "$D"
python3 - "$D/index.json" <<'PY'
import json, sys
p = sys.argv[1]
j = json.load(open(p))
d = dict(j["manifests"][0])
d["digest"] = "sha256:" + "0" * 64
d["annotations"] = {"org.opencontainers.image.ref.name": "gone"}
j["manifests"].append(d)
json.dump(j, open(p, "w"))
PY
before=$(tree_sum "$D")
expect_fail "clean NAME with another image's manifest missing changes nothing" "not deleting anything" \
        "$OCI_BUILD" --layout "$D" clean base
check "the layout with a missing manifest is byte-identical afterwards" test "$before" = "$(tree_sum "$D")"

# --- 4. a FIFO as oci-layout or index.json ------------------------------------
for f in oci-layout index.json; do
        D=$T/fifo-$f
        cp -a "$L" "$D"
        rm "$D/$f" && mkfifo "$D/$f"
        expect_fail "a FIFO as $f is refused, not waited on" "'$D/$f' is not a regular file" \
                timeout 20 "$OCI_BUILD" -q -C "$CFG" --layout "$D" base
done

# --- 5. private files reached through a link are not copied -----------------
if have cc; then
        P=$T/priv
        mkdir -p "$P/usr/bin" "$P/usr/lib/ssl" "$P/etc/ssl/private" "$P/etc/ssl/certs" "$P/usr/share/zoneinfo"
        cp /etc/ssl/certs/ca-certificates.crt "$P/etc/ssl/certs/"
        echo UTC > "$P/usr/share/zoneinfo/UTC"
        echo 'void _start(void) { for (;;) ; }' > "$T/start.c"
        cc -nostdlib -static -o "$P/usr/bin/static-tool" "$T/start.c"
        echo "openssl config" > "$P/usr/lib/ssl/openssl.cnf"
        ln -s /etc/ssl/private "$P/usr/lib/ssl/private"
        echo "$MARKER private key" > "$P/etc/ssl/private/ssl-cert-snakeoil.key"
        chmod 600 "$P/etc/ssl/private/ssl-cert-snakeoil.key"
        tool() {        # NAME FILES...: a tool config of the static binary and those files
                local name=$1
                shift
                { printf 'name: %s\nversion: "1"\ndescription: private files\nbinaries: [/usr/bin/static-tool]\nfiles:\n' "$name"
                  printf '  - %s\n' "$@"; } > "$CFG/tools/$name.yml"
        }
        tool ssl-dir /usr/lib/ssl
        tool ssl-key /usr/lib/ssl /etc/ssl/private/ssl-cert-snakeoil.key
        PL=$T/priv-layout
        "$OCI_BUILD" -q -C "$CFG" --sysroot "$P" --layout "$PL" base
        before=$(tree_sum "$PL")
        expect_fail "a key reached through /usr/lib/ssl/private is refused, naming it and the config line" \
                "'/etc/ssl/private/ssl-cert-snakeoil.key' is private.*ssl-dir\.yml:6" \
                "$OCI_BUILD" -q -C "$CFG" --sysroot "$P" --layout "$PL" tool ssl-dir
        check "the layout is byte-identical after the refusal" test "$before" = "$(tree_sum "$PL")"
        check "named by its exact path, the key is shipped" \
                "$OCI_BUILD" -q -C "$CFG" --sysroot "$P" --layout "$PL" tool ssl-key
        check "and is in the layer" bash -c "$(declare -f blob_bytes); blob_bytes '$PL' | grep -aq '$MARKER private key'"
else
        skip "private files reached through a link are refused" "no C compiler"
fi

finish
