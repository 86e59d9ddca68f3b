#!/usr/bin/env bash
# SQL against KV (docs/benchmarks.md, "SQL vs KV (issue 16)"): a fresh 3-node rangedb
# cluster on loopback, `rangedb workload init sql-kv`, then `rangedb workload run
# sql-kv` with the nodes' pids (CPU per operation) and the scan benchmark.
#
# Usage: bench/sql_kv_bench.sh [--duration=SECONDS] [--concurrency=C,C,...]
#                              [--scan-rows=N] [--keys=K] [--value-bytes=B]
#                              [--ops=select,insert,update] [--nodes=3|1]
#   --duration     of each phase (SQL and KV, per op and concurrency; default 10)
#   --concurrency  client counts, one phase each (default 1,32)
#   --scan-rows    rows of the count(*)/sum(x) scan table (default 100000; 0: none)
#   --ops          the operations to compare (default select,insert,update)
#   --nodes        3 (default) or 1: one node holds every lease, so the run measures
#                  the SQL path itself, without hops between nodes
#   BUILD_DIR=build (where bin/rangedb is)
#   WORK_DIR=/var/tmp (parent of the temporary stores)
#
# Prints the workload's table and scan line, then `rangedb node status` (which node
# held which lease). Everything started here is stopped on exit; the stores are
# removed.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=10
CONCURRENCY=1,32
SCAN_ROWS=100000
KEYS=10000
VALUE_BYTES=64
OPS=select,insert,update
NODES=3
BUILD_DIR=${BUILD_DIR:-build}
WORK_DIR=${WORK_DIR:-/var/tmp}
# Apart from the demo (26257-26259, 8080-8082) and the other benchmarks' clusters.
PORTS=(27271 27272 27273)
HTTP_PORTS=(28101 28102 28103)

for arg in "$@"; do
  case "$arg" in
    --duration=*) DURATION=${arg#*=} ;;
    --concurrency=*) CONCURRENCY=${arg#*=} ;;
    --scan-rows=*) SCAN_ROWS=${arg#*=} ;;
    --keys=*) KEYS=${arg#*=} ;;
    --value-bytes=*) VALUE_BYTES=${arg#*=} ;;
    --ops=*) OPS=${arg#*=} ;;
    --nodes=*) NODES=${arg#*=} ;;
    -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "sql_kv_bench.sh: unknown argument \"$arg\" (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$DURATION" =~ ^[1-9][0-9]*$ ]] || { echo "sql_kv_bench.sh: --duration takes seconds" >&2; exit 2; }
[[ "$CONCURRENCY" =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] ||
  { echo "sql_kv_bench.sh: --concurrency takes counts, e.g. 1,32" >&2; exit 2; }
[[ "$SCAN_ROWS" =~ ^[0-9]+$ ]] || { echo "sql_kv_bench.sh: --scan-rows takes a count" >&2; exit 2; }
[[ "$NODES" =~ ^[13]$ ]] || { echo "sql_kv_bench.sh: --nodes takes 3 or 1" >&2; exit 2; }
if [ "$NODES" = 1 ]; then PORTS=("${PORTS[0]}"); HTTP_PORTS=("${HTTP_PORTS[0]}"); fi

RANGEDB=$BUILD_DIR/bin/rangedb
[ -x "$RANGEDB" ] || { echo "sql_kv_bench.sh: $RANGEDB missing: BUILD_DIR=$BUILD_DIR scripts/build.sh rangedb" >&2; exit 1; }

WORK=$(mktemp -d "$WORK_DIR/sql_kv_bench.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do { kill -9 "$p" && wait "$p"; } 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=bench/local_cluster.sh
source "$(dirname "$0")/local_cluster.sh"
start_local_cluster

SERVER_PIDS=$(IFS=,; echo "${PIDS[*]}")
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null || true)
echo "sql_kv_bench: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start," \
  "build ${build_type:-unknown} ($RANGEDB), concurrency=$CONCURRENCY duration=${DURATION}s per phase"
# A failing step shows the end of its progress output.
run_step() {
  local log=$1; shift
  if ! "$@" 2>"$log"; then
    echo "sql_kv_bench.sh: failed: $*" >&2
    tail -20 "$log" >&2
    exit 1
  fi
}
run_step "$WORK/init.log" "$RANGEDB" workload init sql-kv --host="$JOIN" --keys="$KEYS" \
  --value-bytes="$VALUE_BYTES" --concurrency="$CONCURRENCY"
run_step "$WORK/run.log" "$RANGEDB" workload run sql-kv --host="$JOIN" --keys="$KEYS" \
  --value-bytes="$VALUE_BYTES" --concurrency="$CONCURRENCY" --duration="$DURATION" \
  --server-pids="$SERVER_PIDS" --scan-rows="$SCAN_ROWS" --timeout=60s --ops="$OPS"
echo "sql_kv_bench: load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
# Where the leases ended up: client i of a phase went through node ${PORTS[i % nodes]}.
if [ "$NODES" = 3 ]; then
  echo "sql_kv_bench: client i went through 127.0.0.1:${PORTS[0]}, :${PORTS[1]}, :${PORTS[2]} for i % 3 = 0, 1, 2"
fi
"$RANGEDB" node status --host=127.0.0.1:${PORTS[0]} || true
