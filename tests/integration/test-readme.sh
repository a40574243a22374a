#!/usr/bin/env bash
# The README as a test: every command of its ```sh blocks runs, verbatim and
# in README order, from the top directory of a private copy of the tree
# under test, one TAP check each ("ok N - README:LINE: COMMAND").
#
# The copy holds the files git knows of (tracked, with their uncommitted
# changes, and untracked ones that are not ignored), so it is the tree under
# test, not the last commit. Its build/oci-build runs the binary under test
# with the copy's own configs/: a binary built in a clone reads that clone's
# configs/, and this one, built elsewhere, is told so with -C. Downloads,
# npm's cache and Docker's client config stay under the test's directory.
#
# A command that cannot run here carries a marker as the last comment of
# its line, which the test reads:
#   # needs: apt             setup.sh and test.sh: they install packages and
#                            would run this suite recursively; the test
#                            checks that the script exists and is
#                            executable, then does what setup.sh ends with
#                            (./build/oci-build base), as a user's copy has
#   # needs: docker          run against a private dockerd on a socket under
#                            the test's directory, no bridge, stopped by PID
#   # needs: docker-network  needs Docker's bridge network, which the test
#                            must not create: a `docker-compose ... up -d` is
#                            run with `config -q` instead (the file is
#                            checked, nothing starts); anything else is
#                            skipped with the reason
#   # needs: registry        registry.example.com is replaced by a registry
#                            on 127.0.0.1 (only the host changes; skopeo
#                            trusts the registry's certificate through
#                            SSL_CERT_FILE), and the image is read back
#   # needs: internet        run without a network (a network namespace of
#                            its own): it must fail with one error line, an
#                            app build naming its URL, and leave the layout
#                            without the app and without stray files; the
#                            app build alone is then repeated offline and
#                            must leave the layout byte for byte unchanged
#   # example                shows a command's syntax: skipped, visibly
# Any other marker fails the test, so a new kind needs a rule here.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/docker.sh"

README=$SOURCE_ROOT/README.md
COPY=$T/repo
LAYOUT=$COPY/oci
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }

