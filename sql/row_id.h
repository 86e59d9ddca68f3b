// Row ids for tables without a declared primary key (docs/design/sql.md "Keys").
//
//   bit 63       0 (ids are positive)
//   bits 59-62   the shard: chosen at random per session
//   bits 10-58   a timestamp in microseconds since 2020-01-01 UTC (49 bits: until 2037),
//                strictly increasing within the process
//   bits 0-9     the node id's low 10 bits
//
// Unique: two ids of one process differ in the timestamp, and two nodes (below 1024)
// differ in the low bits. A collision (nodes 1024 apart in the same microsecond)
// is caught by the primary-key check, and the writer takes a new id.
//
// Spread: rows of one session sort in insertion order within its shard (as SQLite's
// rowids do), while concurrent sessions write into 16 different parts of the
// table, so no single range takes every insert.
//
// Thread safety: NextRowId is safe for concurrent use.
#pragma once

#include <cstdint>

namespace rangedb::sql {

inline constexpr int kRowIdShards = 16;
inline constexpr int64_t kRowIdEpochMicros = 1577836800LL * 1000000;  // 2020-01-01

// The id for these parts (REQUIRES: 0 <= shard < kRowIdShards).
int64_t MakeRowId(int shard, int64_t micros_since_epoch, uint64_t node_id);

// A new id: the process's next timestamp (at least unix_micros, above every earlier
// one) in shard, for node_id.
int64_t NextRowId(int shard, int64_t unix_micros, uint64_t node_id);

}  // namespace rangedb::sql
