#!/usr/bin/env bash
# --compression zstd: the layers carry the OCI zstd media type and are what
# zstd(1) decompresses to the gzip build's tar; oci-validate passes; the
# output is the same at -j1 and -j2; skopeo copies the image to a registry
# on 127.0.0.1 and back, podman runs it; save refuses it (Docker 20.10
# cannot read zstd) and the gzip build of it saves and docker-loads.
# Unknown compressions and levels are one-line errors, exit 2.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/docker.sh"

need jq zstd
export OCI_BUILD_CACHE=$T/cache
export DOCKER_CONFIG=$T/docker-config
mkdir -p "$DOCKER_CONFIG"
echo '{}' > "$DOCKER_CONFIG/config.json"
Z=$T/z
G=$T/g
ob() { "$OCI_BUILD" -q "$@"; }
mblob() { echo "$1/blobs/sha256/$(manifest "$1" "$2" | cut -d: -f2)"; }

check "tool jq curl --compression zstd builds" ob --compression zstd --layout "$Z" -j1 tool jq curl
check "the same with gzip builds" ob --layout "$G" tool jq curl
check "every zstd layer has the OCI zstd media type" \
        jq -e '[.layers[].mediaType] | length == 2 and all(. == "application/vnd.oci.image.layer.v1.tar+zstd")' "$(mblob "$Z" curl)"
if have_validator; then
        check "oci-validate passes on the zstd images" "$OCI_VALIDATE" "$Z" jq curl --distroless
else
        skip "oci-validate passes on the zstd images" "oci-validate (or python3-jsonschema) not available"
fi
same_tars=1
for i in 0 1; do
        zd=$(jq -r ".layers[$i].digest" "$(mblob "$Z" curl)")
        gd=$(jq -r ".layers[$i].digest" "$(mblob "$G" curl)")
        a=$(zstd -dc <"$Z/blobs/sha256/${zd#sha256:}" | sha256sum | cut -d' ' -f1)
        b=$(gzip -dc <"$G/blobs/sha256/${gd#sha256:}" | sha256sum | cut -d' ' -f1)
        [ -n "$a" ] && [ "$a" = "$b" ] || same_tars=
done
check "zstd(1) decompresses each layer to the gzip build's tar" test -n "$same_tars"
check "the diff_ids are the gzip build's" test "$(jq -c .rootfs "$Z/blobs/sha256/$(jq -r .config.digest "$(mblob "$Z" curl)" | cut -d: -f2)")" = \
        "$(jq -c .rootfs "$G/blobs/sha256/$(jq -r .config.digest "$(mblob "$G" curl)" | cut -d: -f2)")"
ob --no-cache --compression zstd --layout "$T/z2" -j2 tool jq curl
check "zstd at -j1 and -j2: identical digests" test "$(manifest "$Z" curl)" = "$(manifest "$T/z2" curl)"
check "zstd and gzip layers are cached apart" test "$(manifest "$Z" curl)" != "$(manifest "$G" curl)"
ob --no-cache --compression zstd:9 --layout "$T/z9" tool jq
check "zstd:9 gives other bytes than the default level" test "$(manifest "$T/z9" jq)" != "$(manifest "$Z" jq)"

# --- oci-build test unpacks zstd layers ------------------------------------------
# jq's own test steps, in the sandbox, from the zstd image (each layer's
# digest and diff_id checked on the way).
check "oci-build test jq runs from zstd layers" "$OCI_BUILD" -q --layout "$Z" test jq

# --- bad input -------------------------------------------------------------------
expect_fail "an unknown compression: one line listing the choices" \
        "unknown compression 'xz' \(choices: gzip, gzip:0-12, zstd or zstd:1-19\)" \
        "$OCI_BUILD" --compression xz --layout "$T/bad" tool jq
expect_fail "a zstd level out of range" "bad level in 'zstd:20' \(choices: " \
        "$OCI_BUILD" --compression zstd:20 --layout "$T/bad" tool jq
expect_fail "a level that is not a number" "bad level in 'gzip:fast'" \
        "$OCI_BUILD" --compression gzip:fast --layout "$T/bad" tool jq
"$OCI_BUILD" --compression xz --layout "$T/bad" tool jq >/dev/null 2>&1
check "... exit status 2" test $? -eq 2
check "... and no layout made" test ! -e "$T/bad"

# --- save ----------------------------------------------------------------------------
expect_fail "save refuses an image with zstd layers, saying why" \
        "'curl' has zstd layers, which docker load cannot read: build it with --compression gzip" \
        "$OCI_BUILD" --layout "$Z" save curl -o "$T/z.tar"
check "... and writes no file" test ! -e "$T/z.tar"

# --- a registry ------------------------------------------------------------------------
if start_registry; then
        R=127.0.0.1:$PORT
        check "skopeo copy of the zstd curl image to a registry on 127.0.0.1" \
                skopeo copy -q --dest-tls-verify=false "oci:$Z:curl" "docker://$R/distroless/curl:zstd"
        check "the registry serves our manifest digest" \
                test "$(skopeo inspect --tls-verify=false "docker://$R/distroless/curl:zstd" | jq -r .Digest)" = "$(manifest "$Z" curl)"
        skopeo copy -q --src-tls-verify=false "docker://$R/distroless/curl:zstd" "oci:$T/back:curl" >/dev/null 2>&1
        if have_validator; then
                check "copied back: the same image (oci-validate --same-as)" \
                        "$OCI_VALIDATE" "$Z" curl --same-as "$T/back" --quiet
        else
                check "copied back: the same manifest digest" test "$(manifest "$T/back" curl)" = "$(manifest "$Z" curl)"
        fi
else
        skip "skopeo copy of a zstd image to a registry" "$REG_SKIP"
fi

# --- podman ----------------------------------------------------------------------------
P=(podman --root "$T/p/root" --runroot "$T/p/run" --tmpdir "$T/p/tmp" --storage-driver vfs
   --cgroup-manager cgroupfs --events-backend file --runtime runc)
if ! have podman; then
        skip "podman run of a zstd image" "podman not installed"
elif [ "$(id -u)" != 0 ]; then
        skip "podman run of a zstd image" "these checks run podman as root"
else
        # podman names an image after its layout's path, which must be lower
        # case: a relative one is.
        cd "$T" || exit 1
        out=$("${P[@]}" run --rm --network=none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
                "oci:z:jq" -n '{"answer": (6 * 7)} | .answer' 2>&1)
        check "podman run of the zstd jq image computes 42" test "$(tail -n 1 <<<"$out")" = 42
        out=$("${P[@]}" run --rm --network=none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
                "oci:z:curl" --version 2>&1)
        check "podman run of the zstd curl image: curl --version" grep -q '^curl ' <<<"$out"
        cd - >/dev/null || exit 1
fi

# --- docker load of what save writes (gzip) ---------------------------------------------
check "save of the gzip build of the same image" "$OCI_BUILD" --layout "$G" save jq -o "$T/g.tar"
if start_dockerd; then
        check "docker load of it" docker load -i "$T/g.tar"
        out=$(docker run --rm --network=none "distroless-jq:latest" -n '6 * 7' 2>&1)
        check "docker run of the loaded image computes 42" test "$out" = 42
else
        skip "docker load of the saved archive" "$DOCKER_SKIP"
fi

finish
