#include "node/phi_accrual.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "base/check.h"

namespace rangedb {

std::string_view PeerStateName(PeerState state) {
  switch (state) {
    case PeerState::kUnknown:
      return "unknown";
    case PeerState::kLive:
      return "live";
    case PeerState::kSuspect:
      return "suspect";
    case PeerState::kDead:
      return "dead";
  }
  return "unknown";
}

double PhiOfNormal(double x, double mean, double stddev) {
  double z = (x - mean) / stddev;
  // Up to z = 30 the tail 0.5 * erfc(z / sqrt 2) (~1e-198 there) is representable.
  if (z <= 30) {
    double tail = 0.5 * std::erfc(z / std::numbers::sqrt2);
    return std::max(0.0, -std::log10(tail));
  }
  // Beyond, use the asymptotic expansion tail ≈ pdf(z) / z * (1 - 1/z²). Truncating
  // the series underestimates the tail, so phi only steps up at the switch-over.
  double ln_tail =
      -0.5 * z * z - std::log(z * std::sqrt(2 * std::numbers::pi)) + std::log1p(-1 / (z * z));
  return -ln_tail / std::numbers::ln10;
}

PhiAccrualDetector::PhiAccrualDetector(PhiAccrualOptions options) : options_(options) {
  // Invalid options are a programming error (the node sets them).
  RANGEDB_CHECK_GE(options_.window_size, 1) << "PhiAccrualDetector: invalid options";
  RANGEDB_CHECK_GT(options_.min_stddev_ns, 0) << "PhiAccrualDetector: invalid options";
  RANGEDB_CHECK_GT(options_.first_interval_estimate_ns, 0) << "PhiAccrualDetector: invalid options";
  RANGEDB_CHECK_LE(options_.suspect_phi, options_.dead_phi)
      << "PhiAccrualDetector: invalid options";
  RANGEDB_CHECK_GE(options_.max_peers, 1) << "PhiAccrualDetector: invalid options";
}

void PhiAccrualDetector::Heartbeat(uint64_t peer, int64_t now_ns) {
  absl::MutexLock lock(&mu_);
  auto it = peers_.find(peer);
  if (it == peers_.end()) {
    if (peers_.size() >= options_.max_peers) EvictOldestLocked();
    peers_[peer].last_heartbeat_ns = now_ns;
    return;
  }
  PeerHistory& history = it->second;
  if (now_ns <= history.last_heartbeat_ns) return;  // reordered or duplicate
  history.intervals_ns.push_back(now_ns - history.last_heartbeat_ns);
  if (history.intervals_ns.size() > options_.window_size) history.intervals_ns.pop_front();
  history.last_heartbeat_ns = now_ns;
}

void PhiAccrualDetector::EvictOldestLocked() {
  auto oldest = peers_.begin();
  for (auto it = peers_.begin(); it != peers_.end(); ++it) {
    if (it->second.last_heartbeat_ns < oldest->second.last_heartbeat_ns) oldest = it;
  }
  if (oldest != peers_.end()) peers_.erase(oldest);
}

double PhiAccrualDetector::PhiLocked(const PeerHistory& history, int64_t now_ns) const {
  if (now_ns <= history.last_heartbeat_ns) return 0;
  double mean_ns;
  double stddev_ns;
  if (history.intervals_ns.empty()) {
    mean_ns = static_cast<double>(options_.first_interval_estimate_ns);
    stddev_ns = mean_ns / 4;
  } else {
    // The window holds at most window_size values: recomputing is cheap and avoids
    // the drift of running sums.
    double sum = 0;
    for (int64_t interval : history.intervals_ns) sum += static_cast<double>(interval);
    mean_ns = sum / static_cast<double>(history.intervals_ns.size());
    double squares = 0;
    for (int64_t interval : history.intervals_ns) {
      double d = static_cast<double>(interval) - mean_ns;
      squares += d * d;
    }
    stddev_ns = std::sqrt(squares / static_cast<double>(history.intervals_ns.size()));
  }
  stddev_ns = std::max(stddev_ns, static_cast<double>(options_.min_stddev_ns));
  mean_ns += static_cast<double>(options_.acceptable_pause_ns);
  return PhiOfNormal(static_cast<double>(now_ns - history.last_heartbeat_ns), mean_ns, stddev_ns);
}

double PhiAccrualDetector::Phi(uint64_t peer, int64_t now_ns) const {
  absl::MutexLock lock(&mu_);
  auto it = peers_.find(peer);
  return it == peers_.end() ? 0 : PhiLocked(it->second, now_ns);
}

PeerState PhiAccrualDetector::State(uint64_t peer, int64_t now_ns) const {
  absl::MutexLock lock(&mu_);
  auto it = peers_.find(peer);
  if (it == peers_.end()) return PeerState::kUnknown;
  if (now_ns - it->second.last_heartbeat_ns >= options_.dead_after_ns) return PeerState::kDead;
  double phi = PhiLocked(it->second, now_ns);
  if (phi >= options_.dead_phi) return PeerState::kDead;
  if (phi >= options_.suspect_phi) return PeerState::kSuspect;
  return PeerState::kLive;
}

std::optional<int64_t> PhiAccrualDetector::LastHeartbeatNs(uint64_t peer) const {
  absl::MutexLock lock(&mu_);
  auto it = peers_.find(peer);
  if (it == peers_.end()) return std::nullopt;
  return it->second.last_heartbeat_ns;
}

void PhiAccrualDetector::Remove(uint64_t peer) {
  absl::MutexLock lock(&mu_);
  peers_.erase(peer);
}

std::vector<uint64_t> PhiAccrualDetector::Peers() const {
  absl::MutexLock lock(&mu_);
  std::vector<uint64_t> peers;
  peers.reserve(peers_.size());
  for (const auto& [peer, history] : peers_) peers.push_back(peer);
  return peers;
}

size_t PhiAccrualDetector::WindowSizeForTesting(uint64_t peer) const {
  absl::MutexLock lock(&mu_);
  auto it = peers_.find(peer);
  return it == peers_.end() ? 0 : it->second.intervals_ns.size();
}

}  // namespace rangedb
