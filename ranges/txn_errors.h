// The transaction errors a replica returns (docs/transactions.md, "Errors"), as
// absl::Status values with a payload so they survive until ToError puts them on the
// wire as kvpb::TransactionRetryError / kvpb::TransactionAbortedError:
//
//   TxnRetryError    kAborted  retry: refresh or restart, by reason (SQLSTATE 40001)
//   TxnAbortedError  kAborted  the transaction is aborted: start a new one (retryable)
#pragma once

#include <optional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "proto/kv.pb.h"
#include "storage/timestamp.h"

namespace rangedb::ranges {

inline constexpr char kTxnRetryPayloadUrl[] = "rangedb.dev/txn-retry";
inline constexpr char kTxnAbortedPayloadUrl[] = "rangedb.dev/txn-aborted";

absl::Status TxnRetryError(kvpb::TransactionRetryError::Reason reason, absl::string_view message,
                           Timestamp existing = {});
absl::Status TxnAbortedError(absl::string_view message);

std::optional<kvpb::TransactionRetryError> TxnRetryDetailOf(const absl::Status& status);
bool IsTxnAborted(const absl::Status& status);

}  // namespace rangedb::ranges
