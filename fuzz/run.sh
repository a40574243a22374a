#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds the libFuzzer targets with clang, ASan and UBSan in their own build
# directory and runs each for a bounded time.
#
#   fuzz/run.sh [BUILD_DIR]              (default: build-fuzz in the source tree)
#   FUZZ_SECONDS=600 fuzz/run.sh         (per target; default 60)
#   FUZZ_TARGETS=elf fuzz/run.sh         (default: "elf elf-closure")
#
# New inputs go to BUILD_DIR/corpus-NAME, crashes to BUILD_DIR/artifacts-NAME.
# Replay one with: BUILD_DIR/fuzz/fuzz-NAME FILE
# The seeds in fuzz/corpus come from: python3 fuzz/gen-corpus.py
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-"$src/build-fuzz"}

if [ ! -f "$build/build.ninja" ]; then
        CC=clang meson setup "$build" "$src" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false
fi

for name in ${FUZZ_TARGETS:-elf elf-closure}; do
        ninja -C "$build" "fuzz/fuzz-$name"
        mkdir -p "$build/corpus-$name" "$build/artifacts-$name"
        "$build/fuzz/fuzz-$name" \
                -max_total_time="${FUZZ_SECONDS:-60}" \
                -dict="$src/fuzz/elf.dict" \
                -artifact_prefix="$build/artifacts-$name/" \
                -print_final_stats=1 \
                "$build/corpus-$name" "$src/fuzz/corpus/$name"
done
