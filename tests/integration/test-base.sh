#!/usr/bin/env bash
# oci-build base, judged by real OCI tools: oci-validate, umoci, oci-image-tool,
# skopeo; reproducibility; and what happens with bad input.
. "$(dirname "$0")/lib.sh"

A=$T/a
mkdir -p "$T/w1"
(cd "$T/w1" && umask 022 && "$OCI_BUILD" -q base --layout "$A") && ok "oci-build base into a new directory" \
        || not_ok "oci-build base into a new directory"

# --- the real judges -------------------------------------------------------
if have_validator; then
        check "oci-validate --distroless accepts the base image" "$OCI_VALIDATE" "$A" base --distroless
else
        skip "oci-validate --distroless accepts the base image" "oci-validate (shared/bin) or python3-jsonschema missing"
fi

if have umoci; then
        if umoci --log error unpack --image "$A:base" "$T/bundle" >/dev/null 2>&1; then
                ok "umoci unpack verifies and unpacks the image"
                R=$T/bundle/rootfs
                check "passwd has nonroot 1000:1000 with /sbin/nologin" \
                        grep -qx 'nonroot:x:1000:1000:nonroot:/home/nonroot:/sbin/nologin' "$R/etc/passwd"
                check "passwd has root and nobody" grep -q '^nobody:x:65534:65534:' "$R/etc/passwd"
                check "group has nonroot 1000" grep -qx 'nonroot:x:1000:' "$R/etc/group"
                check "/tmp is 1777" test "$(stat -c %a "$R/tmp")" = 1777
                check "/root is 0700" test "$(stat -c %a "$R/root")" = 700
                check "/home/nonroot is 0700 owned 1000:1000" \
                        test "$(stat -c '%a %u:%g' "$R/home/nonroot")" = "700 1000:1000"
                check "CA bundle is the sysroot's" cmp -s "$R/etc/ssl/certs/ca-certificates.crt" /etc/ssl/certs/ca-certificates.crt
                check "os-release is a symlink to ../usr/lib/os-release" \
                        test "$(readlink "$R/etc/os-release")" = ../usr/lib/os-release
                check "os-release says Distroless" grep -q '^PRETTY_NAME="Distroless"' "$R/usr/lib/os-release"
                check "nsswitch.conf is there" grep -q '^hosts:' "$R/etc/nsswitch.conf"
                n_host=$(find /usr/share/zoneinfo | wc -l)
                n_img=$(find "$R/usr/share/zoneinfo" | wc -l)
                check "zoneinfo is complete ($n_img of $n_host paths)" test "$n_host" -eq "$n_img"
                l=$(cd /usr/share/zoneinfo && find . -type l | head -n 1)
                if [ -n "$l" ]; then
                        check "zoneinfo symlinks stay symlinks ($l)" \
                                test "$(readlink "$R/usr/share/zoneinfo/$l")" = "$(readlink "/usr/share/zoneinfo/$l")"
                fi
                check "no shell, no executable file" test -z "$(find "$R" -type f -perm /111 -print -quit)"
                check "no setuid or setgid file" test -z "$(find "$R" -perm /6000 -print -quit)"
        else
                not_ok "umoci unpack verifies and unpacks the image" "$(umoci --log error unpack --image "$A:base" "$T/bundle2" 2>&1 | tail -3)"
        fi
else
        skip "umoci unpack" "umoci not installed"
fi

if have oci-image-tool; then
        check "oci-image-tool validate accepts the layout" oci-image-tool validate --type image --ref name=base "$A"
else
        skip "oci-image-tool validate" "oci-image-tool not installed"
fi

if have skopeo && have jq; then
        cfg=$(skopeo inspect --config "oci:$A:base" 2>&1)
        check "skopeo: User is 1000:1000" test "$(jq -r .config.User <<<"$cfg")" = 1000:1000
        check "skopeo: WorkingDir is /home/nonroot" test "$(jq -r .config.WorkingDir <<<"$cfg")" = /home/nonroot
        check "skopeo: Env has PATH and SSL_CERT_FILE" \
                jq -e '(.config.Env | index("SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt")) and
                       ([.config.Env[] | select(startswith("PATH="))] | length == 1)' <<<"$cfg"
        arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
        check "skopeo: architecture $arch, os linux" test "$(jq -r '.architecture + "/" + .os' <<<"$cfg")" = "$arch/linux"
        check "skopeo: created is SOURCE_DATE_EPOCH (0)" test "$(jq -r .created <<<"$cfg")" = 1970-01-01T00:00:00Z
        check "skopeo: one history entry per layer" \
                jq -e '(.history | length) == (.rootfs.diff_ids | length)' <<<"$cfg"
        raw=$(skopeo inspect --raw "oci:$A:base")
        check "manifest annotations: title, description, version, created" \
                jq -e '.annotations | has("org.opencontainers.image.title") and has("org.opencontainers.image.description")
                       and .["org.opencontainers.image.version"] != null and .["org.opencontainers.image.created"] == "1970-01-01T00:00:00Z"' <<<"$raw"
        check "index names the image for skopeo and containerd" \
                jq -e '.manifests[0].annotations["org.opencontainers.image.ref.name"] == "base"
                       and (.manifests[0].annotations["io.containerd.image.name"] | test("distroless-base:"))' "$A/index.json"
