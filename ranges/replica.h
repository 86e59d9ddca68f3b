// Replica: one range's Raft group on this node, and the state machine it drives
// (docs/replication.md).
//
// Two sides:
//  - The request side (any thread): Send() takes span latches, checks the lease,
//    evaluates reads against the engine, evaluates writes into a batch and hands the
//    batch to Raft as a proposal, then waits for it to apply.
//  - The Raft side (the Store's scheduler thread only): StageReady() feeds queued
//    messages, ticks and proposals to the RawNode and stages its Ready into the
//    scheduler's shared synced batch (group commit); FinishReady() runs after that
//    batch committed: it sends messages, applies committed commands and advances.
//
// Lease (docs/leases.md): the replica holds the lease while it is the Raft leader of
// the lease's term, the lease command of that term has applied here, and a quorum
// acknowledged a message it sent within lease_duration (check-quorum keeps any other
// replica from winning an election for an election timeout after that).
//
// Apply rules (deterministic on every replica): a command applies only if its
// proposer_lease_sequence is the current lease's sequence and its max_lease_index is
// above the lease_applied_index; otherwise it is skipped (the proposer learns it was
// not applied, which is safe to retry). Each command's batch and the new AppliedState
// are written in one atomic batch.
//
// Lock order: Store::mu_ < Replica::mu_. mu_ is never held while waiting for a
// proposal or for latches.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "proto/kv.pb.h"
#include "proto/ranges.pb.h"
#include "raft/rawnode.h"
#include "ranges/evaluate.h"
#include "ranges/latch_manager.h"
#include "ranges/timestamp_cache.h"
#include "ranges/txn_wait_queue.h"
#include "storage/mvcc_errors.h"
#include "storage/raft_log_storage.h"

namespace rangedb::ranges {

class StoreContext;
struct RecordMarkers;

// The leader's view of one follower (raft/progress.h).
struct FollowerStatus {
  uint64_t match = 0;
  uint64_t next = 0;
  raft::ProgressState state = raft::ProgressState::kProbe;
  uint64_t pending_snapshot = 0;  // in snapshot state: the index of the snapshot sent
};

// A point-in-time view for status pages and tests.
struct ReplicaStatus {
  kvpb::RangeDescriptor descriptor;
  uint64_t replica_id = 0;
  uint64_t leader_replica_id = 0;
  uint64_t term = 0;
  uint64_t commit_index = 0;
  uint64_t applied_index = 0;
  uint64_t first_log_index = 0;
  uint64_t last_log_index = 0;
  rangespb::Lease lease;
  bool lease_valid = false;  // this replica holds a valid lease now
  // If lease_valid: when it ends unless renewed (StoreContext::time()->MonotonicNanos()).
  int64_t lease_end_mono_ns = 0;
  bool quiescent = false;
  size_t proposals_in_flight = 0;  // appended to Raft, outcome not yet known
  // On the leader: the replica a leadership transfer is pending to (0: none). Raft
  // refuses proposals while it is set (docs/raft.md, "Behaviour").
  uint64_t lead_transferee = 0;
  // Leadership transfers this replica started (Replica::TransferLeadershipAway).
  size_t transfers_started = 0;
  std::map<uint64_t, FollowerStatus> followers;  // by replica id; on the leader only
};

// A write waiting to be replicated and applied.
// Its latches stay held until the outcome is known, even if the waiting request gave
// up at its deadline: a retry of the same write must not be evaluated while this one
// may still apply (it would miss the idempotency record and apply twice).
//
// Outcomes (docs/replication.md, "Proposal outcomes"):
//  - applied (result OK): its entry applied here;
//  - not applied (result not OK, ambiguous false): it can never apply anywhere — its
//    log position committed with another command, or it was refused by the apply rules,
//    or it can only apply under a lease sequence that is gone; safe to retry;
//  - ambiguous (ambiguous true): it may have applied elsewhere and this replica cannot
//    tell (its position is inside a snapshot this replica installed).
struct Proposal {
  rangespb::RaftCommand command;
  kvpb::BatchResponse response;  // what the client gets if the command applies
  LatchManager::Guard latches;
  absl::Notification done;
  absl::Status result;     // set before done: OK = applied; otherwise see `ambiguous`
  bool ambiguous = false;  // set before done: the outcome is unknown
  // Where Raft appended the command (set once proposed): a command sits at exactly
  // one log position, as it is never re-proposed.
  uint64_t index = 0;
  uint64_t term = 0;
  // Run on the leaseholder once the command applied (or may have: an ambiguous
  // outcome), before the latches go, under the replica's lock: in-memory state that
  // must hold exactly when the command's effects do (a record's tombstone marker).
  // Must not take the replica's lock.
  std::function<void()> on_applied;

