// TimeSource (base/time_source.h): the real source reads the real clocks; the manual
// one moves only by Advance, and wakes sleepers and deadline waits when it does.
#include "base/time_source.h"

#include <atomic>
#include <thread>

#include "gtest/gtest.h"

namespace rangedb {
namespace {

TEST(RealTimeSourceTest, ReadsTheRealClocks) {
  TimeSource* real = TimeSource::Real();
  const absl::Time before = absl::Now();
  const absl::Time now = real->Now();
  EXPECT_GE(now, before);
  EXPECT_LE(now, absl::Now());
  const int64_t mono = real->MonotonicNanos();
  EXPECT_GE(real->MonotonicNanos(), mono);
}

TEST(RealTimeSourceTest, AwaitWithDeadlineReturnsTheCondition) {
  absl::Mutex mu;
  bool flag = true;
  absl::MutexLock lock(&mu);
  EXPECT_TRUE(TimeSource::Real()->AwaitWithDeadline(&mu, absl::Condition(&flag), absl::Now()));
  flag = false;
  EXPECT_FALSE(
      TimeSource::Real()->AwaitWithTimeout(&mu, absl::Condition(&flag), absl::Milliseconds(1)));
}

TEST(ManualTimeSourceTest, MovesOnlyWhenAdvanced) {
  ManualTimeSource t(1'000);
  EXPECT_EQ(t.MonotonicNanos(), 1'000);
  EXPECT_EQ(t.Now(), absl::FromUnixNanos(1'000));
  t.Advance(absl::Nanoseconds(5));
  EXPECT_EQ(t.MonotonicNanos(), 1'005);
  EXPECT_EQ(t.Now(), absl::FromUnixNanos(1'005));
}

TEST(ManualTimeSourceDeathTest, RefusesToGoBack) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  ManualTimeSource t;
  EXPECT_DEATH(t.Advance(-absl::Nanoseconds(1)), "only moves forward");
}

TEST(ManualTimeSourceTest, SleepEndsWhenTimeIsAdvancedPastIt) {
  ManualTimeSource t;
  std::atomic<bool> woke{false};
  const absl::Time until = t.Now() + absl::Seconds(10);  // before anything advances
  std::thread sleeper([&] {
    t.SleepUntil(until);
    woke = true;
  });
  t.Advance(absl::Seconds(9));
  // The sleeper's outcome depends on manual time only; give it real time to show a bug.
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_FALSE(woke.load());
  t.Advance(absl::Seconds(1));
  sleeper.join();
  EXPECT_TRUE(woke.load());
}

TEST(ManualTimeSourceTest, AwaitWithDeadlineTimesOutOnManualTime) {
  ManualTimeSource t;
  absl::Mutex mu;
  bool flag = false;
  std::atomic<int> result{-1};
  const absl::Time deadline = t.Now() + absl::Hours(1);
  std::thread waiter([&] {
    absl::MutexLock lock(&mu);
    result = t.AwaitWithDeadline(&mu, absl::Condition(&flag), deadline) ? 1 : 0;
  });
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(result.load(), -1) << "an hour of manual time passed by itself";
  t.Advance(absl::Hours(1));
  waiter.join();
  EXPECT_EQ(result.load(), 0);
}

TEST(ManualTimeSourceTest, AwaitWithDeadlineWakesOnTheCondition) {
  ManualTimeSource t;
  absl::Mutex mu;
  bool flag = false;
  std::thread waiter([&] {
    absl::MutexLock lock(&mu);
    EXPECT_TRUE(t.AwaitWithDeadline(&mu, absl::Condition(&flag), t.Now() + absl::Seconds(1)));
  });
  {
    absl::MutexLock lock(&mu);
    flag = true;
  }
  waiter.join();
}

TEST(ManualTimeSourceTest, NotificationWaitEndsOnNotifyOrManualDeadline) {
  ManualTimeSource t;
  absl::Notification never;
  std::atomic<int> result{-1};
  const absl::Time deadline = t.Now() + absl::Seconds(3);
  std::thread waiter([&] { result = t.WaitForNotificationWithDeadline(&never, deadline) ? 1 : 0; });
  t.Advance(absl::Seconds(3));
  waiter.join();
  EXPECT_EQ(result.load(), 0);
  absl::Notification done;
  done.Notify();
  EXPECT_TRUE(t.WaitForNotificationWithDeadline(&done, t.Now()));
}

}  // namespace
}  // namespace rangedb
