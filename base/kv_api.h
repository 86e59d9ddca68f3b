// What every layer that speaks the KV API (proto/kv.proto) shares: a row, the scan
// page size, and a server's structured error (kvpb::Error) as an absl::Status.
//
// The transaction coordinator (txn/) and the KV client (client/) both turn a server's
// error into a status and read it back (IsAmbiguous, IsConditionFailed, ...), so the
// conversion lives here, below both. client/kv_client.h re-exports every name under
// rangedb::client, as before.
//
// Namespace rangedb::kv: these speak the wire's errors, not storage's MVCC errors of
// the same names (storage/mvcc_errors.h, namespace rangedb).
//
// Thread safety: stateless functions, safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "proto/kv.pb.h"

namespace rangedb::kv {

// One row of a Scan.
struct KeyValue {
  std::string key;
  std::string value;
};

// Rows per Scan page asked of a server.
inline constexpr int64_t kScanPageRows = 1000;

inline constexpr char kAmbiguousPayloadUrl[] = "rangedb.dev/ambiguous";
inline constexpr char kConditionFailedPayloadUrl[] = "rangedb.dev/condition-failed";
// On a server's status for a Get refused because the batch's earlier reads used the
// response budget up (kvpb::Error.over_response_budget on the wire).
inline constexpr char kOverResponseBudgetPayloadUrl[] = "rangedb.dev/over-response-budget";

// The absl::Status for a server's structured error: the server's code and message
// (a range's id appended for NotLeaseholder and RangeNotFound); a failed
// ConditionalPut is kFailedPrecondition carrying the actual value; an ambiguous
// error is AmbiguousError(its reason).
absl::Status ErrorToStatus(const kvpb::Error& error);
// An ambiguous status with the given reason: code kUnknown, a message starting
// "ambiguous result: ", a serialized AmbiguousResultError under kAmbiguousPayloadUrl.
absl::Status AmbiguousError(absl::string_view reason);

// True if status is the ambiguous outcome of a write: it may or may not have been
// applied (AmbiguousError).
bool IsAmbiguous(const absl::Status& status);
// True if status is a failed ConditionalPut's condition.
bool IsConditionFailed(const absl::Status& status);
// For a condition-failed status: the key's actual value (inner nullopt: the key had
// no value). nullopt if status is not a condition failure.
std::optional<std::optional<std::string>> ConditionFailedActual(const absl::Status& status);

}  // namespace rangedb::kv
