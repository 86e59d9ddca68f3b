// OffsetClock: the system clock moved by an offset, for tests that run nodes with
// skewed clocks (--testing-clock-offset-ms, and the Testing.SetClockOffset RPC, which
// changes the offset while the node runs).
//
// Thread safety: safe for concurrent use.
#pragma once

#include <atomic>
#include <cstdint>

#include "txn/clock.h"

namespace rangedb {

class OffsetClock final : public PhysicalClock {
 public:
  explicit OffsetClock(int64_t offset_ns) : offset_ns_(offset_ns) {}
  int64_t NowNanos() override {
    return system_.NowNanos() + offset_ns_.load(std::memory_order_relaxed);
  }
  // From now on, readings are the system clock plus offset_ns.
  void SetOffset(int64_t offset_ns) { offset_ns_.store(offset_ns, std::memory_order_relaxed); }

 private:
  SystemClock system_;
  std::atomic<int64_t> offset_ns_;
};

}  // namespace rangedb
