#!/usr/bin/env bash
# SQL scans (docs/benchmarks.md, "SQL scans"): a fresh 3-node rangedb cluster on
# loopback, `rangedb workload init sql-scan` (loads table sql_scan_t), then `rangedb
# workload run sql-scan` with the nodes' pids: SELECT count(*) and SELECT sum(x) over
# the table, a KV scan of it, and an in-process MVCC scan of the same rows.
#
# Usage: bench/sql_scan_bench.sh [--rows=N] [--repeats=R] [--load-workers=W] [--nodes=1|3]
#   --rows          rows of sql_scan_t (default 1000000; e.g. 20000 for a smoke run)
#   --repeats       runs of each scan, the median reported (default 3)
#   --load-workers  sessions loading the table in parallel (default 1)
#   --nodes         cluster size (default 3)
#   BUILD_DIR=build (where bin/rangedb is)
#   WORK_DIR=/var/tmp (parent of the temporary stores and of the baseline's engine)
#   PERF_SECONDS=S  if set: `perf record` the nodes for S seconds from the start of the
#                   scans, reports left in $WORK_DIR/sql_scan_perf.<node>.txt
#
# Prints the workload's report, then `rangedb node status` (which node held which
# lease). Everything started here is stopped on exit; the stores are removed.
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=1000000
REPEATS=3
LOAD_WORKERS=1
NODES=3
BUILD_DIR=${BUILD_DIR:-build}
WORK_DIR=${WORK_DIR:-/var/tmp}
PERF_SECONDS=${PERF_SECONDS:-}
# Apart from the demo (26257-26259, 8080-8082) and the other benchmarks' clusters.
ALL_PORTS=(27281 27282 27283)
ALL_HTTP_PORTS=(28111 28112 28113)

for arg in "$@"; do
  case "$arg" in
    --rows=*) ROWS=${arg#*=} ;;
    --repeats=*) REPEATS=${arg#*=} ;;
    --load-workers=*) LOAD_WORKERS=${arg#*=} ;;
    --nodes=*) NODES=${arg#*=} ;;
    -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "sql_scan_bench.sh: unknown argument \"$arg\" (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$ROWS" =~ ^[1-9][0-9]*$ ]] || { echo "sql_scan_bench.sh: --rows takes a count" >&2; exit 2; }
[[ "$NODES" =~ ^[13]$ ]] || { echo "sql_scan_bench.sh: --nodes takes 1 or 3" >&2; exit 2; }
PORTS=("${ALL_PORTS[@]:0:$NODES}")
HTTP_PORTS=("${ALL_HTTP_PORTS[@]:0:$NODES}")

RANGEDB=$BUILD_DIR/bin/rangedb
[ -x "$RANGEDB" ] || { echo "sql_scan_bench.sh: $RANGEDB missing: BUILD_DIR=$BUILD_DIR scripts/build.sh rangedb" >&2; exit 1; }

WORK=$(mktemp -d "$WORK_DIR/sql_scan_bench.XXXXXX")
PIDS=()
PERF_PIDS=()
cleanup() {
  for p in "${PERF_PIDS[@]}"; do { kill -INT "$p" && wait "$p"; } 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do { kill -9 "$p" && wait "$p"; } 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=bench/local_cluster.sh
source "$(dirname "$0")/local_cluster.sh"
start_local_cluster

SERVER_PIDS=$(IFS=,; echo "${PIDS[*]}")
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null || true)
echo "sql_scan_bench: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start," \
  "build ${build_type:-unknown} ($RANGEDB), $NODES nodes (pids $SERVER_PIDS), rows=$ROWS"
# Progress goes to the terminal (stderr); a failing step exits with its status.
# --timeout: each load statement reads every row it inserts (seconds per chunk).
"$RANGEDB" workload init sql-scan --host="$JOIN" --rows="$ROWS" --load-workers="$LOAD_WORKERS" \
  --timeout=120s
if [ -n "$PERF_SECONDS" ]; then
  for i in "${!PIDS[@]}"; do
    perf record -e cpu-clock -F 499 -g -p "${PIDS[$i]}" -o "$WORK/perf.n$i.data" \
      -- sleep "$PERF_SECONDS" >/dev/null 2>&1 &
    PERF_PIDS+=($!)
  done
fi
"$RANGEDB" workload run sql-scan --host="$JOIN" --rows="$ROWS" --repeats="$REPEATS" \
  --server-pids="$SERVER_PIDS" --work-dir="$WORK" --timeout=120s
echo "sql_scan_bench: load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
if [ -n "$PERF_SECONDS" ]; then
  for p in "${PERF_PIDS[@]}"; do wait "$p" || true; done
  PERF_PIDS=()
  for i in "${!PIDS[@]}"; do
    perf report -i "$WORK/perf.n$i.data" --no-children --sort=dso,sym --percent-limit=0.7 \
      --stdio >"$WORK_DIR/sql_scan_perf.n$((i + 1)).txt" 2>/dev/null || true
  done
  echo "sql_scan_bench: perf reports in $WORK_DIR/sql_scan_perf.n*.txt"
fi
echo "sql_scan_bench: SQL and KV went through 127.0.0.1:${PORTS[0]} (node 1)"
"$RANGEDB" node status --host=127.0.0.1:${PORTS[0]} || true
