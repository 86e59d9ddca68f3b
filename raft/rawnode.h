// RawNode: the owner-facing API of one Raft replica (etcd's RawNode).
//
// The owner drives a RawNode from one thread: it calls Tick() on a timer, Step() for
// every message that arrives, Propose*/Campaign/TransferLeader/ReadIndex on client
// demand, and, whenever HasReady(), takes a Ready and handles it:
//
//   DURABILITY CONTRACT — handle a Ready in exactly this order:
//   1. Persist, atomically and (if rd.must_sync) synced: rd.snapshot (if set),
//      then rd.entries (appending, truncating any conflicting suffix), then
//      rd.hard_state (if set). These are the promises raft made (a vote, an
//      acknowledged entry); a message sent before they are durable can make a crashed
//      and restarted replica break them.
//   2. Send rd.messages (in any order; the network may drop or reorder them).
//      One exception: a leader's MsgApp and MsgHeartbeat of its current term may be
//      sent before step 1 (in parallel with its own fsync, Raft thesis §10.2.1).
//      They promise nothing about the leader's disk: raft counts the leader's own
//      entries toward a commit quorum only once Advance() reported them persisted,
//      so a follower's acknowledgement stepped in before that cannot commit an entry
//      held durably by fewer than a quorum. Everything else (votes, responses, a
//      follower's acknowledgements, snapshots) carries a promise and must wait.
//   3. Apply rd.committed_entries to the state machine, in order; call
//      ApplyConfChange() for each ENTRY_CONF_CHANGE entry as it is applied; serve
//      rd.read_states once the applied index reaches their index.
//   4. Call Advance().
// Only one Ready may be outstanding: GetReady() again only after Advance(). Step(),
// Tick() and proposals may still be called in between. Advance() is also where a
// leader acknowledges its own persisted entries (Raft::OnEntriesPersisted), which may
// commit them.
//
// After a crash, restart with a RawNode over the same Storage; set Config::applied to
// the state machine's durable applied index (or the snapshot's index if the state
// machine is rebuilt from it). Committed entries above it come out again in Readys.
//
// Storage failures (raft/storage.h, StorageFailure): a Storage error other than the
// expected kinds fails the RawNode permanently. failure() then holds the error, calls
// that return a Status return it, the others do nothing, HasReady() is false and
// GetReady() returns an empty Ready. The owner should check failure() after it drives
// the node and stop using it (ranges/ marks the replica corrupt).
//
// Not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/raft.pb.h"
#include "raft/raft.h"
#include "raft/ready.h"

namespace rangedb::raft {

// A point-in-time view of a replica, for monitoring, tests and lease checks.
struct Status {
  uint64_t id = kNone;
  raftpb::HardState hard_state;
  SoftState soft_state;
  uint64_t applied = 0;
  uint64_t lead_transferee = kNone;
  TrackerConfig config;
  // Per-peer replication progress; only filled on the leader.
  std::map<uint64_t, Progress> progress;
  // Tick counter, and (leader) the quorum-contact tick for lease reads; see
  // Raft::QuorumContactTick().
  uint64_t ticks = 0;
  uint64_t quorum_contact_tick = 0;
};

class RawNode {
 public:
  // Builds a replica from config.storage. A new group's storage carries the initial
  // membership (MemoryStorage::SetInitialConfState), or the node joins empty and
  // receives a snapshot from the leader.
  static absl::StatusOr<std::unique_ptr<RawNode>> Create(const Config& config);

  void Tick();
  // Starts an election now (a follower, pre-candidate or candidate; no-op on leader).
  absl::Status Campaign();
  // Proposes a command. Errors: ProposalDropped (no leader known, transfer in
  // progress, uncommitted limit), InvalidArgument (entry too large). Success means
  // only "accepted for replication": the entry may still be lost if leadership
  // changes; watch committed entries to learn the outcome.
  absl::Status Propose(std::string data);
  // Proposes a membership change. Refused changes (one already pending, a joint
  // change while joint, ...) are appended as empty normal entries.
  absl::Status ProposeConfChange(const raftpb::ConfChange& cc);
  // Applies a committed conf change (call while applying its entry).
  absl::StatusOr<raftpb::ConfState> ApplyConfChange(const raftpb::ConfChange& cc);
  // Feeds a message from a peer. Local message types are refused; responses from
  // peers that are not in the configuration are ignored (NotFound).
  absl::Status Step(raftpb::Message m);
  // Asks the leader to hand leadership to `transferee`.
  void TransferLeader(uint64_t transferee);
  // Instead of Step for a leader's MSG_TIMEOUT_NOW that the owner will not act on
  // (this node must not campaign now): tells the leader, which ends the transfer and
  // takes proposals again at once (Raft::RefuseTimeoutNow).
  // REQUIRES: timeout_now.type() == MSG_TIMEOUT_NOW.
  void RefuseTimeoutNow(const raftpb::Message& timeout_now);
  // Requests a linearizable read point; the answer arrives as a ReadState carrying
  // `ctx` in a later Ready. ctx must be unique among outstanding reads.
  absl::Status ReadIndex(std::string ctx);
  // The owner failed to deliver a message to `id`.
  void ReportUnreachable(uint64_t id);
  // The owner finished (or failed) sending a snapshot to `id`.
  void ReportSnapshot(uint64_t id, bool failed);

  // Non-const: reading Storage may fail the node.
  bool HasReady();
  // REQUIRES: no Ready outstanding (Advance() called after the previous GetReady()).
  Ready GetReady();
  // REQUIRES: a Ready is outstanding and was handled per the durability contract.
  void Advance();

  Status GetStatus() const;
  uint64_t id() const { return raft_->id(); }
  // OK, or the storage error that failed this node (see the file comment).
  const absl::Status& failure() const { return failure_; }
  // Direct access, for tests and the simulator.
  Raft& raft() { return *raft_; }
  const Raft& raft() const { return *raft_; }

 private:
  explicit RawNode(std::unique_ptr<Raft> r);

  // Runs f unless the node failed; a StorageFailure thrown by f fails the node.
  // Returns whether f ran to completion.
  template <typename F>
  bool Guarded(F&& f);
  bool HasReadyUnguarded() const;
  Ready GetReadyUnguarded();
  void AdvanceUnguarded();

  std::unique_ptr<Raft> raft_;
  absl::Status failure_;
  SoftState prev_soft_;
  raftpb::HardState prev_hard_;
  // What the outstanding Ready asked the owner to persist and apply.
  bool ready_outstanding_ = false;
  uint64_t ready_last_index_ = 0;
  uint64_t ready_last_term_ = 0;
  uint64_t ready_snapshot_index_ = 0;
  uint64_t ready_applied_index_ = 0;
  uint64_t ready_applied_bytes_ = 0;
};

}  // namespace rangedb::raft
