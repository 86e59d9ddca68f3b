// Txn: a serializable transaction over rangedb's key space, driven by this object (the
// coordinator, in a client process or inside a node; docs/transactions.md).
//
// A Txn sends every request through a Sender (txn/sender.h): a client::KvClient from
// outside a node, a ranges::LocalSender (the node's own gateway) inside one. Its
// first request gets the transaction's timestamps from the gateway's clock (read =
// write timestamp; the uncertainty limit --max-offset above). Then:
//   - Reads go to the ranges at the read timestamp and see the transaction's own
//     writes. Their spans are remembered (bounded: condensed past
//     TxnOptions::max_tracked_spans) for refreshing.
//   - Put and Delete are buffered here until Commit (or until a read needs them, or
//     the buffer passes max_buffered_writes); ConditionalPut, DeleteRange lay their
//     intents at once. Both also read (the condition; the span whose keys are
//     deleted), so their key or span joins the read spans: a failed ConditionalPut
//     too. The first key written is the anchor: its range holds the transaction
//     record. From the first batch that lays intents (the commit included) until
//     the outcome is known, the process's Heartbeater (txn/heartbeater.h: a shared
//     registry and a bounded pool of threads, not a thread per transaction) keeps
//     the record alive every heartbeat_interval; its first beat (which creates the
//     record) comes when the transaction is heartbeat_interval old, and a
//     transaction older than that creates its record before it lays any intent — so
//     an intent with an old timestamp never looks abandoned (docs/transactions.md,
//     "Liveness"). Ages are measured on the Heartbeater's clock.
//   - Commit sends the buffered writes and EndTxn in one batch; the gateway lays the
//     intents on other ranges first, then EndTxn flips the record (the commit
//     point), and the intents resolve asynchronously. All writes in one range: one
//     Raft command (1PC). If a server pushed the write timestamp above the read
//     timestamp, Commit refreshes the read spans (no write landed in them between)
//     and commits at the new timestamp, or fails with a retryable error.
//
// Limits (docs/limits.md): an operation whose key, bound or value is over its limit,
// or a write that would take the transaction's writes past
// TxnOptions::max_write_bytes, fails with InvalidArgument before anything is sent,
// and the Txn stays usable.
//
// Errors: IsRetryable(status) — restart the whole transaction (RunTransaction does,
// with backoff); kv::IsAmbiguous(status) (base/kv_api.h; client::IsAmbiguous is the
// same) from Commit — the outcome is unknown; anything else is a plain failure (bad
// input, unavailable). After any error from
// an operation other than a failed ConditionalPut condition or a write refused before
// sending (an empty key, a limit above), the Txn is finished: further calls fail with
// FailedPrecondition.
//
// Thread safety: a Txn is used by one thread at a time (its heartbeats run on the
// Heartbeater's threads, through the same Sender). The Sender and the Heartbeater are
// shared and must outlive it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "base/backoff.h"
#include "base/kv_api.h"
#include "base/limits.h"
#include "proto/kv.pb.h"
#include "storage/timestamp.h"
#include "txn/heartbeater.h"
#include "txn/sender.h"

namespace rangedb::txn {

// A writer that meets the intent of a lower-priority transaction aborts it at once
// instead of waiting; equal priorities wait (and deadlocks are broken).
enum class TxnPriority : int32_t { kLow = 1, kNormal = 2, kHigh = 3 };

struct TxnOptions {
  TxnPriority priority = TxnPriority::kNormal;
  absl::Duration heartbeat_interval = absl::Seconds(1);
  // More are flushed as intents; a flush is one batch, so never more than
  // limits::kMaxBatchRequests - 1 writes or limits::kMaxBatchWriteBytes.
  size_t max_buffered_writes = 1000;
  size_t max_tracked_spans = 1000;               // more read / write spans are condensed
  size_t max_tracked_span_bytes = limits::kMiB;  // so are spans whose keys take more
  // Key and value bytes the transaction may write in all (docs/limits.md).
  size_t max_write_bytes = limits::kMaxTxnWriteBytes;
  int max_refreshes = 3;  // refresh attempts per commit before giving up
  int max_attempts = 10;  // RunTransaction's bound
  // RunTransaction's jittered backoff between attempts.
  BackoffOptions retry_backoff{std::chrono::milliseconds(5), std::chrono::milliseconds(1000)};
  // How RunTransaction waits out a backoff; null: sleeps (tests record instead).
  std::function<void(std::chrono::milliseconds)> sleep_for;
  // Who heartbeats the record; null: Heartbeater::Default(). REQUIRES: outlives the Txn.
  Heartbeater* heartbeater = nullptr;
};

class Txn {
 public:
  // REQUIRES: sender (and options.heartbeater) outlive the Txn.
  explicit Txn(Sender* sender, TxnOptions options = {});
  // An open transaction that wrote is rolled back (best effort).
  ~Txn();
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;

