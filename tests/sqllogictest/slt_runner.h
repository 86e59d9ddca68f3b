// The sqllogictest runner: plays a parsed script (slt_parser.h) against one
// SltConnection (slt_connection.h) and reports what passed and what failed.
//
// Per record, in order:
//   - skipif/onlyif: the record is skipped if a "skipif E" names the engine, or an
//     "onlyif E" names another one (names compare case-insensitively). rangedb runs
//     as engine "sqlite", so it gets SQLite's variants of engine-specific records.
//     A skipped statement or query counts as skipped; a skipped control record
//     (halt, hash-threshold) counts nowhere.
//   - statement ok: passes if Execute succeeds, execution_error included.
//   - statement error [PATTERN]: passes if Execute fails or returns an
//     execution_error (and PATTERN, if any, is found in the error message).
//   - query: passes if Execute succeeds with as many columns as the type string, and
//     the rendered, sorted values (slt_format.h) equal the expected ones (a query
//     that failed midway, SltResult::execution_error, is judged on the rows it
//     returned before, as the reference runner does): value by
//     value, or, when the script gives "N values hashing to H", by count and MD5. A
//     query with a label must also hash the same as every earlier passing query with
//     that label (in this script).
//   - hash-threshold N: from now on a result of more than N values is shown as
//     "N values hashing to H" in failure reports (comparison follows the script's own
//     form, so a script whose expected form disagrees with its threshold is still
//     compared by content). The threshold starts at 8, as in the reference runner.
//   - halt: stops the script; the records after it count nowhere.
//
// Thread safety: RunScript uses only its arguments; do not share one connection
// between concurrent runs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/sqllogictest/slt_connection.h"
#include "tests/sqllogictest/slt_parser.h"

namespace rangedb::slt {

// The reference runner's hash-threshold before any "hash-threshold" record.
inline constexpr int64_t kDefaultHashThreshold = 8;

struct RunOptions {
  // The name skipif/onlyif compare with.
  std::string engine_name = "sqlite";
  // Stop at the first failing record (the rest of the script counts nowhere).
  bool stop_on_first_failure = false;
  // >= 0: use this threshold and ignore the script's "hash-threshold" records
  // (the reference runner's --ht). -1: follow the script.
  int64_t hash_threshold_override = -1;
  // Failures kept with their details in RunResult::failures; later ones are only
  // counted (a backend that fails everything must not fill memory).
  size_t max_failures_reported = 100;
  // Expected/actual lines kept per failure.
  size_t max_lines_per_failure = 10;
};

// One failed record.
struct Failure {
  std::string file;
  int line = 0;  // the record's command line ("query ...", "statement ...")
  std::string sql;
  // What went wrong, e.g. "statement failed: <engine error>", "query returned the
  // wrong result", "expected an error but the statement succeeded".
  std::string message;
  // For wrong results: the first lines of what the script expects and of what the
  // engine returned, as rendered strings (or "N values hashing to H").
  std::vector<std::string> expected;
  std::vector<std::string> actual;

  // Multi-line report: "file:line: message", the SQL, then expected and actual.
  std::string ToString() const;
};

struct RunResult {
  int64_t passed = 0;
  int64_t failed = 0;
  int64_t skipped = 0;
  // The first max_failures_reported failures, in script order.
  std::vector<Failure> failures;
  // Set when a "halt" record ended the script; the line of that record.
  bool halted = false;
  int halt_line = 0;
  // Set when stop_on_first_failure ended the script early.
  bool stopped_at_failure = false;
};

// Runs every record of `script` against `connection`, which should be a fresh, empty
// database. Never fails as a whole: every problem is a failed record.
// REQUIRES: connection != nullptr.
RunResult RunScript(const Script& script, SltConnection* connection, const RunOptions& options);

}  // namespace rangedb::slt
