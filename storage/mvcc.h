// MVCC: multi-version concurrency control over the Engine.
//
// Every user key has versions at HLC timestamps (storage/mvcc_key.h), newest first.
// A deletion is a tombstone version. A transaction's writes are intents: a
// provisional version at the transaction's write timestamp plus a lock-table entry
// naming the transaction (storage/lock_table.h). The rules, as DESIGN.md §3 states
// them and docs/mvcc.md explains:
//
//  - A read at T sees, per key, the newest committed version at or below T.
//  - A read that meets another transaction's intent at or below max(T, uncertainty
//    limit) fails with LockConflictError naming that transaction.
//  - A transaction reads its own intents, honouring sequence numbers: it sees the
//    value of its latest write at or below its current sequence that is not in an
//    ignored (rolled back) range; intents of its earlier epochs are invisible.
//  - A read with an uncertainty limit L > T that finds a committed version in (T, L]
//    fails with UncertaintyError; the reader must restart above that version.
//  - A write at or below the newest committed version of its key is pushed to just
//    above it (WriteTooOld); the result says where it landed.
//  - Writes never overwrite another transaction's intent: LockConflictError.
//
// Writes go into a WriteBatch and take effect when the caller commits it. Every
// write adds its change of MVCCStats to *stats when stats is not null, so callers
// keep per-range statistics without rescanning (mvcc_stats.h).
//
// Thread safety: functions are stateless; the Reader / WriteBatch rules apply.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/engine.h"
#include "storage/mvcc_errors.h"
#include "storage/mvcc_stats.h"
#include "storage/mvcc_txn.h"
#include "storage/timestamp.h"

