#include "ranges/snapshot_sender.h"

#include <pthread.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "ranges/engine_state.h"
#include "spdlog/spdlog.h"

namespace rangedb::ranges {
namespace {

// How often the watchdog looks for stalled sends.
constexpr absl::Duration kWatchdogInterval = absl::Seconds(1);
// Failed targets remembered at most (each a few dozen bytes); expired ones go first.
constexpr size_t kMaxRetryEntries = 100'000;

}  // namespace

SnapshotSender::SnapshotSender(SnapshotSenderOptions options, SnapshotStreamFactory open,
                               StoreMetrics* metrics, DoneFn done)
    : options_(options), open_(std::move(open)), metrics_(metrics), done_(std::move(done)) {
  const size_t workers = std::max<size_t>(1, options_.concurrency);
  {
    absl::MutexLock lock(&mu_);
    active_.resize(workers);
  }
  for (size_t slot = 0; slot < workers; ++slot) {
    threads_.emplace_back([this, slot] {
      pthread_setname_np(pthread_self(), "snap-send");
      WorkerLoop(slot);
    });
  }
  threads_.emplace_back([this] {
    pthread_setname_np(pthread_self(), "snap-watchdog");
    WatchdogLoop();
  });
}

SnapshotSender::~SnapshotSender() { Stop(); }

absl::Status SnapshotSender::Enqueue(OutgoingSnapshot snapshot) {
  const Target target{snapshot.header.range_id(), snapshot.to_replica_id};
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::UnavailableError("the snapshot sender is stopped");
  if (!open_) return absl::UnavailableError("this store cannot send snapshots");
  if (accepted_.contains(target)) {
    return absl::AlreadyExistsError("a snapshot to this replica is already being sent");
  }
  if (accepted_.size() >= std::max<size_t>(1, options_.concurrency)) {
    return absl::ResourceExhaustedError(absl::StrCat("already sending ", accepted_.size(),
                                                     " snapshots (snapshot_send_concurrency)"));
  }
  if (auto it = retry_.find(target);
      it != retry_.end() && options_.time->Now() < it->second.not_before) {
    return absl::UnavailableError(
        absl::StrCat("the last snapshot to this replica failed; next attempt in ",
                     absl::FormatDuration(it->second.not_before - options_.time->Now())));
  }
  accepted_.insert(target);
  queue_.push_back(std::move(snapshot));
  return absl::OkStatus();
}

void SnapshotSender::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    for (Active& a : active_) {
      if (a.stream != nullptr) a.stream->Cancel();
    }
  }
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  std::deque<OutgoingSnapshot> dropped;
  {
    absl::MutexLock lock(&mu_);
    dropped.swap(queue_);
  }
  for (OutgoingSnapshot& s : dropped) {
    Finish({s.header.range_id(), s.to_replica_id}, s.send_id,
           absl::CancelledError("the store is stopping"));
  }
}

void SnapshotSender::WorkerLoop(size_t slot) {
  for (;;) {
    OutgoingSnapshot s;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (stopping_) return;
      s = std::move(queue_.front());
      queue_.pop_front();
    }
    const absl::Time start = options_.time->Now();
    absl::Status result = Send(s, slot);
    if (result.ok()) {
      spdlog::info("r{}: sent snapshot at index {} to replica {} on node {} in {}",
                   s.header.range_id(), s.header.message().snapshot().metadata().index(),
                   s.to_replica_id, s.header.to_node_id(),
                   absl::FormatDuration(options_.time->Now() - start));
    } else {
      spdlog::warn("r{}: snapshot to replica {} on node {} failed: {}", s.header.range_id(),
                   s.to_replica_id, s.header.to_node_id(), result.ToString());
    }
    s.engine_snapshot.reset();  // release the engine's old versions now
    Finish({s.header.range_id(), s.to_replica_id}, s.send_id, result);
  }
}

