#!/usr/bin/env bash
# oci-build tool: the six seed tools, judged by the validator, run by
# `oci-build test` (no daemon), their libraries checked against ldd as an
# oracle; the postgres data layer; and bad tool configs.
. "$(dirname "$0")/lib.sh"

TOOLS="curl jq git go node postgres"
O=$T/oci

need jq

# --- reading the layout -----------------------------------------------------
blob() {        # LAYOUT DIGEST: the blob's file
        echo "$1/blobs/sha256/${2#sha256:}"
}
manifest_of() { # LAYOUT NAME: the manifest blob of the image NAME
        blob "$1" "$(jq -r --arg n "$2" \
                '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest' "$1/index.json")"
}
layers_of() {   # LAYOUT NAME: layer digests, bottom first
        jq -r '.layers[].digest' "$(manifest_of "$1" "$2")"
}
config_of() {   # LAYOUT NAME: the image config blob
        blob "$1" "$(jq -r .config.digest "$(manifest_of "$1" "$2")")"
}
unpack() {      # NAME DIR: the layers of NAME extracted in order (ours have no whiteouts)
        local d
        mkdir -p "$2"
        for d in $(layers_of "$O" "$1"); do
                tar -xzf "$(blob "$O" "$d")" -C "$2" --numeric-owner 2>/dev/null || return 1
        done
}

