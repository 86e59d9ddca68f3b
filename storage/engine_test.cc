#include "storage/engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "storage/rocksdb_engine.h"

namespace rangedb {
namespace {

// Runs every test against the on-disk engine and the in-memory engine.
class EngineTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '_');
    dir_ = std::filesystem::temp_directory_path() /
           ("engine_test_" + std::to_string(::getpid()) + "_" + name);
    std::filesystem::remove_all(dir_);
    Reopen();
  }
  void TearDown() override {
    engine_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen() {
    engine_.reset();
    EngineOptions options;
    options.in_memory = GetParam();
    options.path = dir_.string();
    absl::StatusOr<std::unique_ptr<Engine>> e = OpenEngine(options);
    ASSERT_TRUE(e.ok()) << e.status();
    engine_ = std::move(*e);
  }
  void Put(absl::string_view k, absl::string_view v, ColumnFamily cf = ColumnFamily::kData) {
    std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
    b->Put(cf, k, v);
    ASSERT_TRUE(b->Commit(/*sync=*/true).ok());
  }
  std::string Get(Reader& r, absl::string_view k, ColumnFamily cf = ColumnFamily::kData) {
    std::string v;
    absl::StatusOr<bool> found = r.Get(cf, k, &v);
    EXPECT_TRUE(found.ok()) << found.status();
    return found.ok() && *found ? v : "<missing>";
  }
  std::vector<std::string> Keys(Reader& r, IterOptions o, bool reverse = false) {
    std::vector<std::string> out;
    std::unique_ptr<Iterator> it = r.NewIterator(o);
    if (reverse) {
      for (it->SeekToLast(); it->Valid(); it->Prev()) out.emplace_back(it->key());
    } else {
      for (it->SeekToFirst(); it->Valid(); it->Next()) out.emplace_back(it->key());
    }
    EXPECT_TRUE(it->status().ok());
    return out;
  }

  std::filesystem::path dir_;
  std::unique_ptr<Engine> engine_;
};

using Strings = std::vector<std::string>;

TEST_P(EngineTest, PutGetDelete) {
  Put("a", "1");
  EXPECT_EQ(Get(*engine_, "a"), "1");
  EXPECT_EQ(Get(*engine_, "b"), "<missing>");
  std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
  b->Delete(ColumnFamily::kData, "a");
  ASSERT_TRUE(b->Commit(false).ok());
  EXPECT_EQ(Get(*engine_, "a"), "<missing>");
}

// ApproximateSize sees a span's bytes in memtables and, after a flush, in files; a
// span without keys is (about) empty.
TEST_P(EngineTest, ApproximateSizeCountsTheSpansBytes) {
  std::mt19937_64 rng(7);
  std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
  for (int i = 0; i < 2000; ++i) {
    std::string value(1000, '\0');
    for (char& c : value) c = static_cast<char>(rng());  // incompressible
    b->Put(ColumnFamily::kData, absl::StrFormat("m%05d", i), value);
  }
  ASSERT_TRUE(b->Commit(/*sync=*/false).ok());
  constexpr uint64_t kWritten = 2000 * 1000;
  for (bool flushed : {false, true}) {
    if (flushed) {
      ASSERT_TRUE(engine_->Flush().ok());
    }
    absl::StatusOr<uint64_t> in = engine_->ApproximateSize(ColumnFamily::kData, "m", "n");
    ASSERT_TRUE(in.ok()) << in.status();
    EXPECT_GT(*in, kWritten / 2) << "flushed " << flushed;
    EXPECT_LT(*in, kWritten * 2) << "flushed " << flushed;
    absl::StatusOr<uint64_t> out = engine_->ApproximateSize(ColumnFamily::kData, "a", "b");
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_LT(*out, kWritten / 20) << "flushed " << flushed;
    absl::StatusOr<uint64_t> log = engine_->ApproximateSize(ColumnFamily::kRaftLog, "m", "n");
    ASSERT_TRUE(log.ok()) << log.status();
    EXPECT_LT(*log, kWritten / 20) << "flushed " << flushed;
  }
  absl::StatusOr<uint64_t> empty = engine_->ApproximateSize(ColumnFamily::kData, "n", "m");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, 0u);
}

