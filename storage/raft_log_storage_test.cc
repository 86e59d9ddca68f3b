#include "storage/raft_log_storage.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "raft/memory_storage.h"
#include "storage/keys.h"
#include "storage/mvcc_key.h"
#include "storage/rocksdb_engine.h"

namespace rangedb {
namespace {

using raftpb::Entry;

Entry MakeEntry(uint64_t index, uint64_t term, std::string data = "") {
  Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_data(std::move(data));
  return e;
}

// Entries [lo, hi) at term, each with data_bytes of data.
std::vector<Entry> MakeEntries(uint64_t lo, uint64_t hi, uint64_t term, size_t data_bytes = 8) {
  std::vector<Entry> out;
  for (uint64_t i = lo; i < hi; ++i) {
    out.push_back(MakeEntry(i, term, std::string(data_bytes, static_cast<char>('a' + i % 26))));
  }
  return out;
}

// A compact, comparable rendering of an answer: the status, or index/term/type/data of
// each entry.
std::string Render(const absl::StatusOr<std::vector<Entry>>& r) {
  if (!r.ok()) return r.status().ToString();
  std::string out;
  for (const Entry& e : *r) {
    absl::StrAppend(&out, e.index(), "/", e.term(), "/", e.type(), "/", e.data().size(), ":",
                    raftlog::Crc32c(e.data()), " ");
  }
  return out;
}

std::string Render(const absl::StatusOr<uint64_t>& r) {
  return r.ok() ? absl::StrCat(*r) : r.status().ToString();
}

class RaftLogStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("raft_log_storage_test_", ::getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    ReopenEngine();
  }
  void TearDown() override {
    engine_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Closes and reopens the on-disk engine (a process restart).
  void ReopenEngine() {
    engine_.reset();
    EngineOptions options;
    options.path = dir_.string();
    options.write_buffer_bytes = size_t{1} << 20;
    absl::StatusOr<std::unique_ptr<Engine>> e = OpenEngine(options);
    ASSERT_TRUE(e.ok()) << e.status();
    engine_ = *std::move(e);
  }

  std::unique_ptr<RaftLogStorage> Open(uint64_t range_id,
                                       size_t cache_bytes_max = size_t{4} << 20) {
    RaftLogOptions options;
    options.cache_bytes_max = cache_bytes_max;
    absl::StatusOr<std::unique_ptr<RaftLogStorage>> s =
        RaftLogStorage::Open(engine_.get(), range_id, options);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }

  // Stages with `stage`, commits (synced unless told), then makes it visible.
  void Apply(RaftLogStorage& s, const std::function<void(RaftLogWrite&)>& stage, bool sync = true) {
    std::unique_ptr<WriteBatch> batch = engine_->NewWriteBatch();
    RaftLogWrite w = s.NewWrite(batch.get());
    stage(w);
    ASSERT_TRUE(batch->Commit(sync).ok());
    s.OnCommitted(std::move(w));
  }

  void Append(RaftLogStorage& s, const std::vector<Entry>& entries) {
    Apply(s, [&](RaftLogWrite& w) { w.Append(entries); });
  }

  std::string RawGet(ColumnFamily cf, const std::string& key) {
    std::string v;
    absl::StatusOr<bool> found = engine_->Get(cf, key, &v);
    EXPECT_TRUE(found.ok() && *found) << key.size();
    return v;
  }
  void RawPut(ColumnFamily cf, const std::string& key, const std::string& value) {
    std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
    b->Put(cf, key, value);
    ASSERT_TRUE(b->Commit(true).ok());
  }

  // The engine holds exactly entries [first, last] of range_id: nothing compacted,
  // truncated or replaced by a snapshot is left behind.
  void ExpectDiskHoldsExactly(uint64_t range_id, uint64_t first, uint64_t last) {
    IterOptions o;
    o.cf = ColumnFamily::kRaftLog;
    o.lower_bound = keys::RaftLogKey(range_id, 0);
    o.upper_bound = keys::RaftLogKey(range_id + 1, 0);
    std::unique_ptr<Iterator> it = engine_->NewIterator(o);
    uint64_t want = first;
    for (it->SeekToFirst(); it->Valid(); it->Next(), ++want) {
      ASSERT_EQ(it->key(), keys::RaftLogKey(range_id, want));
    }
    ASSERT_TRUE(it->status().ok());
    ASSERT_EQ(want, last + 1);
  }

  std::filesystem::path dir_;
  std::unique_ptr<Engine> engine_;
};

// Every raft::Storage answer of s equals the one of mem: bounds, initial state,
// snapshot metadata, Term over and around the log, and Entries over random spans
// and byte limits.
void ExpectSameAnswers(const raft::MemoryStorage& mem, const RaftLogStorage& s,
                       std::mt19937_64& rng) {
  const uint64_t first = *mem.FirstIndex();
  const uint64_t last = *mem.LastIndex();
  ASSERT_EQ(Render(s.FirstIndex()), Render(mem.FirstIndex()));
  ASSERT_EQ(Render(s.LastIndex()), Render(mem.LastIndex()));
  const raft::InitialState want = *mem.GetInitialState();
  const raft::InitialState got = *s.GetInitialState();
  ASSERT_EQ(got.hard_state.SerializeAsString(), want.hard_state.SerializeAsString());
  ASSERT_EQ(got.conf_state.SerializeAsString(), want.conf_state.SerializeAsString());
  ASSERT_EQ(s.Snapshot()->metadata().SerializeAsString(),
            mem.Snapshot()->metadata().SerializeAsString());
  ASSERT_EQ(s.Snapshot()->data(), mem.Snapshot()->data());

  for (uint64_t i = first > 3 ? first - 3 : 0; i <= last + 3; ++i) {
    ASSERT_EQ(Render(s.Term(i)), Render(mem.Term(i))) << "Term(" << i << ")";
  }
  for (int k = 0; k < 6; ++k) {
    const uint64_t lo = (first > 2 ? first - 2 : 0) + rng() % (last - first + 5);
    const uint64_t hi = lo + rng() % (last + 4 - std::min(lo, last + 3));
    // Limits at and just below the size of an exact prefix find off-by-one errors.
    uint64_t prefix_bytes = rng() % 6000;
    if (absl::StatusOr<std::vector<Entry>> all = mem.Entries(lo, hi, raft::kNoLimit);
        all.ok() && !all->empty()) {
      prefix_bytes = 0;
      for (size_t n = 1 + rng() % all->size(), k = 0; k < n; ++k) {
        prefix_bytes += (*all)[k].ByteSizeLong();
      }
    }
    const uint64_t limits[] = {0, 1, rng() % 6000, prefix_bytes, prefix_bytes - 1, raft::kNoLimit};
    const uint64_t max_bytes = limits[rng() % 6];
    ASSERT_EQ(Render(s.Entries(lo, hi, max_bytes)), Render(mem.Entries(lo, hi, max_bytes)))
        << "Entries(" << lo << ", " << hi << ", " << max_bytes << ")";
  }
}

raftpb::ConfState RandomConfState(std::mt19937_64& rng) {
  raftpb::ConfState cs;
  for (uint64_t id = 1; id <= 5; ++id) {
    if (rng() % 2 == 0) cs.add_voters(id);
    if (rng() % 5 == 0) cs.add_learners(id + 10);
  }
  return cs;
}

// What a random workload did, to check that it exercised each path.
struct WorkloadStats {
  int appends = 0;
  int suffix_truncations = 0;
  int compactions = 0;
  int snapshots_created = 0;
  int snapshots_applied = 0;
  uint64_t longest_log = 0;
};

// One random owner-side change applied to both the model and the staged write.
void RandomChange(raft::MemoryStorage& mem, RaftLogWrite& w, std::mt19937_64& rng, uint64_t& term,
                  WorkloadStats& stats) {
  const uint64_t first = *mem.FirstIndex();
  const uint64_t last = *mem.LastIndex();
  stats.longest_log = std::max(stats.longest_log, last + 1 - first);
  const int op = static_cast<int>(rng() % 100);
  if (op < 55) {  // append: mostly at the end, sometimes over a suffix or the compacted prefix
    if (rng() % 5 == 0) ++term;
    const uint64_t lowest = first > 3 ? first - 3 : 1;
    const int kind = static_cast<int>(rng() % 10);
    uint64_t start = last + 1;
    if (kind >= 9) {
      start = lowest + rng() % (last + 2 - lowest);
    } else if (kind >= 7) {
      start = last + 1 - std::min<uint64_t>(last + 1 - lowest, rng() % 6);
    }
    std::vector<Entry> ents;
    const uint64_t count = rng() % 7;
    for (uint64_t i = start; i < start + count; ++i) {
      const size_t bytes = rng() % 4 == 0 ? rng() % 3000 : rng() % 64;
      Entry e = MakeEntry(i, term, std::string(bytes, static_cast<char>(rng())));
      if (rng() % 10 == 0) e.set_type(raftpb::ENTRY_CONF_CHANGE);
      ents.push_back(std::move(e));
    }
    ++stats.appends;
    if (!ents.empty() && start <= last && start + ents.size() > first) ++stats.suffix_truncations;
    mem.Append(ents);
    w.Append(ents);
  } else if (op < 72) {
    raftpb::HardState hs;
    hs.set_term(term);
    hs.set_vote(rng() % 4);
    hs.set_commit(rng() % (last + 1));
    mem.SetHardState(hs);
    w.SetHardState(hs);
  } else if (op < 80) {
    const uint64_t ci = first - 1 + rng() % (last - first + 2);
    const absl::Status want = mem.Compact(ci);
    ASSERT_EQ(w.Compact(ci).ToString(), want.ToString()) << "Compact(" << ci << ")";
    stats.compactions += want.ok();
  } else if (op < 90) {
    const uint64_t i = first - 1 + rng() % (last - first + 2);
    const raftpb::ConfState cs = RandomConfState(rng);
    const absl::Status want = mem.CreateSnapshot(i, cs, "").status();
    ASSERT_EQ(w.CreateSnapshot(i, cs).ToString(), want.ToString()) << "CreateSnapshot(" << i << ")";
    stats.snapshots_created += want.ok();
  } else if (op < 93) {
    raftpb::Snapshot snap;
    snap.mutable_metadata()->set_index(last + 10 > 15 ? last + 10 - rng() % 15 : rng() % 10);
    snap.mutable_metadata()->set_term(++term);
    *snap.mutable_metadata()->mutable_conf_state() = RandomConfState(rng);
    const absl::Status want = mem.ApplySnapshot(snap);
    ASSERT_EQ(w.ApplySnapshot(snap).ToString(), want.ToString());
    stats.snapshots_applied += want.ok();
  } else {
    const raftpb::ConfState cs = RandomConfState(rng);
    mem.SetInitialConfState(cs);
    w.SetInitialConfState(cs);
  }
}

// The same random sequence of appends, compactions, snapshots and hard-state changes
// applied to raft::MemoryStorage (the reference) and to the engine log gives the same
// answer to every Storage method, across cache evictions, storage reopens, flushes to
// files and engine restarts.
TEST_F(RaftLogStorageTest, ConformsToMemoryStorage) {
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    std::mt19937_64 rng(seed);
    raft::MemoryStorage mem;
    const size_t cache_bytes_max = 8 << 10;  // small: evictions and disk reads happen
    std::unique_ptr<RaftLogStorage> s = Open(seed, cache_bytes_max);
    uint64_t term = 1;
    WorkloadStats stats;
    for (int step = 0; step < 1500; ++step) {
      std::unique_ptr<WriteBatch> batch = engine_->NewWriteBatch();
      RaftLogWrite w = s->NewWrite(batch.get());
      const int changes = 1 + static_cast<int>(rng() % 4);  // chained in one write
      for (int c = 0; c < changes; ++c) {
        ASSERT_NO_FATAL_FAILURE(RandomChange(mem, w, rng, term, stats)) << "step " << step;
      }
      ASSERT_TRUE(batch->Commit(/*sync=*/false).ok());
      s->OnCommitted(std::move(w));
      ASSERT_LE(s->cache().size_bytes(), cache_bytes_max);

      if (step % 97 == 96) s = Open(seed, cache_bytes_max);  // restart from disk
      if (step % 211 == 210) {
        ASSERT_TRUE(engine_->Flush().ok());
      }
      if (step % 499 == 498) {
        s.reset();
        ReopenEngine();
        s = Open(seed, cache_bytes_max);
      }
      ASSERT_NO_FATAL_FAILURE(ExpectSameAnswers(mem, *s, rng)) << "step " << step;
      ASSERT_NO_FATAL_FAILURE(ExpectDiskHoldsExactly(seed, *mem.FirstIndex(), *mem.LastIndex()))
          << "step " << step;
    }
    // The workload did exercise every path (guards against a degenerate generator).
    EXPECT_GT(stats.appends, 1000);
    EXPECT_GT(stats.suffix_truncations, 200);
    EXPECT_GT(stats.compactions, 100);
    EXPECT_GT(stats.snapshots_created, 50);
    EXPECT_GT(stats.snapshots_applied, 20);
    EXPECT_GT(stats.longest_log, 60u);
  }
}

// Everything the log acknowledged survives closing and reopening the engine: entries,
// hard state, conf state, snapshot metadata and the first/last index.
TEST_F(RaftLogStorageTest, RestartResumes) {
  raft::MemoryStorage mem;
  {
    std::unique_ptr<RaftLogStorage> s = Open(7);
    raftpb::HardState hs;
    hs.set_term(3);
    hs.set_vote(2);
    hs.set_commit(40);
    raftpb::ConfState cs;
    cs.add_voters(1);
    cs.add_voters(2);
    const std::vector<Entry> ents = MakeEntries(1, 51, 3, 100);
    Apply(*s, [&](RaftLogWrite& w) {
      w.SetInitialConfState(cs);
      w.Append(ents);
      w.SetHardState(hs);
    });
    Apply(*s, [&](RaftLogWrite& w) {
      ASSERT_TRUE(w.Compact(10).ok());
      ASSERT_TRUE(w.CreateSnapshot(20, cs).ok());
    });
    mem.SetInitialConfState(cs);
    mem.Append(ents);
    mem.SetHardState(hs);
    ASSERT_TRUE(mem.Compact(10).ok());
    ASSERT_TRUE(mem.CreateSnapshot(20, cs, "").ok());
  }
  ReopenEngine();
  std::unique_ptr<RaftLogStorage> s = Open(7);
  EXPECT_EQ(*s->FirstIndex(), 11u);
  EXPECT_EQ(*s->LastIndex(), 50u);
  EXPECT_EQ(*s->Term(10), 3u);
  EXPECT_TRUE(s->cache().empty());  // every answer below comes from disk
  std::mt19937_64 rng(1);
  ExpectSameAnswers(mem, *s, rng);
  EXPECT_EQ(Render(s->Entries(11, 51, raft::kNoLimit)),
            Render(mem.Entries(11, 51, raft::kNoLimit)));
}

TEST_F(RaftLogStorageTest, FreshRangeIsEmptyLogAtZero) {
  std::unique_ptr<RaftLogStorage> s = Open(1);
  EXPECT_EQ(*s->FirstIndex(), 1u);
  EXPECT_EQ(*s->LastIndex(), 0u);
  EXPECT_EQ(*s->Term(0), 0u);
  EXPECT_TRUE(raft::IsEntryUnavailable(s->Term(1).status()));
  EXPECT_TRUE(raft::IsCompacted(s->Entries(0, 1, raft::kNoLimit).status()));
  EXPECT_EQ(s->Snapshot()->metadata().index(), 0u);
}

// A batch that is never committed (the process dies before the write) leaves nothing:
// neither the in-memory view nor the disk changes. A committed one is complete.
TEST_F(RaftLogStorageTest, UncommittedBatchLeavesNothing) {
  std::unique_ptr<RaftLogStorage> s = Open(1);
  Append(*s, MakeEntries(1, 6, 1));
  {
    std::unique_ptr<WriteBatch> batch = engine_->NewWriteBatch();
    RaftLogWrite w = s->NewWrite(batch.get());
    w.Append(MakeEntries(4, 11, 2));
    raftpb::HardState hs;
    hs.set_term(2);
    w.SetHardState(hs);
    ASSERT_TRUE(w.Compact(3).ok());
    EXPECT_EQ(w.state().last_index, 10u);
    // Staged, not committed: reads still answer from the committed log.
    EXPECT_EQ(*s->LastIndex(), 5u);
    EXPECT_EQ(*s->Term(4), 1u);
  }  // batch and write dropped: the "crash"
  EXPECT_EQ(*s->FirstIndex(), 1u);
  EXPECT_EQ(*s->LastIndex(), 5u);
  s.reset();
  ReopenEngine();
  s = Open(1);
  EXPECT_EQ(*s->FirstIndex(), 1u);
  EXPECT_EQ(*s->LastIndex(), 5u);
  EXPECT_EQ(*s->Term(4), 1u);
  EXPECT_EQ(s->GetInitialState()->hard_state.term(), 0u);

  // The same changes committed (synced) are all there after a restart.
  Apply(*s, [&](RaftLogWrite& w) {
    w.Append(MakeEntries(4, 11, 2));
    raftpb::HardState hs;
    hs.set_term(2);
    w.SetHardState(hs);
    ASSERT_TRUE(w.Compact(3).ok());
  });
  s.reset();
  ReopenEngine();
  s = Open(1);
  EXPECT_EQ(*s->FirstIndex(), 4u);
  EXPECT_EQ(*s->LastIndex(), 10u);
  EXPECT_EQ(*s->Term(3), 1u);
  EXPECT_EQ(*s->Term(4), 2u);
  EXPECT_EQ(s->GetInitialState()->hard_state.term(), 2u);
  EXPECT_EQ(s->Entries(4, 11, raft::kNoLimit)->size(), 7u);
}

// A commit without sync is in the engine's write-ahead log (the OS page cache): a clean
// close or kill -9 keeps it; only losing the machine could lose it, which is why the
// owner syncs before acknowledging.
TEST_F(RaftLogStorageTest, UnsyncedCommitSurvivesEngineClose) {
  std::unique_ptr<RaftLogStorage> s = Open(1);
  Apply(
      *s, [&](RaftLogWrite& w) { w.Append(MakeEntries(1, 4, 1)); }, /*sync=*/false);
  s.reset();
  ReopenEngine();
  s = Open(1);
  EXPECT_EQ(*s->LastIndex(), 3u);
}

TEST_F(RaftLogStorageTest, ChangesInOneWriteSeeEachOther) {
  std::unique_ptr<RaftLogStorage> s = Open(1);
  Apply(*s, [&](RaftLogWrite& w) {
    w.Append(MakeEntries(1, 11, 1));
    ASSERT_TRUE(w.Compact(5).ok());   // compacts entries staged just before
    w.Append(MakeEntries(8, 13, 2));  // replaces 8..10, adds 11..12
    EXPECT_EQ(w.state().truncated_term, 1u);
    w.Append(MakeEntries(10, 13, 3));  // replaces 10..12 staged just before
    ASSERT_TRUE(w.CreateSnapshot(10, {}).ok());
    EXPECT_EQ(w.state().snapshot.term(), 3u);
    ASSERT_TRUE(w.Compact(9).ok());
    EXPECT_EQ(w.state().truncated_term, 2u);
    w.Append(MakeEntries(13, 14, 3));
  });
  EXPECT_EQ(*s->FirstIndex(), 10u);
  EXPECT_EQ(*s->LastIndex(), 13u);
  EXPECT_EQ(*s->Term(9), 2u);
  EXPECT_EQ(*s->Term(10), 3u);
  EXPECT_EQ(s->Snapshot()->metadata().index(), 10u);

  raftpb::Snapshot snap;
  snap.mutable_metadata()->set_index(100);
  snap.mutable_metadata()->set_term(5);
  Apply(*s, [&](RaftLogWrite& w) {
    ASSERT_TRUE(w.ApplySnapshot(snap).ok());
    w.Append(MakeEntries(101, 104, 5));
  });
  EXPECT_EQ(*s->FirstIndex(), 101u);
  EXPECT_EQ(*s->LastIndex(), 103u);
  EXPECT_EQ(*s->Term(100), 5u);
  s = Open(1);  // and the disk agrees (the old log 10..13 is gone)
  EXPECT_EQ(*s->FirstIndex(), 101u);
  EXPECT_EQ(*s->LastIndex(), 103u);
  EXPECT_EQ(Render(s->Entries(101, 104, raft::kNoLimit)), Render(MakeEntries(101, 104, 5)));
}

// Two writes staged on the same state: committing the second would lose the first's
// effect on the in-memory view, so it stops the process.
TEST(RaftLogStorageDeathTest, StaleWriteIsABug) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  std::unique_ptr<Engine> engine = *OpenInMemoryEngine();
  std::unique_ptr<RaftLogStorage> s = *RaftLogStorage::Open(engine.get(), 1);
  EXPECT_DEATH(
      {
        std::unique_ptr<WriteBatch> b1 = engine->NewWriteBatch();
        std::unique_ptr<WriteBatch> b2 = engine->NewWriteBatch();
        RaftLogWrite w1 = s->NewWrite(b1.get());
        RaftLogWrite w2 = s->NewWrite(b2.get());
        w1.Append(MakeEntries(1, 2, 1));
        w2.Append(MakeEntries(1, 2, 1));
        s->OnCommitted(std::move(w1));
        s->OnCommitted(std::move(w2));
      },
      "staged before another write");
}

