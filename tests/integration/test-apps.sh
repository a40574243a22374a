#!/usr/bin/env bash
# The app tier end to end: the notes example built on the base and node
# layers, its compose file judged by docker-compose, and the stack (notes and
# postgres) run for real on a private Docker engine on the host network, down
# and up again with its data kept. Then pinned downloads against a server on
# 127.0.0.1, and bad app configs, each refused with one line and the layout
# untouched. Everything listens on 127.0.0.1 or on a socket under $T; the
# stack, the engine and the web server are stopped when the test ends,
# whether it passed or not.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/docker.sh"

L=$T/oci
CONFIGS=$SOURCE_ROOT/configs
export DOCKER_CONFIG=$T/docker-config
mkdir -p "$DOCKER_CONFIG"
echo '{}' > "$DOCKER_CONFIG/config.json"
# Downloads go to a cache of this test, never to the user's.
export OCI_BUILD_CACHE=$T/cache

now() { date +%s%N; }
secs() { awk -v n="$1" 'BEGIN { printf "%.1f s", n / 1e9 }'; }
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }
mb() { awk -v n="$1" 'BEGIN { printf "%.1f MB", n / 1e6 }'; }

manifest_of() {
        jq -r --arg n "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest' \
                "$1/index.json"
}
blob() { echo "$1/blobs/sha256/${2#sha256:}"; }
layer_of() { jq -r ".layers[$3].digest" "$(blob "$1" "$(manifest_of "$1" "$2")")"; }

has_line() {  # has_line DESCRIPTION PATTERN TEXT
        if grep -Eq -- "$2" <<<"$3"; then
                ok "$1"
        else
                not_ok "$1" "no line matches /$2/ in:" "$(tail -n 15 <<<"$3")"
        fi
}

# The time from an empty layout to a healthy stack: the steps a user runs,
# without this test's own checks and without starting the engine.
PIPELINE=0
timed() {  # timed COMMAND... -- runs it, adds its wall time to PIPELINE
        local t rc
        t=$(now)
        "$@"
        rc=$?
        PIPELINE=$((PIPELINE + $(now) - t))
        return $rc
}

# --- 1. base, node, postgres and notes into one layout ---------------------
NOTES=
timed "$OCI_BUILD" -q -C "$CONFIGS" --layout "$L" base && ok "build base" || not_ok "build base"
timed "$OCI_BUILD" -q -C "$CONFIGS" --layout "$L" tool node postgres && ok "build tools node and postgres" ||
        not_ok "build tools node and postgres"
# The example builds offline: npm gets a registry nothing listens on and an
# empty cache, so only the tarballs in examples/notes/vendor can serve it.
DEAD_REGISTRY=http://127.0.0.1:$(free_port)
t=$(now)
out=$(env npm_config_registry="$DEAD_REGISTRY" npm_config_cache="$T/npm-cache" \
        "$OCI_BUILD" -C "$CONFIGS" --layout "$L" app notes 2>&1)
rc=$?
PIPELINE=$((PIPELINE + $(now) - t))
if [ $rc -eq 0 ]; then
        NOTES=1
        ok "build app notes with the npm registry unreachable (npm ci --offline, then the app layer)"
else
        not_ok "build app notes with the npm registry unreachable (npm ci --offline, then the app layer)" "$out"
fi
has_line "npm's output is shown as it comes, after 'notes: npm ci: '" '^notes: npm ci: added [0-9]+ packages' "$out"
check "node_modules holds pg, from the vendored tarball" \
        test -f "$SOURCE_ROOT/examples/notes/node_modules/pg/package.json"

if [ -z "$NOTES" ]; then
        skip "the notes image and its stack" "the notes image did not build"
        finish
fi
if have_validator; then
        check "oci-validate: notes is a valid, distroless image" "$OCI_VALIDATE" "$L" notes --distroless --quiet
else
        skip "oci-validate notes --distroless" "oci-validate missing"
fi
M_NOTES=$(blob "$L" "$(manifest_of "$L" notes)")
check "notes has three layers: base, node, the app" test "$(jq '.layers | length' "$M_NOTES")" -eq 3
check "notes' layer 1 is base's layer 1 (same digest)" test "$(layer_of "$L" notes 0)" = "$(layer_of "$L" base 0)"
check "notes' layer 2 is node's layer 2 (same digest)" test "$(layer_of "$L" notes 1)" = "$(layer_of "$L" node 1)"
C_NOTES=$(blob "$L" "$(jq -r .config.digest "$M_NOTES")")
check "notes' config: user 1000:1000, node runs /app/server.js" \
        jq -e '.config.User == "1000:1000" and .config.Entrypoint == ["/usr/bin/node", "/app/server.js"]' "$C_NOTES"

# Reproducible: the same image from another directory, umask 077 and -j 1
# (the first build used the default, one thread per CPU).
mkdir -p "$T/w2"
if (cd "$T/w2" && umask 077 && "$OCI_BUILD" -q -j 1 -C "$CONFIGS" --layout ../L2 app notes); then
        check "reproducible: notes has the same manifest digest (other dir, umask 077, -j 1)" \
                test "$(manifest_of "$T/L2" notes)" = "$(manifest_of "$L" notes)"
else
        not_ok "second build of notes (other dir, umask 077, -j 1)"
fi
rm -rf "$T/L2" "$T/w2"

