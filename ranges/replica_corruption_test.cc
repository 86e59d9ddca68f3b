// A corrupt Raft record stops only the replica that holds it (docs/raft-log.md §6,
// docs/replication.md "Corrupt replicas"): the node and its other ranges keep
// serving, and the range stays available from its other replicas.
#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "ranges/store.h"
#include "ranges/testing/test_cluster.h"
#include "storage/keys.h"
#include "storage/mvcc.h"
#include "storage/raft_log_storage.h"

namespace rangedb::ranges {
namespace {

constexpr uint64_t kRangeA = 3;  // [\x04, \x05): gets the corruption
constexpr uint64_t kRangeB = 4;  // [\x05, KeyMax): must keep working everywhere

void FlipLastByte(Engine* engine, ColumnFamily cf, const std::string& key) {
  std::string value;
  absl::StatusOr<bool> found = engine->Get(cf, key, &value);
  ASSERT_TRUE(found.ok() && *found);
  value.back() ^= 0x20;
  std::unique_ptr<WriteBatch> b = engine->NewWriteBatch();
  b->Put(cf, key, value);
  ASSERT_TRUE(b->Commit(/*sync=*/true).ok());
}

void ExpectServes(TestCluster& c, uint64_t range_id, const std::string& key) {
  kvpb::BatchResponse put = c.Send(range_id, PutRequest(key, "v"));
  ASSERT_FALSE(put.has_error()) << "range " << range_id << ": " << put.error().message();
  kvpb::BatchResponse got = c.Send(range_id, GetRequest(key));
  ASSERT_FALSE(got.has_error()) << "range " << range_id << ": " << got.error().message();
  EXPECT_TRUE(got.responses(0).get().found());
}

// Every replica of range_id on a live node applies up to the leaseholder's index.
bool AllCaughtUp(TestCluster& c, uint64_t range_id, const std::vector<uint64_t>& nodes) {
  uint64_t target = 0;
  for (uint64_t id : nodes) target = std::max(target, StatusOn(c, id, range_id).applied_index);
  for (uint64_t id : nodes) {
    if (StatusOn(c, id, range_id).applied_index < target) return false;
  }
  return target > 0;
}

// A byte flips in the newest Raft log entry of range A on its leaseholder, while the
// node runs. The next write makes that replica read the entry (its leader reads the
// term of the entry before the new one): it must stop, alone.
TEST(ReplicaCorruptionTest, CorruptLogEntryStopsOnlyThatReplica) {
  StoreConfig cfg = FastStoreConfig();
  cfg.raft_entry_cache_bytes = 0;  // every log read goes to the engine
  TestCluster c(3, cfg, {"\x05"});
  ExpectServes(c, kRangeA,
               "\x04"
               "a");
  ExpectServes(c, kRangeB,
               "\x05"
               "a");
  const uint64_t victim = c.LeaseholderOf(kRangeA);
  ASSERT_NE(victim, 0u);
  ASSERT_TRUE(WaitFor([&] { return AllCaughtUp(c, kRangeA, {1, 2, 3}); }, absl::Seconds(10)));

  const uint64_t last = StatusOn(c, victim, kRangeA).last_log_index;
  FlipLastByte(c.EngineOf(victim), ColumnFamily::kRaftLog, keys::RaftLogKey(kRangeA, last));

  // Range A stays available: its other replicas elect a leader and serve.
  ExpectServes(c, kRangeA,
               "\x04"
               "b");
  // The victim's replica of range A is out of service...
  std::shared_ptr<Store> store = c.StoreRef(victim);
  ASSERT_NE(store, nullptr) << "the node stopped";
  EXPECT_EQ(store->GetReplica(kRangeA), nullptr);
  auto corrupt = store->CorruptReplicas();
  ASSERT_EQ(corrupt.count(kRangeA), 1u);
  EXPECT_TRUE(absl::IsDataLoss(corrupt.at(kRangeA))) << corrupt.at(kRangeA);
  EXPECT_NE(corrupt.at(kRangeA).message().find("checksum mismatch"), std::string::npos)
      << corrupt.at(kRangeA);
  EXPECT_EQ(store->metrics().replicas_corrupt.load(), 1u);
  // ... and says so to requests addressed to it.
  kvpb::BatchRequest get = GetRequest(
      "\x04"
      "a");
  get.mutable_header()->set_range_id(kRangeA);
  kvpb::BatchResponse refused = store->Send(get, absl::Now() + absl::Seconds(1));
  ASSERT_TRUE(refused.has_error());
  EXPECT_TRUE(refused.error().has_range_not_found()) << refused.error().message();
  EXPECT_NE(refused.error().message().find("corrupt"), std::string::npos);

  // The node's other ranges keep working, with the victim taking part.
  ExpectServes(c, kRangeB,
               "\x05"
               "b");
  EXPECT_TRUE(WaitFor([&] { return AllCaughtUp(c, kRangeB, {1, 2, 3}); }, absl::Seconds(10)));

  // A restart keeps the replica out of service (it does not come back by itself).
  c.StopNode(victim);
  c.StartNode(victim);
  store = c.StoreRef(victim);
  ASSERT_NE(store, nullptr) << "the node did not restart";
  EXPECT_EQ(store->GetReplica(kRangeA), nullptr);
  EXPECT_EQ(store->CorruptReplicas().count(kRangeA), 1u);
  ExpectServes(c, kRangeB,
               "\x05"
               "c");
  ExpectServes(c, kRangeA,
               "\x04"
               "c");
  EXPECT_TRUE(WaitFor([&] { return AllCaughtUp(c, kRangeB, {1, 2, 3}); }, absl::Seconds(10)));
}

// A corrupt Raft state record (here the hard state) is found when the store opens:
// the node must still start, without that replica.
TEST(ReplicaCorruptionTest, CorruptStateRecordDoesNotStopTheNode) {
  TestCluster c(3, FastStoreConfig(), {"\x05"});
  ExpectServes(c, kRangeA,
               "\x04"
               "a");
  ExpectServes(c, kRangeB,
               "\x05"
               "a");
  const uint64_t victim = 2;
  c.StopNode(victim);
  FlipLastByte(c.EngineOf(victim), ColumnFamily::kData, raftlog::HardStateKey(kRangeA));
  c.StartNode(victim);
  std::shared_ptr<Store> store = c.StoreRef(victim);
  ASSERT_NE(store, nullptr) << "the node did not start";
  EXPECT_EQ(store->GetReplica(kRangeA), nullptr);
  ASSERT_EQ(store->CorruptReplicas().count(kRangeA), 1u);
  EXPECT_NE(store->CorruptReplicas().at(kRangeA).message().find("hard state"), std::string::npos);
  ExpectServes(c, kRangeA,
               "\x04"
               "b");
  ExpectServes(c, kRangeB,
               "\x05"
               "b");
  EXPECT_TRUE(WaitFor([&] { return AllCaughtUp(c, kRangeB, {1, 2, 3}); }, absl::Seconds(10)));
}

// Issue 14 review, R2: an I/O error that is not corruption — EIO from a flaky disk or
// cable, a file system that filled up — while a replica reads its Raft log says
// nothing lasting about the replica's data. It must not retire the replica for good
// (only a checksum mismatch or undecodable data does). What CockroachDB and etcd do
// with such an error is stop the process (fatal) and let the supervisor restart it:
// the restarted node reads its log again and every replica comes back.
TEST(ReplicaCorruptionTest, TransientReadErrorDoesNotRetireTheReplica) {
  StoreConfig cfg = FastStoreConfig();
  cfg.raft_entry_cache_bytes = 0;  // every log read goes to the engine
  TestCluster c(3, cfg, {"\x05"});
  ExpectServes(c, kRangeA,
               "\x04"
               "a");
  ExpectServes(c, kRangeB,
               "\x05"
               "a");
  const uint64_t victim = c.LeaseholderOf(kRangeA);
  ASSERT_NE(victim, 0u);
  ASSERT_TRUE(WaitFor([&] { return AllCaughtUp(c, kRangeA, {1, 2, 3}); }, absl::Seconds(10)));

  // One Raft log read fails, as with EIO (RocksDB's IOError is Unavailable here).
  auto failures_left = std::make_shared<std::atomic<int>>(1);
  c.SetEngineReadFault(victim, [failures_left](ColumnFamily cf) {
    if (cf == ColumnFamily::kRaftLog && failures_left->fetch_sub(1) > 0) {
      return absl::UnavailableError("injected: IO error: reading the raft log: EIO");
    }
    return absl::OkStatus();
  });
  // The leaseholder reads its log to replicate the next write.
  ExpectServes(c, kRangeA,
               "\x04"
               "b");
  ASSERT_TRUE(WaitFor([&] { return failures_left->load() <= 0; }, absl::Seconds(10)));
  ExpectServes(c, kRangeA,
               "\x04"
               "c");
  ExpectServes(c, kRangeB,
               "\x05"
               "c");
  std::shared_ptr<Store> store = c.StoreRef(victim);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->CorruptReplicas().empty())
      << "a transient I/O error retired a replica: " << store->CorruptReplicas().begin()->second;
  // The node stopped (a real one aborts), with the error it could not get past.
  EXPECT_TRUE(absl::IsUnavailable(store->Failure())) << store->Failure();
  EXPECT_NE(store->Failure().message().find("EIO"), std::string::npos) << store->Failure();

