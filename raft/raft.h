// Raft: the consensus state machine of one replica (Ongaro & Ousterhout, "In Search of
// an Understandable Consensus Algorithm", and Ongaro's thesis), in the style of etcd's
// raft library. Pure and deterministic: no threads, sockets, clocks or files. Time is
// the number of Tick() calls; randomness comes from Config::random.
//
// Most owners use RawNode (raft/rawnode.h), which wraps Raft with the Ready/Advance
// protocol and states the durability contract. Raft itself is public so that tests
// can drive it message by message.
//
// Roles are switched by swapping the tick and step member functions; an illegal
// transition (e.g. leader -> candidate) is a crash.
//
// Source layout: raft.cc (construction, roles, Step dispatch), raft_election.cc
// (campaigns, votes), raft_replication.cc (append/heartbeat/snapshot, both sides),
// raft_leader.cc (leader-only message handling, read index, transfer),
// raft_config.cc (membership changes).
//
// Not thread-safe: one thread drives a Raft.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/raft.pb.h"
#include "raft/confchange.h"
#include "raft/log.h"
#include "raft/read_only.h"
#include "raft/storage.h"
#include "raft/tracker.h"

namespace rangedb::raft {

// Node id 0 means "nobody".
inline constexpr uint64_t kNone = 0;

enum class StateType { kFollower, kCandidate, kLeader, kPreCandidate };
const char* StateTypeName(StateType s);

struct Config {
  // This replica's id. REQUIRES: != kNone.
  uint64_t id = kNone;
  // A follower that hears nothing from a leader for a randomized timeout in
  // [election_ticks, 2*election_ticks) campaigns. REQUIRES: > heartbeat_ticks.
  int election_ticks = 10;
  // A leader sends heartbeats every heartbeat_ticks. REQUIRES: > 0.
  int heartbeat_ticks = 1;
  // The persisted log and state. REQUIRES: non-null, outlives the Raft.
  Storage* storage = nullptr;
  // The last index the owner's state machine has applied (on restart). Committed
  // entries after it are handed out again.
  uint64_t applied = 0;
  // Byte limit of the entries in one MsgApp (at least one entry is always sent).
  uint64_t max_msg_bytes = 1 << 20;
  // Byte limit of the committed entries handed out in one Ready.
  uint64_t max_committed_bytes_per_ready = 64 << 20;
  // Payload bytes of uncommitted entries a leader accepts before dropping proposals
  // (so a partitioned leader cannot grow its log without bound). 0 = no limit.
  uint64_t max_uncommitted_entries_bytes = 0;
  // Largest payload of a single proposed entry; larger proposals are rejected with
  // InvalidArgument. 0 = no limit.
  uint64_t max_entry_bytes = 0;
  // Inflight window per follower in replicate state: messages, and bytes (0 = none).
  int max_inflight_msgs = 256;
  uint64_t max_inflight_bytes = 0;
  // A leader steps down when it has not heard from a quorum within an election
  // timeout; followers ignore vote requests while they hear from a leader. Required
  // for lease reads.
  bool check_quorum = true;
  // Pre-vote (thesis §9.6): a candidate first asks whether it could win, without
  // bumping its term, so a partitioned node rejoining does not disrupt the leader.
  bool pre_vote = true;
  ReadOnlyOption read_only_option = ReadOnlyOption::kSafe;
  // Followers drop proposals instead of forwarding them to the leader.
  bool disable_proposal_forwarding = false;
  // Bound on ReadIndex requests queued at a leader (pending a heartbeat round or a
  // current-term commit). Further requests are dropped.
  int max_pending_read_index = 4096;
  // Randomness for election timeouts. Empty = SplitMix64 seeded with `id`.
  std::function<uint64_t()> random;
  // TEST ONLY: commit by counting replicas of entries from earlier terms too, which
  // breaks safety (Raft paper Figure 8). Lets the simulator prove its checks fail.
  bool testing_unsafe_commit_old_term = false;
  // TEST ONLY, for unit tests that drive a Raft directly and never persist (their
  // memory is their disk): the leader counts its own entries as soon as it appends
  // them instead of once the owner reports them persisted (OnEntriesPersisted).
  // Production owners (RawNode) leave it off.
  bool testing_ack_own_entries_on_append = false;

