#include "ranges/local_sender.h"

#include "base/check.h"

namespace rangedb::ranges {

LocalSender::LocalSender(Gateway* gateway, LocalSenderOptions options)
    : gateway_(gateway), options_(options) {
  RANGEDB_CHECK(gateway_ != nullptr);
  RANGEDB_CHECK(options_.timeout > absl::ZeroDuration());
  RANGEDB_CHECK(options_.timeout <= Gateway::kMaxGatewayRetryWindow);
}

absl::StatusOr<kvpb::BatchResponse> LocalSender::Send(kvpb::BatchRequest batch) {
  return gateway_->Send(batch, gateway_->time()->Now() + options_.timeout);
}

}  // namespace rangedb::ranges
