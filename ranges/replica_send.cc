// Replica: the request side — latches, lease checks, evaluation, proposals.
#include <random>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "client/random.h"
#include "ranges/evaluate.h"
#include "ranges/range_keys.h"
#include "ranges/replica.h"
#include "ranges/store_context.h"
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
  if (leader && lease_.term() == term && lease_.holder().replica_id() == replica_id_ &&
      absl::Now() < QuorumContactTimeLocked() + store_->config().LeaseDuration()) {
    check.valid = true;
    check.sequence = lease_.sequence();
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
  const absl::Time give_up = std::min(deadline, absl::Now() + kLeaseWait);
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
    if (!may_become_valid || absl::Now() >= give_up) return check;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
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

kvpb::BatchResponse Replica::Send(const kvpb::BatchRequest& request, absl::Time deadline) {
  if (absl::Status s = ValidateBatch(request); !s.ok()) return ErrorResponse(s);
  if (absl::Status s = CheckKeysInRange(request); !s.ok()) {
    kvpb::BatchResponse resp = ErrorResponse(s);
    kvpb::RangeKeyMismatchError* mismatch = resp.mutable_error()->mutable_range_key_mismatch();
    mismatch->set_key(SpanOf(request.requests(0)).start);
    *mismatch->add_ranges() = Descriptor();
    return resp;
  }
  const bool write = IsWrite(request.requests(0));
  return write ? ServeWrite(request, deadline) : ServeRead(request, deadline);
}

kvpb::BatchResponse Replica::ServeRead(const kvpb::BatchRequest& request, absl::Time deadline) {
  std::vector<LatchSpan> spans;
  for (const kvpb::RequestUnion& r : request.requests()) {
    RequestSpan s = SpanOf(r);
    spans.push_back({s.start, s.end, /*write=*/false});
  }
  absl::StatusOr<LatchManager::Guard> guard = latches_.Acquire(std::move(spans), deadline);
  if (!guard.ok()) return ErrorResponse(guard.status());
  const bool unsafe = store_->config().testing_unsafe_reads;
  LeaseCheck lease = unsafe ? LeaseCheck{.valid = true} : WaitForLease(deadline);
  if (!lease.valid) {
    kvpb::BatchResponse resp = ErrorResponse(absl::UnavailableError(
        absl::StrCat("range ", range_id_, ": this replica does not hold the lease")));
    *resp.mutable_error()->mutable_not_leaseholder() = lease.not_leaseholder;
    return resp;
  }
  // Every write applied here has a timestamp <= the clock (apply merges it), so a
  // read at Now() sees all of them.
  const Timestamp ts = store_->clock()->Now();
  kvpb::BatchResponse resp;
  for (int i = 0; i < request.requests_size(); ++i) {
    absl::Status s = EvaluateRead(*store_->engine(), request.requests(i), ts, resp.add_responses());
    if (!s.ok()) return ErrorResponse(s, i);
  }
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

kvpb::BatchResponse Replica::ServeWrite(const kvpb::BatchRequest& request, absl::Time deadline) {
  const kvpb::RequestUnion& r = request.requests(0);
  const RequestSpan span = SpanOf(r);
  std::vector<LatchSpan> spans = {{span.start, span.end, /*write=*/true}};
  const kvpb::IdempotencyKey& idem = request.header().idempotency_key();
  const bool has_idem = !idem.client_id().empty();
  std::string record_key;
  if (has_idem) {
    record_key = IdempotencyRecordKey(range_id_, idem.client_id(), idem.sequence());
    spans.push_back({record_key, "", /*write=*/true});
  }
  absl::StatusOr<LatchManager::Guard> guard = latches_.Acquire(std::move(spans), deadline);
  if (!guard.ok()) return ErrorResponse(guard.status());
  LeaseCheck lease = WaitForLease(deadline);
  if (!lease.valid) {
    kvpb::BatchResponse resp = ErrorResponse(absl::UnavailableError(
        absl::StrCat("range ", range_id_, ": this replica does not hold the lease")));
    *resp.mutable_error()->mutable_not_leaseholder() = lease.not_leaseholder;
    return resp;
  }
  Engine* engine = store_->engine();
  if (has_idem) {
    // Applied before? Then answer as the first time, without writing again.
    rangespb::IdempotencyRecord record;
    absl::StatusOr<bool> found = ReadLocalProto(*engine, record_key, &record);
    if (!found.ok()) return ErrorResponse(found.status());
    if (*found) return record.response();
  }
  auto proposal = std::make_shared<Proposal>();
  std::unique_ptr<WriteBatch> batch = engine->NewWriteBatch();
  const Timestamp ts = store_->clock()->Now();
  kvpb::BatchResponse& resp = proposal->response;
  if (absl::Status s = EvaluateWrite(*batch, r, ts, resp.add_responses()); !s.ok()) {
    return ErrorResponse(s, 0);
  }
  if (has_idem) {
    rangespb::IdempotencyRecord record;
    *record.mutable_response() = resp;
    record.set_recorded_unix_ns(absl::ToUnixNanos(absl::Now()));
    WriteLocalProto(*batch, record_key, record);
  }
  rangespb::RaftCommand& cmd = proposal->command;
  cmd.set_command_id(RandomBytes(16));
  cmd.set_proposer_lease_sequence(lease.sequence);
  cmd.set_write_batch(batch->Serialize());
  proposal->latches = std::move(*guard);
  Propose(proposal);
  if (!proposal->done.WaitForNotificationWithDeadline(deadline)) {
    kvpb::BatchResponse err = ErrorResponse(absl::UnknownError(absl::StrCat(
        "range ", range_id_, ": the write was proposed but did not apply before the deadline")));
    err.mutable_error()->mutable_ambiguous()->set_reason("proposal outcome unknown at deadline");
    return err;
  }
  if (!proposal->result.ok()) {
    // Known not applied: safe to retry elsewhere.
    kvpb::BatchResponse err = ErrorResponse(proposal->result);
    LeaseCheck now = CheckLease();
    *err.mutable_error()->mutable_not_leaseholder() = now.not_leaseholder;
    return err;
  }
  return resp;
}

void Replica::Propose(std::shared_ptr<Proposal> proposal) {
  {
    absl::MutexLock lock(&mu_);
    to_propose_.push_back(std::move(proposal));
  }
  store_->EnqueueRange(range_id_);
}

}  // namespace rangedb::ranges
