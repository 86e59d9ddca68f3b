// Unit tests of the Raft state machine against the Raft paper (Ongaro & Ousterhout,
// USENIX ATC 2014), driven message by message. Each test names the section it checks.
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "raft/raft_test_util.h"

namespace rangedb::raft {
namespace {

using testing::Ent;
using testing::Msg;
using testing::Network;
using testing::NewNode;
using testing::TestNode;

std::vector<raftpb::Message> Take(Raft& r) { return r.TakeMessages(); }

// ---------------------------------------------------------------------------
// §5.1 Raft basics: terms.

// Reference: §5.1 "If one server's current term is smaller than the other's, then it
// updates its current term to the larger value. If a candidate or leader discovers
// that its term is out of date, it immediately reverts to follower state."
TEST(RaftPaper, UpdateTermFromMessage) {
  for (StateType st : {StateType::kFollower, StateType::kCandidate, StateType::kLeader}) {
    TestNode n = NewNode(1, {1, 2, 3});
    Raft& r = *n.raft;
    if (st == StateType::kCandidate) r.BecomeCandidate();
    if (st == StateType::kLeader) {
      r.BecomeCandidate();
      r.BecomeLeader();
    }
    ASSERT_TRUE(r.Step(Msg(2, 1, raftpb::MSG_APP, 5)).ok());
    EXPECT_EQ(r.term(), 5u);
    EXPECT_EQ(r.state(), StateType::kFollower);
  }
}

// Reference: §5.1 "If a server receives a request with a stale term number, it
// rejects the request."
TEST(RaftPaper, RejectStaleTermMessage) {
  TestNode n = NewNode(1, {1, 2, 3});
  Raft& r = *n.raft;
  r.BecomeFollower(2, kNone);
  raftpb::Message m = Msg(2, 1, raftpb::MSG_APP, 1);
  *m.add_entries() = Ent(1, 1, "stale");
  ASSERT_TRUE(r.Step(m).ok());
  EXPECT_EQ(r.log().LastIndex(), 0u);
  EXPECT_EQ(r.term(), 2u);
}

// ---------------------------------------------------------------------------
// §5.2 Leader election.

// Reference: §5.2 "When servers start up, they begin as followers."
TEST(RaftPaper, StartAsFollower) {
  TestNode n = NewNode(1, {1, 2, 3});
  EXPECT_EQ(n.raft->state(), StateType::kFollower);
  EXPECT_EQ(n.raft->term(), 0u);
}

// Reference: §5.2 "Leaders send periodic heartbeats to all followers in order to
// maintain their authority."
TEST(RaftPaper, LeaderBroadcastsHeartbeats) {
  TestNode n = NewNode(1, {1, 2, 3}, [](Config& c) { c.heartbeat_ticks = 2; });
  Raft& r = *n.raft;
  r.BecomeCandidate();
  r.BecomeLeader();
  Take(r);
  r.Tick();
  EXPECT_TRUE(Take(r).empty());
  r.Tick();
  std::vector<raftpb::Message> msgs = Take(r);
  ASSERT_EQ(msgs.size(), 2u);
  for (const raftpb::Message& m : msgs) {
    EXPECT_EQ(m.type(), raftpb::MSG_HEARTBEAT);
    EXPECT_EQ(m.term(), 1u);
  }
}

// Reference: §5.2 "If a follower receives no communication over a period of time
// called the election timeout, then it ... begins an election: it increments its
// current term and transitions to candidate state. It then votes for itself and
// issues RequestVote RPCs in parallel to each of the other servers."
TEST(RaftPaper, FollowerStartsElectionAfterTimeout) {
  TestNode n = NewNode(1, {1, 2, 3});
  Raft& r = *n.raft;
  for (int i = 0; i < 2 * 10; ++i) r.Tick();
  EXPECT_EQ(r.state(), StateType::kCandidate);
  EXPECT_EQ(r.term(), 1u);
  EXPECT_EQ(r.vote(), 1u);
  std::vector<raftpb::Message> msgs = Take(r);
  std::set<uint64_t> to;
  for (const raftpb::Message& m : msgs) {
    EXPECT_EQ(m.type(), raftpb::MSG_VOTE);
    EXPECT_EQ(m.term(), 1u);
    to.insert(m.to());
  }
  EXPECT_EQ(to, (std::set<uint64_t>{2, 3}));
}

// Reference: §5.2 "A candidate wins an election if it receives votes from a majority
// of the servers in the full cluster for the same term."
TEST(RaftPaper, ElectionOutcomeByVotes) {
  struct Case {
    int size;
    std::map<uint64_t, bool> votes;
    StateType want;
  };
  const std::vector<Case> cases = {
      {1, {}, StateType::kLeader},
      {3, {{2, true}, {3, true}}, StateType::kLeader},
      {3, {{2, true}}, StateType::kLeader},
      {5, {{2, true}, {3, true}, {4, true}, {5, true}}, StateType::kLeader},
      {5, {{2, true}, {3, true}}, StateType::kLeader},
      {3, {{2, false}, {3, false}}, StateType::kFollower},
      {5, {{2, true}, {3, false}, {4, false}, {5, false}}, StateType::kFollower},
      {5, {{2, true}, {3, false}, {4, false}}, StateType::kCandidate},
      {5, {{2, true}}, StateType::kCandidate},
      {5, {{2, true}, {3, false}}, StateType::kCandidate},
  };
  for (const Case& tc : cases) {
    std::initializer_list<uint64_t> ids1 = {1}, ids3 = {1, 2, 3}, ids5 = {1, 2, 3, 4, 5};
    TestNode n = NewNode(1, tc.size == 1 ? ids1 : tc.size == 3 ? ids3 : ids5);
    Raft& r = *n.raft;
    ASSERT_TRUE(r.Step(Msg(1, 1, raftpb::MSG_HUP)).ok());
    for (const auto& [id, granted] : tc.votes) {
      raftpb::Message m = Msg(id, 1, raftpb::MSG_VOTE_RESP, r.term());
      m.set_reject(!granted);
      ASSERT_TRUE(r.Step(m).ok());
    }
    EXPECT_EQ(r.state(), tc.want) << "size " << tc.size << " votes " << tc.votes.size();
  }
}

// Reference: §5.2 "Each server will vote for at most one candidate in a given term,
// on a first-come-first-served basis."
TEST(RaftPaper, FollowerVotesOncePerTerm) {
  TestNode n = NewNode(1, {1, 2, 3});
  Raft& r = *n.raft;
  ASSERT_TRUE(r.Step(Msg(2, 1, raftpb::MSG_VOTE, 1)).ok());
  ASSERT_TRUE(r.Step(Msg(3, 1, raftpb::MSG_VOTE, 1)).ok());
  ASSERT_TRUE(r.Step(Msg(2, 1, raftpb::MSG_VOTE, 1)).ok());  // retransmission
  std::vector<raftpb::Message> msgs = Take(r);
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_FALSE(msgs[0].reject());
  EXPECT_TRUE(msgs[1].reject());
  EXPECT_FALSE(msgs[2].reject());
  EXPECT_EQ(r.vote(), 2u);
}

// Reference: §5.2 "If the leader's term is at least as large as the candidate's
// current term, then the candidate recognizes the leader as legitimate and returns
// to follower state."
TEST(RaftPaper, CandidateFallsBackToFollower) {
  TestNode n = NewNode(1, {1, 2, 3});
  Raft& r = *n.raft;
  ASSERT_TRUE(r.Step(Msg(1, 1, raftpb::MSG_HUP)).ok());
  ASSERT_EQ(r.state(), StateType::kCandidate);
  ASSERT_TRUE(r.Step(Msg(2, 1, raftpb::MSG_APP, r.term())).ok());
  EXPECT_EQ(r.state(), StateType::kFollower);
  EXPECT_EQ(r.lead(), 2u);
}

// Reference: §5.2 "Raft uses randomized election timeouts ... chosen randomly from a
// fixed interval." Here [T, 2T), drawn from the injected generator, so a run is
// reproducible from its seed.
TEST(RaftPaper, ElectionTimeoutIsRandomizedAndReproducible) {
  auto timeouts = [](uint64_t seed) {
    std::vector<int> out;
    TestNode n = NewNode(1, {1, 2, 3}, [seed](Config& c) {
      c.random = [rng = SplitMix64(seed)]() mutable { return rng.Next(); };
    });
    for (int i = 0; i < 50; ++i) {
      n.raft->BecomeFollower(n.raft->term() + 1, kNone);
      out.push_back(n.raft->randomized_election_timeout());
    }
    return out;
  };
  const std::vector<int> a = timeouts(7), b = timeouts(7), c = timeouts(8);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::set<int> distinct(a.begin(), a.end());
  EXPECT_GT(distinct.size(), 3u);
  for (int t : a) {
    EXPECT_GE(t, 10);
    EXPECT_LT(t, 20);
  }
}

// ---------------------------------------------------------------------------
// §5.3 Log replication.

// Reference: §5.3 "The leader appends the command to its log as a new entry, then
// issues AppendEntries RPCs in parallel to each of the other servers."
TEST(RaftPaper, LeaderStartsReplication) {
  TestNode n = NewNode(1, {1, 2, 3});
  Raft& r = *n.raft;
  r.BecomeCandidate();
  r.BecomeLeader();
  // Followers acknowledge the leader's empty entry, so they are in replicate state.
  for (uint64_t id : {2, 3}) {
    raftpb::Message ack = Msg(id, 1, raftpb::MSG_APP_RESP, 1);
    ack.set_index(1);
    ASSERT_TRUE(r.Step(ack).ok());
  }
  Take(r);
  raftpb::Message prop = Msg(1, 1, raftpb::MSG_PROP);
  prop.add_entries()->set_data("x");
  ASSERT_TRUE(r.Step(prop).ok());
  EXPECT_EQ(r.log().LastIndex(), 2u);
  std::vector<raftpb::Message> msgs = Take(r);
  ASSERT_EQ(msgs.size(), 2u);
  for (const raftpb::Message& m : msgs) {
    EXPECT_EQ(m.type(), raftpb::MSG_APP);
    EXPECT_EQ(m.index(), 1u);
    EXPECT_EQ(m.log_term(), 1u);
    ASSERT_EQ(m.entries_size(), 1);
    EXPECT_EQ(m.entries(0).data(), "x");
    EXPECT_EQ(m.commit(), 1u);
  }
}

// Reference: §5.3 "A log entry is committed once the leader that created the entry
// has replicated it on a majority of the servers."
TEST(RaftPaper, LeaderCommitsOnMajority) {
  for (int size : {3, 5}) {
    TestNode n = size == 3 ? NewNode(1, {1, 2, 3}) : NewNode(1, {1, 2, 3, 4, 5});
    Raft& r = *n.raft;
    r.BecomeCandidate();
    r.BecomeLeader();
    const uint64_t index = r.log().LastIndex();
    for (uint64_t id = 2; id <= static_cast<uint64_t>(size); ++id) {
      raftpb::Message ack = Msg(id, 1, raftpb::MSG_APP_RESP, 1);
      ack.set_index(index);
      ASSERT_TRUE(r.Step(ack).ok());
      const bool majority = id >= static_cast<uint64_t>(size / 2 + 1);
      EXPECT_EQ(r.log().committed(), majority ? index : 0u)
          << "size " << size << " acks " << id - 1;
    }
  }
}

// Reference: §5.3 "Once a follower learns that a log entry is committed, it applies
// the entry to its local state machine."
TEST(RaftPaper, FollowerLearnsCommitFromLeader) {
  TestNode n = NewNode(1, {1, 2, 3});
  Raft& r = *n.raft;
  raftpb::Message app = Msg(2, 1, raftpb::MSG_APP, 1);
  *app.add_entries() = Ent(1, 1, "a");
  *app.add_entries() = Ent(2, 1, "b");
  app.set_commit(1);
  ASSERT_TRUE(r.Step(app).ok());
  EXPECT_EQ(r.log().committed(), 1u);
  EXPECT_EQ(r.log().NextCommittedEntries().size(), 1u);
}

// Reference: §5.3 "If the follower does not find an entry in its log with the same
// index and term, then it refuses the new entries."
TEST(RaftPaper, FollowerChecksPrecedingEntry) {
  TestNode n = NewNode(1, {1, 2, 3});
  n.storage->Append({Ent(1, 1), Ent(2, 2)});
  n.raft = Raft::Create(testing::TestConfig(1, n.storage.get())).value();
  Raft& r = *n.raft;
  struct Case {
    uint64_t index, log_term;
    bool reject;
  };
  for (const Case& tc :
       std::vector<Case>{{0, 0, false}, {1, 1, false}, {2, 2, false}, {2, 1, true}, {3, 3, true}}) {
    raftpb::Message app = Msg(2, 1, raftpb::MSG_APP, 2);
    app.set_index(tc.index);
    app.set_log_term(tc.log_term);
    ASSERT_TRUE(r.Step(app).ok());
    std::vector<raftpb::Message> msgs = Take(r);
    ASSERT_EQ(msgs.size(), 1u);
    EXPECT_EQ(msgs[0].reject(), tc.reject) << tc.index << "/" << tc.log_term;
    if (tc.reject) {
      // The hint names an index where the follower's term is <= the probe's term.
      EXPECT_LE(msgs[0].reject_hint(), std::min<uint64_t>(tc.index, 2));
      EXPECT_LE(msgs[0].log_term(), tc.log_term);
    }
  }
}

// Reference: §5.3 "If an existing entry conflicts with a new one (same index but
// different terms), delete the existing entry and all that follow it."
TEST(RaftPaper, FollowerTruncatesConflictingEntries) {
  TestNode n = NewNode(1, {1, 2, 3});
  n.storage->Append({Ent(1, 1), Ent(2, 2), Ent(3, 2)});
  n.raft = Raft::Create(testing::TestConfig(1, n.storage.get())).value();
  Raft& r = *n.raft;
  raftpb::Message app = Msg(2, 1, raftpb::MSG_APP, 3);
  app.set_index(1);
  app.set_log_term(1);
  *app.add_entries() = Ent(2, 3, "new");
  ASSERT_TRUE(r.Step(app).ok());
  EXPECT_EQ(r.log().LastIndex(), 2u);
  EXPECT_EQ(r.log().TermOrZero(2), 3u);
  // Appending what is already there changes nothing (idempotent).
  ASSERT_TRUE(r.Step(app).ok());
  EXPECT_EQ(r.log().LastIndex(), 2u);
}

// Reference: §5.3 (end) "the protocol can be optimized to reduce the number of
// rejected AppendEntries RPCs": with conflict hints a follower holding 100 entries of
// a stale term is repaired in a few round trips, not one per entry.
TEST(RaftPaper, FastBacktrackingSkipsConflictingTerm) {
  TestNode leader = NewNode(1, {1, 2, 3});
  TestNode follower = NewNode(2, {1, 2, 3});
  std::vector<raftpb::Entry> lents, fents;
  lents.push_back(Ent(1, 1));
  fents.push_back(Ent(1, 1));
  for (uint64_t i = 2; i <= 101; ++i) {
    lents.push_back(Ent(i, 3));
    fents.push_back(Ent(i, 2));
  }
  leader.storage->Append(lents);
  follower.storage->Append(fents);
  raftpb::HardState hs;
  hs.set_term(3);
  leader.storage->SetHardState(hs);
  follower.storage->SetHardState(hs);
  leader.raft = Raft::Create(testing::TestConfig(1, leader.storage.get())).value();
  follower.raft = Raft::Create(testing::TestConfig(2, follower.storage.get())).value();
  std::vector<testing::TestNode> nodes;
  nodes.push_back(std::move(leader));
  nodes.push_back(std::move(follower));
  nodes.push_back(NewNode(3, {1, 2, 3}));
  Network net(std::move(nodes));
  net.Ignore(raftpb::MSG_VOTE);  // node 1 becomes leader via a forged vote below
  net.raft(1).BecomeCandidate();
  net.raft(1).BecomeLeader();
  net.Recover();
  net.Cut(1, 3);
  int rejections = 0;
  ASSERT_TRUE(net.raft(1).Step(Msg(1, 1, raftpb::MSG_BEAT)).ok());
  std::vector<raftpb::Message> queue = net.raft(1).TakeMessages();
  for (size_t i = 0; i < queue.size() && i < 1000; ++i) {
    raftpb::Message m = queue[i];
    if (m.to() == 3 || m.from() == 3) continue;
    if (m.type() == raftpb::MSG_APP_RESP && m.reject()) ++rejections;
    Raft& dst = net.raft(m.to());
    ASSERT_TRUE(dst.Step(m).ok());
    for (raftpb::Message& out : dst.TakeMessages()) queue.push_back(out);
  }
  EXPECT_LE(rejections, 2);
  EXPECT_EQ(net.raft(2).log().LastIndex(), net.raft(1).log().LastIndex());
  EXPECT_EQ(net.raft(2).log().TermOrZero(101), 4u - 1u);
}

// ---------------------------------------------------------------------------
// §5.4 Safety.

// Reference: §5.4.1 "the voter denies its vote if its own log is more up-to-date
// than that of the candidate."
TEST(RaftPaper, VoterRejectsCandidateWithStaleLog) {
  TestNode n = NewNode(1, {1, 2, 3});
  n.storage->Append({Ent(1, 2), Ent(2, 2)});
  n.raft = Raft::Create(testing::TestConfig(1, n.storage.get())).value();
  Raft& r = *n.raft;
  struct Case {
    uint64_t index, log_term;
    bool reject;
  };
  for (const Case& tc :
       std::vector<Case>{{2, 2, false}, {3, 2, false}, {1, 3, false}, {1, 2, true}, {5, 1, true}}) {
    TestNode fresh = NewNode(1, {1, 2, 3});
    fresh.storage->Append({Ent(1, 2), Ent(2, 2)});
    fresh.raft = Raft::Create(testing::TestConfig(1, fresh.storage.get())).value();
    raftpb::Message v = Msg(2, 1, raftpb::MSG_VOTE, 3);
    v.set_index(tc.index);
    v.set_log_term(tc.log_term);
    ASSERT_TRUE(fresh.raft->Step(v).ok());
    std::vector<raftpb::Message> msgs = Take(*fresh.raft);
    ASSERT_EQ(msgs.size(), 1u);
    EXPECT_EQ(msgs[0].reject(), tc.reject) << tc.index << "/" << tc.log_term;
  }
  (void)r;
}

// Reference: §5.4.2 and Figure 8: "Raft never commits log entries from previous terms
// by counting replicas. Only log entries from the leader's current term are committed
// by counting replicas."
TEST(RaftPaper, LeaderCommitsOnlyCurrentTermEntriesByCounting) {
  for (bool unsafe : {false, true}) {
    TestNode n =
        NewNode(1, {1, 2, 3}, [unsafe](Config& c) { c.testing_unsafe_commit_old_term = unsafe; });
    // Entries 1..2 from term 1; we lead term 3 and have appended our empty entry (3).
    n.storage->Append({Ent(1, 1), Ent(2, 1)});
    raftpb::HardState hs;
    hs.set_term(2);
    n.storage->SetHardState(hs);
    Config c = testing::TestConfig(1, n.storage.get());
    c.testing_unsafe_commit_old_term = unsafe;
    n.raft = Raft::Create(c).value();
    Raft& r = *n.raft;
    r.BecomeCandidate();
    r.BecomeLeader();
    ASSERT_EQ(r.term(), 3u);
    // A follower acknowledges the old entries only.
    raftpb::Message ack = Msg(2, 1, raftpb::MSG_APP_RESP, 3);
    ack.set_index(2);
    ASSERT_TRUE(r.Step(ack).ok());
    EXPECT_EQ(r.log().committed(), unsafe ? 2u : 0u) << "unsafe=" << unsafe;
    // Once the current-term entry is replicated, everything before it commits too.
    ack.set_index(3);
    ASSERT_TRUE(r.Step(ack).ok());
    EXPECT_EQ(r.log().committed(), 3u);
  }
}

// ---------------------------------------------------------------------------
// §6 Cluster membership changes (the tracker side; confchange has its own tests).

// Reference: §6 "in the joint consensus ... Agreement (for elections and entry
// commitment) requires separate majorities from both the old and new configurations."
TEST(RaftPaper, JointConfigNeedsBothMajorities) {
  TestNode n = NewNode(1, {1, 2, 3});
  Raft& r = *n.raft;
  raftpb::ConfChange cc;
  cc.set_transition(raftpb::CONF_CHANGE_TRANSITION_JOINT_EXPLICIT);
  for (uint64_t id : {4, 5}) {
    auto* s = cc.add_changes();
    s->set_type(raftpb::CONF_CHANGE_ADD_NODE);
    s->set_node_id(id);
  }
  for (uint64_t id : {2, 3}) {
    auto* s = cc.add_changes();
    s->set_type(raftpb::CONF_CHANGE_REMOVE_NODE);
    s->set_node_id(id);
  }
  ASSERT_TRUE(r.ApplyConfChange(cc).ok());  // (1 4 5) && (1 2 3)
  r.BecomeCandidate();
  r.BecomeLeader();
  const uint64_t index = r.log().LastIndex();
  auto ack = [&](uint64_t id) {
    raftpb::Message m = Msg(id, 1, raftpb::MSG_APP_RESP, r.term());
    m.set_index(index);
    ASSERT_TRUE(r.Step(m).ok());
  };
  ack(2);
  ack(3);  // majority of the old config only
  EXPECT_EQ(r.log().committed(), 0u);
  ack(4);  // and of the new one
  EXPECT_EQ(r.log().committed(), index);
}

// ---------------------------------------------------------------------------
// §7 Log compaction.

// Reference: §7 "the leader must occasionally send snapshots to followers that lag
// behind ... when the leader has already discarded the next log entry that it needs
// to send to a follower."
TEST(RaftPaper, LeaderSendsSnapshotForCompactedEntries) {
  TestNode n = NewNode(1, {1, 2});
  std::vector<raftpb::Entry> ents;
  for (uint64_t i = 1; i <= 10; ++i) ents.push_back(Ent(i, 1));
  n.storage->Append(ents);
  ASSERT_TRUE(n.storage->CreateSnapshot(8, testing::Voters({1, 2}), "image").ok());
  ASSERT_TRUE(n.storage->Compact(8).ok());
  raftpb::HardState hs;
  hs.set_term(1);
  hs.set_commit(10);
  n.storage->SetHardState(hs);
  n.raft = Raft::Create(testing::TestConfig(1, n.storage.get())).value();
  Raft& r = *n.raft;
  r.BecomeCandidate();
  r.BecomeLeader();
  Take(r);
  // The follower has nothing: its rejection leads the leader below its first index.
  raftpb::Message rej = Msg(2, 1, raftpb::MSG_APP_RESP, r.term());
  rej.set_index(10);
  rej.set_reject(true);
  rej.set_reject_hint(0);
  ASSERT_TRUE(r.Step(rej).ok());
  std::vector<raftpb::Message> msgs = Take(r);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].type(), raftpb::MSG_SNAP);
  EXPECT_EQ(msgs[0].snapshot().metadata().index(), 8u);
  EXPECT_EQ(msgs[0].snapshot().data(), "image");
  EXPECT_EQ(r.tracker().progress.at(2).state, ProgressState::kSnapshot);

