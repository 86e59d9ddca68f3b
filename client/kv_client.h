// KvClient: the C++ client of rangedb's key-value API (proto/kv.proto, KV.Batch).
//
// A client knows a list of node addresses ("host:port"); any node is a gateway that
// routes each request to the right range, so the client only picks a live node. Each
// operation has a total time budget (KvClientOptions::timeout) that covers every
// retry; inside it the client:
//   - tries the hosts in turn, starting from a per-client rotating preference, and
//     moves to the next host on a transport error or a "try elsewhere" server error;
//   - gives each attempt its own deadline, min(remaining budget, 3 s), so one dead or
//     paused host cannot consume the whole budget;
//   - sleeps a jittered exponential backoff (base/backoff.h) after each full round
//     over the hosts.
//
// Writes and idempotency. Every write carries an IdempotencyKey (client_id: 16 random
// bytes chosen per KvClient; sequence: a per-client counter). A retry of the same
// logical write re-sends the same key, and the server applies a given key at most
// once, returning the recorded response to a duplicate. That makes it safe to retry a
// write whose outcome is unknown. When an attempt may have reached a server and then
// failed without a definite answer (attempt deadline exceeded, connection lost after
// sending, a server error with the `ambiguous` detail) and the budget runs out before
// any attempt returns a definite answer, the operation fails with an *ambiguous*
// status (IsAmbiguous): the write may or may not have been applied. A write is never
// reported as success or failure unless a server said so.
//
// Limits. A batch over a limit of base/limits.h (key, value, batch, request size) is
// refused before it is sent, with an InvalidArgument naming the limit
// (base/request_limits.h, docs/limits.md).
//
// Errors. A server's structured error becomes an absl::Status with the server's code
// and message. A failed ConditionalPut is kFailedPrecondition carrying the actual
// value (IsConditionFailed, ConditionFailedActual). Running out of budget with no
// ambiguity is kDeadlineExceeded or kUnavailable with the last host's error.
//
// The error helpers (IsAmbiguous, IsConditionFailed, ...) and KeyValue live in
// base/kv_api.h (namespace rangedb::kv), shared with the transaction coordinator;
// they are re-exported here under rangedb::client.
//
// KvClient is the remote txn::Sender (txn/sender.h): Send is BatchWithErrors, so a
// transaction (txn::Txn, txn::RunTransaction) runs from outside a node over a client.
//
// Thread safety: a KvClient is thread-safe; share one between threads or create one
// per thread (each creates its own connections). One gRPC channel per host, created
// on first use.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/kv_api.h"
#include "proto/kv.grpc.pb.h"
#include "txn/sender.h"

namespace rangedb::client {

// The longest a write may be retried. A leaseholder keeps the record that makes a
// retried write apply once for 10 minutes by default and refuses a write whose retry
// window exceeds half of that (docs/kv-api.md, "Exactly once and ambiguity"); a
// longer budget could let a retry arrive after the record expired and apply the
// write twice, so Create refuses it.
inline constexpr absl::Duration kMaxWriteRetryWindow = absl::Minutes(2);

struct KvClientOptions {
  // Node addresses, "host:port" or "[v6addr]:port". At least one.
  std::vector<std::string> hosts;
  // Total budget of one operation, retries included. Must be positive and at most
  // kMaxWriteRetryWindow. For Scan it applies to each page.
  absl::Duration timeout = absl::Seconds(10);
  // Upper bound of one attempt's deadline (the attempt gets min(remaining, this)).
  absl::Duration attempt_timeout = absl::Seconds(3);
};

using kv::KeyValue;  // one row of a Scan

// OK if address is "host:port" or "[v6addr]:port" with a port in 1..65535 and no
// space; InvalidArgument naming it otherwise. What Create checks of each host.
[[nodiscard]] absl::Status ValidateHostAddress(absl::string_view address);

class KvClient final : public txn::Sender {
 public:
  // Rows per Scan page asked of the server.
  static constexpr int64_t kScanPageRows = kv::kScanPageRows;

  // Validates options. InvalidArgument if hosts is empty, a host is not
  // "host:port" with a port in 1..65535, or timeout is not positive. Connects
  // lazily: Create succeeds even when no host is reachable.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<KvClient>> Create(KvClientOptions options);

  KvClient(const KvClient&) = delete;
  KvClient& operator=(const KvClient&) = delete;
  ~KvClient() override;

