// What a proposer is told about its proposal when the log moves under it
// (docs/replication.md, "Proposal outcomes"): a write whose entry may be inside a
// snapshot is ambiguous, never "not applied"; a proposal whose log position was
// taken by another command is forgotten once that command applied.
#include <functional>
#include <thread>

#include "base/limits.h"
#include "gtest/gtest.h"
#include "ranges/store.h"
#include "ranges/testing/test_cluster.h"

namespace rangedb::ranges {
namespace {

constexpr uint64_t kUserRange = 3;  // [\x04, KeyMax)

ReplicaStatus StatusOn(TestCluster& c, uint64_t node_id) {
  return StatusOn(c, node_id, kUserRange);
}

// Sends req to the user range through the nodes other than `avoid` (an isolated node
// would hold a write until its deadline), retrying until one accepts it.
kvpb::BatchResponse SendAvoiding(TestCluster& c, uint64_t avoid, kvpb::BatchRequest req) {
  req.mutable_header()->set_range_id(kUserRange);
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  kvpb::BatchResponse resp;
  while (absl::Now() < deadline) {
    for (uint64_t id = 1; id <= 3; ++id) {
      std::shared_ptr<Store> s = c.StoreRef(id);
      if (id == avoid || s == nullptr) continue;
      resp = s->Send(req, absl::Now() + absl::Seconds(2));
      if (!resp.has_error()) return resp;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return resp;
}

uint64_t LeaseholderOtherThan(TestCluster& c, uint64_t avoid) {
  for (uint64_t id = 1; id <= 3; ++id) {
    if (id != avoid && StatusOn(c, id).lease_valid) return id;
  }
  return 0;
}

// The old leaseholder proposes W; the other replicas commit and apply it without it,
// truncate their logs past it, and the old leaseholder catches up from a snapshot that
// holds W. Its proposal never applied locally, so its outcome is unknown there: the
// writer must hear "ambiguous" (or success), never "not applied" — which would invite
// a retry that applies a non-idempotent write twice.
TEST(ReplicaProposalsTest, WriteCoveredBySnapshotIsAmbiguousNeverNotApplied) {
  StoreConfig cfg = FastStoreConfig();
  cfg.raft_log_truncate_threshold_entries = 10;
  TestCluster c(3, cfg);
  ASSERT_FALSE(c.Send(kUserRange, PutRequest("\x04k0", "v")).has_error());
  const uint64_t old_lh = c.LeaseholderOf(kUserRange);
  ASSERT_NE(old_lh, 0u);

  // 1. The leaseholder's appends reach the followers; their acknowledgements do not come
  //    back (heartbeats do, so it keeps its lease and proposes W).
  c.SetDropFilter([old_lh](const rangespb::RaftMessageRequest& m) {
    return m.to_node_id() == old_lh && m.message().type() == raftpb::MSG_APP_RESP;
  });
  kvpb::BatchResponse w_resp;
  std::thread writer([&] {
    kvpb::BatchRequest w = PutRequest("\x04w", "written");
    w.mutable_header()->set_range_id(kUserRange);
    w_resp = c.StoreRef(old_lh)->Send(w, absl::Now() + absl::Seconds(60));
  });
  ASSERT_TRUE(WaitFor(
      [&] {
        const ReplicaStatus lh = StatusOn(c, old_lh);
        if (lh.proposals_in_flight == 0) return false;
        for (uint64_t id = 1; id <= 3; ++id) {
          if (StatusOn(c, id).last_log_index < lh.last_log_index) return false;
        }
        return true;
      },
      absl::Seconds(10)))
      << "the followers never received W";
  const uint64_t w_index = StatusOn(c, old_lh).last_log_index;

  // 2. Cut the old leaseholder off. The others elect a leader, commit and apply W, and
  //    write on until their logs are truncated past it.
  c.SetDropFilter(nullptr);
  c.SetDropped(old_lh, true);
  uint64_t new_lh = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        kvpb::BatchResponse r = SendAvoiding(c, old_lh, PutRequest("\x04pad", "v"));
        EXPECT_FALSE(r.has_error()) << r.error().message();
        new_lh = LeaseholderOtherThan(c, old_lh);
        return new_lh != 0 && StatusOn(c, new_lh).first_log_index > w_index;
      },
      absl::Seconds(30)))
      << "the new leader never truncated its log past W";

  // 3. The old leaseholder returns and installs a snapshot that holds W.
  c.SetDropped(old_lh, false);
  const uint64_t target = StatusOn(c, new_lh).applied_index;
  ASSERT_TRUE(
      WaitFor([&] { return StatusOn(c, old_lh).applied_index >= target; }, absl::Seconds(20)));

  // 4. A newer lease applies on the old leaseholder through its log.
  c.StopNode(new_lh);
  kvpb::BatchResponse after = c.Send(kUserRange, PutRequest("\x04"
                                                            "after",
                                                            "v"));
  ASSERT_FALSE(after.has_error()) << after.error().message();
  writer.join();

