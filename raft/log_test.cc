// Tests of RaftLog's copy-avoiding paths: the persisted cache behind
// TakeNextCommittedEntries() and AppendEntriesFrom(). Each must return exactly what
// the plain Storage-reading path (NextCommittedEntries(), EntriesFrom()) returns.
#include "raft/log.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "raft/memory_storage.h"
#include "raft/raft_test_util.h"

namespace rangedb::raft {
namespace {

using testing::Ent;

std::string Describe(const std::vector<raftpb::Entry>& ents) {
  std::string out;
  for (const raftpb::Entry& e : ents) {
    out += std::to_string(e.index()) + "/" + std::to_string(e.term()) + ":" + e.data() + " ";
  }
  return out;
}

// The owner's side of a Ready for the log alone: persist the unstable entries, then
// tell the log they are stable.
void Persist(RaftLog& log, MemoryStorage& s) {
  if (log.UnstableEntries().empty()) return;
  const raftpb::Entry last = log.UnstableEntries().back();
  s.Append(std::vector<raftpb::Entry>(log.UnstableEntries()));
  log.StableTo(last.index(), last.term());
}

// Takes the next committed entries, checks they equal what Storage reads give, and
// marks them applied. Returns them.
std::vector<raftpb::Entry> TakeAndApply(RaftLog& log) {
  const std::vector<raftpb::Entry> want = log.NextCommittedEntries();
  std::vector<raftpb::Entry> got = log.TakeNextCommittedEntries();
  EXPECT_EQ(Describe(got), Describe(want));
  if (!got.empty()) log.AppliedTo(got.back().index());
  return got;
}

TEST(RaftLogCache, CommittedEntriesComeFromPersistedCache) {
  MemoryStorage s;
  RaftLog log(&s, kNoLimit);
  log.Append({Ent(1, 1, "a"), Ent(2, 1, "b"), Ent(3, 1, "c")});
  Persist(log, s);
  log.CommitTo(2);
  EXPECT_EQ(Describe(TakeAndApply(log)), "1/1:a 2/1:b ");
  // Committed entries that are partly persisted and partly still unstable.
  log.Append({Ent(4, 1, "d"), Ent(5, 1, "e")});
  log.CommitTo(5);
  EXPECT_EQ(Describe(TakeAndApply(log)), "3/1:c 4/1:d 5/1:e ");
  EXPECT_FALSE(log.HasNextCommittedEntries());
  EXPECT_TRUE(TakeAndApply(log).empty());
}

TEST(RaftLogCache, ByteLimitTakesPrefixes) {
  MemoryStorage s;
  RaftLog log(&s, 150);
  log.Append({Ent(1, 1, std::string(100, 'a')), Ent(2, 1, std::string(10, 'b')),
              Ent(3, 1, std::string(10, 'c')), Ent(4, 1, std::string(100, 'd'))});
  Persist(log, s);
  log.Append({Ent(5, 1, std::string(10, 'e'))});
  log.CommitTo(5);
  EXPECT_EQ(TakeAndApply(log).size(), 3u);  // 100 + 10 + 10 bytes of payload (+ headers)
  EXPECT_EQ(TakeAndApply(log).size(), 2u);  // 4 from the cache, 5 from the unstable tail
  EXPECT_FALSE(log.HasNextCommittedEntries());
}

// §5.3: a follower's uncommitted persisted entries may be replaced by a new leader's;
// the cache must not hand out the replaced ones.
TEST(RaftLogCache, ConflictingAppendReplacesCachedEntries) {
  MemoryStorage s;
  RaftLog log(&s, kNoLimit);
  log.Append({Ent(1, 1, "a"), Ent(2, 1, "b"), Ent(3, 1, "c")});
  Persist(log, s);
  ASSERT_EQ(log.MaybeAppend(1, 1, 1, {Ent(2, 2, "B"), Ent(3, 2, "C")}), 3u);
  // Committed before the replacement is persisted: entry 1 from the cache.
  EXPECT_EQ(Describe(TakeAndApply(log)), "1/1:a ");
  log.CommitTo(3);
  EXPECT_EQ(Describe(TakeAndApply(log)), "2/2:B 3/2:C ");
  Persist(log, s);
  ASSERT_EQ(log.MaybeAppend(3, 2, 3, {Ent(4, 2, "d")}), 4u);
  Persist(log, s);
  // Replace the persisted entry 4 before it is applied, then persist the new one.
  ASSERT_EQ(log.MaybeAppend(3, 2, 3, {Ent(4, 3, "D"), Ent(5, 3, "E")}), 5u);
  Persist(log, s);
  log.CommitTo(5);
  EXPECT_EQ(Describe(TakeAndApply(log)), "4/3:D 5/3:E ");
}

TEST(RaftLogCache, RestartCompactionAndSnapshotFallBackToStorage) {
  MemoryStorage s;
  {
    RaftLog log(&s, kNoLimit);
    log.Append({Ent(1, 1, "a"), Ent(2, 1, "b")});
    Persist(log, s);
  }
  // A restarted log starts with an empty cache: entries 1-2 come from Storage, 3-4
  // from the cache once it is aligned again.
  RaftLog log(&s, kNoLimit);
  log.Append({Ent(3, 1, "c"), Ent(4, 1, "d")});
  Persist(log, s);
  log.CommitTo(3);
  EXPECT_EQ(Describe(TakeAndApply(log)), "1/1:a 2/1:b 3/1:c ");
  log.CommitTo(4);
  EXPECT_EQ(Describe(TakeAndApply(log)), "4/1:d ");
  // The owner compacts past entries the cache still holds.
  log.Append({Ent(5, 1, "e"), Ent(6, 1, "f"), Ent(7, 1, "g")});
  Persist(log, s);
  ASSERT_TRUE(s.Compact(5).ok());
  log.CommitTo(7);
  EXPECT_EQ(Describe(TakeAndApply(log)), "6/1:f 7/1:g ");
  // A snapshot replaces the log.
  log.Append({Ent(8, 1, "h")});
  Persist(log, s);
  raftpb::Snapshot snap;
  snap.mutable_metadata()->set_index(10);
  snap.mutable_metadata()->set_term(2);
  log.Restore(snap);
  ASSERT_TRUE(s.ApplySnapshot(snap).ok());
  log.StableSnapTo(10);
  log.AppliedTo(10);
  log.Append({Ent(11, 2, "k")});
  Persist(log, s);
  log.CommitTo(11);
  EXPECT_EQ(Describe(TakeAndApply(log)), "11/2:k ");
}

TEST(RaftLogCache, OverflowingTheBoundStillReturnsEntries) {
  MemoryStorage s;
  RaftLog log(&s, kNoLimit);
  const std::string big(kMaxPersistedCacheBytes / 2 + 1, 'x');
  for (uint64_t i = 1; i <= 4; ++i) {
    log.Append({Ent(i, 1, big + std::to_string(i))});
    Persist(log, s);
  }
  log.CommitTo(3);
  EXPECT_EQ(TakeAndApply(log).size(), 3u);
  log.Append({Ent(5, 1, std::string(kMaxPersistedCacheBytes + 1, 'y'))});  // never cached
  Persist(log, s);
  log.CommitTo(5);
  EXPECT_EQ(TakeAndApply(log).size(), 2u);
}

// MsgApp building: the same entries as EntriesFrom for every start and byte limit.
TEST(RaftLogCache, AppendEntriesFromMatchesEntriesFrom) {
  MemoryStorage s;
  RaftLog log(&s, kNoLimit);
  log.Append({Ent(1, 1, "aaaa"), Ent(2, 1, "bb"), Ent(3, 1, std::string(40, 'c'))});
  Persist(log, s);
  ASSERT_TRUE(s.Compact(1).ok());
  log.Append({Ent(4, 2, "d"), Ent(5, 2, std::string(30, 'e')), Ent(6, 2, "f")});
  for (uint64_t i = 1; i <= 7; ++i) {
    for (uint64_t max_bytes : {uint64_t{0}, uint64_t{8}, uint64_t{20}, uint64_t{60}, kNoLimit}) {
      absl::StatusOr<std::vector<raftpb::Entry>> want = log.EntriesFrom(i, max_bytes);
      google::protobuf::RepeatedPtrField<raftpb::Entry> got;
      const absl::Status st = log.AppendEntriesFrom(i, max_bytes, &got);
      ASSERT_EQ(st.ok(), want.ok()) << "i=" << i << " max_bytes=" << max_bytes;
      if (!st.ok()) {
        EXPECT_TRUE(IsCompacted(st));
        EXPECT_TRUE(got.empty());
        continue;
      }
      EXPECT_EQ(Describe(std::vector<raftpb::Entry>(got.begin(), got.end())), Describe(*want))
          << "i=" << i << " max_bytes=" << max_bytes;
    }
  }
}

TEST(MemoryStorage, AppendByMoveEqualsAppendByCopy) {
  MemoryStorage a;
  MemoryStorage b;
  const std::vector<raftpb::Entry> first = {Ent(1, 1, "a"), Ent(2, 1, "b"), Ent(3, 1, "c")};
  const std::vector<raftpb::Entry> conflicting = {Ent(2, 2, "B"), Ent(3, 2, "C"), Ent(4, 2, "D")};
  a.Append(first);
  a.Append(conflicting);
  b.Append(std::vector<raftpb::Entry>(first));
  b.Append(std::vector<raftpb::Entry>(conflicting));
  ASSERT_TRUE(a.Compact(2).ok());
  ASSERT_TRUE(b.Compact(2).ok());
  const std::vector<raftpb::Entry> stale = {Ent(1, 1, "a"), Ent(2, 2, "B")};
  a.Append(stale);  // entirely compacted: ignored
  b.Append(std::vector<raftpb::Entry>(stale));
  EXPECT_EQ(Describe(*a.Entries(3, 5, kNoLimit)), "3/2:C 4/2:D ");
  EXPECT_EQ(Describe(*b.Entries(3, 5, kNoLimit)), "3/2:C 4/2:D ");
}

}  // namespace
}  // namespace rangedb::raft