else
        skip "skopeo inspect" "skopeo or jq not installed"
fi

# --- reproducibility -------------------------------------------------------
# Another output directory, another working directory, another umask, later,
# and from a copy of the configs whose files got umask 077 modes.
sleep 1
mkdir -p "$T/w2" "$T/src2"
(umask 077 && cp -r --no-preserve=mode "$SOURCE_ROOT/configs" "$SOURCE_ROOT/rootfs" "$T/src2/" \
        && ln -sfn ../usr/lib/os-release "$T/src2/rootfs/etc/os-release")
(cd "$T/w2" && umask 077 && TMPDIR=$T "$OCI_BUILD" -q -C "$T/src2/configs" --layout ../b base) \
        && ok "second build from another directory, umask 077, a copy of the configs" \
        || not_ok "second build from another directory, umask 077, a copy of the configs"
(cd "$T/w2" && "$OCI_BUILD" -q --layout ../c -j 1 base) || not_ok "third build with one thread"
if have_validator; then
        check "reproducible: same manifest digest in both layouts (oci-validate --same-as)" \
                "$OCI_VALIDATE" "$A" base --same-as "$T/b" --quiet
        check "reproducible with one compression thread" "$OCI_VALIDATE" "$A" base --same-as "$T/c" --quiet
        SOURCE_DATE_EPOCH=1700000000 "$OCI_BUILD" -q --layout "$T/d1" base
        (cd "$T/w1" && SOURCE_DATE_EPOCH=1700000000 "$OCI_BUILD" -q --layout "$T/d2" base)
        check "reproducible with SOURCE_DATE_EPOCH=1700000000" "$OCI_VALIDATE" "$T/d1" base --same-as "$T/d2" --quiet
        if "$OCI_VALIDATE" "$A" base --same-as "$T/d1" --quiet >/dev/null 2>&1; then
                not_ok "a different SOURCE_DATE_EPOCH gives a different manifest (the check can fail)"
        else
                ok "a different SOURCE_DATE_EPOCH gives a different manifest (the check can fail)"
        fi
else
        skip "reproducibility (oci-validate --same-as)" "oci-validate missing"
fi
check "reproducible: identical blob sets" diff <(ls "$A/blobs/sha256") <(ls "$T/b/blobs/sha256")

# --- rebuild and clean -----------------------------------------------------
"$OCI_BUILD" -q --layout "$A" base
check "rebuilding replaces the entry of the same name" \
        test "$(jq '[.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "base")] | length' "$A/index.json")" = 1
check "list shows base as built" bash -c "'$OCI_BUILD' --layout '$A' list | grep -Eq '^base +base +yes'"
check "show base prints the user" bash -c "'$OCI_BUILD' --layout '$A' show base | grep -q 'user: 1000:1000'"
check "show base --files says why /etc/passwd is there" \
        bash -c "'$OCI_BUILD' show base --files | grep -E '/etc/passwd' | grep -q \"generated from 'users'\""
check "show base --files lists zoneinfo symlinks with their targets" \
        bash -c "'$OCI_BUILD' show base --files | grep -E '^l .*/usr/share/zoneinfo/' | grep -q -- '-> '"
touch "$A/blobs/sha256/0000000000000000000000000000000000000000000000000000000000000000"
"$OCI_BUILD" -q --layout "$A" clean base
check "clean base empties the index" test "$(jq '.manifests | length' "$A/index.json")" = 0
check "clean deletes every unreferenced blob" test -z "$(ls -A "$A/blobs/sha256")"
check "the cleaned layout still takes a build" "$OCI_BUILD" -q --layout "$A" base
if have_validator; then
        check "... which oci-validate accepts" "$OCI_VALIDATE" "$A" base --quiet
else
        skip "... which oci-validate accepts" "oci-validate (shared/bin) or python3-jsonschema missing"
fi
expect_fail "clean of an unknown name" "no image named 'nope'" "$OCI_BUILD" --layout "$A" clean nope

