#!/usr/bin/env bash
# The bank benchmark side by side with PostgreSQL 15 (SERIALIZABLE) on this machine
# (docs/benchmarks.md): the same transfer — read two random accounts, move 1..100
# (never below zero), write both balances back — at low contention (10,000 accounts)
# and high contention (10), 16 clients, retries on serialization failures.
#
#   PostgreSQL: one server (fsync and synchronous_commit on, the defaults), pgbench
#               with a transfer script and --max-tries=10; both rows are updated in
#               one statement (index order), so transfers do not deadlock on row
#               locks (with two UPDATEs they do, and wait deadlock_timeout = 1 s).
#   rangedb:    bench/bank_bench.sh (three replicated nodes, RunTransaction, at most
#               10 attempts).
#
# Usage: bench/bank_vs_postgres.sh [--duration=SECONDS]
#   BUILD_DIR=build (a Release build for numbers), WORK_DIR=/var/tmp
# Prints each system's line per contention level, then
# "rangedb/postgres txn/s: low=X high=Y". Needs root (PostgreSQL runs as postgres).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=30
CONCURRENCY=16
WORK_DIR=${WORK_DIR:-/var/tmp}
PG_BIN=/usr/lib/postgresql/15/bin
PG_PORT=55432

for arg in "$@"; do
  case "$arg" in
    --duration=*) DURATION=${arg#*=} ;;
    -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bank_vs_postgres.sh: unknown argument \"$arg\" (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$DURATION" =~ ^[1-9][0-9]*$ ]] || { echo "bank_vs_postgres.sh: --duration takes seconds" >&2; exit 2; }
[ -x "$PG_BIN/initdb" ] || { echo "bank_vs_postgres.sh: PostgreSQL 15 missing: apt-get install postgresql" >&2; exit 1; }

WORK=$(mktemp -d "$WORK_DIR/bank_pg.XXXXXX")
chown postgres "$WORK"
as_pg() { runuser -u postgres -- "$@"; }
cleanup() {
  as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg" stop -m immediate >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

as_pg "$PG_BIN/initdb" -D "$WORK/pg" -A trust -U postgres >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg.log" -w \
  -o "-p $PG_PORT -k $WORK -c listen_addresses='' -c max_connections=64" start >/dev/null
psql_() { as_pg psql -q -h "$WORK" -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 "$@"; }

cat >"$WORK/transfer.sql" <<'SQL'
\set a random(0, :accounts - 1)
\set b (:a + 1 + random(0, :accounts - 2)) % :accounts
\set wanted random(1, 100)
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT balance AS ba FROM bank WHERE id = :a \gset
SELECT balance AS bb FROM bank WHERE id = :b \gset
\set amount least(:wanted, :ba)
UPDATE bank SET balance = CASE WHEN id = :a THEN :ba - :amount ELSE :bb + :amount END
  WHERE id IN (:a, :b);
COMMIT;
SQL
chmod a+r "$WORK/transfer.sql"

declare -A PG_TPS
for accounts in 10000 10; do
  psql_ -c "DROP TABLE IF EXISTS bank; CREATE TABLE bank (id int PRIMARY KEY, balance bigint NOT NULL);
            INSERT INTO bank SELECT g, 1000 FROM generate_series(0, $accounts - 1) g;"
  out=$(as_pg pgbench -n -h "$WORK" -p "$PG_PORT" -U postgres -c "$CONCURRENCY" -j 2 \
        -T "$DURATION" --max-tries=10 -D accounts="$accounts" -f "$WORK/transfer.sql" postgres 2>&1)
  tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
  retried=$(echo "$out" | sed -n 's/^number of transactions retried: \([0-9]*\).*/\1/p')
  failed=$(echo "$out" | sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p')
  latency=$(echo "$out" | sed -n 's/^latency average = \([0-9.]*\) ms/\1/p')
  total=$(psql_ -At -c "SELECT sum(balance) FROM bank")
  PG_TPS[$accounts]=$tps
  echo "postgres: accounts=$accounts txn/s=$tps retried=${retried:-0} failed=${failed:-0} avg_ms=$latency total=$total expected=$((accounts * 1000))"
done
as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg" stop -m fast >/dev/null

RD=$(bench/bank_bench.sh --duration="$DURATION" --concurrency="$CONCURRENCY")
echo "$RD"
rd_low=$(echo "$RD" | sed -n 's/^txn\/s=\([0-9.]*\).*/\1/p' | sed -n 1p)
rd_high=$(echo "$RD" | sed -n 's/^txn\/s=\([0-9.]*\).*/\1/p' | sed -n 2p)
awk -v a="$rd_low" -v b="${PG_TPS[10000]}" -v c="$rd_high" -v d="${PG_TPS[10]}" \
  'BEGIN { printf "rangedb/postgres txn/s: low=%.2f high=%.2f\n", a / b, c / d }'
