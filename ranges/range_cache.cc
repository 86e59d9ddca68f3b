#include "ranges/range_cache.h"

#include <vector>

#include "absl/strings/escaping.h"
#include "base/check.h"

namespace rangedb::ranges {

RangeCache::RangeCache(size_t max_entries) : max_entries_(max_entries) {
  RANGEDB_CHECK_GT(max_entries, 0);
}

std::optional<kvpb::RangeDescriptor> RangeCache::Lookup(absl::string_view key) {
  absl::MutexLock lock(&mu_);
  auto it = by_end_key_.upper_bound(key);  // first end_key > key
  if (it == by_end_key_.end() || absl::string_view(it->second.desc.start_key()) > key) {
    metrics_.misses.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  metrics_.hits.fetch_add(1, std::memory_order_relaxed);
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  return it->second.desc;
}

void RangeCache::Insert(const kvpb::RangeDescriptor& desc) {
  // Callers insert only descriptors they checked (Gateway::LookupRange).
  RANGEDB_CHECK(desc.start_key() < desc.end_key())
      << "range " << desc.range_id() << " descriptor [" << absl::CHexEscape(desc.start_key())
      << ", " << absl::CHexEscape(desc.end_key()) << ") is empty";
  absl::MutexLock lock(&mu_);
  // Cached entries overlapping [start, end): from the first end_key > start while
  // their start_key < end (entries never overlap, so they are in key order).
  std::vector<EntryMap::iterator> overlapping;
  for (auto it = by_end_key_.upper_bound(desc.start_key());
       it != by_end_key_.end() && it->second.desc.start_key() < desc.end_key(); ++it) {
    if (it->second.desc.generation() > desc.generation()) return;  // desc is stale
    overlapping.push_back(it);
  }
  for (EntryMap::iterator it : overlapping) EraseLocked(it);
  if (auto old = end_key_of_.find(desc.range_id()); old != end_key_of_.end()) {
    EraseLocked(by_end_key_.find(old->second));  // the same range with other bounds
  }
  while (by_end_key_.size() >= max_entries_) {
    EraseLocked(by_end_key_.find(lru_.back()));
    metrics_.evictions.fetch_add(1, std::memory_order_relaxed);
  }
  lru_.push_front(desc.end_key());
  by_end_key_.emplace(desc.end_key(), Entry{desc, lru_.begin()});
  end_key_of_[desc.range_id()] = desc.end_key();
}

void RangeCache::Evict(uint64_t range_id) {
  absl::MutexLock lock(&mu_);
  if (auto it = end_key_of_.find(range_id); it != end_key_of_.end()) {
    EraseLocked(by_end_key_.find(it->second));
  }
  leaseholders_.erase(range_id);
}

void RangeCache::Evict(const kvpb::RangeDescriptor& desc) {
  absl::MutexLock lock(&mu_);
  auto id = end_key_of_.find(desc.range_id());
  if (id == end_key_of_.end()) return;
  auto it = by_end_key_.find(id->second);
  if (it->second.desc.generation() > desc.generation()) return;  // already fresher
  EraseLocked(it);
  leaseholders_.erase(desc.range_id());
}

void RangeCache::EraseLocked(EntryMap::iterator it) {
  RANGEDB_CHECK(it != by_end_key_.end()) << "a cached range is missing from by_end_key_";
  const uint64_t range_id = it->second.desc.range_id();
  lru_.erase(it->second.lru);
  end_key_of_.erase(range_id);
  leaseholders_.erase(range_id);
  by_end_key_.erase(it);
}

std::optional<uint64_t> RangeCache::Leaseholder(uint64_t range_id) const {
  absl::MutexLock lock(&mu_);
  auto it = leaseholders_.find(range_id);
  if (it == leaseholders_.end()) return std::nullopt;
  return it->second;
}

void RangeCache::SetLeaseholder(uint64_t range_id, uint64_t node_id) {
  absl::MutexLock lock(&mu_);
  if (leaseholders_.size() >= max_entries_ && !leaseholders_.contains(range_id)) {
    leaseholders_.erase(leaseholders_.begin());
  }
  leaseholders_[range_id] = node_id;
}

void RangeCache::ClearLeaseholder(uint64_t range_id, uint64_t node_id) {
  absl::MutexLock lock(&mu_);
  auto it = leaseholders_.find(range_id);
  if (it != leaseholders_.end() && it->second == node_id) leaseholders_.erase(it);
}

size_t RangeCache::size() const {
  absl::MutexLock lock(&mu_);
  return by_end_key_.size();
}

}  // namespace rangedb::ranges
