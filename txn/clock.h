// PhysicalClock: the source of wall time behind the hybrid logical clock (txn/hlc.h).
//
// The HLC never reads the OS clock itself; it takes a PhysicalClock so that tests and
// the simulator can drive time by hand (ManualClock) while a node uses SystemClock.
//
// Thread safety: every implementation here is safe for concurrent use.
#pragma once

#include <atomic>
#include <cstdint>

#include "base/time_source.h"

namespace rangedb {

// A source of wall time in nanoseconds since the Unix epoch. Readings need not be
// monotonic: a real clock can be stepped backwards by NTP or an operator, and the HLC
// is built to tolerate that.
class PhysicalClock {
 public:
  virtual ~PhysicalClock() = default;

  // The current wall time in nanoseconds since the Unix epoch. Safe to call from any
  // thread.
  virtual int64_t NowNanos() = 0;
};

// The operating system's real-time clock (CLOCK_REALTIME, read through
// std::chrono::system_clock, which has nanosecond resolution on Linux).
class SystemClock final : public PhysicalClock {
 public:
  int64_t NowNanos() override;
};

// A clock that only moves when told to. Starts at `start_ns`. Set and Advance may
// move it backwards, which is how tests model a clock step.
class ManualClock final : public PhysicalClock {
 public:
  explicit ManualClock(int64_t start_ns = 0) : now_ns_(start_ns) {}

  int64_t NowNanos() override { return now_ns_.load(std::memory_order_acquire); }

  void Set(int64_t now_ns) { now_ns_.store(now_ns, std::memory_order_release); }

  // Moves the clock by delta_ns (negative steps it backwards).
  void Advance(int64_t delta_ns) { now_ns_.fetch_add(delta_ns, std::memory_order_acq_rel); }

 private:
  std::atomic<int64_t> now_ns_;
};

// The wall time of a TimeSource (base/time_source.h): its Now(). With a
// ManualTimeSource, one Advance moves a node's HLC together with its ticks, leases
// and deadlines (docs/design/injected-time.md). A node uses SystemClock instead, which
// reads the same clock as TimeSource::Real()->Now() without the conversion.
class TimeSourceWallClock final : public PhysicalClock {
 public:
  // REQUIRES: source is non-null and outlives the clock.
  explicit TimeSourceWallClock(TimeSource* source) : source_(source) {}
  int64_t NowNanos() override { return absl::ToUnixNanos(source_->Now()); }

 private:
  TimeSource* const source_;
};

// A source of elapsed time: nanoseconds since an arbitrary, fixed epoch, never stepped.
// Durations that guard safety are measured with it — leases above all
// (docs/leases.md): a wall clock stepped back by NTP or an operator would stretch them.
class MonotonicClock {
 public:
  virtual ~MonotonicClock() = default;
  virtual int64_t NowNanos() = 0;
};

// CLOCK_MONOTONIC (std::chrono::steady_clock on Linux).
class SteadyClock final : public MonotonicClock {
 public:
  int64_t NowNanos() override;
  // One per process; never destroyed.
  static SteadyClock* Get();
};

// A monotonic clock that only moves when told to, and only forwards.
class ManualMonotonicClock final : public MonotonicClock {
 public:
  explicit ManualMonotonicClock(int64_t start_ns = 0) : now_ns_(start_ns) {}
  int64_t NowNanos() override { return now_ns_.load(std::memory_order_acquire); }
  // REQUIRES: delta_ns >= 0.
  void Advance(int64_t delta_ns) {
    if (delta_ns > 0) now_ns_.fetch_add(delta_ns, std::memory_order_acq_rel);
  }

 private:
  std::atomic<int64_t> now_ns_;
};

}  // namespace rangedb
