// Scenario tests: whole groups of replicas on the simulated network of
// raft/sim/cluster.h, modelled on the classic Raft lab suite. Every test also asserts
// that the cluster's continuous invariant checkers (election safety, log matching,
// leader completeness, state machine safety, exactly-once apply) found nothing.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "raft/sim/cluster.h"

namespace rangedb::raft::sim {
namespace {

std::vector<uint64_t> Ids(int n) {
  std::vector<uint64_t> ids;
  for (int i = 1; i <= n; ++i) ids.push_back(static_cast<uint64_t>(i));
  return ids;
}

class ScenarioTest : public ::testing::Test {
 protected:
  void Start(int n, ClusterOptions opts = {}, uint64_t seed = 1) {
    c_ = std::make_unique<Cluster>(Ids(n), opts, seed);
  }
  void TearDown() override {
    if (c_) {
      EXPECT_TRUE(c_->violations().empty()) << c_->violations().front();
    }
  }
  // Waits for a leader and checks every live node that has one agrees on it.
  uint64_t CheckOneLeader() {
    EXPECT_TRUE(c_->RunUntil([&] { return c_->Leader().has_value(); }, 300));
    std::optional<uint64_t> l = c_->Leader();
    EXPECT_TRUE(l.has_value());
    return l.value_or(0);
  }
  uint64_t Term(uint64_t id) { return c_->raw(id).raft().term(); }
  uint64_t OtherThan(uint64_t id, int n) { return id % static_cast<uint64_t>(n) + 1; }

