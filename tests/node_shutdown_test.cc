// Stopping a node while its background work is in flight (issue 11): a node that
// shuts down while intent resolution, pushes, GC and transaction heartbeats are
// running must stop them before it frees what they use (docs/node.md, "Threads and
// the stop order").
//
// Three nodes run in this process, with real gRPC between them and in-memory
// stores. Clients run multi-range transactions (so every commit queues asynchronous
// intent resolution on another range) on contended keys (so replicas push through
// the gateway), with heartbeats; meanwhile nodes are stopped and destroyed one by
// one. Under AddressSanitizer (scripts/test.sh asan) a use after free anywhere on
// these paths fails the test; in any build the Stop calls must return.
#include <atomic>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/kv_client.h"
#include "gtest/gtest.h"
#include "node/node.h"
#include "spdlog/spdlog.h"
#include "tests/cluster_harness.h"
#include "txn/txn.h"

namespace rangedb {
namespace {

struct InProcessCluster {
  std::vector<std::string> addrs;
  std::vector<std::unique_ptr<Node>> nodes;
};

InProcessCluster StartCluster(int n) {
  InProcessCluster c;
  std::set<int> used;
  std::vector<int> http_ports;
  for (int i = 0; i < n; ++i) {
    absl::StatusOr<int> port = harness::PickFreePort(used);
    EXPECT_TRUE(port.ok()) << port.status();
    used.insert(*port);
    absl::StatusOr<int> http = harness::PickFreePort(used);
    EXPECT_TRUE(http.ok()) << http.status();
    used.insert(*http);
    c.addrs.push_back(absl::StrCat("127.0.0.1:", *port));
    http_ports.push_back(*http);
  }
  for (int i = 0; i < n; ++i) {
    NodeOptions o;
    o.store = "mem";
    o.listen_addr = c.addrs[i];
    o.http_addr = absl::StrCat("127.0.0.1:", http_ports[i]);
    o.join = c.addrs;
    o.max_offset = absl::Milliseconds(100);
    o.raft_tick_interval = absl::Milliseconds(20);
    o.cache_bytes = size_t{8} << 20;
    absl::StatusOr<std::unique_ptr<Node>> node = Node::Start(o);
    EXPECT_TRUE(node.ok()) << node.status();
    if (node.ok()) c.nodes.push_back(std::move(*node));
  }
  return c;
}

// Clients writing keys on both sides of the split at "m" in every transaction, on
// a few hot keys, until stop. Errors are expected once nodes go away.
class TxnLoad {
 public:
  TxnLoad(const std::vector<std::string>& hosts, int clients) {
    for (int i = 0; i < clients; ++i) {
      threads_.emplace_back([this, hosts, i] { Run(hosts, i); });
    }
  }
  ~TxnLoad() { Stop(); }
  void Stop() {
    stop_.store(true);
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }
  int commits() const { return commits_.load(); }

 private:
  void Run(const std::vector<std::string>& hosts, int seed) {
    client::KvClientOptions o;
    o.hosts = hosts;
    o.timeout = absl::Seconds(3);
    o.attempt_timeout = absl::Seconds(1);
    absl::StatusOr<std::unique_ptr<client::KvClient>> kv = client::KvClient::Create(o);
    if (!kv.ok()) return;
    std::mt19937 rng(seed);
    txn::TxnOptions to;
    to.heartbeat_interval = absl::Milliseconds(50);
    to.max_attempts = 3;
    while (!stop_.load()) {
      const std::string a = absl::StrCat("a", rng() % 4);
      const std::string z = absl::StrCat("z", rng() % 4);
      absl::Status s = txn::RunTransaction(
          kv->get(),
          [&](txn::Txn& t) -> absl::Status {
            // A write first (the record exists and heartbeats), then a read on the
            // other range (pushes on contention), then the commit.
            if (absl::Status w = t.ConditionalPut(a, "x", std::nullopt);
                !w.ok() && !client::IsConditionFailed(w)) {
              return w;
            }
            if (absl::StatusOr<std::optional<std::string>> r = t.Get(z); !r.ok()) {
              return r.status();
            }
            absl::SleepFor(absl::Milliseconds(rng() % 120));  // outlives a heartbeat
            if (absl::Status p = t.Put(z, "y"); !p.ok()) return p;
            return t.Put(a, "x2");
          },
          to);
      if (s.ok()) commits_.fetch_add(1);
    }
  }

  std::atomic<bool> stop_{false};
  std::atomic<int> commits_{0};
  std::vector<std::thread> threads_;
};

bool WaitForWrites(const std::vector<std::string>& hosts) {
  client::KvClientOptions o;
  o.hosts = hosts;
  o.timeout = absl::Seconds(2);
  absl::StatusOr<std::unique_ptr<client::KvClient>> kv = client::KvClient::Create(o);
  if (!kv.ok()) return false;
  const absl::Time give_up = absl::Now() + absl::Seconds(60);
  while (absl::Now() < give_up) {
    if ((*kv)->Put("a-ready", "1").ok() && (*kv)->Put("z-ready", "1").ok()) return true;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return false;
}

class NodeShutdownTest : public ::testing::TestWithParam<std::vector<int>> {};

// The parameter is the order in which nodes are stopped and destroyed.
TEST_P(NodeShutdownTest, StopsWhileTransactionsResolvePushAndHeartbeat) {
  spdlog::set_level(spdlog::level::warn);
  InProcessCluster c = StartCluster(3);
  ASSERT_EQ(c.nodes.size(), 3u);
  nodepb::InitRequest init;
  init.add_split_keys("m");
  absl::StatusOr<nodepb::InitResponse> r = c.nodes[0]->InitCluster(init);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(WaitForWrites(c.addrs));

  TxnLoad load(c.addrs, 6);
  const absl::Time warm = absl::Now() + absl::Seconds(30);
  while (load.commits() < 20 && absl::Now() < warm) absl::SleepFor(absl::Milliseconds(50));
  EXPECT_GE(load.commits(), 20) << "the load never got going";

  // Stop and free the nodes one by one while the load (and what its commits left
  // behind: resolution, pushes, heartbeats) is still running.
  for (int index : GetParam()) {
    absl::SleepFor(absl::Milliseconds(300));
    c.nodes[index]->Stop();
    c.nodes[index].reset();
  }
  load.Stop();
}

INSTANTIATE_TEST_SUITE_P(Orders, NodeShutdownTest,
                         ::testing::Values(std::vector<int>{0, 1, 2}, std::vector<int>{2, 1, 0},
                                           std::vector<int>{1, 0, 2}));

// A node stopped before it ever joined a cluster: its join loop is the only thread.
TEST(NodeShutdownTest, StopsWhileWaitingToJoin) {
  InProcessCluster c = StartCluster(1);
  ASSERT_EQ(c.nodes.size(), 1u);
  absl::SleepFor(absl::Milliseconds(600));  // the join loop has run once
  c.nodes[0]->Stop();
  c.nodes[0]->Stop();  // idempotent
  c.nodes[0].reset();
}

}  // namespace
}  // namespace rangedb
