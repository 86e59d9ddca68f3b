// ProgressTracker: the active membership configuration plus the leader's per-peer
// Progress and a candidate's vote tally. Not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "proto/raft.pb.h"
#include "raft/progress.h"
#include "raft/quorum.h"

namespace rangedb::raft {

// A membership configuration (§6). Invariants (checked by confchange):
//   learners ∩ voters = ∅; learners_next ⊆ voters.outgoing \ voters.incoming;
//   if not joint: learners_next = ∅ and !auto_leave.
struct TrackerConfig {
  JointConfig voters;
  // Leave the joint configuration automatically once it is applied.
  bool auto_leave = false;
  std::set<uint64_t> learners;
  // Outgoing voters demoted to learners: they become learners on leaving joint
  // (a node cannot be a voter and a learner at once).
  std::set<uint64_t> learners_next;

  std::string DebugString() const;
};

using ProgressMap = std::map<uint64_t, Progress>;

class ProgressTracker {
 public:
  ProgressTracker(size_t max_inflight, uint64_t max_inflight_bytes)
      : max_inflight_(max_inflight), max_inflight_bytes_(max_inflight_bytes) {}

  raftpb::ConfState ConfState() const;
  // One voter, no joint config: the leader commits alone.
  bool IsSingleton() const;
  // Highest index acknowledged by a quorum of voters.
  uint64_t Committed() const;
  // Whether a quorum of voters was recently active (check-quorum).
  bool QuorumActive() const;
  // The largest tick T such that a quorum of voters has acknowledged a message the
  // leader sent at or after T. `self` counts as contacted at `now`.
  uint64_t QuorumContactTick(uint64_t self, uint64_t now) const;

  std::set<uint64_t> VoterIds() const { return config.voters.Ids(); }

  void ResetVotes() { votes_.clear(); }
  // Records id's vote unless it already voted this round.
  void RecordVote(uint64_t id, bool granted) { votes_.emplace(id, granted); }
  VoteResult TallyVotes(size_t* granted, size_t* rejected) const;

  Progress NewProgress(uint64_t next, bool is_learner) const {
    return Progress(next, max_inflight_, max_inflight_bytes_, is_learner);
  }
  size_t max_inflight() const { return max_inflight_; }
  uint64_t max_inflight_bytes() const { return max_inflight_bytes_; }

  TrackerConfig config;
  ProgressMap progress;

 private:
  size_t max_inflight_;
  uint64_t max_inflight_bytes_;
  std::map<uint64_t, bool> votes_;
};

}  // namespace rangedb::raft
