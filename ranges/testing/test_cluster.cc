#include "ranges/testing/test_cluster.h"

#include "gtest/gtest.h"
#include "ranges/bootstrap.h"
#include "storage/rocksdb_engine.h"

namespace rangedb::ranges {

StoreConfig FastStoreConfig() {
  StoreConfig c;
  c.tick_interval = absl::Milliseconds(20);
  return c;
}

kvpb::BatchRequest PutRequest(const std::string& key, const std::string& value) {
  kvpb::BatchRequest req;
  kvpb::PutRequest* p = req.add_requests()->mutable_put();
  p->set_key(key);
  p->set_value(value);
  return req;
}

kvpb::BatchRequest GetRequest(const std::string& key) {
  kvpb::BatchRequest req;
  req.add_requests()->mutable_get()->set_key(key);
  return req;
}

TestCluster::TestCluster(int n, StoreConfig base, std::vector<std::string> split_keys)
    : base_(base) {
  std::vector<uint64_t> ids;
  for (int i = 1; i <= n; ++i) ids.push_back(i);
  auto ranges = PlanInitialRanges(ids, split_keys);
  EXPECT_TRUE(ranges.ok()) << ranges.status();
  if (!ranges.ok()) return;
  ranges_ = *ranges;
  {
    absl::MutexLock lock(&mu_);  // the router thread looks nodes up
    for (uint64_t id : ids) nodes_[id];
  }
  for (uint64_t id : ids) {
    Node& node = nodes_[id];
    auto engine = OpenInMemoryEngine();
    EXPECT_TRUE(engine.ok());
    node.engine = std::move(*engine);
    node.clock = std::make_unique<HybridLogicalClock>(&physical_, kTestMaxOffsetNanos);
    auto batch = node.engine->NewWriteBatch();
    EXPECT_TRUE(
        WriteInitialReplicas(node.engine.get(), batch.get(), id, ranges_, n, Timestamp{1, 0}).ok());
    EXPECT_TRUE(batch->Commit(true).ok());
    StartNode(id);
  }
}

TestCluster::~TestCluster() {
  for (auto& [id, node] : nodes_) StopNode(id);
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  router_.join();
}

void TestCluster::StartNode(uint64_t id) {
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

void TestCluster::StopNode(uint64_t id) {
  std::shared_ptr<Store> store;
  {
    absl::MutexLock lock(&mu_);
    store = std::move(nodes_[id].store);
  }
  if (store != nullptr) store->Stop();
}

kvpb::BatchResponse TestCluster::Send(uint64_t range_id, kvpb::BatchRequest req,
                                      absl::Duration timeout) {
  req.mutable_header()->set_range_id(range_id);
  const absl::Time deadline = absl::Now() + timeout;
  kvpb::BatchResponse resp;
  while (absl::Now() < deadline) {
    for (auto& [id, node] : nodes_) {
      std::shared_ptr<Store> s = StoreRef(id);
      if (s == nullptr) continue;
      resp = s->Send(req, std::min(deadline, absl::Now() + absl::Seconds(2)));
      if (!resp.has_error()) return resp;
      if (resp.error().has_condition_failed()) return resp;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return resp;
}

Store* TestCluster::StoreOf(uint64_t id) {
  absl::MutexLock lock(&mu_);
  return nodes_[id].store.get();
}

std::shared_ptr<Store> TestCluster::StoreRef(uint64_t id) {
  absl::MutexLock lock(&mu_);
  auto it = nodes_.find(id);
  return it == nodes_.end() ? nullptr : it->second.store;
}

uint64_t TestCluster::LeaseholderOf(uint64_t range_id) {
  for (auto& [id, node] : nodes_) {
    std::shared_ptr<Store> s = StoreRef(id);
    if (s == nullptr) continue;
    auto r = s->GetReplica(range_id);
    if (r != nullptr && r->IsLeaseholder()) return id;
  }
  return 0;
}

void TestCluster::SetDropped(uint64_t id, bool dropped) {
  absl::MutexLock lock(&mu_);
  if (dropped) {
    dropped_.insert(id);
  } else {
    dropped_.erase(id);
  }
}

void TestCluster::SetDropFilter(std::function<bool(const rangespb::RaftMessageRequest&)> drop) {
  absl::MutexLock lock(&mu_);
  drop_filter_ = std::move(drop);
}

void TestCluster::Route(uint64_t from, rangespb::RaftMessageRequest m) {
  absl::MutexLock lock(&mu_);
  if (dropped_.count(from) || dropped_.count(m.to_node_id())) return;
  if (drop_filter_ && drop_filter_(m)) return;
  queue_.push_back(std::move(m));
}

void TestCluster::RouterLoop() {
  for (;;) {
    std::vector<rangespb::RaftMessageRequest> work;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (stop_) return;
      work.swap(queue_);
    }
    for (rangespb::RaftMessageRequest& m : work) {
      std::shared_ptr<Store> to = StoreRef(m.to_node_id());
      if (to == nullptr) continue;
      rangespb::RaftMessageBatch b;
      *b.add_requests() = std::move(m);
      to->HandleRaftBatch(b);
    }
  }
}

}  // namespace rangedb::ranges
