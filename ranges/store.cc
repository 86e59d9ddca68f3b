#include "ranges/store.h"

#include <pthread.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "ranges/evaluate.h"
#include "spdlog/spdlog.h"
#include "storage/keys.h"
#include "storage/lock_table.h"
#include "storage/mvcc_key.h"

namespace rangedb::ranges {

Store::Store(StoreOptions options)
    : options_(std::move(options)),
      time_(options_.time),
      voting_allowed_after_(time_->Now() + options_.config.ElectionTimeout()) {
  RANGEDB_CHECK(time_ != nullptr) << "StoreOptions::time is required";
}

Store::~Store() { Stop(); }

absl::StatusOr<std::unique_ptr<Store>> Store::Open(StoreOptions options) {
  std::unique_ptr<Store> store(new Store(std::move(options)));
  // Snapshot files a crash left staged will never be installed.
  if (absl::Status s = store->engine()->ClearStaging(); !s.ok()) return s;
  IterOptions opts;
  opts.lower_bound = MVCCKeyPrefix(keys::ReplicaIndexStart());
  opts.upper_bound = MVCCKeyPrefix(keys::ReplicaIndexEnd());
  std::unique_ptr<Iterator> it = store->engine()->NewIterator(opts);
  std::vector<uint64_t> ids;
  for (it->Seek(opts.lower_bound); it->Valid(); it->Next()) {
    std::string user_key;
    Timestamp ts;
    if (absl::Status s = DecodeMVCCKey(it->key(), &user_key, &ts); !s.ok()) return s;
    const uint64_t id = keys::RangeIdOfReplicaIndexKey(user_key);
    if (id == 0) return absl::DataLossError("malformed replica index key");
    ids.push_back(id);
  }
  if (absl::Status s = it->status(); !s.ok()) return s;
  absl::MutexLock lock(&store->mu_);
  if (absl::Status s = store->LoadCorruptMarkers(); !s.ok()) return s;
  std::vector<std::pair<uint64_t, absl::Status>> found_corrupt;
  for (uint64_t id : ids) {
    if (store->corrupt_.contains(id)) continue;
    absl::StatusOr<std::unique_ptr<Replica>> r = Replica::Load(store.get(), id);
    if (!r.ok()) {
      const absl::Status s(r.status().code(), absl::StrCat("loading replica of range ", id, ": ",
                                                           r.status().message()));
      // A corrupt record stops only this replica; anything else (an I/O error) means
      // the engine itself is unusable.
      if (!absl::IsDataLoss(s)) return s;
      found_corrupt.emplace_back(id, s);
      continue;
    }
    store->replicas_[id] = std::move(*r);
  }
  for (const auto& [id, why] : found_corrupt) {
    spdlog::error("r{}: replica on this node is corrupt and stays out of service: {}", id,
                  why.ToString());
    store->corrupt_[id] = why;
    std::unique_ptr<WriteBatch> b = store->engine()->NewWriteBatch();
    b->Put(ColumnFamily::kData, MVCCKeyPrefix(keys::CorruptReplicaKey(id)), why.ToString());
    if (absl::Status s = b->Commit(/*sync=*/true); !s.ok()) return s;
  }
  store->metrics_.replicas_corrupt.store(store->corrupt_.size());
  spdlog::info("store: loaded {} replicas ({} out of service: corrupt)", store->replicas_.size(),
               store->corrupt_.size());
  return store;
}

void Store::Start() {
  SnapshotSenderOptions so;
  so.concurrency = config().snapshot_send_concurrency;
  so.chunk_bytes = config().snapshot_chunk_bytes;
  so.rate_bytes_per_sec = config().snapshot_rate_bytes_per_sec;
  so.stall_timeout = config().snapshot_stall_timeout;
  so.time = time_;
  snapshot_sender_ = std::make_unique<SnapshotSender>(
      so, options_.open_snapshot_stream, &metrics_,
      [this](uint64_t range_id, uint64_t to_replica_id, uint64_t send_id,
             const absl::Status& result) {
        if (std::shared_ptr<Replica> r = GetReplica(range_id); r != nullptr) {
          r->OnSnapshotSent(to_replica_id, send_id, result);
        }
      });
  // Named threads: `top -H` and perf show what each one costs.
  scheduler_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "raft-scheduler");
    SchedulerLoop();
  });
  ticker_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "raft-ticker");
    TickerLoop();
  });
  gc_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "gc-queue");
    GcLoop();
  });
}

