#include "raft/log.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace rangedb::raft {

namespace {

// Storage errors other than compacted/unavailable leave raft unable to continue: the
// call is abandoned and the RawNode fails (storage.h, StorageFailure).
template <typename T>
const T& MustOk(const absl::StatusOr<T>& v) {
  if (!v.ok()) ThrowStorageFailure(v.status());
  return *v;
}

// The byte limit of a slice, applied exactly like LimitSize(): the longest prefix whose
// total Entry::ByteSizeLong() is <= max_bytes, but always at least one entry.
class SizeBudget {
 public:
  explicit SizeBudget(uint64_t max_bytes) : max_bytes_(max_bytes) {}
  // Whether e fits after the entries taken so far; if so, takes it.
  bool Take(const raftpb::Entry& e) {
    if (max_bytes_ == kNoLimit) return true;
    used_bytes_ += e.ByteSizeLong();
    if (taken_ > 0 && used_bytes_ > max_bytes_) return false;
    ++taken_;
    return true;
  }

 private:
  const uint64_t max_bytes_;
  uint64_t used_bytes_ = 0;
  uint64_t taken_ = 0;
};

// What an entry costs in the persisted cache.
uint64_t CacheBytes(const raftpb::Entry& e) { return sizeof(raftpb::Entry) + e.data().size(); }

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

std::vector<raftpb::Entry> Unstable::StableTo(uint64_t i, uint64_t t) {
  std::vector<raftpb::Entry> stable;
  std::optional<uint64_t> gt = MaybeTerm(i);
  // Only drop if the entry is still the one that was persisted (not replaced by a
  // conflicting append in the meantime) and is not part of the snapshot.
  if (!gt || *gt != t || i < offset_) return stable;
  const size_t n = i + 1 - offset_;
  if (n == entries_.size()) {
    stable = std::move(entries_);
    entries_.clear();
  } else {
    const auto end = entries_.begin() + static_cast<ptrdiff_t>(n);
    stable.assign(std::make_move_iterator(entries_.begin()), std::make_move_iterator(end));
    entries_.erase(entries_.begin(), end);
  }
  offset_ = i + 1;
  return stable;
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
  RANGEDB_CHECK(offset_ <= lo && lo <= hi && hi <= offset_ + entries_.size())
      << "unstable slice [" << lo << ", " << hi << ") out of bounds [" << offset_ << ", "
      << offset_ + entries_.size() << ")";
  out.reserve(out.size() + (hi - lo));
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
    RANGEDB_CHECK_GT(ci, committed_) << "entry conflicts with a committed entry";
    const uint64_t offset = index + 1;
    if (ci > offset) ents.erase(ents.begin(), ents.begin() + static_cast<ptrdiff_t>(ci - offset));
    Append(std::move(ents));
  }
  CommitTo(std::min(committed, last_new));
  return last_new;
}

