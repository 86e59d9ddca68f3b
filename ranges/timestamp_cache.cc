#include "ranges/timestamp_cache.h"

#include <algorithm>
#include <iterator>
#include <vector>

#include "absl/strings/escaping.h"
#include "base/check.h"

namespace rangedb::ranges {
namespace {

// Folds a read at (ts, txn_id) into the max-read value (max_ts, max_txn_id): the higher
// timestamp wins; on a tie the reader is kept only if it is the same one ("" absorbs).
void FoldRead(Timestamp ts, absl::string_view txn_id, Timestamp& max_ts, std::string& max_txn_id) {
  if (ts > max_ts) {
    max_ts = ts;
    max_txn_id.assign(txn_id.data(), txn_id.size());
  } else if (ts == max_ts && max_txn_id != txn_id) {
    max_txn_id.clear();
  }
}

}  // namespace

TimestampCache::TimestampCache(Options o) : max_entries_(o.max_entries) {
  RANGEDB_CHECK_GT(max_entries_, 0);
}

// Splits the segment that strictly contains key (start < key < end), if any, into
// [start, key) and [key, end) with the same value, so that key is a segment boundary.
void TimestampCache::SplitAtLocked(const std::string& key) {
  auto it = segments_.upper_bound(key);
  if (it == segments_.begin()) return;
  --it;
  if (!(it->first < key && key < it->second.end)) return;
  Segment right{it->second.end, it->second.ts, it->second.txn_id};
  it->second.end = key;
  segments_.emplace_hint(std::next(it), key, std::move(right));
}

// Merges adjacent segments with equal values in [start, end], including the neighbour
// that ends at start and the one that begins at end. Answers do not change.
void TimestampCache::CoalesceLocked(const std::string& start, const std::string& end) {
  auto cur = segments_.lower_bound(start);
  if (cur != segments_.begin() && std::prev(cur)->second.end == start) --cur;
  while (cur != segments_.end()) {
    auto next = std::next(cur);
    if (next == segments_.end() || next->first > end) break;
    const Segment& a = cur->second;
    const Segment& b = next->second;
    if (a.end == next->first && a.ts == b.ts && a.txn_id == b.txn_id) {
      cur->second.end = std::move(next->second.end);
      segments_.erase(next);
    } else {
      cur = next;
    }
  }
}

void TimestampCache::Add(absl::string_view start, absl::string_view end, Timestamp ts,
                         absl::string_view txn_id) {
  const std::string s(start);
  const std::string e = end.empty() ? s + '\0' : std::string(end);
  // ClassifyBatch refuses a span request whose start is not before its end.
  RANGEDB_CHECK(s < e) << "empty span [" << absl::CHexEscape(s) << ", " << absl::CHexEscape(e)
                       << ")";
  absl::MutexLock lock(&mu_);
  if (ts <= low_water_) return;  // already implied by the low-water mark

  // Make s and e segment boundaries, so every segment overlapping [s, e) lies inside.
  SplitAtLocked(s);
  SplitAtLocked(e);
  std::string pos = s;  // everything in [s, pos) has been folded
  auto it = segments_.lower_bound(s);
  for (; it != segments_.end() && it->first < e; ++it) {
    if (pos < it->first) {  // a gap nobody read yet
      segments_.emplace_hint(it, pos, Segment{it->first, ts, std::string(txn_id)});
    }
    FoldRead(ts, txn_id, it->second.ts, it->second.txn_id);
    pos = it->second.end;
  }
  if (pos < e) segments_.emplace_hint(it, pos, Segment{e, ts, std::string(txn_id)});
  CoalesceLocked(s, e);
  if (segments_.size() > max_entries_) EvictLocked();
}

TimestampCache::Result TimestampCache::GetMax(absl::string_view start,
                                              absl::string_view end) const {
  RANGEDB_CHECK(end.empty() || start < end)
      << "empty span [" << absl::CHexEscape(start) << ", " << absl::CHexEscape(end) << ")";
  absl::ReaderMutexLock lock(&mu_);
  Result r{low_water_, ""};
  // The last segment starting at or before start may reach into the span.
  auto it = segments_.upper_bound(start);
  if (it != segments_.begin()) {
    const Segment& seg = std::prev(it)->second;
    if (start < seg.end) FoldRead(seg.ts, seg.txn_id, r.ts, r.txn_id);
  }
  // A single key is covered by that segment alone; a span also by those starting inside.
  if (end.empty()) return r;
  for (; it != segments_.end() && it->first < end; ++it) {
    FoldRead(it->second.ts, it->second.txn_id, r.ts, r.txn_id);
  }
  return r;
}

void TimestampCache::SetLowWater(Timestamp ts) {
  absl::MutexLock lock(&mu_);
  SetLowWaterLocked(ts);
}

void TimestampCache::SetLowWaterLocked(Timestamp ts) {
  if (ts <= low_water_) return;
  low_water_ = ts;
  // Entries at or below the mark add nothing: the mark answers ts with txn id "", which
  // is what such an entry would fold to.
  for (auto it = segments_.begin(); it != segments_.end();) {
    it = it->second.ts <= ts ? segments_.erase(it) : std::next(it);
  }
}

// Forgets the lowest-timestamp segments, down to 3/4 of max_entries_, by raising the
// low-water mark to the highest timestamp forgotten: answers can only go up.
void TimestampCache::EvictLocked() {
  const size_t keep = max_entries_ - max_entries_ / 4;
  if (segments_.size() <= keep) return;
  const size_t evict = segments_.size() - keep;
  std::vector<Timestamp> ts;
  ts.reserve(segments_.size());
  for (const auto& [start, seg] : segments_) ts.push_back(seg.ts);
  std::nth_element(ts.begin(), ts.begin() + (evict - 1), ts.end());
  SetLowWaterLocked(ts[evict - 1]);  // drops at least `evict` segments (ties: more)
  RANGEDB_CHECK_LE(segments_.size(), keep) << "eviction below " << ts[evict - 1].ToString();
}

Timestamp TimestampCache::low_water() const {
  absl::ReaderMutexLock lock(&mu_);
  return low_water_;
}

size_t TimestampCache::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return segments_.size();
}

}  // namespace rangedb::ranges
