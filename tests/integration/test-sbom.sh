#!/usr/bin/env bash
# Package records and SBOMs: the status.d records read by real dpkg, their
# md5sums checked by md5sum inside the unpacked image, file ownership
# compared with the host's `dpkg -S` and versions with `dpkg-query -W`, the
# SPDX documents validated against the SPDX 2.3 schema and compared with the
# files umoci unpacks, records in the layer of their files, and two builds
# (other directories, other umask) giving the same bytes. The SBOM each
# build attaches in the layout (an OCI 1.1 artifact named by an annotation
# of the image's descriptor): reachable, kept and dropped by clean, left out
# of save's tars, and what oci-validate, skopeo, umoci and docker load make
# of a layout that holds it. Downloads as pkg:generic packages.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/docker.sh"

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

# --- the SBOM attached in the layout ---------------------------------------------
attached_of() { # LAYOUT NAME: the digest of the artifact manifest its descriptor names
        jq -r --arg n "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) |
                .annotations["org.oci-build.sbom"] // empty' "$1/index.json"
}
blob() { echo "$1/blobs/sha256/${2#sha256:}"; }
check "index.json has one entry per image and none for an SBOM" \
        test "$(jq '.manifests | length' "$O/index.json")" = "$(jq '[.manifests[].annotations["org.opencontainers.image.ref.name"]] | unique | length' "$O/index.json")"
