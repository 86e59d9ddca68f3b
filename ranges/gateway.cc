// Gateway: routing, per-range retries, read fan-out and scans across ranges.
#include "ranges/gateway.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/backoff.h"
#include "base/check.h"
#include "base/random.h"
#include "ranges/evaluate.h"
#include "ranges/gateway_util.h"
#include "ranges/idempotency.h"
#include "storage/keys.h"
#include "storage/lock_table.h"

namespace rangedb::ranges {
namespace {

// A meta lookup reads this many descriptors: the range asked for and the next ones,
// which a scan is likely to need next.
constexpr int64_t kMetaPrefetchRows = 8;
using gateway_util::Contains;
using gateway_util::ErrorResponse;
using gateway_util::RunParallel;
using gateway_util::SleepBefore;

}  // namespace

Gateway::Gateway(GatewayOptions options)
    : options_(std::move(options)),
      cache_(options_.range_cache_max_entries),
      client_id_(RandomBytes(16)) {
  RANGEDB_CHECK(options_.clock != nullptr);
  RANGEDB_CHECK(options_.time != nullptr);
  RANGEDB_CHECK(options_.send_to_node != nullptr);
}

kvpb::BatchResponse Gateway::Send(const kvpb::BatchRequest& request, absl::Time deadline) {
  metrics_.batches.fetch_add(1, std::memory_order_relaxed);
  if (request.header().has_now()) {
    (void)options_.clock->Update(TimestampFromProto(request.header().now()));
  }
  kvpb::BatchResponse resp;
  absl::StatusOr<BatchKind> kind = ClassifyBatch(request);
  if (request.header().range_id() != 0) {
    resp = ErrorResponse(absl::InvalidArgumentError(absl::StrCat(
        "a gateway routes by key: header.range_id must be 0, not ", request.header().range_id())));
  } else if (!kind.ok()) {
    resp = ErrorResponse(kind.status());
  } else if (absl::Status s =
                 CheckIdempotencyKey(request.header().idempotency_key(), absl::InfiniteDuration());
             !s.ok()) {
    resp = ErrorResponse(s);
  } else {
    kvpb::BatchRequest batch = request;
    if (batch.header().has_txn() && !batch.header().txn().has_read_timestamp()) {
      // The transaction's first request: it starts now, by this node's clock.
      kvpb::Transaction* txn = batch.mutable_header()->mutable_txn();
      const Timestamp now = options_.clock->Now();
      TimestampToProto(now, txn->mutable_read_timestamp());
      TimestampToProto(now, txn->mutable_write_timestamp());
      TimestampToProto(now, txn->mutable_start_timestamp());
      TimestampToProto(Timestamp{now.wall_ns + options_.clock->MaxOffsetNanos(), now.logical},
                       txn->mutable_uncertainty_limit());
    }
    switch (*kind) {
      case BatchKind::kRead:
        resp = SendReads(batch, deadline);
        break;
      case BatchKind::kWrite:
        resp =
            batch.header().has_txn() ? SendTxnWrites(batch, deadline) : SendWrite(batch, deadline);
        break;
      case BatchKind::kResolve:
      case BatchKind::kRefresh:
        resp = SendSpanRequests(batch, deadline);
        break;
      case BatchKind::kHeartbeat:
      case BatchKind::kPush:
      case BatchKind::kQuery:
        resp = SendSingle(batch, deadline);
        break;
    }
    if (batch.header().has_txn() && !resp.has_txn()) *resp.mutable_txn() = batch.header().txn();
  }
  TimestampToProto(options_.clock->Now(), resp.mutable_now());
  return resp;
}

kvpb::BatchResponse Gateway::SendWrite(const kvpb::BatchRequest& request, absl::Time deadline) {
  kvpb::BatchRequest batch = request;
  if (!batch.header().idempotency_key().client_id().empty()) {
    // The client's key, in the space of its batches' parts (PartKey: part 0).
    *batch.mutable_header()->mutable_idempotency_key() =
        gateway_util::PartKey(request.header().idempotency_key(), 0);
  } else {
    // The gateway's own key: it retries within its window only, which it states so
    // the leaseholder can refuse one it cannot honour (ranges/idempotency.h).
    deadline = std::min(deadline, options_.time->Now() + kMaxGatewayRetryWindow);
    kvpb::IdempotencyKey* key = batch.mutable_header()->mutable_idempotency_key();
    key->set_client_id(client_id_);
    key->set_sequence(next_sequence_.fetch_add(1, std::memory_order_relaxed));
    key->set_retry_window_ms(
        static_cast<uint64_t>(absl::ToInt64Milliseconds(deadline - options_.time->Now()) + 1));
  }
  RetryState state(/*is_write=*/true);
  const std::string key = SpanOf(batch.requests(0)).start;
  return SendRouted(
      key, [&batch](const kvpb::RangeDescriptor&) { return batch; }, deadline, &state, nullptr);
}

kvpb::BatchResponse Gateway::SendReads(const kvpb::BatchRequest& request, absl::Time deadline) {
  // Parts: the Gets grouped by the range they are believed to be in (range 0: not
  // known yet; the part finds out), and each Scan on its own.
  std::map<uint64_t, std::vector<int>> gets_by_range;
  std::vector<int> scans;
  for (int i = 0; i < request.requests_size(); ++i) {
    if (!request.requests(i).has_get()) {
      scans.push_back(i);
      continue;
    }
    absl::StatusOr<kvpb::RangeDescriptor> desc =
        LookupRange(request.requests(i).get().key(), deadline);
    gets_by_range[desc.ok() ? desc->range_id() : 0].push_back(i);
  }
  std::vector<std::function<std::optional<kvpb::Error>()>> parts;
  std::vector<kvpb::ResponseUnion> responses(request.requests_size());
  // Parts whose leaseholder is believed to be this node are served without the
  // network: a few microseconds of CPU each, less than handing one to another thread.
  bool all_local = scans.empty();
  for (auto& [range_id, indices] : gets_by_range) {
    all_local = all_local && range_id != 0 && cache_.Leaseholder(range_id) == options_.node_id;
    parts.push_back([&, indices = std::move(indices)] {
      return SendGets(request, indices, deadline, &responses);
    });
  }
  for (int i : scans) {
    parts.push_back([&, i] { return SendScan(request, i, deadline, &responses[i]); });
  }
  std::vector<std::optional<kvpb::Error>> errors(parts.size());
  if (all_local) {
    for (size_t p = 0; p < parts.size(); ++p) errors[p] = parts[p]();
  } else {
    RunParallel(parts.size(), [&](size_t p) { errors[p] = parts[p](); });
  }

  kvpb::BatchResponse resp;
  const kvpb::Error* first = nullptr;  // the error of the lowest request index
  for (const std::optional<kvpb::Error>& e : errors) {
    if (e.has_value() && (first == nullptr || static_cast<uint32_t>(e->request_index()) <
                                                  static_cast<uint32_t>(first->request_index()))) {
      first = &*e;
    }
  }
  if (first != nullptr) {
    *resp.mutable_error() = *first;
    return resp;
  }
  // The parts ran in parallel, each within the response target; together they may
  // not be.
  int failed_index = -1;
  if (absl::Status s = FitReadsToBudget(request, &responses, &failed_index); !s.ok()) {
    *resp.mutable_error() = ToError(s, failed_index);
    return resp;
  }
  for (kvpb::ResponseUnion& r : responses) *resp.add_responses() = std::move(r);
  return resp;
}

std::optional<kvpb::Error> Gateway::SendGets(const kvpb::BatchRequest& request,
                                             std::vector<int> indices, absl::Time deadline,
                                             std::vector<kvpb::ResponseUnion>* out) {
  RetryState state(/*is_write=*/false);
  // Each pass serves the range holding the first remaining key, so the loop ends
  // after at most indices.size() passes.
  while (!indices.empty()) {
    std::vector<int> sent;
    auto build = [&](const kvpb::RangeDescriptor& desc) {
      sent.clear();
      kvpb::BatchRequest part;
      gateway_util::CopyTxn(request, &part);
      for (int i : indices) {
        if (Contains(desc, request.requests(i).get().key())) {
          *part.add_requests() = request.requests(i);
          sent.push_back(i);
        }
      }
      // LookupRange answers the range holding the first key.
      RANGEDB_CHECK(!sent.empty()) << "range " << desc.range_id() << " does not hold the first key "
                                   << absl::CHexEscape(request.requests(indices[0]).get().key());
      return part;
    };
    kvpb::BatchResponse resp =
        SendRouted(request.requests(indices[0]).get().key(), build, deadline, &state, nullptr);
    if (resp.has_error()) {
      kvpb::Error error = resp.error();
      const int32_t local = error.request_index();
      error.set_request_index(local >= 0 && static_cast<size_t>(local) < sent.size() ? sent[local]
                                                                                     : -1);
      return error;
    }
    if (static_cast<size_t>(resp.responses_size()) != sent.size()) {
      return ToError(absl::InternalError(
          absl::StrCat("range answered ", resp.responses_size(), " of ", sent.size(), " gets")));
    }
    for (size_t j = 0; j < sent.size(); ++j)
      (*out)[sent[j]] = std::move(*resp.mutable_responses(j));
    std::erase_if(indices,
                  [&](int i) { return std::find(sent.begin(), sent.end(), i) != sent.end(); });
  }
  return std::nullopt;
}

std::optional<kvpb::Error> Gateway::SendScan(const kvpb::BatchRequest& request, int index,
                                             absl::Time deadline, kvpb::ResponseUnion* out) {
  const kvpb::ScanRequest& scan = request.requests(index).scan();
  if (scan.reverse()) return SendReverseScan(request, index, deadline, out);
  kvpb::ScanResponse* result = out->mutable_scan();
  RetryState state(/*is_write=*/false);
  gateway_util::ScanBudget budget(scan);
  std::string from = scan.start_key();
  // One pass per range: bounded by the number of ranges in [start, end).
  for (;;) {
    kvpb::RangeDescriptor desc;
    auto build = [&](const kvpb::RangeDescriptor& d) {
      kvpb::BatchRequest part;
      gateway_util::CopyTxn(request, &part);
      kvpb::ScanRequest* s = part.add_requests()->mutable_scan();
      s->set_start_key(from);
      s->set_end_key(std::min(scan.end_key(), d.end_key()));
      s->set_max_keys(budget.rows_left);
      s->set_target_bytes(budget.bytes_left);
      return part;
    };
    kvpb::BatchResponse resp = SendRouted(from, build, deadline, &state, &desc);
    bool stopped = false;  // the range stopped it (its own limit or ours)
    if (std::optional<kvpb::Error> error =
            gateway_util::AbsorbScanPage(resp, index, result, &budget, &stopped)) {
      return error;
    }
    if (stopped) return std::nullopt;
    if (desc.end_key() >= scan.end_key() || desc.end_key() >= keys::kKeyMax) return std::nullopt;
    from = desc.end_key();
    if (budget.Spent()) {  // our limit, exactly at a range boundary
      result->set_has_resume(true);
      result->set_resume_key(from);
      return std::nullopt;
    }
  }
}

kvpb::BatchResponse Gateway::SendRouted(absl::string_view key, const BuildFn& build,
                                        absl::Time deadline, RetryState* state,
                                        kvpb::RangeDescriptor* used) {
  // Bounded by the deadline; lookups after the first wait a backoff so a meta range
  // that lags a split is not hammered.
  for (int lookups = 0;; ++lookups) {
    if (lookups > 0) {
      metrics_.retries.fetch_add(1, std::memory_order_relaxed);
      if (lookups > 1) SleepBefore(options_.time, state->backoff.Next(), deadline);
      if (options_.time->Now() >= deadline) return DeadlineResponse(*state);
    }
    absl::StatusOr<kvpb::RangeDescriptor> desc = LookupRange(key, deadline);
    if (!desc.ok()) {
      state->last_error = std::string(desc.status().message());
      continue;
    }
    if (used != nullptr) *used = *desc;
    RangeResult result = SendToRange(*desc, build(*desc), deadline, state);
    if (!result.relookup) return std::move(result.response);
  }
}

absl::StatusOr<kvpb::RangeDescriptor> Gateway::LookupRange(absl::string_view key,
                                                           absl::Time deadline) {
  if (std::optional<kvpb::RangeDescriptor> cached = cache_.Lookup(key)) return *cached;
  if (key < keys::kMetaEnd) {  // range 1, the meta range
    std::optional<kvpb::RangeDescriptor> first =
        options_.first_range ? options_.first_range() : std::nullopt;
    if (!first.has_value() || !Contains(*first, key)) {
      return absl::UnavailableError("the meta range's descriptor is not known yet");
    }
    cache_.Insert(*first);
    return *first;
  }
  metrics_.meta_lookups.fetch_add(1, std::memory_order_relaxed);
  // The first meta key after keys::MetaKey(key): the range whose end key is above key.
  std::string meta_start = keys::MetaKey(key);
  meta_start.push_back('\0');
  const std::string meta_end(keys::kMetaEnd);
  auto build = [&](const kvpb::RangeDescriptor&) {
    kvpb::BatchRequest lookup;
    kvpb::ScanRequest* scan = lookup.add_requests()->mutable_scan();
    scan->set_start_key(meta_start);
    scan->set_end_key(meta_end);
    scan->set_max_keys(kMetaPrefetchRows);
    return lookup;
  };
  RetryState state(/*is_write=*/false);
  kvpb::BatchResponse resp = SendRouted(meta_start, build, deadline, &state, nullptr);
  if (resp.has_error()) {
    return absl::Status(FromError(resp.error()).code(),
                        absl::StrCat("meta lookup of key ", absl::CHexEscape(key),
                                     " failed: ", resp.error().message()));
  }
  std::optional<kvpb::RangeDescriptor> found;
  if (resp.responses_size() == 1) {
    for (const kvpb::KeyValue& row : resp.responses(0).scan().rows()) {
      kvpb::RangeDescriptor desc;
      if (!desc.ParseFromString(row.value()) || desc.start_key() >= desc.end_key()) {
        return absl::DataLossError(absl::StrCat("meta key ", absl::CHexEscape(row.key()),
                                                " holds no valid range descriptor"));
      }
      if (!found.has_value() && Contains(desc, key)) found = desc;
      cache_.Insert(desc);
    }
  }
  if (!found.has_value()) {
    return absl::UnavailableError(
        absl::StrCat("meta has no range holding key ", absl::CHexEscape(key)));
  }
  return *found;
}

Gateway::RangeResult Gateway::SendToRange(const kvpb::RangeDescriptor& desc,
                                          const kvpb::BatchRequest& batch, absl::Time deadline,
                                          RetryState* state) {
  state->range_id = desc.range_id();
  kvpb::BatchRequest request = batch;
  request.mutable_header()->set_range_id(desc.range_id());
  // Rounds over the replicas until the deadline; each node at most once per round.
  for (;;) {
    // The cached leaseholder, then this node (no RPC), then the others.
    std::vector<uint64_t> order;
    if (std::optional<uint64_t> lh = cache_.Leaseholder(desc.range_id())) order.push_back(*lh);
    for (const kvpb::ReplicaDescriptor& r : desc.replicas()) {
      if (r.node_id() == options_.node_id) order.push_back(r.node_id());
    }
    for (const kvpb::ReplicaDescriptor& r : desc.replicas()) {
      if (r.node_id() != options_.node_id) order.push_back(r.node_id());
    }
    std::set<uint64_t> tried;
    size_t next = 0;
    uint64_t hint = 0;
    int attempts = 0;
    int not_found = 0;
    kvpb::BatchResponse last;
    for (;;) {
      uint64_t node_id = 0;
      if (hint != 0 && !tried.contains(hint)) {
        node_id = hint;
      } else {
        while (next < order.size() && tried.contains(order[next])) ++next;
        if (next == order.size()) break;
        node_id = order[next];
      }
      hint = 0;
      if (options_.time->Now() >= deadline) return {DeadlineResponse(*state)};
      tried.insert(node_id);
      ++attempts;
      switch (Attempt(node_id, desc, request, deadline, state, &last, &hint)) {
        case AttemptOutcome::kReturn:
          return {std::move(last)};
        case AttemptOutcome::kRelookup:
          return {std::move(last), /*relookup=*/true};
        case AttemptOutcome::kRangeNotFound:
          ++not_found;
          break;
        case AttemptOutcome::kTryNext:
          break;
      }
    }
    if (attempts > 0 && not_found == attempts) {  // no replica has it: desc is stale
      cache_.Evict(desc);
      return {std::move(last), /*relookup=*/true};
    }
    if (options_.time->Now() >= deadline) return {DeadlineResponse(*state)};
    metrics_.retries.fetch_add(1, std::memory_order_relaxed);
    SleepBefore(options_.time, state->backoff.Next(), deadline);
  }
}

Gateway::AttemptOutcome Gateway::Attempt(uint64_t node_id, const kvpb::RangeDescriptor& desc,
                                         kvpb::BatchRequest& request, absl::Time deadline,
                                         RetryState* state, kvpb::BatchResponse* response,
                                         uint64_t* hint_node_id) {
  const uint64_t range_id = desc.range_id();
  TimestampToProto(options_.clock->Now(), request.mutable_header()->mutable_now());
  const absl::Time attempt_deadline =
      std::min(deadline, options_.time->Now() + options_.attempt_timeout);
  NodeSendResult result = options_.send_to_node(node_id, request, attempt_deadline);
  if (!result.rpc_status.ok()) {
    state->last_error = absl::StrCat("range ", range_id, ": rpc to node ", node_id,
                                     " failed: ", result.rpc_status.ToString());
    if (state->write) state->may_have_applied = true;  // it may have arrived
    cache_.ClearLeaseholder(range_id, node_id);
    return AttemptOutcome::kTryNext;
  }
  if (result.response.has_now()) {
    (void)options_.clock->Update(TimestampFromProto(result.response.now()));
  }
  if (!result.response.has_error()) {
    cache_.SetLeaseholder(range_id, node_id);
    *response = std::move(result.response);
    return AttemptOutcome::kReturn;
  }
  const kvpb::Error& error = result.response.error();
  state->last_error = absl::StrCat("range ", range_id, " on node ", node_id, ": ", error.message());
  switch (error.detail_case()) {
    case kvpb::Error::kNotLeaseholder: {
      metrics_.not_leaseholder.fetch_add(1, std::memory_order_relaxed);
      const uint64_t lh = error.not_leaseholder().leaseholder().node_id();
      if (lh != 0 && lh != node_id) {
        cache_.SetLeaseholder(range_id, lh);
        *hint_node_id = lh;
      } else {
        cache_.ClearLeaseholder(range_id, node_id);
      }
      return AttemptOutcome::kTryNext;
    }
    case kvpb::Error::kRangeNotFound:
      cache_.ClearLeaseholder(range_id, node_id);
      return AttemptOutcome::kRangeNotFound;
    case kvpb::Error::kRangeKeyMismatch:
      cache_.Evict(desc);
      for (const kvpb::RangeDescriptor& fresh : error.range_key_mismatch().ranges()) {
        if (fresh.start_key() < fresh.end_key()) cache_.Insert(fresh);
      }
      *response = std::move(result.response);
      return AttemptOutcome::kRelookup;
    case kvpb::Error::kAmbiguous:  // the proposal's outcome was unknown at its deadline
      if (state->write) state->may_have_applied = true;
      return AttemptOutcome::kTryNext;
    default:
      break;
  }
  const auto code = static_cast<absl::StatusCode>(error.code());
  if (code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kDeadlineExceeded) {
    // A leaseholder that ran out of time may have proposed the write first.
    if (state->write && code == absl::StatusCode::kDeadlineExceeded) state->may_have_applied = true;
    return AttemptOutcome::kTryNext;
  }
  *response = std::move(result.response);  // the request's own outcome
  // Unless the leaseholder says it evaluated this write finding no record of it: then
  // no earlier attempt applied, nor can one later, and the error is definite.
  if (state->write && state->may_have_applied && !error.write_evaluated()) {
    MarkAmbiguous(*state, response);
  }
  return AttemptOutcome::kReturn;
}

void Gateway::MarkAmbiguous(const RetryState& state, kvpb::BatchResponse* response) {
  // A failure after an attempt that may have applied says nothing about that attempt
  // (this one may have failed waiting for its latches, for one): the outcome is
  // unknown, and the caller must hear so (docs/kv-api.md).
  kvpb::Error* error = response->mutable_error();
  metrics_.ambiguous.fetch_add(1, std::memory_order_relaxed);
  const std::string reason = absl::StrCat(
      "range ", state.range_id, ": an earlier attempt may have applied; then ", error->message());
  const int32_t index = error->request_index();
  error->Clear();
  error->set_request_index(index);
  error->set_code(static_cast<int32_t>(absl::StatusCode::kUnknown));
  error->set_message(reason);
  error->mutable_ambiguous()->set_reason(reason);
}

kvpb::BatchResponse Gateway::DeadlineResponse(const RetryState& state) {
  kvpb::BatchResponse resp;
  kvpb::Error* error = resp.mutable_error();
  error->set_request_index(-1);
  if (state.write && state.may_have_applied) {
    metrics_.ambiguous.fetch_add(1, std::memory_order_relaxed);
    error->set_code(static_cast<int32_t>(absl::StatusCode::kUnknown));
    error->set_message(absl::StrCat("range ", state.range_id,
                                    ": the write may or may not have applied when the deadline "
                                    "passed (last error: ",
                                    state.last_error, ")"));
    error->mutable_ambiguous()->set_reason(error->message());
  } else {
    error->set_code(static_cast<int32_t>(absl::StatusCode::kUnavailable));
    error->set_message(state.last_error);
  }
  return resp;
}

}  // namespace rangedb::ranges
