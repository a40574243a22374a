#!/usr/bin/env bash
# The six tool images, run for real on a Docker engine: each config's test
# steps through `docker run --network=none`, curl over HTTPS against the CA
# bundle at the image's path, and postgres serving the host's psql.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/docker.sh"

need jq python3
PY=/usr/bin/python3
[ -x $PY ] && $PY -c 'import yaml' 2>/dev/null || PY=python3
# Without PyYAML no config's test steps can be read: no step would run.
$PY -c 'import yaml' 2>/dev/null || skip_all "PyYAML (python3-yaml) missing: the configs' test steps cannot be read"
L=$T/oci
TOOLS="curl jq git go node postgres"

if ! "$OCI_BUILD" -q --layout "$L" tool --all; then
        not_ok "oci-build tool --all"
        finish
fi
ok "oci-build tool --all"
"$OCI_BUILD" -q --layout "$L" save $TOOLS -o "$T/tools.tar" || not_ok "oci-build save of the six tools"

if ! start_dockerd; then
        skip "docker run of the tool images" "$DOCKER_SKIP"
        finish
fi
out=$(docker load -i "$T/tools.tar" 2>&1) && ok "docker load of the six tool images" ||
        not_ok "docker load of the six tool images" "$out"

tag_of() {  # the versioned tag `save` gave image $1
        docker image ls --format '{{.Repository}}:{{.Tag}}' "distroless-$1" | grep -v ':latest$' | head -n 1
}

# The test steps of a config, one JSON argv per line, then its files and env.
steps_of() {
        $PY - "$SOURCE_ROOT/configs/tools/$1.yml" <<'PYEOF'
import json, sys, yaml
t = yaml.safe_load(open(sys.argv[1])).get("test") or {}
steps = t.get("steps") or [{"command": t["command"], "expect": t.get("expect")}]
for s in steps:
    print("STEP " + json.dumps({"argv": [str(a) for a in s["command"]], "expect": s.get("expect")}))
for path, content in (t.get("files") or {}).items():
    print("FILE " + json.dumps({"path": path, "content": content}))
for k, v in (t.get("env") or {}).items():
    print("ENV " + json.dumps(f"{k}={v}"))
PYEOF
}

