#!/usr/bin/env bash
# Multi-architecture images: an arm64 Debian tree made by `oci-build sysroot`
# (mmdebstrap), a two-platform build that writes an image index per image,
# judged by oci-validate, by reading the arm64 layer's ELF headers back, by a
# registry round trip (skopeo copy --all), docker pull/run --platform
# linux/arm64 under qemu emulation, docker load and podman load of `save`,
# and `oci-build test --platform linux/arm64`. Everything listens on
# 127.0.0.1 or a socket under $T; containers run without a network.
#
# The arm64 tree is a slow fixture (~25 s, the network): it is kept between
# runs under ${XDG_CACHE_HOME:-~/.cache}/oci-build-test, keyed by its package
# list and the day; OB_ARCH_FRESH=1 makes it anew.
. "$(dirname "$0")/lib.sh"

export DOCKER_CONFIG=$T/docker-config
mkdir -p "$DOCKER_CONFIG"
echo '{}' > "$DOCKER_CONFIG/config.json"
. "$(dirname "$0")/docker.sh"

need jq python3 mmdebstrap skopeo
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }
now() { date +%s%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'; }

PACKAGES=curl,jq
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/oci-build-test
KEY=$(printf '%s %s' "$PACKAGES" "$(date +%Y-%m-%d)" | sha256sum | cut -c1-12)
SR=$CACHE/sysroot-linux-arm64-$KEY
mkdir -p "$CACHE"

# --- the sysroot -------------------------------------------------------------
if [ -n "${OB_ARCH_FRESH:-}" ] || [ ! -f "$SR/var/lib/dpkg/status" ]; then
        rm -rf "$SR"
        t=$(now)
        if out=$("$OCI_BUILD" --platform linux/arm64 sysroot --packages-of "$PACKAGES" "$SR" 2>&1); then
                ok "oci-build sysroot --platform linux/arm64 --packages-of $PACKAGES made a tree in $(since "$t") s"
        else
                not_ok "oci-build sysroot --platform linux/arm64" "$out"
                finish
        fi
else
        ok "the arm64 sysroot of $PACKAGES is cached ($SR)"
fi
# What the rest of the program reads, written without running anything arm64.
check "the sysroot's dpkg status says curl and libc6 are arm64 and installed" python3 - "$SR" <<'EOF'
import sys
paras = open(sys.argv[1] + "/var/lib/dpkg/status").read().split("\n\n")
want = {"curl", "libc6", "jq", "ca-certificates", "tzdata"}
seen = {}
for p in paras:
    f = dict(l.split(": ", 1) for l in p.splitlines() if ": " in l and not l.startswith(" "))
    if "Package" in f:
        seen[f["Package"]] = f
for name in want:
    f = seen[name]
    assert f["Status"] == "install ok installed", f
    assert f["Architecture"] in ("arm64", "all"), f
assert seen["curl"]["Architecture"] == "arm64" and seen["libc6"]["Architecture"] == "arm64"
EOF
check "the sysroot lists curl's files (info/curl.list) and has ld.so.conf.d, the CA bundle and zoneinfo" \
        bash -c "grep -qx /usr/bin/curl '$SR/var/lib/dpkg/info/curl.list' &&
                 grep -q 'aarch64-linux-gnu/libc.so.6\$' '$SR/var/lib/dpkg/info/libc6:arm64.list' &&
                 grep -q aarch64-linux-gnu '$SR'/etc/ld.so.conf.d/*.conf &&
                 [ \$(grep -c 'BEGIN CERTIFICATE' '$SR/etc/ssl/certs/ca-certificates.crt') -gt 100 ] &&
                 [ -f '$SR/usr/share/zoneinfo/Europe/Berlin' ]"

export OCI_BUILD_SYSROOTS=$T/sysroots
mkdir -p "$OCI_BUILD_SYSROOTS"
ln -s "$SR" "$OCI_BUILD_SYSROOTS/linux-arm64"

# --- the architecture comes from the files -------------------------------------
B=$T/bug
check "tool curl from the arm64 sysroot without --platform" "$OCI_BUILD" -q -L "$B" --sysroot "$SR" tool curl
arch_of() { # LAYOUT NAME -> the architecture of its config, and of the index entry
        local m
        m=$(jq -r --arg n "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest' "$1/index.json")
        printf '%s %s\n' "$(jq -r .architecture "$1/blobs/sha256/$(jq -r .config.digest "$1/blobs/sha256/${m#sha256:}" | cut -d: -f2)")" \
                "$(jq -r --arg n "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .platform.architecture' "$1/index.json")"
}
got=$(arch_of "$B" curl)
if [ "$got" = "arm64 arm64" ]; then
        ok "an aarch64 curl built without --platform is labelled arm64 (config and index)"
else
        not_ok "an aarch64 curl built without --platform is labelled arm64" "got: $got"
fi
got=$(arch_of "$B" base)
[ "$got" = "arm64 arm64" ] && ok "its base image is arm64 too (the sysroot's dpkg architecture)" ||
        not_ok "its base image is arm64 too" "got: $got"

# --- two platforms ---------------------------------------------------------------
A=$T/a
t=$(now)
if out=$("$OCI_BUILD" -L "$A" --platform linux/amd64,linux/arm64 tool curl jq 2>&1); then
        ok "tool curl jq for linux/amd64,linux/arm64 in $(since "$t") s"
else
        not_ok "tool curl jq for linux/amd64,linux/arm64" "$out"
        finish
fi
diag "$(printf '%s\n' "$out" | grep -v ': \(writing\|done\)')"

check "index.json names curl, jq and base by an image index with two manifests, amd64 and arm64" python3 - "$A" <<'EOF'
import json, sys
L = sys.argv[1]
blob = lambda d: json.load(open(L + "/blobs/sha256/" + d.split(":")[1]))
idx = json.load(open(L + "/index.json"))
names = {}
for d in idx["manifests"]:
    names[d["annotations"]["org.opencontainers.image.ref.name"]] = d
for n in ("curl", "jq", "base"):
    d = names[n]
    assert d["mediaType"] == "application/vnd.oci.image.index.v1+json", d
    sub = blob(d["digest"])
    assert sub["mediaType"] == "application/vnd.oci.image.index.v1+json"
    plats = [(m["platform"]["os"], m["platform"]["architecture"], m["platform"].get("variant")) for m in sub["manifests"]]
    assert plats == [("linux", "amd64", None), ("linux", "arm64", "v8")], plats
    for m in sub["manifests"]:
        cfg = blob(blob(m["digest"])["config"]["digest"])
        assert cfg["architecture"] == m["platform"]["architecture"], (n, cfg["architecture"])
        assert cfg.get("variant") == m["platform"].get("variant")
EOF

# Every ELF file of each platform's layers, read back from the blobs.
check "every ELF file of the arm64 images is aarch64 and of the amd64 images x86-64; base layers shared per platform" \
        python3 - "$A" <<'EOF'
import gzip, io, json, struct, sys, tarfile
L = sys.argv[1]
blob = lambda d: open(L + "/blobs/sha256/" + d.split(":")[1], "rb").read()
idx = json.load(open(L + "/index.json"))
want = {"amd64": 62, "arm64": 183}
base_layer = {}
for d in idx["manifests"]:
    name = d["annotations"]["org.opencontainers.image.ref.name"]
    for m in json.loads(blob(d["digest"]))["manifests"]:
        arch = m["platform"]["architecture"]
        layers = json.loads(blob(m["digest"]))["layers"]
        base_layer.setdefault(arch, set()).add(layers[0]["digest"])
        n_elf = 0
        for l in layers:
            with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob(l["digest"])))) as tf:
                for e in tf:
                    if not e.isfile():
                        continue
                    h = tf.extractfile(e).read(20)
                    if h[:4] != b"\x7fELF" or len(h) < 20:
                        continue
                    etype, machine = struct.unpack("<HH", h[16:20])
                    if etype in (2, 3):
                        n_elf += 1
                        assert machine == want[arch], (name, arch, e.name, machine)
        assert name == "base" or n_elf > 0, (name, arch)
for arch, s in base_layer.items():
    assert len(s) == 1, (arch, s)
assert base_layer["amd64"] != base_layer["arm64"]
EOF

if have_validator; then
        check "oci-validate --distroless accepts the two-platform layout" "$OCI_VALIDATE" "$A" --distroless
else
        skip "oci-validate of the two-platform layout" "oci-validate or python3-jsonschema missing"
fi
check "skopeo inspect --raw oci:LAYOUT:curl shows the image index" \
        bash -c "skopeo inspect --raw oci:$A:curl | jq -e '.mediaType == \"application/vnd.oci.image.index.v1+json\" and (.manifests | length) == 2'"

# Reproducible: a second build gives the same index and manifests.
A2=$T/a2
if ! out=$("$OCI_BUILD" -q -L "$A2" --platform linux/amd64,linux/arm64 tool curl jq 2>&1 >/dev/null); then
        diag "the second build failed:" "$out"
fi
digests() { jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] | test("^(curl|jq|base)$")) | .annotations["org.opencontainers.image.ref.name"] + " " + .digest' "$1/index.json" | sort; }
subdigests() { for d in $(jq -r '.manifests[].digest' "$1/index.json"); do jq -r '.manifests[].digest' "$1/blobs/sha256/${d#sha256:}"; done | sort; }
if [ -n "$(digests "$A2")" ] && [ "$(digests "$A")" = "$(digests "$A2")" ] && [ "$(subdigests "$A")" = "$(subdigests "$A2")" ]; then
        ok "two builds give identical image index and per-platform manifest digests"
else
        not_ok "two builds give identical image index and per-platform manifest digests" "$(diff <(digests "$A") <(digests "$A2"))"
fi

check "list shows curl built for amd64 and arm64" bash -c "'$OCI_BUILD' -L '$A2' list tools | grep -Eq '^tool +curl +yes +.* amd64,arm64\$'"
check "show --platform linux/arm64 curl follows the index to the arm64 manifest" bash -c "
        m=\$(jq -r '.manifests[] | select(.platform.architecture == \"arm64\") | .digest' '$A2'/blobs/sha256/\$(jq -r '.manifests[] | select(.annotations[\"org.opencontainers.image.ref.name\"] == \"curl\") | .digest' '$A2/index.json' | cut -d: -f2))
        '$OCI_BUILD' -L '$A2' --platform linux/arm64 show curl | grep -q \"manifest: \$m\""
# clean follows the indexes: what the remaining images use stays.
"$OCI_BUILD" -q -L "$A2" clean jq >/dev/null 2>&1
if have_validator; then
        check "after clean jq, oci-validate still accepts the layout (curl's and base's blobs kept)" "$OCI_VALIDATE" "$A2" curl base --distroless
fi
check "after clean jq, skopeo copy --all of curl from the layout still reads every blob" \
        skopeo copy -q --all "oci:$A2:curl" "oci:$T/copied:curl"

# Sizes per platform, for the record.
for p in amd64 arm64; do
        for n in base curl jq; do
                d=$(jq -r --arg n $n '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest' "$A/index.json")
                m=$(jq -r --arg p $p '.manifests[] | select(.platform.architecture == $p) | .digest' "$A/blobs/sha256/${d#sha256:}")
                diag "$p $n: $(jq '[.layers[].size] | add' "$A/blobs/sha256/${m#sha256:}") bytes compressed ($(jq '.layers | length' "$A/blobs/sha256/${m#sha256:}") layers)"
        done
done

# --- bad input: one line, non-zero, the layout unchanged -------------------------
before=$(tree_sum "$A")
expect_fail "--platform windows/amd64 is refused" "windows/amd64.*only linux" \
        "$OCI_BUILD" -L "$A" --platform windows/amd64 tool curl
expect_fail "--platform linux/s390x is refused" "linux/s390x.*unsupported architecture" \
        "$OCI_BUILD" -L "$A" --platform linux/s390x tool curl
expect_fail "a malformed --platform is refused" "'linux'.*expected OS/ARCH" \
        "$OCI_BUILD" -L "$A" --platform linux tool curl
expect_fail "an arm64 sysroot given for linux/amd64 is refused" "linux/amd64.*sysroot.*arm64" \
        "$OCI_BUILD" -L "$A" --platform linux/amd64 --sysroot "$SR" tool curl
expect_fail "a platform without a sysroot says how to make one" "no sysroot.*oci-build sysroot --platform linux/arm64" \
        env OCI_BUILD_SYSROOTS="$T/none" "$OCI_BUILD" -L "$A" --platform linux/amd64,linux/arm64 tool curl
# Mixed: an arm64 tree holding an x86-64 program (the host's static ldconfig).
MIX=$T/mixed
C=$T/cfg/configs
cp -al "$SR" "$MIX"
rm -f "$MIX/usr/bin/curl-x86"
cp /sbin/ldconfig "$MIX/usr/bin/curl-x86"
mkdir -p "$T/cfg"
cp -r "$SOURCE_ROOT/configs" "$SOURCE_ROOT/rootfs" "$T/cfg/"
cat > "$C/tools/mixed.yml" <<'EOF'
name: mixed
package: curl
description: curl with an x86-64 file beside it
binaries:
  - /usr/bin/curl
files:
  - /usr/bin/curl-x86
EOF
expect_fail "binaries of two machines in one image are refused, naming both" "mixed architectures.*curl-x86.*(arm64|amd64)" \
        "$OCI_BUILD" -C "$C" -L "$A" --sysroot "$MIX" tool mixed
# An app whose download is pinned for amd64 only.
mkdir -p "$C/apps"
cat > "$C/apps/dl.yml" <<'EOF'
name: dl
version: "1.0"
description: an app with an amd64 build only
artifacts:
  - path: /app/dl
    url: http://127.0.0.1:9/dl-linux-{arch}
    sha256: {amd64: 0000000000000000000000000000000000000000000000000000000000000000}
    mode: "0755"
EOF
expect_fail "an app artifact without a build for arm64 is refused, naming the config and the architecture" \
        "dl.yml:[0-9]+: .*no pin for architecture 'arm64'" \
        "$OCI_BUILD" -C "$C" -L "$A" --platform linux/arm64 app dl
if [ "$(tree_sum "$A")" = "$before" ]; then ok "the layout is unchanged by the refused builds"; else not_ok "the layout is unchanged by the refused builds"; fi

# --- run under emulation ----------------------------------------------------------
binfmt_ready() {
        [ -r /proc/sys/fs/binfmt_misc/qemu-aarch64 ] && grep -q enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 && return 0
        [ "$(id -u)" = 0 ] && have update-binfmts || return 1
        mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null
        update-binfmts --enable qemu-aarch64 >/dev/null 2>&1
        grep -q enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null
}
if ! binfmt_ready; then
        skip "oci-build test --platform linux/arm64, docker run --platform linux/arm64" \
                "no binfmt_misc handler for aarch64 (qemu-user-static, binfmt-support)"
        EMU=
else
        EMU=1
        check "oci-build test --platform linux/arm64 curl jq passes under emulation" \
                "$OCI_BUILD" -L "$A" --platform linux/arm64 test curl jq
fi

# --- registry and docker ----------------------------------------------------------
if ! start_registry; then
        skip "registry round trip of the index" "$REG_SKIP"
else
        REF=127.0.0.1:$PORT/distroless/curl:multi
        check "skopeo copy --all of the curl index to a registry on 127.0.0.1" \
                skopeo copy -q --all --dest-tls-verify=false "oci:$A:curl" "docker://$REF"
        check "skopeo inspect --raw of the registry's copy is the index with amd64 and arm64" \
                bash -c "skopeo inspect --raw --tls-verify=false docker://$REF | jq -e '[.manifests[].platform.architecture] == [\"amd64\", \"arm64\"]'"
        if ! start_dockerd; then
                skip "docker pull/run --platform linux/arm64" "$DOCKER_SKIP"
        else
                check "docker pull --platform linux/arm64 of the index" docker pull -q --platform linux/arm64 "$REF"
                got=$(docker image inspect -f '{{.Architecture}}' "$REF" 2>&1)
                [ "$got" = arm64 ] && ok "docker image inspect says arm64" || not_ok "docker image inspect says arm64" "got: $got"
                if [ -n "$EMU" ]; then
                        out=$(docker run --rm --network=none --platform linux/arm64 "$REF" --version 2>&1)
                        if grep -q 'aarch64' <<<"$out"; then
                                ok "docker run --platform linux/arm64 curl --version prints an aarch64 build ($(head -n 1 <<<"$out" | cut -c1-60))"
                        else
                                not_ok "docker run --platform linux/arm64 curl --version prints an aarch64 build" "$out"
                        fi
                fi
                # save: a tag per platform for Docker 20.10, which loads no index.
                check "save curl jq of the two-platform layout" "$OCI_BUILD" -L "$A" save curl jq -o "$T/s.tar"
                docker rmi -f "$REF" >/dev/null 2>&1
                out=$(docker load -i "$T/s.tar" 2>&1)
                v=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "curl") | .annotations["org.opencontainers.image.version"] // empty' "$A/index.json")
                tags=$(docker images --format '{{.Repository}}:{{.Tag}}' distroless-curl | sort | tr '\n' ' ')
                if grep -q -- '-arm64 ' <<<"$tags " && grep -q -- '-amd64 ' <<<"$tags " && grep -q ':latest ' <<<"$tags "; then
                        ok "docker load gives per-platform tags and latest: $tags"
                else
                        not_ok "docker load gives per-platform tags and latest" "$out" "$tags"
                fi
                t_arm=$(tr ' ' '\n' <<<"$tags" | grep -- '-arm64$' | head -n 1)
                got=$(docker image inspect -f '{{.Architecture}} {{.Variant}}' "$t_arm" 2>&1)
                [ "${got%% *}" = arm64 ] && ok "docker image inspect $t_arm says arm64" || not_ok "$t_arm is arm64" "got: $got"
                got=$(docker image inspect -f '{{.Architecture}}' distroless-curl:latest 2>&1)
                [ "$got" = amd64 ] && ok "distroless-curl:latest is the native amd64 image" || not_ok "distroless-curl:latest is amd64" "got: $got"
        fi
fi
if [ -f "$T/s.tar" ]; then
        check "skopeo inspect --raw oci-archive: shows the index behind distroless-curl:latest" \
                bash -c "skopeo inspect --raw oci-archive:$T/s.tar:distroless-curl:latest | jq -e '(.manifests | length) == 2'"
        P=(podman --root "$T/p/root" --runroot "$T/p/run" --tmpdir "$T/p/tmp" --storage-driver vfs
           --cgroup-manager cgroupfs --events-backend file --runtime runc)
        if have podman && [ "$(id -u)" = 0 ] && "${P[@]}" info >/dev/null 2>&1; then
                out=$("${P[@]}" load -i "$T/s.tar" 2>&1)
                if grep -q 'distroless-curl:latest' <<<"$out" && grep -q -- '-arm64' <<<"$out"; then
                        ok "podman load reads the archive: latest and the per-platform tags"
                else
                        not_ok "podman load reads the archive" "$out"
                fi
        else
                skip "podman load of the two-platform archive" "podman missing or not usable as root here"
        fi
fi

finish