  // Records the outcome, releases the latches and wakes the waiter. Once only.
  void Finish(absl::Status outcome) {
    result = std::move(outcome);
    latches.Release();
    done.Notify();
  }
  // The outcome cannot be known here: the waiter reports an ambiguous result.
  void FinishAmbiguous(std::string why) {
    ambiguous = true;
    Finish(absl::UnknownError(std::move(why)));
  }
  // Lease requests and log truncations: nobody waits for them.
  bool Internal() const { return command.has_new_lease() || command.truncate_log_index() != 0; }
};

// What StageReady staged and FinishReady completes.
struct StagedReady {
  raft::Ready ready;
  std::optional<RaftLogWrite> log_write;
  bool installs_snapshot = false;  // its data was ingested while staging
};

class Replica {
 public:
  // Loads a replica of range_id from the engine (its descriptor, applied state,
  // lease and Raft state must be there: bootstrap or a snapshot wrote them).
  static absl::StatusOr<std::unique_ptr<Replica>> Load(StoreContext* store, uint64_t range_id);

  uint64_t range_id() const { return range_id_; }
  uint64_t replica_id() const { return replica_id_; }
  kvpb::RangeDescriptor Descriptor() const;

  // ---- Request side (any thread) ----

  // Serves a batch addressed to this range. Never throws; errors are in the
  // response (NotLeaseholder with a hint, RangeKeyMismatch, ambiguous result, ...).
  kvpb::BatchResponse Send(const kvpb::BatchRequest& request, absl::Time deadline);

  // ---- Inputs (any thread); each asks the scheduler to process this replica ----

  // Queues a message from a peer. Returns false (dropped) when the inbox is full.
  bool EnqueueRaftMessage(rangespb::RaftMessageRequest message);
  // One tick elapsed. Quiescent replicas ignore it; with leaders_only, so do
  // followers (a draining store must not win elections).
  void Tick(bool leaders_only = false);
  // The failure detector declared node_id dead: if it led this range, wake up so an
  // election can happen.
  void OnNodeDead(uint64_t node_id);
  // The transport failed to deliver a message to the replica on to_node_id: Raft
  // stops pipelining to it until it answers again.
  void ReportUnreachable(uint64_t to_node_id);
  // How the store's sender ended snapshot send send_id to to_replica_id: Raft learns
  // whether the follower has it (OK) or not — only if it is the latest send to that
  // follower; the outcome of an older one is ignored (its follower may be getting a
  // newer snapshot, which that outcome says nothing about).
  void OnSnapshotSent(uint64_t to_replica_id, uint64_t send_id, const absl::Status& result);
  // Removes a staged snapshot file that will not be installed.
  void RemoveStagedSnapshot(const std::string& path);
  // Hands leadership (and so the lease) to another replica, for draining.
  void TransferLeadershipAway();

  // ---- Scheduler side (the Store's scheduler thread only) ----