for name in $TOOLS; do
        image=$(tag_of "$name")
        if [ -z "$image" ]; then
                not_ok "$name: image loaded" "no distroless-$name tag in the engine"
                continue
        fi
        # State shared between steps lives in /tmp, a host directory here.
        tmp=$T/tmp-$name
        mkdir -p "$tmp" && chmod 1777 "$tmp"
        envs=()
        if ! steps=$(steps_of "$name"); then
                not_ok "$name: its config's test steps can be read"
                continue
        fi
        mapfile -t lines <<<"$steps"
        for line in "${lines[@]}"; do
                case $line in
                FILE\ *)
                        f=$(jq -r .path <<<"${line#FILE }")
                        mkdir -p "$tmp/$(dirname "${f#/tmp/}")"
                        jq -j .content <<<"${line#FILE }" > "$tmp/${f#/tmp/}"
                        chmod -R a+rwX "$tmp"
                        ;;
                ENV\ *) envs+=(-e "$(jq -r . <<<"${line#ENV }")") ;;
                esac
        done
        n=0
        for line in "${lines[@]}"; do
                [[ $line == STEP\ * ]] || continue
                n=$((n + 1))
                mapfile -t argv < <(jq -r '.argv[]' <<<"${line#STEP }")
                expect=$(jq -r '.expect // empty' <<<"${line#STEP }")
                out=$(docker run --rm --network=none -v "$tmp:/tmp" "${envs[@]}" \
                        --entrypoint "${argv[0]}" "$image" "${argv[@]:1}" 2>&1)
                rc=$?
                if [ $rc -ne 0 ]; then
                        not_ok "$name: docker run step $n (${argv[*]})" "exit $rc" "$(tail -n 5 <<<"$out")"
                elif [ -n "$expect" ] && ! grep -qF -- "$expect" <<<"$out"; then
                        not_ok "$name: docker run step $n (${argv[*]})" "output lacks '$expect':" "$(tail -n 5 <<<"$out")"
                else
                        ok "$name: docker run --network=none step $n: ${argv[*]}"
                fi
        done
        [ "$n" -gt 0 ] || not_ok "$name: has test steps" "no step in configs/tools/$name.yml ran"
        user=$(docker image inspect --format '{{.Config.User}}' "$image")
        check "$name: runs as $user (1000:1000)" test "$user" = 1000:1000
        # The one failure that proves it: the runtime cannot find /bin/sh
        # (exit 127), not any failure at all.
        out=$(docker run --rm --network=none --entrypoint /bin/sh "$image" -c true 2>&1)
        rc=$?
        if [ $rc -eq 127 ] && grep -q '"/bin/sh".*no such file or directory' <<<"$out"; then
                ok "$name: has no /bin/sh (exit 127: /bin/sh: no such file or directory)"
        else
                not_ok "$name: has no /bin/sh" "expected exit 127 and /bin/sh not found, got exit $rc" "$out"
        fi
done

# --- curl over HTTPS, verified against the CA bundle at the image's path -----
if have openssl; then
        c=$T/tls
        mkdir -p "$c"
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=oci-build test CA" \
                -keyout "$c/ca.key" -out "$c/ca.crt" >/dev/null 2>&1
        openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$c/srv.key" -out "$c/srv.csr" >/dev/null 2>&1
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$c/ext"
        openssl x509 -req -in "$c/srv.csr" -CA "$c/ca.crt" -CAkey "$c/ca.key" -CAcreateserial -days 2 \
                -extfile "$c/ext" -out "$c/srv.crt" >/dev/null 2>&1
        port=$(free_port)
        echo 'hello over tls' > "$c/index.html"
        (cd "$c" && exec openssl s_server -quiet -accept "127.0.0.1:$port" -cert srv.crt -key srv.key -WWW) \
                >/dev/null 2>&1 &
        CLEANUP_PIDS+=($!)
        wait_port "$port"
        # The image's own bundle replaced by one that knows only the test CA.
        out=$(docker run --rm --network=host -v "$c/ca.crt:/etc/ssl/certs/ca-certificates.crt:ro" \
                "$(tag_of curl)" -fsS "https://localhost:$port/index.html" 2>&1)
        check "curl: HTTPS verifies against /etc/ssl/certs/ca-certificates.crt ($out)" test "$out" = "hello over tls"
        # Refused for the certificate (curl exit 60), not for any reason.
        out=$(docker run --rm --network=host "$(tag_of curl)" -fsS "https://localhost:$port/index.html" 2>&1)
        rc=$?
        if [ $rc -eq 60 ] && grep -qi 'certificate' <<<"$out"; then
                ok "curl: an unknown CA is refused (exit 60: $out)"
        else
                not_ok "curl: an unknown CA is refused" "expected curl exit 60 for the certificate, got exit $rc" "$out"
        fi
else
        skip "curl over HTTPS" "openssl not found on PATH"
fi

# --- postgres serves the host's psql ----------------------------------------
if have psql; then
        port=$(free_port)
        cid=$(docker run -d --network=host "$(tag_of postgres)" -D /var/lib/postgresql/data -p "$port" \
                -c listen_addresses=127.0.0.1 2>&1)
        if wait_port "$port" 60; then
                ok "postgres: listening on 127.0.0.1:$port"
                export PGPASSWORD=postgres
                q() { psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -Atc "$1" 2>&1; }
                check "psql: create a table" q "CREATE TABLE t (id int, v text)"
                check "psql: insert" q "INSERT INTO t VALUES (1, 'distroless')"
                check "psql: select returns the row" test "$(q 'SELECT v FROM t WHERE id = 1')" = distroless
                check "psql: scram-sha-256 password auth" test "$(q 'SHOW password_encryption')" = scram-sha-256
                # Refused for the password, not for any reason.
                out=$(PGPASSWORD=wrong psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -c 'select 1' 2>&1)
                rc=$?
                if [ $rc -ne 0 ] && grep -q 'password authentication failed for user "postgres"' <<<"$out"; then
                        ok "psql: a wrong password is refused (password authentication failed)"
                else
                        not_ok "psql: a wrong password is refused" "exit $rc" "$out"
                fi
                unset PGPASSWORD
        else
                not_ok "postgres: listening on 127.0.0.1:$port" "$(docker logs "$cid" 2>&1 | tail -n 5)"
        fi
        docker stop -t 30 "$cid" >/dev/null 2>&1
        check "postgres: stops cleanly (exit 0)" test "$(docker inspect --format '{{.State.ExitCode}}' "$cid")" = 0
        check "postgres: logs a clean shutdown" bash -c "docker logs '$cid' 2>&1 | grep -q 'database system is shut down'"
        docker rm "$cid" >/dev/null 2>&1
else
        skip "postgres with psql" "psql not found on PATH"
fi

finish
