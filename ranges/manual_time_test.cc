// Time injected into ranges/ (docs/design/injected-time.md): three stores on one
// ManualTimeSource, which also drives their hybrid clocks (TimeSourceWallClock). Time
// moves only when a test advances it, so a lease's end and a transaction's expiry
// are reached exactly, without sleeping through them (docs/leases.md, "The rule";
// docs/transactions.md, "Liveness").
//
// Real time appears only as bounded polling (WaitFor) that lets the stores' threads
// act on what the test did — never to make time pass.
#include <functional>
#include <future>
#include <string>

#include "base/check.h"
#include "base/random.h"
#include "base/time_source.h"
#include "gtest/gtest.h"
#include "ranges/evaluate_txn.h"
#include "ranges/testing/test_cluster.h"
#include "storage/lock_table.h"
#include "txn/clock.h"

namespace rangedb::ranges {
namespace {

constexpr uint64_t kUserRange = 3;                        // [\x04, KeyMax)
constexpr absl::Duration kTick = absl::Milliseconds(20);  // FastStoreConfig

kvpb::BatchRequest Addressed(kvpb::BatchRequest req) {
  req.mutable_header()->set_range_id(kUserRange);
  return req;
}

class ManualTimeTest : public ::testing::Test {
 protected:
  ManualTimeTest() : cluster_(3, Config(), {}, &wall_, "", &time_) {}

  StoreConfig Config() {
    StoreConfig c = FastStoreConfig();
    RANGEDB_CHECK(c.tick_interval == kTick);
    // A quiescent leader stops ticking and its lease lapses: keep the range awake.
    c.quiesce_after_idle_ticks = 1'000'000;
    c.testing_before_read = [this](uint64_t range_id) {
      if (range_id == kUserRange && before_read_) before_read_();
    };
    return c;
  }
  absl::Duration LeaseDuration() const { return FastStoreConfig().LeaseDuration(); }
  ReplicaStatus StatusOf(uint64_t node) { return StatusOn(cluster_, node, kUserRange); }

  // Advances time a tick at a time until done() holds (false after max_steps),
  // letting the stores' threads act on each step.
  bool AdvanceUntil(const std::function<bool()>& done, absl::Duration step = kTick,
                    int max_steps = 1000) {
    for (int i = 0; i < max_steps; ++i) {
      if (done()) return true;
      time_.Advance(step);
      (void)WaitFor(done, absl::Milliseconds(5));
    }
    return done();
  }
  // Advances time to `until`, at most a tick per step, each step waiting (in real
  // time) until node holds a valid lease again: the lease never lapses on the way.
  void AdvanceKeepingLease(uint64_t node, absl::Time until) {
    while (time_.Now() < until) {
      time_.Advance(std::min(kTick, until - time_.Now()));
      ASSERT_TRUE(WaitFor([&] { return StatusOf(node).lease_valid; }, absl::Seconds(10)));
    }
  }
  // Sends req to node's store from another thread, advancing time (a tick a step)
  // until it answers: for requests that wait on the clock (a write pushed above it,
  // a lease, a push's wait).
  kvpb::BatchResponse SendPumped(uint64_t node, const kvpb::BatchRequest& req) {
    std::future<kvpb::BatchResponse> f = std::async(std::launch::async, [&, node] {
      return cluster_.StoreOf(node)->Send(req, time_.Now() + absl::Seconds(30));
    });
    const bool answered = AdvanceUntil(
        [&] { return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready; });
    EXPECT_TRUE(answered) << "no answer within 1000 ticks of manual time";
    return f.get();
  }

