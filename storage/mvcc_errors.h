// The structured errors of MVCC operations. Each is an absl::Status with a
// proto::MVCCErrorDetail payload, so the detail survives being passed up the stack
// (and, later, across RPCs) and callers can act on it:
//
//   LockConflictError   kAborted            the keys hold intents of other transactions;
//                                            push or wait for them, then retry
//   UncertaintyError    kAborted            a value in (read ts, uncertainty limit]
//                                            exists; restart above its timestamp
//   ConditionFailedError kFailedPrecondition ConditionalPut's expectation did not hold
//   WriteTooOldError    kAborted            a transactional write whose outcome depends
//                                            on the value (ConditionalPut) found a
//                                            committed version newer than the
//                                            transaction's snapshot; refresh above it
//                                            and retry (docs/transactions.md)
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "proto/mvcc.pb.h"
#include "storage/mvcc_txn.h"
#include "storage/timestamp.h"

namespace rangedb {

struct LockConflict {
  std::string key;
  TxnMeta txn;  // the transaction holding the intent
};

absl::Status LockConflictError(const std::vector<LockConflict>& conflicts);
absl::Status UncertaintyError(absl::string_view key, Timestamp read_timestamp,
                              Timestamp existing_timestamp);
absl::Status ConditionFailedError(absl::string_view key, const std::optional<std::string>& actual);

absl::Status WriteTooOldError(absl::string_view key, Timestamp read_timestamp,
                              Timestamp existing_timestamp);

// The detail of an MVCC error, or nullopt if status carries none.
std::optional<proto::MVCCErrorDetail> MVCCErrorDetailOf(const absl::Status& status);

// The conflicts of a LockConflictError; empty for any other status.
std::vector<LockConflict> LockConflictsOf(const absl::Status& status);
bool IsLockConflict(const absl::Status& status);
bool IsUncertaintyError(const absl::Status& status);
bool IsConditionFailed(const absl::Status& status);
bool IsWriteTooOld(const absl::Status& status);
// The newer version's timestamp of a WriteTooOldError; empty for any other status.
Timestamp WriteTooOldExistingTimestamp(const absl::Status& status);

}  // namespace rangedb
