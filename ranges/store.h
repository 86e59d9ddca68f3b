// Store: all replicas of one node, the scheduler that drives their Raft groups, and
// the entry point for requests addressed to a range (docs/replication.md).
//
// Scheduler: replicas with work (a message, a tick, a proposal) are queued by range
// id. One thread takes every queued replica per pass and
//   1. stages each replica's Ready (entries, hard state, snapshot) into ONE batch,
//   2. commits that batch once, synced — group commit across ranges,
//   3. then per replica: sends messages (the transport batches them per peer node),
//      applies committed commands, and advances Raft.
// A ticker thread ticks every non-quiescent replica each tick_interval, and asks
// leaders to truncate long logs about once a second. Raft snapshots are streamed by
// the SnapshotSender's threads and received by BeginSnapshot's sinks, never on the
// scheduler thread (docs/design/snapshot-streaming.md). Replicas whose storage turns
// out corrupt are taken out of service (CorruptReplicas).
//
// Thread safety: safe for concurrent use. Lock order: Store::mu_ < Replica::mu_.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/kv.pb.h"
#include "proto/ranges.pb.h"
#include "ranges/key_sender.h"
#include "ranges/replica.h"
#include "ranges/snapshot_sender.h"
#include "ranges/snapshot_stream.h"
#include "ranges/store_context.h"

namespace rangedb::ranges {

struct StoreOptions {
  StoreConfig config;
  Engine* engine = nullptr;             // REQUIRES: outlives the store
  HybridLogicalClock* clock = nullptr;  // REQUIRES: outlives the store
  // What the store and its replicas read time from, sleep and wait on: ticks,
  // deadlines, backoffs, and leases (its MonotonicNanos). Tests pass a
  // ManualTimeSource (docs/design/injected-time.md). REQUIRES: non-null, outlives
  // the store.
  TimeSource* time = TimeSource::Real();
  // Sends a Raft message to another node; must not block.
  std::function<void(rangespb::RaftMessageRequest)> send_raft_message;
  // The failure detector's view; empty = every node is live.
  std::function<bool(uint64_t node_id)> node_live;
  // Opens snapshot streams to other nodes; empty = this store sends no snapshots.
  SnapshotStreamFactory open_snapshot_stream;
  // Called once, on a store thread, after the store stopped on an error it cannot get
  // past that is not corruption (an I/O error reading or installing a replica's Raft
  // state: FailStop). Empty: log it and abort the process, which its supervisor
  // restarts (what CockroachDB and etcd do). Must not call back into the store.
  std::function<void(const absl::Status& why)> on_fatal_error;
};

class Store final : public StoreContext {
 public:
  // Loads every replica listed in the engine's replica index.
  static absl::StatusOr<std::unique_ptr<Store>> Open(StoreOptions options);
  ~Store() override;

  // Starts the scheduler and ticker threads.
  void Start();
  // Stops them (joins), and detaches the key sender: once Stop returns, no thread
  // of the store calls out to other ranges. Requests in flight fail or time out.
  // Idempotent.
  void Stop();

  // Serves a batch for header.range_id. Errors are in the response.
  kvpb::BatchResponse Send(const kvpb::BatchRequest& request, absl::Time deadline);
  // Messages from another node.
  void HandleRaftBatch(const rangespb::RaftMessageBatch& batch);
  // An inbound snapshot stream (its first chunk's header): where its chunks go, or why
  // it is refused (no such replica, out of service, stale, too many at once).
  // Call Finish on the sink after the last chunk.
  absl::StatusOr<std::unique_ptr<SnapshotSink>> BeginSnapshot(
      const rangespb::SnapshotHeader& header);
  // The failure detector declared node_id dead.
  void OnNodeDead(uint64_t node_id);
  // Moves every lease this store holds to other replicas; returns how many it still
  // holds when the deadline passes (0 = drained).
  // From then on, followers stop ticking and refuse leadership transfers (so this
  // store never campaigns again) until ResumeAfterDrain.
  int DrainLeases(absl::Time deadline);
  // Ends what DrainLeases started: followers tick (and may campaign) again. Used when
  // a node fenced for its clock serves again.
  void ResumeAfterDrain() { draining_.store(false); }

  // Replicas in service (not the corrupt ones).
  std::shared_ptr<Replica> GetReplica(uint64_t range_id) const;
  std::vector<std::shared_ptr<Replica>> Replicas() const;
  // Replicas out of service because their storage is corrupt, with the error that
  // stopped them (docs/replication.md, "Corrupt replicas"). They stay out of service
  // across restarts (a store-local marker records them) until they are replaced.
  std::map<uint64_t, absl::Status> CorruptReplicas() const;
  // OK, or the error that stopped the whole store (FailStop): it serves nothing and
  // drives no replica any more; Stop() still joins its threads.
  absl::Status Failure() const;
  const StoreMetrics& metrics() const { return metrics_; }
  StoreMetrics* mutable_metrics() override { return &metrics_; }
  // Wires how replicas reach other ranges (the node's gateway) and starts the
  // intent resolver. Call once, before serving transactional requests. The store
  // calls sender until Stop() or until the binding is destroyed, whichever comes
  // first; either waits for the calls in flight (ranges/key_sender.h). Keep the
  // binding beside what sender uses, destroyed before it.
  KeySenderBinding BindKeySender(KeySender sender);

