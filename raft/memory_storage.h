// MemoryStorage: a Storage kept in memory, for tests, simulators and benchmarks.
//
// The owner plays "disk": it calls Append / SetHardState / ApplySnapshot with the
// contents of each Ready, and Compact / CreateSnapshot to truncate the log. A crash is
// simulated by dropping the RawNode and restarting one over the same MemoryStorage.
//
// Thread-compatible: the owner serializes all calls (raft reads on the same thread).
#pragma once

#include <cstdint>
#include <vector>

#include "raft/storage.h"

namespace rangedb::raft {

class MemoryStorage : public Storage {
 public:
  MemoryStorage();

  // Storage.
  absl::StatusOr<InitialState> GetInitialState() const override;
  absl::StatusOr<std::vector<raftpb::Entry>> Entries(uint64_t lo, uint64_t hi,
                                                     uint64_t max_bytes) const override;
  absl::StatusOr<uint64_t> Term(uint64_t i) const override;
  absl::StatusOr<uint64_t> FirstIndex() const override;
  absl::StatusOr<uint64_t> LastIndex() const override;
  absl::StatusOr<raftpb::Snapshot> Snapshot() const override;

  // Owner side.

  void SetHardState(const raftpb::HardState& hs) { hard_state_ = hs; }
  const raftpb::HardState& hard_state() const { return hard_state_; }

  // Sets the membership of a fresh, empty log (bootstrap of a new group).
  void SetInitialConfState(const raftpb::ConfState& cs);

  // Replaces the whole log with the snapshot. Fails "out of date" if the held snapshot
  // is not older.
  [[nodiscard]] absl::Status ApplySnapshot(const raftpb::Snapshot& snapshot);

  // Makes a snapshot at applied index i with the given state-machine image and
  // membership. Fails "out of date" if i <= current snapshot index.
  // REQUIRES: i <= LastIndex().
  [[nodiscard]] absl::StatusOr<raftpb::Snapshot> CreateSnapshot(uint64_t i,
                                                                const raftpb::ConfState& cs,
                                                                std::string data);

  // Discards entries before compact_index (it becomes the dummy entry). Fails
  // "compacted" if compact_index <= current dummy index.
  // REQUIRES: compact_index <= LastIndex().
  [[nodiscard]] absl::Status Compact(uint64_t compact_index);

  // Appends entries, truncating any existing suffix they conflict with. Entries below
  // FirstIndex() are ignored.
  // REQUIRES: entries are contiguous and start at or before LastIndex() + 1.
  void Append(const std::vector<raftpb::Entry>& entries);
  // Append() taking the entries over (moved, not copied): for an owner that persists
  // a Ready's entries and has no further use for them.
  void Append(std::vector<raftpb::Entry>&& entries);

 private:
  // Drops the stored suffix that entries replace; returns how many leading entries
  // are already compacted (to skip), or entries.size() if there is nothing to append.
  size_t PrepareAppend(const std::vector<raftpb::Entry>& entries);

  uint64_t first_index() const { return ents_[0].index() + 1; }
  uint64_t last_index() const { return ents_[0].index() + ents_.size() - 1; }

  raftpb::HardState hard_state_;
  raftpb::Snapshot snapshot_;
  // ents_[0] is a dummy entry holding the snapshot's index and term.
  std::vector<raftpb::Entry> ents_;
};

}  // namespace rangedb::raft