# --- the copy ----------------------------------------------------------------
mkdir -p "$COPY/build"
if ! (cd "$SOURCE_ROOT" && git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do
                # deleted in the working tree: not part of the tree under test
                [ -e "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"
        done | tar --null -T - -cf -) | tar -C "$COPY" -xf -; then
        not_ok "copy of the tree under test"
        finish
fi
cat > "$COPY/build/oci-build" <<EOF
#!/bin/sh
exec "$OCI_BUILD" -C "$COPY/configs" "\$@"
EOF
chmod +x "$COPY/build/oci-build"

export OCI_BUILD_CACHE=$T/cache
export npm_config_cache=$T/npm-cache
export npm_config_registry=http://127.0.0.1:$(free_port)   # nothing listens: the notes build is offline
export DOCKER_CONFIG=$T/docker-config
mkdir -p "$DOCKER_CONFIG"
echo '{}' > "$DOCKER_CONFIG/config.json"
export SOURCE_DATE_EPOCH=0

# --- the commands of the README --------------------------------------------
# One record per command: LINE, a tab, the command (continuation lines
# joined with newlines, as the shell reads them), NUL.
commands() {
        awk '
        /^```/ { if (inblock) { inblock = 0; next } if ($0 == "```sh") { inblock = 1 } next }
        !inblock { next }
        {
                if (cmd == "") start = NR
                cmd = cmd == "" ? $0 : cmd "\n" $0
                if ($0 ~ /\\$/) next
                if (cmd !~ /^[ \t]*$/) printf "%d\t%s%c", start, cmd, 0
                cmd = ""
        }' "$README"
}

# The marker: the last comment of the command's last line, if it is one.
marker_of() {
        local last=${1##*$'\n'}
        if [[ $last =~ \#[[:space:]]*(needs:[[:space:]]*[a-z-]+|example)[[:space:]]*$ ]]; then
                echo "${BASH_REMATCH[1]}" | tr -d ' '
        fi
}

# The command as a one-line TAP description: without its comments, '#'
# escaped (TAP reads "# SKIP" after it).
describe() {
        printf '%s' "$1" | sed -E 's/[[:space:]]+#[[:space:]].*$//' | tr '\n' ' ' | tr -s ' ' | sed 's/#/\\#/g'
}

run_in_copy() {  # run_in_copy COMMAND -- as typed at a prompt in the copy; output in $T/out, $T/err
        (cd "$COPY" && timeout -k 10 900 bash -o pipefail -c "$1") >"$T/out" 2>"$T/err"
}

# TAP diagnostics: every line of the text, as a comment.
details() { sed 's/^/#   /'; }

report() {  # report DESC RC [NOTE]
        if [ "$2" -eq 0 ]; then
                ok "$1${3:+ ($3)}"
        else
                not_ok "$1" "exit status $2"
                { tail -n 15 "$T/err"; tail -n 5 "$T/out"; } | details
        fi
}

# No image named pocket-id (or NAME), and nothing in the layout but what a
# layout holds: what a failed build must leave.
layout_clean() {  # layout_clean NAME
        local stray
        stray=$(cd "$LAYOUT" && find . -mindepth 1 -regextype posix-extended ! -path ./blobs ! -path ./blobs/sha256 ! -path ./index.json \
                ! -path ./oci-layout ! -regex '\./blobs/sha256/[0-9a-f]{64}')
        [ -z "$stray" ] || { echo "stray files: $stray"; return 1; }
        ! jq -e --arg n "$1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n)' \
                "$LAYOUT/index.json" >/dev/null || { echo "the layout names an image '$1'"; return 1; }
}

DOCKER_STATE=     # "" not tried, up, or the reason it is not
docker_up() {
        if [ -z "$DOCKER_STATE" ]; then
                if start_dockerd; then
                        DOCKER_STATE=up
                        diag "private docker engine $(docker version --format '{{.Server.Version}}' 2>/dev/null)"
                else
                        DOCKER_STATE=$DOCKER_SKIP
                fi
        fi
        [ "$DOCKER_STATE" = up ]
}

REGISTRY_STATE=
REGISTRY=
REGISTRY_CA=
# A registry on 127.0.0.1 speaking HTTPS with a certificate made here, which
# skopeo trusts through SSL_CERT_FILE: the README's command then needs no
# other change than its host (this skopeo has no way to be told a host
# speaks plain HTTP but a command-line flag).
registry_up() {
        if [ -z "$REGISTRY_STATE" ]; then
                local port dir=$T/registry
                if ! have docker-registry || ! have skopeo || ! have openssl; then
                        REGISTRY_STATE="docker-registry, skopeo or openssl not installed"
                        return 1
                fi
                port=$(free_port)
                mkdir -p "$dir/data"
                if ! openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
                        -addext subjectAltName=IP:127.0.0.1 -keyout "$dir/key.pem" -out "$dir/cert.pem" \
                        >"$dir/openssl.log" 2>&1; then
                        REGISTRY_STATE="cannot make a certificate: $(tail -n 1 "$dir/openssl.log")"
                        return 1
                fi
                printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n  tls:\n    certificate: %s\n    key: %s\n' \
                        "$dir/data" "$port" "$dir/cert.pem" "$dir/key.pem" > "$dir/config.yml"
                docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
                CLEANUP_PIDS+=($!)
                REGISTRY=127.0.0.1:$port
                REGISTRY_CA=$dir/cert.pem
                if wait_port "$port" 20; then
                        REGISTRY_STATE=up
                else
                        REGISTRY_STATE="the registry did not start: $(tail -n 1 "$dir/log")"
                fi
        fi
        [ "$REGISTRY_STATE" = up ]
}

offline() { unshare --net -- "$@"; }

N_RUN=0 N_MARKED=0
while IFS=$'\t' read -r -d '' line cmd; do
        desc="README:$line: $(describe "$cmd")"
        marker=$(marker_of "$cmd")
        [ -n "$marker" ] && N_MARKED=$((N_MARKED + 1)) || N_RUN=$((N_RUN + 1))
        case $marker in
        "")
                run_in_copy "$cmd"
                report "$desc" $?
                ;;
        example)
                skip "$desc" "an example of the syntax, not a command to run"
                ;;
        needs:apt)
                script=${cmd%%[[:space:]]*}
                if [ -f "$COPY/$script" ] && [ -x "$COPY/$script" ]; then
                        ok "$desc (not run: it installs packages and runs this suite; $script exists and is executable)"
                else
                        not_ok "$desc" "$script is not an executable file of the tree"
                fi
                if [ "$script" = ./scripts/setup.sh ]; then
                        # What setup.sh ends with, so that the commands
                        # below find the base image a user's copy has.
                        run_in_copy "./build/oci-build base"
                        report "setup.sh's last step: ./build/oci-build base" $?
                fi
                ;;
        needs:docker)
                if docker_up; then
                        run_in_copy "$cmd"
                        report "$desc" $? "against a private dockerd without a bridge"
                else
                        skip "$desc" "needs a Docker engine: $DOCKER_STATE"
                fi
                ;;
        needs:docker-network)
                if [[ $cmd == *"docker-compose "*" up -d"* ]] && have docker-compose; then
                        run_in_copy "${cmd/ up -d/ config -q}"
                        report "$desc" $? "weaker: with 'config -q' for 'up -d', which needs a bridge network"
                else
                        skip "$desc" "needs the stack of the line above on Docker's bridge network, which tests must not create"
                fi
                ;;
        needs:registry)
                if registry_up; then
                        local_cmd=${cmd//registry.example.com/$REGISTRY}
                        SSL_CERT_FILE=$REGISTRY_CA run_in_copy "$local_cmd"
                        rc=$?
                        dest=$(grep -o "docker://$REGISTRY/[^[:space:]]*" <<<"$local_cmd" | head -n 1)
                        if [ $rc -eq 0 ] && [ -n "$dest" ] && ! SSL_CERT_FILE=$REGISTRY_CA skopeo inspect "$dest" >>"$T/err" 2>&1; then
                                rc=1
                        fi
                        report "$desc" $rc "against a registry on $REGISTRY, then read back"
                else
                        skip "$desc" "needs a registry: $REGISTRY_STATE"
                fi
                ;;
        needs:internet)
                if ! offline true 2>/dev/null; then
                        skip "$desc" "cannot make a network namespace to run it offline"
                        continue
                fi
                (cd "$COPY" && timeout -k 10 900 unshare --net -- bash -o pipefail -c "$cmd") >"$T/out" 2>"$T/err"
                rc=$?
                errs=$(grep '^oci-build:' "$T/err")
                app=$(grep -o 'app [a-z0-9_.-]*' <<<"$cmd" | head -n 1 | cut -d' ' -f2)
                name=$(grep -oE 'pocket-id|notes' <<<"$cmd" | head -n 1)
                why=
                if [ $rc -eq 0 ]; then
                        why="it succeeded without a network"
                elif [ "$(printf '%s\n' "$errs" | grep -c .)" -ne 1 ]; then
                        why="expected one error line, got: $errs"
                elif [ -n "$app" ] && ! grep -q 'https://' <<<"$errs"; then
                        why="the error does not name the URL: $errs"
                elif ! clean=$(layout_clean "$name"); then
                        why=$clean
                fi
                if [ -z "$why" ]; then
                        ok "$desc (offline, as expected: $errs)"
                else
                        not_ok "$desc"
                        { echo "$why"; tail -n 5 "$T/err"; } | details
                fi
                if [ -n "$app" ]; then
                        before=$(tree_sum "$LAYOUT")
                        err=$(cd "$COPY" && offline build/oci-build -q app "$app" 2>&1 >/dev/null)
                        if [ "$(tree_sum "$LAYOUT")" = "$before" ] && [ "$(grep -c . <<<"$err")" -eq 1 ] &&
                                grep -q 'https://' <<<"$err"; then
                                ok "offline, build/oci-build app $app fails with one line naming the URL and leaves the layout unchanged"
                        else
                                not_ok "offline, build/oci-build app $app fails with one line naming the URL and leaves the layout unchanged"
                                details <<<"$err"
                        fi
                fi
                ;;
        *)
                not_ok "$desc" "unknown marker '$marker': the README test has no rule for it"
                ;;
        esac
done < <(commands)

diag "$N_RUN README commands run as written, $N_MARKED marked"
[ $((N_RUN + N_MARKED)) -gt 0 ] || not_ok "the README has commands in \`\`\`sh blocks"
finish