  std::unique_ptr<Cluster> c_;
};

// --- §5.2 Leader election ---

TEST_F(ScenarioTest, InitialElection) {
  Start(3);
  const uint64_t leader = CheckOneLeader();
  const uint64_t term = Term(leader);
  EXPECT_GE(term, 1u);
  // With no failures the leader keeps its term: heartbeats suppress elections.
  c_->RunTicks(100);
  EXPECT_EQ(c_->Leader(), leader);
  for (uint64_t id : c_->Ids()) EXPECT_EQ(Term(id), term);
}

TEST_F(ScenarioTest, ReElection) {
  Start(3);
  const uint64_t leader1 = CheckOneLeader();
  // The leader leaves: a new one is elected among the other two.
  c_->Isolate(leader1);
  ASSERT_TRUE(c_->RunUntil(
      [&] {
        auto l = c_->Leader();
        return l && *l != leader1;
      },
      300));
  // The old leader loses quorum contact and steps down within an election timeout
  // (check-quorum).
  EXPECT_TRUE(
      c_->RunUntil([&] { return c_->raw(leader1).raft().state() != StateType::kLeader; }, 20));
  // It rejoins: still exactly one leader, not disrupted (pre-vote).
  const uint64_t leader2 = *c_->Leader();
  c_->Reconnect(leader1);
  c_->RunTicks(50);
  EXPECT_EQ(c_->Leader(), leader2);
  // No quorum: no leader.
  const uint64_t other = leader2 % 3 + 1;
  c_->Isolate(leader2);
  c_->Isolate(other);
  c_->RunTicks(60);
  EXPECT_FALSE(c_->Leader().has_value());
  // A quorum again: a leader.
  c_->Reconnect(other);
  CheckOneLeader();
}

TEST_F(ScenarioTest, ManyElections) {
  Start(7, {}, 7);
  CheckOneLeader();
  for (int iter = 0; iter < 10; ++iter) {
    // Cut three random nodes; the remaining four must elect or keep a leader.
    std::vector<uint64_t> cut;
    while (cut.size() < 3) {
      const uint64_t id = 1 + c_->rng().Uniform(7);
      if (std::find(cut.begin(), cut.end(), id) == cut.end()) cut.push_back(id);
    }
    for (uint64_t id : cut) c_->Isolate(id);
    ASSERT_TRUE(c_->RunUntil(
        [&] {
          auto l = c_->Leader();
          return l && std::find(cut.begin(), cut.end(), *l) == cut.end();
        },
        300))
        << "iteration " << iter;
    c_->Heal();
  }
  CheckOneLeader();
}

// --- §5.3 Log replication ---

TEST_F(ScenarioTest, BasicAgree) {
  Start(3);
  CheckOneLeader();
  std::optional<uint64_t> prev;
  for (int i = 0; i < 5; ++i) {
    std::optional<uint64_t> index = c_->One(absl::StrCat("cmd", i), 3);
    ASSERT_TRUE(index.has_value());
    if (prev) {
      EXPECT_EQ(*index, *prev + 1);
    }
    prev = index;
  }
}

TEST_F(ScenarioTest, AgreeDespiteFollowerFailure) {
  Start(3);
  const uint64_t leader = CheckOneLeader();
  ASSERT_TRUE(c_->One("a", 3));
  const uint64_t follower = OtherThan(leader, 3);
  c_->Isolate(follower);
  // The other two still agree.
  ASSERT_TRUE(c_->One("b", 2));
  ASSERT_TRUE(c_->One("c", 2));
  // The follower comes back and catches up.
  c_->Reconnect(follower);
  ASSERT_TRUE(c_->One("d", 3));
  EXPECT_EQ(c_->state_machine(follower).order, (std::vector<std::string>{"a", "b", "c", "d"}));
}

TEST_F(ScenarioTest, NoAgreementWithoutMajority) {
  Start(5);
  const uint64_t leader = CheckOneLeader();
  ASSERT_TRUE(c_->One("a", 5));
  // Three of five followers leave.
  std::vector<uint64_t> gone;
  for (uint64_t id = 1; id <= 5 && gone.size() < 3; ++id) {
    if (id != leader) gone.push_back(id);
  }
  for (uint64_t id : gone) c_->Isolate(id);
  ASSERT_TRUE(c_->Propose(leader, "lost").ok());
  const uint64_t index = c_->raw(leader).raft().log().LastIndex();
  c_->RunTicks(40);
  EXPECT_EQ(c_->NumApplied(index, nullptr), 0);
  // Repair: the group recovers and commits new entries on everyone.
  c_->Heal();
  ASSERT_TRUE(c_->One("b", 5));
}

TEST_F(ScenarioTest, RejoinOfPartitionedLeader) {
  Start(3);
  const uint64_t leader1 = CheckOneLeader();
  ASSERT_TRUE(c_->One("a", 3));
  // The leader is partitioned and takes proposals it can never commit.
  c_->Isolate(leader1);
  for (int i = 0; i < 3; ++i) (void)c_->Propose(leader1, absl::StrCat("orphan", i));
  // The rest elect a new leader and commit.
  ASSERT_TRUE(c_->One("b", 2));
  const uint64_t leader2 = *c_->Leader();
  // The new leader is partitioned too; the old one returns.
  c_->Isolate(leader2);
  c_->Reconnect(leader1);
  ASSERT_TRUE(c_->One("c", 2));
  c_->Heal();
  ASSERT_TRUE(c_->One("d", 3));
  for (uint64_t id : c_->Ids()) {
    EXPECT_EQ(c_->state_machine(id).order, (std::vector<std::string>{"a", "b", "c", "d"}));
  }
}

// Fast backtracking (§5.3, "the protocol can be optimized to reduce the number of
// rejected AppendEntries"): followers with many conflicting entries converge.
TEST_F(ScenarioTest, FastBackupOverManyConflictingEntries) {
  Start(5, {}, 3);
  const uint64_t leader1 = CheckOneLeader();
  ASSERT_TRUE(c_->One("start", 5));
  // Leader plus one follower in a minority; 50 uncommittable entries.
  const uint64_t f1 = OtherThan(leader1, 5);
  std::vector<uint64_t> rest;
  for (uint64_t id = 1; id <= 5; ++id) {
    if (id != leader1 && id != f1) rest.push_back(id);
  }
  c_->Partition({{leader1, f1}, rest});
  for (int i = 0; i < 50; ++i) (void)c_->Propose(leader1, absl::StrCat("x", i));
  // The majority commits 50 entries of its own.
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(c_->One(absl::StrCat("y", i), 3));
  // Within the majority, the new leader and one follower get 50 more uncommitted ones.
  const uint64_t leader2 = *c_->Leader();
  uint64_t other = 0;
  for (uint64_t id : rest) {
    if (id != leader2) other = id;
  }
  std::vector<uint64_t> minority2;
  for (uint64_t id : rest) {
    if (id != leader2 && id != other) minority2.push_back(id);
  }
  c_->Partition({{leader2, other}, minority2});
  for (int i = 0; i < 50; ++i) (void)c_->Propose(leader2, absl::StrCat("z", i));
  // The original minority rejoins the rest of the old majority and commits.
  std::vector<uint64_t> group3 = minority2;
  group3.push_back(leader1);
  group3.push_back(f1);
  c_->Partition({group3, {leader2, other}});
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(c_->One(absl::StrCat("w", i), 3));
  // Everyone together: all converge quickly despite conflicting suffixes.
  c_->Heal();
  ASSERT_TRUE(c_->One("end", 5, 200));
}

// --- Persistence (§5.1: state on all servers is updated on stable storage before
// responding to RPCs) ---

TEST_F(ScenarioTest, PersistRestartAll) {
  Start(3);
  CheckOneLeader();
  ASSERT_TRUE(c_->One("a", 3));
  for (uint64_t id : c_->Ids()) c_->Crash(id);
  for (uint64_t id : c_->Ids()) c_->Restart(id);
  ASSERT_TRUE(c_->One("b", 3));
  for (uint64_t id : c_->Ids()) {
    EXPECT_EQ(c_->state_machine(id).order, (std::vector<std::string>{"a", "b"}));
  }
}

TEST_F(ScenarioTest, PersistCrashLeaderAndFollowers) {
  Start(5, {}, 11);
  for (int iter = 0; iter < 8; ++iter) {
    const uint64_t leader = CheckOneLeader();
    ASSERT_TRUE(c_->One(absl::StrCat("c", iter), 5 - (iter % 2)));
    c_->Crash(leader);
    if (iter % 2 == 0) c_->Crash(OtherThan(leader, 5));
    ASSERT_TRUE(c_->One(absl::StrCat("d", iter), iter % 2 == 0 ? 3 : 4));
    for (uint64_t id : c_->Ids()) c_->Restart(id);
  }
  ASSERT_TRUE(c_->One("end", 5));
}

TEST_F(ScenarioTest, PersistPartitionedLeaderAndCrashes) {
  Start(3, {}, 5);
  const uint64_t leader = CheckOneLeader();
  ASSERT_TRUE(c_->One("a", 3));
  // Leader partitioned with uncommitted proposals, then the rest crash and restart.
  c_->Isolate(leader);
  (void)c_->Propose(leader, "orphan");
  const uint64_t f1 = OtherThan(leader, 3), f2 = OtherThan(f1, 3);
  ASSERT_TRUE(c_->One("b", 2));
  c_->Crash(f1);
  c_->Crash(f2);
  c_->Reconnect(leader);
  c_->Restart(f1);
  c_->Restart(f2);
  ASSERT_TRUE(c_->One("c", 3));
  c_->Crash(leader);
  ASSERT_TRUE(c_->One("d", 2));
  c_->Restart(leader);
  ASSERT_TRUE(c_->One("e", 3));
  EXPECT_EQ(c_->state_machine(leader).order, (std::vector<std::string>{"a", "b", "c", "d", "e"}));
}

// --- §5.4.2 Committing entries from previous terms (Figure 8) ---

void Figure8(Cluster& c, bool unreliable, int iterations) {
  if (unreliable) c.SetNetwork({.drop = 0.1, .duplicate = 0.05, .max_delay_ticks = 3});
  int up = 5;
  for (int iter = 0; iter < iterations; ++iter) {
    for (uint64_t id : c.UpIds()) {
      if (c.raw(id).raft().state() == StateType::kLeader) {
        (void)c.Propose(id, absl::StrCat("f", iter, "-", id));
      }
    }
    c.RunTicks(1 + static_cast<int>(c.rng().Uniform(c.rng().Chance(0.1) ? 30 : 3)));
    if (std::optional<uint64_t> l = c.Leader(); l && c.rng().Chance(0.5)) {
      c.Crash(*l);
      --up;
    }
    if (up < 3) {
      const uint64_t id = 1 + c.rng().Uniform(5);
      if (!c.IsUp(id)) {
        c.Restart(id);
        ++up;
      }
    }
  }
  c.SetNetwork({});
  for (uint64_t id : c.Ids()) c.Restart(id);
}

TEST_F(ScenarioTest, Figure8Reliable) {
  Start(5, {}, 8);
  CheckOneLeader();
  Figure8(*c_, false, 300);
  ASSERT_TRUE(c_->One("end", 5, 1000));
}

TEST_F(ScenarioTest, Figure8Unreliable) {
  Start(5, {}, 88);
  CheckOneLeader();
  Figure8(*c_, true, 300);
  ASSERT_TRUE(c_->One("end", 5, 1000));
}

// --- Churn: random crashes, restarts, partitions and proposals everywhere ---

void Churn(Cluster& c, bool unreliable, int iterations) {
  if (unreliable) c.SetNetwork({.drop = 0.1, .duplicate = 0.1, .max_delay_ticks = 4});
  for (int iter = 0; iter < iterations; ++iter) {
    for (uint64_t id : c.UpIds()) (void)c.Propose(id, absl::StrCat("k", iter, "-", id));
    c.RunTicks(1 + static_cast<int>(c.rng().Uniform(5)));
    const uint64_t id = 1 + c.rng().Uniform(5);
    const uint64_t action = c.rng().Uniform(10);
    if (action < 2) {
      c.Crash(id);
    } else if (action < 5) {
      c.Restart(id);
    } else if (action < 7) {
      c.Isolate(id);
    } else {
      c.Reconnect(id);
    }
  }
  c.SetNetwork({});
  c.Heal();
  for (uint64_t id : c.Ids()) c.Restart(id);
}

TEST_F(ScenarioTest, ChurnReliable) {
  Start(5, {}, 21);
  CheckOneLeader();
  Churn(*c_, false, 200);
  ASSERT_TRUE(c_->One("end", 5, 1000));
  // Every acknowledged proposal made it everywhere.
  for (uint64_t id : c_->Ids()) {
    for (const std::string& cmd : c_->acked()) {
      EXPECT_TRUE(c_->state_machine(id).seen.count(cmd)) << cmd << " missing on n" << id;
    }
  }
}

TEST_F(ScenarioTest, ChurnUnreliable) {
  Start(5, {}, 22);
  CheckOneLeader();
  Churn(*c_, true, 200);
  ASSERT_TRUE(c_->One("end", 5, 1000));
  for (uint64_t id : c_->Ids()) {
    for (const std::string& cmd : c_->acked()) {
      EXPECT_TRUE(c_->state_machine(id).seen.count(cmd)) << cmd << " missing on n" << id;
    }
  }
}

// --- §7 Log compaction and InstallSnapshot ---

ClusterOptions SnapshotOptions() {
  ClusterOptions o;
  o.snapshot_every = 10;
  o.compact_keep = 2;
  return o;
}

TEST_F(ScenarioTest, SnapshotInstallReliable) {
  Start(3, SnapshotOptions(), 31);
  const uint64_t leader = CheckOneLeader();
  const uint64_t lagging = OtherThan(leader, 3);
  c_->Isolate(lagging);
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(c_->One(absl::StrCat("s", i), 2));
  // The leader compacted what the lagging follower needs.
  ASSERT_GT(c_->storage(*c_->Leader()).FirstIndex().value(), 10u);
  c_->Reconnect(lagging);
  ASSERT_TRUE(c_->One("after", 3));
  EXPECT_GT(c_->storage(lagging).FirstIndex().value(), 10u);  // installed a snapshot
  EXPECT_EQ(c_->state_machine(lagging).order.size(), 61u);
}

TEST_F(ScenarioTest, SnapshotInstallUnreliable) {
  Start(3, SnapshotOptions(), 32);
  CheckOneLeader();
  c_->SetNetwork({.drop = 0.15, .duplicate = 0.1, .max_delay_ticks = 3});
  for (int round = 0; round < 6; ++round) {
    const uint64_t victim = 1 + c_->rng().Uniform(3);
    c_->Isolate(victim);
    for (int i = 0; i < 15; ++i) (void)c_->One(absl::StrCat("u", round, "-", i), 2, 200);
    c_->Reconnect(victim);
    c_->RunTicks(20);
  }
  c_->SetNetwork({});
  ASSERT_TRUE(c_->One("end", 3, 1000));
}

TEST_F(ScenarioTest, SnapshotInstallWithCrashes) {
  Start(5, SnapshotOptions(), 33);
  CheckOneLeader();
  for (int round = 0; round < 8; ++round) {
    const uint64_t victim = 1 + c_->rng().Uniform(5);
    c_->Crash(victim);
    for (int i = 0; i < 15; ++i) (void)c_->One(absl::StrCat("c", round, "-", i), 3, 200);
    c_->Restart(victim);
    if (std::optional<uint64_t> l = c_->Leader(); l && round % 3 == 0) c_->Crash(*l);
    c_->RunTicks(30);
    for (uint64_t id : c_->Ids()) c_->Restart(id);
  }
  ASSERT_TRUE(c_->One("end", 5, 1000));
  for (uint64_t id : c_->Ids()) {
    EXPECT_EQ(c_->state_machine(id).order, c_->state_machine(1).order);
  }
}

// --- Leadership transfer (thesis §3.10) ---

TEST_F(ScenarioTest, LeadershipTransfer) {
  Start(3, {}, 41);
  const uint64_t leader = CheckOneLeader();
  ASSERT_TRUE(c_->One("a", 3));
  const uint64_t target = OtherThan(leader, 3);
  c_->raw(leader).TransferLeader(target);
  c_->RunTicks(5);
  EXPECT_EQ(c_->Leader(), target);
  ASSERT_TRUE(c_->One("b", 3));
}

TEST_F(ScenarioTest, LeadershipTransferToLaggingFollower) {
  Start(3, {}, 42);
  const uint64_t leader = CheckOneLeader();
  const uint64_t target = OtherThan(leader, 3);
  c_->Isolate(target);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(c_->One(absl::StrCat("x", i), 2));
  c_->Reconnect(target);
  // The leader first brings the target up to date, then sends TimeoutNow.
  c_->raw(leader).TransferLeader(target);
  ASSERT_TRUE(c_->RunUntil([&] { return c_->Leader() == target; }, 30));
  EXPECT_EQ(c_->state_machine(target).order.size(), 20u);
}

TEST_F(ScenarioTest, LeadershipTransferToUnreachableNodeAborts) {
  Start(3, {}, 43);
  const uint64_t leader = CheckOneLeader();
  const uint64_t target = OtherThan(leader, 3);
  c_->Isolate(target);
  c_->raw(leader).TransferLeader(target);
  c_->Tick();
  // Proposals are refused while the transfer is pending...
  EXPECT_FALSE(c_->Propose(leader, "refused").ok());
  // ...and the transfer is abandoned after an election timeout.
  c_->RunTicks(15);
  EXPECT_EQ(c_->raw(leader).raft().lead_transferee(), kNone);
  EXPECT_EQ(c_->Leader(), leader);
  ASSERT_TRUE(c_->One("ok", 2));
}

// --- §6 Membership: learners, joint consensus ---

raftpb::ConfChange Change(std::initializer_list<std::pair<raftpb::ConfChangeType, uint64_t>> cs,
                          raftpb::ConfChangeTransition t = raftpb::CONF_CHANGE_TRANSITION_AUTO) {
  raftpb::ConfChange cc;
  cc.set_transition(t);
  for (const auto& [type, id] : cs) {
    raftpb::ConfChangeSingle* s = cc.add_changes();
    s->set_type(type);
    s->set_node_id(id);
  }
  return cc;
}

// Proposes cc at the leader until the node's applied configuration satisfies pred.
bool ChangeConfig(Cluster& c, const raftpb::ConfChange& cc,
                  const std::function<bool(const raftpb::ConfState&)>& pred) {
  for (int attempt = 0; attempt < 10; ++attempt) {
    std::optional<uint64_t> l = c.Leader();
    if (l) (void)c.ProposeConfChange(*l, cc);
    if (c.RunUntil(
            [&] {
              std::optional<uint64_t> l2 = c.Leader();
              return l2 && pred(c.conf_state(*l2));
            },
            50)) {
      return true;
    }
  }
  return false;
}

TEST_F(ScenarioTest, LearnerCatchesUpWithoutVotingThenIsPromoted) {
  Start(3, {}, 51);
  if (getenv("RAFT_TRACE")) c_->set_trace([](const std::string& l) { printf("%s\n", l.c_str()); });
  CheckOneLeader();
  ASSERT_TRUE(c_->One("a", 3));
  c_->AddNode(4);
  ASSERT_TRUE(ChangeConfig(*c_, Change({{raftpb::CONF_CHANGE_ADD_LEARNER_NODE, 4}}),
                           [](const raftpb::ConfState& cs) { return cs.learners_size() == 1; }));
  ASSERT_TRUE(c_->One("b", 4));
  EXPECT_EQ(c_->state_machine(4).order, (std::vector<std::string>{"a", "b"}));
  // A learner does not count towards a quorum: with two voters gone nothing commits.
  const uint64_t leader = *c_->Leader();
  std::vector<uint64_t> voters_gone;
  for (uint64_t id = 1; id <= 3 && voters_gone.size() < 2; ++id) {
    if (id != leader) voters_gone.push_back(id);
  }
  for (uint64_t id : voters_gone) c_->Isolate(id);
  EXPECT_FALSE(c_->One("no quorum", 1, 40).has_value());
  EXPECT_FALSE(c_->raw(4).raft().state() == StateType::kLeader);
  c_->Heal();
  // Promote: now four voters, and one voter may fail.
  ASSERT_TRUE(ChangeConfig(*c_, Change({{raftpb::CONF_CHANGE_ADD_NODE, 4}}),
                           [](const raftpb::ConfState& cs) { return cs.voters_size() == 4; }));
  c_->Isolate(voters_gone[0]);
  ASSERT_TRUE(c_->One("c", 3));
}

TEST_F(ScenarioTest, JointConsensusReplaceMajorityAndLeaveAutomatically) {
  Start(3, {}, 61);
  CheckOneLeader();
  ASSERT_TRUE(c_->One("a", 3));
  c_->AddNode(4);
  c_->AddNode(5);
  // {1,2,3} -> {3,4,5} in one joint change, left automatically.
  ASSERT_TRUE(ChangeConfig(*c_,
                           Change({{raftpb::CONF_CHANGE_ADD_NODE, 4},
                                   {raftpb::CONF_CHANGE_ADD_NODE, 5},
                                   {raftpb::CONF_CHANGE_REMOVE_NODE, 1},
                                   {raftpb::CONF_CHANGE_REMOVE_NODE, 2}}),
                           [](const raftpb::ConfState& cs) {
                             return cs.voters_outgoing_size() == 0 && cs.voters_size() == 3 &&
                                    cs.voters(0) == 3;
                           }));
  // The new configuration commits without the removed nodes.
  c_->Crash(1);
  c_->Crash(2);
  ASSERT_TRUE(c_->One("b", 3));
}

TEST_F(ScenarioTest, JointConsensusInterruptedByLeaderFailure) {
  for (uint64_t seed = 70; seed < 76; ++seed) {
    SCOPED_TRACE(seed);
    Start(3, {}, seed);
    const uint64_t leader = CheckOneLeader();
    ASSERT_TRUE(c_->One("a", 3));
    c_->AddNode(4);
    c_->AddNode(5);
    // Explicit joint: stays joint until someone proposes leaving.
    ASSERT_TRUE(
        ChangeConfig(*c_,
                     Change({{raftpb::CONF_CHANGE_ADD_NODE, 4},
                             {raftpb::CONF_CHANGE_ADD_NODE, 5},
                             {raftpb::CONF_CHANGE_REMOVE_NODE, leader}},
                            raftpb::CONF_CHANGE_TRANSITION_JOINT_EXPLICIT),
                     [](const raftpb::ConfState& cs) { return cs.voters_outgoing_size() == 3; }));
    // The old leader dies mid-change. Decisions now need majorities of both configs.
    c_->Crash(leader);
    ASSERT_TRUE(c_->One("b", 4));
    // A new leader finishes the change by leaving the joint config.
    ASSERT_TRUE(ChangeConfig(*c_, raftpb::ConfChange(), [](const raftpb::ConfState& cs) {
      return cs.voters_outgoing_size() == 0;
    }));
    ASSERT_TRUE(c_->One("c", 4));
    EXPECT_TRUE(c_->violations().empty());
  }
}

TEST_F(ScenarioTest, JointAutoLeaveCompletesAfterLeaderCrash) {
  Start(5, {}, 81);
  CheckOneLeader();
  ASSERT_TRUE(c_->One("a", 5));
  c_->AddNode(6);
  const uint64_t leader = *c_->Leader();
  // Propose, let the entering entry commit, then crash the leader before it can
  // append the auto-leave entry everywhere.
  ASSERT_TRUE(c_->ProposeConfChange(leader, Change({{raftpb::CONF_CHANGE_ADD_NODE, 6},
                                                    {raftpb::CONF_CHANGE_REMOVE_NODE, leader}}))
                  .ok());
  c_->Crash(leader);
  ASSERT_TRUE(c_->RunUntil(
                  [&] {
                    std::optional<uint64_t> l = c_->Leader();
                    if (!l) return false;
                    const raftpb::ConfState& cs = c_->conf_state(*l);
                    return cs.voters_outgoing_size() == 0 &&
                           std::find(cs.voters().begin(), cs.voters().end(), 6) !=
                               cs.voters().end();
                  },
                  500) ||
              // The entering change may have been lost with the leader: fine too.
              c_->conf_state(*c_->Leader()).voters_outgoing_size() == 0);
  ASSERT_TRUE(c_->One("b", 4));
}

// --- §8 Client interaction: ReadIndex and lease ---

TEST_F(ScenarioTest, ReadIndexFromLeaderAndFollower) {
  Start(3, {}, 91);
  const uint64_t leader = CheckOneLeader();
  const uint64_t index = c_->One("a", 3).value();
  ASSERT_TRUE(c_->raw(leader).ReadIndex("r1").ok());
  c_->Tick();
  std::vector<ReadState> rs = c_->TakeReadStates(leader);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].request_ctx, "r1");
  EXPECT_GE(rs[0].index, index);
  const uint64_t follower = OtherThan(leader, 3);
  ASSERT_TRUE(c_->raw(follower).ReadIndex("r2").ok());
  c_->Tick();
  rs = c_->TakeReadStates(follower);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].request_ctx, "r2");
  EXPECT_GE(rs[0].index, index);
}

