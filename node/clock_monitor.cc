#include "node/clock_monitor.h"

#include <algorithm>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace rangedb {

void ClockMonitor::Record(uint64_t node_id, int64_t send_ns, int64_t receive_ns,
                          int64_t remote_ns) {
  if (receive_ns < send_ns) return;  // the local clock stepped back: no measurement
  Sample m;
  m.offset_ns = remote_ns - (send_ns + (receive_ns - send_ns) / 2);
  m.error_ns = (receive_ns - send_ns) / 2;
  m.at_ns = receive_ns;
  absl::MutexLock lock(&mu_);
  peers_[node_id] = m;
}

void ClockMonitor::Forget(uint64_t node_id) {
  absl::MutexLock lock(&mu_);
  peers_.erase(node_id);
}

int FenceMembers(const std::map<uint64_t, std::string>& addresses) {
  std::map<std::string, uint64_t> newest_at;  // address -> the highest id seen there
  for (const auto& [id, addr] : addresses) {
    uint64_t& newest = newest_at[addr];
    newest = std::max(newest, id);
  }
  int members = 0;
  for (const auto& [id, addr] : addresses) {
    if (newest_at[addr] == id) ++members;
  }
  return members;
}

int64_t ClockMonitor::LimitNanos() const {
  return static_cast<int64_t>(static_cast<double>(absl::ToInt64Nanoseconds(max_offset_)) *
                              kFenceFraction);
}

ClockAssessment ClockMonitor::Assess(int64_t now_ns, int cluster_size) const {
  ClockAssessment a;
  a.cluster_size = std::max(cluster_size, 1);
  a.majority = a.cluster_size / 2 + 1;
  const int64_t limit_ns = LimitNanos();
  if (limit_ns <= 0) {  // no bound configured: never fence
    a.clear = true;
    return a;
  }
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, m] : peers_) {
      if (!Recent(m, now_ns)) continue;
      ++a.measured;
      const int64_t abs_ns = std::llabs(m.offset_ns);
      if (abs_ns - m.error_ns > limit_ns) a.far.push_back({id, m.offset_ns, m.error_ns});
      if (abs_ns + m.error_ns <= limit_ns) ++a.near;
    }
  }
  a.fence = static_cast<int>(a.far.size()) >= a.majority;
  a.clear = a.near + 1 >= a.majority;
  if (a.far.empty()) return a;
  std::vector<std::string> peers;
  for (const PeerClock& p : a.far) {
    // The peer's offset from us, so ours from the peer is its negation.
    peers.push_back(absl::StrCat("node ", p.node_id, " (this clock is ",
                                 absl::FormatDuration(absl::Nanoseconds(std::llabs(p.offset_ns))),
                                 p.offset_ns < 0 ? " ahead" : " behind", ")"));
  }
  const std::string limit =
      absl::StrCat(absl::FormatDuration(absl::Nanoseconds(limit_ns)), " (",
                   static_cast<int>(kFenceFraction * 100),
                   "% of --max-offset=", absl::FormatDuration(max_offset_), ")");
  if (a.fence) {
    a.message = absl::StrCat(
        "this node's clock is more than ", limit, " away from ", a.far.size(), " of the ",
        a.cluster_size, " nodes of the cluster: ", absl::StrJoin(peers, ", "),
        "; it stops serving until its clock is back within bounds (check NTP / chrony)");
  } else {
    std::vector<std::string> off;
    for (const PeerClock& p : a.far) {
      off.push_back(absl::StrCat("node ", p.node_id, "'s clock is ",
                                 absl::FormatDuration(absl::Nanoseconds(std::llabs(p.offset_ns))),
                                 p.offset_ns > 0 ? " ahead of" : " behind", " this node's"));
    }
    a.message =
        absl::StrCat(absl::StrJoin(off, "; "), " (more than ", limit, "); that is ", a.far.size(),
                     " of the ", a.cluster_size,
                     " nodes, not a majority, so this node keeps serving: check that node's "
                     "clock (NTP / chrony)");
  }
  return a;
}

std::optional<PeerClock> ClockMonitor::Measurement(uint64_t node_id, int64_t now_ns) const {
  absl::MutexLock lock(&mu_);
  auto it = peers_.find(node_id);
  if (it == peers_.end() || !Recent(it->second, now_ns)) return std::nullopt;
  return PeerClock{node_id, it->second.offset_ns, it->second.error_ns};
}

}  // namespace rangedb
