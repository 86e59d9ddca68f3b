// Raft core: construction, role transitions, ticks and the Step dispatcher.
#include "raft/raft.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "raft/rand.h"

namespace rangedb::raft {

const char* StateTypeName(StateType s) {
  switch (s) {
    case StateType::kFollower:
      return "follower";
    case StateType::kCandidate:
      return "candidate";
    case StateType::kLeader:
      return "leader";
    case StateType::kPreCandidate:
      return "pre-candidate";
  }
  return "?";
}

absl::Status ProposalDroppedError(std::string_view why) {
  return absl::UnavailableError(absl::StrCat("raft proposal dropped: ", std::string(why)));
}

absl::Status Config::Validate() const {
  if (id == kNone) return absl::InvalidArgumentError("raft config: id must not be 0");
  if (heartbeat_ticks <= 0) {
    return absl::InvalidArgumentError("raft config: heartbeat_ticks must be > 0");
  }
  if (election_ticks <= heartbeat_ticks) {
    return absl::InvalidArgumentError("raft config: election_ticks must be > heartbeat_ticks");
  }
  if (storage == nullptr) return absl::InvalidArgumentError("raft config: storage is null");
  if (max_inflight_msgs <= 0) {
    return absl::InvalidArgumentError("raft config: max_inflight_msgs must be > 0");
  }
  if (max_pending_read_index <= 0) {
    return absl::InvalidArgumentError("raft config: max_pending_read_index must be > 0");
  }
  if (read_only_option == ReadOnlyOption::kLeaseBased && !check_quorum) {
    return absl::InvalidArgumentError("raft config: lease-based reads require check_quorum");
  }
  return absl::OkStatus();
}

Raft::Raft(const Config& c)
    : id_(c.id),
      log_(c.storage, c.max_committed_bytes_per_ready),
      trk_(static_cast<size_t>(c.max_inflight_msgs), c.max_inflight_bytes),
      read_only_(c.read_only_option),
      config_(c) {
  if (c.random) {
    random_ = c.random;
  } else {
    random_ = [rng = SplitMix64(c.id)]() mutable { return rng.Next(); };
  }
  log_.set_unsafe_commit_any_term(c.testing_unsafe_commit_old_term);
}

absl::StatusOr<std::unique_ptr<Raft>> Raft::Create(const Config& c) {
  if (absl::Status s = c.Validate(); !s.ok()) return s;
  absl::StatusOr<InitialState> init = c.storage->GetInitialState();
  if (!init.ok()) return init.status();
  // Storage must be readable before the log (which crashes on errors) is built.
  if (absl::StatusOr<uint64_t> f = c.storage->FirstIndex(); !f.ok()) return f.status();
  if (absl::StatusOr<uint64_t> l = c.storage->LastIndex(); !l.ok()) return l.status();
  std::unique_ptr<Raft> r(new Raft(c));
  absl::StatusOr<ConfigAndProgress> cp =
      RestoreConfig(r->trk_, r->log_.LastIndex(), init->conf_state);
  if (!cp.ok()) return cp.status();
  raftpb::ConfState cs = r->SwitchToConfig(*std::move(cp));
  RANGEDB_CHECK(ConfStatesEquivalent(cs, init->conf_state))
      << "restored config differs: " << cs.ShortDebugString() << " vs. "
      << init->conf_state.ShortDebugString();
  const raftpb::HardState& hs = init->hard_state;
  if (hs.term() != 0 || hs.vote() != 0 || hs.commit() != 0) {
    if (hs.commit() < r->log_.committed() || hs.commit() > r->log_.LastIndex()) {
      return absl::DataLossError(absl::StrCat("raft: hard state commit ", hs.commit(),
                                              " outside log [", r->log_.committed(), ", ",
                                              r->log_.LastIndex(), "]"));
    }
    r->LoadState(hs);
  }
  if (c.applied > 0) {
    if (c.applied > r->log_.committed()) {
      return absl::InvalidArgumentError(
          absl::StrCat("raft config: applied ", c.applied, " beyond commit ", r->log_.committed()));
    }
    if (c.applied > r->log_.applied()) r->log_.AppliedTo(c.applied);
  }
  r->BecomeFollower(r->term_, kNone);
  return r;
}

void Raft::LoadState(const raftpb::HardState& hs) {
  log_.set_committed(hs.commit());
  term_ = hs.term();
  vote_ = hs.vote();
}

raftpb::HardState Raft::GetHardState() const {
  raftpb::HardState hs;
  hs.set_term(term_);
  hs.set_vote(vote_);
  hs.set_commit(log_.committed());
  return hs;
}

uint64_t Raft::QuorumContactTick() const {
  if (state_ != StateType::kLeader || lead_transferee_ != kNone) return 0;
  return trk_.QuorumContactTick(id_, ticks_);
}

void Raft::Send(raftpb::Message m) {
  m.set_from(id_);
  const raftpb::MessageType t = m.type();
  if (t == raftpb::MSG_VOTE || t == raftpb::MSG_VOTE_RESP || t == raftpb::MSG_PRE_VOTE ||
      t == raftpb::MSG_PRE_VOTE_RESP) {
    // Vote messages carry the term of the election, which for pre-votes is not ours.
    RANGEDB_CHECK_NE(m.term(), 0) << "vote message without a term: " << m.ShortDebugString();
  } else {
    RANGEDB_CHECK_EQ(m.term(), 0) << "message term is set by Send: " << m.ShortDebugString();
    // Proposals and read requests forwarded to the leader stay term-less: they are
    // local messages at the receiver.
    if (t != raftpb::MSG_PROP && t != raftpb::MSG_READ_INDEX) m.set_term(term_);
  }
  msgs_.push_back(std::move(m));
}

void Raft::Reset(uint64_t term) {
  if (term_ != term) {
    term_ = term;
    vote_ = kNone;
  }
  lead_ = kNone;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  ResetRandomizedElectionTimeout();
  AbortLeaderTransfer();
  trk_.ResetVotes();
  const uint64_t last = log_.LastIndex();
  for (auto& [id, pr] : trk_.progress) {
    Progress fresh = trk_.NewProgress(last + 1, pr.is_learner);
    if (id == id_) fresh.match = OwnDurableIndex();
    pr = std::move(fresh);
  }
  pending_conf_index_ = 0;
  uncommitted_bytes_ = 0;
  read_only_ = ReadOnly(read_only_.option());
  pending_read_index_messages_.clear();
}

bool Raft::Promotable() const {
  auto it = trk_.progress.find(id_);
  return it != trk_.progress.end() && !it->second.is_learner && !log_.HasPendingSnapshot();
}

bool Raft::PastElectionTimeout() const { return election_elapsed_ >= randomized_election_timeout_; }

void Raft::ResetRandomizedElectionTimeout() {
  randomized_election_timeout_ =
      config_.election_ticks + static_cast<int>(random_() % config_.election_ticks);
}

void Raft::BecomeFollower(uint64_t term, uint64_t lead) {
  step_ = &Raft::StepFollower;
  Reset(term);
  tick_ = &Raft::TickElection;
  lead_ = lead;
  state_ = StateType::kFollower;
}

void Raft::BecomeCandidate() {
  RANGEDB_CHECK(state_ != StateType::kLeader)
      << "invalid transition leader -> candidate, term " << term_ << ", node " << id_;
  step_ = &Raft::StepCandidate;
  Reset(term_ + 1);
  tick_ = &Raft::TickElection;
  vote_ = id_;
  state_ = StateType::kCandidate;
}

void Raft::BecomePreCandidate() {
  RANGEDB_CHECK(state_ != StateType::kLeader)
      << "invalid transition leader -> pre-candidate, term " << term_ << ", node " << id_;
  // A pre-candidate keeps its term and vote: it only asks whether it could win.
  step_ = &Raft::StepCandidate;
  trk_.ResetVotes();
  tick_ = &Raft::TickElection;
  lead_ = kNone;
  state_ = StateType::kPreCandidate;
}

void Raft::BecomeLeader() {
  RANGEDB_CHECK(state_ != StateType::kFollower)
      << "invalid transition follower -> leader, term " << term_ << ", node " << id_;
  step_ = &Raft::StepLeader;
  Reset(term_);
  tick_ = &Raft::TickHeartbeat;
  lead_ = id_;
  state_ = StateType::kLeader;
  // The leader's own progress is always in replicate state and active.
  Progress& self = trk_.progress.at(id_);
  self.BecomeReplicate();
  self.recent_active = true;
  // Conf changes in the uncommitted tail may be pending; be conservative.
  pending_conf_index_ = log_.LastIndex();
  // An empty entry of the new term: committing it commits everything before it
  // (§5.4.2) and lets ReadIndex serve reads.
  std::vector<raftpb::Entry> empty(1);
  RANGEDB_CHECK(AppendEntries(empty)) << "the new leader's empty entry was dropped, term " << term_;
}

void Raft::TickElection() {
  ++election_elapsed_;
  if (Promotable() && PastElectionTimeout()) {
    election_elapsed_ = 0;
    raftpb::Message m;
    m.set_from(id_);
    m.set_type(raftpb::MSG_HUP);
    (void)Step(std::move(m));
  }
}

void Raft::TickHeartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (election_elapsed_ >= config_.election_ticks) {
    election_elapsed_ = 0;
    if (config_.check_quorum) {
      raftpb::Message m;
      m.set_from(id_);
      m.set_type(raftpb::MSG_CHECK_QUORUM);
      (void)Step(std::move(m));
    }
    // A transfer that did not finish within an election timeout is abandoned.
    if (state_ == StateType::kLeader && lead_transferee_ != kNone) AbortLeaderTransfer();
  }
  if (state_ != StateType::kLeader) return;
  if (heartbeat_elapsed_ >= config_.heartbeat_ticks) {
    heartbeat_elapsed_ = 0;
    raftpb::Message m;
    m.set_from(id_);
    m.set_type(raftpb::MSG_BEAT);
    (void)Step(std::move(m));
  }
}

