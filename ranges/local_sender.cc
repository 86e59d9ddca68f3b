#include "ranges/local_sender.h"

#include <utility>

#include "base/check.h"

namespace rangedb::ranges {

namespace {

LocalSender::BatchHandler GatewayHandler(Gateway* gateway) {
  RANGEDB_CHECK(gateway != nullptr);
  return [gateway](const kvpb::BatchRequest& batch, absl::Time deadline) {
    return gateway->Send(batch, deadline);
  };
}

}  // namespace

LocalSender::LocalSender(Gateway* gateway, LocalSenderOptions options)
    : LocalSender(GatewayHandler(gateway), options) {}

LocalSender::LocalSender(BatchHandler handler, LocalSenderOptions options)
    : handler_(std::move(handler)), options_(options) {
  RANGEDB_CHECK(handler_ != nullptr);
  RANGEDB_CHECK(options_.timeout > absl::ZeroDuration());
  RANGEDB_CHECK(options_.timeout <= Gateway::kMaxGatewayRetryWindow);
}

absl::StatusOr<kvpb::BatchResponse> LocalSender::Send(kvpb::BatchRequest batch) {
  return handler_(batch, absl::Now() + options_.timeout);
}

}  // namespace rangedb::ranges
