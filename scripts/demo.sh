#!/usr/bin/env bash
# Runs the product. Today: builds `rangedb` and shows its version and commands.
# Later issues turn this into a local demo cluster with a SQL shell.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh rangedb >/dev/null
build/bin/rangedb version
echo
build/bin/rangedb help
