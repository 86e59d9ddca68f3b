#include "sql/introspection_cluster.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "sql/sqlstate.h"

namespace rangedb::sql {

const char kRangesDeclaration[] =
    "CREATE TABLE x(range_id INTEGER, start_key TEXT, end_key TEXT, replicas TEXT, "
    "leaseholder INTEGER, size_bytes INTEGER, raw_start_key BLOB, raw_end_key BLOB)";
const char kNodesDeclaration[] =
    "CREATE TABLE x(node_id INTEGER, address TEXT, status TEXT, ranges INTEGER, "
    "leases INTEGER, is_local INTEGER)";

namespace {

// PostgreSQL's object_not_in_prerequisite_state: the table exists, this session
// cannot read it.
constexpr char kNotAvailable[] = "55000";

absl::Status NotAvailable(absl::string_view table) {
  return SqlError(kNotAvailable,
                  absl::StrCat(table,
                               " is not available in this session: it runs outside a node, "
                               "with no view of the cluster"));
}

Value OptionalInteger(const std::optional<uint64_t>& v) {
  if (!v.has_value()) return Null();
  return static_cast<int64_t>(*v);
}

}  // namespace

absl::StatusOr<std::vector<std::vector<Value>>> RangesRows(ClusterInfo* cluster_info,
                                                           const TablesById& tables) {
  if (cluster_info == nullptr) return NotAvailable(kRangesTableName);
  absl::StatusOr<std::vector<RangeInfoRow>> ranges = cluster_info->Ranges();
  if (!ranges.ok()) return ranges.status();
  std::sort(ranges->begin(), ranges->end(),
            [](const RangeInfoRow& a, const RangeInfoRow& b) { return a.range_id < b.range_id; });
  std::vector<std::vector<Value>> rows;
  rows.reserve(ranges->size());
  for (const RangeInfoRow& r : *ranges) {
    Value size = Null();
    if (r.size_bytes.has_value()) size = *r.size_bytes;
    rows.push_back({static_cast<int64_t>(r.range_id), PrettyKey(r.start_key, tables),
                    PrettyKey(r.end_key, tables), absl::StrJoin(r.replica_node_ids, ","),
                    OptionalInteger(r.leaseholder_node_id), std::move(size), Blob{r.start_key},
                    Blob{r.end_key}});
  }
  return rows;
}

absl::StatusOr<std::vector<std::vector<Value>>> NodesRows(ClusterInfo* cluster_info) {
  if (cluster_info == nullptr) return NotAvailable(kNodesTableName);
  absl::StatusOr<std::vector<NodeInfoRow>> nodes = cluster_info->Nodes();
  if (!nodes.ok()) return nodes.status();
  std::sort(nodes->begin(), nodes->end(),
            [](const NodeInfoRow& a, const NodeInfoRow& b) { return a.node_id < b.node_id; });
  std::vector<std::vector<Value>> rows;
  rows.reserve(nodes->size());
  for (const NodeInfoRow& n : *nodes) {
    rows.push_back({static_cast<int64_t>(n.node_id), n.address, n.status, n.ranges, n.leases,
                    int64_t{n.is_local}});
  }
  return rows;
}

}  // namespace rangedb::sql
