// A transaction that runs longer than the expiry (kTxnExpiration) is still alive
// while its coordinator is (docs/transactions.md, "Liveness"): it is judged by its
// record's latest heartbeat, and its coordinator heartbeats from before its first
// intent until its outcome is known — through a commit that has to wait.
//
// Three nodes run in this process with real gRPC between them and in-memory stores
// (ranges split at "b" and "c"); the transactions are txn::Txn over a KvClient, as
// an application runs them. Each test takes a little over kTxnExpiration.
#include <atomic>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/kv_client.h"
#include "gtest/gtest.h"
#include "node/node.h"
#include "ranges/evaluate_txn.h"
#include "spdlog/spdlog.h"
#include "storage/lock_table.h"
#include "tests/cluster_harness.h"
#include "txn/txn.h"

namespace rangedb {
namespace {

class TxnLivenessTest : public ::testing::Test {
 protected:
  void SetUp() override {
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
      o.testing_txn_record_gc_age = record_gc_age_;
      absl::StatusOr<std::unique_ptr<Node>> node = Node::Start(o);
      ASSERT_TRUE(node.ok()) << node.status();
      nodes_.push_back(std::move(*node));
    }
    nodepb::InitRequest init;
    init.add_split_keys("b");
    init.add_split_keys("c");
    absl::StatusOr<nodepb::InitResponse> r = nodes_[0]->InitCluster(init);
    ASSERT_TRUE(r.ok()) << r.status();
    client::KvClientOptions o;
    o.hosts = addrs_;
    o.timeout = absl::Seconds(30);
    absl::StatusOr<std::unique_ptr<client::KvClient>> kv = client::KvClient::Create(o);
    ASSERT_TRUE(kv.ok()) << kv.status();
    kv_ = std::move(*kv);
    const absl::Time give_up = absl::Now() + absl::Seconds(60);
    bool ready = false;
    while (!ready && absl::Now() < give_up) {
      ready = kv_->Put("a-ready", "1").ok() && kv_->Put("b-ready", "1").ok() &&
              kv_->Put("c-ready", "1").ok();
      if (!ready) absl::SleepFor(absl::Milliseconds(100));
    }
    ASSERT_TRUE(ready) << "the cluster never served writes";
  }

  void TearDown() override {
    for (std::unique_ptr<Node>& n : nodes_) n->Stop();
  }

  // Whether some node holds an intent on key.
  bool HasIntent(const std::string& key) {
    for (std::unique_ptr<Node>& n : nodes_) {
      ranges::Store* store = n->store();
      if (store == nullptr) continue;
      proto::LockTableEntry e;
      absl::StatusOr<bool> found = ReadLockEntry(*store->engine(), key, &e);
      if (found.ok() && *found) return true;
    }
    return false;
  }
  bool WaitForIntent(const std::string& key) {
    const absl::Time give_up = absl::Now() + absl::Seconds(20);
    while (!HasIntent(key) && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(10));
    return HasIntent(key);
  }

  // A non-transactional write of key that meets a transaction's intent, pushing it as
  // a writer does (abort if expired, else wait). Returns once it wrote.
  class Contender {
   public:
    Contender(client::KvClient* kv, std::string key) {
      thread_ = std::thread([this, kv, key] {
        status_ = kv->Put(key, "contender");
        done_.store(true);
      });
    }
    ~Contender() { (void)Join(); }
    // Waits until the write finished or `most` passed; whether it finished.
    bool WaitDone(absl::Duration most) {
      const absl::Time until = absl::Now() + most;
      while (!done_.load() && absl::Now() < until) absl::SleepFor(absl::Milliseconds(10));
      return done_.load();
    }
    absl::Status Join() {
      if (thread_.joinable()) thread_.join();
      return status_;
    }

   private:
    std::atomic<bool> done_{false};
    absl::Status status_;
    std::thread thread_;
  };

