// ClockMonitor: this node's clock offset to its peers, measured by the pings, and the
// verdict on whether it may serve (DESIGN.md §6, docs/transactions.md "Clocks").
//
// Each ping gives one measurement of a peer's physical clock: the peer's reading
// minus the midpoint of the round trip, with half the round trip as its error. The
// latest measurement per peer counts, for kMeasurementTtl.
//
// The verdict is taken against the whole cluster (cluster_size nodes, this one
// included), never against only the peers heard from:
//   * far:  |offset| - error > limit, surely more than the limit (kFenceFraction,
//           80%, of --max-offset) away;
//   * near: |offset| + error <= limit, surely within it.
// The node fences when it is far from a majority of the cluster (far peers >=
// cluster_size / 2 + 1): then its clock, not theirs, is the odd one out. It serves
// again when it is near a majority, counting itself (near peers + 1 >= majority).
// Too few measurements decide nothing: a node that heard from one peer of three keeps
// its current state. The two conditions cannot hold at once; between them (e.g. a
// peer down, or a measurement in doubt) the state stays as it is. A cluster of two
// cannot tell which clock is wrong: neither node ever fences (both report the
// offset).
//
// Thread safety: safe for concurrent use.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace rangedb {

// The members a fence decision counts: the node ids of `addresses` (every node id
// this node knows, with its last known address), except ids REPLACED at their
// address: when two ids share an address, the lower one was the node whose store was
// lost there, and the higher one the new node that joined in its place (node ids only
// grow and are never reused). The replaced id never comes back (its store is gone),
// so counting it would only raise the majority out of reach (review finding N2). A
// node that moved keeps counting: its gossip gives its id the new address.
int FenceMembers(const std::map<uint64_t, std::string>& addresses);

// One peer's measured clock: its offset (peer minus us) and the error bound.
struct PeerClock {
  uint64_t node_id = 0;
  int64_t offset_ns = 0;
  int64_t error_ns = 0;
};

// What the measurements say about this node's clock, now.
struct ClockAssessment {
  int cluster_size = 0;        // nodes in the cluster, this one included
  int majority = 0;            // cluster_size / 2 + 1
  int measured = 0;            // peers with a recent measurement
  std::vector<PeerClock> far;  // peers surely beyond the limit, by node id
  int near = 0;                // peers surely within the limit
  // far.size() >= majority: this node's clock is the odd one out.
  bool fence = false;
  // near + 1 >= majority: this node agrees with a majority, itself included.
  bool clear = false;
  // For the operator: which nodes, what offsets, what limit. Empty if far is empty.
  std::string message;
};

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

  // The verdict for a cluster of cluster_size nodes (this one included; values below
  // 1 count as 1). now_ns: the local physical clock, to age measurements out.
  ClockAssessment Assess(int64_t now_ns, int cluster_size) const;

  // The last measurement of node_id if it is recent, for /status.
  std::optional<PeerClock> Measurement(uint64_t node_id, int64_t now_ns) const;

  // The limit: kFenceFraction of max_offset.
  int64_t LimitNanos() const;

 private:
  struct Sample {
    int64_t offset_ns = 0;
    int64_t error_ns = 0;
    int64_t at_ns = 0;  // local physical time of the measurement
  };
  bool Recent(const Sample& s, int64_t now_ns) const {
    return now_ns - s.at_ns <= absl::ToInt64Nanoseconds(kMeasurementTtl) && s.at_ns <= now_ns;
  }

  const absl::Duration max_offset_;
  mutable absl::Mutex mu_;
  std::map<uint64_t, Sample> peers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rangedb
