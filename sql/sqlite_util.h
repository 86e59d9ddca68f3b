// Small adapters between SQLite's C API and the SQL layer: values in and out,
// statements as owned handles, and SQLite's errors as statuses with a SQLSTATE.
//
// Thread safety: as the SQLite connection they are used with (one thread at a time).
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "sql/value.h"
#include "sqlite3.h"

namespace rangedb::sql {

struct StmtDeleter {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;

// A copy of a protected or unprotected sqlite3_value.
Value ValueFromSqlite(sqlite3_value* v);
// Column i of the current row of stmt.
Value ColumnValue(sqlite3_stmt* stmt, int i);
int BindValue(sqlite3_stmt* stmt, int index, const Value& v);
void ResultValue(sqlite3_context* ctx, const Value& v);

// The status for SQLite result code rc (an extended code) with message: the SQLSTATE
// follows from the code and, for SQLITE_ERROR, from the message ("no such table" is
// 42P01, a syntax error 42601, ...).
absl::Status SqliteError(int rc, absl::string_view message);
// SqliteError with the connection's current code and message, and the position
// SQLite reports for it (sqlite3_error_offset), if any.
absl::Status SqliteError(sqlite3* db);

// Opens an in-memory database (SQLITE_OPEN_NOMUTEX: one thread at a time).
absl::StatusOr<Db> OpenMemoryDb();
// Prepares exactly one statement (persistent); error statuses name the SQL.
absl::StatusOr<Stmt> Prepare(sqlite3* db, absl::string_view sql);
// Runs statements that return no rows.
absl::Status Exec(sqlite3* db, const std::string& sql);

}  // namespace rangedb::sql
