// xUpdate of the rangedb module: rows and their index entries, with SQLite's
// constraint semantics (docs/sql.md "Constraints").
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/random.h"
#include "sql/sqlite_util.h"
#include "sql/sqlstate.h"
#include "sql/vtab_internal.h"

namespace rangedb::sql::vtab_internal {
namespace {

ConflictMode ModeOf(sqlite3* db) {
  switch (sqlite3_vtab_on_conflict(db)) {
    case SQLITE_ROLLBACK:
      return ConflictMode::kRollback;
    case SQLITE_IGNORE:
      return ConflictMode::kIgnore;
    case SQLITE_FAIL:
      return ConflictMode::kFail;
    case SQLITE_REPLACE:
      return ConflictMode::kReplace;
    default:
      return ConflictMode::kAbort;
  }
}

// A new value for an INTEGER PRIMARY KEY given as NULL: one more than the largest.
absl::StatusOr<int64_t> NextRowidAlias(Vtab* vtab) {
  const TableInfo& table = *vtab->table;
  absl::StatusOr<std::optional<kv::KeyValue>> last =
      vtab->context->Last(table.rows_start(), table.rows_end());
  if (!last.ok()) return last.status();
  if (!last->has_value()) return 1;
  absl::StatusOr<std::vector<Value>> row = table.DecodeRow((*last)->value);
  if (!row.ok()) return row.status();
  const Value& v = (*row)[table.rowid_column()];
  if (ClassOf(v) != StorageClass::kInteger) return 1;
  const int64_t max = std::get<int64_t>(v);
  if (max < INT64_MAX) return max + 1;
  // The largest key is taken: SQLite then tries random positive keys until it finds
  // a free one (https://sqlite.org/autoinc.html), and so does this, a bounded number
  // of times.
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int64_t candidate = static_cast<int64_t>(FastRandom() >> 1) + 1;
    std::vector<Value> probe(table.num_columns(), Null{});
    probe[table.rowid_column()] = candidate;
    absl::StatusOr<std::optional<std::string>> existing = vtab->context->Get(table.RowKey(probe));
    if (!existing.ok()) return existing.status();
    if (!existing->has_value()) return candidate;
  }
  return SqlError("13000", "database or disk is full: no free integer primary key found");
}

// The stored row at row_key, decoded; nullopt if there is none.
absl::StatusOr<std::optional<std::vector<Value>>> ReadRow(Vtab* vtab, const std::string& row_key) {
  absl::StatusOr<std::optional<std::string>> stored = vtab->context->Get(row_key);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) return std::optional<std::vector<Value>>();
  absl::StatusOr<std::vector<Value>> row = vtab->table->DecodeRow(**stored);
  if (!row.ok()) return row.status();
  return std::optional<std::vector<Value>>(std::move(*row));
}

// Removes the row at row_key and its index entries (nothing if there is no row).
absl::Status DeleteRow(Vtab* vtab, const std::string& row_key) {
  absl::StatusOr<std::optional<std::vector<Value>>> row = ReadRow(vtab, row_key);
  if (!row.ok()) return row.status();
  if (!row->has_value()) return absl::OkStatus();
  const TableInfo& table = *vtab->table;
  for (const IndexInfo& index : table.indexes()) {
    const std::string entry = table.IndexEntryKey(index, **row, row_key);
    // While a UNIQUE index is built, rows that share a value (the build has not met
    // them yet, and fails when it does) share one entry key: the entry may be the
    // other row's, written by the build, and stays. Once PUBLIC, an entry key belongs
    // to one row.
    if (index.desc->state() == sqlpb::IndexDescriptor::BACKFILL &&
        TableInfo::EnforcesUniqueness(index, **row)) {
      absl::StatusOr<std::optional<std::string>> owner = vtab->context->Get(entry);
      if (!owner.ok()) return owner.status();
      if (!owner->has_value() || table.RowKeyOfEntry(**owner) != row_key) continue;
    }
    if (absl::Status s = vtab->context->Delete(entry); !s.ok()) return s;
  }
  return vtab->context->Delete(row_key);
}

// A constraint the row breaks: reports it per the statement's conflict mode.
int Conflict(Vtab* vtab, ConflictMode mode, absl::Status error) {
  vtab->context->NoteMode(mode);
  if (mode == ConflictMode::kIgnore) return SQLITE_CONSTRAINT;  // SQLite skips the row
  return Fail(vtab, std::move(error), SQLITE_CONSTRAINT);
}

