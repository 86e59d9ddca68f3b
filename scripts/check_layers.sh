#!/usr/bin/env bash
# Fails when a lower layer includes a higher one (docs/architecture.md, "Layers").
#
#   scripts/check_layers.sh [ROOT]
#
# Reads every `#include "dir/..."` (and `<dir/...>`) of ours in the .h and .cc files
# under ROOT (default: this repository) and checks it against the table below: a
# directory may include itself and the directories listed for it, nothing else.
# Production code, unit tests (*_test.cc) and testing/ helpers follow the same table:
# a test that needs a higher layer belongs in tests/, which, like bench/, may include
# anything. A few files may include more than their directory (file_may_include
# below): client/cli/cli_start.cc, the entry point of `rangedb start`, may include
# node/; no other file of the command line may.
#
# Violations that later work removes are listed in ROOT/scripts/layer_exceptions.txt
# (LAYER_EXCEPTIONS=FILE overrides), one `file -> header  # reason` a line. The check
# fails on any violation not listed, and on a listed one that no longer exists, so the
# list only shrinks.
#
# Prints `file:line: <dir>/ may not include <header>` for each violation; exits 1 if
# there is any (or a stale exception), 0 otherwise.
set -euo pipefail

root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
exceptions=${LAYER_EXCEPTIONS:-$root/scripts/layer_exceptions.txt}
shown=${exceptions#"$root"/}  # as printed
cd "$root"

# What each layer may include besides itself, from the bottom up. client/cli/ is a
# layer of its own (a path prefix), above the client library: the CLI uses the
# library, and reaches node/ only through the files in file_may_include.
declare -A may_include=(
  [base]="proto"
  [proto]="base"
  [raft]="base proto"
  [storage]="base proto raft"
  [txn]="base proto raft storage"
  [ranges]="base proto raft storage txn"
  [sql]="base proto raft storage txn ranges"
  [node]="base proto raft storage txn ranges sql"
  [client]="base proto txn"
  [client/cli]="base proto txn client"
  [bench]="*"
  [tests]="*"
)
# Single files that may include more than their layer: the command line's entry
# points to the server process (`rangedb start`; `rangedb demo` when it comes).
declare -A file_may_include=(
  [client/cli/cli_start.cc]="node"
)
dirs=(base proto raft storage txn ranges sql node client bench tests)

# Sets `layer` to the layer of a repository path (or include path).
layer_of() {
  case $1 in
    client/cli/*) layer=client/cli ;;
    *) layer=${1%%/*} ;;
  esac
}

# Listed exceptions: "file -> header" => line number in the exceptions file.
declare -A excepted=() seen=()
status=0
if [ -f "$exceptions" ]; then
  n=0
  while IFS= read -r line || [ -n "$line" ]; do
    n=$((n + 1))
    [[ $line =~ ^[[:space:]]*(#.*)?$ ]] && continue
    if [[ $line =~ ^[[:space:]]*([^[:space:]]+)[[:space:]]+-\>[[:space:]]+([^[:space:]]+)[[:space:]]+#[[:space:]]*[^[:space:]] ]]; then
      excepted["${BASH_REMATCH[1]} -> ${BASH_REMATCH[2]}"]=$n
    else
      echo "$shown:$n: malformed; expected 'file -> header  # reason'"
      status=1
    fi
  done <"$exceptions"
fi

present=()
for d in "${dirs[@]}"; do [ -d "$d" ] && present+=("$d"); done
ours=$(IFS='|'; echo "${dirs[*]}")
includes=
if [ ${#present[@]} -gt 0 ]; then
  includes=$(grep -rnE --include='*.h' --include='*.cc' \
    "^[[:space:]]*#[[:space:]]*include[[:space:]]*[\"<]($ours)/" "${present[@]}" || true)
fi

checked=0
violations=0
while IFS= read -r hit; do
  [ -z "$hit" ] && continue
  [[ $hit =~ ^([^:]+):([0-9]+):[^\"\<]*[\"\<]([^\"\>]+)[\"\>] ]] || continue
  file=${BASH_REMATCH[1]} line_no=${BASH_REMATCH[2]} header=${BASH_REMATCH[3]}
  checked=$((checked + 1))
  layer_of "$file"; from=$layer
  layer_of "$header"; to=$layer
  [ "$from" = "$to" ] && continue
  allowed=" ${may_include[$from]:-} ${file_may_include[$file]:-} "
  [[ $allowed == " * "* || $allowed == *" $to "* ]] && continue
  key="$file -> $header"
  if [ -n "${excepted[$key]:-}" ]; then
    seen[$key]=1
    continue
  fi
  # Name the files that may, if the include belongs in one of them.
  only=
  for entry in "${!file_may_include[@]}"; do
    layer_of "$entry"
    [ "$layer" = "$from" ] && [[ " ${file_may_include[$entry]} " == *" $to "* ]] && only+=" $entry"
  done
  echo "$file:$line_no: $from/ may not include $header${only:+ (only$only may)}"
  violations=$((violations + 1))
done <<<"$includes"

for key in "${!excepted[@]}"; do
  if [ -z "${seen[$key]:-}" ]; then
    echo "$shown:${excepted[$key]}: stale exception '$key': no longer a violation; delete the line"
    status=1
  fi
done

if [ "$violations" -gt 0 ]; then
  echo "check_layers: $violations include(s) against the layer order (docs/architecture.md," \
    "\"Layers\"): move the code to the layer it belongs in; only an include that planned" \
    "work removes may be listed in $shown"
  status=1
fi
if [ "$status" -eq 0 ]; then
  echo "check_layers: $checked includes of ours checked, ${#excepted[@]} listed exception(s), no violations"
fi
exit $status