// --- Corruption: detected, reported with range and index, never parsed ---

class RaftLogCorruptionTest : public RaftLogStorageTest {
 protected:
  void SetUp() override {
    RaftLogStorageTest::SetUp();
    std::unique_ptr<RaftLogStorage> s = Open(3);
    Append(*s, MakeEntries(1, 11, 1, 50));
  }
  // A fresh storage with no cache: every read goes to disk.
  std::unique_ptr<RaftLogStorage> Uncached() { return Open(3, 0); }
  void Mutate(uint64_t index, const std::function<void(std::string&)>& f) {
    const std::string key = keys::RaftLogKey(3, index);
    std::string v = RawGet(ColumnFamily::kRaftLog, key);
    f(v);
    RawPut(ColumnFamily::kRaftLog, key, v);
  }
  void ExpectDataLoss(const absl::Status& s, absl::string_view needle) {
    EXPECT_TRUE(absl::IsDataLoss(s)) << s;
    EXPECT_NE(s.message().find("range 3"), absl::string_view::npos) << s;
    EXPECT_NE(s.message().find(needle), absl::string_view::npos) << s;
  }
};

TEST_F(RaftLogCorruptionTest, FlippedPayloadByte) {
  Mutate(5, [](std::string& v) { v[v.size() - 3] ^= 0x10; });
  std::unique_ptr<RaftLogStorage> s = Uncached();
  ExpectDataLoss(s->Entries(1, 11, raft::kNoLimit).status(), "entry 5: checksum mismatch");
  ExpectDataLoss(s->Term(5).status(), "entry 5: checksum mismatch");
  EXPECT_EQ(s->Entries(1, 5, raft::kNoLimit)->size(), 4u);  // not touching 5: fine
  EXPECT_EQ(s->Entries(6, 11, raft::kNoLimit)->size(), 5u);
  EXPECT_EQ(*s->Term(4), 1u);
}

