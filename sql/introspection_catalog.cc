#include "sql/introspection_catalog.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace rangedb::sql {

const char kTablesDeclaration[] =
    "CREATE TABLE x(table_id INTEGER, name TEXT, columns INTEGER, primary_key TEXT, "
    "indexes INTEGER, version INTEGER, create_sql TEXT)";
const char kIndexesDeclaration[] =
    "CREATE TABLE x(table_id INTEGER, table_name TEXT, index_id INTEGER, index_name TEXT, "
    "is_primary INTEGER, is_unique INTEGER, columns TEXT, state TEXT)";

namespace {

// "a, b DESC": the index's columns by name, as its descriptor lists them.
std::string IndexColumns(const sqlpb::TableDescriptor& desc, const sqlpb::IndexDescriptor& index) {
  std::map<uint32_t, const std::string*> names;
  for (const sqlpb::ColumnDescriptor& c : desc.columns()) names[c.id()] = &c.name();
  std::vector<std::string> shown;
  for (int k = 0; k < index.column_ids_size(); ++k) {
    auto it = names.find(index.column_ids(k));
    std::string column = it == names.end() ? absl::StrCat("#", index.column_ids(k)) : *it->second;
    if (k < index.descending_size() && index.descending(k)) absl::StrAppend(&column, " DESC");
    shown.push_back(std::move(column));
  }
  return absl::StrJoin(shown, ", ");
}

std::vector<Value> IndexRow(const TableInfo& table, const sqlpb::IndexDescriptor& index,
                            bool primary) {
  return {static_cast<int64_t>(table.id()),
          table.name(),
          static_cast<int64_t>(index.id()),
          index.name(),
          int64_t{primary},
          int64_t{primary || index.unique()},
          IndexColumns(table.desc(), index),
          sqlpb::IndexDescriptor::State_Name(index.state())};
}

}  // namespace

std::vector<std::vector<Value>> TablesRows(const TablesById& tables) {
  std::vector<std::vector<Value>> rows;
  rows.reserve(tables.size());
  for (const auto& [id, table] : tables) {
    int64_t columns = 0;
    for (const sqlpb::ColumnDescriptor& c : table->desc().columns()) columns += c.hidden() ? 0 : 1;
    std::vector<std::string> pk;
    for (int position : table->pk_columns()) pk.push_back(table->column(position).name());
    rows.push_back({static_cast<int64_t>(id), table->name(), columns, absl::StrJoin(pk, ", "),
                    static_cast<int64_t>(table->desc().indexes_size()),
                    static_cast<int64_t>(table->desc().version()), table->desc().create_sql()});
  }
  return rows;
}

std::vector<std::vector<Value>> IndexesRows(const TablesById& tables) {
  std::vector<std::vector<Value>> rows;
  for (const auto& [id, table] : tables) {
    rows.push_back(IndexRow(*table, table->desc().primary_index(), /*primary=*/true));
    std::vector<const sqlpb::IndexDescriptor*> secondary;
    for (const sqlpb::IndexDescriptor& index : table->desc().indexes()) secondary.push_back(&index);
    std::sort(secondary.begin(), secondary.end(),
              [](const auto* a, const auto* b) { return a->id() < b->id(); });
    for (const sqlpb::IndexDescriptor* index : secondary) {
      rows.push_back(IndexRow(*table, *index, /*primary=*/false));
    }
  }
  return rows;
}

}  // namespace rangedb::sql