uint64_t RaftLog::Append(std::vector<raftpb::Entry> ents) {
  if (ents.empty()) return LastIndex();
  RANGEDB_CHECK_GE(ents[0].index() - 1, committed_) << "append would overwrite committed entries";
  TruncateCacheFrom(ents[0].index());
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

std::vector<raftpb::Entry> RaftLog::TakeNextCommittedEntries() {
  const uint64_t off = std::max(applied_ + 1, FirstIndex());
  if (committed_ + 1 <= off) return {};
  DropCacheBelow(off);
  // The cache must start exactly at `off`; otherwise (after a restart or an
  // overflow) read Storage as NextCommittedEntries() does, which realigns the cache.
  if (cache_.empty() || cache_first_ != off) return NextCommittedEntries();
  // Same result as Slice(off, committed_ + 1, max_committed_bytes_per_ready_): the
  // cache stands in for Storage, and the unstable tail follows it (cache_end() is the
  // unstable offset).
  const uint64_t hi = committed_ + 1;
  SizeBudget budget(max_committed_bytes_per_ready_);
  size_t n = 0;
  while (n < cache_.size() && cache_first_ + n < hi && budget.Take(cache_[n])) ++n;
  std::vector<raftpb::Entry> ents;
  if (n == cache_.size()) {
    ents = std::move(cache_);
    ClearCache();
  } else {
    const auto end = cache_.begin() + static_cast<ptrdiff_t>(n);
    ents.assign(std::make_move_iterator(cache_.begin()), std::make_move_iterator(end));
    for (const raftpb::Entry& e : ents) cache_bytes_ -= CacheBytes(e);
    cache_.erase(cache_.begin(), end);
    cache_first_ += n;
    return ents;  // stopped by hi or by the byte limit
  }
  const uint64_t ulo = off + n;
  if (ulo >= hi) return ents;
  RANGEDB_CHECK_EQ(ulo, unstable_.offset()) << "persisted cache does not end at the unstable tail";
  uint64_t uhi = ulo;
  while (uhi < hi && budget.Take(unstable_.At(uhi))) ++uhi;
  unstable_.AppendSlice(ulo, uhi, ents);
  return ents;
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
  RANGEDB_CHECK_LE(lo, hi) << "invalid slice";
  const uint64_t first = FirstIndex();
  if (lo < first) return CompactedError(lo);
  RANGEDB_CHECK_LE(hi, LastIndex() + 1) << "slice beyond the last index";
  return absl::OkStatus();
}

absl::StatusOr<RaftLog::SlicePlan> RaftLog::PlanSlice(uint64_t lo, uint64_t hi,
                                                      uint64_t max_bytes) const {
  if (absl::Status s = CheckOutOfBounds(lo, hi); !s.ok()) return s;
  SlicePlan plan;
  if (lo == hi) return plan;
  SizeBudget budget(max_bytes);
  const uint64_t uoff = unstable_.offset();
  if (lo < uoff) {
    const uint64_t stored_hi = std::min(hi, uoff);
    absl::StatusOr<std::vector<raftpb::Entry>> stored = storage_->Entries(lo, stored_hi, max_bytes);
    if (!stored.ok()) {
      if (IsCompacted(stored.status())) return stored.status();
      if (IsEntryUnavailable(stored.status())) {
        ThrowStorageFailure(absl::DataLossError(
            absl::StrCat("raft log: entries [", lo, ", ", stored_hi,
                         ") missing from storage: ", stored.status().message())));
      }
      MustOk(stored);
    }
    plan.stored = *std::move(stored);
    // Storage stopped early because of max_bytes: done.
    if (plan.stored.size() < stored_hi - lo) return plan;
    size_t n = 0;
    while (n < plan.stored.size() && budget.Take(plan.stored[n])) ++n;
    if (n < plan.stored.size()) {
      plan.stored.resize(n);
      return plan;
    }
  }
  if (hi > uoff) {
    plan.unstable_lo = std::max(lo, uoff);
    plan.unstable_hi = plan.unstable_lo;
    while (plan.unstable_hi < hi && budget.Take(unstable_.At(plan.unstable_hi))) {
      ++plan.unstable_hi;
    }
  }
  return plan;
}

absl::StatusOr<std::vector<raftpb::Entry>> RaftLog::Slice(uint64_t lo, uint64_t hi,
                                                          uint64_t max_bytes) const {
  absl::StatusOr<SlicePlan> plan = PlanSlice(lo, hi, max_bytes);
  if (!plan.ok()) return plan.status();
  std::vector<raftpb::Entry> ents = std::move(plan->stored);
  if (plan->unstable_hi > plan->unstable_lo) {
    unstable_.AppendSlice(plan->unstable_lo, plan->unstable_hi, ents);
  }
  return ents;
}

absl::Status RaftLog::AppendEntriesFrom(
    uint64_t i, uint64_t max_bytes, google::protobuf::RepeatedPtrField<raftpb::Entry>* out) const {
  const uint64_t last = LastIndex();
  if (i > last) return absl::OkStatus();
  absl::StatusOr<SlicePlan> plan = PlanSlice(i, last + 1, max_bytes);
  if (!plan.ok()) return plan.status();
  out->Reserve(out->size() +
               static_cast<int>(plan->stored.size() + (plan->unstable_hi - plan->unstable_lo)));
  for (raftpb::Entry& e : plan->stored) *out->Add() = std::move(e);
  for (uint64_t j = plan->unstable_lo; j < plan->unstable_hi; ++j) *out->Add() = unstable_.At(j);
  return absl::OkStatus();
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
  RANGEDB_CHECK_GE(LastIndex(), to_commit) << "commit index beyond the last index";
  committed_ = to_commit;
}

void RaftLog::AppliedTo(uint64_t i) {
  if (i == 0) return;
  RANGEDB_CHECK(committed_ >= i && i >= applied_)
      << "applied index " << i << " out of range [" << applied_ << ", " << committed_ << "]";
  applied_ = i;
}

void RaftLog::Restore(const raftpb::Snapshot& s) {
  committed_ = s.metadata().index();
  ClearCache();
  unstable_.Restore(s);
}

void RaftLog::StableTo(uint64_t i, uint64_t t) {
  std::vector<raftpb::Entry> stable = unstable_.StableTo(i, t);
  if (!stable.empty()) CachePersisted(std::move(stable));
}

void RaftLog::CachePersisted(std::vector<raftpb::Entry> ents) {
  RANGEDB_CHECK(cache_.empty() || cache_end() == ents[0].index())
      << "persisted entries from " << ents[0].index() << " do not follow the cache ending at "
      << cache_end();
  uint64_t bytes = 0;
  for (const raftpb::Entry& e : ents) bytes += CacheBytes(e);
  if (cache_bytes_ + bytes > kMaxPersistedCacheBytes) ClearCache();
  if (bytes > kMaxPersistedCacheBytes) return;
  if (cache_.empty()) {
    cache_ = std::move(ents);
    cache_first_ = cache_[0].index();
  } else {
    cache_.insert(cache_.end(), std::make_move_iterator(ents.begin()),
                  std::make_move_iterator(ents.end()));
  }
  cache_bytes_ += bytes;
}

void RaftLog::TruncateCacheFrom(uint64_t i) {
  if (cache_.empty() || i >= cache_end()) return;
  if (i <= cache_first_) {
    ClearCache();
    return;
  }
  for (size_t k = i - cache_first_; k < cache_.size(); ++k) cache_bytes_ -= CacheBytes(cache_[k]);
  cache_.resize(i - cache_first_);
}

void RaftLog::DropCacheBelow(uint64_t i) {
  if (cache_.empty() || i <= cache_first_) return;
  if (i >= cache_end()) {
    ClearCache();
    return;
  }
  const size_t n = i - cache_first_;
  for (size_t k = 0; k < n; ++k) cache_bytes_ -= CacheBytes(cache_[k]);
  cache_.erase(cache_.begin(), cache_.begin() + static_cast<ptrdiff_t>(n));
  cache_first_ = i;
}

void RaftLog::ClearCache() {
  cache_.clear();
  cache_first_ = 0;
  cache_bytes_ = 0;
}

}  // namespace rangedb::raft
