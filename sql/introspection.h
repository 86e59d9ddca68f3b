// The introspection tables every SQL session sees (docs/sql.md "Introspection
// tables"): read-only, eponymous-only virtual tables (sql/introspection_vtab.h)
// registered on the session's connection.
//
//   rangedb_tables, rangedb_indexes   the catalog (sql/introspection_catalog.h)
//   rangedb_ranges, rangedb_nodes     the cluster (sql/introspection_cluster.h)
//
// The catalog tables read the same schema as the statement itself: the tables the
// session loaded for its transaction (docs/design/sql.md "Catalog"). The cluster
// tables ask source.cluster_info at each scan; without one they fail with 55000.
//
// Thread safety: as the connection (one thread at a time).
#pragma once

#include <functional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "sql/cluster_info.h"
#include "sql/pretty_key.h"
#include "sqlite3.h"

namespace rangedb::sql {

struct IntrospectionSource {
  // The tables of the schema the running statement uses. REQUIRES: set.
  std::function<const TablesById&()> tables;
  // Null: rangedb_ranges and rangedb_nodes are not available (55000).
  // REQUIRES: outlives the connection.
  ClusterInfo* cluster_info = nullptr;
  // Hears every scan's failure with its SQLSTATE (VtabContext::SetError).
  std::function<void(absl::Status)> on_error;
};

// Whether a table or view may not take this name: the introspection tables' prefix
// "rangedb_" (any case) is reserved, as PostgreSQL reserves "pg_", so that no user
// table hides one of them.
bool IsReservedRelationName(absl::string_view name);
// The error for such a name: 42939 (reserved_name), naming it.
absl::Status ReservedNameError(absl::string_view name);

// Registers every introspection table on db.
[[nodiscard]] absl::Status RegisterIntrospection(sqlite3* db, const IntrospectionSource& source);

}  // namespace rangedb::sql
