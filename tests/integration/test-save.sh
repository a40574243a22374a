#!/usr/bin/env bash
# oci-build save, judged by the programs that read its tar: docker load on the
# classic image store (Docker 20.10 reads only manifest.json), podman load,
# skopeo's docker-archive: and oci-archive: transports, and a registry round
# trip ending in docker pull. Every daemon started here listens on 127.0.0.1
# or on a socket under $T, runs containers without a network, and is stopped
# by its PID when the test ends, whether it passed or not.
. "$(dirname "$0")/lib.sh"

L=$T/oci
# The docker client keeps its settings here, not in the user's home; podman
# reads it too and wants the file to exist.
export DOCKER_CONFIG=$T/docker-config
mkdir -p "$DOCKER_CONFIG"
echo '{}' > "$DOCKER_CONFIG/config.json"

. "$(dirname "$0")/docker.sh"

now() { date +%s%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f s", (b - a) / 1e9 }'; }
size_of() { stat -c %s "$1"; }
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }

# The manifest digest of the image named $2 in layout $1, and a blob's path.
manifest_of() {
        jq -r --arg n "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest' \
                "$1/index.json"
}
blob() { echo "$1/blobs/sha256/${2#sha256:}"; }
config_of() { jq -r .config.digest "$(blob "$1" "$(manifest_of "$1" "$2")")"; }

# Checks an archive the way a careful reader would: sorted unique entries,
# two directories and three files beside the blobs, numeric owner 0 and no
# names, one mtime, every blob matching its name, and exactly the blobs that
# index.json and manifest.json reference.
TAR_CHECK='
import hashlib, json, sys, tarfile
path, mtime = sys.argv[1], int(sys.argv[2])
bad = []
with tarfile.open(path) as tf:
    ms = tf.getmembers()
    names = [m.name for m in ms]
    if names != sorted(names):
        bad.append("entries are not sorted")
    if len(set(names)) != len(names):
        bad.append("an entry appears twice")
    for m in ms:
        if m.uid or m.gid or m.uname or m.gname:
            bad.append("%s: owner %d:%d %r:%r" % (m.name, m.uid, m.gid, m.uname, m.gname))
        if m.mtime != mtime:
            bad.append("%s: mtime %d" % (m.name, m.mtime))
        if not (m.isdir() and m.mode == 0o755 or m.isfile() and m.mode == 0o644):
            bad.append("%s: type %r mode %o" % (m.name, m.type, m.mode))
        if m.pax_headers:
            bad.append("%s: pax headers %r" % (m.name, m.pax_headers))
    dirs = [m.name for m in ms if m.isdir()]
    if dirs != ["blobs", "blobs/sha256"]:
        bad.append("directories: %r" % dirs)
    files = [m.name for m in ms if m.isfile()]
    top = [f for f in files if not f.startswith("blobs/")]
    if top != ["index.json", "manifest.json", "oci-layout"]:
        bad.append("top-level files: %r" % top)
    read = lambda n: tf.extractfile(n).read()
    present = set()
    for f in files:
        if f.startswith("blobs/sha256/"):
            present.add("sha256:" + f[13:])
            if hashlib.sha256(read(f)).hexdigest() != f[13:]:
                bad.append("%s does not hash to its name" % f)
    refs = set()
    for d in json.loads(read("index.json"))["manifests"]:
        refs.add(d["digest"])
        m = json.loads(read("blobs/sha256/" + d["digest"][7:]))
        refs.add(m["config"]["digest"])
        refs.update(l["digest"] for l in m["layers"])
    for e in json.loads(read("manifest.json")):
        for p in [e["Config"]] + e["Layers"]:
            if not p.startswith("blobs/sha256/") or "sha256:" + p[13:] not in refs:
                bad.append("manifest.json names %s, which the OCI index does not reach" % p)
    if present != refs:
        bad.append("blobs present but unreferenced: %r; referenced but missing: %r" % (sorted(present - refs), sorted(refs - present)))
print("\n".join(bad))
sys.exit(1 if bad else 0)
'
tar_ok() { python3 -c "$TAR_CHECK" "$@"; }

