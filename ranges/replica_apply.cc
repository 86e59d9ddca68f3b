// Replica: applying committed commands, and proposing log truncation.
#include <limits>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "ranges/engine_state.h"
#include "ranges/raft_command_codec.h"
#include "ranges/replica.h"
#include "ranges/store_context.h"
#include "spdlog/spdlog.h"
#include "storage/keys.h"
#include "storage/lock_table.h"
#include "storage/mvcc_key.h"

namespace rangedb::ranges {

absl::Status Replica::CheckCommandLocked(const rangespb::RaftCommand& cmd) const {
  if (cmd.has_new_lease()) {
    // A lease for an older term than the current lease's is stale: its proposer lost
    // leadership before the command committed.
    if (cmd.new_lease().term() < lease_.term()) {
      return absl::UnavailableError("stale lease request");
    }
    return absl::OkStatus();
  }
  if (cmd.truncate_log_index() != 0) return absl::OkStatus();
  if (store_->config().testing_refuse_command && store_->config().testing_refuse_command(cmd)) {
    return absl::UnavailableError("testing: the command was refused at application");
  }
  if (cmd.proposer_lease_sequence() != lease_.sequence()) {
    return absl::UnavailableError(
        absl::StrCat("proposed under lease ", cmd.proposer_lease_sequence(),
                     ", but the range's lease is now ", lease_.sequence()));
  }
  if (cmd.max_lease_index() <= applied_.lease_applied_index()) {
    return absl::UnavailableError(absl::StrCat("stale proposal (lease index ",
                                               cmd.max_lease_index(), " <= applied ",
                                               applied_.lease_applied_index(), ")"));
  }
  return absl::OkStatus();
}

void Replica::ApplyCommittedLocked(const std::vector<raftpb::Entry>& entries) {
  if (entries.empty()) return;
  const absl::Time start = store_->time()->Now();
  Engine* engine = store_->engine();
  std::unique_ptr<WriteBatch> batch = engine->NewWriteBatch();
  // Results to hand to waiters once the batch is committed.
  std::vector<std::pair<std::string, absl::Status>> results;
  std::optional<RaftLogWrite> truncation;
  bool lease_changed = false;
  // A state written before max_tombstone_timestamp existed: any command applied so
  // far may have carried a tombstone, and max_timestamp covers them all.
  if (!applied_.has_max_tombstone_timestamp()) {
    *applied_.mutable_max_tombstone_timestamp() = applied_.max_timestamp();
  }
  for (const raftpb::Entry& e : entries) {
    if (e.index() <= applied_.raft_applied_index()) continue;  // in a snapshot already
    applied_.set_raft_applied_index(e.index());
    if (e.type() != raftpb::ENTRY_NORMAL || e.data().empty()) continue;
    rangespb::RaftCommand cmd;
    const RaftCommandDecoding decoding = DecodeRaftCommand(e.data(), &cmd);
    if (decoding == RaftCommandDecoding::kDamaged) {
      // This copy is not what the proposer made (damaged in transit or in memory
      // before it was logged): the other replicas apply the proposer's command, so
      // this one must neither skip it nor apply something else. Nothing of this
      // Ready applies (the batch is dropped); the replica stops and is replaced.
      MarkCorruptLocked(absl::DataLossError(
          absl::StrCat("range ", range_id_, ": the command at index ", e.index(),
                       " fails its proposer's checksum: this replica's copy is damaged")));
      return;
    }
    if (decoding == RaftCommandDecoding::kUnparseable) {
      // The proposer's own bytes (its checksum holds): every replica fails here
      // alike, so this is the proposer's bug, not this replica's storage. Rejected
      // everywhere, identically: a no-op.
      RejectCommandLocked(e.index(), e.term(), /*command_id=*/"",
                          absl::StrCat("range ", range_id_, ": the command at index ", e.index(),
                                       " does not parse"));
      continue;
    }
    absl::Status check = CheckCommandLocked(cmd);
    if (!check.ok()) {
      results.emplace_back(cmd.command_id(), check);
      continue;
    }
    // The command's timestamp is at or above every version it writes: keep the clock
    // above all stored data, so a read at Now() sees every applied write.
    if (cmd.has_timestamp()) store_->clock()->Forward(TimestampFromProto(cmd.timestamp()));
    if (cmd.has_new_lease()) {
      rangespb::Lease lease = cmd.new_lease();
      lease.set_sequence(lease_.sequence() + 1);
      // A lease starts no earlier than the one before it. Its holder stamped it when
      // it became leader, possibly before applying the previous lease (a new leader
      // learns the commit index late) or with a clock that came back behind after a
      // restart; the tombstone low water that refuses record creation starts from
      // the lease's start (Replica::AcquireLease), and must never go down from one
      // lease to the next, or a transaction a pusher treated as aborted under the
      // previous lease could create its record under this one. Decided here, from
      // the replicated state, the same on every replica.
      if (TimestampFromProto(lease.start()) < TimestampFromProto(lease_.start())) {
        *lease.mutable_start() = lease_.start();
      }
      lease_ = lease;
      WriteLocalProto(*batch, keys::LeaseKey(range_id_), lease_);
      lease_changed = true;
      spdlog::info("r{}: lease {} now held by node {} (term {})", range_id_, lease_.sequence(),
                   lease_.holder().node_id(), lease_.term());
    } else if (cmd.truncate_log_index() != 0) {
      // Unreplicated effect: each replica truncates its own log; the log storage
      // stages it into this batch. Skip if we already truncated past it.
      if (cmd.truncate_log_index() > log_->state().truncated_index &&
          cmd.truncate_log_index() <= log_->state().last_index && !truncation.has_value()) {
        truncation.emplace(log_->NewWrite(batch.get()));
        absl::Status s = truncation->CreateSnapshot(cmd.truncate_log_index(), ConfStateLocked());
        if (s.ok()) s = truncation->Compact(cmd.truncate_log_index());
        if (!s.ok()) {
          spdlog::warn("r{}: truncating log at {}: {}", range_id_, cmd.truncate_log_index(),
                       s.ToString());
          truncation.reset();
        }
      }
    } else {
      // A GC pass stores its own threshold (now - gc_ttl), and gc_ttl may have been
      // longer for it (a setting changed, or its fallback after a failed read): the
      // stored threshold must never go down, or a restarted replica, or one built
      // from a snapshot, would serve reads and accept writes below versions an
      // earlier pass removed. So the stored value is max(stored, command's), decided
      // here from the replicated state (read through the batch, which holds this
      // batch's earlier commands), the same on every replica.
      proto::Timestamp stored_gc_threshold;
      bool has_stored_gc_threshold = false;
      if (cmd.has_gc_threshold()) {
        absl::StatusOr<bool> found =
            ReadLocalProto(*batch, keys::GcThresholdKey(range_id_), &stored_gc_threshold);
        if (!found.ok()) {
          MarkCorruptLocked(absl::DataLossError(
              absl::StrCat("range ", range_id_, ": applying the GC command at index ", e.index(),
                           ": the stored GC threshold is unreadable: ", found.status().message())));
          return;
        }
        has_stored_gc_threshold = *found;
      }
      // AppendSerialized adds all of the command's writes or none.
      if (absl::Status s = batch->AppendSerialized(cmd.write_batch()); !s.ok()) {
        // Deterministic, as above: every replica refuses the same bytes the same way.
        RejectCommandLocked(
            e.index(), e.term(), cmd.command_id(),
            absl::StrCat("range ", range_id_, ": the write batch of the command at index ",
                         e.index(), " is malformed: ", s.message()));
        continue;
      }
      applied_.set_lease_applied_index(cmd.max_lease_index());
      if (cmd.has_gc_threshold()) {
        gc_threshold_ = std::max(gc_threshold_, TimestampFromProto(cmd.gc_threshold()));
        if (has_stored_gc_threshold &&
            TimestampFromProto(stored_gc_threshold) > TimestampFromProto(cmd.gc_threshold())) {
          WriteLocalProto(*batch, keys::GcThresholdKey(range_id_), stored_gc_threshold);
        }
      }
    }
    if (cmd.has_timestamp() &&
        TimestampFromProto(applied_.max_timestamp()) < TimestampFromProto(cmd.timestamp())) {
      *applied_.mutable_max_timestamp() = cmd.timestamp();
    }
    if (cmd.removes_txn_record() && TimestampFromProto(applied_.max_tombstone_timestamp()) <
                                        TimestampFromProto(cmd.timestamp())) {
      *applied_.mutable_max_tombstone_timestamp() = cmd.timestamp();
    }
    results.emplace_back(cmd.command_id(), absl::OkStatus());
  }
  WriteLocalProto(*batch, keys::AppliedStateKey(range_id_), applied_);
  // Not synced: the entries are durable in the Raft log, and the applied state moves
  // with the data atomically, so a crash replays from the last applied index.
  if (absl::Status s = batch->Commit(/*sync=*/false); !s.ok()) {
    RANGEDB_FATAL() << "r" << range_id_ << ": applying committed entries: " << s;
  }
  if (truncation.has_value()) log_->OnCommitted(std::move(*truncation));
  StoreMetrics* m = store_->mutable_metrics();
  m->commands_applied.fetch_add(results.size(), std::memory_order_relaxed);
  m->apply_nanos.fetch_add(absl::ToInt64Nanoseconds(store_->time()->Now() - start),
                           std::memory_order_relaxed);
  for (auto& [id, result] : results) FinishProposalLocked(id, std::move(result));
  FailOverwrittenProposalsLocked(applied_.raft_applied_index());
  if (lease_changed) {
    next_lease_index_ = applied_.lease_applied_index();
    FailStaleProposalsLocked();
  }
}

void Replica::RejectCommandLocked(uint64_t index, uint64_t term, const std::string& command_id,
                                  const std::string& why) {
  spdlog::error("r{}: {}; rejected as a no-op on every replica (a bug at its proposer)", range_id_,
                why);
  store_->mutable_metrics()->commands_rejected.fetch_add(1, std::memory_order_relaxed);
  // Its proposer (here, if here) learns that it did not apply: known, not ambiguous.
  // Internal, not Unavailable: evaluating the same request again would likely build
  // the same command, so it is not worth a retry.
  const absl::Status result = absl::InternalError(absl::StrCat(why, "; the write was not applied"));
  for (auto it = in_flight_.begin(); it != in_flight_.end(); ++it) {
    // Without a command id (it did not parse): the proposal at that log position.
    if (command_id.empty() ? it->second->index == index && it->second->term == term
                           : it->first == command_id) {
      it->second->Finish(result);
      in_flight_.erase(it);
      return;
    }
  }
}

void Replica::FinishProposalLocked(const std::string& command_id, absl::Status result) {
  auto it = in_flight_.find(command_id);
  if (it == in_flight_.end()) return;
  if (result.ok() && it->second->on_applied) it->second->on_applied();
  it->second->Finish(std::move(result));
  in_flight_.erase(it);
}

void Replica::FailOverwrittenProposalsLocked(uint64_t applied_index) {
  // The entry at a proposal's position applied (or was refused) above, and it was not
  // this proposal (that would have finished it): the position committed with another
  // command, so this one can never commit (Log Matching). Definitive.
  for (auto it = in_flight_.begin(); it != in_flight_.end();) {
    if (it->second->index > applied_index) {
      ++it;
      continue;
    }
    it->second->Finish(absl::UnavailableError(absl::StrCat(
        "the log position of the write (index ", it->second->index, ", term ", it->second->term,
        ") committed with another command; the write was not applied")));
    it = in_flight_.erase(it);
  }
}

void Replica::FinishProposalsCoveredBySnapshotLocked(uint64_t applied_index) {
  // This replica never saw these entries apply: the snapshot holds their effects, or
  // another command's. Only "ambiguous" is true.
  for (auto it = in_flight_.begin(); it != in_flight_.end();) {
    if (it->second->index > applied_index) {
      ++it;
      continue;
    }
    // It may have applied: whatever must hold if it did is put in place.
    if (it->second->on_applied) it->second->on_applied();
    it->second->FinishAmbiguous(
        absl::StrCat("range ", range_id_, ": a snapshot through index ", applied_index,
                     " replaced the log position of the write (index ", it->second->index,
                     "); it may or may not have applied"));
    it = in_flight_.erase(it);
  }
}

void Replica::ForgetInternalProposalsOfOlderTermsLocked() {
  const uint64_t term = raw_->raft().term();
  for (auto it = in_flight_.begin(); it != in_flight_.end();) {
    if (it->second->Internal() && it->second->term < term) {
      it->second->Finish(absl::UnavailableError("proposed in an earlier term"));
      it = in_flight_.erase(it);
    } else {
      ++it;
    }
  }
}

void Replica::FailStaleProposalsLocked() {
  // A proposal made under an older lease can no longer apply (CheckCommandLocked
  // would skip it), so its writer may safely retry.
  for (auto it = in_flight_.begin(); it != in_flight_.end();) {
    const rangespb::RaftCommand& cmd = it->second->command;
    if (!cmd.has_new_lease() && cmd.truncate_log_index() == 0 &&
        cmd.proposer_lease_sequence() < lease_.sequence()) {
      it->second->Finish(absl::UnavailableError("the lease changed; the write was not applied"));
      it = in_flight_.erase(it);
    } else {
      ++it;
    }
  }
}

int64_t Replica::IdempotencyCutoffLocked() {
  const int64_t mono_now = store_->time()->MonotonicNanos();
  const int64_t ttl_ns = absl::ToInt64Nanoseconds(store_->config().idempotency_record_ttl);
  const int64_t hlc_now = store_->clock()->Now().wall_ns;
  if (idem_lease_sequence_ != lease_.sequence()) {
    // A new lease (this replica just became leaseholder, or came back to it): start
    // from replicated time, never from this node's clock now — the range's expiry
    // clock as last written (at bootstrap, then by leaseholders). Counting real time
    // from now rather than from when it was written only keeps records longer.
    rangespb::IdempotencyExpiry last;
    absl::StatusOr<bool> found =
        ReadLocalProto(*store_->engine(), keys::IdempotencyExpiryKey(range_id_), &last);
    if (!found.ok()) {
      // Expire nothing this round rather than guess; the next round reads again.
      spdlog::warn("r{}: cannot read the idempotency expiry clock: {}", range_id_,
                   found.status().ToString());
      return std::numeric_limits<int64_t>::min();
    }
    // Every range gets one at bootstrap; without one (which only a damaged store can
    // show) start a lifetime behind the HLC: records expire from twice the lifetime
    // on, which is safe unless this node's clock also jumped forward.
    idem_trusted_now_ns_ = *found ? last.trusted_now_unix_ns() : hlc_now - ttl_ns;
    idem_persisted_now_ns_ = idem_trusted_now_ns_;
    idem_trusted_mono_ns_ = mono_now;
    idem_lease_sequence_ = lease_.sequence();
  }
  // Follow the HLC, but at most twice as fast as real time passes here: a wall clock
  // that jumps forward cannot expire a record sooner than half its lifetime after it
  // was written, which is as long as a write may be retried (CheckIdempotencyKey);
  // twice, so that time lost across lease changes is caught up.
  const int64_t allowed = idem_trusted_now_ns_ + 2 * (mono_now - idem_trusted_mono_ns_);
  const int64_t trusted = std::min(hlc_now, allowed);
  if (trusted > idem_trusted_now_ns_) idem_trusted_now_ns_ = trusted;
  idem_trusted_mono_ns_ = mono_now;
  return idem_trusted_now_ns_ - ttl_ns;
}

void Replica::ExpireIdempotencyRecordsLocked() {
  // Bounded work per call; the rest waits for the next housekeeping round.
  constexpr int kMaxExpiredPerRound = 1000;
  constexpr int kMaxExaminedPerRound = 10000;
  const int64_t cutoff = IdempotencyCutoffLocked();
  IterOptions opts;
  opts.lower_bound = MVCCKeyPrefix(keys::IdempotencyRecordsStart(range_id_));
  opts.upper_bound = MVCCKeyPrefix(keys::IdempotencyRecordsEnd(range_id_));
  std::unique_ptr<Iterator> it = store_->engine()->NewIterator(opts);
  std::unique_ptr<WriteBatch> batch = store_->engine()->NewWriteBatch();
  int expired = 0;
  int examined = 0;
  // Records are ordered by client, not by age: walk them a slice per round.
  it->Seek(idempotency_cursor_.empty() ? opts.lower_bound : idempotency_cursor_);
  for (; it->Valid() && expired < kMaxExpiredPerRound && examined < kMaxExaminedPerRound;
       it->Next(), ++examined) {
    rangespb::IdempotencyRecord record;
    if (record.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())) &&
        record.recorded_unix_ns() >= cutoff) {
      continue;
    }
    batch->Delete(ColumnFamily::kData, it->key());
    ++expired;
  }
  idempotency_cursor_ = it->Valid() ? std::string(it->key().data(), it->key().size()) : "";
  // The replicated cutoff is where the next leaseholder starts: refresh it now and
  // then even with nothing to delete (but never wake a quiescent range for that), or
  // a new leaseholder would keep records for as long as it lags.
  const int64_t refresh_after_ns =
      absl::ToInt64Nanoseconds(store_->config().idempotency_record_ttl) / 2;
  const bool refresh_due =
      !quiescent_ && idem_trusted_now_ns_ - idem_persisted_now_ns_ >= refresh_after_ns;
  if (expired == 0 && !refresh_due) return;
  LeaseCheck lease = CheckLeaseLocked();
  if (!lease.valid) {
    if (expired == 0) return;
    // A quiescent leader's lease has lapsed: wake the range; the next round proposes.
    UnquiesceLocked();
    store_->EnqueueRange(range_id_);
    return;
  }
  // The expiry clock goes with the deletions, so the next leaseholder starts from it.
  rangespb::IdempotencyExpiry used;
  used.set_trusted_now_unix_ns(idem_trusted_now_ns_);
  WriteLocalProto(*batch, keys::IdempotencyExpiryKey(range_id_), used);
  idem_persisted_now_ns_ = idem_trusted_now_ns_;
  auto p = std::make_shared<Proposal>();
  p->command.set_command_id(
      absl::StrCat("expire-idempotency-", range_id_, "-", store_->time()->MonotonicNanos()));
  p->command.set_proposer_lease_sequence(lease.sequence);
  p->command.set_write_batch(batch->Serialize());
  to_propose_.push_back(std::move(p));
  store_->EnqueueRange(range_id_);
}