// Writes one row: an INSERT when old_key is null, else an UPDATE of the row at
// *old_key. Returns an SQLite code.
int WriteRow(Vtab* vtab, const std::string* old_key, std::vector<Value> row,
             std::vector<bool> named) {
  VtabContext& context = *vtab->context;
  const TableInfo& table = *vtab->table;
  const ConflictMode mode = ModeOf(vtab->db);
  context.NoteMode(mode);
  const int rowid = table.rowid_column();
  bool generated_rowid = false;
  if (rowid >= 0 && IsNull(row[rowid]) && old_key != nullptr) {
    // SQLite refuses to set a rowid (or its INTEGER PRIMARY KEY alias) to NULL.
    return Fail(vtab, SqlError(sqlstate::kDataException, "datatype mismatch"), SQLITE_MISMATCH);
  }
  if (rowid >= 0 && IsNull(row[rowid])) {
    if (table.has_hidden_rowid()) {
      row[rowid] = context.NewRowId();
      generated_rowid = true;
    } else {
      absl::StatusOr<int64_t> next = NextRowidAlias(vtab);
      if (!next.ok()) return Fail(vtab, next.status());
      row[rowid] = *next;
    }
    named[rowid] = true;
  }
  absl::StatusOr<std::vector<Value>> normalized =
      context.NormalizeRow(table, row, named, mode == ConflictMode::kReplace);
  if (!normalized.ok()) {
    if (absl::StartsWith(SqlStateOf(normalized.status()), "23")) {
      return Conflict(vtab, mode, normalized.status());
    }
    return Fail(vtab, normalized.status());
  }
  row = std::move(*normalized);
  for (int pos : table.pk_columns()) {
    if (IsNull(row[pos])) {
      return Conflict(
          vtab, mode,
          SqlError(sqlstate::kNotNullViolation,
                   absl::StrCat("NOT NULL constraint failed: ", table.ConstraintColumns({pos}))));
    }
  }
  std::string key = table.RowKey(row);
  // The rows in the way: under the primary key and under each unique index.
  std::vector<std::string> in_the_way;
  if (old_key == nullptr || *old_key != key) {
    absl::StatusOr<std::optional<std::string>> existing = context.Get(key);
    // A new row id that collided (sql/row_id.h: nodes 1024 apart): take another.
    for (int attempt = 0; generated_rowid && attempt < 3 && existing.ok() && existing->has_value();
         ++attempt) {
      row[rowid] = context.NewRowId();
      key = table.RowKey(row);
      existing = context.Get(key);
    }
    if (!existing.ok()) return Fail(vtab, existing.status());
    if (existing->has_value()) {
      if (mode != ConflictMode::kReplace) {
        return Conflict(vtab, mode,
                        SqlError(sqlstate::kUniqueViolation,
                                 absl::StrCat("UNIQUE constraint failed: ",
                                              table.ConstraintColumns(table.pk_columns()))));
      }
      in_the_way.push_back(key);
    }
  }
  for (const IndexInfo& index : table.indexes()) {
    if (!TableInfo::EnforcesUniqueness(index, row)) continue;
    absl::StatusOr<std::optional<std::string>> entry =
        context.Get(table.IndexEntryKey(index, row, key));
    if (!entry.ok()) return Fail(vtab, entry.status());
    if (!entry->has_value()) continue;
    const std::string owner = table.RowKeyOfEntry(**entry);
    if (old_key != nullptr && owner == *old_key) continue;  // this row's own entry
    if (mode != ConflictMode::kReplace) {
      return Conflict(vtab, mode,
                      SqlError(sqlstate::kUniqueViolation,
                               absl::StrCat("UNIQUE constraint failed: ",
                                            table.ConstraintColumns(index.columns))));
    }
    in_the_way.push_back(owner);
  }
  // OR REPLACE: the rows in the way go first, with their index entries.
  for (const std::string& other : in_the_way) {
    if (old_key != nullptr && other == *old_key) continue;
    if (absl::Status s = DeleteRow(vtab, other); !s.ok()) return Fail(vtab, s);
  }
  if (old_key != nullptr && !table.indexes().empty()) {
    // The old entries: read the old row to know them.
    if (absl::Status s = DeleteRow(vtab, *old_key); !s.ok()) return Fail(vtab, s);
  } else if (old_key != nullptr && *old_key != key) {
    if (absl::Status s = context.Delete(*old_key); !s.ok()) return Fail(vtab, s);
  }
  if (absl::Status s = context.Put(key, table.EncodeRow(row)); !s.ok()) return Fail(vtab, s);
  for (const IndexInfo& index : table.indexes()) {
    if (absl::Status s = context.Put(table.IndexEntryKey(index, row, key), table.EntryValue(key));
        !s.ok()) {
      return Fail(vtab, s);
    }
  }
  return SQLITE_OK;
}

}  // namespace

int Update(sqlite3_vtab* base, int argc, sqlite3_value** argv, sqlite3_int64*) {
  auto* vtab = static_cast<Vtab*>(base);
  const TableInfo& table = *vtab->table;
  if (absl::Status s = CheckCurrent(vtab); !s.ok()) return Fail(vtab, s);
  if (argc == 1) {  // DELETE
    const Value key = ValueFromSqlite(argv[0]);
    if (ClassOf(key) != StorageClass::kBlob) return SQLITE_OK;
    if (absl::Status s = DeleteRow(vtab, std::get<Blob>(key).bytes); !s.ok()) return Fail(vtab, s);
    return SQLITE_OK;
  }
  RANGEDB_CHECK_EQ(argc, table.num_columns() + 3);
  std::vector<Value> row;
  row.reserve(table.num_columns());
  for (int i = 0; i < table.num_columns(); ++i) row.push_back(ValueFromSqlite(argv[3 + i]));
  const Value old = ValueFromSqlite(argv[0]);
  if (IsNull(old)) {  // INSERT
    if (sqlite3_value_type(argv[2]) != SQLITE_NULL) {
      return Fail(vtab, SqlError(sqlstate::kFeatureNotSupported,
                                 absl::StrCat("cannot write the hidden column ", kKeyColumnName)));
    }
    return WriteRow(vtab, nullptr, std::move(row), vtab->context->InsertedColumns(table));
  }
  if (ClassOf(old) != StorageClass::kBlob) {
    return Fail(vtab, SqlError(sqlstate::kInternalError, "an UPDATE without the row's key"));
  }
  const std::string old_key = std::get<Blob>(old).bytes;
  return WriteRow(vtab, &old_key, std::move(row), std::vector<bool>(table.num_columns(), true));
}

}  // namespace rangedb::sql::vtab_internal
