#!/usr/bin/env bash
# Package records and SBOMs: the status.d records read by real dpkg, their
# md5sums checked by md5sum inside the unpacked image, file ownership
# compared with the host's `dpkg -S` and versions with `dpkg-query -W`, the
# SPDX documents validated against the SPDX 2.3 schema and compared with the
# files umoci unpacks, records in the layer of their files, and two builds
# (other directories, other umask) giving the same bytes.
. "$(dirname "$0")/lib.sh"

need jq umoci python3 dpkg dpkg-query md5sum
python3 -c 'import jsonschema' 2>/dev/null || skip_all "python3-jsonschema is not installed"
SPDX_SCHEMA=${SPDX_SCHEMA:-$SOURCE_ROOT/../shared/spdx-schema/spdx-2.3.schema.json}
for p in curl jq; do
        command -v "$p" >/dev/null || skip_all "the tool $p is not installed on the host (apt-get install $p)"
done

# A copy of the configs with an app that stands on two tools: libc6 has
# files in both tool layers, so both record it.
copy_src() { # DIR
        mkdir -p "$1"
        cp -r "$SOURCE_ROOT/configs" "$SOURCE_ROOT/rootfs" "$1/"
        rm -f "$1"/configs/apps/*
        printf 'a file no package owns\n' > "$1/configs/apps/note.txt"
        cat > "$1/configs/apps/mix.yml" <<'EOF'
name: mix
version: "1.0"
description: an app on curl and jq
tools: [curl, jq]
artifacts:
  - { path: /app/note.txt, source: note.txt }
EOF
}
IMAGES="base curl jq mix"
build_all() { # SRC LAYOUT WORKDIR UMASK
        mkdir -p "$3"
        (cd "$3" && umask "$4" && "$OCI_BUILD" -q -C "$1/configs" --layout "$2" tool curl jq &&
                "$OCI_BUILD" -q -C "$1/configs" --layout "$2" app mix)
}
copy_src "$T/src1"
(umask 077 && copy_src "$T/other/src2")
O=$T/o1
check "build curl, jq and the app mix" build_all "$T/src1" "$O" "$T/w1" 022
check "build them again from another copy, another directory and umask 077" \
        build_all "$T/other/src2" "$T/other/o2" "$T/other/w2" 077
run() { "$OCI_BUILD" -C "$T/src1/configs" --layout "$O" "$@"; }

if [ -x "$OCI_VALIDATE" ]; then
        check "oci-validate --distroless accepts every image" "$OCI_VALIDATE" --distroless "$O" $IMAGES
else
        skip "oci-validate --distroless accepts every image" "no validator at $OCI_VALIDATE"
fi

manifest_of() { # LAYOUT NAME
        echo "$1/blobs/sha256/$(jq -r --arg n "$2" \
                '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest' \
                "$1/index.json" | cut -d: -f2)"
}
layer_of() { # NAME INDEX: the digest of that layer
        jq -r ".layers[$2].digest" "$(manifest_of "$O" "$1")"
}
layer_has() { # DIGEST PATH
        tar -tzf "$O/blobs/sha256/${1#sha256:}" | grep -qx -- "$2"
}

for name in $IMAGES; do
        U=$T/u-$name
        if ! umoci unpack --rootless --image "$O:$name" "$U" >/dev/null 2>&1; then
                not_ok "umoci unpack $name"
                continue
        fi
        R=$U/rootfs
        # --- what real dpkg reads -------------------------------------------
        mkdir -p "$T/adm-$name"
        for f in "$R"/var/lib/dpkg/status.d/*; do
                case $f in *.md5sums) continue ;; esac
                cat "$f"
                echo
        done > "$T/adm-$name/status"
        dpkg-query --admindir="$T/adm-$name" -W -f '${Package} ${Version} ${Status}\n' 2>&1 | sort > "$T/dpkg-$name"
        run show "$name" --packages 2>/dev/null | awk 'NR > 1 && NF == 5 { print $1, $2, "install ok installed" }' |
                sort > "$T/show-$name"
        n=$(wc -l < "$T/show-$name")
        check "$name: dpkg-query reads status.d and lists exactly the $n packages of show --packages, installed" \
                diff "$T/show-$name" "$T/dpkg-$name"
        check "$name: md5sum -c of every status.d/*.md5sums passes in the unpacked image" \
                bash -c "cd '$R' && ls var/lib/dpkg/status.d/*.md5sums >/dev/null && md5sum -c --quiet var/lib/dpkg/status.d/*.md5sums"
        check "$name: os-release says ID=debian and VERSION_ID of the host, NAME stays Distroless" \
                bash -c ". '$R/usr/lib/os-release' && . /etc/os-release && [ \"\$ID\" = debian ] &&
                        [ \"\$VERSION_ID\" = \"\$(. /etc/os-release; echo \$VERSION_ID)\" ] &&
                        grep -qx 'NAME=\"Distroless\"' '$R/usr/lib/os-release'"
        check "$name: /etc/debian_version is the host's" cmp "$R/etc/debian_version" /etc/debian_version

        # --- the SBOM --------------------------------------------------------
        if ! run sbom "$name" -o "$T/$name.spdx.json" 2>"$T/err"; then
                not_ok "$name: oci-build sbom" "$(cat "$T/err")"
                continue
        fi
        if [ -f "$SPDX_SCHEMA" ]; then
                check "$name: the SBOM validates against the SPDX 2.3 JSON schema" python3 -c '
import json, sys, jsonschema
jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1])))' "$SPDX_SCHEMA" "$T/$name.spdx.json"
        else
                skip "$name: the SBOM validates against the SPDX 2.3 JSON schema" "no schema at $SPDX_SCHEMA"
        fi
        out=$(python3 - "$R" "$T/$name.spdx.json" "$T/show-$name" <<'EOF'
import hashlib, json, os, sys
root, doc, shown = sys.argv[1], json.load(open(sys.argv[2])), sys.argv[3]
disk = {}
for d, _, names in os.walk(root):
    for n in names:
        p = os.path.join(d, n)
        if os.path.isfile(p) and not os.path.islink(p):
            disk["/" + os.path.relpath(p, root)] = hashlib.sha256(open(p, "rb").read()).hexdigest()
sbom = {f["fileName"]: {c["algorithm"]: c["checksumValue"] for c in f["checksums"]} for f in doc["files"]}
bad = [p for p in disk if p not in sbom or sbom[p].get("SHA256") != disk[p]]
extra = [p for p in sbom if p not in disk]
nosha1 = [p for p in sbom if "SHA1" not in sbom[p]]
debs = [p for p in doc["packages"] if any(r["referenceLocator"].startswith("pkg:deb/") for r in p.get("externalRefs", []))]
purls = [r["referenceLocator"] for p in debs for r in p["externalRefs"]]
nodistro = [u for u in purls if "distro=debian-" not in u]
ids = {p["SPDXID"]: p["name"] for p in debs}
owned = {r["relatedSpdxElement"] for r in doc["relationships"] if r["spdxElementId"] in ids and r["relationshipType"] == "CONTAINS"}
want = sorted(l.split()[0] for l in open(shown))
print(len(disk), len(sbom), len(debs), len(owned), len(bad), len(extra), len(nosha1), len(nodistro),
      int(sorted(ids.values()) == want), ",".join(bad[:3] + extra[:3] + nodistro[:3]))
EOF
)
        read -r n_disk n_sbom n_debs n_owned n_bad n_extra n_nosha1 n_nodistro same_pkgs detail <<<"$out"
        check "$name: each of the $n_disk regular files of the unpacked image is in the SBOM with its SHA256 ($detail)" \
                test "${n_bad:-x}" = 0 -a "${n_extra:-x}" = 0 -a "$n_disk" = "$n_sbom"
        check "$name: every file has a SHA1 as SPDX 2.3 requires" test "${n_nosha1:-x}" = 0
        check "$name: the SBOM's $n_debs Debian packages are those of show --packages, each purl with distro=" \
                test "${same_pkgs:-0}" = 1 -a "${n_nodistro:-x}" = 0
        echo "# $name: $n_debs packages, $n_disk files: $n_owned owned by a package, $((n_disk - n_owned)) by none;" \
                "SBOM $(stat -c %s "$T/$name.spdx.json") bytes"
done

# --- curl's files against the host's dpkg (the oracle) ------------------------
# A file's size is two words ("21.7 kB"), a hard link's "-": the path is the
# sixth or the fifth field.
files=$(run show curl --files 2>/dev/null |
        awk '$1 == "f" || $1 == "h" { print ($1 == "f" ? $6 : $5), ($NF ~ /^package:/ ? $NF : "-") }')
check "show curl --files lists files" test -n "$files"
wrong=""
n=0
declare -A owner=()
paths=()
while read -r path _; do
        paths+=("$path")
        case $path in /usr/bin/* | /usr/sbin/* | /usr/lib/* | /usr/lib64/*) paths+=("${path#/usr}") ;; esac
done <<<"$files"
while IFS= read -r line; do
        pkg=${line%%: *}
        owner[${line#*: }]=${pkg%%:*}
done < <(dpkg -S "${paths[@]}" 2>/dev/null | grep -v '^diversion by')
while read -r path own; do
        n=$((n + 1))
        host=${owner[$path]:-${owner[${path#/usr}]:-}}
        case $own in
        -) [ -z "$host" ] || wrong="$wrong $path(ours:none,dpkg:$host)" ;;
        *)
                pkg=${own#package:}
                pkg=${pkg%%=*}
                ver=${own#*=}
                [ "$pkg" = "$host" ] || wrong="$wrong $path(ours:$pkg,dpkg:${host:-none})"
                [ "$ver" = "$(dpkg-query -W -f '${Version}' "$pkg" 2>/dev/null)" ] || wrong="$wrong $path(version $ver)"
                ;;
        esac
done < <(grep -v ' -$' <<<"$files"; grep ' -$' <<<"$files" | grep -v '/var/lib/dpkg/status.d/')
check "the owner and version of each of curl's $n files equal dpkg -S and dpkg-query -W on the host" test -z "$wrong"
[ -n "$wrong" ] && echo "# differ:$wrong"
for p in curl libcurl4 libc6 libssl3; do
        check "curl's packages include $p" grep -q "^$p " "$T/show-curl"
done

# --- the layer of each record --------------------------------------------------
base_layer=$(layer_of base 0)
for name in curl jq mix; do
        check "the base layer is the same in $name" test "$(layer_of "$name" 0)" = "$base_layer"
done
check "the base layer holds the records of tzdata and base-files" \
        bash -c "tar -tzf '$O/blobs/sha256/${base_layer#sha256:}' | grep -qx var/lib/dpkg/status.d/tzdata &&
                 tar -tzf '$O/blobs/sha256/${base_layer#sha256:}' | grep -qx var/lib/dpkg/status.d/base-files"
check "the base layer has no record of curl's packages" \
        bash -c "! tar -tzf '$O/blobs/sha256/${base_layer#sha256:}' | grep -q 'status.d/libcurl4'"
curl_layer=$(layer_of curl 1)
check "curl's layer holds the records of curl, libcurl4 and libc6" \
        bash -c "tar -tzf '$O/blobs/sha256/${curl_layer#sha256:}' > '$T/curl-layer' &&
                 grep -qx var/lib/dpkg/status.d/curl '$T/curl-layer' && grep -qx var/lib/dpkg/status.d/libcurl4 '$T/curl-layer' &&
                 grep -qx var/lib/dpkg/status.d/libc6.md5sums '$T/curl-layer' && ! grep -q status.d/tzdata '$T/curl-layer'"
check "jq's layer records libc6 too (a package in two layers is recorded in each)" \
        bash -c "tar -tzf '$O/blobs/sha256/$(layer_of jq 1 | cut -d: -f2)' | grep -qx var/lib/dpkg/status.d/libc6"
check "mix uses curl's and jq's layers as they are" \
        test "$(layer_of mix 1) $(layer_of mix 2)" = "$curl_layer $(layer_of jq 1)"
check "the app's own file is in mix's SBOM, owned by no package" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
f = [x["SPDXID"] for x in d["files"] if x["fileName"] == "/app/note.txt"]
assert f and not any(r["relatedSpdxElement"] == f[0] and r["spdxElementId"].startswith("SPDXRef-Package-deb") for r in d["relationships"])
' "$T/mix.spdx.json"

# --- reproducible ---------------------------------------------------------------
for name in $IMAGES; do
        check "$name: the second build has the same manifest digest" \
                test "$(basename "$(manifest_of "$O" "$name")")" = "$(basename "$(manifest_of "$T/other/o2" "$name")")"
        (cd "$T/other" && umask 077 && "$OCI_BUILD" -C "$T/other/src2/configs" --layout "$T/other/o2" sbom "$name" \
                -o "$T/other/$name.spdx.json" 2>/dev/null)
        check "$name: the same SBOM bytes from the second build" cmp "$T/$name.spdx.json" "$T/other/$name.spdx.json"
done

expect_fail "sbom of an image the layout does not have: one line naming it" "no image 'nothing'" run sbom nothing
expect_fail "show takes --files or --packages, not both" "not both" run show curl --files --packages

# --- a sysroot without a dpkg database; a malformed one -------------------------
S=$T/sysroot
mkdir -p "$S/etc/ssl/certs" "$S/usr/share/zoneinfo"
cp /etc/ssl/certs/ca-certificates.crt "$S/etc/ssl/certs/"
cp /usr/share/zoneinfo/UTC "$S/usr/share/zoneinfo/"
"$OCI_BUILD" -C "$T/src1/configs" --sysroot "$S" --layout "$T/nodb" base >/dev/null 2>"$T/nodb.err"
check "without a dpkg database the base image builds" test $? = 0
check "with a one-line note that no package records were written" \
        test "$(grep -c 'no package records were written' "$T/nodb.err")" = 1
check "and no status.d" bash -c "! tar -tzf '$T/nodb/blobs/sha256/$(jq -r '.layers[0].digest' "$(manifest_of "$T/nodb" base)" | cut -d: -f2)' | grep -q status.d"
check "its SBOM lists files only, and validates" python3 -c '
import json, sys, jsonschema
d = json.load(open(sys.argv[2]))
jsonschema.validate(d, json.load(open(sys.argv[1])))
assert d["files"] and not [p for p in d["packages"] if p["SPDXID"].startswith("SPDXRef-Package-deb")]
' "$SPDX_SCHEMA" <("$OCI_BUILD" --layout "$T/nodb" sbom base)
mkdir -p "$S/var/lib/dpkg"
printf 'Package: a\nStatus: install ok installed\nVersion: 1\nthis line is no field\n' > "$S/var/lib/dpkg/status"
expect_fail "a malformed status file: one line naming the file and line" 'var/lib/dpkg/status:4: ' \
        "$OCI_BUILD" -C "$T/src1/configs" --sysroot "$S" --layout "$T/bad" base

finish
