#include "sql/sqlstate.h"

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace rangedb::sql {
namespace {

absl::StatusCode CodeFor(absl::string_view sqlstate) {
  if (sqlstate == sqlstate::kSerializationFailure) return absl::StatusCode::kAborted;
  if (sqlstate == sqlstate::kAmbiguousCommit) return absl::StatusCode::kUnknown;
  if (sqlstate == sqlstate::kQueryCanceled) return absl::StatusCode::kCancelled;
  if (sqlstate == sqlstate::kFeatureNotSupported) return absl::StatusCode::kUnimplemented;
  if (sqlstate == sqlstate::kProgramLimitExceeded) return absl::StatusCode::kResourceExhausted;
  if (sqlstate == sqlstate::kConnectionFailure) return absl::StatusCode::kUnavailable;
  if (sqlstate == sqlstate::kInternalError) return absl::StatusCode::kInternal;
  if (absl::StartsWith(sqlstate, "23") || absl::StartsWith(sqlstate, "25")) {
    return absl::StatusCode::kFailedPrecondition;
  }
  if (absl::StartsWith(sqlstate, "42P07") || sqlstate == sqlstate::kDuplicateObject) {
    return absl::StatusCode::kAlreadyExists;
  }
  if (sqlstate == sqlstate::kUndefinedTable || sqlstate == sqlstate::kUndefinedObject) {
    return absl::StatusCode::kNotFound;
  }
  return absl::StatusCode::kInvalidArgument;
}

}  // namespace

absl::Status SqlError(absl::string_view code, absl::string_view message) {
  absl::Status status(CodeFor(code), message);
  status.SetPayload(kSqlStatePayloadUrl, absl::Cord(code));
  return status;
}

std::string SqlStateOf(const absl::Status& status) {
  if (status.ok()) return "00000";
  if (auto payload = status.GetPayload(kSqlStatePayloadUrl)) return std::string(*payload);
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return sqlstate::kDataException;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return sqlstate::kConnectionFailure;
    case absl::StatusCode::kCancelled:
      return sqlstate::kQueryCanceled;
    case absl::StatusCode::kUnimplemented:
      return sqlstate::kFeatureNotSupported;
    case absl::StatusCode::kResourceExhausted:
      return sqlstate::kProgramLimitExceeded;
    case absl::StatusCode::kAborted:
      return sqlstate::kSerializationFailure;
    default:
      return sqlstate::kInternalError;
  }
}

absl::Status WithPosition(absl::Status status, int position) {
  if (position > 0 && !status.ok())
    status.SetPayload(kPositionPayloadUrl, absl::Cord(absl::StrCat(position)));
  return status;
}

int PositionOf(const absl::Status& status) {
  int position = 0;
  if (auto payload = status.GetPayload(kPositionPayloadUrl)) {
    if (!absl::SimpleAtoi(std::string(*payload), &position)) position = 0;
  }
  return position;
}

absl::Status NotSupported(absl::string_view feature) {
  return SqlError(sqlstate::kFeatureNotSupported, absl::StrCat(feature, " is not supported"));
}

}  // namespace rangedb::sql