# A build step reruns only when what it names as inputs or outputs changed:
# notes' npm ci reads package.json, package-lock.json and vendor/ and makes
# node_modules. A copy of the example, built through an npm that counts its
# runs (first in PATH for every build here, so the environment the steps get
# stays the same), into a layout of its own.
STEPS_DIR=$T/steps-src
mkdir -p "$STEPS_DIR/configs/apps" "$STEPS_DIR/examples" "$T/npm-wrap"
sed "s|^rootfs: .*|rootfs: $SOURCE_ROOT/rootfs|" "$CONFIGS/base.yml" > "$STEPS_DIR/configs/base.yml"
cp -r "$CONFIGS/tools" "$STEPS_DIR/configs/"
cp "$CONFIGS/apps/notes.yml" "$STEPS_DIR/configs/apps/"
cp -r "$SOURCE_ROOT/examples/notes" "$STEPS_DIR/examples/"
rm -rf "$STEPS_DIR/examples/notes/node_modules"
NOTES_SRC=$STEPS_DIR/examples/notes
REAL_NPM=$(command -v npm)
printf '#!/bin/sh\necho run >> "%s"\nexec "%s" "$@"\n' "$T/npm-runs" "$REAL_NPM" > "$T/npm-wrap/npm"
chmod 755 "$T/npm-wrap/npm"
npm_runs() { cat "$T/npm-runs" 2>/dev/null | wc -l; }
steps_build() {
        env PATH="$T/npm-wrap:$PATH" npm_config_registry="$DEAD_REGISTRY" npm_config_cache="$T/npm-cache" \
                "$OCI_BUILD" -C "$STEPS_DIR/configs" --layout "$T/steps-oci" app notes 2>&1
}
app_digest() { layer_of "$T/steps-oci" notes 2; }
mods_state() { stat -c '%i %.9Y %.9Z' "$NOTES_SRC/node_modules" "$NOTES_SRC/node_modules/pg/package.json" 2>&1; }
out=$(steps_build)
rc=$?
check "notes from a copy, through a counting npm: builds, npm ran once ($(npm_runs))" \
        test $rc -eq 0 -a "$(npm_runs)" -eq 1
d1=$(app_digest)
mods=$(mods_state)
sleep 0.2
echo '// edited' >> "$NOTES_SRC/server.js"
out=$(steps_build)
rc=$?
check "server.js edited: the app builds (exit $rc) and npm did not run ($(npm_runs) runs)" \
        test $rc -eq 0 -a "$(npm_runs)" -eq 1
has_line "... the build says the step was skipped" "^notes: build step 'npm ci' skipped: " "$out"
check "... node_modules is the one npm left (inode, mtime, ctime)" test "$(mods_state)" = "$mods"
d2=$(app_digest)
check "... the app layer is new ($d2)" test -n "$d2" -a "$d2" != "$d1"
if have umoci; then
        rm -rf "$T/steps-bundle"
        umoci --log error unpack --image "$T/steps-oci:notes" "$T/steps-bundle" >/dev/null 2>&1
        check "... and holds the edited server.js (umoci unpack, cmp)" \
                cmp "$T/steps-bundle/rootfs/app/server.js" "$NOTES_SRC/server.js"
        check "... and the pg driver npm installed (cmp)" \
                cmp "$T/steps-bundle/rootfs/app/node_modules/pg/package.json" "$NOTES_SRC/node_modules/pg/package.json"
        rm -rf "$T/steps-bundle"
else
        skip "the rebuilt app layer holds the edited server.js" "umoci missing"
fi
touch "$NOTES_SRC/package-lock.json"
out=$(steps_build)
rc=$?
check "package-lock.json touched: npm runs again ($(npm_runs) runs)" test $rc -eq 0 -a "$(npm_runs)" -eq 2
rm -rf "$NOTES_SRC/node_modules"
out=$(steps_build)
rc=$?
check "node_modules deleted: npm runs again ($(npm_runs) runs) and makes it" \
        test $rc -eq 0 -a "$(npm_runs)" -eq 3 -a -f "$NOTES_SRC/node_modules/pg/package.json"
sleep 0.2
touch "$NOTES_SRC/health.js"
out=$(steps_build)
rc=$?
check "then health.js touched: npm does not run ($(npm_runs) runs)" test $rc -eq 0 -a "$(npm_runs)" -eq 3
# The config: an edit elsewhere in the file reruns nothing, one of the step does.
sed -i 's/^description: .*/description: the notes example, described otherwise/' "$STEPS_DIR/configs/apps/notes.yml"
out=$(steps_build)
rc=$?
check "the description edited: npm does not run ($(npm_runs) runs)" test $rc -eq 0 -a "$(npm_runs)" -eq 3
sed -i 's/--no-fund\]/--no-fund, --no-progress]/' "$STEPS_DIR/configs/apps/notes.yml"
out=$(steps_build)
rc=$?
check "the step's command edited: npm runs again ($(npm_runs) runs)" test $rc -eq 0 -a "$(npm_runs)" -eq 4
rm -rf "$STEPS_DIR" "$T/steps-oci"

# An app's own test, as `oci-build test` runs a tool's: from the directory
# that holds the default layout (./oci), as a user types it.
out=$(cd "$T" && "$OCI_BUILD" -C "$CONFIGS" test notes 2>&1)
rc=$?
check "oci-build test notes, from the layout's directory: exit 0 (got $rc)" test $rc -eq 0
has_line "... its three steps pass, the vendored driver loading at its locked version" \
        '^notes: passed, 3 of 3 steps' "$out"
