// Replica: the request side — latches, lease checks, evaluation, proposals.
#include <functional>
#include <random>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/random.h"
#include "ranges/engine_state.h"
#include "ranges/evaluate.h"
#include "ranges/evaluate_txn.h"
#include "ranges/idempotency.h"
#include "ranges/replica.h"
#include "ranges/store_context.h"
#include "ranges/txn_errors.h"
#include "storage/keys.h"
#include "storage/lock_table.h"

namespace rangedb::ranges {
namespace {

// How long a request waits at a replica for a lease it is about to hold (a new
// leader's lease command applying, or a quiescent range waking up) before it is
// told to go elsewhere.
constexpr absl::Duration kLeaseWait = absl::Seconds(2);

kvpb::BatchResponse ErrorResponse(const absl::Status& status, int32_t index = -1) {
  kvpb::BatchResponse resp;
  *resp.mutable_error() = ToError(status, index);
  return resp;
}

}  // namespace

Replica::LeaseCheck Replica::CheckLease() const {
  absl::MutexLock lock(&mu_);
  return CheckLeaseLocked();
}

Replica::LeaseCheck Replica::CheckLeaseLocked() const {
  LeaseCheck check;
  check.not_leaseholder.set_range_id(range_id_);
  const uint64_t term = raw_->raft().term();
  const bool leader = soft_.raft_state == raft::StateType::kLeader;
  // Measured on the monotonic clock only: a stepped wall clock must not stretch the
  // lease (docs/leases.md).
  const std::optional<int64_t> contact_ns = QuorumContactNanosLocked();
  const int64_t end_ns =
      contact_ns.value_or(0) + absl::ToInt64Nanoseconds(store_->config().LeaseDuration());
  if (leader && lease_.term() == term && lease_.holder().replica_id() == replica_id_ &&
      contact_ns.has_value() && store_->time()->MonotonicNanos() < end_ns) {
    check.valid = true;
    check.sequence = lease_.sequence();
    check.end_mono_ns = end_ns;
    return check;
  }
  // Hint: the Raft leader if known (it is, or is about to be, the leaseholder),
  // else the last lease's holder.
  uint64_t hint_replica = soft_.lead != raft::kNone ? soft_.lead : lease_.holder().replica_id();
  if (hint_replica != raft::kNone && hint_replica != replica_id_) {
    check.not_leaseholder.mutable_leaseholder()->set_replica_id(hint_replica);
    check.not_leaseholder.mutable_leaseholder()->set_node_id(NodeOfReplicaLocked(hint_replica));
  }
  return check;
}

Replica::LeaseCheck Replica::WaitForLease(absl::Time deadline) {
  TimeSource* const time = store_->time();
  const absl::Time give_up = std::min(deadline, time->Now() + kLeaseWait);
  for (;;) {
    LeaseCheck check;
    bool may_become_valid = false;
    {
      absl::MutexLock lock(&mu_);
      check = CheckLeaseLocked();
      if (check.valid) return check;
      if (quiescent_) {
        UnquiesceLocked();
        store_->EnqueueRange(range_id_);
      }
      // A leader (or a candidate without a known leader) may hold the lease soon;
      // a follower of a known leader points elsewhere at once.
      may_become_valid = soft_.raft_state == raft::StateType::kLeader ||
                         (soft_.lead == raft::kNone && !check.not_leaseholder.has_leaseholder());
    }
    if (!may_become_valid || time->Now() >= give_up) return check;
    time->SleepFor(absl::Milliseconds(5));
  }
}

absl::Status Replica::CheckKeysInRange(const kvpb::BatchRequest& request) const {
  absl::MutexLock lock(&mu_);
  for (const kvpb::RequestUnion& r : request.requests()) {
    RequestSpan span = SpanOf(r);
    const bool below = span.start < desc_.start_key();
    const bool above =
        span.end.empty() ? span.start >= desc_.end_key() : span.end > desc_.end_key();
    if (below || above) {
      return absl::OutOfRangeError(
          absl::StrCat("key ", absl::CHexEscape(span.start), " is outside range ", range_id_));
    }
  }
  return absl::OkStatus();
}

kvpb::Span Replica::RangeSpan() const {
  absl::MutexLock lock(&mu_);
  kvpb::Span span;
  span.set_key(desc_.start_key());
  span.set_end_key(desc_.end_key());
  return span;
}

Replica::LeaseCheck Replica::AcquireLease(absl::Time deadline) {
  LeaseCheck lease = WaitForLease(deadline);
  // Sequences only grow on a replica (replica_apply.cc), so a lease at or below the
  // one set up last needs nothing: it is set up, or it is stale (its commands fail at
  // apply, and its reads are checked again after reading).
  if (!lease.valid || tscache_lease_sequence_.load() >= lease.sequence) return lease;
  if (store_->config().testing_on_new_lease) store_->config().testing_on_new_lease(range_id_);
  // Once per lease, by its first user; the others wait here for it. A second set-up
  // would read the high water of removals after commands of this lease raised it, and
  // lift the tombstone low water above transactions younger than the lease.
  absl::MutexLock setup(&lease_setup_mu_);
  if (tscache_lease_sequence_.load() >= lease.sequence) return lease;
  Timestamp tombstone_low_water;
  {
    absl::MutexLock lock(&mu_);
    // Set up only the lease this request holds: a stale one (the replica lost the
    // lease and maybe won it back since) must neither set up the current lease from
    // later readings nor record an older sequence as set up.
    if (lease_.sequence() != lease.sequence) return lease;
    // Every record tombstone an earlier leaseholder left was carried by a command
    // (removes_txn_record) applied here before this lease, at or above the marker, or
    // was left for a proposal of unknown outcome at or below the lease's start: a
    // transaction that started before this lease and has no record can no longer
    // create one (as in CockroachDB); one that started after can. Other commands —
    // leases, log truncations, expired idempotency records — carry no tombstone and
    // do not count, however late they applied.
    const proto::Timestamp& removals = applied_.has_max_tombstone_timestamp()
                                           ? applied_.max_tombstone_timestamp()
                                           : applied_.max_timestamp();
    // A range's first lease follows no leaseholder: nobody judged a transaction by an
    // earlier low water, so its start would only refuse every transaction begun before
    // the range's first election (all of them, right after init). (A range made by a
    // split must carry its parent's lease sequence, lease start and removals high water
    // on, or this would not hold: docs/transactions.md, "Record creation".)
    const Timestamp lease_start =
        lease.sequence == 1 ? Timestamp{} : TimestampFromProto(lease_.start());
    tombstone_low_water = std::max(TimestampFromProto(removals), lease_start);
  }
  // An earlier leaseholder may have served reads up to its clock, which is at most
  // max_offset ahead of ours: no write here may land at or below that.
  HybridLogicalClock* clock = store_->clock();
  tscache_.SetLowWater(Timestamp{clock->Now().wall_ns + clock->MaxOffsetNanos(), 0});
  tombstones_.SetLowWater(tombstone_low_water);
  tscache_lease_sequence_.store(lease.sequence);
  return lease;
}

kvpb::BatchResponse Replica::Send(const kvpb::BatchRequest& request, absl::Time deadline) {
  absl::StatusOr<BatchKind> kind = ClassifyBatch(request);
  if (!kind.ok()) return ErrorResponse(kind.status());
  if (absl::Status s = CheckKeysInRange(request); !s.ok()) {
    kvpb::BatchResponse resp = ErrorResponse(s);
    kvpb::RangeKeyMismatchError* mismatch = resp.mutable_error()->mutable_range_key_mismatch();
    mismatch->set_key(SpanOf(request.requests(0)).start);
    *mismatch->add_ranges() = Descriptor();
    return resp;
  }
  if (*kind == BatchKind::kPush) return ServePush(request, deadline);
  if (*kind == BatchKind::kWrite && request.header().has_idempotency_key()) {
    // Before anything uses the key (latches, the record): what cannot be honoured
    // exactly once is refused here (ranges/idempotency.h).
    if (absl::Status s = CheckIdempotencyKey(request.header().idempotency_key(),
                                             store_->config().idempotency_record_ttl);
        !s.ok()) {
      return ErrorResponse(s);
    }
  }
  RequestState state;
  // Bounded by the deadline: each round pushes and resolves what blocked the last.
  for (;;) {
    state.conflicts.clear();
    kvpb::BatchResponse resp = ServeOnce(request, *kind, deadline, &state);
    if (state.conflicts.empty()) return resp;
    if (absl::Status s = HandleConflicts(request, *kind, deadline, &state); !s.ok()) {
      kvpb::BatchResponse err = ErrorResponse(s);
      if (request.header().has_txn()) *err.mutable_txn() = request.header().txn();
      return err;
    }
  }
}

namespace {

// The latches a batch needs: its keys, and for the transaction requests the record.
std::vector<LatchSpan> LatchSpansOf(const kvpb::BatchRequest& request, BatchKind kind,
                                    const kvpb::Span& range) {
  std::vector<LatchSpan> spans;
  const kvpb::Transaction& txn = request.header().txn();
  for (const kvpb::RequestUnion& r : request.requests()) {
    if (r.has_end_txn()) {
      spans.push_back({keys::TxnRecordKey(txn.anchor_key(), txn.id()), "", /*write=*/true});
      for (const kvpb::Span& s : r.end_txn().lock_spans()) {
        if (s.end_key().empty()) {
          if (s.key() >= range.key() && s.key() < range.end_key()) {
            spans.push_back({s.key(), "", true});
          }
          continue;
        }
        const std::string lo = std::max(s.key(), range.key());
        const std::string hi = std::min(s.end_key(), range.end_key());
        if (lo < hi) spans.push_back({lo, hi, true});
      }
      continue;
    }
    if (r.has_heartbeat_txn()) {
      spans.push_back({keys::TxnRecordKey(txn.anchor_key(), txn.id()), "", /*write=*/true});
      continue;
    }
    if (r.has_query_txn()) {
      spans.push_back(
          {keys::TxnRecordKey(r.query_txn().key(), r.query_txn().txn_id()), "", /*write=*/false});
      continue;
    }
    const RequestSpan s = SpanOf(r);
    const bool write = kind == BatchKind::kWrite || kind == BatchKind::kResolve;
    spans.push_back({s.start, s.end, write});
  }
  return spans;
}

// Sleeps until this node's clock (the HLC) has reached ts. Timestamps are then
// always some node's clock reading, never ahead of every physical clock: a write
// the timestamp cache pushed above the clock (after a lease change its low water is
// max_offset ahead) waits here instead of being written in the future, and a commit
// is acknowledged only once its timestamp is a reading of this clock — so a reader
// that starts afterwards anywhere sees it or finds it uncertain
// (docs/transactions.md, "Clocks"). A timestamp that came from another node's clock
// was merged into ours with the request (header.now), so it costs no wait.
// Bounded: at most about 2 * max_offset.
void WaitForClock(TimeSource* time, HybridLogicalClock* clock, Timestamp ts) {
  const absl::Time give_up =
      time->Now() + absl::Nanoseconds(2 * clock->MaxOffsetNanos() + 1'000'000);
  for (Timestamp now = clock->Now(); now < ts && time->Now() < give_up; now = clock->Now()) {
    const int64_t ahead_ns = ts.wall_ns - now.wall_ns;
    time->SleepFor(absl::Nanoseconds(std::clamp<int64_t>(ahead_ns, 10'000, 10'000'000)));
  }
}

constexpr int kMaxUncertaintyRestarts = 16;

}  // namespace

kvpb::BatchResponse Replica::ServeOnce(const kvpb::BatchRequest& request, BatchKind kind,
                                       absl::Time deadline, RequestState* state) {
  std::vector<LatchSpan> spans = LatchSpansOf(request, kind, RangeSpan());
  const kvpb::IdempotencyKey& idem = request.header().idempotency_key();
  const bool has_idem = kind == BatchKind::kWrite && !idem.client_id().empty();
  if (has_idem) {
    spans.push_back({keys::IdempotencyRecordKey(range_id_, idem.client_id(), idem.sequence()), "",
                     /*write=*/true});
  }
  absl::StatusOr<LatchManager::Guard> guard = latches_.Acquire(std::move(spans), deadline);
  if (!guard.ok()) return ErrorResponse(guard.status());
  const bool read_only =
      kind == BatchKind::kRead || kind == BatchKind::kQuery || kind == BatchKind::kRefresh;
  const bool unsafe = read_only && store_->config().testing_unsafe_reads;
  LeaseCheck lease = unsafe ? LeaseCheck{.valid = true} : AcquireLease(deadline);
  if (!lease.valid) {
    kvpb::BatchResponse resp = ErrorResponse(absl::UnavailableError(
        absl::StrCat("range ", range_id_, ": this replica does not hold the lease")));
    *resp.mutable_error()->mutable_not_leaseholder() = lease.not_leaseholder;
    return resp;
  }
  if (!read_only) return ServeWrites(request, lease, std::move(*guard), deadline, state);
  kvpb::BatchResponse resp = ServeReads(request, kind, state);
  if (!state->conflicts.empty() || resp.has_error()) return resp;
  // The lease must still have been valid when the read finished: a read evaluated
  // after the lease lapsed could miss a new leaseholder's writes.
  LeaseCheck after = CheckLease();
  if (!unsafe && (!after.valid || after.sequence != lease.sequence)) {
    kvpb::BatchResponse err = ErrorResponse(absl::UnavailableError(
        absl::StrCat("range ", range_id_, ": the lease lapsed during the read")));
    *err.mutable_error()->mutable_not_leaseholder() = after.not_leaseholder;
    return err;
  }
  return resp;
}

kvpb::BatchResponse Replica::ServeReads(const kvpb::BatchRequest& request, BatchKind kind,
                                        RequestState* state) {
  Engine* engine = store_->engine();
  const bool in_txn = request.header().has_txn();
  const kvpb::Transaction& txn = request.header().txn();
  kvpb::BatchResponse resp;
  if (in_txn) *resp.mutable_txn() = txn;
  auto fail = [&](const absl::Status& s, int index) {
    kvpb::BatchResponse err = ErrorResponse(s, index);
    if (in_txn) *err.mutable_txn() = txn;
    return err;
  };
  if (kind == BatchKind::kQuery) {
    const kvpb::QueryTxnRequest& q = request.requests(0).query_txn();
    absl::StatusOr<std::optional<kvpb::Transaction>> record =
        ReadTxnRecord(*engine, q.key(), q.txn_id());
    if (!record.ok()) return fail(record.status(), 0);
    kvpb::QueryTxnResponse* out = resp.add_responses()->mutable_query_txn();
    out->set_found(record->has_value());
    if (record->has_value()) *out->mutable_record() = **record;
    for (std::string& id : wait_queue_.Dependents(q.txn_id())) out->add_waiting_txn_ids(id);
    return resp;
  }
  if (kind == BatchKind::kRefresh) {
    // GC may have removed versions in the interval this would check.
    if (absl::Status s = CheckAboveGcThreshold(
            "refresh from", TimestampFromProto(txn.read_timestamp()), false, /*in_txn=*/true);
        !s.ok()) {
      return fail(s, -1);
    }
    for (int i = 0; i < request.requests_size(); ++i) {
      const kvpb::RefreshRequest& r = request.requests(i).refresh();
      if (absl::Status s = EvaluateRefresh(*engine, r, txn); !s.ok()) {
        if (IsLockConflict(s)) {
          state->conflicts = LockConflictsOf(s);
          return {};
        }
        return fail(s, i);
      }
      resp.add_responses()->mutable_refresh();
      tscache_.Add(r.key(), r.end_key(), TimestampFromProto(txn.write_timestamp()), txn.id());
    }
    return resp;
  }
  TxnContext txn_ctx;
  EvalContext ctx;
  ctx.pushed_txn_ids = &state->pushed;
  if (in_txn) {
    txn_ctx = TxnContextOf(txn);
    ctx.txn = &txn_ctx;
    ctx.read_timestamp = txn_ctx.read_timestamp;
    ctx.uncertainty_limit = TimestampFromProto(txn.uncertainty_limit());
  } else {
    // A single-node read: at the clock, with an uncertainty interval so that a
    // write acknowledged before this read began (possibly at a timestamp ahead of
    // our clock) is never missed; uncertain values just move the read up.
    if (state->read_timestamp.IsEmpty()) state->read_timestamp = store_->clock()->Now();
    ctx.read_timestamp = state->read_timestamp;
    HybridLogicalClock* clock = store_->clock();
    ctx.uncertainty_limit = Timestamp{state->read_timestamp.wall_ns + clock->MaxOffsetNanos(), 0};
  }
  // Under the latches: a GC pass (which latches the whole data span) either
  // finished before (and its threshold shows) or waits until this read is done.
  if (absl::Status s = CheckAboveGcThreshold("read at", ctx.read_timestamp, false, in_txn);
      !s.ok()) {
    return fail(s, -1);
  }
  if (store_->config().testing_before_read) store_->config().testing_before_read(range_id_);
  for (int restart = 0;; ++restart) {
    resp.clear_responses();
    absl::Status failed;
    int failed_index = -1;
    ReadBudget budget;
    for (int i = 0; i < request.requests_size() && failed.ok(); ++i) {
      failed = EvaluateRead(*engine, request.requests(i), ctx, &budget, resp.add_responses());
      failed_index = i;
    }
    if (failed.ok()) break;
    if (IsLockConflict(failed)) {
      state->conflicts = LockConflictsOf(failed);
      return {};
    }
    std::optional<proto::MVCCErrorDetail> detail = MVCCErrorDetailOf(failed);
    if (!in_txn && IsUncertaintyError(failed) && detail.has_value() &&
        restart < kMaxUncertaintyRestarts) {
      ctx.read_timestamp = TimestampFromProto(detail->uncertain_existing_timestamp());
      state->read_timestamp = ctx.read_timestamp;
      continue;
    }
    return fail(failed, failed_index);
  }
  // Remember the reads, so that no other transaction writes under them.
  for (const kvpb::RequestUnion& r : request.requests()) {
    const RequestSpan span = SpanOf(r);
    tscache_.Add(span.start, span.end, ctx.read_timestamp, in_txn ? txn.id() : "");
  }
  return resp;
}

kvpb::BatchResponse Replica::ServeWrites(const kvpb::BatchRequest& request, const LeaseCheck& lease,
                                         LatchManager::Guard latches, absl::Time deadline,
                                         RequestState* state) {
  Engine* engine = store_->engine();
  const bool in_txn = request.header().has_txn();
  const kvpb::Transaction& txn = request.header().txn();
  const kvpb::IdempotencyKey& idem = request.header().idempotency_key();
  const bool has_idem = !idem.client_id().empty() &&
                        ClassifyBatch(request).value_or(BatchKind::kRead) == BatchKind::kWrite;
  std::string record_key;
  if (has_idem) {
    // Applied before? Then answer as the first time, without writing again.
    record_key = keys::IdempotencyRecordKey(range_id_, idem.client_id(), idem.sequence());
    rangespb::IdempotencyRecord record;
    absl::StatusOr<bool> found = ReadLocalProto(*engine, record_key, &record);
    if (!found.ok()) return ErrorResponse(found.status());
    if (*found) return record.response();
  }
  std::unique_ptr<WriteBatch> batch = engine->NewWriteBatch();
  const Timestamp now = store_->clock()->Now();
  Timestamp written = in_txn ? TimestampFromProto(txn.write_timestamp()) : now;
  // Never write under a read of another transaction (the timestamp cache).
  for (const kvpb::RequestUnion& r : request.requests()) {
    if (!IsWrite(r)) continue;
    const RequestSpan span = SpanOf(r);
    TimestampCache::Result read = tscache_.GetMax(span.start, span.end);
    if (read.ts >= written && !(in_txn && read.txn_id == txn.id())) written = read.ts.Next();
  }
  // A write at or below the GC threshold could land under a version GC removed
  // (a deletion) and so escape WriteTooOld: refused (docs/mvcc.md, "GC threshold").
  bool writes = false;
  for (const kvpb::RequestUnion& r : request.requests()) writes |= IsWrite(r);
  if (writes) {
    if (absl::Status s = CheckAboveGcThreshold("write at", written, /*inclusive=*/true, in_txn);
        !s.ok()) {
      kvpb::BatchResponse err = ErrorResponse(s, -1);
      if (in_txn) *err.mutable_txn() = txn;
      return err;
    }
  }
  // A write pushed above the clock (after a lease change the timestamp cache's low
  // water is max_offset ahead) waits for the clock instead of writing in the future:
  // clocks stay within max_offset of each other, and the write needs no commit wait.
  WaitForClock(store_->time(), store_->clock(), written);
  kvpb::BatchResponse resp;
  if (in_txn) *resp.mutable_txn() = txn;
  auto fail = [&](const absl::Status& s, int index) {
    kvpb::BatchResponse err = ErrorResponse(s, index);
    // Evaluated with no record of the key: definite for every attempt of this write.
    if (has_idem) err.mutable_error()->set_write_evaluated(true);
    if (in_txn) {
      *err.mutable_txn() = txn;
      TimestampToProto(written, err.mutable_txn()->mutable_write_timestamp());
    }
    return err;
  };
  TxnContext txn_ctx;
  EvalContext ctx;
  if (in_txn) {
    txn_ctx = TxnContextOf(txn);
    ctx.txn = &txn_ctx;
    ctx.read_timestamp = txn_ctx.read_timestamp;
    // Writes that read (DeleteRange) honour the uncertainty interval like reads.
    ctx.uncertainty_limit = TimestampFromProto(txn.uncertainty_limit());
  }
  const StoreConfig& config = store_->config();
  ctx.testing_deleterange_at_max = config.testing_deleterange_at_max;
  ctx.testing_cput_reads_latest = config.testing_cput_reads_latest;
  const std::string reader_id = in_txn ? txn.id() : "";
  std::optional<EndTxnResult> ended;
  bool heartbeat_changed = false;
  const size_t batch_bytes_before = batch->ByteSize();
  for (int i = 0; i < request.requests_size(); ++i) {
    const kvpb::RequestUnion& r = request.requests(i);
    ctx.write_timestamp = written;
    absl::Status s;
    if (IsWrite(r)) {
      s = EvaluateWrite(*batch, r, ctx, resp.add_responses(), &written);
    } else if (r.has_end_txn()) {
      kvpb::Transaction t = txn;
      TimestampToProto(written, t.mutable_write_timestamp());
      absl::StatusOr<EndTxnResult> end = EvaluateEndTxn(
          *batch, r.end_txn(), t, RangeSpan(), &written, now,
          store_->config().testing_commit_without_refresh, store_->config().txn_record_gc_age,
          RecordMarkersOf(txn.anchor_key(), txn.id()));
      if (end.ok()) {
        *resp.add_responses()->mutable_end_txn() = end->response;
        ended = std::move(*end);
      } else {
        s = end.status();
      }
    } else if (r.has_resolve_intent()) {
      // The requests of a resolve batch share one command's span-write budget.
      s = EvaluateResolveIntent(*batch, r.resolve_intent(),
                                resp.add_responses()->mutable_resolve_intent(),
                                static_cast<int64_t>(limits::kMaxSpanWriteBytes) -
                                    static_cast<int64_t>(batch->ByteSize() - batch_bytes_before));
    } else if (r.has_heartbeat_txn()) {
      absl::StatusOr<kvpb::Transaction> record = EvaluateHeartbeat(
          *batch, txn, now, &heartbeat_changed, store_->config().txn_record_gc_age,
          RecordMarkersOf(txn.anchor_key(), txn.id()));
      if (record.ok()) {
        *resp.add_responses()->mutable_heartbeat_txn()->mutable_record() = *record;
      } else {
        s = record.status();
      }
    } else {
      s = absl::InvalidArgumentError("not a write request");
    }
    if (!s.ok()) {
      if (IsLockConflict(s)) {
        state->conflicts = LockConflictsOf(s);
        return {};
      }
      // A failed ConditionalPut showed its caller the value: a read, remembered so
      // that no write lands under what it saw (docs/transactions.md).
      if (IsConditionFailed(s) && r.has_conditional_put() && !config.testing_cput_reads_latest) {
        tscache_.Add(r.conditional_put().key(), "", ctx.write_timestamp, reader_id);
      }
      return fail(s, i);
    }
  }
  // A DeleteRange read its whole span (it deleted what the span held at its
  // timestamp): no other writer may put a key into the span at or below where the
  // delete landed, or the delete would have missed it (a phantom). Recorded before
  // the latches are released, nothing deleted or not.
  if (!config.testing_deleterange_at_max) {
    for (const kvpb::RequestUnion& r : request.requests()) {
      if (!r.has_delete_range()) continue;
      tscache_.Add(r.delete_range().start_key(), r.delete_range().end_key(), written, reader_id);
    }
  }
  if (in_txn) {
    TimestampToProto(written, resp.mutable_txn()->mutable_write_timestamp());
    if (ended.has_value()) resp.mutable_txn()->set_status(ended->finished.status());
  }
  // The record may never come back once this command applies: the tombstone marker
  // is left then, before the latches go (Proposal::on_applied). Not before the
  // proposal: a command that fails removed nothing, and a retry of this EndTxn must
  // be able to commit.
  std::function<void()> mark_removed;
  if (ended.has_value() && ended->record_removed) {
    mark_removed = [this, finished = ended->finished, now] { MarkRecordRemoved(finished, now); };
  }
  if (batch->Count() == 0) return resp;  // nothing changed: nothing to replicate
  if (has_idem) {
    rangespb::IdempotencyRecord record;
    *record.mutable_response() = resp;
    // The command's timestamp, not this node's wall clock: it is replicated with the
    // record, and expiry compares it with a cutoff that cannot run ahead of real time.
    record.set_recorded_unix_ns(std::max(now, written).wall_ns);
    WriteLocalProto(*batch, record_key, record);
  }
  if (std::optional<kvpb::BatchResponse> err =
          ProposeAndWait(*batch, lease, std::max(now, written), std::move(latches), deadline,
                         std::nullopt, std::move(mark_removed))) {
    // Known not applied (not ambiguous): definite for every attempt of this write.
    if (has_idem && !err->error().has_ambiguous()) err->mutable_error()->set_write_evaluated(true);
    return *err;
  }
  if (ended.has_value()) {
    if (!ended->external_spans.empty()) {
      store_->ResolveIntentsAsync(ended->finished, std::move(ended->external_spans));
    }
    wait_queue_.Notify(txn.id());
  }
  if (heartbeat_changed) wait_queue_.Notify(txn.id());
  // A commit (or a non-transactional write) is acknowledged only after commit wait.
  const bool committed = in_txn ? ended.has_value() && ended->finished.status() == kvpb::COMMITTED
                                : IsWrite(request.requests(0));
  if (committed) WaitForClock(store_->time(), store_->clock(), written);
  return resp;
}

absl::Status Replica::CheckAboveGcThreshold(absl::string_view what, Timestamp ts, bool inclusive,
                                            bool in_txn) const {
  const Timestamp gc = GcThreshold();
  if (gc.IsEmpty() || gc < ts || (!inclusive && gc == ts)) return absl::OkStatus();
  const std::string message =
      absl::StrCat("range ", range_id_, ": ", what, " ", ts.ToString(),
                   inclusive ? " is at or below" : " is below", " the GC threshold ", gc.ToString(),
                   " (versions older than gc_ttl are gone)");
  // A transaction can start again at a newer timestamp (a refresh cannot help: it
  // would be checked against the same threshold), as after CockroachDB's
  // BatchTimestampBeforeGCError.
  if (in_txn) return TxnRetryError(kvpb::TransactionRetryError::GC_THRESHOLD, message);
  return absl::FailedPreconditionError(message);
}

std::optional<kvpb::BatchResponse> Replica::ProposeAndWait(
    const WriteBatch& batch, const LeaseCheck& lease, Timestamp timestamp,
    LatchManager::Guard latches, absl::Time deadline, std::optional<Timestamp> gc_threshold,
    std::function<void()> mark_tombstones) {
  auto proposal = std::make_shared<Proposal>();
  rangespb::RaftCommand& cmd = proposal->command;
  cmd.set_command_id(RandomBytes(16));
  cmd.set_proposer_lease_sequence(lease.sequence);
  cmd.set_write_batch(batch.Serialize());
  TimestampToProto(timestamp, cmd.mutable_timestamp());
  if (gc_threshold.has_value()) TimestampToProto(*gc_threshold, cmd.mutable_gc_threshold());
  cmd.set_removes_txn_record(mark_tombstones != nullptr);
  proposal->latches = std::move(latches);
  proposal->on_applied = std::move(mark_tombstones);
  Propose(proposal);
  if (!store_->time()->WaitForNotificationWithDeadline(&proposal->done, deadline)) {
    kvpb::BatchResponse err = ErrorResponse(absl::UnknownError(absl::StrCat(
        "range ", range_id_, ": the write was proposed but did not apply before the deadline")));
    err.mutable_error()->mutable_ambiguous()->set_reason("proposal outcome unknown at deadline");
    return err;
  }
  if (proposal->ambiguous) {
    kvpb::BatchResponse err = ErrorResponse(proposal->result);
    err.mutable_error()->mutable_ambiguous()->set_reason(std::string(proposal->result.message()));
    return err;
  }
  if (absl::IsInternal(proposal->result) || absl::IsInvalidArgument(proposal->result)) {
    // Refused on apply by every replica (RejectCommandLocked), or before proposing
    // as larger than a Raft command may be: not applied, and another leaseholder
    // would build the same command.
    return ErrorResponse(proposal->result);
  }
  if (!proposal->result.ok()) {
    // Known not applied: safe to retry elsewhere.
    kvpb::BatchResponse err = ErrorResponse(proposal->result);
    LeaseCheck now = CheckLease();
    *err.mutable_error()->mutable_not_leaseholder() = now.not_leaseholder;
    return err;
  }
  return std::nullopt;
}

void Replica::Propose(std::shared_ptr<Proposal> proposal) {
  {
    absl::MutexLock lock(&mu_);
    if (!QueueProposalLocked(std::move(proposal))) return;
  }
  store_->EnqueueRange(range_id_);
}

}  // namespace rangedb::ranges
