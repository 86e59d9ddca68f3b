#include "ranges/evaluate.h"

#include <algorithm>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/kv_api.h"
#include "base/request_limits.h"
#include "ranges/evaluate_txn.h"
#include "ranges/txn_errors.h"
#include "storage/keys.h"
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
    case kvpb::RequestUnion::kDeleteRange:
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
    case kvpb::RequestUnion::kDeleteRange:
      return {r.delete_range().start_key(), r.delete_range().end_key()};
    case kvpb::RequestUnion::kEndTxn:
      return {r.end_txn().key(), ""};
    case kvpb::RequestUnion::kHeartbeatTxn:
      return {r.heartbeat_txn().key(), ""};
    case kvpb::RequestUnion::kPushTxn:
      return {r.push_txn().key(), ""};
    case kvpb::RequestUnion::kQueryTxn:
      return {r.query_txn().key(), ""};
    case kvpb::RequestUnion::kResolveIntent:
      return {r.resolve_intent().key(), r.resolve_intent().end_key()};
    case kvpb::RequestUnion::kRefresh:
      return {r.refresh().key(), r.refresh().end_key()};
    case kvpb::RequestUnion::VALUE_NOT_SET:
      break;
  }
  return {};
}

namespace {

// The kind a single request would make its batch, or nullopt for reads/writes that
// combine by the rules in ClassifyBatch.
std::optional<BatchKind> SoleKindOf(const kvpb::RequestUnion& r) {
  switch (r.value_case()) {
    case kvpb::RequestUnion::kHeartbeatTxn:
      return BatchKind::kHeartbeat;
    case kvpb::RequestUnion::kPushTxn:
      return BatchKind::kPush;
    case kvpb::RequestUnion::kQueryTxn:
      return BatchKind::kQuery;
    default:
      return std::nullopt;
  }
}

bool IsSpanRequest(const kvpb::RequestUnion& r) {
  return r.has_scan() || r.has_delete_range() ||
         (r.has_resolve_intent() && !r.resolve_intent().end_key().empty()) ||
         (r.has_refresh() && !r.refresh().end_key().empty());
}

absl::Status CheckTxnHeader(const kvpb::Transaction& txn) {
  if (txn.id().size() != 16) {
    return absl::InvalidArgumentError("transaction id must be 16 bytes");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<BatchKind> ClassifyBatch(const kvpb::BatchRequest& batch) {
  const int n = batch.requests_size();
  if (n == 0) return absl::InvalidArgumentError("empty batch");
  if (static_cast<size_t>(n) > kMaxBatchRequests) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch of ", n, " requests exceeds the limit of ", kMaxBatchRequests,
                     " (kMaxBatchRequests; docs/limits.md)"));
  }
  if (absl::Status s = limits::CheckBatchLimits(batch); !s.ok()) return s;
  const bool in_txn = batch.header().has_txn();
  if (in_txn) {
    if (absl::Status s = CheckTxnHeader(batch.header().txn()); !s.ok()) return s;
  }
  int reads = 0, writes = 0, end_txns = 0, resolves = 0, refreshes = 0;
  for (int i = 0; i < n; ++i) {
    const kvpb::RequestUnion& r = batch.requests(i);
    if (r.value_case() == kvpb::RequestUnion::VALUE_NOT_SET) {
      return absl::InvalidArgumentError(absl::StrCat("request ", i, " has no operation"));
    }
    RequestSpan span = SpanOf(r);
    if (span.start.empty() && !r.has_scan()) {
      return absl::InvalidArgumentError(absl::StrCat("request ", i, ": empty key"));
    }
    if ((r.has_scan() || r.has_delete_range()) && span.start >= span.end) {
      return absl::InvalidArgumentError(
          absl::StrCat("request ", i, ": start key must be before the end key"));
    }
    if (IsSpanRequest(r) && span.start >= span.end) {
      return absl::InvalidArgumentError(
          absl::StrCat("request ", i, ": start key must be before the end key"));
    }
    if (!keys::IsUserAddressable(span.start)) {
      return absl::InvalidArgumentError(
          absl::StrCat("request ", i, ": keys below \\x02 are internal and cannot be addressed"));
    }
    if (std::optional<BatchKind> sole = SoleKindOf(r)) {
      if (n != 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("request ", i, ": HeartbeatTxn, PushTxn and QueryTxn travel alone"));
      }
      if (*sole == BatchKind::kHeartbeat && !in_txn) {
        return absl::InvalidArgumentError("HeartbeatTxn needs the transaction in the header");
      }
      return *sole;
    }
    if (r.has_get() || r.has_scan()) ++reads;
    if (r.has_delete_range() && !in_txn) {
      return absl::InvalidArgumentError(
          absl::StrCat("request ", i, ": DeleteRange runs inside a transaction (txn::Txn)"));
    }
    if (IsWrite(r)) ++writes;
    if (r.has_resolve_intent()) ++resolves;
    if (r.has_refresh()) ++refreshes;
    if (r.has_end_txn()) {
      ++end_txns;
      if (i != n - 1) return absl::InvalidArgumentError("EndTxn must be the last request");
    }
    if (r.has_delete_range()) {
      // A DeleteRange may stop early and resume (docs/limits.md): a commit in its
      // batch could commit half of it, and a write after it would run before the
      // rest of the delete, which would then delete it.
      if (n != 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("request ", i, ": a DeleteRange travels alone in its batch"));
      }
      if (!r.delete_range().resumable()) {
        return absl::InvalidArgumentError(
            absl::StrCat("request ", i,
                         ": a DeleteRange must set resumable (and follow its resume_key): "
                         "one request deletes a bounded piece of the span (docs/kv-api.md)"));
      }
    }
  }
  if (end_txns > 0 || refreshes > 0) {
    if (!in_txn) {
      return absl::InvalidArgumentError("EndTxn and Refresh need the transaction in the header");
    }
    if (batch.header().txn().anchor_key().empty() && end_txns > 0) {
      return absl::InvalidArgumentError("EndTxn needs the transaction's anchor key");
    }
  }
  const int kinds = (reads > 0) + (writes + end_txns > 0) + (resolves > 0) + (refreshes > 0);
  if (kinds > 1) {
    return absl::InvalidArgumentError(
        "a batch holds reads, writes, intent resolutions or refreshes, not a mix");
  }
  if (reads > 0) return BatchKind::kRead;
  if (resolves > 0) return BatchKind::kResolve;
  if (refreshes > 0) return BatchKind::kRefresh;
  if (!in_txn && writes > 1) {
    return absl::InvalidArgumentError("outside a transaction a batch holds exactly one write");
  }
  if (in_txn && writes > 0 && batch.header().txn().anchor_key().empty()) {
    return absl::InvalidArgumentError("a transaction's writes need its anchor key");
  }
  return BatchKind::kWrite;
}