has_line "... the last one said so" "^  ok: /usr/bin/node -e 'const pg = require" "$out"
out=$(cd "$T" && "$OCI_BUILD" -C "$CONFIGS" test --all 2>&1)
rc=$?
check "oci-build test --all: exit 0 (got $rc)" test $rc -eq 0
has_line "... runs the app's test (notes)" '^notes: passed, 3 of 3 steps' "$out"
has_line "... beside the tools' (node)" '^node: passed, ' "$out"
has_line "... every image with a test: base has none, node, postgres and notes do" '^all 3 images passed their tests' "$out"
# The same image judged by a test that must fail: the config decides what runs.
mkdir -p "$T/failcfg/apps"
sed "s|^rootfs: .*|rootfs: $SOURCE_ROOT/rootfs|" "$CONFIGS/base.yml" > "$T/failcfg/base.yml"
cp -r "$CONFIGS/tools" "$T/failcfg/"
sed -e "s|\.\./\.\./examples|$SOURCE_ROOT/examples|g" -e 's|expect: pg 8.23.1 loads|expect: pg 0.0.0 loads|' \
        "$CONFIGS/apps/notes.yml" > "$T/failcfg/apps/notes.yml"
out=$(cd "$T" && "$OCI_BUILD" -C failcfg test notes 2>&1)
rc=$?
check "an app test whose output lacks 'expect' fails: exit 1 (got $rc)" test $rc -eq 1
has_line "... at its third step" '^notes: FAILED at step 3 of 3' "$out"
has_line "... with the output it got" '^      pg 8\.23\.1 loads$' "$out"

# --- 2. compose files --------------------------------------------------------
timed "$OCI_BUILD" -q -C "$CONFIGS" compose notes --host-network -o "$T/stack.yml" &&
        ok "compose notes --host-network" || not_ok "compose notes --host-network"
"$OCI_BUILD" -q -C "$CONFIGS" compose pocket-id -o "$T/pid.yml" && ok "compose pocket-id" || not_ok "compose pocket-id"
"$OCI_BUILD" -q -C "$CONFIGS" compose notes -o "$T/bridge.yml" && ok "compose notes" || not_ok "compose notes"
check "on the host network, postgres' wildcard listen_addresses becomes 127.0.0.1" \
        grep -qF '"listen_addresses=${POSTGRES_LISTEN:-127.0.0.1}"' "$T/stack.yml"
check "every service of the notes stack is on the host network" \
        test "$(grep -c '^    network_mode: host$' "$T/stack.yml")" -eq "$(grep -c '^    image: ' "$T/stack.yml")"
COMPOSE_SKIP=
have docker-compose || COMPOSE_SKIP="docker-compose not installed"
if [ -z "$COMPOSE_SKIP" ]; then
        check "docker-compose config accepts the notes stack" \
                env -u NOTES_PORT -u POSTGRES_PORT -u DB_HOST docker-compose -f "$T/stack.yml" config -q
        # On the host network "db" does not resolve: the file as written
        # points the app at loopback, and binds it there.
        out=$(env -u NOTES_PORT -u POSTGRES_PORT -u DB_HOST -u NOTES_HOST docker-compose -f "$T/stack.yml" config 2>&1)
        if grep -q 'DATABASE_URL: postgres://postgres:postgres@127.0.0.1:5432/postgres$' <<<"$out" &&
                grep -q 'HOST: 127.0.0.1$' <<<"$out" && ! grep -q '@db:' <<<"$out"; then
                ok "the host-network stack reaches db and listens on 127.0.0.1 as written"
        else
                not_ok "the host-network stack reaches db and listens on 127.0.0.1 as written" "$out"
        fi
        out=$(env -u NOTES_PORT -u DB_HOST docker-compose -f "$T/bridge.yml" config 2>&1)
        if grep -q -- '- 127.0.0.1:3000:3000/tcp$' <<<"$out" &&
                grep -q 'DATABASE_URL: postgres://postgres:postgres@db:5432/postgres$' <<<"$out"; then
                ok "docker-compose config accepts the notes stack with ports, published on 127.0.0.1"
        else
                not_ok "docker-compose config accepts the notes stack with ports, published on 127.0.0.1" "$out"
        fi
        out=$(env -u POCKET_ID_ENCRYPTION_KEY docker-compose -f "$T/pid.yml" config -q 2>&1)
        rc=$?
        if [ $rc -ne 0 ] && grep -q POCKET_ID_ENCRYPTION_KEY <<<"$out"; then
                ok "docker-compose config refuses pocket-id without POCKET_ID_ENCRYPTION_KEY, naming it"
        else
                not_ok "docker-compose config refuses pocket-id without POCKET_ID_ENCRYPTION_KEY, naming it" \
                        "exit $rc" "$out"
        fi
        check "docker-compose config accepts pocket-id with POCKET_ID_ENCRYPTION_KEY set" \
                env POCKET_ID_ENCRYPTION_KEY="$(head -c 32 /dev/urandom | base64)" docker-compose -f "$T/pid.yml" config -q
fi

# --- 3. the stack on a real engine -------------------------------------------
TO_HEALTHY=
PROJECT=notes$$
COMPOSE=(docker-compose -f "$T/stack.yml" -p "$PROJECT")

# wait_healthy SECONDS -- until the notes and db containers both report
# healthy; 1 when the time is up or a container stopped.
wait_healthy() {
        local end=$(($(date +%s) + $1)) n d
        while [ "$(date +%s)" -lt "$end" ]; do
                n=$("${COMPOSE[@]}" ps -q notes 2>/dev/null)
                d=$("${COMPOSE[@]}" ps -q db 2>/dev/null)
                if [ -n "$n" ] && [ -n "$d" ]; then
                        [ "$(docker inspect --format '{{.State.Health.Status}}' "$n" "$d" 2>/dev/null | sort -u)" = healthy ] &&
                                return 0
                fi
                sleep 0.2
        done
        return 1
}
stack_state() {  # what to show when the stack is not healthy
        local c
        for c in $("${COMPOSE[@]}" ps -q 2>/dev/null); do
                docker inspect --format '{{.Name}}: {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "$c"
                docker logs --tail 5 "$c" 2>&1
        done
}
notes_get() { curl -fsS --max-time 10 "http://127.0.0.1:$NOTES_PORT/notes"; }
listeners() {  # PORT: the addresses listening on it, as /proc/net/tcp{,6} write them
        awk -v p=":$(printf '%04X' "$1")" '$4 == "0A" && substr($2, length($2) - 4) == p { print $2 }' \
                /proc/net/tcp /proc/net/tcp6 | sort -u | tr '\n' ' '
}