TEST_F(RaftLogCorruptionTest, FlippedChecksumByte) {
  Mutate(1, [](std::string& v) { v[1] ^= 0x01; });
  ExpectDataLoss(Uncached()->Term(1).status(), "entry 1: checksum mismatch");
}

TEST_F(RaftLogCorruptionTest, TruncatedValues) {
  Mutate(6, [](std::string& v) { v.resize(2); });
  Mutate(7, [](std::string& v) { v.resize(v.size() / 2); });
  Mutate(8, [](std::string& v) { v.clear(); });
  std::unique_ptr<RaftLogStorage> s = Uncached();
  ExpectDataLoss(s->Term(6).status(), "entry 6: record of 2 bytes is shorter");
  ExpectDataLoss(s->Term(7).status(), "entry 7: checksum mismatch");
  ExpectDataLoss(s->Term(8).status(), "entry 8: record of 0 bytes");
  ExpectDataLoss(s->Entries(7, 9, raft::kNoLimit).status(), "entry 7");
}

TEST_F(RaftLogCorruptionTest, RecordUnderTheWrongIndex) {
  RawPut(ColumnFamily::kRaftLog, keys::RaftLogKey(3, 4),
         RawGet(ColumnFamily::kRaftLog, keys::RaftLogKey(3, 9)));
  ExpectDataLoss(Uncached()->Entries(4, 5, raft::kNoLimit).status(), "entry 4: holds index 9");
}

