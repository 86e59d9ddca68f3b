// RaftLog: the log as raft sees it — durable entries in Storage followed by unstable
// entries (and possibly an unstable snapshot) not yet handed to the owner to persist.
//
//   storage:  [snapshot] [first_index ........ storage last]
//   unstable:                              [offset ....... last_index]
//                                          ^ unstable entries override storage
//   persisted cache:            [cache ...]^ (ends at offset)
//
// `committed` and `applied` index into the combined log; applied <= committed.
//
// The persisted cache keeps the entries the owner persisted (the unstable prefix
// dropped by StableTo) until they are handed out for applying, so that
// TakeNextCommittedEntries() can move them into a Ready instead of copying them back
// out of Storage. It mirrors Storage exactly (same index, same term => same entry), is
// only an optimization (everything else reads Storage), and is bounded by
// kMaxPersistedCacheBytes.
//
// Not thread-safe; owned by one Raft.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "proto/raft.pb.h"
#include "raft/storage.h"

namespace rangedb::raft {

// Unstable holds what the owner has not persisted yet.
// Invariant: if snapshot is set, offset == snapshot index + 1.
class Unstable {
 public:
  std::optional<uint64_t> MaybeFirstIndex() const;
  std::optional<uint64_t> MaybeLastIndex() const;
  std::optional<uint64_t> MaybeTerm(uint64_t i) const;

  // The owner persisted entries through (i, t): drops them from the unstable tail and
  // returns them (moved out). Returns nothing if entry i is not in the unstable tail
  // or was replaced (its term is no longer t).
  std::vector<raftpb::Entry> StableTo(uint64_t i, uint64_t t);
  // The owner persisted the snapshot at index i.
  void StableSnapTo(uint64_t i);
  void Restore(const raftpb::Snapshot& s);
  void TruncateAndAppend(std::vector<raftpb::Entry> ents);
  // Entries [lo, hi). REQUIRES: offset <= lo <= hi <= offset + entries.size().
  void AppendSlice(uint64_t lo, uint64_t hi, std::vector<raftpb::Entry>& out) const;

  const std::optional<raftpb::Snapshot>& snapshot() const { return snapshot_; }
  const std::vector<raftpb::Entry>& entries() const { return entries_; }
  // Entry i. REQUIRES: offset <= i < offset + entries.size().
  const raftpb::Entry& At(uint64_t i) const { return entries_[i - offset_]; }
  uint64_t offset() const { return offset_; }
  void set_offset(uint64_t o) { offset_ = o; }

 private:
  std::optional<raftpb::Snapshot> snapshot_;
  std::vector<raftpb::Entry> entries_;  // entries_[k] has index offset_ + k
  uint64_t offset_ = 0;
};

// Bound on the bytes (payload + sizeof(Entry) per entry) RaftLog keeps in its cache of
// persisted, not yet applied entries. Beyond it the cache is dropped and committed
// entries are read back from Storage.
inline constexpr uint64_t kMaxPersistedCacheBytes = 4 << 20;

class RaftLog {
 public:
  // REQUIRES: storage outlives the log. max_committed_bytes_per_ready bounds
  // NextCommittedEntries().
  RaftLog(const Storage* storage, uint64_t max_committed_bytes_per_ready);

  // Appends ents after entry (index, log_term) if the log matches there; truncates a
  // conflicting uncommitted suffix. Returns the index of the last new entry, or nullopt
  // on a mismatch (the caller rejects the append). Advances commit to
  // min(committed, last new index).
  std::optional<uint64_t> MaybeAppend(uint64_t index, uint64_t log_term, uint64_t committed,
                                      std::vector<raftpb::Entry> ents);
  // Appends entries at the tail (leader path). Returns the new last index.
  // REQUIRES: ents[0].index() - 1 >= committed.
  uint64_t Append(std::vector<raftpb::Entry> ents);

  // First index in ents that is not in the log with the same term, or 0 if none.
  uint64_t FindConflict(const std::vector<raftpb::Entry>& ents) const;
  // The largest index <= index whose term is <= term: where a leader with an entry of
  // `term` at `index` may find its match (fast backtracking).
  uint64_t FindConflictByTerm(uint64_t index, uint64_t term) const;

  const std::vector<raftpb::Entry>& UnstableEntries() const { return unstable_.entries(); }
  // Committed entries not yet applied, bounded by max_committed_bytes_per_ready.
  std::vector<raftpb::Entry> NextCommittedEntries() const;
  // NextCommittedEntries(), moving the entries out of the persisted cache where it
  // holds them. For RawNode::GetReady: the entries are handed to the owner once, and
  // later reads of them go to Storage.
  std::vector<raftpb::Entry> TakeNextCommittedEntries();
  bool HasNextCommittedEntries() const;
  bool HasPendingSnapshot() const { return unstable_.snapshot().has_value(); }
  const std::optional<raftpb::Snapshot>& UnstableSnapshot() const { return unstable_.snapshot(); }
  // The latest snapshot, unstable or from storage.
  absl::StatusOr<raftpb::Snapshot> Snapshot() const;

