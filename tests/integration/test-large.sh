#!/usr/bin/env bash
# Files the tar format makes hard: one of 8 GiB and a byte (sparse on disk),
# beyond the 8 GiB - 1 that a ustar header can hold, must be stored whole
# (a pax size record); a file name that is not UTF-8 is refused with an
# error naming it, and the layout is left as it was. Registered for the
# normal build only: 8 GiB read under the sanitizers takes too long.
. "$(dirname "$0")/lib.sh"

need jq python3 truncate
mk_sysroot() {  # mk_sysroot DIR -- the files the base image needs
        mkdir -p "$1/etc/ssl/certs" "$1/usr/share/zoneinfo"
        cp /etc/ssl/certs/ca-certificates.crt "$1/etc/ssl/certs/"
        echo UTC > "$1/usr/share/zoneinfo/UTC"
}
L=$T/oci

# --- a file of 8 GiB + 1 byte ---------------------------------------------------
mk_sysroot "$T/sys"
big=$T/sys/usr/share/zoneinfo/big
truncate -s 8G "$big" && printf x >> "$big"
size=$(stat -c %s "$big")
if "$OCI_BUILD" -q --sysroot "$T/sys" --layout "$L" --level 1 base 2>"$T/err"; then
        ok "base with a file of $size bytes builds"
        m=$(jq -r '.manifests[0].digest' "$L/index.json")
        layer=$(jq -r '.layers[0].digest' "$L/blobs/sha256/${m#sha256:}")
        f=$L/blobs/sha256/${layer#sha256:}
        check "the layer's bytes match its digest" test "$(sha256sum <"$f" | cut -d' ' -f1)" = "${layer#sha256:}"
        # Read the tar headers up to the big file's (not its 8 GiB of data).
        got=$(python3 - "$f" <<'PYEOF'
import sys, tarfile
with tarfile.open(sys.argv[1], "r|gz") as t:
    for m in t:
        if m.name.lstrip("./") == "usr/share/zoneinfo/big":
            print(m.size, m.pax_headers.get("size", "-"))
            break
PYEOF
)
        check "its tar entry has the full size, in a pax size record ($got)" test "$got" = "$size $size"
else
        not_ok "base with a file of $size bytes builds" "$(cat "$T/err")"
fi
rm -f "$big"

# --- a name that is not UTF-8: refused, naming it --------------------------------
mk_sysroot "$T/sys2"
printf x > "$T/sys2/usr/share/zoneinfo/bad"$'\xff'"name"
"$OCI_BUILD" -q --sysroot "$T/sys2" --layout "$L" --level 1 base
before=$(tree_sum "$L")
expect_fail "a file name that is not UTF-8 is refused, naming the file" \
        "Can.t translate pathname .usr/share/zoneinfo/bad" \
        "$OCI_BUILD" -q --sysroot "$T/sys2" --layout "$L" --level 1 base
check "... and the layout is as it was" test "$(tree_sum "$L")" = "$before"

finish