if [ -n "$COMPOSE_SKIP" ]; then
        skip "the notes stack on a Docker engine" "$COMPOSE_SKIP"
elif ! start_dockerd; then
        skip "the notes stack on a Docker engine" "$DOCKER_SKIP"
else
        DOCKER_BEFORE_STOP='"${COMPOSE[@]}" down -v --timeout 5 >/dev/null 2>&1'
        diag "docker engine $(docker version --format '{{.Server.Version}}'), $(docker-compose version --short 2>/dev/null | sed 's/^/docker-compose /')"
        NOTES_PORT=$(free_port)
        POSTGRES_PORT=$(free_port)
        while [ "$POSTGRES_PORT" = "$NOTES_PORT" ]; do POSTGRES_PORT=$(free_port); done
        # The stack runs on the host network as generated, with nothing set
        # by hand but the ports: the file points the app at db by 127.0.0.1
        # and binds both there (postgres' listen_addresses included).
        unset DB_HOST NOTES_HOST POSTGRES_LISTEN
        export NOTES_PORT POSTGRES_PORT
        diag "notes on 127.0.0.1:$NOTES_PORT, postgres on 127.0.0.1:$POSTGRES_PORT"

        timed "$OCI_BUILD" -q -C "$CONFIGS" --layout "$L" save notes postgres -o "$T/images.tar" &&
                ok "save notes postgres" || not_ok "save notes postgres"
        t=$(now)
        out=$(docker load -i "$T/images.tar" 2>&1)
        rc=$?
        PIPELINE=$((PIPELINE + $(now) - t))
        if [ $rc -eq 0 ] && grep -q '^Loaded image: distroless-notes:1.0.0$' <<<"$out" &&
                grep -q '^Loaded image: distroless-postgres:' <<<"$out"; then
                ok "docker load of notes and postgres"
        else
                not_ok "docker load of notes and postgres" "$out"
        fi

        t=$(now)
        out=$("${COMPOSE[@]}" up -d 2>&1)
        rc=$?
        if [ $rc -eq 0 ] && wait_healthy 120; then
                PIPELINE=$((PIPELINE + $(now) - t))
                TO_HEALTHY=$PIPELINE
                ok "docker-compose up -d: notes and db healthy ($(secs $(($(now) - t))))"
                UP=1
        else
                not_ok "docker-compose up -d: notes and db healthy (within 120 s)" "exit $rc" "$out" "$(stack_state)"
                UP=
        fi

        if [ -n "$UP" ]; then
                NID=$("${COMPOSE[@]}" ps -q notes)
                for p in "$POSTGRES_PORT" "$NOTES_PORT"; do
                        check "port $p listens on 127.0.0.1 only, with nothing set by hand ($(listeners "$p"))" \
                                test "$(listeners "$p")" = "0100007F:$(printf '%04X' "$p") "
                done
                out=$(curl -fsS --max-time 10 -X POST --data 'hello distroless' "http://127.0.0.1:$NOTES_PORT/notes" 2>&1)
                check "POST /notes stores the note ($out)" jq -e '.body == "hello distroless"' <<<"$out"
                out=$(notes_get 2>&1)
                check "GET /notes returns it" jq -e 'map(.body) == ["hello distroless"]' <<<"$out"
                check "the notes container runs as 1000:1000 (Config.User)" \
                        test "$(docker inspect --format '{{.Config.User}}' "$NID")" = 1000:1000
                pid=$(docker inspect --format '{{.State.Pid}}' "$NID")
                check "the notes process has uid and gid 1000" \
                        test "$(awk '/^Uid:|^Gid:/ { print $2 }' "/proc/$pid/status" 2>/dev/null | tr '\n' ' ')" = "1000 1000 "
                out=$(docker exec "$NID" /bin/sh -c true 2>&1)
                rc=$?
                if [ $rc -ne 0 ] && grep -q 'no such file' <<<"$out"; then
                        ok "no /bin/sh in the notes container (docker exec fails: exit $rc)"
                else
                        not_ok "no /bin/sh in the notes container" "exit $rc" "$out"
                fi
                check "docker exec of a program of the image works (the judge can pass)" \
                        docker exec "$NID" /usr/bin/node -e 'process.exit(0)'

                out=$("${COMPOSE[@]}" down --timeout 10 2>&1)
                check "docker-compose down (keeping volumes)" test $? -eq 0 -a -z "$("${COMPOSE[@]}" ps -q)"
                check "the database volume is kept" bash -c "docker volume ls -q | grep -qx '${PROJECT}_notes-pgdata'"
                t=$(now)
                out=$("${COMPOSE[@]}" up -d 2>&1)
                rc=$?
                if [ $rc -eq 0 ] && wait_healthy 120; then
                        ok "up -d again: healthy ($(secs $(($(now) - t))))"
                        out=$(notes_get 2>&1)
                        check "GET /notes still returns the note after down and up" \
                                jq -e 'map(.body) == ["hello distroless"]' <<<"$out"
                else
                        not_ok "up -d again: healthy (within 120 s)" "exit $rc" "$out" "$(stack_state)"
                fi
        fi
        out=$("${COMPOSE[@]}" down -v --timeout 10 2>&1)
        check "docker-compose down -v" test $? -eq 0
        check "no container is left" test -z "$(docker ps -aq)"
        check "the volumes are gone" test -z "$(docker volume ls -q)"
