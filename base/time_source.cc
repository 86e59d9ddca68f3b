#include "base/time_source.h"

#include <chrono>

#include "base/check.h"

namespace rangedb {

TimeSource* TimeSource::Real() {
  static RealTimeSource* const real = new RealTimeSource();
  return real;
}

int64_t RealTimeSource::MonotonicNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void RealTimeSource::SleepFor(absl::Duration d) {
  if (d > absl::ZeroDuration()) absl::SleepFor(d);
}

void ManualTimeSource::SleepFor(absl::Duration d) {
  if (d <= absl::ZeroDuration()) return;
  const int64_t until_ns = MonotonicNanos() + absl::ToInt64Nanoseconds(d);
  auto reached = [this, until_ns] { return now_ns_.load(std::memory_order_acquire) >= until_ns; };
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(&reached));
}

bool ManualTimeSource::AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& cond,
                                         absl::Time deadline) {
  // Bounded by the deadline in manual time: each round waits at most kPollSlice.
  for (;;) {
    if (cond.Eval()) return true;
    if (Now() >= deadline) return false;
    if (mu->AwaitWithTimeout(cond, kPollSlice)) return true;
  }
}

bool ManualTimeSource::WaitForNotificationWithDeadline(absl::Notification* n, absl::Time deadline) {
  for (;;) {
    if (n->HasBeenNotified()) return true;
    if (Now() >= deadline) return false;
    if (n->WaitForNotificationWithTimeout(kPollSlice)) return true;
  }
}

void ManualTimeSource::Advance(absl::Duration d) {
  RANGEDB_CHECK(d >= absl::ZeroDuration()) << "a manual time source only moves forward";
  absl::MutexLock lock(&mu_);  // the sleepers re-check their condition when it is released
  now_ns_.fetch_add(absl::ToInt64Nanoseconds(d), std::memory_order_acq_rel);
}

}  // namespace rangedb