  // Elects a leaseholder for the user range and writes k = v1 through it; returns
  // the leaseholder's node id.
  uint64_t EstablishLeaseAndWrite() {
    uint64_t lh = 0;
    EXPECT_TRUE(AdvanceUntil([&] { return (lh = cluster_.LeaseholderOf(kUserRange)) != 0; }))
        << "no leaseholder elected";
    if (lh == 0) return 0;
    kvpb::BatchResponse put = SendPumped(lh, Addressed(PutRequest("\x04k", "v1")));
    EXPECT_FALSE(put.has_error()) << put.error().message();
    return lh;
  }
  // Ticks once more and waits until the leaseholder's quorum has answered that
  // tick: then its lease ends exactly LeaseDuration() from now. Stops every ticker,
  // so nothing renews it (and nobody campaigns). Returns the lease's end.
  int64_t FreezeLease(uint64_t lh) {
    time_.Advance(kTick);
    const int64_t end_ns = time_.MonotonicNanos() + absl::ToInt64Nanoseconds(LeaseDuration());
    EXPECT_TRUE(
        WaitFor([&] { return StatusOf(lh).lease_end_mono_ns == end_ns; }, absl::Seconds(10)))
        << "the tick at " << time_.MonotonicNanos() << " did not renew the lease";
    for (uint64_t id = 1; id <= 3; ++id) cluster_.StoreOf(id)->PauseTicksForTesting(true);
    return end_ns;
  }
  // Moves time to the monotonic reading `at_ns`. REQUIRES: not in the past.
  void AdvanceTo(int64_t at_ns) {
    time_.Advance(absl::Nanoseconds(at_ns - time_.MonotonicNanos()));
  }

