#include "node/clock_monitor.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace rangedb {

void ClockMonitor::Record(uint64_t node_id, int64_t send_ns, int64_t receive_ns,
                          int64_t remote_ns) {
  if (receive_ns < send_ns) return;  // the local clock stepped back: no measurement
  Measurement m;
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

std::string ClockMonitor::Verdict(int64_t now_ns) const {
  const int64_t limit_ns = static_cast<int64_t>(
      static_cast<double>(absl::ToInt64Nanoseconds(max_offset_)) * kFenceFraction);
  if (limit_ns <= 0) return "";
  absl::MutexLock lock(&mu_);
  int recent = 0, far = 0;
  int64_t worst_ns = 0;
  for (const auto& [id, m] : peers_) {
    if (now_ns - m.at_ns > absl::ToInt64Nanoseconds(kMeasurementTtl)) continue;
    ++recent;
    const int64_t surely_off = std::llabs(m.offset_ns) - m.error_ns;
    if (surely_off > limit_ns) {
      ++far;
      if (std::llabs(m.offset_ns) > std::llabs(worst_ns)) worst_ns = m.offset_ns;
    }
  }
  if (recent == 0 || 2 * far <= recent) return "";
  return absl::StrCat(
      "this node's clock is more than ", absl::FormatDuration(absl::Nanoseconds(limit_ns)), " (",
      static_cast<int>(kFenceFraction * 100),
      "% of --max-offset=", absl::FormatDuration(max_offset_), ") away from ", far, " of ", recent,
      " peers (e.g. ", absl::FormatDuration(absl::Nanoseconds(worst_ns)),
      "); it stops serving until its clock is fixed (check NTP / chrony)");
}

int64_t ClockMonitor::OffsetNanos(uint64_t node_id) const {
  absl::MutexLock lock(&mu_);
  auto it = peers_.find(node_id);
  return it == peers_.end() ? 0 : it->second.offset_ns;
}

}  // namespace rangedb
