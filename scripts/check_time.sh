#!/usr/bin/env bash
# Fails when ranges/ or node/ reads the real clock or sleeps itself instead of asking
# the TimeSource it was given (docs/design/injected-time.md; issue 15).
#
#   scripts/check_time.sh [ROOT]
#
# Looks at every .h and .cc under ROOT/ranges and ROOT/node (default ROOT: this
# repository) except unit tests (*_test.cc): production code and the testing/ helpers.
# A call is any of the patterns below outside a `//` comment: reading a clock
# (absl::Now(), steady_clock/system_clock/high_resolution_clock ::now()), sleeping
# (absl::SleepFor, sleep_for, sleep_until) or a timed absl wait called on the object
# itself (`mu_.AwaitWithDeadline(...)`; the injected form is
# `time->AwaitWithDeadline(&mu_, ...)`). base/time_source.* is where the real clock
# is read on purpose; it is outside the checked directories.
#
# Files allowed to read real time are listed in ROOT/scripts/time_exceptions.txt
# (TIME_EXCEPTIONS=FILE overrides), one `file  # why` a line. The check fails on a
# call in a file not listed, and on a listed file that no longer has one (delete the
# line), so the list only holds what is true.
#
# Prints `file:line: reads real time (<call>) ...` for each violation; exits 1 if
# there is any (or a stale or malformed exception), 0 otherwise.
set -euo pipefail

root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
exceptions=${TIME_EXCEPTIONS:-$root/scripts/time_exceptions.txt}
shown=${exceptions#"$root"/}  # as printed
cd "$root"

dirs=(ranges node)
pattern='absl::Now\(\)|absl::SleepFor|sleep_for|sleep_until|(steady_clock|system_clock|high_resolution_clock)::now|\.(AwaitWithDeadline|AwaitWithTimeout|WaitForNotificationWithDeadline|WaitForNotificationWithTimeout|WaitWithDeadline|WaitWithTimeout)\('

# Listed files => line number in the exceptions file.
declare -A excepted=() seen=()
status=0
if [ -f "$exceptions" ]; then
  n=0
  while IFS= read -r line || [ -n "$line" ]; do
    n=$((n + 1))
    [[ $line =~ ^[[:space:]]*(#.*)?$ ]] && continue
    if [[ $line =~ ^[[:space:]]*([^[:space:]#]+)[[:space:]]+#[[:space:]]*[^[:space:]] ]]; then
      excepted[${BASH_REMATCH[1]}]=$n
    else
      echo "$shown:$n: malformed; expected 'file  # why'"
      status=1
    fi
  done <"$exceptions"
fi

present=()
for d in "${dirs[@]}"; do [ -d "$d" ] && present+=("$d"); done
hits=
if [ ${#present[@]} -gt 0 ]; then
  hits=$(grep -rnE --include='*.h' --include='*.cc' --exclude='*_test.cc' "$pattern" \
    "${present[@]}" || true)
fi

violations=0
while IFS= read -r hit; do
  [ -z "$hit" ] && continue
  [[ $hit =~ ^([^:]+):([0-9]+):(.*)$ ]] || continue
  file=${BASH_REMATCH[1]} line_no=${BASH_REMATCH[2]} code=${BASH_REMATCH[3]}
  code=${code%%//*}  # a comment may name the calls
  [[ $code =~ $pattern ]] || continue
  call=${BASH_REMATCH[0]}
  if [ -n "${excepted[$file]:-}" ]; then
    seen[$file]=1
    continue
  fi
  echo "$file:$line_no: reads real time ($call); use the injected TimeSource (base/time_source.h)"
  violations=$((violations + 1))
done <<<"$hits"

for file in "${!excepted[@]}"; do
  if [ -z "${seen[$file]:-}" ]; then
    echo "$shown:${excepted[$file]}: stale exception '$file': it no longer reads real time; delete the line"
    status=1
  fi
done

if [ "$violations" -gt 0 ]; then
  echo "check_time: $violations call(s) to the real clock in ${dirs[*]}: read time, sleep" \
    "and wait through the TimeSource the code was given (docs/design/injected-time.md);" \
    "only code that must hand real time to the outside (gRPC, the kernel) or that only" \
    "measures may be listed in $shown"
  status=1
fi
if [ "$status" -eq 0 ]; then
  echo "check_time: ${present[*]} checked, ${#excepted[@]} listed exception(s), no violations"
fi
exit $status
