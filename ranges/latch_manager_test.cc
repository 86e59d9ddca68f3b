#include "ranges/latch_manager.h"

#include <atomic>
#include <thread>

#include "gtest/gtest.h"

namespace rangedb::ranges {
namespace {

absl::Time Soon() { return absl::Now() + absl::Milliseconds(50); }
absl::Time Later() { return absl::Now() + absl::Seconds(10); }

TEST(LatchManagerTest, ReadersShareWritersExclude) {
  LatchManager m;
  auto r1 = m.Acquire({{"a", "", false}}, Later());
  auto r2 = m.Acquire({{"a", "", false}}, Soon());
  ASSERT_TRUE(r1.ok());
  ASSERT_TRUE(r2.ok());
  EXPECT_TRUE(absl::IsDeadlineExceeded(m.Acquire({{"a", "", true}}, Soon()).status()));
  EXPECT_TRUE(m.Acquire({{"b", "", true}}, Soon()).ok());  // disjoint key
}

TEST(LatchManagerTest, SpansOverlapByRange) {
  LatchManager m;
  auto w = m.Acquire({{"b", "d", true}}, Later());
  ASSERT_TRUE(w.ok());
  EXPECT_TRUE(absl::IsDeadlineExceeded(m.Acquire({{"c", "", false}}, Soon()).status()));
  EXPECT_TRUE(absl::IsDeadlineExceeded(m.Acquire({{"a", "c", false}}, Soon()).status()));
  EXPECT_TRUE(m.Acquire({{"d", "", false}}, Soon()).ok());  // end is exclusive
  EXPECT_TRUE(m.Acquire({{"a", "b", false}}, Soon()).ok());
}

TEST(LatchManagerTest, ReleaseWakesWaiterAndTimedOutWaiterLeavesNoTrace) {
  LatchManager m;
  auto w = m.Acquire({{"k", "", true}}, Later());
  ASSERT_TRUE(w.ok());
  EXPECT_FALSE(m.Acquire({{"k", "", true}}, Soon()).ok());
  EXPECT_EQ(m.holders(), 1u);
  std::atomic<bool> got{false};
  std::thread t([&] {
    auto g = m.Acquire({{"k", "", true}}, Later());
    got = g.ok();
  });
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_FALSE(got.load());
  w->Release();
  t.join();
  EXPECT_TRUE(got.load());
  EXPECT_EQ(m.holders(), 0u);
}

TEST(LatchManagerTest, WriterIsNotStarvedByLaterReaders) {
  LatchManager m;
  auto r1 = m.Acquire({{"k", "", false}}, Later());
  ASSERT_TRUE(r1.ok());
  std::thread writer([&] { EXPECT_TRUE(m.Acquire({{"k", "", true}}, Later()).ok()); });
  while (m.holders() < 2) absl::SleepFor(absl::Milliseconds(1));
  // A reader arriving after the waiting writer queues behind it.
  EXPECT_TRUE(absl::IsDeadlineExceeded(m.Acquire({{"k", "", false}}, Soon()).status()));
  r1->Release();
  writer.join();
}

TEST(LatchManagerTest, BoundOnHoldersIsEnforced) {
  LatchManager m(2);
  auto a = m.Acquire({{"a", "", true}}, Later());
  auto b = m.Acquire({{"b", "", true}}, Later());
  EXPECT_TRUE(absl::IsResourceExhausted(m.Acquire({{"c", "", true}}, Later()).status()));
}

}  // namespace
}  // namespace rangedb::ranges