  [[nodiscard]] absl::StatusOr<std::optional<std::string>> Get(absl::string_view key);
  // The values of keys, in their order (nullopt: no value), as Get would read each,
  // but in one round trip per kGetManyBatchKeys keys (the gateway splits a batch
  // across ranges). A batch whose values pass the response budget
  // (kResponseTargetBytes) is read again in halves.
  [[nodiscard]] absl::StatusOr<std::vector<std::optional<std::string>>> GetMany(
      absl::Span<const std::string> keys);
  static constexpr size_t kGetManyBatchKeys = 64;  // within limits::kMaxBatchRequests
  // Rows in [start, end), ascending (Scan) or descending (ReverseScan), at most limit
  // (0 = all; held in memory).
  [[nodiscard]] absl::StatusOr<std::vector<kv::KeyValue>> Scan(absl::string_view start,
                                                               absl::string_view end,
                                                               int64_t limit);
  [[nodiscard]] absl::StatusOr<std::vector<kv::KeyValue>> ReverseScan(absl::string_view start,
                                                                      absl::string_view end,
                                                                      int64_t limit);
  [[nodiscard]] absl::Status Put(absl::string_view key, absl::string_view value);
  [[nodiscard]] absl::Status Delete(absl::string_view key);
  // Fails with kv::IsConditionFailed if the value at this transaction's snapshot
  // (its own writes included) is not *expected (nullopt: absent); the Txn stays
  // usable. Either way the key counts as read. A committed value newer than the
  // snapshot first moves the snapshot above it (a refresh of the reads so far, or a
  // retryable error if they changed), so the condition never sees past it.
  [[nodiscard]] absl::Status ConditionalPut(absl::string_view key, absl::string_view value,
                                            const std::optional<std::string>& expected);
  // Deletes every key in [start, end) that has a value at this transaction's
  // snapshot; returns how many, and (if deleted_keys is not null) which, in key
  // order. The span counts as read.
  [[nodiscard]] absl::StatusOr<int64_t> DeleteRange(
      absl::string_view start, absl::string_view end,
      std::vector<std::string>* deleted_keys = nullptr);
  [[nodiscard]] absl::Status Commit();
  // Aborts; intents are removed. OK also when there was nothing to undo.
  [[nodiscard]] absl::Status Rollback();

  const std::string& id() const { return proto_.id(); }
  // The commit timestamp after a successful Commit; else the current write timestamp.
  Timestamp commit_timestamp() const { return TimestampFromProtoTs(proto_.write_timestamp()); }
  // Refreshes that moved this transaction's timestamp (for tests and metrics).
  int refreshes() const { return refreshes_; }
  bool one_phase() const { return one_phase_; }

 private:
  enum class State { kOpen, kCommitted, kAborted };
  static Timestamp TimestampFromProtoTs(const proto::Timestamp& p) {
    return Timestamp{p.wall_time_ns(), p.logical()};
  }

