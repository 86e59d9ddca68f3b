// FuzzInput: how session_fuzz reads a fuzzer's bytes — SQL text, then bound
// parameter values — so that seeds stay readable files and every byte string is
// some input.
//
// Format: the SQL text, then for each parameter a NUL byte and one chunk:
//   <tag>[<name>=]<payload>
// tag: 'i' integer (payload in decimal; unparsable: its bytes as a number), 'r' real
// (decimal, or the payload's first 8 bytes as a double: NaN and infinities too),
// 't' text and 'b' blob (payload as is, any bytes), anything else NULL. A name starts
// with one of ":@$?" and ends at the first '=' ; without one the parameter is
// positional.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "sql/session.h"

namespace rangedb::sql::fuzz {

// Inputs above this are refused (not run, not kept): long inputs only slow the search.
inline constexpr size_t kMaxInputBytes = 16 * 1024;

struct FuzzInput {
  std::string sql;
  std::vector<Parameter> parameters;
};

FuzzInput ParseFuzzInput(absl::string_view bytes);

}  // namespace rangedb::sql::fuzz
