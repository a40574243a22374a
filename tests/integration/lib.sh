# Helpers for the integration tests: TAP output, temporary directories, and
# the real tools that judge our output. Sourced by test-*.sh.
set -u

OCI_BUILD=${OCI_BUILD:?OCI_BUILD must point at the oci-build binary}
SOURCE_ROOT=${SOURCE_ROOT:?SOURCE_ROOT must point at the source tree}
# The independent validator lives beside the checkout on our machines and in
# CI, not in a user's clone: checks that need it say so and are skipped.
OCI_VALIDATE=${OCI_VALIDATE:-$SOURCE_ROOT/../shared/bin/oci-validate}

TAP_N=0
TAP_FAILED=0
T=$(mktemp -d "${TMPDIR:-/tmp}/oci-build-test.XXXXXX")
CLEANUP_PIDS=()
# Downloads and the layer cache of each test are its own: tests that run at
# the same time do not share them, and a user's cache is never touched.
export OCI_BUILD_CACHE=$T/cache

cleanup() {
        local pid
        for pid in "${CLEANUP_PIDS[@]}"; do
                kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
        done
        [ -n "${EXTRA_CLEANUP:-}" ] && eval "$EXTRA_CLEANUP"
        rm -rf "$T"
}
trap cleanup EXIT

ok() {      # ok DESCRIPTION -- record a pass
        local desc="$*"
        TAP_N=$((TAP_N + 1))
        # A TAP line is one line: a description that quotes a command's
        # output keeps its words, not its newlines.
        echo "ok $TAP_N - ${desc//$'\n'/ }"
}

