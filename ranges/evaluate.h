// Evaluation of KV requests against a replica's engine (proposer-evaluated commands,
// DESIGN.md §5): the leaseholder runs a request here, then replicates the resulting
// write batch through Raft; followers never evaluate, they apply the batch.
//
// Reads run against the engine (or a snapshot) at a timestamp; writes go into a
// WriteBatch at a timestamp and fill the response the client will get once the batch
// is applied. Inside a transaction (EvalContext::txn) reads see the transaction's own
// intents and check the uncertainty interval, and writes become intents. The
// transaction requests themselves (EndTxn, PushTxn, ...) are in ranges/evaluate_txn.h.
// Errors are absl::Status values; ToError turns one into the wire kvpb::Error.
//
// Thread safety: stateless functions; the Reader / WriteBatch rules apply.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/limits.h"
#include "proto/kv.pb.h"
#include "storage/engine.h"
#include "storage/mvcc_txn.h"
#include "storage/timestamp.h"

namespace rangedb::ranges {

// The server's page size for a Scan without max_keys, and the hard upper bound (a
// page also stops by bytes: ReadBudget).
inline constexpr int64_t kDefaultScanRows = 1000;
inline constexpr int64_t kMaxScanRows = 10000;
inline constexpr size_t kMaxBatchRequests = limits::kMaxBatchRequests;
// Keys one DeleteRange or ResolveIntent span handles per request; more resume.
inline constexpr int64_t kMaxKeysPerSpanWrite = 10000;

// What a batch does, which decides how a replica serves it (kvpb::BatchRequest).
enum class BatchKind {
  kRead,       // Gets and Scans
  kWrite,      // one write; in a transaction, writes optionally ending with EndTxn
  kResolve,    // ResolveIntents
  kHeartbeat,  // one HeartbeatTxn
  kPush,       // one PushTxn
  kQuery,      // one QueryTxn
  kRefresh,    // Refreshes, in a transaction
};

bool IsWrite(const kvpb::RequestUnion& request);  // a data write (not EndTxn)
// Every key (or span) a request touches, for latches and range checks.
struct RequestSpan {
  std::string start;
  std::string end;  // empty for a single key
};
RequestSpan SpanOf(const kvpb::RequestUnion& request);

// Checks shape and classifies: known request types, non-empty keys, start < end for
// spans, at most kMaxBatchRequests requests, the sizes of base/limits.h
// (limits::CheckBatchLimits), the combinations BatchKind allows, and a transaction
// header where one is required.
[[nodiscard]] absl::StatusOr<BatchKind> ClassifyBatch(const kvpb::BatchRequest& batch);
[[nodiscard]] inline absl::Status ValidateBatch(const kvpb::BatchRequest& batch) {
  return ClassifyBatch(batch).status();
}

// How one request is evaluated.
struct EvalContext {
  Timestamp read_timestamp;         // reads see versions at or below this
  Timestamp write_timestamp;        // writes are placed here (or above: WriteTooOld)
  Timestamp uncertainty_limit;      // reads fail on versions in (read, limit]
  const TxnContext* txn = nullptr;  // the transaction, if any
  // Pending transactions already pushed above read_timestamp (MVCCReadOptions).
  const std::vector<std::string>* pushed_txn_ids = nullptr;
  // TESTING ONLY — planted bugs (StoreConfig, MVCCWriteOptions).
  bool testing_deleterange_at_max = false;
  bool testing_cput_reads_latest = false;
};

// The transaction of a batch header as the MVCC layer sees it.
TxnContext TxnContextOf(const kvpb::Transaction& txn);

// The row bytes (key + value) one read batch's response may still take: the
// requests of a batch share limits::kResponseTargetBytes, in request order, so the
// response never holds more than limits::kMaxResponseRowBytes of rows.
struct ReadBudget {
  int64_t remaining = static_cast<int64_t>(limits::kResponseTargetBytes);
};

// Evaluates a read-only request (Get, Scan) and charges its rows to *budget.
//  - A Scan stops at the first row that uses the budget up (or its own
//    target_bytes / max_keys) and returns a resume key; started with the budget
//    already spent, it returns no rows and resumes at its start (forward) or end
//    (reverse).
//  - A Get started with the budget already spent fails with InvalidArgument naming
//    the limit: a batch of Gets whose values together pass the target must be read in
//    smaller batches (one Get always fits).
[[nodiscard]] absl::Status EvaluateRead(Reader& reader, const kvpb::RequestUnion& request,
                                        const EvalContext& ctx, ReadBudget* budget,
                                        kvpb::ResponseUnion* response);

// Trims the responses of a read batch whose parts were read separately (a gateway's
// parallel parts, each within its own budget) to one ReadBudget in request order, as
// EvaluateRead would have: a Scan keeps its rows up to the one that spends the budget
// and resumes at the first row it drops; a Get that comes after the budget is spent
// fails the batch (*failed_index is its index).
[[nodiscard]] absl::Status FitReadsToBudget(const kvpb::BatchRequest& request,
                                            std::vector<kvpb::ResponseUnion>* responses,
                                            int* failed_index);

// Evaluates a data write into batch. *written (if not null) is raised to the
// timestamp the write landed at (above ctx.write_timestamp after a WriteTooOld).
// In a transaction a ConditionalPut evaluates its condition at the transaction's
// read timestamp (a newer committed version: WRITE_TOO_OLD retry error) and a
// DeleteRange deletes what is live at ctx.write_timestamp (MVCCDeleteRange); both
// read, so the caller must record them in the timestamp cache
// (ranges/replica_send.cc) — a failed ConditionalPut too.
[[nodiscard]] absl::Status EvaluateWrite(WriteBatch& batch, const kvpb::RequestUnion& request,
                                         const EvalContext& ctx, kvpb::ResponseUnion* response,
                                         Timestamp* written);

// The wire form of an evaluation error (condition-failed, retry and aborted details;
// an MVCC WriteTooOldError becomes a WRITE_TOO_OLD retry naming the newer version).
kvpb::Error ToError(const absl::Status& status, int32_t request_index = -1);
// Back from the wire (keeps the code and message; details stay in error).
absl::Status FromError(const kvpb::Error& error);

}  // namespace rangedb::ranges