TEST_P(EngineTest, ColumnFamiliesAreSeparate) {
  Put("k", "data");
  Put("k", "log", ColumnFamily::kRaftLog);
  EXPECT_EQ(Get(*engine_, "k"), "data");
  EXPECT_EQ(Get(*engine_, "k", ColumnFamily::kRaftLog), "log");
  EXPECT_EQ(Keys(*engine_, {ColumnFamily::kRaftLog, "", ""}), Strings{"k"});
}

TEST_P(EngineTest, BatchReadsItsOwnWritesOverTheEngine) {
  Put("a", "old");
  Put("c", "c");
  std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
  b->Put(ColumnFamily::kData, "a", "new");
  b->Put(ColumnFamily::kData, "b", "b");
  b->Delete(ColumnFamily::kData, "c");
  EXPECT_EQ(Get(*b, "a"), "new");
  EXPECT_EQ(Get(*b, "c"), "<missing>");
  EXPECT_EQ(Keys(*b, {}), (Strings{"a", "b"}));
  EXPECT_EQ(Get(*engine_, "a"), "old");  // not yet committed
  EXPECT_EQ(b->Count(), 3u);
  ASSERT_TRUE(b->Commit(true).ok());
  EXPECT_EQ(b->Count(), 0u);
  EXPECT_EQ(Get(*engine_, "a"), "new");
}

TEST_P(EngineTest, IteratorsRespectBoundsInBothDirections) {
  for (const char* k : {"a", "b", "c", "d", "e"}) Put(k, k);
  EXPECT_EQ(Keys(*engine_, {ColumnFamily::kData, "b", "d"}), (Strings{"b", "c"}));
  EXPECT_EQ(Keys(*engine_, {ColumnFamily::kData, "b", "d"}, true), (Strings{"c", "b"}));
  std::unique_ptr<WriteBatch> batch = engine_->NewWriteBatch();
  batch->Put(ColumnFamily::kData, "a0", "x");  // outside the bounds
  batch->Put(ColumnFamily::kData, "bb", "x");  // inside
  batch->Put(ColumnFamily::kData, "d0", "x");  // outside
  EXPECT_EQ(Keys(*batch, {ColumnFamily::kData, "b", "d"}), (Strings{"b", "bb", "c"}));
  EXPECT_EQ(Keys(*batch, {ColumnFamily::kData, "b", "d"}, true), (Strings{"c", "bb", "b"}));
  std::unique_ptr<Iterator> it = batch->NewIterator({ColumnFamily::kData, "b", "d"});
  it->Seek("a");  // below the lower bound: clamps to it
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "b");
  it->SeekForPrev("z");  // above the upper bound: the last key inside
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "c");
}

TEST_P(EngineTest, SnapshotIsAConsistentView) {
  Put("a", "1");
  std::unique_ptr<Snapshot> snap = engine_->NewSnapshot();
  Put("a", "2");
  Put("b", "2");
  EXPECT_EQ(Get(*snap, "a"), "1");
  EXPECT_EQ(Keys(*snap, {}), Strings{"a"});
  EXPECT_EQ(Get(*engine_, "a"), "2");
}

TEST_P(EngineTest, SerializedBatchAppliesAtomically) {
  std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
  b->Put(ColumnFamily::kData, "x", "1");
  b->Put(ColumnFamily::kRaftLog, "y", "2");
  std::string repr = b->Serialize();
  EXPECT_EQ(repr.size(), b->ByteSize());
  ASSERT_TRUE(engine_->ApplySerializedBatch(repr, true).ok());
  EXPECT_EQ(Get(*engine_, "x"), "1");
  EXPECT_EQ(Get(*engine_, "y", ColumnFamily::kRaftLog), "2");
}