fi

# --- 4. pocket-id without a network ------------------------------------------
# Every download goes through a proxy on a port nothing listens on.
DEAD=$(free_port)
before=$(tree_sum "$L")
lock_before=$(ls "$CONFIGS/apps")
expect_fail "pocket-id offline: one line naming the URL" \
        "pocket-id\.yml:[0-9]+: artifacts: cannot download 'https://github\.com/pocket-id/pocket-id/releases/download/v[0-9.]+/pocket-id-linux-[a-z0-9]+'" \
        env http_proxy="http://127.0.0.1:$DEAD" https_proxy="http://127.0.0.1:$DEAD" HTTPS_PROXY="http://127.0.0.1:$DEAD" \
        ALL_PROXY= all_proxy= NO_PROXY= no_proxy= OCI_BUILD_CACHE="$T/cache-offline" \
        "$OCI_BUILD" -q -C "$CONFIGS" --layout "$L" app pocket-id
check "pocket-id offline: the layout is byte-for-byte unchanged" test "$(tree_sum "$L")" = "$before"
check "pocket-id offline: no file appeared beside the configs" test "$(ls "$CONFIGS/apps")" = "$lock_before"
out=$(env http_proxy="http://127.0.0.1:$DEAD" https_proxy="http://127.0.0.1:$DEAD" HTTPS_PROXY="http://127.0.0.1:$DEAD" \
        OCI_BUILD_CACHE="$T/cache-show" "$OCI_BUILD" -C "$CONFIGS" show pocket-id --files 2>&1)
check "show pocket-id --files lists the binary without downloading it" \
        grep -q '/app/pocket-id .*is not downloaded yet' <<<"$out"
check "show downloads nothing: no cache, no lock file" \
        test ! -e "$T/cache-show" -a "$(ls "$CONFIGS/apps")" = "$lock_before"

# --- 5. downloads pinned by sha256 -------------------------------------------
# A copy of the configs (base.yml's rootfs: ../rootfs comes along), with app
# configs of this test, and a web server on 127.0.0.1 serving $T/www.
SRC=$T/src
mkdir -p "$SRC" "$T/www"
cp -r "$CONFIGS" "$SOURCE_ROOT/rootfs" "$SRC/"
rm -f "$SRC"/configs/apps/*.lock
A=$SRC/configs/apps
app_config() {  # app_config NAME < BODY -- writes apps/NAME.yml
        { printf 'name: %s\nversion: "1.0"\ndescription: test app %s\n' "$1" "$1"; cat; } > "$A/$1.yml"
}
build_in() { "$OCI_BUILD" -C "$SRC/configs" "$@"; }

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
# Is the digest of every file in the cache its name, with no partial file?
cache_clean() {
        local f bad=
        while IFS= read -r f; do
                case $f in
                */layers/* | */steps/* | */md5/* | */layer-files/*) ;; # other caches, not downloads
                */downloads/[0-9a-f]*) [ "$(sha256sum <"$f" | cut -d' ' -f1)" = "${f##*/}" ] || bad+=" $f" ;;
                *) bad+=" $f" ;;
                esac
        done < <(find "$OCI_BUILD_CACHE" -type f 2>/dev/null)
        [ -z "$bad" ] || { echo "not named by their digest:$bad"; return 1; }
}

if [ -z "$WWW" ]; then
        not_ok "a web server on 127.0.0.1 for the download checks" "$(tail -n 3 "$T/www.log")"
else
        U=http://127.0.0.1:$PORT
        D=$T/dl
        echo "the first payload" > "$T/www/payload"
        H1=$(sha256sum < "$T/www/payload" | cut -d' ' -f1)
        app_config dl <<EOF
artifacts:
  - { path: /app/payload, url: "$U/payload" }
EOF
        out=$(build_in --layout "$D" app dl 2>&1)
        rc=$?
        check "download without a pin: the build succeeds" test $rc -eq 0
        has_line "it says it recorded the pin" "no sha256 pin for $U/payload: recorded $H1 in .*/dl\.lock" "$out"
        check "dl.lock beside the config pins the payload's sha256" grep -qx "$U/payload $H1" "$A/dl.lock"
        layer=$(blob "$D" "$(layer_of "$D" dl 1)")
        check "the app layer holds the payload" bash -c "tar -xzOf '$layer' app/payload | cmp -s - '$T/www/payload'"
        check "the cache holds it under its digest" test -f "$OCI_BUILD_CACHE/downloads/$H1"

        mv "$T/www/payload" "$T/www/payload.away"
        out=$(build_in --layout "$D" app dl 2>&1)
        rc=$?
        check "second build (the payload gone from the server): succeeds from the cache" test $rc -eq 0
        check "the second build did not download" test "$(grep -c 'GET /payload ' "$T/www.log")" -eq 1

        echo "another payload" > "$T/www/payload"
        H2=$(sha256sum < "$T/www/payload" | cut -d' ' -f1)
        rm -rf "$OCI_BUILD_CACHE"
        before=$(tree_sum "$D")
        expect_fail "the payload changed on the server: refused against the lock file" \
                "apps/dl\.yml:[0-9]+: artifacts: '$U/payload' has sha256 $H2, but the lock file pins $H1$" \
                build_in -q --layout "$D" app dl
        check "the layout is unchanged" test "$(tree_sum "$D")" = "$before"
        check "the lock file still pins the first payload" grep -qx "$U/payload $H1" "$A/dl.lock"
        check "no partial download is left in the cache" cache_clean
        check "nothing unverified in the cache (it holds no file at all)" test -z "$(find "$OCI_BUILD_CACHE" -type f 2>/dev/null)"

        # An explicit pin in the config: wrong, then right.
        app_config dlpin <<EOF
