// Stores of three nodes in one process, wired by a direct in-memory message router:
// replication, leases, failover, log truncation and snapshot catch-up.
#include "ranges/store.h"

#include <map>
#include <thread>

#include "gtest/gtest.h"
#include "ranges/bootstrap.h"
#include "storage/rocksdb_engine.h"
#include "txn/clock.h"

namespace rangedb::ranges {
namespace {

constexpr uint64_t kUserRange = 3;  // [\x04, KeyMax)

class TestCluster {
 public:
  explicit TestCluster(int n, StoreConfig base = {}) : base_(base) {
    std::vector<uint64_t> ids;
    for (int i = 1; i <= n; ++i) ids.push_back(i);
    auto ranges = PlanInitialRanges(ids, {});
    EXPECT_TRUE(ranges.ok());
    for (uint64_t id : ids) {
      Node& node = nodes_[id];
      auto engine = OpenInMemoryEngine();
      EXPECT_TRUE(engine.ok());
      node.engine = std::move(*engine);
      node.clock = std::make_unique<HybridLogicalClock>(&physical_, 500'000'000);
      auto batch = node.engine->NewWriteBatch();
      EXPECT_TRUE(
          WriteInitialReplicas(node.engine.get(), batch.get(), id, *ranges, n, Timestamp{1, 0})
              .ok());
      EXPECT_TRUE(batch->Commit(true).ok());
      StartNode(id);
    }
  }
  ~TestCluster() {
    for (auto& [id, node] : nodes_) StopNode(id);
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    router_.join();
  }

  void StartNode(uint64_t id) {
    Node& node = nodes_[id];
    StoreOptions o;
    o.config = base_;
    o.config.node_id = id;
    o.engine = node.engine.get();
    o.clock = node.clock.get();
    o.send_raft_message = [this, id](rangespb::RaftMessageRequest m) { Route(id, std::move(m)); };
    auto store = Store::Open(std::move(o));
    ASSERT_TRUE(store.ok()) << store.status();
    {
      absl::MutexLock lock(&mu_);
      node.store = std::move(*store);
      node.store->Start();
    }
  }
  void StopNode(uint64_t id) {
    std::shared_ptr<Store> store;
    {
      absl::MutexLock lock(&mu_);
      store = std::move(nodes_[id].store);
    }
    if (store != nullptr) store->Stop();
  }

