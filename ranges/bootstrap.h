// Bootstrap of a new cluster's ranges (`rangedb init`, docs/cluster.md).
//
// The initializing node plans the initial ranges — meta [KeyMin, \x03), system
// [\x03, \x04), user space [\x04, KeyMax), cut further at the requested split keys —
// and places each on up to three nodes. Every node then writes the replicas it holds
// with WriteInitialReplicas: identical Raft state (a log that starts empty after index
// kInitialRaftIndex, as if a snapshot had been applied there) and identical data (the
// meta entries and the id generators, at the plan's timestamp), so no replica needs a
// snapshot to start.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/kv.pb.h"
#include "storage/engine.h"
#include "storage/timestamp.h"

namespace rangedb::ranges {

inline constexpr uint64_t kInitialRaftIndex = 10;
inline constexpr uint64_t kInitialRaftTerm = 5;
inline constexpr int kDefaultReplicationFactor = 3;

// Range boundaries and placement for node_ids (sorted, distinct, non-empty).
// InvalidArgument for split keys inside the meta or system spans or duplicated.
[[nodiscard]] absl::StatusOr<std::vector<kvpb::RangeDescriptor>> PlanInitialRanges(
    const std::vector<uint64_t>& node_ids, const std::vector<std::string>& split_keys,
    int replication_factor = kDefaultReplicationFactor);

// Stages the replicas of `ranges` that live on node_id into batch: descriptor, applied
// state, Raft state, the replica index entry, the start of the idempotency-expiry clock (ts),
// and the initial data falling in the range (written at ts).
// FailedPrecondition if the engine already holds a replica of one of those ranges:
// a replica's Raft state (vote, log) is created once and never reset.
[[nodiscard]] absl::Status WriteInitialReplicas(Engine* engine, WriteBatch* batch, uint64_t node_id,
                                                const std::vector<kvpb::RangeDescriptor>& ranges,
                                                uint64_t node_count, Timestamp ts);

}  // namespace rangedb::ranges
