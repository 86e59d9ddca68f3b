// ClusterInfo: what a SQL session may ask of the cluster it runs in, for the
// introspection tables rangedb_ranges and rangedb_nodes (sql/introspection.h,
// docs/sql.md "Introspection tables").
//
// sql/ sits below node/ (docs/design/sql.md "Layers and files"), so the session sees
// the cluster only through this interface; node/sql_cluster_info.h implements it
// from the node's own view (its replicas, its peers' status reports, gossip and the
// failure detector). A session without one (tests of the session alone) refuses to
// read those two tables rather than make rows up.
//
// The rows are a view of one node at one moment, not part of the session's
// transaction: two reads in one transaction may differ.
//
// Thread safety: implementations are safe for concurrent use (each session calls
// from its own thread).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace rangedb::sql {

// One range, as the reporting node knows it.
struct RangeInfoRow {
  uint64_t range_id = 0;
  std::string start_key;                        // raw bytes, inclusive
  std::string end_key;                          // raw bytes, exclusive
  std::vector<uint64_t> replica_node_ids;       // the descriptor's replicas, in its order
  std::optional<uint64_t> leaseholder_node_id;  // nullopt: no holder known now
  std::optional<int64_t> size_bytes;            // nullopt: the node does not know
};

// One node, as the reporting node sees it.
struct NodeInfoRow {
  uint64_t node_id = 0;
  std::string address;  // gRPC host:port; "" if unknown
  // "live", "suspect", "dead" or "unknown" (the failure detector's verdict).
  std::string status;
  int64_t ranges = 0;     // replicas on this node, over the range descriptors known
  int64_t leases = 0;     // ranges whose known leaseholder is this node
  bool is_local = false;  // the node that answers (the one the session runs in)
};

class ClusterInfo {
 public:
  virtual ~ClusterInfo() = default;
  // Every range the node knows of, by range id. Errors name what could not be read.
  [[nodiscard]] virtual absl::StatusOr<std::vector<RangeInfoRow>> Ranges() = 0;
  // Every node the node knows of, by node id.
  [[nodiscard]] virtual absl::StatusOr<std::vector<NodeInfoRow>> Nodes() = 0;
};

}  // namespace rangedb::sql
