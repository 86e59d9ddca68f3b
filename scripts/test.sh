#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, then runs the unit and
# integration tests with ctest. Long tests carry the label `slow`; run them with
#   scripts/test.sh slow
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
labels=${1:-'unit|integration'}
cd build
ctest --output-on-failure -L "$labels" -j"$(nproc)" --timeout 900