# resolve_in ROOT PATH: sets REPLY to PATH resolved inside ROOT the way the
# kernel would under chroot, so that an absolute symlink of the image stays
# in the image. (No subshell: it runs for every library.)
resolve_in() {
        local root=$1 rest=$2 out="" comp target links=0
        while [ -n "$rest" ]; do
                rest=${rest#/}
                comp=${rest%%/*}
                if [ "$comp" = "$rest" ]; then rest=""; else rest=${rest#*/}; fi
                case $comp in
                "" | .) continue ;;
                ..) out=${out%/*}; continue ;;
                esac
                if [ -L "$root$out/$comp" ]; then
                        links=$((links + 1))
                        [ $links -gt 40 ] && return 1
                        target=$(readlink "$root$out/$comp")
                        case $target in /*) out="" ;; esac
                        rest="$target/$rest"
                else
                        out="$out/$comp"
                fi
        done
        REPLY=${out:-/}
}

is_elf() {      # FILE: starts with the ELF magic (read by the shell: no process per file)
        local magic=""
        [ -f "$1" ] && LC_ALL=C IFS= read -r -N 4 magic <"$1" 2>/dev/null
        [ "$magic" = $'\x7fELF' ]
}

# --- build ---------------------------------------------------------------------
start=$SECONDS
if "$OCI_BUILD" -q --layout "$O" base && "$OCI_BUILD" -q --layout "$O" tool --all; then
        ok "oci-build base and tool --all ($((SECONDS - start)) s)"
else
        not_ok "oci-build base and tool --all"
        finish
fi

# --- reproducible: the same bytes from another directory, umask and -j -----------
# The first build used the default -j (the CPUs, 2 or more here); this one
# runs one compression thread, with umask 077, from a copy of the configs
# whose files got umask 077 modes, in another working directory.
mkdir -p "$T/w2" "$T/src2"
(umask 077 && cp -r --no-preserve=mode "$SOURCE_ROOT/configs" "$SOURCE_ROOT/rootfs" "$T/src2/" &&
        ln -sfn ../usr/lib/os-release "$T/src2/rootfs/etc/os-release")
if (cd "$T/w2" && umask 077 && "$OCI_BUILD" -q -j 1 -C "$T/src2/configs" --layout ../O2 tool --all); then
        for t in $TOOLS; do
                if [ "$t" = postgres ]; then
                        # Known: initdb writes a random system identifier, a
                        # salted password and WAL with times into the data
                        # layer; every other layer must match.
                        check "reproducible: postgres has the same layers but the data layer (other dir, umask 077, -j 1)" \
                                test "$(layers_of "$T/O2" "$t" | head -n -1)" = "$(layers_of "$O" "$t" | head -n -1)"
                        [ "$(layers_of "$T/O2" "$t" | tail -n 1)" = "$(layers_of "$O" "$t" | tail -n 1)" ] ||
                                echo "# postgres: the data layer (initdb) differs between two builds"
                        continue
                fi
                check "reproducible: $t has the same manifest digest (other dir, umask 077, -j 1)" \
                        test "$(basename "$(manifest_of "$T/O2" "$t")")" = "$(basename "$(manifest_of "$O" "$t")")"
        done
else
        not_ok "second build of every tool (other dir, umask 077, -j 1)"
fi
rm -rf "$T/O2" "$T/w2" "$T/src2"

# --- each tool: validator, shared base layer, its own test -------------------------
base_layer=$(layers_of "$O" base | head -n 1)
for t in $TOOLS; do
        if have_validator; then
                check "oci-validate --distroless accepts $t" "$OCI_VALIDATE" "$O" "$t" --distroless
        else
                skip "oci-validate --distroless accepts $t" "oci-validate (shared/bin) or python3-jsonschema missing"
        fi
        check "$t: the first layer is the base image's layer" test "$(layers_of "$O" "$t" | head -n 1)" = "$base_layer"
        start=$SECONDS
        out=$("$OCI_BUILD" --layout "$O" test "$t" 2>&1)
        rc=$?
        steps=$(grep -c '^  ok:' <<<"$out")
        if [ $rc -eq 0 ] && ! grep -q FAILED <<<"$out" && [ "$steps" -gt 0 ]; then
                ok "oci-build test $t ($((SECONDS - start)) s, $steps steps)"
        elif [ $rc -eq 0 ] && [ "$steps" -eq 0 ]; then
                not_ok "oci-build test $t ran no step" "$(tail -n 20 <<<"$out")"
        elif [ "$(wc -l <<<"$out")" -eq 1 ] && grep -q 'does not allow new namespaces' <<<"$out"; then
                # Said clearly, as it must be; the docker tests run these steps.
                skip "oci-build test $t" "${out#oci-build: }"
        else
                not_ok "oci-build test $t (exit $rc)" "$(tail -n 20 <<<"$out")"
        fi
done

# --- oci-build test: how it fails ------------------------------------------------------
"$OCI_BUILD" -q --layout "$T/small" base
expect_fail "test of an image that is not built" "image 'curl' is not in $T/small: build it with 'oci-build tool curl'" \
        "$OCI_BUILD" --layout "$T/small" test curl
expect_fail "test of a config without a test" "'base' has no test" "$OCI_BUILD" --layout "$O" test base
expect_fail "test of an unknown name" "no config named 'nope'" "$OCI_BUILD" --layout "$O" test nope
# As an ordinary user, and where user namespaces are refused: test-sandbox.sh.
# A wrong expectation fails, shows the output, and leaves no temporary tree.
mkdir -p "$T/cfg-expect" "$T/tmp-expect"
cp -r "$SOURCE_ROOT/configs" "$T/cfg-expect/"
sed -i 's/expect: "42"/expect: "43"/' "$T/cfg-expect/configs/tools/jq.yml"
out=$(TMPDIR=$T/tmp-expect "$OCI_BUILD" -C "$T/cfg-expect/configs" --layout "$O" test jq 2>&1)
rc=$?
check "a step whose output lacks 'expect' fails the test" \
        test $rc -ne 0 -a -n "$(grep -F 'FAILED: /usr/bin/jq' <<<"$out" | grep -F 'does not contain "43"')"
check "... with the step's output shown" grep -qx '      42' <<<"$out"
check "... and its unpacked tree removed" test -z "$(ls -A "$T/tmp-expect")"

# --- ldd as the oracle of the library closure ------------------------------------------
# For every binary of the six configs and every ELF file of their files
# entries (git-remote-http, the postgres plugins, ...): each library ldd
# resolves on this machine must be in the image at its real path, and the
# path ldd names must lead there through the image's own symlinks. And the
# other way round: every library the tool layer carries "needed by"
# something must be one that ldd lists for some ELF file of the image.
ldd_total=0
for t in $TOOLS; do
        R=$T/root-$t
        if ! unpack "$t" "$R"; then
                not_ok "ldd oracle: unpack $t"
                continue
        fi
        # show --files prints a file's size as two words ("280.8 kB"): the
        # path of a file is the sixth field.
        files=$("$OCI_BUILD" show "$t" --files)
        binaries=$("$OCI_BUILD" show "$t" | awk '/^binaries:/ { b = 1; next } /^[^ ]/ { b = 0 } b && $1 == "-" { print $2 }')
        if [ -z "$files" ] || [ -z "$binaries" ]; then
                not_ok "ldd oracle: show $t lists its files and binaries"
                continue
        fi
        # Regular files named in the config (binaries and files entries);
        # libraries come in as "needed by" and are checked through them.
        roots=$( (printf '%s\n' $binaries
                awk '$1 == "f" && ($2 ~ /[1357]/ || $6 ~ /\.so/) && !/needed by/ { print $6 }' <<<"$files") | sort -u)
        elves=()
        for b in $roots; do
                resolve_in "$R" "$b" && is_elf "$R$REPLY" && elves+=("$b")
        done
        # One ldd for all of them ("FILE:" before each list when there are
        # several), as "LIBRARY BINARY" lines; each library is then checked
        # once, with the first binary that needs it.
        declare -A by=() seen=()
        while read -r lib b; do
                [ -n "$lib" ] && [ -z "${by[$lib]:-}" ] && by[$lib]=$b
        done < <([ ${#elves[@]} -gt 0 ] && ldd "${elves[@]}" 2>&1 |
                awk -v b="${elves[0]}" '/^[^\t].*:$/ { b = substr($0, 1, length($0) - 1); next }
                        /=>/ && $3 ~ /^\// { print $3, b; next } /=>/ { print "MISSING:" $1, b; next }
                        $1 ~ /^\// { print $1, b }')
        missing=() libs=("${!by[@]}")
        reals=()
        [ ${#libs[@]} -gt 0 ] && mapfile -t reals < <(readlink -f "${libs[@]}")
        for i in "${!libs[@]}"; do
                lib=${libs[$i]} real=${reals[$i]} b=${by[${libs[$i]}]}
                case $lib in
                MISSING:*) missing+=("$b: ldd cannot resolve ${lib#MISSING:} on this machine"); continue ;;
                esac
                seen[$real]=1
                resolve_in "$R" "$lib"
                if [ ! -f "$R$real" ] || [ -L "$R$real" ]; then
                        missing+=("$b: $lib ($real) is not in the image")
                elif [ "$REPLY" != "$real" ]; then
                        missing+=("$b: $lib does not lead to $real in the image (it leads to $REPLY)")
                fi
        done
        # The libraries of the layer are files at their real paths.
        extra=()
        while read -r lib why; do
                [ -n "${seen[$lib]:-}" ] || extra+=("$lib ($why) is in the image but ldd lists it for no ELF file")
        done < <(awk '$1 == "f" && /needed by/ { w = $0; sub(/.*needed by /, "", w); print $6, "needed by " w }' <<<"$files")
        n_seen=${#seen[@]}
        unset by seen
        ldd_total=$((ldd_total + ${#elves[@]}))
        if [ ${#elves[@]} -eq 0 ]; then
                not_ok "ldd oracle: $t: no ELF file found among its binaries"
        elif [ ${#missing[@]} -eq 0 ] && [ ${#extra[@]} -eq 0 ]; then
                ok "ldd oracle: $t: ${#elves[@]} ELF files, $n_seen libraries, the same set as ldd's"
        else
                not_ok "ldd oracle: $t differs from ldd" "${missing[@]}" "${extra[@]}"
        fi
done
check "ldd oracle looked at the git helpers and the postgres plugins ($ldd_total ELF files)" test "$ldd_total" -gt 50

# --- show --files says why -------------------------------------------------------------
check "show curl --files: libcurl is 'needed by /usr/bin/curl'" \
        bash -c "'$OCI_BUILD' show curl --files | grep -F '/libcurl.so' | grep -qF 'needed by /usr/bin/curl'"
check "show git --files: a files entry is 'named in config'" \
        bash -c "'$OCI_BUILD' show git --files | grep -F '/usr/share/git-core/templates/description' | grep -qF 'named in config'"

# --- the postgres data layer and config ----------------------------------------------------
data_layer=$(layers_of "$O" postgres | sed -n 3p)
listing=$(tar -tvzf "$(blob "$O" "$data_layer")" --numeric-owner 2>&1)
check "postgres: a third layer holds the data directory, owned 1000:1000, mode 0700" \
        grep -Eq '^drwx------ 1000/1000 .* (\./)?var/lib/postgresql/data/?$' <<<"$listing"
check "postgres: the data directory has PG_VERSION" grep -Eq ' (\./)?var/lib/postgresql/data/PG_VERSION$' <<<"$listing"
cfg=$(config_of "$O" postgres)
check "postgres: the image runs as 1000:1000" test "$(jq -r .config.User "$cfg")" = 1000:1000
check "postgres: ExposedPorts has 5432/tcp" jq -e '.config.ExposedPorts | has("5432/tcp")' "$cfg"

# --- bad tool configs: one line naming the config and the path, layout untouched ----------
C=$T/cfg
mkdir -p "$C"
cp -r "$SOURCE_ROOT/configs" "$C/configs"
cp -r "$SOURCE_ROOT/rootfs" "$C/rootfs"      # base.yml has rootfs: ../rootfs
C=$C/configs
bad() {         # NAME: the head of a bad tool config; the rest comes on stdin
        { printf 'name: %s\npackage: bad-pkg\nversion: "1"\ndescription: bad input\n' "$1"; cat; } > "$C/tools/$1.yml"
}
bad bad-elf <<<'binaries: [/usr/bin/ldd]'
bad bad-missing <<<$'binaries: [/usr/bin/jq]\nfiles:\n  - /usr/share/definitely-missing'
bad bad-dotdot <<<$'binaries: [/usr/bin/jq]\nfiles:\n  - /usr/../../etc'
bad bad-twice <<'EOF'
binaries: [/usr/bin/jq]
files:
  - { path: /opt/x, source: /etc/group }
  - { path: /opt/x, source: /etc/passwd }
EOF
bad bad-build <<<$'binaries: [/usr/bin/jq]\nbuild: { binary_path: /usr/bin/jq }'
bad bad-install <<<$'binaries: [/usr/bin/jq]\ninstall_path: /usr/bin'
bad bad-testcmd <<<$'binaries: [/usr/bin/jq]\ntest_command: [/usr/bin/jq, --version]'
printf 'name: bad-absent\npackage: some-pkg\ndescription: bad input\nbinaries: [/usr/bin/definitely-not-here]\n' \
        > "$C/tools/bad-absent.yml"

L=$T/small
before=$(tree_sum "$L")
expect_fail "unknown tool name" "no config named 'nope'" "$OCI_BUILD" -C "$C" --layout "$L" tool nope
expect_fail "a binary that is not ELF" "$C/tools/bad-elf.yml.*'/usr/bin/ldd'.*not an ELF file" \
        "$OCI_BUILD" -C "$C" --layout "$L" tool bad-elf
expect_fail "a files entry that does not exist" \
        "$C/tools/bad-missing.yml:[0-9]+.*'/usr/share/definitely-missing' does not exist" \
        "$OCI_BUILD" -C "$C" --layout "$L" tool bad-missing
expect_fail "a path with '..'" "$C/tools/bad-dotdot.yml:[0-9]+:[0-9]+: .*'/usr/\.\./\.\./etc'" \
        "$OCI_BUILD" -C "$C" --layout "$L" tool bad-dotdot
expect_fail "two sources for one image path" "$C/tools/bad-twice.yml:[0-9]+.*two different sources for '/opt/x'" \
        "$OCI_BUILD" -C "$C" --layout "$L" tool bad-twice
expect_fail "the seed design's 'build:' names 'binaries' instead" \
        "$C/tools/bad-build.yml:[0-9]+:[0-9]+: key 'build' is not supported.*'binaries'" \
        "$OCI_BUILD" -C "$C" --layout "$L" tool bad-build
expect_fail "the seed design's 'install_path:' names 'files' instead" \
        "$C/tools/bad-install.yml:[0-9]+:[0-9]+: key 'install_path' is not supported.*'files'" \
        "$OCI_BUILD" -C "$C" --layout "$L" tool bad-install
expect_fail "the seed design's 'test_command:' names 'test' instead" \
        "$C/tools/bad-testcmd.yml:[0-9]+:[0-9]+: key 'test_command' is not supported.*'test: " \
        "$OCI_BUILD" -C "$C" --layout "$L" tool bad-testcmd
expect_fail "a tool that is not installed names the package to install" \
        "$C/tools/bad-absent.yml.*apt-get install some-pkg" "$OCI_BUILD" -C "$C" --layout "$L" tool bad-absent

# A library that cannot be found: a sysroot with the base image's files and
# a shared object that needs libz, which that sysroot lacks.
if have cc; then
        S=$T/sys
        mkdir -p "$S/etc/ssl/certs" "$S/usr/share/zoneinfo" "$S/usr/lib"
        cp /etc/ssl/certs/ca-certificates.crt "$S/etc/ssl/certs/"
        echo UTC > "$S/usr/share/zoneinfo/UTC"
        echo 'int needs_zlib(void) { return 0; }' > "$T/needz.c"
        if cc -shared -nostdlib -Wl,--no-as-needed -o "$S/usr/lib/needz.so" "$T/needz.c" -lz 2>/dev/null; then
                bad bad-lib <<<'binaries: [/usr/lib/needz.so]'
                expect_fail "a library that cannot be found" \
                        "$C/tools/bad-lib.yml.*'/usr/lib/needz.so'.*libz\.so\.1 \(needed by /usr/lib/needz\.so\) not found" \
                        "$OCI_BUILD" -C "$C" --sysroot "$S" --layout "$L" tool bad-lib
        else
                skip "a library that cannot be found" "cannot link against libz here (zlib1g-dev missing)"
        fi
else
        skip "a library that cannot be found" "no C compiler"
fi
check "the layout is exactly as it was after every bad config" test "$(tree_sum "$L")" = "$before"

# --- versions and tags ----------------------------------------------------------------------
# The rule of README's "Versions and tags", written again here as the
# oracle: epoch dropped, '~' -> '-', '+' and anything else a tag cannot hold
# -> '_'. git's Debian version has an epoch and a '+' ("1:2.39.5-0+deb12u3").
deb_tag() {
        sed -E 's/^[0-9]+://; s/~/-/g; s/[^A-Za-z0-9_.-]/_/g; s/^[.-]/_/; s/^(.{128}).*/\1/' <<<"$1"
}
git_deb=$(dpkg-query -W -f='${Version}' git 2>/dev/null)
git_upstream=$(dpkg-query -W -f='${source:Upstream-Version}' git 2>/dev/null)
if [ -n "$git_deb" ] && [ -n "$git_upstream" ]; then
        git_tag=$(deb_tag "$git_deb")
        echo "# git $git_deb is tagged $git_tag"
        check "git: the tag $git_tag is a valid tag" grep -Eqx '[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}' <<<"$git_tag"
        check "git: the tag starts with the upstream version $git_upstream" \
                test "${git_tag#"$(deb_tag "$git_upstream")"}" != "$git_tag"
        git_m=$(manifest_of "$O" git)
        check "git: the manifest's image version is the tag, its org.debian.version the Debian version" \
                jq -e --arg t "$git_tag" --arg d "$git_deb" '.annotations["org.opencontainers.image.version"] == $t
                        and .annotations["org.debian.version"] == $d and .annotations["org.debian.package"] == "git"' \
                "$git_m"
        check "git: its index.json descriptor has org.debian.version too" \
                jq -e --arg d "$git_deb" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "git")
                        | .annotations["org.debian.version"] == $d' "$O/index.json"
        if "$OCI_BUILD" --layout "$O" save git -o "$T/git.tar" >/dev/null 2>"$T/save.err"; then
                check "save git: manifest.json tags it distroless-git:$git_tag" \
                        jq -e --arg t "docker.io/library/distroless-git:$git_tag" '.[0].RepoTags | index($t) != null' \
                        <(tar -xOf "$T/git.tar" manifest.json)
                check "save git: index.json names it distroless-git:$git_tag" \
                        jq -e --arg t "distroless-git:$git_tag" \
                        '[.manifests[].annotations["org.opencontainers.image.ref.name"]] | index($t) != null' \
                        <(tar -xOf "$T/git.tar" index.json)
        else
                not_ok "save git" "$(cat "$T/save.err")"
        fi
        check "show git: the built image's version beside its Debian version" \
                grep -qxF "  version: $git_tag (Debian package 'git' $git_deb)" <(LC_ALL=C "$OCI_BUILD" --layout "$O" show git)
