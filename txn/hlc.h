// HybridLogicalClock: the node's source of transaction timestamps (docs/hlc.md).
//
// A reading is a Timestamp (storage/timestamp.h): wall_ns taken from a PhysicalClock,
// plus a logical counter that orders events sharing one wall_ns (Kulkarni et al.,
// "Logical Physical Clocks", 2014). The rules:
//   Now():  if physical > last.wall_ns  -> (physical, 0)
//           else                        -> last.Next(), i.e. (last.wall_ns, logical + 1);
//           when logical is already INT32_MAX, Next() is (last.wall_ns + 1, 0): the wall
//           runs 1 ns ahead of the physical clock instead of the counter overflowing.
//   Update(remote): last = max(last, remote), so every later Now() > remote. Refused,
//           with the clock untouched, if remote.wall_ns is more than max_offset_ns ahead
//           of this node's physical clock.
// Hence Now() is strictly increasing, also while the physical clock stands still or
// is stepped backwards (the logical counter carries on from the highest wall seen).
//
// Thread safety: safe for concurrent use. Operations are linearizable: concurrent Now()
// calls never return the same Timestamp, and a Now() that starts after another Now()
// or Update() returned yields a larger Timestamp than that call saw or merged.
//
// Concurrency design (proof in docs/hlc.md). The 96-bit state does not fit one 64-bit
// atomic, and GCC 12 makes a 16-byte std::atomic a libatomic call that reports itself
// not lock-free, so the state has two representations:
//   - wall mode:    fast_wall_ holds W >= 0 and the state is (W, 0);
//   - logical mode: fast_wall_ holds kLogicalMode (-1) and the state is
//                   (wall_ns_, logical_), which only mu_ holders read or write.
// Now() first tries a lock-free path: in wall mode, with physical > W, a CAS from W to
// physical moves the state to (physical, 0). Otherwise (physical at or behind W, or
// logical mode, or a few lost CAS races) it takes mu_, swaps kLogicalMode in with
// exchange (which owns the state and blocks the fast path), computes the next state and
// publishes it: a plain store of W' back to fast_wall_ if its logical part is 0, else
// the guarded fields. So Now() never blocks while the physical clock runs ahead of the
// last timestamp (the common case with a nanosecond clock); it takes the mutex while
// the clock is in its logical regime (same wall_ns, clock stepped back, or a remote
// timestamp ahead of the local clock merged by Update()).
#pragma once

#include <atomic>
#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "storage/timestamp.h"
#include "txn/clock.h"

namespace rangedb {

class HybridLogicalClock {
 public:
  // REQUIRES: physical_clock is non-null and outlives the HLC; max_offset_ns >= 0.
  // max_offset_ns bounds how far a remote clock may run ahead of ours; 0 turns the
  // check in Update() off (tests and single-node tools only).
  HybridLogicalClock(PhysicalClock* physical_clock, int64_t max_offset_ns);

  HybridLogicalClock(const HybridLogicalClock&) = delete;
  HybridLogicalClock& operator=(const HybridLogicalClock&) = delete;

  // A timestamp greater than every timestamp this clock has returned or merged, and
  // with wall_ns >= the physical clock's reading taken during the call.
  Timestamp Now();

  // Merges a timestamp received from another node so that every later Now() > remote.
  // Errors, leaving the clock unchanged:
  //   InvalidArgument     remote has a negative wall_ns or logical;
  //   FailedPrecondition  max_offset_ns > 0 and remote.wall_ns is more than
  //                       max_offset_ns ahead of PhysicalNow() (the message names both
  //                       readings and the offset). The caller should reject the
  //                       message that carried it: one of the two clocks is wrong.
  [[nodiscard]] absl::Status Update(Timestamp remote);

  // Merges the timestamp of data this node now stores (an applied write), without
  // the max-offset check: such a timestamp was accepted by a leaseholder and may lie
  // ahead of every clock (a write pushed by a timestamp cache). Keeping the clock at
  // or above every stored version means a read at Now() sees every applied write.
  // REQUIRES: ts is a clock reading (non-negative parts).
  void Forward(Timestamp ts);

  // The physical clock's current reading, without touching the HLC.
  int64_t PhysicalNow() const { return physical_clock_->NowNanos(); }

  int64_t MaxOffsetNanos() const { return max_offset_ns_; }

 private:
  // fast_wall_ value meaning "the state is in wall_ns_ / logical_". Wall times in the
  // state are never negative: the state starts at (0, 0) and only grows.
  static constexpr int64_t kLogicalMode = -1;

  // Slow path of Now(): serialized by mu_.
  Timestamp NowLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Takes the state out of fast_wall_, leaving fast_wall_ == kLogicalMode so that the
  // fast path stays off until PublishLocked. Returns the state.
  Timestamp TakeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Installs `next` as the state. REQUIRES: TakeLocked was called under this hold
  // of mu_, and next >= the state it returned.
  void PublishLocked(Timestamp next) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  PhysicalClock* const physical_clock_;
  const int64_t max_offset_ns_;

  // Wall mode: the state is (fast_wall_, 0). Changed by CAS without mu_ (fast path,
  // wall mode only), and by exchange / store with mu_ held.
  std::atomic<int64_t> fast_wall_{0};

  absl::Mutex mu_;
  int64_t wall_ns_ ABSL_GUARDED_BY(mu_) = 0;  // logical mode only
  int32_t logical_ ABSL_GUARDED_BY(mu_) = 0;  // logical mode only; always >= 1 there
};

}  // namespace rangedb
