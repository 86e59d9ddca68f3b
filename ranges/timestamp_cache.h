// TimestampCache: the leaseholder's memory of reads (DESIGN: "a timestamp cache per
// leaseholder; writes below it are pushed"). For key spans it remembers the highest
// timestamp at which they were read and which transaction read them, so that a later
// write to those keys by ANOTHER transaction is placed above that timestamp: a write
// never invalidates a read that has already been served.
//
// Spans are [start, end): start inclusive, end exclusive; an empty end means the single
// key `start` (stored as [start, start + '\0')).
//
// How to read an answer: GetMax(span).ts is an UPPER bound on the highest read of any key
// in the span, never a lower one. It is exact until the cache forgets something; it can
// only become conservative (higher), never lower, because forgetting raises the low-water
// mark. Likewise txn_id is non-empty only if that single transaction is the only known
// reader at ts; "" (several readers, a non-transactional reader, or the low-water mark)
// means every writer must go above ts.
//
// Representation: disjoint segments in a std::map keyed by start, each holding the max
// read (ts, txn) over its keys; an Add splits the segments it partly covers, fills the
// gaps, and coalesces equal neighbours. Point reads and writes are spans of one key.
// Costs (n = entries, k = entries overlapping the span):
//   GetMax O(log n + k); Add O((k + 1) log n) plus amortized eviction;
//   SetLowWater O(n) (rare: once per lease acquisition).
// Bound: at most max_entries segments after every call. When an Add goes over, the
// lowest-timestamp segments are evicted, in one pass, down to 3/4 of the bound, and the
// low-water mark is raised to the highest evicted timestamp (so the O(n) pass runs at
// most once per max_entries/4 new segments). Each segment holds its start, end and txn id.
//
// Thread safety: safe for concurrent use (one absl::Mutex; GetMax takes it shared).
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "storage/timestamp.h"

namespace rangedb::ranges {

// Outside the class only so that `Options o = {}` can be a default argument (GCC cannot
// use a nested struct's member initializers before the enclosing class is complete).
struct TimestampCacheOptions {
  size_t max_entries = 64 * 1024;  // bound on remembered segments; REQUIRES: > 0
};

class TimestampCache {
 public:
  using Options = TimestampCacheOptions;

  struct Result {
    Timestamp ts;        // highest read over the span, at least the low-water mark
    std::string txn_id;  // the sole reader at ts, or "" (several, non-txn, or low water)
  };

  explicit TimestampCache(Options o = {});

  TimestampCache(const TimestampCache&) = delete;
  TimestampCache& operator=(const TimestampCache&) = delete;

  // Records a read of [start, end) (end empty = the single key start) at ts by txn_id
  // ("" = no transaction). A read at or below the low-water mark changes nothing.
  // REQUIRES: end.empty() || start < end.
  void Add(absl::string_view start, absl::string_view end, Timestamp ts, absl::string_view txn_id);

  // The highest read timestamp over any key in [start, end) (end empty = single key),
  // and the reader's txn id if exactly one transaction read at that timestamp. Never
  // below the low-water mark, which counts as a read with txn id "".
  // REQUIRES: end.empty() || start < end.
  Result GetMax(absl::string_view start, absl::string_view end) const;

  // Raises the low-water mark to ts (a lower ts is ignored): every key reads as at
  // least ts from now on. Called when the replica acquires the lease, with
  // ts = now + max clock offset. Drops the entries at or below it.
  void SetLowWater(Timestamp ts);

  Timestamp low_water() const;
  size_t size() const;  // entries (segments) held

 private:
  struct Segment {
    std::string end;     // exclusive; the map key is the inclusive start
    Timestamp ts;        // highest read over [start, end)
    std::string txn_id;  // sole reader at ts, or ""
  };
  using SegmentMap = std::map<std::string, Segment, std::less<>>;

  void SplitAtLocked(const std::string& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CoalesceLocked(const std::string& start, const std::string& end)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetLowWaterLocked(Timestamp ts) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EvictLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_entries_;
  mutable absl::Mutex mu_;
  Timestamp low_water_ ABSL_GUARDED_BY(mu_);
  SegmentMap segments_ ABSL_GUARDED_BY(mu_);  // disjoint; every ts > low_water_
};

}  // namespace rangedb::ranges
