// The cluster's introspection tables, rangedb_ranges and rangedb_nodes (docs/sql.md
// "Introspection tables"): their columns and their rows, from a ClusterInfo
// (sql/cluster_info.h), with keys shown by PrettyKey under the statement's schema.
//
//   rangedb_ranges(range_id INTEGER, start_key TEXT, end_key TEXT,
//                  replicas TEXT, leaseholder INTEGER, size_bytes INTEGER,
//                  raw_start_key BLOB, raw_end_key BLOB)
//     start_key, end_key: PrettyKey (sql/pretty_key.h), e.g. /users/primary/42
//     replicas: the replicas' node ids, "1,2,3" in the descriptor's order
//     leaseholder: its node id; NULL when no holder is known
//     size_bytes: NULL when the node does not know it
//   rangedb_nodes(node_id INTEGER, address TEXT, status TEXT, ranges INTEGER,
//                 leases INTEGER, is_local INTEGER)
//     status: live, suspect, dead or unknown, as the session's node sees it
//     ranges, leases: replicas and leases the node holds
//     is_local: 1 for the node the session runs in
//
// Rows come ordered by range id, or node id.
//
// Thread safety: pure functions (ClusterInfo is thread-safe).
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "sql/cluster_info.h"
#include "sql/pretty_key.h"
#include "sql/value.h"

namespace rangedb::sql {

inline constexpr char kRangesTableName[] = "rangedb_ranges";
inline constexpr char kNodesTableName[] = "rangedb_nodes";
extern const char kRangesDeclaration[];
extern const char kNodesDeclaration[];

// Errors: cluster_info's, unchanged; with a null cluster_info, 55000 saying the
// table is not available in this session.
[[nodiscard]] absl::StatusOr<std::vector<std::vector<Value>>> RangesRows(ClusterInfo* cluster_info,
                                                                         const TablesById& tables);
[[nodiscard]] absl::StatusOr<std::vector<std::vector<Value>>> NodesRows(ClusterInfo* cluster_info);

}  // namespace rangedb::sql
