#include "ranges/evaluate_txn.h"

#include <algorithm>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "ranges/engine_state.h"
#include "ranges/evaluate.h"
#include "ranges/txn_errors.h"
#include "storage/keys.h"
#include "storage/lock_table.h"
#include "storage/mvcc.h"
#include "storage/mvcc_key.h"

namespace rangedb::ranges {
namespace {

Timestamp Ts(const proto::Timestamp& p) { return TimestampFromProto(p); }

TxnStatus FromWire(kvpb::TransactionStatus s) {
  switch (s) {
    case kvpb::COMMITTED:
      return TxnStatus::kCommitted;
    case kvpb::ABORTED:
      return TxnStatus::kAborted;
    default:
      return TxnStatus::kPending;
  }
}

// The part of span inside [range.key, range.end_key), and the parts outside.
struct SplitSpan {
  std::optional<kvpb::Span> inside;
  std::vector<kvpb::Span> outside;
};
SplitSpan Split(const kvpb::Span& span, const kvpb::Span& range) {
  SplitSpan out;
  if (span.end_key().empty()) {  // a single key
    if (span.key() >= range.key() && span.key() < range.end_key()) {
      out.inside = span;
    } else {
      out.outside.push_back(span);
    }
    return out;
  }
  const std::string& lo = std::max(span.key(), range.key());
  const std::string& hi = std::min(span.end_key(), range.end_key());
  if (lo < hi) {
    out.inside.emplace();
    out.inside->set_key(lo);
    out.inside->set_end_key(hi);
  }
  if (span.key() < range.key()) {
    kvpb::Span& below = out.outside.emplace_back();
    below.set_key(span.key());
    below.set_end_key(std::min(span.end_key(), range.key()));
  }
  if (span.end_key() > range.end_key()) {
    kvpb::Span& above = out.outside.emplace_back();
    above.set_key(std::max(span.key(), range.end_key()));
    above.set_end_key(span.end_key());
  }
  return out;
}

}  // namespace

int32_t EffectivePriority(int32_t priority) { return priority == 0 ? 2 : priority; }

IntentResolution ResolutionOf(const kvpb::Transaction& txn) {
  IntentResolution r;
  r.txn.id = txn.id();
  r.txn.anchor_key = txn.anchor_key();
  r.txn.epoch = txn.epoch();
  r.txn.write_timestamp = Ts(txn.write_timestamp());
  r.status = FromWire(txn.status());
  return r;
}

absl::StatusOr<std::optional<kvpb::Transaction>> ReadTxnRecord(Reader& reader,
                                                               absl::string_view anchor_key,
                                                               absl::string_view txn_id) {
  kvpb::Transaction record;
  absl::StatusOr<bool> found =
      ReadLocalProto(reader, keys::TxnRecordKey(anchor_key, txn_id), &record);
  if (!found.ok()) return found.status();
  if (!*found) return std::optional<kvpb::Transaction>();
  return std::optional<kvpb::Transaction>(std::move(record));
}

void WriteTxnRecord(Writer& writer, const kvpb::Transaction& record) {
  WriteLocalProto(writer, keys::TxnRecordKey(record.anchor_key(), record.id()), record);
}

std::string TxnTombstoneMarkerKey(absl::string_view anchor_key, absl::string_view txn_id) {
  return keys::TxnRecordKey(anchor_key, txn_id);
}

std::string TxnPushMarkerKey(absl::string_view anchor_key, absl::string_view txn_id) {
  // Sorts after the record key's own point span [k, k\0), so the two never overlap.
  return absl::StrCat(keys::TxnRecordKey(anchor_key, txn_id), absl::string_view("\0push", 5));
}

Timestamp TxnMinTimestamp(const kvpb::Transaction& txn) {
  if (txn.has_start_timestamp()) return Ts(txn.start_timestamp());
  if (txn.has_read_timestamp()) return Ts(txn.read_timestamp());
  return Ts(txn.write_timestamp());
}

bool CanCreateRecord(const RecordMarkers& markers, Timestamp min_timestamp) {
  return markers.tombstone < min_timestamp;
}

Timestamp MarkerTimestampOfRemoval(const kvpb::Transaction& finished, Timestamp now) {
  return std::max(Ts(finished.write_timestamp()), now);
}

absl::Status CheckRecordCreation(const kvpb::Transaction& txn, Timestamp now,
                                 absl::Duration record_gc_age) {
  if (!txn.has_start_timestamp()) return absl::OkStatus();
  const Timestamp start = Ts(txn.start_timestamp());
  if (start.wall_ns + absl::ToInt64Nanoseconds(record_gc_age / 2) < now.wall_ns) {
    return TxnAbortedError(absl::StrCat(
        "transaction ", absl::BytesToHexString(txn.id()), " started at ", start.ToString(),
        ", too long ago to create its record (", absl::FormatDuration(record_gc_age / 2),
        "): its record may have been garbage collected"));
  }
  return absl::OkStatus();
}

bool TxnExpired(const kvpb::Transaction& record, Timestamp now) {
  const Timestamp last =
      record.has_last_heartbeat() ? Ts(record.last_heartbeat()) : Ts(record.write_timestamp());
  return last.wall_ns + absl::ToInt64Nanoseconds(kTxnExpiration) < now.wall_ns;
}

absl::StatusOr<kvpb::Transaction> EvaluateHeartbeat(WriteBatch& batch, const kvpb::Transaction& txn,
                                                    Timestamp now, bool* changed,
                                                    absl::Duration record_gc_age,
                                                    const RecordMarkers& markers) {
  absl::StatusOr<std::optional<kvpb::Transaction>> existing =
      ReadTxnRecord(batch, txn.anchor_key(), txn.id());
  if (!existing.ok()) return existing.status();
  kvpb::Transaction record;
  if (existing->has_value()) {
    record = **existing;
    if (record.status() != kvpb::PENDING) {
      *changed = false;
      return record;
    }
  } else {
    record = txn;
    record.clear_lock_spans();
    if (!CanCreateRecord(markers, TxnMinTimestamp(txn))) {
      // Finished and removed, or aborted by a pusher that left no record: either
      // way this transaction cannot commit. Say so; write nothing.
      record.set_status(kvpb::ABORTED);
      *changed = false;
      return record;
    }
    if (absl::Status s = CheckRecordCreation(txn, now, record_gc_age); !s.ok()) return s;
    record.set_status(kvpb::PENDING);
    if (Ts(record.write_timestamp()) < markers.pushed) {
      TimestampToProto(markers.pushed, record.mutable_write_timestamp());
    }
  }
  TimestampToProto(now, record.mutable_last_heartbeat());
  WriteTxnRecord(batch, record);
  *changed = true;
  return record;
}

absl::StatusOr<EndTxnResult> EvaluateEndTxn(WriteBatch& batch, const kvpb::EndTxnRequest& request,
                                            const kvpb::Transaction& txn,
                                            const kvpb::Span& range_span,
                                            Timestamp* write_timestamp, Timestamp now,
                                            bool testing_skip_refresh, absl::Duration record_gc_age,
                                            const RecordMarkers& markers) {
  absl::StatusOr<std::optional<kvpb::Transaction>> existing =
      ReadTxnRecord(batch, txn.anchor_key(), txn.id());
  if (!existing.ok()) return existing.status();
  EndTxnResult result;
  bool may_write_record = true;
  if (existing->has_value()) {
    const kvpb::Transaction& record = **existing;
    if (record.status() == kvpb::ABORTED && request.commit()) {
      return TxnAbortedError(absl::StrCat("transaction ", absl::BytesToHexString(txn.id()),
                                          " was aborted (by a pusher or a deadlock breaker)"));
    }
    if (record.status() == kvpb::COMMITTED) {
      if (!request.commit()) {
        return absl::FailedPreconditionError("rollback of a transaction that already committed");
      }
      result.response.set_status(kvpb::COMMITTED);  // a retry of a commit that happened
      *result.response.mutable_commit_timestamp() = record.write_timestamp();
      result.finished = record;
      return result;
    }
    *write_timestamp = std::max(*write_timestamp, Ts(record.write_timestamp()));
  } else if (!CanCreateRecord(markers, TxnMinTimestamp(txn))) {
    if (request.commit()) {
      // A duplicate of a commit or rollback that removed the record, or a pusher
      // aborted the transaction without one. Committing now could commit half of it.
      return TxnAbortedError(
          absl::StrCat("transaction ", absl::BytesToHexString(txn.id()),
                       " has finished or was aborted, and its record can no longer be created"));
    }
    may_write_record = false;  // a rollback still removes what it lists
  } else {
    if (request.commit()) {
      if (absl::Status s = CheckRecordCreation(txn, now, record_gc_age); !s.ok()) return s;
    }
    *write_timestamp = std::max(*write_timestamp, markers.pushed);
  }
  if (request.commit() && *write_timestamp > Ts(txn.read_timestamp()) && !testing_skip_refresh) {
    return TxnRetryError(
        kvpb::TransactionRetryError::PUSHED,
        absl::StrCat("commit timestamp pushed from ", Ts(txn.read_timestamp()).ToString(), " to ",
                     write_timestamp->ToString(), ": refresh the reads"));
  }
  kvpb::Transaction finished = txn;
  finished.clear_lock_spans();
  finished.set_status(request.commit() ? kvpb::COMMITTED : kvpb::ABORTED);
  TimestampToProto(*write_timestamp, finished.mutable_write_timestamp());
  if (existing->has_value()) *finished.mutable_last_heartbeat() = (*existing)->last_heartbeat();
  const IntentResolution resolution = ResolutionOf(finished);
  // Local resolution rewrites the intents' values into this command: past
  // kMaxSpanWriteBytes the rest is resolved asynchronously, like other ranges' spans,
  // so the command stays below the Raft command limit (base/limits.h).
  const size_t bytes_before = batch.ByteSize();
  for (const kvpb::Span& span : request.lock_spans()) {
    SplitSpan parts = Split(span, range_span);
    for (kvpb::Span& out : parts.outside) result.external_spans.push_back(std::move(out));
    if (!parts.inside.has_value()) continue;
    const kvpb::Span& in = *parts.inside;
    const int64_t budget = static_cast<int64_t>(limits::kMaxSpanWriteBytes) -
                           static_cast<int64_t>(batch.ByteSize() - bytes_before);
    if (budget <= 0) {
      result.external_spans.push_back(in);
      continue;
    }
    if (in.end_key().empty()) {
      absl::StatusOr<bool> r = MVCCResolveIntent(batch, in.key(), resolution);
      if (!r.ok()) return r.status();
      continue;
    }
    absl::StatusOr<MVCCResolveRangeResult> r = MVCCResolveIntentRange(
        batch, in.key(), in.end_key(), resolution, kMaxKeysPerSpanWrite, budget);
    if (!r.ok()) return r.status();
    if (r->resume_span.has_value()) {  // too many to do here: the rest goes async
      kvpb::Span& rest = result.external_spans.emplace_back();
      rest.set_key(r->resume_span->start);
      rest.set_end_key(r->resume_span->end);
    }
  }
  const std::string record_key = keys::TxnRecordKey(txn.anchor_key(), txn.id());
  if (result.external_spans.empty() || !may_write_record) {
    // Every intent is resolved by this very command (nothing can need the record),
    // or a rollback of a transaction whose record may not come back (its external
    // intents are resolved as aborted without it: it can never commit).
    // Deleted even when absent: the command that carries this outcome (and the
    // tombstone marker's timestamp, RecordMarkers) must be replicated.
    batch.Delete(ColumnFamily::kData, MVCCKeyPrefix(record_key));
    result.response.set_one_phase(!existing->has_value() && result.external_spans.empty());
    result.record_removed = true;
  } else {
    for (const kvpb::Span& s : result.external_spans) *finished.add_lock_spans() = s;
    WriteTxnRecord(batch, finished);
  }
  result.response.set_status(finished.status());
  *result.response.mutable_commit_timestamp() = finished.write_timestamp();
  result.finished = std::move(finished);
  return result;
}

PushDecision DecidePush(const std::optional<kvpb::Transaction>& record,
                        const kvpb::PushTxnRequest& request, Timestamp now,
                        const RecordMarkers& markers) {
  PushDecision d;
  const bool absent = !record.has_value();
  if (!absent) {
    d.record = *record;
  } else {
    // No record: the intent's view of the transaction, judged by its start. Not by
    // the intent's timestamp: readers' pushes move that up, and steady reads would
    // keep a dead coordinator's intents alive for ever. A live transaction older
    // than a heartbeat interval has a record (docs/transactions.md, "Liveness").
    // Intents written before lock entries carried the start show only their
    // timestamp: TxnMinTimestamp falls back to it.
    const Timestamp start = TxnMinTimestamp(request.pushee());
    d.record = request.pushee();
    d.record.clear_lock_spans();
    TimestampToProto(start, d.record.mutable_last_heartbeat());
    if (!CanCreateRecord(markers, start)) {
      // Finished and removed, or aborted without a record: it can never commit,
      // and had it committed no intent of it would be left. Treat it as aborted
      // (for the intent the pusher met) and write nothing.
      d.record.set_status(kvpb::ABORTED);
      d.outcome = PushDecision::kPushed;
      return d;
    }
    d.record.set_status(kvpb::PENDING);
    if (Ts(d.record.write_timestamp()) < markers.pushed) {
      TimestampToProto(markers.pushed, d.record.mutable_write_timestamp());
    }
  }
  if (d.record.status() != kvpb::PENDING) {
    d.outcome = PushDecision::kPushed;
    return d;
  }
  if (TxnExpired(d.record, now)) {
    d.record.set_status(kvpb::ABORTED);
    d.write_record = true;
    d.outcome = PushDecision::kPushed;
    return d;
  }
  if (request.push_type() == kvpb::PUSH_TIMESTAMP) {
    const Timestamp to = Ts(request.push_to());
    if (Ts(d.record.write_timestamp()) < to) {
      TimestampToProto(to, d.record.mutable_write_timestamp());
      // A pusher creates no PENDING record: the push marker carries the push to
      // the record its coordinator creates (or to its EndTxn).
      if (absent) {
        d.push_marker = to;
      } else {
        d.write_record = true;
      }
    }
    d.outcome = PushDecision::kPushed;
    return d;
  }
  if (EffectivePriority(request.pusher().priority()) > EffectivePriority(d.record.priority())) {
    d.record.set_status(kvpb::ABORTED);  // a higher priority writer does not wait
    d.write_record = true;
    d.outcome = PushDecision::kPushed;
    return d;
  }
  d.outcome = PushDecision::kWait;  // an abort-push waits for the holder to finish
  return d;
}

absl::Status EvaluateResolveIntent(WriteBatch& batch, const kvpb::ResolveIntentRequest& request,
                                   kvpb::ResolveIntentResponse* response, int64_t max_bytes) {
  const IntentResolution resolution = ResolutionOf(request.txn());
  if (max_bytes <= 0) {  // the batch's earlier requests filled the command
    response->set_resume_key(request.key());
    return absl::OkStatus();
  }
  if (request.end_key().empty()) {
    absl::StatusOr<bool> r = MVCCResolveIntent(batch, request.key(), resolution);
    if (!r.ok()) return r.status();
    response->set_resolved(*r ? 1 : 0);
    return absl::OkStatus();
  }
  absl::StatusOr<MVCCResolveRangeResult> r = MVCCResolveIntentRange(
      batch, request.key(), request.end_key(), resolution, kMaxKeysPerSpanWrite, max_bytes);
  if (!r.ok()) return r.status();
  response->set_resolved(r->resolved);
  if (r->resume_span.has_value()) response->set_resume_key(r->resume_span->start);
  return absl::OkStatus();
}

absl::Status EvaluateRefresh(Reader& reader, const kvpb::RefreshRequest& request,
                             const kvpb::Transaction& txn) {
  absl::Status s =
      MVCCCheckNoWritesBetween(reader, request.key(), request.end_key(), Ts(txn.read_timestamp()),
                               Ts(txn.write_timestamp()), txn.id());
  if (s.ok() || s.code() != absl::StatusCode::kAborted) return s;
  return TxnRetryError(kvpb::TransactionRetryError::SERIALIZATION, s.message());
}

}  // namespace rangedb::ranges