  // Sends to whichever node holds the lease of range_id, following hints.
  kvpb::BatchResponse Send(uint64_t range_id, kvpb::BatchRequest req,
                           absl::Duration timeout = absl::Seconds(10)) {
    req.mutable_header()->set_range_id(range_id);
    const absl::Time deadline = absl::Now() + timeout;
    kvpb::BatchResponse resp;
    while (absl::Now() < deadline) {
      for (auto& [id, node] : nodes_) {
        Store* s = StoreOf(id);
        if (s == nullptr) continue;
        resp = s->Send(req, std::min(deadline, absl::Now() + absl::Seconds(2)));
        if (!resp.has_error()) return resp;
        if (resp.error().has_condition_failed()) return resp;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    return resp;
  }

  // Stores are only destroyed by StopNode, which tests call between sends.
  Store* StoreOf(uint64_t id) {
    absl::MutexLock lock(&mu_);
    return nodes_[id].store.get();
  }
  uint64_t LeaseholderOf(uint64_t range_id) {
    for (auto& [id, node] : nodes_) {
      Store* s = StoreOf(id);
      if (s == nullptr) continue;
      auto r = s->GetReplica(range_id);
      if (r != nullptr && r->IsLeaseholder()) return id;
    }
    return 0;
  }
  void SetDropped(uint64_t id, bool dropped) {
    absl::MutexLock lock(&mu_);
    if (dropped) {
      dropped_.insert(id);
    } else {
      dropped_.erase(id);
    }
  }

 private:
  struct Node {
    std::unique_ptr<Engine> engine;
    std::unique_ptr<HybridLogicalClock> clock;
    std::shared_ptr<Store> store;
  };
  // Called with the sender's replica lock held, like the real transport: queue the
  // message and deliver it from the router thread.
  void Route(uint64_t from, rangespb::RaftMessageRequest m) {
    absl::MutexLock lock(&mu_);
    if (dropped_.count(from) || dropped_.count(m.to_node_id())) return;
    queue_.push_back(std::move(m));
  }
  void RouterLoop() {
    for (;;) {
      std::vector<rangespb::RaftMessageRequest> work;
      {
        absl::MutexLock lock(&mu_);
        auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return stop_ || !queue_.empty();
        };
        mu_.Await(absl::Condition(&ready));
        if (stop_) return;
        work.swap(queue_);
      }
      for (rangespb::RaftMessageRequest& m : work) {
        std::shared_ptr<Store> to;
        {
          absl::MutexLock lock(&mu_);
          to = nodes_[m.to_node_id()].store;
        }
        if (to == nullptr) continue;
        rangespb::RaftMessageBatch b;
        *b.add_requests() = std::move(m);
        to->HandleRaftBatch(b);
      }
    }
  }

  StoreConfig base_;
  SystemClock physical_;
  absl::Mutex mu_;
  std::map<uint64_t, Node> nodes_;
  std::set<uint64_t> dropped_ ABSL_GUARDED_BY(mu_);
  std::vector<rangespb::RaftMessageRequest> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread router_{[this] { RouterLoop(); }};
};

kvpb::BatchRequest Put(const std::string& k, const std::string& v) {
  kvpb::BatchRequest req;
  auto* p = req.add_requests()->mutable_put();
  p->set_key(k);
  p->set_value(v);
  return req;
}
kvpb::BatchRequest Get(const std::string& k) {
  kvpb::BatchRequest req;
  req.add_requests()->mutable_get()->set_key(k);
  return req;
}

StoreConfig FastConfig() {
  StoreConfig c;
  c.tick_interval = absl::Milliseconds(20);
  return c;
}

TEST(StoreTest, ReplicatesWritesAndServesReadsFromTheLeaseholder) {
  TestCluster c(3, FastConfig());
  kvpb::BatchResponse put = c.Send(kUserRange, Put("\x04k", "v1"));
  ASSERT_FALSE(put.has_error()) << put.error().message();
  kvpb::BatchResponse got = c.Send(kUserRange, Get("\x04k"));
  ASSERT_FALSE(got.has_error()) << got.error().message();
  EXPECT_TRUE(got.responses(0).get().found());
  EXPECT_EQ(got.responses(0).get().value(), "v1");
  // A non-leaseholder answers NotLeaseholder with a hint.
  const uint64_t lh = c.LeaseholderOf(kUserRange);
  ASSERT_NE(lh, 0u);
  const uint64_t other = lh == 1 ? 2 : 1;
  kvpb::BatchRequest req = Get("\x04k");
  req.mutable_header()->set_range_id(kUserRange);
  kvpb::BatchResponse resp = c.StoreOf(other)->Send(req, absl::Now() + absl::Seconds(1));
  ASSERT_TRUE(resp.has_error());
  ASSERT_TRUE(resp.error().has_not_leaseholder());
  EXPECT_EQ(resp.error().not_leaseholder().leaseholder().node_id(), lh);
}

TEST(StoreTest, KeysOutsideTheRangeAreAMismatch) {
  TestCluster c(3, FastConfig());
  kvpb::BatchRequest req = Get("\x03system");
  req.mutable_header()->set_range_id(kUserRange);
  kvpb::BatchResponse resp = c.StoreOf(1)->Send(req, absl::Now() + absl::Seconds(1));
  ASSERT_TRUE(resp.has_error());
  EXPECT_TRUE(resp.error().has_range_key_mismatch());
}

TEST(StoreTest, IdempotentWriteAppliesOnce) {
  TestCluster c(3, FastConfig());
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

TEST(StoreTest, NewLeaseholderTakesOverWhenTheOldOneStops) {
  TestCluster c(3, FastConfig());
  ASSERT_FALSE(c.Send(kUserRange, Put("\x04k", "before")).has_error());
  const uint64_t lh = c.LeaseholderOf(kUserRange);
  ASSERT_NE(lh, 0u);
  c.StopNode(lh);
  kvpb::BatchResponse put = c.Send(kUserRange, Put("\x04k", "after"));
  ASSERT_FALSE(put.has_error()) << put.error().message();
  kvpb::BatchResponse got = c.Send(kUserRange, Get("\x04k"));
  ASSERT_FALSE(got.has_error());
  EXPECT_EQ(got.responses(0).get().value(), "after");
  const uint64_t lh2 = c.LeaseholderOf(kUserRange);
  EXPECT_NE(lh2, 0u);
  EXPECT_NE(lh2, lh);
}

TEST(StoreTest, LaggingReplicaCatchesUpFromASnapshotAfterTruncation) {
  StoreConfig cfg = FastConfig();
  cfg.raft_log_truncate_threshold_entries = 20;
  TestCluster c(3, cfg);
  ASSERT_FALSE(c.Send(kUserRange, Put("\x04k0", "v")).has_error());
  const uint64_t lh = c.LeaseholderOf(kUserRange);
  const uint64_t lagger = lh == 3 ? 2 : 3;
  c.SetDropped(lagger, true);
  for (int i = 1; i < 200; ++i) {
    kvpb::BatchResponse r = c.Send(kUserRange, Put("\x04k" + std::to_string(i), "v"));
    ASSERT_FALSE(r.has_error()) << r.error().message();
  }
  // Wait for the leader to truncate past what the lagger has.
  auto leader_first_index = [&] {
    return c.StoreOf(c.LeaseholderOf(kUserRange))->GetReplica(kUserRange)->Status().first_log_index;
  };
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (leader_first_index() < 150 && absl::Now() < deadline) {
    ASSERT_FALSE(c.Send(kUserRange, Put("\x04pad", "v")).has_error());
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
  kvpb::BatchResponse got = c.Send(kUserRange, Get("\x04k150"));
  ASSERT_FALSE(got.has_error()) << got.error().message();
  EXPECT_TRUE(got.responses(0).get().found());
}

TEST(StoreTest, RestartedStoreKeepsItsData) {
  TestCluster c(3, FastConfig());
  ASSERT_FALSE(c.Send(kUserRange, Put("\x04durable", "yes")).has_error());
  for (uint64_t id = 1; id <= 3; ++id) c.StopNode(id);
  for (uint64_t id = 1; id <= 3; ++id) c.StartNode(id);
  kvpb::BatchResponse got = c.Send(kUserRange, Get("\x04durable"));
  ASSERT_FALSE(got.has_error()) << got.error().message();
  EXPECT_EQ(got.responses(0).get().value(), "yes");
}

}  // namespace
}  // namespace rangedb::ranges