TxnContext TxnContextOf(const kvpb::Transaction& txn) {
  TxnContext ctx;
  ctx.meta.id = txn.id();
  ctx.meta.anchor_key = txn.anchor_key();
  ctx.meta.epoch = txn.epoch();
  ctx.meta.write_timestamp = TimestampFromProto(txn.write_timestamp());
  ctx.meta.sequence = txn.sequence();
  ctx.meta.priority = txn.priority();
  // Stored in every intent: pushers judge a recordless transaction by it.
  ctx.meta.min_timestamp = TxnMinTimestamp(txn);
  ctx.read_timestamp = TimestampFromProto(txn.read_timestamp());
  return ctx;
}

namespace {

void SetTimestamp(Timestamp ts, proto::Timestamp* out) { TimestampToProto(ts, out); }

MVCCReadOptions ReadOptionsOf(const EvalContext& ctx) {
  MVCCReadOptions options;
  options.txn = ctx.txn;
  options.uncertainty_limit = ctx.uncertainty_limit;
  options.pushed_txn_ids = ctx.pushed_txn_ids;
  return options;
}

absl::Status EvaluateScan(Reader& reader, const kvpb::ScanRequest& scan, const EvalContext& ctx,
                          ReadBudget* budget, kvpb::ScanResponse* out) {
  if (budget->remaining <= 0) {  // the batch's earlier requests took the response
    out->set_has_resume(true);
    out->set_resume_key(scan.reverse() ? scan.end_key() : scan.start_key());
    return absl::OkStatus();
  }
  MVCCScanOptions options;
  options.read = ReadOptionsOf(ctx);
  int64_t max_keys = scan.max_keys();
  if (max_keys <= 0) max_keys = kDefaultScanRows;
  options.max_keys = std::min(max_keys, kMaxScanRows);
  options.target_bytes = budget->remaining;
  if (scan.target_bytes() > 0)
    options.target_bytes = std::min(options.target_bytes, scan.target_bytes());
  options.reverse = scan.reverse();
  absl::StatusOr<MVCCScanResult> scanned =
      MVCCScan(reader, scan.start_key(), scan.end_key(), ctx.read_timestamp, options);
  if (!scanned.ok()) return scanned.status();
  budget->remaining -= scanned->num_bytes;
  for (MVCCKeyValue& kv : scanned->rows) {
    kvpb::KeyValue* row = out->add_rows();
    row->set_key(std::move(kv.key));
    row->set_value(std::move(kv.value));
    SetTimestamp(kv.timestamp, row->mutable_timestamp());
  }
  if (scanned->resume_span.has_value()) {
    out->set_has_resume(true);
    // Forward: where the rest starts. Reverse: the exclusive end of the rest.
    out->set_resume_key(scan.reverse() ? scanned->resume_span->end : scanned->resume_span->start);
  }
  return absl::OkStatus();
}

// The write options for ctx, with the transaction's write timestamp at ts.
struct WriteSetup {
  TxnContext txn;
  MVCCWriteOptions options;
};
void SetUpWrite(const EvalContext& ctx, Timestamp ts, WriteSetup* setup) {
  if (ctx.txn != nullptr) {
    setup->txn = *ctx.txn;
    setup->txn.meta.write_timestamp = ts;
    setup->options.txn = &setup->txn;
    setup->options.uncertainty_limit = ctx.uncertainty_limit;
  }
  setup->options.testing_deleterange_at_max = ctx.testing_deleterange_at_max;
  setup->options.testing_cput_reads_latest = ctx.testing_cput_reads_latest;
}

}  // namespace

