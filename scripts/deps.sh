#!/usr/bin/env bash
# Installs, with apt, the Debian 12 packages that are missing.
#   deps.sh build   what building oci-build and `oci-build base` need
#   deps.sh tools   the host programs the tool images are made of (`oci-build tool --all`)
#   deps.sh test    what building needs, the tools, and the real tools the tests use as judges
set -euo pipefail

build_pkgs=(gcc meson ninja-build pkg-config libarchive-dev libssl-dev libjansson-dev libyaml-dev
            zlib1g-dev libdeflate-dev libzstd-dev check ca-certificates tzdata)
test_pkgs=(skopeo umoci oci-image-tool python3 python3-jsonschema jq util-linux procps
           docker.io docker-compose docker-registry podman runc curl tar zstd libc6-dev python3-yaml openssl
           clang libclang-rt-14-dev
           mmdebstrap qemu-user-static binfmt-support   # arm64 sysroots, and running them (test-arch)
           xz-utils make)  # test-release: repacks a node release (.tar.xz), builds a C program from source
# The host programs that the tool images are made of, one line per config
# (configs/tools/*.yml; README's tool table says the same). node and npm
# are asked for only when missing: see below.
tool_pkgs=(curl            # curl
           jq              # jq
           git             # git
           golang-go       # go
           postgresql)     # postgres: postgresql-15 on Debian 12, and initdb

case "${1:-build}" in
build) want=("${build_pkgs[@]}") ;;
tools) want=("${tool_pkgs[@]}") ;;
test) want=("${build_pkgs[@]}" "${test_pkgs[@]}" "${tool_pkgs[@]}") ;;
*)
        echo "usage: $0 [build|tools|test]" >&2
        exit 2
        ;;
esac

missing=()
for p in "${want[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# node may come from Debian or from an official build that bundles npm: ask
# apt only for what is not there at all, so an existing node is never replaced.
if [ "${1:-build}" != build ]; then
        command -v node >/dev/null || missing+=(nodejs)
        command -v npm >/dev/null || missing+=(npm)
fi
SUDO=
[ "$(id -u)" -ne 0 ] && SUDO=sudo

# Running arm64 programs (`--platform linux/arm64 test`, in the README and
# test-arch) needs qemu's binfmt_misc handler. binfmt-support registers it
# when installed, but not where no service manager runs it (a container),
# nor after a reboot there: enable it whenever the tests are set up.
enable_binfmt() {
        [ "${1:-build}" = test ] || return 0
        grep -qs enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 && return 0
        $SUDO sh -c 'mountpoint -q /proc/sys/fs/binfmt_misc ||
                     mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc; update-binfmts --enable qemu-aarch64' \
                >/dev/null 2>&1 || true
        grep -qs enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 ||
                echo "warning: no binfmt_misc handler for aarch64: the arm64 checks will fail" >&2
}

if [ ${#missing[@]} -eq 0 ]; then
        enable_binfmt "${1:-build}"
        exit 0
fi

echo "installing: ${missing[*]}" >&2
$SUDO apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
enable_binfmt "${1:-build}"