artifacts:
  - { path: /app/payload, url: "$U/payload", sha256: $H1 }
EOF
        expect_fail "sha256 in the config that does not match: refused" \
                "apps/dlpin\.yml:[0-9]+: artifacts: '$U/payload' has sha256 $H2, but the config pins $H1$" \
                build_in -q --layout "$D" app dlpin
        check "the layout is unchanged" test "$(tree_sum "$D")" = "$before"
        check "no lock file for a config that pins" test ! -e "$A/dlpin.lock"
        check "no partial download is left in the cache" cache_clean
        app_config dlpin2 <<EOF
artifacts:
  - { path: /app/payload, url: "$U/payload", sha256: $H2 }
EOF
        check "sha256 in the config that matches: the build succeeds" build_in -q --layout "$D" app dlpin2
        check "no lock file for it either" test ! -e "$A/dlpin2.lock"

        app_config dl404 <<EOF
artifacts:
  - { path: /app/payload, url: "$U/missing" }
EOF
        before=$(tree_sum "$D")
        expect_fail "a download that fails (404): config, key and URL" \
                "apps/dl404\.yml:[0-9]+: artifacts: cannot download '$U/missing'.*404" \
                build_in -q --layout "$D" app dl404
        check "the layout is unchanged" test "$(tree_sum "$D")" = "$before"
        check "no lock file for it" test ! -e "$A/dl404.lock"
        check "no partial download is left in the cache" cache_clean
fi

# --- 6. bad app configs ------------------------------------------------------
echo payload > "$A/payload.txt"
app_config bad-missing <<'EOF'
artifacts:
  - { path: /app/x, source: nope.txt }
EOF
app_config bad-tool <<'EOF'
tools: [nosuchtool]
artifacts:
  - { path: /app/x, source: payload.txt }
EOF
app_config bad-port <<'EOF'
artifacts:
  - { path: /app/x, source: payload.txt }
defaults: {port: http}
EOF
app_config bad-ports <<'EOF'
artifacts:
  - { path: /app/x, source: payload.txt }
config: {ports: [http]}
EOF
app_config bad-health <<'EOF'
tools: [node]
artifacts:
  - { path: /app/x, source: payload.txt }
healthcheck:
  test: [/usr/bin/curl, -f, http://localhost]
EOF
app_config bad-health-shell <<'EOF'
artifacts:
  - { path: /app/x, source: payload.txt }
healthcheck:
  test: curl -f http://localhost || exit 1
EOF
START=$(tree_sum "$L")
bad_app() {  # bad_app DESCRIPTION PATTERN NAME -- one line, layout unchanged
        expect_fail "$1" "$2" build_in -q --layout "$L" app "$3"
        [ "$(tree_sum "$L")" = "$START" ] || not_ok "$1: the layout changed"
}
bad_app "a missing local artifact" "apps/bad-missing\.yml:[0-9]+: artifacts: '[^']*/nope\.txt': No such file" bad-missing
bad_app "an unknown tool" "apps/bad-tool\.yml: tools: 'nosuchtool'" bad-tool
bad_app "a port that is not a number (defaults: port)" "apps/bad-port\.yml:[0-9]+:[0-9]+: 'port' .*'http'" bad-port
bad_app "a port that is not a number (config: ports)" "apps/bad-ports\.yml:[0-9]+:[0-9]+: 'ports' .*'http'" bad-ports
bad_app "a healthcheck that runs a program the image lacks" \
        "apps/bad-health\.yml:.*healthcheck runs '/usr/bin/curl', which is not in the image" bad-health
bad_app "a healthcheck in shell form" \
        "apps/bad-health-shell\.yml:[0-9]+:[0-9]+: 'test' must be a list \(exec form.*no shell" bad-health-shell
check "the layout is unchanged by every bad config" test "$(tree_sum "$L")" = "$START"

# --- 6b. a download interrupted, a build step run as root ----------------------
# A server that sends a large file slowly, so that the download is caught in
# the middle: SIGTERM must leave no partial file in the cache, neither
# signal any process (curl), and the layout must stay as it was.
SLOW_PORT=$(free_port)
python3 - "$SLOW_PORT" >"$T/slow.log" 2>&1 <<'PYEOF' &
import http.server, sys, time
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(64 << 20))
        self.end_headers()
        for _ in range(64 << 10):
            self.wfile.write(b"x" * 1024)
            self.wfile.flush()
            time.sleep(0.01)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PYEOF
CLEANUP_PIDS+=($!)
if wait_port "$SLOW_PORT" 10; then
        app_config dlslow <<EOF
artifacts:
  - { path: /app/big, url: "http://127.0.0.1:$SLOW_PORT/big" }