namespace {

absl::Status GetAfterBudgetSpentError() {
  absl::Status status = absl::InvalidArgumentError(absl::StrCat(
      "the batch's results reached the response limit of ", limits::kResponseTargetBytes,
      " bytes before this Get (kResponseTargetBytes; docs/limits.md): read fewer keys "
      "per batch"));
  status.SetPayload(kv::kOverResponseBudgetPayloadUrl, absl::Cord("1"));
  return status;
}

}  // namespace

absl::Status FitReadsToBudget(const kvpb::BatchRequest& request,
                              std::vector<kvpb::ResponseUnion>* responses, int* failed_index) {
  ReadBudget budget;
  for (int i = 0; i < request.requests_size() && static_cast<size_t>(i) < responses->size(); ++i) {
    kvpb::ResponseUnion& response = (*responses)[i];
    if (request.requests(i).has_get()) {
      if (budget.remaining <= 0) {
        *failed_index = i;
        return GetAfterBudgetSpentError();
      }
      // Charged as EvaluateRead charges it: a found row's key and value.
      if (response.get().found()) {
        budget.remaining -= static_cast<int64_t>(request.requests(i).get().key().size() +
                                                 response.get().value().size());
      }
      continue;
    }
    if (!request.requests(i).has_scan()) continue;
    const kvpb::ScanRequest& scan = request.requests(i).scan();
    kvpb::ScanResponse* page = response.mutable_scan();
    int keep = 0;
    while (keep < page->rows_size() && budget.remaining > 0) {
      const kvpb::KeyValue& row = page->rows(keep++);
      budget.remaining -= static_cast<int64_t>(row.key().size() + row.value().size());
    }
    if (keep == page->rows_size()) continue;
    // Forward: the rest starts at the first dropped row. Reverse: the rest ends just
    // after it (resume_key is then the exclusive end).
    std::string resume = page->rows(keep).key();
    if (scan.reverse()) resume.push_back('\0');
    if (keep == 0) resume = scan.reverse() ? scan.end_key() : scan.start_key();
    page->mutable_rows()->DeleteSubrange(keep, page->rows_size() - keep);
    page->set_has_resume(true);
    page->set_resume_key(std::move(resume));
  }
  return absl::OkStatus();
}

absl::Status EvaluateRead(Reader& reader, const kvpb::RequestUnion& r, const EvalContext& ctx,
                          ReadBudget* budget, kvpb::ResponseUnion* response) {
  if (r.has_get()) {
    if (budget->remaining <= 0) return GetAfterBudgetSpentError();
    absl::StatusOr<MVCCGetResult> got =
        MVCCGet(reader, r.get().key(), ctx.read_timestamp, ReadOptionsOf(ctx));
    if (!got.ok()) return got.status();
    kvpb::GetResponse* out = response->mutable_get();
    out->set_found(got->found);
    if (got->found) {
      budget->remaining -= static_cast<int64_t>(r.get().key().size() + got->value.size());
      out->set_value(std::move(got->value));
      SetTimestamp(got->timestamp, out->mutable_timestamp());
    }
    return absl::OkStatus();
  }
  if (r.has_scan()) return EvaluateScan(reader, r.scan(), ctx, budget, response->mutable_scan());
  return absl::InvalidArgumentError("not a read request");
}