  // TESTING ONLY: stops (or resumes) ticking every replica, as a starved ticker
  // thread would; requests are still served.
  void PauseTicksForTesting(bool paused) { ticks_paused_for_testing_.store(paused); }

  // The transport could not deliver a message of range_id to to_node_id.
  void ReportUnreachable(uint64_t range_id, uint64_t to_node_id);

  // StoreContext.
  const StoreConfig& config() const override { return options_.config; }
  Engine* engine() override { return options_.engine; }
  HybridLogicalClock* clock() override { return options_.clock; }
  TimeSource* time() override { return time_; }
  void SendRaftMessage(rangespb::RaftMessageRequest message) override;
  absl::Status SendSnapshot(OutgoingSnapshot snapshot) override;
  void EnqueueRange(uint64_t range_id) override;
  bool VotingAllowed() const override { return time_->Now() >= voting_allowed_after_; }
  bool CampaignAllowed() const override { return !draining_.load(); }
  bool NodeLive(uint64_t node_id) const override;
  bool TryReserveInboxBytes(size_t bytes, bool control) override;
  void ReleaseInboxBytes(size_t bytes, bool control) override;
  kvpb::BatchResponse SendByKey(const kvpb::BatchRequest& request, absl::Time deadline) override;
  void ResolveIntentsAsync(const kvpb::Transaction& finished,
                           std::vector<kvpb::Span> spans) override;

 private:
  explicit Store(StoreOptions options);
  void SchedulerLoop();
  void TickerLoop();
  // Every gc_interval: a GC pass on each replica this store holds the lease of.
  void GcLoop();
  // gc_ttl: the cluster setting if set and valid, else the configured default.
  absl::Duration GcTtl();
  void ProcessPass(const std::vector<uint64_t>& range_ids);
  // Takes a stopped replica out of service and records it durably.
  void RetireCorruptReplica(uint64_t range_id, const absl::Status& why);
  // A replica stopped: corrupt (DataLoss) ones are retired, anything else stops the
  // store (FailStop). Returns false if the store stopped.
  bool HandleStoppedReplica(uint64_t range_id, const absl::Status& why);
  // Stops driving replicas and serving requests, then reports why through
  // StoreOptions::on_fatal_error (default: abort). An I/O error that is not corruption
  // says nothing lasting about a replica (docs/replication.md, "Corrupt replicas"):
  // a restart reads everything again from disk.
  void FailStop(const absl::Status& why);
  // Store::Open: the corrupt-replica markers.
  absl::Status LoadCorruptMarkers() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const StoreOptions options_;
  TimeSource* const time_;
  const absl::Time voting_allowed_after_;
  std::atomic<bool> draining_{false};
  std::atomic<bool> ticks_paused_for_testing_{false};
  StoreMetrics metrics_;

  mutable absl::Mutex mu_;
  std::map<uint64_t, std::shared_ptr<Replica>> replicas_ ABSL_GUARDED_BY(mu_);
  // Out of service: range id -> why. Disjoint from replicas_.
  std::map<uint64_t, absl::Status> corrupt_ ABSL_GUARDED_BY(mu_);

  mutable absl::Mutex queue_mu_;
  std::vector<uint64_t> queue_ ABSL_GUARDED_BY(queue_mu_);  // bounded by replica count
  std::set<uint64_t> queued_ ABSL_GUARDED_BY(queue_mu_);
  bool stopping_ ABSL_GUARDED_BY(queue_mu_) = false;     // the threads end
  bool stop_called_ ABSL_GUARDED_BY(queue_mu_) = false;  // Stop() ran (joins once)
  absl::Status failure_ ABSL_GUARDED_BY(queue_mu_);      // FailStop's reason

  // Outbound snapshots (created by Start, stopped by Stop).
  std::unique_ptr<SnapshotSender> snapshot_sender_;
  // Ranges with an inbound snapshot stream open; at most snapshot_receive_concurrency.
  absl::Mutex receiving_mu_;
  std::set<uint64_t> receiving_ ABSL_GUARDED_BY(receiving_mu_);

  // Shared with the binding BindKeySender returns; detached by Stop().
  const std::shared_ptr<KeySenderSlot> key_sender_ = std::make_shared<KeySenderSlot>();

  std::thread scheduler_;
  std::thread ticker_;
  std::thread gc_;
};

}  // namespace rangedb::ranges
