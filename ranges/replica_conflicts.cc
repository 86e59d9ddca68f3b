// Replica: what a request does when it meets other transactions' intents — push
// their records, then resolve the intents here (docs/transactions.md, "Conflicts").
#include <map>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/backoff.h"
#include "ranges/evaluate.h"
#include "ranges/replica.h"
#include "ranges/store_context.h"
#include "ranges/txn_errors.h"
#include "storage/lock_table.h"

namespace rangedb::ranges {
namespace {

// One PushTxn RPC's bound; the pushee's range answers within about a second.
constexpr absl::Duration kPushRpcTimeout = absl::Seconds(3);
constexpr BackoffOptions kPushBackoff{std::chrono::milliseconds(10),
                                      std::chrono::milliseconds(200)};

kvpb::Transaction PusheeOf(const TxnMeta& meta) {
  kvpb::Transaction t;
  t.set_id(meta.id);
  t.set_anchor_key(meta.anchor_key);
  t.set_epoch(meta.epoch);
  t.set_priority(meta.priority);
  TimestampToProto(meta.write_timestamp, t.mutable_write_timestamp());
  // The pushee's liveness, without a record, is judged by its start, which pushes
  // (unlike the intent's timestamp) never move (DecidePush).
  if (!meta.min_timestamp.IsEmpty()) {
    TimestampToProto(meta.min_timestamp, t.mutable_start_timestamp());
  }
  return t;
}

}  // namespace

absl::Status Replica::HandleConflicts(const kvpb::BatchRequest& request, BatchKind kind,
                                      absl::Time deadline, RequestState* state) {
  const bool in_txn = request.header().has_txn();
  const kvpb::Transaction& txn = request.header().txn();
  const bool reader = kind == BatchKind::kRead;
  const Timestamp read_ts =
      in_txn ? TimestampFromProto(txn.read_timestamp()) : state->read_timestamp;
  store_->mutable_metrics()->txn_conflicts.fetch_add(1, std::memory_order_relaxed);
  std::map<std::string, std::vector<const LockConflict*>> by_txn;
  for (const LockConflict& c : state->conflicts) {
    if (in_txn && c.txn.id == txn.id()) {
      return absl::InternalError(absl::StrCat("transaction conflicts with its own intent on key ",
                                              absl::CHexEscape(c.key)));
    }
    by_txn[c.txn.id].push_back(&c);
  }
  for (const auto& [id, conflicts] : by_txn) {
    const TxnMeta& holder = conflicts.front()->txn;
    kvpb::BatchRequest push_batch;
    kvpb::PushTxnRequest* push = push_batch.add_requests()->mutable_push_txn();
    push->set_key(holder.anchor_key);
    *push->mutable_pushee() = PusheeOf(holder);
    if (in_txn) *push->mutable_pusher() = txn;
    // A reader only needs the holder above its read; a writer needs it gone.
    push->set_push_type(reader ? kvpb::PUSH_TIMESTAMP : kvpb::PUSH_ABORT);
    if (reader) TimestampToProto(read_ts.Next(), push->mutable_push_to());
    Backoff backoff(kPushBackoff);
    kvpb::Transaction record;
    // Bounded by the deadline (and by the push errors' backoff); a PushTxn waits up
    // to about a second at the record.
    for (;;) {
      if (store_->time()->Now() >= deadline) {
        return absl::DeadlineExceededError(absl::StrCat(
            "range ", range_id_, ": still waiting for transaction ", absl::BytesToHexString(id),
            " holding key ", absl::CHexEscape(conflicts.front()->key), " at the deadline"));
      }
      kvpb::BatchResponse resp = store_->SendByKey(
          push_batch, std::min(deadline, store_->time()->Now() + kPushRpcTimeout));
      if (resp.has_error()) {
        if (resp.error().has_aborted()) return TxnAbortedError(resp.error().message());
        const absl::Duration pause =
            std::min(absl::FromChrono(backoff.Next()), deadline - store_->time()->Now());
        store_->time()->SleepFor(pause);
        continue;
      }
      if (resp.responses_size() == 1 && resp.responses(0).push_txn().pushed()) {
        record = resp.responses(0).push_txn().pushee();
        break;
      }
      // Not pushed (yet): evaluate the request again, the intent may be gone (its
      // transaction finished and deleted its record along with its last intents).
      return absl::OkStatus();
    }
    if (reader && record.status() == kvpb::PENDING) state->pushed.push_back(id);
    // Resolve what blocked us, here and now (the rest is its coordinator's job).
    kvpb::BatchRequest resolve;
    resolve.mutable_header()->set_range_id(range_id_);
    for (const LockConflict* c : conflicts) {
      kvpb::ResolveIntentRequest* r = resolve.add_requests()->mutable_resolve_intent();
      r->set_key(c->key);
      *r->mutable_txn() = record;
      r->mutable_txn()->set_epoch(c->txn.epoch);
      if (static_cast<size_t>(resolve.requests_size()) == kMaxBatchRequests) break;
    }
    kvpb::BatchResponse resolved = Send(resolve, deadline);
    if (resolved.has_error()) return FromError(resolved.error());
  }
  return absl::OkStatus();
}

}  // namespace rangedb::ranges