  ManualTimeSource time_;
  TimeSourceWallClock wall_{&time_};
  std::function<void()> before_read_;  // set before requests run, cleared after
  TestCluster cluster_;
};

// docs/leases.md, "The rule", condition 3: valid while t < contact(Q) + lease_duration,
// on the holder's monotonic clock — here the manual one, to the nanosecond.
TEST_F(ManualTimeTest, LeaseIsValidUntilQuorumContactPlusLeaseDurationAndNotAtIt) {
  const uint64_t lh = EstablishLeaseAndWrite();
  ASSERT_NE(lh, 0u);
  const int64_t end_ns = FreezeLease(lh);

  AdvanceTo(end_ns - 1);
  EXPECT_TRUE(StatusOf(lh).lease_valid) << "1 ns before its end";
  AdvanceTo(end_ns);
  EXPECT_FALSE(StatusOf(lh).lease_valid) << "at its end";
  EXPECT_FALSE(cluster_.StoreOf(lh)->GetReplica(kUserRange)->IsLeaseholder());
}

// A request that arrives once the clock passed the lease's end is refused with a
// hint, not served — although its replica is still the Raft leader (its ticker is
// stopped, so check-quorum cannot make it step down). Before the end, it is served.
TEST_F(ManualTimeTest, ARequestArrivingAfterTheLeaseEndIsRefusedNotServed) {
  const uint64_t lh = EstablishLeaseAndWrite();
  ASSERT_NE(lh, 0u);
  const int64_t end_ns = FreezeLease(lh);

  AdvanceTo(end_ns - 1);
  kvpb::BatchResponse before =
      cluster_.StoreOf(lh)->Send(Addressed(GetRequest("\x04k")), time_.Now() + absl::Seconds(1));
  ASSERT_FALSE(before.has_error()) << before.error().message();
  EXPECT_EQ(before.responses(0).get().value(), "v1");

  AdvanceTo(end_ns);
  ASSERT_EQ(StatusOf(lh).leader_replica_id, StatusOf(lh).replica_id) << "still the leader";
  // The replica waits (kLeaseWait of manual time) for a lease it might get back.
  kvpb::BatchResponse after = SendPumped(lh, Addressed(GetRequest("\x04k")));
  ASSERT_TRUE(after.has_error()) << "served after the lease's end: "
                                 << after.responses(0).get().value();
  EXPECT_TRUE(after.error().has_not_leaseholder()) << after.error().message();
}

// docs/leases.md, "Why reads at the leaseholder are linearizable": the lease is
// checked again after the read. The clock passes the lease's end while the read is
// evaluated: the read is refused, not answered.
TEST_F(ManualTimeTest, AReadDuringWhichTheLeaseEndsIsRefused) {
  const uint64_t lh = EstablishLeaseAndWrite();
  ASSERT_NE(lh, 0u);
  const int64_t end_ns = FreezeLease(lh);
  AdvanceTo(end_ns - 1);
  ASSERT_TRUE(StatusOf(lh).lease_valid);

  before_read_ = [&] { AdvanceTo(end_ns); };
  kvpb::BatchResponse r =
      cluster_.StoreOf(lh)->Send(Addressed(GetRequest("\x04k")), time_.Now() + absl::Seconds(1));
  before_read_ = nullptr;
  EXPECT_EQ(time_.MonotonicNanos(), end_ns) << "the read never ran";
  ASSERT_TRUE(r.has_error()) << "answered after the lease lapsed: " << r.responses(0).get().value();
  EXPECT_TRUE(r.error().has_not_leaseholder()) << r.error().message();
}

// docs/transactions.md, "Liveness": a record whose last heartbeat is more than
// kTxnExpiration old on the judging node's clock is abandoned, and an abort-push by
// a lower-priority pusher — which otherwise waits — aborts it. At exactly
// kTxnExpiration it is still alive and the pusher waits.
TEST_F(ManualTimeTest, APusherAbortsATransactionWhoseHeartbeatExpired) {
  const uint64_t lh = EstablishLeaseAndWrite();
  ASSERT_NE(lh, 0u);
  Store* store = cluster_.StoreOf(lh);

  kvpb::Transaction holder;
  holder.set_id(RandomBytes(16));
  holder.set_anchor_key("\x04h");
  holder.set_priority(3);  // high: a low-priority pusher must wait for it
  const Timestamp start = store->clock()->Now();
  TimestampToProto(start, holder.mutable_start_timestamp());
  TimestampToProto(start, holder.mutable_read_timestamp());
  TimestampToProto(start, holder.mutable_write_timestamp());
  TimestampToProto(Timestamp{start.wall_ns + kTestMaxOffsetNanos, 0},
                   holder.mutable_uncertainty_limit());
  kvpb::BatchRequest hb;
  *hb.mutable_header()->mutable_txn() = holder;
  hb.add_requests()->mutable_heartbeat_txn()->set_key(holder.anchor_key());
  kvpb::BatchResponse created = SendPumped(lh, Addressed(hb));
  ASSERT_FALSE(created.has_error()) << created.error().message();
  absl::StatusOr<std::optional<kvpb::Transaction>> record =
      ReadTxnRecord(*store->engine(), holder.anchor_key(), holder.id());
  ASSERT_TRUE(record.ok() && record->has_value()) << "no record written";
  const int64_t heartbeat_ns = TimestampFromProto((*record)->last_heartbeat()).wall_ns;

  // The clock reaches heartbeat + kTxnExpiration, with the lease kept all the way.
  AdvanceKeepingLease(lh, absl::FromUnixNanos(heartbeat_ns) + kTxnExpiration);
  ASSERT_EQ(time_.Now(), absl::FromUnixNanos(heartbeat_ns) + kTxnExpiration);

  kvpb::BatchRequest push;
  kvpb::PushTxnRequest* p = push.add_requests()->mutable_push_txn();
  p->set_key(holder.anchor_key());
  *p->mutable_pushee() = holder;
  p->mutable_pusher()->set_priority(1);
  p->set_push_type(kvpb::PUSH_ABORT);
  std::future<kvpb::BatchResponse> pushed = std::async(std::launch::async, [&] {
    return store->Send(Addressed(push), time_.Now() + absl::Seconds(30));
  });
  // Time stands still: whatever the pusher does, it does at the boundary.
  EXPECT_EQ(pushed.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout)
      << "the holder was aborted with its heartbeat exactly kTxnExpiration old";
  EXPECT_EQ(store->metrics().txn_aborted_expired.load(), 0u);

  // One tick later the heartbeat is too old; the pusher's next look aborts it.
  ASSERT_TRUE(AdvanceUntil([&] {
    return pushed.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  })) << "the pusher never aborted the expired holder";
  kvpb::BatchResponse r = pushed.get();
  ASSERT_FALSE(r.has_error()) << r.error().message();
  ASSERT_EQ(r.responses_size(), 1);
  EXPECT_TRUE(r.responses(0).push_txn().pushed());
  EXPECT_EQ(r.responses(0).push_txn().pushee().status(), kvpb::ABORTED);
  EXPECT_EQ(store->metrics().txn_aborted_expired.load(), 1u);
}

}  // namespace
}  // namespace rangedb::ranges
