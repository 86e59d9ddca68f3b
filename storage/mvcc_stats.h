// MVCCStats: sizes and counts of the MVCC data in a span, maintained incrementally
// by every MVCC write (each write reports its delta) and recomputable from scratch
// by ComputeStats. The two must always agree; mvcc_stats_test checks it after
// randomized operation sequences.
//
// Definitions, over the versioned entries and lock-table entries of the span:
//   key_count     user keys with at least one version
//   key_bytes     sum of encoded key lengths of all versions
//   val_count     number of versions (tombstones and intents included)
//   val_bytes     sum of encoded value lengths of all versions
//   live_count    user keys whose newest version is not a tombstone (a provisional
//                 value counts as live)
//   live_bytes    for those keys, encoded key + value length of the newest version
//   intent_count  lock-table entries
//   intent_bytes  encoded key + value length of the lock-table entries
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/engine.h"

namespace rangedb {

struct MVCCStats {
  int64_t live_bytes = 0;
  int64_t live_count = 0;
  int64_t key_bytes = 0;
  int64_t key_count = 0;
  int64_t val_bytes = 0;
  int64_t val_count = 0;
  int64_t intent_bytes = 0;
  int64_t intent_count = 0;

  void Add(const MVCCStats& o);
  std::string ToString() const;
  bool operator==(const MVCCStats&) const = default;
};

// Computes the stats of user keys in [start, end) by scanning every version and
// every lock-table entry.
[[nodiscard]] absl::StatusOr<MVCCStats> ComputeStats(Reader& reader, absl::string_view start,
                                                     absl::string_view end);

}  // namespace rangedb
