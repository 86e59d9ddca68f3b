// Transactional DeleteRange and ConditionalPut through txn::Txn (issue 13, findings
// 1, 2 and 9; docs/transactions.md, "Which operations are reads"): the scenarios of
// the review, each written so that it fails if the anomaly can happen.
//
// Three nodes run in this process (in-memory stores, real gRPC, the key space split
// at "m"), shared by the tests of the suite; every test uses keys of its own. The
// clients talk to one node, so that operations issued one after another get
// increasing timestamps and each scenario runs in the order written.
//
// RANGEDB_TXN_OPS_PLANTED_BUGS=1 starts the nodes with the planted bugs
// (--testing-deleterange-at-max, --testing-cput-reads-latest: the server behaviour
// before the fix); the server-side scenarios (AnInsertUnderADeleteRange...,
// ADeleteRangeDoesNotCommitBelow..., AFailedConditionalPutDoesNotShow...) must then
// fail. That is how they were shown to catch the findings. The two
// ...IsRefreshedWhenTheTransactionIsPushed scenarios test the coordinator's read
// spans and were shown by removing them (docs/design/txn-read-ops.md, "Tests").
#include <cstdlib>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/cli/cli_kv_txn.h"
#include "client/kv_client.h"
#include "gtest/gtest.h"
#include "node/node.h"
#include "spdlog/spdlog.h"
#include "tests/cluster_harness.h"
#include "txn/txn.h"

namespace rangedb {
namespace {

bool PlantedBugs() {
  const char* v = std::getenv("RANGEDB_TXN_OPS_PLANTED_BUGS");
  return v != nullptr && std::string(v) == "1";
}

class TxnOpsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    spdlog::set_level(spdlog::level::warn);
    std::set<int> used;
    std::vector<int> http_ports;
    for (int i = 0; i < 3; ++i) {
      absl::StatusOr<int> port = harness::PickFreePort(used);
      ASSERT_TRUE(port.ok()) << port.status();
      used.insert(*port);
      absl::StatusOr<int> http = harness::PickFreePort(used);
      ASSERT_TRUE(http.ok()) << http.status();
      used.insert(*http);
      addrs_.push_back(absl::StrCat("127.0.0.1:", *port));
      http_ports.push_back(*http);
    }
    for (int i = 0; i < 3; ++i) {
      NodeOptions o;
      o.store = "mem";
      o.listen_addr = addrs_[i];
      o.http_addr = absl::StrCat("127.0.0.1:", http_ports[i]);
      o.join = addrs_;
      o.max_offset = absl::Milliseconds(100);
      o.raft_tick_interval = absl::Milliseconds(20);
      o.cache_bytes = size_t{8} << 20;
      o.testing_deleterange_at_max = PlantedBugs();
      o.testing_cput_reads_latest = PlantedBugs();
      absl::StatusOr<std::unique_ptr<Node>> node = Node::Start(o);
      ASSERT_TRUE(node.ok()) << node.status();
      nodes_.push_back(std::move(*node));
    }
    nodepb::InitRequest init;
    init.add_split_keys("m");
    absl::StatusOr<nodepb::InitResponse> r = nodes_[0]->InitCluster(init);
    ASSERT_TRUE(r.ok()) << r.status();
    std::unique_ptr<client::KvClient> kv = NewClient();
    const absl::Time give_up = absl::Now() + absl::Seconds(60);
    bool ready = false;
    while (!ready && absl::Now() < give_up) {
      ready = kv->Put("a-ready", "1").ok() && kv->Put("z-ready", "1").ok();
      if (!ready) absl::SleepFor(absl::Milliseconds(100));
    }
    ASSERT_TRUE(ready) << "the cluster never took writes";
    // Past the new leaseholders' timestamp-cache low water (max_offset ahead).
    absl::SleepFor(absl::Milliseconds(150));
  }

  static void TearDownTestSuite() {
    for (std::unique_ptr<Node>& n : nodes_) n->Stop();
    nodes_.clear();
    addrs_.clear();
  }

