#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, then runs the unit and
# integration tests with ctest.
#
#   scripts/test.sh                 the layer check (scripts/check_layers.sh) and the
#                                   time check (scripts/check_time.sh), then
#                                   unit + integration (what CI runs)
#   scripts/test.sh slow            the long tests (label slow: soaks), then the chaos tests
#                                   (label chaos) under ThreadSanitizer, as `tsan chaos`
#   scripts/test.sh LABELS          any ctest label regex, e.g. 'unit'
#   scripts/test.sh asan [LABELS]   AddressSanitizer + UndefinedBehaviorSanitizer build
#                                   (build-asan/), runs LABELS (default unit|integration)
#   scripts/test.sh tsan [LABELS]   ThreadSanitizer build (build-tsan/), runs LABELS (default
#                                   unit|integration); fails if any process, the rangedb
#                                   servers the tests start included, reported a race
#   scripts/test.sh repeat N [LABELS]
#                                   runs every test of LABELS (default unit) N times in
#                                   a row, stopping at the first failure
#
# docs/testing.md says what each label holds and how long it takes.
set -euo pipefail
cd "$(dirname "$0")/.."

run_ctest() {  # build_dir labels [extra ctest flags...]
  local dir=$1 labels=$2
  shift 2
  (cd "$dir" && ctest --output-on-failure -L "$labels" -j"$(nproc)" --timeout 900 "$@")
}

# The tsan mode: builds build-tsan/ and runs the tests of LABELS; fails if any process
# reported a race.
run_tsan() {  # labels [extra ctest flags...]
  local labels=$1
  shift
  BUILD_DIR=build-tsan SANITIZE=thread scripts/build.sh
  # Every process writes its reports to its own file (servers are killed with -9 in
  # the chaos tests, so an exit code would be lost); any report fails the run.
  local reports
  reports=$(mktemp -d /tmp/rangedb-tsan.XXXXXX)
  local status=0
  TSAN_OPTIONS=${TSAN_OPTIONS:-suppressions=$PWD/scripts/tsan.supp:log_path=$reports/report:halt_on_error=0:report_signal_unsafe=0:history_size=7} \
    run_ctest build-tsan "$labels" "$@" || status=$?
  if compgen -G "$reports/report*" >/dev/null; then
    echo "ThreadSanitizer reports ($reports):"
    grep -h "SUMMARY: ThreadSanitizer" "$reports"/report* | sort | uniq -c
    status=1
  fi
  return $status
}

case "${1:-}" in
  asan)
    labels=${2:-'unit|integration'}
    BUILD_DIR=build-asan SANITIZE=address scripts/build.sh
    # Every finding stops the test with a report; leaks in Debian's uninstrumented
    # libraries (gRPC's and protobuf's process-lifetime singletons) are not ours.
    export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=0}
    export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/scripts/lsan.supp:print_suppressions=0}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    run_ctest build-asan "$labels"
    ;;
  tsan)
    status=0
    run_tsan "${2:-unit|integration}" || status=$?
    exit $status
    ;;
  slow)
    scripts/build.sh
    status=0
    run_ctest build slow || status=$?
    # Then the chaos tests under ThreadSanitizer (issue 13), one at a time (ctest takes
    # the last -j): each starts up to five instrumented servers, and two such tests at
    # once on two cores would make their failover deadlines the thing under test.
    run_tsan chaos -j1 || status=$?
    exit $status
    ;;
  repeat)
    n=${2:?usage: scripts/test.sh repeat N [LABELS]}
    labels=${3:-unit}
    scripts/build.sh
    run_ctest build "$labels" --repeat "until-fail:$n"
    ;;
  *)
    labels=${1:-'unit|integration'}
    # Seconds, and an include against the layer order or a read of the real clock in
    # ranges/ or node/ fails before the long build.
    scripts/check_layers.sh
    scripts/check_time.sh
    scripts/build.sh
    run_ctest build "$labels"
    ;;
esac
