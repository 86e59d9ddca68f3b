#include "client/testing/fake_kv_server.h"

#include <algorithm>
#include <deque>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace rangedb::client {
namespace {

constexpr int64_t kDefaultPageRows = 1000;

bool IsWrite(const kvpb::RequestUnion& request) {
  return request.value_case() != kvpb::RequestUnion::kGet &&
         request.value_case() != kvpb::RequestUnion::kScan;
}

void SetError(kvpb::BatchResponse* response, absl::StatusCode code, const std::string& message,
              int index) {
  response->clear_responses();
  kvpb::Error* error = response->mutable_error();
  error->set_code(static_cast<int>(code));
  error->set_message(message);
  error->set_request_index(index);
}

std::string DedupKey(const kvpb::IdempotencyKey& key) {
  return absl::StrCat(key.client_id(), "/", key.sequence());
}

}  // namespace

class FakeKvServer::Service final : public kvpb::KV::Service {
 public:
  explicit Service(int64_t max_page_rows) : max_page_rows_(max_page_rows) {}

  grpc::Status Batch(grpc::ServerContext* context, const kvpb::BatchRequest* request,
                     kvpb::BatchResponse* response) override {
    const Fault fault = TakeFault();
    if (fault == Fault::kHang) {
      WaitForCancel(context);
      return grpc::Status(grpc::StatusCode::CANCELLED, "fake: hung call released");
    }
    if (fault == Fault::kUnavailableBeforeApply) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "fake: injected, before apply");
    }
    if (fault == Fault::kErrorBeforeApply || fault == Fault::kEvaluatedErrorBeforeApply) {
      SetError(response, absl::StatusCode::kResourceExhausted, "fake: injected, too many latches",
               -1);
      if (fault == Fault::kEvaluatedErrorBeforeApply) {
        response->mutable_error()->set_write_evaluated(true);
      }
      return grpc::Status::OK;
    }
    {
      absl::MutexLock lock(&mu_);
      ApplyLocked(*request, response);
    }
    if (fault == Fault::kUnavailableAfterApply) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "fake: injected, response lost");
    }
    if (fault == Fault::kAmbiguousAfterApply) {
      response->Clear();
      SetError(response, absl::StatusCode::kUnavailable, "fake: injected ambiguity", -1);
      response->mutable_error()->mutable_ambiguous()->set_reason("fake: injected ambiguity");
    }
    return grpc::Status::OK;
  }

  void SetFault(Fault fault, int count) {
    absl::MutexLock lock(&mu_);
    fault_ = fault;
    fault_count_ = count;
  }

  void QueueFaults(std::vector<Fault> faults) {
    absl::MutexLock lock(&mu_);
    for (Fault f : faults) queued_.push_back(f);
  }

  void Shutdown() {
    absl::MutexLock lock(&mu_);
    shutting_down_ = true;
  }

  mutable absl::Mutex mu_;
  std::map<std::string, std::string> store_ ABSL_GUARDED_BY(mu_);
  int64_t batches_received_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t writes_applied_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<kvpb::IdempotencyKey> write_keys_ ABSL_GUARDED_BY(mu_);

 private:
  Fault TakeFault() {
    absl::MutexLock lock(&mu_);
    ++batches_received_;
    if (!queued_.empty()) {
      const Fault f = queued_.front();
      queued_.pop_front();
      return f;
    }
    if (fault_count_ == 0) return Fault::kNone;
    if (fault_count_ > 0) --fault_count_;
    return fault_;
  }

  // Holds a call until its caller gives up or the server shuts down.
  void WaitForCancel(grpc::ServerContext* context) {
    absl::MutexLock lock(&mu_);
    while (!shutting_down_ && !context->IsCancelled()) {
      mu_.AwaitWithTimeout(absl::Condition(&shutting_down_), absl::Milliseconds(10));
    }
  }

  void ApplyLocked(const kvpb::BatchRequest& request, kvpb::BatchResponse* response)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    response->mutable_now()->set_wall_time_ns(absl::GetCurrentTimeNanos());
    const int writes = static_cast<int>(
        std::count_if(request.requests().begin(), request.requests().end(), IsWrite));
    const bool has_key = request.header().has_idempotency_key();
    if (writes > 0 && has_key) {
      write_keys_.push_back(request.header().idempotency_key());
      auto it = dedup_.find(DedupKey(request.header().idempotency_key()));
      if (it != dedup_.end()) {
        *response = it->second;
        return;
      }
    }
    if (request.requests_size() == 0 || (writes > 0 && request.requests_size() != 1)) {
      SetError(response, absl::StatusCode::kInvalidArgument,
               "a batch holds reads or a single write", -1);
      return;
    }
    for (int i = 0; i < request.requests_size(); ++i) {
      if (!EvaluateLocked(request.requests(i), response->add_responses(), response, i)) break;
    }
    if (writes > 0) {
      if (!response->has_error()) ++writes_applied_;
      if (has_key) dedup_[DedupKey(request.header().idempotency_key())] = *response;
    }
  }

  // Evaluates one request into out; on failure sets the batch error and returns false.
  bool EvaluateLocked(const kvpb::RequestUnion& request, kvpb::ResponseUnion* out,
                      kvpb::BatchResponse* batch, int index) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    switch (request.value_case()) {
      case kvpb::RequestUnion::kGet: {
        auto it = store_.find(request.get().key());
        out->mutable_get()->set_found(it != store_.end());
        if (it != store_.end()) out->mutable_get()->set_value(it->second);
        return true;
      }
      case kvpb::RequestUnion::kPut:
        store_[request.put().key()] = request.put().value();
        out->mutable_put();
        return true;
      case kvpb::RequestUnion::kConditionalPut: {
        const kvpb::ConditionalPutRequest& cput = request.conditional_put();
        auto it = store_.find(cput.key());
        const bool matches = cput.has_expected()
                                 ? it != store_.end() && it->second == cput.expected()
                                 : it == store_.end();
        if (!matches) {
          SetError(batch, absl::StatusCode::kFailedPrecondition, "", index);
          kvpb::ConditionFailedError* failed = batch->mutable_error()->mutable_condition_failed();
          failed->set_has_actual(it != store_.end());
          if (it != store_.end()) failed->set_actual(it->second);
          return false;
        }
        store_[cput.key()] = cput.value();
        out->mutable_conditional_put();
        return true;
      }
      case kvpb::RequestUnion::kDelete:
        store_.erase(request.delete_().key());
        out->mutable_delete_();
        return true;
      case kvpb::RequestUnion::kIncrement: {
        int64_t value = 0;
        auto it = store_.find(request.increment().key());
        if (it != store_.end() && !absl::SimpleAtoi(it->second, &value)) {
          SetError(batch, absl::StatusCode::kInvalidArgument,
                   "increment: the value is not a decimal integer", index);
          return false;
        }
        value += request.increment().delta();
        store_[request.increment().key()] = absl::StrCat(value);
        out->mutable_increment()->set_new_value(value);
        return true;
      }
      case kvpb::RequestUnion::kScan:
        ScanLocked(request.scan(), out->mutable_scan());
        return true;
      case kvpb::RequestUnion::VALUE_NOT_SET:
        break;
      default:
        // The fake serves the plain key-value API only; it has no transactions.
        SetError(batch, absl::StatusCode::kUnimplemented,
                 "the fake KV server does not implement this request", index);
        return false;
    }
    SetError(batch, absl::StatusCode::kInvalidArgument, "empty request", index);
    return false;
  }

  void ScanLocked(const kvpb::ScanRequest& scan, kvpb::ScanResponse* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    int64_t max_rows = scan.max_keys() > 0 ? scan.max_keys() : kDefaultPageRows;
    if (max_page_rows_ > 0) max_rows = std::min(max_rows, max_page_rows_);
    const bool bounded = !scan.end_key().empty();
    for (auto it = store_.lower_bound(scan.start_key());
         it != store_.end() && (!bounded || it->first < scan.end_key()); ++it) {
      if (out->rows_size() >= max_rows) {
        out->set_has_resume(true);
        out->set_resume_key(it->first);
        return;
      }
      kvpb::KeyValue* row = out->add_rows();
      row->set_key(it->first);
      row->set_value(it->second);
    }
  }

  const int64_t max_page_rows_;
  Fault fault_ ABSL_GUARDED_BY(mu_) = Fault::kNone;
  int fault_count_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<Fault> queued_ ABSL_GUARDED_BY(mu_);
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  // Recorded responses of applied writes, by idempotency key. Unbounded: a test
  // server lives for one test.
  std::map<std::string, kvpb::BatchResponse> dedup_ ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<std::unique_ptr<FakeKvServer>> FakeKvServer::Start(int64_t max_page_rows) {
  std::unique_ptr<FakeKvServer> server(new FakeKvServer());
  server->service_ = std::make_unique<Service>(max_page_rows);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &server->port_);
  builder.RegisterService(server->service_.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::InternalError("fake KV server: could not listen on 127.0.0.1");
  }
  return server;
}

FakeKvServer::~FakeKvServer() {
  if (server_ == nullptr) return;
  service_->Shutdown();
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  server_->Wait();
}

std::string FakeKvServer::address() const { return absl::StrCat("127.0.0.1:", port_); }

void FakeKvServer::SetFault(Fault fault, int count) { service_->SetFault(fault, count); }
void FakeKvServer::QueueFaults(std::vector<Fault> faults) {
  service_->QueueFaults(std::move(faults));
}

void FakeKvServer::SetValue(const std::string& key, const std::string& value) {
  absl::MutexLock lock(&service_->mu_);
  service_->store_[key] = value;
}

std::map<std::string, std::string> FakeKvServer::Snapshot() const {
  absl::MutexLock lock(&service_->mu_);
  return service_->store_;
}

int64_t FakeKvServer::batches_received() const {
  absl::MutexLock lock(&service_->mu_);
  return service_->batches_received_;
}

int64_t FakeKvServer::writes_applied() const {
  absl::MutexLock lock(&service_->mu_);
  return service_->writes_applied_;
}

std::vector<kvpb::IdempotencyKey> FakeKvServer::write_keys() const {
  absl::MutexLock lock(&service_->mu_);
  return service_->write_keys_;
}

}  // namespace rangedb::client
