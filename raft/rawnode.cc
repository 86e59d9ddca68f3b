#include "raft/rawnode.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace rangedb::raft {

namespace {

bool IsLocalMsg(raftpb::MessageType t) {
  return t == raftpb::MSG_HUP || t == raftpb::MSG_BEAT || t == raftpb::MSG_UNREACHABLE ||
         t == raftpb::MSG_SNAP_STATUS || t == raftpb::MSG_CHECK_QUORUM;
}

bool IsResponseMsg(raftpb::MessageType t) {
  return t == raftpb::MSG_APP_RESP || t == raftpb::MSG_VOTE_RESP ||
         t == raftpb::MSG_HEARTBEAT_RESP || t == raftpb::MSG_UNREACHABLE ||
         t == raftpb::MSG_PRE_VOTE_RESP || t == raftpb::MSG_TRANSFER_REFUSED;
}

bool HardStateEqual(const raftpb::HardState& a, const raftpb::HardState& b) {
  return a.term() == b.term() && a.vote() == b.vote() && a.commit() == b.commit();
}

bool HardStateEmpty(const raftpb::HardState& h) {
  return h.term() == 0 && h.vote() == 0 && h.commit() == 0;
}

raftpb::Message LocalMsg(uint64_t from, raftpb::MessageType t) {
  raftpb::Message m;
  m.set_from(from);
  m.set_type(t);
  return m;
}

}  // namespace

RawNode::RawNode(std::unique_ptr<Raft> r)
    : raft_(std::move(r)), prev_soft_(raft_->GetSoftState()), prev_hard_(raft_->GetHardState()) {}

template <typename F>
bool RawNode::Guarded(F&& f) {
  if (!failure_.ok()) return false;
  try {
    f();
    return true;
  } catch (const StorageFailure& e) {
    // The Raft may be half way through the call: it is never used again.
    failure_ = e.status.ok() ? absl::InternalError("raft: storage failure") : e.status;
    return false;
  }
}

absl::StatusOr<std::unique_ptr<RawNode>> RawNode::Create(const Config& config) {
  absl::StatusOr<std::unique_ptr<Raft>> r;
  try {
    r = Raft::Create(config);
  } catch (const StorageFailure& e) {
    return e.status;
  }
  if (!r.ok()) return r.status();
  return std::unique_ptr<RawNode>(new RawNode(*std::move(r)));
}

void RawNode::Tick() {
  Guarded([&] { raft_->Tick(); });
}

absl::Status RawNode::Campaign() {
  absl::Status s;
  if (!Guarded([&] { s = raft_->Step(LocalMsg(raft_->id(), raftpb::MSG_HUP)); })) return failure_;
  return s;
}

absl::Status RawNode::Propose(std::string data) {
  raftpb::Message m = LocalMsg(raft_->id(), raftpb::MSG_PROP);
  m.add_entries()->set_data(std::move(data));
  absl::Status s;
  if (!Guarded([&] { s = raft_->Step(std::move(m)); })) return failure_;
  return s;
}

absl::Status RawNode::ProposeConfChange(const raftpb::ConfChange& cc) {
  raftpb::Message m = LocalMsg(raft_->id(), raftpb::MSG_PROP);
  raftpb::Entry* e = m.add_entries();
  e->set_type(raftpb::ENTRY_CONF_CHANGE);
  e->set_data(cc.SerializeAsString());
  absl::Status s;
  if (!Guarded([&] { s = raft_->Step(std::move(m)); })) return failure_;
  return s;
}

absl::StatusOr<raftpb::ConfState> RawNode::ApplyConfChange(const raftpb::ConfChange& cc) {
  absl::StatusOr<raftpb::ConfState> cs;
  if (!Guarded([&] { cs = raft_->ApplyConfChange(cc); })) return failure_;
  return cs;
}

absl::Status RawNode::Step(raftpb::Message m) {
  if (!failure_.ok()) return failure_;
  if (IsLocalMsg(m.type())) {
    return absl::InvalidArgumentError(
        absl::StrCat("raft: cannot step local message type ", m.type(), " from the network"));
  }
  if (IsResponseMsg(m.type()) && raft_->tracker().progress.count(m.from()) == 0) {
    return absl::NotFoundError(absl::StrCat("raft: response from unknown peer ", m.from()));
  }
  absl::Status s;
  if (!Guarded([&] { s = raft_->Step(std::move(m)); })) return failure_;
  return s;
}

void RawNode::TransferLeader(uint64_t transferee) {
  raftpb::Message m = LocalMsg(transferee, raftpb::MSG_TRANSFER_LEADER);
  Guarded([&] { (void)raft_->Step(std::move(m)); });
}

void RawNode::RefuseTimeoutNow(const raftpb::Message& timeout_now) {
  Guarded([&] { raft_->RefuseTimeoutNow(timeout_now); });
}

