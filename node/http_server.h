// HttpServer: a small HTTP/1.1 server over POSIX sockets for the node's operational
// endpoints (/health, /metrics, status pages). It is not a general web server: GET and
// HEAD only, handlers registered by exact path, one request per connection
// ("Connection: close"), no request bodies, no TLS.
//
// Responses the server produces itself:
//   400 malformed request line, header line or percent escape
//   404 no handler for the path
//   405 a method other than GET or HEAD (with "Allow: GET, HEAD")
//   408 the request head did not arrive within read_timeout_ms
//   431 the request head exceeds max_header_bytes
//   503 every worker is busy and the pending queue is full (with "Retry-After: 1")
//
// Threading: one accept thread and max_connections worker threads. The accept thread
// hands connections to the workers through a queue of at most max_pending
// connections; beyond that it answers 503 itself. A worker serves one connection at a
// time, so a slow client holds a worker for at most read_timeout_ms plus
// write_timeout_ms. Stop() wakes every blocked thread through a self-pipe, so it
// returns promptly even with idle clients connected; it does wait for handlers that
// are running.
//
// Thread safety: Handle, Start, Stop and port may be called from any thread.
// Handlers run on worker threads, concurrently with each other: they must be
// thread-safe. REQUIRES: a handler does not call Stop (it would wait for itself).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace rangedb {

struct HttpRequest {
  std::string method;  // "GET" or "HEAD" by the time a handler sees it
  std::string path;    // percent-decoded, without the query: "/health"
  // Percent-decoded query parameters ('+' is a space); a repeated name keeps the last
  // value, a name without '=' maps to "".
  std::map<std::string, std::string> query;
};

struct HttpResponse {
  int status_code = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServerOptions {
  // Bound on the request line plus headers.
  size_t max_header_bytes = 16 * 1024;
  // Deadline for receiving the whole request head, from accept.
  int64_t read_timeout_ms = 5'000;
  // Deadline for sending the whole response.
  int64_t write_timeout_ms = 5'000;
  // Worker threads: connections served at once. REQUIRES: >= 1.
  int max_connections = 8;
  // Accepted connections waiting for a worker. REQUIRES: >= 1 (the hand-off to an
  // idle worker goes through this queue too).
  size_t max_pending = 32;
  // The kernel's accept backlog (listen(2)).
  int listen_backlog = 64;
};

class HttpServer {
 public:
  explicit HttpServer(HttpServerOptions options = {});
  ~HttpServer();  // Stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Serves `handler` for requests whose path is exactly `path` ("/metrics"). Replaces
  // an earlier handler for the same path. May be called before or after Start.
  void Handle(std::string path, HttpHandler handler);

  // Binds host:port ("127.0.0.1:8080", "[::1]:0", ":8080" for every interface), starts
  // the threads and returns the bound port (useful with port 0). Errors:
  // InvalidArgument for a malformed address, Unavailable if it cannot be bound (the
  // message names the address and the reason, e.g. "address already in use"),
  // FailedPrecondition if already started, InvalidArgument for options breaking their
  // REQUIRES. A server is started at most once.
  [[nodiscard]] absl::StatusOr<int> Start(std::string_view host_port);

  // Closes the listener and every connection, joins the threads. Idempotent.
  void Stop();

  // The bound port, or 0 before Start.
  int port() const { return port_.load(); }

 private:
  void AcceptLoop();
  void WorkerLoop();
  void ServeConnection(int fd);
  // Waits until fd is ready for `events` (POLLIN/POLLOUT), the deadline passes
  // (returns false) or Stop is called (returns false).
  bool WaitFd(int fd, short events, int64_t deadline_ms) const;
  // Reads the request head into *head. Returns 0 when complete, else the status code
  // to answer (408, 431), or -1 to close silently (peer closed, Stop).
  int ReadHead(int fd, std::string* head) const;
  void WriteAll(int fd, std::string_view data) const;
  HttpResponse Dispatch(const HttpRequest& request) const;

  const HttpServerOptions options_;
  std::atomic<int> port_{0};
  // Set by Stop before it wakes the threads; read by the polling loops.
  std::atomic<bool> stop_requested_{false};

  // Serializes Start and Stop. Lock order: lifecycle_mu_ < mu_.
  absl::Mutex lifecycle_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  // Written by Start before the threads exist and closed by Stop after they are
  // joined, so the threads read them without a lock.
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};  // written once by Stop; every poll watches [0]
  std::thread accept_thread_;
  std::vector<std::thread> workers_;

  mutable absl::Mutex mu_;
  std::map<std::string, HttpHandler, std::less<>> handlers_ ABSL_GUARDED_BY(mu_);
  std::deque<int> pending_fds_ ABSL_GUARDED_BY(mu_);  // at most options_.max_pending
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

// Parses a request head (request line and headers up to and including the blank
// line). InvalidArgument if malformed. Exposed for tests.
absl::StatusOr<HttpRequest> ParseHttpRequestHead(std::string_view head);

// Percent-decodes s; plus_is_space for query components. InvalidArgument on a bad
// escape.
absl::StatusOr<std::string> PercentDecode(std::string_view s, bool plus_is_space);

// The status line's reason phrase for the codes this server uses ("OK", "Not Found").
std::string_view HttpReasonPhrase(int status_code);

}  // namespace rangedb
