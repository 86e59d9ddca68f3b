#!/usr/bin/env bash
# Configures (once) and builds rangedb into ./build; every executable lands in build/bin/.
# Usage: scripts/build.sh [ninja targets...]
#   BUILD_TYPE=Debug|Release|RelWithDebInfo (default RelWithDebInfo)
#   RANGEDB_WERROR=ON|OFF (default ON: warnings are errors)
#   SANITIZE=address (ASan + UBSan; use its own BUILD_DIR, e.g. build-asan)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

BUILD_DIR=${BUILD_DIR:-build}
BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo}
WERROR=${RANGEDB_WERROR:-ON}
SANITIZE=${SANITIZE:-}

launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi

if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" \
    -DRANGEDB_WERROR="$WERROR" -DRANGEDB_SANITIZE="$SANITIZE" "${launcher[@]}" >/dev/null
fi
# Two cores and C++ with gRPC headers: more jobs than cores only thrash memory.
cmake --build "$BUILD_DIR" -- -j"$(nproc)" "$@"
