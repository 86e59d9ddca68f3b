#include "ranges/local_sender.h"

#include <cassert>

namespace rangedb::ranges {

LocalSender::LocalSender(Gateway* gateway, LocalSenderOptions options)
    : gateway_(gateway), options_(options) {
  assert(gateway_ != nullptr);
  assert(options_.timeout > absl::ZeroDuration());
  assert(options_.timeout <= Gateway::kMaxGatewayRetryWindow);
}

absl::StatusOr<kvpb::BatchResponse> LocalSender::Send(kvpb::BatchRequest batch) {
  return gateway_->Send(batch, absl::Now() + options_.timeout);
}

}  // namespace rangedb::ranges
