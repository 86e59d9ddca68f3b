// Replica: loading, the Raft side (inputs, Ready handling), quiescence.
#include <cstdlib>
#include <random>

#include "absl/strings/str_cat.h"
#include "base/limits.h"
#include "base/random.h"
#include "base/request_limits.h"
#include "ranges/engine_state.h"
#include "ranges/raft_command_codec.h"
#include "ranges/replica.h"
#include "ranges/store_context.h"
#include "spdlog/spdlog.h"
#include "storage/keys.h"
#include "storage/lock_table.h"

namespace rangedb::ranges {
namespace {

// Raft tick times kept for lease checks: more than any useful quorum-contact age.
constexpr size_t kTickHistory = 256;

bool IsVoteRequest(const raftpb::Message& m) {
  return m.type() == raftpb::MSG_VOTE || m.type() == raftpb::MSG_PRE_VOTE;
}

// The small messages that keep leaders and elections working: they get their own inbox
// budget, so that appends filling the inbox cannot cost a follower its vote or its
// leader (an unheard leader means an election).
bool IsControlMessage(const raftpb::Message& m) {
  switch (m.type()) {
    case raftpb::MSG_VOTE:
    case raftpb::MSG_VOTE_RESP:
    case raftpb::MSG_PRE_VOTE:
    case raftpb::MSG_PRE_VOTE_RESP:
    case raftpb::MSG_HEARTBEAT:
    case raftpb::MSG_HEARTBEAT_RESP:
    case raftpb::MSG_TIMEOUT_NOW:
    case raftpb::MSG_TRANSFER_REFUSED:
      return true;
    default:
      return false;
  }
}

}  // namespace

Replica::Replica(StoreContext* store, uint64_t range_id)
    : store_(store),
      range_id_(range_id),
      latches_(/*max_latch_holders=*/10000, store->time()),
      wait_queue_(store->time()) {}

absl::StatusOr<std::unique_ptr<Replica>> Replica::Load(StoreContext* store, uint64_t range_id) {
  std::unique_ptr<Replica> r(new Replica(store, range_id));
  absl::MutexLock lock(&r->mu_);
  Engine* engine = store->engine();
  absl::StatusOr<bool> found = ReadLocalProto(*engine, keys::DescriptorKey(range_id), &r->desc_);
  if (!found.ok()) return found.status();
  if (!*found) return absl::NotFoundError(absl::StrCat("range ", range_id, " has no descriptor"));
  if (absl::StatusOr<bool> s =
          ReadLocalProto(*engine, keys::AppliedStateKey(range_id), &r->applied_);
      !s.ok()) {
    return s.status();
  }
  if (absl::StatusOr<bool> s = ReadLocalProto(*engine, keys::LeaseKey(range_id), &r->lease_);
      !s.ok()) {
    return s.status();
  }
  proto::Timestamp gc_threshold;
  if (absl::StatusOr<bool> s =
          ReadLocalProto(*engine, keys::GcThresholdKey(range_id), &gc_threshold);
      !s.ok()) {
    return s.status();
  }
  r->gc_threshold_ = TimestampFromProto(gc_threshold);
  for (const kvpb::ReplicaDescriptor& rd : r->desc_.replicas()) {
    if (rd.node_id() == store->config().node_id) r->replica_id_ = rd.replica_id();
  }
  if (r->replica_id_ == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("range ", range_id, " has no replica on node ", store->config().node_id));
  }
  RaftLogOptions log_options;
  log_options.cache_bytes_max = store->config().raft_entry_cache_bytes;
  absl::StatusOr<std::unique_ptr<RaftLogStorage>> log =
      RaftLogStorage::Open(engine, range_id, log_options);
  if (!log.ok()) return log.status();
  r->log_ = std::move(*log);