  uint64_t FirstIndex() const;
  uint64_t LastIndex() const;
  // The last index of the persisted prefix of the log: everything before the unstable
  // tail (entries handed to the owner and not yet reported persisted by StableTo).
  // Meaningful only without a pending snapshot (whose index it would return).
  uint64_t PersistedLastIndex() const { return unstable_.offset() - 1; }
  uint64_t LastTerm() const;
  // Term of entry i; 0 for indexes outside [FirstIndex()-1, LastIndex()];
  // compacted/unavailable errors from storage pass through.
  absl::StatusOr<uint64_t> Term(uint64_t i) const;
  // Term(i), or 0 on a compacted error. Crashes on any other error.
  uint64_t TermOrZero(uint64_t i) const;

  // Entries from i to the end, at most max_bytes (at least one).
  absl::StatusOr<std::vector<raftpb::Entry>> EntriesFrom(uint64_t i, uint64_t max_bytes) const;
  // Entries [lo, hi), at most max_bytes (at least one).
  absl::StatusOr<std::vector<raftpb::Entry>> Slice(uint64_t lo, uint64_t hi,
                                                   uint64_t max_bytes) const;
  // EntriesFrom(i, max_bytes) appended straight to *out (building a MsgApp without an
  // intermediate vector). On error *out is unchanged.
  absl::Status AppendEntriesFrom(uint64_t i, uint64_t max_bytes,
                                 google::protobuf::RepeatedPtrField<raftpb::Entry>* out) const;

  // Whether a candidate with last entry (lasti, term) is at least as up to date as
  // this log (§5.4.1).
  bool IsUpToDate(uint64_t lasti, uint64_t term) const;
  bool MatchTerm(uint64_t i, uint64_t term) const;
  // Commits max_index if its entry has `term` (only current-term entries are
  // committed by counting, §5.4.2). Returns whether committed advanced.
  bool MaybeCommit(uint64_t max_index, uint64_t term);
  // Test-only fault: commit by counting regardless of the entry's term.
  void set_unsafe_commit_any_term(bool v) { unsafe_commit_any_term_ = v; }

  void CommitTo(uint64_t to_commit);
  void AppliedTo(uint64_t i);
  void StableTo(uint64_t i, uint64_t t);
  void StableSnapTo(uint64_t i) { unstable_.StableSnapTo(i); }
  void Restore(const raftpb::Snapshot& s);

  uint64_t committed() const { return committed_; }
  uint64_t applied() const { return applied_; }
  // Only for restoring a persisted commit index at start-up.
  void set_committed(uint64_t c) { committed_ = c; }

 private:
  // Slice(lo, hi, max_bytes) as a plan: the entries read from storage, then the
  // unstable entries [unstable_lo, unstable_hi) that the caller copies.
  struct SlicePlan {
    std::vector<raftpb::Entry> stored;
    uint64_t unstable_lo = 0;
    uint64_t unstable_hi = 0;
  };
  absl::StatusOr<SlicePlan> PlanSlice(uint64_t lo, uint64_t hi, uint64_t max_bytes) const;
  // Fails "compacted" if lo < FirstIndex(); crashes if hi > LastIndex() + 1 or lo > hi.
  absl::Status CheckOutOfBounds(uint64_t lo, uint64_t hi) const;

  // Persisted cache maintenance (see the file comment).
  void CachePersisted(std::vector<raftpb::Entry> ents);
  // Drops cached entries with index >= i (they are being replaced).
  void TruncateCacheFrom(uint64_t i);
  // Drops cached entries with index < i (applied or compacted).
  void DropCacheBelow(uint64_t i);
  void ClearCache();
  uint64_t cache_end() const { return cache_first_ + cache_.size(); }

  const Storage* storage_;
  Unstable unstable_;
  // Persisted entries [cache_first_, cache_end()), with cache_end() == unstable offset
  // when non-empty; cache_bytes_ <= kMaxPersistedCacheBytes.
  std::vector<raftpb::Entry> cache_;
  uint64_t cache_first_ = 0;
  uint64_t cache_bytes_ = 0;
  uint64_t committed_ = 0;
  uint64_t applied_ = 0;
  uint64_t max_committed_bytes_per_ready_;
  bool unsafe_commit_any_term_ = false;
};

}  // namespace rangedb::raft