  // Feeds queued inputs to Raft; if it has a Ready, stages it into batch. Returns
  // nullopt when there is nothing to persist or send.
  std::optional<StagedReady> StageReady(WriteBatch* batch);
  // Completes a staged Ready after its batch committed (synced). Returns true if
  // more work is already pending.
  bool FinishReady(StagedReady staged);
  // Periodic housekeeping (the ticker, about once a second, on the leader): proposes
  // log truncation and the deletion of expired idempotency records.
  void MaybeTruncateLog();

  // One garbage collection pass, if this replica holds the lease (replica_gc.cc):
  // finished transaction records older than kTxnRecordGCAge (their external intents
  // resolved first) and MVCC versions no read at or above now - gc_ttl can see, at
  // most kMaxGcVersionsPerPass of them. Returns how many records and versions went.
  struct GcResult {
    int64_t records_removed = 0;
    int64_t versions_removed = 0;
  };
  absl::StatusOr<GcResult> RunGC(absl::Duration gc_ttl, absl::Time deadline);
  // Reads below this timestamp (and writes at or below it) are refused: GC removed
  // what they would see or be checked against.
  Timestamp GcThreshold() const;

  ReplicaStatus Status() const;
  bool IsLeaseholder() const;
  // OK, or why this replica stopped for good. DataLoss: its storage is corrupt (a Raft
  // record failed its checksum or does not decode); the Store takes it out of service.
  // Any other code: an error that says nothing lasting about the data (an I/O error
  // reading its log or installing a snapshot); the Store stops the node, and a
  // restart brings the replica back (docs/replication.md, "Corrupt replicas"). A
  // stopped replica holds no lease, answers no proposal ("ambiguous" for those in
  // flight), and takes no further input.
  absl::Status Corruption() const;

 private:
  Replica(StoreContext* store, uint64_t range_id);

  // Request side.
  struct LeaseCheck {
    bool valid = false;
    uint64_t sequence = 0;
    // If valid: when (StoreContext::time()->MonotonicNanos()) the lease ends unless a
    // later quorum contact renews it.
    int64_t end_mono_ns = 0;
    kvpb::NotLeaseholderError not_leaseholder;
  };
  LeaseCheck CheckLease() const;
  LeaseCheck CheckLeaseLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Waits (briefly, up to deadline) for this replica to hold a valid lease.
  LeaseCheck WaitForLease(absl::Time deadline);
  // WaitForLease, then (on a lease this replica has not served under yet) raises the
  // timestamp cache's low water above anything an earlier leaseholder could have read.
  LeaseCheck AcquireLease(absl::Time deadline);
  // One evaluation of a batch under latches (replica_send.cc). If it met intents of
  // other transactions, *conflicts lists them and the response is meaningless.
  // What one request carries across its rounds of evaluation and conflict handling.
  struct RequestState {
    std::vector<std::string> pushed;      // pending transactions pushed above the read
    Timestamp read_timestamp;             // a non-transactional read's, fixed at round one
    std::vector<LockConflict> conflicts;  // what the last round met
  };
  kvpb::BatchResponse ServeOnce(const kvpb::BatchRequest& request, BatchKind kind,
                                absl::Time deadline, RequestState* state);
  kvpb::BatchResponse ServeReads(const kvpb::BatchRequest& request, BatchKind kind,
                                 RequestState* state);
  kvpb::BatchResponse ServeWrites(const kvpb::BatchRequest& request, const LeaseCheck& lease,
                                  LatchManager::Guard latches, absl::Time deadline,
                                  RequestState* state);
  // Pushes the transactions of conflicts and resolves their intents here
  // (replica_conflicts.cc). Pending transactions pushed above a reader's timestamp
  // are added to *pushed. An error (deadline, the pusher itself aborted) ends the request.
  absl::Status HandleConflicts(const kvpb::BatchRequest& request, BatchKind kind,
                               absl::Time deadline, RequestState* state);
  // PushTxn at the pushee's record (replica_push.cc): decides, waits in wait_queue_,
  // detects deadlocks.
  kvpb::BatchResponse ServePush(const kvpb::BatchRequest& request, absl::Time deadline);
  // One decision under the record's latch; force_abort breaks a deadlock.
  kvpb::BatchResponse PushOnce(const kvpb::PushTxnRequest& push, bool force_abort,
                               absl::Time deadline, bool* pushed);
  // Proposes batch (evaluated under lease; timestamp >= every version it writes)
  // and waits for the outcome: nullopt when applied, else the error response
  // (ambiguous, or definitely not applied). mark_tombstones, if set, leaves the
  // tombstone markers of the records the command removes once it applied
  // (Proposal::on_applied), and marks the command removes_txn_record, which the
  // next lease's tombstone low water counts.
  std::optional<kvpb::BatchResponse> ProposeAndWait(
      const WriteBatch& batch, const LeaseCheck& lease, Timestamp timestamp,
      LatchManager::Guard latches, absl::Time deadline, std::optional<Timestamp> gc_threshold = {},
      std::function<void()> mark_tombstones = nullptr);
  kvpb::Span RangeSpan() const;
  void Propose(std::shared_ptr<Proposal> proposal);
  // An error naming `what` if ts is below the GC threshold (inclusive: at or below
  // it), else OK: in a transaction a TransactionRetryError (GC_THRESHOLD: the
  // transaction restarts at a newer timestamp), otherwise FailedPrecondition.
  absl::Status CheckAboveGcThreshold(absl::string_view what, Timestamp ts, bool inclusive = false,
                                     bool in_txn = false) const;

