// PhiAccrualDetector: a per-peer phi-accrual failure detector (Hayashibara, Défago,
// Yared, Katayama: "The φ Accrual Failure Detector", SRDS 2004).
//
// Instead of a binary up/down after a fixed timeout, the detector reports a suspicion
// level phi = -log10(P(a heartbeat arrives later than `now`)), where the arrival time
// is modelled as normally distributed with the mean and standard deviation of the
// peer's recent inter-arrival times. phi = 1 means a 10% chance that a live peer would
// still be this late, phi = 3 a 0.1% chance, phi = 8 one in 10^8.
//
// Two adjustments (as in Akka and Cassandra) keep the model sane:
//   - the standard deviation has a floor (min_stddev_ns): a perfectly regular
//     heartbeat would otherwise make phi jump to infinity on the first late arrival;
//   - acceptable_pause_ns is added to the mean, tolerating a GC pause or a slow gossip
//     round without suspicion.
// Until a peer has sent two heartbeats there is no interval to learn from, and
// first_interval_estimate_ns stands in as the mean.
//
// State() maps phi to live / suspect / dead, and also declares a peer dead after
// dead_after_ns without any heartbeat however regular its history was, so a peer that
// heartbeated very slowly cannot stay "live" for ever.
//
// Time is injected: every call takes `now_ns` from the caller's clock (monotonic, in
// nanoseconds), so tests are deterministic.
//
// Bounds: window_size intervals per peer and at most max_peers peers; a heartbeat from
// a new peer when full evicts the peer heard from least recently.
//
// Thread safety: safe for concurrent use (one internal mutex).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace rangedb {

struct PhiAccrualOptions {
  // Inter-arrival intervals remembered per peer; older ones are forgotten.
  size_t window_size = 100;
  // Floor on the modelled standard deviation.
  int64_t min_stddev_ns = 100'000'000;  // 100 ms
  // Added to the mean interval before computing phi.
  int64_t acceptable_pause_ns = 1'000'000'000;  // 1 s
  // The mean interval assumed before a peer's second heartbeat (standard deviation:
  // a quarter of it, floored by min_stddev_ns).
  int64_t first_interval_estimate_ns = 1'000'000'000;  // 1 s
  // phi at or above which a peer is suspect: a live peer is this late ~1 time in 1000.
  double suspect_phi = 3.0;
  // phi at or above which a peer is dead: the conviction threshold Akka and Cassandra
  // use by default (~1 in 10^8).
  double dead_phi = 8.0;
  // A peer silent this long is dead whatever phi says.
  int64_t dead_after_ns = 10'000'000'000;  // 10 s
  // Peers tracked at most.
  size_t max_peers = 10'000;
};

enum class PeerState { kUnknown, kLive, kSuspect, kDead };

// "unknown", "live", "suspect", "dead" (the strings of nodepb::NodeLiveness.state).
std::string_view PeerStateName(PeerState state);

class PhiAccrualDetector {
 public:
  // REQUIRES: window_size >= 1, min_stddev_ns > 0, suspect_phi <= dead_phi,
  // first_interval_estimate_ns > 0, max_peers >= 1.
  explicit PhiAccrualDetector(PhiAccrualOptions options = {});

  // Records a heartbeat from `peer` at now_ns. A heartbeat older than the latest one
  // (reordered delivery) is ignored.
  void Heartbeat(uint64_t peer, int64_t now_ns);

  // The suspicion level of `peer` at now_ns: 0 for an unknown peer or a time not after
  // the last heartbeat; otherwise finite, and non-decreasing in now_ns.
  double Phi(uint64_t peer, int64_t now_ns) const;

  // kUnknown if `peer` never sent a heartbeat (or was removed or evicted); otherwise
  // kDead, kSuspect or kLive by the thresholds in the options.
  PeerState State(uint64_t peer, int64_t now_ns) const;

  // Time of the latest heartbeat from `peer`, if any.
  std::optional<int64_t> LastHeartbeatNs(uint64_t peer) const;

  // Forgets `peer` (e.g. decommissioned).
  void Remove(uint64_t peer);

  // Every tracked peer, in no particular order.
  std::vector<uint64_t> Peers() const;

  // The number of intervals held for `peer` (for tests of the window bound).
  size_t WindowSizeForTesting(uint64_t peer) const;

 private:
  struct PeerHistory {
    int64_t last_heartbeat_ns = 0;
    std::deque<int64_t> intervals_ns;  // at most options_.window_size
  };

  double PhiLocked(const PeerHistory& history, int64_t now_ns) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  void EvictOldestLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const PhiAccrualOptions options_;
  mutable absl::Mutex mu_;
  std::unordered_map<uint64_t, PeerHistory> peers_ ABSL_GUARDED_BY(mu_);
};

// -log10(P(X > x)) for X ~ Normal(mean, stddev): finite and non-decreasing in x even
// where the tail probability underflows a double. Exposed for tests.
double PhiOfNormal(double x, double mean, double stddev);

}  // namespace rangedb