  // The follower installs it.
  TestNode f = NewNode(2, {1, 2});
  ASSERT_TRUE(f.raft->Step(msgs[0]).ok());
  EXPECT_EQ(f.raft->log().committed(), 8u);
  EXPECT_TRUE(f.raft->log().HasPendingSnapshot());
  std::vector<raftpb::Message> resp = Take(*f.raft);
  ASSERT_EQ(resp.size(), 1u);
  EXPECT_EQ(resp[0].index(), 8u);
  // The leader resumes log replication after the snapshot.
  ASSERT_TRUE(r.Step(resp[0]).ok());
  EXPECT_EQ(r.tracker().progress.at(2).state, ProgressState::kReplicate);
  EXPECT_EQ(r.tracker().progress.at(2).match, 8u);
}

// Reference: §7 "If the follower receives a snapshot that describes a prefix of its
// log ... then log entries covered by the snapshot are deleted but entries following
// the snapshot are still valid and must be retained."
TEST(RaftPaper, FollowerIgnoresSnapshotOfItsOwnPrefix) {
  TestNode f = NewNode(2, {1, 2});
  raftpb::Message app = Msg(1, 2, raftpb::MSG_APP, 1);
  for (uint64_t i = 1; i <= 5; ++i) *app.add_entries() = Ent(i, 1);
  app.set_commit(2);
  ASSERT_TRUE(f.raft->Step(app).ok());
  raftpb::Message snap = Msg(1, 2, raftpb::MSG_SNAP, 1);
  snap.mutable_snapshot()->mutable_metadata()->set_index(3);
  snap.mutable_snapshot()->mutable_metadata()->set_term(1);
  *snap.mutable_snapshot()->mutable_metadata()->mutable_conf_state() = testing::Voters({1, 2});
  ASSERT_TRUE(f.raft->Step(snap).ok());
  EXPECT_FALSE(f.raft->log().HasPendingSnapshot());
  EXPECT_EQ(f.raft->log().LastIndex(), 5u);
  EXPECT_EQ(f.raft->log().committed(), 3u);
}

