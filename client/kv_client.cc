#include "client/kv_client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <thread>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/backoff.h"
#include "base/limits.h"
#include "base/request_limits.h"

namespace rangedb::client {

// One node: its address and, once first used, its channel.
struct KvClient::Host {
  std::string address;
  std::shared_ptr<grpc::Channel> channel;  // null until first use
  std::unique_ptr<kvpb::KV::Stub> stub;
};

// What one attempt tells the retry loop.
enum class KvClient::Outcome {
  kDone,            // a response without error
  kServerError,     // a definite error from a server: the write was not applied
  kRejected,        // a transport error retrying cannot fix (e.g. UNIMPLEMENTED)
  kRetry,           // try elsewhere; a write was certainly not applied
  kRetryAmbiguous,  // try elsewhere; a write may have been applied
};

absl::Status ValidateHostAddress(absl::string_view address) {
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed host \"", address, "\": want host:port"));
  }
  absl::string_view host = address.substr(0, colon);
  if (host.front() == '[' && host.back() != ']') {
    return absl::InvalidArgumentError(absl::StrCat("malformed host \"", address, "\""));
  }
  int port = 0;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 1 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed host \"", address, "\": port must be 1..65535"));
  }
  for (char c : host) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(absl::StrCat("malformed host \"", address, "\""));
    }
  }
  return absl::OkStatus();
}

