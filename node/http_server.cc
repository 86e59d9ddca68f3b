#include "node/http_server.h"

#include <pthread.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace rangedb {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// After the response, the client may still be sending (a 431 stops reading early).
// Closing a socket with unread input makes the kernel send RST, which can destroy the
// response in flight, so read and discard a bounded amount for a bounded time first.
constexpr size_t kLingerDrainBytesMax = 64 * 1024;
constexpr int64_t kLingerDrainMs = 200;

absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::string SerializeResponse(const HttpResponse& response, bool include_body) {
  std::string out = absl::StrCat(
      "HTTP/1.1 ", response.status_code, " ", AbslView(HttpReasonPhrase(response.status_code)),
      "\r\nContent-Type: ", response.content_type, "\r\nContent-Length: ", response.body.size(),
      "\r\nConnection: close\r\n");
  if (response.status_code == 405) out += "Allow: GET, HEAD\r\n";
  if (response.status_code == 503) out += "Retry-After: 1\r\n";
  out += "\r\n";
  if (include_body) out += response.body;
  return out;
}

HttpResponse ErrorResponse(int status_code, std::string_view detail = {}) {
  HttpResponse response;
  response.status_code = status_code;
  response.body = std::string(HttpReasonPhrase(status_code));
  if (!detail.empty()) absl::StrAppend(&response.body, ": ", AbslView(detail));
  response.body += "\n";
  return response;
}

// Splits "host:port", "[v6]:port" or ":port". The host is empty for every interface.
absl::Status SplitHostPort(std::string_view host_port, std::string* host, std::string* port) {
  size_t colon = host_port.rfind(':');
  if (colon == std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("HTTP address \"", AbslView(host_port), "\" is not host:port"));
  }
  std::string_view h = host_port.substr(0, colon);
  std::string_view p = host_port.substr(colon + 1);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  int port_number = -1;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port_number);
  if (p.empty() || ec != std::errc() || end != p.data() + p.size() || port_number < 0 ||
      port_number > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("HTTP address \"", AbslView(host_port), "\" has an invalid port"));
  }
  *host = std::string(h);
  *port = std::string(p);
  return absl::OkStatus();
}

// Binds and listens on the first usable address for host:port; returns the socket.
absl::StatusOr<int> Listen(std::string_view host_port, int backlog) {
  std::string host;
  std::string port;
  if (absl::Status status = SplitHostPort(host_port, &host, &port); !status.ok()) return status;
  std::string where(host_port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* addresses = nullptr;
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &addresses);
  if (rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot resolve HTTP address ", where, ": ", gai_strerror(rc)));
  }
  int last_errno = 0;
  int fd = -1;
  for (addrinfo* a = addresses; a != nullptr; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) {
      last_errno = errno;
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, backlog) == 0) break;
    last_errno = errno;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(addresses);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on HTTP address ", where, ": ", std::strerror(last_errno)));
  }
  return fd;
}

}  // namespace

HttpServer::HttpServer(HttpServerOptions options) : options_(options) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Handle(std::string path, HttpHandler handler) {
  absl::MutexLock lock(&mu_);
  handlers_[std::move(path)] = std::move(handler);
}

absl::StatusOr<int> HttpServer::Start(std::string_view host_port) {
  if (options_.max_connections < 1 || options_.max_pending < 1) {
    return absl::InvalidArgumentError("HTTP server needs max_connections and max_pending >= 1");
  }
  absl::MutexLock lifecycle_lock(&lifecycle_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (started_) return absl::FailedPreconditionError("HTTP server already started");
  }
  absl::StatusOr<int> fd = Listen(host_port, options_.listen_backlog);
  if (!fd.ok()) return fd.status();
  sockaddr_storage bound{};
  socklen_t bound_size = sizeof(bound);
  if (getsockname(*fd, reinterpret_cast<sockaddr*>(&bound), &bound_size) != 0 ||
      pipe2(wake_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    int saved_errno = errno;
    close(*fd);
    return absl::InternalError(absl::StrCat("HTTP server setup: ", std::strerror(saved_errno)));
  }
  listen_fd_ = *fd;
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  {
    absl::MutexLock lock(&mu_);
    started_ = true;
  }
  accept_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "http-accept");
    AcceptLoop();
  });
  for (int i = 0; i < options_.max_connections; ++i) {
    workers_.emplace_back([this] {
      pthread_setname_np(pthread_self(), "http-worker");
      WorkerLoop();
    });
  }
  return port_.load();
}