EOF
        before=$(tree_sum "$L")
        for sig in TERM KILL; do
                # oci-build itself, not a subshell running it, gets the signal.
                "$OCI_BUILD" -C "$SRC/configs" -q --layout "$L" app dlslow >"$T/dlslow.out" 2>&1 &
                pid=$!
                if wait_for 60 find "$OCI_BUILD_CACHE/downloads" -name '.part-*' -size +1k; then
                        kill -$sig $pid
                        wait $pid
                        rc=$?
                        check "download: SIG$sig in the middle ends the build (exit $rc)" \
                                test "$rc" -eq $((128 + $(kill -l $sig)))
                else
                        kill -KILL $pid 2>/dev/null
                        wait $pid
                        not_ok "download: SIG$sig in the middle" "no partial download within 60 s" "$(cat "$T/dlslow.out")"
                fi
                sleep 0.5
                left=$(survivors "$OCI_BUILD_CACHE")
                check "download, SIG$sig: no process (curl) is left ($(echo $left))" test -z "$left"
                for p in $left; do kill -KILL "$p" 2>/dev/null; done
                [ $sig = TERM ] && check "download, SIGTERM: no partial file in the cache" cache_clean
                check "download, SIG$sig: the layout is unchanged" test "$(tree_sum "$L")" = "$before"
                find "$OCI_BUILD_CACHE" -name '.part-*' -delete 2>/dev/null
        done
        rm -f "$A/dlslow.yml"
else
        not_ok "a slow web server on 127.0.0.1 for the interrupted download" "$(tail -n 3 "$T/slow.log")"
fi

# As root, a build step runs as the owner of its directory, with that user's
# HOME, and what it writes belongs to that user.
if [ "$(id -u)" -ne 0 ]; then
        skip "a build step run by root runs as the directory's owner" "needs root"
else
        chmod 755 "$T" "$SRC"
        mkdir -p "$SRC/stepdir"
        chown 65534:65534 "$SRC/stepdir"
        app_config whoami <<'EOF'
build:
  - command: [sh, -c, 'echo "$(id -u):$(id -g) $HOME" > who']
    workdir: ../../stepdir
artifacts:
  - { path: /app/who, source: ../../stepdir/who }
EOF
        if build_in -q --layout "$T/who-oci" app whoami 2>"$T/who.err"; then
                home=$(getent passwd 65534 | cut -d: -f6)
                check "a build step run by root runs as the directory's owner, with its HOME ($(cat "$SRC/stepdir/who"))" \
                        test "$(cat "$SRC/stepdir/who")" = "65534:65534 $home"
                check "... and what it wrote is the owner's" test "$(stat -c %u:%g "$SRC/stepdir/who")" = 65534:65534
        else
                not_ok "an app with a build step, built by root" "$(cat "$T/who.err")"
        fi
        rm -f "$A/whoami.yml"
fi

# --- 7. build steps: their output, and nothing left running ----------------
app_config steps <<'EOF'
artifacts:
  - { path: /app/x, source: payload.txt }
build:
  - command: [sh, -c, "echo one; echo two >&2; echo three; exit 5"]
EOF
out=$(build_in --layout "$T/steps" app steps 2>&1)
rc=$?
check "a failing build step fails the build" test $rc -ne 0
has_line "its output is shown, each line after the app and the step" '^steps: sh: two$' "$out"
check "the error is one error whose last lines are the step's, newlines kept" \
        grep -Eq 'apps/steps\.yml: build step .sh. failed \(exit 5\), its last lines:\|one\|two\|three\|$' \
        <<<"$(tail -n 4 <<<"$out" | tr '\n' '|')"
MARK=oci-build-leftover-$$-$RANDOM
app_config leftover <<'EOF'
artifacts:
  - { path: /app/x, source: payload.txt }
build:
  - command: [sh, -c, "setsid nohup sleep 1000 >/dev/null 2>&1 & nohup sleep 1000 & echo started"]
EOF
check "a build step that starts background processes: the build succeeds" \
        env OCI_BUILD_LEFTOVER_MARK="$MARK" "$OCI_BUILD" -q -C "$SRC/configs" --layout "$T/steps" app leftover
left=$(grep -lsz "^OCI_BUILD_LEFTOVER_MARK=$MARK\$" /proc/[0-9]*/environ | cut -d/ -f3)
check "nothing the step started is still running (marker in the environment)" test -z "$left"
[ -z "$left" ] || kill -9 $left 2>/dev/null

# A step's 'env' is set in its environment (and only in its): a step writes
# its variables into a file that the image then holds, read back with umoci.
app_config stepenv <<'EOF'
build:
  - command: [sh, -c, 'printf "%s|%s\n" "$GREETING" "$APP_MODE" > env-out.txt']
    env: { GREETING: "hello from env", APP_MODE: production }
  - command: [sh, -c, 'printf "%s\n" "${GREETING-unset}" >> env-out.txt']
artifacts:
  - { path: /app/env-out.txt, source: env-out.txt }
EOF
if build_in -q --layout "$T/stepenv" app stepenv 2>"$T/stepenv.err"; then
        if have umoci; then
                rm -rf "$T/stepenv-bundle"
                umoci --log error unpack --image "$T/stepenv:stepenv" "$T/stepenv-bundle" >/dev/null 2>&1
                check "a build step's env reaches the step, and the file it wrote is in the image (umoci unpack)" \
                        test "$(cat "$T/stepenv-bundle/rootfs/app/env-out.txt" 2>&1)" = "hello from env|production
unset"
        else
                skip "a build step's env, in the image" "umoci missing"
        fi
else
        not_ok "an app whose build step has env builds" "$(cat "$T/stepenv.err")"
fi
app_config badenv <<'EOF'
build:
  - { command: [make], env: { "BAD-NAME": x } }
artifacts:
  - { path: /app/x, source: payload.txt }
EOF
expect_fail "a build step env name no shell can use is refused where it is" \
        "^oci-build: $A/badenv\.yml:5:31: names of 'env' must be letters, digits and '_', not starting with a digit, found 'BAD-NAME'$" \
        build_in --layout "$T/stepenv" app badenv
