#include "raft/tracker.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace rangedb::raft {

std::string TrackerConfig::DebugString() const {
  std::string s = absl::StrCat("voters=", voters.DebugString());
  if (!learners.empty()) absl::StrAppend(&s, " learners=(", absl::StrJoin(learners, " "), ")");
  if (!learners_next.empty()) {
    absl::StrAppend(&s, " learners_next=(", absl::StrJoin(learners_next, " "), ")");
  }
  if (auto_leave) absl::StrAppend(&s, " autoleave");
  return s;
}

raftpb::ConfState ProgressTracker::ConfState() const {
  raftpb::ConfState cs;
  for (uint64_t id : config.voters.incoming.ids()) cs.add_voters(id);
  for (uint64_t id : config.voters.outgoing.ids()) cs.add_voters_outgoing(id);
  for (uint64_t id : config.learners) cs.add_learners(id);
  for (uint64_t id : config.learners_next) cs.add_learners_next(id);
  cs.set_auto_leave(config.auto_leave);
  return cs;
}

bool ProgressTracker::IsSingleton() const {
  return config.voters.incoming.size() == 1 && !config.voters.IsJoint();
}

uint64_t ProgressTracker::Committed() const {
  return config.voters.CommittedIndex([this](uint64_t id) -> uint64_t {
    auto it = progress.find(id);
    return it == progress.end() ? 0 : it->second.match;
  });
}

bool ProgressTracker::QuorumActive() const {
  std::map<uint64_t, bool> votes;
  for (const auto& [id, pr] : progress) {
    if (pr.is_learner) continue;
    votes[id] = pr.recent_active;
  }
  return config.voters.GetVoteResult(votes) == VoteResult::kWon;
}

uint64_t ProgressTracker::QuorumContactTick(uint64_t self, uint64_t now) const {
  return config.voters.CommittedIndex([&](uint64_t id) -> uint64_t {
    if (id == self) return now;
    auto it = progress.find(id);
    return it == progress.end() ? 0 : it->second.last_contact_tick;
  });
}

VoteResult ProgressTracker::TallyVotes(size_t* granted, size_t* rejected) const {
  *granted = 0;
  *rejected = 0;
  for (const auto& [id, pr] : progress) {
    if (pr.is_learner) continue;
    auto it = votes_.find(id);
    if (it == votes_.end()) continue;
    if (it->second) {
      ++*granted;
    } else {
      ++*rejected;
    }
  }
  return config.voters.GetVoteResult(votes_);
}

}  // namespace rangedb::raft
