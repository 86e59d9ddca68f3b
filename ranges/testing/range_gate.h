// RangeGate: holds the threads that reach a testing hook of StoreConfig
// (testing_before_read, testing_gc_before_latch, testing_on_new_lease) for one range
// until the test opens it, so a test can run something else in the window the hook
// marks — the race a production interleaving would need luck to hit.
//
// Thread safety: safe for concurrent use; hooks call Hold, the test the rest.
#pragma once

#include <climits>
#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace rangedb::ranges {

class RangeGate {
 public:
  // Called from the hook: waits while the gate is closed for range r and this caller
  // is among the first `most` held since Close; returns at once otherwise.
  void Hold(uint64_t r) {
    absl::MutexLock lock(&mu_);
    if (range_id_ == 0 || range_id_ != r || admitted_ >= most_) return;
    ++admitted_;
    ++held_;
    auto open = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return range_id_ == 0; };
    mu_.Await(absl::Condition(&open));
    --held_;
  }
  // From now on holds callers for range r: all of them, or only the first `most`.
  void Close(uint64_t r, int most = INT_MAX) {
    absl::MutexLock lock(&mu_);
    range_id_ = r;
    most_ = most;
    admitted_ = 0;
  }
  // Lets every held caller go, and all later ones pass.
  void Open() {
    absl::MutexLock lock(&mu_);
    range_id_ = 0;
  }
  // Whether some caller is held, waiting up to `most` for one.
  bool WaitHeld(absl::Duration most) {
    absl::MutexLock lock(&mu_);
    auto some = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return held_ > 0; };
    return mu_.AwaitWithTimeout(absl::Condition(&some), most);
  }

 private:
  absl::Mutex mu_;
  uint64_t range_id_ ABSL_GUARDED_BY(mu_) = 0;  // 0: open
  int most_ ABSL_GUARDED_BY(mu_) = INT_MAX;     // callers to hold after Close
  int admitted_ ABSL_GUARDED_BY(mu_) = 0;       // callers held since Close
  int held_ ABSL_GUARDED_BY(mu_) = 0;           // callers waiting now
};

}  // namespace rangedb::ranges