TEST_F(ScenarioTest, ReadIndexNotServedByPartitionedLeader) {
  Start(3, {}, 92);
  const uint64_t leader = CheckOneLeader();
  ASSERT_TRUE(c_->One("a", 3));
  c_->Isolate(leader);
  ASSERT_TRUE(c_->raw(leader).ReadIndex("stale?").ok());
  c_->RunTicks(30);
  EXPECT_TRUE(c_->TakeReadStates(leader).empty());
}

TEST_F(ScenarioTest, QuorumContactTickTracksHeartbeats) {
  Start(3, {}, 93);
  const uint64_t leader = CheckOneLeader();
  c_->RunTicks(20);
  const Status s = c_->raw(leader).GetStatus();
  // Heartbeats every tick: quorum contact is at most a tick old.
  EXPECT_GE(s.quorum_contact_tick + 1, s.ticks);
  c_->Isolate(leader);
  c_->RunTicks(5);
  const Status s2 = c_->raw(leader).GetStatus();
  if (s2.soft_state.raft_state == StateType::kLeader) {
    EXPECT_LE(s2.quorum_contact_tick, s.ticks + 1);
    EXPECT_LT(s2.quorum_contact_tick + 4, s2.ticks);
  }
}

// --- Limits ---

TEST_F(ScenarioTest, UncommittedLogSizeIsBounded) {
  ClusterOptions o;
  o.max_uncommitted_entries_bytes = 1000;
  Start(3, o, 101);
  const uint64_t leader = CheckOneLeader();
  c_->Isolate(OtherThan(leader, 3));
  c_->Isolate(OtherThan(OtherThan(leader, 3), 3));
  int accepted = 0, dropped = 0;
  for (int i = 0; i < 100; ++i) {
    absl::Status s = c_->Propose(leader, std::string(100, 'x') + std::to_string(i));
    if (s.ok()) {
      ++accepted;
    } else {
      EXPECT_TRUE(IsProposalDropped(s)) << s;
      ++dropped;
    }
  }
  EXPECT_LE(accepted, 11);
  EXPECT_GT(dropped, 0);
  c_->Heal();
  ASSERT_TRUE(c_->One("after", 3));
}

TEST_F(ScenarioTest, OversizedEntryIsRejected) {
  ClusterOptions o;
  o.max_entry_bytes = 64;
  Start(3, o, 102);
  const uint64_t leader = CheckOneLeader();
  absl::Status s = c_->Propose(leader, std::string(65, 'x'));
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_TRUE(c_->Propose(leader, std::string(64, 'x')).ok());
}

}  // namespace
}  // namespace rangedb::raft::sim
