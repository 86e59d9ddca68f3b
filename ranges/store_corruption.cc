// Store: replicas out of service because their storage is corrupt
// (docs/replication.md, "Corrupt replicas").
#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "ranges/store.h"
#include "spdlog/spdlog.h"
#include "storage/keys.h"
#include "storage/mvcc_key.h"

namespace rangedb::ranges {

absl::Status Store::LoadCorruptMarkers() {
  IterOptions opts;
  opts.lower_bound = MVCCKeyPrefix(keys::CorruptReplicasStart());
  opts.upper_bound = MVCCKeyPrefix(keys::CorruptReplicasEnd());
  std::unique_ptr<Iterator> it = engine()->NewIterator(opts);
  for (it->Seek(opts.lower_bound); it->Valid(); it->Next()) {
    std::string user_key;
    Timestamp ts;
    if (absl::Status s = DecodeMVCCKey(it->key(), &user_key, &ts); !s.ok()) return s;
    const uint64_t id = keys::RangeIdOfCorruptReplicaKey(user_key);
    if (id == 0) return absl::DataLossError("malformed corrupt-replica key");
    corrupt_[id] = absl::DataLossError(std::string(it->value()));
  }
  return it->status();
}

void Store::RetireCorruptReplica(uint64_t range_id, const absl::Status& why) {
  {
    absl::MutexLock lock(&mu_);
    if (replicas_.erase(range_id) == 0) return;
    corrupt_[range_id] = why;
    metrics_.replicas_corrupt.store(corrupt_.size());
  }
  // Durable, so a restart does not bring the replica back: its log may have lost what
  // it once acknowledged.
  std::unique_ptr<WriteBatch> b = engine()->NewWriteBatch();
  b->Put(ColumnFamily::kData, MVCCKeyPrefix(keys::CorruptReplicaKey(range_id)), why.ToString());
  if (absl::Status s = b->Commit(/*sync=*/true); !s.ok()) {
    RANGEDB_FATAL() << "store: recording corrupt replica of range " << range_id << ": " << s;
  }
}

bool Store::HandleStoppedReplica(uint64_t range_id, const absl::Status& why) {
  if (absl::IsDataLoss(why)) {
    RetireCorruptReplica(range_id, why);
    return true;
  }
  FailStop(absl::Status(why.code(), absl::StrCat("range ", range_id, ": ", why.message())));
  return false;
}

void Store::FailStop(const absl::Status& why) {
  {
    absl::MutexLock lock(&queue_mu_);
    if (!failure_.ok()) return;
    failure_ = why.ok() ? absl::InternalError("store failed") : why;
    stopping_ = true;  // the scheduler, ticker and GC threads end
  }
  const std::string message =
      absl::StrCat("store: node ", config().node_id,
                   " stops on an error that is not corruption: ", why.ToString(),
                   ". No replica is retired: restarted, the node reads its state from disk again.");
  if (!options_.on_fatal_error) RANGEDB_FATAL() << message;
  spdlog::critical("{}", message);
  options_.on_fatal_error(why);
}

absl::Status Store::Failure() const {
  absl::MutexLock lock(&queue_mu_);
  return failure_;
}

std::map<uint64_t, absl::Status> Store::CorruptReplicas() const {
  absl::MutexLock lock(&mu_);
  return corrupt_;
}

}  // namespace rangedb::ranges
