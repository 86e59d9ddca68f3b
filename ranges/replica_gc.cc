// Replica: garbage collection of MVCC versions and finished transaction records
// (docs/transactions.md, "Garbage collection").
#include <algorithm>
#include <functional>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/limits.h"
#include "ranges/engine_state.h"
#include "ranges/evaluate_txn.h"
#include "ranges/intent_resolver.h"
#include "ranges/replica.h"
#include "ranges/store_context.h"
#include "spdlog/spdlog.h"
#include "storage/keys.h"
#include "storage/lock_table.h"
#include "storage/mvcc.h"
#include "storage/mvcc_key.h"

namespace rangedb::ranges {
namespace {

// Bounds of one pass; whatever is left waits for the next. Every key and record a
// pass removes from is latched on its own, so these also bound its latch spans.
constexpr int64_t kMaxGcVersionsPerPass = 10000;
constexpr size_t kMaxGcKeysPerPass = 1000;
constexpr int kMaxGcRecordsPerPass = 1000;

// Whether record may go at now: it is finished (COMMITTED or ABORTED, or PENDING and
// expired), and its latest sign of life — the latest heartbeat, else its write
// timestamp — is older than age. Liveness is the latest heartbeat, never the start.
bool RecordCollectable(const kvpb::Transaction& record, Timestamp now, absl::Duration age) {
  const Timestamp last = TimestampFromProto(record.has_last_heartbeat() ? record.last_heartbeat()
                                                                        : record.write_timestamp());
  const bool finished = record.status() != kvpb::PENDING || TxnExpired(record, now);
  return finished && last.wall_ns + absl::ToInt64Nanoseconds(age) < now.wall_ns;
}

// The records in [start, end) of the range-local space that are old enough to go.
absl::StatusOr<std::vector<kvpb::Transaction>> CollectableRecords(Engine& engine,
                                                                  absl::string_view start,
                                                                  absl::string_view end,
                                                                  Timestamp now,
                                                                  absl::Duration age) {
  IterOptions options;
  options.lower_bound = MVCCKeyPrefix(keys::RangeLocalKeyPrefix(start));
  options.upper_bound = MVCCKeyPrefix(keys::RangeLocalKeyPrefix(end));
  std::unique_ptr<Iterator> it = engine.NewIterator(options);
  std::vector<kvpb::Transaction> out;
  std::string key;
  for (it->Seek(options.lower_bound);
       it->Valid() && out.size() < static_cast<size_t>(kMaxGcRecordsPerPass); it->Next()) {
    Timestamp ts;
    if (absl::Status s = DecodeMVCCKey(it->key(), &key, &ts); !s.ok()) return s;
    if (!absl::StrContains(key, keys::kTxnRecordInfix)) continue;
    kvpb::Transaction record;
    if (!record.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())) ||
        keys::TxnRecordKey(record.anchor_key(), record.id()) != key) {
      continue;  // another range-local key that happens to contain the marker
    }
    if (RecordCollectable(record, now, age)) out.push_back(std::move(record));
  }
  if (absl::Status s = it->status(); !s.ok()) return s;
  return out;
}