  // The latest value of key, or nullopt when the key has none.
  [[nodiscard]] absl::StatusOr<std::optional<std::string>> Get(absl::string_view key);
  [[nodiscard]] absl::Status Put(absl::string_view key, absl::string_view value);
  // Writes value if the key's current value equals *expected, or if expected is
  // nullopt and the key has no value. Otherwise fails with a condition-failed status.
  [[nodiscard]] absl::Status ConditionalPut(absl::string_view key, absl::string_view value,
                                            const std::optional<std::string>& expected);
  [[nodiscard]] absl::Status Delete(absl::string_view key);
  // Adds delta to the decimal integer at key (missing = 0); returns the new value.
  [[nodiscard]] absl::StatusOr<int64_t> Increment(absl::string_view key, int64_t delta);
  // Rows with keys in [start, end), in key order, at most limit rows (0 = all; the
  // result is held in memory, so bound it for large spans). Pages through the
  // server's resume keys: a page holds at most kScanPageRows rows and about
  // limits::kResponseTargetBytes of them (docs/limits.md). Pages are read one after
  // another, not at one snapshot.
  [[nodiscard]] absl::StatusOr<std::vector<KeyValue>> Scan(absl::string_view start,
                                                           absl::string_view end, int64_t limit);
  // The same, handing each row to fn as its page arrives instead of holding them all;
  // stops at fn's first error and returns it.
  [[nodiscard]] absl::Status ScanEach(absl::string_view start, absl::string_view end, int64_t limit,
                                      const std::function<absl::Status(KeyValue)>& fn);
  // Sends a raw batch with the same failover and retries. If the batch holds a write
  // and its header has no idempotency key, one is assigned. A server error comes back
  // as a non-OK status (the response's error field is never set on success).
  [[nodiscard]] absl::StatusOr<kvpb::BatchResponse> Batch(kvpb::BatchRequest request);
  // Like Batch, but a server's definite error comes back inside the response (with
  // the response's transaction, which a transaction coordinator needs); the status
  // is non-OK only for transport failures, ambiguity and running out of budget.
  [[nodiscard]] absl::StatusOr<kvpb::BatchResponse> BatchWithErrors(kvpb::BatchRequest request);
  // txn::Sender: BatchWithErrors.
  [[nodiscard]] absl::StatusOr<kvpb::BatchResponse> Send(kvpb::BatchRequest batch) override {
    return BatchWithErrors(std::move(batch));
  }

 private:
  struct Host;
  enum class Outcome;

  explicit KvClient(KvClientOptions options);

  // The per-attempt loop behind every operation (kv_client.cc).
  absl::StatusOr<kvpb::BatchResponse> SendWithRetries(kvpb::BatchRequest request, bool is_write,
                                                      bool errors_in_response = false);
  // Sends one attempt to host `index` and classifies what came back.
  Outcome Attempt(size_t index, const kvpb::BatchRequest& request, absl::Time deadline,
                  bool is_write, kvpb::BatchResponse* response, absl::Status* error);
  // Host `index`, its channel created on first use.
  Host& GetHost(size_t index);
  // Waits until host's channel is connected, it fails to connect, or deadline.
  // False means nothing can have been sent, so a write was certainly not applied.
  // Replaces a server error seen after an attempt that may have applied by an
  // ambiguous-result error carrying its message.
  static void MarkAmbiguous(kvpb::Error* error);
  static bool AwaitConnected(Host& host, absl::Time deadline);
  // Raises the observed HLC reading to now.
  void Observe(const proto::Timestamp& now);
  // Runs a single-request batch and returns its one response.
  absl::StatusOr<kvpb::ResponseUnion> SendOne(kvpb::RequestUnion request, bool is_write);

  const KvClientOptions options_;
  const std::string client_id_;         // 16 random bytes, the idempotency client_id
  std::atomic<uint64_t> sequence_{0};   // last idempotency sequence handed out
  std::atomic<uint64_t> next_host_{0};  // rotating start of the host preference

  absl::Mutex mu_;
  std::vector<std::unique_ptr<Host>> hosts_ ABSL_GUARDED_BY(mu_);  // one per address
  // The highest HLC reading seen in a response, sent as header.now so a later
  // request through another node is ordered after what this client observed.
  int64_t observed_wall_time_ns_ ABSL_GUARDED_BY(mu_) = 0;
  int32_t observed_logical_ ABSL_GUARDED_BY(mu_) = 0;
};

// The KV API's error helpers (base/kv_api.h), under their old names.
using kv::AmbiguousError;
using kv::ConditionFailedActual;
using kv::ErrorToStatus;
using kv::IsAmbiguous;
using kv::IsConditionFailed;
using kv::kAmbiguousPayloadUrl;
using kv::kConditionFailedPayloadUrl;

}  // namespace rangedb::client
