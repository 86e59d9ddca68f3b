// Evaluation of the transaction requests (docs/transactions.md): the record's life
// cycle (HeartbeatTxn creates and refreshes it, EndTxn finishes it — the commit point),
// the push rules, intent resolution and refresh.
//
// The record of transaction T lives at TxnRecordKey(T.anchor_key, T.id) on the range
// holding the anchor key. Its status goes PENDING -> COMMITTED or PENDING -> ABORTED,
// never back. A missing record means "PENDING, created by nobody yet": its liveness
// is judged from the timestamp of the intent that led a pusher to it.
//
// Thread safety: stateless functions; the Reader / WriteBatch rules apply. The caller
// holds a write latch on the record key (and on the spans written).
#pragma once

#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
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

// An error if txn started so long before now (more than record_gc_age / 2) that its
// record may have been collected already: it must not be created (again).
[[nodiscard]] absl::Status CheckRecordCreation(const kvpb::Transaction& txn, Timestamp now,
                                               absl::Duration record_gc_age = kTxnRecordGCAge);

[[nodiscard]] absl::StatusOr<std::optional<kvpb::Transaction>> ReadTxnRecord(
    Reader& reader, absl::string_view anchor_key, absl::string_view txn_id);
void WriteTxnRecord(Writer& writer, const kvpb::Transaction& record);

// True if a transaction last heard of at its record's last_heartbeat (or, with none,
// its write timestamp) is abandoned at `now`.
bool TxnExpired(const kvpb::Transaction& record, Timestamp now);

// HeartbeatTxn: creates the PENDING record if absent, refreshes last_heartbeat to
// now if PENDING; a finished record is returned unchanged (the coordinator learns it
// was aborted). *changed says whether batch holds a write.
[[nodiscard]] absl::StatusOr<kvpb::Transaction> EvaluateHeartbeat(
    WriteBatch& batch, const kvpb::Transaction& txn, Timestamp now, bool* changed,
    absl::Duration record_gc_age = kTxnRecordGCAge);

// EndTxn. txn is the header's transaction; *write_timestamp is its write timestamp
// after this batch's own writes, raised to the record's if a pusher moved it. For a
// commit above txn.read_timestamp this fails with a PUSHED retry error (the
// coordinator refreshes and sends the batch again). On success the record becomes
// COMMITTED / ABORTED, the intents in range_span are resolved in this batch, and the
// spans outside it are returned for asynchronous resolution; with none left the
// record is deleted instead (nothing needs it: no intent of this transaction remains).
struct EndTxnResult {
  kvpb::EndTxnResponse response;
  kvpb::Transaction finished;              // the final record (status, write timestamp)
  std::vector<kvpb::Span> external_spans;  // intents to resolve on other ranges
};
[[nodiscard]] absl::StatusOr<EndTxnResult> EvaluateEndTxn(
    WriteBatch& batch, const kvpb::EndTxnRequest& request, const kvpb::Transaction& txn,
    const kvpb::Span& range_span, Timestamp* write_timestamp, Timestamp now,
    bool testing_skip_refresh = false, absl::Duration record_gc_age = kTxnRecordGCAge);

// PushTxn, as a decision over the record (nullopt: absent). Does not wait: kWait
// tells the caller to queue and ask again.
struct PushDecision {
  enum Outcome { kPushed, kWait } outcome = kWait;
  kvpb::Transaction record;   // the record after the push (status, write timestamp)
  bool write_record = false;  // the record must be written as `record`
};
PushDecision DecidePush(const std::optional<kvpb::Transaction>& record,
                        const kvpb::PushTxnRequest& request, Timestamp now);

// ResolveIntent: resolves txn's intent(s) on the key or span (at most
// kMaxKeysPerSpanWrite keys; the response counts them).
[[nodiscard]] absl::Status EvaluateResolveIntent(WriteBatch& batch,
                                                 const kvpb::ResolveIntentRequest& request,
                                                 kvpb::ResolveIntentResponse* response);

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
