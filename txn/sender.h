// Sender: how the transaction coordinator (txn/txn.h) reaches the key space. Every
// request of a Txn — reads, writes, refreshes, the commit, the rollback and the
// heartbeats — is one call of Send.
//
// Two implementations:
//   - client::KvClient (client/kv_client.h) is the remote Sender: Send is its
//     BatchWithErrors, over gRPC to any node, with host failover and retries.
//   - ranges::LocalSender (ranges/local_sender.h) runs inside a node and hands the
//     batch to the node's own Gateway: no loopback RPC, no serialization.
//
// The contract:
//   - Send(batch) routes a batch addressed by key (header.range_id 0) and returns
//     the gateway's response. A server's definite error comes back *inside* the
//     response (BatchResponse::error, with the response's `txn` as the ranges left
//     it), never as a status. A non-OK status is a failure to get any definite
//     answer: a transport failure, running out of time, or ambiguity.
//   - Ambiguous: a batch that writes (intents, EndTxn) may or may not have been
//     applied. It shows either as a status with kv::IsAmbiguous (base/kv_api.h) or as
//     a response error with the `ambiguous` detail; the coordinator treats both
//     alike (a commit's outcome is then unknown).
//   - The Sender owns the request's deadline (each sets its own budget per call) and
//     its idempotency key: a batch that writes and has none gets one, so the Sender's
//     own retries never apply it twice. The coordinator sets neither and never sends
//     a batch again after an unknown outcome: each Send is a new logical request.
//   - header.now is the Sender's business too (the remote one sends the latest clock
//     reading it observed, so a request through another node is ordered after it;
//     the local one shares the node's clock). The coordinator sets header.txn only.
//   - A batch is checked against base/limits.h (base/request_limits.h) before it is
//     sent or where it arrives; one over a limit fails with InvalidArgument and
//     nothing applied.
//
// Thread safety: implementations are safe for concurrent use — a transaction's
// heartbeats (txn/heartbeater.h) go through its Sender from another thread while
// the transaction's owner sends its own batches.
#pragma once

#include "absl/status/statusor.h"
#include "proto/kv.pb.h"

namespace rangedb::txn {

class Sender {
 public:
  virtual ~Sender() = default;

  // Sends one batch (see the contract above).
  [[nodiscard]] virtual absl::StatusOr<kvpb::BatchResponse> Send(kvpb::BatchRequest batch) = 0;
};

}  // namespace rangedb::txn
