// LocalSender: the txn::Sender (txn/sender.h) of a transaction coordinator that runs
// inside a node: each batch goes straight to the node's own Gateway — no loopback
// RPC, no serialization of the batch to bytes and back. A node builds it over its
// batch handler (Node::local_sender(), node/node.h), so local batches pass the same
// serving, fencing and draining checks as a client's KV.Batch; tests build it over a
// bare Gateway.
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

#include <functional>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/time_source.h"
#include "proto/kv.pb.h"
#include "ranges/gateway.h"
#include "txn/sender.h"

namespace rangedb::ranges {

struct LocalSenderOptions {
  // Budget of one Send; at most Gateway::kMaxGatewayRetryWindow (the window a
  // gateway-made idempotency key is honoured for).
  absl::Duration timeout = absl::Seconds(10);
  // What deadlines are measured on; null: the gateway's (Gateway*) or the real one.
  TimeSource* time = nullptr;
};

class LocalSender final : public txn::Sender {
 public:
  // What serves a batch by its deadline: a Gateway's Send, or a node's handler that
  // checks the node's state first and then calls its Gateway. It must put every
  // error, ambiguity included, in the response (as Gateway::Send does).
  using BatchHandler =
      std::function<kvpb::BatchResponse(const kvpb::BatchRequest&, absl::Time deadline)>;

  // REQUIRES: gateway outlives the sender; options.timeout positive and at most
  // Gateway::kMaxGatewayRetryWindow.
  explicit LocalSender(Gateway* gateway, LocalSenderOptions options = {});
  // REQUIRES: handler non-empty, and whatever it calls outlives the sender; the
  // options as above.
  explicit LocalSender(BatchHandler handler, LocalSenderOptions options = {});

  [[nodiscard]] absl::StatusOr<kvpb::BatchResponse> Send(kvpb::BatchRequest batch) override;

 private:
  const BatchHandler handler_;
  const LocalSenderOptions options_;
  TimeSource* const time_;
};

}  // namespace rangedb::ranges