  // A client of node 0 only (see the file comment).
  static std::unique_ptr<client::KvClient> NewClient() {
    client::KvClientOptions o;
    o.hosts = {addrs_[0]};
    o.timeout = absl::Seconds(10);
    return std::move(*client::KvClient::Create(o));
  }

  void SetUp() override { kv_ = NewClient(); }

  // Writes key = value in a transaction of its own; its commit timestamp.
  Timestamp Write(const std::string& key, const std::optional<std::string>& value) {
    txn::Txn t(kv_.get());
    EXPECT_TRUE((value.has_value() ? t.Put(key, *value) : t.Delete(key)).ok());
    EXPECT_TRUE(t.Commit().ok());
    return t.commit_timestamp();
  }
  std::optional<std::string> Read(const std::string& key) {
    absl::StatusOr<std::optional<std::string>> v = kv_->Get(key);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *v : std::nullopt;
  }

  static std::vector<std::string> addrs_;
  static std::vector<std::unique_ptr<Node>> nodes_;
  std::unique_ptr<client::KvClient> kv_;
};

std::vector<std::string> TxnOpsTest::addrs_;
std::vector<std::unique_ptr<Node>> TxnOpsTest::nodes_;

// ---- Finding 9: DeleteRange that finds nothing, or only some ranges' keys ----

TEST_F(TxnOpsTest, DeleteRangeOverAnEmptySpanCommits) {
  txn::Txn t(kv_.get());
  absl::StatusOr<int64_t> n = t.DeleteRange("e9/", "e90");
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 0);
  EXPECT_TRUE(t.Commit().ok());
}

TEST_F(TxnOpsTest, DeleteRangeAcrossRangesWithKeysOnlyInSomeDeletesThem) {
  // The span [f9/, s9/) crosses the split at "m"; keys at both ends, none between.
  Write("f9/a", "1");
  Write("s9/a", "2");
  txn::Txn t(kv_.get());
  std::vector<std::string> deleted;
  absl::StatusOr<int64_t> n = t.DeleteRange("f9/", "s9/b", &deleted);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 2);
  EXPECT_EQ(deleted, (std::vector<std::string>{"f9/a", "s9/a"}));
  ASSERT_TRUE(t.Commit().ok());
  EXPECT_EQ(Read("f9/a"), std::nullopt);
  EXPECT_EQ(Read("s9/a"), std::nullopt);
  // Keys only in the first range.
  Write("g9/a", "1");
  txn::Txn t2(kv_.get());
  n = t2.DeleteRange("g9/", "t9/", &deleted);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(deleted, (std::vector<std::string>{"g9/a"}));
  EXPECT_TRUE(t2.Commit().ok());
}

TEST_F(TxnOpsTest, DeleteRangeOverOnlyDeletedKeysCommits) {
  Write("h9/a", "1");
  Write("h9/a", std::nullopt);
  Write("t9/a", "1");
  Write("t9/a", std::nullopt);
  txn::Txn t(kv_.get());
  absl::StatusOr<int64_t> n = t.DeleteRange("h9/", "t9/b");
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 0);
  EXPECT_TRUE(t.Commit().ok());
}

// The review's reproduction, through `rangedb kv txn`'s script runner.
TEST_F(TxnOpsTest, KvTxnScriptDeletingAnEmptySpanCommits) {
  absl::StatusOr<std::vector<TxnScriptOp>> ops = ParseTxnScript("delrange b/ b0\ncommit\n");
  ASSERT_TRUE(ops.ok()) << ops.status();
  std::ostringstream out, err;
  EXPECT_EQ(RunTxnScript(*kv_, *ops, out, err), 0) << err.str();
  EXPECT_TRUE(absl::StrContains(out.str(), "0 deleted")) << out.str();
  EXPECT_TRUE(absl::StrContains(out.str(), "committed")) << out.str();
  EXPECT_FALSE(absl::StrContains(err.str(), "malformed")) << err.str();
}

