#include "ranges/evaluate.h"

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "storage/lock_table.h"
#include "storage/mvcc.h"
#include "storage/mvcc_errors.h"

namespace rangedb::ranges {

bool IsWrite(const kvpb::RequestUnion& r) {
  switch (r.value_case()) {
    case kvpb::RequestUnion::kPut:
    case kvpb::RequestUnion::kConditionalPut:
    case kvpb::RequestUnion::kDelete:
    case kvpb::RequestUnion::kIncrement:
      return true;
    default:
      return false;
  }
}

RequestSpan SpanOf(const kvpb::RequestUnion& r) {
  switch (r.value_case()) {
    case kvpb::RequestUnion::kGet:
      return {r.get().key(), ""};
    case kvpb::RequestUnion::kPut:
      return {r.put().key(), ""};
    case kvpb::RequestUnion::kConditionalPut:
      return {r.conditional_put().key(), ""};
    case kvpb::RequestUnion::kDelete:
      return {r.delete_().key(), ""};
    case kvpb::RequestUnion::kIncrement:
      return {r.increment().key(), ""};
    case kvpb::RequestUnion::kScan:
      return {r.scan().start_key(), r.scan().end_key()};
    case kvpb::RequestUnion::VALUE_NOT_SET:
      break;
  }
  return {};
}

absl::Status ValidateBatch(const kvpb::BatchRequest& batch) {
  if (batch.requests().empty()) return absl::InvalidArgumentError("empty batch");
  if (static_cast<size_t>(batch.requests_size()) > kMaxBatchRequests) {
    return absl::InvalidArgumentError(absl::StrCat(
        "batch of ", batch.requests_size(), " requests exceeds the limit of ", kMaxBatchRequests));
  }
  int writes = 0;
  for (int i = 0; i < batch.requests_size(); ++i) {
    const kvpb::RequestUnion& r = batch.requests(i);
    if (r.value_case() == kvpb::RequestUnion::VALUE_NOT_SET) {
      return absl::InvalidArgumentError(absl::StrCat("request ", i, " has no operation"));
    }
    RequestSpan span = SpanOf(r);
    if (span.start.empty() && r.value_case() != kvpb::RequestUnion::kScan) {
      return absl::InvalidArgumentError(absl::StrCat("request ", i, ": empty key"));
    }
    if (r.value_case() == kvpb::RequestUnion::kScan && span.start >= span.end) {
      return absl::InvalidArgumentError(
          absl::StrCat("request ", i, ": scan start key must be before its end key"));
    }
    if (!span.start.empty() && span.start[0] < '\x02') {
      return absl::InvalidArgumentError(
          absl::StrCat("request ", i, ": keys below \\x02 are internal and cannot be addressed"));
    }
    if (IsWrite(r)) ++writes;
  }
  if (writes > 1 || (writes == 1 && batch.requests_size() > 1)) {
    return absl::InvalidArgumentError("a batch holds either reads or exactly one write");
  }
  return absl::OkStatus();
}

namespace {

void SetTimestamp(Timestamp ts, proto::Timestamp* out) { TimestampToProto(ts, out); }

}  // namespace

absl::Status EvaluateRead(Reader& reader, const kvpb::RequestUnion& r, Timestamp ts,
                          kvpb::ResponseUnion* response) {
  if (r.has_get()) {
    absl::StatusOr<MVCCGetResult> got = MVCCGet(reader, r.get().key(), ts);
    if (!got.ok()) return got.status();
    kvpb::GetResponse* out = response->mutable_get();
    out->set_found(got->found);
    if (got->found) {
      out->set_value(std::move(got->value));
      SetTimestamp(got->timestamp, out->mutable_timestamp());
    }
    return absl::OkStatus();
  }
  if (r.has_scan()) {
    MVCCScanOptions options;
    int64_t max_keys = r.scan().max_keys();
    if (max_keys <= 0) max_keys = kDefaultScanRows;
    options.max_keys = std::min(max_keys, kMaxScanRows);
    absl::StatusOr<MVCCScanResult> scanned =
        MVCCScan(reader, r.scan().start_key(), r.scan().end_key(), ts, options);
    if (!scanned.ok()) return scanned.status();
    kvpb::ScanResponse* out = response->mutable_scan();
    for (MVCCKeyValue& kv : scanned->rows) {
      kvpb::KeyValue* row = out->add_rows();
      row->set_key(std::move(kv.key));
      row->set_value(std::move(kv.value));
      SetTimestamp(kv.timestamp, row->mutable_timestamp());
    }
    if (scanned->resume_span.has_value()) {
      out->set_has_resume(true);
      out->set_resume_key(scanned->resume_span->start);
    }
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError("not a read request");
}

absl::Status EvaluateWrite(WriteBatch& batch, const kvpb::RequestUnion& r, Timestamp ts,
                           kvpb::ResponseUnion* response) {
  switch (r.value_case()) {
    case kvpb::RequestUnion::kPut: {
      absl::StatusOr<MVCCWriteResult> w = MVCCPut(batch, r.put().key(), ts, r.put().value());
      if (!w.ok()) return w.status();
      SetTimestamp(w->timestamp, response->mutable_put()->mutable_timestamp());
      return absl::OkStatus();
    }
    case kvpb::RequestUnion::kConditionalPut: {
      const kvpb::ConditionalPutRequest& c = r.conditional_put();
      std::optional<std::string> expected;
      if (c.has_expected()) expected = c.expected();
      absl::StatusOr<MVCCWriteResult> w =
          MVCCConditionalPut(batch, c.key(), ts, c.value(), expected, /*allow_if_missing=*/false);
      if (!w.ok()) return w.status();
      SetTimestamp(w->timestamp, response->mutable_conditional_put()->mutable_timestamp());
      return absl::OkStatus();
    }
    case kvpb::RequestUnion::kDelete: {
      absl::StatusOr<MVCCWriteResult> w = MVCCDelete(batch, r.delete_().key(), ts);
      if (!w.ok()) return w.status();
      SetTimestamp(w->timestamp, response->mutable_delete_()->mutable_timestamp());
      return absl::OkStatus();
    }
    case kvpb::RequestUnion::kIncrement: {
      absl::StatusOr<int64_t> v =
          MVCCIncrement(batch, r.increment().key(), ts, r.increment().delta());
      if (!v.ok()) return v.status();
      response->mutable_increment()->set_new_value(*v);
      return absl::OkStatus();
    }
    default:
      return absl::InvalidArgumentError("not a write request");
  }
}

kvpb::Error ToError(const absl::Status& status, int32_t request_index) {
  kvpb::Error error;
  error.set_code(static_cast<int32_t>(status.code()));
  error.set_message(std::string(status.message()));
  error.set_request_index(request_index);
  if (IsConditionFailed(status)) {
    std::optional<proto::MVCCErrorDetail> detail = MVCCErrorDetailOf(status);
    kvpb::ConditionFailedError* cf = error.mutable_condition_failed();
    if (detail.has_value() && detail->has_actual_value()) {
      cf->set_has_actual(true);
      cf->set_actual(detail->actual_value());
    }
  }
  return error;
}

absl::Status FromError(const kvpb::Error& error) {
  if (error.code() == 0) return absl::UnknownError(error.message());
  return absl::Status(static_cast<absl::StatusCode>(error.code()), error.message());
}

}  // namespace rangedb::ranges
