// LatchManager: span latches that serialize a replica's in-flight requests
// (DESIGN.md §5). A request takes read latches on the keys it reads and write latches
// on the keys it writes, holds them from evaluation until its effects are applied (or
// it gave up), and so never sees another request half done.
//
// Conflicts: a write latch conflicts with every overlapping latch; read latches share.
// Order: first come, first served — a request waits only for conflicting requests
// that arrived before it, so a stream of readers cannot starve a writer.
// Bound: at most max_latch_holders requests hold or wait at once; more are refused
// with ResourceExhausted rather than queued without limit.
//
// Thread safety: safe for concurrent use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/time_source.h"

namespace rangedb::ranges {

struct LatchSpan {
  std::string start;
  std::string end;  // exclusive; empty = the single key `start`
  bool write = false;
};

class LatchManager {
 public:
  // Deadlines are measured by time (base/time_source.h). REQUIRES: time outlives
  // the manager.
  explicit LatchManager(size_t max_latch_holders = 10000, TimeSource* time = TimeSource::Real())
      : max_holders_(max_latch_holders), time_(time) {}

  // Holds a request's latches until destroyed. Movable.
  class Guard {
   public:
    Guard() = default;
    Guard(Guard&& other) noexcept : manager_(other.manager_), id_(other.id_) {
      other.manager_ = nullptr;
    }
    Guard& operator=(Guard&& other) noexcept;
    ~Guard() { Release(); }
    void Release();

   private:
    friend class LatchManager;
    Guard(LatchManager* m, uint64_t id) : manager_(m), id_(id) {}
    LatchManager* manager_ = nullptr;
    uint64_t id_ = 0;
  };

  // Waits until no earlier request holds or waits for a conflicting latch, then
  // holds spans. DeadlineExceeded if that does not happen by deadline.
  [[nodiscard]] absl::StatusOr<Guard> Acquire(std::vector<LatchSpan> spans, absl::Time deadline);

  size_t holders() const;

 private:
  struct Entry {
    uint64_t id;
    std::vector<LatchSpan> spans;
  };
  static bool Conflict(const Entry& a, const Entry& b);
  bool BlockedLocked(std::list<Entry>::const_iterator it) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Remove(uint64_t id);

  const size_t max_holders_;
  TimeSource* const time_;
  mutable absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::list<Entry> entries_ ABSL_GUARDED_BY(mu_);  // arrival order: holders and waiters
};

}  // namespace rangedb::ranges
