// Membership changes (§6) as seen by the Raft core: applying committed changes,
// switching configurations, and leaving joint configurations automatically.
#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "raft/raft.h"

namespace rangedb::raft {

absl::StatusOr<raftpb::ConfState> Raft::ApplyConfChange(const raftpb::ConfChange& cc) {
  absl::StatusOr<ConfigAndProgress> cp = ApplyConfChangeTo(trk_, log_.LastIndex(), cc);
  if (!cp.ok()) return cp.status();
  return SwitchToConfig(*std::move(cp));
}

raftpb::ConfState Raft::SwitchToConfig(ConfigAndProgress cp) {
  trk_.config = std::move(cp.config);
  trk_.progress = std::move(cp.progress);
  raftpb::ConfState cs = trk_.ConfState();
  auto self = trk_.progress.find(id_);
  is_learner_ = self != trk_.progress.end() && self->second.is_learner;
  if ((self == trk_.progress.end() || is_learner_) && state_ == StateType::kLeader) {
    // A leader that is removed or demoted steps down (etcd's StepDownOnRemoval):
    // otherwise its heartbeats would keep the remaining members from electing a
    // leader that can take proposals.
    BecomeFollower(term_, kNone);
    return cs;
  }
  if (state_ != StateType::kLeader || cs.voters_size() == 0) return cs;
  // The quorum may have changed: the commit index may move, and new peers need
  // appends.
  if (MaybeCommit()) {
    BcastAppend();
  } else {
    for (auto& [id, pr] : trk_.progress) {
      if (id != id_) MaybeSendAppend(id, false);
    }
  }
  if (lead_transferee_ != kNone && !trk_.config.voters.Contains(lead_transferee_)) {
    AbortLeaderTransfer();
  }
  return cs;
}

void Raft::AdvanceApplied(uint64_t applied, uint64_t applied_payload_bytes) {
  const uint64_t old_applied = log_.applied();
  if (applied > old_applied) log_.AppliedTo(applied);
  // Applied entries no longer count against the uncommitted budget.
  uncommitted_bytes_ =
      applied_payload_bytes > uncommitted_bytes_ ? 0 : uncommitted_bytes_ - applied_payload_bytes;
  if (trk_.config.auto_leave && old_applied <= pending_conf_index_ &&
      applied >= pending_conf_index_ && state_ == StateType::kLeader) {
    // The joint config we entered is applied: leave it. The empty ConfChange is the
    // "leave joint" instruction; it has no payload, so no limit can refuse it.
    std::vector<raftpb::Entry> es(1);
    es[0].set_type(raftpb::ENTRY_CONF_CHANGE);
    es[0].set_data(raftpb::ConfChange().SerializeAsString());
    RANGEDB_CHECK(AppendEntries(es))
        << "refused the auto-leave conf change at index " << log_.LastIndex() + 1;
    pending_conf_index_ = log_.LastIndex();
    BcastAppend();
  }
}

}  // namespace rangedb::raft
