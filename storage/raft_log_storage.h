// RaftLogStorage: one range's persistent Raft log and Raft state on the node's shared
// Engine; the raft::Storage (raft/storage.h) that a replica's RawNode reads.
//
// Layout (keys are built by storage/keys.h; docs/raft-log.md draws it with examples):
//   kRaftLog  keys::RaftLogKey              <range id:8 BE> <index:8 BE>
//                                           -> record(raftpb::Entry)
//   kData     MVCCKeyPrefix(RaftHardStateKey)      \x01 i <range id> "urfth"
//                                           -> record(raftpb::HardState)
//   kData     MVCCKeyPrefix(RaftTruncatedStateKey) \x01 i <range id> "urftt"
//                                           -> record(index:8 BE, term:8 BE)
//   kData     MVCCKeyPrefix(RaftSnapshotMetaKey)   \x01 i <range id> "urfts"
//                                           -> record(raftpb::SnapshotMetadata)
// A record (format version 2) is a version byte, a CRC-32C (4 bytes BE) over the
// version, the range id (8 bytes BE) and the payload, then the payload. Every read
// verifies the checksum: a corrupt or truncated record, or a valid record of another
// range, is reported as DataLoss naming the range and the index, and never parsed.
//
// Write protocol (two steps: group commit across ranges, and a batch that is never
// committed changes nothing):
//   RaftLogWrite w = log->NewWrite(batch);  // stage against the committed state
//   w.Append(ready.entries);                 // ... and the other owner-side changes
//   w.SetHardState(ready.hard_state);
//   // stage other ranges into the same batch, then one synced commit for all
//   CHECK(batch->Commit(/*sync=*/true).ok());
//   log->OnCommitted(std::move(w));          // only now do reads see the change
// Until OnCommitted, every Storage method answers from the committed state, which is
// what is on disk: dropping an uncommitted RaftLogWrite (and its batch) leaves the log
// exactly as it was.
//
// Thread safety: thread-compatible, like raft::MemoryStorage. The owner serializes
// every call on one RaftLogStorage (raft's reads, staging and OnCommitted). Different
// ranges' storages are independent and may be used from different threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/raft.pb.h"
#include "raft/storage.h"
#include "storage/engine.h"

namespace rangedb {

namespace raftlog {

inline constexpr uint8_t kRecordVersion = 2;
inline constexpr size_t kChecksumBytes = 4;
inline constexpr size_t kRecordHeaderBytes = 1 + kChecksumBytes;  // version, checksum

// Engine keys of the range's Raft state in ColumnFamily::kData: the unversioned MVCC
// keys of keys::RaftHardStateKey, RaftTruncatedStateKey and RaftSnapshotMetaKey. (The
// log's keys are keys::RaftLogKey, stored raw.)
std::string HardStateKey(uint64_t range_id);
std::string TruncatedStateKey(uint64_t range_id);
std::string SnapshotMetaKey(uint64_t range_id);

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as in iSCSI and RocksDB.
uint32_t Crc32c(absl::string_view data);

// The checksum of a record of range_id: CRC-32C over version ++ range_id (8 BE) ++ payload.
uint32_t RecordChecksum(uint64_t range_id, absl::string_view payload);
// version ++ RecordChecksum(range_id, payload) (4 BE) ++ payload.
std::string EncodeRecord(uint64_t range_id, absl::string_view payload);
// Verifies the version and the checksum (with range_id) and returns the payload (a view
// into record), or DataLoss saying what is wrong (too short, unknown version, checksum
// mismatch); callers add which record.
[[nodiscard]] absl::StatusOr<absl::string_view> DecodeRecord(uint64_t range_id,
                                                             absl::string_view record);

}  // namespace raftlog

// A contiguous run of recent entries [first_index(), last_index()] kept in memory,
// bounded by bytes (sum of Entry::ByteSizeLong). Appending past the bound evicts the
// oldest entries first; an entry larger than the bound is not cached.
class RaftEntryCache {
 public:
  explicit RaftEntryCache(size_t bytes_max) : bytes_max_(bytes_max) {}

  // Adds entries after the cached run. If they do not continue it (a gap), the run is
  // restarted from entries. REQUIRES: entries are contiguous.
  void Append(const std::vector<raftpb::Entry>& entries);
  // Drops cached entries with index >= index (a conflicting suffix was replaced).
  void TruncateFrom(uint64_t index);
  // Drops cached entries with index <= index (the log was compacted).
  void DropThrough(uint64_t index);
  void Clear();

  // The cached entry at index, or nullptr.
  const raftpb::Entry* Get(uint64_t index) const;

  bool empty() const { return entries_.empty(); }
  uint64_t first_index() const;  // REQUIRES: !empty()
  uint64_t last_index() const;   // REQUIRES: !empty()
  size_t size_bytes() const { return bytes_; }
  size_t bytes_max() const { return bytes_max_; }
  size_t entry_count() const { return entries_.size(); }

 private:
  void Push(const raftpb::Entry& e);

  const size_t bytes_max_;
  size_t bytes_ = 0;                   // sum of ByteSizeLong over entries_
  std::deque<raftpb::Entry> entries_;  // contiguous indices, oldest first
};

struct RaftLogOptions {
  // Bound of the cache of recently appended entries; 0 disables the cache.
  size_t cache_bytes_max = size_t{4} << 20;
};

class RaftLogStorage;

// The durable Raft state of one range as known to the storage (committed or staged).
struct RaftLogState {
  uint64_t truncated_index = 0;  // index of the last compacted entry (FirstIndex()-1)
  uint64_t truncated_term = 0;   // its term
  uint64_t last_index = 0;       // == truncated_index when the log is empty
  raftpb::HardState hard_state;
  raftpb::SnapshotMetadata snapshot;  // latest snapshot: index, term, conf state
};

// RaftLogWrite: changes to one range's log staged into a caller's WriteBatch. Each
// method sees the effect of the earlier ones (a snapshot then entries after it, an
// append then a compaction). The storage's reads are unaffected until the batch is
// committed and the write is handed to RaftLogStorage::OnCommitted.
// REQUIRES: at most one RaftLogWrite of a storage is staged at a time; the batch
// outlives the write.
class RaftLogWrite {
 public:
  RaftLogWrite(RaftLogWrite&&) = default;
  RaftLogWrite& operator=(RaftLogWrite&&) = default;

