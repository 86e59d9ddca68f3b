#include "bench/etcd_target.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <thread>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/backoff.h"
#include "bench/etcd_kv.grpc.pb.h"

namespace rangedb {
namespace {

class EtcdTarget final : public KvTarget {
 public:
  explicit EtcdTarget(EtcdTargetOptions options) : options_(std::move(options)) {
    absl::BitGen gen;
    preferred_ = absl::Uniform<size_t>(gen, 0, options_.endpoints.size());
    for (const std::string& endpoint : options_.endpoints) {
      grpc::ChannelArguments args;
      // Own connections per worker, as separate etcd clients would have.
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
      stubs_.push_back(etcdserverpb::KV::NewStub(
          grpc::CreateCustomChannel(endpoint, grpc::InsecureChannelCredentials(), args)));
    }
  }

  absl::Status Put(absl::string_view key, absl::string_view value) override {
    etcdserverpb::PutRequest request;
    request.set_key(std::string(key));
    request.set_value(std::string(value));
    etcdserverpb::PutResponse response;
    return Call([&](etcdserverpb::KV::Stub& stub, grpc::ClientContext* context) {
      return stub.Put(context, request, &response);
    });
  }

  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) override {
    etcdserverpb::RangeRequest request;
    request.set_key(std::string(key));
    etcdserverpb::RangeResponse response;
    absl::Status status = Call([&](etcdserverpb::KV::Stub& stub, grpc::ClientContext* context) {
      return stub.Range(context, request, &response);
    });
    if (!status.ok()) return status;
    if (response.kvs_size() == 0) return std::optional<std::string>();
    return std::optional<std::string>(std::move(*response.mutable_kvs(0)->mutable_value()));
  }

 private:
  // Runs rpc against endpoints until one answers, an error is not retryable, or
  // the operation's timeout passes.
  template <typename Rpc>
  absl::Status Call(const Rpc& rpc) {
    const absl::Time deadline = absl::Now() + options_.timeout;
    Backoff backoff;
    grpc::Status last(grpc::StatusCode::DEADLINE_EXCEEDED, "no attempt within the timeout");
    // Bounded by the deadline: every attempt and sleep ends by it.
    while (absl::Now() < deadline) {
      for (size_t i = 0; i < stubs_.size() && absl::Now() < deadline; ++i) {
        grpc::ClientContext context;
        context.set_deadline(
            absl::ToChronoTime(std::min(deadline, absl::Now() + options_.attempt_timeout)));
        last = rpc(*stubs_[preferred_], &context);
        if (last.ok()) return absl::OkStatus();
        if (!IsRetryable(last)) return ToStatus(last);
        preferred_ = (preferred_ + 1) % stubs_.size();
      }
      const absl::Duration remaining = deadline - absl::Now();
      if (remaining <= absl::ZeroDuration()) break;
      std::this_thread::sleep_for(std::min(absl::ToChronoMilliseconds(remaining), backoff.Next()));
    }
    return ToStatus(last);
  }

  static bool IsRetryable(const grpc::Status& status) {
    return status.error_code() == grpc::StatusCode::UNAVAILABLE ||
           status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
  }
  static absl::Status ToStatus(const grpc::Status& status) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        absl::StrCat("etcd: ", status.error_message()));
  }

  const EtcdTargetOptions options_;
  std::vector<std::unique_ptr<etcdserverpb::KV::Stub>> stubs_;  // one per endpoint
  size_t preferred_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<KvTarget>> NewEtcdTarget(EtcdTargetOptions options) {
  if (options.endpoints.empty()) return absl::InvalidArgumentError("no etcd endpoints given");
  for (std::string& endpoint : options.endpoints) {
    if (absl::StartsWith(endpoint, "http://")) endpoint.erase(0, 7);
    if (!absl::StrContains(endpoint, ':')) {
      return absl::InvalidArgumentError(
          absl::StrCat("etcd endpoint \"", endpoint, "\" is not host:port"));
    }
  }
  return std::unique_ptr<KvTarget>(new EtcdTarget(std::move(options)));
}

}  // namespace rangedb
