// StoreContext: what a Replica needs from the Store that holds it — the shared
// engine and clock, the outbound Raft transport, the scheduler, and configuration.
// The Store implements it; tests can too.
//
// Thread safety: every method is safe for concurrent use.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "absl/time/time.h"
#include "base/limits.h"
#include "base/time_source.h"
#include "proto/kv.pb.h"
#include "proto/ranges.pb.h"
#include "ranges/snapshot_stream.h"
#include "storage/engine.h"
#include "txn/hlc.h"

namespace rangedb::ranges {

struct StoreConfig {
  uint64_t node_id = 0;
  // Raft timing: a leader heartbeats every tick; a follower campaigns after
  // [election_ticks, 2*election_ticks) ticks without a leader.
  absl::Duration tick_interval = absl::Milliseconds(100);
  int election_ticks = 10;
  int heartbeat_ticks = 1;
  // Memory bounds, all in bytes (docs/replication.md, "Bounds"). A queued message or
  // proposal costs its serialized size plus kQueuedItemOverheadBytes.
  // Inbound Raft messages waiting for the scheduler: per replica, and all replicas.
  size_t raft_inbox_max_bytes = size_t{64} << 20;
  size_t store_inbox_max_bytes = size_t{256} << 20;
  // Raft's control messages (votes, heartbeats, their responses, TimeoutNow) have a
  // budget of their own on top of those, per replica and for the store: an inbox full
  // of appends must not cost a follower its votes and its leader.
  size_t raft_inbox_control_max_bytes = size_t{1} << 20;
  size_t store_inbox_control_max_bytes = size_t{16} << 20;
  // Proposals waiting for the scheduler, per replica (beyond: "not applied", retry).
  size_t raft_proposal_queue_max_bytes = size_t{64} << 20;
  // Recent entries cached by the Raft log storage, per replica.
  size_t raft_entry_cache_bytes = size_t{256} << 10;
  // The raft library's own ceiling on one entry; the replica refuses a larger command
  // before it gets there, with an error naming the limit (docs/limits.md).
  uint64_t raft_max_entry_bytes = limits::kMaxRaftCommandBytes;
  uint64_t raft_max_uncommitted_bytes = uint64_t{64} << 20;
  // Entries in one MsgApp, and in flight to one follower (flow control window).
  uint64_t raft_max_msg_bytes = uint64_t{1} << 20;
  uint64_t raft_max_inflight_bytes = uint64_t{16} << 20;
  // Committed entries handed out (and applied) per Ready.
  uint64_t raft_max_committed_bytes_per_ready = uint64_t{64} << 20;
  // Snapshots (docs/design/snapshot-streaming.md): streamed in chunks of this many
  // bytes of keys and values, all outbound ones of the store paced together under the
  // rate, at most this many sent and received at a time (one per range), a send that
  // makes no progress for the stall timeout is cancelled.
  size_t snapshot_chunk_bytes = size_t{1} << 20;
  uint64_t snapshot_rate_bytes_per_sec = uint64_t{64} << 20;
  size_t snapshot_send_concurrency = 2;
  size_t snapshot_receive_concurrency = 2;
  absl::Duration snapshot_stall_timeout = absl::Seconds(30);
  // The leader proposes truncating the Raft log once it holds more entries than this.
  uint64_t raft_log_truncate_threshold_entries = 2000;
  // After a snapshot reached a follower, the leader keeps its log from the snapshot's
  // index (or the follower's match, if higher) for this long, even past 4x the
  // threshold, so the follower catches up from the log instead of needing another
  // snapshot (docs/replication.md, "Snapshots and log truncation").
  absl::Duration snapshot_catchup_grace = absl::Seconds(10);
  // Idle ticks (no proposals, everyone caught up) before a leader quiesces its range.
  int quiesce_after_idle_ticks = 6;
  // Idempotency records older than this are deleted (a client retry must come sooner).
  absl::Duration idempotency_record_ttl = absl::Minutes(10);
  // MVCC versions older than this (that no read at or above now - gc_ttl can see)
  // are garbage collected. The cluster setting GcTtlSettingKey() overrides it.
  absl::Duration gc_ttl = absl::Hours(4);
  // How often each leaseholder runs a GC pass (versions and finished txn records).
  absl::Duration gc_interval = absl::Minutes(10);
  // Finished transaction records this old are collected (ranges/evaluate_txn.h).
  absl::Duration txn_record_gc_age = absl::Hours(1);
  // TESTING ONLY — a planted bug: serve reads at any replica without a lease, so the
  // chaos tests can show their checker catches stale reads.
  bool testing_unsafe_reads = false;
  // TESTING ONLY — a planted bug: EndTxn commits a transaction whose write timestamp
  // was pushed above its read timestamp without asking for a refresh (lost updates,
  // write skew), so the transaction chaos tests can show their checkers catch it.
  bool testing_commit_without_refresh = false;
  // TESTING ONLY — a planted bug: a GC pass resolves only the first page
  // (kMaxKeysPerSpanWrite keys) of each span a finished record lists, then removes
  // the record (the old behaviour), so the GC tests can show they catch the loss of
  // committed writes.
  bool testing_gc_unresolved_records = false;
  // TESTING ONLY: the asynchronous intent resolver holds each task this long before
  // its first attempt, so a test can lose the queue (kill the node) deterministically.
  absl::Duration testing_intent_resolution_delay = absl::ZeroDuration();
  // TESTING ONLY: called by every read of a batch after its GC-threshold check and
  // before it reads the engine, with the range id (tests of what may run meanwhile).
  std::function<void(uint64_t range_id)> testing_before_read;
  // TESTING ONLY: called with every command (write, lease, truncation) of range_id
  // right before the leader hands it to Raft, so a test can make the proposer emit a
  // command that no replica can apply (what a bug in evaluation or encoding would do).
  std::function<void(uint64_t range_id, rangespb::RaftCommand* command)> testing_before_propose;
  // TESTING ONLY: called by a GC pass after it chose what to collect (without
  // latches) and before it latches it, with the range id (tests of what may run
  // meanwhile).
  std::function<void(uint64_t range_id)> testing_gc_before_latch;
  // TESTING ONLY: called by a request that finds a new lease of range_id not yet set
  // up (Replica::AcquireLease: the timestamp caches' low waters not yet raised for
  // it), before it sets it up, with the range id (tests of two first users at once).
  std::function<void(uint64_t range_id)> testing_on_new_lease;
  // TESTING ONLY — fault injection: a command for which this returns true is refused
  // at application by every replica (as a stale proposal is: known not applied).
  // Must depend on the command's contents only, so that every replica decides alike.
  std::function<bool(const rangespb::RaftCommand& command)> testing_refuse_command;
  // TESTING ONLY — a planted bug (issue 13, finding 1): a transactional DeleteRange
  // finds its keys at the latest version (missing keys deleted after its timestamp)
  // and leaves its span out of the timestamp cache (letting older writers put keys
  // under it: phantoms), so the list-append checker can show it catches that.
  bool testing_deleterange_at_max = false;
  // TESTING ONLY — a planted bug (issue 13, finding 2): a transactional
  // ConditionalPut evaluates its condition against the latest version and a failed
  // one is not remembered as a read, so a transaction can learn a value newer than
  // its snapshot and still commit at the snapshot.
  bool testing_cput_reads_latest = false;