bool Raft::StepTerm(const raftpb::Message& m) {
  const raftpb::MessageType t = m.type();
  if (m.term() > term_) {
    if (t == raftpb::MSG_VOTE || t == raftpb::MSG_PRE_VOTE) {
      // A node that hears from a live leader ignores campaigns (check-quorum lease),
      // unless the campaign is a leadership transfer the leader asked for.
      const bool force = m.context() == "transfer";
      const bool in_lease =
          config_.check_quorum && lead_ != kNone && election_elapsed_ < config_.election_ticks;
      if (!force && in_lease) return false;
    }
    if (t == raftpb::MSG_PRE_VOTE) {
      // Never change our term on a pre-vote.
    } else if (t == raftpb::MSG_PRE_VOTE_RESP && !m.reject()) {
      // A granted pre-vote carries the future term; the term moves on quorum.
    } else if (t == raftpb::MSG_APP || t == raftpb::MSG_HEARTBEAT || t == raftpb::MSG_SNAP) {
      BecomeFollower(m.term(), m.from());
    } else {
      BecomeFollower(m.term(), kNone);
    }
    return true;
  }
  if (m.term() < term_) {
    if ((config_.check_quorum || config_.pre_vote) &&
        (t == raftpb::MSG_HEARTBEAT || t == raftpb::MSG_APP)) {
      // A stale leader (e.g. partitioned, while we moved on with pre-vote or
      // check-quorum keeping our term from advancing its own) learns our term and
      // steps down.
      raftpb::Message resp;
      resp.set_to(m.from());
      resp.set_type(raftpb::MSG_APP_RESP);
      Send(std::move(resp));
    } else if (t == raftpb::MSG_PRE_VOTE) {
      // Reject with our term so the pre-candidate learns it is behind.
      raftpb::Message resp;
      resp.set_to(m.from());
      resp.set_term(term_);
      resp.set_type(raftpb::MSG_PRE_VOTE_RESP);
      resp.set_reject(true);
      Send(std::move(resp));
    }
    return false;
  }
  return true;
}