for name in $IMAGES; do
        a=$(attached_of "$O" "$name")
        if [ -z "$a" ] || [ ! -f "$(blob "$O" "$a")" ]; then
                not_ok "$name: its descriptor names an SBOM artifact manifest that is in blobs" "annotation: '$a'"
                continue
        fi
        ok "$name: its descriptor names an SBOM artifact manifest that is in blobs"
        m=$(blob "$O" "$a")
        subject=$(jq -r --arg n "$name" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest' "$O/index.json")
        check "$name: the artifact is an OCI 1.1 manifest of artifactType application/spdx+json, empty config, subject the image" \
                jq -e --arg s "$subject" \
                '.schemaVersion == 2 and .mediaType == "application/vnd.oci.image.manifest.v1+json" and
                 .artifactType == "application/spdx+json" and
                 .config.mediaType == "application/vnd.oci.empty.v1+json" and .config.size == 2 and
                 (.layers | length) == 1 and .layers[0].mediaType == "application/spdx+json" and
                 .subject.digest == $s and .subject.mediaType == "application/vnd.oci.image.manifest.v1+json"' "$m"
        check "$name: the empty config blob is {}" test "$(cat "$(blob "$O" "$(jq -r .config.digest "$m")")")" = "{}"
        check "$name: every blob the artifact names has its digest and size (sha256sum, stat)" bash -c '
                for d in $(jq -r ".config.digest, .layers[].digest, .subject.digest" "$1"); do
                        [ "$(sha256sum < "$2/blobs/sha256/${d#sha256:}" | cut -d" " -f1)" = "${d#sha256:}" ] || exit 1
                done
                [ "$(stat -c %s "$2/blobs/sha256/$(jq -r ".layers[0].digest" "$1" | cut -d: -f2)")" = "$(jq -r ".layers[0].size" "$1")" ]' \
                _ "$m" "$O"
        check "$name: the attached document is what 'oci-build sbom' writes" \
                cmp "$(blob "$O" "$(jq -r '.layers[0].digest' "$m")")" "$T/$name.spdx.json"
done
# The document as sbom makes it from the image alone (no annotation): the
# same bytes, for images without downloads.
cp -r "$O" "$T/plain"
jq 'del(.manifests[].annotations["org.oci-build.sbom"])' "$O/index.json" > "$T/plain/index.json"
check "without the annotation, sbom makes the same bytes from the image" \
        cmp <("$OCI_BUILD" --layout "$T/plain" sbom curl) "$T/curl.spdx.json"
rm -rf "$T/plain"
check "two builds: the same index.json" cmp "$O/index.json" "$T/other/o2/index.json"
check "two builds: the same blobs" diff <(cd "$O/blobs/sha256" && sha256sum -- *) <(cd "$T/other/o2/blobs/sha256" && sha256sum -- *)

# The documents of a build's images are made on -j threads: on one, or
# on more than there are images, with the layers read back on each (the
# cache is not used), the same documents and index.
build_j() { # JOBS LAYOUT [OPTION]
        mkdir -p "$T/w-j$1" &&
                (cd "$T/w-j$1" && export OCI_BUILD_CACHE=$T/cache-j$1 &&
                        "$OCI_BUILD" -q -j"$1" ${3:-} -C "$T/src1/configs" --layout "$2" tool curl jq &&
                        "$OCI_BUILD" -q -j"$1" ${3:-} -C "$T/src1/configs" --layout "$2" app mix)
}
for j in 1 8; do
        opt=
        [ "$j" = 8 ] && opt=--no-cache
        check "-j$j ${opt:-with an empty cache}: build curl, jq and mix" build_j "$j" "$T/o-j$j" $opt
        check "-j$j: the same index.json" cmp "$O/index.json" "$T/o-j$j/index.json"
        check "-j$j: the same blobs" diff <(cd "$O/blobs/sha256" && sha256sum -- *) \
                <(cd "$T/o-j$j/blobs/sha256" && sha256sum -- *)
        rm -rf "$T/o-j$j" "$T/cache-j$j" "$T/w-j$j"
done

# A rebuild of an unchanged image keeps its attached SBOM; one whose
# document or artifact manifest went missing gets them made again, the same
# bytes, never an annotation naming a blob that is gone.
cp -r "$O" "$T/heal"
a=$(attached_of "$T/heal" curl)
doc=$(jq -r '.layers[0].digest' "$(blob "$T/heal" "$a")")
rm -f "$(blob "$T/heal" "$doc")" "$(blob "$T/heal" "$(attached_of "$T/heal" jq)")"
check "a rebuild after the SBOM document of curl and the artifact manifest of jq were deleted succeeds" \
        "$OCI_BUILD" -q -C "$T/src1/configs" --layout "$T/heal" tool curl jq
check "... curl's document is back, the same bytes" cmp "$(blob "$T/heal" "$doc")" "$T/curl.spdx.json"
check "... jq's descriptor names an artifact manifest that is in blobs again" \
        test -f "$(blob "$T/heal" "$(attached_of "$T/heal" jq)")"
check "... and the index is the one the first build wrote" cmp "$T/heal/index.json" "$O/index.json"
rm -rf "$T/heal"

# --- the layer facts cache -------------------------------------------------------
# The writer leaves each layer's files and sums in $OCI_BUILD_CACHE/layer-files,
# and the SBOM is made from them: the same bytes as reading the layers back
# (--no-cache), whether the facts come from the writer, from the cache on a
# later run, or are damaged and made again.
F=$OCI_BUILD_CACHE/layer-files
all_layers() { # LAYOUT NAME...
        local n
        for n in "${@:2}"; do jq -r '.layers[].digest' "$(manifest_of "$1" "$n")"; done | sort -u
}
missing=""
for d in $(all_layers "$O" $IMAGES); do
        head -n1 "$F/${d#sha256:}" 2>/dev/null | grep -qx "oci-build layer-files 1 $d" || missing="$missing $d"
done
check "the build left the facts of each of the $(all_layers "$O" $IMAGES | wc -l) layers, each naming its digest${missing:+ (not:$missing)}" \
        test -z "$missing"
NC=$T/nocache
mkdir -p "$NC/w"
if (cd "$NC/w" && OCI_BUILD_CACHE=$NC/cache "$OCI_BUILD" -q --no-cache -C "$T/src1/configs" --layout "$NC/o" tool curl jq &&
        OCI_BUILD_CACHE=$NC/cache "$OCI_BUILD" -q --no-cache -C "$T/src1/configs" --layout "$NC/o" app mix) 2>"$T/nc.err"; then
        check "a --no-cache build writes no layer facts" test ! -e "$NC/cache/layer-files"
        for name in $IMAGES; do
                check "$name: the SBOM of the --no-cache build (layers read back) is the one made from the writer's facts" \
                        cmp <(OCI_BUILD_CACHE=$NC/cache "$OCI_BUILD" --layout "$NC/o" sbom "$name") "$T/$name.spdx.json"
        done
else
        not_ok "a --no-cache build of curl, jq and mix" "$(cat "$T/nc.err")"
fi
rm -rf "$NC"

# Without the annotation, sbom makes the document from the image: with the
# layer blobs gone, only the facts can give it.
P=$T/facts-plain
cp -r "$O" "$P"
jq 'del(.manifests[].annotations["org.oci-build.sbom"])' "$O/index.json" > "$P/index.json"
for d in $(all_layers "$P" curl); do mv "$P/blobs/sha256/${d#sha256:}" "$T/${d#sha256:}.saved"; done
check "without the layer blobs, sbom curl is made from the facts cache, the same bytes" \
        cmp <("$OCI_BUILD" --layout "$P" sbom curl 2>/dev/null) "$T/curl.spdx.json"
expect_fail "... and --no-cache does not use it (it reads the layers, which are gone)" "blobs/sha256" \
        "$OCI_BUILD" --layout "$P" --no-cache sbom curl
for d in $(all_layers "$P" curl); do mv "$T/${d#sha256:}.saved" "$P/blobs/sha256/${d#sha256:}"; done
# Damaged facts: truncated, a changed byte, another version, another
# layer's facts: ignored, the layers read, the facts written again.
mapfile -t CL < <(all_layers "$P" curl)
for d in "${CL[@]}"; do cp "$F/${d#sha256:}" "$T/${d#sha256:}.facts"; done
f0=$F/${CL[0]#sha256:} f1=$F/${CL[1]#sha256:}
head -c "$(($(stat -c %s "$f0") / 2))" "$T/${CL[0]#sha256:}.facts" > "$f0"
cp "$T/${CL[1]#sha256:}.facts" "$f1"
python3 - "$f1" <<'EOF2'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
i = b.index(b"\nF ") + 3
b[i] = ord("0") if b[i] != ord("0") else ord("1")
open(p, "wb").write(b)
EOF2
out=$("$OCI_BUILD" -v --layout "$P" sbom curl 2>"$T/facts.err")
check "with a truncated and a changed facts file, sbom curl makes the same bytes" cmp <(printf '%s\n' "$out") "$T/curl.spdx.json"
check "... having read those two layers back" \
        test "$(grep -c 'read back' "$T/facts.err")" = 2
same=1
for d in "${CL[@]}"; do cmp -s "$F/${d#sha256:}" "$T/${d#sha256:}.facts" || same=0; done
check "... and the facts files are whole again, the same bytes as the writer's" test "$same" = 1
sed -i '1s/ 1 / 2 /' "$f0"
check "a facts file of another format version is not used: the same bytes" \
        cmp <("$OCI_BUILD" --layout "$P" sbom curl) "$T/curl.spdx.json"
check "... and it is rewritten in this version" cmp "$f0" "$T/${CL[0]#sha256:}.facts"
cp "$f1" "$f0" # another layer's facts under this name
check "facts of another layer under a layer's name are not used: the same bytes" \
        cmp <("$OCI_BUILD" --layout "$P" sbom curl) "$T/curl.spdx.json"
check "... and that file holds this layer's facts again" cmp "$f0" "$T/${CL[0]#sha256:}.facts"
rm -rf "$P"

# An app rebuild whose own layer changed: the tool layers' facts come from
# the cache, the app's from the writer; the SBOM is the one a --no-cache
# build of the same change makes.
R=$T/facts-re
mkdir -p "$R"
cp -r "$O" "$R/o1"
cp -r "$O" "$R/o2"
cp -r "$T/src1" "$R/src"
printf 'a changed file no package owns\n' > "$R/src/configs/apps/note.txt"
check "an app rebuild with its file changed" \
        bash -c "'$OCI_BUILD' -v -C '$R/src/configs' --layout '$R/o1' app mix 2>'$R/err'"
check "... takes the files of the layers it did not write from the facts cache" \
        test "$(grep -c 'from the layer facts cache' "$R/err")" -ge 3 -a "$(grep -c 'read back' "$R/err")" = 0
check "... the same SBOM as a --no-cache rebuild" \
        bash -c "'$OCI_BUILD' -q --no-cache -C '$R/src/configs' --layout '$R/o2' app mix &&
                cmp <('$OCI_BUILD' --layout '$R/o1' sbom mix) <('$OCI_BUILD' --layout '$R/o2' sbom mix)"
check "... which lists the changed file" \
        bash -c "'$OCI_BUILD' --layout '$R/o1' sbom mix | grep -q '\"/app/note.txt\"' &&
                ! cmp -s <('$OCI_BUILD' --layout '$R/o1' sbom mix) '$T/mix.spdx.json'"
rm -rf "$R"

# A cache directory where layer-files cannot be made: one note, the layers
# are read back, the same SBOM.
U=$T/facts-unwritable
mkdir -p "$U/cache" "$U/w"
: > "$U/cache/layer-files"
check "with layer-files not a directory, the build succeeds" \
        bash -c "cd '$U/w' && OCI_BUILD_CACHE='$U/cache' '$OCI_BUILD' -C '$T/src1/configs' --layout '$U/o' tool curl jq 2>'$U/err' >/dev/null"
check "... with one note about the layer facts cache" test "$(grep -c 'layer facts cache' "$U/err")" = 1
check "... and curl's SBOM is the same bytes" \
        cmp <(OCI_BUILD_CACHE=$U/cache "$OCI_BUILD" --layout "$U/o" sbom curl) "$T/curl.spdx.json"
rm -rf "$U"

if [ -x "$OCI_VALIDATE" ]; then
        check "oci-validate --distroless of the whole layout (no names) passes with the SBOMs in it" \
                "$OCI_VALIDATE" --distroless --quiet "$O"
else
        skip "oci-validate --distroless of the whole layout passes" "no validator at $OCI_VALIDATE"
fi
if have skopeo; then
        check "skopeo inspect oci:LAYOUT:curl reads the image" \
                bash -c "skopeo inspect 'oci:$O:curl' | jq -e '.Layers | length == 2'"
else
        skip "skopeo inspect oci:LAYOUT:curl" "skopeo is not installed"
fi

# --- clean ------------------------------------------------------------------------
C=$T/clean
cp -r "$O" "$C"
a_curl=$(attached_of "$C" curl)
s_curl=$(jq -r '.layers[0].digest' "$(blob "$C" "$a_curl")")
a_base=$(attached_of "$C" base)
all_kept() { # LAYOUT NAME...: each image's artifact manifest and document are in blobs
        local l=$1 n a m
        shift
        for n; do
                a=$(attached_of "$l" "$n")
                m=$(blob "$l" "$a")
                [ -n "$a" ] && [ -f "$m" ] && [ -f "$(blob "$l" "$(jq -r '.layers[0].digest' "$m")")" ] || return 1
        done
}
"$OCI_BUILD" -q --layout "$C" clean >/dev/null 2>&1
check "clean keeps the SBOM artifact and document of every image" all_kept "$C" $IMAGES
"$OCI_BUILD" -q --layout "$C" clean curl >/dev/null 2>&1
check "clean curl removes curl's SBOM artifact manifest and document" \
        test ! -e "$(blob "$C" "$a_curl")" -a ! -e "$(blob "$C" "$s_curl")"
check "and keeps the others'" all_kept "$C" base jq mix
if [ -x "$OCI_VALIDATE" ]; then
        check "oci-validate of the layout after clean curl" "$OCI_VALIDATE" --quiet "$C"
fi
"$OCI_BUILD" -q --layout "$C" clean --all >/dev/null 2>&1
check "clean --all leaves no blob" test -z "$(ls "$C/blobs/sha256")"

# --- save: the SBOM stays out of the tar ---------------------------------------
run save curl -o "$T/curl.tar" >/dev/null 2>&1
check "save curl writes a tar" test -s "$T/curl.tar"
check "the tar holds neither the SBOM document nor its artifact manifest" \
        bash -c "tar -tf '$T/curl.tar' | grep -q blobs/sha256/ && ! tar -tf '$T/curl.tar' | grep -Eq '${a_curl#sha256:}|${s_curl#sha256:}'"
check "and no index entry of the tar names it" bash -c "! tar -xOf '$T/curl.tar' index.json | grep -q org.oci-build.sbom"
if start_dockerd; then
        out=$(docker load -i "$T/curl.tar" 2>&1)
        check "docker load -i curl.tar loads it ($(tr '\n' ' ' <<<"$out"))" grep -q "Loaded image: distroless-curl:latest" <<<"$out"
        check "docker run of the loaded curl" \
                bash -c "docker run --rm --network=none distroless-curl:latest --version | grep -q '^curl '"
else
        skip "docker load of a save tar of a layout with SBOMs" "$DOCKER_SKIP"
fi

# --- downloads as packages ------------------------------------------------------
mkdir -p "$T/www"
printf 'a downloaded program\n' > "$T/www/payload-amd64"
cp "$T/www/payload-amd64" "$T/www/payload-arm64"
H=$(sha256sum < "$T/www/payload-amd64" | cut -d' ' -f1)
WWW=
for try in 1 2 3; do
        PORT=$(free_port)
        python3 -m http.server --bind 127.0.0.1 --directory "$T/www" "$PORT" >"$T/www.log" 2>&1 &
        WWW_PID=$!
        CLEANUP_PIDS+=("$WWW_PID")
        if wait_port "$PORT" 10 && kill -0 "$WWW_PID" 2>/dev/null; then
                WWW=1
                break
        fi
        kill "$WWW_PID" 2>/dev/null
        wait "$WWW_PID" 2>/dev/null
done
if [ -z "$WWW" ]; then
        not_ok "a web server on 127.0.0.1 for the download checks" "$(tail -n 3 "$T/www.log")"
else
        cat > "$T/src1/configs/apps/dl.yml" <<EOF
name: dl
version: "2.5"
description: an app with a download
tools: [curl]
artifacts:
  - { path: /app/payload, url: "http://127.0.0.1:$PORT/payload-{arch}", sha256: "$H", mode: "0755" }
  - { path: /app/note.txt, source: note.txt }
EOF
        export OCI_BUILD_CACHE=$T/cache
        if run -q app dl 2>"$T/dl.err"; then
                ok "build an app with a pinned download"
                run sbom dl -o "$T/dl.spdx.json"
                out=$(python3 - "$T/dl.spdx.json" "$H" "$PORT" "$SPDX_SCHEMA" <<'EOF'
import json, sys, jsonschema
d, h, port = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
jsonschema.validate(d, json.load(open(sys.argv[4])))
image = [p for p in d["packages"] if p["SPDXID"] == "SPDXRef-Image"][0]
arch = image["externalRefs"][0]["referenceLocator"].rsplit("=", 1)[1]
url = "http://127.0.0.1:%s/payload-%s" % (port, arch)
want = "pkg:generic/payload@2.5?download_url=" + url.replace(":", "%3A").replace("/", "%2F")
pk = [p for p in d["packages"] if any(r["referenceLocator"] == want for r in p.get("externalRefs", []))]
assert len(pk) == 1, "no package with purl " + want
pk = pk[0]
assert pk["downloadLocation"] == url, pk["downloadLocation"]
assert {"algorithm": "SHA256", "checksumValue": h} in pk["checksums"], pk["checksums"]
fid = [f["SPDXID"] for f in d["files"] if f["fileName"] == "/app/payload"][0]
contained = [r["relatedSpdxElement"] for r in d["relationships"]
             if r["spdxElementId"] == pk["SPDXID"] and r["relationshipType"] == "CONTAINS"]
assert contained == [fid], contained
assert any(r["spdxElementId"] == "SPDXRef-Image" and r["relatedSpdxElement"] == pk["SPDXID"] for r in d["relationships"])
print(len(d["files"]))
EOF
)
                check "dl's SBOM validates; pkg:generic/payload@2.5?download_url=URL with the pinned sha256 contains /app/payload" \
                        test -n "$out"
                if umoci unpack --rootless --image "$O:dl" "$T/u-dl" >/dev/null 2>&1; then
                        n=$(find "$T/u-dl/rootfs" -type f | wc -l)
                        check "dl: the SBOM's ${out:-no} files are the $n regular files of the image umoci unpacks" \
                                test "$n" = "$out"
                else
                        not_ok "umoci unpack dl"
                fi
                if [ -x "$OCI_VALIDATE" ]; then
                        check "oci-validate --distroless of the whole layout with dl" \
                                "$OCI_VALIDATE" --distroless --quiet "$O"
                fi
        else
                not_ok "build an app with a pinned download" "$(cat "$T/dl.err")"
        fi
fi

# --- an image index: one SBOM per platform -------------------------------------
# The arm64 sysroot that test-arch.sh makes (and caches for the day).
ARCH_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/oci-build-test
SR=$ARCH_CACHE/sysroot-linux-arm64-$(printf '%s %s' curl,jq "$(date +%Y-%m-%d)" | sha256sum | cut -c1-12)
if [ ! -f "$SR/var/lib/dpkg/status" ] && have mmdebstrap; then
        mkdir -p "$ARCH_CACHE"
        "$OCI_BUILD" --platform linux/arm64 sysroot --packages-of curl,jq "$SR" >/dev/null 2>&1 || rm -rf "$SR"
fi
if [ -f "$SR/var/lib/dpkg/status" ]; then
        mkdir -p "$T/sysroots"
        ln -s "$SR" "$T/sysroots/linux-arm64"
        MA=$T/multi
        if OCI_BUILD_SYSROOTS=$T/sysroots "$OCI_BUILD" -q -C "$T/src1/configs" -L "$MA" \
                --platform linux/amd64,linux/arm64 tool curl >/dev/null 2>"$T/ma.err"; then
                ok "tool curl for linux/amd64 and linux/arm64: an image index per image"
                check "the index.json entries (image indexes) carry no SBOM annotation" \
                        jq -e '[.manifests[] | select(.annotations["org.oci-build.sbom"])] | length == 0' "$MA/index.json"
                out=$(python3 - "$MA" <<'EOF'
import json, sys
lay = sys.argv[1]
def blob(d):
    return open(lay + "/blobs/sha256/" + d.split(":")[1], "rb").read()
n = 0
for e in json.load(open(lay + "/index.json"))["manifests"]:
    for m in json.loads(blob(e["digest"]))["manifests"]:
        a = json.loads(blob(m["annotations"]["org.oci-build.sbom"]))
        assert a["artifactType"] == "application/spdx+json" and a["subject"]["digest"] == m["digest"]
        doc = json.loads(blob(a["layers"][0]["digest"]))
        purl = [p for p in doc["packages"] if p["SPDXID"] == "SPDXRef-Image"][0]["externalRefs"][0]["referenceLocator"]
        assert purl.endswith("arch=" + m["platform"]["architecture"]), purl
        assert m["digest"].split(":")[1] in purl, purl
        n += 1
print(n)
EOF
)
                check "each platform's manifest descriptor names its own SBOM, about that manifest and architecture (${out:-0} of 4)" \
                        test "$out" = 4
                if [ -x "$OCI_VALIDATE" ]; then
                        check "oci-validate --distroless of the two-platform layout" "$OCI_VALIDATE" --distroless --quiet "$MA"
                fi
                n_before=$(ls "$MA/blobs/sha256" | wc -l)
                "$OCI_BUILD" -q --layout "$MA" clean >/dev/null 2>&1
                check "clean deletes none of the per-platform SBOMs ($n_before blobs)" \
                        test "$(ls "$MA/blobs/sha256" | wc -l)" = "$n_before"
                check "sbom curl reads one of them" bash -c "'$OCI_BUILD' --layout '$MA' sbom curl | jq -e '.spdxVersion == \"SPDX-2.3\"'"
        else
                not_ok "tool curl for linux/amd64 and linux/arm64" "$(cat "$T/ma.err")"
        fi
else
        skip "SBOMs in an image index" "no arm64 sysroot (mmdebstrap is needed to make one)"
fi

# zstd layers: the build reads them back for its SBOM.
if "$OCI_BUILD" -q -C "$T/src1/configs" --layout "$T/zstd" --compression zstd tool jq 2>"$T/zstd.err"; then
        check "a zstd build of jq attaches an SBOM with the gzip build's files and sha256s" \
                cmp <(jq -c '[.files[] | [.fileName, .checksums]]' "$T/jq.spdx.json") \
                <("$OCI_BUILD" --layout "$T/zstd" sbom jq | jq -c '[.files[] | [.fileName, .checksums]]')
else
        not_ok "a zstd build of jq attaches an SBOM" "$(cat "$T/zstd.err")"
fi

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