else
        skip "git's tag from its Debian version" "git is not in this machine's dpkg database"
fi

# --- what to install: every missing package in one line -----------------------------------
# A copy of the configs whose jq, go, node and postgres name packages that
# no machine has (jq also a binary that is not there, with a version of its
# own, so its package is asked for by the binary); curl and git stay.
M=$T/cfg-missing
mkdir -p "$M"
cp -r "$SOURCE_ROOT/configs" "$M/configs"
cp -r "$SOURCE_ROOT/rootfs" "$M/rootfs"
rm -rf "$M/configs/apps"
for t in jq go node postgres; do
        sed -i -E 's/^package: *([^ #]+).*/package: absent-\1/' "$M/configs/tools/$t.yml"
done
sed -i -E 's|^package: (.*)|version: "1"\npackage: \1|; s|^  - /usr/bin/jq$|  - /usr/bin/jq-absent|' "$M/configs/tools/jq.yml"
expect_fail "tool --all names every tool that is not installed, and one apt-get line for all" \
        "^oci-build: 4 tools are not installed in the sysroot: go \(absent-golang-go\), jq \(absent-jq\), node \(absent-nodejs\), postgres \(absent-postgresql-15\): apt-get install absent-golang-go absent-jq absent-nodejs absent-postgresql-15$" \
        "$OCI_BUILD" -C "$M/configs" --layout "$T/missing-oci" tool --all