// ---------------------------------------------------------------------------
// §8 Client interaction.

// Reference: §8 "a leader must have the latest information on which entries are
// committed ... Raft handles this by having each leader commit a blank no-op entry
// into the log at the start of its term", and "a leader must check whether it has
// been deposed before processing a read-only request ... by exchanging heartbeat
// messages with a majority of the cluster".
TEST(RaftPaper, ReadIndexWaitsForCurrentTermCommitAndHeartbeatQuorum) {
  std::vector<TestNode> nodes;
  for (uint64_t id : {1, 2, 3}) nodes.push_back(NewNode(id, {1, 2, 3}));
  Network net(std::move(nodes));
  net.Ignore(raftpb::MSG_APP);  // the no-op entry cannot commit yet
  net.Hup(1);
  ASSERT_EQ(net.raft(1).state(), StateType::kLeader);
  raftpb::Message read = Msg(1, 1, raftpb::MSG_READ_INDEX);
  read.set_context("r1");
  net.Send(read);
  EXPECT_TRUE(net.raft(1).read_states().empty());
  // The no-op commits; the queued read then needs a heartbeat round.
  net.Recover();
  net.Send(Msg(1, 1, raftpb::MSG_BEAT));
  std::vector<ReadState> rs = net.raft(1).TakeReadStates();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].request_ctx, "r1");
  EXPECT_EQ(rs[0].index, net.raft(1).log().committed());
  // A leader cut off from the quorum cannot confirm a read.
  net.Isolate(1);
  read.set_context("r2");
  net.Send(read);
  net.Send(Msg(1, 1, raftpb::MSG_BEAT));
  EXPECT_TRUE(net.raft(1).TakeReadStates().empty());
}

