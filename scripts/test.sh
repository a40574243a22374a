#!/usr/bin/env bash
# Runs every test: the unit tests (check) and the integration tests (real OCI
# tools as judges) in a normal build and again under AddressSanitizer and
# UndefinedBehaviorSanitizer, then the ELF fuzz targets for a bounded time.
#
# The closing line counts checks -- each TAP line of the integration
# scripts, each unit test case, each other meson test -- not meson tests:
#   N passed, N failed, N skipped
# with the reason of every skip and the name of every failure printed above
# it. A dependency, setup or build failure counts as a failure, and the line
# is still printed. With OB_TEST_STRICT=1 (CI) a missing prerequisite is a
# failure inside the tests themselves, and any skip left is one here too.
set -uo pipefail
cd "$(dirname "$0")/.."

status=0
passed=0
failed=0
skipped=0
notes=()

fail() {  # fail WHAT -- a failure outside the tests
        failed=$((failed + 1))
        notes+=("fail $1")
        status=1
}

scripts/deps.sh test || fail "scripts/deps.sh test: the dependencies could not be installed"

count() {  # count LABEL BUILD_DIR -- add the checks of the last `meson test` there
        local log=$2/meson-logs/testlog.json out line
        if [ ! -s "$log" ]; then
                fail "$1: meson wrote no test log ($log)"
                return
        fi
        if ! out=$(python3 scripts/count-tests.py "$1" "$log"); then
                fail "$1: cannot read $log"
                return
        fi
        while IFS= read -r line; do
                case $line in
                counts\ *)
                        read -r _ p f s <<<"$line"
                        passed=$((passed + p))
                        failed=$((failed + f))
                        skipped=$((skipped + s))
                        ;;
                *) notes+=("$line") ;;
                esac
        done <<<"$out"
}

run_suite() {  # run_suite LABEL BUILD_DIR MESON_SETUP_ARGS...
        local label=$1 dir=$2
        shift 2
        # An existing directory gets the options too, so that a build set up
        # by hand is checked with warnings as errors like a new one.
        if [ -f "$dir/build.ninja" ]; then
                meson configure "$dir" "$@" >/dev/null || { fail "$label: meson configure"; return; }
        else
                meson setup "$dir" "$@" >/dev/null || { fail "$label: meson setup"; return; }
        fi
        ninja -C "$dir" >/dev/null || { ninja -C "$dir"; fail "$label: the build"; return; }
        # A test log left from an earlier run must not be counted again.
        rm -f "$dir/meson-logs/testlog.json"
        meson test -C "$dir" --print-errorlogs --num-processes 2 || status=1
        count "$label" "$dir"
}

# Warnings are errors here (and in CI, which runs this), not in users' builds.
run_suite build build -Dwerror=true
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_suite asan build-asan -Dwerror=true -Dbuildtype=debug -Db_sanitize=address,undefined -Db_lundef=false
unset ASAN_OPTIONS UBSAN_OPTIONS

# Each fuzz target's bounded run is one check.
for target in elf elf-closure; do
        if FUZZ_SECONDS=${FUZZ_SECONDS:-60} FUZZ_TARGETS=$target fuzz/run.sh; then
                passed=$((passed + 1))
        else
                fail "fuzz/run.sh: fuzz-$target"
        fi
done

if [ -n "${OB_TEST_STRICT:-}" ] && [ "$OB_TEST_STRICT" != 0 ] && [ "$skipped" -gt 0 ]; then
        notes+=("fail OB_TEST_STRICT=1: the $skipped skips above are failures")
        failed=$((failed + skipped))
        skipped=0
fi

echo
for n in "${notes[@]}"; do
        echo "$n"
done
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
        echo "fail a step failed without a failing check"
        failed=1
fi
[ "$failed" -gt 0 ] && status=1
echo "$passed passed, $failed failed, $skipped skipped"
exit $status