rm -f "$A/badenv.yml"

# inputs and outputs of a build step: relative paths inside the workdir,
# refused where they are written; a missing input or output at build time
# names the config line (or the step) and the path.
app_config badinputs-abs <<'EOF'
build:
  - command: [make]
    inputs: [/etc]
artifacts:
  - { path: /app/x, source: payload.txt }
EOF
expect_fail "a build step input that is an absolute path is refused where it is" \
        "^oci-build: $A/badinputs-abs\.yml:6:14: items of 'inputs' must be paths inside the workdir, relative to it and without '\.\.', found '/etc'$" \
        build_in -q --layout "$T/stepenv" app badinputs-abs
app_config badinputs-up <<'EOF'
build:
  - command: [make]
    inputs: [src, ../x]
    outputs: [out]
artifacts:
  - { path: /app/x, source: payload.txt }
EOF
expect_fail "a build step input that leaves the workdir (..) is refused where it is" \
        "^oci-build: $A/badinputs-up\.yml:6:19: items of 'inputs' must be paths inside the workdir, relative to it and without '\.\.', found '\.\./x'$" \
        build_in -q --layout "$T/stepenv" app badinputs-up
app_config badoutputs <<'EOF'
build:
  - command: [make]
    outputs: [out]
artifacts:
  - { path: /app/x, source: payload.txt }
EOF
expect_fail "build step outputs without inputs are refused where they are" \
        "^oci-build: $A/badoutputs\.yml:6:14: 'outputs' needs 'inputs'" \
        build_in -q --layout "$T/stepenv" app badoutputs
app_config noinput <<'EOF'
build:
  - command: [sh, -c, "touch ran-noinput"]
    inputs:
      - payload.txt
      - nosuch.lock
artifacts:
  - { path: /app/x, source: payload.txt }
EOF
expect_fail "a build step input that is not there: the config line and the path" \
        "^oci-build: $A/noinput\.yml:8: build step 'sh': its input 'nosuch\.lock' is not there \(in $A\)$" \
        build_in -q --layout "$T/stepenv" app noinput
check "... and the step did not run" test ! -e "$A/ran-noinput"
app_config nooutput <<'EOF'
build:
  - command: [sh, -c, "true"]
    inputs: [payload.txt]
    outputs: [dist]
artifacts:
  - { path: /app/x, source: payload.txt }
EOF
expect_fail "a build step that did not make its output: the step and the path" \
        "^oci-build: $A/nooutput\.yml:5: build step 'sh' did not make its output 'dist' \(in $A\)$" \
        build_in -q --layout "$T/stepenv" app nooutput
rm -f "$A"/badinputs-abs.yml "$A"/badinputs-up.yml "$A"/badoutputs.yml "$A"/noinput.yml "$A"/nooutput.yml

# --- 8. an app artifact that is a dynamically linked program ---------------
if ! have cc; then
        skip "an app whose artifact is a dynamically linked program" "no C compiler"
else
        printf '#include <stdio.h>\nint main(void) { puts("hello from a dynamic program"); return 0; }\n' > "$A/hello.c"
        cc -o "$A/hello" "$A/hello.c"
        app_config hello <<'EOF'
artifacts:
  - { path: /app/hello, source: hello }
config:
  entrypoint: [/app/hello]
EOF
        check "the artifact is dynamically linked (it has a program interpreter)" \
                bash -c "readelf -l '$A/hello' | grep -q 'program interpreter'"
        check "build app hello (a dynamically linked artifact)" build_in -q --layout "$T/hello" app hello
        out=$(build_in show hello --files 2>&1)
        has_line "show hello --files lists libc, needed by /app/hello" '/libc\.so\.6 .*needed by /app/hello' "$out"
        if have umoci; then
                rm -rf "$T/hello-bundle"
                umoci unpack --image "$T/hello:hello" "$T/hello-bundle" >/dev/null 2>&1 && chmod 755 "$T/hello-bundle"
                out=$(chroot --userspec=1000:1000 "$T/hello-bundle/rootfs" /app/hello 2>&1)
                check "the image runs it (umoci unpack, chroot): '$out'" test "$out" = "hello from a dynamic program"
        else
                skip "the image runs it" "umoci missing"
        fi
fi

# --- 9. numbers --------------------------------------------------------------

m_size=$(stat -c %s "$M_NOTES")
c_size=$(stat -c %s "$C_NOTES")
layers=$(jq '[.layers[].size] | add' "$M_NOTES")
total=$((m_size + c_size + layers))
app_layer=$(jq '.layers[-1].size' "$M_NOTES")
shared=$(jq -n --slurpfile n "$M_NOTES" --slurpfile b "$(blob "$L" "$(manifest_of "$L" base)")" \
        --slurpfile t "$(blob "$L" "$(manifest_of "$L" node)")" \
        '([$b[0].layers[].digest, $t[0].layers[].digest]) as $other
         | [$n[0].layers[] | select(.digest as $d | $other | index($d)) | .size] | add')
diag "notes image: $total bytes ($(mb "$total"): manifest, config and 3 gzip layers); app layer: $app_layer bytes ($(mb "$app_layer"))"
diag "shared by digest with the base and node images: $shared bytes, $(awk -v s="$shared" -v t="$total" 'BEGIN { printf "%.2f%%", 100 * s / t }') of the notes image"
if [ -n "$TO_HEALTHY" ]; then
        diag "time from an empty layout to a healthy stack: $(secs "$TO_HEALTHY") (build base, node, postgres, notes; compose; save; docker load; up -d until both are healthy)"
else
        diag "time from an empty layout to a healthy stack: not measured (the stack did not come up)"
fi

finish
