// Gateway: transactional writes and the commit, span requests, reverse scans.
//
// A transaction's write batch (writes, optionally ending with EndTxn) is grouped by
// range. Without EndTxn every group is sent in parallel. With EndTxn the groups
// outside the anchor's range go first, in parallel; only when all of them hold
// their intents does the anchor's group go, with EndTxn last in the same batch, so
// the commit point (the record flipping to COMMITTED, or the 1PC write) comes after
// every intent is durable. When all writes fall in the anchor's range that is one
// batch and one Raft command.
#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "ranges/evaluate.h"
#include "ranges/gateway.h"
#include "ranges/gateway_util.h"
#include "ranges/txn_errors.h"
#include "storage/keys.h"
#include "storage/lock_table.h"

namespace rangedb::ranges {
namespace {

using gateway_util::ErrorResponse;

// One range's share of a batch.
struct Part {
  kvpb::RangeDescriptor desc;
  std::vector<int> indices;  // the original request of each of requests
  std::vector<kvpb::RequestUnion> requests;
};

// The stamps of a transaction: the timestamps the gateway that receives its first
// request sets once (Gateway::Send). Every later request carries them unchanged.
bool SameStamps(const kvpb::Transaction& a, const kvpb::Transaction& b) {
  return TimestampFromProto(a.start_timestamp()) == TimestampFromProto(b.start_timestamp()) &&
         TimestampFromProto(a.read_timestamp()) == TimestampFromProto(b.read_timestamp()) &&
         TimestampFromProto(a.uncertainty_limit()) == TimestampFromProto(b.uncertainty_limit());
}

void CopyStamps(const kvpb::Transaction& from, kvpb::Transaction* to) {
  *to->mutable_start_timestamp() = from.start_timestamp();
  *to->mutable_read_timestamp() = from.read_timestamp();
  *to->mutable_uncertainty_limit() = from.uncertainty_limit();
  *to->mutable_write_timestamp() = from.write_timestamp();
}

// Which stamps the parts of one batch were evaluated with. A part the leaseholder
// answers from the idempotency record of an earlier attempt carries that attempt's
// stamps. For a transaction's first request they can differ from this attempt's: a
// client that heard nothing back retries the unstamped request through another
// gateway, which stamps it again. The transaction must then go on with the stamps
// its intents carry — pushers judge a recordless transaction by the start in its
// intent (DecidePush), and a coordinator holding a later start could create its
// record where the pushers, seeing an earlier start, already removed its intent as
// aborted. If some parts carry one set and some another, no choice is safe.
class StampCheck {
 public:
  explicit StampCheck(const kvpb::Transaction& sent) : sent_(sent) {}
  void Note(const kvpb::BatchResponse& r) {
    if (r.has_error() || !r.has_txn()) return;  // evaluated with the stamps sent
    if (SameStamps(r.txn(), sent_)) {
      fresh_ = true;
    } else if (!earlier_.has_value()) {
      earlier_ = r.txn();
    } else if (!SameStamps(r.txn(), *earlier_)) {
      mixed_ = true;
      if (TimestampFromProto(r.txn().start_timestamp()) <
          TimestampFromProto(earlier_->start_timestamp())) {
        earlier_ = r.txn();  // keeps the earliest start seen (Earliest)
      }
    }
  }
  bool consistent() const { return !mixed_ && !(fresh_ && earlier_.has_value()); }
  // The stamps (and the write timestamp they started from) the transaction goes on
  // with. REQUIRES: consistent().
  const kvpb::Transaction& stamps() const { return earlier_.has_value() ? *earlier_ : sent_; }
  // Of the stamps seen, those with the earliest start: no intent of the transaction
  // carries an earlier one, so a coordinator holding them is never judged younger
  // than a pusher judges it.
  const kvpb::Transaction& Earliest() const {
    if (!earlier_.has_value()) return sent_;
    return TimestampFromProto(earlier_->start_timestamp()) <
                   TimestampFromProto(sent_.start_timestamp())
               ? *earlier_
               : sent_;
  }

