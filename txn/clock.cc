#include "txn/clock.h"

#include <chrono>

namespace rangedb {

int64_t SystemClock::NowNanos() {
  // libstdc++ on Linux reads CLOCK_REALTIME (through the vDSO) with a 1 ns period.
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t SteadyClock::NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

SteadyClock* SteadyClock::Get() {
  static SteadyClock* const clock = new SteadyClock();
  return clock;
}

}  // namespace rangedb