  const StoreConfig& cfg = store->config();
  raft::Config rc;
  rc.id = r->replica_id_;
  rc.election_ticks = cfg.election_ticks;
  rc.heartbeat_ticks = cfg.heartbeat_ticks;
  rc.storage = r->log_.get();
  // The state machine may be ahead of the log's snapshot (snapshots carry data newer
  // than their index); committed entries at or below applied are skipped on apply.
  rc.applied = std::min(r->applied_.raft_applied_index(), r->log_->state().hard_state.commit());
  rc.applied = std::max(rc.applied, r->log_->state().snapshot.index());
  rc.max_entry_bytes = cfg.raft_max_entry_bytes;
  rc.max_uncommitted_entries_bytes = cfg.raft_max_uncommitted_bytes;
  rc.max_msg_bytes = cfg.raft_max_msg_bytes;
  rc.max_inflight_bytes = cfg.raft_max_inflight_bytes;
  rc.max_committed_bytes_per_ready = cfg.raft_max_committed_bytes_per_ready;
  rc.check_quorum = true;
  rc.pre_vote = true;
  rc.disable_proposal_forwarding = true;  // only the leaseholder proposes
  std::mt19937_64 rng(std::random_device{}());
  rc.random = [rng]() mutable { return rng(); };
  absl::StatusOr<std::unique_ptr<raft::RawNode>> raw = raft::RawNode::Create(rc);
  if (!raw.ok()) return raw.status();
  r->raw_ = std::move(*raw);
  r->tick_times_ns_.push_back(store->time()->MonotonicNanos());
  r->first_tick_number_ = r->raw_->raft().ticks();
  return r;
}

kvpb::RangeDescriptor Replica::Descriptor() const {
  absl::MutexLock lock(&mu_);
  return desc_;
}

bool Replica::EnqueueRaftMessage(rangespb::RaftMessageRequest message) {
  {
    absl::MutexLock lock(&mu_);
    if (!corruption_.ok()) return false;
    const size_t bytes = message.ByteSizeLong() + kQueuedItemOverheadBytes;
    const bool control = IsControlMessage(message.message());
    size_t& held = control ? inbox_control_bytes_ : inbox_bytes_;
    const size_t max = control ? store_->config().raft_inbox_control_max_bytes
                               : store_->config().raft_inbox_max_bytes;
    if (held + bytes > max) return false;
    if (!store_->TryReserveInboxBytes(bytes, control)) return false;
    held += bytes;
    inbox_.push_back(std::move(message));
  }
  store_->EnqueueRange(range_id_);
  return true;
}

void Replica::Tick(bool leaders_only) {
  {
    absl::MutexLock lock(&mu_);
    if (quiescent_ || !corruption_.ok()) return;
    if (leaders_only && soft_.raft_state != raft::StateType::kLeader) return;
    ++pending_ticks_;
  }
  store_->EnqueueRange(range_id_);
}

void Replica::OnNodeDead(uint64_t node_id) {
  {
    absl::MutexLock lock(&mu_);
    if (!quiescent_ || soft_.lead == raft::kNone || NodeOfReplicaLocked(soft_.lead) != node_id) {
      return;
    }
    UnquiesceLocked();
  }
  store_->EnqueueRange(range_id_);
}

void Replica::ReportUnreachable(uint64_t to_node_id) {
  absl::MutexLock lock(&mu_);
  for (const kvpb::ReplicaDescriptor& rd : desc_.replicas()) {
    if (rd.node_id() == to_node_id) raw_->ReportUnreachable(rd.replica_id());
  }
}

void Replica::TransferLeadershipAway() {
  {
    absl::MutexLock lock(&mu_);
    transfer_requested_ = true;
    UnquiesceLocked();
  }
  store_->EnqueueRange(range_id_);
}

void Replica::UnquiesceLocked() {
  if (quiescent_) spdlog::debug("r{}: replica {} wakes up", range_id_, replica_id_);
  quiescent_ = false;
  idle_ticks_ = 0;
}

uint64_t Replica::NodeOfReplicaLocked(uint64_t replica_id) const {
  for (const kvpb::ReplicaDescriptor& rd : desc_.replicas()) {
    if (rd.replica_id() == replica_id) return rd.node_id();
  }
  return 0;
}

raftpb::ConfState Replica::ConfStateLocked() const {
  raftpb::ConfState cs;
  for (const kvpb::ReplicaDescriptor& rd : desc_.replicas()) cs.add_voters(rd.replica_id());
  return cs;
}

std::optional<int64_t> Replica::QuorumContactNanosLocked() const {
  const uint64_t tick = raw_->raft().QuorumContactTick();
  if (tick < first_tick_number_ || tick - first_tick_number_ >= tick_times_ns_.size()) {
    return std::nullopt;
  }
  return tick_times_ns_[tick - first_tick_number_];
}

