// The leader's own log counts toward a commit quorum only once it is durable
// (rawnode.h, durability contract; docs/raft.md "A leader may send before it persists").
//
// An owner may send a leader's appends before persisting them and may Step responses
// between GetReady() and Advance(). If the leader counted its unpersisted copy, one
// follower's acknowledgement would commit an entry held durably by that follower
// alone: lose the leader's disk (a crash before the fsync) and another election can
// pick a log without it, so a committed — maybe applied and acknowledged — entry
// vanishes (Raft §5.4: commitment needs a durable majority).
#include <map>
#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "raft/memory_storage.h"
#include "raft/raft_test_util.h"
#include "raft/rawnode.h"

namespace rangedb::raft {
namespace {

struct Peer {
  MemoryStorage storage;
  std::unique_ptr<RawNode> raw;
};

// Handles every Ready of p by the contract (persist, send, apply, advance) and returns
// the messages it would send.
std::vector<raftpb::Message> Drain(Peer& p) {
  std::vector<raftpb::Message> out;
  while (p.raw->HasReady()) {
    Ready rd = p.raw->GetReady();
    if (rd.snapshot) {
      EXPECT_TRUE(p.storage.ApplySnapshot(*rd.snapshot).ok());
    }
    p.storage.Append(rd.entries);
    if (rd.hard_state) p.storage.SetHardState(*rd.hard_state);
    for (raftpb::Message& m : rd.messages) out.push_back(std::move(m));
    p.raw->Advance();
  }
  return out;
}

class LeaderPersistTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (uint64_t id = 1; id <= 3; ++id) {
      Peer& p = peers_[id];
      p.storage.SetInitialConfState(testing::Voters({1, 2, 3}));
      Config c = testing::RawNodeTestConfig(id, &p.storage);
      p.raw = RawNode::Create(c).value();
    }
    ASSERT_TRUE(peers_[1].raw->Campaign().ok());
    Settle();
    ASSERT_EQ(peers_[1].raw->raft().state(), StateType::kLeader);
  }

  // Delivers messages (and their consequences) until none are left.
  void Settle() {
    std::vector<raftpb::Message> queue;
    for (auto& [id, p] : peers_) {
      for (raftpb::Message& m : Drain(p)) queue.push_back(std::move(m));
    }
    for (size_t i = 0; i < queue.size() && i < 10000; ++i) {
      Peer& to = peers_.at(queue[i].to());
      (void)to.raw->Step(queue[i]);
      for (raftpb::Message& m : Drain(to)) queue.push_back(std::move(m));
    }
  }

  std::map<uint64_t, Peer> peers_;
};

TEST_F(LeaderPersistTest, AckBeforeTheLeaderPersistedDoesNotCommit) {
  Peer& leader = peers_[1];
  ASSERT_TRUE(leader.raw->Propose("x").ok());
  Ready rd = leader.raw->GetReady();
  ASSERT_EQ(rd.entries.size(), 1u);
  const uint64_t x = rd.entries[0].index();
  // The owner sends the append early, before it persists x...
  std::vector<raftpb::Message> acks;
  for (const raftpb::Message& m : rd.messages) {
    if (m.type() != raftpb::MSG_APP || m.to() != 2) continue;
    Peer& follower = peers_[2];
    ASSERT_TRUE(follower.raw->Step(m).ok());
    for (raftpb::Message& r : Drain(follower)) acks.push_back(std::move(r));
  }
  ASSERT_FALSE(acks.empty());
  // ... and a follower's acknowledgement arrives before the leader's fsync finished.
  for (const raftpb::Message& a : acks) ASSERT_TRUE(leader.raw->Step(a).ok());
  EXPECT_LT(leader.raw->raft().log().committed(), x)
      << "x is durable on one of three replicas, yet the leader committed it";

  // Once the leader's copy is durable, the two copies are a quorum.
  leader.storage.Append(rd.entries);
  if (rd.hard_state) leader.storage.SetHardState(*rd.hard_state);
  leader.raw->Advance();
  EXPECT_EQ(leader.raw->raft().log().committed(), x);
  ASSERT_TRUE(leader.raw->HasReady());
  Ready next = leader.raw->GetReady();
  ASSERT_FALSE(next.committed_entries.empty());
  EXPECT_EQ(next.committed_entries.back().data(), "x");
  leader.raw->Advance();
}

TEST_F(LeaderPersistTest, TwoFollowerAcksCommitWithoutTheLeadersCopy) {
  Peer& leader = peers_[1];
  ASSERT_TRUE(leader.raw->Propose("y").ok());
  Ready rd = leader.raw->GetReady();
  const uint64_t y = rd.entries.at(0).index();
  for (const raftpb::Message& m : rd.messages) {
    if (m.type() != raftpb::MSG_APP) continue;
    Peer& follower = peers_[m.to()];
    ASSERT_TRUE(follower.raw->Step(m).ok());
    for (raftpb::Message& a : Drain(follower)) ASSERT_TRUE(leader.raw->Step(a).ok());
  }
  // Two durable copies of three are a quorum, whatever the leader's disk does.
  EXPECT_EQ(leader.raw->raft().log().committed(), y);
  leader.storage.Append(rd.entries);
  leader.raw->Advance();
}

TEST(RawNodeSingleVoter, CommitsOnlyAfterTheLeaderPersisted) {
  Peer p;
  p.storage.SetInitialConfState(testing::Voters({1}));
  p.raw = RawNode::Create(testing::RawNodeTestConfig(1, &p.storage)).value();
  ASSERT_TRUE(p.raw->Campaign().ok());
  Drain(p);
  ASSERT_EQ(p.raw->raft().state(), StateType::kLeader);
  ASSERT_TRUE(p.raw->Propose("z").ok());
  Ready rd = p.raw->GetReady();
  ASSERT_EQ(rd.entries.size(), 1u);
  // The only copy is not durable yet: nothing to apply in this Ready.
  EXPECT_TRUE(rd.committed_entries.empty());
  EXPECT_LT(p.raw->raft().log().committed(), rd.entries[0].index());
  p.storage.Append(rd.entries);
  p.raw->Advance();
  Ready next = p.raw->GetReady();
  ASSERT_EQ(next.committed_entries.size(), 1u);
  EXPECT_EQ(next.committed_entries[0].data(), "z");
  p.raw->Advance();
}

}  // namespace
}  // namespace rangedb::raft