  [[nodiscard]] absl::Status Validate() const;
};

// Volatile state that the owner may want to observe (not persisted).
struct SoftState {
  uint64_t lead = kNone;
  StateType raft_state = StateType::kFollower;
  bool operator==(const SoftState&) const = default;
};

// A proposal the leader did not take; retry later (possibly elsewhere).
absl::Status ProposalDroppedError(std::string_view why);
inline bool IsProposalDropped(const absl::Status& s) { return absl::IsUnavailable(s); }

class Raft {
 public:
  // Builds a follower from the storage's initial state. Fails on an invalid config or
  // unreadable storage.
  static absl::StatusOr<std::unique_ptr<Raft>> Create(const Config& config);

  // Advances logical time by one tick.
  void Tick() {
    ++ticks_;
    (this->*tick_)();
  }
  // Feeds one message (from a peer, or a local MSG_HUP / MSG_BEAT / MSG_PROP ...).
  // Errors: ProposalDropped for proposals and reads that cannot be taken now;
  // InvalidArgument for oversized entries.
  absl::Status Step(raftpb::Message m);

  // Applies a committed ConfChange to the active configuration; returns the new one.
  // Deterministic on every replica: an invalid change fails the same way everywhere
  // and leaves the configuration unchanged.
  absl::StatusOr<raftpb::ConfState> ApplyConfChange(const raftpb::ConfChange& cc);

  // The owner applied committed entries through `applied` (and persisted what the
  // Ready asked for): frees uncommitted budget and may auto-leave a joint config.
  void AdvanceApplied(uint64_t applied, uint64_t applied_payload_bytes);
  // The owner will not let this node campaign now (say, its store drains) and so does
  // not step the leader's MSG_TIMEOUT_NOW `m`: this answers it with
  // MSG_TRANSFER_REFUSED, and the leader ends the transfer at once. Without the answer
  // the leader would refuse proposals until the transfer lapses, an election timeout
  // later (thesis section 3.10). Term rules as for a stepped message: a stale `m` is
  // ignored, a newer term is adopted.
  // REQUIRES: m.type() == MSG_TIMEOUT_NOW.
  void RefuseTimeoutNow(const raftpb::Message& m);
  // The owner persisted the entries it was handed (RaftLog::StableTo ran). A leader
  // counts its own log toward commit quorums only through the persisted index, so this
  // is where its own acknowledgement happens; may commit (and queue MsgApps carrying
  // the new commit index).
  void OnEntriesPersisted();

  // Messages to send and reads to serve, taken by the owner (RawNode).
  std::vector<raftpb::Message> TakeMessages() { return std::move(msgs_); }
  std::vector<ReadState> TakeReadStates() { return std::move(read_states_); }
  const std::vector<raftpb::Message>& messages() const { return msgs_; }
  const std::vector<ReadState>& read_states() const { return read_states_; }

  SoftState GetSoftState() const { return {lead_, state_}; }
  raftpb::HardState GetHardState() const;

  uint64_t id() const { return id_; }
  uint64_t term() const { return term_; }
  uint64_t vote() const { return vote_; }
  uint64_t lead() const { return lead_; }
  StateType state() const { return state_; }
  bool is_learner() const { return is_learner_; }
  uint64_t lead_transferee() const { return lead_transferee_; }
  uint64_t pending_conf_index() const { return pending_conf_index_; }
  uint64_t uncommitted_bytes() const { return uncommitted_bytes_; }
  const RaftLog& log() const { return log_; }
  RaftLog& mutable_log() { return log_; }
  const ProgressTracker& tracker() const { return trk_; }
  int randomized_election_timeout() const { return randomized_election_timeout_; }
  int election_elapsed() const { return election_elapsed_; }
  // Number of Tick() calls since this Raft was created.
  uint64_t ticks() const { return ticks_; }
  // Leader only (0 otherwise, and 0 while a leadership transfer is in progress): the
  // largest tick T such that a quorum of voters acknowledged a message this leader
  // sent at tick >= T. With check-quorum, no other leader can be elected before
  // T + election_ticks on the voters' clocks; see docs/raft.md for lease reads.
  uint64_t QuorumContactTick() const;

  // Test helpers.
  void BecomeFollower(uint64_t term, uint64_t lead);
  void BecomeCandidate();
  void BecomePreCandidate();
  void BecomeLeader();
  void set_randomized_election_timeout(int t) { randomized_election_timeout_ = t; }

 private:
  enum class CampaignType { kPreElection, kElection, kTransfer };

  explicit Raft(const Config& c);