void Replica::HandleMessageLocked(rangespb::RaftMessageRequest& m) {
  last_heard_tick_[m.message().from()] = raw_->raft().ticks();
  if (IsVoteRequest(m.message()) && !store_->VotingAllowed()) return;
  // A draining (or clock-fenced) store must not become leader: a transfer would make
  // it campaign at once, past the ticks it no longer takes. It says no rather than
  // dropping the message (review of issue 14, F6): Raft refuses proposals while a
  // transfer is pending, so a silent refusal stalled the leader's writes for an
  // election timeout per attempt. The leader ends the transfer when the refusal
  // arrives, stays leader, and its drain tries the next replica.
  if (m.message().type() == raftpb::MSG_TIMEOUT_NOW && !store_->CampaignAllowed()) {
    spdlog::info("r{}: replica {} refuses leadership transfer from {}: the store is draining",
                 range_id_, replica_id_, m.message().from());
    raw_->RefuseTimeoutNow(m.message());
    return;
  }
  if (m.quiesce()) {
    // A heartbeat that also asks us to stop ticking. Accept it only from the leader
    // we follow, at our term, when we hold everything it committed.
    const raft::Raft& r = raw_->raft();
    if (m.message().from() == soft_.lead && m.message().term() == r.term() &&
        log_->state().last_index >= m.message().commit()) {
      spdlog::debug("r{}: replica {} quiesces with its leader", range_id_, replica_id_);
      quiescent_ = true;
    }
  } else if (quiescent_ && m.message().type() != raftpb::MSG_HEARTBEAT_RESP &&
             !(m.message().type() == raftpb::MSG_HEARTBEAT && m.message().from() == soft_.lead)) {
    // Heartbeats of our leader (a leader's last tick may follow its quiesce message)
    // and heartbeat responses are not work; anything else wakes the range.
    UnquiesceLocked();
  }
  NoteStagedSnapshotLocked(m.message());
  if (absl::Status s = raw_->Step(m.message()); !s.ok()) {
    spdlog::debug("r{}: dropped raft message from {}: {}", range_id_, m.message().from(),
                  s.ToString());
  }
}

void Replica::MaybeRequestLeaseLocked() {
  const raft::Raft& r = raw_->raft();
  if (soft_.raft_state != raft::StateType::kLeader) return;
  if (lease_.term() == r.term() && lease_.holder().replica_id() == replica_id_) return;
  if (lease_requested_term_ == r.term()) return;
  lease_requested_term_ = r.term();
  auto p = std::make_shared<Proposal>();
  p->command.set_command_id(RandomBytes(16));
  rangespb::Lease* lease = p->command.mutable_new_lease();
  lease->set_term(r.term());
  lease->mutable_holder()->set_node_id(store_->config().node_id);
  lease->mutable_holder()->set_replica_id(replica_id_);
  TimestampToProto(store_->clock()->Now(), lease->mutable_start());
  to_propose_.push_front(std::move(p));
}

void Replica::ProposePendingLocked() {
  to_propose_bytes_ = 0;  // the whole queue is handed to Raft (or answered) below
  while (!to_propose_.empty()) {
    std::shared_ptr<Proposal> p = std::move(to_propose_.front());
    to_propose_.pop_front();
    rangespb::RaftCommand& cmd = p->command;
    // Writes carry the lease they were evaluated under and the next lease index;
    // lease requests and log truncations apply whatever the lease.
    if (!cmd.has_new_lease() && cmd.truncate_log_index() == 0) {
      LeaseCheck lease = CheckLeaseLocked();
      if (!lease.valid || lease.sequence != cmd.proposer_lease_sequence()) {
        p->Finish(absl::UnavailableError("lease changed before the write was proposed"));
        continue;
      }
      cmd.set_max_lease_index(++next_lease_index_);
    }
    // At or above every version the command writes (a proposer may have set it
    // higher for a write pushed ahead of the clock), so applying it forwards clocks.
    const Timestamp now = store_->clock()->Now();
    if (!cmd.has_timestamp() || TimestampFromProto(cmd.timestamp()) < now) {
      TimestampToProto(now, cmd.mutable_timestamp());
    }
    if (store_->config().testing_before_propose) {
      store_->config().testing_before_propose(range_id_, &cmd);
    }
    std::string encoded = EncodeRaftCommand(cmd);
    if (encoded.size() > limits::kMaxRaftCommandBytes) {
      // One entry this large would stall every other write of the range while it
      // replicates (and may not fit a Raft message): refused, never proposed. The
      // request limits keep commands below this; reaching it is a miscount.
      store_->mutable_metrics()->proposals_too_large.fetch_add(1, std::memory_order_relaxed);
      p->Finish(limits::CheckLimit(absl::StrCat("range ", range_id_, ": the Raft command"),
                                   encoded.size(), limits::kMaxRaftCommandBytes,
                                   "kMaxRaftCommandBytes"));
      continue;
    }
    absl::Status s = raw_->Propose(std::move(encoded));
    if (!s.ok()) {
      p->Finish(absl::UnavailableError(absl::StrCat("proposal dropped: ", s.message())));
      continue;
    }
    store_->mutable_metrics()->proposals.fetch_add(1, std::memory_order_relaxed);
    // A leader appends an accepted proposal at the end of its log.
    p->index = raw_->raft().log().LastIndex();
    p->term = raw_->raft().term();
    in_flight_[cmd.command_id()] = std::move(p);
  }
}

