#!/usr/bin/env bash
# The bank benchmark (docs/benchmarks.md): a 3-node rangedb cluster on loopback,
# `rangedb workload init|run|check bank` at low contention (10,000 accounts spread
# over four ranges) and high contention (10 accounts in one range).
#
# Usage: bench/bank_bench.sh [--duration=SECONDS] [--concurrency=C]
#   BUILD_DIR=build (where bin/rangedb is; use a Release build for numbers)
#   WORK_DIR=/var/tmp (parent of the temporary stores)
#
# Prints, per contention level, the workload's own last line
# (txn/s=X retries/s=X p50_ms=X p99_ms=X ...) and the check's total=X expected=Y.
# Exits 1 if a check fails. Everything started here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=30
CONCURRENCY=16
BUILD_DIR=${BUILD_DIR:-build}
WORK_DIR=${WORK_DIR:-/var/tmp}
PORTS=(27261 27262 27263)
HTTP_PORTS=(28091 28092 28093)

for arg in "$@"; do
  case "$arg" in
    --duration=*) DURATION=${arg#*=} ;;
    --concurrency=*) CONCURRENCY=${arg#*=} ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bank_bench.sh: unknown argument \"$arg\" (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$DURATION" =~ ^[1-9][0-9]*$ ]] || { echo "bank_bench.sh: --duration takes seconds" >&2; exit 2; }
[[ "$CONCURRENCY" =~ ^[1-9][0-9]*$ ]] || { echo "bank_bench.sh: --concurrency takes a count" >&2; exit 2; }

RANGEDB=$BUILD_DIR/bin/rangedb
[ -x "$RANGEDB" ] || { echo "bank_bench.sh: $RANGEDB missing: BUILD_DIR=$BUILD_DIR scripts/build.sh rangedb" >&2; exit 1; }

WORK=$(mktemp -d "$WORK_DIR/bank_bench.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

INIT_ARGS=(--split-at=bank/00002500,bank/00005000,bank/00007500)
# shellcheck source=bench/local_cluster.sh
source "$(dirname "$0")/local_cluster.sh"
start_local_cluster

status=0
for accounts in 10000 10; do
  echo "bank: accounts=$accounts concurrency=$CONCURRENCY duration=${DURATION}s"
  "$RANGEDB" workload init bank --host="$JOIN" --accounts="$accounts" --drop >&2
  "$RANGEDB" workload run bank --host="$JOIN" --concurrency="$CONCURRENCY" \
    --duration="$DURATION" 2>/dev/null | tail -1
  "$RANGEDB" workload check bank --host="$JOIN" || status=1
done
exit $status