// A valid record of another range, copied under this range's key at the same index
// (a bug that mixes up range ids, or a file copied between stores): the range id is in
// the checksum, so it does not verify.
TEST_F(RaftLogCorruptionTest, RecordOfAnotherRange) {
  {
    std::unique_ptr<RaftLogStorage> other = Open(5);
    Append(*other, MakeEntries(1, 11, 1, 50));
    raftpb::HardState hs;
    hs.set_term(1);
    hs.set_commit(10);
    Apply(*other, [&](RaftLogWrite& w) { w.SetHardState(hs); });
  }
  RawPut(ColumnFamily::kRaftLog, keys::RaftLogKey(3, 4),
         RawGet(ColumnFamily::kRaftLog, keys::RaftLogKey(5, 4)));
  ExpectDataLoss(Uncached()->Entries(4, 5, raft::kNoLimit).status(), "entry 4: checksum mismatch");
  RawPut(ColumnFamily::kData, raftlog::HardStateKey(3),
         RawGet(ColumnFamily::kData, raftlog::HardStateKey(5)));
  absl::StatusOr<std::unique_ptr<RaftLogStorage>> s = RaftLogStorage::Open(engine_.get(), 3);
  ASSERT_FALSE(s.ok());
  ExpectDataLoss(s.status(), "hard state: checksum mismatch");
}