  // W did apply...
  kvpb::BatchResponse got = c.Send(kUserRange, GetRequest("\x04w"));
  ASSERT_FALSE(got.has_error()) << got.error().message();
  EXPECT_EQ(got.responses(0).get().value(), "written");
  // ... but not on the old leaseholder, which only learnt of it through the snapshot:
  // its writer must hear "ambiguous" ("not applied" would be false).
  ASSERT_TRUE(w_resp.has_error());
  EXPECT_TRUE(w_resp.error().has_ambiguous())
      << "W applied but its writer was told: " << w_resp.error().message();
}

// A replica wins an election while its appends reach no one: its lease request stays in
// its own log only. Another leader then overwrites that part of the log. Once the
// replica applied the other leader's entries at those positions, its lease request can
// never apply, and it must not stay in flight (a leader with anything in flight never
// quiesces).
TEST(ReplicaProposalsTest, OverwrittenLeaseRequestDoesNotStayInFlight) {
  TestCluster c(3, FastStoreConfig());
  ASSERT_FALSE(c.Send(kUserRange, PutRequest("\x04k0", "v")).has_error());
  const uint64_t old_lh = c.LeaseholderOf(kUserRange);
  ASSERT_NE(old_lh, 0u);
  const uint64_t x = old_lh == 1 ? 2 : 1;  // will lead alone
  const uint64_t z = 6 - old_lh - x;       // the third node
  const uint64_t old_term = StatusOn(c, x).term;

  // X wins the next election (Z's campaigns go nowhere), but nothing it appends leaves it.
  c.SetDropFilter([x, z](const rangespb::RaftMessageRequest& m) {
    const raftpb::MessageType t = m.message().type();
    if (m.from_node_id() == x && t == raftpb::MSG_APP) return true;
    return m.from_node_id() == z && (t == raftpb::MSG_VOTE || t == raftpb::MSG_PRE_VOTE);
  });
  c.SetDropped(old_lh, true);
  ASSERT_TRUE(WaitFor(
      [&] {
        const ReplicaStatus s = StatusOn(c, x);
        return s.term > old_term && s.leader_replica_id == s.replica_id &&
               s.proposals_in_flight > 0;
      },
      absl::Seconds(20)))
      << "node " << x << " never led with a lease request in flight";

  // X is cut off; the old leaseholder and Z elect a leader whose entries overwrite X's.
  c.SetDropped(x, true);
  c.SetDropFilter(nullptr);
  c.SetDropped(old_lh, false);
  kvpb::BatchResponse put = SendAvoiding(c, x, PutRequest("\x04k1", "v"));
  ASSERT_FALSE(put.has_error()) << put.error().message();

  // X returns as a follower and applies the other leader's log past its own proposal.
  c.SetDropped(x, false);
  kvpb::BatchResponse put2 = SendAvoiding(c, x, PutRequest("\x04k2", "v"));
  ASSERT_FALSE(put2.has_error()) << put2.error().message();
  const uint64_t target = StatusOn(c, LeaseholderOtherThan(c, x)).applied_index;
  ASSERT_TRUE(WaitFor([&] { return StatusOn(c, x).applied_index >= target; }, absl::Seconds(20)));
  EXPECT_TRUE(WaitFor([&] { return StatusOn(c, x).proposals_in_flight == 0; }, absl::Seconds(5)))
      << "node " << x << " still has " << StatusOn(c, x).proposals_in_flight
      << " proposals in flight";
}

// A command larger than limits::kMaxRaftCommandBytes is refused before it is proposed
// (docs/limits.md): the request limits keep every command below it, so the padding
// here stands in for a miscount. The refusal is definite (never ambiguous, never
// "try another replica"), nothing applies, and the range goes on serving.
TEST(ReplicaProposalsTest, ACommandLargerThanTheRaftLimitIsRefusedBeforeItIsProposed) {
  StoreConfig cfg = FastStoreConfig();
  cfg.testing_before_propose = [](uint64_t range_id, rangespb::RaftCommand* command) {
    if (range_id == kUserRange && command->write_batch().find("oversized") != std::string::npos) {
      command->mutable_write_batch()->append(limits::kMaxRaftCommandBytes, 'p');
    }
  };
  TestCluster c(3, cfg);
  ASSERT_FALSE(c.Send(kUserRange, PutRequest("\x04k0", "v")).has_error());
  // Straight to the leaseholder, once (TestCluster::Send retries every error).
  uint64_t leaseholder = 0;
  ASSERT_TRUE(
      WaitFor([&] { return (leaseholder = LeaseholderOtherThan(c, 0)) != 0; }, absl::Seconds(10)));
  kvpb::BatchRequest oversized = PutRequest("\x04oversized", "v");
  oversized.mutable_header()->set_range_id(kUserRange);
  kvpb::BatchResponse r = c.StoreRef(leaseholder)->Send(oversized, absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(r.has_error()) << "a command over the Raft limit was acknowledged";
  EXPECT_EQ(r.error().code(), static_cast<int>(absl::StatusCode::kInvalidArgument))
      << r.error().message();
  EXPECT_NE(r.error().message().find("kMaxRaftCommandBytes"), std::string::npos)
      << r.error().message();
  EXPECT_FALSE(r.error().has_ambiguous());
  EXPECT_FALSE(r.error().has_not_leaseholder());
  uint64_t refused = 0;
  for (uint64_t id = 1; id <= 3; ++id) {
    std::shared_ptr<Store> s = c.StoreRef(id);
    if (s != nullptr) refused += s->metrics().proposals_too_large.load();
  }
  EXPECT_EQ(refused, 1u);
  kvpb::BatchResponse got = c.Send(kUserRange, GetRequest("\x04oversized"));
  ASSERT_FALSE(got.has_error()) << got.error().message();
  EXPECT_FALSE(got.responses(0).get().found());
  EXPECT_FALSE(c.Send(kUserRange, PutRequest("\x04k1", "v")).has_error());
}

}  // namespace
}  // namespace rangedb::ranges