 private:
  const kvpb::Transaction& sent_;
  std::optional<kvpb::Transaction> earlier_;
  bool fresh_ = false;
  bool mixed_ = false;
};

// A retryable "aborted": this attempt committed nothing (no EndTxn went out on mixed
// stamps), so the client may run the transaction again — unless it retried after an
// attempt that may have applied (which may have gone on to commit), in which case the
// client reports the outcome as ambiguous instead (KvClient marks every failure after
// such an attempt). Carries the earliest stamps seen, so the rollback that follows is
// judged no younger than any of the transaction's intents.
kvpb::BatchResponse StampsDisagree(const StampCheck& stamps, const kvpb::Transaction& txn) {
  kvpb::BatchResponse resp = ErrorResponse(TxnAbortedError(
      "the parts of this transaction's first request answered with the timestamps of "
      "different attempts (a retry through another gateway met an earlier attempt that "
      "applied in part): run the transaction again"));
  *resp.mutable_txn() = txn;
  CopyStamps(stamps.Earliest(), resp.mutable_txn());
  return resp;
}

void MergeResponse(kvpb::ResponseUnion&& from, kvpb::ResponseUnion* into) {
  if (from.has_delete_range() && into->has_delete_range()) {
    for (std::string& k : *from.mutable_delete_range()->mutable_deleted_keys()) {
      into->mutable_delete_range()->add_deleted_keys(std::move(k));
    }
    // (A DeleteRange goes to one range per request, so this merges nothing today;
    // should pieces come back, the sender must go on from the first that stopped.)
    const std::string& resume = from.delete_range().resume_key();
    const std::string& have = into->delete_range().resume_key();
    if (!resume.empty() && (have.empty() || resume < have)) {
      into->mutable_delete_range()->set_resume_key(resume);
    }
    return;
  }
  if (from.has_resolve_intent() && into->has_resolve_intent()) {
    into->mutable_resolve_intent()->set_resolved(into->resolve_intent().resolved() +
                                                 from.resolve_intent().resolved());
    // Pieces come in key order: the first one stopped early says where to resume.
    if (into->resolve_intent().resume_key().empty()) {
      into->mutable_resolve_intent()->set_resume_key(from.resolve_intent().resume_key());
    }
    return;
  }
  *into = std::move(from);
}

}  // namespace

kvpb::BatchResponse Gateway::SendTxnWrites(const kvpb::BatchRequest& request, absl::Time deadline) {
  const kvpb::Transaction& txn = request.header().txn();
  const int n = request.requests_size();
  const bool has_end = request.requests(n - 1).has_end_txn();
  std::map<std::string, Part> parts;  // by range start key
  std::string delete_range_rest;      // where a DeleteRange's span goes on past its range
  auto add = [&](const kvpb::RangeDescriptor& desc, int index, kvpb::RequestUnion r) {
    Part& p = parts[desc.start_key()];
    p.desc = desc;
    p.indices.push_back(index);
    p.requests.push_back(std::move(r));
  };
  for (int i = 0; i < n - (has_end ? 1 : 0); ++i) {
    const kvpb::RequestUnion& r = request.requests(i);
    if (!r.has_delete_range()) {
      absl::StatusOr<kvpb::RangeDescriptor> desc = LookupRange(SpanOf(r).start, deadline);
      if (!desc.ok()) return ErrorResponse(desc.status(), i);
      add(*desc, i, r);
      continue;
    }
    // A DeleteRange (alone in its batch, ClassifyBatch) goes to the first range of
    // its span only; if the span goes on, the answer resumes at that range's end. One
    // range's piece is bounded (docs/limits.md), so the response and the work of one
    // request are too, and no piece is ever sent twice.
    absl::StatusOr<kvpb::RangeDescriptor> desc =
        LookupRange(r.delete_range().start_key(), deadline);
    if (!desc.ok()) return ErrorResponse(desc.status(), i);
    kvpb::RequestUnion piece = r;
    if (desc->end_key() < r.delete_range().end_key()) {
      piece.mutable_delete_range()->set_end_key(desc->end_key());
      delete_range_rest = desc->end_key();
    }
    add(*desc, i, std::move(piece));
  }
  std::string anchor_start;
  if (has_end) {
    absl::StatusOr<kvpb::RangeDescriptor> anchor = LookupRange(txn.anchor_key(), deadline);
    if (!anchor.ok()) return ErrorResponse(anchor.status(), n - 1);
    anchor_start = anchor->start_key();
    add(*anchor, n - 1, request.requests(n - 1));
  }
  const kvpb::IdempotencyKey& client_key = request.header().idempotency_key();
  // Sends one part with the transaction as it stands; fills *resp.
  auto send_part = [&](Part& part, uint64_t number, const kvpb::Transaction& t) {
    kvpb::BatchRequest batch;
    *batch.mutable_header()->mutable_txn() = t;
    absl::Time part_deadline = deadline;
    if (!client_key.client_id().empty()) {
      *batch.mutable_header()->mutable_idempotency_key() =
          gateway_util::PartKey(client_key, number);
    } else {
      // The gateway's own key: retried within a window it states (SendWrite).
      part_deadline = std::min(deadline, options_.time->Now() + kMaxGatewayRetryWindow);
      kvpb::IdempotencyKey* key = batch.mutable_header()->mutable_idempotency_key();
      key->set_client_id(client_id_);
      key->set_sequence(next_sequence_.fetch_add(1, std::memory_order_relaxed));
      key->set_retry_window_ms(static_cast<uint64_t>(
          absl::ToInt64Milliseconds(part_deadline - options_.time->Now()) + 1));
    }
    for (const kvpb::RequestUnion& r : part.requests) *batch.add_requests() = r;
    RetryState state(/*is_write=*/true);
    return SendRouted(
        SpanOf(part.requests.front()).start,
        [&batch](const kvpb::RangeDescriptor&) { return batch; }, part_deadline, &state, nullptr);
  };
  std::vector<Part*> first;  // everything but the anchor's part when committing
  for (auto& [start, part] : parts) {
    if (!has_end || start != anchor_start) first.push_back(&part);
  }
  std::vector<kvpb::BatchResponse> first_responses(first.size());
  gateway_util::RunParallel(
      first.size(), [&](size_t i) { first_responses[i] = send_part(*first[i], i + 1, txn); });
  StampCheck stamps(txn);
  for (const kvpb::BatchResponse& r : first_responses) stamps.Note(r);
  if (!stamps.consistent()) return StampsDisagree(stamps, txn);  // before the EndTxn goes out
  kvpb::Transaction stamped = txn;  // the stamps the transaction goes on with
  CopyStamps(stamps.stamps(), &stamped);
  kvpb::BatchResponse resp;
  std::vector<kvpb::ResponseUnion> responses(n);
  std::vector<bool> filled(n, false);
  Timestamp write_ts = TimestampFromProto(stamped.write_timestamp());
  auto absorb = [&](Part& part, kvpb::BatchResponse& r) -> bool {
    if (r.has_txn()) write_ts = std::max(write_ts, TimestampFromProto(r.txn().write_timestamp()));
    if (r.has_error()) {
      kvpb::Error error = r.error();
      const int32_t local = error.request_index();
      error.set_request_index(local >= 0 && static_cast<size_t>(local) < part.indices.size()
                                  ? part.indices[local]
                                  : -1);
      *resp.mutable_error() = std::move(error);
      return false;
    }
    for (size_t j = 0; j < part.indices.size() && j < static_cast<size_t>(r.responses_size());
         ++j) {
      const int i = part.indices[j];
      if (filled[i]) {
        MergeResponse(std::move(*r.mutable_responses(j)), &responses[i]);
      } else {
        responses[i] = std::move(*r.mutable_responses(j));
        filled[i] = true;
      }
    }
    return true;
  };
  bool ok = true;
  for (size_t i = 0; i < first.size(); ++i) ok = absorb(*first[i], first_responses[i]) && ok;
  std::optional<kvpb::TransactionStatus> status;
  if (ok && has_end) {
    kvpb::Transaction t = stamped;
    TimestampToProto(write_ts, t.mutable_write_timestamp());
    kvpb::BatchResponse last = send_part(parts[anchor_start], 0, t);
    if (first.empty() && !last.has_error() && last.has_txn() && !SameStamps(last.txn(), t)) {
      // The whole batch was one part, answered from an earlier attempt: its stamps.
      CopyStamps(last.txn(), &stamped);
      write_ts = TimestampFromProto(stamped.write_timestamp());
    } else if (!last.has_error() && last.has_txn() && !SameStamps(last.txn(), t)) {
      // The EndTxn answered from an attempt with other stamps than its intents'.
      stamps.Note(last);
      return StampsDisagree(stamps, txn);
    }
    if (last.has_txn()) status = last.txn().status();
    ok = absorb(parts[anchor_start], last);
  }
  *resp.mutable_txn() = stamped;
  if (status.has_value()) resp.mutable_txn()->set_status(*status);
  TimestampToProto(write_ts, resp.mutable_txn()->mutable_write_timestamp());
  if (!ok) return resp;
  if (!delete_range_rest.empty() && responses[0].has_delete_range() &&
      responses[0].delete_range().resume_key().empty()) {
    responses[0].mutable_delete_range()->set_resume_key(delete_range_rest);
  }
  for (kvpb::ResponseUnion& r : responses) *resp.add_responses() = std::move(r);
  return resp;
}

kvpb::BatchResponse Gateway::SendSpanRequests(const kvpb::BatchRequest& request,
                                              absl::Time deadline) {
  kvpb::BatchResponse resp;
  const bool write = request.requests(0).has_resolve_intent();
  for (int i = 0; i < request.requests_size(); ++i) {
    const kvpb::RequestUnion& r = request.requests(i);
    const RequestSpan span = SpanOf(r);
    kvpb::ResponseUnion merged;
    bool first = true;
    std::string from = span.start;
    // One pass per range of the span (one pass for a single key).
    for (;;) {
      kvpb::RangeDescriptor desc;
      auto build = [&](const kvpb::RangeDescriptor& d) {
        kvpb::BatchRequest part;
        gateway_util::CopyTxn(request, &part);
        kvpb::RequestUnion* piece = part.add_requests();
        *piece = r;
        if (!span.end.empty()) {
          const std::string end = std::min(span.end, d.end_key());
          if (piece->has_resolve_intent()) {
            piece->mutable_resolve_intent()->set_key(from);
            piece->mutable_resolve_intent()->set_end_key(end);
          } else {
            piece->mutable_refresh()->set_key(from);
            piece->mutable_refresh()->set_end_key(end);
          }
        }
        return part;
      };
      RetryState state(write);
      kvpb::BatchResponse part = SendRouted(from, build, deadline, &state, &desc);
      if (part.has_error()) {
        *resp.mutable_error() = part.error();
        resp.mutable_error()->set_request_index(i);
        if (part.has_txn()) *resp.mutable_txn() = part.txn();
        return resp;
      }
      if (part.responses_size() == 1) {
        if (first) {
          merged = std::move(*part.mutable_responses(0));
        } else {
          MergeResponse(std::move(*part.mutable_responses(0)), &merged);
        }
        first = false;
      }
      if (span.end.empty() || desc.end_key() >= span.end || desc.end_key() >= keys::kKeyMax) break;
      from = desc.end_key();
    }
    *resp.add_responses() = std::move(merged);
  }
  return resp;
}

kvpb::BatchResponse Gateway::SendSingle(const kvpb::BatchRequest& request, absl::Time deadline) {
  RetryState state(/*is_write=*/false);
  return SendRouted(
      SpanOf(request.requests(0)).start,
      [&request](const kvpb::RangeDescriptor&) { return request; }, deadline, &state, nullptr);
}

std::optional<kvpb::Error> Gateway::SendReverseScan(const kvpb::BatchRequest& request, int index,
                                                    absl::Time deadline, kvpb::ResponseUnion* out) {
  const kvpb::ScanRequest& scan = request.requests(index).scan();
  kvpb::ScanResponse* result = out->mutable_scan();
  // The ranges of [start, end), front to back (bounded by the number of ranges).
  std::vector<kvpb::RangeDescriptor> descs;
  for (std::string from = scan.start_key(); from < scan.end_key();) {
    absl::StatusOr<kvpb::RangeDescriptor> desc = LookupRange(from, deadline);
    if (!desc.ok()) return ToError(desc.status(), index);
    descs.push_back(*desc);
    if (desc->end_key() >= keys::kKeyMax) break;
    from = desc->end_key();
  }
  gateway_util::ScanBudget budget(scan);
  std::string to = scan.end_key();
  RetryState state(/*is_write=*/false);
  for (auto it = descs.rbegin(); it != descs.rend(); ++it) {
    const std::string from = std::max(scan.start_key(), it->start_key());
    auto build = [&](const kvpb::RangeDescriptor&) {
      kvpb::BatchRequest part;
      gateway_util::CopyTxn(request, &part);
      kvpb::ScanRequest* s = part.add_requests()->mutable_scan();
      s->set_start_key(from);
      s->set_end_key(to);
      s->set_max_keys(budget.rows_left);
      s->set_target_bytes(budget.bytes_left);
      s->set_reverse(true);
      return part;
    };
    kvpb::BatchResponse resp = SendRouted(from, build, deadline, &state, nullptr);
    bool stopped = false;  // the range stopped it (its own limit or ours)
    if (std::optional<kvpb::Error> error =
            gateway_util::AbsorbScanPage(resp, index, result, &budget, &stopped)) {
      return error;
    }
    if (stopped) return std::nullopt;
    to = from;
    if (budget.Spent() && to > scan.start_key()) {
      result->set_has_resume(true);
      result->set_resume_key(to);
      return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace rangedb::ranges