# --- CLI --------------------------------------------------------------------
check "--help explains the commands" bash -c "'$OCI_BUILD' --help | grep -q 'clean \[NAME... | --all\]'"
check "base --help explains base" bash -c "'$OCI_BUILD' base --help | grep -q 'rootfs/'"
ver=$("$OCI_BUILD" --version | awk '{print $2}')
check "os-release VERSION_ID equals oci-build --version ($ver)" \
        grep -qx "VERSION_ID=\"$ver\"" "$SOURCE_ROOT/rootfs/usr/lib/os-release"

# --- bad input: one line, non-zero, layout untouched -------------------------
"$OCI_BUILD" -q --layout "$T/good" base
before=$(tree_sum "$T/good")
expect_fail "unknown command" "unknown command 'frobnicate'" "$OCI_BUILD" --layout "$T/good" frobnicate
expect_fail "unknown option" "unknown option '--frob'" "$OCI_BUILD" --layout "$T/good" base --frob
expect_fail "option of another command" "base does not take --files" "$OCI_BUILD" --layout "$T/good" base --files
# Progress goes to stderr: a line when an image starts and when it is done,
# with its compressed size; nothing with -q.
# (One build: a second one of the same base would change nothing, and say so.)
progress=$("$OCI_BUILD" --layout "$T/progress" base 2>&1 >/dev/null)
check "progress says when base starts and is done" bash -c "grep -Eq '^base: writing 1 layer \(.* of files\)\$' <<<'$progress' && \
        grep -Eq '^base: done, [0-9.]+ [kM]?B compressed, [0-9.]+ s\$' <<<'$progress'"
check "-q prints nothing but errors" test -z "$("$OCI_BUILD" -q --layout "$T/progress" base 2>&1)"
# Exit status: 2 when the command line is wrong, 1 when the work failed.
exit_status() { "$@" >/dev/null 2>&1; echo $?; }
check "exit 2 for an unknown option" test "$(exit_status "$OCI_BUILD" --layout "$T/good" base --frob)" = 2
check "exit 2 for an option of another command" test "$(exit_status "$OCI_BUILD" --layout "$T/good" base --files)" = 2
check "exit 2 for a missing operand" test "$(exit_status "$OCI_BUILD" --layout "$T/good" tool)" = 2
# One meaning per option: -o is a file (save, compose); a layout is --layout/-L.
check "exit 2 for -o on a build, which writes no file" test "$(exit_status "$OCI_BUILD" -o "$T/good" base)" = 2
expect_fail "-o on a build says to use --layout" "base writes no file, so it takes no -o; the layout directory is named with --layout DIR" \
        "$OCI_BUILD" -o "$T/good" base
check "-L names the layout as --layout does" bash -c "cd '$T' && '$OCI_BUILD' -q -L short-l base && test -f short-l/index.json && \
        '$OCI_BUILD' -L short-l list base | grep -Eq '^base +base +yes'"
check "exit 2 for operands and --all together" test "$(exit_status "$OCI_BUILD" --layout "$T/good" tool --all curl)" = 2
check "exit 2 for an unknown command" test "$(exit_status "$OCI_BUILD" frobnicate)" = 2
check "exit 1 for an unknown config" test "$(exit_status "$OCI_BUILD" --layout "$T/good" tool nope)" = 1
check "exit 1 for an image not in the layout" test "$(exit_status "$OCI_BUILD" --layout "$T/good" clean nope)" = 1
expect_fail "missing configs dir" "configs directory '$T/none'" "$OCI_BUILD" -C "$T/none" --layout "$T/good" base
mkdir -p "$T/badcfg"
printf 'name: base\ndescription: x\ndirectoires: []\n' > "$T/badcfg/base.yml"
expect_fail "unknown key in base.yml names file:line:col" "$T/badcfg/base.yml:3:1: unknown key 'directoires'.*did you mean 'directories'" \
        "$OCI_BUILD" -C "$T/badcfg" --layout "$T/good" base
expect_fail "bad SOURCE_DATE_EPOCH" "SOURCE_DATE_EPOCH must be" env SOURCE_DATE_EPOCH=yesterday "$OCI_BUILD" --layout "$T/good" base

# A sysroot whose files are wrong in different ways.
mk_sysroot() {
        rm -rf "$T/sys"
        mkdir -p "$T/sys/etc/ssl/certs" "$T/sys/usr/share/zoneinfo"
        echo UTC > "$T/sys/usr/share/zoneinfo/UTC"
}
mk_sysroot
expect_fail "missing source file" "'/etc/ssl/certs/ca-certificates.crt' does not exist" \
        "$OCI_BUILD" --sysroot "$T/sys" --layout "$T/good" base
mkfifo "$T/sys/etc/ssl/certs/ca-certificates.crt"
expect_fail "source that is not a regular file" "ca-certificates.crt' is not a regular file" \
        "$OCI_BUILD" --sysroot "$T/sys" --layout "$T/good" base
