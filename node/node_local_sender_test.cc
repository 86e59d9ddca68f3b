// Node::local_sender(): the Sender of transaction coordinators that run inside a node
// (issue 15; SQL sessions use it). Its batches reach the node's gateway without an
// RPC and pass the same checks as a client's KV.Batch (Node::HandleBatch): no
// cluster yet, a drain and a stop each refuse them with UNAVAILABLE. (The clock fence
// is the same function's check; a single node's monitor lifts a fence at once, so it
// is tested with real processes in tests/clock_fence_test.cc.)

#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "node/node.h"
#include "txn/txn.h"

namespace rangedb {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<Node> StartNode() {
  NodeOptions o;
  o.store = "mem";
  o.listen_addr = "127.0.0.1:0";
  o.http_addr = "127.0.0.1:0";
  o.cache_bytes = size_t{8} << 20;
  absl::StatusOr<std::unique_ptr<Node>> node = Node::Start(o);
  EXPECT_TRUE(node.ok()) << node.status();
  return node.ok() ? std::move(*node) : nullptr;
}

// A single-node cluster, initialized.
std::unique_ptr<Node> StartCluster() {
  std::unique_ptr<Node> node = StartNode();
  if (node == nullptr) return nullptr;
  absl::StatusOr<nodepb::InitResponse> r = node->InitCluster(nodepb::InitRequest());
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? std::move(node) : nullptr;
}

// The error of a one-Get batch sent through s; OK if it was served.
absl::Status GetThrough(txn::Sender* s) {
  kvpb::BatchRequest b;
  b.add_requests()->mutable_get()->set_key("k");
  absl::StatusOr<kvpb::BatchResponse> r = s->Send(std::move(b));
  if (!r.ok()) return r.status();
  if (!r->has_error()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(r->error().code()), r->error().message());
}

TEST(NodeLocalSenderTest, ATransactionCommitsThroughTheNodesOwnGateway) {
  std::unique_ptr<Node> node = StartCluster();
  ASSERT_NE(node, nullptr);
  {
    txn::Txn t(node->local_sender());
    ASSERT_TRUE(t.Put("a", "1").ok());
    // The system range (where SQL's catalog goes) and the user range: two ranges.
    ASSERT_TRUE(t.Put("\x03"
                      "catalog/t",
                      "2")
                    .ok());
    absl::Status s = t.Commit();
    ASSERT_TRUE(s.ok()) << s;
  }
  txn::Txn r(node->local_sender());
  EXPECT_EQ(*r.Get("a"), std::optional<std::string>("1"));
  EXPECT_EQ(*r.Get("\x03"
                   "catalog/t"),
            std::optional<std::string>("2"));
  EXPECT_TRUE(r.Commit().ok());
}

TEST(NodeLocalSenderTest, ANodeWithoutAClusterRefuses) {
  std::unique_ptr<Node> node = StartNode();
  ASSERT_NE(node, nullptr);
  absl::Status s = GetThrough(node->local_sender());
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(s.message(), HasSubstr("has not joined a cluster"));
}

TEST(NodeLocalSenderTest, ADrainingOrStoppedNodeRefuses) {
  std::unique_ptr<Node> node = StartCluster();
  ASSERT_NE(node, nullptr);
  node->Drain(absl::Seconds(1));
  absl::Status s = GetThrough(node->local_sender());
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(s.message(), HasSubstr("draining"));
  node->Stop();
  s = GetThrough(node->local_sender());
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(s.message(), HasSubstr("stopping"));
}

}  // namespace
}  // namespace rangedb
