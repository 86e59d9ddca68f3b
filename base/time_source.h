// TimeSource: how ranges/ and the node read time, sleep, and wait with a deadline
// (docs/design/injected-time.md). Production code never calls absl::Now(),
// absl::SleepFor or a timed absl::Mutex wait itself: it asks the TimeSource it was
// given, so that tests (ManualTimeSource) and later the KV simulator decide when time
// passes.
//
// Two readings, on purpose:
//   Now()             the time deadlines are written in (absl::Time). Deadlines flow
//                     into gRPC contexts and absl::Mutex waits, which read the
//                     real-time clock, so the real source returns absl::Now().
//   MonotonicNanos()  elapsed time, never stepped: what leases and other
//                     safety-relevant durations are measured in (docs/leases.md,
//                     "Clock steps"). The real source reads CLOCK_MONOTONIC.
// A manual source moves both together.
//
// Thread safety: every implementation here is safe for concurrent use.
#pragma once

#include <atomic>
#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace rangedb {

class TimeSource {
 public:
  virtual ~TimeSource() = default;

  // The time deadlines are measured against.
  virtual absl::Time Now() = 0;
  // Nanoseconds since an arbitrary fixed epoch; never goes back.
  virtual int64_t MonotonicNanos() = 0;

  // Blocks the calling thread for d (returns at once if d <= 0).
  virtual void SleepFor(absl::Duration d) = 0;
  // Blocks until Now() >= t.
  void SleepUntil(absl::Time t) { SleepFor(t - Now()); }

  // REQUIRES: the caller holds *mu. Waits (releasing *mu meanwhile, as
  // absl::Mutex::Await does) until cond holds or Now() >= deadline; returns whether
  // cond holds. *mu is held again on return.
  virtual bool AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& cond, absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) = 0;
  bool AwaitWithTimeout(absl::Mutex* mu, const absl::Condition& cond, absl::Duration timeout)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return AwaitWithDeadline(mu, cond, Now() + timeout);
  }
  // Waits until n is notified or Now() >= deadline; returns whether it was notified.
  virtual bool WaitForNotificationWithDeadline(absl::Notification* n, absl::Time deadline) = 0;

  // The process's real time (RealTimeSource); never destroyed.
  static TimeSource* Real();
};

// The real clocks. Stateless: each method forwards to what code called before time
// was injected (absl::Now, std::chrono::steady_clock, absl::SleepFor, the absl waits),
// so it costs one virtual call more and takes no lock.
class RealTimeSource final : public TimeSource {
 public:
  absl::Time Now() override { return absl::Now(); }
  int64_t MonotonicNanos() override;
  void SleepFor(absl::Duration d) override;
  bool AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& cond, absl::Time deadline) override
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return mu->AwaitWithDeadline(cond, deadline);
  }
  bool WaitForNotificationWithDeadline(absl::Notification* n, absl::Time deadline) override {
    return n->WaitForNotificationWithDeadline(deadline);
  }
};

// Time that moves only when a test says so (Advance), and only forwards. Both
// readings come from one counter: Now() is the Unix epoch plus it, MonotonicNanos()
// is it. Nothing moves by itself: a thread that sleeps on this source waits until
// someone advances it.
//
// Waits: SleepFor / SleepUntil wake exactly when Advance reaches their time.
// AwaitWithDeadline and WaitForNotificationWithDeadline wait on the caller's mutex or
// notification, which this source cannot wake; they re-check the manual time every
// kPollSlice of real time (cond or the notification still wakes them at once). Their
// outcome depends on the manual time only; real time only bounds how soon a waiter
// notices an Advance.
class ManualTimeSource final : public TimeSource {
 public:
  static constexpr absl::Duration kPollSlice = absl::Milliseconds(1);
  // A plausible present, so that wall-clock readings derived from it (an HLC on
  // TimeSourceWallClock) look like real ones.
  static constexpr int64_t kDefaultStartUnixNanos = int64_t{1'700'000'000} * 1'000'000'000;

  explicit ManualTimeSource(int64_t start_unix_ns = kDefaultStartUnixNanos)
      : now_ns_(start_unix_ns) {}

  absl::Time Now() override { return absl::FromUnixNanos(now_ns_.load(std::memory_order_acquire)); }
  int64_t MonotonicNanos() override { return now_ns_.load(std::memory_order_acquire); }
  void SleepFor(absl::Duration d) override;
  bool AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& cond, absl::Time deadline) override
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  bool WaitForNotificationWithDeadline(absl::Notification* n, absl::Time deadline) override;

  // Moves time forward by d and wakes the sleepers whose time came.
  // REQUIRES: d >= 0.
  void Advance(absl::Duration d);

 private:
  absl::Mutex mu_;  // held by Advance while it moves now_ns_: wakes SleepFor
  std::atomic<int64_t> now_ns_;
};

}  // namespace rangedb
