#include "raft/memory_storage.h"

#include <utility>

#include "base/check.h"

namespace rangedb::raft {

MemoryStorage::MemoryStorage() { ents_.emplace_back(); }

absl::StatusOr<InitialState> MemoryStorage::GetInitialState() const {
  return InitialState{hard_state_, snapshot_.metadata().conf_state()};
}

void MemoryStorage::SetInitialConfState(const raftpb::ConfState& cs) {
  *snapshot_.mutable_metadata()->mutable_conf_state() = cs;
}

absl::StatusOr<std::vector<raftpb::Entry>> MemoryStorage::Entries(uint64_t lo, uint64_t hi,
                                                                  uint64_t max_bytes) const {
  const uint64_t offset = ents_[0].index();
  if (lo <= offset) return CompactedError(lo);
  if (hi > last_index() + 1) return UnavailableError(hi - 1);
  RANGEDB_CHECK_LE(lo, hi);
  // Count first, so the result is allocated once.
  uint64_t end = hi;
  if (max_bytes != kNoLimit) {
    uint64_t size = 0;
    for (uint64_t i = lo; i < hi; ++i) {
      size += ents_[i - offset].ByteSizeLong();
      if (i > lo && size > max_bytes) {
        end = i;
        break;
      }
    }
  }
  return std::vector<raftpb::Entry>(ents_.begin() + static_cast<ptrdiff_t>(lo - offset),
                                    ents_.begin() + static_cast<ptrdiff_t>(end - offset));
}

absl::StatusOr<uint64_t> MemoryStorage::Term(uint64_t i) const {
  const uint64_t offset = ents_[0].index();
  if (i < offset) return CompactedError(i);
  if (i - offset >= ents_.size()) return UnavailableError(i);
  return ents_[i - offset].term();
}

absl::StatusOr<uint64_t> MemoryStorage::FirstIndex() const { return first_index(); }

absl::StatusOr<uint64_t> MemoryStorage::LastIndex() const { return last_index(); }

absl::StatusOr<raftpb::Snapshot> MemoryStorage::Snapshot() const { return snapshot_; }

absl::Status MemoryStorage::ApplySnapshot(const raftpb::Snapshot& snapshot) {
  const uint64_t have = snapshot_.metadata().index();
  const uint64_t offered = snapshot.metadata().index();
  if (have >= offered) return SnapshotOutOfDateError(have, offered);
  snapshot_ = snapshot;
  ents_.clear();
  ents_.emplace_back();
  ents_[0].set_index(offered);
  ents_[0].set_term(snapshot.metadata().term());
  return absl::OkStatus();
}

absl::StatusOr<raftpb::Snapshot> MemoryStorage::CreateSnapshot(uint64_t i,
                                                               const raftpb::ConfState& cs,
                                                               std::string data) {
  const uint64_t have = snapshot_.metadata().index();
  if (i <= have) return SnapshotOutOfDateError(have, i);
  RANGEDB_CHECK_LE(i, last_index()) << "snapshot index beyond the last log index";
  const uint64_t offset = ents_[0].index();
  raftpb::SnapshotMetadata* md = snapshot_.mutable_metadata();
  md->set_index(i);
  md->set_term(ents_[i - offset].term());
  *md->mutable_conf_state() = cs;
  snapshot_.set_data(std::move(data));
  return snapshot_;
}

absl::Status MemoryStorage::Compact(uint64_t compact_index) {
  const uint64_t offset = ents_[0].index();
  if (compact_index <= offset) return CompactedError(compact_index);
  RANGEDB_CHECK_LE(compact_index, last_index()) << "compaction beyond the last log index";
  const size_t i = compact_index - offset;
  raftpb::Entry dummy;
  dummy.set_index(ents_[i].index());
  dummy.set_term(ents_[i].term());
  ents_.erase(ents_.begin(), ents_.begin() + static_cast<ptrdiff_t>(i));
  ents_[0] = std::move(dummy);
  return absl::OkStatus();
}

size_t MemoryStorage::PrepareAppend(const std::vector<raftpb::Entry>& entries) {
  if (entries.empty()) return 0;
  const uint64_t first = first_index();
  const uint64_t last = entries[0].index() + entries.size() - 1;
  if (last < first) return entries.size();  // everything is already compacted
  size_t skip = 0;
  if (first > entries[0].index()) skip = first - entries[0].index();
  const uint64_t start = entries[skip].index();
  const uint64_t offset = start - ents_[0].index();
  RANGEDB_CHECK_GE(ents_.size(), offset) << "missing log entries before an append at " << start;
  ents_.resize(offset);
  return skip;
}

void MemoryStorage::Append(const std::vector<raftpb::Entry>& entries) {
  const size_t skip = PrepareAppend(entries);
  ents_.insert(ents_.end(), entries.begin() + static_cast<ptrdiff_t>(skip), entries.end());
}

void MemoryStorage::Append(std::vector<raftpb::Entry>&& entries) {
  const size_t skip = PrepareAppend(entries);
  ents_.insert(ents_.end(), std::make_move_iterator(entries.begin() + static_cast<ptrdiff_t>(skip)),
               std::make_move_iterator(entries.end()));
}

}  // namespace rangedb::raft
