#include "raft/storage.h"

#include "absl/strings/str_cat.h"

namespace rangedb::raft {

absl::Status CompactedError(uint64_t index) {
  return absl::OutOfRangeError(
      absl::StrCat("raft log: index ", index, " is unavailable due to compaction"));
}

absl::Status UnavailableError(uint64_t index) {
  return absl::NotFoundError(absl::StrCat("raft log: entry ", index, " is unavailable"));
}

absl::Status SnapshotTemporarilyUnavailableError() {
  return absl::UnavailableError("raft log: snapshot is temporarily unavailable");
}

absl::Status SnapshotOutOfDateError(uint64_t have_index, uint64_t offered_index) {
  return absl::FailedPreconditionError(absl::StrCat("raft log: snapshot at index ", offered_index,
                                                    " is out of date (have ", have_index, ")"));
}

void ThrowStorageFailure(absl::Status status) { throw StorageFailure{std::move(status)}; }

void LimitSize(std::vector<raftpb::Entry>& entries, uint64_t max_bytes) {
  if (entries.empty() || max_bytes == kNoLimit) return;
  uint64_t size = entries[0].ByteSizeLong();
  size_t limit = 1;
  for (; limit < entries.size(); ++limit) {
    size += entries[limit].ByteSizeLong();
    if (size > max_bytes) break;
  }
  entries.resize(limit);
}

uint64_t PayloadBytes(const raftpb::Entry& e) { return e.data().size(); }

}  // namespace rangedb::raft
