// ClockMonitor: this node's clock offset to its peers, measured by the pings, and the
// verdict on whether it may keep serving (DESIGN.md §6, docs/transactions.md "Clocks").
//
// Each ping gives one measurement of a peer's physical clock: the peer's reading
// minus the midpoint of the round trip, with half the round trip as its error. The
// latest measurement per peer counts, for kMeasurementTtl. A node whose offset to
// more than half of the peers it has recent measurements of exceeds kFenceFraction
// (80%) of --max-offset, even after subtracting the measurement error, is the odd
// one out: its clock (not theirs) is wrong, and serving with it could break the
// uncertainty and lease arguments. The node then stops serving.
//
// Thread safety: safe for concurrent use.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace rangedb {

class ClockMonitor {
 public:
  static constexpr double kFenceFraction = 0.8;
  static constexpr absl::Duration kMeasurementTtl = absl::Seconds(10);

  explicit ClockMonitor(absl::Duration max_offset) : max_offset_(max_offset) {}

  // One ping to node_id: sent at local physical time send_ns, answered at receive_ns,
  // carrying the peer's physical reading remote_ns.
  void Record(uint64_t node_id, int64_t send_ns, int64_t receive_ns, int64_t remote_ns);
  // Forgets a peer (it left or was declared dead).
  void Forget(uint64_t node_id);

  // Empty if this node may serve; otherwise why not (a message for the operator).
  // now_ns: the local physical clock, to age measurements out.
  std::string Verdict(int64_t now_ns) const;

  // The last measured offset to node_id (peer minus us), for /status; 0 if none.
  int64_t OffsetNanos(uint64_t node_id) const;

 private:
  struct Measurement {
    int64_t offset_ns = 0;
    int64_t error_ns = 0;
    int64_t at_ns = 0;  // local physical time of the measurement
  };
  const absl::Duration max_offset_;
  mutable absl::Mutex mu_;
  std::map<uint64_t, Measurement> peers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rangedb
