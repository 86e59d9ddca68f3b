// Leader-only message handling: proposals, responses, check-quorum, ReadIndex (§8)
// and leadership transfer (thesis §3.10).
#include <utility>

#include "base/check.h"
#include "raft/raft.h"

namespace rangedb::raft {

absl::Status Raft::StepLeader(raftpb::Message& m) {
  // Messages that do not need a peer's progress.
  switch (m.type()) {
    case raftpb::MSG_BEAT:
      BcastHeartbeat();
      return absl::OkStatus();
    case raftpb::MSG_CHECK_QUORUM:
      if (!trk_.QuorumActive()) {
        // We may be partitioned away from a quorum: stop acting as leader so clients
        // go elsewhere, and so our lease ends.
        BecomeFollower(term_, kNone);
      }
      // Every peer must show activity again within the next window.
      for (auto& [id, pr] : trk_.progress) {
        if (id != id_) pr.recent_active = false;
      }
      return absl::OkStatus();
    case raftpb::MSG_PROP:
      return HandleProposal(m);
    case raftpb::MSG_READ_INDEX:
      HandleReadIndex(m);
      return absl::OkStatus();
    default:
      break;
  }

  auto it = trk_.progress.find(m.from());
  if (it == trk_.progress.end()) return absl::OkStatus();  // not (or no longer) a peer
  Progress& pr = it->second;
  switch (m.type()) {
    case raftpb::MSG_APP_RESP:
      HandleAppendResponse(m, pr);
      break;
    case raftpb::MSG_HEARTBEAT_RESP:
      HandleHeartbeatResponse(m, pr);
      break;
    case raftpb::MSG_SNAP_STATUS:
      if (pr.state != ProgressState::kSnapshot) break;
      if (m.reject()) pr.pending_snapshot = 0;
      pr.BecomeProbe();
      // Wait for a heartbeat response before probing, so a failed snapshot is not
      // retried in a tight loop.
      pr.msg_app_probe_sent = true;
      break;
    case raftpb::MSG_UNREACHABLE:
      // Optimistic streaming to an unreachable peer loses messages: probe instead.
      if (pr.state == ProgressState::kReplicate) pr.BecomeProbe();
      break;
    case raftpb::MSG_TRANSFER_LEADER:
      HandleTransferLeader(m, pr);
      break;
    case raftpb::MSG_TRANSFER_REFUSED:
      // The transferee will not campaign (RefuseTimeoutNow): waiting out the election
      // timeout would only keep proposals refused (review of issue 14, F6). Ending the
      // transfer is always safe — it only gates proposals here — but only the refusal
      // of the latest TimeoutNow says the transferee is not campaigning.
      if (m.from() == lead_transferee_ && m.index() == timeout_now_sent_) {
        AbortLeaderTransfer();
      }
      break;
    default:
      break;
  }
  return absl::OkStatus();
}

absl::Status Raft::HandleProposal(raftpb::Message& m) {
  RANGEDB_CHECK_GT(m.entries_size(), 0) << "empty proposal from " << m.from();
  if (trk_.progress.count(id_) == 0) {
    return ProposalDroppedError("leader was removed from the configuration");
  }
  if (lead_transferee_ != kNone) return ProposalDroppedError("leadership transfer in progress");
  std::vector<raftpb::Entry> es;
  es.reserve(static_cast<size_t>(m.entries_size()));
  for (raftpb::Entry& e : *m.mutable_entries()) es.push_back(std::move(e));
  for (size_t i = 0; i < es.size(); ++i) {
    raftpb::Entry& e = es[i];
    if (e.type() != raftpb::ENTRY_CONF_CHANGE) continue;
    raftpb::ConfChange cc;
    const char* refused = nullptr;
    if (!cc.ParseFromString(e.data())) {
      refused = "unparsable conf change";
    } else if (pending_conf_index_ > log_.applied()) {
      refused = "a conf change is already pending";
    } else {
      const bool already_joint = trk_.config.voters.IsJoint();
      const bool wants_leave = IsLeaveJoint(cc);
      if (already_joint && !wants_leave) {
        refused = "must leave the joint config first";
      } else if (!already_joint && wants_leave) {
        refused = "not in a joint config";
      }
    }
    if (refused != nullptr) {
      // Keep the entry's slot (callers may track proposals by position) but make it
      // an empty normal entry.
      e = raftpb::Entry();
    } else {
      pending_conf_index_ = log_.LastIndex() + i + 1;
    }
  }
  if (!AppendEntries(es)) return ProposalDroppedError("too many uncommitted bytes");
  BcastAppend();
  return absl::OkStatus();
}

void Raft::HandleHeartbeatResponse(const raftpb::Message& m, Progress& pr) {
  pr.recent_active = true;
  pr.last_contact_tick = std::max(pr.last_contact_tick, m.sent_tick());
  pr.msg_app_probe_sent = false;
  // A live follower with a full window probably lost a message: free one slot so
  // replication resumes.
  if (pr.state == ProgressState::kReplicate && pr.inflights.Full()) pr.inflights.FreeFirstOne();
  if (pr.match < log_.LastIndex()) SendAppend(m.from());

  if (read_only_.option() != ReadOnlyOption::kSafe || m.context().empty()) return;
  const std::map<uint64_t, bool>* acks = read_only_.RecvAck(m.from(), m.context());
  if (acks == nullptr || trk_.config.voters.GetVoteResult(*acks) != VoteResult::kWon) return;
  for (ReadIndexStatus& rs : read_only_.Advance(m.context())) RespondToReadIndex(rs.req, rs.index);
}

void Raft::HandleReadIndex(const raftpb::Message& m) {
  if (trk_.IsSingleton()) {
    RespondToReadIndex(m, log_.committed());
    return;
  }
  if (!CommittedEntryInCurrentTerm()) {
    // Our commit index may be stale until an entry of our term commits (§8): queue.
    if (pending_read_index_messages_.size() < static_cast<size_t>(config_.max_pending_read_index)) {
      pending_read_index_messages_.push_back(m);
    }
    return;
  }
  SendReadIndexResponse(m);
}

void Raft::SendReadIndexResponse(const raftpb::Message& m) {
  switch (read_only_.option()) {
    case ReadOnlyOption::kSafe:
      if (read_only_.PendingCount() >= static_cast<size_t>(config_.max_pending_read_index)) {
        return;  // dropped; the caller times out and retries
      }
      // Confirm we are still leader with a heartbeat round carrying the context.
      read_only_.AddRequest(log_.committed(), m);
      read_only_.RecvAck(id_, m.context());
      BcastHeartbeatWithCtx(m.context());
      break;
    case ReadOnlyOption::kLeaseBased:
      RespondToReadIndex(m, log_.committed());
      break;
  }
}

void Raft::ReleasePendingReadIndexMessages() {
  if (pending_read_index_messages_.empty() || !CommittedEntryInCurrentTerm()) return;
  std::vector<raftpb::Message> msgs = std::move(pending_read_index_messages_);
  pending_read_index_messages_.clear();
  for (const raftpb::Message& m : msgs) SendReadIndexResponse(m);
}

void Raft::RespondToReadIndex(const raftpb::Message& req, uint64_t index) {
  if (req.from() == kNone || req.from() == id_) {
    read_states_.push_back(ReadState{index, req.context()});
    return;
  }
  raftpb::Message resp;
  resp.set_to(req.from());
  resp.set_type(raftpb::MSG_READ_INDEX_RESP);
  resp.set_index(index);
  resp.set_context(req.context());
  Send(std::move(resp));
}

void Raft::HandleTransferLeader(const raftpb::Message& m, Progress& pr) {
  if (pr.is_learner) return;  // a learner cannot lead
  const uint64_t transferee = m.from();
  if (lead_transferee_ != kNone) {
    if (lead_transferee_ == transferee) return;  // already in progress
    AbortLeaderTransfer();
  }
  if (transferee == id_) return;  // already leader
  // The transfer must finish within an election timeout (see TickHeartbeat).
  election_elapsed_ = 0;
  lead_transferee_ = transferee;
  if (pr.match == log_.LastIndex()) {
    SendTimeoutNow(transferee);
  } else {
    SendAppend(transferee);
  }
}

void Raft::SendTimeoutNow(uint64_t to) {
  raftpb::Message m;
  m.set_to(to);
  m.set_type(raftpb::MSG_TIMEOUT_NOW);
  m.set_index(++timeout_now_sent_);
  Send(std::move(m));
}

bool Raft::CommittedEntryInCurrentTerm() const {
  return log_.TermOrZero(log_.committed()) == term_;
}

}  // namespace rangedb::raft
