#include "sql/introspection.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "sql/introspection_catalog.h"
#include "sql/introspection_cluster.h"
#include "sql/introspection_vtab.h"
#include "sql/sqlstate.h"

namespace rangedb::sql {

bool IsReservedRelationName(absl::string_view name) {
  return absl::StartsWithIgnoreCase(name, "rangedb_");
}

absl::Status ReservedNameError(absl::string_view name) {
  return SqlError("42939", absl::StrCat("the name ", name,
                                        " is reserved: names starting with rangedb_ belong to "
                                        "the introspection tables"));
}

absl::Status RegisterIntrospection(sqlite3* db, const IntrospectionSource& source) {
  RANGEDB_CHECK(source.tables != nullptr);
  using Rows = absl::StatusOr<std::vector<std::vector<Value>>>;
  const auto tables = source.tables;
  ClusterInfo* const cluster = source.cluster_info;
  const IntrospectionTableSpec specs[] = {
      {kTablesTableName, kTablesDeclaration, [tables]() -> Rows { return TablesRows(tables()); },
       source.on_error},
      {kIndexesTableName, kIndexesDeclaration, [tables]() -> Rows { return IndexesRows(tables()); },
       source.on_error},
      {kRangesTableName, kRangesDeclaration,
       [tables, cluster]() -> Rows { return RangesRows(cluster, tables()); }, source.on_error},
      {kNodesTableName, kNodesDeclaration, [cluster]() -> Rows { return NodesRows(cluster); },
       source.on_error},
  };
  for (const IntrospectionTableSpec& spec : specs) {
    if (absl::Status s = RegisterIntrospectionTable(db, spec); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace rangedb::sql
