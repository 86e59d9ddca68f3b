// The KV chaos tests' fixture; see tests/kv_chaos_fixture.h.
#include "tests/kv_chaos_fixture.h"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace rangedb::chaos {

using harness::ClusterHarness;
using harness::ClusterOptions;
using linearizability::Verdict;

namespace {

// Init's replication factor (ranges::PlanInitialRanges): each range on this many nodes,
// or on every node of a smaller cluster.
constexpr int kReplicationFactor = 3;

bool RangeContains(const kvpb::RangeDescriptor& d, const std::string& key) {
  return key >= d.start_key() && (d.end_key().empty() || key < d.end_key());
}

}  // namespace

absl::Duration ChaosDuration(absl::Duration ci_default) {
  const char* env = std::getenv("RANGEDB_CHAOS_SECONDS");
  int64_t seconds = 0;
  if (env != nullptr && absl::SimpleAtoi(env, &seconds) && seconds > 0) {
    return absl::Seconds(seconds);
  }
  return ci_default;
}

uint64_t ChaosSeed() {
  const char* env = std::getenv("RANGEDB_CHAOS_SEED");
  uint64_t seed = 0;
  if (env != nullptr && absl::SimpleAtoi(env, &seed)) return seed;
  return std::random_device{}();
}

JoinOnExit::~JoinOnExit() {
  stop_->store(true);
  for (std::thread& t : *threads_) {
    if (t.joinable()) t.join();
  }
}

void KvChaosTest::SetUp() {
  seed_ = ChaosSeed();
  rng_.seed(seed_);
  std::cout << "seed=" << seed_ << " (replay the choices with RANGEDB_CHAOS_SEED=" << seed_
            << ")\n";
}

bool KvChaosTest::StartCluster(ClusterOptions options,
                               const std::function<void(ClusterHarness&)>& configure) {
  const absl::Status s = StartClusterOrError(std::move(options), configure);
  EXPECT_TRUE(s.ok()) << "starting the cluster: " << s;
  return s.ok();
}

absl::Status KvChaosTest::StartClusterOrError(
    ClusterOptions options, const std::function<void(ClusterHarness&)>& configure) {
  absl::StatusOr<std::unique_ptr<ClusterHarness>> c = ClusterHarness::Create(std::move(options));
  if (!c.ok()) return c.status();
  cluster_ = *std::move(c);
  if (configure) configure(*cluster_);
  // Like ClusterHarness::StartCluster, but init only once every node answers RPCs:
  // init leaves out a node that is not listening yet ("it can join later"), and a
  // node that joins later holds no replicas, so ranges would be under-replicated.
  if (absl::Status s = cluster_->StartAll(); !s.ok()) return s;
  for (int i = 0; i < num_nodes(); ++i) {
    if (absl::Status s = WaitListening(i); !s.ok()) return s;
  }
  if (absl::Status s = cluster_->Init(); !s.ok()) return s;
  if (absl::Status s = cluster_->WaitAllReady(kReadyTimeout); !s.ok()) return s;
  if (absl::Status s = cluster_->LoadNodeIds(); !s.ok()) return s;
  return CheckFullyReplicated();
}

absl::Status KvChaosTest::WaitListening(int i) {
  const absl::Time deadline = absl::Now() + kReadyTimeout;
  absl::Status last;
  while (absl::Now() < deadline) {
    absl::StatusOr<nodepb::NodeStatusResponse> status = cluster_->NodeStatus(i);
    if (status.ok()) return absl::OkStatus();
    last = status.status();
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("node ", i, " does not answer NodeStatus: ", last.ToString()));
}

