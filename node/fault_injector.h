// FaultInjector: the test-only hook through which the cluster harness partitions
// nodes (tests/cluster_harness.h). It exists only when a node runs with
// --testing-faults; production code holds a null pointer and checks nothing else.
//
// Rules are per peer node id: drop what this node sends to a peer (outbound) and/or
// what it receives from a peer (inbound, for messages that name their sender: Raft
// batches, gossip, pings). A symmetric partition sets both directions on both sides;
// a one-way partition sets one. Set() replaces all rules; an empty rule set heals.
//
// It can also refuse the next N Bootstrap RPCs (RefuseBootstraps), to fail an init
// half-way, and the next N init claims (RefuseClaims), to stand for a partition that
// starts between init's ping and its claim (node/node_init_test.cc).
//
// Thread safety: safe for concurrent use.
#pragma once

#include <cstdint>
#include <set>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace rangedb {

class FaultInjector {
 public:
  void Set(std::set<uint64_t> drop_inbound_from, std::set<uint64_t> drop_outbound_to) {
    absl::MutexLock lock(&mu_);
    drop_inbound_from_ = std::move(drop_inbound_from);
    drop_outbound_to_ = std::move(drop_outbound_to);
  }
  bool DropInbound(uint64_t from_node_id) const {
    absl::MutexLock lock(&mu_);
    return drop_inbound_from_.count(from_node_id) > 0;
  }
  bool DropOutbound(uint64_t to_node_id) const {
    absl::MutexLock lock(&mu_);
    return drop_outbound_to_.count(to_node_id) > 0;
  }
  // The next `count` calls of RefuseBootstrap return true.
  void RefuseBootstraps(int count) {
    absl::MutexLock lock(&mu_);
    refuse_bootstraps_ = count > 0 ? count : 0;
  }
  bool RefuseBootstrap() {
    absl::MutexLock lock(&mu_);
    if (refuse_bootstraps_ == 0) return false;
    --refuse_bootstraps_;
    return true;
  }
  // The next `count` calls of RefuseClaim return true: Internal.ClaimForInit (a claim
  // or a release) then fails with UNAVAILABLE, while pings are still answered.
  void RefuseClaims(int count) {
    absl::MutexLock lock(&mu_);
    refuse_claims_ = count > 0 ? count : 0;
  }
  bool RefuseClaim() {
    absl::MutexLock lock(&mu_);
    if (refuse_claims_ == 0) return false;
    --refuse_claims_;
    return true;
  }

 private:
  mutable absl::Mutex mu_;
  std::set<uint64_t> drop_inbound_from_ ABSL_GUARDED_BY(mu_);
  std::set<uint64_t> drop_outbound_to_ ABSL_GUARDED_BY(mu_);
  int refuse_bootstraps_ ABSL_GUARDED_BY(mu_) = 0;
  int refuse_claims_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace rangedb
