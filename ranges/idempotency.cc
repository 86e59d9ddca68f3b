#include "ranges/idempotency.h"

#include "absl/strings/str_cat.h"
#include "storage/keys.h"

namespace rangedb::ranges {

absl::Status CheckIdempotencyKey(const kvpb::IdempotencyKey& key, absl::Duration record_ttl) {
  if (key.client_id().size() > keys::kMaxIdempotencyClientIdBytes) {
    return absl::InvalidArgumentError(absl::StrCat("idempotency client id is ",
                                                   key.client_id().size(), " bytes; the limit is ",
                                                   keys::kMaxIdempotencyClientIdBytes));
  }
  if (record_ttl == absl::InfiniteDuration()) return absl::OkStatus();
  const absl::Duration window = absl::Milliseconds(key.retry_window_ms());
  if (window > record_ttl / 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the write's retry window of ", absl::FormatDuration(window),
        " is longer than this cluster allows (", absl::FormatDuration(record_ttl / 2),
        ", half the ", absl::FormatDuration(record_ttl),
        " idempotency record lifetime): a retry after the record expired could apply the "
        "write twice; use a shorter timeout"));
  }
  return absl::OkStatus();
}

}  // namespace rangedb::ranges