std::optional<StagedReady> Replica::StageReady(WriteBatch* batch) {
  absl::MutexLock lock(&mu_);
  if (!corruption_.ok()) {
    MarkCorruptLocked(corruption_);  // answers what was queued since
    return std::nullopt;
  }
  while (!inbox_.empty()) {
    rangespb::RaftMessageRequest m = std::move(inbox_.front());
    inbox_.pop_front();
    HandleMessageLocked(m);
  }
  ClearInboxLocked();
  {
    // A received snapshot Raft took is installed from its staged file below; the
    // files of the others (stale, or replaced by a newer one) go now.
    std::string used;
    if (const std::optional<raftpb::Snapshot>& pending = raw_->raft().log().UnstableSnapshot();
        pending.has_value()) {
      rangespb::SnapshotData data;
      if (data.ParseFromString(pending->data())) used = data.staged_file();
    }
    RemoveUnusedStagedSnapshotsLocked(used);
  }
  for (; pending_ticks_ > 0; --pending_ticks_) {
    raw_->Tick();
    tick_times_ns_.push_back(store_->time()->MonotonicNanos());
    if (tick_times_ns_.size() > kTickHistory) {
      tick_times_ns_.pop_front();
      ++first_tick_number_;
    }
    MaybeQuiesceLocked();
  }
  if (transfer_requested_) {
    transfer_requested_ = false;
    // A transfer in progress runs to its end (a draining or clock-fenced target
    // refuses it, and the leader ends it when the refusal arrives; one whose target
    // never answers lapses after an election timeout, and the leader takes no write
    // until then). The next one goes to the next candidate in turn, so one refusing
    // target cannot keep the leadership here. Candidates: the replicas on live nodes
    // heard from within the last election timeout — not one that cannot answer
    // (retired as corrupt on a live node, cut off), which would cost an election
    // timeout of blocked writes per try; only if none was heard from lately, every
    // replica on a live node.
    if (soft_.raft_state == raft::StateType::kLeader &&
        raw_->raft().lead_transferee() == raft::kNone) {
      const uint64_t now = raw_->raft().ticks();
      std::vector<uint64_t> live, answering;
      for (const kvpb::ReplicaDescriptor& rd : desc_.replicas()) {
        if (rd.replica_id() == replica_id_ || !store_->NodeLive(rd.node_id())) continue;
        live.push_back(rd.replica_id());
        auto heard = last_heard_tick_.find(rd.replica_id());
        if (heard != last_heard_tick_.end() &&
            now - heard->second <= static_cast<uint64_t>(store_->config().election_ticks)) {
          answering.push_back(rd.replica_id());
        }
      }
      const std::vector<uint64_t>& targets = answering.empty() ? live : answering;
      if (!targets.empty()) raw_->TransferLeader(targets[transfer_attempts_++ % targets.size()]);
    }
  }
  MaybeRequestLeaseLocked();
  if (!to_propose_.empty()) UnquiesceLocked();
  ProposePendingLocked();
  if (CheckRaftFailureLocked() || !raw_->HasReady()) return std::nullopt;

  StagedReady staged;
  staged.ready = raw_->GetReady();
  if (CheckRaftFailureLocked()) return std::nullopt;
  raft::Ready& rd = staged.ready;
  staged.log_write.emplace(log_->NewWrite(batch));
  if (rd.snapshot.has_value()) {
    rangespb::SnapshotData snapshot;
    if (!snapshot.ParseFromString(rd.snapshot->data())) snapshot.Clear();  // refused below
    // Raft already restored the snapshot in memory: if its data cannot be installed,
    // this replica cannot go on.
    absl::Status s = IngestSnapshotLocked(snapshot);
    if (s.ok()) s = staged.log_write->ApplySnapshot(*rd.snapshot);
    if (!s.ok()) {
      // The error's own code: DataLoss (no data) retires the replica, an I/O error
      // stops the node (docs/replication.md, "Corrupt replicas").
      MarkCorruptLocked(absl::Status(
          s.code(), absl::StrCat("range ", range_id_, ": installing a snapshot: ", s.message())));
      return std::nullopt;
    }
    staged.installs_snapshot = true;
  }
  staged.log_write->Append(rd.entries);
  if (rd.hard_state.has_value()) staged.log_write->SetHardState(*rd.hard_state);
  SendLeaderMessagesEarlyLocked(rd.messages);
  return staged;
}

