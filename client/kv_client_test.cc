#include "client/kv_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "client/testing/fake_kv_server.h"

namespace rangedb::client {
namespace {

using Fault = FakeKvServer::Fault;

// An address nothing listens on: a port the kernel handed out, then released.
std::string ClosedPortAddress() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  close(fd);
  return absl::StrFormat("127.0.0.1:%d", ntohs(addr.sin_port));
}

std::unique_ptr<FakeKvServer> StartServer(int64_t max_page_rows = 0) {
  absl::StatusOr<std::unique_ptr<FakeKvServer>> server = FakeKvServer::Start(max_page_rows);
  EXPECT_TRUE(server.ok()) << server.status();
  return std::move(*server);
}

std::unique_ptr<KvClient> Connect(std::vector<std::string> hosts,
                                  absl::Duration timeout = absl::Seconds(10),
                                  absl::Duration attempt_timeout = absl::Seconds(3)) {
  absl::StatusOr<std::unique_ptr<KvClient>> client =
      KvClient::Create({std::move(hosts), timeout, attempt_timeout});
  EXPECT_TRUE(client.ok()) << client.status();
  return std::move(*client);
}

TEST(KvClientTest, CreateRejectsEmptyAndMalformedHosts) {
  for (std::vector<std::string> hosts : std::vector<std::vector<std::string>>{
           {}, {""}, {"localhost"}, {":26257"}, {"a:0"}, {"a:70000"}, {"a:x"}, {"a b:1"}}) {
    absl::StatusOr<std::unique_ptr<KvClient>> client = KvClient::Create({hosts});
    EXPECT_EQ(client.status().code(), absl::StatusCode::kInvalidArgument)
        << (hosts.empty() ? "<none>" : hosts[0]);
  }
  EXPECT_TRUE(KvClient::Create({{"localhost:1", "[::1]:26257"}}).ok());
  EXPECT_FALSE(KvClient::Create({{"a:1"}, absl::ZeroDuration()}).ok());
}

TEST(KvClientTest, GetPutDeleteIncrement) {
  auto server = StartServer();
  auto client = Connect({server->address()});
  ASSERT_EQ(client->Get("a").value(), std::nullopt);
  ASSERT_TRUE(client->Put("a", std::string("v\0x", 3)).ok());
  EXPECT_EQ(client->Get("a").value(), std::string("v\0x", 3));
  ASSERT_TRUE(client->Delete("a").ok());
  EXPECT_EQ(client->Get("a").value(), std::nullopt);
  EXPECT_EQ(client->Increment("n", 5).value(), 5);
  EXPECT_EQ(client->Increment("n", -7).value(), -2);
  EXPECT_EQ(client->Get("n").value(), "-2");
  ASSERT_TRUE(client->Put("s", "text").ok());
  EXPECT_EQ(client->Increment("s", 1).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(KvClientTest, ConditionalPutReportsTheActualValue) {
  auto server = StartServer();
  auto client = Connect({server->address()});
  ASSERT_TRUE(client->ConditionalPut("k", "v1", std::nullopt).ok());
  ASSERT_TRUE(client->ConditionalPut("k", "v2", "v1").ok());

  absl::Status wrong = client->ConditionalPut("k", "v3", "v1");
  EXPECT_TRUE(IsConditionFailed(wrong)) << wrong;
  EXPECT_EQ(wrong.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ConditionFailedActual(wrong), std::optional<std::optional<std::string>>("v2"));

  absl::Status absent = client->ConditionalPut("missing", "v", "x");
  ASSERT_TRUE(IsConditionFailed(absent)) << absent;
  EXPECT_EQ(ConditionFailedActual(absent),
            std::optional<std::optional<std::string>>(std::optional<std::string>()));
  EXPECT_FALSE(IsConditionFailed(absl::OkStatus()));
  EXPECT_EQ(ConditionFailedActual(absl::InternalError("x")), std::nullopt);
}

TEST(KvClientTest, ScanPagesThroughResumeKeys) {
  auto server = StartServer(/*max_page_rows=*/7);
  for (int i = 0; i < 25; ++i) server->SetValue(absl::StrFormat("k%02d", i), "v");
  server->SetValue("z", "outside");
  auto client = Connect({server->address()});

  std::vector<KeyValue> all = client->Scan("k", "l", 0).value();
  ASSERT_EQ(all.size(), 25u);
  EXPECT_EQ(all.front().key, "k00");
  EXPECT_EQ(all.back().key, "k24");
  EXPECT_EQ(client->Scan("k", "l", 10).value().size(), 10u);
  EXPECT_EQ(client->Scan("k05", "k10", 0).value().size(), 5u);
  EXPECT_GE(server->batches_received(), 4 + 2 + 1);
}

TEST(KvClientTest, ScanLargerThanOneClientPage) {
  auto server = StartServer();
  for (int i = 0; i < 2500; ++i) server->SetValue(absl::StrFormat("k%05d", i), "v");
  auto client = Connect({server->address()});
  std::vector<KeyValue> all = client->Scan("", "", 0).value();
  EXPECT_EQ(all.size(), 2500u);
  EXPECT_EQ(server->batches_received(), 3);  // pages of KvClient::kScanPageRows
}

TEST(KvClientTest, FailsOverFromAClosedPort) {
  auto server = StartServer();
  const std::string closed = ClosedPortAddress();
  // A client's first preference is random; several clients cover both orders.
  for (int i = 0; i < 10; ++i) {
    auto client = Connect({closed, server->address()});
    ASSERT_TRUE(client->Put(absl::StrCat("k", i), "v").ok());
    ASSERT_EQ(client->Get(absl::StrCat("k", i)).value(), "v");
  }
  EXPECT_EQ(server->writes_applied(), 10);
}

TEST(KvClientTest, ClosedPortOnlyIsUnavailableNotAmbiguous) {
  auto client = Connect({ClosedPortAddress()}, absl::Milliseconds(300));
  absl::Status status = client->Put("k", "v");
  // Nothing could have been sent, so the write certainly was not applied.
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_FALSE(IsAmbiguous(status)) << status;
}

TEST(KvClientTest, RetryResendsTheSameIdempotencyKey) {
  auto server = StartServer();
  auto client = Connect({server->address()});
  server->SetFault(Fault::kUnavailableAfterApply, 1);
  // The first attempt is applied but its response lost; the retry must not apply
  // the increment a second time.
  EXPECT_EQ(client->Increment("n", 1).value(), 1);
  EXPECT_EQ(server->Snapshot()["n"], "1");
  EXPECT_EQ(server->writes_applied(), 1);
  std::vector<kvpb::IdempotencyKey> keys = server->write_keys();
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].SerializeAsString(), keys[1].SerializeAsString());
  EXPECT_EQ(keys[0].client_id().size(), 16u);
  EXPECT_GT(keys[0].sequence(), 0u);

  // A new logical write gets a new key.
  ASSERT_TRUE(client->Increment("n", 1).ok());
  keys = server->write_keys();
  ASSERT_EQ(keys.size(), 3u);
  EXPECT_EQ(keys[2].client_id(), keys[0].client_id());
  EXPECT_GT(keys[2].sequence(), keys[0].sequence());
}

TEST(KvClientTest, ServerAmbiguousErrorIsRetried) {
  auto server = StartServer();
  auto client = Connect({server->address()});
  server->SetFault(Fault::kAmbiguousAfterApply, 2);
  EXPECT_EQ(client->Increment("n", 3).value(), 3);
  EXPECT_EQ(server->writes_applied(), 1);
}

TEST(KvClientTest, AmbiguousWhenEveryAttemptFailsAfterSend) {
  auto server = StartServer();
  auto client = Connect({server->address()}, absl::Milliseconds(500));
  server->SetFault(Fault::kUnavailableAfterApply);
  absl::Status status = client->Put("k", "v");
  EXPECT_TRUE(IsAmbiguous(status)) << status;
  EXPECT_EQ(status.code(), absl::StatusCode::kUnknown);
  EXPECT_TRUE(absl::StartsWith(status.message(), "ambiguous result:")) << status;
  EXPECT_GE(server->write_keys().size(), 2u);
  EXPECT_EQ(server->writes_applied(), 1);
}

// Issue 14, finding 11: attempt 1 may have applied (its deadline passed after it
// was sent); attempt 2 fails definitely. The caller must hear "ambiguous", not the
// second attempt's error.
TEST(KvClientTest, FailureAfterAPossiblyAppliedAttemptIsAmbiguous) {
  auto server = StartServer();
  auto client = Connect({server->address()}, absl::Seconds(5), absl::Milliseconds(200));
  server->QueueFaults({Fault::kHang, Fault::kErrorBeforeApply});
  absl::Status status = client->Put("k", "v");
  EXPECT_TRUE(IsAmbiguous(status)) << status;
  EXPECT_NE(status.message().find("too many latches"), std::string::npos) << status;
}

// The same through BatchWithErrors (the transaction coordinator's path): the error
// in the response is the ambiguous one.
TEST(KvClientTest, ErrorInResponseAfterAPossiblyAppliedAttemptIsAmbiguous) {
  auto server = StartServer();
  auto client = Connect({server->address()}, absl::Seconds(5), absl::Milliseconds(200));
  server->QueueFaults({Fault::kHang, Fault::kErrorBeforeApply});
  kvpb::BatchRequest batch;
  batch.add_requests()->mutable_put()->set_key("k");
  absl::StatusOr<kvpb::BatchResponse> resp = client->BatchWithErrors(batch);
  ASSERT_TRUE(resp.ok()) << resp.status();
  ASSERT_TRUE(resp->has_error());
  EXPECT_TRUE(resp->error().has_ambiguous()) << resp->error().DebugString();
}

// A leaseholder that evaluated the write and found no record of it says so: no
// attempt applied or will, so its error is definite even after an ambiguous attempt.
TEST(KvClientTest, EvaluatedErrorAfterAPossiblyAppliedAttemptIsDefinite) {
  auto server = StartServer();
  auto client = Connect({server->address()}, absl::Seconds(5), absl::Milliseconds(200));
  server->QueueFaults({Fault::kHang, Fault::kEvaluatedErrorBeforeApply});
  absl::Status status = client->Put("k", "v");
  EXPECT_FALSE(IsAmbiguous(status)) << status;
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
}

// Without an earlier possibly-applied attempt the same error is definite.
TEST(KvClientTest, DefiniteServerErrorStaysDefinite) {
  auto server = StartServer();
  auto client = Connect({server->address()});
  server->QueueFaults({Fault::kErrorBeforeApply});
  absl::Status status = client->Put("k", "v");
  EXPECT_FALSE(IsAmbiguous(status)) << status;
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
}

// Issue 14, finding 10: a budget longer than the window a leaseholder can honour
// is refused up front; writes state their window.
TEST(KvClientTest, TimeoutLongerThanTheWriteRetryWindowIsRefused) {
  absl::StatusOr<std::unique_ptr<KvClient>> client =
      KvClient::Create({{"127.0.0.1:1"}, absl::Hours(1), absl::Seconds(3)});
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(client.status().message().find("apply it twice"), std::string::npos) << client.status();
  absl::StatusOr<std::unique_ptr<KvClient>> at_limit =
      KvClient::Create({{"127.0.0.1:1"}, kMaxWriteRetryWindow, absl::Seconds(3)});
  EXPECT_TRUE(at_limit.ok()) << at_limit.status();
}

TEST(KvClientTest, WritesStateTheirRetryWindow) {
  auto server = StartServer();
  auto client = Connect({server->address()}, absl::Seconds(7));
  ASSERT_TRUE(client->Put("k", "v").ok());
  ASSERT_EQ(server->write_keys().size(), 1u);
  EXPECT_EQ(server->write_keys()[0].retry_window_ms(), 7001u);
}

TEST(KvClientTest, ReadsRetryButAreNeverAmbiguous) {
  auto server = StartServer();
  auto client = Connect({server->address()}, absl::Milliseconds(300));
  server->SetFault(Fault::kUnavailableAfterApply);
  absl::StatusOr<std::optional<std::string>> value = client->Get("k");
  // kUnavailable, or kDeadlineExceeded when the budget cut the last attempt short.
  EXPECT_TRUE(absl::IsUnavailable(value.status()) || absl::IsDeadlineExceeded(value.status()))
      << value.status();
  EXPECT_FALSE(IsAmbiguous(value.status()));
  EXPECT_GE(server->batches_received(), 2);
}

TEST(KvClientTest, DeadlineRespectedWhenTheHostNeverAnswers) {
  auto server = StartServer();
  server->SetFault(Fault::kHang);
  auto client = Connect({server->address()}, absl::Seconds(1));
  const absl::Time start = absl::Now();
  absl::Status status = client->Put("k", "v");
  const absl::Duration took = absl::Now() - start;
  EXPECT_LT(took, absl::Milliseconds(1500));
  EXPECT_GE(took, absl::Milliseconds(900));
  // The hung attempt may have reached the server, so the write is ambiguous.
  EXPECT_TRUE(IsAmbiguous(status)) << status;
}

TEST(KvClientTest, AttemptDeadlineMovesPastAPausedHost) {
  auto paused = StartServer();
  paused->SetFault(Fault::kHang);
  auto healthy = StartServer();
  auto client =
      Connect({paused->address(), healthy->address()}, absl::Seconds(10), absl::Milliseconds(300));
  const absl::Time start = absl::Now();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(client->Put(absl::StrCat("k", i), "v").ok());
  // At most one attempt waits out its deadline: the preference then sticks to the
  // healthy host.
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_EQ(healthy->writes_applied(), 4);
}

TEST(KvClientTest, RawBatchOfReads) {
  auto server = StartServer();
  server->SetValue("a", "1");
  auto client = Connect({server->address()});
  kvpb::BatchRequest request;
  request.add_requests()->mutable_get()->set_key("a");
  request.add_requests()->mutable_get()->set_key("b");
  kvpb::BatchResponse response = client->Batch(request).value();
  ASSERT_EQ(response.responses_size(), 2);
  EXPECT_TRUE(response.responses(0).get().found());
  EXPECT_FALSE(response.responses(1).get().found());
  EXPECT_TRUE(server->write_keys().empty());
}

TEST(KvClientTest, ConcurrentIncrementsFromOneClient) {
  auto server = StartServer();
  auto client = Connect({server->address()});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&client] {
      for (int i = 0; i < 50; ++i) EXPECT_TRUE(client->Increment("n", 1).ok());
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(server->Snapshot()["n"], "200");
}

}  // namespace
}  // namespace rangedb::client