// The user keys in [start, end) with versions below threshold to remove, at most
// kMaxGcKeysPerPass of them, found without latches: the engine is only read (into
// a batch that is never committed).
absl::StatusOr<std::vector<std::string>> CollectableKeys(Engine& engine, absl::string_view start,
                                                         absl::string_view end,
                                                         Timestamp threshold) {
  std::vector<std::string> keys;
  if (start >= end) return keys;
  std::unique_ptr<WriteBatch> scratch = engine.NewWriteBatch();
  absl::StatusOr<MVCCGCResult> gc =
      MVCCGarbageCollect(*scratch, start, end, threshold, kMaxGcVersionsPerPass, nullptr, &keys);
  if (!gc.ok()) return gc.status();
  if (keys.size() > kMaxGcKeysPerPass) keys.resize(kMaxGcKeysPerPass);
  return keys;
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
  const absl::Duration record_age = store_->config().txn_record_gc_age;
  const Timestamp now = store_->clock()->Now();
  const Timestamp threshold{now.wall_ns - absl::ToInt64Nanoseconds(gc_ttl), 0};
  // What to collect is chosen without latches, so that a pass with little or nothing
  // to do holds up nobody; what it chose is latched key by key and checked again.
  absl::StatusOr<std::vector<kvpb::Transaction>> records =
      CollectableRecords(*store_->engine(), span.key(), span.end_key(), now, record_age);
  if (!records.ok()) return records.status();
  // The data span starts at \x02 at the lowest (the local region holds no versions).
  const std::string data_start = keys::DataSpanStart(span.key());
  absl::StatusOr<std::vector<std::string>> version_keys =
      CollectableKeys(*store_->engine(), data_start, span.end_key(), threshold);
  if (!version_keys.ok()) return version_keys.status();
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
  if (doomed.empty() && version_keys->empty()) return result;
  if (store_->config().testing_gc_before_latch) store_->config().testing_gc_before_latch(range_id_);
  // Latches: exactly the keys whose versions go and the records that go. A read or
  // write of such a key either finished before the pass or starts after it applied
  // (and is checked against the new threshold); requests on other keys lose nothing.
  std::vector<LatchSpan> latches;
  for (const std::string& key : *version_keys) latches.push_back({key, "", /*write=*/true});
  for (const kvpb::Transaction& record : doomed) {
    latches.push_back({keys::TxnRecordKey(record.anchor_key(), record.id()), "", /*write=*/true});
  }
  absl::StatusOr<LatchManager::Guard> guard = latches_.Acquire(std::move(latches), deadline);
  if (!guard.ok()) return guard.status();
  LeaseCheck lease = AcquireLease(deadline);
  if (!lease.valid) return result;
  std::unique_ptr<WriteBatch> batch = store_->engine()->NewWriteBatch();
  const Timestamp latched_now = store_->clock()->Now();
  std::vector<kvpb::Transaction> removed;
  for (const kvpb::Transaction& record : doomed) {
    // Decided again under the latch, from the record as it is now: a heartbeat since
    // the scan proves the coordinator alive, and a changed record waits.
    absl::StatusOr<std::optional<kvpb::Transaction>> current =
        ReadTxnRecord(*store_->engine(), record.anchor_key(), record.id());
    if (!current.ok()) return current.status();
    if (!current->has_value() || (*current)->status() != record.status() ||
        !RecordCollectable(**current, latched_now, record_age)) {
      continue;
    }
    batch->Delete(ColumnFamily::kData,
                  MVCCKeyPrefix(keys::TxnRecordKey(record.anchor_key(), record.id())));
    removed.push_back(**current);
  }
  result.records_removed = static_cast<int64_t>(removed.size());
  // Versions: collected again under the latches (the keys may have changed since the
  // scan); no read at or above the threshold can see them.
  for (const std::string& key : *version_keys) {
    const int64_t left = kMaxGcVersionsPerPass - result.versions_removed;
    // And bounded in bytes (long keys): the command must stay below the Raft
    // command limit, or the pass would be refused every time (docs/limits.md).
    if (left <= 0 || batch->ByteSize() >= limits::kMaxSpanWriteBytes) break;
    absl::StatusOr<MVCCGCResult> gc = MVCCGarbageCollect(
        *batch, key, absl::StrCat(key, absl::string_view("\0", 1)), threshold, left);
    if (!gc.ok()) return gc.status();
    result.versions_removed += gc->versions_removed;
  }
  if (batch->Count() == 0) return GcResult{};
  proto::Timestamp stored;
  TimestampToProto(threshold, &stored);
  WriteLocalProto(*batch, keys::GcThresholdKey(range_id_), stored);
  // Never again, once the removal applies (not before: a command that fails removed
  // nothing): a late heartbeat, EndTxn or pusher finds the tombstone marker. Runs
  // before the latches go. Only a pass that removes records carries tombstones.
  std::function<void()> mark_removed;
  if (!removed.empty()) {
    mark_removed = [this, removed = std::move(removed), latched_now] {
      for (const kvpb::Transaction& record : removed) MarkRecordRemoved(record, latched_now);
    };
  }
  if (std::optional<kvpb::BatchResponse> err =
          ProposeAndWait(*batch, lease, latched_now, std::move(*guard), deadline, threshold,
                         std::move(mark_removed))) {
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
                                  : ResolveSpanFully(sender, finished, s, deadline,
                                                     IntentResolver::kRpcTimeout, store_->time());
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

}  // namespace rangedb::ranges
