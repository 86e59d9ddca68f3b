// ShadowSchema: a private in-memory SQLite database holding an ordinary, empty table
// for every rangedb table, created from the statement the user wrote. It gives the
// SQL layer SQLite's own answers where a virtual table gets none:
//   - DDL: a CREATE TABLE runs here first, so SQLite parses and checks it, and
//     DescribeTable reads the result back (pragma table_xinfo, index_list,
//     sqlite3_table_column_metadata) into a descriptor.
//   - Writes: NormalizeRow inserts a row here and reads it back (RETURNING), so
//     column affinity, DEFAULT for the columns an INSERT did not name, NOT NULL and
//     CHECK behave exactly as in SQLite, error messages included; then it removes
//     the row again (the tables stay empty).
//
// Thread safety: one thread at a time (the session's).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/sql.pb.h"
#include "sql/sqlite_util.h"
#include "sql/table_info.h"
#include "sql/value.h"

namespace rangedb::sql {

class ShadowSchema {
 public:
  static absl::StatusOr<std::unique_ptr<ShadowSchema>> Open();

  sqlite3* db() const { return db_.get(); }

  // Replaces the schema with these tables (each from desc().create_sql(), then its
  // indexes' create_sql) and views (create_sql).
  [[nodiscard]] absl::Status Rebuild(const std::vector<std::shared_ptr<const TableInfo>>& tables,
                                     const std::vector<sqlpb::TableDescriptor>& views);

  // The descriptor of the table `name` that a CREATE TABLE just made here: columns,
  // affinities, collations, primary key (a hidden rowid when none is declared),
  // create_sql. Ids: column ids 1.., the primary index id kPrimaryIndexId; the table
  // id is left 0 for the caller. 0A000 for what rangedb cannot store yet.
  [[nodiscard]] absl::StatusOr<sqlpb::TableDescriptor> DescribeTable(absl::string_view name) const;

  // The descriptor of index `name` of table (its columns by the table's column ids,
  // collations, uniqueness, create_sql; id left 0). 0A000 for an index on an
  // expression or a partial index.
  [[nodiscard]] absl::StatusOr<sqlpb::IndexDescriptor> DescribeIndex(
      const sqlpb::TableDescriptor& table, absl::string_view name) const;
  // "CREATE VIEW …" / "CREATE TABLE …" as stored for a schema object.
  [[nodiscard]] absl::StatusOr<std::pair<std::string, std::string>> NameAndSql(
      absl::string_view type, absl::string_view name) const;

  // The names of the tables (not views, not sqlite_*), as stored.
  [[nodiscard]] absl::StatusOr<std::vector<std::string>> TableNames() const;

  // ALTER TABLE ADD COLUMN on a table with rows. SQLite checks existing rows (a NOT
  // NULL column without a default, a non-constant default, a CHECK), so HoldRow puts
  // one stored row (one value per descriptor column) into the empty shadow table
  // before the ALTER runs. ReleaseHeldRow then reads `columns` of it — what SQLite
  // reads for a row written before those columns existed — and removes it.
  [[nodiscard]] absl::Status HoldRow(const TableInfo& table, const std::vector<Value>& row);
  [[nodiscard]] absl::StatusOr<std::vector<Value>> ReleaseHeldRow(
      absl::string_view table, const std::vector<std::string>& columns);

  // The row SQLite would store for `row` (one value per descriptor column):
  // affinity applied; for a column with named[i] false, its DEFAULT (or NULL);
  // NOT NULL and CHECK enforced (23502, 23514 with SQLite's message); with
  // or_replace (the statement's OR REPLACE) a NULL in a NOT NULL column takes the
  // column's default, as SQLite does. The hidden rowid, if any, is passed through.
  [[nodiscard]] absl::StatusOr<std::vector<Value>> NormalizeRow(const TableInfo& table,
                                                                const std::vector<Value>& row,
                                                                const std::vector<bool>& named,
                                                                bool or_replace);

  // Whether plain SQLite would mark `statement` (one statement, as the user wrote it)
  // "may abort" (Parse.mayAbort) when run over these tables: an error of it may end
  // it with ABORT, so SQLite opens a statement journal for it if it also writes more
  // than one row (Vdbe.usesStmtJournal = isMultiWrite && mayAbort). SQLite sets the
  // flag while it generates code, exactly where it emits an opcode that can abort
  // (the check its debug builds make, sqlite3VdbeAssertMayAbort): a function call
  // (OP_Function, OP_PureFunc), or a constraint halt whose action is ABORT (OP_Halt,
  // OP_HaltIfNull with P1 an error and P2 OE_Abort). So this prepares `EXPLAIN
  // statement` here and looks for those opcodes. An error if the statement does not
  // prepare here (it names a table the shadow does not hold: an introspection table).
  [[nodiscard]] absl::StatusOr<bool> MayAbort(absl::string_view statement) const;

 private:
  explicit ShadowSchema(Db db) : db_(std::move(db)) {}

  Db db_;
  // NormalizeRow's statements for one table version, conflict mode and set of named
  // columns.
  struct Statements {
    Stmt insert;
    Stmt select;
    Stmt remove;
  };
  // By "table id/version/mode/named-columns mask". Bounded by the tables and masks
  // a session uses; cleared by Rebuild.
  std::map<std::string, Statements> statements_;
};

}  // namespace rangedb::sql
