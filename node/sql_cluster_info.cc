#include "node/sql_cluster_info.h"

#include <map>

#include "absl/status/status.h"
#include "node/node.h"

namespace rangedb {

absl::StatusOr<nodepb::NodeStatusResponse> SqlClusterInfo::ClusterStatus() {
  // One caller at a time asks the peers; the others wait for its report.
  absl::MutexLock lock(&mu_);
  const absl::Time now = node_->options().time->Now();
  if (report_.has_value() && now - report_time_ < kMaxReportAge) return *report_;
  nodepb::NodeStatusResponse status = node_->Status(/*local_only=*/false);
  if (status.node_id() == 0 || status.nodes().empty()) {
    return absl::UnavailableError("this node is not serving a cluster yet: no cluster view");
  }
  report_ = status;
  report_time_ = now;
  return status;
}

std::vector<sql::RangeInfoRow> SqlClusterInfo::RangeRows(const nodepb::NodeStatusResponse& status) {
  std::vector<sql::RangeInfoRow> rows;
  rows.reserve(status.ranges_size());
  for (const nodepb::RangeStatus& rs : status.ranges()) {
    const kvpb::RangeDescriptor& d = rs.range_descriptor();
    sql::RangeInfoRow row;
    row.range_id = d.range_id();
    row.start_key = d.start_key();
    row.end_key = d.end_key();
    for (const kvpb::ReplicaDescriptor& r : d.replicas())
      row.replica_node_ids.push_back(r.node_id());
    if (rs.leaseholder_node_id() != 0) row.leaseholder_node_id = rs.leaseholder_node_id();
    if (rs.has_approximate_size_bytes()) {
      row.size_bytes = static_cast<int64_t>(rs.approximate_size_bytes());
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<sql::NodeInfoRow> SqlClusterInfo::NodeRows(const nodepb::NodeStatusResponse& status) {
  std::map<uint64_t, int64_t> replicas;  // by node id
  std::map<uint64_t, int64_t> leases;
  for (const nodepb::RangeStatus& rs : status.ranges()) {
    for (const kvpb::ReplicaDescriptor& r : rs.range_descriptor().replicas()) {
      ++replicas[r.node_id()];
    }
    if (rs.leaseholder_node_id() != 0) ++leases[rs.leaseholder_node_id()];
  }
  std::vector<sql::NodeInfoRow> rows;
  rows.reserve(status.nodes_size());
  for (const nodepb::NodeLiveness& l : status.nodes()) {
    sql::NodeInfoRow row;
    row.node_id = l.node().node_id();
    row.address = l.node().address();
    row.status = l.state();
    row.ranges = replicas[row.node_id];
    row.leases = leases[row.node_id];
    row.is_local = row.node_id == status.node_id();
    rows.push_back(std::move(row));
  }
  return rows;
}

absl::StatusOr<std::vector<sql::RangeInfoRow>> SqlClusterInfo::Ranges() {
  absl::StatusOr<nodepb::NodeStatusResponse> status = ClusterStatus();
  if (!status.ok()) return status.status();
  return RangeRows(*status);
}

absl::StatusOr<std::vector<sql::NodeInfoRow>> SqlClusterInfo::Nodes() {
  absl::StatusOr<nodepb::NodeStatusResponse> status = ClusterStatus();
  if (!status.ok()) return status.status();
  return NodeRows(*status);
}

}  // namespace rangedb