absl::Status SnapshotSender::Send(OutgoingSnapshot& s, size_t slot) {
  absl::StatusOr<std::unique_ptr<SnapshotStream>> opened = open_(s.header.to_node_id());
  if (!opened.ok()) return opened.status();
  std::unique_ptr<SnapshotStream> stream = *std::move(opened);
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::CancelledError("the store is stopping");
    active_[slot] = Active{stream.get(), options_.time->Now()};
  }
  absl::Status status = [&]() -> absl::Status {
    rangespb::SnapshotChunk chunk;
    *chunk.mutable_header() = s.header;
    if (absl::Status st = stream->Send(chunk); !st.ok()) return st;
    Progress(slot);
    chunk.Clear();
    size_t chunk_bytes = 0;
    auto flush = [&]() -> absl::Status {
      if (chunk.kvs_size() == 0) return absl::OkStatus();
      if (!Pace(chunk_bytes)) return absl::CancelledError("the store is stopping");
      if (absl::Status st = stream->Send(chunk); !st.ok()) return st;
      metrics_->snapshot_bytes_sent.fetch_add(chunk_bytes, std::memory_order_relaxed);
      Progress(slot);
      chunk.Clear();
      chunk_bytes = 0;
      return absl::OkStatus();
    };
    const kvpb::RangeDescriptor& d = s.header.range_descriptor();
    for (const EngineSpan& span : ReplicatedEngineSpans(d.range_id(), d.start_key(), d.end_key())) {
      IterOptions opts;
      opts.lower_bound = span.lower;
      opts.upper_bound = span.upper;
      std::unique_ptr<Iterator> it = s.engine_snapshot->NewIterator(opts);
      for (it->Seek(span.lower); it->Valid(); it->Next()) {
        rangespb::SnapshotKeyValue* kv = chunk.add_kvs();
        kv->set_key(it->key().data(), it->key().size());
        kv->set_value(it->value().data(), it->value().size());
        chunk_bytes += it->key().size() + it->value().size();
        if (chunk_bytes >= options_.chunk_bytes) {
          if (absl::Status st = flush(); !st.ok()) return st;
        }
      }
      if (absl::Status st = it->status(); !st.ok()) return st;
    }
    if (absl::Status st = flush(); !st.ok()) return st;
    return stream->Finish();
  }();
  if (!status.ok()) stream->Cancel();
  {
    absl::MutexLock lock(&mu_);
    active_[slot] = Active{};
  }
  return status;
}

bool SnapshotSender::Pace(size_t bytes) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = options_.time->Now();
  const absl::Time start = std::max(now, next_send_);
  next_send_ =
      start + absl::Seconds(static_cast<double>(bytes) / static_cast<double>(std::max<uint64_t>(
                                                             1, options_.rate_bytes_per_sec)));
  auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
  options_.time->AwaitWithDeadline(&mu_, absl::Condition(&stopping), start);
  return !stopping_;
}

void SnapshotSender::Progress(size_t slot) {
  absl::MutexLock lock(&mu_);
  active_[slot].last_progress = options_.time->Now();
}

void SnapshotSender::WatchdogLoop() {
  absl::MutexLock lock(&mu_);
  auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
  while (!options_.time->AwaitWithTimeout(&mu_, absl::Condition(&stopping), kWatchdogInterval)) {
    const absl::Time now = options_.time->Now();
    for (Active& a : active_) {
      if (a.stream != nullptr && now - a.last_progress > options_.stall_timeout) {
        spdlog::warn("snapshot stream made no progress for {}: cancelling it",
                     absl::FormatDuration(now - a.last_progress));
        a.stream->Cancel();
        a.last_progress = now;  // once per stall
      }
    }
  }
}

void SnapshotSender::Finish(const Target& target, uint64_t send_id, const absl::Status& result) {
  (result.ok() ? metrics_->snapshots_sent : metrics_->snapshots_send_failed)
      .fetch_add(1, std::memory_order_relaxed);
  {
    absl::MutexLock lock(&mu_);
    accepted_.erase(target);
    if (result.ok()) {
      retry_.erase(target);
    } else {
      if (retry_.size() >= kMaxRetryEntries) {
        const absl::Time now = options_.time->Now();
        std::erase_if(retry_, [now](const auto& e) { return e.second.not_before <= now; });
      }
      if (retry_.size() < kMaxRetryEntries) {
        auto [it, inserted] =
            retry_.try_emplace(target, Retry{Backoff(BackoffOptions{options_.retry_backoff_initial,
                                                                    options_.retry_backoff_max}),
                                             absl::InfinitePast()});
        it->second.not_before = options_.time->Now() + absl::FromChrono(it->second.backoff.Next());
      }
    }
  }
  // The target's slot is free from here on: a newer send to it may start before this
  // outcome arrives, which is why the outcome names its send.
  if (done_) done_(target.first, target.second, send_id, result);
}

}  // namespace rangedb::ranges
