#include "ranges/testing/test_cluster.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ranges/bootstrap.h"
#include "ranges/engine_state.h"
#include "storage/rocksdb_engine.h"

namespace rangedb::ranges {

StoreConfig FastStoreConfig() {
  StoreConfig c;
  c.tick_interval = absl::Milliseconds(20);
  return c;
}

ReplicatedDigest DigestReplicatedState(Engine* engine, const kvpb::RangeDescriptor& desc) {
  ReplicatedDigest d;
  uint64_t h = 1469598103934665603ull;  // FNV-1a over key, 0, value, 0 ...
  auto mix = [&h](absl::string_view s) {
    for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ull;
    h = (h ^ 0) * 1099511628211ull;
  };
  for (const EngineSpan& span :
       ReplicatedEngineSpans(desc.range_id(), desc.start_key(), desc.end_key())) {
    IterOptions opts;
    opts.lower_bound = span.lower;
    opts.upper_bound = span.upper;
    std::unique_ptr<Iterator> it = engine->NewIterator(opts);
    for (it->Seek(span.lower); it->Valid(); it->Next()) {
      mix(it->key());
      mix(it->value());
      ++d.keys;
      d.bytes += it->key().size() + it->value().size();
    }
    EXPECT_TRUE(it->status().ok()) << it->status();
  }
  d.hash = h;
  return d;
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

TestCluster::TestCluster(int n, StoreConfig base, std::vector<std::string> split_keys,
                         PhysicalClock* physical, std::string data_dir, TimeSource* time)
    : base_(base),
      physical_(physical != nullptr ? physical : &system_clock_),
      time_(time != nullptr ? time : TimeSource::Real()) {
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
  // As `rangedb init` does: the cluster's first data, and its ranges' first
  // idempotency-expiry cutoff, are stamped with the time of its creation.
  const Timestamp bootstrap_ts{std::max<int64_t>(1, physical_->NowNanos()), 0};
  for (uint64_t id : ids) {
    Node& node = nodes_[id];
    EngineOptions engine_options;
    engine_options.in_memory = data_dir.empty();
    engine_options.path = absl::StrCat(data_dir, "/n", id);
    auto engine = OpenEngine(engine_options);
    EXPECT_TRUE(engine.ok());
    node.engine = std::move(*engine);
    node.faults = std::make_unique<FaultEngine>(node.engine.get());
    node.wall = std::make_unique<SteppableClock>(physical_);
    node.clock = std::make_unique<HybridLogicalClock>(node.wall.get(), kTestMaxOffsetNanos);
    auto batch = node.engine->NewWriteBatch();
    EXPECT_TRUE(
        WriteInitialReplicas(node.engine.get(), batch.get(), id, ranges_, n, bootstrap_ts).ok());
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
  o.engine = node.faults.get();
  o.clock = node.clock.get();
  o.time = time_;
  o.send_raft_message = [this, id](rangespb::RaftMessageRequest m) { Route(id, std::move(m)); };
  o.open_snapshot_stream = [this, id](uint64_t to) { return OpenSnapshotStream(id, to); };
  // A real node aborts (its supervisor restarts it); here the test looks at
  // Store::Failure() and restarts it with StopNode / StartNode.
  o.on_fatal_error = [](const absl::Status&) {};
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
  // The stores' deadlines are on the cluster's time source; the polling between
  // rounds waits for their threads, in real time (bounded by timeout either way).
  TimeSource* real = TimeSource::Real();
  const absl::Time give_up = real->Now() + timeout;
  const absl::Time deadline = time_->Now() + timeout;
  kvpb::BatchResponse resp;
  while (real->Now() < give_up) {
    for (auto& [id, node] : nodes_) {
      std::shared_ptr<Store> s = StoreRef(id);
      if (s == nullptr) continue;
      resp = s->Send(req, std::min(deadline, time_->Now() + absl::Seconds(2)));
      if (!resp.has_error()) return resp;
      if (resp.error().has_condition_failed()) return resp;
    }
    real->SleepFor(absl::Milliseconds(20));
  }
  return resp;
}

void TestCluster::StepWallClock(uint64_t id, absl::Duration delta) {
  nodes_.at(id).wall->Step(absl::ToInt64Nanoseconds(delta));
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

std::pair<ReplicatedDigest, ReplicatedDigest> TestCluster::StableDigests(uint64_t range_id,
                                                                         uint64_t a, uint64_t b,
                                                                         absl::Duration timeout) {
  auto applied = [&](uint64_t id) -> uint64_t {
    std::shared_ptr<Store> s = StoreRef(id);
    std::shared_ptr<Replica> r = s == nullptr ? nullptr : s->GetReplica(range_id);
    return r == nullptr ? 0 : r->Status().applied_index;
  };
  auto descriptor = [&](uint64_t id) {
    std::shared_ptr<Store> s = StoreRef(id);
    std::shared_ptr<Replica> r = s == nullptr ? nullptr : s->GetReplica(range_id);
    return r == nullptr ? kvpb::RangeDescriptor() : r->Descriptor();
  };
  TimeSource* real = TimeSource::Real();  // polls the stores' threads
  const absl::Time deadline = real->Now() + timeout;
  std::pair<ReplicatedDigest, ReplicatedDigest> last;
  for (;;) {
    const uint64_t before = applied(a);
    if (before != 0 && before == applied(b)) {
      const kvpb::RangeDescriptor desc = descriptor(a);
      last = {DigestReplicatedState(EngineOf(a), desc), DigestReplicatedState(EngineOf(b), desc)};
      if (applied(a) == before && applied(b) == before) return last;
    }
    if (real->Now() >= deadline) return last;
    real->SleepFor(absl::Milliseconds(20));
  }
}

void TestCluster::SetDropFilter(std::function<bool(const rangespb::RaftMessageRequest&)> drop) {
  absl::MutexLock lock(&mu_);
  drop_filter_ = std::move(drop);
}

void TestCluster::SetRewriteFilter(std::function<void(rangespb::RaftMessageRequest*)> rewrite) {
  absl::MutexLock lock(&mu_);
  rewrite_filter_ = std::move(rewrite);
}

// A snapshot stream delivered by direct calls into the receiving store, on the
// sender's thread (flow control is the receiver's own pace).
class TestCluster::SnapshotStreamImpl final : public SnapshotStream {
 public:
  SnapshotStreamImpl(TestCluster* cluster, uint64_t from, uint64_t to)
      : cluster_(cluster), from_(from), to_(to) {}

  absl::Status Send(const rangespb::SnapshotChunk& chunk) override {
    if (cancelled_.load()) return absl::CancelledError("snapshot stream cancelled");
    if (absl::Status s = cluster_->SnapshotChunkAllowed(from_, to_, chunks_++); !s.ok()) return s;
    if (sink_ == nullptr) {
      if (!chunk.has_header()) return absl::InvalidArgumentError("no header");
      receiver_ = cluster_->StoreRef(to_);
      if (receiver_ == nullptr) return absl::UnavailableError("node down");
      absl::StatusOr<std::unique_ptr<SnapshotSink>> sink = receiver_->BeginSnapshot(chunk.header());
      if (!sink.ok()) return sink.status();
      sink_ = *std::move(sink);
      return absl::OkStatus();
    }
    return sink_->Add(chunk);
  }
  absl::Status Finish() override {
    if (cancelled_.load()) return absl::CancelledError("snapshot stream cancelled");
    if (sink_ == nullptr) return absl::FailedPreconditionError("no header sent");
    return sink_->Finish();
  }
  void Cancel() override { cancelled_ = true; }

 private:
  TestCluster* const cluster_;
  const uint64_t from_;
  const uint64_t to_;
  int chunks_ = 0;
  std::atomic<bool> cancelled_{false};
  std::shared_ptr<Store> receiver_;
  std::unique_ptr<SnapshotSink> sink_;
};

absl::StatusOr<std::unique_ptr<SnapshotStream>> TestCluster::OpenSnapshotStream(uint64_t from,
                                                                                uint64_t to) {
  return std::unique_ptr<SnapshotStream>(std::make_unique<SnapshotStreamImpl>(this, from, to));
}

absl::Status TestCluster::SnapshotChunkAllowed(uint64_t from, uint64_t to, int chunk) {
  std::function<absl::Status(uint64_t, uint64_t, int)> fault;
  {
    absl::MutexLock lock(&mu_);
    if (dropped_.count(from) || dropped_.count(to)) {
      return absl::UnavailableError("node partitioned away");
    }
    fault = snapshot_fault_;
  }
  return fault ? fault(from, to, chunk) : absl::OkStatus();
}

void TestCluster::SetSnapshotFault(
    std::function<absl::Status(uint64_t from, uint64_t to, int chunk)> fault) {
  absl::MutexLock lock(&mu_);
  snapshot_fault_ = std::move(fault);
}

void TestCluster::Route(uint64_t from, rangespb::RaftMessageRequest m) {
  absl::MutexLock lock(&mu_);
  if (dropped_.count(from) || dropped_.count(m.to_node_id())) return;
  if (drop_filter_ && drop_filter_(m)) return;
  if (rewrite_filter_) rewrite_filter_(&m);
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

bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout) {
  TimeSource* real = TimeSource::Real();  // waits for threads to act, not for time to pass
  const absl::Time deadline = real->Now() + timeout;
  while (!condition()) {
    if (real->Now() >= deadline) return false;
    real->SleepFor(absl::Milliseconds(10));
  }
  return true;
}

ReplicaStatus StatusOn(TestCluster& c, uint64_t node_id, uint64_t range_id) {
  std::shared_ptr<Store> s = c.StoreRef(node_id);
  if (s == nullptr) return {};
  std::shared_ptr<Replica> r = s->GetReplica(range_id);
  return r == nullptr ? ReplicaStatus{} : r->Status();
}

}  // namespace rangedb::ranges