absl::Status KvChaosTest::CheckFullyReplicated() {
  const int want = std::min(num_nodes(), kReplicationFactor);
  for (int i = 0; i < num_nodes(); ++i) {
    absl::StatusOr<nodepb::NodeStatusResponse> status = cluster_->NodeStatus(i);
    if (!status.ok()) return status.status();
    for (const nodepb::RangeStatus& r : status->ranges()) {
      if (r.range_descriptor().replicas_size() != want) {
        return absl::FailedPreconditionError(
            absl::StrCat("range ", r.range_descriptor().range_id(), " has ",
                         r.range_descriptor().replicas_size(), " replicas, want ", want));
      }
    }
    if (status->ranges_size() == 0) {
      return absl::FailedPreconditionError(absl::StrCat("node ", i, " holds no replicas"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int> KvChaosTest::FindLeaseholder(const std::string& key) {
  uint64_t best_term = 0, best_applied = 0, holder = 0;
  for (int i = 0; i < num_nodes(); ++i) {
    if (!cluster_->IsRunning(i) || cluster_->IsStopped(i)) continue;
    absl::StatusOr<nodepb::NodeStatusResponse> status = cluster_->NodeStatus(i);
    if (!status.ok()) continue;
    for (const nodepb::RangeStatus& r : status->ranges()) {
      if (!RangeContains(r.range_descriptor(), key)) continue;
      if (std::make_pair(r.term(), r.applied_index()) > std::make_pair(best_term, best_applied)) {
        best_term = r.term();
        best_applied = r.applied_index();
        holder = r.leaseholder_node_id();
      }
    }
  }
  for (int i = 0; i < num_nodes(); ++i) {
    if (holder != 0 && cluster_->node_id(i) == holder) return i;
  }
  return absl::UnavailableError(absl::StrCat("no leaseholder known for ", key));
}

absl::StatusOr<int> KvChaosTest::WaitLeaseholder(const std::string& key, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status last = absl::DeadlineExceededError("no attempt");
  while (absl::Now() < deadline) {
    absl::StatusOr<int> i = FindLeaseholder(key);
    if (i.ok() && cluster_->IsRunning(*i) && !cluster_->IsStopped(*i)) return i;
    last = i.ok() ? absl::UnavailableError(absl::StrCat("leaseholder node ", *i, " is down"))
                  : i.status();
    absl::SleepFor(absl::Milliseconds(200));
  }
  return absl::DeadlineExceededError(absl::StrCat("no live leaseholder of ", key, " within ",
                                                  absl::FormatDuration(timeout), ": ",
                                                  last.message()));
}

absl::StatusOr<std::vector<kvpb::RangeDescriptor>> KvChaosTest::RangeDescriptors() {
  std::map<uint64_t, kvpb::RangeDescriptor> by_id;
  absl::Status last = absl::UnavailableError("no node is running");
  for (int i = 0; i < num_nodes(); ++i) {
    if (!cluster_->IsRunning(i) || cluster_->IsStopped(i)) continue;
    absl::StatusOr<nodepb::NodeStatusResponse> status = cluster_->NodeStatus(i);
    if (!status.ok()) {
      last = status.status();
      continue;
    }
    for (const nodepb::RangeStatus& r : status->ranges()) {
      const kvpb::RangeDescriptor& d = r.range_descriptor();
      auto [it, inserted] = by_id.emplace(d.range_id(), d);
      if (!inserted && d.generation() > it->second.generation()) it->second = d;
    }
  }
  if (by_id.empty()) return last;
  std::vector<kvpb::RangeDescriptor> descriptors;
  for (auto& entry : by_id) descriptors.push_back(std::move(entry.second));
  return descriptors;
}

absl::StatusOr<std::vector<int>> KvChaosTest::ReplicaNodes(const std::string& key) {
  absl::StatusOr<std::vector<kvpb::RangeDescriptor>> descriptors = RangeDescriptors();
  if (!descriptors.ok()) return descriptors.status();
  for (const kvpb::RangeDescriptor& d : *descriptors) {
    if (!RangeContains(d, key)) continue;
    std::vector<int> nodes = NodeIndexes(d);
    if (nodes.size() != static_cast<size_t>(d.replicas_size())) {
      return absl::InternalError(
          absl::StrCat("range ", d.range_id(), " of ", key, " has a replica on an unknown node"));
    }
    return nodes;
  }
  return absl::NotFoundError(absl::StrCat("no node reports the range of ", key));
}

std::vector<int> KvChaosTest::NodeIndexes(const kvpb::RangeDescriptor& d) const {
  std::vector<int> nodes;
  for (int i = 0; i < num_nodes(); ++i) {
    for (const kvpb::ReplicaDescriptor& r : d.replicas()) {
      if (cluster_->node_id(i) == r.node_id()) nodes.push_back(i);
    }
  }
  return nodes;
}

absl::Status KvChaosTest::KillAndRestart(int i, absl::Duration down) {
  if (absl::Status s = cluster_->Kill(i); !s.ok()) return s;
  absl::SleepFor(down);
  if (absl::Status s = cluster_->Restart(i); !s.ok()) return s;
  return cluster_->WaitReady(i, kReadyTimeout);
}

std::vector<int> KvChaosTest::OtherNodes(int node) const {
  std::vector<int> rest;
  for (int i = 0; i < num_nodes(); ++i) {
    if (i != node) rest.push_back(i);
  }
  return rest;
}

int64_t KvChaosTest::HoldThenHeal(const History& history, absl::Duration duration,
                                  absl::Duration settle) {
  const int64_t start_ns = MonotonicNowNs();
  absl::SleepFor(duration);
  const int64_t ok_writes = history.OkWritesBetween(start_ns, MonotonicNowNs());
  std::cout << "  ok writes during the partition: " << ok_writes << "; heal\n";
  EXPECT_TRUE(cluster_->Heal().ok());
  absl::SleepFor(settle);
  return ok_writes;
}

bool KvChaosTest::WaitOkWriteSince(const History& history, int64_t from_ns,
                                   absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (history.OkWritesBetween(from_ns, INT64_MAX) > 0) return true;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return false;
}

bool KvChaosTest::WaitReplicasConverged(const std::string& key, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    std::vector<uint64_t> applied;
    int replicas = -1;  // of the range, from its descriptor
    for (int i = 0; i < num_nodes(); ++i) {
      absl::StatusOr<nodepb::NodeStatusResponse> status = cluster_->NodeStatus(i);
      if (!status.ok()) break;
      for (const nodepb::RangeStatus& r : status->ranges()) {
        if (RangeContains(r.range_descriptor(), key)) {
          applied.push_back(r.applied_index());
          replicas = r.range_descriptor().replicas_size();
        }
      }
    }
    if (static_cast<int>(applied.size()) == replicas &&
        std::all_of(applied.begin(), applied.end(), [&](uint64_t a) { return a == applied[0]; })) {
      std::cout << "replicas converged at applied index " << applied[0] << "\n";
      return true;
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
  return false;
}

std::vector<std::vector<std::string>> KvChaosTest::ClientHosts(int per_node) const {
  std::vector<std::vector<std::string>> hosts;
  const int n = num_nodes();
  for (int node = 0; node < n; ++node) {
    for (int j = 0; j < per_node; ++j) {
      std::vector<std::string> h;
      for (int k = 0; k < n; ++k) h.push_back(cluster_->address((node + k) % n));
      hosts.push_back(std::move(h));
    }
  }
  return hosts;
}

WorkloadOptions KvChaosTest::DefaultWorkload() const {
  WorkloadOptions w;
  w.client_hosts = ClientHosts(2);
  w.keys = {"chaos-a", "chaos-b", "chaos-c", "chaos-d", "chaos-e"};
  w.short_op_timeout = absl::Seconds(1);  // half the clients give up during failovers
  w.seed = seed_;
  return w;
}

absl::Duration KvChaosTest::RandomDuration(absl::Duration lo, absl::Duration hi) {
  const int64_t span_ms = absl::ToInt64Milliseconds(hi - lo);
  return lo + absl::Milliseconds(static_cast<int64_t>(rng_() % (span_ms + 1)));
}

void KvChaosTest::ExpectLinearizable(const History& history, const std::string& label) {
  std::cout << label << ": " << history.Counts().ToString() << "\n";
  const std::vector<linearizability::Operation> ops = history.Operations();
  absl::StatusOr<linearizability::CheckResult> result = CheckAndReport(ops, label);
  ASSERT_TRUE(result.ok()) << result.status();
  if (result->verdict != Verdict::kOk) KeepEvidence(ops);
  EXPECT_EQ(result->verdict, Verdict::kOk)
      << label << " (seed " << seed_ << "): " << result->explanation;
}

void KvChaosTest::KeepEvidence(const std::vector<linearizability::Operation>& ops) {
  ::setenv("RANGEDB_KEEP_TEST_DIRS", "1", 1);
  const std::string path = cluster_->base_dir() + "/history.txt";
  const absl::Status s = WriteHistory(ops, path);
  std::cout << "history: " << (s.ok() ? path : s.ToString()) << "\n";
}

void KvChaosTest::ExpectAllRunning() {
  for (int i = 0; i < num_nodes(); ++i) {
    EXPECT_TRUE(cluster_->IsRunning(i)) << "node " << i << " died; see " << cluster_->log_path(i);
  }
}

}  // namespace rangedb::chaos
