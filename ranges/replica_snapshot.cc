// Replica: Raft snapshots — handing one to the store's sender for a lagging follower,
// learning how the send ended, installing a received one
// (docs/design/snapshot-streaming.md).
//
// A snapshot's data is every replicated key of the range, read from an engine snapshot
// taken when Raft asks for the snapshot. That state may be newer than the snapshot's
// Raft index: it carries its own AppliedState, and the receiver skips entries at or
// below it, so replaying the entries between the two indexes changes nothing.
#include "absl/strings/str_cat.h"
#include "ranges/engine_state.h"
#include "ranges/replica.h"
#include "ranges/store_context.h"
#include "spdlog/spdlog.h"
#include "storage/keys.h"
#include "storage/lock_table.h"

namespace rangedb::ranges {

void Replica::StartSnapshotSendLocked(raftpb::Message m, uint64_t to_node_id) {
  // Under mu_ the engine holds exactly applied_ (apply batches commit under mu_), so
  // the engine snapshot, desc_ and applied_ describe one state. Taking it is cheap;
  // reading and sending it happens on the sender's threads.
  OutgoingSnapshot out;
  out.to_replica_id = m.to();
  out.send_id = ++last_snapshot_send_id_;
  out.engine_snapshot = store_->engine()->NewSnapshot();
  rangespb::SnapshotHeader& h = out.header;
  h.set_range_id(range_id_);
  h.set_from_node_id(store_->config().node_id);
  h.set_to_node_id(to_node_id);
  *h.mutable_range_descriptor() = desc_;
  *h.mutable_applied_state() = applied_;
  m.mutable_snapshot()->clear_data();
  *h.mutable_message() = std::move(m);
  const uint64_t to = out.to_replica_id;
  const uint64_t send_id = out.send_id;
  const uint64_t index = h.message().snapshot().metadata().index();
  if (absl::Status s = store_->SendSnapshot(std::move(out)); !s.ok()) {
    spdlog::info("r{}: not sending a snapshot to replica {} now: {}", range_id_, to, s.ToString());
    raw_->ReportSnapshot(to, /*failed=*/true);
    return;
  }
  // The outcome cannot arrive before this: it needs mu_.
  snapshot_log_holds_[to] = SnapshotLogHold{index, /*sent_mono_ns=*/0, send_id};
  spdlog::info("r{}: sending snapshot at index {} (state at applied index {}) to replica {}",
               range_id_, index, applied_.raft_applied_index(), to);
}

void Replica::OnSnapshotSent(uint64_t to_replica_id, uint64_t send_id, const absl::Status& result) {
  {
    absl::MutexLock lock(&mu_);
    if (!corruption_.ok()) return;
    // Every send in flight has its hold (holds of running sends are only dropped when
    // this replica becomes leader again, which resets Raft's progress anyway). No
    // hold, or another send's: this outcome is of an older send and says nothing about
    // the snapshot Raft is waiting for now.
    auto hold = snapshot_log_holds_.find(to_replica_id);
    if (hold == snapshot_log_holds_.end() || hold->second.send_id != send_id) {
      spdlog::info("r{}: ignoring the outcome ({}) of an older snapshot send to replica {}",
                   range_id_, result.ToString(), to_replica_id);
      return;
    }
    // Failed: Raft probes the follower again and may ask for another snapshot later.
    // Done: the follower's answer after installing moves its progress on.
    raw_->ReportSnapshot(to_replica_id, /*failed=*/!result.ok());
    // Done: the follower continues from the log after the snapshot's index, which
    // truncation keeps for a grace period. Failed: nothing to keep for it.
    if (result.ok()) {
      hold->second.sent_mono_ns = std::max<int64_t>(1, store_->time()->MonotonicNanos());
    } else {
      snapshot_log_holds_.erase(hold);
    }
  }
  store_->EnqueueRange(range_id_);
}

uint64_t Replica::SnapshotTruncationLimitLocked(const raft::Status& status, uint64_t limit) {
  const int64_t now_ns = store_->time()->MonotonicNanos();
  const int64_t grace_ns = absl::ToInt64Nanoseconds(store_->config().snapshot_catchup_grace);
  for (auto it = snapshot_log_holds_.begin(); it != snapshot_log_holds_.end();) {
    const auto pr = status.progress.find(it->first);
    const SnapshotLogHold& hold = it->second;
    // A send still running is bounded by the sender's stall watchdog; a delivered
    // snapshot by the grace period, and by the follower's node being live: a follower
    // that died or cannot keep up must not keep the log forever.
    const bool sent = hold.sent_mono_ns != 0;
    if (pr == status.progress.end() ||
        (sent && (now_ns - hold.sent_mono_ns > grace_ns ||
                  !store_->NodeLive(NodeOfReplicaLocked(it->first))))) {
      it = snapshot_log_holds_.erase(it);
      continue;
    }
    // The follower continues after the snapshot's index, or after what it already
    // acknowledged beyond it.
    limit = std::min(limit, std::max(hold.index, pr->second.match));
    ++it;
  }
  return limit;
}

void Replica::RemoveStagedSnapshot(const std::string& path) {
  if (!path.empty()) store_->engine()->RemoveStagedFile(path);
}

void Replica::NoteStagedSnapshotLocked(const raftpb::Message& m) {
  rangespb::SnapshotData data;
  if (m.type() == raftpb::MSG_SNAP && data.ParseFromString(m.snapshot().data()) &&
      !data.staged_file().empty()) {
    staged_snapshot_files_.push_back(data.staged_file());
  }
}

void Replica::RemoveUnusedStagedSnapshotsLocked(const std::string& used) {
  for (const std::string& path : staged_snapshot_files_) {
    if (path != used) RemoveStagedSnapshot(path);
  }
  staged_snapshot_files_.clear();
}

absl::Status Replica::IngestSnapshotLocked(const rangespb::SnapshotData& data) {
  if (data.staged_file().empty()) {
    return absl::DataLossError(absl::StrCat("range ", range_id_, ": a snapshot without data"));
  }
  // The file clears every replicated span of the range (old and new bounds) and holds
  // its keys: one atomic, durable step. The Raft side follows in the scheduler's
  // synced batch; a crash in between is safe (docs/design/snapshot-streaming.md).
  if (absl::Status s = store_->engine()->IngestFiles(ColumnFamily::kData, {data.staged_file()});
      !s.ok()) {
    RemoveStagedSnapshot(data.staged_file());
    return s;
  }
  store_->mutable_metrics()->snapshots_applied.fetch_add(1, std::memory_order_relaxed);
  return absl::OkStatus();
}

void Replica::LoadStateAfterSnapshotLocked() {
  // The ingested data carries its own descriptor, applied state, lease and GC
  // threshold (replicated range-ID-local keys).
  Engine& engine = *store_->engine();
  kvpb::RangeDescriptor desc;
  if (absl::StatusOr<bool> s = ReadLocalProto(engine, keys::DescriptorKey(range_id_), &desc);
      s.ok() && *s) {
    desc_ = desc;
  }
  rangespb::AppliedState applied;
  if (absl::StatusOr<bool> s = ReadLocalProto(engine, keys::AppliedStateKey(range_id_), &applied);
      s.ok() && *s) {
    applied_ = applied;
  }
  rangespb::Lease lease;
  if (absl::StatusOr<bool> s = ReadLocalProto(engine, keys::LeaseKey(range_id_), &lease);
      s.ok() && *s) {
    lease_ = lease;
  }
  proto::Timestamp gc_threshold;
  if (absl::StatusOr<bool> s =
          ReadLocalProto(engine, keys::GcThresholdKey(range_id_), &gc_threshold);
      s.ok() && *s) {
    gc_threshold_ = std::max(gc_threshold_, TimestampFromProto(gc_threshold));
  }
}

}  // namespace rangedb::ranges