void HttpServer::Stop() {
  absl::MutexLock lifecycle_lock(&lifecycle_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (!started_ || stopping_) return;
    stopping_ = true;
  }
  stop_requested_ = true;
  // The pipe is never drained: once written, every poll on it returns at once.
  char byte = 's';
  if (write(wake_pipe_[1], &byte, 1) != 1) {
    // Cannot happen with an empty pipe; the threads would still see stopping_ on
    // their next wake-up.
  }
  accept_thread_.join();
  for (std::thread& worker : workers_) worker.join();
  workers_.clear();
  {
    absl::MutexLock lock(&mu_);
    for (int fd : pending_fds_) close(fd);
    pending_fds_.clear();
  }
  close(listen_fd_);
  close(wake_pipe_[0]);
  close(wake_pipe_[1]);
  listen_fd_ = wake_pipe_[0] = wake_pipe_[1] = -1;
}

bool HttpServer::WaitFd(int fd, short events, int64_t deadline_ms) const {
  while (!stop_requested_) {
    int timeout_ms = -1;
    if (deadline_ms >= 0) {
      int64_t remaining_ms = deadline_ms - NowMs();
      if (remaining_ms <= 0) return false;
      timeout_ms = static_cast<int>(remaining_ms);
    }
    pollfd fds[2] = {{fd, events, 0}, {wake_pipe_[0], POLLIN, 0}};
    int n = poll(fds, 2, timeout_ms);
    if (n < 0 && errno != EINTR) return false;
    if (fds[1].revents != 0) return false;
    if (n > 0 && fds[0].revents != 0) return true;
  }
  return false;
}

void HttpServer::AcceptLoop() {
  while (WaitFd(listen_fd_, POLLIN, /*deadline_ms=*/-1)) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      // Out of descriptors: back off instead of spinning on the still-readable listener.
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        WaitFd(wake_pipe_[0], POLLIN, NowMs() + 100);
      }
      continue;
    }
    bool queued = false;
    {
      absl::MutexLock lock(&mu_);
      if (pending_fds_.size() < options_.max_pending) {
        pending_fds_.push_back(fd);
        queued = true;
      }
    }
    if (!queued) {
      // A fresh socket's send buffer is empty, so this small write does not block.
      std::string busy = SerializeResponse(ErrorResponse(503, "server busy"), true);
      (void)send(fd, busy.data(), busy.size(), MSG_NOSIGNAL);
      close(fd);
    }
  }
}

void HttpServer::WorkerLoop() {
  while (true) {
    int fd;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](HttpServer* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
            return self->stopping_ || !self->pending_fds_.empty();
          },
          this));
      if (stopping_) return;
      fd = pending_fds_.front();
      pending_fds_.pop_front();
    }
    ServeConnection(fd);
  }
}

int HttpServer::ReadHead(int fd, std::string* head) const {
  int64_t deadline_ms = NowMs() + options_.read_timeout_ms;
  char buf[4096];
  while (true) {
    size_t end = head->find("\r\n\r\n");
    if (end != std::string::npos && end + 4 <= options_.max_header_bytes) {
      head->resize(end + 4);  // a body or pipelined bytes are ignored
      return 0;
    }
    if (head->size() >= options_.max_header_bytes) return 431;
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0) {
      head->append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      return -1;  // the client went away before finishing its request
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!WaitFd(fd, POLLIN, deadline_ms)) return stop_requested_ ? -1 : 408;
    } else if (errno != EINTR) {
      return -1;
    }
  }
}

void HttpServer::WriteAll(int fd, std::string_view data) const {
  int64_t deadline_ms = NowMs() + options_.write_timeout_ms;
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!WaitFd(fd, POLLOUT, deadline_ms)) return;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return;
    }
  }
}

HttpResponse HttpServer::Dispatch(const HttpRequest& request) const {
  HttpHandler handler;
  {
    absl::MutexLock lock(&mu_);
    auto it = handlers_.find(request.path);
    if (it == handlers_.end()) return ErrorResponse(404, "no handler for this path");
    handler = it->second;
  }
  return handler(request);
}

void HttpServer::ServeConnection(int fd) {
  std::string head;
  int code = ReadHead(fd, &head);
  if (code < 0) {
    close(fd);
    return;
  }
  HttpResponse response;
  bool include_body = true;
  if (code > 0) {
    response = ErrorResponse(code);
  } else if (absl::StatusOr<HttpRequest> request = ParseHttpRequestHead(head); !request.ok()) {
    std::string message(request.status().message());
    response = ErrorResponse(400, message);
  } else if (request->method != "GET" && request->method != "HEAD") {
    response = ErrorResponse(405, "only GET and HEAD are supported");
  } else {
    include_body = request->method == "GET";
    response = Dispatch(*request);
  }
  WriteAll(fd, SerializeResponse(response, include_body));
  shutdown(fd, SHUT_WR);
  int64_t deadline_ms = NowMs() + kLingerDrainMs;
  char buf[4096];
  for (size_t drained = 0; drained < kLingerDrainBytesMax;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0) {
      drained += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!WaitFd(fd, POLLIN, deadline_ms)) break;
    } else if (!(n < 0 && errno == EINTR)) {
      break;  // EOF or error
    }
  }
  close(fd);
}

}  // namespace rangedb
