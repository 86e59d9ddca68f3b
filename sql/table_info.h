// TableInfo: a table descriptor (proto/sql.proto) with what the virtual table needs
// from it at hand — each column's affinity and collation, the primary key's
// columns, the declaration given to SQLite — and the row and key encodings of the
// table (docs/design/sql.md "Keys", "Rows").
//
// Positions: a row is a vector with one Value per descriptor column, in descriptor
// order (the hidden rowid, if any, first). In the virtual table SQLite sees, column 0
// is the hidden encoded key and column i + 1 is descriptor column i.
//
// Thread safety: immutable after Make; shared between the cursors of a session.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/sql.pb.h"
#include "sql/value.h"
#include "sql/value_proto.h"

namespace rangedb::sql {

// The hidden column holding a row's encoded primary key (the virtual table's
// single-column WITHOUT ROWID key; issue 16's verified facts).
inline constexpr char kKeyColumnName[] = "__rangedb_key";

// A secondary index of a table, as the write and read paths need it.
//   Key:   IndexPrefix(table, id), then each indexed column's key encoding under the
//          index column's collation, then — for a non-unique index, or a unique
//          one whose row has a NULL in an indexed column (NULLs are distinct) — the
//          row's primary-key encoding, so every entry is unique.
//   Value: the row's primary-key encoding (its key after rows_start()).
struct IndexInfo {
  const sqlpb::IndexDescriptor* desc = nullptr;  // into the TableInfo's descriptor
  std::vector<int> columns;                      // descriptor positions
  std::vector<Collation> collations;             // per indexed column
  std::string prefix;                            // every entry starts with it
  std::string prefix_end;                        // and sorts below this
  bool unique = false;
};

class TableInfo {
 public:
  static absl::StatusOr<std::shared_ptr<const TableInfo>> Make(sqlpb::TableDescriptor desc);

  const sqlpb::TableDescriptor& desc() const { return desc_; }
  uint64_t id() const { return desc_.id(); }
  const std::string& name() const { return desc_.name(); }
  int num_columns() const { return desc_.columns_size(); }
  const sqlpb::ColumnDescriptor& column(int i) const { return desc_.columns(i); }
  Affinity affinity(int i) const { return affinity_[i]; }
  Collation collation(int i) const { return collation_[i]; }
  // What a row without an entry for column i reads (its descriptor's missing_value;
  // NULL when unset). See EncodeRow.
  const Value& missing_value(int i) const { return missing_[i]; }
  // Descriptor positions of the primary key's columns, in key order.
  const std::vector<int>& pk_columns() const { return pk_columns_; }
  // The collation each primary-key column's key is built under, in key order: the
  // PRIMARY KEY clause's, which may differ from the column's (collation(i)).
  const std::vector<Collation>& pk_collations() const { return pk_collations_; }
  // The position of the INTEGER PRIMARY KEY or hidden rowid column; -1 if none.
  int rowid_column() const { return rowid_column_; }
  bool has_hidden_rowid() const { return rowid_column_ >= 0 && column(rowid_column_).hidden(); }
  // The CREATE TABLE statement for sqlite3_declare_vtab.
  const std::string& declaration() const { return declaration_; }

  // Every row key of the table starts with this and sorts below rows_end().
  const std::string& rows_start() const { return rows_start_; }
  const std::string& rows_end() const { return rows_end_; }
  // The row's key: rows_start() then each primary-key column's key encoding.
  std::string RowKey(const std::vector<Value>& row) const;
  // Appends the key encoding of v as primary-key column pk_index (0-based).
  void AppendPkColumnKey(std::string* key, int pk_index, const Value& v) const;

  // The secondary indexes (public and backfilling: every write maintains both).
  const std::vector<IndexInfo>& indexes() const { return indexes_; }
  // The key of row's entry in index (see IndexInfo); row_key is RowKey(row).
  std::string IndexEntryKey(const IndexInfo& index, const std::vector<Value>& row,
                            absl::string_view row_key) const;
  // Whether the entry takes part in the uniqueness check (unique, no NULL).
  static bool EnforcesUniqueness(const IndexInfo& index, const std::vector<Value>& row);
  // The row key an entry's value points at.
  std::string RowKeyOfEntry(absl::string_view entry_value) const {
    return rows_start_ + std::string(entry_value);
  }
  // The value of an entry: the row key after rows_start().
  std::string EntryValue(absl::string_view row_key) const {
    return std::string(row_key.substr(rows_start_.size()));
  }
  // "t.a, t.b": the columns of a constraint, as SQLite names them in errors.
  std::string ConstraintColumns(const std::vector<int>& positions) const;

  // NULL columns are left out, except those with a non-NULL missing value (added by
  // ALTER TABLE with a DEFAULT), which get an explicit NULL entry: for them a missing
  // entry means "written before the column existed" and reads as the missing value.
  std::string EncodeRow(const std::vector<Value>& row) const;
  // Columns missing from the stored value read as their missing value (NULL for most).
  absl::StatusOr<std::vector<Value>> DecodeRow(absl::string_view stored) const;

 private:
  explicit TableInfo(sqlpb::TableDescriptor desc) : desc_(std::move(desc)) {}

  sqlpb::TableDescriptor desc_;
  std::vector<Affinity> affinity_;
  std::vector<Collation> collation_;
  std::vector<Value> missing_;  // per position: the column's missing value
  std::vector<int> pk_columns_;
  std::vector<Collation> pk_collations_;
  std::vector<IndexInfo> indexes_;
  std::vector<int> position_of_id_;  // column id -> position (-1: none)
  int rowid_column_ = -1;
  std::string declaration_;
  std::string rows_start_;
  std::string rows_end_;
};

// "name" quoted as an SQL identifier.
std::string QuoteIdentifier(absl::string_view name);

}  // namespace rangedb::sql
