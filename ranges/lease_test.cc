// Leases under clock steps (docs/leases.md, "The rule"): a lease is a duration on
// the holder's monotonic clock, so stepping the holder's wall clock — backwards, as
// NTP or an operator may — never stretches it. Issue 13, finding 4.
#include <atomic>
#include <cstdint>
#include <functional>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ranges/testing/test_cluster.h"

namespace rangedb::ranges {
namespace {

constexpr uint64_t kUserRange = 3;  // [\x04, KeyMax)

kvpb::BatchRequest Addressed(kvpb::BatchRequest req) {
  req.mutable_header()->set_range_id(kUserRange);
  return req;
}

// The old leaseholder is cut off, and its ticker starves (so check-quorum does not
// make it step down: only the lease stands between it and a stale read); the others
// elect a new leader and write v2; then the old one's wall clock steps back far. A
// read there must not answer v1.
TEST(LeaseTest, WallClockStepBackDoesNotStretchACutOffLease) {
  TestCluster c(3, FastStoreConfig());
  ASSERT_FALSE(c.Send(kUserRange, PutRequest("\x04k", "v1")).has_error());
  const uint64_t old_lh = c.LeaseholderOf(kUserRange);
  ASSERT_NE(old_lh, 0u);

  c.StoreOf(old_lh)->PauseTicksForTesting(true);
  c.SetDropped(old_lh, true);
  // Bounded: the others elect within a few election timeouts.
  bool written = false;
  const absl::Time give_up = absl::Now() + absl::Seconds(20);
  while (!written && absl::Now() < give_up) {
    for (uint64_t id = 1; id <= 3 && !written; ++id) {
      if (id == old_lh) continue;
      kvpb::BatchResponse r = c.StoreOf(id)->Send(Addressed(PutRequest("\x04k", "v2")),
                                                  absl::Now() + absl::Milliseconds(500));
      written = !r.has_error();
    }
  }
  ASSERT_TRUE(written) << "the majority never took over";

  // Far more than everything that happened since the cut: a lease measured on the
  // wall clock would look fresh again.
  c.StepWallClock(old_lh, -absl::Seconds(30));
  kvpb::BatchResponse stale =
      c.StoreOf(old_lh)->Send(Addressed(GetRequest("\x04k")), absl::Now() + absl::Seconds(1));
  ASSERT_TRUE(stale.has_error()) << "stale read served by the cut-off leaseholder: "
                                 << stale.responses(0).get().value();
  EXPECT_TRUE(stale.error().has_not_leaseholder()) << stale.error().message();
  c.SetDropped(old_lh, false);
  c.StoreOf(old_lh)->PauseTicksForTesting(false);
}

// A wall clock stepped back while the leaseholder is healthy changes nothing: it
// keeps its lease and serves.
TEST(LeaseTest, WallClockStepBackOnAHealthyLeaseholderKeepsServing) {
  TestCluster c(3, FastStoreConfig());
  ASSERT_FALSE(c.Send(kUserRange, PutRequest("\x04k", "v1")).has_error());
  const uint64_t lh = c.LeaseholderOf(kUserRange);
  ASSERT_NE(lh, 0u);
  c.StepWallClock(lh, -absl::Seconds(30));
  kvpb::BatchResponse put = c.Send(kUserRange, PutRequest("\x04k", "v2"));
  ASSERT_FALSE(put.has_error()) << put.error().message();
  kvpb::BatchResponse got = c.Send(kUserRange, GetRequest("\x04k"));
  ASSERT_FALSE(got.has_error()) << got.error().message();
  EXPECT_EQ(got.responses(0).get().value(), "v2");
}

// Review finding N4: a node fenced for its clock drains its store
// (Node::FenceForClock -> Store::DrainLeases): its followers stop ticking, so they
// never campaign on their own. But a leader's transfer (MsgTimeoutNow, thesis
// section 3.10) makes the target campaign at once, skipping ticks and pre-vote: a
// drained store must refuse it, or it takes leadership (and the lease) back.
TEST(LeaseTest, ADrainedStoreRefusesLeadershipTransfer) {
  TestCluster c(3, FastStoreConfig());
  ASSERT_FALSE(c.Send(kUserRange, PutRequest("\x04k", "v")).has_error());
  const uint64_t leader = c.LeaseholderOf(kUserRange);
  ASSERT_NE(leader, 0u);
  // The leader transfers to the first other replica of the descriptor
  // (Replica::TransferLeadershipAway): make that one the drained (fenced) store.
  uint64_t target_node = 0, target_replica = 0;
  const kvpb::RangeDescriptor desc = c.StoreOf(leader)->GetReplica(kUserRange)->Descriptor();
  for (const kvpb::ReplicaDescriptor& rd : desc.replicas()) {
    if (rd.node_id() != leader) {
      target_node = rd.node_id();
      target_replica = rd.replica_id();
      break;
    }
  }
  ASSERT_NE(target_node, 0u);
  // Drained as the fence drains it (one pass: it may lead other ranges, which it
  // hands over; what matters here is that it never takes kUserRange).
  (void)c.StoreOf(target_node)->DrainLeases(absl::Now());
  std::shared_ptr<Replica> target = c.StoreOf(target_node)->GetReplica(kUserRange);
  ASSERT_NE(target, nullptr);
  // The leader drains too (SIGTERM): it asks for transfers to the target over and over.
  std::atomic<bool> drained{false};
  std::thread drain([&] {
    (void)c.StoreOf(leader)->DrainLeases(absl::Now() + absl::Seconds(2));
    drained.store(true);
  });
  bool target_led = false;
  while (!drained.load() && !target_led) {
    target_led = target->Status().leader_replica_id == target_replica &&
                 target->Status().replica_id == target_replica;
    absl::SleepFor(absl::Milliseconds(1));
  }
  drain.join();
  target_led = target_led || target->Status().leader_replica_id == target_replica;
  EXPECT_FALSE(target_led) << "the drained store on node " << target_node
                           << " took leadership of range " << kUserRange << " by transfer";
}

// The replica a leader's first transfer goes to (Replica::TransferLeadershipAway
// tries the others in descriptor order): the first one not on the leader's node.
kvpb::ReplicaDescriptor FirstOtherReplica(const Replica& leader_replica, uint64_t leader_node) {
  const kvpb::RangeDescriptor desc = leader_replica.Descriptor();
  for (const kvpb::ReplicaDescriptor& rd : desc.replicas()) {
    if (rd.node_id() != leader_node) return rd;
  }
  return {};
}

// Issue 14 review, F6: Raft refuses proposals while a leadership transfer is pending
// (thesis section 3.10), and ends a transfer the target never completes only after an
// election timeout. A drained or fenced target that drops MsgTimeoutNow in silence
// therefore stalls every write on the leader for an election timeout, once per try
// (a draining leader tries again and again). The target must say no, and the leader
// end the transfer when it hears it. The leader's ticks are paused here, so the
// transfer cannot lapse: only the refusal can end it.
TEST(LeaseTest, ARefusedTransferEndsAtOnceAndTheLeaderTakesWritesAgain) {
  TestCluster c(3, FastStoreConfig());
  ASSERT_FALSE(c.Send(kUserRange, PutRequest("\x04k", "v1")).has_error());
  const uint64_t leader = c.LeaseholderOf(kUserRange);
  ASSERT_NE(leader, 0u);
  std::shared_ptr<Replica> lr = c.StoreOf(leader)->GetReplica(kUserRange);
  ASSERT_NE(lr, nullptr);
  // The first transfer goes to the first other replica: drain that one's store.
  const uint64_t target_node = FirstOtherReplica(*lr, leader).node_id();
  ASSERT_NE(target_node, 0u);
  (void)c.StoreOf(target_node)->DrainLeases(absl::Now());
  const ReplicaStatus before = lr->Status();
  ASSERT_EQ(before.leader_replica_id, before.replica_id);

  c.StoreOf(leader)->PauseTicksForTesting(true);
  lr->TransferLeadershipAway();
  ASSERT_TRUE(WaitFor([&] { return lr->Status().transfers_started > before.transfers_started; },
                      absl::Seconds(5)))
      << "the leader never started the transfer";
  // No tick, so no election timeout: the transfer ends only if the refusal arrives.
  const bool ended = WaitFor(
      [&] {
        const ReplicaStatus s = lr->Status();
        return s.lead_transferee == 0 && s.leader_replica_id == s.replica_id &&
               s.term == before.term;
      },
      absl::Seconds(5));
  const ReplicaStatus after = lr->Status();
  EXPECT_TRUE(ended) << "the leader still waits for the transfer the drained store on node "
                     << target_node << " refused (lead_transferee " << after.lead_transferee
                     << ", leader " << after.leader_replica_id << ", term " << after.term << " was "
                     << before.term << "); proposals are dropped until it lapses";
  c.StoreOf(leader)->PauseTicksForTesting(false);
  // Still the leader, at the same term: it takes the next write itself.
  ASSERT_FALSE(c.Send(kUserRange, PutRequest("\x04k", "v2")).has_error());
  EXPECT_EQ(c.LeaseholderOf(kUserRange), leader);
  EXPECT_EQ(lr->Status().term, before.term);
}

// A replica that cannot answer — retired as corrupt on a live node, or cut off — is
// still in the descriptor (there is no allocator to replace it yet), and its node is
// live. A transfer to it never completes: it lapses after an election timeout, and
// the leader takes no write until then, once per try. A draining leader must send
// its transfers to replicas that answer (review of issue 14, MEDIUM). Here the first
// replica in turn stops answering; the leader must never ask it to take over.
TEST(LeaseTest, ATransferGoesToAReplicaThatAnswers) {
  TestCluster c(3, FastStoreConfig());
  ASSERT_FALSE(c.Send(kUserRange, PutRequest("\x04k", "v1")).has_error());
  const uint64_t leader = c.LeaseholderOf(kUserRange);
  ASSERT_NE(leader, 0u);
  std::shared_ptr<Replica> lr = c.StoreOf(leader)->GetReplica(kUserRange);
  ASSERT_NE(lr, nullptr);
  // The replica the round robin tries first.
  const uint64_t silent = FirstOtherReplica(*lr, leader).replica_id();
  ASSERT_NE(silent, 0u);
  c.SetDropFilter([&](const rangespb::RaftMessageRequest& m) {
    return m.range_id() == kUserRange &&
           (m.message().to() == silent || m.message().from() == silent);
  });
  // Writes keep the range awake (a quiescent range does not tick) for many election
  // timeouts, in which the leader hears nothing from the silent replica.
  for (int i = 0; i < 40; ++i) {
    ASSERT_FALSE(c.Send(kUserRange, PutRequest("\x04k", absl::StrCat("w", i))).has_error());
    absl::SleepFor(absl::Milliseconds(25));
  }
  ASSERT_EQ(lr->Status().leader_replica_id, lr->Status().replica_id)
      << "the leadership moved before the transfer";
  lr->TransferLeadershipAway();
  // A transfer to the silent replica would be pending for an election timeout: polled
  // every few milliseconds, it cannot go unseen.
  std::set<uint64_t> transferees;
  const bool moved = WaitFor(
      [&] {
        const ReplicaStatus s = lr->Status();
        if (s.lead_transferee != 0) transferees.insert(s.lead_transferee);
        return s.leader_replica_id != 0 && s.leader_replica_id != s.replica_id;
      },
      absl::Seconds(20));
  EXPECT_TRUE(moved) << "the leadership never moved";
  EXPECT_EQ(transferees.count(silent), 0u)
      << "the leader asked replica " << silent << ", which does not answer, to take over";
  c.SetDropFilter(nullptr);
}

}  // namespace
}  // namespace rangedb::ranges
