// The transaction coordinator inside a node (ranges/local_sender.h): txn::Txn and
// txn::RunTransaction through a LocalSender over a node's own Gateway, on three stores
// in one process (TxnClusterTest: ranges [\x04, \x04b), [\x04b, \x04m), [\x04m, ...)).
#include "ranges/local_sender.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "gtest/gtest.h"
#include "ranges/testing/txn_cluster_fixture.h"
#include "txn/heartbeater.h"
#include "txn/txn.h"

namespace rangedb::ranges {
namespace {

using LocalSenderTest = TxnClusterTest;

TEST_F(LocalSenderTest, TransactionCommitsAcrossRangesThroughTheNodesGateway) {
  LocalSender sender(gateways_[1].get());
  txn::Txn t(&sender);
  ASSERT_TRUE(t.Put(K("a"), "1").ok());
  ASSERT_TRUE(t.Put(K("c"), "2").ok());
  ASSERT_TRUE(t.Put(K("n"), "3").ok());
  ASSERT_TRUE(t.ConditionalPut(K("d"), "4", std::nullopt).ok());
  absl::StatusOr<std::optional<std::string>> own = t.Get(K("c"));
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_EQ(*own, std::optional<std::string>("2")) << "reads its own writes";
  absl::StatusOr<std::vector<kv::KeyValue>> rows = t.Scan(K("a"), K("z"), 0);
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(rows->size(), 4u);
  ASSERT_TRUE(t.Commit().ok());
  EXPECT_FALSE(t.one_phase()) << "three ranges: two-phase";
  EXPECT_EQ(Value(K("a")), "1");
  EXPECT_EQ(Value(K("c")), "2");
  EXPECT_EQ(Value(K("n")), "3");
  EXPECT_EQ(Value(K("d")), "4");
  EXPECT_EQ(WaitIntentsGone({K("a"), K("c"), K("n"), K("d")}), 0);
}

TEST_F(LocalSenderTest, WritesInOneRangeCommitInOnePhase) {
  LocalSender sender(gateways_[2].get());
  txn::Txn t(&sender);
  ASSERT_TRUE(t.Put(K("a1"), "x").ok());
  ASSERT_TRUE(t.Put(K("a2"), "y").ok());
  ASSERT_TRUE(t.Commit().ok());
  EXPECT_TRUE(t.one_phase());
  EXPECT_EQ(Value(K("a2")), "y");
}

TEST_F(LocalSenderTest, RollbackRemovesTheIntents) {
  LocalSender sender(gateways_[1].get());
  txn::Txn t(&sender);
  ASSERT_TRUE(t.ConditionalPut(K("r1"), "x", std::nullopt).ok());
  ASSERT_TRUE(t.ConditionalPut(K("r2"), "y", std::nullopt).ok());
  ASSERT_TRUE(t.Rollback().ok());
  EXPECT_EQ(WaitIntentsGone({K("r1"), K("r2")}), 0);
  EXPECT_EQ(Value(K("r1")), std::nullopt);
}

TEST_F(LocalSenderTest, HeartbeatsKeepTheRecordPending) {
  LocalSender sender(gateways_[3].get());
  txn::Heartbeater heartbeater;
  txn::TxnOptions o;
  o.heartbeater = &heartbeater;
  o.heartbeat_interval = absl::Milliseconds(50);
  txn::Txn t(&sender, o);
  ASSERT_TRUE(t.ConditionalPut(K("h"), "x", std::nullopt).ok());
  kvpb::Transaction view;
  view.set_id(t.id());
  view.set_anchor_key(K("h"));
  std::optional<kvpb::Transaction> record;
  for (const absl::Time until = absl::Now() + absl::Seconds(10);
       !record.has_value() && absl::Now() < until;) {
    absl::SleepFor(absl::Milliseconds(20));
    record = Record(view);
  }
  ASSERT_TRUE(record.has_value()) << "no heartbeat created the record";
  EXPECT_EQ(record->status(), kvpb::PENDING);
  ASSERT_TRUE(t.Commit().ok());
  EXPECT_EQ(heartbeater.open(), 0u);
  EXPECT_GE(heartbeater.beats_sent(), 1u);
}

TEST_F(LocalSenderTest, ConflictingTransactionsThroughTwoGatewaysAllCommit) {
  constexpr int kThreads = 2;
  constexpr int kIncrements = 5;
  std::vector<std::thread> threads;
  std::vector<absl::Status> failures(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      LocalSender sender(gateways_[i + 1].get());
      for (int n = 0; n < kIncrements && failures[i].ok(); ++n) {
        failures[i] = txn::RunTransaction(&sender, [](txn::Txn& t) -> absl::Status {
          absl::StatusOr<std::optional<std::string>> v = t.Get(K("counter"));
          if (!v.ok()) return v.status();
          int64_t count = 0;
          if (v->has_value() && !absl::SimpleAtoi(**v, &count)) {
            return absl::DataLossError("not a number");
          }
          if (absl::Status s = t.Put(K("counter"), std::to_string(count + 1)); !s.ok()) return s;
          return t.Put(K("n-side"), std::to_string(count + 1));  // another range
        });
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (const absl::Status& s : failures) EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(Value(K("counter")), std::to_string(kThreads * kIncrements));
  EXPECT_EQ(Value(K("n-side")), std::to_string(kThreads * kIncrements));
}

}  // namespace
}  // namespace rangedb::ranges
