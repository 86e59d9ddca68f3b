// SltConnection: the database the sqllogictest runner (tests/sqllogictest/slt_runner.h)
// drives. One implementation per backend: plain SQLite (sqlite_connection.h), and
// rangedb through a cluster. Values travel as rangedb::sql::Value (sql/value.h), typed
// as the engine returned them; the runner renders them per the query's type string.
//
// Thread safety: implementations need not be thread-safe; the runner calls one
// connection from one thread.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sql/value.h"

namespace rangedb::slt {

// What one record's SQL returned.
struct SltResult {
  // Number of result columns of the statement that produced `rows`; 0 for a statement
  // without a result set (CREATE, INSERT, ...). Checked against the query's type
  // string even when there are no rows, as the reference runner does.
  size_t column_count = 0;
  // The rows in the order the engine returned them; each has column_count values.
  std::vector<std::vector<sql::Value>> rows;
  // OK, or the error that stopped a statement after it had started running (SQLite:
  // sqlite3_step failed after sqlite3_prepare_v2 succeeded, e.g. "integer overflow"
  // in sum()); `rows` then holds what it returned before. For a statement record the
  // runner treats this as the statement failing. A query record is judged on the
  // rows alone, as SQLite's reference runner does (it reads rows until sqlite3_step
  // stops returning SQLITE_ROW, and never asks why); the corpus depends on that
  // (evidence/slt_lang_aggfunc.test expects no rows from a sum() that overflows).
  // An error before anything ran is Execute's error status, not this.
  absl::Status execution_error;
};

class SltConnection {
 public:
  virtual ~SltConnection() = default;

  // Runs the SQL text of one record: a statement or a query, without a trailing ';'
  // (it may contain several ';'-separated statements; then every one runs, in order,
  // and the result is that of the first one that has a result set). Returns an error
  // when a statement cannot start (it does not parse, names no such table, ...), or
  // sets SltResult::execution_error when one fails while running; either message
  // appears in failure reports, so it should say what the engine said. An
  // implementation that cannot tell the two apart returns an error status: that is
  // stricter (a query that fails midway then fails its record). A script assumes it
  // starts on an empty database, so callers open one connection (one database) per
  // script.
  [[nodiscard]] virtual absl::StatusOr<SltResult> Execute(const std::string& sql) = 0;
};

}  // namespace rangedb::slt
