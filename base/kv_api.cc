#include "base/kv_api.h"

#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace rangedb::kv {

absl::Status AmbiguousError(absl::string_view reason) {
  absl::Status status(absl::StatusCode::kUnknown, absl::StrCat("ambiguous result: ", reason));
  kvpb::AmbiguousResultError detail;
  detail.set_reason(std::string(reason));
  status.SetPayload(kAmbiguousPayloadUrl, absl::Cord(detail.SerializeAsString()));
  return status;
}

absl::Status ErrorToStatus(const kvpb::Error& error) {
  if (error.has_ambiguous()) {
    return AmbiguousError(error.ambiguous().reason().empty() ? error.message()
                                                             : error.ambiguous().reason());
  }
  absl::StatusCode code = absl::StatusCode::kUnknown;
  if (error.code() > 0 && error.code() <= static_cast<int>(absl::StatusCode::kUnauthenticated)) {
    code = static_cast<absl::StatusCode>(error.code());
  }
  std::string message = error.message().empty() ? "server error" : error.message();
  if (error.has_condition_failed()) {
    const kvpb::ConditionFailedError& failed = error.condition_failed();
    if (error.message().empty()) {
      message = failed.has_actual() ? absl::StrCat("condition failed: actual value \"",
                                                   absl::CEscape(failed.actual()), "\"")
                                    : "condition failed: the key has no value";
    }
    absl::Status status(absl::StatusCode::kFailedPrecondition, message);
    status.SetPayload(kConditionFailedPayloadUrl, absl::Cord(failed.SerializeAsString()));
    return status;
  }
  if (error.has_not_leaseholder()) {
    absl::StrAppend(&message, " (not leaseholder of range ", error.not_leaseholder().range_id(),
                    ")");
  } else if (error.has_range_not_found()) {
    absl::StrAppend(&message, " (range ", error.range_not_found().range_id(), " not found)");
  }
  return absl::Status(code, message);
}

bool IsAmbiguous(const absl::Status& status) {
  return status.GetPayload(kAmbiguousPayloadUrl).has_value();
}

bool IsConditionFailed(const absl::Status& status) {
  return status.code() == absl::StatusCode::kFailedPrecondition &&
         status.GetPayload(kConditionFailedPayloadUrl).has_value();
}

std::optional<std::optional<std::string>> ConditionFailedActual(const absl::Status& status) {
  if (!IsConditionFailed(status)) return std::nullopt;
  kvpb::ConditionFailedError failed;
  if (!failed.ParseFromString(std::string(*status.GetPayload(kConditionFailedPayloadUrl)))) {
    return std::nullopt;
  }
  if (!failed.has_actual()) return std::optional<std::string>();
  return std::optional<std::string>(failed.actual());
}

}  // namespace rangedb::kv
