// Session: ALTER TABLE (docs/design/sql.md "ALTER TABLE"). The shadow schema runs
// the statement first, so SQLite checks it and rewrites every definition that names
// the table or column (the table's own SQL, its indexes, views, foreign keys). This
// file reads the result back into descriptors:
//   - ADD COLUMN: the column gets the next column id. Rows are not rewritten; a row
//     without the new column reads its missing value (what SQLite reads for a row
//     written before the column existed).
//   - RENAME TO: the name key moves; the id, and so every row key, stays.
//   - RENAME COLUMN: ids stay; the names and rewritten SQL change.
// DROP COLUMN is refused (0A000) before any of this.
#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/kv_api.h"
#include "sql/catalog.h"
#include "sql/introspection.h"
#include "sql/session.h"
#include "sql/sqlstate.h"
#include "sql/statement_text.h"

namespace rangedb::sql {
namespace {

// Positions of the columns SQLite sees (all but the hidden rowid), in order.
std::vector<int> VisiblePositions(const sqlpb::TableDescriptor& desc) {
  std::vector<int> out;
  for (int i = 0; i < desc.columns_size(); ++i) {
    if (!desc.columns(i).hidden()) out.push_back(i);
  }
  return out;
}

// The name of a UNIQUE constraint's index after its table was renamed. SQLite renames
// these itself: 'sqlite_autoindex_' || substr(name, length(old) + 18).
std::string RenamedIndex(const std::string& index, const std::string& old_table,
                         const std::string& new_table) {
  constexpr absl::string_view kAuto = "sqlite_autoindex_";
  if (!absl::StartsWithIgnoreCase(index, kAuto) || index.size() < kAuto.size() + old_table.size())
    return index;
  return absl::StrCat(kAuto, new_table, index.substr(kAuto.size() + old_table.size()));
}

// The table's descriptor after the shadow ran ALTER TABLE on it (now called
// new_name): old's ids, state and statistics with the shadow's names, definitions
// and any added column (with the next column id).
absl::StatusOr<sqlpb::TableDescriptor> DescribeAltered(const ShadowSchema& shadow,
                                                       const sqlpb::TableDescriptor& old,
                                                       const std::string& new_name) {
  absl::StatusOr<sqlpb::TableDescriptor> fresh = shadow.DescribeTable(new_name);
  if (!fresh.ok()) return fresh.status();
  sqlpb::TableDescriptor desc = old;
  desc.set_name(fresh->name());
  desc.set_create_sql(fresh->create_sql());
  desc.set_version(old.version() + 1);
  const std::vector<int> before = VisiblePositions(old);
  const std::vector<int> after = VisiblePositions(*fresh);
  if (after.size() < before.size()) return NotSupported("ALTER TABLE … DROP COLUMN");
  for (size_t i = 0; i < after.size(); ++i) {
    const sqlpb::ColumnDescriptor& f = fresh->columns(after[i]);
    if (i >= before.size()) {  // ADD COLUMN: at the end, as in SQLite
      sqlpb::ColumnDescriptor* added = desc.add_columns();
      *added = f;
      added->set_id(desc.next_column_id());
      added->set_rowid_alias(false);  // SQLite refuses a PRIMARY KEY column
      desc.set_next_column_id(desc.next_column_id() + 1);
      continue;
    }
    sqlpb::ColumnDescriptor* c = desc.mutable_columns(before[i]);
    if (f.declared_type() != c->declared_type() || f.affinity() != c->affinity() ||
        f.collation() != c->collation()) {
      return SqlError(
          sqlstate::kInternalError,
          absl::StrCat("ALTER TABLE changed the type of column ", c->name(), " of ", old.name()));
    }
    c->set_name(f.name());  // RENAME COLUMN
  }
  for (sqlpb::IndexDescriptor& index : *desc.mutable_indexes()) {
    absl::StatusOr<sqlpb::IndexDescriptor> now =
        shadow.DescribeIndex(desc, RenamedIndex(index.name(), old.name(), desc.name()));
    if (!now.ok()) return now.status();
    if (!std::equal(now->column_ids().begin(), now->column_ids().end(), index.column_ids().begin(),
                    index.column_ids().end())) {
      return SqlError(sqlstate::kInternalError,
                      absl::StrCat("ALTER TABLE changed the columns of index ", index.name()));
    }
    index.set_name(now->name());
    index.set_create_sql(now->create_sql());
  }
  return desc;
}

}  // namespace

absl::Status Session::PrepareAlterTable(absl::string_view text, const std::string& table_name,
                                        bool* held_row) {
  *held_row = false;
  // A RENAME does not look at rows. Anything else (ADD, or a head the tokenizer did
  // not understand) gets the row: holding one where none was needed costs a read.
  if (AlterTableAction(text) == "RENAME") return absl::OkStatus();
  // A view has no rows; the shadow refuses the statement with SQLite's own error.
  if (views_.contains(FoldName(table_name))) return absl::OkStatus();
  absl::StatusOr<std::shared_ptr<const TableInfo>> table = TableNamed(table_name);
  if (!table.ok()) return table.status();
  // One row is enough for SQLite's "is the table empty" checks; the rest are read
  // for CHECK constraints only (CheckRowsAfterAddColumn). The read is in the DDL's
  // transaction, which writes the version key, so no writer slips in between.
  absl::StatusOr<std::vector<kv::KeyValue>> first =
      txn_->Scan((*table)->rows_start(), (*table)->rows_end(), 1);
  if (!first.ok()) return KvError(first.status());
  if (first->empty()) return absl::OkStatus();
  absl::StatusOr<std::vector<Value>> row = (*table)->DecodeRow(first->front().value);
  if (!row.ok()) return row.status();
  if (absl::Status s = shadow_->HoldRow(**table, *row); !s.ok()) return s;
  *held_row = true;
  return absl::OkStatus();
}

absl::Status Session::AlterTableDdl(const std::string& table_name, bool held_row) {
  absl::StatusOr<std::shared_ptr<const TableInfo>> table = TableNamed(table_name);
  if (!table.ok()) return table.status();
  const sqlpb::TableDescriptor& old = (*table)->desc();
  // Its name now: the old one, or (RENAME TO) the one table the catalog does not know.
  absl::StatusOr<std::vector<std::string>> names = shadow_->TableNames();
  if (!names.ok()) return names.status();
  std::string new_name;
  for (const std::string& name : *names) {
    if (FoldName(name) == FoldName(old.name())) {
      new_name = name;
      break;
    }
    if (table_ids_.count(FoldName(name)) == 0) new_name = name;
  }
  if (new_name.empty()) {
    return SqlError(sqlstate::kInternalError,
                    absl::StrCat("table ", old.name(), " is gone after ALTER TABLE"));
  }
  if (FoldName(new_name) != FoldName(old.name()) && IsReservedRelationName(new_name))
    return ReservedNameError(new_name);
  absl::StatusOr<sqlpb::TableDescriptor> desc = DescribeAltered(*shadow_, old, new_name);
  if (!desc.ok()) return desc.status();

  // Added columns: rows written before them read what the held row reads now.
  std::vector<std::string> added;
  for (int i = old.columns_size(); i < desc->columns_size(); ++i)
    added.push_back(desc->columns(i).name());
  if (held_row) {
    absl::StatusOr<std::vector<Value>> missing = shadow_->ReleaseHeldRow(desc->name(), added);
    if (!missing.ok()) return missing.status();
    for (size_t k = 0; k < added.size(); ++k) {
      if (IsNull((*missing)[k])) continue;  // a missing entry reads NULL anyway
      *desc->mutable_columns(old.columns_size() + k)->mutable_missing_value() =
          ValueToProto((*missing)[k]);
    }
    // SQLite checks every row's CHECK constraints after ADD COLUMN; the held row
    // was checked by the shadow's ALTER itself.
    if (!added.empty() && absl::StrContains(absl::AsciiStrToUpper(desc->create_sql()), "CHECK")) {
      absl::StatusOr<std::shared_ptr<const TableInfo>> info = TableInfo::Make(*desc);
      if (!info.ok()) return info.status();
      if (absl::Status s = CheckRowsAfterAddColumn(**info); !s.ok()) return s;
    }
  }

  if (FoldName(desc->name()) != FoldName(old.name())) {  // RENAME TO: move the name key
    const std::string new_key = NameKey(desc->name());
    absl::StatusOr<std::optional<std::string>> taken = txn_->Get(new_key);
    if (!taken.ok()) return KvError(taken.status());
    if (taken->has_value()) {
      return SqlError(
          sqlstate::kDuplicateTable,
          absl::StrCat("there is already another table or index with this name: ", desc->name()));
    }
    if (absl::Status s = txn_->Delete(NameKey(old.name())); !s.ok()) return KvError(s);
    if (absl::Status s = txn_->Put(new_key, absl::StrCat(desc->id())); !s.ok()) return KvError(s);
  }
  if (absl::Status s = WriteDescriptor(*txn_, *desc); !s.ok()) return KvError(s);
  return WriteRewrittenDefinitions(desc->id());
}

absl::Status Session::CheckRowsAfterAddColumn(const TableInfo& table) {
  std::vector<bool> named(table.num_columns(), true);
  std::string start = table.rows_start();
  while (true) {  // bounded: each page moves start past its last row
    if (absl::Status s = CheckInterrupted(); !s.ok()) return s;
    absl::StatusOr<std::vector<kv::KeyValue>> page =
        txn_->Scan(start, table.rows_end(), kv::kScanPageRows);
    if (!page.ok()) return KvError(page.status());
    for (const kv::KeyValue& stored : *page) {
      absl::StatusOr<std::vector<Value>> row = table.DecodeRow(stored.value);
      if (!row.ok()) return row.status();
      absl::StatusOr<std::vector<Value>> checked =
          shadow_->NormalizeRow(table, *row, named, /*or_replace=*/false);
      if (!checked.ok()) {
        // SQLite's message for a row that fails after ADD COLUMN names no constraint.
        if (SqlStateOf(checked.status()) == sqlstate::kCheckViolation)
          return SqlError(sqlstate::kCheckViolation, "CHECK constraint failed");
        return checked.status();
      }
    }
    if (static_cast<int64_t>(page->size()) < kv::kScanPageRows) return absl::OkStatus();
    start = page->back().key + std::string(1, '\0');
  }
}

absl::Status Session::WriteRewrittenDefinitions(uint64_t altered_id) {
  for (const auto& [id, info] : tables_) {
    if (id == altered_id) continue;
    sqlpb::TableDescriptor desc = info->desc();
    bool changed = false;
    absl::StatusOr<std::pair<std::string, std::string>> sql =
        shadow_->NameAndSql("table", desc.name());
    if (!sql.ok()) return sql.status();
    if (sql->second != desc.create_sql()) {
      desc.set_create_sql(sql->second);
      changed = true;
    }
    for (sqlpb::IndexDescriptor& index : *desc.mutable_indexes()) {
      if (index.create_sql().empty()) continue;  // a constraint's: in the table's SQL
      absl::StatusOr<std::pair<std::string, std::string>> isql =
          shadow_->NameAndSql("index", index.name());
      if (!isql.ok()) return isql.status();
      if (isql->second != index.create_sql()) {
        index.set_create_sql(isql->second);
        changed = true;
      }
    }
    if (!changed) continue;
    desc.set_version(desc.version() + 1);
    if (absl::Status s = WriteDescriptor(*txn_, desc); !s.ok()) return KvError(s);
  }
  for (const auto& [folded, view] : views_) {
    absl::StatusOr<std::pair<std::string, std::string>> sql =
        shadow_->NameAndSql("view", view.name());
    if (!sql.ok()) return sql.status();
    if (sql->second == view.create_sql()) continue;
    sqlpb::TableDescriptor desc = view;
    desc.set_create_sql(sql->second);
    desc.set_version(desc.version() + 1);
    if (absl::Status s = WriteDescriptor(*txn_, desc); !s.ok()) return KvError(s);
  }
  return absl::OkStatus();
}

}  // namespace rangedb::sql