absl::Status Raft::Step(raftpb::Message m) {
  if (m.term() != 0 && !StepTerm(m)) return absl::OkStatus();
  switch (m.type()) {
    case raftpb::MSG_HUP:
      Hup(config_.pre_vote ? CampaignType::kPreElection : CampaignType::kElection);
      return absl::OkStatus();
    case raftpb::MSG_VOTE:
    case raftpb::MSG_PRE_VOTE:
      HandleVoteRequest(m);
      return absl::OkStatus();
    case raftpb::MSG_PROP:
      if (config_.max_entry_bytes > 0) {
        for (const raftpb::Entry& e : m.entries()) {
          if (PayloadBytes(e) > config_.max_entry_bytes) {
            return absl::InvalidArgumentError(
                absl::StrCat("raft proposal of ", PayloadBytes(e), " bytes exceeds the ",
                             config_.max_entry_bytes, "-byte entry limit"));
          }
        }
      }
      break;
    default:
      break;
  }
  return (this->*step_)(m);
}

absl::Status Raft::StepFollower(raftpb::Message& m) {
  switch (m.type()) {
    case raftpb::MSG_PROP:
      if (lead_ == kNone) return ProposalDroppedError("no leader");
      if (config_.disable_proposal_forwarding) {
        return ProposalDroppedError("proposal forwarding disabled");
      }
      m.set_to(lead_);
      m.set_term(0);
      Send(std::move(m));
      return absl::OkStatus();
    case raftpb::MSG_APP:
      election_elapsed_ = 0;
      lead_ = m.from();
      HandleAppendEntries(m);
      return absl::OkStatus();
    case raftpb::MSG_HEARTBEAT:
      election_elapsed_ = 0;
      lead_ = m.from();
      HandleHeartbeat(m);
      return absl::OkStatus();
    case raftpb::MSG_SNAP:
      election_elapsed_ = 0;
      lead_ = m.from();
      HandleSnapshot(m);
      return absl::OkStatus();
    case raftpb::MSG_TRANSFER_LEADER:
      if (lead_ == kNone) return ProposalDroppedError("no leader for transfer");
      m.set_to(lead_);
      m.set_term(0);
      Send(std::move(m));
      return absl::OkStatus();
    case raftpb::MSG_TIMEOUT_NOW:
      // The leader asked us to campaign now, skipping pre-vote and the lease.
      Hup(CampaignType::kTransfer);
      return absl::OkStatus();
    case raftpb::MSG_READ_INDEX:
      if (lead_ == kNone) return ProposalDroppedError("no leader for read index");
      m.set_to(lead_);
      m.set_term(0);
      Send(std::move(m));
      return absl::OkStatus();
    case raftpb::MSG_READ_INDEX_RESP:
      read_states_.push_back(ReadState{m.index(), m.context()});
      return absl::OkStatus();
    default:
      return absl::OkStatus();
  }
}

