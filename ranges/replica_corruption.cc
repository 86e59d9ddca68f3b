// Replica: stopping for good when its storage is corrupt (docs/replication.md,
// "Corrupt replicas").
#include "absl/strings/str_cat.h"
#include "ranges/replica.h"
#include "ranges/store_context.h"
#include "spdlog/spdlog.h"

namespace rangedb::ranges {

bool Replica::CheckRaftFailureLocked() {
  if (!corruption_.ok()) return true;
  if (raw_->failure().ok()) return false;
  MarkCorruptLocked(raw_->failure());
  return true;
}

void Replica::MarkCorruptLocked(absl::Status why) {
  if (corruption_.ok()) {
    corruption_ = why.ok() ? absl::DataLossError("corrupt replica") : std::move(why);
    if (absl::IsDataLoss(corruption_)) {
      spdlog::error(
          "r{}: replica {} on node {} stopped, its storage is corrupt: {}. The node keeps "
          "serving its other ranges; this replica stays out of service until it is replaced.",
          range_id_, replica_id_, store_->config().node_id, corruption_.ToString());
    } else {
      spdlog::error("r{}: replica {} on node {} stopped on an error: {}. The node stops.",
                    range_id_, replica_id_, store_->config().node_id, corruption_.ToString());
    }
    // No longer the leader as far as this replica's users can tell: the lease check
    // fails from now on (nothing here applies any more, so a read here could be stale).
    soft_ = raft::SoftState{};
  }
  // What was appended may still commit through the other replicas: unknown outcome.
  for (auto& [id, p] : in_flight_) {
    p->FinishAmbiguous(absl::StrCat("range ", range_id_, ": the replica on node ",
                                    store_->config().node_id,
                                    " stopped (corrupt storage) before the write's outcome "
                                    "was known"));
  }
  in_flight_.clear();
  // Never handed to Raft: certainly not applied.
  for (std::shared_ptr<Proposal>& p : to_propose_) {
    p->Finish(absl::UnavailableError(
        absl::StrCat("range ", range_id_,
                     ": the replica stopped (corrupt storage); the write was not proposed")));
  }
  to_propose_.clear();
  to_propose_bytes_ = 0;
  ClearInboxLocked();
  pending_ticks_ = 0;
}

absl::Status Replica::Corruption() const {
  absl::MutexLock lock(&mu_);
  return corruption_;
}

}  // namespace rangedb::ranges
