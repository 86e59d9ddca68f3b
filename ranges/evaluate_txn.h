// Evaluation of the transaction requests (docs/transactions.md): the record's life
// cycle (HeartbeatTxn creates and refreshes it, EndTxn finishes it — the commit point),
// the push rules, intent resolution and refresh.
//
// The record of transaction T lives at TxnRecordKey(T.anchor_key, T.id) on the range
// holding the anchor key. Its status goes PENDING -> COMMITTED or PENDING -> ABORTED,
// never back. A missing record means "PENDING, created by nobody yet" — or "finished
// and removed": the leaseholder's timestamp cache tells the two apart (RecordMarkers).
// Once a record is finalized and removed, it can never be created again:
//   - only T's coordinator creates a PENDING record (HeartbeatTxn, or EndTxn writing it
//     finished at once), and only while CanCreateRecord holds for T's start;
//   - a pusher may create a record only to write it ABORTED, and only while
//     CanCreateRecord holds for T's start (which the intent carries); otherwise T can
//     never commit (its coordinator cannot create the record either) and, had it
//     committed, no intent of it would be left, so the pusher treats T as ABORTED
//     without writing;
//   - every removal of a record (EndTxn leaving none, GC) first leaves a tombstone
//     marker above T's timestamps (MarkerTimestampOfRemoval).
//
// Thread safety: stateless functions; the Reader / WriteBatch rules apply. The caller
// holds a write latch on the record key (and on the spans written).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/limits.h"
#include "proto/kv.pb.h"
#include "storage/engine.h"
#include "storage/mvcc_txn.h"
#include "storage/timestamp.h"