absl::Status RawNode::ReadIndex(std::string ctx) {
  raftpb::Message m = LocalMsg(raft_->id(), raftpb::MSG_READ_INDEX);
  m.set_context(std::move(ctx));
  absl::Status s;
  if (!Guarded([&] { s = raft_->Step(std::move(m)); })) return failure_;
  return s;
}

void RawNode::ReportUnreachable(uint64_t id) {
  Guarded([&] { (void)raft_->Step(LocalMsg(id, raftpb::MSG_UNREACHABLE)); });
}

void RawNode::ReportSnapshot(uint64_t id, bool failed) {
  raftpb::Message m = LocalMsg(id, raftpb::MSG_SNAP_STATUS);
  m.set_reject(failed);
  Guarded([&] { (void)raft_->Step(std::move(m)); });
}

bool RawNode::HasReady() {
  bool has = false;
  Guarded([&] { has = HasReadyUnguarded(); });
  return has;
}

bool RawNode::HasReadyUnguarded() const {
  const Raft& r = *raft_;
  if (!(r.GetSoftState() == prev_soft_)) return true;
  const raftpb::HardState hs = r.GetHardState();
  if (!HardStateEmpty(hs) && !HardStateEqual(hs, prev_hard_)) return true;
  if (r.log().HasPendingSnapshot()) return true;
  if (!r.messages().empty() || !r.log().UnstableEntries().empty()) return true;
  if (r.log().HasNextCommittedEntries()) return true;
  return !r.read_states().empty();
}

Ready RawNode::GetReady() {
  Ready rd;
  Guarded([&] { rd = GetReadyUnguarded(); });
  return rd;
}

Ready RawNode::GetReadyUnguarded() {
  RANGEDB_CHECK(!ready_outstanding_) << "GetReady called before Advance";
  Raft& r = *raft_;
  Ready rd;
  // The unstable entries stay in the log until Advance() (raft may still need them to
  // build MsgApps), so the owner gets a copy; the committed entries are moved out of
  // the log's persisted cache where possible.
  rd.entries = r.log().UnstableEntries();
  rd.committed_entries = r.mutable_log().TakeNextCommittedEntries();
  rd.messages = r.TakeMessages();
  rd.read_states = r.TakeReadStates();
  if (const SoftState ss = r.GetSoftState(); !(ss == prev_soft_)) {
    rd.soft_state = ss;
    prev_soft_ = ss;
  }
  const raftpb::HardState hs = r.GetHardState();
  if (!HardStateEqual(hs, prev_hard_)) {
    rd.must_sync = hs.term() != prev_hard_.term() || hs.vote() != prev_hard_.vote();
    rd.hard_state = hs;
    prev_hard_ = hs;
  }
  if (r.log().HasPendingSnapshot()) rd.snapshot = *r.log().UnstableSnapshot();
  rd.must_sync = rd.must_sync || !rd.entries.empty();

  ready_outstanding_ = true;
  ready_last_index_ = rd.entries.empty() ? 0 : rd.entries.back().index();
  ready_last_term_ = rd.entries.empty() ? 0 : rd.entries.back().term();
  ready_snapshot_index_ = rd.snapshot ? rd.snapshot->metadata().index() : 0;
  ready_applied_bytes_ = 0;
  for (const raftpb::Entry& e : rd.committed_entries) ready_applied_bytes_ += PayloadBytes(e);
  if (!rd.committed_entries.empty()) {
    ready_applied_index_ = rd.committed_entries.back().index();
  } else {
    ready_applied_index_ = ready_snapshot_index_;
  }
  return rd;
}

void RawNode::Advance() {
  Guarded([&] { AdvanceUnguarded(); });
}

void RawNode::AdvanceUnguarded() {
  RANGEDB_CHECK(ready_outstanding_) << "Advance without an outstanding Ready";
  ready_outstanding_ = false;
  Raft& r = *raft_;
  if (ready_last_index_ != 0) r.mutable_log().StableTo(ready_last_index_, ready_last_term_);
  if (ready_snapshot_index_ != 0) r.mutable_log().StableSnapTo(ready_snapshot_index_);
  if (ready_last_index_ != 0) r.OnEntriesPersisted();
  r.AdvanceApplied(ready_applied_index_, ready_applied_bytes_);
}

Status RawNode::GetStatus() const {
  const Raft& r = *raft_;
  Status s;
  s.id = r.id();
  s.hard_state = r.GetHardState();
  s.soft_state = r.GetSoftState();
  s.applied = r.log().applied();
  s.lead_transferee = r.lead_transferee();
  s.config = r.tracker().config;
  if (r.state() == StateType::kLeader) s.progress = r.tracker().progress;
  s.ticks = r.ticks();
  s.quorum_contact_tick = r.QuorumContactTick();
  return s;
}

}  // namespace rangedb::raft
