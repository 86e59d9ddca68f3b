#include "raft/confchange.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"

namespace rangedb::raft {

namespace {

ConfigAndProgress Copy(const ProgressTracker& t) { return {t.config, t.progress}; }

absl::Status CheckInvariants(const ConfigAndProgress& cp) {
  const TrackerConfig& cfg = cp.config;
  auto has_progress = [&](uint64_t id) { return cp.progress.count(id) > 0; };
  for (uint64_t id : cfg.voters.Ids()) {
    if (!has_progress(id)) return absl::InternalError(absl::StrCat("no progress for voter ", id));
  }
  for (uint64_t id : cfg.learners) {
    if (!has_progress(id)) {
      return absl::InternalError(absl::StrCat("no progress for learner ", id));
    }
    if (cfg.voters.Contains(id)) {
      return absl::InternalError(absl::StrCat(id, " is both learner and voter"));
    }
    if (!cp.progress.at(id).is_learner) {
      return absl::InternalError(absl::StrCat(id, " is a learner but its progress is not"));
    }
  }
  for (uint64_t id : cfg.learners_next) {
    if (!has_progress(id)) return absl::InternalError(absl::StrCat("no progress for ", id));
    if (!cfg.voters.outgoing.Contains(id)) {
      return absl::InternalError(absl::StrCat(id, " is in learners_next but not outgoing"));
    }
    if (cp.progress.at(id).is_learner) {
      return absl::InternalError(absl::StrCat(id, " in learners_next is already a learner"));
    }
  }
  if (!cfg.voters.IsJoint()) {
    if (!cfg.learners_next.empty()) return absl::InternalError("learners_next outside joint");
    if (cfg.auto_leave) return absl::InternalError("auto_leave outside joint");
  }
  return absl::OkStatus();
}

size_t SymDiff(const std::set<uint64_t>& a, const std::set<uint64_t>& b) {
  size_t n = 0;
  for (uint64_t id : a) n += b.count(id) == 0;
  for (uint64_t id : b) n += a.count(id) == 0;
  return n;
}

raftpb::ConfChangeSingle Single(raftpb::ConfChangeType type, uint64_t id) {
  raftpb::ConfChangeSingle c;
  c.set_type(type);
  c.set_node_id(id);
  return c;
}

}  // namespace

absl::StatusOr<ConfigAndProgress> Changer::EnterJoint(
    bool auto_leave, const std::vector<raftpb::ConfChangeSingle>& changes) const {
  ConfigAndProgress cp = Copy(tracker_);
  if (absl::Status s = CheckInvariants(cp); !s.ok()) return s;
  if (cp.config.voters.IsJoint()) return absl::InvalidArgumentError("config is already joint");
  if (cp.config.voters.incoming.empty()) {
    return absl::InvalidArgumentError("can't make a zero-voter config joint");
  }
  cp.config.voters.outgoing = cp.config.voters.incoming;
  if (absl::Status s = Apply(cp, changes); !s.ok()) return s;
  cp.config.auto_leave = auto_leave;
  if (absl::Status s = CheckInvariants(cp); !s.ok()) return s;
  return cp;
}

absl::StatusOr<ConfigAndProgress> Changer::LeaveJoint() const {
  ConfigAndProgress cp = Copy(tracker_);
  if (absl::Status s = CheckInvariants(cp); !s.ok()) return s;
  if (!cp.config.voters.IsJoint()) {
    return absl::InvalidArgumentError("can't leave a non-joint config");
  }
  for (uint64_t id : cp.config.learners_next) {
    cp.config.learners.insert(id);
    cp.progress.at(id).is_learner = true;
  }
  cp.config.learners_next.clear();
  for (uint64_t id : cp.config.voters.outgoing.ids()) {
    if (!cp.config.voters.incoming.Contains(id) && cp.config.learners.count(id) == 0) {
      cp.progress.erase(id);
    }
  }
  cp.config.voters.outgoing = MajorityConfig();
  cp.config.auto_leave = false;
  if (absl::Status s = CheckInvariants(cp); !s.ok()) return s;
  return cp;
}

absl::StatusOr<ConfigAndProgress> Changer::Simple(
    const std::vector<raftpb::ConfChangeSingle>& changes) const {
  ConfigAndProgress cp = Copy(tracker_);
  if (absl::Status s = CheckInvariants(cp); !s.ok()) return s;
  if (cp.config.voters.IsJoint()) {
    return absl::InvalidArgumentError("can't apply a simple config change in a joint config");
  }
  if (absl::Status s = Apply(cp, changes); !s.ok()) return s;
  if (SymDiff(tracker_.config.voters.incoming.ids(), cp.config.voters.incoming.ids()) > 1) {
    return absl::InvalidArgumentError(
        "more than one voter changed without entering a joint config");
  }
  if (absl::Status s = CheckInvariants(cp); !s.ok()) return s;
  return cp;
}

absl::Status Changer::Apply(ConfigAndProgress& cp,
                            const std::vector<raftpb::ConfChangeSingle>& changes) const {
  for (const raftpb::ConfChangeSingle& cc : changes) {
    if (cc.node_id() == 0) continue;  // etcd compatibility: id 0 is a no-op
    switch (cc.type()) {
      case raftpb::CONF_CHANGE_ADD_NODE:
        MakeVoter(cp, cc.node_id());
        break;
      case raftpb::CONF_CHANGE_ADD_LEARNER_NODE:
        MakeLearner(cp, cc.node_id());
        break;
      case raftpb::CONF_CHANGE_REMOVE_NODE:
        Remove(cp, cc.node_id());
        break;
      case raftpb::CONF_CHANGE_UPDATE_NODE:
        break;
      default:
        return absl::InvalidArgumentError(absl::StrCat("unknown conf change type ", cc.type()));
    }
  }
  if (cp.config.voters.incoming.empty()) return absl::InvalidArgumentError("removed all voters");
  return absl::OkStatus();
}

void Changer::MakeVoter(ConfigAndProgress& cp, uint64_t id) const {
  auto it = cp.progress.find(id);
  if (it == cp.progress.end()) {
    InitProgress(cp, id, /*is_learner=*/false);
    return;
  }
  it->second.is_learner = false;
  cp.config.learners.erase(id);
  cp.config.learners_next.erase(id);
  cp.config.voters.incoming.mutable_ids().insert(id);
}

void Changer::MakeLearner(ConfigAndProgress& cp, uint64_t id) const {
  auto it = cp.progress.find(id);
  if (it == cp.progress.end()) {
    InitProgress(cp, id, /*is_learner=*/true);
    return;
  }
  if (it->second.is_learner) return;
  // Remove as voter (keeping the progress), then add as learner. If the node is
  // still an outgoing voter it can only become a learner when joint is left.
  Progress saved = it->second;
  Remove(cp, id);
  cp.progress.insert_or_assign(id, saved);
  if (cp.config.voters.outgoing.Contains(id)) {
    cp.config.learners_next.insert(id);
  } else {
    cp.progress.at(id).is_learner = true;
    cp.config.learners.insert(id);
  }
}

void Changer::Remove(ConfigAndProgress& cp, uint64_t id) const {
  if (cp.progress.count(id) == 0) return;
  cp.config.voters.incoming.mutable_ids().erase(id);
  cp.config.learners.erase(id);
  cp.config.learners_next.erase(id);
  // An outgoing voter keeps its progress until joint is left.
  if (!cp.config.voters.outgoing.Contains(id)) cp.progress.erase(id);
}

void Changer::InitProgress(ConfigAndProgress& cp, uint64_t id, bool is_learner) const {
  if (is_learner) {
    cp.config.learners.insert(id);
  } else {
    cp.config.voters.incoming.mutable_ids().insert(id);
  }
  // Probe from the end of the log; the follower's rejection hint (or a snapshot)
  // finds the real match. Marked active so check-quorum does not step the leader
  // down before the new peer had a chance to answer.
  Progress pr = tracker_.NewProgress(std::max<uint64_t>(last_index_, 1), is_learner);
  pr.recent_active = true;
  cp.progress.insert_or_assign(id, std::move(pr));
}

bool IsLeaveJoint(const raftpb::ConfChange& cc) {
  return cc.changes_size() == 0 && cc.transition() == raftpb::CONF_CHANGE_TRANSITION_AUTO;
}

bool IsEnterJoint(const raftpb::ConfChange& cc, bool* auto_leave) {
  if (cc.transition() == raftpb::CONF_CHANGE_TRANSITION_AUTO && cc.changes_size() <= 1) {
    return false;
  }
  *auto_leave = cc.transition() != raftpb::CONF_CHANGE_TRANSITION_JOINT_EXPLICIT;
  return true;
}

absl::StatusOr<ConfigAndProgress> ApplyConfChangeTo(const ProgressTracker& tracker,
                                                    uint64_t last_index,
                                                    const raftpb::ConfChange& cc) {
  Changer changer(tracker, last_index);
  if (IsLeaveJoint(cc)) return changer.LeaveJoint();
  std::vector<raftpb::ConfChangeSingle> changes(cc.changes().begin(), cc.changes().end());
  bool auto_leave = false;
  if (IsEnterJoint(cc, &auto_leave)) return changer.EnterJoint(auto_leave, changes);
  return changer.Simple(changes);
}

absl::StatusOr<ConfigAndProgress> RestoreConfig(const ProgressTracker& empty, uint64_t last_index,
                                                const raftpb::ConfState& cs) {
  // Outgoing config first (as simple changes, one voter at a time), then enter joint
  // with the incoming config; or, if not joint, the incoming config alone.
  std::vector<raftpb::ConfChangeSingle> outgoing, incoming;
  for (uint64_t id : cs.voters_outgoing()) {
    outgoing.push_back(Single(raftpb::CONF_CHANGE_ADD_NODE, id));
    incoming.push_back(Single(raftpb::CONF_CHANGE_REMOVE_NODE, id));
  }
  for (uint64_t id : cs.voters()) incoming.push_back(Single(raftpb::CONF_CHANGE_ADD_NODE, id));
  for (uint64_t id : cs.learners()) {
    incoming.push_back(Single(raftpb::CONF_CHANGE_ADD_LEARNER_NODE, id));
  }
  for (uint64_t id : cs.learners_next()) {
    incoming.push_back(Single(raftpb::CONF_CHANGE_ADD_LEARNER_NODE, id));
  }

  ProgressTracker t(empty.max_inflight(), empty.max_inflight_bytes());
  auto step = [&](absl::StatusOr<ConfigAndProgress> r) -> absl::Status {
    if (!r.ok()) return r.status();
    t.config = std::move(r->config);
    t.progress = std::move(r->progress);
    return absl::OkStatus();
  };
  if (outgoing.empty()) {
    for (const raftpb::ConfChangeSingle& cc : incoming) {
      if (absl::Status s = step(Changer(t, last_index).Simple({cc})); !s.ok()) return s;
    }
  } else {
    for (const raftpb::ConfChangeSingle& cc : outgoing) {
      if (absl::Status s = step(Changer(t, last_index).Simple({cc})); !s.ok()) return s;
    }
    if (absl::Status s = step(Changer(t, last_index).EnterJoint(cs.auto_leave(), incoming));
        !s.ok()) {
      return s;
    }
  }
  return ConfigAndProgress{t.config, t.progress};
}

bool ConfStatesEquivalent(const raftpb::ConfState& a, const raftpb::ConfState& b) {
  auto set = [](const auto& r) { return std::set<uint64_t>(r.begin(), r.end()); };
  return set(a.voters()) == set(b.voters()) && set(a.learners()) == set(b.learners()) &&
         set(a.voters_outgoing()) == set(b.voters_outgoing()) &&
         set(a.learners_next()) == set(b.learners_next()) && a.auto_leave() == b.auto_leave();
}

}  // namespace rangedb::raft
