// SqlClusterInfo: the cluster as a node's SQL sessions see it in rangedb_ranges and
// rangedb_nodes (sql/cluster_info.h, sql/introspection.h).
//
// Each call asks Node::Status(local_only = false), the same view as Admin.NodeStatus
// and `rangedb status`: the nodes this node knows (gossip and its dialer) with the
// failure detector's verdict, and every range, as the leaseholder's replica reports
// it (else the most advanced replica that answered), this node asking each peer not
// dead (2 s deadline each, in parallel). A range none of whose replicas answered is
// missing. size_bytes is the reporting replica's engine estimate of the range's
// bytes (RangeStatus.approximate_size_bytes), NULL if it gave none.
//
// A report is reused for kMaxReportAge: a join that reads these tables once per
// outer row (or many sessions polling them) costs one round of status calls per
// interval, not one per row. Rows may therefore be that much older than the call.
//
// Thread safety: safe for concurrent use (Node::Status is; the cached report is
// guarded by mu_).
#pragma once

#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/node.pb.h"
#include "sql/cluster_info.h"

namespace rangedb {

class Node;

class SqlClusterInfo final : public sql::ClusterInfo {
 public:
  // REQUIRES: node outlives this.
  explicit SqlClusterInfo(Node* node) : node_(node) {}

  absl::StatusOr<std::vector<sql::RangeInfoRow>> Ranges() override;
  absl::StatusOr<std::vector<sql::NodeInfoRow>> Nodes() override;

  // The rows from one status report (exposed for tests).
  static std::vector<sql::RangeInfoRow> RangeRows(const nodepb::NodeStatusResponse& status);
  static std::vector<sql::NodeInfoRow> NodeRows(const nodepb::NodeStatusResponse& status);

 private:
  static constexpr absl::Duration kMaxReportAge = absl::Seconds(1);

  // Node::Status(false), or the last one if younger than kMaxReportAge;
  // Unavailable while the node has no cluster.
  absl::StatusOr<nodepb::NodeStatusResponse> ClusterStatus();

  Node* const node_;
  absl::Mutex mu_;
  std::optional<nodepb::NodeStatusResponse> report_ ABSL_GUARDED_BY(mu_);
  absl::Time report_time_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rangedb