TEST_F(RaftLogCorruptionTest, MissingEntry) {
  std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
  b->Delete(ColumnFamily::kRaftLog, keys::RaftLogKey(3, 5));
  ASSERT_TRUE(b->Commit(true).ok());
  std::unique_ptr<RaftLogStorage> s = Uncached();
  ExpectDataLoss(s->Entries(2, 8, raft::kNoLimit).status(), "entry 5 is missing");
  ExpectDataLoss(s->Term(5).status(), "entry 5 is missing");
}

TEST_F(RaftLogCorruptionTest, CorruptStateFailsOpen) {
  {
    std::unique_ptr<RaftLogStorage> s = Open(3);
    raftpb::HardState hs;
    hs.set_term(9);
    Apply(*s, [&](RaftLogWrite& w) { w.SetHardState(hs); });
  }
  std::string v = RawGet(ColumnFamily::kData, raftlog::HardStateKey(3));
  v.back() ^= 0x40;
  RawPut(ColumnFamily::kData, raftlog::HardStateKey(3), v);
  absl::StatusOr<std::unique_ptr<RaftLogStorage>> s = RaftLogStorage::Open(engine_.get(), 3);
  ASSERT_FALSE(s.ok());
  ExpectDataLoss(s.status(), "hard state: checksum mismatch");
}

