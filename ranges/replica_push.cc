// Replica: PushTxn at the pushee's record — the push rules, the wait queue and
// deadlock detection (docs/transactions.md, "Waiting and deadlocks") — and the
// record markers in the timestamp cache (docs/transactions.md, "Record creation").
#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "ranges/evaluate.h"
#include "ranges/evaluate_txn.h"
#include "ranges/replica.h"
#include "ranges/store_context.h"
#include "ranges/txn_errors.h"
#include "spdlog/spdlog.h"
#include "storage/keys.h"
#include "storage/lock_table.h"

namespace rangedb::ranges {
namespace {

// A PushTxn that cannot succeed waits here at most this long before answering
// "not pushed" (its sender asks again): a dead pusher never pins a waiter for long.
constexpr absl::Duration kMaxPushWait = absl::Seconds(1);
// How often a waiter re-checks expiry and looks for waits-for cycles.
constexpr absl::Duration kPushPollInterval = absl::Milliseconds(100);
constexpr absl::Duration kQueryTimeout = absl::Milliseconds(500);

kvpb::BatchResponse PushError(const absl::Status& s) {
  kvpb::BatchResponse resp;
  *resp.mutable_error() = ToError(s);
  return resp;
}

}  // namespace

RecordMarkers Replica::RecordMarkersOf(absl::string_view anchor_key,
                                       absl::string_view txn_id) const {
  RecordMarkers m;
  m.tombstone = tombstones_.GetMax(TxnTombstoneMarkerKey(anchor_key, txn_id), "").ts;
  // A push marker is already the lowest timestamp the record may take (the
  // pusher's read timestamp.Next()); the cache's low water instead stands for reads
  // the cache does not remember (an earlier leaseholder's, evicted ones) at or below
  // it, so the record must start above it, as a write would.
  const Timestamp pushed = tscache_.GetMax(TxnPushMarkerKey(anchor_key, txn_id), "").ts;
  m.pushed = pushed <= tscache_.low_water() ? pushed.Next() : pushed;
  return m;
}

void Replica::MarkRecordRemoved(const kvpb::Transaction& finished, Timestamp now) {
  tombstones_.Add(TxnTombstoneMarkerKey(finished.anchor_key(), finished.id()), "",
                  MarkerTimestampOfRemoval(finished, now), finished.id());
}

kvpb::BatchResponse Replica::PushOnce(const kvpb::PushTxnRequest& push, bool force_abort,
                                      absl::Time deadline, bool* pushed) {
  *pushed = false;
  const kvpb::Transaction& pushee = push.pushee();
  std::vector<LatchSpan> spans = {
      {keys::TxnRecordKey(pushee.anchor_key(), pushee.id()), "", /*write=*/true}};
  absl::StatusOr<LatchManager::Guard> guard = latches_.Acquire(std::move(spans), deadline);
  if (!guard.ok()) return PushError(guard.status());
  LeaseCheck lease = AcquireLease(deadline);
  if (!lease.valid) {
    kvpb::BatchResponse resp = PushError(absl::UnavailableError(
        absl::StrCat("range ", range_id_, ": this replica does not hold the lease")));
    *resp.mutable_error()->mutable_not_leaseholder() = lease.not_leaseholder;
    return resp;
  }
  absl::StatusOr<std::optional<kvpb::Transaction>> record =
      ReadTxnRecord(*store_->engine(), pushee.anchor_key(), pushee.id());
  if (!record.ok()) return PushError(record.status());
  PushDecision d = DecidePush(*record, push, store_->clock()->Now(),
                              RecordMarkersOf(pushee.anchor_key(), pushee.id()));
  if (force_abort && d.record.status() == kvpb::PENDING) {
    // A PENDING answer means the record exists or may still be created: writing it
    // ABORTED is the truth from now on.
    d.record.set_status(kvpb::ABORTED);
    d.write_record = true;
    d.push_marker.reset();
    d.outcome = PushDecision::kPushed;
  }
  if (d.push_marker.has_value()) {
    // Under the record's latch: the coordinator's record creation (or its EndTxn
    // without one) that follows sees the push.
    tscache_.Add(TxnPushMarkerKey(pushee.anchor_key(), pushee.id()), "", *d.push_marker,
                 push.pusher().id());
  }
  if (d.write_record && d.record.status() == kvpb::ABORTED && !force_abort) {
    // Says what happened: abandoned coordinators are worth an operator's attention.
    if (TxnExpired(d.record, store_->clock()->Now())) {
      store_->mutable_metrics()->txn_aborted_expired.fetch_add(1, std::memory_order_relaxed);
      spdlog::info("r{}: aborting transaction {}: not heard of since {} (record {})", range_id_,
                   absl::BytesToHexString(pushee.id()),
                   TimestampFromProto(d.record.last_heartbeat()).ToString(),
                   record->has_value() ? "pending" : "missing");
    } else {
      store_->mutable_metrics()->txn_aborted_priority.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (d.write_record) {
    std::unique_ptr<WriteBatch> batch = store_->engine()->NewWriteBatch();
    WriteTxnRecord(*batch, d.record);
    if (std::optional<kvpb::BatchResponse> err =
            ProposeAndWait(*batch, lease, store_->clock()->Now(), std::move(*guard), deadline)) {
      return *err;
    }
    wait_queue_.Notify(pushee.id());
  }
  kvpb::BatchResponse resp;
  kvpb::PushTxnResponse* out = resp.add_responses()->mutable_push_txn();
  *out->mutable_pushee() = d.record;
  out->set_pushed(d.outcome == PushDecision::kPushed);
  *pushed = out->pushed();
  return resp;
}

kvpb::BatchResponse Replica::ServePush(const kvpb::BatchRequest& request, absl::Time deadline) {
  const kvpb::PushTxnRequest& push = request.requests(0).push_txn();
  const kvpb::Transaction& pusher = push.pusher();
  TimeSource* const time = store_->time();
  const absl::Time give_up = std::min(deadline, time->Now() + kMaxPushWait);
  std::unique_ptr<TxnWaitQueue::Waiter> waiter;
  // Bounded by give_up: every round sleeps up to kPushPollInterval.
  for (;;) {
    bool pushed = false;
    kvpb::BatchResponse resp = PushOnce(push, /*force_abort=*/false, deadline, &pushed);
    if (resp.has_error() || pushed) return resp;
    if (waiter == nullptr) {
      waiter = wait_queue_.Enqueue(push.pushee().id(), pusher.id());
      if (waiter == nullptr) return resp;  // queue full: the sender retries with backoff
    }
    if (!pusher.id().empty() && !pusher.anchor_key().empty()) {
      // Who waits on the pusher? If the pushee does, the two wait on each other.
      kvpb::BatchRequest query;
      kvpb::QueryTxnRequest* q = query.add_requests()->mutable_query_txn();
      q->set_key(pusher.anchor_key());
      q->set_txn_id(pusher.id());
      kvpb::BatchResponse answer =
          store_->SendByKey(query, std::min(give_up, time->Now() + kQueryTimeout));
      if (!answer.has_error() && answer.responses_size() == 1) {
        const kvpb::QueryTxnResponse& info = answer.responses(0).query_txn();
        if (info.found() && info.record().status() != kvpb::PENDING) {
          return PushError(TxnAbortedError(absl::StrCat(
              "transaction ", absl::BytesToHexString(pusher.id()),
              " was aborted while it waited for ", absl::BytesToHexString(push.pushee().id()),
              " (a deadlock breaker or a pusher aborted it)")));
        }
        std::vector<std::string> dependents(info.waiting_txn_ids().begin(),
                                            info.waiting_txn_ids().end());
        const bool cycle =
            std::find(dependents.begin(), dependents.end(), push.pushee().id()) != dependents.end();
        waiter->SetDependents(std::move(dependents));
        // Every waiter on the cycle sees it; only those whose pushee has the smaller
        // id abort it, so at least one and usually exactly one transaction dies.
        if (cycle && push.pushee().id() < pusher.id()) {
          spdlog::info("r{}: deadlock: transaction {} waits for {} which waits for it; aborting {}",
                       range_id_, absl::BytesToHexString(pusher.id()),
                       absl::BytesToHexString(push.pushee().id()),
                       absl::BytesToHexString(push.pushee().id()));
          store_->mutable_metrics()->txn_deadlocks_broken.fetch_add(1, std::memory_order_relaxed);
          return PushOnce(push, /*force_abort=*/true, deadline, &pushed);
        }
      }
    }
    if (time->Now() >= give_up) {
      store_->mutable_metrics()->txn_pushes_waited.fetch_add(1, std::memory_order_relaxed);
      return resp;
    }
    // A changed record may have been deleted by a commit that resolved every intent
    // (a missing record looks pending here): let the pusher look at its intent again.
    if (waiter->Wait(std::min(kPushPollInterval, give_up - time->Now()))) return resp;
  }
}

}  // namespace rangedb::ranges
