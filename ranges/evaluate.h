// Evaluation of KV requests against a replica's engine (proposer-evaluated commands,
// DESIGN.md §5): the leaseholder runs a request here, then replicates the resulting
// write batch through Raft; followers never evaluate, they apply the batch.
//
// Reads run against the engine (or a snapshot) at a timestamp; writes go into a
// WriteBatch at a timestamp and fill the response the client will get once the batch
// is applied. Errors are absl::Status values; ToError turns one into the wire
// kvpb::Error (with a condition-failed detail when there is one).
//
// Thread safety: stateless functions; the Reader / WriteBatch rules apply.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "proto/kv.pb.h"
#include "storage/engine.h"
#include "storage/timestamp.h"

namespace rangedb::ranges {

// The server's page size for a Scan without max_keys, and the hard upper bound.
inline constexpr int64_t kDefaultScanRows = 1000;
inline constexpr int64_t kMaxScanRows = 10000;
inline constexpr size_t kMaxBatchRequests = 128;

bool IsWrite(const kvpb::RequestUnion& request);
// Every key (or span) a request touches, for latches and range checks.
struct RequestSpan {
  std::string start;
  std::string end;  // empty for a single key
};
RequestSpan SpanOf(const kvpb::RequestUnion& request);

// Checks shape: known request type, non-empty keys, start < end for scans, at most
// kMaxBatchRequests requests, reads and writes not mixed, at most one write.
[[nodiscard]] absl::Status ValidateBatch(const kvpb::BatchRequest& batch);

// Evaluates a read-only request at ts.
[[nodiscard]] absl::Status EvaluateRead(Reader& reader, const kvpb::RequestUnion& request,
                                        Timestamp ts, kvpb::ResponseUnion* response);

// Evaluates a write at ts into batch.
[[nodiscard]] absl::Status EvaluateWrite(WriteBatch& batch, const kvpb::RequestUnion& request,
                                         Timestamp ts, kvpb::ResponseUnion* response);

// The wire form of an evaluation error.
kvpb::Error ToError(const absl::Status& status, int32_t request_index = -1);
// Back from the wire (keeps the code and message; details stay in error).
absl::Status FromError(const kvpb::Error& error);

}  // namespace rangedb::ranges