void Store::Stop() {
  {
    absl::MutexLock lock(&queue_mu_);
    if (stop_called_) return;
    stop_called_ = true;
    stopping_ = true;
  }
  // Snapshot streams first (their outcome is reported to replicas), then the
  // background threads (the GC thread may be sending through the key sender), then
  // the key sender: after this, nothing of the store calls out.
  if (snapshot_sender_ != nullptr) snapshot_sender_->Stop();
  if (scheduler_.joinable()) scheduler_.join();
  if (ticker_.joinable()) ticker_.join();
  if (gc_.joinable()) gc_.join();
  key_sender_->Detach();
}

KeySenderBinding Store::BindKeySender(KeySender sender) {
  key_sender_->Bind(std::move(sender), config().testing_intent_resolution_delay, time_);
  return KeySenderBinding(key_sender_);
}

kvpb::BatchResponse Store::SendByKey(const kvpb::BatchRequest& request, absl::Time deadline) {
  return key_sender_->Send(request, deadline);
}

void Store::ResolveIntentsAsync(const kvpb::Transaction& finished, std::vector<kvpb::Span> spans) {
  (void)key_sender_->EnqueueResolution(finished, std::move(spans));
}

std::shared_ptr<Replica> Store::GetReplica(uint64_t range_id) const {
  absl::MutexLock lock(&mu_);
  auto it = replicas_.find(range_id);
  return it == replicas_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<Replica>> Store::Replicas() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::shared_ptr<Replica>> out;
  for (const auto& [id, r] : replicas_) out.push_back(r);
  return out;
}

kvpb::BatchResponse Store::Send(const kvpb::BatchRequest& request, absl::Time deadline) {
  if (absl::Status failed = Failure(); !failed.ok()) {
    kvpb::BatchResponse resp;
    *resp.mutable_error() = ToError(absl::UnavailableError(
        absl::StrCat("node ", config().node_id, " stopped: ", failed.message())));
    return resp;
  }
  if (request.header().has_now()) {
    if (absl::Status s = clock()->Update(TimestampFromProto(request.header().now())); !s.ok()) {
      kvpb::BatchResponse resp;
      *resp.mutable_error() = ToError(s);
      return resp;
    }
  }
  kvpb::BatchResponse resp;
  std::shared_ptr<Replica> r = GetReplica(request.header().range_id());
  if (r == nullptr) {
    *resp.mutable_error() = ToError(absl::NotFoundError(absl::StrCat(
        "range ", request.header().range_id(), " has no replica on node ", config().node_id)));
    resp.mutable_error()->mutable_range_not_found()->set_range_id(request.header().range_id());
    resp.mutable_error()->mutable_range_not_found()->set_node_id(config().node_id);
    absl::MutexLock lock(&mu_);
    if (auto it = corrupt_.find(request.header().range_id()); it != corrupt_.end()) {
      resp.mutable_error()->set_message(
          absl::StrCat("the replica of range ", it->first, " on node ", config().node_id,
                       " is corrupt and out of service: ", it->second.message()));
    }
  } else {
    resp = r->Send(request, deadline);
  }
  TimestampToProto(clock()->Now(), resp.mutable_now());
  return resp;
}