# has_line DESCRIPTION PATTERN TEXT -- passes when TEXT has a line matching
# PATTERN (grep -E); shows TEXT when not.
has_line() {
        if grep -Eq -- "$2" <<<"$3"; then
                ok "$1"
        else
                not_ok "$1" "no line matches /$2/ in:" "$(tail -n 15 <<<"$3")"
        fi
}

# --- images to save ----------------------------------------------------------
"$OCI_BUILD" -q --layout "$L" base && ok "build base" || not_ok "build base"
M_BASE=$(manifest_of "$L" base)
C_BASE=$(config_of "$L" base)
VERSION=$(jq -r '.annotations["org.opencontainers.image.version"]' "$(blob "$L" "$M_BASE")")
N_LAYERS=$(jq '.layers | length' "$(blob "$L" "$M_BASE")")
diag "base $M_BASE, version $VERSION, $N_LAYERS layer(s)"

# base2: the same files with another environment, so it shares base's layer
# blob and has a config of its own.
mkdir -p "$T/src-base2"
cp -r "$SOURCE_ROOT/configs" "$SOURCE_ROOT/rootfs" "$T/src-base2/"
sed -i -e 's/^name: base$/name: base2/' -e 's/^    SSL_CERT_FILE:.*/&\n    SAVE_TEST: "1"/' "$T/src-base2/configs/base.yml"
"$OCI_BUILD" -q -C "$T/src-base2/configs" --layout "$L" base && ok "build base2 (base's layer, another config)" \
        || not_ok "build base2 (base's layer, another config)"
check "base2 shares base's layer blob" test "$(jq -c .layers "$(blob "$L" "$(manifest_of "$L" base2)")")" = \
        "$(jq -c .layers "$(blob "$L" "$M_BASE")")"

# hello: base has nothing to run, so a test image gets a static program from
# a small sysroot and makes it the entrypoint.
HELLO=
mkdir -p "$T/hello-root/etc/ssl/certs" "$T/hello-root/usr/share/zoneinfo" "$T/hello-root/usr/bin" "$T/src-hello"
cp /etc/ssl/certs/ca-certificates.crt "$T/hello-root/etc/ssl/certs/"
echo UTC > "$T/hello-root/usr/share/zoneinfo/UTC"
cat > "$T/hello.c" <<'EOF'
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv)
{
        printf("hello from a distroless image: uid=%d gid=%d args=%d\n", (int) getuid(), (int) getgid(), argc - 1);
        return 0;
}
EOF
if cc -static -O2 -o "$T/hello-root/usr/bin/hello" "$T/hello.c" 2>/dev/null; then
        cp -r "$SOURCE_ROOT/configs" "$SOURCE_ROOT/rootfs" "$T/src-hello/"
        sed -i -e 's/^name: base$/name: hello/' -e 's|^files:$|&\n  - { path: /usr/bin/hello, mode: "0755" }|' \
                -e 's|^config:$|&\n  entrypoint: ["/usr/bin/hello"]|' "$T/src-hello/configs/base.yml"
        if "$OCI_BUILD" -q -C "$T/src-hello/configs" --sysroot "$T/hello-root" --layout "$L" base; then
                HELLO=1
                ok "build hello (a static program as entrypoint)"
        else
                not_ok "build hello (a static program as entrypoint)"
        fi
else
        skip "build hello (a static program as entrypoint)" "cc -static does not work here"
fi

# A tool image runs for real once the tool configs and command exist.
CURL=
if ! "$OCI_BUILD" list tools 2>/dev/null | awk 'NR > 1 && $2 == "curl" { f = 1 } END { exit !f }'; then
        skip "build curl" "no curl tool config"
elif ! "$OCI_BUILD" tool --help >/dev/null 2>&1; then
        skip "build curl" "this oci-build has no tool command"
elif "$OCI_BUILD" -q --layout "$L" tool curl; then
        CURL=1
        CURL_VERSION=$(jq -r '.annotations["org.opencontainers.image.version"]' "$(blob "$L" "$(manifest_of "$L" curl)")")
        ok "build curl"
else
        not_ok "build curl"
fi
ALL=(base base2)
[ -n "$HELLO" ] && ALL+=(hello)
[ -n "$CURL" ] && ALL+=(curl)

# --- the archive itself ------------------------------------------------------
save() { "$OCI_BUILD" -q --layout "$L" save "$@"; }