// ---- Finding 1: DeleteRange must not allow phantoms or delete at the wrong time ----

// (a) T3 reads x; T1 (later timestamp) deletes [p/, p0) and writes x; T3 then puts
// p/m and commits; T1 commits. If both commit with p/m surviving, the history has a
// cycle: T3 read x before T1 wrote it (T3 before T1), and T1's delete missed T3's
// p/m (T1 before T3). One of them must fail.
TEST_F(TxnOpsTest, AnInsertUnderADeleteRangeAndTheDeleteDoNotBothCommit) {
  Write("a1/x", "0");
  txn::Txn t3(kv_.get());
  ASSERT_TRUE(t3.Get("a1/x").ok());
  txn::Txn t1(kv_.get());
  ASSERT_TRUE(t1.DeleteRange("a1/p/", "a1/p0").ok());
  ASSERT_TRUE(t1.Put("a1/x", "t1").ok());
  ASSERT_TRUE(t3.Put("a1/p/m", "t3").ok());
  const absl::Status s3 = t3.Commit();
  const absl::Status s1 = t1.Commit();
  std::cout << "T3: " << s3 << "\nT1: " << s1 << "\n";
  const bool m_survives = Read("a1/p/m").has_value();
  EXPECT_FALSE(s1.ok() && s3.ok() && m_survives)
      << "G2: T3 read x before T1 wrote it, and T1's DeleteRange missed T3's insert";
  EXPECT_TRUE(s1.ok() || txn::IsRetryable(s1)) << s1;
  EXPECT_TRUE(s3.ok() || txn::IsRetryable(s3)) << s3;
}

// (b) k is live at T1's snapshot; T2 deletes it and commits; T1 then deletes the
// span. T1 must not commit at its old timestamp with k still visible after it (T1
// would have "deleted everything" while k lives on until T2's delete).
TEST_F(TxnOpsTest, ADeleteRangeDoesNotCommitBelowALaterDeletionItMissed) {
  Write("b1/k", "live");
  txn::Txn t1(kv_.get());
  ASSERT_TRUE(t1.Get("b1/other").ok());  // T1's snapshot
  const Timestamp t2_commit = Write("b1/k", std::nullopt);
  absl::StatusOr<int64_t> n = t1.DeleteRange("b1/", "b10");
  absl::Status s1 = n.status();
  if (s1.ok()) s1 = t1.Commit();
  std::cout << "T1: " << s1 << " at " << t1.commit_timestamp().ToString() << ", T2 at "
            << t2_commit.ToString() << "\n";
  EXPECT_FALSE(s1.ok() && t1.commit_timestamp() < t2_commit)
      << "T1 committed its DeleteRange below T2's deletion of a key it did not delete";
  EXPECT_TRUE(s1.ok() || txn::IsRetryable(s1)) << s1;
}

// The coordinator's half: T1's DeleteRange found nothing; T2 then inserts into the
// span (above T1's delete, which the timestamp cache allows) and commits. T1 is
// pushed past T2 by a write of its own; to commit there it must refresh the span,
// find T2's insert, and fail — else p/x survives a delete ordered after it.
TEST_F(TxnOpsTest, ADeleteRangeSpanIsRefreshedWhenTheTransactionIsPushed) {
  txn::Txn t1(kv_.get());
  ASSERT_TRUE(t1.DeleteRange("c1/p/", "c1/p0").ok());
  Write("c1/p/x", "t2");
  txn::Txn t4(kv_.get());
  ASSERT_TRUE(t4.Get("c1/w").ok());  // the timestamp cache pushes T1's write of w
  ASSERT_TRUE(t4.Commit().ok());
  ASSERT_TRUE(t1.Put("c1/w", "t1").ok());
  const absl::Status s1 = t1.Commit();
  std::cout << "T1: " << s1 << "\n";
  EXPECT_FALSE(s1.ok() && Read("c1/p/x").has_value())
      << "T1 committed above T2's insert into its deleted span without refreshing the span";
  EXPECT_TRUE(s1.ok() || txn::IsRetryable(s1)) << s1;
}