bool Replica::FinishReady(StagedReady staged) {
  absl::MutexLock lock(&mu_);
  raft::Ready& rd = staged.ready;
  log_->OnCommitted(std::move(*staged.log_write));
  if (staged.installs_snapshot) {
    LoadStateAfterSnapshotLocked();
    spdlog::info("r{}: installed snapshot at index {} (state at applied index {})", range_id_,
                 rd.snapshot->metadata().index(), applied_.raft_applied_index());
    FinishProposalsCoveredBySnapshotLocked(applied_.raft_applied_index());
    // The snapshot may carry a newer lease: what was proposed under an older one and
    // is not in the snapshot can no longer apply.
    FailStaleProposalsLocked();
  }
  if (rd.soft_state.has_value()) {
    const bool was_leader = soft_.raft_state == raft::StateType::kLeader;
    soft_ = *rd.soft_state;
    const bool is_leader = soft_.raft_state == raft::StateType::kLeader;
    if (is_leader != was_leader) {
      spdlog::info("r{}: replica {} {} leadership (term {})", range_id_, replica_id_,
                   is_leader ? "acquired" : "lost", raw_->raft().term());
    }
    if (is_leader && !was_leader) {
      UnquiesceLocked();
      ForgetInternalProposalsOfOlderTermsLocked();
      // Raft starts every follower's progress afresh: holds of an earlier term are void.
      snapshot_log_holds_.clear();
    }
  }
  SendMessagesLocked(rd.messages);
  ApplyCommittedLocked(rd.committed_entries);
  if (!corruption_.ok()) return false;
  raw_->Advance();
  if (CheckRaftFailureLocked()) return false;
  MaybeRequestLeaseLocked();
  return raw_->HasReady() || !to_propose_.empty() || !inbox_.empty();
}

void Replica::ClearInboxLocked() {
  inbox_.clear();
  store_->ReleaseInboxBytes(inbox_bytes_, /*control=*/false);
  store_->ReleaseInboxBytes(inbox_control_bytes_, /*control=*/true);
  inbox_bytes_ = 0;
  inbox_control_bytes_ = 0;
}

bool Replica::QueueProposalLocked(std::shared_ptr<Proposal> p) {
  const size_t bytes = p->command.ByteSizeLong() + kQueuedItemOverheadBytes;
  // An empty queue takes any proposal: Raft's entry size limit applies to it later.
  if (!to_propose_.empty() &&
      to_propose_bytes_ + bytes > store_->config().raft_proposal_queue_max_bytes) {
    store_->mutable_metrics()->proposals_refused_queue_full.fetch_add(1, std::memory_order_relaxed);
    p->Finish(absl::UnavailableError(absl::StrCat(
        "range ", range_id_, ": too many proposal bytes waiting (",
        store_->config().raft_proposal_queue_max_bytes, "); the write was not proposed")));
    return false;
  }
  to_propose_bytes_ += bytes;
  to_propose_.push_back(std::move(p));
  return true;
}

