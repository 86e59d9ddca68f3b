// Unit tests of raft/'s building blocks: quorum arithmetic, flow control, the log,
// MemoryStorage, membership changes and the RawNode Ready/Advance protocol.
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "raft/confchange.h"
#include "raft/inflights.h"
#include "raft/log.h"
#include "raft/memory_storage.h"
#include "raft/progress.h"
#include "raft/quorum.h"
#include "raft/raft_test_util.h"
#include "raft/rawnode.h"

namespace rangedb::raft {
namespace {

using testing::Ent;
using testing::Voters;

// --- quorum (§5.3 commitment by majority, §6 joint consensus) ---

TEST(Quorum, MajorityCommittedIndex) {
  std::map<uint64_t, uint64_t> acked = {{1, 5}, {2, 3}, {3, 9}, {4, 1}, {5, 4}};
  auto fn = [&](uint64_t id) { return acked.count(id) ? acked[id] : 0; };
  EXPECT_EQ(MajorityConfig({1, 2, 3, 4, 5}).CommittedIndex(fn), 4u);
  EXPECT_EQ(MajorityConfig({1, 2, 3}).CommittedIndex(fn), 5u);
  EXPECT_EQ(MajorityConfig({1}).CommittedIndex(fn), 5u);
  EXPECT_EQ(MajorityConfig({1, 6, 7}).CommittedIndex(fn), 0u);  // 6, 7 unknown
  EXPECT_EQ(MajorityConfig().CommittedIndex(fn), UINT64_MAX);
  JointConfig j;
  j.incoming = MajorityConfig({1, 2, 3});
  j.outgoing = MajorityConfig({3, 4, 5});
  EXPECT_EQ(j.CommittedIndex(fn), 4u);  // min(5, 4)
}

TEST(Quorum, VoteResults) {
  MajorityConfig c({1, 2, 3});
  EXPECT_EQ(c.GetVoteResult({}), VoteResult::kPending);
  EXPECT_EQ(c.GetVoteResult({{1, true}, {2, true}}), VoteResult::kWon);
  EXPECT_EQ(c.GetVoteResult({{1, true}, {2, false}}), VoteResult::kPending);
  EXPECT_EQ(c.GetVoteResult({{1, false}, {2, false}}), VoteResult::kLost);
  EXPECT_EQ(MajorityConfig().GetVoteResult({}), VoteResult::kWon);
  JointConfig j;
  j.incoming = MajorityConfig({1, 2, 3});
  j.outgoing = MajorityConfig({4, 5, 6});
  EXPECT_EQ(j.GetVoteResult({{1, true}, {2, true}}), VoteResult::kPending);
  EXPECT_EQ(j.GetVoteResult({{1, true}, {2, true}, {4, true}, {5, true}}), VoteResult::kWon);
  EXPECT_EQ(j.GetVoteResult({{1, true}, {2, true}, {4, false}, {5, false}}), VoteResult::kLost);
}

// --- flow control ---

TEST(Inflights, WindowByCountAndBytes) {
  Inflights in(3, 0);
  in.Add(1, 10);
  in.Add(2, 10);
  EXPECT_FALSE(in.Full());
  in.Add(3, 10);
  EXPECT_TRUE(in.Full());
  in.FreeLE(2);
  EXPECT_EQ(in.Count(), 1u);
  in.Add(4, 10);
  in.Add(5, 10);  // wraps around the ring
  EXPECT_TRUE(in.Full());
  in.FreeFirstOne();
  EXPECT_EQ(in.Count(), 2u);
  in.FreeLE(100);
  EXPECT_EQ(in.Count(), 0u);

  Inflights bytes(100, 25);
  bytes.Add(1, 10);
  bytes.Add(2, 10);
  EXPECT_FALSE(bytes.Full());
  bytes.Add(3, 10);
  EXPECT_TRUE(bytes.Full());
  bytes.FreeLE(1);
  EXPECT_FALSE(bytes.Full());
}

TEST(Progress, ProbeReplicateSnapshotTransitions) {
  Progress p(5, 4, 0, false);
  EXPECT_FALSE(p.IsPaused());
  p.msg_app_probe_sent = true;
  EXPECT_TRUE(p.IsPaused());  // probe: one message per heartbeat
  EXPECT_TRUE(p.MaybeUpdate(4));
  EXPECT_FALSE(p.IsPaused());
  p.BecomeReplicate();
  EXPECT_EQ(p.next, 5u);
  // A stale rejection in replicate state is ignored; a fresh one rewinds to match+1.
  EXPECT_FALSE(p.MaybeDecrTo(3, 3));
  p.OptimisticUpdate(9);
  EXPECT_TRUE(p.MaybeDecrTo(7, 6));
  EXPECT_EQ(p.next, 5u);
  p.BecomeSnapshot(20);
  EXPECT_TRUE(p.IsPaused());
  p.BecomeProbe();
  EXPECT_EQ(p.next, 21u);  // resume after the snapshot
  // Probe: the rejection of the probe sent uses the hint.
  p.next = 15;
  EXPECT_TRUE(p.MaybeDecrTo(14, 9));
  EXPECT_EQ(p.next, 10u);
  EXPECT_FALSE(p.MaybeDecrTo(14, 3));  // not the latest probe: stale
}

// --- MemoryStorage (§7) ---

TEST(MemoryStorage, TermEntriesCompactSnapshot) {
  MemoryStorage s;
  s.Append({Ent(1, 1, "a"), Ent(2, 1, "b"), Ent(3, 2, "c"), Ent(4, 2, "d")});
  EXPECT_EQ(*s.FirstIndex(), 1u);
  EXPECT_EQ(*s.LastIndex(), 4u);
  EXPECT_EQ(*s.Term(0), 0u);
  EXPECT_EQ(*s.Term(3), 2u);
  EXPECT_TRUE(IsEntryUnavailable(s.Term(5).status()));
  EXPECT_EQ(s.Entries(2, 5, kNoLimit)->size(), 3u);
  EXPECT_EQ(s.Entries(2, 5, 1)->size(), 1u);  // at least one entry
  ASSERT_TRUE(s.CreateSnapshot(2, Voters({1}), "img").ok());
  ASSERT_TRUE(s.Compact(2).ok());
  EXPECT_EQ(*s.FirstIndex(), 3u);
  EXPECT_EQ(*s.Term(2), 1u);  // the compacted boundary's term is kept
  EXPECT_TRUE(IsCompacted(s.Term(1).status()));
  EXPECT_TRUE(IsCompacted(s.Entries(2, 4, kNoLimit).status()));
  EXPECT_TRUE(IsCompacted(s.Compact(2)));
  EXPECT_TRUE(IsSnapshotOutOfDate(s.CreateSnapshot(2, Voters({1}), "").status()));
  // Appending a conflicting suffix truncates.
  s.Append({Ent(4, 3, "x"), Ent(5, 3, "y")});
  EXPECT_EQ(*s.LastIndex(), 5u);
  EXPECT_EQ(*s.Term(4), 3u);
  // Entries below the first index are ignored.
  s.Append({Ent(1, 1), Ent(2, 1), Ent(3, 2)});
  EXPECT_EQ(*s.LastIndex(), 3u);
  // A newer snapshot replaces everything.
  raftpb::Snapshot snap;
  snap.mutable_metadata()->set_index(10);
  snap.mutable_metadata()->set_term(4);
  ASSERT_TRUE(s.ApplySnapshot(snap).ok());
  EXPECT_EQ(*s.FirstIndex(), 11u);
  EXPECT_EQ(*s.LastIndex(), 10u);
  EXPECT_TRUE(IsSnapshotOutOfDate(s.ApplySnapshot(snap)));
}

// --- RaftLog ---

TEST(RaftLog, UnstableOverridesStorageAndStableTo) {
  MemoryStorage s;
  s.Append({Ent(1, 1), Ent(2, 1)});
  RaftLog log(&s, kNoLimit);
  EXPECT_EQ(log.LastIndex(), 2u);
  log.Append({Ent(3, 2), Ent(4, 2)});
  EXPECT_EQ(log.UnstableEntries().size(), 2u);
  EXPECT_EQ(log.Slice(1, 5, kNoLimit)->size(), 4u);
  // A conflicting append replaces part of the unstable tail.
  ASSERT_TRUE(log.MaybeAppend(3, 2, 0, {Ent(4, 3)}).has_value());
  EXPECT_EQ(log.TermOrZero(4), 3u);
  // Persisting the old (replaced) entry does not drop the new one.
  log.StableTo(4, 2);
  EXPECT_EQ(log.UnstableEntries().size(), 2u);
  s.Append(log.UnstableEntries());
  log.StableTo(4, 3);
  EXPECT_TRUE(log.UnstableEntries().empty());
  EXPECT_EQ(log.LastIndex(), 4u);
}

TEST(RaftLog, FindConflictByTerm) {
  MemoryStorage s;
  s.Append({Ent(1, 1), Ent(2, 1), Ent(3, 2), Ent(4, 2), Ent(5, 4)});
  RaftLog log(&s, kNoLimit);
  EXPECT_EQ(log.FindConflictByTerm(5, 3), 4u);
  EXPECT_EQ(log.FindConflictByTerm(5, 1), 2u);
  EXPECT_EQ(log.FindConflictByTerm(5, 0), 0u);
  EXPECT_EQ(log.FindConflictByTerm(9, 1), 9u);  // beyond the log: unchanged
}

TEST(RaftLog, CommittedEntriesAreBoundedPerReady) {
  MemoryStorage s;
  s.Append({Ent(1, 1, std::string(100, 'a')), Ent(2, 1, std::string(100, 'b')),
            Ent(3, 1, std::string(100, 'c'))});
  RaftLog log(&s, 150);
  log.CommitTo(3);
  EXPECT_EQ(log.NextCommittedEntries().size(), 1u);
  log.AppliedTo(1);
  EXPECT_EQ(log.NextCommittedEntries().size(), 1u);
  log.AppliedTo(3);
  EXPECT_FALSE(log.HasNextCommittedEntries());
}

// --- membership changes (§6) ---

raftpb::ConfChangeSingle Change(raftpb::ConfChangeType t, uint64_t id) {
  raftpb::ConfChangeSingle c;
  c.set_type(t);
  c.set_node_id(id);
  return c;
}

ProgressTracker TrackerFor(const raftpb::ConfState& cs) {
  ProgressTracker t(16, 0);
  ConfigAndProgress cp = RestoreConfig(t, 10, cs).value();
  t.config = cp.config;
  t.progress = cp.progress;
  return t;
}

TEST(ConfChange, SimpleChangesAllowOneVoterAtATime) {
  ProgressTracker t = TrackerFor(Voters({1, 2, 3}));
  Changer ch(t, 10);
  EXPECT_TRUE(ch.Simple({Change(raftpb::CONF_CHANGE_ADD_NODE, 4)}).ok());
  EXPECT_TRUE(ch.Simple({Change(raftpb::CONF_CHANGE_ADD_LEARNER_NODE, 4),
                         Change(raftpb::CONF_CHANGE_ADD_LEARNER_NODE, 5)})
                  .ok());
  EXPECT_FALSE(
      ch.Simple({Change(raftpb::CONF_CHANGE_ADD_NODE, 4), Change(raftpb::CONF_CHANGE_ADD_NODE, 5)})
          .ok());
  ProgressTracker one = TrackerFor(Voters({1}));
  EXPECT_FALSE(Changer(one, 10).Simple({Change(raftpb::CONF_CHANGE_REMOVE_NODE, 1)}).ok());
}

TEST(ConfChange, JointEnterAndLeaveWithDemotion) {
  ProgressTracker t = TrackerFor(Voters({1, 2, 3}));
  ConfigAndProgress cp = Changer(t, 10)
                             .EnterJoint(true, {Change(raftpb::CONF_CHANGE_ADD_NODE, 4),
                                                Change(raftpb::CONF_CHANGE_ADD_LEARNER_NODE, 3)})
                             .value();
  EXPECT_EQ(cp.config.voters.DebugString(), "(1 2 4)&&(1 2 3)");
  EXPECT_EQ(cp.config.learners_next, (std::set<uint64_t>{3}));  // still an outgoing voter
  EXPECT_TRUE(cp.config.auto_leave);
  t.config = cp.config;
  t.progress = cp.progress;
  EXPECT_FALSE(Changer(t, 10).EnterJoint(false, {}).ok());  // already joint
  EXPECT_FALSE(Changer(t, 10).Simple({Change(raftpb::CONF_CHANGE_ADD_NODE, 5)}).ok());
  ConfigAndProgress left = Changer(t, 10).LeaveJoint().value();
  EXPECT_EQ(left.config.voters.DebugString(), "(1 2 4)");
  EXPECT_EQ(left.config.learners, (std::set<uint64_t>{3}));
  EXPECT_TRUE(left.progress.at(3).is_learner);
  EXPECT_FALSE(left.config.auto_leave);
}

TEST(ConfChange, RestoreRoundTripsJointConfState) {
  raftpb::ConfState cs;
  for (uint64_t id : {1, 2, 4}) cs.add_voters(id);
  for (uint64_t id : {1, 2, 3}) cs.add_voters_outgoing(id);
  cs.add_learners(5);
  cs.add_learners_next(3);
  cs.set_auto_leave(true);
  ProgressTracker t = TrackerFor(cs);
  EXPECT_TRUE(ConfStatesEquivalent(t.ConfState(), cs));
}

TEST(ConfChange, TransitionClassification) {
  raftpb::ConfChange cc;
  bool auto_leave = false;
  EXPECT_TRUE(IsLeaveJoint(cc));
  *cc.add_changes() = Change(raftpb::CONF_CHANGE_ADD_NODE, 4);
  EXPECT_FALSE(IsEnterJoint(cc, &auto_leave));
  *cc.add_changes() = Change(raftpb::CONF_CHANGE_ADD_NODE, 5);
  EXPECT_TRUE(IsEnterJoint(cc, &auto_leave));
  EXPECT_TRUE(auto_leave);
  cc.set_transition(raftpb::CONF_CHANGE_TRANSITION_JOINT_EXPLICIT);
  EXPECT_TRUE(IsEnterJoint(cc, &auto_leave));
  EXPECT_FALSE(auto_leave);
}

// --- RawNode: the Ready/Advance protocol and durability contract ---

TEST(RawNode, SingleNodeReadyCycle) {
  MemoryStorage s;
  s.SetInitialConfState(Voters({1}));
  Config c = testing::RawNodeTestConfig(1, &s);
  std::unique_ptr<RawNode> rn = RawNode::Create(c).value();
  ASSERT_TRUE(rn->Campaign().ok());
  std::vector<std::string> applied;
  auto drain = [&] {
    while (rn->HasReady()) {
      Ready rd = rn->GetReady();
      // Persist first; messages (none here) would go next; then apply.
      if (!rd.entries.empty()) {
        EXPECT_TRUE(rd.must_sync);
      }
      s.Append(rd.entries);
      if (rd.hard_state) s.SetHardState(*rd.hard_state);
      for (const raftpb::Entry& e : rd.committed_entries) {
        EXPECT_LE(e.index(), *s.LastIndex()) << "applying an entry that is not persisted";
        if (!e.data().empty()) applied.push_back(e.data());
      }
      rn->Advance();
    }
  };
  drain();
  EXPECT_EQ(rn->GetStatus().soft_state.raft_state, StateType::kLeader);
  ASSERT_TRUE(rn->Propose("hello").ok());
  drain();
  EXPECT_EQ(applied, (std::vector<std::string>{"hello"}));
  EXPECT_EQ(s.hard_state().commit(), 2u);
  // Restart from storage: nothing is re-applied past `applied`.
  c.applied = 2;
  std::unique_ptr<RawNode> again = RawNode::Create(c).value();
  EXPECT_EQ(again->GetStatus().hard_state.commit(), 2u);
  EXPECT_FALSE(again->raft().log().HasNextCommittedEntries());
}

TEST(RawNode, RefusesLocalMessagesFromTheNetwork) {
  MemoryStorage s;
  s.SetInitialConfState(Voters({1, 2}));
  std::unique_ptr<RawNode> rn = RawNode::Create(testing::RawNodeTestConfig(1, &s)).value();
  EXPECT_TRUE(absl::IsInvalidArgument(rn->Step(testing::Msg(2, 1, raftpb::MSG_HUP))));
  EXPECT_TRUE(absl::IsNotFound(rn->Step(testing::Msg(9, 1, raftpb::MSG_APP_RESP, 1))));
}

TEST(RawNode, ProposalWithoutLeaderIsDropped) {
  MemoryStorage s;
  s.SetInitialConfState(Voters({1, 2, 3}));
  std::unique_ptr<RawNode> rn = RawNode::Create(testing::RawNodeTestConfig(1, &s)).value();
  absl::Status st = rn->Propose("x");
  EXPECT_TRUE(IsProposalDropped(st)) << st;
}

TEST(Config, Validate) {
  MemoryStorage s;
  Config c = testing::TestConfig(1, &s);
  EXPECT_TRUE(c.Validate().ok());
  c.id = 0;
  EXPECT_FALSE(c.Validate().ok());
  c = testing::TestConfig(1, &s, 5, 5);
  EXPECT_FALSE(c.Validate().ok());
  c = testing::TestConfig(1, nullptr);
  EXPECT_FALSE(c.Validate().ok());
}

}  // namespace
}  // namespace rangedb::raft