// ---- Finding 2: a failed ConditionalPut must not leak data from after the snapshot --

// T1 reads x = A; T2 writes x = B and k = B and commits; T1's ConditionalPut(k,
// expected A) must not show B and let T1 commit: T1 would have read x before T2 and
// k after T2 (read skew, G-single).
TEST_F(TxnOpsTest, AFailedConditionalPutDoesNotShowALaterWriteToATransactionThatCommits) {
  Write("d1/x", "A");
  Write("d1/k", "A");
  txn::Txn t1(kv_.get());
  absl::StatusOr<std::optional<std::string>> x = t1.Get("d1/x");
  ASSERT_TRUE(x.ok());
  ASSERT_EQ(*x, "A");
  {
    txn::Txn t2(kv_.get());
    ASSERT_TRUE(t2.Put("d1/x", "B").ok());
    ASSERT_TRUE(t2.Put("d1/k", "B").ok());
    ASSERT_TRUE(t2.Commit().ok());
  }
  absl::Status cput = t1.ConditionalPut("d1/k", "C", std::string("A"));
  const bool saw_b = client::IsConditionFailed(cput) &&
                     client::ConditionFailedActual(cput) == std::optional<std::string>("B");
  absl::Status s1 = cput;
  if (client::IsConditionFailed(cput)) s1 = t1.Put("d1/y", "t1");
  if (s1.ok()) s1 = t1.Commit();
  std::cout << "T1's ConditionalPut: " << cput << "\nT1: " << s1 << "\n";
  EXPECT_FALSE(saw_b && s1.ok()) << "T1 saw T2's k = B and committed having read x = A";
  EXPECT_TRUE(s1.ok() || txn::IsRetryable(s1)) << s1;
}

// The coordinator's half: T1's failed ConditionalPut saw k = A; T2 then writes k = B
// (above what T1 saw) and commits; T1 is pushed past T2 by a write of its own. To
// commit there it must refresh k and fail — it decided on k = A.
TEST_F(TxnOpsTest, AFailedConditionalPutIsRefreshedWhenTheTransactionIsPushed) {
  Write("e1/k", "A");
  txn::Txn t1(kv_.get());
  absl::Status cput = t1.ConditionalPut("e1/k", "C", std::string("Z"));
  ASSERT_TRUE(client::IsConditionFailed(cput)) << cput;
  Write("e1/k", "B");
  txn::Txn t4(kv_.get());
  ASSERT_TRUE(t4.Get("e1/w").ok());
  ASSERT_TRUE(t4.Commit().ok());
  ASSERT_TRUE(t1.Put("e1/w", "t1").ok());
  const absl::Status s1 = t1.Commit();
  std::cout << "T1: " << s1 << "\n";
  EXPECT_FALSE(s1.ok()) << "T1 committed above T2's k = B having seen k = A";
  EXPECT_TRUE(s1.ok() || txn::IsRetryable(s1)) << s1;
}

// A ConditionalPut that meets a value newer than the snapshot moves the snapshot
// above it (nothing else read changed) and then succeeds.
TEST_F(TxnOpsTest, AConditionalPutRefreshesAboveANewerValueAndSucceeds) {
  Write("f1/k", "A");
  txn::Txn t1(kv_.get());
  ASSERT_TRUE(t1.Get("f1/unrelated").ok());
  Write("f1/k", "B");
  absl::Status cput = t1.ConditionalPut("f1/k", "C", std::string("B"));
  ASSERT_TRUE(cput.ok()) << cput;
  EXPECT_GE(t1.refreshes(), 1);
  ASSERT_TRUE(t1.Commit().ok());
  EXPECT_EQ(Read("f1/k"), "C");
}

}  // namespace
}  // namespace rangedb
