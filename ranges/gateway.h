// Gateway: routes a client's batch (header.range_id == 0) to the leaseholders of the
// ranges its keys fall in, on behalf of any node (DESIGN.md §5, docs/routing.md).
//
//  - A range cache (ranges/range_cache.h) maps keys to descriptors; misses read the
//    meta range (range 1, whose descriptor comes from first_range()).
//  - A leaseholder cache orders the replicas to try; NotLeaseholder hints update it.
//  - NotLeaseholder / RangeNotFound / unavailable replicas are retried on the other
//    replicas, then after a jittered backoff, until the request's deadline.
//    RangeKeyMismatch evicts the cached descriptor and looks the key up again.
//  - A batch of reads spanning ranges is split per range and the parts run in
//    parallel; a Scan crossing ranges continues range by range up to its row limit,
//    and reports a resume key when the limit stops it.
//  - Writes: the batch's idempotency key (the gateway makes one if the client sent
//    none) goes with every attempt, so re-sending after an ambiguous failure never
//    applies twice. If the deadline passes after an attempt that may have applied,
//    the answer is an AmbiguousResultError — never success or a plain failure.
//  - Transactions (header.txn): a transaction's first batch gets its timestamps
//    here (read = write = this node's clock, uncertainty limit max_offset above);
//    every part carries the transaction, and the response returns it as the ranges
//    left it (write timestamp pushed). See gateway_txn.cc for how writes and the
//    commit are sequenced.
//  - send_to_node is how a part reaches a node: the node wires it to its own Store
//    when node_id is itself (the local path, no RPC) and to gRPC otherwise.
//
// Thread safety: safe for concurrent use.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/time_source.h"
#include "proto/kv.pb.h"
#include "ranges/range_cache.h"
#include "txn/hlc.h"

namespace rangedb::ranges {

// The outcome of one attempt to send a range-addressed batch to one node.
struct NodeSendResult {
  // Not OK: the RPC failed; the request may or may not have reached the node.
  absl::Status rpc_status;
  kvpb::BatchResponse response;  // valid when rpc_status is OK
};

struct GatewayOptions {
  uint64_t node_id = 0;
  HybridLogicalClock* clock = nullptr;  // REQUIRES: outlives the gateway
  std::function<NodeSendResult(uint64_t node_id, const kvpb::BatchRequest& request,
                               absl::Time deadline)>
      send_to_node;
  // The meta range's descriptor, if known (from the local store or gossip).
  std::function<std::optional<kvpb::RangeDescriptor>()> first_range;
  // Bound of one attempt on one replica, within the request's deadline.
  absl::Duration attempt_timeout = absl::Seconds(2);
  size_t range_cache_max_entries = 100000;
  // Deadlines, backoffs (base/time_source.h). REQUIRES: non-null, outlives the gateway.
  TimeSource* time = TimeSource::Real();
};

struct GatewayMetrics {
  std::atomic<uint64_t> batches{0};
  std::atomic<uint64_t> retries{0};
  std::atomic<uint64_t> not_leaseholder{0};
  std::atomic<uint64_t> meta_lookups{0};
  std::atomic<uint64_t> ambiguous{0};
};

class Gateway {
 public:
  // How long the gateway retries a write that came without an idempotency key (it
  // makes one); below half the leaseholders' record lifetime (ranges/idempotency.h).
  static constexpr absl::Duration kMaxGatewayRetryWindow = absl::Minutes(2);

  explicit Gateway(GatewayOptions options);
  // Routes request (header.range_id must be 0). Errors are in the response.
  kvpb::BatchResponse Send(const kvpb::BatchRequest& request, absl::Time deadline);
  const GatewayMetrics& metrics() const { return metrics_; }
  RangeCache& range_cache() { return cache_; }
  TimeSource* time() const { return options_.time; }

 private:
  struct RetryState;   // one routed request's retry bookkeeping (gateway.cc)
  struct RangeResult;  // what SendToRange ended with
  enum class AttemptOutcome { kReturn, kTryNext, kRangeNotFound, kRelookup };
  // Builds the batch to send to a range, given its descriptor.
  using BuildFn = std::function<kvpb::BatchRequest(const kvpb::RangeDescriptor&)>;

  kvpb::BatchResponse SendWrite(const kvpb::BatchRequest& request, absl::Time deadline);
  // A transaction's writes (gateway_txn.cc): grouped by range and sent in parallel;
  // an EndTxn goes last, with the anchor range's writes, once every other range
  // holds its intents.
  kvpb::BatchResponse SendTxnWrites(const kvpb::BatchRequest& request, absl::Time deadline);
  // ResolveIntent / Refresh requests, each span walked range by range.
  kvpb::BatchResponse SendSpanRequests(const kvpb::BatchRequest& request, absl::Time deadline);
  // HeartbeatTxn, PushTxn, QueryTxn: one request to the range of its key.
  kvpb::BatchResponse SendSingle(const kvpb::BatchRequest& request, absl::Time deadline);
  kvpb::BatchResponse SendReads(const kvpb::BatchRequest& request, absl::Time deadline);
  // The Gets at `indices` of request, range by range; fills (*out)[i]. The error of
  // the first failing range, with request_index in request's numbering.
  std::optional<kvpb::Error> SendGets(const kvpb::BatchRequest& request, std::vector<int> indices,
                                      absl::Time deadline, std::vector<kvpb::ResponseUnion>* out);
  // request.requests(index), a Scan, walked range by range up to its row limit.
  std::optional<kvpb::Error> SendScan(const kvpb::BatchRequest& request, int index,
                                      absl::Time deadline, kvpb::ResponseUnion* out);
  // The same for a reverse Scan: the ranges of [start, end) are found front to
  // back, then read back to front (gateway_txn.cc).
  std::optional<kvpb::Error> SendReverseScan(const kvpb::BatchRequest& request, int index,
                                             absl::Time deadline, kvpb::ResponseUnion* out);
  // Sends build(descriptor of the range holding key), looking the range up again
  // when the descriptor turns out stale (RangeKeyMismatch). *used (if non-null) is
  // the descriptor of the range that answered.
  kvpb::BatchResponse SendRouted(absl::string_view key, const BuildFn& build, absl::Time deadline,
                                 RetryState* state, kvpb::RangeDescriptor* used);
  // The descriptor of the range holding key: the cache, else first_range() for
  // keys below \x03, else a meta lookup (which goes through SendRouted on range 1).
  absl::StatusOr<kvpb::RangeDescriptor> LookupRange(absl::string_view key, absl::Time deadline);
  // Tries desc's replicas, leaseholder first, in rounds separated by backoff.
  RangeResult SendToRange(const kvpb::RangeDescriptor& desc, const kvpb::BatchRequest& batch,
                          absl::Time deadline, RetryState* state);
  AttemptOutcome Attempt(uint64_t node_id, const kvpb::RangeDescriptor& desc,
                         kvpb::BatchRequest& request, absl::Time deadline, RetryState* state,
                         kvpb::BatchResponse* response, uint64_t* hint_node_id);
  // The answer when the deadline passed: ambiguous if a write may have applied,
  // else unavailable with the last error.
  kvpb::BatchResponse DeadlineResponse(const RetryState& state);
  // Turns response's error into an ambiguous-result error (a write's earlier attempt
  // may have applied).
  void MarkAmbiguous(const RetryState& state, kvpb::BatchResponse* response);

  const GatewayOptions options_;
  RangeCache cache_;
  GatewayMetrics metrics_;
  const std::string client_id_;  // 16 random bytes, for idempotency keys we make
  std::atomic<uint64_t> next_sequence_{1};
};

}  // namespace rangedb::ranges
