#include "raft/quorum.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace rangedb::raft {

uint64_t MajorityConfig::CommittedIndex(AckedFn acked) const {
  const size_t n = ids_.size();
  if (n == 0) return std::numeric_limits<uint64_t>::max();
  // Small configs (the common case) stay on the stack.
  uint64_t stack[7];
  std::vector<uint64_t> heap;
  uint64_t* srt = stack;
  if (n > 7) {
    heap.resize(n);
    srt = heap.data();
  }
  size_t i = 0;
  for (uint64_t id : ids_) srt[i++] = acked(id);
  std::sort(srt, srt + n);
  // With values sorted ascending, the one at n - (n/2 + 1) is acknowledged by a
  // majority (itself and every larger one).
  return srt[n - (n / 2 + 1)];
}

VoteResult MajorityConfig::GetVoteResult(const std::map<uint64_t, bool>& votes) const {
  if (ids_.empty()) return VoteResult::kWon;
  size_t yes = 0, missing = 0;
  for (uint64_t id : ids_) {
    auto it = votes.find(id);
    if (it == votes.end()) {
      ++missing;
    } else if (it->second) {
      ++yes;
    }
  }
  const size_t q = ids_.size() / 2 + 1;
  if (yes >= q) return VoteResult::kWon;
  if (yes + missing >= q) return VoteResult::kPending;
  return VoteResult::kLost;
}

std::string MajorityConfig::DebugString() const {
  return absl::StrCat("(", absl::StrJoin(ids_, " "), ")");
}

std::set<uint64_t> JointConfig::Ids() const {
  std::set<uint64_t> out = incoming.ids();
  out.insert(outgoing.ids().begin(), outgoing.ids().end());
  return out;
}

uint64_t JointConfig::CommittedIndex(AckedFn acked) const {
  return std::min(incoming.CommittedIndex(acked), outgoing.CommittedIndex(acked));
}

VoteResult JointConfig::GetVoteResult(const std::map<uint64_t, bool>& votes) const {
  const VoteResult r1 = incoming.GetVoteResult(votes);
  const VoteResult r2 = outgoing.GetVoteResult(votes);
  if (r1 == r2) return r1;
  if (r1 == VoteResult::kLost || r2 == VoteResult::kLost) return VoteResult::kLost;
  return VoteResult::kPending;
}

std::string JointConfig::DebugString() const {
  if (!IsJoint()) return incoming.DebugString();
  return absl::StrCat(incoming.DebugString(), "&&", outgoing.DebugString());
}

}  // namespace rangedb::raft
