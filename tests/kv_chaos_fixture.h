// The fixture of the KV chaos tests (tests/kv_chaos_test.cc): a real rangedb cluster
// (tests/cluster_harness.h) per test, started so that every node holds replicas, plus
// the helpers the tests' nemeses and checks share — leaseholder and replica lookup,
// kill-and-restart, partition-and-heal, waiting for the cluster to serve again, client
// host lists, and the linearizability check that keeps the evidence of a violation.
//
// Environment (read by ChaosDuration and ChaosSeed):
//   RANGEDB_CHAOS_SECONDS  length of the fault phases (default: short, for CI)
//   RANGEDB_CHAOS_SEED     seed of the workload and nemesis choices (default: random)
//
// Thread safety: a fixture is driven by the test's main thread (the harness is not
// thread-safe); only the History it is given is shared with client threads.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/kv.pb.h"
#include "tests/cluster_harness.h"
#include "tests/kv_history.h"
#include "tests/linearizability.h"

namespace rangedb::chaos {

// How many times slower every process runs in this build: ThreadSanitizer costs
// 5-15x CPU, and on a loaded 2-core machine its chaos runs need waits that long.
// Liveness deadlines (how long a test waits for the cluster to get somewhere) are
// multiplied by it; safety checks never are.
#if defined(__SANITIZE_THREAD__)
inline constexpr int kSanitizerSlowdown = 4;
#else
inline constexpr int kSanitizerSlowdown = 1;
#endif

inline constexpr absl::Duration kReadyTimeout = absl::Seconds(30);
inline constexpr absl::Duration kLeaseholderTimeout = absl::Seconds(15);

// RANGEDB_CHAOS_SECONDS if set (the soak), else `ci_default`.
absl::Duration ChaosDuration(absl::Duration ci_default);
// RANGEDB_CHAOS_SEED if set, else a random seed.
uint64_t ChaosSeed();

// Sets *stop and joins the threads when it goes out of scope, so a failed ASSERT
// cannot leave joinable threads behind.
class JoinOnExit {
 public:
  JoinOnExit(std::atomic<bool>* stop, std::vector<std::thread>* threads)
      : stop_(stop), threads_(threads) {}
  JoinOnExit(const JoinOnExit&) = delete;
  JoinOnExit& operator=(const JoinOnExit&) = delete;
  ~JoinOnExit();

 private:
  std::atomic<bool>* stop_;
  std::vector<std::thread>* threads_;
};

class KvChaosTest : public ::testing::Test {
 protected:
  // Picks the seed (ChaosSeed) and prints it.
  void SetUp() override;

  // Creates a fresh cluster of options.num_nodes nodes (one per test), lets `configure`
  // set per-node options, and starts and initializes it. False (with a failure
  // recorded) if it cannot.
  bool StartCluster(harness::ClusterOptions options = {},
                    const std::function<void(harness::ClusterHarness&)>& configure = {});
  absl::Status StartClusterOrError(harness::ClusterOptions options,
                                   const std::function<void(harness::ClusterHarness&)>& configure);

  // REQUIRES: a cluster was created.
  int num_nodes() const { return cluster_->num_nodes(); }

  // Polls node i's Admin.NodeStatus until it answers (the node's gRPC server is up).
  absl::Status WaitListening(int i);

  // Every range must have min(num_nodes, 3) replicas (init's replication factor) and
  // every node must hold one: on 3 nodes, every range on every node, or killing one
  // node could stall.
  absl::Status CheckFullyReplicated();

  // The index of the node holding the lease of `key`'s range: of the range reports of
  // every running node, the one at the highest (term, applied index) names it.
  absl::StatusOr<int> FindLeaseholder(const std::string& key);

  // Polls FindLeaseholder until it names a running, unpaused node.
  absl::StatusOr<int> WaitLeaseholder(const std::string& key,
                                      absl::Duration timeout = kLeaseholderTimeout);

  // The descriptor of every range, as reported by the running nodes (the highest
  // generation of each range wins), in range id order.
  absl::StatusOr<std::vector<kvpb::RangeDescriptor>> RangeDescriptors();
  // The indexes of the nodes holding a replica of `key`'s range, ascending.
  absl::StatusOr<std::vector<int>> ReplicaNodes(const std::string& key);
  // The indexes of the nodes that `d` places replicas on, ascending; a node id not in
  // the cluster is left out. REQUIRES: LoadNodeIds succeeded (StartCluster does it).
  std::vector<int> NodeIndexes(const kvpb::RangeDescriptor& d) const;

  // Kills node i (SIGKILL), waits `down`, restarts it and waits until it is ready.
  absl::Status KillAndRestart(int i, absl::Duration down);

  // Every node index but `node`, ascending.
  std::vector<int> OtherNodes(int node) const;

  // Keeps the current partition for `duration`, prints and returns the writes of
  // `history` that succeeded meanwhile, then heals and waits `settle`.
  int64_t HoldThenHeal(const History& history, absl::Duration duration, absl::Duration settle);

  // Polls until `history` holds a successful write called at or after `from_ns`
  // (the cluster serves writes again). False after `timeout`.
  bool WaitOkWriteSince(const History& history, int64_t from_ns, absl::Duration timeout);

  // Polls until every replica of `key`'s range reports the same applied index: then
  // each has applied everything acknowledged before the call.
  bool WaitReplicasConverged(const std::string& key, absl::Duration timeout);

  // Host lists for `per_node` clients per node, each with its node first.
  std::vector<std::vector<std::string>> ClientHosts(int per_node) const;

  // Two clients per node on five keys, half of them with a 1 s budget.
  WorkloadOptions DefaultWorkload() const;

  // Uniform in [lo, hi], at millisecond granularity, from the seeded generator.
  absl::Duration RandomDuration(absl::Duration lo, absl::Duration hi);

  // Checks the history; on anything but kOk keeps the cluster directory (node logs)
  // and writes the history next to it.
  void ExpectLinearizable(const History& history, const std::string& label);

  // Keeps the cluster directory and writes the history into it.
  void KeepEvidence(const std::vector<linearizability::Operation>& ops);

  // Every node must still be running: a node that died by itself crashed.
  void ExpectAllRunning();

  uint64_t seed_ = 0;
  std::mt19937_64 rng_;
  std::unique_ptr<harness::ClusterHarness> cluster_;
};

}  // namespace rangedb::chaos
