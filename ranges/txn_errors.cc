#include "ranges/txn_errors.h"

#include <string>

#include "absl/strings/cord.h"
#include "storage/lock_table.h"

namespace rangedb::ranges {

absl::Status TxnRetryError(kvpb::TransactionRetryError::Reason reason, absl::string_view message,
                           Timestamp existing) {
  kvpb::TransactionRetryError detail;
  detail.set_reason(reason);
  if (!existing.IsEmpty()) TimestampToProto(existing, detail.mutable_existing_timestamp());
  absl::Status s = absl::AbortedError(message);
  s.SetPayload(kTxnRetryPayloadUrl, absl::Cord(detail.SerializeAsString()));
  return s;
}

absl::Status TxnAbortedError(absl::string_view message) {
  absl::Status s = absl::AbortedError(message);
  s.SetPayload(kTxnAbortedPayloadUrl, absl::Cord(""));
  return s;
}

std::optional<kvpb::TransactionRetryError> TxnRetryDetailOf(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kTxnRetryPayloadUrl);
  if (!payload.has_value()) return std::nullopt;
  kvpb::TransactionRetryError detail;
  if (!detail.ParseFromString(std::string(*payload))) return std::nullopt;
  return detail;
}

bool IsTxnAborted(const absl::Status& status) {
  return status.GetPayload(kTxnAbortedPayloadUrl).has_value();
}

}  // namespace rangedb::ranges
