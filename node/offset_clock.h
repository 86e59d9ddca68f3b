// OffsetClock: the system clock moved by a fixed offset, for tests that run nodes
// with skewed clocks (--testing-clock-offset-ms).
#pragma once

#include <cstdint>

#include "txn/clock.h"

namespace rangedb {

class OffsetClock final : public PhysicalClock {
 public:
  explicit OffsetClock(int64_t offset_ns) : offset_ns_(offset_ns) {}
  int64_t NowNanos() override { return system_.NowNanos() + offset_ns_; }

 private:
  SystemClock system_;
  const int64_t offset_ns_;
};

}  // namespace rangedb