// ---------------------------------------------------------------------------
// Extensions from Ongaro's thesis: check-quorum, pre-vote, leadership transfer.

// Thesis §6.2: a leader steps down if an election timeout passes without a
// successful round of heartbeats to a majority.
TEST(RaftThesis, CheckQuorumStepsDownIsolatedLeader) {
  TestNode n = NewNode(1, {1, 2, 3}, [](Config& c) { c.check_quorum = true; });
  Raft& r = *n.raft;
  r.BecomeCandidate();
  r.BecomeLeader();
  for (int i = 0; i < 2 * 10 + 1; ++i) r.Tick();
  EXPECT_EQ(r.state(), StateType::kFollower);
}

// Thesis §9.6: pre-vote keeps a partitioned node from inflating its term and
// disrupting the leader when it rejoins.
TEST(RaftThesis, PreVotePreventsDisruptionByRejoiningNode) {
  std::vector<TestNode> nodes;
  for (uint64_t id : {1, 2, 3}) {
    nodes.push_back(NewNode(id, {1, 2, 3}, [](Config& c) {
      c.pre_vote = true;
      c.check_quorum = true;
    }));
  }
  Network net(std::move(nodes));
  net.Hup(1);
  ASSERT_EQ(net.raft(1).state(), StateType::kLeader);
  const uint64_t term = net.raft(1).term();
  net.Isolate(3);
  for (int i = 0; i < 5; ++i) net.Hup(3);
  EXPECT_EQ(net.raft(3).term(), term);  // pre-votes failed: no term bump
  net.Recover();
  net.Hup(3);
  EXPECT_EQ(net.raft(1).state(), StateType::kLeader);
  EXPECT_EQ(net.raft(1).term(), term);
}

