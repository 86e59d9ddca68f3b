// A read-only, eponymous-only SQLite virtual table whose rows a function computes:
// the mechanism behind every introspection table (sql/introspection.h).
//
// "Eponymous-only" (https://sqlite.org/vtab.html, 1.1.5): the module has xConnect
// and no xCreate, so the table exists in every connection it is registered on, under
// the module's own name, without CREATE VIRTUAL TABLE, and cannot be created or
// dropped. It has no xUpdate, so SQLite refuses INSERT, UPDATE and DELETE when it
// prepares them ("table rangedb_tables may not be modified"); nothing reaches the
// session's transaction.
//
// Each scan (xFilter) calls rows() once and reads what it returned: a statement sees
// one consistent set of rows per scan. Every constraint is left to SQLite (a full
// scan); the tables are small.
//
// Errors: when rows() fails, the scan fails with SQLITE_ERROR and the message, and
// on_error (if set) receives the status, so that the session reports its SQLSTATE
// (sql/vtab_context.h, SetError). A row with the wrong number of values is an
// internal error (XX000), and more than kMaxIntrospectionRows rows is 54000.
//
// Thread safety: as the connection (one thread at a time).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sql/value.h"
#include "sqlite3.h"

namespace rangedb::sql {

inline constexpr size_t kMaxIntrospectionRows = 1'000'000;

struct IntrospectionTableSpec {
  std::string name;  // the table's (and module's) name, e.g. "rangedb_tables"
  // The CREATE TABLE statement given to sqlite3_declare_vtab, e.g.
  // "CREATE TABLE x(table_id INTEGER, name TEXT)".
  std::string declaration;
  // Every row, one Value per declared column, in declaration order.
  std::function<absl::StatusOr<std::vector<std::vector<Value>>>()> rows;
  std::function<void(absl::Status)> on_error;
};

// Registers spec as module spec.name on db. REQUIRES: spec.rows is set.
[[nodiscard]] absl::Status RegisterIntrospectionTable(sqlite3* db, IntrospectionTableSpec spec);

}  // namespace rangedb::sql
