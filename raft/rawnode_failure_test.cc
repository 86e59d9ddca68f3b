// A Storage read that fails with an unexpected error (a corrupt record) fails the
// RawNode, not the process (raft/storage.h, StorageFailure): the owner can stop that
// one replica and keep the others of the process running.
#include <memory>

#include "gtest/gtest.h"
#include "raft/memory_storage.h"
#include "raft/raft_test_util.h"
#include "raft/rawnode.h"

namespace rangedb::raft {
namespace {

// A disk whose entry at `poisoned` fails its checksum.
class CorruptStorage : public MemoryStorage {
 public:
  uint64_t poisoned = 0;
  absl::StatusOr<uint64_t> Term(uint64_t i) const override {
    if (i == poisoned) return absl::DataLossError("entry: checksum mismatch");
    return MemoryStorage::Term(i);
  }
  absl::StatusOr<std::vector<raftpb::Entry>> Entries(uint64_t lo, uint64_t hi,
                                                     uint64_t max_bytes) const override {
    if (lo <= poisoned && poisoned < hi) return absl::DataLossError("entry: checksum mismatch");
    return MemoryStorage::Entries(lo, hi, max_bytes);
  }
};

TEST(RawNodeStorageFailure, CorruptEntryFailsTheNodeNotTheProcess) {
  CorruptStorage s;
  s.SetInitialConfState(testing::Voters({1, 2, 3}));
  s.Append({testing::Ent(1, 1, "a"), testing::Ent(2, 1, "b"), testing::Ent(3, 1, "c")});
  raftpb::HardState hs;
  hs.set_term(1);
  hs.set_commit(1);
  s.SetHardState(hs);
  std::unique_ptr<RawNode> rn = RawNode::Create(testing::RawNodeTestConfig(1, &s)).value();
  ASSERT_TRUE(rn->failure().ok());
  s.poisoned = 3;
  // Campaigning needs the last entry's term: the read fails.
  const absl::Status st = rn->Campaign();
  EXPECT_TRUE(absl::IsDataLoss(st)) << st;
  EXPECT_TRUE(absl::IsDataLoss(rn->failure())) << rn->failure();
  // From now on nothing happens and nothing is handed out.
  EXPECT_FALSE(rn->HasReady());
  EXPECT_TRUE(rn->GetReady().messages.empty());
  rn->Tick();
  rn->ReportUnreachable(2);
  EXPECT_TRUE(absl::IsDataLoss(rn->Propose("x")));
  EXPECT_TRUE(absl::IsDataLoss(rn->Step(testing::Msg(2, 1, raftpb::MSG_HEARTBEAT, 1))));
}

TEST(RawNodeStorageFailure, FailureWhileHandingOutCommittedEntries) {
  CorruptStorage s;
  s.SetInitialConfState(testing::Voters({1}));
  s.Append({testing::Ent(1, 1, "a"), testing::Ent(2, 1, "b")});
  raftpb::HardState hs;
  hs.set_term(1);
  hs.set_commit(2);
  s.SetHardState(hs);
  s.poisoned = 2;
  std::unique_ptr<RawNode> rn = RawNode::Create(testing::RawNodeTestConfig(1, &s)).value();
  // Entries 1..2 are committed, not applied: handing them out reads entry 2.
  if (rn->HasReady()) {
    const Ready rd = rn->GetReady();
    EXPECT_TRUE(rd.committed_entries.empty()) << "handed out entries it could not read";
  }
  EXPECT_TRUE(absl::IsDataLoss(rn->failure())) << rn->failure();
  EXPECT_FALSE(rn->HasReady());
}

}  // namespace
}  // namespace rangedb::raft
