// Helpers for tests that run SQL through a Session: collect a statement's rows and
// render them as text ("1|a|NULL"), so a test reads like a transcript.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "sql/session.h"
#include "sql/sqlite_util.h"
#include "sql/sqlstate.h"

namespace rangedb::sql::testing {

// "NULL", "5", "1.5", "text", "x'00ff'".
inline std::string ValueText(const Value& v) {
  switch (ClassOf(v)) {
    case StorageClass::kNull:
      return "NULL";
    case StorageClass::kInteger:
      return absl::StrCat(std::get<int64_t>(v));
    case StorageClass::kReal:
      return absl::StrCat(std::get<double>(v));
    case StorageClass::kText:
      return std::get<std::string>(v);
    case StorageClass::kBlob: {
      std::string out = "x'";
      for (unsigned char c : std::get<Blob>(v).bytes)
        absl::StrAppend(&out, absl::Hex(c, absl::kZeroPad2));
      return out + "'";
    }
  }
  return "?";
}

class CollectingSink final : public RowSink {
 public:
  absl::Status Columns(const std::vector<ColumnInfo>& columns) override {
    columns_ = columns;
    return absl::OkStatus();
  }
  absl::Status Row(std::vector<Value> row) override {
    std::vector<std::string> cells;
    for (const Value& v : row) cells.push_back(ValueText(v));
    rows_.push_back(absl::StrJoin(cells, "|"));
    return absl::OkStatus();
  }
  std::vector<ColumnInfo> columns_;
  std::vector<std::string> rows_;
};

// Runs every statement of sql; the rows of all of them, or the first error.
inline absl::StatusOr<std::vector<std::string>> Query(Session& session, absl::string_view sql,
                                                      std::vector<Parameter> params = {}) {
  CollectingSink sink;
  while (true) {
    absl::StatusOr<std::optional<StatementResult>> r = session.ExecuteNext(&sql, params, &sink);
    if (!r.ok()) return r.status();
    if (!r->has_value()) return sink.rows_;
  }
}

// The SQLSTATE of running sql ("00000" if it succeeded).
inline std::string StateOf(Session& session, absl::string_view sql) {
  return SqlStateOf(Query(session, sql).status());
}

// Query's twin on a plain SQLite connection, for tests that compare a session with
// SQLite: the rows of every statement of sql, rendered alike, or the first error
// (SqliteError: SQLite's message and its SQLSTATE).
inline absl::StatusOr<std::vector<std::string>> SqliteQuery(sqlite3* db, absl::string_view sql) {
  std::vector<std::string> rows;
  while (!sql.empty()) {
    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &raw, &tail) !=
        SQLITE_OK) {
      return SqliteError(db);
    }
    Stmt stmt(raw);
    sql = sql.substr(tail - sql.data());
    if (stmt == nullptr) continue;  // only a comment or spaces
    int rc;
    while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
      std::vector<std::string> cells;
      for (int i = 0; i < sqlite3_column_count(stmt.get()); ++i)
        cells.push_back(ValueText(ColumnValue(stmt.get(), i)));
      rows.push_back(absl::StrJoin(cells, "|"));
    }
    if (rc != SQLITE_DONE) return SqliteError(db);
  }
  return rows;
}

}  // namespace rangedb::sql::testing

// Runs sql through session (Query, found in the caller's scope) and fails the test,
// naming the statement, if it errs.
#define ASSERT_SQL_OK(session, sql)                       \
  do {                                                    \
    auto r_ = Query(session, sql);                        \
    ASSERT_TRUE(r_.ok()) << (sql) << ": " << r_.status(); \
  } while (0)
