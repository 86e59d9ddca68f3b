// The crash test's checker (VerifyStore) on hand-built in-memory stores: it accepts an
// intact store and names each kind of damage. Together with
// StorageCrashTest.CheckerCatchesAckBeforeCommitBug this shows every verdict can fire.
#include "tests/storage_crash_workload.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "storage/mvcc.h"
#include "storage/rocksdb_engine.h"

namespace rangedb::crash_test {
namespace {

using ::testing::HasSubstr;

class VerifyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Engine>> engine = OpenInMemoryEngine();
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = std::move(*engine);
  }

  // Commits batch seq as the writer does, or without its raft-log entry.
  void CommitBatch(int64_t seq, bool with_raft_log_entry = true) {
    std::unique_ptr<WriteBatch> batch = engine_->NewWriteBatch();
    if (with_raft_log_entry) {
      ASSERT_TRUE(AddBatchWrites(*batch, seq).ok());
    } else {
      ASSERT_TRUE(MVCCPut(*batch, DataKey(seq), TimestampFor(seq), ValueFor(seq)).ok());
      ASSERT_TRUE(MVCCPut(*batch, kCounterKey, TimestampFor(seq), absl::StrCat(seq)).ok());
    }
    ASSERT_TRUE(batch->Commit(/*sync=*/false).ok());
  }

  std::unique_ptr<Engine> engine_;
};

TEST_F(VerifyStoreTest, AcceptsBatchesOneToLastAndReturnsLast) {
  for (int64_t seq = 1; seq <= 4; ++seq) CommitBatch(seq);
  absl::StatusOr<int64_t> last = VerifyStore(*engine_, {3, 1, 2});  // 4 was never acked
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(*last, 4);
}

TEST_F(VerifyStoreTest, AcceptsEmptyStore) {
  absl::StatusOr<int64_t> last = VerifyStore(*engine_, {});
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(*last, 0);
}

TEST_F(VerifyStoreTest, LostAcknowledgedBatchIsDataLossNamingSeq) {
  CommitBatch(1);
  CommitBatch(2);
  absl::StatusOr<int64_t> last = VerifyStore(*engine_, {1, 2, 3});
  EXPECT_EQ(last.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(last.status().message(), HasSubstr("acknowledged seq 3 lost"));
}

TEST_F(VerifyStoreTest, BatchWithoutItsRaftLogEntryIsNotAPrefix) {
  CommitBatch(1);
  CommitBatch(2, /*with_raft_log_entry=*/false);
  absl::StatusOr<int64_t> last = VerifyStore(*engine_, {1});
  EXPECT_EQ(last.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(last.status().message(), HasSubstr("raft log keys are not batches 1..2"));
}

TEST_F(VerifyStoreTest, GapInBatchesIsNotAPrefix) {
  CommitBatch(1);
  CommitBatch(3);
  absl::StatusOr<int64_t> last = VerifyStore(*engine_, {1, 3});
  EXPECT_EQ(last.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(last.status().message(), HasSubstr("expected k/000000000002, found k/000000000003"));
}

}  // namespace
}  // namespace rangedb::crash_test
