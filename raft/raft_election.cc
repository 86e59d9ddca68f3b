// Leader election (§5.2), the election restriction (§5.4.1), pre-vote (thesis §9.6)
// and transfer campaigns (thesis §3.10).
#include "raft/raft.h"

namespace rangedb::raft {

namespace {

raftpb::MessageType VoteRespType(raftpb::MessageType t) {
  return t == raftpb::MSG_PRE_VOTE ? raftpb::MSG_PRE_VOTE_RESP : raftpb::MSG_VOTE_RESP;
}

// Number of conf change entries in ents.
size_t NumConfChanges(const std::vector<raftpb::Entry>& ents) {
  size_t n = 0;
  for (const raftpb::Entry& e : ents) n += e.type() == raftpb::ENTRY_CONF_CHANGE;
  return n;
}

}  // namespace

void Raft::Hup(CampaignType t) {
  if (state_ == StateType::kLeader) return;
  if (!Promotable()) return;
  // A committed but unapplied conf change may change whether we are a voter; wait
  // until it is applied before campaigning.
  if (log_.committed() > log_.applied()) {
    absl::StatusOr<std::vector<raftpb::Entry>> ents =
        log_.Slice(log_.applied() + 1, log_.committed() + 1, kNoLimit);
    if (!ents.ok() || NumConfChanges(*ents) > 0) return;
  }
  Campaign(t);
}

void Raft::Campaign(CampaignType t) {
  if (!Promotable()) return;
  uint64_t term;
  raftpb::MessageType vote_msg;
  if (t == CampaignType::kPreElection) {
    BecomePreCandidate();
    vote_msg = raftpb::MSG_PRE_VOTE;
    // Pre-votes are asked for the term we would campaign in.
    term = term_ + 1;
  } else {
    BecomeCandidate();
    vote_msg = raftpb::MSG_VOTE;
    term = term_;
  }
  if (Poll(id_, VoteRespType(vote_msg), true) == VoteResult::kWon) {
    // A single-voter group: we won by voting for ourselves.
    if (t == CampaignType::kPreElection) {
      Campaign(CampaignType::kElection);
    } else {
      BecomeLeader();
    }
    return;
  }
  for (uint64_t id : trk_.VoterIds()) {
    if (id == id_) continue;
    raftpb::Message m;
    m.set_to(id);
    m.set_term(term);
    m.set_type(vote_msg);
    m.set_index(log_.LastIndex());
    m.set_log_term(log_.LastTerm());
    if (t == CampaignType::kTransfer) m.set_context("transfer");
    Send(std::move(m));
  }
}

VoteResult Raft::Poll(uint64_t id, raftpb::MessageType /*t*/, bool granted) {
  trk_.RecordVote(id, granted);
  size_t g = 0, r = 0;
  return trk_.TallyVotes(&g, &r);
}

void Raft::HandleVoteRequest(const raftpb::Message& m) {
  // We can vote if we already voted for this candidate (a retransmission), or have
  // not voted and know no leader in this term, or it is a pre-vote for a later term.
  const bool can_vote = vote_ == m.from() || (vote_ == kNone && lead_ == kNone) ||
                        (m.type() == raftpb::MSG_PRE_VOTE && m.term() > term_);
  raftpb::Message resp;
  resp.set_to(m.from());
  resp.set_type(VoteRespType(m.type()));
  if (can_vote && log_.IsUpToDate(m.index(), m.log_term())) {
    // The response carries the request's term: for a pre-vote that is the future
    // term the candidate will campaign in.
    resp.set_term(m.term());
    Send(std::move(resp));
    if (m.type() == raftpb::MSG_VOTE) {
      election_elapsed_ = 0;
      vote_ = m.from();
    }
  } else {
    resp.set_term(term_);
    resp.set_reject(true);
    Send(std::move(resp));
  }
}

}  // namespace rangedb::raft