check "... and writes no layout" test ! -e "$T/missing-oci"
# A tool that fails for another reason still fails at once, with its own message.
printf 'name: zz-broken\nversion: "1"\ndescription: not ELF\nbinaries: [/usr/bin/ldd]\n' > "$M/configs/tools/zz-broken.yml"
expect_fail "... but a tool that fails otherwise stops the build with its own message" \
        "zz-broken\.yml: binary '/usr/bin/ldd'.*not an ELF file" \
        "$OCI_BUILD" -C "$M/configs" --layout "$T/missing-oci" tool --all

# --- a misspelt binary of an installed package --------------------------------------------
if dpkg-query -W -f='${Status}' jq 2>/dev/null | grep -q 'install ok installed'; then
        J=$T/cfg-typo
        mkdir -p "$J"
        cp -r "$SOURCE_ROOT/configs" "$J/configs"
        cp -r "$SOURCE_ROOT/rootfs" "$J/rootfs"
        sed -i 's|^  - /usr/bin/jq$|  - /usr/bin/jqq|' "$J/configs/tools/jq.yml"
        expect_fail "a misspelt binary says the installed package does not have it, and what it has" \
                "jq\.yml: binary '/usr/bin/jqq' does not exist, and the installed Debian package 'jq' does not have it; its programs are .*/usr/bin/jq" \
                "$OCI_BUILD" -C "$J/configs" --layout "$T/typo-oci" tool jq
        err=$("$OCI_BUILD" -C "$J/configs" --layout "$T/typo-oci" tool jq 2>&1)
        check "... and does not tell to install what is installed" test -z "$(grep -F 'apt-get install' <<<"$err")"