// Thesis §3.10: leadership transfer with TimeoutNow.
TEST(RaftThesis, LeadershipTransfer) {
  std::vector<TestNode> nodes;
  for (uint64_t id : {1, 2, 3}) nodes.push_back(NewNode(id, {1, 2, 3}));
  Network net(std::move(nodes));
  net.Hup(1);
  net.Propose(1, "x");
  net.Send(Msg(3, 1, raftpb::MSG_TRANSFER_LEADER));
  EXPECT_EQ(net.raft(3).state(), StateType::kLeader);
  EXPECT_EQ(net.raft(1).state(), StateType::kFollower);
  EXPECT_EQ(net.raft(1).lead(), 3u);
}

// The leader's TimeoutNow to `to` among the messages it queued (none: type 0).
raftpb::Message TakeTimeoutNow(Raft& leader, uint64_t to) {
  raftpb::Message found;
  for (raftpb::Message& m : leader.TakeMessages()) {
    if (m.type() == raftpb::MSG_TIMEOUT_NOW && m.to() == to) found = m;
  }
  return found;
}

absl::Status ProposeAt(Raft& r, const std::string& data) {
  raftpb::Message m = Msg(r.id(), r.id(), raftpb::MSG_PROP);
  m.add_entries()->set_data(data);
  return r.Step(std::move(m));
}

