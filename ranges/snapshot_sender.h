// SnapshotSender: streams a store's outbound Raft snapshots on its own threads
// (docs/design/snapshot-streaming.md).
//
// A snapshot arrives as an engine snapshot plus the header that describes it (taken
// under the replica's lock, so they agree). A worker thread reads the range's
// replicated spans from the engine snapshot in key order and sends them in chunks of
// at most chunk_bytes (at least one key each), paced so that all sends of the store
// together stay under rate_bytes_per_sec. The outcome goes to `done` exactly once per
// accepted snapshot: OK only when the receiver answered that it has the whole snapshot.
//
// Bounds: at most `concurrency` snapshots accepted (queued or sending) at a time, one
// per (range, replica); a target whose last send failed is refused until its backoff
// (jittered, doubling up to retry_backoff_max) passed. A send that makes no progress
// for stall_timeout is cancelled by a watchdog.
//
// Thread safety: Enqueue and Stop may be called from any thread. `done` runs on a
// sender thread, never inside Enqueue, so callers may hold their own locks.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/backoff.h"
#include "base/time_source.h"
#include "proto/ranges.pb.h"
#include "ranges/snapshot_stream.h"
#include "ranges/store_context.h"
#include "storage/engine.h"

namespace rangedb::ranges {

struct SnapshotSenderOptions {
  size_t concurrency = 2;
  size_t chunk_bytes = size_t{1} << 20;
  uint64_t rate_bytes_per_sec = uint64_t{64} << 20;
  absl::Duration stall_timeout = absl::Seconds(30);
  std::chrono::milliseconds retry_backoff_initial{1000};
  std::chrono::milliseconds retry_backoff_max{30'000};
  // Paces, times stalls and backoffs (base/time_source.h). REQUIRES: non-null,
  // outlives the sender.
  TimeSource* time = TimeSource::Real();
};

class SnapshotSender {
 public:
  using DoneFn = std::function<void(uint64_t range_id, uint64_t to_replica_id, uint64_t send_id,
                                    const absl::Status& result)>;

  // REQUIRES: metrics outlives the sender; open is thread-safe.
  SnapshotSender(SnapshotSenderOptions options, SnapshotStreamFactory open, StoreMetrics* metrics,
                 DoneFn done);
  ~SnapshotSender();  // Stop()s

  SnapshotSender(const SnapshotSender&) = delete;
  SnapshotSender& operator=(const SnapshotSender&) = delete;

  // Takes the snapshot for sending, or says why not (then `done` is not called).
  absl::Status Enqueue(OutgoingSnapshot snapshot);
  // Cancels what is being sent (reported as failed), drops what is queued (reported
  // as failed), joins the threads. Idempotent; later Enqueues fail.
  void Stop();

 private:
  using Target = std::pair<uint64_t, uint64_t>;  // range id, replica id
  struct Retry {
    Backoff backoff;
    absl::Time not_before;
  };
  struct Active {
    SnapshotStream* stream = nullptr;
    absl::Time last_progress;
  };

  void WorkerLoop(size_t slot);
  void WatchdogLoop();
  absl::Status Send(OutgoingSnapshot& s, size_t slot);
  // Waits until `bytes` more fit under the rate; false if stopping.
  bool Pace(size_t bytes);
  void Progress(size_t slot);
  void Finish(const Target& target, uint64_t send_id, const absl::Status& result);

  const SnapshotSenderOptions options_;
  const SnapshotStreamFactory open_;
  StoreMetrics* const metrics_;
  const DoneFn done_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<OutgoingSnapshot> queue_ ABSL_GUARDED_BY(mu_);
  std::set<Target> accepted_ ABSL_GUARDED_BY(mu_);      // queued or sending; <= concurrency
  std::map<Target, Retry> retry_ ABSL_GUARDED_BY(mu_);  // targets whose last send failed
  std::vector<Active> active_ ABSL_GUARDED_BY(mu_);     // by worker slot
  absl::Time next_send_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();  // the pacer

  std::vector<std::thread> threads_;
};

}  // namespace rangedb::ranges