  // The nodes' txn_record_gc_age (zero: the default).
  absl::Duration record_gc_age_ = absl::ZeroDuration();
  std::vector<std::string> addrs_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::unique_ptr<client::KvClient> kv_;
};

// L reads at once, then buffers its writes for longer than the expiry: it has no
// record and no intent. Its commit lays the intents — at its old timestamp — on two
// ranges; one waits behind a live transaction M. A writer meets L's other intent
// meanwhile: L is alive (its coordinator is committing it) and must not be aborted.
TEST_F(TxnLivenessTest, ATransactionOlderThanTheExpiryIsNotAbortedWhileItCommits) {
  txn::Txn m(kv_.get());
  ASSERT_TRUE(m.ConditionalPut("c/1", "m", std::nullopt).ok());  // M holds c/1
  txn::Txn l(kv_.get());
  ASSERT_TRUE(l.Get("a/unrelated").ok());  // L's timestamps are taken now
  ASSERT_TRUE(l.Put("a/1", "l").ok());
  ASSERT_TRUE(l.Put("b/1", "l").ok());
  ASSERT_TRUE(l.Put("c/1", "l").ok());
  absl::SleepFor(ranges::kTxnExpiration + absl::Seconds(1));  // the application works
  absl::Status committed;
  std::thread committer([&] { committed = l.Commit(); });
  ASSERT_TRUE(WaitForIntent("b/1")) << "L's commit never laid its intent on b/1";
  Contender writer(kv_.get(), "b/1");
  const bool got_through = writer.WaitDone(absl::Seconds(2));
  ASSERT_TRUE(m.Commit().ok());
  committer.join();
  EXPECT_TRUE(committed.ok()) << committed;
  EXPECT_FALSE(got_through && !committed.ok()) << "the writer aborted a live transaction";
  EXPECT_TRUE(writer.Join().ok());
  if (committed.ok()) {
    EXPECT_EQ(*kv_->Get("a/1"), std::optional<std::string>("l"));
  }
}

// L has a record (it laid an intent early, so it heartbeats). Its commit waits
// behind M for longer than the expiry; a writer on L's first intent must find L
// alive: the coordinator heartbeats until it knows the outcome.
TEST_F(TxnLivenessTest, ACommitThatWaitsLongerThanTheExpiryKeepsTheTransactionAlive) {
  txn::Txn m(kv_.get());
  ASSERT_TRUE(m.ConditionalPut("c/2", "m", std::nullopt).ok());  // M holds c/2
  txn::Txn l(kv_.get());
  ASSERT_TRUE(l.ConditionalPut("a/2", "l", std::nullopt).ok());
  ASSERT_TRUE(l.Put("c/2", "l").ok());
  absl::Status committed;
  std::thread committer([&] { committed = l.Commit(); });  // waits for M on c/2
  absl::SleepFor(ranges::kTxnExpiration + absl::Seconds(1));
  Contender writer(kv_.get(), "a/2");
  const bool got_through = writer.WaitDone(absl::Seconds(2));
  ASSERT_TRUE(m.Commit().ok());
  committer.join();
  EXPECT_TRUE(committed.ok()) << committed;
  EXPECT_FALSE(got_through && !committed.ok()) << "the writer aborted a live transaction";
  EXPECT_TRUE(writer.Join().ok());
  if (committed.ok()) {
    EXPECT_EQ(*kv_->Get("c/2"), std::optional<std::string>("l"));
  }
}

// A record GC age short enough that a transaction outlives the time in which it may
// still create its record (half the age: ranges::CheckRecordCreation).
class TxnLivenessShortRecordAgeTest : public TxnLivenessTest {
 protected:
  static constexpr absl::Duration kRecordGcAge = absl::Seconds(2);
  TxnLivenessShortRecordAgeTest() { record_gc_age_ = kRecordGcAge; }
};

// A transaction older than a heartbeat interval creates its record (a synchronous
// heartbeat) before it lays an intent, since a recordless intent at its old
// timestamp would look abandoned. Here that heartbeat fails — the transaction is
// too old to create its record — and the transaction must stop with a retryable
// error rather than lay the intent anyway (its commit could only fail).
TEST_F(TxnLivenessShortRecordAgeTest, ATransactionWhoseRecordCannotBeCreatedLaysNoIntent) {
  txn::Txn l(kv_.get());
  ASSERT_TRUE(l.Get("a/unrelated").ok());  // L's timestamps are taken now
  // The application works for longer than L may wait to create its record.
  absl::SleepFor(kRecordGcAge / 2 + absl::Milliseconds(500));
  absl::Status s = l.ConditionalPut("a/3", "l", std::nullopt);
  EXPECT_FALSE(s.ok()) << "the write went on after its record could not be created";
  EXPECT_TRUE(txn::IsRetryable(s)) << s;
  EXPECT_FALSE(HasIntent("a/3")) << "an intent with no record was laid";
}

}  // namespace
}  // namespace rangedb
