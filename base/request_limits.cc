#include "base/request_limits.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "base/limits.h"

namespace rangedb::limits {
namespace {

// One key of request `index`: written keys get the key limit, keys that only bound a
// read or a span get the slack too.
absl::Status CheckKey(int index, absl::string_view role, absl::string_view key, bool written) {
  const size_t limit = written ? kMaxKeyBytes : kMaxKeyBytes + kKeySlackBytes;
  return CheckLimit(absl::StrCat("request ", index, ": ", role), key.size(), limit,
                    written ? "kMaxKeyBytes" : "kMaxKeyBytes plus 16 bytes for span bounds");
}

absl::Status CheckValue(int index, absl::string_view role, absl::string_view value) {
  return CheckLimit(absl::StrCat("request ", index, ": ", role), value.size(), kMaxValueBytes,
                    "kMaxValueBytes");
}

// The keys and values of one request.
absl::Status CheckRequest(int i, const kvpb::RequestUnion& r) {
  switch (r.value_case()) {
    case kvpb::RequestUnion::kGet:
      return CheckKey(i, "key", r.get().key(), false);
    case kvpb::RequestUnion::kPut:
      if (absl::Status s = CheckKey(i, "key", r.put().key(), true); !s.ok()) return s;
      return CheckValue(i, "value", r.put().value());
    case kvpb::RequestUnion::kConditionalPut:
      if (absl::Status s = CheckKey(i, "key", r.conditional_put().key(), true); !s.ok()) return s;
      if (absl::Status s = CheckValue(i, "value", r.conditional_put().value()); !s.ok()) return s;
      return CheckValue(i, "expected value", r.conditional_put().expected());
    case kvpb::RequestUnion::kDelete:
      return CheckKey(i, "key", r.delete_().key(), true);
    case kvpb::RequestUnion::kScan:
      if (absl::Status s = CheckKey(i, "start key", r.scan().start_key(), false); !s.ok()) return s;
      return CheckKey(i, "end key", r.scan().end_key(), false);
    case kvpb::RequestUnion::kIncrement:
      return CheckKey(i, "key", r.increment().key(), true);
    case kvpb::RequestUnion::kDeleteRange:
      if (absl::Status s = CheckKey(i, "start key", r.delete_range().start_key(), false); !s.ok()) {
        return s;
      }
      return CheckKey(i, "end key", r.delete_range().end_key(), false);
    case kvpb::RequestUnion::kEndTxn:
      return CheckKey(i, "key", r.end_txn().key(), false);
    case kvpb::RequestUnion::kHeartbeatTxn:
      return CheckKey(i, "key", r.heartbeat_txn().key(), false);
    case kvpb::RequestUnion::kPushTxn:
      return CheckKey(i, "key", r.push_txn().key(), false);
    case kvpb::RequestUnion::kQueryTxn:
      return CheckKey(i, "key", r.query_txn().key(), false);
    case kvpb::RequestUnion::kResolveIntent:
      if (absl::Status s = CheckKey(i, "key", r.resolve_intent().key(), false); !s.ok()) return s;
      return CheckKey(i, "end key", r.resolve_intent().end_key(), false);
    case kvpb::RequestUnion::kRefresh:
      if (absl::Status s = CheckKey(i, "key", r.refresh().key(), false); !s.ok()) return s;
      return CheckKey(i, "end key", r.refresh().end_key(), false);
    case kvpb::RequestUnion::VALUE_NOT_SET:
      return absl::OkStatus();  // ClassifyBatch refuses it
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckLimit(absl::string_view what, size_t size, size_t limit,
                        absl::string_view limit_name) {
  if (size <= limit) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(what, " of ", size, " bytes exceeds the limit of ",
                                                 limit, " bytes (", limit_name,
                                                 "; docs/limits.md)"));
}

size_t WriteBytesOf(const kvpb::RequestUnion& r) {
  switch (r.value_case()) {
    case kvpb::RequestUnion::kPut:
      return r.put().key().size() + r.put().value().size();
    case kvpb::RequestUnion::kConditionalPut:
      return r.conditional_put().key().size() + r.conditional_put().value().size() +
             r.conditional_put().expected().size();
    case kvpb::RequestUnion::kDelete:
      return r.delete_().key().size();
    case kvpb::RequestUnion::kIncrement:
      return r.increment().key().size();
    case kvpb::RequestUnion::kDeleteRange:
      return r.delete_range().start_key().size() + r.delete_range().end_key().size();
    default:
      return 0;
  }
}

absl::Status CheckBatchLimits(const kvpb::BatchRequest& batch) {
  // The anchor key names the transaction record and is copied into every intent's
  // lock-table entry: it is a written key.
  if (absl::Status s =
          CheckLimit("the transaction's anchor key", batch.header().txn().anchor_key().size(),
                     kMaxKeyBytes, "kMaxKeyBytes");
      !s.ok()) {
    return s;
  }
  size_t write_bytes = 0;
  for (int i = 0; i < batch.requests_size(); ++i) {
    if (absl::Status s = CheckRequest(i, batch.requests(i)); !s.ok()) return s;
    write_bytes += WriteBytesOf(batch.requests(i));
  }
  if (absl::Status s = CheckLimit("the batch's writes", write_bytes, kMaxBatchWriteBytes,
                                  "kMaxBatchWriteBytes: write fewer or smaller values per batch");
      !s.ok()) {
    return s;
  }
  return CheckLimit("the request", batch.ByteSizeLong(), kMaxRequestBytes, "kMaxRequestBytes");
}

}  // namespace rangedb::limits