void Replica::MaybeTruncateLog() {
  absl::MutexLock lock(&mu_);
  if (soft_.raft_state != raft::StateType::kLeader) return;
  ExpireIdempotencyRecordsLocked();
  if (quiescent_) return;
  const RaftLogState& st = log_->state();
  const uint64_t applied = applied_.raft_applied_index();
  const uint64_t threshold = store_->config().raft_log_truncate_threshold_entries;
  if (applied <= st.truncated_index + threshold) return;
  // Keep what live followers still need, unless the log has grown far past the
  // threshold: then lagging followers catch up from a snapshot instead.
  uint64_t index = applied;
  // A follower receiving a snapshot continues from the log right after it: never
  // truncate past a snapshot in flight, or it needs another one (and under steady
  // writes, another, ...).
  uint64_t keep_after_snapshot = applied;
  const raft::Status status = raw_->GetStatus();
  for (const auto& [id, pr] : status.progress) {
    if (id == replica_id_) continue;
    if (pr.state == raft::ProgressState::kSnapshot) {
      keep_after_snapshot = std::min(keep_after_snapshot, pr.pending_snapshot);
    } else if (store_->NodeLive(NodeOfReplicaLocked(id))) {
      index = std::min(index, pr.match);
    }
  }
  if (index <= st.truncated_index + threshold / 2) {
    if (applied <= st.truncated_index + 4 * threshold) return;
    index = applied;
  }
  index = std::min(index, keep_after_snapshot);
  // Nor past what a follower that just got a snapshot continues from: cut off while it
  // installs and catches up, it would need another snapshot (and under steady writes,
  // another, ...). Bounded: see SnapshotTruncationLimitLocked.
  index = SnapshotTruncationLimitLocked(status, index);
  if (index <= st.truncated_index) return;
  absl::StatusOr<uint64_t> term = log_->Term(index);
  if (!term.ok()) return;
  auto p = std::make_shared<Proposal>();
  p->command.set_command_id(absl::StrCat("truncate-", range_id_, "-", index));
  p->command.set_truncate_log_index(index);
  p->command.set_truncate_log_term(*term);
  to_propose_.push_back(std::move(p));
  store_->EnqueueRange(range_id_);
}

}  // namespace rangedb::ranges