namespace rangedb {

// ----------------------------------------------------------------------------
// Reads

struct MVCCReadOptions {
  const TxnContext* txn = nullptr;  // the reading transaction, if any
  Timestamp uncertainty_limit;      // empty or <= read timestamp: no uncertainty
  // Transactions this reader pushed above its read timestamp and found still
  // pending: their intents above the read timestamp are invisible rather than
  // conflicts, even inside the uncertainty interval (they will commit, if at all,
  // after this read, so the read need not see them).
  const std::vector<std::string>* pushed_txn_ids = nullptr;
};

struct MVCCGetResult {
  bool found = false;   // false: no version, or the visible version is a tombstone
  std::string value;    // the visible value
  Timestamp timestamp;  // the visible version's timestamp
};

[[nodiscard]] absl::StatusOr<MVCCGetResult> MVCCGet(Reader& reader, absl::string_view key,
                                                    Timestamp read_timestamp,
                                                    const MVCCReadOptions& options = {});

struct MVCCScanOptions {
  MVCCReadOptions read;
  int64_t max_keys = 0;          // stop after this many rows; 0 = no limit
  int64_t target_bytes = 0;      // stop once rows (key + value bytes) reach this; 0 = no limit
  bool reverse = false;          // return rows in descending key order
  int64_t max_conflicts = 1000;  // conflicts collected before failing the scan
};

struct MVCCKeyValue {
  std::string key;
  std::string value;
  Timestamp timestamp;
};

struct KeySpan {
  std::string start;
  std::string end;  // exclusive
};

struct MVCCScanResult {
  std::vector<MVCCKeyValue> rows;
  int64_t num_bytes = 0;  // key + value bytes of rows
  // Set when a limit stopped the scan: the part of the span not yet read.
  std::optional<KeySpan> resume_span;
};

// Reads the visible versions of keys in [start, end). Conflicting intents anywhere in
// the scanned part fail the whole scan with one LockConflictError listing them (up to
// max_conflicts), so the caller can resolve them together.
[[nodiscard]] absl::StatusOr<MVCCScanResult> MVCCScan(Reader& reader, absl::string_view start,
                                                      absl::string_view end,
                                                      Timestamp read_timestamp,
                                                      const MVCCScanOptions& options = {});

// ----------------------------------------------------------------------------
// Writes

struct MVCCWriteOptions {
  // The writing transaction. Its writes become intents at
  // txn->meta.write_timestamp with sequence txn->meta.sequence.
  // REQUIRES: the timestamp passed to the write equals txn->meta.write_timestamp.
  const TxnContext* txn = nullptr;
  MVCCStats* stats = nullptr;  // receives the change in statistics
  // TESTING ONLY — planted bugs (ranges/store_context.h), the behaviour before
  // issue 13: DeleteRange finds its keys at the latest version instead of at its
  // timestamp; a transactional ConditionalPut evaluates its condition against the
  // latest version instead of the transaction's snapshot.
  bool testing_deleterange_at_max = false;
  bool testing_cput_reads_latest = false;
  // The transaction's uncertainty limit: a transactional DeleteRange fails with an
  // uncertainty error on a version in (read timestamp, limit] of its span.
  Timestamp uncertainty_limit;
};

struct MVCCWriteResult {
  Timestamp timestamp;         // where the version was written
  bool write_too_old = false;  // pushed above a newer committed version
};

[[nodiscard]] absl::StatusOr<MVCCWriteResult> MVCCPut(WriteBatch& batch, absl::string_view key,
                                                      Timestamp timestamp, absl::string_view value,
                                                      const MVCCWriteOptions& options = {});

// Writes a tombstone.
[[nodiscard]] absl::StatusOr<MVCCWriteResult> MVCCDelete(WriteBatch& batch, absl::string_view key,
                                                         Timestamp timestamp,
                                                         const MVCCWriteOptions& options = {});

// Puts value if the key's current value (own intents included) equals expected;
// nullopt expects no value. With allow_if_missing, a missing value also passes.
// Fails with ConditionFailedError carrying the actual value otherwise.
//
// Outside a transaction "current" is the latest version, and the write lands above
// it (WriteTooOld). Inside one it is the transaction's snapshot, at
// txn->read_timestamp: a committed version newer than that fails the call with
// WriteTooOldError (naming the version) before the condition is looked at, so that
// neither the value nor the outcome shows the transaction anything newer than its
// snapshot. The caller refreshes the transaction above that version and retries;
// the commit then refreshes the key like any read (docs/transactions.md).
[[nodiscard]] absl::StatusOr<MVCCWriteResult> MVCCConditionalPut(
    WriteBatch& batch, absl::string_view key, Timestamp timestamp, absl::string_view value,
    const std::optional<std::string>& expected, bool allow_if_missing,
    const MVCCWriteOptions& options = {});

// Adds delta to the integer stored at key (decimal text; missing = 0) and writes
// the sum. Returns the new value. InvalidArgument if the value is not an integer,
// OutOfRange on overflow.
[[nodiscard]] absl::StatusOr<int64_t> MVCCIncrement(WriteBatch& batch, absl::string_view key,
                                                    Timestamp timestamp, int64_t delta,
                                                    const MVCCWriteOptions& options = {},
                                                    MVCCWriteResult* result = nullptr);

struct MVCCDeleteRangeResult {
  std::vector<std::string> deleted_keys;
  // The highest timestamp a tombstone landed at (above the requested one after a
  // WriteTooOld); empty when nothing was deleted.
  Timestamp timestamp;
  std::optional<KeySpan> resume_span;  // set when max_keys or max_bytes stopped it
};

// Writes tombstones over every key in [start, end) that has a value at `timestamp`
// (the writer's snapshot: its own intents included, other transactions' intents at
// or below it a conflict), at most max_keys of them (0 = no limit), and stopping at the
// key whose value brings the bytes found (key + value), or whose tombstone brings what
// it added to batch, to max_bytes (0 = no limit; resume_span says where the rest
// starts). A key with a
// value at `timestamp` and a newer version (a later value, or a later deletion) gets
// its tombstone above that version, like any write (WriteTooOld): the result's
// timestamp says where. Keys created after `timestamp` are not touched — the
// delete is ordered before them. Callers that let other writers in afterwards must
// remember the span as read (the timestamp cache) and refresh it at commit, since
// the span, not just the keys found, is what the delete read.
[[nodiscard]] absl::StatusOr<MVCCDeleteRangeResult> MVCCDeleteRange(
    WriteBatch& batch, absl::string_view start, absl::string_view end, Timestamp timestamp,
    int64_t max_keys, const MVCCWriteOptions& options = {}, int64_t max_bytes = 0);

// ----------------------------------------------------------------------------
// Intent resolution and garbage collection

// Resolves the intent of resolution.txn on key, if there is one (see
// IntentResolution). Returns whether an intent was changed.
[[nodiscard]] absl::StatusOr<bool> MVCCResolveIntent(WriteBatch& batch, absl::string_view key,
                                                     const IntentResolution& resolution,
                                                     MVCCStats* stats = nullptr);

struct MVCCResolveRangeResult {
  int64_t resolved = 0;
  std::optional<KeySpan> resume_span;  // set when max_keys or max_bytes stopped it
};

// Resolves the transaction's intents on keys in [start, end), at most max_keys of
// them (0 = no limit), stopping after the key whose resolution brings what it added
// to batch to max_bytes (0 = no limit; committing an intent rewrites its value, so a
// span of large values must be resolved in several commands). Finds the intents
// through the lock table, not by scanning data.
[[nodiscard]] absl::StatusOr<MVCCResolveRangeResult> MVCCResolveIntentRange(
    WriteBatch& batch, absl::string_view start, absl::string_view end,
    const IntentResolution& resolution, int64_t max_keys, int64_t max_bytes = 0,
    MVCCStats* stats = nullptr);

// Refresh (docs/transactions.md): checks that no version of a key in [start, end)
// (end empty: the single key start) has a timestamp in (from, to], except intents of
// the transaction own_txn_id. OK if none; otherwise kAborted naming the first such
// key and version — the reader's reads would not be the same at `to`.
[[nodiscard]] absl::Status MVCCCheckNoWritesBetween(Reader& reader, absl::string_view start,
                                                    absl::string_view end, Timestamp from,
                                                    Timestamp to, absl::string_view own_txn_id);

struct MVCCGCResult {
  int64_t versions_removed = 0;
  std::optional<KeySpan> resume_span;  // set when max_versions stopped it
};

// Removes versions of keys in [start, end) that no read at or above threshold can
// see: for each key, every version older than its newest committed version at or
// below threshold, and that version too if it is a tombstone. Intents are never
// removed. At most max_versions versions are removed per call (0 = no limit).
// keys, if set, receives each user key that lost a version, in key order.
[[nodiscard]] absl::StatusOr<MVCCGCResult> MVCCGarbageCollect(
    WriteBatch& batch, absl::string_view start, absl::string_view end, Timestamp threshold,
    int64_t max_versions, MVCCStats* stats = nullptr, std::vector<std::string>* keys = nullptr);

}  // namespace rangedb
