#!/usr/bin/env bash
# Runs every test: the unit tests (check) and the integration tests (real OCI
# tools as judges) in a normal build and again under AddressSanitizer and
# UndefinedBehaviorSanitizer, then the ELF fuzz target for a bounded time.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test || exit 1

status=0
passed=0
failed=0

count() {  # count BUILD_DIR -- add the results of the last `meson test` there
        local log=$1/meson-logs/testlog.json
        [ -f "$log" ] || return 0
        local p f
        p=$(grep -c '"result": "OK"' "$log" || true)
        f=$(grep -Ec '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$log" || true)
        passed=$((passed + p))
        failed=$((failed + f))
}

run_suite() {  # run_suite BUILD_DIR MESON_SETUP_ARGS...
        local dir=$1
        shift
        # An existing directory gets the options too, so that a build set up
        # by hand is checked with warnings as errors like a new one.
        if [ -d "$dir" ]; then
                meson configure "$dir" "$@" >/dev/null || { status=1; return; }
        else
                meson setup "$dir" "$@" >/dev/null || { status=1; return; }
        fi
        ninja -C "$dir" >/dev/null || { ninja -C "$dir"; status=1; failed=$((failed + 1)); return; }
        meson test -C "$dir" --print-errorlogs --num-processes 2 || status=1
        count "$dir"
}

# Warnings are errors here (and in CI, which runs this), not in users' builds.
run_suite build -Dwerror=true
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_suite build-asan -Dwerror=true -Dbuildtype=debug -Db_sanitize=address,undefined -Db_lundef=false
unset ASAN_OPTIONS UBSAN_OPTIONS

if [ -x fuzz/run.sh ]; then
        if FUZZ_SECONDS=${FUZZ_SECONDS:-60} fuzz/run.sh; then
                passed=$((passed + 1))
        else
                failed=$((failed + 1))
                status=1
        fi
fi

echo "$passed passed, $failed failed"
exit $status