not_ok() {  # not_ok DESCRIPTION [DETAIL...]
        TAP_N=$((TAP_N + 1))
        TAP_FAILED=$((TAP_FAILED + 1))
        echo "not ok $TAP_N - ${1//$'\n'/ }"
        shift
        # Every line of the details is a TAP comment, however many it has.
        [ $# -gt 0 ] && printf '%s\n' "$@" | sed 's/^/#   /'
        return 0
}

strict() { [ -n "${OB_TEST_STRICT:-}" ] && [ "$OB_TEST_STRICT" != 0 ]; }

# skip DESCRIPTION REASON -- a check that cannot run: a TAP SKIP, or under
# OB_TEST_STRICT=1 a failure that names what was missing.
skip() {
        if strict; then
                not_ok "$1" "missing prerequisite (OB_TEST_STRICT=1 makes it a failure): $2"
                return 0
        fi
        TAP_N=$((TAP_N + 1))
        echo "ok $TAP_N - $1 # SKIP $2"
}

# skip_all REASON -- the whole test cannot start (no engine, no tool): a
# skipped test (TAP plan 1..0), or under OB_TEST_STRICT=1 a failure. Exits.
skip_all() {
        if [ "$TAP_N" -eq 0 ] && ! strict; then
                echo "1..0 # SKIP $1"
                exit 0
        fi
        skip "the rest of this test" "$1"
        finish
}

# need TOOL... -- every tool is on PATH, or the whole test is skipped.
need() {
        local t
        for t in "$@"; do
                have "$t" || skip_all "$t not found on PATH"
        done
}

check() {   # check DESCRIPTION COMMAND... -- passes when the command succeeds
        local desc=$1
        shift
        local out
        if out=$("$@" 2>&1); then
                ok "$desc"
        else
                not_ok "$desc" "command: $*" "$(printf '%s\n' "$out" | tail -n 15)"
        fi
}

# expect_fail DESCRIPTION PATTERN COMMAND... -- the command must exit non-zero
# with a one-line error on stderr that matches PATTERN (grep -E).
expect_fail() {
        local desc=$1 pattern=$2
        shift 2
        local err rc
        err=$("$@" 2>&1 >/dev/null)
        rc=$?
        if [ $rc -eq 0 ]; then
                not_ok "$desc" "expected a failure, the command succeeded: $*"
        elif [ "$(printf '%s\n' "$err" | wc -l)" -ne 1 ]; then
                not_ok "$desc" "expected one line of error, got:" "$err"
        elif ! printf '%s\n' "$err" | grep -Eq -- "$pattern"; then
                not_ok "$desc" "error does not match /$pattern/:" "$err"
        else
                ok "$desc ($err)"
        fi
}

# copy_sources SYSROOT NAME...: every host file and symlink the named
# images take from the host, copied (with its parents) into SYSROOT, for
# tests that change a sysroot without touching the host's.
copy_sources() {
        local root=$1 n type path src
        shift
        mkdir -p "$root"
        for n in "$@"; do
                "$OCI_BUILD" show "$n" --files | awk 'NR > 1 && $1 == "f" { print $1, $6, $7 } NR > 1 && $1 == "l" { print $1, $5, "-" }' |
                        while read -r type path src; do
                                if [ "$type" = f ]; then src=${src%;}; else src=$path; fi
                                case $src in /*) [ -e "$src" ] || [ -L "$src" ] && cp -a --parents "$src" "$root" 2>/dev/null ;; esac
                        done
        done
}

have() { command -v "$1" >/dev/null 2>&1; }

have_validator() { [ -x "$OCI_VALIDATE" ] && python3 -c 'import jsonschema' 2>/dev/null; }

# manifest LAYOUT NAME: the digest of the image NAME's manifest in index.json;
# layers LAYOUT NAME: its layer digests, in order.
manifest() { jq -r --arg n "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $n) | .digest' "$1/index.json"; }
layers() { jq -r '.layers[].digest' "$1/blobs/sha256/$(manifest "$1" "$2" | cut -d: -f2)"; }
# validate DESC LAYOUT NAME...: oci-validate --distroless judges the images;
# only this check is skipped where the validator is missing.
validate() {
        local desc=$1
        shift
        if have_validator; then
                check "$desc" "$OCI_VALIDATE" "$@" --distroless
        else
                skip "$desc" "oci-validate (or python3-jsonschema) not available"
        fi
}

# A fingerprint of a directory tree: names, types, modes and contents.
tree_sum() {
        (cd "$1" && find . -printf '%p %y %m %s %l\n' | LC_ALL=C sort && \
                find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum) | sha256sum | cut -d' ' -f1
}

finish() {
        if [ "$TAP_N" -eq 0 ]; then   # no check ran: that is no pass
                not_ok "at least one check ran"
        fi
        echo "1..$TAP_N"
        [ "$TAP_FAILED" -eq 0 ]
        exit $?
}

# A TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
        local p
        for _ in $(seq 50); do
                p=$((20000 + RANDOM % 40000))
                (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
        done
        return 1
}

# survivors DIR -- the PIDs of processes that have a file under DIR open or
# DIR as their working directory (what an interrupted command left running).
survivors() {
        local p
        for p in /proc/[0-9]*; do
                [ "${p#/proc/}" = $$ ] && continue
                ls -l "$p/cwd" "$p/fd" 2>/dev/null | grep -qF -- "$1" && echo "${p#/proc/}"
        done
}

# wait_for SECONDS COMMAND... -- until the command succeeds, at most SECONDS.
wait_for() {
        local n=$(($1 * 10))
        shift
        while [ "$n" -gt 0 ]; do
                "$@" >/dev/null 2>&1 && return 0
                sleep 0.1
                n=$((n - 1))
        done
        return 1
}

# wait_port PORT [SECONDS] -- until something accepts on 127.0.0.1:PORT.
wait_port() {
        local i
        for i in $(seq $((${2:-20} * 10))); do
                (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
                sleep 0.1
        done
        return 1
}

# A docker-registry on 127.0.0.1 at a free port, stopped when the test
# ends: sets PORT and REG_PID, or REG_SKIP to why it did not start.
REG_SKIP=
start_registry() {
        local try i
        if ! have docker-registry || ! have skopeo || ! have curl; then
                REG_SKIP="docker-registry, skopeo or curl not installed"
                return 1
        fi
        mkdir -p "$T/reg/data"
        # A free port can be taken between asking and binding: try a few.
        for try in 1 2 3; do
                PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
                printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
                        "$T/reg/data" "$PORT" > "$T/reg/config.yml"
                docker-registry serve "$T/reg/config.yml" >"$T/reg/log" 2>&1 &
                REG_PID=$!
                CLEANUP_PIDS+=("$REG_PID")
                for i in $(seq 200); do
                        curl -fs "http://127.0.0.1:$PORT/v2/" >/dev/null && return 0
                        kill -0 "$REG_PID" 2>/dev/null || break
                        sleep 0.05
                done
                kill "$REG_PID" 2>/dev/null
                wait "$REG_PID" 2>/dev/null
        done
        REG_SKIP="the registry did not start: $(tail -n 1 "$T/reg/log")"
        return 1
}
