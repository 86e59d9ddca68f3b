#include "sql/table_info.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "base/check.h"
#include "sql/key_codec.h"
#include "sql/row_codec.h"
#include "sql/sqlstate.h"
#include "storage/encoding.h"
#include "storage/keys.h"

namespace rangedb::sql {

std::string QuoteIdentifier(absl::string_view name) {
  return absl::StrCat("\"", absl::StrReplaceAll(name, {{"\"", "\"\""}}), "\"");
}

absl::StatusOr<std::shared_ptr<const TableInfo>> TableInfo::Make(sqlpb::TableDescriptor desc) {
  std::shared_ptr<TableInfo> info(new TableInfo(std::move(desc)));
  const sqlpb::TableDescriptor& d = info->desc_;
  std::string decl =
      absl::StrCat("CREATE TABLE x(", QuoteIdentifier(kKeyColumnName), " BLOB HIDDEN");
  for (int i = 0; i < d.columns_size(); ++i) {
    const sqlpb::ColumnDescriptor& c = d.columns(i);
    if (c.affinity() > static_cast<uint32_t>(Affinity::kReal) ||
        c.collation() > static_cast<uint32_t>(Collation::kRtrim)) {
      return SqlError(sqlstate::kInternalError, absl::StrCat("descriptor of table ", d.name(),
                                                             " has a bad column ", c.name()));
    }
    info->affinity_.push_back(static_cast<Affinity>(c.affinity()));
    info->collation_.push_back(static_cast<Collation>(c.collation()));
    info->missing_.push_back(ValueFromProto(c.missing_value()));
    if (c.id() >= info->position_of_id_.size()) info->position_of_id_.resize(c.id() + 1, -1);
    info->position_of_id_[c.id()] = i;
    if (c.hidden() || c.rowid_alias()) info->rowid_column_ = i;
    absl::StrAppend(&decl, ", ", QuoteIdentifier(c.name()));
    if (!c.declared_type().empty()) absl::StrAppend(&decl, " ", c.declared_type());
    if (c.hidden()) absl::StrAppend(&decl, " HIDDEN");
    static constexpr const char* kCollations[] = {"BINARY", "NOCASE", "RTRIM"};
    absl::StrAppend(&decl, " COLLATE ", kCollations[c.collation()]);
  }
  absl::StrAppend(&decl, ", PRIMARY KEY(", QuoteIdentifier(kKeyColumnName), ")) WITHOUT ROWID");
  info->declaration_ = std::move(decl);
  for (uint32_t id : d.primary_index().column_ids()) {
    if (id >= info->position_of_id_.size() || info->position_of_id_[id] < 0) {
      return SqlError(sqlstate::kInternalError,
                      absl::StrCat("primary key of table ", d.name(), " names no column ", id));
    }
    info->pk_columns_.push_back(info->position_of_id_[id]);
  }
  // The key's collations: the PRIMARY KEY clause's where the descriptor has them
  // (older descriptors do not: their keys were built under the columns').
  const auto& pk_collations = d.primary_index().collations();
  for (size_t k = 0; k < info->pk_columns_.size(); ++k) {
    const uint32_t c = pk_collations.size() == static_cast<int>(info->pk_columns_.size())
                           ? pk_collations[static_cast<int>(k)]
                           : d.columns(info->pk_columns_[k]).collation();
    if (c > static_cast<uint32_t>(Collation::kRtrim)) {
      return SqlError(sqlstate::kInternalError,
                      absl::StrCat("primary key of table ", d.name(), " has a bad collation"));
    }
    info->pk_collations_.push_back(static_cast<Collation>(c));
  }
  if (info->pk_columns_.empty()) {
    return SqlError(sqlstate::kInternalError,
                    absl::StrCat("table ", d.name(), " has no primary key"));
  }
  for (const sqlpb::IndexDescriptor& index : d.indexes()) {
    IndexInfo ii;
    ii.desc = &index;
    ii.unique = index.unique();
    for (int k = 0; k < index.column_ids_size(); ++k) {
      const uint32_t id = index.column_ids(k);
      if (id >= info->position_of_id_.size() || info->position_of_id_[id] < 0) {
        return SqlError(sqlstate::kInternalError, absl::StrCat("index ", index.name(), " of table ",
                                                               d.name(), " names no column ", id));
      }
      ii.columns.push_back(info->position_of_id_[id]);
      ii.collations.push_back(k < index.collations_size()
                                  ? static_cast<Collation>(index.collations(k))
                                  : info->collation_[ii.columns.back()]);
    }
    ii.prefix = keys::IndexPrefix(d.id(), index.id());
    ii.prefix_end = keys::IndexPrefix(d.id(), index.id() + 1);
    info->indexes_.push_back(std::move(ii));
  }
  info->rows_start_ = keys::IndexPrefix(d.id(), d.primary_index().id());
  info->rows_end_ = keys::IndexPrefix(d.id(), d.primary_index().id() + 1);
  return std::shared_ptr<const TableInfo>(std::move(info));
}

void TableInfo::AppendPkColumnKey(std::string* key, int pk_index, const Value& v) const {
  AppendValueKey(key, v, pk_collations_[pk_index], Direction::kAscending);
}

std::string TableInfo::RowKey(const std::vector<Value>& row) const {
  RANGEDB_CHECK_EQ(row.size(), static_cast<size_t>(num_columns()));
  std::string key = rows_start_;
  for (size_t i = 0; i < pk_columns_.size(); ++i) AppendPkColumnKey(&key, i, row[pk_columns_[i]]);
  return key;
}

bool TableInfo::EnforcesUniqueness(const IndexInfo& index, const std::vector<Value>& row) {
  if (!index.unique) return false;
  for (int pos : index.columns) {
    if (IsNull(row[pos])) return false;
  }
  return true;
}

std::string TableInfo::IndexEntryKey(const IndexInfo& index, const std::vector<Value>& row,
                                     absl::string_view row_key) const {
  std::string key = index.prefix;
  for (size_t k = 0; k < index.columns.size(); ++k) {
    AppendValueKey(&key, row[index.columns[k]], index.collations[k], Direction::kAscending);
  }
  if (!EnforcesUniqueness(index, row)) absl::StrAppend(&key, row_key.substr(rows_start_.size()));
  return key;
}

std::string TableInfo::ConstraintColumns(const std::vector<int>& positions) const {
  std::string out;
  for (int pos : positions) {
    absl::StrAppend(&out, out.empty() ? "" : ", ", name(), ".", column(pos).name());
  }
  return out;
}

std::string TableInfo::EncodeRow(const std::vector<Value>& row) const {
  RANGEDB_CHECK_EQ(row.size(), static_cast<size_t>(num_columns()));
  std::vector<std::pair<uint32_t, Value>> columns;
  columns.reserve(row.size());
  for (int i = 0; i < num_columns(); ++i) {
    // A NULL is kept only where a missing entry would read as something else.
    if (!IsNull(row[i]) || !IsNull(missing_[i])) columns.emplace_back(column(i).id(), row[i]);
  }
  std::sort(columns.begin(), columns.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string out;
  sql::EncodeRow(columns, &out, NullColumns::kWrite);
  return out;
}

absl::StatusOr<std::vector<Value>> TableInfo::DecodeRow(absl::string_view stored) const {
  absl::StatusOr<std::vector<std::pair<uint32_t, Value>>> columns = sql::DecodeRow(stored);
  if (!columns.ok()) {
    return SqlError(
        sqlstate::kInternalError,
        absl::StrCat("a row of table ", name(), " is corrupt: ", columns.status().message()));
  }
  std::vector<Value> row = missing_;  // what a column without an entry reads
  for (auto& [id, value] : *columns) {
    // A column dropped since is skipped; ids are never reused.
    if (id < position_of_id_.size() && position_of_id_[id] >= 0) {
      row[position_of_id_[id]] = std::move(value);
    }
  }
  return row;
}

}  // namespace rangedb::sql