(cd "$T" && umask 022 && save base -o base.tar) && ok "save base -o base.tar" || not_ok "save base -o base.tar"
diag "base.tar: $(size_of "$T/base.tar") bytes"
check "the archive is sorted, owned by 0, mtime 0, and holds exactly the blobs it references" tar_ok "$T/base.tar" 0
check "the archive is mode 0644 under umask 022" test "$(stat -c %a "$T/base.tar")" = 644
check "no temporary file is left beside it" test -z "$(ls -A "$T" | grep '\.tmp$')"
mkdir -p "$T/x"
tar -xf "$T/base.tar" -C "$T/x"
check "manifest.json: base's config, its $N_LAYERS layer(s), both default tags" \
        jq -e --arg c "blobs/sha256/${C_BASE#sha256:}" --arg v "$VERSION" --argjson n "$N_LAYERS" \
        'length == 1 and .[0].Config == $c and (.[0].Layers | length) == $n and
         .[0].RepoTags == ["docker.io/library/distroless-base:" + $v, "docker.io/library/distroless-base:latest"]' \
        "$T/x/manifest.json"
check "index.json: base's manifest once per tag, named for containerd and skopeo" \
        jq -e --arg m "$M_BASE" --arg v "$VERSION" \
        '[.manifests[] | select(.digest == $m)] | length == 2 and
         map(.annotations["org.opencontainers.image.ref.name"]) == ["distroless-base:" + $v, "distroless-base:latest"] and
         map(.annotations["io.containerd.image.name"]) ==
             ["docker.io/library/distroless-base:" + $v, "docker.io/library/distroless-base:latest"]' \
        "$T/x/index.json"
check "index.json lists only the saved image" jq -e --arg m "$M_BASE" '[.manifests[].digest] | unique == [$m]' "$T/x/index.json"
if have_validator; then
        check "the unpacked archive is a valid OCI layout (oci-validate)" "$OCI_VALIDATE" "$T/x" --quiet
else
        skip "the unpacked archive is a valid OCI layout" "oci-validate missing"
fi
if have oci-image-tool; then
        check "oci-image-tool validates the unpacked archive" \
                oci-image-tool validate --type image --ref "name=distroless-base:$VERSION" "$T/x"
else
        skip "oci-image-tool validates the unpacked archive" "oci-image-tool not found on PATH"
fi

# Same layout, same bytes: from another directory and umask, to stdout, with
# the name repeated.
mkdir -p "$T/w2"
(cd "$T/w2" && umask 077 && save base -o again.tar) || not_ok "second save"
check "deterministic: a second save is byte-identical" cmp "$T/base.tar" "$T/w2/again.tar"
check "the archive is mode 0600 under umask 077" test "$(stat -c %a "$T/w2/again.tar")" = 600
save base -o - > "$T/stdout.tar" || not_ok "save base -o -"
check "deterministic: -o - writes the same bytes" cmp "$T/base.tar" "$T/stdout.tar"
save base base -o "$T/twice.tar" || not_ok "save base base"
check "naming an image twice saves it once" cmp "$T/base.tar" "$T/twice.tar"
SOURCE_DATE_EPOCH=1700000000 "$OCI_BUILD" -q --layout "$L" save base -o "$T/sde.tar" || not_ok "save with SOURCE_DATE_EPOCH"
check "SOURCE_DATE_EPOCH stamps every entry" tar_ok "$T/sde.tar" 1700000000
if cmp -s "$T/base.tar" "$T/sde.tar"; then
        not_ok "another SOURCE_DATE_EPOCH gives other bytes (the comparison can fail)"
else
        ok "another SOURCE_DATE_EPOCH gives other bytes (the comparison can fail)"
fi

