#include "sql/row_id.h"

#include <set>

#include "gtest/gtest.h"

namespace rangedb::sql {
namespace {

TEST(RowIdTest, IdsOfOneShardFollowInsertionOrder) {
  int64_t prev = 0;
  for (int i = 0; i < 1000; ++i) {
    const int64_t id = NextRowId(3, kRowIdEpochMicros + 5'000'000, 7);  // the clock stands still
    EXPECT_GT(id, prev);
    prev = id;
  }
}

TEST(RowIdTest, NodesAndShardsNeverCollideAndIdsArePositive) {
  std::set<int64_t> seen;
  for (int shard = 0; shard < kRowIdShards; ++shard) {
    for (uint64_t node = 1; node <= 5; ++node) {
      const int64_t id = MakeRowId(shard, int64_t{1} << 48, node);
      EXPECT_GT(id, 0);
      EXPECT_TRUE(seen.insert(id).second);
    }
  }
}

TEST(RowIdTest, ShardsSpreadIdsOverTheKeySpace) {
  // Shard s owns [s * 2^59, (s + 1) * 2^59): sessions in different shards write to
  // different parts of the table.
  for (int shard = 0; shard < kRowIdShards; ++shard) {
    const int64_t id = NextRowId(shard, kRowIdEpochMicros + 123, 1);
    EXPECT_EQ(id >> 59, shard);
  }
}

}  // namespace
}  // namespace rangedb::sql