TEST_P(EngineTest, CorruptSerializedBatchIsRejectedAndAppliesNothing) {
  std::unique_ptr<WriteBatch> b = engine_->NewWriteBatch();
  b->Put(ColumnFamily::kData, "x", "1");
  b->Put(ColumnFamily::kData, "y", "2");
  std::string repr = b->Serialize();
  EXPECT_FALSE(engine_->ApplySerializedBatch("short", true).ok());
  EXPECT_FALSE(engine_->ApplySerializedBatch(repr.substr(0, repr.size() - 3), true).ok());
  std::string bad_count = repr;
  bad_count[8] = 9;  // the record count in the header
  EXPECT_FALSE(engine_->ApplySerializedBatch(bad_count, true).ok());
  for (size_t len = 0; len < repr.size(); ++len) {  // every truncation
    EXPECT_FALSE(engine_->ApplySerializedBatch(repr.substr(0, len), true).ok()) << len;
  }
  EXPECT_EQ(Get(*engine_, "x"), "<missing>");
  EXPECT_EQ(Get(*engine_, "y"), "<missing>");
}

TEST_P(EngineTest, AppendSerializedAddsWritesAfterTheBatchsOwn) {
  Put("gone", "0");
  std::unique_ptr<WriteBatch> src = engine_->NewWriteBatch();
  src->Put(ColumnFamily::kData, "x", "from-src");
  src->Delete(ColumnFamily::kData, "gone");
  src->Put(ColumnFamily::kRaftLog, "y", "2");
  std::unique_ptr<WriteBatch> dst = engine_->NewWriteBatch();
  dst->Put(ColumnFamily::kData, "x", "from-dst");
  dst->Put(ColumnFamily::kData, "z", "3");
  ASSERT_TRUE(dst->AppendSerialized(src->Serialize()).ok());
  ASSERT_TRUE(dst->Commit(true).ok());
  EXPECT_EQ(Get(*engine_, "x"), "from-src");  // appended after dst's own write
  EXPECT_EQ(Get(*engine_, "z"), "3");
  EXPECT_EQ(Get(*engine_, "gone"), "<missing>");
  EXPECT_EQ(Get(*engine_, "y", ColumnFamily::kRaftLog), "2");
}

TEST_P(EngineTest, AppendSerializedRejectsCorruptInputWhole) {
  std::unique_ptr<WriteBatch> src = engine_->NewWriteBatch();
  src->Put(ColumnFamily::kData, "x", "1");
  src->Put(ColumnFamily::kData, "y", "2");
  const std::string repr = src->Serialize();
  std::unique_ptr<WriteBatch> dst = engine_->NewWriteBatch();
  for (size_t len = 0; len < repr.size(); ++len) {
    EXPECT_FALSE(dst->AppendSerialized(repr.substr(0, len)).ok()) << len;
  }
  EXPECT_EQ(dst->Count(), 0u);
}

TEST_P(EngineTest, ReusedSingleKeyIteratorsSeeLatestStateAndKeepBounds) {
  IterOptions single{ColumnFamily::kData, "b", "c", /*single_key=*/true};
  Put("a", "a");
  Put("b", "1");
  Put("c", "c");
  for (int round = 0; round < 3; ++round) {
    std::unique_ptr<Iterator> first = engine_->NewIterator(single);
    std::unique_ptr<Iterator> second = engine_->NewIterator(single);  // both outstanding
    EXPECT_EQ(Keys(*engine_, single), Strings{"b"});
    first->Seek("a");  // clamped to the lower bound
    ASSERT_TRUE(first->Valid());
    EXPECT_EQ(first->value(), std::to_string(round + 1));
    first->Next();
    EXPECT_FALSE(first->Valid());  // "c" is past the upper bound
    second->SeekToLast();
    ASSERT_TRUE(second->Valid());
    EXPECT_EQ(second->key(), "b");
    first.reset();
    second.reset();
    Put("b", std::to_string(round + 2));  // a returned iterator must see this
    if (round == 1) {
      ASSERT_TRUE(engine_->Flush().ok());  // and survive new files
    }
  }
}

TEST_P(EngineTest, FlushKeepsData) {
  Put("a", "1");
  ASSERT_TRUE(engine_->Flush().ok());
  EXPECT_EQ(Get(*engine_, "a"), "1");
}