  // The supervisor restarts the node; the disk works again.
  store.reset();
  c.SetEngineReadFault(victim, {});
  c.StopNode(victim);
  c.StartNode(victim);
  store = c.StoreRef(victim);
  ASSERT_NE(store, nullptr) << "the node did not restart";
  EXPECT_TRUE(store->CorruptReplicas().empty());
  EXPECT_NE(store->GetReplica(kRangeA), nullptr);
  EXPECT_NE(store->GetReplica(kRangeB), nullptr);
  ExpectServes(c, kRangeA,
               "\x04"
               "d");
  ExpectServes(c, kRangeB,
               "\x05"
               "d");
  EXPECT_TRUE(WaitFor([&] { return AllCaughtUp(c, kRangeA, {1, 2, 3}); }, absl::Seconds(10)));
  EXPECT_TRUE(WaitFor([&] { return AllCaughtUp(c, kRangeB, {1, 2, 3}); }, absl::Seconds(10)));
}

// Issue 14 review, R3: a committed command that no replica can apply — here its write
// batch is malformed, as a bug in the proposer's evaluation or encoding could make it —
// fails the same way on every replica, since every replica applies the same bytes
// (entries are checksummed in the log and in transit). It says nothing about any
// replica's storage: retiring the replica that meets it retires all of them, and the
// range is lost. It must be rejected identically everywhere instead — applied as a
// no-op, its proposer told it did not apply — and the range must stay available.
// A command damaged on its way to one follower (a bit flipped on the wire, where only
// TCP's 16-bit checksum covers it, or in the follower's memory before it is logged)
// still parses. Before commands carried their proposer's checksum, that follower
// applied the damaged value while the others applied the real one — silent
// divergence (and a command damaged so that it no longer parsed was skipped there
// alone as "no replica can apply it"). Now that replica stops and the range keeps
// serving, with the right value, from the others.
TEST(ReplicaCorruptionTest, ACommandDamagedInTransitToOneFollowerStopsOnlyThatReplica) {
  TestCluster c(3, FastStoreConfig(), {"\x05"});
  ExpectServes(c, kRangeA,
               "\x04"
               "a");
  const uint64_t lh = c.LeaseholderOf(kRangeA);
  ASSERT_NE(lh, 0u);
  const uint64_t victim = lh == 3 ? 2 : 3;
  c.SetRewriteFilter([victim](rangespb::RaftMessageRequest* m) {
    if (m->to_node_id() != victim || m->range_id() != kRangeA) return;
    for (raftpb::Entry& e : *m->mutable_message()->mutable_entries()) {
      std::string* data = e.mutable_data();
      const size_t at = data->find("value-sent");
      if (at != std::string::npos) (*data)[at] = 'V';  // "Value-sent": same length
    }
  });
  kvpb::BatchResponse r = c.Send(kRangeA, PutRequest("\x04"
                                                     "k",
                                                     "value-sent"));
  ASSERT_FALSE(r.has_error()) << r.error().message();
  std::shared_ptr<Store> victim_store = c.StoreRef(victim);
  ASSERT_NE(victim_store, nullptr);
  EXPECT_TRUE(WaitFor([&] { return victim_store->CorruptReplicas().count(kRangeA) == 1; },
                      absl::Seconds(10)))
      << "node " << victim << " did not stop its replica of a command damaged in transit";
  c.SetRewriteFilter(nullptr);
  // No replica holds the damaged value, and the range serves the real one.
  const std::string key = "\x04k";
  for (uint64_t id = 1; id <= 3; ++id) {
    absl::StatusOr<MVCCGetResult> got = MVCCGet(*c.EngineOf(id), key, Timestamp::Max());
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_NE(got->value, "Value-sent") << "node " << id << " applied the damaged command";
  }
  kvpb::BatchResponse read = c.Send(kRangeA, GetRequest(key));
  ASSERT_FALSE(read.has_error()) << read.error().message();
  EXPECT_EQ(read.responses(0).get().value(), "value-sent");
}

TEST(ReplicaCorruptionTest, CommandNoReplicaCanApplyIsRejectedEverywhere) {
  StoreConfig cfg = FastStoreConfig();
  auto poison = std::make_shared<std::atomic<bool>>(true);
  cfg.testing_before_propose = [poison](uint64_t range_id, rangespb::RaftCommand* command) {
    if (range_id == kRangeA && poison->load() &&
        command->write_batch().find("poison") != std::string::npos) {
      command->set_write_batch("not a write batch");
    }
  };
  TestCluster c(3, cfg, {"\x05"});
  ExpectServes(c, kRangeA,
               "\x04"
               "a");
  kvpb::BatchResponse r = c.Send(kRangeA,
                                 PutRequest("\x04"
                                            "poison",
                                            "v"),
                                 absl::Seconds(3));
  ASSERT_TRUE(r.has_error()) << "a command no replica can apply was acknowledged";
  EXPECT_FALSE(r.error().has_ambiguous()) << r.error().message();
  poison->store(false);

  // The range keeps serving, with all three replicas in service.
  ExpectServes(c, kRangeA,
               "\x04"
               "b");
  for (uint64_t id = 1; id <= 3; ++id) {
    std::shared_ptr<Store> store = c.StoreRef(id);
    ASSERT_NE(store, nullptr);
    EXPECT_TRUE(store->CorruptReplicas().empty())
        << "node " << id << ": " << store->CorruptReplicas().begin()->second;
    EXPECT_NE(store->GetReplica(kRangeA), nullptr) << "node " << id;
  }
  EXPECT_TRUE(WaitFor([&] { return AllCaughtUp(c, kRangeA, {1, 2, 3}); }, absl::Seconds(10)));
  // Nothing of the refused command applied anywhere.
  kvpb::BatchResponse got = c.Send(kRangeA, GetRequest("\x04"
                                                       "poison"));
  ASSERT_FALSE(got.has_error()) << got.error().message();
  EXPECT_FALSE(got.responses(0).get().found());
  const auto [d1, d2] = c.StableDigests(kRangeA, 1, 2, absl::Seconds(10));
  EXPECT_EQ(d1, d2);
  const auto [d1b, d3] = c.StableDigests(kRangeA, 1, 3, absl::Seconds(10));
  EXPECT_EQ(d1b, d3);
}

}  // namespace
}  // namespace rangedb::ranges
