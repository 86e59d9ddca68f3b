// The Store's queues are bounded in bytes, not in messages (docs/replication.md,
// "Bounds"): a flood of large Raft messages for a replica the scheduler has not got to
// yet is dropped past the bound instead of pinning memory.
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "ranges/bootstrap.h"
#include "ranges/store.h"
#include "storage/rocksdb_engine.h"
#include "txn/clock.h"
#include "txn/hlc.h"

namespace rangedb::ranges {
namespace {

constexpr uint64_t kUserRange = 3;

// One node's store, opened but not started: nothing drains the inboxes.
class StoreBoundsTest : public ::testing::Test {
 protected:
  void Open(StoreConfig config, const std::vector<std::string>& split_keys = {}) {
    auto ranges = PlanInitialRanges({1, 2, 3}, split_keys);
    ASSERT_TRUE(ranges.ok()) << ranges.status();
    ranges_ = *ranges;
    auto engine = OpenInMemoryEngine();
    ASSERT_TRUE(engine.ok());
    engine_ = std::move(*engine);
    std::unique_ptr<WriteBatch> batch = engine_->NewWriteBatch();
    ASSERT_TRUE(
        WriteInitialReplicas(engine_.get(), batch.get(), 1, ranges_, 3, Timestamp{1, 0}).ok());
    ASSERT_TRUE(batch->Commit(true).ok());
    clock_ = std::make_unique<HybridLogicalClock>(&physical_, 100'000'000);
    StoreOptions o;
    o.config = config;
    o.config.node_id = 1;
    o.engine = engine_.get();
    o.clock = clock_.get();
    auto store = Store::Open(std::move(o));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  // count MsgApps of payload_bytes each, for range_id, from node 2.
  rangespb::RaftMessageBatch Flood(uint64_t range_id, int count, size_t payload_bytes) {
    rangespb::RaftMessageBatch batch;
    for (int i = 0; i < count; ++i) {
      rangespb::RaftMessageRequest* r = batch.add_requests();
      r->set_range_id(range_id);
      r->set_from_node_id(2);
      r->set_to_node_id(1);
      raftpb::Message* m = r->mutable_message();
      m->set_type(raftpb::MSG_APP);
      m->set_from(2);
      m->set_to(1);
      m->set_term(1);
      m->add_entries()->set_data(std::string(payload_bytes, 'x'));
    }
    return batch;
  }

  SystemClock physical_;
  std::vector<kvpb::RangeDescriptor> ranges_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<HybridLogicalClock> clock_;
  std::unique_ptr<Store> store_;
};

// 200 messages of 1 MiB for one replica: far below any message count bound, far above
// what one replica may hold in memory.
TEST_F(StoreBoundsTest, ReplicaInboxIsBoundedInBytes) {
  Open(StoreConfig{});
  for (int i = 0; i < 10; ++i) store_->HandleRaftBatch(Flood(kUserRange, 20, 1 << 20));
  const StoreMetrics& m = store_->metrics();
  EXPECT_EQ(m.raft_messages_received.load(), 200u);
  EXPECT_GT(m.raft_messages_dropped.load(), 0u) << "all 200 MiB were queued";
  const int64_t held = m.raft_inbox_bytes.load();
  EXPECT_LE(held, static_cast<int64_t>(StoreConfig{}.raft_inbox_max_bytes));
  EXPECT_GT(held, static_cast<int64_t>(StoreConfig{}.raft_inbox_max_bytes) - (2 << 20));
}

// Many replicas, each within its own bound, together hit the store-wide bound.
TEST_F(StoreBoundsTest, AllInboxesTogetherAreBoundedInBytes) {
  StoreConfig config;
  config.raft_inbox_max_bytes = 4 << 20;
  config.store_inbox_max_bytes = 10 << 20;
  Open(config, {"\x05", "\x06", "\x07", "\x08"});  // user ranges 3..7
  for (uint64_t range_id = 3; range_id <= 7; ++range_id) {
    store_->HandleRaftBatch(Flood(range_id, 3, 1 << 20));  // 3 MiB each: within 4 MiB
  }
  const StoreMetrics& m = store_->metrics();
  EXPECT_LE(m.raft_inbox_bytes.load(), 10 << 20);
  EXPECT_GE(m.raft_messages_dropped.load(), 5u);  // 15 MiB offered, at most 9 MiB held
}

// One message of each of Raft's control kinds (elections and leader liveness), for
// range_id, from node 2.
rangespb::RaftMessageBatch ControlMessages(uint64_t range_id) {
  rangespb::RaftMessageBatch batch;
  for (raftpb::MessageType type :
       {raftpb::MSG_HEARTBEAT, raftpb::MSG_HEARTBEAT_RESP, raftpb::MSG_VOTE, raftpb::MSG_VOTE_RESP,
        raftpb::MSG_PRE_VOTE, raftpb::MSG_PRE_VOTE_RESP}) {
    rangespb::RaftMessageRequest* r = batch.add_requests();
    r->set_range_id(range_id);
    r->set_from_node_id(2);
    r->set_to_node_id(1);
    raftpb::Message* m = r->mutable_message();
    m->set_type(type);
    m->set_from(2);
    m->set_to(1);
    m->set_term(2);
  }
  return batch;
}

// Issue 14 review, R4: an inbox full of appends (the replica's own bound, and the
// store's) still takes Raft's small control messages — votes, heartbeats and their
// responses — so a flooded follower can still vote and keep its leader instead of
// starting elections (Raft §5.2: a follower that hears nothing campaigns). They have a
// bound of their own.
TEST_F(StoreBoundsTest, ControlMessagesPassAnInboxFullOfAppends) {
  StoreConfig config;
  config.raft_inbox_max_bytes = 4 << 20;
  config.store_inbox_max_bytes = 4 << 20;
  Open(config);
  store_->HandleRaftBatch(Flood(kUserRange, 6, 1 << 20));
  const StoreMetrics& m = store_->metrics();
  // Then the smallest appends there are, until one does not fit: less room is left
  // than any control message needs (they name their sender, receiver and term).
  for (uint64_t before = m.raft_messages_dropped.load();
       m.raft_messages_dropped.load() == before;) {
    rangespb::RaftMessageBatch tiny;
    rangespb::RaftMessageRequest* r = tiny.add_requests();
    r->set_range_id(kUserRange);
    r->mutable_message()->set_type(raftpb::MSG_APP);
    store_->HandleRaftBatch(tiny);
  }
  const uint64_t dropped = m.raft_messages_dropped.load();
  ASSERT_GT(dropped, 0u) << "the inbox is not full";
  // Full for this replica and for the store: control messages to it and to another
  // replica of the store still get in.
  store_->HandleRaftBatch(ControlMessages(kUserRange));
  store_->HandleRaftBatch(ControlMessages(1));
  EXPECT_EQ(m.raft_messages_dropped.load(), dropped) << "control messages were dropped";
  // Bounded: a flood of control messages is dropped past their own reserve.
  for (int i = 0; i < 10000; ++i) store_->HandleRaftBatch(ControlMessages(kUserRange));
  EXPECT_GT(m.raft_messages_dropped.load(), dropped) << "control messages are unbounded";
}

}  // namespace
}  // namespace rangedb::ranges
