// The limits of what one request may carry and one response may hold: one table,
// read by the client library, the CLI, the gateway, the replicas and the transports
// alike, so what can be written can always be read back. docs/limits.md is the
// user-facing copy; docs/design/limits.md says why the numbers relate as they do.
//
// Over a limit a request is refused before anything is written, with an
// InvalidArgument that names the limit and the size (base/request_limits.h).
#pragma once

#include <cstddef>
#include <cstdint>

namespace rangedb::limits {

inline constexpr size_t kKiB = size_t{1} << 10;
inline constexpr size_t kMiB = size_t{1} << 20;

// --- What one request may carry ---------------------------------------------------
// A key that is written (Put, ConditionalPut, Delete, Increment).
inline constexpr size_t kMaxKeyBytes = 8 * kKiB;
// Keys that bound reads and spans may be this much longer: a scan resumes at a
// key's successor (key + "\x00"), and meta lookups prefix a key with one byte.
inline constexpr size_t kKeySlackBytes = 16;
// A value (Put, ConditionalPut's value and expected value).
inline constexpr size_t kMaxValueBytes = 2 * kMiB;
// Requests in one batch.
inline constexpr size_t kMaxBatchRequests = 128;
// Key and value bytes one batch writes (every key and value of its writes, the end
// keys of its DeleteRanges). A transaction's coordinator sends its buffered writes
// in batches below this.
inline constexpr size_t kMaxBatchWriteBytes = 8 * kMiB;
// One serialized BatchRequest, everything included (read keys, a commit's lock
// spans, the transaction header).
inline constexpr size_t kMaxRequestBytes = 12 * kMiB;
// Key and value bytes one transaction writes in all, counted by its coordinator.
inline constexpr size_t kMaxTxnWriteBytes = 64 * kMiB;

// --- What one response may hold ------------------------------------------------------
// Row bytes (key + value) after which a read stops and returns a resume key: a scan
// page ends at the first row that reaches it, so a page holds at most this plus one
// row. Requests of one batch share it, in order.
inline constexpr size_t kResponseTargetBytes = 4 * kMiB;
// The most row bytes one response can hold.
inline constexpr size_t kMaxResponseRowBytes = kResponseTargetBytes + kMaxKeyBytes + kMaxValueBytes;

// --- Inside the cluster ------------------------------------------------------------
// Bytes one span write (a DeleteRange, a ranged ResolveIntent, a commit resolving its
// intents on the commit's own range) writes in one Raft command before it stops and
// resumes from where it got to.
inline constexpr size_t kMaxSpanWriteBytes = 4 * kMiB;
// One encoded Raft command; a larger proposal is refused before it is proposed. A
// commit's command holds its batch's writes twice (intent, then committed version)
// plus its local resolution plus one value of overshoot, below this by design.
inline constexpr size_t kMaxRaftCommandBytes = 32 * kMiB;

// --- gRPC message limits, with headroom for headers ---------------------------------
// KV.Batch, client <-> node and gateway <-> leaseholder, both directions.
inline constexpr size_t kMaxKvMessageBytes = 32 * kMiB;
// Raft transport messages (one command plus the append's framing).
inline constexpr size_t kMaxRaftMessageBytes = 64 * kMiB;

static_assert(kMaxKeyBytes + kMaxValueBytes <= kMaxBatchWriteBytes,
              "a batch must hold at least one largest write");
static_assert(kMaxBatchWriteBytes + kMaxBatchRequests * 2 * kMaxKeyBytes <= kMaxRequestBytes,
              "a batch at the write limit with its keys must fit a request");
static_assert(kMaxRequestBytes + 64 * kKiB <= kMaxKvMessageBytes,
              "every accepted request must fit a KV message");
static_assert(kMaxResponseRowBytes + kMaxBatchRequests * kMaxKeyBytes + 64 * kKiB <=
                  kMaxKvMessageBytes,
              "every response the server builds must fit a KV message");
static_assert(2 * kMaxBatchWriteBytes + kMaxSpanWriteBytes + kMaxValueBytes + 1 * kMiB <=
                  kMaxRaftCommandBytes,
              "a commit's own Raft command must fit the command limit");
static_assert(kMaxRaftCommandBytes + 1 * kMiB <= kMaxRaftMessageBytes,
              "an append carrying one largest command must fit a Raft message");

}  // namespace rangedb::limits
