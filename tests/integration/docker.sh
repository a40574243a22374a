# A private Docker engine for the integration tests, sourced after lib.sh.
#
# start_dockerd starts dockerd on a socket under $T with no bridge, no
# iptables rules and the vfs storage driver, and points the docker client
# (and docker-compose) at it through DOCKER_HOST. When the test ends, whether
# it passed or not, lib.sh's cleanup runs docker_cleanup: first the commands
# in DOCKER_BEFORE_STOP (a test appends e.g. its `docker-compose down -v`),
# then dockerd is stopped by its PID (it stops its own containerd), then what
# is left mounted under $T is unmounted, before lib.sh removes $T.

DOCKER_SKIP=
DOCKERD_PID=
DOCKER_BEFORE_STOP=

# Unmount what is left under $T (network namespaces under dockerd's exec
# root, a tmpfs of a test), deepest first.
unmount_all() {
        local m
        awk -v t="$T/" 'index($2, t) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do
                umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
        done
}

# start_dockerd -- 0 when the engine answers; else 1 with the reason in
# DOCKER_SKIP.
start_dockerd() {
        local w=$T/d i
        local t
        for t in docker dockerd; do
                if ! have $t; then
                        DOCKER_SKIP="$t not found on PATH"
                        return 1
                fi
        done
        if [ "$(id -u)" != 0 ]; then
                DOCKER_SKIP="dockerd needs root"
                return 1
        fi
        mkdir -p "$w"
        dockerd --iptables=false --ip6tables=false --bridge=none --ip-forward=false --ip-masq=false \
                --storage-driver=vfs --data-root "$w/data" --exec-root "$w/exec" --pidfile "$w/docker.pid" \
                --host "unix://$w/docker.sock" >"$w/dockerd.log" 2>&1 &
        DOCKERD_PID=$!
        export DOCKER_HOST="unix://$w/docker.sock"
        for i in $(seq 600); do
                docker version >/dev/null 2>&1 && return 0
                kill -0 "$DOCKERD_PID" 2>/dev/null || break
                sleep 0.05
        done
        DOCKER_SKIP="dockerd did not start: $(tail -n 1 "$w/dockerd.log")"
        return 1
}

# stop_dockerd -- SIGTERM to the engine we started, a bounded wait (it stops
# its containers and containerd first), SIGKILL if it does not go.
stop_dockerd() {
        local pid=$DOCKERD_PID i state
        [ -n "$pid" ] || return 0
        DOCKERD_PID=
        kill -TERM "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
        for i in $(seq 300); do
                state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)
                [ -z "$state" ] || [ "$state" = Z ] && break
                sleep 0.1
        done
        [ -n "$state" ] && [ "$state" != Z ] && kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        return 0
}

docker_cleanup() {
        if [ -n "$DOCKERD_PID" ] && [ -n "$DOCKER_BEFORE_STOP" ]; then
                eval "$DOCKER_BEFORE_STOP"
        fi
        stop_dockerd
        unmount_all
}
EXTRA_CLEANUP=docker_cleanup
