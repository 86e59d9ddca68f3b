#!/usr/bin/env bash
# Compares rangedb's put throughput with etcd's, both as 3-member clusters on
# loopback, both driven by the same put-only loop (build/bin/kv_compare, see
# bench/workload_kv.h) with 256-byte values, at 1 client and at 32 clients.
#
# Usage: bench/compare_etcd.sh [--only=etcd|rangedb] [--duration=SECONDS]
#   BUILD_DIR=build (where bin/kv_compare and bin/rangedb are)
#   WORK_DIR=/var/tmp (parent of the temporary data dirs: put it on the disk you
#   want to measure; both systems fsync there)
#
# The last line is "rangedb/etcd puts: c1=X c32=Y" (throughput ratios), or with
# --only, "<system> puts ops/s: c1=X c32=Y". Installs etcd from Debian if absent.
# Everything started here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

ONLY=both
DURATION=10
VALUE_SIZE=256
BUILD_DIR=${BUILD_DIR:-build}
WORK_DIR=${WORK_DIR:-/var/tmp}

# Ports clear of rangedb's defaults (26257, 8080) and etcd's (2379, 2380).
ETCD_CLIENT_PORTS=(23791 23792 23793)
ETCD_PEER_PORTS=(23801 23802 23803)
RANGEDB_PORTS=(27251 27252 27253)
RANGEDB_HTTP_PORTS=(28081 28082 28083)

log() { echo "compare_etcd: $*" >&2; }
die() { log "$*"; exit 1; }

for arg in "$@"; do
  case "$arg" in
    --only=*) ONLY=${arg#*=} ;;
    --duration=*) DURATION=${arg#*=} ;;
    -h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare_etcd.sh: unknown argument \"$arg\" (see --help)" >&2; exit 2 ;;
  esac
done
case "$ONLY" in both | etcd | rangedb) ;; *) echo "compare_etcd.sh: --only=etcd|rangedb" >&2; exit 2 ;; esac
[[ "$DURATION" =~ ^[1-9][0-9]*$ ]] || { echo "compare_etcd.sh: --duration takes seconds" >&2; exit 2; }

KV_COMPARE=$BUILD_DIR/bin/kv_compare
RANGEDB=$BUILD_DIR/bin/rangedb
[ -x "$KV_COMPARE" ] || die "$KV_COMPARE missing: BUILD_DIR=$BUILD_DIR scripts/build.sh kv_compare rangedb"
if [ "$ONLY" != etcd ]; then
  [ -x "$RANGEDB" ] || die "$RANGEDB missing: BUILD_DIR=$BUILD_DIR scripts/build.sh rangedb"
fi

WORK=$(mktemp -d "$WORK_DIR/compare_etcd.XXXXXX")
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# http_ok HOST:PORT PATH: true if GET returns 200. curl if present, else bash's /dev/tcp.
http_ok() {
  if command -v curl >/dev/null 2>&1; then
    curl -sf -m 2 -o /dev/null "http://$1$2"
    return
  fi
  (
    exec 3<>"/dev/tcp/${1%:*}/${1##*:}" || exit 1
    printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$2" "$1" >&3
    read -r -t 2 status <&3 || exit 1
    [[ "$status" == *" 200 "* ]]
  ) 2>/dev/null
}

# wait_until SECONDS WHAT COMMAND...: polls COMMAND every 0.2 s.
wait_until() {
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@"; do
    ((SECONDS < deadline)) || { log "timed out waiting for $what"; return 1; }
    sleep 0.2
  done
}