void Raft::RefuseTimeoutNow(const raftpb::Message& m) {
  RANGEDB_CHECK_EQ(m.type(), raftpb::MSG_TIMEOUT_NOW) << "RefuseTimeoutNow of another message type";
  if (m.term() != 0 && !StepTerm(m)) return;  // a stale leader's: no transfer to end
  raftpb::Message refusal;
  refusal.set_to(m.from());
  refusal.set_type(raftpb::MSG_TRANSFER_REFUSED);
  refusal.set_index(m.index());
  Send(std::move(refusal));
}

absl::Status Raft::StepCandidate(raftpb::Message& m) {
  const raftpb::MessageType my_resp =
      state_ == StateType::kPreCandidate ? raftpb::MSG_PRE_VOTE_RESP : raftpb::MSG_VOTE_RESP;
  switch (m.type()) {
    case raftpb::MSG_PROP:
      return ProposalDroppedError("no leader (election in progress)");
    case raftpb::MSG_READ_INDEX:
      return ProposalDroppedError("no leader for read index (election in progress)");
    case raftpb::MSG_APP:
      BecomeFollower(m.term(), m.from());
      HandleAppendEntries(m);
      return absl::OkStatus();
    case raftpb::MSG_HEARTBEAT:
      BecomeFollower(m.term(), m.from());
      HandleHeartbeat(m);
      return absl::OkStatus();
    case raftpb::MSG_SNAP:
      BecomeFollower(m.term(), m.from());
      HandleSnapshot(m);
      return absl::OkStatus();
    default:
      break;
  }
  if (m.type() == my_resp) {
    switch (Poll(m.from(), m.type(), !m.reject())) {
      case VoteResult::kWon:
        if (state_ == StateType::kPreCandidate) {
          Campaign(CampaignType::kElection);
        } else {
          BecomeLeader();
          BcastAppend();
        }
        break;
      case VoteResult::kLost:
        // A rejecting pre-vote response may carry a higher term; a follower at the
        // current term waits for a leader or its next timeout.
        BecomeFollower(term_, kNone);
        break;
      case VoteResult::kPending:
        break;
    }
  }
  return absl::OkStatus();
}

}  // namespace rangedb::raft
