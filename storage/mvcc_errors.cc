#include "storage/mvcc_errors.h"

#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "storage/lock_table.h"

namespace rangedb {
namespace {

constexpr char kDetailTypeUrl[] = "type.rangedb/rangedb.proto.MVCCErrorDetail";
// WriteTooOldError's payload: the newer version's proto::Timestamp. A payload of its
// own (not an MVCCErrorDetail field) keeps the error out of the wire format: the
// range layer turns it into a TransactionRetryError (WRITE_TOO_OLD).
constexpr char kWriteTooOldTypeUrl[] = "type.rangedb/write-too-old/rangedb.proto.Timestamp";

absl::Status WithDetail(absl::Status status, const proto::MVCCErrorDetail& detail) {
  status.SetPayload(kDetailTypeUrl, absl::Cord(detail.SerializeAsString()));
  return status;
}

std::string TxnShortId(const std::string& id) { return absl::BytesToHexString(id).substr(0, 8); }

}  // namespace

absl::Status LockConflictError(const std::vector<LockConflict>& conflicts) {
  proto::MVCCErrorDetail detail;
  for (const LockConflict& c : conflicts) {
    proto::LockConflict* p = detail.add_conflicts();
    p->set_key(c.key);
    TxnMetaToProto(c.txn, p->mutable_txn());
  }
  std::string msg = absl::StrCat("conflicting intent", conflicts.size() == 1 ? "" : "s", " on ");
  if (!conflicts.empty()) {
    absl::StrAppend(&msg, "key ", absl::CHexEscape(conflicts[0].key), " held by transaction ",
                    TxnShortId(conflicts[0].txn.id), " at ",
                    conflicts[0].txn.write_timestamp.ToString());
  }
  if (conflicts.size() > 1) absl::StrAppend(&msg, " and ", conflicts.size() - 1, " more keys");
  return WithDetail(absl::AbortedError(msg), detail);
}

absl::Status UncertaintyError(absl::string_view key, Timestamp read_timestamp,
                              Timestamp existing_timestamp) {
  proto::MVCCErrorDetail detail;
  TimestampToProto(read_timestamp, detail.mutable_uncertain_read_timestamp());
  TimestampToProto(existing_timestamp, detail.mutable_uncertain_existing_timestamp());
  detail.set_uncertain_key(std::string(key));
  return WithDetail(absl::AbortedError(absl::StrCat(
                        "read at ", read_timestamp.ToString(), " found a value of key ",
                        absl::CHexEscape(key), " at ", existing_timestamp.ToString(),
                        " within its uncertainty interval; restart above it")),
                    detail);
}

absl::Status ConditionFailedError(absl::string_view key, const std::optional<std::string>& actual) {
  proto::MVCCErrorDetail detail;
  detail.set_condition_failed(true);
  detail.set_has_actual_value(actual.has_value());
  if (actual.has_value()) detail.set_actual_value(*actual);
  return WithDetail(
      absl::FailedPreconditionError(absl::StrCat(
          "condition failed for key ", absl::CHexEscape(key), ": actual value is ",
          actual.has_value() ? absl::StrCat("\"", absl::CHexEscape(*actual), "\"") : "missing")),
      detail);
}

absl::Status WriteTooOldError(absl::string_view key, Timestamp read_timestamp,
                              Timestamp existing_timestamp) {
  absl::Status status = absl::AbortedError(
      absl::StrCat("write too old: key ", absl::CHexEscape(key), " has a committed version at ",
                   existing_timestamp.ToString(), ", newer than the transaction's read timestamp ",
                   read_timestamp.ToString(), "; refresh above it and retry"));
  proto::Timestamp existing;
  TimestampToProto(existing_timestamp, &existing);
  status.SetPayload(kWriteTooOldTypeUrl, absl::Cord(existing.SerializeAsString()));
  return status;
}

std::optional<proto::MVCCErrorDetail> MVCCErrorDetailOf(const absl::Status& status) {
  auto payload = status.GetPayload(kDetailTypeUrl);
  if (!payload.has_value()) return std::nullopt;
  proto::MVCCErrorDetail detail;
  if (!detail.ParseFromString(std::string(*payload))) return std::nullopt;
  return detail;
}

std::vector<LockConflict> LockConflictsOf(const absl::Status& status) {
  std::vector<LockConflict> out;
  std::optional<proto::MVCCErrorDetail> detail = MVCCErrorDetailOf(status);
  if (!detail.has_value()) return out;
  for (const proto::LockConflict& p : detail->conflicts()) {
    out.push_back({p.key(), TxnMetaFromProto(p.txn())});
  }
  return out;
}

bool IsLockConflict(const absl::Status& status) {
  std::optional<proto::MVCCErrorDetail> d = MVCCErrorDetailOf(status);
  return d.has_value() && d->conflicts_size() > 0;
}

bool IsUncertaintyError(const absl::Status& status) {
  std::optional<proto::MVCCErrorDetail> d = MVCCErrorDetailOf(status);
  return d.has_value() && d->has_uncertain_existing_timestamp();
}

bool IsConditionFailed(const absl::Status& status) {
  std::optional<proto::MVCCErrorDetail> d = MVCCErrorDetailOf(status);
  return d.has_value() && d->condition_failed();
}

bool IsWriteTooOld(const absl::Status& status) {
  return status.GetPayload(kWriteTooOldTypeUrl).has_value();
}

Timestamp WriteTooOldExistingTimestamp(const absl::Status& status) {
  auto payload = status.GetPayload(kWriteTooOldTypeUrl);
  if (!payload.has_value()) return {};
  proto::Timestamp existing;
  if (!existing.ParseFromString(std::string(*payload))) return {};
  return TimestampFromProto(existing);
}

}  // namespace rangedb