// --- Several ranges on one engine ---

TEST_F(RaftLogStorageTest, RangesAreIsolated) {
  const uint64_t ids[] = {1, 2, 256, UINT64_MAX};
  {
    std::vector<std::unique_ptr<RaftLogStorage>> logs;
    for (uint64_t id : ids) logs.push_back(Open(id));
    // One batch carries every range's entries: group commit.
    std::unique_ptr<WriteBatch> batch = engine_->NewWriteBatch();
    std::vector<RaftLogWrite> writes;
    for (size_t k = 0; k < logs.size(); ++k) {
      writes.push_back(logs[k]->NewWrite(batch.get()));
      writes.back().Append(MakeEntries(1, 5 + 3 * k, /*term=*/k + 1));
      raftpb::HardState hs;
      hs.set_term(k + 1);
      writes.back().SetHardState(hs);
    }
    ASSERT_TRUE(batch->Commit(true).ok());
    for (size_t k = 0; k < logs.size(); ++k) logs[k]->OnCommitted(std::move(writes[k]));
    Apply(*logs[1], [](RaftLogWrite& w) { ASSERT_TRUE(w.Compact(3).ok()); });
  }
  ReopenEngine();
  for (size_t k = 0; k < 4; ++k) {
    SCOPED_TRACE(absl::StrCat("range ", ids[k]));
    std::unique_ptr<RaftLogStorage> s = Open(ids[k]);
    EXPECT_EQ(*s->FirstIndex(), k == 1 ? 4u : 1u);
    EXPECT_EQ(*s->LastIndex(), 4 + 3 * k);
    EXPECT_EQ(s->GetInitialState()->hard_state.term(), k + 1);
    EXPECT_EQ(Render(s->Entries(*s->FirstIndex(), 5 + 3 * k, raft::kNoLimit)),
              Render(MakeEntries(*s->FirstIndex(), 5 + 3 * k, k + 1)));
  }
  std::unique_ptr<RaftLogStorage> none = Open(3);
  EXPECT_EQ(*none->LastIndex(), 0u);
}

