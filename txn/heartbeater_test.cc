// Unit tests of the shared heartbeat loop (txn/heartbeater.h): scheduling on a manual
// clock, and the thread pool's bound and independence from a slow Sender.
#include "txn/heartbeater.h"

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "txn/testing/fake_sender.h"

namespace rangedb::txn {
namespace {

kvpb::Transaction Txn(const std::string& id, bool stamped = true) {
  kvpb::Transaction t;
  t.set_id(id);
  t.set_anchor_key("anchor-" + id);
  if (stamped) t.mutable_read_timestamp()->set_wall_time_ns(1);
  return t;
}

// Waits (bounded) for done().
template <typename F>
bool Eventually(F done, absl::Duration most = absl::Seconds(10)) {
  const absl::Time until = absl::Now() + most;
  while (!done()) {
    if (absl::Now() >= until) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

// A Sender whose Sends block until released.
class BlockingSender final : public Sender {
 public:
  absl::StatusOr<kvpb::BatchResponse> Send(kvpb::BatchRequest batch) override {
    entered_.fetch_add(1);
    release_.WaitForNotification();
    return FakeSender::Ok(batch);
  }
  void Release() { release_.Notify(); }
  int entered() const { return entered_.load(); }

 private:
  absl::Notification release_;
  std::atomic<int> entered_{0};
};

TEST(HeartbeaterTest, BeatsAtTheFirstDueTimeThenEveryInterval) {
  ManualMonotonicClock clock(0);
  Heartbeater hb(HeartbeaterOptions{.max_threads = 0, .clock = &clock});
  FakeSender sender;
  const uint64_t id = hb.Start(&sender, absl::Milliseconds(100), 50, Txn("a"));
  EXPECT_EQ(hb.BeatDue(), 0);
  clock.Advance(50);
  EXPECT_EQ(hb.BeatDue(), 1);
  EXPECT_EQ(hb.BeatDue(), 0) << "once per due time";
  clock.Advance(100'000'000);
  EXPECT_EQ(hb.BeatDue(), 1);
  EXPECT_TRUE(hb.seen(id).record_alive);
  EXPECT_FALSE(hb.seen(id).aborted);
  const kvpb::BatchRequest beat = sender.requests().back();
  EXPECT_EQ(beat.requests(0).heartbeat_txn().key(), "anchor-a");
  EXPECT_EQ(beat.header().txn().id(), "a");
  hb.Stop(id);
  clock.Advance(1'000'000'000);
  EXPECT_EQ(hb.BeatDue(), 0);
  EXPECT_EQ(hb.open(), 0u);
}

TEST(HeartbeaterTest, NoBeatBeforeTheTransactionHasItsTimestamps) {
  ManualMonotonicClock clock(0);
  Heartbeater hb(HeartbeaterOptions{.max_threads = 0, .clock = &clock});
  FakeSender sender;
  const uint64_t id = hb.Start(&sender, absl::Nanoseconds(10), 0, Txn("a", /*stamped=*/false));
  EXPECT_EQ(hb.BeatDue(), 0);
  hb.Publish(id, Txn("a"));
  clock.Advance(10);
  EXPECT_EQ(hb.BeatDue(), 1) << "the skipped beat came due again an interval later";
  hb.Stop(id);
}

TEST(HeartbeaterTest, OwnersBeatMovesTheNextAndAbortedStopsTheBeats) {
  ManualMonotonicClock clock(0);
  Heartbeater hb(HeartbeaterOptions{.max_threads = 0, .clock = &clock});
  FakeSender sender;
  const uint64_t id = hb.Start(&sender, absl::Nanoseconds(100), 100, Txn("a"));
  clock.Advance(90);
  hb.NoteBeat(id, kvpb::PENDING);  // next due at 190
  clock.Advance(10);
  EXPECT_EQ(hb.BeatDue(), 0);
  clock.Advance(90);
  EXPECT_EQ(hb.BeatDue(), 1);
  hb.NoteBeat(id, kvpb::ABORTED);
  EXPECT_TRUE(hb.seen(id).aborted);
  clock.Advance(1000);
  EXPECT_EQ(hb.BeatDue(), 0);
  EXPECT_TRUE(hb.Stop(id).aborted);
}

TEST(HeartbeaterTest, SlowBeatDelaysNoOtherAndThreadsStayWithinTheBound) {
  constexpr int kMaxThreads = 3;
  Heartbeater hb(HeartbeaterOptions{.max_threads = kMaxThreads});
  BlockingSender slow;
  FakeSender fast;
  // Two registrations block a thread each; a third keeps getting its beats on the
  // third thread. (With every thread of the bound blocked, beats would wait.)
  std::vector<uint64_t> blocked;
  for (const char* id : {"s1", "s2"}) {
    blocked.push_back(hb.Start(&slow, absl::Milliseconds(1), 0, Txn(id)));
  }
  const uint64_t ok = hb.Start(&fast, absl::Milliseconds(1), 0, Txn("f"));
  ASSERT_TRUE(Eventually([&] { return slow.entered() == 2; }));
  ASSERT_TRUE(Eventually([&] { return fast.heartbeats("f") >= 5; }))
      << "a beat blocked in a slow Send held up the others";
  EXPECT_LE(hb.threads(), static_cast<size_t>(kMaxThreads));

  // Stop waits for a beat in flight to end.
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    for (uint64_t id : blocked) hb.Stop(id);
    stopped = true;
  });
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_FALSE(stopped.load()) << "Stop returned while its beat was in flight";
  slow.Release();
  stopper.join();
  EXPECT_TRUE(stopped.load());
  hb.Stop(ok);
  EXPECT_EQ(hb.open(), 0u);
  EXPECT_LE(hb.threads(), static_cast<size_t>(kMaxThreads));
}

}  // namespace
}  // namespace rangedb::txn
