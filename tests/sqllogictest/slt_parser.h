// Parser of SQLite's sqllogictest scripts (https://sqlite.org/sqllogictest, "about.wiki";
// docs/sqllogictest.md describes the format as implemented here).
//
// A script is a list of records separated by blank lines. Lines whose first character
// is '#' are comments and are removed before anything else, wherever they are (so a
// comment neither separates records nor ends a SQL text or a result list). A line of
// only whitespace is blank. A trailing '\r' is dropped from every line (most of the
// corpus has CRLF line endings). Record kinds, by their first line:
//
//   statement ok | statement error [PATTERN]      then SQL lines up to the blank line
//   query TYPES [nosort|rowsort|valuesort] [LABEL] then SQL lines, optionally "----"
//                                                  and expected values, one a line, or
//                                                  the single line "N values hashing to H"
//   hash-threshold N
//   halt
//
// Any record may be preceded by "skipif ENGINE" / "onlyif ENGINE" lines (any number,
// in the same record). Anything else is malformed: ParseScript returns
// InvalidArgument naming "file:line" and what is wrong; it never crashes on any input.
//
// Thread safety: stateless functions; concurrent calls are safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rangedb::slt {

// Bounds on the input (everything in the corpus is far below them).
inline constexpr int64_t kMaxScriptBytes = int64_t{1} << 30;  // 1 GiB
inline constexpr size_t kMaxQueryColumns = 1000;              // length of a type string

// "skipif ENGINE" (skip == true) or "onlyif ENGINE" (skip == false).
struct Condition {
  bool skip = true;
  std::string engine;  // compared case-insensitively with the runner's engine name
};

// "statement ok" / "statement error [PATTERN]".
struct Statement {
  bool expect_error = false;
  // Only with expect_error: the raw rest of the "statement error" line, an ECMAScript
  // regular expression that must be found in the error message (std::regex_search);
  // empty (or starting with '#', a comment) means any error will do. Checked for
  // syntax at parse time.
  std::string error_pattern;
  std::string sql;  // the record's SQL lines joined with '\n', comments removed
};

enum class SortMode { kNoSort, kRowSort, kValueSort };

// What a query is expected to return: either the values, or their hash.
struct ExpectedResult {
  bool is_hash = false;
  std::vector<std::string> values;  // !is_hash: one rendered value per result line
  int64_t hash_value_count = 0;     // is_hash: the N of "N values hashing to H"
  std::string hash;                 // is_hash: H, 32 lowercase hex digits (MD5)
};

// "query TYPES [SORT] [LABEL]".
struct Query {
  std::string types;  // one of 'I', 'R', 'T' per result column; never empty
  SortMode sort_mode = SortMode::kNoSort;
  std::string label;  // empty if none
  std::string sql;
  // False when the record has no "----" line, which expects an empty result.
  bool has_result_separator = false;
  ExpectedResult expected;
};

// "hash-threshold N": results of more than N values are compared by hash; 0 never hashes.
struct HashThreshold {
  int64_t threshold = 0;
};

// "halt": ignore the rest of the script.
struct Halt {};

struct Record {
  // 1-based line of the record's command line ("statement ...", "query ...", ...),
  // after its conditions; the line of the first condition is first_line_number.
  int line_number = 0;
  int first_line_number = 0;
  std::vector<Condition> conditions;
  std::variant<Statement, Query, HashThreshold, Halt> body;
};

struct Script {
  std::string file_name;  // as given to the parser; used in messages as file:line
  std::vector<Record> records;
};

// Parses the text of one script. `file_name` only labels error messages and records.
[[nodiscard]] absl::StatusOr<Script> ParseScript(absl::string_view text,
                                                 absl::string_view file_name);

// Reads `path` and parses it; NotFound / Internal if it cannot be read, and
// InvalidArgument if it is larger than kMaxScriptBytes or malformed.
[[nodiscard]] absl::StatusOr<Script> ParseScriptFile(const std::string& path);

// "nosort", "rowsort" or "valuesort".
absl::string_view SortModeName(SortMode mode);

}  // namespace rangedb::slt