// --- The cache ---

// The cache stays within its bound, keeps the newest entries (evicting the oldest), and
// what it serves equals what the disk holds.
TEST_F(RaftLogStorageTest, CacheBoundAndAgreementWithDisk) {
  const size_t bound = 10 << 10;
  std::unique_ptr<RaftLogStorage> s = Open(1, bound);
  std::mt19937_64 rng(5);
  uint64_t term = 1;
  for (int step = 0; step < 300; ++step) {
    const uint64_t last = *s->LastIndex();
    const uint64_t first = *s->FirstIndex();
    const uint64_t start = last < 4 ? first : last - rng() % 4 + 1;  // sometimes conflicting
    if (start <= last) ++term;
    const std::vector<Entry> ents = MakeEntries(start, start + 1 + rng() % 5, term, rng() % 900);
    Append(*s, ents);
    if (step % 40 == 39 && *s->LastIndex() > *s->FirstIndex() + 20) {
      Apply(*s, [&](RaftLogWrite& w) { ASSERT_TRUE(w.Compact(*s->LastIndex() - 20).ok()); });
    }
    ASSERT_LE(s->cache().size_bytes(), bound);
    ASSERT_FALSE(s->cache().empty());
    ASSERT_EQ(s->cache().last_index(), *s->LastIndex());
  }
  EXPECT_GT(s->cache().first_index(), *s->FirstIndex());  // the oldest were evicted
  std::unique_ptr<RaftLogStorage> uncached = Open(1, 0);
  const uint64_t lo = *s->FirstIndex();
  const uint64_t hi = *s->LastIndex() + 1;
  EXPECT_EQ(Render(s->Entries(lo, hi, raft::kNoLimit)),
            Render(uncached->Entries(lo, hi, raft::kNoLimit)));
  for (uint64_t i = lo - 1; i < hi; ++i) EXPECT_EQ(Render(s->Term(i)), Render(uncached->Term(i)));
  for (uint64_t max_bytes : {uint64_t{0}, uint64_t{2000}, uint64_t{9000}}) {
    EXPECT_EQ(Render(s->Entries(lo, hi, max_bytes)), Render(uncached->Entries(lo, hi, max_bytes)));
  }
}

// Recent entries come from memory: a corrupt copy on disk is not even read.
TEST_F(RaftLogStorageTest, CacheServesRecentEntriesWithoutDisk) {
  std::unique_ptr<RaftLogStorage> s = Open(1);
  Append(*s, MakeEntries(1, 6, 1));
  RawPut(ColumnFamily::kRaftLog, keys::RaftLogKey(1, 3), "garbage");
  EXPECT_EQ(*s->Term(3), 1u);
  EXPECT_EQ(Render(s->Entries(1, 6, raft::kNoLimit)), Render(MakeEntries(1, 6, 1)));
  EXPECT_TRUE(absl::IsDataLoss(Open(1, 0)->Term(3).status()));
}