# Several images: shared blobs once, every tag kept, order of names irrelevant.
save "${ALL[@]}" -o "$T/all.tar" && ok "save ${ALL[*]} into one archive" || not_ok "save ${ALL[*]} into one archive"
rev=()
for ((i = ${#ALL[@]} - 1; i >= 0; i--)); do rev+=("${ALL[i]}"); done
save "${rev[@]}" -o "$T/all-rev.tar" || not_ok "save in reverse order"
check "the order of the names does not change the bytes" cmp "$T/all.tar" "$T/all-rev.tar"
check "the multi-image archive passes the same checks" tar_ok "$T/all.tar" 0
unique=0
separate=0
for n in "${ALL[@]}"; do
        m=$(manifest_of "$L" "$n")
        separate=$((separate + 2 + $(jq '.layers | length' "$(blob "$L" "$m")")))
done
unique=$(for n in "${ALL[@]}"; do
        m=$(manifest_of "$L" "$n")
        echo "$m"
        jq -r '.config.digest, .layers[].digest' "$(blob "$L" "$m")"
done | sort -u | wc -l)
n_blobs=$(tar -tf "$T/all.tar" | grep -c '^blobs/sha256/.')
check "shared blobs are stored once ($n_blobs blob entries, $unique distinct, $separate if saved apart)" \
        test "$n_blobs" -eq "$unique" -a "$n_blobs" -lt "$separate"
check "every image keeps both its tags" \
        test "$(tar -xOf "$T/all.tar" manifest.json | jq '[.[].RepoTags | length] | add')" -eq $((2 * ${#ALL[@]}))

save base -o "$T/tagged.tar" --tag base=localhost:5000/distroless/base:t1 --tag base=example/base:t2 \
        || not_ok "save with --tag"
check "--tag replaces the default tags" \
        jq -e '.[0].RepoTags == ["localhost:5000/distroless/base:t1", "docker.io/example/base:t2"]' \
        <(tar -xOf "$T/tagged.tar" manifest.json)

# --- skopeo: docker-archive: and oci-archive: ----------------------------------
if have skopeo; then
        check "skopeo inspect oci-archive:base.tar:distroless-base:$VERSION has our manifest digest" \
                test "$(skopeo inspect "oci-archive:$T/base.tar:distroless-base:$VERSION" | jq -r .Digest)" = "$M_BASE"
        skopeo copy -q "oci-archive:$T/base.tar:distroless-base:$VERSION" "oci:$T/from-oci-archive:base" >/dev/null 2>&1
        if have_validator; then
                check "skopeo copy oci-archive: -> oci: gives the same manifest (oci-validate --same-as)" \
                        "$OCI_VALIDATE" "$L" base --same-as "$T/from-oci-archive" --quiet
        else
                skip "skopeo copy oci-archive: -> oci: gives the same manifest" "oci-validate missing"
        fi
        check "skopeo inspect docker-archive:base.tar:distroless-base:latest" \
                skopeo inspect "docker-archive:$T/base.tar:distroless-base:latest"
        # A docker-archive source has no manifest of its own: skopeo writes a
        # new one and recompresses the layers, so only the config and the
        # uncompressed layers (diff_ids) can be compared.
        if skopeo copy -q "docker-archive:$T/base.tar:distroless-base:$VERSION" "oci:$T/from-docker-archive:base" \
                >/dev/null 2>&1; then
                ok "skopeo copy docker-archive:base.tar:distroless-base:$VERSION oci:"
                check "... the same image config, field for field" \
                        cmp <(jq -S . "$(blob "$L" "$C_BASE")") \
                            <(jq -S . "$(blob "$T/from-docker-archive" "$(config_of "$T/from-docker-archive" base)")")
                if have_validator; then
                        check "... and a valid layout" "$OCI_VALIDATE" "$T/from-docker-archive" base --quiet
                else
                        skip "... and a valid layout" "oci-validate (shared/bin) or python3-jsonschema missing"
                fi
        else
                not_ok "skopeo copy docker-archive:base.tar:distroless-base:$VERSION oci:"
        fi
        check "skopeo finds base2 by tag in the multi-image docker-archive" \
                test "$(skopeo inspect "docker-archive:$T/all.tar:distroless-base2:latest" | jq -r .Architecture)" != ""
        check "skopeo finds base2 by tag in the multi-image oci-archive" \
                test "$(skopeo inspect "oci-archive:$T/all.tar:distroless-base2:$VERSION" | jq -r .Digest)" = \
                "$(manifest_of "$L" base2)"
else
        skip "skopeo docker-archive: and oci-archive:" "skopeo not installed"
fi

# --- bad input: one line, non-zero, nothing under the requested name ---------
mkdir -p "$T/bad"
O=$T/bad/out.tar
expect_fail "unknown image: the error lists the images there" "no image named 'nope' in .*images there: base, base2" \
        "$OCI_BUILD" --layout "$L" save nope -o "$O"
expect_fail "--tag for an image not being saved" "--tag 'other=x:1' is for 'other', which is not being saved" \
        "$OCI_BUILD" --layout "$L" save base -o "$O" --tag other=x:1
expect_fail "--tag without NAME=" "--tag 'x:1' is not NAME=REPO:TAG" "$OCI_BUILD" --layout "$L" save base -o "$O" --tag x:1
expect_fail "--tag without a tag" "has no tag" "$OCI_BUILD" --layout "$L" save base -o "$O" --tag base=repo
expect_fail "--tag with capitals in the repository" "invalid repository name 'Repo'" \
        "$OCI_BUILD" --layout "$L" save base -o "$O" --tag base=Repo:1
expect_fail "--tag with a bad tag" "invalid tag '-x'" "$OCI_BUILD" --layout "$L" save base -o "$O" --tag base=repo:-x
expect_fail "--tag with a digest" "digest reference" "$OCI_BUILD" --layout "$L" save base -o "$O" \
        --tag "base=repo@$M_BASE"
expect_fail "one tag for two images" "tag 'same:1' is given to both 'base' and 'base2'" \
        "$OCI_BUILD" --layout "$L" save base base2 -o "$O" --tag base=same:1 --tag base2=same:1
expect_fail "no -o" "save needs -o FILE.tar" "$OCI_BUILD" --layout "$L" save base
expect_fail "no image name" "save needs the names of the images" "$OCI_BUILD" --layout "$L" save -o "$O"
expect_fail "output in a directory that does not exist" "cannot write '$T/bad/none/out.tar': directory '$T/bad/none' does not exist" \
        "$OCI_BUILD" --layout "$L" save base -o "$T/bad/none/out.tar"
mkdir -p "$T/bad/isdir.tar"
expect_fail "output that is a directory" "cannot write '$T/bad/isdir.tar': it is a directory" \
        "$OCI_BUILD" --layout "$L" save base -o "$T/bad/isdir.tar"
rmdir "$T/bad/isdir.tar"
expect_fail "layout that does not exist" "cannot read the OCI layout '$T/nolayout'" \
        "$OCI_BUILD" --layout "$T/nolayout" save base -o "$O"
if err=$("$OCI_BUILD" --layout "$L" save base -o - 2>&1 >&-); then
        not_ok "closed standard output fails" "the command succeeded"
elif [ "$(printf '%s\n' "$err" | wc -l)" -ne 1 ] || ! grep -q "cannot write to standard output: Bad file descriptor" <<<"$err"; then
        not_ok "closed standard output fails" "$err"
else
        ok "closed standard output fails ($err)"
fi
"$OCI_BUILD" --layout "$L" save base -o - 2>"$T/pipe.err" | head -c 10 >/dev/null
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ] && [ "$(wc -l <"$T/pipe.err")" -eq 1 ] && grep -q "cannot write to standard output: Broken pipe" "$T/pipe.err"; then
        ok "a reader that goes away fails the save ($(cat "$T/pipe.err"))"
else
        not_ok "a reader that goes away fails the save" "exit $rc" "$(cat "$T/pipe.err")"
fi

# A corrupt blob (same size, other bytes) is found while streaming; the file
# that was already there stays as it was.
cp -a "$L" "$T/corrupt"
lb=$(blob "$T/corrupt" "$(jq -r '.layers[0].digest' "$(blob "$L" "$M_BASE")")")
printf 'XXXXXXXX' | dd of="$lb" bs=1 seek=1000 conv=notrunc status=none
echo precious > "$O"
expect_fail "a corrupt blob" "is corrupt" "$OCI_BUILD" --layout "$T/corrupt" save base -o "$O"
check "the existing file is untouched by a failed save" test "$(cat "$O")" = precious
rm -f "$O"

if [ "$(id -u)" = 0 ] && mkdir -p "$T/full" && mount -t tmpfs -o size=64k tmpfs "$T/full" 2>/dev/null; then
        expect_fail "a full disk" "cannot write '$T/full/out.tar': No space left on device" \
                "$OCI_BUILD" --layout "$L" save base -o "$T/full/out.tar"
        check "the full disk holds no file afterwards" test -z "$(ls -A "$T/full")"
        umount "$T/full"
else
        skip "a full disk" "cannot mount a tmpfs here"
fi
check "no file and no temporary file was left by any bad input" test -z "$(ls -A "$T/bad")"

# Interrupted while writing: stopped as soon as the temporary file appears,
# then terminated; it must remove the temporary file and create nothing.
mkdir -p "$T/bigroot/etc/ssl/certs" "$T/bigroot/usr/share/zoneinfo" "$T/sig"
cp /etc/ssl/certs/ca-certificates.crt "$T/bigroot/etc/ssl/certs/"
head -c 150000000 /dev/urandom > "$T/bigroot/usr/share/zoneinfo/big"
if "$OCI_BUILD" -q --sysroot "$T/bigroot" --level 0 --layout "$T/big" base; then
        "$OCI_BUILD" -q --layout "$T/big" save base -o "$T/sig/big.tar" &
        pid=$!
        # (kill -0 cannot tell a finished save: it stays a zombie until waited for)
        for _ in $(seq 6000); do   # at most 30 s
                compgen -G "$T/sig/.big.tar.*.tmp" >/dev/null || [ -e "$T/sig/big.tar" ] && break
                sleep 0.005
        done
        if compgen -G "$T/sig/.big.tar.*.tmp" >/dev/null && [ ! -e "$T/sig/big.tar" ] && kill -STOP $pid 2>/dev/null; then
                partial=$(ls -A "$T/sig")
                kill -TERM $pid
                kill -CONT $pid
                wait $pid
                rc=$?
                check "SIGTERM while writing ends the save (exit $rc, was writing $partial)" test "$rc" -eq 143
                check "SIGTERM removes the temporary file and creates nothing" test -z "$(ls -A "$T/sig")"
        else
                wait $pid
                skip "SIGTERM while writing" "the save finished before it could be stopped"
        fi
else
        not_ok "build a 150 MB image to interrupt"
fi
rm -rf "$T/bigroot" "$T/big" "$T/sig"

# --- a Docker engine ---------------------------------------------------------
if start_dockerd; then
        diag "docker engine $(docker version --format '{{.Server.Version}}'), client $(docker version --format '{{.Client.Version}}')"
        t=$(now)
        out=$(docker load -i "$T/base.tar" 2>&1)
        rc=$?
        diag "docker load of base.tar ($(size_of "$T/base.tar") bytes): $(since "$t")"
        if [ $rc -eq 0 ] && grep -q "Loaded image: distroless-base:$VERSION" <<<"$out" &&
                grep -q "Loaded image: distroless-base:latest" <<<"$out"; then
                ok "docker load -i base.tar loads distroless-base:$VERSION and :latest"
        else
                not_ok "docker load -i base.tar loads distroless-base:$VERSION and :latest" "$out"
        fi
        inspect=$(docker image inspect "distroless-base:$VERSION" 2>&1)
        check "docker: image ID is our config digest" test "$(jq -r '.[0].Id' <<<"$inspect")" = "$C_BASE"
        check "docker: User is 1000:1000" test "$(jq -r '.[0].Config.User' <<<"$inspect")" = 1000:1000
        check "docker: $N_LAYERS layer(s), the config's diff_ids" \
                test "$(jq -c '.[0].RootFS.Layers' <<<"$inspect")" = "$(jq -c .rootfs.diff_ids "$(blob "$L" "$C_BASE")")"
        check "docker: RepoTags are distroless-base:$VERSION and :latest" \
                jq -e --arg v "$VERSION" '.[0].RepoTags | sort == ["distroless-base:" + $v, "distroless-base:latest"]' <<<"$inspect"
        hist=$(docker history --format '{{.CreatedBy}}' "distroless-base:$VERSION" 2>&1)
        check "docker history: one row per history entry, written by oci-build" \
                test "$(grep -c 'oci-build' <<<"$hist")" -eq "$(jq '.history | length' "$(blob "$L" "$C_BASE")")"
        if cid=$(docker create --network=none "distroless-base:$VERSION" /none 2>&1); then
                check "docker cp reads /etc/passwd out of a base container" \
                        bash -c "docker cp '$cid:/etc/passwd' - | tar -xO | grep -qx 'nonroot:x:1000:1000:nonroot:/home/nonroot:/sbin/nologin'"
                docker rm "$cid" >/dev/null
        else
                not_ok "docker create distroless-base:$VERSION" "$cid"
        fi

        t=$(now)
        out=$(docker load -i "$T/all.tar" 2>&1)
        rc=$?
        diag "docker load of all.tar (${ALL[*]}, $(size_of "$T/all.tar") bytes): $(since "$t")"
        want=$((2 * ${#ALL[@]}))
        check "docker load of the multi-image archive reports all $want tags" \
                test $rc -eq 0 -a "$(grep -c '^Loaded image: distroless-' <<<"$out")" -eq "$want"
        check "docker: base2 has its own config as image ID" \
                test "$(docker image inspect --format '{{.Id}}' "distroless-base2:latest")" = "$(config_of "$L" base2)"
        if [ -n "$HELLO" ]; then
                t=$(now)
                out=$(docker run --rm --network=none "distroless-hello:$VERSION" a b 2>&1)
                diag "docker run hello: $(since "$t")"
                has_line "docker run distroless-hello:$VERSION runs as 1000:1000" \
                        "hello from a distroless image: uid=1000 gid=1000 args=2" "$out"
        fi
        if [ -n "$CURL" ]; then
                out=$(docker run --rm --network=none "distroless-curl:$CURL_VERSION" --version 2>&1)
                has_line "docker run distroless-curl:$CURL_VERSION --version" '^curl ' "$out"
        fi

        docker load -i "$T/tagged.tar" >/dev/null 2>&1
        check "docker: --tag names are loaded" \
                bash -c "docker image inspect localhost:5000/distroless/base:t1 example/base:t2 >/dev/null"
        docker rmi -f "$C_BASE" >/dev/null 2>&1
        "$OCI_BUILD" -q --layout "$L" save base -o - | docker load >/dev/null 2>&1
        st="${PIPESTATUS[0]}${PIPESTATUS[1]}"
        check "oci-build save base -o - | docker load" \
                test "$st" = 00 -a "$(docker image inspect --format '{{.Id}}' "distroless-base:latest" 2>&1)" = "$C_BASE"

        # The judge must be able to say no.
        head -c $(($(size_of "$T/base.tar") / 2)) "$T/base.tar" > "$T/truncated.tar"
        if docker load -i "$T/truncated.tar" >/dev/null 2>&1; then
                not_ok "docker load rejects a truncated archive (the judge can fail)"
        else
                ok "docker load rejects a truncated archive (the judge can fail)"
        fi
        cp "$T/base.tar" "$T/no-manifest.tar"
        tar --delete -f "$T/no-manifest.tar" manifest.json
        if docker load -i "$T/no-manifest.tar" >/dev/null 2>&1; then
                not_ok "without manifest.json this Docker cannot load it (why save writes one)"
        else
                ok "without manifest.json this Docker cannot load it (why save writes one)"
        fi
else
        skip "docker load, inspect, history, cp, run" "$DOCKER_SKIP"
fi

# --- podman --------------------------------------------------------------------
P=(podman --root "$T/p/root" --runroot "$T/p/run" --tmpdir "$T/p/tmp" --storage-driver vfs
   --cgroup-manager cgroupfs --events-backend file --runtime runc)
if ! have podman; then
        skip "podman load" "podman not installed"
elif [ "$(id -u)" != 0 ]; then
        skip "podman load" "these checks run podman as root"
elif ! "${P[@]}" info >/dev/null 2>&1; then
        skip "podman load" "podman does not work here: $("${P[@]}" info 2>&1 | tail -n 1)"
else
        t=$(now)
        out=$("${P[@]}" load -i "$T/base.tar" 2>&1)
        rc=$?
        diag "podman load of base.tar: $(since "$t")"
        if [ $rc -eq 0 ] && grep -q "Loaded image: docker.io/library/distroless-base:$VERSION" <<<"$out" &&
                grep -q "Loaded image: docker.io/library/distroless-base:latest" <<<"$out"; then
                ok "podman load -i base.tar loads docker.io/library/distroless-base:$VERSION and :latest"
        else
                not_ok "podman load -i base.tar loads docker.io/library/distroless-base:$VERSION and :latest" "$out"
        fi
        check "podman: image ID is our config digest, User 1000:1000" \
                test "$("${P[@]}" image inspect --format '{{.Id}} {{.Config.User}}' "distroless-base:$VERSION" 2>&1)" = \
                "${C_BASE#sha256:} 1000:1000"
        t=$(now)
        out=$("${P[@]}" load -i "$T/all.tar" 2>&1)
        rc=$?
        diag "podman load of all.tar: $(since "$t")"
        check "podman load of the multi-image archive reports all $((2 * ${#ALL[@]})) tags" \
                test $rc -eq 0 -a "$(grep -c '^Loaded image: docker.io/library/distroless-' <<<"$out")" -eq $((2 * ${#ALL[@]}))
        if [ -n "$HELLO" ]; then
                out=$("${P[@]}" run --rm --network=none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
                        "docker.io/library/distroless-hello:latest" x 2>&1)
                has_line "podman run distroless-hello:latest runs as 1000:1000" \
                        "hello from a distroless image: uid=1000 gid=1000 args=1" "$out"
        fi
        if [ -n "$CURL" ]; then
                out=$("${P[@]}" run --rm --network=none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
                        "docker.io/library/distroless-curl:$CURL_VERSION" --version 2>&1)
                has_line "podman run distroless-curl:$CURL_VERSION --version" '^curl ' "$out"
        fi
fi

# --- a registry ----------------------------------------------------------------
if start_registry; then
        R=127.0.0.1:$PORT
        t=$(now)
        check "skopeo copy oci:LAYOUT:base docker://$R/distroless/base:$VERSION" \
                skopeo copy -q --dest-tls-verify=false "oci:$L:base" "docker://$R/distroless/base:$VERSION"
        diag "push of base: $(since "$t")"
        check "skopeo inspect of the pushed image shows our manifest digest" \
                test "$(skopeo inspect --tls-verify=false "docker://$R/distroless/base:$VERSION" | jq -r .Digest)" = "$M_BASE"
        skopeo copy -q --src-tls-verify=false "docker://$R/distroless/base:$VERSION" "oci:$T/back:base" >/dev/null 2>&1
        if have_validator; then
                check "copied back from the registry: the same image (oci-validate --same-as)" \
                        "$OCI_VALIDATE" "$L" base --same-as "$T/back" --quiet
        else
                check "copied back from the registry: the same manifest digest" test "$(manifest_of "$T/back" base)" = "$M_BASE"
        fi
        check "the saved archive pushes the same image (skopeo copy oci-archive: docker://)" \
                bash -c "skopeo copy -q --dest-tls-verify=false 'oci-archive:$T/base.tar:distroless-base:latest' \
                        'docker://$R/distroless/base:fromtar' && \
                        test \"\$(skopeo inspect --tls-verify=false 'docker://$R/distroless/base:fromtar' | jq -r .Digest)\" = '$M_BASE'"
        if [ -z "$DOCKER_SKIP" ]; then
                docker rmi -f "$C_BASE" >/dev/null 2>&1
                t=$(now)
                out=$(docker pull "$R/distroless/base:$VERSION" 2>&1)
                rc=$?
                diag "docker pull of base: $(since "$t")"
                check "docker pull $R/distroless/base:$VERSION (after removing the loaded copy)" test $rc -eq 0
                inspect=$(docker image inspect "$R/distroless/base:$VERSION" 2>&1)
                check "docker: the pulled image has our config as ID and our manifest as RepoDigest" \
                        jq -e --arg c "$C_BASE" --arg d "$R/distroless/base@$M_BASE" \
                        '.[0].Id == $c and (.[0].RepoDigests | index($d)) != null and .[0].Config.User == "1000:1000"' <<<"$inspect"
                if [ -n "$HELLO" ]; then
                        skopeo copy -q --dest-tls-verify=false "oci:$L:hello" "docker://$R/distroless/hello:$VERSION" >/dev/null 2>&1
                        docker rmi -f "$(config_of "$L" hello)" >/dev/null 2>&1
                        out=$(docker run --rm --network=none "$R/distroless/hello:$VERSION" 2>&1)
                        has_line "docker run of hello pulled from the registry" "uid=1000 gid=1000 args=0" "$out"
                fi
        else
                skip "docker pull from the registry" "$DOCKER_SKIP"
        fi
else
        skip "registry round trip and docker pull" "$REG_SKIP"
fi

finish