namespace rangedb::ranges {

// A coordinator heartbeats its record this often...
inline constexpr absl::Duration kTxnHeartbeatInterval = absl::Seconds(1);
// ...and a transaction not heard of for this long (by the clock of the node judging)
// is abandoned: a pusher may abort it.
inline constexpr absl::Duration kTxnExpiration = absl::Seconds(5);

// Finished (or long expired) records this much older than their last activity are
// garbage collected (StoreConfig::txn_record_gc_age); a record is never created for
// a transaction that started more than half of it ago (CheckRecordCreation), so no
// coordinator outlives its record.
inline constexpr absl::Duration kTxnRecordGCAge = absl::Hours(1);

// What the leaseholder's timestamp cache remembers about a transaction's missing
// record (the caller reads it under the record key's latch; docs/transactions.md,
// "Record creation"). Never lower than the cache's low water, which after a lease
// change stands for everything the previous leaseholder remembered.
struct RecordMarkers {
  // The record was finalized and removed at or below this (or may have been: the
  // low water). A transaction whose timestamps are all at or below it is finished.
  Timestamp tombstone;
  // Readers pushed the recordless transaction's write timestamp to this.
  Timestamp pushed;
};

// The timestamp-cache keys of the markers (never stored in the engine). Both are
// range-local keys of the anchor's range, distinct from each other and from any
// key a data request reads or writes.
std::string TxnTombstoneMarkerKey(absl::string_view anchor_key, absl::string_view txn_id);
std::string TxnPushMarkerKey(absl::string_view anchor_key, absl::string_view txn_id);

// The earliest timestamp txn can have written at: its start (read timestamp before
// the gateway set a start, write timestamp before either: a pushee built from an
// intent written before lock entries carried the start).
Timestamp TxnMinTimestamp(const kvpb::Transaction& txn);

// Whether a record may be created for a transaction none of whose timestamps is
// below min_timestamp (TxnMinTimestamp: its coordinator's transaction, or the
// pushee as its intent shows it): no tombstone marker at or above it.
bool CanCreateRecord(const RecordMarkers& markers, Timestamp min_timestamp);

// The tombstone marker to leave when the record of `finished` goes (or a transaction
// finishes without one) at `now`: at or above every timestamp of it — its final
// write timestamp, and the leaseholder's clock, which is at or above every intent of
// it that this range holds.
Timestamp MarkerTimestampOfRemoval(const kvpb::Transaction& finished, Timestamp now);

// An error if txn started so long before now (more than record_gc_age / 2) that its
// record may have been collected already: it must not be created (again).
[[nodiscard]] absl::Status CheckRecordCreation(const kvpb::Transaction& txn, Timestamp now,
                                               absl::Duration record_gc_age = kTxnRecordGCAge);

[[nodiscard]] absl::StatusOr<std::optional<kvpb::Transaction>> ReadTxnRecord(
    Reader& reader, absl::string_view anchor_key, absl::string_view txn_id);
void WriteTxnRecord(Writer& writer, const kvpb::Transaction& record);

// True if a transaction last heard of at its record's last_heartbeat (or, with none,
// its write timestamp) is abandoned at `now`. DecidePush sets a missing record's
// last_heartbeat to the transaction's start, which pushes never move.
bool TxnExpired(const kvpb::Transaction& record, Timestamp now);

// HeartbeatTxn: creates the PENDING record if absent (at the write timestamp
// forwarded by markers.pushed), refreshes last_heartbeat to now if PENDING; a
// finished record is returned unchanged (the coordinator learns it was aborted). An
// absent record that may not be created (CanCreateRecord) is answered as ABORTED,
// and nothing is written: the transaction finished, or can never commit.
// *changed says whether batch holds a write.
[[nodiscard]] absl::StatusOr<kvpb::Transaction> EvaluateHeartbeat(
    WriteBatch& batch, const kvpb::Transaction& txn, Timestamp now, bool* changed,
    absl::Duration record_gc_age = kTxnRecordGCAge, const RecordMarkers& markers = {});

// EndTxn. txn is the header's transaction; *write_timestamp is its write timestamp
// after this batch's own writes, raised to the record's if a pusher moved it (or,
// without a record, to markers.pushed). For a commit above txn.read_timestamp this
// fails with a PUSHED retry error (the coordinator refreshes and sends the batch
// again). A commit without a record that may not be created (CanCreateRecord) fails
// with TransactionAbortedError: the transaction was finished (a duplicate) or aborted
// by a pusher that could not leave a record. On success the record becomes
// COMMITTED / ABORTED, the intents in range_span are resolved in this batch, and the
// spans outside it are returned for asynchronous resolution; with none left the
// record is deleted instead (nothing needs it: no intent of this transaction
// remains), and record_removed tells the caller to leave the tombstone marker.
struct EndTxnResult {
  kvpb::EndTxnResponse response;
  kvpb::Transaction finished;              // the final record (status, write timestamp)
  std::vector<kvpb::Span> external_spans;  // intents to resolve on other ranges
  bool record_removed = false;             // no record is left (deleted, or none written)
};
[[nodiscard]] absl::StatusOr<EndTxnResult> EvaluateEndTxn(
    WriteBatch& batch, const kvpb::EndTxnRequest& request, const kvpb::Transaction& txn,
    const kvpb::Span& range_span, Timestamp* write_timestamp, Timestamp now,
    bool testing_skip_refresh = false, absl::Duration record_gc_age = kTxnRecordGCAge,
    const RecordMarkers& markers = {});

// PushTxn, as a decision over the record (nullopt: absent). Does not wait: kWait
// tells the caller to queue and ask again. Without a record the pushee is judged by
// its start (TxnMinTimestamp of request.pushee(), from the intent's lock entry),
// never by the intent's timestamp, which readers' pushes move: if a record may not
// be created for it (markers), the answer is ABORTED and nothing is written; it is
// expired once its start is kTxnExpiration old; a timestamp push records a push
// marker instead of a record; an abort (expired, lower priority) writes the record
// ABORTED.
struct PushDecision {
  enum Outcome { kPushed, kWait } outcome = kWait;
  kvpb::Transaction record;   // the record after the push (status, write timestamp)
  bool write_record = false;  // the record must be written as `record`
  // The recordless pushee was pushed to this: the caller adds it to the push marker.
  std::optional<Timestamp> push_marker;
};
PushDecision DecidePush(const std::optional<kvpb::Transaction>& record,
                        const kvpb::PushTxnRequest& request, Timestamp now,
                        const RecordMarkers& markers = {});

// ResolveIntent: resolves txn's intent(s) on the key or span (at most
// kMaxKeysPerSpanWrite keys, and stopping once it added max_bytes to batch; the
// response counts them, and for a span stopped by a limit names the resume key: the
// rest of the span may still hold intents). max_bytes <= 0 (a resolve batch whose
// earlier requests filled its command): nothing is done and the resume key is the
// request's key, for a single key too.
[[nodiscard]] absl::Status EvaluateResolveIntent(
    WriteBatch& batch, const kvpb::ResolveIntentRequest& request,
    kvpb::ResolveIntentResponse* response,
    int64_t max_bytes = static_cast<int64_t>(limits::kMaxSpanWriteBytes));

// Refresh: OK if no write landed in the span in (txn.read_timestamp,
// txn.write_timestamp] except txn's own; a SERIALIZATION retry error otherwise.
[[nodiscard]] absl::Status EvaluateRefresh(Reader& reader, const kvpb::RefreshRequest& request,
                                           const kvpb::Transaction& txn);

// Priorities as the push rules compare them: 0 (unset) is normal (2); a missing
// pusher (a non-transactional request) has 0, normal too.
int32_t EffectivePriority(int32_t priority);

// The IntentResolution for a transaction as a record / header describes it.
IntentResolution ResolutionOf(const kvpb::Transaction& txn);

}  // namespace rangedb::ranges