TEST_F(RaftLogStorageTest, CacheInvalidatedBySuffixTruncationCompactionAndSnapshot) {
  std::unique_ptr<RaftLogStorage> s = Open(1);
  Append(*s, MakeEntries(1, 11, 1));
  Append(*s, MakeEntries(5, 8, 2));  // replaces 5..10 by 5..7 at term 2
  EXPECT_EQ(s->cache().last_index(), 7u);
  EXPECT_EQ(*s->Term(4), 1u);
  EXPECT_EQ(*s->Term(5), 2u);
  EXPECT_TRUE(raft::IsEntryUnavailable(s->Term(8).status()));
  Apply(*s, [](RaftLogWrite& w) { ASSERT_TRUE(w.Compact(6).ok()); });
  EXPECT_EQ(s->cache().first_index(), 7u);
  EXPECT_EQ(s->cache().entry_count(), 1u);
  raftpb::Snapshot snap;
  snap.mutable_metadata()->set_index(20);
  snap.mutable_metadata()->set_term(3);
  Apply(*s, [&](RaftLogWrite& w) { ASSERT_TRUE(w.ApplySnapshot(snap).ok()); });
  EXPECT_TRUE(s->cache().empty());
  EXPECT_EQ(s->cache().size_bytes(), 0u);
}

TEST(RaftEntryCacheTest, OversizedEntryIsNotCachedAndRunStaysContiguous) {
  RaftEntryCache cache(1000);
  cache.Append(MakeEntries(1, 4, 1, 100));
  EXPECT_EQ(cache.entry_count(), 3u);
  cache.Append({MakeEntry(4, 1, std::string(2000, 'x'))});
  EXPECT_TRUE(cache.empty());
  cache.Append(MakeEntries(5, 7, 1, 100));
  EXPECT_EQ(cache.first_index(), 5u);
  cache.Append(MakeEntries(9, 10, 1, 100));  // a gap restarts the run
  EXPECT_EQ(cache.first_index(), 9u);
  EXPECT_EQ(cache.Get(5), nullptr);
  RaftEntryCache disabled(0);
  disabled.Append(MakeEntries(1, 3, 1));
  EXPECT_TRUE(disabled.empty());
}

// --- Formats (docs/raft-log.md) ---

TEST(RaftLogFormatTest, Crc32cKnownAnswers) {
  EXPECT_EQ(raftlog::Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(raftlog::Crc32c(""), 0u);
  EXPECT_EQ(raftlog::Crc32c(std::string(32, '\0')), 0x8A9136AAu);  // RFC 3720 B.4
  EXPECT_EQ(raftlog::Crc32c(std::string(32, '\xff')), 0x62A8AB43u);
}

TEST(RaftLogFormatTest, KeysAndRecords) {
  using std::string_literals::operator""s;
  EXPECT_EQ(keys::RaftLogKey(1, 2), "\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0\x02"s);
  EXPECT_EQ(keys::RaftLogKey(0x0102, 0xA0B0C0D0E0F00001),
            "\0\0\0\0\0\0\x01\x02\xA0\xB0\xC0\xD0\xE0\xF0\0\x01"s);
  EXPECT_EQ(raftlog::HardStateKey(5), EncodeMVCCKey("\x01i\0\0\0\0\0\0\0\x05urfth"s, {}));
  EXPECT_EQ(raftlog::TruncatedStateKey(5), EncodeMVCCKey("\x01i\0\0\0\0\0\0\0\x05urftt"s, {}));
  EXPECT_EQ(raftlog::SnapshotMetaKey(5), EncodeMVCCKey("\x01i\0\0\0\0\0\0\0\x05urfts"s, {}));
  // Version 2: 02, CRC-32C(02 ++ <range id:8 BE> ++ payload), payload.
  EXPECT_EQ(raftlog::RecordChecksum(1, "123456789"), 0x444248F7u);
  EXPECT_EQ(raftlog::RecordChecksum(5, "123456789"), 0x672F3D70u);
  EXPECT_EQ(raftlog::EncodeRecord(1, "123456789"),
            "\x02\x44\x42\x48\xF7"
            "123456789"s);
  EXPECT_EQ(*raftlog::DecodeRecord(1,
                                   "\x02\x44\x42\x48\xF7"
                                   "123456789"s),
            "123456789");
  // The same record read as range 5's, a payload cut short, a short header, and a
  // version 1 record (CRC of the payload alone, no version byte).
  EXPECT_TRUE(absl::IsDataLoss(raftlog::DecodeRecord(5,
                                                     "\x02\x44\x42\x48\xF7"
                                                     "123456789"s)
                                   .status()));
  EXPECT_TRUE(absl::IsDataLoss(raftlog::DecodeRecord(1,
                                                     "\x02\x44\x42\x48\xF7"
                                                     "12345678"s)
                                   .status()));
  EXPECT_TRUE(absl::IsDataLoss(raftlog::DecodeRecord(1, "\x02\x44\x42"s).status()));
  const absl::Status v1 = raftlog::DecodeRecord(1,
                                                "\xE3\x06\x92\x83"
                                                "123456789"s)
                              .status();
  EXPECT_TRUE(absl::IsDataLoss(v1));
  EXPECT_NE(v1.message().find("version 227 is not supported"), std::string::npos) << v1;
}

}  // namespace
}  // namespace rangedb
