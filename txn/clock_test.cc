#include "txn/clock.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

namespace rangedb {
namespace {

TEST(ManualClockTest, StartsWhereToldAndMovesOnlyWhenTold) {
  ManualClock clock(1000);
  EXPECT_EQ(clock.NowNanos(), 1000);
  EXPECT_EQ(clock.NowNanos(), 1000);
  clock.Advance(5);
  EXPECT_EQ(clock.NowNanos(), 1005);
  clock.Set(2000);
  EXPECT_EQ(clock.NowNanos(), 2000);
}

TEST(ManualClockTest, CanStepBackwards) {
  ManualClock clock(1000);
  clock.Advance(-300);
  EXPECT_EQ(clock.NowNanos(), 700);
  clock.Set(10);
  EXPECT_EQ(clock.NowNanos(), 10);
}

TEST(ManualClockTest, ConcurrentAdvancesAllLand) {
  constexpr int kThreads = 4;
  constexpr int kAdvancesPerThread = 10000;
  ManualClock clock(0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&clock] {
      for (int i = 0; i < kAdvancesPerThread; ++i) clock.Advance(1);
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(clock.NowNanos(), kThreads * kAdvancesPerThread);
}

TEST(SystemClockTest, ReadsRealtimeInNanoseconds) {
  SystemClock clock;
  const int64_t before_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
  const int64_t reading_ns = clock.NowNanos();
  // After 2020-01-01 and within a minute of the chrono reading.
  EXPECT_GT(reading_ns, int64_t{1'577'836'800} * 1'000'000'000);
  EXPECT_LT(reading_ns - before_ns, int64_t{60} * 1'000'000'000);
}

TEST(TimeSourceWallClockTest, ReadsTheSourcesNow) {
  ManualTimeSource source(5'000);
  TimeSourceWallClock clock(&source);
  EXPECT_EQ(clock.NowNanos(), 5'000);
  source.Advance(absl::Microseconds(1));
  EXPECT_EQ(clock.NowNanos(), 6'000);
}

}  // namespace
}  // namespace rangedb
