// Tests name the HLC rule they check; the rules are listed in txn/hlc.h and
// docs/hlc.md (after Kulkarni et al., "Logical Physical Clocks", 2014, Algorithm 2).
#include "txn/hlc.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>
#include <ostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "txn/clock.h"

namespace rangedb {
namespace {

constexpr int64_t kSecondNs = 1'000'000'000;
constexpr int64_t kMillisecondNs = 1'000'000;
constexpr int64_t kStartNs = 1'700'000'000 * kSecondNs;  // 2023-11-14
constexpr int64_t kMaxOffsetNs = 500 * kMillisecondNs;
constexpr int32_t kMaxLogical = std::numeric_limits<int32_t>::max();

}  // namespace

// gtest prints Timestamp through this (static: local to this test binary).
static void PrintTo(const Timestamp& ts, std::ostream* os) { *os << ts.ToString(); }

namespace {

class HlcTest : public ::testing::Test {
 protected:
  ManualClock physical_{kStartNs};
  HybridLogicalClock hlc_{&physical_, kMaxOffsetNs};
};

TEST_F(HlcTest, NowTakesPhysicalTimeWhenItIsAhead) {
  EXPECT_EQ(hlc_.Now(), (Timestamp{kStartNs, 0}));
  physical_.Advance(7);
  EXPECT_EQ(hlc_.Now(), (Timestamp{kStartNs + 7, 0}));
  physical_.Advance(kSecondNs);
  EXPECT_EQ(hlc_.Now(), (Timestamp{kStartNs + 7 + kSecondNs, 0}));
}

TEST_F(HlcTest, NowIncrementsLogicalWhilePhysicalClockStandsStill) {
  EXPECT_EQ(hlc_.Now(), (Timestamp{kStartNs, 0}));
  EXPECT_EQ(hlc_.Now(), (Timestamp{kStartNs, 1}));
  EXPECT_EQ(hlc_.Now(), (Timestamp{kStartNs, 2}));
  physical_.Advance(1);  // physical overtakes: logical resets
  EXPECT_EQ(hlc_.Now(), (Timestamp{kStartNs + 1, 0}));
}

TEST_F(HlcTest, NowIsStrictlyIncreasing) {
  Timestamp previous = hlc_.Now();
  for (int i = 0; i < 1000; ++i) {
    if (i % 3 == 0) physical_.Advance(1);
    const Timestamp now = hlc_.Now();
    ASSERT_GT(now, previous) << "call " << i;
    previous = now;
  }
}

TEST_F(HlcTest, NowStaysMonotonicWhenPhysicalClockStepsBackwards) {
  EXPECT_EQ(hlc_.Now(), (Timestamp{kStartNs, 0}));
  physical_.Set(kStartNs - kSecondNs);  // e.g. NTP steps the clock back one second
  EXPECT_EQ(hlc_.Now(), (Timestamp{kStartNs, 1}));
  EXPECT_EQ(hlc_.Now(), (Timestamp{kStartNs, 2}));
  physical_.Set(kStartNs);  // caught up, but not past
  EXPECT_EQ(hlc_.Now(), (Timestamp{kStartNs, 3}));
  physical_.Set(kStartNs + 1);
  EXPECT_EQ(hlc_.Now(), (Timestamp{kStartNs + 1, 0}));
}

// Forward merges the timestamp of applied data even beyond the max offset (where
// Update refuses), and never moves the clock back.
TEST_F(HlcTest, ForwardMergesBeyondMaxOffsetAndNeverMovesBack) {
  const Timestamp far{kStartNs + 2 * kMaxOffsetNs, 7};
  EXPECT_FALSE(hlc_.Update(far).ok());
  hlc_.Forward(far);
  EXPECT_EQ(hlc_.Now(), (Timestamp{kStartNs + 2 * kMaxOffsetNs, 8}));
  hlc_.Forward(Timestamp{kStartNs, 0});
  EXPECT_GT(hlc_.Now(), far);
  hlc_.Forward(Timestamp{-1, 0});  // not a clock reading: ignored
  EXPECT_GT(hlc_.Now(), far);
}

TEST_F(HlcTest, LogicalOverflowAdvancesWallByOneNanosecond) {
  ASSERT_TRUE(hlc_.Update({kStartNs, kMaxLogical - 1}).ok());
  EXPECT_EQ(hlc_.Now(), (Timestamp{kStartNs, kMaxLogical}));
  // The counter is full: the wall runs 1 ns ahead of the physical clock.
  EXPECT_EQ(hlc_.Now(), (Timestamp{kStartNs + 1, 0}));
  EXPECT_EQ(hlc_.Now(), (Timestamp{kStartNs + 1, 1}));
  EXPECT_EQ(hlc_.PhysicalNow(), kStartNs);
}

TEST_F(HlcTest, UpdateWithRemoteAheadMovesClockPastRemote) {
  EXPECT_EQ(hlc_.Now(), (Timestamp{kStartNs, 0}));
  const Timestamp remote{kStartNs + 400 * kMillisecondNs, 7};
  ASSERT_TRUE(hlc_.Update(remote).ok());
  EXPECT_EQ(hlc_.Now(), (Timestamp{remote.wall_ns, 8}));
  // A remote reading with logical 0 works the same way.
  const Timestamp remote_wall_only{kStartNs + 450 * kMillisecondNs, 0};
  ASSERT_TRUE(hlc_.Update(remote_wall_only).ok());
  EXPECT_EQ(hlc_.Now(), (Timestamp{remote_wall_only.wall_ns, 1}));
}

TEST_F(HlcTest, UpdateWithRemoteAtSameWallTakesLargerLogical) {
  EXPECT_EQ(hlc_.Now(), (Timestamp{kStartNs, 0}));
  ASSERT_TRUE(hlc_.Update({kStartNs, 3}).ok());
  EXPECT_EQ(hlc_.Now(), (Timestamp{kStartNs, 4}));
  ASSERT_TRUE(hlc_.Update({kStartNs, 9}).ok());
  ASSERT_TRUE(hlc_.Update({kStartNs, 5}).ok());
  EXPECT_EQ(hlc_.Now(), (Timestamp{kStartNs, 10}));
}

TEST_F(HlcTest, UpdateEqualToLastTimestampStillOrdersLaterNowAfterIt) {
  const Timestamp last = hlc_.Now();
  ASSERT_TRUE(hlc_.Update(last).ok());
  EXPECT_GT(hlc_.Now(), last);
}

TEST_F(HlcTest, UpdateWithRemoteBehindDoesNotMoveClockBack) {
  physical_.Set(kStartNs + kSecondNs);
  EXPECT_EQ(hlc_.Now(), (Timestamp{kStartNs + kSecondNs, 0}));
  ASSERT_TRUE(hlc_.Update({kStartNs, 99}).ok());
  EXPECT_EQ(hlc_.Now(), (Timestamp{kStartNs + kSecondNs, 1}));
  // Also while the clock is in its logical regime.
  ASSERT_TRUE(hlc_.Update({kStartNs + kSecondNs, 0}).ok());
  EXPECT_EQ(hlc_.Now(), (Timestamp{kStartNs + kSecondNs, 2}));
}

TEST_F(HlcTest, UpdateExactlyMaxOffsetAheadIsAccepted) {
  ASSERT_TRUE(hlc_.Update({kStartNs + kMaxOffsetNs, 0}).ok());
  EXPECT_EQ(hlc_.Now(), (Timestamp{kStartNs + kMaxOffsetNs, 1}));
}

TEST_F(HlcTest, UpdateTooFarAheadIsRefusedAndClockIsNotAdvanced) {
  EXPECT_EQ(hlc_.Now(), (Timestamp{kStartNs, 0}));
  EXPECT_EQ(hlc_.Now(), (Timestamp{kStartNs, 1}));
  const Timestamp remote{kStartNs + kMaxOffsetNs + 1, 0};
  const absl::Status status = hlc_.Update(remote);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  const std::string message(status.message());
  EXPECT_NE(message.find(remote.ToString()), std::string::npos) << message;
  EXPECT_NE(message.find(Timestamp{kStartNs, 0}.ToString()), std::string::npos) << message;
  EXPECT_NE(message.find("500.000001ms ahead"), std::string::npos) << message;
  EXPECT_NE(message.find("max offset 500ms"), std::string::npos) << message;
  // Unchanged: the next reading continues from (kStartNs, 1).
  EXPECT_EQ(hlc_.Now(), (Timestamp{kStartNs, 2}));
}

TEST_F(HlcTest, UpdateOffsetIsMeasuredAgainstCurrentPhysicalClock) {
  const Timestamp remote{kStartNs + 2 * kMaxOffsetNs, 0};
  EXPECT_FALSE(hlc_.Update(remote).ok());
  physical_.Advance(kMaxOffsetNs);  // now exactly max offset behind the remote
  EXPECT_TRUE(hlc_.Update(remote).ok());
  EXPECT_EQ(hlc_.Now(), (Timestamp{remote.wall_ns, 1}));
}

TEST(HlcZeroMaxOffsetTest, ZeroMaxOffsetDisablesTheCheck) {
  ManualClock physical(kStartNs);
  HybridLogicalClock hlc(&physical, /*max_offset_ns=*/0);
  EXPECT_EQ(hlc.MaxOffsetNanos(), 0);
  const Timestamp remote{kStartNs + 3600 * kSecondNs, 0};  // an hour ahead
  ASSERT_TRUE(hlc.Update(remote).ok());
  EXPECT_EQ(hlc.Now(), (Timestamp{remote.wall_ns, 1}));
}

TEST_F(HlcTest, UpdateRejectsNegativeComponents) {
  EXPECT_EQ(hlc_.Now(), (Timestamp{kStartNs, 0}));
  EXPECT_EQ(hlc_.Update({kStartNs, -1}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(hlc_.Update({-1, 0}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(hlc_.Now(), (Timestamp{kStartNs, 1}));
}

TEST_F(HlcTest, AccessorsDoNotTouchTheClock) {
  EXPECT_EQ(hlc_.MaxOffsetNanos(), kMaxOffsetNs);
  EXPECT_EQ(hlc_.PhysicalNow(), kStartNs);
  physical_.Advance(5);
  EXPECT_EQ(hlc_.PhysicalNow(), kStartNs + 5);
  EXPECT_EQ(hlc_.Now(), (Timestamp{kStartNs + 5, 0}));
}

TEST(HlcSystemClockTest, NowFollowsRealTime) {
  SystemClock physical;
  HybridLogicalClock hlc(&physical, kMaxOffsetNs);
  const int64_t before_ns = physical.NowNanos();
  const Timestamp now = hlc.Now();
  const int64_t after_ns = physical.NowNanos();
  EXPECT_GE(now.wall_ns, before_ns);
  EXPECT_LE(now.wall_ns, after_ns);
  EXPECT_GT(hlc.Now(), now);
}

// --- Concurrency ---

// A history of Now() and Update() calls from several threads. start_seq/end_seq come
// from one atomic counter taken just before and just after a call, so an op whose
// end_seq is below another's start_seq returned before the other began.
class History {
 public:
  History(HybridLogicalClock* hlc, int threads) : hlc_(hlc), ops_(threads) {}

  // Thread `thread` (and only it) calls these.
  Timestamp Now(int thread) {
    const uint64_t start_seq = seq_.fetch_add(1);
    const Timestamp ts = hlc_->Now();
    ops_[thread].push_back({start_seq, seq_.fetch_add(1), ts, /*is_now=*/true});
    return ts;
  }
  absl::Status Update(int thread, Timestamp remote) {
    const uint64_t start_seq = seq_.fetch_add(1);
    absl::Status status = hlc_->Update(remote);
    const uint64_t end_seq = seq_.fetch_add(1);
    if (status.ok()) ops_[thread].push_back({start_seq, end_seq, remote, /*is_now=*/false});
    return status;
  }

  // After all threads joined: each thread's Now() results increase, no two Now()
  // results are equal, and every Now() exceeds every timestamp returned or merged by
  // an op that finished before it started (linearizability in real time).
  void Check() const {
    std::vector<Op> all;
    for (const std::vector<Op>& thread_ops : ops_) {
      Timestamp previous;
      for (const Op& op : thread_ops) {
        all.push_back(op);
        if (!op.is_now) continue;
        ASSERT_GT(op.ts, previous) << op.ts.ToString() << " after " << previous.ToString();
        previous = op.ts;
      }
    }
    std::vector<Op> by_end = all;
    std::sort(by_end.begin(), by_end.end(),
              [](const Op& a, const Op& b) { return a.end_seq < b.end_seq; });
    std::sort(all.begin(), all.end(),
              [](const Op& a, const Op& b) { return a.start_seq < b.start_seq; });
    Timestamp max_finished;  // over ops with end_seq < the current op's start_seq
    size_t finished = 0;
    for (const Op& op : all) {
      while (finished < by_end.size() && by_end[finished].end_seq < op.start_seq) {
        max_finished = std::max(max_finished, by_end[finished].ts);
        ++finished;
      }
      if (!op.is_now) continue;
      ASSERT_GT(op.ts, max_finished) << "Now() returned " << op.ts.ToString()
                                     << " after an op that finished at " << max_finished.ToString();
    }
    std::vector<Timestamp> nows;
    for (const Op& op : all) {
      if (op.is_now) nows.push_back(op.ts);
    }
    std::sort(nows.begin(), nows.end());
    const auto duplicate = std::adjacent_find(nows.begin(), nows.end());
    ASSERT_EQ(duplicate, nows.end()) << "Now() returned " << duplicate->ToString() << " twice";
  }

 private:
  struct Op {
    uint64_t start_seq;
    uint64_t end_seq;
    Timestamp ts;  // Now(): the result; Update(): the remote timestamp merged
    bool is_now;
  };

  HybridLogicalClock* const hlc_;
  std::atomic<uint64_t> seq_{0};
  std::vector<std::vector<Op>> ops_;  // one per thread
};

// Moves 1 ns every 2 reads, so two callers often read the same wall time and race to
// CAS the same tick, and steps back 50 ns every 4096 ns.
class SteppingClock final : public PhysicalClock {
 public:
  int64_t NowNanos() override {
    const int64_t ns = reads_.fetch_add(1, std::memory_order_relaxed) / 2;
    return kStartNs + ns - (ns / 4096) * 50;
  }

 private:
  std::atomic<int64_t> reads_{0};
};

// Two threads (one per core) hammer Now(): the fast-path CAS races on every tick and
// the clock keeps switching between wall mode and logical mode.
TEST(HlcConcurrencyTest, ConcurrentNowRacesAreLinearizable) {
  constexpr int kThreads = 2;
  constexpr int kCallsPerThread = 200000;
  SteppingClock physical;
  HybridLogicalClock hlc(&physical, kMaxOffsetNs);
  History history(&hlc, kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&history, t] {
      for (int i = 0; i < kCallsPerThread; ++i) history.Now(t);
    });
  }
  for (std::thread& thread : threads) thread.join();
  history.Check();
}

// Now() threads race with a thread merging remote timestamps (some refused as too far
// ahead) while a ManualClock is stepped by 0, 1 or 2 ns and now and then 50 ns back.
TEST(HlcConcurrencyTest, ConcurrentNowAndUpdateAreLinearizable) {
  constexpr int kNowThreads = 2;
  constexpr int kCallsPerThread = 50000;
  constexpr int kUpdates = 20000;
  ManualClock physical(kStartNs);
  HybridLogicalClock hlc(&physical, /*max_offset_ns=*/100);
  History history(&hlc, kNowThreads + 1);
  std::atomic<int> running{kNowThreads + 1};
  std::vector<std::thread> threads;
  for (int t = 0; t < kNowThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCallsPerThread; ++i) history.Now(t);
      running.fetch_sub(1);
    });
  }
  threads.emplace_back([&] {  // remote readings up to 150 ns ahead of ours
    std::mt19937_64 rng(42);
    for (int i = 0; i < kUpdates; ++i) {
      const Timestamp remote{hlc.PhysicalNow() + static_cast<int64_t>(rng() % 150),
                             static_cast<int32_t>(rng() % 4)};
      const absl::Status status = history.Update(kNowThreads, remote);
      if (status.ok()) {
        EXPECT_GT(history.Now(kNowThreads), remote);
      } else {
        EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
      }
    }
    running.fetch_sub(1);
  });
  std::thread ticker([&] {
    std::mt19937_64 rng(7);
    while (running.load() > 0) {
      const uint64_t r = rng() % 64;
      physical.Advance(r == 0 ? -50 : static_cast<int64_t>(r % 3));
    }
  });
  for (std::thread& thread : threads) thread.join();
  ticker.join();
  history.Check();
}

}  // namespace
}  // namespace rangedb