namespace {

std::string RandomClientId() {
  absl::BitGen gen;
  std::string id(16, '\0');
  for (char& c : id) c = static_cast<char>(absl::Uniform<int>(gen, 0, 256));
  return id;
}

bool IsWriteRequest(const kvpb::RequestUnion& request) {
  switch (request.value_case()) {
    case kvpb::RequestUnion::kGet:
    case kvpb::RequestUnion::kScan:
    case kvpb::RequestUnion::VALUE_NOT_SET:
      return false;
    default:
      return true;
  }
}

// gRPC fails an RPC with this wording when it could not open a connection, i.e.
// before anything was sent (gRPC 1.51's pick_first). Any other UNAVAILABLE may come
// after the request reached a server. If a future gRPC rewords this, writes just
// become ambiguous more often: the safe direction.
bool FailedBeforeSend(const grpc::Status& status) {
  const std::string message = absl::AsciiStrToLower(status.error_message());
  return absl::StrContains(message, "failed to connect") ||
         absl::StrContains(message, "dns resolution failed");
}

// The response must hold one response per request, each of the request's kind.
absl::Status ValidateResponse(const kvpb::BatchRequest& request,
                              const kvpb::BatchResponse& response) {
  if (response.responses_size() != request.requests_size()) {
    return absl::InternalError(absl::StrCat("malformed response: ", response.responses_size(),
                                            " responses for ", request.requests_size(),
                                            " requests"));
  }
  for (int i = 0; i < request.requests_size(); ++i) {
    // The two oneofs number their cases alike (proto/kv.proto).
    if (static_cast<int>(response.responses(i).value_case()) !=
        static_cast<int>(request.requests(i).value_case())) {
      return absl::InternalError(
          absl::StrCat("malformed response: response ", i, " does not match its request"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<KvClient>> KvClient::Create(KvClientOptions options) {
  if (options.hosts.empty()) return absl::InvalidArgumentError("no hosts given");
  for (const std::string& host : options.hosts) {
    if (absl::Status s = ValidateHostAddress(host); !s.ok()) return s;
  }
  if (options.timeout <= absl::ZeroDuration() || options.attempt_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("timeouts must be positive");
  }
  if (options.timeout > kMaxWriteRetryWindow) {
    return absl::InvalidArgumentError(
        absl::StrCat("timeout ", absl::FormatDuration(options.timeout), " is longer than the ",
                     absl::FormatDuration(kMaxWriteRetryWindow),
                     " a write may be retried for (a retry after the server forgot the write could "
                     "apply it twice)"));
  }
  return std::unique_ptr<KvClient>(new KvClient(std::move(options)));
}

KvClient::KvClient(KvClientOptions options)
    : options_(std::move(options)), client_id_(RandomClientId()) {
  absl::BitGen gen;
  // A random first preference spreads many clients over the nodes.
  next_host_ = absl::Uniform<uint64_t>(gen, 0, options_.hosts.size());
  for (const std::string& address : options_.hosts) {
    hosts_.push_back(std::make_unique<Host>(Host{address, nullptr, nullptr}));
  }
}

KvClient::~KvClient() = default;

KvClient::Host& KvClient::GetHost(size_t index) {
  absl::MutexLock lock(&mu_);
  Host& host = *hosts_[index];
  if (host.stub == nullptr) {
    grpc::ChannelArguments args;
    // Own connections per client (a workload's clients must not share one), and
    // quick reconnects so a restarted node is used again within about a second.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    // Every response a node can build fits (base/limits.h): the default 4 MiB does
    // not hold a page of large values.
    args.SetMaxReceiveMessageSize(static_cast<int>(limits::kMaxKvMessageBytes));
    args.SetMaxSendMessageSize(static_cast<int>(limits::kMaxKvMessageBytes));
    host.channel =
        grpc::CreateCustomChannel(host.address, grpc::InsecureChannelCredentials(), args);
    host.stub = kvpb::KV::NewStub(host.channel);
  }
  // Hosts are never removed and channel and stub never change once set, so the
  // reference stays valid and usable without the lock.
  return host;
}

bool KvClient::AwaitConnected(Host& host, absl::Time deadline) {
  // Bounded by the deadline: each wait ends by it.
  for (;;) {
    const grpc_connectivity_state state = host.channel->GetState(/*try_to_connect=*/true);
    if (state == GRPC_CHANNEL_READY) return true;
    // Failing fast here keeps a refused connection from costing a whole attempt.
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_SHUTDOWN) return false;
    if (!host.channel->WaitForStateChange(state, absl::ToChronoTime(deadline))) return false;
  }
}

KvClient::Outcome KvClient::Attempt(size_t index, const kvpb::BatchRequest& request,
                                    absl::Time deadline, bool is_write,
                                    kvpb::BatchResponse* response, absl::Status* error) {
  const absl::Time attempt_deadline = std::min(deadline, absl::Now() + options_.attempt_timeout);
  Host& host = GetHost(index);
  // Connecting first separates "never sent" (certainly not applied) from "sent,
  // then no answer" (maybe applied) for a host that is down or unreachable.
  if (!AwaitConnected(host, attempt_deadline)) {
    *error = absl::UnavailableError(absl::StrCat(host.address, ": could not connect"));
    return Outcome::kRetry;
  }
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(attempt_deadline));
  const grpc::Status status = host.stub->Batch(&context, request, response);
  const std::string& address = options_.hosts[index];
  if (!status.ok()) {
    *error = absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                          absl::StrCat(address, ": ", status.error_message()));
    switch (status.error_code()) {
      case grpc::StatusCode::UNAVAILABLE:
        return !is_write || FailedBeforeSend(status) ? Outcome::kRetry : Outcome::kRetryAmbiguous;
      case grpc::StatusCode::DEADLINE_EXCEEDED:
      case grpc::StatusCode::CANCELLED:
        return is_write ? Outcome::kRetryAmbiguous : Outcome::kRetry;
      default:
        return Outcome::kRejected;
    }
  }
  if (!response->has_error()) {
    *error = ValidateResponse(request, *response);
    return error->ok() ? Outcome::kDone : Outcome::kServerError;
  }
  const kvpb::Error& server_error = response->error();
  *error = ErrorToStatus(server_error);
  if (server_error.has_ambiguous()) {
    return is_write ? Outcome::kRetryAmbiguous : Outcome::kRetry;
  }
  // A server that ran out of time may have proposed the write before giving up.
  if (server_error.code() == static_cast<int>(absl::StatusCode::kDeadlineExceeded)) {
    return is_write ? Outcome::kRetryAmbiguous : Outcome::kRetry;
  }
  // "Not here, not now": nothing was applied; another node may do better.
  if (server_error.has_not_leaseholder() || server_error.has_range_not_found() ||
      server_error.code() == static_cast<int>(absl::StatusCode::kUnavailable)) {
    *error = absl::Status(error->code(), absl::StrCat(address, ": ", error->message()));
    return Outcome::kRetry;
  }
  return Outcome::kServerError;
}

void KvClient::MarkAmbiguous(kvpb::Error* error) {
  if (error->has_ambiguous()) return;
  const std::string reason =
      absl::StrCat("an earlier attempt may have been applied; then ", error->message());
  kvpb::Error ambiguous;
  ambiguous.set_code(static_cast<int32_t>(absl::StatusCode::kUnknown));
  ambiguous.set_message(reason);
  ambiguous.set_request_index(error->request_index());
  ambiguous.mutable_ambiguous()->set_reason(reason);
  *error = std::move(ambiguous);
}

absl::StatusOr<kvpb::BatchResponse> KvClient::SendWithRetries(kvpb::BatchRequest request,
                                                              bool is_write,
                                                              bool errors_in_response) {
  // Refused here, before anything is sent, with the limit named; the servers run
  // the same check for clients that skip it.
  if (absl::Status s = limits::CheckBatchLimits(request); !s.ok()) return s;
  const absl::Time deadline = absl::Now() + options_.timeout;
  {
    // header.now: the later of what the caller set and what this client observed.
    absl::MutexLock lock(&mu_);
    auto* now = request.mutable_header()->mutable_now();
    if (std::make_pair(observed_wall_time_ns_, observed_logical_) >
        std::make_pair(now->wall_time_ns(), now->logical())) {
      now->set_wall_time_ns(observed_wall_time_ns_);
      now->set_logical(observed_logical_);
    }
  }
  if (is_write && !request.header().has_idempotency_key()) {
    kvpb::IdempotencyKey* key = request.mutable_header()->mutable_idempotency_key();
    key->set_client_id(client_id_);
    key->set_sequence(sequence_.fetch_add(1) + 1);
  }
  if (is_write) {
    // Retried until `deadline` at most: the leaseholder refuses a window it cannot
    // honour (ranges/idempotency.h).
    request.mutable_header()->mutable_idempotency_key()->set_retry_window_ms(
        static_cast<uint64_t>(absl::ToInt64Milliseconds(options_.timeout) + 1));
  }

  const size_t host_count = options_.hosts.size();
  Backoff backoff(BackoffOptions{std::chrono::milliseconds(20), std::chrono::milliseconds(1000)});
  bool ambiguous = false;
  absl::Status last_error = absl::DeadlineExceededError("no attempt was made");
  // Bounded by the deadline: every attempt and every backoff sleep ends by it.
  while (absl::Now() < deadline) {
    for (size_t i = 0; i < host_count && absl::Now() < deadline; ++i) {
      uint64_t preferred = next_host_.load();
      const size_t index = preferred % host_count;
      kvpb::BatchResponse response;
      absl::Status error;
      switch (Attempt(index, request, deadline, is_write, &response, &error)) {
        case Outcome::kDone:
          Observe(response.now());
          return response;
        case Outcome::kServerError:
          // After an attempt that may have applied, a failure says nothing about that
          // attempt — unless the leaseholder evaluated this write and found no record
          // of it (docs/kv-api.md): then no attempt applied or will.
          if (response.has_error() && response.error().write_evaluated()) ambiguous = false;
          if (errors_in_response && response.has_error()) {
            Observe(response.now());
            if (ambiguous) MarkAmbiguous(response.mutable_error());
            return response;
          }
          [[fallthrough]];
        case Outcome::kRejected:
          if (ambiguous) {
            return AmbiguousError(
                absl::StrCat("an earlier attempt may have been applied; then ", error.message()));
          }
          return error;
        case Outcome::kRetryAmbiguous:
          ambiguous = true;
          [[fallthrough]];
        case Outcome::kRetry:
          last_error = error;
          // Move this client's preference past the failed host (unless another
          // thread already did).
          next_host_.compare_exchange_strong(preferred, preferred + 1);
          break;
      }
    }
    const absl::Duration remaining = deadline - absl::Now();
    if (remaining <= absl::ZeroDuration()) break;
    std::this_thread::sleep_for(std::min(absl::ToChronoMilliseconds(remaining), backoff.Next()));
  }
  const std::string budget = absl::FormatDuration(options_.timeout);
  if (ambiguous) {
    return AmbiguousError(
        absl::StrCat("no definite answer within ", budget, "; last error: ", last_error.message()));
  }
  const absl::StatusCode code = last_error.code() == absl::StatusCode::kUnavailable
                                    ? absl::StatusCode::kUnavailable
                                    : absl::StatusCode::kDeadlineExceeded;
  return absl::Status(code, absl::StrCat("no host answered within ", budget,
                                         "; last error: ", last_error.message()));
}

absl::StatusOr<kvpb::BatchResponse> KvClient::Batch(kvpb::BatchRequest request) {
  const bool is_write =
      std::any_of(request.requests().begin(), request.requests().end(), IsWriteRequest);
  return SendWithRetries(std::move(request), is_write);
}

void KvClient::Observe(const proto::Timestamp& now) {
  absl::MutexLock lock(&mu_);
  if (std::make_pair(now.wall_time_ns(), now.logical()) >
      std::make_pair(observed_wall_time_ns_, observed_logical_)) {
    observed_wall_time_ns_ = now.wall_time_ns();
    observed_logical_ = now.logical();
  }
}

absl::StatusOr<kvpb::BatchResponse> KvClient::BatchWithErrors(kvpb::BatchRequest request) {
  const bool is_write =
      std::any_of(request.requests().begin(), request.requests().end(), IsWriteRequest);
  return SendWithRetries(std::move(request), is_write, /*errors_in_response=*/true);
}

absl::StatusOr<kvpb::ResponseUnion> KvClient::SendOne(kvpb::RequestUnion request, bool is_write) {
  kvpb::BatchRequest batch;
  *batch.add_requests() = std::move(request);
  absl::StatusOr<kvpb::BatchResponse> response = SendWithRetries(std::move(batch), is_write);
  if (!response.ok()) return response.status();
  return std::move(*response->mutable_responses(0));
}

absl::StatusOr<std::optional<std::string>> KvClient::Get(absl::string_view key) {
  kvpb::RequestUnion request;
  request.mutable_get()->set_key(std::string(key));
  absl::StatusOr<kvpb::ResponseUnion> response = SendOne(std::move(request), false);
  if (!response.ok()) return response.status();
  if (!response->get().found()) return std::optional<std::string>();
  return std::optional<std::string>(std::move(*response->mutable_get()->mutable_value()));
}

absl::Status KvClient::Put(absl::string_view key, absl::string_view value) {
  kvpb::RequestUnion request;
  request.mutable_put()->set_key(std::string(key));
  request.mutable_put()->set_value(std::string(value));
  return SendOne(std::move(request), true).status();
}

absl::Status KvClient::ConditionalPut(absl::string_view key, absl::string_view value,
                                      const std::optional<std::string>& expected) {
  kvpb::RequestUnion request;
  kvpb::ConditionalPutRequest* cput = request.mutable_conditional_put();
  cput->set_key(std::string(key));
  cput->set_value(std::string(value));
  cput->set_has_expected(expected.has_value());
  if (expected.has_value()) cput->set_expected(*expected);
  return SendOne(std::move(request), true).status();
}

absl::Status KvClient::Delete(absl::string_view key) {
  kvpb::RequestUnion request;
  request.mutable_delete_()->set_key(std::string(key));
  return SendOne(std::move(request), true).status();
}

absl::StatusOr<int64_t> KvClient::Increment(absl::string_view key, int64_t delta) {
  kvpb::RequestUnion request;
  request.mutable_increment()->set_key(std::string(key));
  request.mutable_increment()->set_delta(delta);
  absl::StatusOr<kvpb::ResponseUnion> response = SendOne(std::move(request), true);
  if (!response.ok()) return response.status();
  return response->increment().new_value();
}

absl::StatusOr<std::vector<KeyValue>> KvClient::Scan(absl::string_view start, absl::string_view end,
                                                     int64_t limit) {
  std::vector<KeyValue> rows;
  absl::Status s = ScanEach(start, end, limit, [&rows](KeyValue row) {
    rows.push_back(std::move(row));
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return rows;
}

absl::Status KvClient::ScanEach(absl::string_view start, absl::string_view end, int64_t limit,
                                const std::function<absl::Status(KeyValue)>& fn) {
  if (limit < 0) return absl::InvalidArgumentError("scan limit must be >= 0");
  int64_t seen = 0;
  std::string cursor(start);
  // Terminates: every page must move the cursor strictly forward (checked below).
  for (;;) {
    int64_t want = kScanPageRows;
    if (limit > 0) want = std::min<int64_t>(want, limit - seen);
    kvpb::RequestUnion request;
    request.mutable_scan()->set_start_key(cursor);
    request.mutable_scan()->set_end_key(std::string(end));
    request.mutable_scan()->set_max_keys(want);
    absl::StatusOr<kvpb::ResponseUnion> response = SendOne(std::move(request), false);
    if (!response.ok()) return response.status();
    kvpb::ScanResponse* page = response->mutable_scan();
    for (kvpb::KeyValue& row : *page->mutable_rows()) {
      if (limit > 0 && seen >= limit) break;
      ++seen;
      absl::Status s = fn(KeyValue{std::move(*row.mutable_key()), std::move(*row.mutable_value())});
      if (!s.ok()) return s;
    }
    if (!page->has_resume() || (limit > 0 && seen >= limit)) return absl::OkStatus();
    if (page->resume_key() <= cursor) {
      return absl::InternalError(absl::StrCat("scan made no progress: resume key \"",
                                              absl::CEscape(page->resume_key()),
                                              "\" is not after \"", absl::CEscape(cursor), "\""));
    }
    cursor = std::move(*page->mutable_resume_key());
  }
}

}  // namespace rangedb::client