  // The open-state check every operation starts with.
  absl::Status CheckOpen() const;
  // Sends a batch in this transaction; adopts the timestamps the response carries.
  // A server error comes back as a status (retryable ones marked, see IsRetryable)
  // and, unless keep_open, finishes the transaction (rolled back).
  // With errors_in_response, a server's error comes back in the response instead
  // (for the callers that act on its detail), and the transaction stays open.
  absl::StatusOr<kvpb::BatchResponse> Send(kvpb::BatchRequest batch, bool keep_open = false,
                                           bool errors_in_response = false);
  // Runs a read; on an uncertainty error refreshes above the uncertain value and
  // reads again (bounded).
  absl::StatusOr<kvpb::BatchResponse> SendRead(const kvpb::RequestUnion& read);
  // The same for a batch of reads. A batch of several refused as a whole for the
  // response budget (kvpb::Error.over_response_budget; ranges/evaluate.h ReadBudget)
  // leaves the Txn open and sets *over_budget, so that the caller can send fewer at a
  // time.
  absl::StatusOr<kvpb::BatchResponse> SendReads(const std::vector<kvpb::RequestUnion>& reads,
                                                bool* over_budget);
  // GetMany of keys none of which is buffered.
  absl::Status GetUnbuffered(const std::vector<std::string>& keys,
                             std::vector<std::optional<std::string>>* values);
  absl::StatusOr<std::vector<kv::KeyValue>> ScanImpl(absl::string_view start, absl::string_view end,
                                                     int64_t limit, bool reverse);
  // Lays the buffered writes (those in [start, end) when end is given, else all) as
  // intents.
  absl::Status Flush();
  // One DeleteRange request over [start, end): adds the keys it deleted to *deleted
  // and returns where the rest of the span starts (empty: done).
  absl::StatusOr<std::string> DeleteRangePiece(absl::string_view start, absl::string_view end,
                                               std::set<std::string>* deleted);
  // The limits a write is checked against before anything is sent: its key and
  // value sizes, and the transaction's total (TxnOptions::max_write_bytes).
  absl::Status CheckWrite(absl::string_view key, size_t value_bytes) const;
  // A key that only bounds a read or a span (limits::kKeySlackBytes of slack).
  absl::Status CheckBound(absl::string_view what, absl::string_view key) const;
  // Buffers a Put (value) or Delete (nullopt), flushing first if the buffer would
  // no longer fit one batch.
  absl::Status Buffer(absl::string_view key, std::optional<std::string> value);
  size_t MaxBufferedWrites() const;
  bool BufferOverlaps(absl::string_view start, absl::string_view end) const;
  // The buffered Puts and Deletes, as requests appended to batch.
  void AppendBufferedWrites(kvpb::BatchRequest* batch) const;
  // Every span this transaction wrote, for its EndTxn.
  void AddLockSpans(kvpb::EndTxnRequest* end) const;
  // Moves the read timestamp to `to` if no write landed in the read spans since.
  absl::Status Refresh(Timestamp to);
  void NoteWrite(absl::string_view key, absl::string_view end = {});
  void NoteRead(absl::string_view key, absl::string_view end = {});
  // Before a batch that lays intents: starts the heartbeats, and if the
  // transaction is heartbeat_interval old and has no live record yet, creates it
  // (a synchronous heartbeat). A retryable error if the record is ABORTED.
  absl::Status KeepAliveBeforeIntents();
  // One heartbeat now, from the owner's thread; records what it learned. OK only if
  // the record is PENDING (created or found); otherwise a retryable error (it is
  // ABORTED, or could not be created or reached), and no intent may be laid.
  [[nodiscard]] absl::Status HeartbeatNow();
  // Hands the Heartbeater a copy of the identity and timestamps its beats send (the
  // Heartbeater's threads never read proto_, which the owner changes).
  void PublishToHeartbeat();
  kvpb::Transaction HeartbeatView() const;
  // Whether a heartbeat found the record ABORTED.
  bool HeartbeatFoundAborted();
  // Registers with the Heartbeater (once; not after StopHeartbeat).
  void StartHeartbeat();
  // Unregisters (waits for a beat in flight); no beat is sent after it returns.
  void StopHeartbeat();
  // Now on the Heartbeater's clock.
  int64_t NowNanos() const { return heartbeater_->NowNanos(); }
  // Finishes the transaction as aborted, removing intents (best effort).
  void Abandon();

  Sender* const sender_;
  const TxnOptions options_;
  Heartbeater* const heartbeater_;
  kvpb::Transaction proto_;  // id, anchor, timestamps, sequence
  State state_ = State::kOpen;
  bool intents_laid_ = false;  // some intent may exist: rollback must clean up
  bool one_phase_ = false;
  int refreshes_ = 0;
  std::map<std::string, std::optional<std::string>> buffer_;  // key -> value / delete
  size_t buffer_bytes_ = 0;                                   // keys and values in buffer_
  size_t write_bytes_ = 0;  // keys and values written so far (max_write_bytes)
  std::set<std::string> written_keys_;
  size_t written_keys_bytes_ = 0;
  std::vector<kvpb::Span> written_spans_;  // DeleteRange spans and condensed keys
  size_t written_spans_bytes_ = 0;         // SpanBytes over written_spans_
  std::vector<kvpb::Span> read_spans_;     // CondenseSpans keeps them in budget
  size_t read_spans_bytes_ = 0;            // SpanBytes over read_spans_

  // When the first request went out, on the Heartbeater's clock (-1: not yet).
  int64_t started_at_ns_ = -1;

  uint64_t hb_id_ = 0;          // the Heartbeater registration (0: none)
  bool hb_stopped_ = false;     // StopHeartbeat ran: never register again
  Heartbeater::Seen hb_final_;  // what the beats found, once stopped
};

// True for errors after which the transaction should be run again from the start:
// serialization failures, uncertainty restarts, aborts by a pusher or a deadlock
// breaker (SQLSTATE 40001). Never true for an ambiguous commit.
bool IsRetryable(const absl::Status& status);

// Runs fn in a new transaction and commits it; on a retryable error (from fn or
// Commit) runs it again in a new transaction after a jittered backoff
// (options.retry_backoff, waited out by options.sleep_for), at most
// options.max_attempts times. Returns OK, the first non-retryable error, or the last
// retryable one. fn must have no effects outside the transaction (it may run several
// times). *attempts (if not null) gets the number of attempts made.
// REQUIRES: sender outlives the call.
absl::Status RunTransaction(Sender* sender, const std::function<absl::Status(Txn&)>& fn,
                            const TxnOptions& options = {}, int* attempts = nullptr);

}  // namespace rangedb::txn
