// Progress: the leader's view of one follower's log, driving flow control.
//
// States (etcd-raft style):
//   probe      the leader does not know where the follower's log matches; it sends at
//              most one MsgApp per heartbeat interval and backs off on rejections.
//   replicate  the follower is caught up to `match`; the leader streams MsgApps
//              optimistically, bounded by the inflight window.
//   snapshot   the follower needs entries that are compacted; the leader has sent a
//              snapshot and sends nothing else until it is reported done or failed.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "raft/inflights.h"

namespace rangedb::raft {

enum class ProgressState { kProbe, kReplicate, kSnapshot };
const char* ProgressStateName(ProgressState s);

struct Progress {
  Progress(uint64_t next_index, size_t max_inflight, uint64_t max_inflight_bytes, bool is_learner)
      : next(next_index), inflights(max_inflight, max_inflight_bytes), is_learner(is_learner) {}

  // Highest index known to be replicated on the follower.
  uint64_t match = 0;
  // Next index to send. Invariant: match < next.
  uint64_t next = 1;
  ProgressState state = ProgressState::kProbe;
  // In snapshot state: the index of the snapshot in flight.
  uint64_t pending_snapshot = 0;
  // Heard from within the current check-quorum window.
  bool recent_active = false;
  // In probe state: a MsgApp was sent since the last heartbeat response; pause.
  bool msg_app_probe_sent = false;
  Inflights inflights;
  bool is_learner = false;
  // Leader tick at which the latest acknowledged MSG_APP/MSG_HEARTBEAT was sent.
  uint64_t last_contact_tick = 0;

  void BecomeProbe();
  void BecomeReplicate();
  void BecomeSnapshot(uint64_t snapshot_index);

  // The follower acknowledged index n. Returns whether match advanced.
  bool MaybeUpdate(uint64_t n);
  // Optimistically advance next after sending entries through n (replicate state).
  void OptimisticUpdate(uint64_t n) { next = n + 1; }
  // The follower rejected a MsgApp at index `rejected`; `match_hint` is the leader's
  // guess (from the follower's conflict hint) of the highest index that may match.
  // Returns false if the rejection is stale.
  bool MaybeDecrTo(uint64_t rejected, uint64_t match_hint);
  // Whether sending MsgApps to this follower is paused by flow control.
  bool IsPaused() const;

  std::string DebugString() const;

 private:
  void ResetState(ProgressState s);
};

}  // namespace rangedb::raft
