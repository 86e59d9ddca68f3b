// Membership changes (§6): computes the configuration and progress map that result
// from applying a ConfChange to the current ones, without mutating them.
//
//   Simple      at most one voter added or removed (learner changes are free).
//   EnterJoint  C_old -> C_old,new: incoming := result of the changes, outgoing := old.
//   LeaveJoint  C_old,new -> C_new: drop outgoing; learners_next become learners.
//
// Every result is checked against the TrackerConfig invariants; a change that would
// break them (remove every voter, a second voter change without joint consensus,
// entering joint twice, leaving a non-joint config) fails with InvalidArgument and
// leaves nothing changed. Pure; thread-compatible.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/raft.pb.h"
#include "raft/tracker.h"

namespace rangedb::raft {

struct ConfigAndProgress {
  TrackerConfig config;
  ProgressMap progress;
};

class Changer {
 public:
  // last_index: the log's last index; new peers start probing there.
  Changer(const ProgressTracker& tracker, uint64_t last_index)
      : tracker_(tracker), last_index_(last_index) {}

  [[nodiscard]] absl::StatusOr<ConfigAndProgress> EnterJoint(
      bool auto_leave, const std::vector<raftpb::ConfChangeSingle>& changes) const;
  [[nodiscard]] absl::StatusOr<ConfigAndProgress> LeaveJoint() const;
  [[nodiscard]] absl::StatusOr<ConfigAndProgress> Simple(
      const std::vector<raftpb::ConfChangeSingle>& changes) const;

 private:
  absl::Status Apply(ConfigAndProgress& cp,
                     const std::vector<raftpb::ConfChangeSingle>& changes) const;
  void MakeVoter(ConfigAndProgress& cp, uint64_t id) const;
  void MakeLearner(ConfigAndProgress& cp, uint64_t id) const;
  void Remove(ConfigAndProgress& cp, uint64_t id) const;
  void InitProgress(ConfigAndProgress& cp, uint64_t id, bool is_learner) const;

  const ProgressTracker& tracker_;
  uint64_t last_index_;
};

// Whether a ConfChange leaves a joint config (empty, AUTO transition).
bool IsLeaveJoint(const raftpb::ConfChange& cc);
// Whether a ConfChange enters a joint config; sets *auto_leave if so.
bool IsEnterJoint(const raftpb::ConfChange& cc, bool* auto_leave);

// Applies cc to the tracker's config with the Changer, choosing the operation.
[[nodiscard]] absl::StatusOr<ConfigAndProgress> ApplyConfChangeTo(const ProgressTracker& tracker,
                                                                  uint64_t last_index,
                                                                  const raftpb::ConfChange& cc);

// Rebuilds the configuration described by cs (from a snapshot or storage) starting
// from an empty tracker, by replaying equivalent changes.
[[nodiscard]] absl::StatusOr<ConfigAndProgress> RestoreConfig(const ProgressTracker& empty,
                                                              uint64_t last_index,
                                                              const raftpb::ConfState& cs);

// Whether two ConfStates describe the same configuration (order-insensitive).
bool ConfStatesEquivalent(const raftpb::ConfState& a, const raftpb::ConfState& b);

}  // namespace rangedb::raft
