// Storage: the read-only view of a replica's durable Raft state that raft/ consumes.
//
// The owner writes the log (from each Ready) and raft reads it back through this
// interface. Two implementations: MemoryStorage (raft/memory_storage.h) for tests and
// simulators, and the storage-engine log in storage/.
//
// Index conventions: the log holds entries (FirstIndex() .. LastIndex()); the entry
// at FirstIndex()-1 is compacted away but its term is still known (it is the last
// entry of the latest snapshot, or index 0 term 0 for an empty log), so
// Term(FirstIndex()-1) succeeds. An empty log has FirstIndex() == LastIndex() + 1.
//
// Errors are distinct so raft can react to each:
//   compacted   (absl::StatusCode::kOutOfRange)   the index is below FirstIndex()-1;
//                                                 raft sends a snapshot instead.
//   unavailable (absl::StatusCode::kNotFound)     the index is above LastIndex().
//   snapshot temporarily unavailable (kUnavailable) Snapshot() is being prepared;
//                                                 raft retries later.
//   snapshot out of date (kFailedPrecondition)    a snapshot older than the one held.
// Any other error (I/O, corruption) is fatal for raft: it cannot make progress safely.
//
// Thread safety: implementations are called from the one thread that drives the
// RawNode; an implementation shared with other threads must synchronize itself.
#pragma once

#include <cstdint>
#include <limits>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/raft.pb.h"

namespace rangedb::raft {

// "No limit" for byte-size limits.
inline constexpr uint64_t kNoLimit = std::numeric_limits<uint64_t>::max();

// What a replica restarts from: the last persisted HardState and the membership as of
// its latest snapshot (later membership changes are replayed from the log).
struct InitialState {
  raftpb::HardState hard_state;
  raftpb::ConfState conf_state;
};

class Storage {
 public:
  virtual ~Storage() = default;

  [[nodiscard]] virtual absl::StatusOr<InitialState> GetInitialState() const = 0;

  // Entries [lo, hi), truncated to at most max_bytes (by Entry::ByteSizeLong) but
  // always at least one entry when lo < hi.
  // REQUIRES: FirstIndex() <= lo <= hi <= LastIndex() + 1, else compacted/unavailable.
  [[nodiscard]] virtual absl::StatusOr<std::vector<raftpb::Entry>> Entries(
      uint64_t lo, uint64_t hi, uint64_t max_bytes) const = 0;

  // Term of entry i, for FirstIndex()-1 <= i <= LastIndex().
  [[nodiscard]] virtual absl::StatusOr<uint64_t> Term(uint64_t i) const = 0;

  // Index of the first entry still in the log (the snapshot index + 1).
  [[nodiscard]] virtual absl::StatusOr<uint64_t> FirstIndex() const = 0;
  [[nodiscard]] virtual absl::StatusOr<uint64_t> LastIndex() const = 0;

  // The most recent snapshot. May return "snapshot temporarily unavailable".
  [[nodiscard]] virtual absl::StatusOr<raftpb::Snapshot> Snapshot() const = 0;
};

// Error constructors and predicates shared by every Storage implementation.
absl::Status CompactedError(uint64_t index);
absl::Status UnavailableError(uint64_t index);
absl::Status SnapshotTemporarilyUnavailableError();
absl::Status SnapshotOutOfDateError(uint64_t have_index, uint64_t offered_index);
inline bool IsCompacted(const absl::Status& s) { return absl::IsOutOfRange(s); }
inline bool IsEntryUnavailable(const absl::Status& s) { return absl::IsNotFound(s); }
inline bool IsSnapshotTemporarilyUnavailable(const absl::Status& s) {
  return absl::IsUnavailable(s);
}
inline bool IsSnapshotOutOfDate(const absl::Status& s) { return absl::IsFailedPrecondition(s); }

// Any other Storage error — a corrupt record (DataLoss), an I/O error, an entry missing
// inside the bounds — means raft cannot know its own log. Continuing would act on a log
// it cannot read; aborting would take down every other replica of the process. raft/
// instead abandons the call that hit the error by throwing StorageFailure from the
// failed read. RawNode catches it at its API boundary and is failed from then on
// (RawNode::failure()): nothing of the abandoned call is handed out, every later call
// is refused, and the owner stops the replica. The exception never leaves raft/ through
// RawNode; a Raft driven directly (unit tests) lets it terminate the process.
struct StorageFailure {
  absl::Status status;
};
[[noreturn]] void ThrowStorageFailure(absl::Status status);

// Returns the longest prefix of entries whose total ByteSizeLong is <= max_bytes,
// but at least one entry if entries is non-empty.
void LimitSize(std::vector<raftpb::Entry>& entries, uint64_t max_bytes);

// Sum of entry payload sizes (data only), the unit of the uncommitted-size limit.
uint64_t PayloadBytes(const raftpb::Entry& e);

}  // namespace rangedb::raft
