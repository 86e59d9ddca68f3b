#include "node/phi_accrual.h"

#include <cmath>

#include "gtest/gtest.h"

namespace rangedb {
namespace {

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kSecond = 1'000 * kMs;
constexpr uint64_t kPeer = 2;

// Sends `count` heartbeats from kPeer, the first at start_ns, spaced by interval_ns;
// returns the time of the last one.
int64_t RegularHeartbeats(PhiAccrualDetector* detector, int64_t start_ns, int64_t interval_ns,
                          int count) {
  int64_t now_ns = start_ns;
  for (int i = 0; i < count; ++i, now_ns += interval_ns) detector->Heartbeat(kPeer, now_ns);
  return now_ns - interval_ns;
}

TEST(PhiOfNormalTest, MatchesTheNormalTail) {
  // One standard deviation above the mean: P(later) = 0.1587, phi = 0.7995.
  EXPECT_NEAR(PhiOfNormal(1.0, 0.0, 1.0), 0.7995, 1e-3);
  // Three: P = 0.00135, phi = 2.87.
  EXPECT_NEAR(PhiOfNormal(3.0, 0.0, 1.0), 2.8697, 1e-3);
  EXPECT_NEAR(PhiOfNormal(-5.0, 0.0, 1.0), 0.0, 1e-6);
  // Far in the tail phi stays finite and keeps growing.
  EXPECT_TRUE(std::isfinite(PhiOfNormal(1000.0, 0.0, 1.0)));
  EXPECT_LT(PhiOfNormal(100.0, 0.0, 1.0), PhiOfNormal(1000.0, 0.0, 1.0));
}

TEST(PhiAccrualTest, UnknownPeer) {
  PhiAccrualDetector detector;
  EXPECT_EQ(detector.State(kPeer, 5 * kSecond), PeerState::kUnknown);
  EXPECT_EQ(detector.Phi(kPeer, 5 * kSecond), 0.0);
  EXPECT_FALSE(detector.LastHeartbeatNs(kPeer).has_value());
  EXPECT_EQ(PeerStateName(PeerState::kUnknown), "unknown");
}

TEST(PhiAccrualTest, RegularHeartbeatsAreLive) {
  PhiAccrualDetector detector;
  int64_t last_ns = RegularHeartbeats(&detector, kSecond, kSecond, 50);
  // Right before the next heartbeat is due, and a bit after, phi is near zero.
  EXPECT_EQ(detector.State(kPeer, last_ns + 999 * kMs), PeerState::kLive);
  EXPECT_EQ(detector.State(kPeer, last_ns + 1500 * kMs), PeerState::kLive);
  EXPECT_LT(detector.Phi(kPeer, last_ns + 1500 * kMs), 0.1);
  EXPECT_EQ(detector.LastHeartbeatNs(kPeer), last_ns);
}

TEST(PhiAccrualTest, SilenceGrowsPhiMonotonically) {
  PhiAccrualDetector detector;
  int64_t last_ns = RegularHeartbeats(&detector, 0, kSecond, 20);
  double previous = 0;
  for (int64_t gap_ns = 0; gap_ns <= 60 * kSecond; gap_ns += 10 * kMs) {
    double phi = detector.Phi(kPeer, last_ns + gap_ns);
    ASSERT_TRUE(std::isfinite(phi)) << "gap_ns=" << gap_ns;
    ASSERT_GE(phi, previous) << "gap_ns=" << gap_ns;
    previous = phi;
  }
  EXPECT_GT(previous, 1000);
}

// With 1 s heartbeats, the 100 ms stddev floor and the 1 s acceptable pause, the
// modelled arrival is Normal(2 s, 100 ms): suspect (phi >= 3) from ~2.31 s of silence,
// dead (phi >= 8) from ~2.57 s.
TEST(PhiAccrualTest, SuspectThenDead) {
  PhiAccrualDetector detector;
  int64_t last_ns = RegularHeartbeats(&detector, 0, kSecond, 20);
  EXPECT_EQ(detector.State(kPeer, last_ns + 2250 * kMs), PeerState::kLive);
  EXPECT_EQ(detector.State(kPeer, last_ns + 2400 * kMs), PeerState::kSuspect);
  EXPECT_EQ(detector.State(kPeer, last_ns + 2600 * kMs), PeerState::kDead);
  // A heartbeat brings it back.
  detector.Heartbeat(kPeer, last_ns + 2700 * kMs);
  EXPECT_EQ(detector.State(kPeer, last_ns + 2800 * kMs), PeerState::kLive);
}

TEST(PhiAccrualTest, HardBoundDeclaresDeadWhateverPhiSays) {
  PhiAccrualOptions options;
  options.dead_after_ns = 10 * kSecond;
  PhiAccrualDetector detector(options);
  // Wildly irregular history: 0.1 s and 9 s gaps make phi lenient.
  int64_t now_ns = 0;
  for (int i = 0; i < 20; ++i) {
    detector.Heartbeat(kPeer, now_ns);
    now_ns += (i % 2 == 0) ? 100 * kMs : 9 * kSecond;
  }
  int64_t last_ns = *detector.LastHeartbeatNs(kPeer);
  EXPECT_LT(detector.Phi(kPeer, last_ns + 10 * kSecond), options.dead_phi);
  EXPECT_NE(detector.State(kPeer, last_ns + 10 * kSecond - 1), PeerState::kDead);
  EXPECT_EQ(detector.State(kPeer, last_ns + 10 * kSecond), PeerState::kDead);
}

TEST(PhiAccrualTest, JitteryHeartbeatsTolerateLargerGaps) {
  PhiAccrualDetector regular;
  PhiAccrualDetector jittery;
  int64_t regular_last_ns = RegularHeartbeats(&regular, 0, kSecond, 40);
  // Alternating 0.5 s and 1.5 s: the same 1 s mean, stddev 0.5 s.
  int64_t now_ns = 0;
  for (int i = 0; i < 40; ++i) {
    jittery.Heartbeat(kPeer, now_ns);
    now_ns += (i % 2 == 0) ? 500 * kMs : 1500 * kMs;
  }
  int64_t jittery_last_ns = *jittery.LastHeartbeatNs(kPeer);
  EXPECT_EQ(regular.State(kPeer, regular_last_ns + 2500 * kMs), PeerState::kSuspect);
  EXPECT_EQ(jittery.State(kPeer, jittery_last_ns + 2500 * kMs), PeerState::kLive);
  EXPECT_LT(jittery.Phi(kPeer, jittery_last_ns + 2500 * kMs),
            regular.Phi(kPeer, regular_last_ns + 2500 * kMs));
}

TEST(PhiAccrualTest, WindowForgetsOldIntervals) {
  PhiAccrualOptions options;
  options.window_size = 10;
  PhiAccrualDetector detector(options);
  // Jittery history first, then more than a window of regular heartbeats.
  int64_t now_ns = 0;
  for (int i = 0; i < 10; ++i) {
    detector.Heartbeat(kPeer, now_ns);
    now_ns += (i % 2 == 0) ? 200 * kMs : 1800 * kMs;
  }
  int64_t last_ns = RegularHeartbeats(&detector, now_ns, kSecond, 11);
  EXPECT_EQ(detector.WindowSizeForTesting(kPeer), 10u);
  // Only the regular intervals remain, so a 2.5 s gap is suspicious again.
  EXPECT_NE(detector.State(kPeer, last_ns + 2500 * kMs), PeerState::kLive);
}

TEST(PhiAccrualTest, FirstHeartbeatUsesTheEstimate) {
  PhiAccrualDetector detector;
  detector.Heartbeat(kPeer, 0);
  EXPECT_EQ(detector.WindowSizeForTesting(kPeer), 0u);
  // Normal(1 s estimate + 1 s pause, 250 ms): 1.5 s is fine, 4 s is not.
  EXPECT_EQ(detector.State(kPeer, 1500 * kMs), PeerState::kLive);
  EXPECT_EQ(detector.State(kPeer, 4 * kSecond), PeerState::kDead);
}

TEST(PhiAccrualTest, ReorderedHeartbeatsAreIgnored) {
  PhiAccrualDetector detector;
  RegularHeartbeats(&detector, 0, kSecond, 5);  // last at 4 s
  detector.Heartbeat(kPeer, 3500 * kMs);
  detector.Heartbeat(kPeer, 4 * kSecond);
  EXPECT_EQ(detector.LastHeartbeatNs(kPeer), 4 * kSecond);
  EXPECT_EQ(detector.WindowSizeForTesting(kPeer), 4u);
  EXPECT_EQ(detector.Phi(kPeer, 3 * kSecond), 0.0);
}

TEST(PhiAccrualTest, PeerBoundEvictsTheLeastRecentlyHeard) {
  PhiAccrualOptions options;
  options.max_peers = 2;
  PhiAccrualDetector detector(options);
  detector.Heartbeat(1, 10);
  detector.Heartbeat(2, 5);
  detector.Heartbeat(3, 20);
  EXPECT_EQ(detector.Peers().size(), 2u);
  EXPECT_EQ(detector.State(2, 30), PeerState::kUnknown);
  EXPECT_NE(detector.State(1, 30), PeerState::kUnknown);
  detector.Remove(1);
  EXPECT_EQ(detector.State(1, 30), PeerState::kUnknown);
}

}  // namespace
}  // namespace rangedb
