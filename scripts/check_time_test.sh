#!/usr/bin/env bash
# Shows that scripts/check_time.sh can fail: it runs the check on small fake trees,
# one clean and one with a planted read of the real clock each, and on stale and
# malformed exceptions. Registered with ctest as check_time_test (label unit).
set -euo pipefail
check="$(cd "$(dirname "$0")" && pwd)/check_time.sh"
tmp=$(mktemp -d /tmp/check_time_test.XXXXXX)
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

# A clean tree: time through the TimeSource; comments may name the real calls; unit
# tests may sleep; directories other than ranges/ and node/ are not checked.
put ranges/store.cc 'const absl::Time t = time_->Now();' \
  'time_->AwaitWithDeadline(&mu_, absl::Condition(&done), t);  // not mu_.AwaitWithDeadline(' \
  '// absl::Now() and absl::SleepFor are not called here'
put ranges/store_test.cc 'absl::SleepFor(absl::Milliseconds(1));'
put node/node.cc 'options_.time->SleepFor(absl::Seconds(1));'
put node/node_test.cc 'auto t = std::chrono::steady_clock::now();'
put base/time_source.cc 'return absl::Now();'
put client/kv_client.cc 'std::this_thread::sleep_for(std::chrono::milliseconds(5));'
expect "clean tree" 0 "check_time: ranges node checked, 0 listed exception(s), no violations"

# Planted reads of the real clock, one of each kind, in production and testing/ code.
put node/node.cc 'options_.time->SleepFor(absl::Seconds(1));' \
  'const absl::Time deadline = absl::Now() + absl::Seconds(2);' \
  'absl::SleepFor(absl::Milliseconds(10));' \
  'const auto start = std::chrono::steady_clock::now();  // a comment after it'
put node/raft_transport.cc 'mu_.AwaitWithDeadline(absl::Condition(&wake), deadline);' \
  'context.set_deadline(std::chrono::system_clock::now() + lifetime);'
put ranges/testing/cluster.h 'std::this_thread::sleep_for(std::chrono::milliseconds(1));'
expect "real clock in node and ranges" 1 \
  "node/node.cc:2: reads real time (absl::Now()); use the injected TimeSource (base/time_source.h)" \
  "node/node.cc:3: reads real time (absl::SleepFor); use the injected TimeSource (base/time_source.h)" \
  "node/node.cc:4: reads real time (steady_clock::now); use the injected TimeSource (base/time_source.h)" \
  "node/raft_transport.cc:1: reads real time (.AwaitWithDeadline(); use the injected TimeSource (base/time_source.h)" \
  "node/raft_transport.cc:2: reads real time (system_clock::now); use the injected TimeSource (base/time_source.h)" \
  "ranges/testing/cluster.h:1: reads real time (sleep_for); use the injected TimeSource (base/time_source.h)"
rm "$tmp/tree/node/raft_transport.cc" "$tmp/tree/ranges/testing/cluster.h"

# Listed as an exception the file passes; once its calls are gone the line is stale.
printf '%s\n' '# reasons' 'node/node.cc  # test: hands real time to the kernel' \
  >"$tmp/exceptions.txt"
export TIME_EXCEPTIONS=$tmp/exceptions.txt
expect "listed exception" 0 "check_time: ranges node checked, 1 listed exception(s), no violations"
put node/node.cc 'options_.time->SleepFor(absl::Seconds(1));'
expect "stale exception" 1 \
  "$tmp/exceptions.txt:2: stale exception 'node/node.cc': it no longer reads real time; delete the line"
printf '%s\n' 'node/node.cc' >"$tmp/exceptions.txt"
expect "exception without a reason" 1 "$tmp/exceptions.txt:1: malformed; expected 'file  # why'"
unset TIME_EXCEPTIONS

if [ "$failures" -gt 0 ]; then
  echo "check_time_test: $failures failure(s)"
  exit 1
fi
echo "check_time_test: ok"
