// RangeCache: the gateway's view of where ranges are (DESIGN.md §5, gateway routing).
//
// Two maps, both bounded by max_entries:
//  - descriptors, keyed by end key: the range holding key k is the first cached
//    descriptor whose end_key > k, if its start_key <= k (start inclusive, end
//    exclusive). Cached descriptors never overlap: inserting one drops the cached
//    entries it overlaps, unless one of those is of a newer generation (then the
//    insert is the stale one and is ignored). When full, the least recently used
//    descriptor goes.
//  - leaseholders, range_id -> node_id: the node to try first. Dropped with the
//    range's descriptor; when full, an arbitrary entry goes.
//
// A cached entry is a hint, not the truth: the gateway evicts it when a replica
// answers RangeKeyMismatch, and corrects the leaseholder on NotLeaseholder.
//
// Thread safety: safe for concurrent use (one mutex; Lookup also updates recency).
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "proto/kv.pb.h"

namespace rangedb::ranges {

struct RangeCacheMetrics {
  std::atomic<uint64_t> hits{0};
  std::atomic<uint64_t> misses{0};
  std::atomic<uint64_t> evictions{0};  // descriptors dropped for space (LRU)
};

class RangeCache {
 public:
  // REQUIRES: max_entries > 0.
  explicit RangeCache(size_t max_entries);

  RangeCache(const RangeCache&) = delete;
  RangeCache& operator=(const RangeCache&) = delete;

  // The cached descriptor of the range holding key, or nullopt. Counts a hit or miss.
  std::optional<kvpb::RangeDescriptor> Lookup(absl::string_view key);

  // Caches desc (see the header comment for overlaps and the bound).
  // REQUIRES: desc.start_key() < desc.end_key().
  void Insert(const kvpb::RangeDescriptor& desc);

  // Drops range_id's descriptor and leaseholder, if cached.
  void Evict(uint64_t range_id);
  // Drops desc's range if the cached descriptor is desc's generation or older, so a
  // late error about an old descriptor does not evict a fresher one.
  void Evict(const kvpb::RangeDescriptor& desc);

  // The node believed to hold range_id's lease, or nullopt.
  std::optional<uint64_t> Leaseholder(uint64_t range_id) const;
  void SetLeaseholder(uint64_t range_id, uint64_t node_id);
  // Forgets range_id's leaseholder if it is node_id (a failed attempt on it).
  void ClearLeaseholder(uint64_t range_id, uint64_t node_id);

  size_t size() const;  // cached descriptors
  const RangeCacheMetrics& metrics() const { return metrics_; }

 private:
  struct Entry {
    kvpb::RangeDescriptor desc;
    std::list<std::string>::iterator lru;  // position in lru_
  };
  using EntryMap = std::map<std::string, Entry, std::less<>>;

  void EraseLocked(EntryMap::iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_entries_;
  RangeCacheMetrics metrics_;

  mutable absl::Mutex mu_;
  EntryMap by_end_key_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<uint64_t, std::string> end_key_of_ ABSL_GUARDED_BY(mu_);  // range_id
  std::list<std::string> lru_ ABSL_GUARDED_BY(mu_);  // end keys, most recent first
  std::unordered_map<uint64_t, uint64_t> leaseholders_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rangedb::ranges