show_logs() {
  local f
  for f in "$WORK"/*.log; do log "--- tail of $f"; tail -n 15 "$f" >&2 || true; done
}

install_etcd() {
  if command -v etcd >/dev/null 2>&1; then return; fi
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
  log "installing etcd-server and etcd-client"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server etcd-client >&2
}

start_etcd() {
  local cluster="" i
  for i in 0 1 2; do cluster+="e$i=http://127.0.0.1:${ETCD_PEER_PORTS[$i]},"; done
  for i in 0 1 2; do
    etcd --name "e$i" --data-dir "$WORK/etcd$i" \
      --listen-client-urls "http://127.0.0.1:${ETCD_CLIENT_PORTS[$i]}" \
      --advertise-client-urls "http://127.0.0.1:${ETCD_CLIENT_PORTS[$i]}" \
      --listen-peer-urls "http://127.0.0.1:${ETCD_PEER_PORTS[$i]}" \
      --initial-advertise-peer-urls "http://127.0.0.1:${ETCD_PEER_PORTS[$i]}" \
      --initial-cluster "${cluster%,}" --initial-cluster-token compare-etcd \
      --initial-cluster-state new >"$WORK/etcd$i.log" 2>&1 &
    PIDS+=($!)
  done
  for i in 0 1 2; do
    wait_until 30 "etcd member $i" http_ok "127.0.0.1:${ETCD_CLIENT_PORTS[$i]}" /health ||
      { show_logs; die "etcd did not become healthy"; }
  done
  log "etcd cluster up"
}

start_rangedb() {
  local join="" i
  for i in 0 1 2; do join+="127.0.0.1:${RANGEDB_PORTS[$i]},"; done
  for i in 0 1 2; do
    "$RANGEDB" start --store="$WORK/rangedb$i" --listen-addr="127.0.0.1:${RANGEDB_PORTS[$i]}" \
      --http-addr="127.0.0.1:${RANGEDB_HTTP_PORTS[$i]}" --join="${join%,}" \
      >"$WORK/rangedb$i.log" 2>&1 &
    PIDS+=($!)
  done
  wait_until 30 "rangedb node 0 to serve HTTP" http_ok "127.0.0.1:${RANGEDB_HTTP_PORTS[0]}" /health ||
    { show_logs; die "rangedb did not start"; }
  "$RANGEDB" init --host="127.0.0.1:${RANGEDB_PORTS[0]}" >&2 || { show_logs; die "rangedb init failed"; }
  for i in 0 1 2; do
    wait_until 60 "rangedb node $i ready" http_ok "127.0.0.1:${RANGEDB_HTTP_PORTS[$i]}" "/health?ready=1" ||
      { show_logs; die "rangedb did not become ready"; }
  done
  log "rangedb cluster up"
}

# bench TARGET ENDPOINTS CONCURRENCY: prints the ops/s of one run.
bench() {
  local line ops
  log "$1, $3 client(s), ${DURATION}s of puts"
  line=$("$KV_COMPARE" --target="$1" --endpoints="$2" --concurrency="$3" \
    --duration="$DURATION" --value-size="$VALUE_SIZE" | tail -n 1) || { show_logs; die "$1 run failed"; }
  log "$1 c$3: $line"
  ops=$(sed -n 's|^ops/s=\([0-9.]*\) .*|\1|p' <<<"$line")
  [ -n "$ops" ] || die "unexpected kv_compare output: $line"
  echo "$ops"
}

endpoints() {  # endpoints PORT...: "127.0.0.1:P1,127.0.0.1:P2,..."
  local out="" p
  for p in "$@"; do out+="127.0.0.1:$p,"; done
  echo "${out%,}"
}

if [ "$ONLY" != rangedb ]; then
  install_etcd
  start_etcd
  ETCD_ENDPOINTS=$(endpoints "${ETCD_CLIENT_PORTS[@]}")
  ETCD_C1=$(bench etcd "$ETCD_ENDPOINTS" 1)
  ETCD_C32=$(bench etcd "$ETCD_ENDPOINTS" 32)
fi
if [ "$ONLY" != etcd ]; then
  start_rangedb
  RANGEDB_ENDPOINTS=$(endpoints "${RANGEDB_PORTS[@]}")
  RANGEDB_C1=$(bench rangedb "$RANGEDB_ENDPOINTS" 1)
  RANGEDB_C32=$(bench rangedb "$RANGEDB_ENDPOINTS" 32)
fi

case "$ONLY" in
  etcd) echo "etcd puts ops/s: c1=$ETCD_C1 c32=$ETCD_C32" ;;
  rangedb) echo "rangedb puts ops/s: c1=$RANGEDB_C1 c32=$RANGEDB_C32" ;;
  both)
    awk -v r1="$RANGEDB_C1" -v r32="$RANGEDB_C32" -v e1="$ETCD_C1" -v e32="$ETCD_C32" \
      'BEGIN { printf "rangedb/etcd puts: c1=%.2f c32=%.2f\n", r1 / e1, r32 / e32 }'
    ;;
esac