void Store::HandleRaftBatch(const rangespb::RaftMessageBatch& batch) {
  if (batch.has_now()) {
    // A clock far ahead is reported by the offset monitor; Raft must still flow.
    (void)clock()->Update(TimestampFromProto(batch.now()));
  }
  const bool failed = !Failure().ok();
  for (const rangespb::RaftMessageRequest& m : batch.requests()) {
    metrics_.raft_messages_received.fetch_add(1, std::memory_order_relaxed);
    if (failed) {
      metrics_.raft_messages_dropped.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    // Snapshots arrive only through snapshot streams (BeginSnapshot), which stage
    // their data; a MsgSnap in a message batch carries none we could install.
    if (m.message().type() == raftpb::MSG_SNAP) {
      metrics_.raft_messages_dropped.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    std::shared_ptr<Replica> r = GetReplica(m.range_id());
    if (r == nullptr || !r->EnqueueRaftMessage(m)) {
      metrics_.raft_messages_dropped.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

void Store::ReportUnreachable(uint64_t range_id, uint64_t to_node_id) {
  if (std::shared_ptr<Replica> r = GetReplica(range_id); r != nullptr) {
    r->ReportUnreachable(to_node_id);
  }
}

void Store::OnNodeDead(uint64_t node_id) {
  for (const std::shared_ptr<Replica>& r : Replicas()) r->OnNodeDead(node_id);
}

int Store::DrainLeases(absl::Time deadline) {
  draining_.store(true);
  for (;;) {
    int held = 0;
    for (const std::shared_ptr<Replica>& r : Replicas()) {
      if (r->IsLeaseholder() || r->Status().leader_replica_id == r->replica_id()) {
        ++held;
        r->TransferLeadershipAway();
      }
    }
    if (held == 0 || time_->Now() >= deadline) return held;
    time_->SleepFor(absl::Milliseconds(100));
  }
}

void Store::SendRaftMessage(rangespb::RaftMessageRequest message) {
  if (options_.send_raft_message) options_.send_raft_message(std::move(message));
}

bool Store::TryReserveInboxBytes(size_t bytes, bool control) {
  const int64_t max = static_cast<int64_t>(control ? config().store_inbox_control_max_bytes
                                                   : config().store_inbox_max_bytes);
  std::atomic<int64_t>& gauge =
      control ? metrics_.raft_inbox_control_bytes : metrics_.raft_inbox_bytes;
  int64_t held = gauge.load(std::memory_order_relaxed);
  do {
    if (held + static_cast<int64_t>(bytes) > max) return false;
  } while (!gauge.compare_exchange_weak(held, held + static_cast<int64_t>(bytes),
                                        std::memory_order_relaxed));
  return true;
}

void Store::ReleaseInboxBytes(size_t bytes, bool control) {
  (control ? metrics_.raft_inbox_control_bytes : metrics_.raft_inbox_bytes)
      .fetch_sub(static_cast<int64_t>(bytes), std::memory_order_relaxed);
}

bool Store::NodeLive(uint64_t node_id) const {
  return !options_.node_live || options_.node_live(node_id);
}

void Store::EnqueueRange(uint64_t range_id) {
  absl::MutexLock lock(&queue_mu_);
  if (queued_.insert(range_id).second) queue_.push_back(range_id);
}

void Store::SchedulerLoop() {
  for (;;) {
    std::vector<uint64_t> work;
    {
      absl::MutexLock lock(&queue_mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_) {
        return stopping_ || !queue_.empty();
      };
      queue_mu_.Await(absl::Condition(&ready));
      if (stopping_) return;
      work.swap(queue_);
      queued_.clear();
    }
    ProcessPass(work);
  }
}

void Store::ProcessPass(const std::vector<uint64_t>& range_ids) {
  metrics_.passes.fetch_add(1, std::memory_order_relaxed);
  std::unique_ptr<WriteBatch> batch = engine()->NewWriteBatch();
  std::vector<std::pair<std::shared_ptr<Replica>, StagedReady>> staged;
  bool must_sync = false;
  for (uint64_t id : range_ids) {
    std::shared_ptr<Replica> r = GetReplica(id);
    if (r == nullptr) continue;
    std::optional<StagedReady> s = r->StageReady(batch.get());
    if (!s.has_value()) {
      // What was staged for others is dropped with the batch: the log stays as on disk.
      if (absl::Status c = r->Corruption(); !c.ok() && !HandleStoppedReplica(id, c)) return;
      continue;
    }
    must_sync = must_sync || s->ready.must_sync || s->ready.snapshot.has_value();
    staged.emplace_back(std::move(r), std::move(*s));
  }
  if (staged.empty()) return;
  metrics_.readies.fetch_add(staged.size(), std::memory_order_relaxed);
  if (batch->Count() > 0) {
    if (absl::Status s = batch->Commit(must_sync); !s.ok()) {
      // The disk state is unknown after a failed synced write: stop rather than
      // risk breaking a promise made to a peer.
      RANGEDB_FATAL() << "store: persisting raft state failed: " << s;
    }
    if (must_sync) metrics_.synced_commits.fetch_add(1, std::memory_order_relaxed);
  }
  for (auto& [r, s] : staged) {
    if (r->FinishReady(std::move(s))) EnqueueRange(r->range_id());
    if (absl::Status c = r->Corruption(); !c.ok() && !HandleStoppedReplica(r->range_id(), c)) {
      return;
    }
  }
}

void Store::TickerLoop() {
  const absl::Duration interval = config().tick_interval;
  absl::Time next = time_->Now() + interval;
  int ticks = 0;
  for (;;) {
    {
      absl::MutexLock lock(&queue_mu_);
      auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_) { return stopping_; };
      if (time_->AwaitWithDeadline(&queue_mu_, absl::Condition(&stop), next)) return;
    }
    next += interval;
    // Fell behind: don't burst.
    if (const absl::Time now = time_->Now(); now > next) next = now + interval;
    if (ticks_paused_for_testing_.load()) continue;
    const bool housekeeping = (++ticks % 10) == 0;
    for (const std::shared_ptr<Replica>& r : Replicas()) {
      r->Tick(/*leaders_only=*/draining_.load());
      if (housekeeping) r->MaybeTruncateLog();
    }
  }
}

absl::Duration Store::GcTtl() {
  kvpb::BatchRequest get;
  get.add_requests()->mutable_get()->set_key(keys::GcTtlSettingKey());
  kvpb::BatchResponse resp = SendByKey(get, time_->Now() + absl::Seconds(5));
  if (resp.has_error() || resp.responses_size() != 1 || !resp.responses(0).get().found()) {
    return config().gc_ttl;
  }
  absl::Duration ttl;
  const std::string& text = resp.responses(0).get().value();
  if (!absl::ParseDuration(text, &ttl) || ttl <= absl::ZeroDuration()) {
    spdlog::warn("gc: cluster setting gc_ttl \"{}\" is not a positive duration; using {}",
                 absl::CHexEscape(text), absl::FormatDuration(config().gc_ttl));
    return config().gc_ttl;
  }
  return ttl;
}

void Store::GcLoop() {
  // Bounded by stopping_: each round waits gc_interval (or until Stop).
  for (;;) {
    {
      absl::MutexLock lock(&queue_mu_);
      auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_) { return stopping_; };
      if (time_->AwaitWithTimeout(&queue_mu_, absl::Condition(&stop), config().gc_interval)) {
        return;
      }
    }
    bool any_leaseholder = false;
    for (const std::shared_ptr<Replica>& r : Replicas()) any_leaseholder |= r->IsLeaseholder();
    if (!any_leaseholder) continue;
    const absl::Duration ttl = GcTtl();
    for (const std::shared_ptr<Replica>& r : Replicas()) {
      {
        absl::MutexLock lock(&queue_mu_);
        if (stopping_) return;
      }
      absl::StatusOr<Replica::GcResult> result = r->RunGC(ttl, time_->Now() + absl::Seconds(10));
      if (!result.ok()) {
        spdlog::warn("r{}: gc pass failed: {}", r->range_id(), result.status().ToString());
      }
    }
  }
}

}  // namespace rangedb::ranges
