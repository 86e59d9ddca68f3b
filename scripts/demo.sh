#!/usr/bin/env bash
# Runs the product: builds rangedb, starts a local 3-node cluster on this machine
# (stores under $DEMO_DIR, default /tmp/rangedb-demo), initializes it, shows a few
# `rangedb kv` commands, and keeps the cluster running until Ctrl-C, which stops every
# node (SIGTERM: each drains, then exits).
#
#   scripts/demo.sh            # start (or restart) the demo cluster
#   DEMO_FRESH=1 scripts/demo.sh   # throw away the old stores first
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh rangedb >/dev/null
bin=$PWD/build/bin/rangedb
dir=${DEMO_DIR:-/tmp/rangedb-demo}
[[ "${DEMO_FRESH:-0}" == 1 ]] && rm -rf "$dir"
mkdir -p "$dir"

ports=(26257 26258 26259)
http=(8080 8081 8082)
join=$(printf '127.0.0.1:%s,' "${ports[@]}"); join=${join%,}
pids=()
stop() {
  trap '' INT  # a second Ctrl-C must not cut the wait for the nodes short
  echo
  echo "stopping the cluster (each node drains, then exits)..."
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  # `wait` returns early when the script itself was interrupted: poll until every
  # node has exited, so a restart never finds a store still locked.
  for p in "${pids[@]}"; do
    while kill -0 "$p" 2>/dev/null; do sleep 0.1; done
  done
  echo "stopped; the data stays in $dir (DEMO_FRESH=1 to start over)"
}
trap stop EXIT

for i in 0 1 2; do
  "$bin" start --store="$dir/node$((i + 1))" --listen-addr=127.0.0.1:${ports[$i]} \
    --http-addr=127.0.0.1:${http[$i]} --join="$join" >>"$dir/node$((i + 1)).log" 2>&1 &
  pids+=($!)
done

ready() { "$bin" node status --host="127.0.0.1:${ports[0]}" >/dev/null 2>&1; }
sleep 1
if ! ready; then
  echo "initializing a new cluster..."
  for _ in $(seq 1 30); do
    out=$("$bin" init --host=127.0.0.1:${ports[0]} 2>&1) && { echo "$out"; break; }
    grep -q "already initialized" <<<"$out" && break
    sleep 0.5
  done
fi
for _ in $(seq 1 60); do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${http[0]}/health?ready=1" || true)
  [[ "$code" == 200 ]] && break
  sleep 0.5
done

host="--host=$join"
run() { printf '$ rangedb'; printf ' %q' "$@"; echo; "$bin" "$@" || true; }
echo
echo "== a 3-node rangedb cluster is running (logs: $dir/node*.log) =="
echo
run kv put "$host" greeting "hello, rangedb"
run kv get "$host" greeting
run kv incr "$host" visits
run kv scan "$host" a z
echo
echo "\$ printf 'get acct/a\\nput acct/a 90\\nput acct/b 10\\ncommit\\n' | rangedb kv txn $host"
printf 'get acct/a\nput acct/a 90\nput acct/b 10\ncommit\n' | "$bin" kv txn "$host" || true
echo
# SQL: a table, rows, a query. The demo's store keeps it across restarts, so the
# statements are written to run again (IF NOT EXISTS, OR REPLACE).
run sql "$host" --format=table \
  -e "CREATE TABLE IF NOT EXISTS greetings (id INTEGER PRIMARY KEY, lang TEXT NOT NULL, text TEXT)" \
  -e "INSERT OR REPLACE INTO greetings VALUES (1, 'en', 'hello'), (2, 'fr', 'bonjour'), (3, 'de', 'hallo')" \
  -e "SELECT lang, text FROM greetings WHERE id >= 2 ORDER BY lang"
echo
run node status --host=127.0.0.1:${ports[0]}
cat <<TXT

Try it from another terminal (any node answers; list several for failover):
  $bin sql --host=$join -e "SELECT * FROM greetings"
  echo "CREATE TABLE t (a PRIMARY KEY, b); INSERT INTO t VALUES (1, 'x'); SELECT * FROM t;" | $bin sql --host=$join
  $bin kv put --host=$join mykey myvalue
  $bin kv get --host=$join mykey
  $bin kv scan --host=$join a z --limit=10
  $bin node status --host=127.0.0.1:${ports[0]}
  $bin workload run kv --host=$join --duration=10
  $bin workload init bank --host=$join --accounts=1000
  $bin workload run bank --host=$join --concurrency=8 --duration=10
  $bin workload check bank --host=$join
  curl http://127.0.0.1:${http[0]}/metrics
Kill a node (kill -9 one of: ${pids[*]}) and keep using the cluster: it carries on.

Press Ctrl-C to stop the cluster.
TXT
wait
