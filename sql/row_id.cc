#include "sql/row_id.h"

#include <algorithm>
#include <atomic>

#include "base/check.h"

namespace rangedb::sql {
namespace {

constexpr int kNodeBits = 10;
constexpr int kTimeBits = 49;
constexpr int kShardShift = kNodeBits + kTimeBits;

}  // namespace

int64_t MakeRowId(int shard, int64_t micros_since_epoch, uint64_t node_id) {
  RANGEDB_CHECK(shard >= 0 && shard < kRowIdShards);
  const uint64_t time =
      static_cast<uint64_t>(micros_since_epoch) & ((uint64_t{1} << kTimeBits) - 1);
  const uint64_t id = (static_cast<uint64_t>(shard) << kShardShift) | (time << kNodeBits) |
                      (node_id & ((uint64_t{1} << kNodeBits) - 1));
  return static_cast<int64_t>(id);
}

int64_t NextRowId(int shard, int64_t unix_micros, uint64_t node_id) {
  static std::atomic<int64_t> last{0};
  const int64_t now = std::max<int64_t>(0, unix_micros - kRowIdEpochMicros);
  int64_t prev = last.load();
  int64_t next;
  do {
    next = std::max(now, prev + 1);
  } while (!last.compare_exchange_weak(prev, next));
  return MakeRowId(shard, next, node_id);
}

}  // namespace rangedb::sql
