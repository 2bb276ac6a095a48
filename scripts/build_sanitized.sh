#!/usr/bin/env bash
# Configures and builds the ASan+UBSan tree: the library, the unit tests and the `accel` tool
# (examples and benchmarks are left out to save build time). Incremental and idempotent.
#   usage: scripts/build_sanitized.sh BUILD_DIR [JOBS]
# -O0 because UBSan makes optimized compiles 2-3x slower (binary.cc: 12 s at -O0, 35 s at -O1,
# 14 s for the Release build); the sanitized tests run small tensors. Asserts stay on.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${1:?usage: build_sanitized.sh BUILD_DIR [JOBS]}"
jobs="${2:-$(nproc)}"

cmake -S "$repo_root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS_DEBUG="-O0 -g1" -DCMAKE_C_FLAGS_DEBUG="-O0 -g1" -DACCEL_SANITIZE=ON -DACCEL_BUILD_EXAMPLES=OFF -DACCEL_BUILD_BENCHMARKS=OFF \
  -DACCEL_SANITIZER_TESTS=OFF >/dev/null
targets=(accel_tests)
# The tool may not exist yet in early trees.
if grep -q '^build accel_cli:' "$build_dir/build.ninja"; then targets+=(accel_cli); fi
cmake --build "$build_dir" -j "$jobs" --target "${targets[@]}"