absl::Status EvaluateWrite(WriteBatch& batch, const kvpb::RequestUnion& r, const EvalContext& ctx,
                           kvpb::ResponseUnion* response, Timestamp* written) {
  const Timestamp ts = ctx.write_timestamp;
  WriteSetup setup;
  SetUpWrite(ctx, ts, &setup);
  const MVCCWriteOptions& options = setup.options;
  auto landed = [&](Timestamp at, proto::Timestamp* out) {
    if (out != nullptr) SetTimestamp(at, out);
    if (written != nullptr) *written = std::max(*written, at);
  };
  switch (r.value_case()) {
    case kvpb::RequestUnion::kPut: {
      absl::StatusOr<MVCCWriteResult> w =
          MVCCPut(batch, r.put().key(), ts, r.put().value(), options);
      if (!w.ok()) return w.status();
      landed(w->timestamp, response->mutable_put()->mutable_timestamp());
      return absl::OkStatus();
    }
    case kvpb::RequestUnion::kConditionalPut: {
      const kvpb::ConditionalPutRequest& c = r.conditional_put();
      std::optional<std::string> expected;
      if (c.has_expected()) expected = c.expected();
      absl::StatusOr<MVCCWriteResult> w = MVCCConditionalPut(
          batch, c.key(), ts, c.value(), expected, /*allow_if_missing=*/false, options);
      if (!w.ok()) return w.status();
      landed(w->timestamp, response->mutable_conditional_put()->mutable_timestamp());
      return absl::OkStatus();
    }
    case kvpb::RequestUnion::kDelete: {
      absl::StatusOr<MVCCWriteResult> w = MVCCDelete(batch, r.delete_().key(), ts, options);
      if (!w.ok()) return w.status();
      landed(w->timestamp, response->mutable_delete_()->mutable_timestamp());
      return absl::OkStatus();
    }
    case kvpb::RequestUnion::kIncrement: {
      MVCCWriteResult result;
      absl::StatusOr<int64_t> v =
          MVCCIncrement(batch, r.increment().key(), ts, r.increment().delta(), options, &result);
      if (!v.ok()) return v.status();
      landed(result.timestamp, nullptr);
      response->mutable_increment()->set_new_value(*v);
      return absl::OkStatus();
    }
    case kvpb::RequestUnion::kDeleteRange: {
      const kvpb::DeleteRangeRequest& d = r.delete_range();
      // Bounded like every span write (its tombstones and its response); the
      // coordinator sends the rest from the resume key.
      absl::StatusOr<MVCCDeleteRangeResult> w =
          MVCCDeleteRange(batch, d.start_key(), d.end_key(), ts, kMaxKeysPerSpanWrite, options,
                          static_cast<int64_t>(limits::kMaxSpanWriteBytes));
      if (!w.ok()) return w.status();
      landed(std::max(ts, w->timestamp), nullptr);
      // Set even when nothing was deleted: the response must say what it answers.
      kvpb::DeleteRangeResponse* out = response->mutable_delete_range();
      for (std::string& k : w->deleted_keys) out->add_deleted_keys(std::move(k));
      if (w->resume_span.has_value()) out->set_resume_key(w->resume_span->start);
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
  } else if (IsWriteTooOld(status)) {
    kvpb::TransactionRetryError* retry = error.mutable_retry();
    retry->set_reason(kvpb::TransactionRetryError::WRITE_TOO_OLD);
    SetTimestamp(WriteTooOldExistingTimestamp(status), retry->mutable_existing_timestamp());
  } else if (IsUncertaintyError(status)) {
    std::optional<proto::MVCCErrorDetail> detail = MVCCErrorDetailOf(status);
    kvpb::TransactionRetryError* retry = error.mutable_retry();
    retry->set_reason(kvpb::TransactionRetryError::UNCERTAINTY);
    if (detail.has_value()) {
      *retry->mutable_existing_timestamp() = detail->uncertain_existing_timestamp();
    }
  } else if (std::optional<kvpb::TransactionRetryError> retry = TxnRetryDetailOf(status)) {
    *error.mutable_retry() = *retry;
  } else if (IsTxnAborted(status)) {
    error.mutable_aborted()->set_reason(std::string(status.message()));
  }
  if (status.GetPayload(kv::kOverResponseBudgetPayloadUrl).has_value())
    error.set_over_response_budget(true);
  return error;
}

absl::Status FromError(const kvpb::Error& error) {
  if (error.code() == 0) return absl::UnknownError(error.message());
  return absl::Status(static_cast<absl::StatusCode>(error.code()), error.message());
}

}  // namespace rangedb::ranges
