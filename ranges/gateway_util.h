// Small helpers shared by the gateway's files (gateway.cc, gateway_txn.cc).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "base/backoff.h"
#include "base/limits.h"
#include "base/time_source.h"
#include "proto/kv.pb.h"
#include "ranges/evaluate.h"
#include "ranges/fanout_pool.h"
#include "ranges/gateway.h"

namespace rangedb::ranges::gateway_util {

// At most this many parts of one batch are in flight at once.
inline constexpr size_t kMaxParallelParts = 16;

inline kvpb::BatchResponse ErrorResponse(const absl::Status& status, int32_t index = -1) {
  kvpb::BatchResponse resp;
  *resp.mutable_error() = ToError(status, index);
  return resp;
}

// The idempotency key under which the leaseholder records part `part` of a batch the
// client keyed `key` (a plain write is part 0; a transaction's batch is split into
// parts by range, numbered from 0). The client draws one sequence per batch, so the
// keys of different batches and of different parts never meet — as long as nobody
// sends a client's sequence unchanged: a plain write keyed (c, 257) was answered from
// the record of part 1 of the client's transactional batch 1 ((1 << 8) | 1) and never
// applied. Stable across a client's retries of the same batch.
inline kvpb::IdempotencyKey PartKey(const kvpb::IdempotencyKey& key, uint64_t part) {
  static_assert(limits::kMaxBatchRequests < 256, "a batch's parts must fit the low byte");
  kvpb::IdempotencyKey out;
  out.set_client_id(key.client_id());
  out.set_sequence((key.sequence() << 8) | (part & 0xff));
  out.set_retry_window_ms(key.retry_window_ms());
  return out;
}

inline bool Contains(const kvpb::RangeDescriptor& desc, absl::string_view key) {
  return desc.start_key() <= key && key < desc.end_key();
}

// Sleeps on time for delay, but not past deadline.
inline void SleepBefore(TimeSource* time, std::chrono::milliseconds delay, absl::Time deadline) {
  time->SleepFor(std::min(absl::FromChrono(delay), deadline - time->Now()));
}

// Runs fn(0..n-1), at most kMaxParallelParts at once (the caller's thread among them).
inline void RunParallel(size_t n, const std::function<void(size_t)>& fn) {
  FanoutPool::Default().Run(n, kMaxParallelParts, fn);
}

// What a Scan crossing ranges may still return: rows (its max_keys) and row bytes
// (its target_bytes, at most the response target).
struct ScanBudget {
  explicit ScanBudget(const kvpb::ScanRequest& scan)
      : rows_left(scan.max_keys() > 0 ? scan.max_keys() : kDefaultScanRows),
        bytes_left(static_cast<int64_t>(limits::kResponseTargetBytes)) {
    if (scan.target_bytes() > 0) bytes_left = std::min(bytes_left, scan.target_bytes());
  }
  bool Spent() const { return rows_left <= 0 || bytes_left <= 0; }
  int64_t rows_left;
  int64_t bytes_left;
};

// Appends one range's Scan page (resp) to result and counts its rows and bytes off
// *budget. *stopped: the range stopped early; its resume key is now result's.
// Returns the error, numbered as request `index`, if the range failed or answered no
// scan.
inline std::optional<kvpb::Error> AbsorbScanPage(kvpb::BatchResponse& resp, int index,
                                                 kvpb::ScanResponse* result, ScanBudget* budget,
                                                 bool* stopped) {
  if (resp.has_error()) {
    kvpb::Error error = resp.error();
    error.set_request_index(index);
    return error;
  }
  if (resp.responses_size() != 1 || !resp.responses(0).has_scan()) {
    return ToError(absl::InternalError("range answered a scan without a scan response"), index);
  }
  kvpb::ScanResponse* page = resp.mutable_responses(0)->mutable_scan();
  budget->rows_left -= page->rows_size();
  for (kvpb::KeyValue& row : *page->mutable_rows()) {
    budget->bytes_left -= static_cast<int64_t>(row.key().size() + row.value().size());
    *result->add_rows() = std::move(row);
  }
  *stopped = page->has_resume();
  if (*stopped) {
    result->set_has_resume(true);
    result->set_resume_key(page->resume_key());
  }
  return std::nullopt;
}

// A part of a batch runs in the batch's transaction.
inline void CopyTxn(const kvpb::BatchRequest& from, kvpb::BatchRequest* to) {
  if (from.header().has_txn()) *to->mutable_header()->mutable_txn() = from.header().txn();
}

}  // namespace rangedb::ranges::gateway_util

namespace rangedb::ranges {

inline constexpr BackoffOptions kGatewayRetryBackoff{std::chrono::milliseconds(20),
                                                     std::chrono::milliseconds(500)};

struct Gateway::RetryState {
  explicit RetryState(bool is_write) : write(is_write) {}
  const bool write;
  bool may_have_applied = false;  // an attempt of this write may have applied
  uint64_t range_id = 0;          // the range last tried
  std::string last_error = "no attempt was made before the deadline";
  Backoff backoff{kGatewayRetryBackoff};
};

struct Gateway::RangeResult {
  kvpb::BatchResponse response;
  bool relookup = false;  // the descriptor was stale: look the range up again
};

}  // namespace rangedb::ranges
