#include "raft/log.h"

#include <algorithm>
#include <string>

#include "raft/check.h"

namespace rangedb::raft {

namespace {

// Storage errors other than compacted/unavailable leave raft unable to continue safely.
template <typename T>
const T& MustOk(const absl::StatusOr<T>& v) {
  if (!v.ok()) {
    const std::string msg = v.status().ToString();
    internal::CheckFailed(__FILE__, __LINE__, "storage read", msg.c_str());
  }
  return *v;
}

}  // namespace

// ---------------------------------------------------------------------------
// Unstable

std::optional<uint64_t> Unstable::MaybeFirstIndex() const {
  if (snapshot_) return snapshot_->metadata().index() + 1;
  return std::nullopt;
}

std::optional<uint64_t> Unstable::MaybeLastIndex() const {
  if (!entries_.empty()) return offset_ + entries_.size() - 1;
  if (snapshot_) return snapshot_->metadata().index();
  return std::nullopt;
}

std::optional<uint64_t> Unstable::MaybeTerm(uint64_t i) const {
  if (i < offset_) {
    if (snapshot_ && snapshot_->metadata().index() == i) return snapshot_->metadata().term();
    return std::nullopt;
  }
  std::optional<uint64_t> last = MaybeLastIndex();
  if (!last || i > *last) return std::nullopt;
  return entries_[i - offset_].term();
}

void Unstable::StableTo(uint64_t i, uint64_t t) {
  std::optional<uint64_t> gt = MaybeTerm(i);
  if (!gt) return;
  // Only drop if the entry is still the one that was persisted (not replaced by a
  // conflicting append in the meantime) and is not part of the snapshot.
  if (*gt == t && i >= offset_) {
    entries_.erase(entries_.begin(), entries_.begin() + static_cast<ptrdiff_t>(i + 1 - offset_));
    offset_ = i + 1;
  }
}

void Unstable::StableSnapTo(uint64_t i) {
  if (snapshot_ && snapshot_->metadata().index() == i) snapshot_.reset();
}

void Unstable::Restore(const raftpb::Snapshot& s) {
  offset_ = s.metadata().index() + 1;
  entries_.clear();
  snapshot_ = s;
}

void Unstable::TruncateAndAppend(std::vector<raftpb::Entry> ents) {
  const uint64_t after = ents[0].index();
  if (after == offset_ + entries_.size()) {
    // Directly after the tail.
  } else if (after <= offset_) {
    // Replaces every unstable entry; the log is now unstable from `after`.
    offset_ = after;
    entries_.clear();
  } else {
    // Truncate to `after`, then append.
    entries_.resize(after - offset_);
  }
  if (entries_.empty()) {
    entries_ = std::move(ents);
  } else {
    entries_.insert(entries_.end(), std::make_move_iterator(ents.begin()),
                    std::make_move_iterator(ents.end()));
  }
}

void Unstable::AppendSlice(uint64_t lo, uint64_t hi, std::vector<raftpb::Entry>& out) const {
  RAFT_CHECK(offset_ <= lo && lo <= hi && hi <= offset_ + entries_.size(),
             "unstable slice out of bounds");
  out.insert(out.end(), entries_.begin() + static_cast<ptrdiff_t>(lo - offset_),
             entries_.begin() + static_cast<ptrdiff_t>(hi - offset_));
}

// ---------------------------------------------------------------------------
// RaftLog

RaftLog::RaftLog(const Storage* storage, uint64_t max_committed_bytes_per_ready)
    : storage_(storage), max_committed_bytes_per_ready_(max_committed_bytes_per_ready) {
  const uint64_t first = MustOk(storage_->FirstIndex());
  const uint64_t last = MustOk(storage_->LastIndex());
  unstable_.set_offset(last + 1);
  // Everything up to the snapshot is committed and applied.
  committed_ = first - 1;
  applied_ = first - 1;
}

std::optional<uint64_t> RaftLog::MaybeAppend(uint64_t index, uint64_t log_term, uint64_t committed,
                                             std::vector<raftpb::Entry> ents) {
  if (!MatchTerm(index, log_term)) return std::nullopt;
  const uint64_t last_new = index + ents.size();
  const uint64_t ci = FindConflict(ents);
  if (ci != 0) {
    RAFT_CHECK(ci > committed_, "entry conflicts with a committed entry");
    const uint64_t offset = index + 1;
    if (ci > offset) ents.erase(ents.begin(), ents.begin() + static_cast<ptrdiff_t>(ci - offset));
    Append(std::move(ents));
  }
  CommitTo(std::min(committed, last_new));
  return last_new;
}

uint64_t RaftLog::Append(std::vector<raftpb::Entry> ents) {
  if (ents.empty()) return LastIndex();
  RAFT_CHECK(ents[0].index() - 1 >= committed_, "append would overwrite committed entries");
  unstable_.TruncateAndAppend(std::move(ents));
  return LastIndex();
}

uint64_t RaftLog::FindConflict(const std::vector<raftpb::Entry>& ents) const {
  for (const raftpb::Entry& e : ents) {
    if (!MatchTerm(e.index(), e.term())) return e.index();
  }
  return 0;
}

uint64_t RaftLog::FindConflictByTerm(uint64_t index, uint64_t term) const {
  if (index > LastIndex()) return index;
  while (true) {
    absl::StatusOr<uint64_t> t = Term(index);
    if (!t.ok() || *t <= term) return index;
    if (index == 0) return 0;
    --index;
  }
}

bool RaftLog::HasNextCommittedEntries() const {
  const uint64_t off = std::max(applied_ + 1, FirstIndex());
  return committed_ + 1 > off;
}

std::vector<raftpb::Entry> RaftLog::NextCommittedEntries() const {
  const uint64_t off = std::max(applied_ + 1, FirstIndex());
  if (committed_ + 1 <= off) return {};
  return MustOk(Slice(off, committed_ + 1, max_committed_bytes_per_ready_));
}

absl::StatusOr<raftpb::Snapshot> RaftLog::Snapshot() const {
  if (unstable_.snapshot()) return *unstable_.snapshot();
  return storage_->Snapshot();
}

uint64_t RaftLog::FirstIndex() const {
  if (std::optional<uint64_t> i = unstable_.MaybeFirstIndex()) return *i;
  return MustOk(storage_->FirstIndex());
}

uint64_t RaftLog::LastIndex() const {
  if (std::optional<uint64_t> i = unstable_.MaybeLastIndex()) return *i;
  return MustOk(storage_->LastIndex());
}

uint64_t RaftLog::LastTerm() const { return TermOrZero(LastIndex()); }

absl::StatusOr<uint64_t> RaftLog::Term(uint64_t i) const {
  // Valid range: [FirstIndex()-1, LastIndex()]; the entry before the first is the
  // snapshot's last entry, whose term is kept.
  const uint64_t dummy = FirstIndex() - 1;
  if (i < dummy || i > LastIndex()) return uint64_t{0};
  if (std::optional<uint64_t> t = unstable_.MaybeTerm(i)) return *t;
  absl::StatusOr<uint64_t> t = storage_->Term(i);
  if (t.ok() || IsCompacted(t.status()) || IsEntryUnavailable(t.status())) return t;
  MustOk(t);
  return t;
}

uint64_t RaftLog::TermOrZero(uint64_t i) const {
  absl::StatusOr<uint64_t> t = Term(i);
  if (t.ok()) return *t;
  if (IsCompacted(t.status())) return 0;
  return MustOk(t);
}

absl::StatusOr<std::vector<raftpb::Entry>> RaftLog::EntriesFrom(uint64_t i,
                                                                uint64_t max_bytes) const {
  if (i > LastIndex()) return std::vector<raftpb::Entry>{};
  return Slice(i, LastIndex() + 1, max_bytes);
}

absl::Status RaftLog::CheckOutOfBounds(uint64_t lo, uint64_t hi) const {
  RAFT_CHECK(lo <= hi, "invalid slice");
  const uint64_t first = FirstIndex();
  if (lo < first) return CompactedError(lo);
  RAFT_CHECK(hi <= LastIndex() + 1, "slice beyond the last index");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<raftpb::Entry>> RaftLog::Slice(uint64_t lo, uint64_t hi,
                                                          uint64_t max_bytes) const {
  if (absl::Status s = CheckOutOfBounds(lo, hi); !s.ok()) return s;
  std::vector<raftpb::Entry> ents;
  if (lo == hi) return ents;
  const uint64_t uoff = unstable_.offset();
  if (lo < uoff) {
    const uint64_t stored_hi = std::min(hi, uoff);
    absl::StatusOr<std::vector<raftpb::Entry>> stored = storage_->Entries(lo, stored_hi, max_bytes);
    if (!stored.ok()) {
      if (IsCompacted(stored.status())) return stored.status();
      RAFT_CHECK(!IsEntryUnavailable(stored.status()), "entries missing from storage");
      MustOk(stored);
    }
    ents = *std::move(stored);
    // Storage stopped early because of max_bytes: done.
    if (ents.size() < stored_hi - lo) return ents;
  }
  if (hi > uoff) unstable_.AppendSlice(std::max(lo, uoff), hi, ents);
  LimitSize(ents, max_bytes);
  return ents;
}

bool RaftLog::IsUpToDate(uint64_t lasti, uint64_t term) const {
  const uint64_t last_term = LastTerm();
  return term > last_term || (term == last_term && lasti >= LastIndex());
}

bool RaftLog::MatchTerm(uint64_t i, uint64_t term) const {
  absl::StatusOr<uint64_t> t = Term(i);
  return t.ok() && *t == term;
}

bool RaftLog::MaybeCommit(uint64_t max_index, uint64_t term) {
  if (max_index > committed_ && (unsafe_commit_any_term_ || TermOrZero(max_index) == term)) {
    CommitTo(max_index);
    return true;
  }
  return false;
}

void RaftLog::CommitTo(uint64_t to_commit) {
  if (committed_ >= to_commit) return;  // never decrease
  RAFT_CHECK(LastIndex() >= to_commit, "commit index beyond the last index");
  committed_ = to_commit;
}

void RaftLog::AppliedTo(uint64_t i) {
  if (i == 0) return;
  RAFT_CHECK(committed_ >= i && i >= applied_, "applied index out of range");
  applied_ = i;
}

void RaftLog::Restore(const raftpb::Snapshot& s) {
  committed_ = s.metadata().index();
  unstable_.Restore(s);
}

}  // namespace rangedb::raft
