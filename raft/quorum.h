// Quorum arithmetic for majority and joint (two-majority) configurations.
//
// Used for commit indexes (the highest index a quorum has acknowledged), election
// results, check-quorum and the leader's quorum-contact tick. Pure functions over
// id sets; thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "absl/functional/function_ref.h"

namespace rangedb::raft {

enum class VoteResult { kPending, kLost, kWon };

// AckedFn(id) returns the value (index, tick) id has acknowledged, or 0 if unknown.
using AckedFn = absl::FunctionRef<uint64_t(uint64_t id)>;

// A set of voters deciding by simple majority.
class MajorityConfig {
 public:
  MajorityConfig() = default;
  explicit MajorityConfig(std::set<uint64_t> ids) : ids_(std::move(ids)) {}

  // The largest value v such that a majority acknowledged >= v. An empty config
  // returns UINT64_MAX (it places no constraint inside a joint config).
  uint64_t CommittedIndex(AckedFn acked) const;
  // Won if a majority voted yes, Lost if that can no longer happen, else Pending.
  // An empty config wins.
  VoteResult GetVoteResult(const std::map<uint64_t, bool>& votes) const;

  const std::set<uint64_t>& ids() const { return ids_; }
  std::set<uint64_t>& mutable_ids() { return ids_; }
  bool empty() const { return ids_.empty(); }
  size_t size() const { return ids_.size(); }
  bool Contains(uint64_t id) const { return ids_.count(id) > 0; }
  std::string DebugString() const;

 private:
  std::set<uint64_t> ids_;
};

// incoming and outgoing majorities; outgoing is empty unless in joint consensus.
// Decisions need both majorities (§6, joint consensus).
class JointConfig {
 public:
  MajorityConfig incoming;
  MajorityConfig outgoing;

  bool IsJoint() const { return !outgoing.empty(); }
  // Union of both voter sets.
  std::set<uint64_t> Ids() const;
  bool Contains(uint64_t id) const { return incoming.Contains(id) || outgoing.Contains(id); }
  uint64_t CommittedIndex(AckedFn acked) const;
  VoteResult GetVoteResult(const std::map<uint64_t, bool>& votes) const;
  std::string DebugString() const;
};

}  // namespace rangedb::raft
