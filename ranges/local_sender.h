// LocalSender: the txn::Sender (txn/sender.h) of a transaction coordinator that runs
// inside a node: each batch goes straight to the node's own Gateway — no loopback
// RPC, no serialization of the batch to bytes and back.
//
// Per the Sender contract:
//   - Deadline: each Send gets options.timeout from now, on the gateway's time
//     source (the gateway retries routing
//     errors inside it; docs/routing.md).
//   - Idempotency: a batch that writes and carries no key gets one from the gateway
//     (Gateway::SendWrite / SendTxnWrites, one per batch or per range's part), so the
//     gateway's own retries never apply it twice. LocalSender does not retry: a Send
//     is one routed request, and the coordinator never sends a batch again after an
//     unknown outcome.
//   - Errors: always a response (Gateway::Send puts every error there, ambiguity
//     included); the status is always OK.
//   - header.now: unset; the gateway's clock is the node's.
//   - Limits: the gateway checks the batch on arrival (ClassifyBatch).
//
// Thread safety: safe for concurrent use (the gateway is).
#pragma once

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/kv.pb.h"
#include "ranges/gateway.h"
#include "txn/sender.h"

namespace rangedb::ranges {

struct LocalSenderOptions {
  // Budget of one Send; at most Gateway::kMaxGatewayRetryWindow (the window a
  // gateway-made idempotency key is honoured for).
  absl::Duration timeout = absl::Seconds(10);
};

class LocalSender final : public txn::Sender {
 public:
  // REQUIRES: gateway outlives the sender; options.timeout positive and at most
  // Gateway::kMaxGatewayRetryWindow.
  explicit LocalSender(Gateway* gateway, LocalSenderOptions options = {});

  [[nodiscard]] absl::StatusOr<kvpb::BatchResponse> Send(kvpb::BatchRequest batch) override;

 private:
  Gateway* const gateway_;
  const LocalSenderOptions options_;
};

}  // namespace rangedb::ranges