  // Transaction records (replica_push.cc, replica_gc.cc; docs/transactions.md,
  // "Record creation"). The caller holds the record key's latch.
  // What the timestamp cache remembers about the record of txn_id.
  RecordMarkers RecordMarkersOf(absl::string_view anchor_key, absl::string_view txn_id) const;
  // Leaves the tombstone marker of a record that goes (or never was) with finished's
  // outcome decided: it can never be created again on this leaseholder, nor (by the
  // timestamp cache's low water) on the next.
  void MarkRecordRemoved(const kvpb::Transaction& finished, Timestamp now);
  // Resolves every intent of the spans record lists, following each to its end
  // (the planted bug StoreConfig::testing_gc_unresolved_records: one page each).
  absl::Status ResolveRecordIntents(const kvpb::Transaction& record, absl::Time deadline);
  absl::Status CheckKeysInRange(const kvpb::BatchRequest& request) const;

  // Queues a proposal unless the proposal queue's byte bound is reached; then finishes
  // it "not applied" (it never reached Raft) and returns false.
  bool QueueProposalLocked(std::shared_ptr<Proposal> p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Empties the inbox, giving its bytes back to the store's budget.
  void ClearInboxLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Raft side.
  // Stops this replica for good (see Corruption()).
  void MarkCorruptLocked(absl::Status why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // If the RawNode failed on a storage read, stops this replica; returns whether it is
  // stopped.
  bool CheckRaftFailureLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HandleMessageLocked(rangespb::RaftMessageRequest& m) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ProposePendingLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MaybeRequestLeaseLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SendMessagesLocked(std::vector<raftpb::Message>& messages)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sends a leader's MsgApp / MsgHeartbeat before its entries are durable; removes them
  // from messages.
  void SendLeaderMessagesEarlyLocked(std::vector<raftpb::Message>& messages)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ApplyCommittedLocked(const std::vector<raftpb::Entry>& entries)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Why a command must not apply, or OK.
  absl::Status CheckCommandLocked(const rangespb::RaftCommand& command) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishProposalLocked(const std::string& command_id, absl::Status result)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A committed command that no replica can apply (it does not parse, its write batch
  // is malformed): every replica applies the same bytes, so every one refuses it the
  // same way. It is skipped (its entry still counts as applied) and its proposer, if
  // here, is told it did not apply. Never a reason to stop the replica.
  void RejectCommandLocked(uint64_t index, uint64_t term, const std::string& command_id,
                           const std::string& why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FailStaleProposalsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Every entry through applied_index applied here (or was skipped): a proposal still
  // in flight at or below it lost its log position to another command.
  void FailOverwrittenProposalsLocked(uint64_t applied_index) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A snapshot replaced the state through applied_index: the proposals at or below it
  // may or may not be in it.
  void FinishProposalsCoveredBySnapshotLocked(uint64_t applied_index)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // This replica became leader: its lease requests and truncations of earlier terms
  // are forgotten (nobody waits for them, and they must not keep the range awake).
  void ForgetInternalProposalsOfOlderTermsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint64_t NodeOfReplicaLocked(uint64_t replica_id) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The monotonic time (StoreContext::time()->MonotonicNanos()) of Raft's quorum-contact tick;
  // nullopt if there is none or it is older than the tick history.
  std::optional<int64_t> QuorumContactNanosLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  raftpb::ConfState ConfStateLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MaybeQuiesceLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ExpireIdempotencyRecordsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records written below this wall time (ns) may be deleted: the range's expiry
  // clock minus the record lifetime. The clock follows the HLC but advances at most
  // twice as fast as the monotonic clock, starting under each new lease from its
  // replicated value (IdempotencyExpiryKey).
  int64_t IdempotencyCutoffLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UnquiesceLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Snapshots (replica_snapshot.cc; docs/design/snapshot-streaming.md).
  // Hands a MsgSnap to the store's sender with an engine snapshot of the applied state;
  // reports failure to Raft at once if the sender refuses it.
  void StartSnapshotSendLocked(raftpb::Message m, uint64_t to_node_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Remembers the staged file of a received MsgSnap about to be stepped.
  void NoteStagedSnapshotLocked(const raftpb::Message& m) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes the staged files noted in this pass except `used`.
  void RemoveUnusedStagedSnapshotsLocked(const std::string& used)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ingests the snapshot's staged file (atomically replacing the range's data).
  absl::Status IngestSnapshotLocked(const rangespb::SnapshotData& data)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Reloads descriptor, applied state, lease and GC threshold from the engine.
  void LoadStateAfterSnapshotLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The highest index log truncation may cut at without taking from a follower the
  // entries right after a snapshot it was sent recently (at most `limit`); forgets the
  // holds that expired.
  uint64_t SnapshotTruncationLimitLocked(const raft::Status& status, uint64_t limit)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  StoreContext* const store_;
  const uint64_t range_id_;
  LatchManager latches_;
  TimestampCache tscache_;
  // The tombstone markers of transaction records (RecordMarkers::tombstone). Apart
  // from tscache_ because its low water can be lower: every marker rides on a Raft
  // command (removes_txn_record) whose timestamp is at or above it, so on a new lease
  // everything the previous leaseholder marked is at or below the high water of those
  // commands (AppliedState::max_tombstone_timestamp), or the lease's start — no
  // max_offset needed, and no other command counts.
  TimestampCache tombstones_;
  // The lease sequence the timestamp caches' low waters were last raised for.
  std::atomic<uint64_t> tscache_lease_sequence_{0};
  // Held while a lease's first user raises the low waters (AcquireLease).
  absl::Mutex lease_setup_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  TxnWaitQueue wait_queue_;

  mutable absl::Mutex mu_;
  uint64_t replica_id_ = 0;  // set once in Load
  kvpb::RangeDescriptor desc_ ABSL_GUARDED_BY(mu_);
  rangespb::AppliedState applied_ ABSL_GUARDED_BY(mu_);
  rangespb::Lease lease_ ABSL_GUARDED_BY(mu_);
  Timestamp gc_threshold_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<RaftLogStorage> log_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<raft::RawNode> raw_ ABSL_GUARDED_BY(mu_);
  raft::SoftState soft_ ABSL_GUARDED_BY(mu_);

  // Inputs waiting for the scheduler, bounded in bytes (StoreConfig).
  std::deque<rangespb::RaftMessageRequest> inbox_ ABSL_GUARDED_BY(mu_);
  size_t inbox_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // also reserved from the store's budget
  // Control messages (votes, heartbeats, ...): counted apart, in their own budget.
  size_t inbox_control_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  int pending_ticks_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<std::shared_ptr<Proposal>> to_propose_ ABSL_GUARDED_BY(mu_);
  size_t to_propose_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool campaign_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool transfer_requested_ ABSL_GUARDED_BY(mu_) = false;
  // Leadership transfers started: picks the next target in turn.
  size_t transfer_attempts_ ABSL_GUARDED_BY(mu_) = 0;
  // The Raft tick at which a message last arrived from each replica (by replica id;
  // at most one entry per replica the range ever had): a leadership transfer goes
  // to replicas heard from within an election timeout.
  std::map<uint64_t, uint64_t> last_heard_tick_ ABSL_GUARDED_BY(mu_);

  // Proposals appended to Raft, by command id, until applied or known dead.
  std::map<std::string, std::shared_ptr<Proposal>> in_flight_ ABSL_GUARDED_BY(mu_);
  uint64_t next_lease_index_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t lease_requested_term_ ABSL_GUARDED_BY(mu_) = 0;

  // Raft tick number -> when it happened (StoreContext::time()->MonotonicNanos()), for the
  // lease's quorum-contact time. Bounded to the last kTickHistory ticks.
  std::deque<int64_t> tick_times_ns_ ABSL_GUARDED_BY(mu_);
  uint64_t first_tick_number_ ABSL_GUARDED_BY(mu_) = 1;

  // Quiescence: no ticks while set (docs/replication.md).
  bool quiescent_ ABSL_GUARDED_BY(mu_) = false;
  int idle_ticks_ ABSL_GUARDED_BY(mu_) = 0;
  // Where the next idempotency-record expiry round resumes (engine key; "" = start).
  std::string idempotency_cursor_ ABSL_GUARDED_BY(mu_);
  // IdempotencyCutoffLocked's state: the range's expiry clock (an HLC wall time known
  // to have passed), when (monotonic) it was last advanced, under which lease, and its
  // value last read from or proposed to the replicated IdempotencyExpiryKey.
  int64_t idem_trusted_now_ns_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t idem_trusted_mono_ns_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t idem_lease_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t idem_persisted_now_ns_ ABSL_GUARDED_BY(mu_) = 0;
  // Not OK once the replica stopped because its storage is corrupt (Corruption()).
  absl::Status corruption_ ABSL_GUARDED_BY(mu_);
  // Staged snapshot files of the MsgSnaps stepped in the current pass.
  std::vector<std::string> staged_snapshot_files_ ABSL_GUARDED_BY(mu_);
  // The leader's latest snapshot to each follower, which log truncation must not cut
  // off while the follower installs it and catches up (MaybeTruncateLog). One per
  // follower (bounded by the descriptor); forgotten when the send fails, when the
  // follower's node is not live, StoreConfig::snapshot_catchup_grace after the send
  // succeeded, and when this replica becomes leader again.
  struct SnapshotLogHold {
    uint64_t index = 0;        // the snapshot's Raft index
    int64_t sent_mono_ns = 0;  // when the receiver answered OK; 0 while it is sent
    uint64_t send_id = 0;      // OutgoingSnapshot::send_id: whose outcome counts
  };
  std::map<uint64_t, SnapshotLogHold> snapshot_log_holds_ ABSL_GUARDED_BY(mu_);
  uint64_t last_snapshot_send_id_ ABSL_GUARDED_BY(mu_) = 0;  // ids start at 1
};

}  // namespace rangedb::ranges