// A staged file replaces a key range atomically: its range deletion removes what the
// engine held there (in memtables and files), not the file's own keys; a snapshot
// taken before still sees the old state.
TEST_P(EngineTest, IngestedFileReplacesARange) {
  Put("a1", "old");
  Put("b1", "old");
  Put("b2", "old");
  ASSERT_TRUE(engine_->Flush().ok());
  Put("b3", "old-in-memtable");
  Put("c1", "old");
  std::unique_ptr<Snapshot> before = engine_->NewSnapshot();
  absl::StatusOr<std::unique_ptr<SstFileWriter>> w = engine_->NewSstFileWriter(ColumnFamily::kData);
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_TRUE((*w)->DeleteRange("b", "c").ok());
  ASSERT_TRUE((*w)->Put("b1", "new").ok());
  ASSERT_TRUE((*w)->Put("b5", "new").ok());
  EXPECT_FALSE((*w)->Put("b4", "out of order").ok());
  ASSERT_TRUE((*w)->Finish().ok());
  EXPECT_GT((*w)->FileBytes(), 0u);
  ASSERT_TRUE(engine_->IngestFiles(ColumnFamily::kData, {(*w)->path()}).ok());
  EXPECT_EQ(Keys(*engine_, IterOptions{}), (std::vector<std::string>{"a1", "b1", "b5", "c1"}));
  EXPECT_EQ(Get(*engine_, "b1"), "new");
  EXPECT_EQ(Get(*before, "b2"), "old");
  EXPECT_EQ(Get(*before, "b1"), "old");
}

TEST_P(EngineTest, StagedFilesCanBeDroppedAndCleared) {
  absl::StatusOr<std::unique_ptr<SstFileWriter>> a = engine_->NewSstFileWriter(ColumnFamily::kData);
  absl::StatusOr<std::unique_ptr<SstFileWriter>> b = engine_->NewSstFileWriter(ColumnFamily::kData);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE((*a)->Put("k", "v").ok());
  ASSERT_TRUE((*a)->Finish().ok());
  ASSERT_TRUE((*b)->Put("k", "v").ok());
  ASSERT_TRUE((*b)->Finish().ok());
  engine_->RemoveStagedFile((*a)->path());
  EXPECT_FALSE(engine_->IngestFiles(ColumnFamily::kData, {(*a)->path()}).ok());
  ASSERT_TRUE(engine_->ClearStaging().ok());
  EXPECT_FALSE(engine_->IngestFiles(ColumnFamily::kData, {(*b)->path()}).ok());
  EXPECT_EQ(Get(*engine_, "k"), "<missing>");
}

INSTANTIATE_TEST_SUITE_P(DiskAndMemory, EngineTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "InMemory" : "OnDisk"; });

class DiskEngineTest : public EngineTest {};

TEST_P(DiskEngineTest, DataSurvivesReopen) {
  Put("a", "1");
  Put("log", "entry", ColumnFamily::kRaftLog);
  Reopen();
  EXPECT_EQ(Get(*engine_, "a"), "1");
  EXPECT_EQ(Get(*engine_, "log", ColumnFamily::kRaftLog), "entry");
  EXPECT_EQ(engine_->Path(), dir_.string());
}

TEST_P(DiskEngineTest, SecondOpenOfALockedStoreFails) {
  EngineOptions options;
  options.path = dir_.string();
  absl::StatusOr<std::unique_ptr<Engine>> second = OpenEngine(options);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find(dir_.string()), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Disk, DiskEngineTest, ::testing::Values(false));

TEST(OpenEngineTest, UnusablePathIsAClearError) {
  EngineOptions options;
  options.path = "/proc/definitely/not/writable";
  absl::StatusOr<std::unique_ptr<Engine>> e = OpenEngine(options);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("/proc/definitely"), std::string::npos) << e.status();
  EXPECT_FALSE(OpenEngine(EngineOptions{}).ok());  // empty path, not in memory
}

}  // namespace
}  // namespace rangedb
