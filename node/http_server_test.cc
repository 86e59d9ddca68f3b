#include "node/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rangedb {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// A blocking client socket to 127.0.0.1:port with a 10 s receive timeout, so a broken
// server fails the test instead of hanging it.
int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  return fd;
}

void SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return;  // the server may close early (431); the response tells
    data.remove_prefix(static_cast<size_t>(n));
  }
}

std::string ReadToEof(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

// Sends raw bytes as one request and returns the whole response.
std::string RoundTrip(int port, std::string_view raw) {
  int fd = Connect(port);
  SendAll(fd, raw);
  std::string response = ReadToEof(fd);
  close(fd);
  return response;
}

std::string Get(int port, std::string_view target) {
  return RoundTrip(port, std::string("GET ") + std::string(target) +
                             " HTTP/1.1\r\nHost: localhost\r\nUser-Agent: test\r\n\r\n");
}

std::string Body(const std::string& response) {
  size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

class HttpServerTest : public ::testing::Test {
 protected:
  void StartServer(HttpServerOptions options = {}) {
    server_ = std::make_unique<HttpServer>(options);
    server_->Handle("/health", [](const HttpRequest& request) {
      HttpResponse response;
      auto ready = request.query.find("ready");
      response.body = ready == request.query.end() ? "ok\n" : "ready=" + ready->second + "\n";
      return response;
    });
    absl::StatusOr<int> port = server_->Start("127.0.0.1:0");
    ASSERT_TRUE(port.ok()) << port.status();
    port_ = *port;
    ASSERT_GT(port_, 0);
    EXPECT_EQ(server_->port(), port_);
  }

  std::unique_ptr<HttpServer> server_;
  int port_ = 0;
};

TEST_F(HttpServerTest, ServesRegisteredPath) {
  StartServer();
  std::string response = Get(port_, "/health");
  EXPECT_THAT(response, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(response, HasSubstr("Content-Type: text/plain; charset=utf-8\r\n"));
  EXPECT_THAT(response, HasSubstr("Content-Length: 3\r\n"));
  EXPECT_THAT(response, HasSubstr("Connection: close\r\n"));
  EXPECT_EQ(Body(response), "ok\n");
}

TEST_F(HttpServerTest, HeadSendsHeadersWithoutBody) {
  StartServer();
  std::string response = RoundTrip(port_, "HEAD /health HTTP/1.1\r\n\r\n");
  EXPECT_THAT(response, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(response, HasSubstr("Content-Length: 3\r\n"));
  EXPECT_EQ(Body(response), "");
}

TEST_F(HttpServerTest, ParsesQuery) {
  StartServer();
  EXPECT_EQ(Body(Get(port_, "/health?ready=1")), "ready=1\n");
  EXPECT_EQ(Body(Get(port_, "/health?x=2&ready=a%20b+c")), "ready=a b c\n");
}

TEST_F(HttpServerTest, UnknownPathIs404) {
  StartServer();
  EXPECT_THAT(Get(port_, "/nope"), StartsWith("HTTP/1.1 404 Not Found\r\n"));
  // Exact match only.
  EXPECT_THAT(Get(port_, "/health/"), StartsWith("HTTP/1.1 404 "));
}

TEST_F(HttpServerTest, OtherMethodsAre405) {
  StartServer();
  std::string response = RoundTrip(port_, "POST /health HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi");
  EXPECT_THAT(response, StartsWith("HTTP/1.1 405 Method Not Allowed\r\n"));
  EXPECT_THAT(response, HasSubstr("Allow: GET, HEAD\r\n"));
}

TEST_F(HttpServerTest, MalformedRequestsAre400) {
  StartServer();
  for (const char* raw :
       {"HELLO\r\n\r\n", "GET /health\r\n\r\n", "GET /health HTTP/2.0\r\n\r\n",
        "GET health HTTP/1.1\r\n\r\n", "GET /health?x=%zz HTTP/1.1\r\n\r\n",
        "GET /health HTTP/1.1\r\nno colon here\r\n\r\n", "GET  /health HTTP/1.1\r\n\r\n"}) {
    EXPECT_THAT(RoundTrip(port_, raw), StartsWith("HTTP/1.1 400 Bad Request\r\n")) << raw;
  }
}

TEST_F(HttpServerTest, OversizedHeadIs431) {
  StartServer();
  std::string raw = "GET /health HTTP/1.1\r\nX-Big: " + std::string(20 * 1024, 'a') + "\r\n\r\n";
  EXPECT_THAT(RoundTrip(port_, raw), StartsWith("HTTP/1.1 431 Request Header Fields Too Large"));
  // Just under the bound is fine.
  std::string fits =
      "GET /health HTTP/1.1\r\nX-Big: " + std::string(16 * 1024 - 100, 'a') + "\r\n\r\n";
  EXPECT_THAT(RoundTrip(port_, fits), StartsWith("HTTP/1.1 200 OK"));
}

TEST_F(HttpServerTest, SlowClientGets408AfterReadTimeout) {
  HttpServerOptions options;
  options.read_timeout_ms = 200;
  StartServer(options);
  int fd = Connect(port_);
  SendAll(fd, "GET /health HTTP/1.1\r\n");  // and never finishes
  auto start = std::chrono::steady_clock::now();
  EXPECT_THAT(ReadToEof(fd), StartsWith("HTTP/1.1 408 Request Timeout"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  close(fd);
}

TEST_F(HttpServerTest, ConcurrentClients) {
  StartServer();
  constexpr int kClients = 16;
  constexpr int kRequestsPerClient = 25;
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; i < kRequestsPerClient; ++i) {
        std::string response = Get(port_, "/health?ready=" + std::to_string(c));
        if (Body(response) == "ready=" + std::to_string(c) + "\n") ++ok;
      }
    });
  }
  for (auto& client : clients) client.join();
  EXPECT_EQ(ok.load(), kClients * kRequestsPerClient);
}

TEST_F(HttpServerTest, BusyServerAnswers503) {
  HttpServerOptions options;
  options.max_connections = 1;
  options.max_pending = 1;
  server_ = std::make_unique<HttpServer>(options);
  absl::Notification entered;
  absl::Notification release;
  server_->Handle("/slow", [&](const HttpRequest&) {
    if (!entered.HasBeenNotified()) entered.Notify();
    release.WaitForNotification();
    return HttpResponse{200, "text/plain", "slow\n"};
  });
  absl::StatusOr<int> port = server_->Start("127.0.0.1:0");
  ASSERT_TRUE(port.ok()) << port.status();
  std::string slow_response;
  std::thread slow([&] { slow_response = Get(*port, "/slow"); });
  entered.WaitForNotification();                                // the only worker is busy
  int queued_fd = Connect(*port);                               // fills the pending queue
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let it be accepted
  int rejected_fd = Connect(*port);
  std::string rejected = ReadToEof(rejected_fd);
  EXPECT_THAT(rejected, StartsWith("HTTP/1.1 503 Service Unavailable\r\n"));
  EXPECT_THAT(rejected, HasSubstr("Retry-After: 1\r\n"));
  release.Notify();
  slow.join();
  EXPECT_EQ(Body(slow_response), "slow\n");
  SendAll(queued_fd, "GET /slow HTTP/1.1\r\n\r\n");
  EXPECT_EQ(Body(ReadToEof(queued_fd)), "slow\n");
  close(queued_fd);
  close(rejected_fd);
}

TEST_F(HttpServerTest, StopIsPromptWithIdleClientConnected) {
  StartServer();  // read timeout 5 s
  int idle_fd = Connect(port_);
  SendAll(idle_fd, "GET /hea");  // a worker now waits for the rest
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto start = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_EQ(ReadToEof(idle_fd), "");  // closed without a response
  close(idle_fd);
  server_->Stop();  // idempotent
}

TEST_F(HttpServerTest, AddressInUseNamesTheAddress) {
  StartServer();
  HttpServer second;
  std::string address = "127.0.0.1:" + std::to_string(port_);
  absl::StatusOr<int> port = second.Start(address);
  ASSERT_FALSE(port.ok());
  EXPECT_EQ(port.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(port.status().message()), HasSubstr(address));
  EXPECT_THAT(std::string(port.status().message()), HasSubstr("in use"));
}

TEST(HttpServerStartTest, RejectsMalformedAddressesAndSecondStart) {
  HttpServer server;
  EXPECT_EQ(server.Start("localhost").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(server.Start("127.0.0.1:http").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(server.Start("127.0.0.1:70000").status().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(server.Start("127.0.0.1:0").ok());
  EXPECT_EQ(server.Start("127.0.0.1:0").status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ParseHttpRequestHeadTest, ParsesPathAndQuery) {
  absl::StatusOr<HttpRequest> request =
      ParseHttpRequestHead("GET /a%2Fb?x=1&flag&x=2&&e= HTTP/1.0\r\nHost: h\r\n\r\n");
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->method, "GET");
  EXPECT_EQ(request->path, "/a/b");
  EXPECT_EQ(request->query,
            (std::map<std::string, std::string>{{"x", "2"}, {"flag", ""}, {"e", ""}}));
}

TEST(ParseHttpRequestHeadTest, RejectsMalformed) {
  EXPECT_FALSE(ParseHttpRequestHead("GET / HTTP/1.1\r\n").ok());  // incomplete
  EXPECT_FALSE(ParseHttpRequestHead("G@T / HTTP/1.1\r\n\r\n").ok());
  EXPECT_FALSE(ParseHttpRequestHead("GET /a\x01 HTTP/1.1\r\n\r\n").ok());
  EXPECT_FALSE(ParseHttpRequestHead("GET / HTTP/1.1\r\n folded\r\n\r\n").ok());
  EXPECT_FALSE(ParseHttpRequestHead("GET / HTTP/1.1\r\n: empty name\r\n\r\n").ok());
  EXPECT_FALSE(PercentDecode("%4", false).ok());
  EXPECT_EQ(*PercentDecode("%41+", false), "A+");
  EXPECT_EQ(*PercentDecode("%41+", true), "A ");
}

}  // namespace
}  // namespace rangedb
