// TxnWaitQueue (ranges/txn_wait_queue.h; docs/transactions.md, "Waiting and
// deadlocks"): registration, wake-ups, the dependents used for deadlock detection,
// and the bounds. Timeouts here are either short ones that must expire, or long
// ones (a minute) that must not be reached: no assertion depends on scheduling speed.
#include "ranges/txn_wait_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"

namespace rangedb::ranges {
namespace {

using Strings = std::vector<std::string>;

// Keeps calling Notify(txn_id) until stopped, so a waiter that starts waiting at
// any moment is woken (a Notify before Wait begins is not remembered).
class Notifier {
 public:
  Notifier(TxnWaitQueue* queue, std::string txn_id)
      : thread_([this, queue, id = std::move(txn_id)] {
          while (!stop_.load()) {
            queue->Notify(id);
            absl::SleepFor(absl::Milliseconds(1));
          }
        }) {}
  ~Notifier() {
    stop_.store(true);
    thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(TxnWaitQueueTest, EnqueueRegistersAndDestructionUnregisters) {
  TxnWaitQueue q;
  EXPECT_EQ(q.size(), 0u);
  std::unique_ptr<TxnWaitQueue::Waiter> a = q.Enqueue("pushee", "pusher-a");
  std::unique_ptr<TxnWaitQueue::Waiter> b = q.Enqueue("pushee", "pusher-b");
  std::unique_ptr<TxnWaitQueue::Waiter> c = q.Enqueue("other", "pusher-c");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.Dependents("pushee"), (Strings{"pusher-a", "pusher-b"}));
  a.reset();
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(q.Dependents("pushee"), (Strings{"pusher-b"}));
  b.reset();
  c.reset();
  EXPECT_EQ(q.size(), 0u);
  EXPECT_TRUE(q.Dependents("pushee").empty());
  EXPECT_TRUE(q.Dependents("other").empty());
}

TEST(TxnWaitQueueTest, WaitWithoutNotifyTimesOut) {
  TxnWaitQueue q;
  std::unique_ptr<TxnWaitQueue::Waiter> w = q.Enqueue("pushee", "pusher");
  ASSERT_NE(w, nullptr);
  EXPECT_FALSE(w->Wait(absl::Milliseconds(20)));
  EXPECT_FALSE(w->Wait(absl::ZeroDuration()));
}

TEST(TxnWaitQueueTest, NotifyWakesTheWaiter) {
  TxnWaitQueue q;
  std::unique_ptr<TxnWaitQueue::Waiter> w = q.Enqueue("pushee", "pusher");
  ASSERT_NE(w, nullptr);
  Notifier notifier(&q, "pushee");
  EXPECT_TRUE(w->Wait(absl::Minutes(1)));
}

TEST(TxnWaitQueueTest, NotifyWakesEveryWaiterOnThePushee) {
  TxnWaitQueue q;
  std::unique_ptr<TxnWaitQueue::Waiter> a = q.Enqueue("pushee", "pusher-a");
  std::unique_ptr<TxnWaitQueue::Waiter> b = q.Enqueue("pushee", "");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  std::atomic<bool> woke_a{false}, woke_b{false};
  {
    std::thread ta([&] { woke_a = a->Wait(absl::Minutes(1)); });
    std::thread tb([&] { woke_b = b->Wait(absl::Minutes(1)); });
    Notifier notifier(&q, "pushee");
    ta.join();
    tb.join();
  }
  EXPECT_TRUE(woke_a.load());
  EXPECT_TRUE(woke_b.load());
}

TEST(TxnWaitQueueTest, NotifyOfAnotherTransactionDoesNotWake) {
  TxnWaitQueue q;
  std::unique_ptr<TxnWaitQueue::Waiter> w = q.Enqueue("pushee", "pusher");
  std::unique_ptr<TxnWaitQueue::Waiter> other = q.Enqueue("other", "pusher-2");
  ASSERT_NE(w, nullptr);
  ASSERT_NE(other, nullptr);
  Notifier notifier(&q, "other");
  EXPECT_FALSE(w->Wait(absl::Milliseconds(200)));
}

TEST(TxnWaitQueueTest, NotifyWithoutWaitersIsHarmless) {
  TxnWaitQueue q;
  q.Notify("nobody");
  EXPECT_EQ(q.size(), 0u);
  // It is not remembered for a waiter that registers afterwards.
  std::unique_ptr<TxnWaitQueue::Waiter> w = q.Enqueue("nobody", "pusher");
  ASSERT_NE(w, nullptr);
  EXPECT_FALSE(w->Wait(absl::Milliseconds(20)));
}

TEST(TxnWaitQueueTest, WaiterStillWakesAfterAnotherWaiterOnThePusheeLeaves) {
  TxnWaitQueue q;
  std::unique_ptr<TxnWaitQueue::Waiter> a = q.Enqueue("pushee", "pusher-a");
  std::unique_ptr<TxnWaitQueue::Waiter> b = q.Enqueue("pushee", "pusher-b");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  a.reset();
  Notifier notifier(&q, "pushee");
  EXPECT_TRUE(b->Wait(absl::Minutes(1)));
}

TEST(TxnWaitQueueTest, DependentsAreDirectWaitersPlusTheirReportedDependents) {
  TxnWaitQueue q;
  std::unique_ptr<TxnWaitQueue::Waiter> a = q.Enqueue("T", "A");
  std::unique_ptr<TxnWaitQueue::Waiter> b = q.Enqueue("T", "B");
  std::unique_ptr<TxnWaitQueue::Waiter> u = q.Enqueue("U", "C");  // waits on another txn
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_NE(u, nullptr);
  a->SetDependents({"X", "Y"});  // X and Y wait on A
  b->SetDependents({"Y", "Z"});
  u->SetDependents({"W"});
  EXPECT_EQ(q.Dependents("T"), (Strings{"A", "B", "X", "Y", "Z"}));
  EXPECT_EQ(q.Dependents("U"), (Strings{"C", "W"}));
  EXPECT_TRUE(q.Dependents("A").empty());
  // SetDependents replaces what was reported.
  a->SetDependents({"Q"});
  EXPECT_EQ(q.Dependents("T"), (Strings{"A", "B", "Q", "Y", "Z"}));
  // A departed waiter takes its dependents with it.
  b.reset();
  EXPECT_EQ(q.Dependents("T"), (Strings{"A", "Q"}));
}

TEST(TxnWaitQueueTest, NonTransactionalPushersAreNotDependents) {
  TxnWaitQueue q;
  std::unique_ptr<TxnWaitQueue::Waiter> anon = q.Enqueue("T", "");
  std::unique_ptr<TxnWaitQueue::Waiter> a = q.Enqueue("T", "A");
  ASSERT_NE(anon, nullptr);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(q.Dependents("T"), (Strings{"A"}));
  a.reset();
  EXPECT_TRUE(q.Dependents("T").empty());
}

TEST(TxnWaitQueueTest, ReportedDependentsAreCutAtTheBound) {
  TxnWaitQueue q;
  std::unique_ptr<TxnWaitQueue::Waiter> a = q.Enqueue("T", "A");
  ASSERT_NE(a, nullptr);
  Strings reported;
  const size_t n = TxnWaitQueue::kMaxDependents + 500;
  for (size_t i = 0; i < n; ++i) reported.push_back("d" + std::to_string(100000 + i));
  a->SetDependents(reported);
  Strings got = q.Dependents("T");
  EXPECT_LE(got.size(), TxnWaitQueue::kMaxDependents + 1);  // the bound, plus A itself
  EXPECT_GE(got.size(), TxnWaitQueue::kMaxDependents);
  EXPECT_NE(std::find(got.begin(), got.end(), "A"), got.end());
  EXPECT_NE(std::find(got.begin(), got.end(), reported.front()), got.end());
  EXPECT_EQ(std::find(got.begin(), got.end(), reported.back()), got.end());
}

TEST(TxnWaitQueueTest, AtMostMaxWaiters) {
  TxnWaitQueue q;
  std::vector<std::unique_ptr<TxnWaitQueue::Waiter>> waiters;
  waiters.reserve(TxnWaitQueue::kMaxWaiters);
  for (size_t i = 0; i < TxnWaitQueue::kMaxWaiters; ++i) {
    std::unique_ptr<TxnWaitQueue::Waiter> w =
        q.Enqueue("pushee-" + std::to_string(i % 7), "pusher-" + std::to_string(i));
    ASSERT_NE(w, nullptr) << i;
    waiters.push_back(std::move(w));
  }
  EXPECT_EQ(q.size(), TxnWaitQueue::kMaxWaiters);
  EXPECT_EQ(q.Enqueue("pushee-0", "late"), nullptr);
  EXPECT_EQ(q.Enqueue("brand-new", "late"), nullptr);
  EXPECT_EQ(q.size(), TxnWaitQueue::kMaxWaiters);
  // One leaves: one more may enter.
  waiters.pop_back();
  std::unique_ptr<TxnWaitQueue::Waiter> late = q.Enqueue("brand-new", "late");
  ASSERT_NE(late, nullptr);
  EXPECT_EQ(q.Enqueue("brand-new", "later"), nullptr);
  waiters.clear();
  late.reset();
  EXPECT_EQ(q.size(), 0u);
}

}  // namespace
}  // namespace rangedb::ranges