// Thesis §3.10: the leader refuses proposals while a transfer is pending and abandons
// a transfer that did not finish within an election timeout. A target that will not
// campaign (its owner forbids it: a draining store) says so with MSG_TRANSFER_REFUSED
// (our extension, issue 14 review F6), and the leader ends the transfer at once
// instead of refusing proposals for an election timeout.
TEST(RaftThesis, RefusedLeadershipTransferEndsAtOnce) {
  std::vector<TestNode> nodes;
  for (uint64_t id : {1, 2, 3}) nodes.push_back(NewNode(id, {1, 2, 3}));
  Network net(std::move(nodes));
  net.Hup(1);
  net.Propose(1, "x");
  Raft& leader = net.raft(1);
  ASSERT_EQ(leader.state(), StateType::kLeader);
  const uint64_t term = leader.term();
  ASSERT_TRUE(leader.Step(Msg(3, 1, raftpb::MSG_TRANSFER_LEADER)).ok());
  ASSERT_EQ(leader.lead_transferee(), 3u);
  const raftpb::Message timeout_now = TakeTimeoutNow(leader, 3);
  ASSERT_EQ(timeout_now.type(), raftpb::MSG_TIMEOUT_NOW);
  EXPECT_TRUE(IsProposalDropped(ProposeAt(leader, "refused")));

  net.raft(3).RefuseTimeoutNow(timeout_now);
  EXPECT_EQ(net.raft(3).state(), StateType::kFollower);
  EXPECT_EQ(net.raft(3).term(), term);
  for (raftpb::Message& m : net.raft(3).TakeMessages()) net.Send(std::move(m));

  EXPECT_EQ(leader.lead_transferee(), kNone);
  EXPECT_EQ(leader.state(), StateType::kLeader);
  EXPECT_EQ(leader.term(), term);
  EXPECT_TRUE(ProposeAt(leader, "taken").ok());
}

