#include "ranges/fanout_pool.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace rangedb::ranges {
namespace {

TEST(FanoutPoolTest, RunsEveryPartExactlyOnce) {
  FanoutPool pool(4, 64);
  for (size_t n : {size_t{0}, size_t{1}, size_t{2}, size_t{7}, size_t{100}}) {
    std::vector<std::atomic<int>> runs(n);
    pool.Run(n, 16, [&](size_t i) { runs[i].fetch_add(1); });
    for (size_t i = 0; i < n; ++i) EXPECT_EQ(runs[i].load(), 1) << "part " << i << " of " << n;
  }
}

// Part 0 waits for part 1: only a second thread can run it while part 0 waits.
void ExpectPartsRunSideBySide(FanoutPool& pool) {
  absl::Notification second_ran;
  std::atomic<bool> first_saw_second{false};
  pool.Run(2, 16, [&](size_t i) {
    if (i == 1) {
      second_ran.Notify();
    } else {
      first_saw_second = second_ran.WaitForNotificationWithTimeout(absl::Seconds(30));
    }
  });
  EXPECT_TRUE(first_saw_second.load());
}

// Keeps a one-thread pool's thread busy while it lives: a batch of two parts that
// block, one on its caller and one on the pool's thread.
class PoolKeptBusy {
 public:
  explicit PoolKeptBusy(FanoutPool& pool)
      : other_([this, &pool] {
          pool.Run(2, 16, [this](size_t) {
            blocked_.fetch_add(1);
            release_.WaitForNotification();
          });
        }) {
    while (blocked_.load() < 2) std::this_thread::yield();
  }
  ~PoolKeptBusy() {
    release_.Notify();
    other_.join();
  }

 private:
  absl::Notification release_;
  std::atomic<int> blocked_{0};
  std::thread other_;  // last: it starts once the members it uses exist
};

TEST(FanoutPoolTest, RunsPartsAtTheSameTime) {
  FanoutPool pool(2, 64);
  ExpectPartsRunSideBySide(pool);
}

// With every pool thread busy, a batch does not wait for them.
TEST(FanoutPoolTest, ABusyPoolDoesNotDelayABatch) {
  FanoutPool pool(1, 64);
  PoolKeptBusy busy(pool);
  std::vector<std::atomic<int>> runs(5);
  pool.Run(5, 16, [&](size_t i) { runs[i].fetch_add(1); });  // would hang without take-back
  for (size_t i = 0; i < runs.size(); ++i) EXPECT_EQ(runs[i].load(), 1);
}

// Review finding 3: parts that wait on something (here, on each other) still wait
// side by side when the pool has no idle thread or no room in its queue.
TEST(FanoutPoolTest, PartsRunSideBySideWhenThePoolIsBusy) {
  FanoutPool pool(1, 64);
  PoolKeptBusy busy(pool);
  ExpectPartsRunSideBySide(pool);
}

TEST(FanoutPoolTest, PartsRunSideBySideWhenTheQueueHasNoRoom) {
  FanoutPool pool(1, 0);
  ExpectPartsRunSideBySide(pool);
}

TEST(FanoutPoolTest, ManyCallersAtOnce) {
  FanoutPool pool(3, 16);
  std::atomic<int> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 8; ++c) {
    callers.emplace_back([&] {
      for (int round = 0; round < 200; ++round) {
        pool.Run(5, 4, [&](size_t) { total.fetch_add(1); });
      }
    });
  }
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(total.load(), 8 * 200 * 5);
}

}  // namespace
}  // namespace rangedb::ranges
