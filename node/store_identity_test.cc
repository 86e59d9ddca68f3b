// The identity rules that keep a replica's Raft state created once, in one store
// (issue 14, finding 1; docs/design/node-identity.md).
#include "node/store_identity.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ranges/bootstrap.h"
#include "storage/rocksdb_engine.h"

namespace rangedb {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<Engine> MemEngine() {
  EngineOptions o;
  o.in_memory = true;
  absl::StatusOr<std::unique_ptr<Engine>> e = OpenEngine(o);
  EXPECT_TRUE(e.ok()) << e.status();
  return std::move(*e);
}

// A plan of three nodes at a, b, c bound to stores s1, s2, s3.
nodepb::BootstrapRequest Plan() {
  nodepb::BootstrapRequest plan;
  plan.set_cluster_id("c1");
  const char* addresses[] = {"a:1", "b:1", "c:1"};
  const char* stores[] = {"s1", "s2", "s3"};
  for (int i = 0; i < 3; ++i) {
    nodepb::NodeDescriptor* n = plan.add_nodes();
    n->set_node_id(i + 1);
    n->set_address(addresses[i]);
    n->set_store_id(stores[i]);
  }
  absl::StatusOr<std::vector<kvpb::RangeDescriptor>> ranges =
      ranges::PlanInitialRanges({1, 2, 3}, {"\x04m"});
  EXPECT_TRUE(ranges.ok());
  for (const auto& d : *ranges) *plan.add_ranges() = d;
  return plan;
}

TEST(StoreIdentityTest, StoreIdIsCreatedOnceAndKept) {
  std::unique_ptr<Engine> engine = MemEngine();
  absl::StatusOr<std::string> first = LoadOrCreateStoreId(engine.get());
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->size(), 32u);
  EXPECT_EQ(*LoadOrCreateStoreId(engine.get()), *first);
  // Another (wiped) store gets another id.
  std::unique_ptr<Engine> wiped = MemEngine();
  EXPECT_NE(*LoadOrCreateStoreId(wiped.get()), *first);
}

TEST(StoreIdentityTest, OnlyTheBoundStoreMayTakeAPlannedIdentity) {
  nodepb::BootstrapRequest req = Plan();
  req.set_node_id(3);
  EXPECT_TRUE(CheckBootstrapFor(req, "s3").ok());
  absl::Status other = CheckBootstrapFor(req, "s9");
  EXPECT_EQ(other.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(other.message(), HasSubstr("this store is s9"));
  // A plan without store ids binds nothing: nobody may take its identities.
  req.mutable_nodes(2)->clear_store_id();
  EXPECT_FALSE(CheckBootstrapFor(req, "").ok());
  // A new node (not a member) with no replicas is fine; one with replicas is not.
  req = Plan();
  req.set_node_id(4);
  EXPECT_TRUE(CheckBootstrapFor(req, "s9").ok());
  req.mutable_ranges(0)->mutable_replicas(0)->set_node_id(4);
  EXPECT_FALSE(CheckBootstrapFor(req, "s9").ok());
}

TEST(StoreIdentityTest, JoinHandsAPlannedIdentityOnlyToItsStore) {
  const nodepb::BootstrapRequest plan = Plan();
  uint64_t replaced = 0;
  EXPECT_EQ(PlanIdentityFor(plan, "c:1", "s3", &replaced), std::optional<uint64_t>(3));
  EXPECT_EQ(replaced, 0u);
  // The same address with a wiped store: a new node, and node 3 was replaced.
  EXPECT_EQ(PlanIdentityFor(plan, "c:1", "s-new", &replaced), std::nullopt);
  EXPECT_EQ(replaced, 3u);
  // A store that does not say which it is gets nothing.
  EXPECT_EQ(PlanIdentityFor(plan, "c:1", "", &replaced), std::nullopt);
  // An unknown address: a new node, nothing replaced.
  EXPECT_EQ(PlanIdentityFor(plan, "d:1", "s3", &replaced), std::nullopt);
  EXPECT_EQ(replaced, 0u);
}

TEST(StoreIdentityTest, PlanSplitKeysAreTheUserSplits) {
  EXPECT_THAT(PlanSplitKeys(Plan()), ::testing::ElementsAre("\x04m"));
}

// Nothing recreates Raft state for a replica a store already holds.
TEST(StoreIdentityTest, InitialReplicasAreNeverWrittenTwice) {
  std::unique_ptr<Engine> engine = MemEngine();
  const nodepb::BootstrapRequest plan = Plan();
  std::vector<kvpb::RangeDescriptor> ranges(plan.ranges().begin(), plan.ranges().end());
  std::unique_ptr<WriteBatch> batch = engine->NewWriteBatch();
  ASSERT_TRUE(ranges::WriteInitialReplicas(engine.get(), batch.get(), 1, ranges, 3, {100, 0}).ok());
  ASSERT_TRUE(batch->Commit(/*sync=*/true).ok());
  std::unique_ptr<WriteBatch> again = engine->NewWriteBatch();
  absl::Status s = ranges::WriteInitialReplicas(engine.get(), again.get(), 1, ranges, 3, {200, 0});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("already holds a replica of range 1"));
}

}  // namespace
}  // namespace rangedb
