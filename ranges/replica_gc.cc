// Replica: garbage collection of MVCC versions and finished transaction records
// (docs/transactions.md, "Garbage collection").
#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "ranges/evaluate_txn.h"
#include "ranges/intent_resolver.h"
#include "ranges/range_keys.h"
#include "ranges/replica.h"
#include "ranges/store_context.h"
#include "spdlog/spdlog.h"
#include "storage/keys.h"
#include "storage/lock_table.h"
#include "storage/mvcc.h"
#include "storage/mvcc_key.h"

namespace rangedb::ranges {
namespace {

// Bounds of one pass; whatever is left waits for the next.
constexpr int64_t kMaxGcVersionsPerPass = 10000;
constexpr int kMaxGcRecordsPerPass = 1000;

// The records in [start, end) of the range-local space that are old enough to go.
absl::StatusOr<std::vector<kvpb::Transaction>> CollectableRecords(Engine& engine,
                                                                  absl::string_view start,
                                                                  absl::string_view end,
                                                                  Timestamp now,
                                                                  absl::Duration age) {
  IterOptions options;
  options.lower_bound = MVCCKeyPrefix(absl::StrCat(keys::kRangeLocalPrefix, start));
  options.upper_bound = MVCCKeyPrefix(absl::StrCat(keys::kRangeLocalPrefix, end));
  std::unique_ptr<Iterator> it = engine.NewIterator(options);
  std::vector<kvpb::Transaction> out;
  std::string key;
  const int64_t age_ns = absl::ToInt64Nanoseconds(age);
  for (it->Seek(options.lower_bound);
       it->Valid() && out.size() < static_cast<size_t>(kMaxGcRecordsPerPass); it->Next()) {
    Timestamp ts;
    if (absl::Status s = DecodeMVCCKey(it->key(), &key, &ts); !s.ok()) return s;
    if (!absl::StrContains(key, absl::string_view("\0txn-", 5))) continue;
    kvpb::Transaction record;
    if (!record.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())) ||
        TxnRecordKey(record.anchor_key(), record.id()) != key) {
      continue;  // another range-local key that happens to contain the marker
    }
    const Timestamp last = TimestampFromProto(
        record.has_last_heartbeat() ? record.last_heartbeat() : record.write_timestamp());
    const bool finished = record.status() != kvpb::PENDING || TxnExpired(record, now);
    if (finished && last.wall_ns + age_ns < now.wall_ns) out.push_back(std::move(record));
  }
  if (absl::Status s = it->status(); !s.ok()) return s;
  return out;
}

}  // namespace

Timestamp Replica::GcThreshold() const {
  absl::MutexLock lock(&mu_);
  return gc_threshold_;
}

absl::StatusOr<Replica::GcResult> Replica::RunGC(absl::Duration gc_ttl, absl::Time deadline) {
  GcResult result;
  if (!IsLeaseholder()) return result;
  const kvpb::Span span = RangeSpan();
  const Timestamp now = store_->clock()->Now();
  const Timestamp threshold{now.wall_ns - absl::ToInt64Nanoseconds(gc_ttl), 0};
  absl::StatusOr<std::vector<kvpb::Transaction>> records = CollectableRecords(
      *store_->engine(), span.key(), span.end_key(), now, store_->config().txn_record_gc_age);
  if (!records.ok()) return records.status();
  // A committed record is the only proof its remaining intents committed: resolve
  // every one of them (following each span to its end) before the record goes. An
  // intent left without its record would be judged abandoned and removed.
  std::vector<kvpb::Transaction> doomed;
  for (kvpb::Transaction& record : *records) {
    if (absl::Status s = ResolveRecordIntents(record, deadline); !s.ok()) {
      spdlog::warn("r{}: gc: keeping the record of {}: resolving its intents failed: {}", range_id_,
                   absl::BytesToHexString(record.id()), s.ToString());
      continue;
    }
    doomed.push_back(std::move(record));
  }
  // Latches: the records, and every key of the range's data, so that no read or
  // write runs across the pass (a read that checked the old threshold must not
  // lose versions under it; a write is checked against the new one).
  const std::string data_start = std::max(span.key(), std::string(keys::kLocalEnd));
  std::vector<LatchSpan> latches;
  if (data_start < span.end_key()) latches.push_back({data_start, span.end_key(), /*write=*/true});
  for (const kvpb::Transaction& record : doomed) {
    latches.push_back({TxnRecordKey(record.anchor_key(), record.id()), "", /*write=*/true});
  }
  absl::StatusOr<LatchManager::Guard> guard = latches_.Acquire(std::move(latches), deadline);
  if (!guard.ok()) return guard.status();
  LeaseCheck lease = AcquireLease(deadline);
  if (!lease.valid) return result;
  std::unique_ptr<WriteBatch> batch = store_->engine()->NewWriteBatch();
  for (const kvpb::Transaction& record : doomed) {
    // Re-read under the latch: a record that changed since is left for next time.
    absl::StatusOr<std::optional<kvpb::Transaction>> current =
        ReadTxnRecord(*store_->engine(), record.anchor_key(), record.id());
    if (!current.ok()) return current.status();
    if (!current->has_value() || (*current)->status() != record.status()) continue;
    // Never again: a late heartbeat, EndTxn or pusher finds the tombstone marker.
    MarkRecordRemoved(record, store_->clock()->Now());
    batch->Delete(ColumnFamily::kData,
                  MVCCKeyPrefix(TxnRecordKey(record.anchor_key(), record.id())));
    ++result.records_removed;
  }
  // Versions: no read at or above the threshold can see them. The data span starts
  // at \x02 at the lowest (the local region holds no versions).
  if (data_start < span.end_key()) {
    absl::StatusOr<MVCCGCResult> gc =
        MVCCGarbageCollect(*batch, data_start, span.end_key(), threshold, kMaxGcVersionsPerPass);
    if (!gc.ok()) return gc.status();
    result.versions_removed = gc->versions_removed;
  }
  if (batch->Count() == 0) return result;
  proto::Timestamp stored;
  TimestampToProto(threshold, &stored);
  WriteLocalProto(*batch, GcThresholdKey(range_id_), stored);
  if (std::optional<kvpb::BatchResponse> err = ProposeAndWait(
          *batch, lease, store_->clock()->Now(), std::move(*guard), deadline, threshold)) {
    return FromError(err->error());
  }
  store_->mutable_metrics()->gc_versions_removed.fetch_add(result.versions_removed);
  store_->mutable_metrics()->gc_records_removed.fetch_add(result.records_removed);
  if (result.records_removed + result.versions_removed > 0) {
    spdlog::info("r{}: gc: removed {} versions below {} and {} transaction records", range_id_,
                 result.versions_removed, threshold.ToString(), result.records_removed);
  }
  return result;
}

absl::Status Replica::ResolveRecordIntents(const kvpb::Transaction& record, absl::Time deadline) {
  kvpb::Transaction finished = record;
  finished.clear_lock_spans();
  const bool planted_bug = store_->config().testing_gc_unresolved_records;
  for (const kvpb::Span& s : record.lock_spans()) {
    KeySender sender = [this](const kvpb::BatchRequest& b, absl::Time d) {
      return store_->SendByKey(b, d);
    };
    absl::Status st = planted_bug ? ResolveSpanOnce(sender, finished, s, deadline)
                                  : ResolveSpanFully(sender, finished, s, deadline);
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

}  // namespace rangedb::ranges
