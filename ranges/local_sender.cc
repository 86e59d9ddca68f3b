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

LocalSenderOptions WithTimeOf(const Gateway* gateway, LocalSenderOptions options) {
  RANGEDB_CHECK(gateway != nullptr);
  if (options.time == nullptr) options.time = gateway->time();
  return options;
}

}  // namespace

LocalSender::LocalSender(Gateway* gateway, LocalSenderOptions options)
    : LocalSender(GatewayHandler(gateway), WithTimeOf(gateway, options)) {}

LocalSender::LocalSender(BatchHandler handler, LocalSenderOptions options)
    : handler_(std::move(handler)),
      options_(options),
      time_(options.time != nullptr ? options.time : TimeSource::Real()) {
  RANGEDB_CHECK(handler_ != nullptr);
  RANGEDB_CHECK(options_.timeout > absl::ZeroDuration());
  RANGEDB_CHECK(options_.timeout <= Gateway::kMaxGatewayRetryWindow);
}

absl::StatusOr<kvpb::BatchResponse> LocalSender::Send(kvpb::BatchRequest batch) {
  return handler_(batch, time_->Now() + options_.timeout);
}

}  // namespace rangedb::ranges