  // How long a lease stays valid after the quorum contact that supports it: below the
  // election timeout by one tick, and by 10% for clock-rate drift (docs/leases.md).
  absl::Duration LeaseDuration() const { return (tick_interval * (election_ticks - 1)) * 0.9; }
  absl::Duration ElectionTimeout() const { return tick_interval * election_ticks; }
};

// What one queued message or proposal costs beyond its serialized size.
inline constexpr size_t kQueuedItemOverheadBytes = 128;

// Counters for /metrics.
struct StoreMetrics {
  std::atomic<uint64_t> passes{0};
  std::atomic<uint64_t> synced_commits{0};
  std::atomic<uint64_t> readies{0};
  std::atomic<uint64_t> raft_messages_received{0};
  std::atomic<uint64_t> raft_messages_dropped{0};
  std::atomic<uint64_t> proposals{0};
  std::atomic<uint64_t> commands_applied{0};
  // Committed commands refused on apply by every replica alike (malformed: a bug at
  // the proposer); applied as no-ops (docs/replication.md, "Apply").
  std::atomic<uint64_t> commands_rejected{0};
  std::atomic<uint64_t> apply_nanos{0};
  // Transactions (docs/transactions.md).
  std::atomic<uint64_t> txn_conflicts{0};         // requests that met another's intents
  std::atomic<uint64_t> txn_pushes_waited{0};     // PushTxns answered "not pushed" after waiting
  std::atomic<uint64_t> txn_aborted_expired{0};   // holders aborted for not heartbeating
  std::atomic<uint64_t> txn_aborted_priority{0};  // holders aborted by a higher priority
  std::atomic<uint64_t> txn_deadlocks_broken{0};  // waits-for cycles broken here
  std::atomic<uint64_t> gc_versions_removed{0};
  std::atomic<uint64_t> gc_records_removed{0};
  // Replicas out of service because their storage is corrupt (a gauge).
  std::atomic<uint64_t> replicas_corrupt{0};
  // Gauge: bytes of inbound Raft messages queued in replica inboxes.
  std::atomic<int64_t> raft_inbox_bytes{0};
  // Gauge: the part of them that is control messages (their own budget).
  std::atomic<int64_t> raft_inbox_control_bytes{0};
  // Proposals refused because the replica's proposal queue was full.
  std::atomic<uint64_t> proposals_refused_queue_full{0};
  // Proposals refused as larger than limits::kMaxRaftCommandBytes (a miscount in
  // the request limits: should stay 0).
  std::atomic<uint64_t> proposals_too_large{0};
  // Snapshots: streams sent (receiver has it) / failed, key+value bytes sent; streams
  // received completely / refused or broken, bytes received; snapshots installed.
  std::atomic<uint64_t> snapshots_sent{0};
  std::atomic<uint64_t> snapshots_send_failed{0};
  std::atomic<uint64_t> snapshot_bytes_sent{0};
  std::atomic<uint64_t> snapshots_received{0};
  std::atomic<uint64_t> snapshots_receive_failed{0};
  std::atomic<uint64_t> snapshot_bytes_received{0};
  std::atomic<uint64_t> snapshots_applied{0};
};

class StoreContext {
 public:
  virtual ~StoreContext() = default;
  virtual const StoreConfig& config() const = 0;
  virtual Engine* engine() = 0;
  virtual HybridLogicalClock* clock() = 0;
  // Where the store's code reads time, sleeps and waits with a deadline
  // (base/time_source.h): ticks, deadlines, backoffs, and — through its
  // MonotonicNanos(), never the wall clock — leases (docs/leases.md).
  virtual TimeSource* time() = 0;
  // Sends a Raft message to another node (never blocks; may drop).
  virtual void SendRaftMessage(rangespb::RaftMessageRequest message) = 0;
  // Takes a snapshot for streaming to another node (never blocks). OK: the outcome is
  // reported later through the sending replica's OnSnapshotSent; otherwise it was not
  // taken (busy, backing off, stopping) and nothing is reported.
  virtual absl::Status SendSnapshot(OutgoingSnapshot snapshot) = 0;
  // Asks the scheduler to process range_id soon.
  virtual void EnqueueRange(uint64_t range_id) = 0;
  // Whether vote requests may be granted yet: a restarted node forgot which leader
  // it heard from, so it waits out an election timeout before voting (docs/leases.md).
  virtual bool VotingAllowed() const = 0;
  // Whether this store's replicas may become leaders: false while it drains (SIGTERM,
  // or a clock fence). A replica then refuses a leader's transfer (MsgTimeoutNow),
  // which would otherwise make it campaign at once, and tells the leader so
  // (MsgTransferRefused: docs/raft.md; docs/node.md, "Clock fencing").
  virtual bool CampaignAllowed() const = 0;
  // Whether the failure detector considers node_id live (unknown counts as live).
  virtual bool NodeLive(uint64_t node_id) const = 0;
  // The store-wide budget of inbound message bytes (StoreConfig::store_inbox_max_bytes,
  // or store_inbox_control_max_bytes for control messages): takes bytes if they fit
  // (false: drop the message); Release gives them back.
  virtual bool TryReserveInboxBytes(size_t bytes, bool control) = 0;
  virtual void ReleaseInboxBytes(size_t bytes, bool control) = 0;
  virtual StoreMetrics* mutable_metrics() = 0;
  // Routes a batch by key as a gateway does: how a replica reaches other ranges for
  // PushTxn and QueryTxn. Unavailable until the node wired a sender.
  virtual kvpb::BatchResponse SendByKey(const kvpb::BatchRequest& request, absl::Time deadline) = 0;
  // Queues the asynchronous resolution of a finished transaction's intents in spans
  // (ranges/intent_resolver.h); may drop it (readers resolve what they meet).
  virtual void ResolveIntentsAsync(const kvpb::Transaction& finished,
                                   std::vector<kvpb::Span> spans) = 0;
};

}  // namespace rangedb::ranges
