// Stores of three nodes in one process, wired by a direct in-memory message router:
// replication, leases, failover, log truncation and snapshot catch-up.
#include "ranges/store.h"

#include <map>
#include <thread>

#include "gtest/gtest.h"
#include "ranges/bootstrap.h"
#include "ranges/testing/test_cluster.h"
#include "storage/keys.h"
#include "storage/mvcc_key.h"
#include "storage/rocksdb_engine.h"
#include "txn/clock.h"

namespace rangedb::ranges {
namespace {

constexpr uint64_t kUserRange = 3;  // [\x04, KeyMax)

TEST(StoreTest, ReplicatesWritesAndServesReadsFromTheLeaseholder) {
  TestCluster c(3, FastStoreConfig());
  kvpb::BatchResponse put = c.Send(kUserRange, PutRequest("\x04k", "v1"));
  ASSERT_FALSE(put.has_error()) << put.error().message();
  kvpb::BatchResponse got = c.Send(kUserRange, GetRequest("\x04k"));
  ASSERT_FALSE(got.has_error()) << got.error().message();
  EXPECT_TRUE(got.responses(0).get().found());
  EXPECT_EQ(got.responses(0).get().value(), "v1");
  // A non-leaseholder answers NotLeaseholder with a hint.
  const uint64_t lh = c.LeaseholderOf(kUserRange);
  ASSERT_NE(lh, 0u);
  const uint64_t other = lh == 1 ? 2 : 1;
  kvpb::BatchRequest req = GetRequest("\x04k");
  req.mutable_header()->set_range_id(kUserRange);
  kvpb::BatchResponse resp = c.StoreOf(other)->Send(req, absl::Now() + absl::Seconds(1));
  ASSERT_TRUE(resp.has_error());
  ASSERT_TRUE(resp.error().has_not_leaseholder());
  EXPECT_EQ(resp.error().not_leaseholder().leaseholder().node_id(), lh);
}

TEST(StoreTest, KeysOutsideTheRangeAreAMismatch) {
  TestCluster c(3, FastStoreConfig());
  kvpb::BatchRequest req = GetRequest("\x03system");
  req.mutable_header()->set_range_id(kUserRange);
  kvpb::BatchResponse resp = c.StoreOf(1)->Send(req, absl::Now() + absl::Seconds(1));
  ASSERT_TRUE(resp.has_error());
  EXPECT_TRUE(resp.error().has_range_key_mismatch());
}

TEST(StoreTest, IdempotentWriteAppliesOnce) {
  TestCluster c(3, FastStoreConfig());
  kvpb::BatchRequest inc;
  auto* i = inc.add_requests()->mutable_increment();
  i->set_key("\x04n");
  i->set_delta(5);
  inc.mutable_header()->mutable_idempotency_key()->set_client_id("client-0123456789");
  inc.mutable_header()->mutable_idempotency_key()->set_sequence(1);
  kvpb::BatchResponse first = c.Send(kUserRange, inc);
  ASSERT_FALSE(first.has_error()) << first.error().message();
  kvpb::BatchResponse again = c.Send(kUserRange, inc);  // a retry of the same write
  ASSERT_FALSE(again.has_error()) << again.error().message();
  EXPECT_EQ(again.responses(0).increment().new_value(), 5);
  inc.mutable_header()->mutable_idempotency_key()->set_sequence(2);  // a new write
  kvpb::BatchResponse second = c.Send(kUserRange, inc);
  ASSERT_FALSE(second.has_error());
  EXPECT_EQ(second.responses(0).increment().new_value(), 10);
}

TEST(StoreTest, ExpiredIdempotencyRecordsAreDeleted) {
  StoreConfig cfg = FastStoreConfig();
  cfg.idempotency_record_ttl = absl::Milliseconds(100);
  TestCluster c(3, cfg);
  kvpb::BatchRequest put = PutRequest("\x04k", "v");
  put.mutable_header()->mutable_idempotency_key()->set_client_id("client-0123456789");
  put.mutable_header()->mutable_idempotency_key()->set_sequence(7);
  ASSERT_FALSE(c.Send(kUserRange, put).has_error());
  const std::string key =
      MVCCKeyPrefix(keys::IdempotencyRecordKey(kUserRange, "client-0123456789", 7));
  std::string value;
  // The record is replicated: every store holds it until the expiry deletes it.
  auto present_anywhere = [&] {
    bool any = false;
    for (uint64_t id = 1; id <= 3; ++id) {
      any = *c.StoreOf(id)->engine()->Get(ColumnFamily::kData, key, &value) || any;
    }
    return any;
  };
  ASSERT_TRUE(present_anywhere());
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  bool present = true;
  while (present && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(100));
    // A quiescent range does no housekeeping: a read wakes it.
    (void)c.Send(kUserRange, GetRequest("\x04k"));
    present = present_anywhere();
  }
  EXPECT_FALSE(present);
}

TEST(StoreTest, NewLeaseholderTakesOverWhenTheOldOneStops) {
  TestCluster c(3, FastStoreConfig());
  ASSERT_FALSE(c.Send(kUserRange, PutRequest("\x04k", "before")).has_error());
  const uint64_t lh = c.LeaseholderOf(kUserRange);
  ASSERT_NE(lh, 0u);
  c.StopNode(lh);
  kvpb::BatchResponse put = c.Send(kUserRange, PutRequest("\x04k", "after"));
  ASSERT_FALSE(put.has_error()) << put.error().message();
  kvpb::BatchResponse got = c.Send(kUserRange, GetRequest("\x04k"));
  ASSERT_FALSE(got.has_error());
  EXPECT_EQ(got.responses(0).get().value(), "after");
  const uint64_t lh2 = c.LeaseholderOf(kUserRange);
  EXPECT_NE(lh2, 0u);
  EXPECT_NE(lh2, lh);
}

TEST(StoreTest, LaggingReplicaCatchesUpFromASnapshotAfterTruncation) {
  StoreConfig cfg = FastStoreConfig();
  cfg.raft_log_truncate_threshold_entries = 20;
  TestCluster c(3, cfg);
  ASSERT_FALSE(c.Send(kUserRange, PutRequest("\x04k0", "v")).has_error());
  const uint64_t lh = c.LeaseholderOf(kUserRange);
  const uint64_t lagger = lh == 3 ? 2 : 3;
  c.SetDropped(lagger, true);
  for (int i = 1; i < 200; ++i) {
    kvpb::BatchResponse r = c.Send(kUserRange, PutRequest("\x04k" + std::to_string(i), "v"));
    ASSERT_FALSE(r.has_error()) << r.error().message();
  }
  // Wait for the leader to truncate past what the lagger has.
  auto leader_first_index = [&] {
    return c.StoreOf(c.LeaseholderOf(kUserRange))->GetReplica(kUserRange)->Status().first_log_index;
  };
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (leader_first_index() < 150 && absl::Now() < deadline) {
    ASSERT_FALSE(c.Send(kUserRange, PutRequest("\x04pad", "v")).has_error());
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_GE(leader_first_index(), 150u);
  c.SetDropped(lagger, false);
  std::shared_ptr<Replica> r = c.StoreOf(lagger)->GetReplica(kUserRange);
  const uint64_t target =
      c.StoreOf(c.LeaseholderOf(kUserRange))->GetReplica(kUserRange)->Status().applied_index;
  while (r->Status().applied_index < target && absl::Now() < deadline + absl::Seconds(10)) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_GE(r->Status().applied_index, target);
  // The lagger's data now holds every key: make it leaseholder by stopping the others.
  for (uint64_t id = 1; id <= 3; ++id) {
    if (id != lagger && id != lh) c.StopNode(id);
  }
  kvpb::BatchResponse got = c.Send(kUserRange, GetRequest("\x04k150"));
  ASSERT_FALSE(got.has_error()) << got.error().message();
  EXPECT_TRUE(got.responses(0).get().found());
}

TEST(StoreTest, IdleRangesQuiesceAndWakeOnDemand) {
  std::vector<std::string> splits;
  for (int i = 0; i < 100; ++i) splits.push_back("\x04" + std::to_string(1000 + i));
  StoreConfig cfg;  // default 100 ms ticks: 300 replicas on one machine
  TestCluster c(3, cfg, splits);
  auto quiescent = [&] {
    int n = 0;
    for (uint64_t id = 1; id <= 3; ++id) {
      for (const auto& r : c.StoreOf(id)->Replicas()) n += r->Status().quiescent ? 1 : 0;
    }
    return n;
  };
  const int replicas = 3 * static_cast<int>(c.initial_ranges().size());
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (quiescent() < replicas && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(quiescent(), replicas);
  // Quiescent ranges still serve: the request wakes the range and renews the lease.
  const uint64_t last_range = c.initial_ranges().back().range_id();
  kvpb::BatchResponse put = c.Send(last_range, PutRequest("\x04zzz", "v"));
  ASSERT_FALSE(put.has_error()) << put.error().message();
  kvpb::BatchResponse got = c.Send(last_range, GetRequest("\x04zzz"));
  ASSERT_FALSE(got.has_error()) << got.error().message();
  EXPECT_EQ(got.responses(0).get().value(), "v");
}

TEST(StoreTest, RestartedStoreKeepsItsData) {
  TestCluster c(3, FastStoreConfig());
  ASSERT_FALSE(c.Send(kUserRange, PutRequest("\x04durable", "yes")).has_error());
  for (uint64_t id = 1; id <= 3; ++id) c.StopNode(id);
  for (uint64_t id = 1; id <= 3; ++id) c.StartNode(id);
  kvpb::BatchResponse got = c.Send(kUserRange, GetRequest("\x04durable"));
  ASSERT_FALSE(got.has_error()) << got.error().message();
  EXPECT_EQ(got.responses(0).get().value(), "yes");
}

}  // namespace
}  // namespace rangedb::ranges