  // Appends entries, deleting every existing entry after the last of them (a
  // conflicting suffix). Entries at or below the truncated index are ignored.
  // REQUIRES: entries are contiguous and start at or before the staged last index + 1.
  void Append(const std::vector<raftpb::Entry>& entries);

  void SetHardState(const raftpb::HardState& hs);

  // Sets the membership of a fresh, empty log (bootstrap of a new group).
  void SetInitialConfState(const raftpb::ConfState& cs);

  // Deletes the entries <= compact_index; the entry at compact_index becomes the
  // truncated state. Fails "compacted" if compact_index <= the truncated index, or
  // with the error of reading its term.
  // REQUIRES: compact_index <= the staged last index.
  [[nodiscard]] absl::Status Compact(uint64_t compact_index);

  // Records a snapshot of the state machine at applied index i with membership cs
  // (the data itself is the range's data in the engine). Fails "out of date" if i is
  // not above the held snapshot's index.
  // REQUIRES: truncated index <= i <= staged last index.
  [[nodiscard]] absl::Status CreateSnapshot(uint64_t i, const raftpb::ConfState& cs);

  // Installs a received snapshot's metadata and discards the whole log (the owner
  // installs snapshot.data() into the range's data). Fails "out of date" if the held
  // snapshot is not older.
  [[nodiscard]] absl::Status ApplySnapshot(const raftpb::Snapshot& snapshot);

  const RaftLogState& state() const { return state_; }

 private:
  friend class RaftLogStorage;
  RaftLogWrite(const RaftLogStorage* storage, WriteBatch* batch);

  // Term of entry i in the staged log.
  absl::StatusOr<uint64_t> Term(uint64_t i) const;
  void DeleteEntries(uint64_t from, uint64_t to);  // indices [from, to]
  void PutTruncatedState();
  void PutSnapshotMeta();

  const RaftLogStorage* storage_;
  WriteBatch* batch_;
  uint64_t base_generation_;  // the storage's generation this write was staged on
  RaftLogState state_;        // staged state
  // Entries appended by this write still in the staged log: the new tail of the log.
  std::vector<raftpb::Entry> appended_;
  // Cached entries at and after this index are replaced or deleted by this write.
  uint64_t cache_invalid_from_ = UINT64_MAX;
};

class RaftLogStorage : public raft::Storage {
 public:
  // Loads range_id's bounds, hard state, truncated state and snapshot metadata from the
  // engine (two bounded seeks, no log scan), so a restarted replica resumes. A fresh
  // range opens as an empty log at index 0. Fails with DataLoss on a corrupt record or
  // inconsistent bounds.
  // REQUIRES: engine outlives the storage; one RaftLogStorage per range per engine.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<RaftLogStorage>> Open(
      Engine* engine, uint64_t range_id, const RaftLogOptions& options = {});

  // raft::Storage, answered from the committed state.
  absl::StatusOr<raft::InitialState> GetInitialState() const override;
  absl::StatusOr<std::vector<raftpb::Entry>> Entries(uint64_t lo, uint64_t hi,
                                                     uint64_t max_bytes) const override;
  absl::StatusOr<uint64_t> Term(uint64_t i) const override;
  absl::StatusOr<uint64_t> FirstIndex() const override;
  absl::StatusOr<uint64_t> LastIndex() const override;
  // Metadata only: data() is empty, the image is the range's data in the engine.
  absl::StatusOr<raftpb::Snapshot> Snapshot() const override;

  // Owner side: stage changes into batch (see the protocol above).
  [[nodiscard]] RaftLogWrite NewWrite(WriteBatch* batch) const;
  // Makes a staged write visible. Call right after its batch committed, before any
  // other call on this storage; never for a batch that failed to commit (a failed
  // synced commit leaves the disk state unknown: the owner must stop).
  // REQUIRES: write was staged on this storage's current state.
  void OnCommitted(RaftLogWrite&& write);

  uint64_t range_id() const { return range_id_; }
  const RaftLogState& state() const { return state_; }
  const RaftEntryCache& cache() const { return cache_; }

 private:
  friend class RaftLogWrite;
  RaftLogStorage(Engine* engine, uint64_t range_id, const RaftLogOptions& options);

  absl::Status Load();
  // Appends entries [lo, hi) read from the engine to out while the running total
  // *size_bytes stays within max_bytes (always at least one entry in out). Returns
  // false if it stopped early because of max_bytes.
  absl::StatusOr<bool> ReadEntries(uint64_t lo, uint64_t hi, uint64_t max_bytes,
                                   uint64_t* size_bytes, std::vector<raftpb::Entry>* out) const;
  absl::StatusOr<raftpb::Entry> ReadEntry(uint64_t index) const;
  absl::Status ParseEntry(uint64_t index, absl::string_view value, raftpb::Entry* e) const;
  std::string Describe(uint64_t index) const;  // "raft log of range R: entry I"

  Engine* const engine_;
  const uint64_t range_id_;
  RaftLogState state_;  // committed state
  RaftEntryCache cache_;
  // Bumped by every OnCommitted; a write staged on an older generation is stale.
  uint64_t generation_ = 0;
};

}  // namespace rangedb