else
        skip "a misspelt binary of an installed package" "jq is not in this machine's dpkg database"
fi

# --- files beside the config -------------------------------------------------------------
# A 'files' source written relative to the tool's config is a file of the
# directory that holds the config, whichever directory the command runs
# from; an absolute source stays a path of the sysroot.
if dpkg-query -W -f='${Status}' jq 2>/dev/null | grep -q 'install ok installed'; then
        B=$T/cfg-beside
        mkdir -p "$B/configs/tools/jq-extra/share" "$T/elsewhere"
        cp "$SOURCE_ROOT/configs/base.yml" "$B/configs/"
        cp -r "$SOURCE_ROOT/rootfs" "$B/rootfs"
        cp "$SOURCE_ROOT/configs/tools/jq.yml" "$B/configs/tools/"
        echo '{"greeting": "beside the config"}' > "$B/configs/tools/jq-extra/input.json"
        echo 'share me' > "$B/configs/tools/jq-extra/share/readme.txt"
        printf 'files:\n  - { path: /srv/input.json, source: jq-extra/input.json }\n%s\n%s\n' \
                '  - { path: /usr/share/jq-extra, source: ./jq-extra/share }' \
                '  - { path: /etc/jq-passwd, source: /etc/passwd }' >> "$B/configs/tools/jq.yml"
        if (cd "$T/elsewhere" && "$OCI_BUILD" -q -C ../cfg-beside/configs --layout ../beside-oci tool jq) 2>"$T/beside.err"; then
                ok "a tool whose files sit beside its config builds from another directory"
                if have umoci; then
                        rm -rf "$T/beside-bundle"
                        umoci --log error unpack --image "$T/beside-oci:jq" "$T/beside-bundle" >/dev/null 2>&1
                        R=$T/beside-bundle/rootfs
                        check "... umoci unpacks it, with the file beside the config at /srv/input.json" \
                                cmp "$B/configs/tools/jq-extra/input.json" "$R/srv/input.json"
                        check "... and the directory beside it at /usr/share/jq-extra" \
                                cmp "$B/configs/tools/jq-extra/share/readme.txt" "$R/usr/share/jq-extra/readme.txt"
                        check "... an absolute source still comes from the sysroot (/etc/passwd)" \
                                cmp /etc/passwd "$R/etc/jq-passwd"
                        check "... and jq in the image reads the file: $(chroot "$R" /usr/bin/jq -r .greeting /srv/input.json 2>&1)" \
                                test "$(chroot "$R" /usr/bin/jq -r .greeting /srv/input.json 2>&1)" = "beside the config"
                else
                        skip "files beside the config, unpacked" "umoci not installed"
                fi
        else
                not_ok "a tool whose files sit beside its config builds from another directory" "$(cat "$T/beside.err")"
        fi
        rm "$B/configs/tools/jq-extra/input.json"
        expect_fail "... a missing one names the config line and the path looked for" \
                "^oci-build: \.\./cfg-beside/configs/tools/jq\.yml:[0-9]+: files entry '/srv/input\.json': '$B/configs/tools/jq-extra/input\.json': No such file or directory$" \
                bash -c "cd '$T/elsewhere' && exec '$OCI_BUILD' -q -C ../cfg-beside/configs --layout ../beside-oci tool jq"
else
        skip "files beside the config" "jq is not in this machine's dpkg database"
fi

finish