// Only a refusal of the latest TimeoutNow ends a transfer: the refusal of an earlier
// transfer to the same target, arriving late, says nothing about this one (the target
// may be campaigning on it), so it must not let the leader take proposals again.
TEST(RaftThesis, LateRefusalOfAnEarlierTransferDoesNotEndTheCurrentOne) {
  std::vector<TestNode> nodes;
  for (uint64_t id : {1, 2, 3}) nodes.push_back(NewNode(id, {1, 2, 3}));
  Network net(std::move(nodes));
  net.Hup(1);
  net.Propose(1, "x");
  Raft& leader = net.raft(1);
  ASSERT_EQ(leader.state(), StateType::kLeader);
  ASSERT_TRUE(leader.Step(Msg(3, 1, raftpb::MSG_TRANSFER_LEADER)).ok());
  const raftpb::Message first = TakeTimeoutNow(leader, 3);
  ASSERT_EQ(first.type(), raftpb::MSG_TIMEOUT_NOW);
  // Another transfer (to 2) replaces it, then one to 3 again.
  ASSERT_TRUE(leader.Step(Msg(2, 1, raftpb::MSG_TRANSFER_LEADER)).ok());
  (void)leader.TakeMessages();
  ASSERT_TRUE(leader.Step(Msg(3, 1, raftpb::MSG_TRANSFER_LEADER)).ok());
  const raftpb::Message latest = TakeTimeoutNow(leader, 3);
  ASSERT_EQ(latest.type(), raftpb::MSG_TIMEOUT_NOW);
  ASSERT_NE(latest.index(), first.index());

  net.raft(3).RefuseTimeoutNow(first);
  for (raftpb::Message& m : net.raft(3).TakeMessages()) net.Send(std::move(m));
  EXPECT_EQ(leader.lead_transferee(), 3u) << "a stale refusal ended the transfer";
  net.raft(3).RefuseTimeoutNow(latest);
  for (raftpb::Message& m : net.raft(3).TakeMessages()) net.Send(std::move(m));
  EXPECT_EQ(leader.lead_transferee(), kNone);
}

}  // namespace
}  // namespace rangedb::raft
