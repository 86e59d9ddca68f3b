// SltConnection over an in-memory SQLite database (tests/sqllogictest/sqlite_connection.h).
#include "tests/sqllogictest/sqlite_connection.h"

#include <sqlite3.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "sql/sqlite_util.h"

namespace rangedb::slt {
namespace {

// A prepared statement, finalized on scope exit.
struct StatementHandle {
  ~StatementHandle() { sqlite3_finalize(stmt); }
  sqlite3_stmt* stmt = nullptr;
};

absl::Status SqliteError(sqlite3* db, int rc) {
  return absl::InvalidArgumentError(absl::StrCat(sqlite3_errmsg(db), " (", sqlite3_errstr(rc),
                                                 ", code ", sqlite3_extended_errcode(db), ")"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteConnection>> SqliteConnection::Open() {
  sqlite3* db = nullptr;
  const int rc =
      sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status status = absl::InternalError(
        absl::StrCat("cannot open an in-memory SQLite database: ", sqlite3_errstr(rc)));
    sqlite3_close(db);
    return status;
  }
  return std::unique_ptr<SqliteConnection>(new SqliteConnection(db));
}

SqliteConnection::~SqliteConnection() {
  // Every statement is finalized inside Execute, so the close cannot be busy.
  RANGEDB_CHECK_EQ(sqlite3_close(db_), SQLITE_OK) << "sqlite3_close failed";
}

absl::StatusOr<SltResult> SqliteConnection::Execute(const std::string& sql) {
  if (sql.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("SQL text contains a NUL byte");
  }
  SltResult result;
  bool have_result_set = false;
  const char* tail = sql.c_str();
  const char* const end = sql.c_str() + sql.size();
  while (tail < end) {
    StatementHandle handle;
    const char* next = nullptr;
    const int prepare_rc =
        sqlite3_prepare_v2(db_, tail, static_cast<int>(end - tail), &handle.stmt, &next);
    if (prepare_rc != SQLITE_OK) return SqliteError(db_, prepare_rc);
    // Without a NUL in the text, SQLite consumes at least one byte per call.
    RANGEDB_CHECK(next != nullptr && next > tail) << "sqlite3_prepare_v2 made no progress";
    tail = next;
    if (handle.stmt == nullptr) continue;  // only white space or a comment
    const int columns = sqlite3_column_count(handle.stmt);
    const bool keep_rows = columns > 0 && !have_result_set;
    if (keep_rows) {
      have_result_set = true;
      result.column_count = static_cast<size_t>(columns);
    }
    int step_rc = SQLITE_ROW;
    while ((step_rc = sqlite3_step(handle.stmt)) == SQLITE_ROW) {
      if (!keep_rows) continue;
      std::vector<sql::Value> row;
      row.reserve(static_cast<size_t>(columns));
      for (int i = 0; i < columns; ++i) row.push_back(sql::ColumnValue(handle.stmt, i));
      result.rows.push_back(std::move(row));
    }
    if (step_rc != SQLITE_DONE) {
      // It failed while running: report what it returned so far, run nothing more.
      result.execution_error = SqliteError(db_, step_rc);
      return result;
    }
  }
  return result;
}

}  // namespace rangedb::slt