mk_sysroot
ln -s ../../../../../../../etc/ssl/certs/ca-certificates.crt "$T/sys/etc/ssl/certs/ca-certificates.crt"
expect_fail "symlink source escaping the sysroot" "escapes the sysroot" \
        "$OCI_BUILD" --sysroot "$T/sys" --layout "$T/good" base
if have setpriv; then
        mk_sysroot
        cp /etc/ssl/certs/ca-certificates.crt "$T/sys/etc/ssl/certs/"
        chmod 000 "$T/sys/etc/ssl/certs/ca-certificates.crt"
        chmod 755 "$T" "$T/sys"
        mkdir -m 777 "$T/open"
        expect_fail "unreadable source file" "cannot read '$T/sys/etc/ssl/certs/ca-certificates.crt'" \
                setpriv --reuid=65534 --regid=65534 --clear-groups "$OCI_BUILD" --sysroot "$T/sys" -C "$SOURCE_ROOT/configs" --layout "$T/open/out" base
        check "nothing was created for the failed build" test ! -e "$T/open/out"
        expect_fail "output directory that cannot be created" "cannot create output directory '$T/good/sub'" \
                setpriv --reuid=65534 --regid=65534 --clear-groups "$OCI_BUILD" -C "$SOURCE_ROOT/configs" --layout "$T/good/sub" base
        expect_fail "existing layout that is not writable" "output directory '$T/good' is not writable" \
                setpriv --reuid=65534 --regid=65534 --clear-groups "$OCI_BUILD" -C "$SOURCE_ROOT/configs" --layout "$T/good" base
else
        skip "unreadable source and unwritable output" "setpriv missing"
fi
mkdir -p "$T/notlayout"
echo precious > "$T/notlayout/data.txt"
expect_fail "output that exists but is not an OCI layout" "is not an OCI image layout" \
        "$OCI_BUILD" --layout "$T/notlayout" base
check "the non-layout directory is untouched" test "$(ls -A "$T/notlayout")" = data.txt
echo x > "$T/afile"
expect_fail "output that is a file" "is not a directory" "$OCI_BUILD" --layout "$T/afile" base
check "the layout is exactly as it was after every bad input" test "$(tree_sum "$T/good")" = "$before"

# --- killed in the middle ----------------------------------------------------
# A sysroot with a large random file makes the build last long enough to
# interrupt it; the layout must stay valid and temporary files must go.
mk_sysroot
cp /etc/ssl/certs/ca-certificates.crt "$T/sys/etc/ssl/certs/"
head -c 400000000 /dev/urandom > "$T/sys/usr/share/zoneinfo/big" 2>/dev/null
for sig in TERM KILL; do
        before=$(jq -cS . "$T/good/index.json")
        "$OCI_BUILD" -q --sysroot "$T/sys" --layout "$T/good" -j 1 --level 12 base &
        pid=$!
        # In the middle: its temporary blob exists (and it has not finished).
        if wait_for 60 compgen -G "$T/good/.oci-build-*.tmp"; then
                kill -$sig $pid
                wait $pid
                rc=$?
                want=$((128 + $(kill -l $sig)))
                check "SIG$sig in the middle of writing a blob ends the build (exit $rc)" test "$rc" -eq "$want"
        else
                kill -KILL $pid 2>/dev/null
                wait $pid
                not_ok "SIG$sig: the build was caught in the middle" "no temporary blob appeared within 60 s"
        fi
        check "SIG$sig: index.json is unchanged" test "$(jq -cS . "$T/good/index.json")" = "$before"
        if [ $sig = TERM ]; then
                check "SIGTERM: no temporary file is left behind" test -z "$(ls -A "$T/good" | grep '\.tmp')"
        else
                check "SIGKILL: the temporary blob is left (nothing could remove it)" \
                        test -n "$(ls -A "$T/good" | grep '\.tmp')"
        fi
        if have_validator; then
                check "SIG$sig: the layout is still valid" "$OCI_VALIDATE" "$T/good" --quiet
        else
                skip "SIG$sig: the layout is still valid" "oci-validate (shared/bin) or python3-jsonschema missing"
        fi
done
before=$(jq -cS . "$T/good/index.json")
"$OCI_BUILD" -q --layout "$T/good" clean
check "clean removes what an interrupted build left" test -z "$(ls -A "$T/good" | grep '\.tmp')"
check "clean without names removes no image" test "$(jq -cS . "$T/good/index.json")" = "$before"
check "clean --all removes every image" bash -c "'$OCI_BUILD' -q --layout '$T/good' clean --all && \
        test \"\$(jq '.manifests | length' '$T/good/index.json')\" = 0 && test -z \"\$(ls -A '$T/good/blobs/sha256')\""
expect_fail "clean takes names or --all, not both" "give image names or --all, not both" \
        "$OCI_BUILD" --layout "$T/good" clean --all base

finish
