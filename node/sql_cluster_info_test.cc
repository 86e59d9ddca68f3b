// SqlClusterInfo (node/sql_cluster_info.h): the rows of rangedb_ranges and
// rangedb_nodes from one status report (the cluster itself is in
// tests/sql_introspection_test.cc).
#include "node/sql_cluster_info.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace rangedb {
namespace {

nodepb::NodeStatusResponse Report() {
  nodepb::NodeStatusResponse status;
  status.set_node_id(2);
  for (uint64_t id : {1, 2, 3}) {
    nodepb::NodeLiveness* l = status.add_nodes();
    l->mutable_node()->set_node_id(id);
    l->mutable_node()->set_address(absl::StrCat("127.0.0.1:", 26256 + id));
    l->set_state(id == 3 ? "dead" : "live");
  }
  // Range 7 on nodes 1, 2, 3, leased to 2; range 8 on 1 and 2, no holder known.
  nodepb::RangeStatus* a = status.add_ranges();
  a->mutable_range_descriptor()->set_range_id(7);
  a->mutable_range_descriptor()->set_start_key("a");
  a->mutable_range_descriptor()->set_end_key("m");
  for (uint64_t id : {1, 2, 3}) a->mutable_range_descriptor()->add_replicas()->set_node_id(id);
  a->set_leaseholder_node_id(2);
  a->set_approximate_size_bytes(123456);
  nodepb::RangeStatus* b = status.add_ranges();
  b->mutable_range_descriptor()->set_range_id(8);
  for (uint64_t id : {2, 1}) b->mutable_range_descriptor()->add_replicas()->set_node_id(id);
  return status;
}

TEST(SqlClusterInfoTest, RangeRowsKeepBoundsReplicasAndTheKnownHolder) {
  const std::vector<sql::RangeInfoRow> rows = SqlClusterInfo::RangeRows(Report());
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].range_id, 7u);
  EXPECT_EQ(rows[0].start_key, "a");
  EXPECT_EQ(rows[0].end_key, "m");
  EXPECT_EQ(rows[0].replica_node_ids, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(rows[0].leaseholder_node_id, 2u);
  EXPECT_EQ(rows[0].size_bytes, 123456);
  EXPECT_FALSE(rows[1].size_bytes.has_value()) << "a report without a size is NULL, not 0";
  EXPECT_EQ(rows[1].replica_node_ids, (std::vector<uint64_t>{2, 1}));
  EXPECT_FALSE(rows[1].leaseholder_node_id.has_value());
}

TEST(SqlClusterInfoTest, NodeRowsCountReplicasAndLeases) {
  const std::vector<sql::NodeInfoRow> rows = SqlClusterInfo::NodeRows(Report());
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].node_id, 1u);
  EXPECT_EQ(rows[0].address, "127.0.0.1:26257");
  EXPECT_EQ(rows[0].status, "live");
  EXPECT_EQ(rows[0].ranges, 2);
  EXPECT_EQ(rows[0].leases, 0);
  EXPECT_FALSE(rows[0].is_local);
  EXPECT_EQ(rows[1].ranges, 2);
  EXPECT_EQ(rows[1].leases, 1);
  EXPECT_TRUE(rows[1].is_local);
  EXPECT_EQ(rows[2].status, "dead");
  EXPECT_EQ(rows[2].ranges, 1);
  EXPECT_EQ(rows[2].leases, 0);
}

}  // namespace
}  // namespace rangedb
