#!/bin/sh
# run_fuzz.sh FUZZER SECONDS — runs the libFuzzer target FUZZER (session_fuzz) for
# SECONDS, starting from the seeds beside this script, with the SQL dictionary.
# Inputs that find new behaviour go to a scratch corpus; a crash, a hang or an
# internal error fails the run and leaves the input in $RANGEDB_FUZZ_DIR/findings/
# (default ./fuzz-work), which `FUZZER <file>` replays.
set -eu
fuzzer=$1
seconds=$2
here=$(cd "$(dirname "$0")" && pwd)
work=${RANGEDB_FUZZ_DIR:-$(pwd)/fuzz-work}
mkdir -p "$work/corpus" "$work/findings"
# -timeout: one input runs at most 32 statements of at most 1 s each (session_fuzz.cc).
exec "$fuzzer" -use_value_profile=1 -max_total_time="$seconds" -timeout=60 \
  -rss_limit_mb=4096 -max_len=4096 -print_final_stats=1 \
  -artifact_prefix="$work/findings/" -dict="$here/sql.dict" "$work/corpus" "$here/seeds"