void Replica::SendLeaderMessagesEarlyLocked(std::vector<raftpb::Message>& messages) {
  // A leader may send its appends and heartbeats while it writes the same entries to
  // its own disk (Raft thesis §10.2.1; allowed by raft/rawnode.h): a follower's
  // acknowledgement means the follower's copy is durable, and raft counts this
  // leader's own copy only from Advance() on, after this pass's synced commit —
  // whenever the acknowledgement is stepped. That takes one fsync off the commit path.
  // Everything else (votes, responses, snapshots) still waits for the commit.
  if (soft_.raft_state != raft::StateType::kLeader) return;
  std::vector<raftpb::Message> early;
  std::vector<raftpb::Message> later;
  for (raftpb::Message& m : messages) {
    const bool from_leader = m.type() == raftpb::MSG_APP || m.type() == raftpb::MSG_HEARTBEAT;
    (from_leader && m.term() == raw_->raft().term() ? early : later).push_back(std::move(m));
  }
  messages = std::move(later);
  SendMessagesLocked(early);
}

void Replica::SendMessagesLocked(std::vector<raftpb::Message>& messages) {
  for (raftpb::Message& m : messages) {
    const uint64_t to_node = NodeOfReplicaLocked(m.to());
    if (to_node == 0) continue;
    if (m.type() == raftpb::MSG_SNAP) {
      // Streamed by the store's sender, which reports the outcome (OnSnapshotSent).
      StartSnapshotSendLocked(std::move(m), to_node);
      continue;
    }
    rangespb::RaftMessageRequest req;
    req.set_range_id(range_id_);
    req.set_from_node_id(store_->config().node_id);
    req.set_to_node_id(to_node);
    *req.mutable_message() = std::move(m);
    store_->SendRaftMessage(std::move(req));
  }
}

void Replica::MaybeQuiesceLocked() {
  // A leader with nothing in flight, whose followers all hold and have applied...
  // everything, stops ticking and tells followers to do the same. Any proposal or
  // message wakes the range again.
  if (soft_.raft_state != raft::StateType::kLeader || !to_propose_.empty() || !in_flight_.empty()) {
    idle_ticks_ = 0;
    return;
  }
  const raft::Status st = raw_->GetStatus();
  const uint64_t last = log_->state().last_index;
  if (st.hard_state.commit() != last || applied_.raft_applied_index() < last ||
      lease_.term() != st.hard_state.term()) {
    idle_ticks_ = 0;
    return;
  }
  for (const auto& [id, pr] : st.progress) {
    if (id != replica_id_ && (pr.match != last || !store_->NodeLive(NodeOfReplicaLocked(id)))) {
      idle_ticks_ = 0;
      return;
    }
  }
  if (++idle_ticks_ < store_->config().quiesce_after_idle_ticks) return;
  quiescent_ = true;
  for (const auto& [id, pr] : st.progress) {
    if (id == replica_id_) continue;
    rangespb::RaftMessageRequest req;
    req.set_range_id(range_id_);
    req.set_from_node_id(store_->config().node_id);
    req.set_to_node_id(NodeOfReplicaLocked(id));
    req.set_quiesce(true);
    raftpb::Message* m = req.mutable_message();
    m->set_type(raftpb::MSG_HEARTBEAT);
    m->set_from(replica_id_);
    m->set_to(id);
    m->set_term(st.hard_state.term());
    m->set_commit(last);
    store_->SendRaftMessage(std::move(req));
  }
}

ReplicaStatus Replica::Status() const {
  absl::MutexLock lock(&mu_);
  ReplicaStatus s;
  s.descriptor = desc_;
  s.replica_id = replica_id_;
  s.leader_replica_id = soft_.lead;
  s.term = raw_->raft().term();
  s.commit_index = log_->state().hard_state.commit();
  s.applied_index = applied_.raft_applied_index();
  s.first_log_index = log_->state().truncated_index + 1;
  s.last_log_index = log_->state().last_index;
  s.lease = lease_;
  const LeaseCheck lease = CheckLeaseLocked();
  s.lease_valid = lease.valid;
  s.lease_end_mono_ns = lease.end_mono_ns;
  s.quiescent = quiescent_;
  s.proposals_in_flight = in_flight_.size();
  s.transfers_started = transfer_attempts_;
  if (soft_.raft_state == raft::StateType::kLeader) {
    s.lead_transferee = raw_->raft().lead_transferee();
    for (const auto& [id, pr] : raw_->GetStatus().progress) {
      if (id != replica_id_) s.followers[id] = {pr.match, pr.next, pr.state, pr.pending_snapshot};
    }
  }
  return s;
}

bool Replica::IsLeaseholder() const { return CheckLease().valid; }

}  // namespace rangedb::ranges
