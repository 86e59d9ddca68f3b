// FakeSender: a txn::Sender for unit tests of the coordinator (txn_test.cc,
// heartbeater_test.cc). It records every batch and answers each with a handler the
// test sets — by default Ok(batch), a gateway's successful answer.
//
// Thread safety: safe for concurrent use (heartbeats arrive from the Heartbeater's
// threads); the handler is called without the lock held.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "proto/kv.pb.h"
#include "txn/sender.h"

namespace rangedb::txn {

class FakeSender final : public Sender {
 public:
  using Handler = std::function<absl::StatusOr<kvpb::BatchResponse>(const kvpb::BatchRequest&)>;

  // The timestamps a transaction's first batch is stamped with (wall ns).
  static constexpr int64_t kStartWallNs = 1000;
  static constexpr int64_t kMaxOffsetNs = 500;

  void SetHandler(Handler handler) {
    absl::MutexLock lock(&mu_);
    handler_ = std::move(handler);
  }

  absl::StatusOr<kvpb::BatchResponse> Send(kvpb::BatchRequest batch) override {
    Handler handler;
    {
      absl::MutexLock lock(&mu_);
      if (batch.requests_size() == 1 && batch.requests(0).has_heartbeat_txn()) {
        ++heartbeats_[batch.header().txn().id()];
      }
      requests_.push_back(batch);
      handler = handler_;
    }
    return handler ? handler(batch) : absl::StatusOr<kvpb::BatchResponse>(Ok(batch));
  }

  std::vector<kvpb::BatchRequest> requests() {
    absl::MutexLock lock(&mu_);
    return requests_;
  }
  // The batches sent, except heartbeats.
  std::vector<kvpb::BatchRequest> non_heartbeats() {
    absl::MutexLock lock(&mu_);
    std::vector<kvpb::BatchRequest> out;
    for (const kvpb::BatchRequest& b : requests_) {
      if (!(b.requests_size() == 1 && b.requests(0).has_heartbeat_txn())) out.push_back(b);
    }
    return out;
  }
  // Heartbeats sent for the transaction with this id.
  int heartbeats(const std::string& txn_id) {
    absl::MutexLock lock(&mu_);
    auto it = heartbeats_.find(txn_id);
    return it == heartbeats_.end() ? 0 : it->second;
  }
  // Transactions that got at least one heartbeat.
  size_t transactions_heartbeated() {
    absl::MutexLock lock(&mu_);
    return heartbeats_.size();
  }

  // The transaction a response carries: the batch's, stamped if it had no
  // timestamps yet (as a gateway stamps a transaction's first batch).
  static kvpb::Transaction Stamped(const kvpb::BatchRequest& batch) {
    kvpb::Transaction t = batch.header().txn();
    if (!t.has_read_timestamp()) {
      t.mutable_read_timestamp()->set_wall_time_ns(kStartWallNs);
      t.mutable_write_timestamp()->set_wall_time_ns(kStartWallNs);
      t.mutable_start_timestamp()->set_wall_time_ns(kStartWallNs);
      t.mutable_uncertainty_limit()->set_wall_time_ns(kStartWallNs + kMaxOffsetNs);
    }
    return t;
  }

  // A gateway's successful answer: one response of each request's kind (Gets find
  // nothing, Scans no rows, DeleteRanges delete nothing, heartbeats find the record
  // PENDING, an EndTxn commits at the write timestamp), with the transaction.
  static kvpb::BatchResponse Ok(const kvpb::BatchRequest& batch) {
    kvpb::BatchResponse resp;
    if (batch.header().has_txn()) *resp.mutable_txn() = Stamped(batch);
    for (const kvpb::RequestUnion& r : batch.requests()) {
      kvpb::ResponseUnion* out = resp.add_responses();
      switch (r.value_case()) {
        case kvpb::RequestUnion::kGet:
          out->mutable_get();
          break;
        case kvpb::RequestUnion::kScan:
          out->mutable_scan();
          break;
        case kvpb::RequestUnion::kPut:
          out->mutable_put();
          break;
        case kvpb::RequestUnion::kDelete:
          out->mutable_delete_();
          break;
        case kvpb::RequestUnion::kConditionalPut:
          out->mutable_conditional_put();
          break;
        case kvpb::RequestUnion::kDeleteRange:
          out->mutable_delete_range();
          break;
        case kvpb::RequestUnion::kRefresh:
          out->mutable_refresh();
          break;
        case kvpb::RequestUnion::kHeartbeatTxn: {
          kvpb::Transaction* record = out->mutable_heartbeat_txn()->mutable_record();
          *record = resp.txn();
          record->set_status(kvpb::PENDING);
          break;
        }
        case kvpb::RequestUnion::kEndTxn:
          *out->mutable_end_txn()->mutable_commit_timestamp() = resp.txn().write_timestamp();
          break;
        default:
          break;
      }
    }
    return resp;
  }

  // A server's definite error in answer to batch (with its transaction).
  static kvpb::BatchResponse Error(const kvpb::BatchRequest& batch, kvpb::Error error) {
    kvpb::BatchResponse resp;
    if (batch.header().has_txn()) *resp.mutable_txn() = Stamped(batch);
    *resp.mutable_error() = std::move(error);
    return resp;
  }
  static kvpb::Error RetryError(kvpb::TransactionRetryError::Reason reason) {
    kvpb::Error e;
    e.set_code(10);  // ABORTED
    e.set_message("testing: retry");
    e.mutable_retry()->set_reason(reason);
    return e;
  }

 private:
  absl::Mutex mu_;
  Handler handler_ ABSL_GUARDED_BY(mu_);
  std::vector<kvpb::BatchRequest> requests_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> heartbeats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rangedb::txn
