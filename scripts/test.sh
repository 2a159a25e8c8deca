#!/usr/bin/env bash
# The whole test suite: the release build (build/) and, once more, an AddressSanitizer + UBSan build
# (build-asan/).  Usage: scripts/test.sh [--no-asan]
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DENCORE_NATIVE="${ENCORE_NATIVE:-ON}" >/dev/null
cmake --build build --parallel "$jobs"
ctest --test-dir build --output-on-failure --parallel "$jobs"

if [ "${1:-}" != "--no-asan" ]; then
  # On an AVX-512 CPU the sanitizer pass builds for x86-64-v3 (AVX2 + FMA + F16C), so the suite runs
  # both kernel families: the release pass the AVX-512 ones, this pass the AVX2 ones.
  arch=""
  if [ "${ENCORE_NATIVE:-ON}" = ON ] && grep -qw avx512f /proc/cpuinfo && grep -qw avx2 /proc/cpuinfo \
     && grep -qw f16c /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then
    arch=x86-64-v3
  fi
  # -O1 -g1: the sanitizers' usual level, and line tables are all their stack traces need. This build
  # is most of CI's time; it compiles in about half the compiler time of RelWithDebInfo's -O2 -g.
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DENCORE_SANITIZE=ON -DENCORE_BUILD_BENCH=OFF \
    -DENCORE_NATIVE="${ENCORE_NATIVE:-ON}" -DENCORE_ARCH="$arch" >/dev/null
  cmake --build build-asan --parallel "$jobs"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure --parallel "$jobs"
fi
