#!/usr/bin/env bash
# Shows that scripts/check_layers.sh can fail: it runs the check on small fake trees,
# one clean and one with a planted bad include each, and on a stale exception.
# Registered with ctest as check_layers_test (label unit).
set -euo pipefail
check="$(cd "$(dirname "$0")" && pwd)/check_layers.sh"
tmp=$(mktemp -d /tmp/check_layers_test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# put FILE LINES...: writes a file of the fake tree.
put() {
  local file=$tmp/tree/$1
  shift
  mkdir -p "$(dirname "$file")"
  printf '%s\n' "$@" >"$file"
}

# expect NAME WANT_STATUS [WANT_TEXT...]: runs the check on the fake tree; each
# WANT_TEXT must be a line of its output.
expect() {
  local name=$1 want=$2 out status=0 text
  shift 2
  out=$("$check" "$tmp/tree" 2>&1) || status=$?
  echo "--- $name: exit $status"
  echo "$out"
  if [ "$want" = 0 ] && [ "$status" -ne 0 ]; then fail "$name: exit $status, want 0"; fi
  if [ "$want" != 0 ] && [ "$status" -eq 0 ]; then fail "$name: exit 0, want non-zero"; fi
  for text in "$@"; do
    grep -qxF -- "$text" <<<"$out" || fail "$name: no line '$text'"
  done
}

# A clean tree: every include points down, or sideways into the same layer, or comes
# from tests/; client/cli/ uses the client library, and its start entry point node/.
put base/random.h '#pragma once' '#include "proto/kv.pb.h"'
put raft/raft.h '#include "base/random.h"' '#include "raft/log.h"' '#include "absl/status/status.h"'
put storage/mvcc.cc '#include "raft/raft.h"' '#include <rocksdb/db.h>'
put txn/txn.h '#include "storage/mvcc.h"' '#include "base/backoff.h"'
put ranges/store.h '#include "txn/txn.h"'
put ranges/testing/cluster.h '#include "ranges/store.h"' '#include "storage/engine.h"'
put node/node.cc '#include "ranges/store.h"' '#include "sql/session.h"'
put client/kv_client.cc '#include "txn/txn.h"' '#include "client/kv_client.h"'
put client/cli/main.cc '#include "client/kv_client.h"'
put client/cli/cli_start.cc '#include "node/node.h"'
put tests/chaos_test.cc '#include "node/node.h"' '#include "client/cli/main.h"'
put bench/workload.cc '#include "client/cli/main.h"'
expect "clean tree" 0 \
  "check_layers: 18 includes of ours checked, 0 listed exception(s), no violations"

# A planted violation: raft/ including ranges/.
put raft/raft.h '#include "base/random.h"' '#include "ranges/store.h"'
expect "raft includes ranges" 1 "raft/raft.h:2: raft/ may not include ranges/store.h"

# Listed as an exception it passes; once the include is gone the listing is stale.
printf '%s\n' '# reasons' 'raft/raft.h -> ranges/store.h  # test: removed later' \
  >"$tmp/exceptions.txt"
export LAYER_EXCEPTIONS=$tmp/exceptions.txt
expect "listed exception" 0 \
  "check_layers: 18 includes of ours checked, 1 listed exception(s), no violations"
put raft/raft.h '#include "base/random.h"'
expect "stale exception" 1 "$tmp/exceptions.txt:2: stale exception 'raft/raft.h -> ranges/store.h':\
 no longer a violation; delete the line"
printf '%s\n' 'raft/raft.h -> ranges/store.h' >"$tmp/exceptions.txt"
expect "exception without a reason" 1 \
  "$tmp/exceptions.txt:1: malformed; expected 'file -> header  # reason'"
unset LAYER_EXCEPTIONS

# A unit test is held to its directory's table (angle brackets too).
put storage/mvcc_test.cc '#include <txn/txn.h>'
expect "storage test includes txn" 1 "storage/mvcc_test.cc:1: storage/ may not include txn/txn.h"
rm "$tmp/tree/storage/mvcc_test.cc"

# The client library is below client/cli/ and may not reach ranges/.
put client/kv_client.cc '#include "client/cli/main.h"' '#include "ranges/store.h"'
expect "client library includes the CLI and ranges" 1 \
  "client/kv_client.cc:1: client/ may not include client/cli/main.h" \
  "client/kv_client.cc:2: client/ may not include ranges/store.h"
put client/kv_client.cc '#include "txn/txn.h"'

# client/cli/ may not include sql/.
put client/cli/main.cc '#include "sql/session.h"'
expect "CLI includes sql" 1 "client/cli/main.cc:1: client/cli/ may not include sql/session.h"
put client/cli/main.cc '#include "client/kv_client.h"'

# Only the start entry point of client/cli/ may include node/: another command, or
# its test, that reaches into the server fails; the entry point may not reach sql/.
put client/cli/cli_kv.cc '#include "client/kv_client.h"' '#include "node/node.h"'
put client/cli/cli_start_test.cc '#include "node/serve.h"'
put client/cli/cli_start.cc '#include "node/node.h"' '#include "sql/session.h"'
expect "CLI command other than start includes node" 1 \
  "client/cli/cli_kv.cc:2: client/cli/ may not include node/node.h (only client/cli/cli_start.cc may)" \
  "client/cli/cli_start_test.cc:1: client/cli/ may not include node/serve.h (only client/cli/cli_start.cc may)" \
  "client/cli/cli_start.cc:2: client/cli/ may not include sql/session.h"

if [ "$failures" -gt 0 ]; then
  echo "check_layers_test: $failures failure(s)"
  exit 1
fi
echo "check_layers_test: ok"