  // raft.cc
  void Reset(uint64_t term);
  void Send(raftpb::Message m);
  void LoadState(const raftpb::HardState& hs);
  bool Promotable() const;
  bool PastElectionTimeout() const;
  void ResetRandomizedElectionTimeout();
  void TickElection();
  void TickHeartbeat();
  absl::Status StepFollower(raftpb::Message& m);
  absl::Status StepCandidate(raftpb::Message& m);
  // Handles a message whose term is higher or lower than ours; returns false if the
  // message is consumed (ignored or answered).
  bool StepTerm(const raftpb::Message& m);

  // raft_election.cc
  void Hup(CampaignType t);
  void Campaign(CampaignType t);
  VoteResult Poll(uint64_t id, raftpb::MessageType t, bool granted);
  void HandleVoteRequest(const raftpb::Message& m);

  // raft_replication.cc
  bool MaybeSendAppend(uint64_t to, bool send_if_empty);
  void SendAppend(uint64_t to) { MaybeSendAppend(to, true); }
  void SendHeartbeat(uint64_t to, const std::string& ctx);
  void BcastAppend();
  void BcastHeartbeat();
  void BcastHeartbeatWithCtx(const std::string& ctx);
  bool MaybeCommit();
  // The highest index of this replica's own log that counts toward a commit quorum:
  // the persisted prefix (or the whole log under testing_ack_own_entries_on_append).
  uint64_t OwnDurableIndex() const;
  bool AppendEntries(std::vector<raftpb::Entry>& es);
  void HandleAppendEntries(raftpb::Message& m);
  void HandleHeartbeat(const raftpb::Message& m);
  void HandleSnapshot(const raftpb::Message& m);
  bool Restore(const raftpb::Snapshot& s);
  void HandleAppendResponse(const raftpb::Message& m, Progress& pr);

  // raft_leader.cc
  absl::Status StepLeader(raftpb::Message& m);
  absl::Status HandleProposal(raftpb::Message& m);
  void HandleHeartbeatResponse(const raftpb::Message& m, Progress& pr);
  void HandleReadIndex(const raftpb::Message& m);
  void SendReadIndexResponse(const raftpb::Message& m);
  void ReleasePendingReadIndexMessages();
  // Answers a read: a local one becomes a ReadState, a forwarded one a message.
  void RespondToReadIndex(const raftpb::Message& req, uint64_t index);
  void HandleTransferLeader(const raftpb::Message& m, Progress& pr);
  void SendTimeoutNow(uint64_t to);
  void AbortLeaderTransfer() { lead_transferee_ = kNone; }
  bool CommittedEntryInCurrentTerm() const;

  // raft_config.cc
  raftpb::ConfState SwitchToConfig(ConfigAndProgress cp);

  uint64_t id_;
  uint64_t term_ = 0;
  uint64_t vote_ = kNone;
  RaftLog log_;
  ProgressTracker trk_;
  StateType state_ = StateType::kFollower;
  bool is_learner_ = false;
  uint64_t lead_ = kNone;
  // Leadership transfer target, or kNone.
  uint64_t lead_transferee_ = kNone;
  // Number of the latest MSG_TIMEOUT_NOW this node sent (its `index`): only a refusal
  // of that one ends the transfer. A refusal of an earlier TimeoutNow may arrive after
  // a later one was accepted, and ending the transfer then would let this leader take
  // proposals (and renew its lease) while the transferee campaigns.
  uint64_t timeout_now_sent_ = 0;
  // Index of the latest conf change this leader proposed; a new one is only accepted
  // once the owner applied past it (one change at a time).
  uint64_t pending_conf_index_ = 0;
  // Payload bytes of entries appended by this leader and not yet applied.
  uint64_t uncommitted_bytes_ = 0;
  ReadOnly read_only_;
  // ReadIndex requests waiting for the leader to commit an entry of its term.
  std::vector<raftpb::Message> pending_read_index_messages_;

  // Ticks since the last election timeout reset (follower/candidate) or since the
  // last check-quorum (leader).
  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_election_timeout_ = 0;
  uint64_t ticks_ = 0;

  const Config config_;
  std::function<uint64_t()> random_;

  void (Raft::*tick_)() = &Raft::TickElection;
  absl::Status (Raft::*step_)(raftpb::Message&) = &Raft::StepFollower;

  std::vector<raftpb::Message> msgs_;
  std::vector<ReadState> read_states_;
};

}  // namespace rangedb::raft
