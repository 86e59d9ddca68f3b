#include "tests/cluster_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/limits.h"

#ifndef RANGEDB_BINARY
#error "RANGEDB_BINARY must be defined by the build (tests/CMakeLists.txt)"
#endif

namespace rangedb::harness {
namespace {

constexpr char kLoopback[] = "127.0.0.1";
// PickFreePort gives up after this many ports that were all excluded.
constexpr int kMaxPortAttempts = 64;
// An HTTP response (headers and body) larger than this is an error.
constexpr size_t kMaxHttpResponseBytes = (1 << 20) + 16 * 1024;
// Polling intervals of WaitReady / LoadNodeIds, and the wait between init attempts.
constexpr absl::Duration kPollInterval = absl::Milliseconds(100);
constexpr absl::Duration kHttpAttemptTimeout = absl::Seconds(1);
// Bytes read from the end of a log for DumpLogs.
constexpr std::streamoff kLogTailBytes = 64 * 1024;

absl::Status ErrnoStatus(absl::StatusCode code, absl::string_view what) {
  return absl::Status(code, absl::StrCat(what, ": ", std::strerror(errno)));
}

// Owns one file descriptor.
class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  ~ScopedFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

absl::Status FromGrpc(const grpc::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  // gRPC and Abseil share the canonical code numbers.
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(what, ": ", s.error_message()));
}

// Milliseconds left until `deadline`, rounded up, at least 0.
int PollMillis(absl::Time deadline) {
  const absl::Duration left = std::max(deadline - absl::Now(), absl::ZeroDuration());
  return static_cast<int>(std::min<int64_t>(
      absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))), 1 << 30));
}

// Waits until fd has `events` or the deadline passes.
absl::Status PollFd(int fd, short events, absl::Time deadline, absl::string_view what) {
  while (true) {
    pollfd p = {.fd = fd, .events = events, .revents = 0};
    const int n = ::poll(&p, 1, PollMillis(deadline));
    if (n > 0) return absl::OkStatus();
    if (n == 0) return absl::DeadlineExceededError(absl::StrCat(what, ": timed out"));
    if (errno != EINTR) return ErrnoStatus(absl::StatusCode::kInternal, what);
  }
}

absl::StatusOr<sockaddr_in> ParseHostPort(const std::string& host_port) {
  std::pair<std::string, std::string> parts = absl::StrSplit(host_port, ':');
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  int port = 0;
  if (::inet_pton(AF_INET, parts.first.c_str(), &addr.sin_addr) != 1 ||
      !absl::SimpleAtoi(parts.second, &port) || port <= 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("not an IPv4 host:port: ", host_port));
  }
  addr.sin_port = htons(static_cast<uint16_t>(port));
  return addr;
}

absl::StatusOr<HttpResponse> ParseHttpResponse(const std::string& raw, absl::string_view what) {
  const size_t header_end = raw.find("\r\n\r\n");
  const size_t line_end = raw.find("\r\n");
  std::vector<absl::string_view> status_line =
      absl::StrSplit(absl::string_view(raw).substr(0, line_end), ' ');
  HttpResponse response;
  if (header_end == std::string::npos || status_line.size() < 2 ||
      !absl::StartsWith(status_line[0], "HTTP/1.") ||
      !absl::SimpleAtoi(status_line[1], &response.status_code)) {
    return absl::InternalError(
        absl::StrCat(what, ": malformed response: ", absl::CHexEscape(raw.substr(0, 200))));
  }
  response.body = raw.substr(header_end + 4);
  return response;
}

// The last `lines` lines of the file at `path`, or a note why there are none.
std::string Tail(const std::string& path, int lines) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return "(no log)\n";
  const std::streamoff size = in.tellg();
  const std::streamoff start = std::max<std::streamoff>(0, size - kLogTailBytes);
  in.seekg(start);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;
  for (int n = 0; n < lines && pos != std::string::npos && pos > 0; ++n) {
    pos = text.rfind('\n', pos - 1);
  }
  return pos == std::string::npos ? text : text.substr(pos + 1);
}

}  // namespace

// ---- Utilities ----

absl::StatusOr<int> PickFreePort(const std::set<int>& exclude) {
  for (int attempt = 0; attempt < kMaxPortAttempts; ++attempt) {
    ScopedFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) return ErrnoStatus(absl::StatusCode::kInternal, "socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      return ErrnoStatus(absl::StatusCode::kUnavailable, "bind of 127.0.0.1:0");
    }
    socklen_t len = sizeof(addr);
    if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return ErrnoStatus(absl::StatusCode::kInternal, "getsockname");
    }
    const int port = ntohs(addr.sin_port);
    if (!exclude.contains(port)) return port;
  }
  return absl::ResourceExhaustedError(absl::StrCat("no free port outside the ", exclude.size(),
                                                   " excluded after ", kMaxPortAttempts,
                                                   " attempts"));
}

absl::StatusOr<HttpResponse> HttpGet(const std::string& host_port, const std::string& path,
                                     absl::Duration timeout) {
  const std::string what = absl::StrCat("GET http://", host_port, path);
  absl::StatusOr<sockaddr_in> addr = ParseHostPort(host_port);
  if (!addr.ok()) return addr.status();
  const absl::Time deadline = absl::Now() + timeout;
  ScopedFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return ErrnoStatus(absl::StatusCode::kInternal, what);

  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof(*addr)) != 0) {
    if (errno != EINPROGRESS) return ErrnoStatus(absl::StatusCode::kUnavailable, what);
    if (absl::Status s = PollFd(fd.get(), POLLOUT, deadline, what); !s.ok()) return s;
    int error = 0;
    socklen_t len = sizeof(error);
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &len) != 0) error = errno;
    if (error != 0) {
      return absl::UnavailableError(absl::StrCat(what, ": connect: ", std::strerror(error)));
    }
  }

  const std::string request =
      absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: ", host_port, "\r\nConnection: close\r\n\r\n");
  size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (errno == EAGAIN || errno == EINTR) {
      if (absl::Status s = PollFd(fd.get(), POLLOUT, deadline, what); !s.ok()) return s;
    } else {
      return ErrnoStatus(absl::StatusCode::kUnavailable, what);
    }
  }

  std::string raw;
  char buf[4096];
  while (true) {
    const ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
    if (n == 0) break;
    if (n > 0) {
      raw.append(buf, static_cast<size_t>(n));
      if (raw.size() > kMaxHttpResponseBytes) {
        return absl::InternalError(
            absl::StrCat(what, ": response above ", kMaxHttpResponseBytes, " bytes"));
      }
    } else if (errno == EAGAIN || errno == EINTR) {
      if (absl::Status s = PollFd(fd.get(), POLLIN, deadline, what); !s.ok()) return s;
    } else {
      return ErrnoStatus(absl::StatusCode::kUnavailable, what);
    }
  }
  return ParseHttpResponse(raw, what);
}

// ---- ClusterHarness: life cycle ----

absl::StatusOr<std::unique_ptr<ClusterHarness>> ClusterHarness::Create(ClusterOptions options) {
  if (options.num_nodes < 1) {
    return absl::InvalidArgumentError(absl::StrCat("num_nodes = ", options.num_nodes));
  }
  if (options.binary.empty()) options.binary = RANGEDB_BINARY;
  const char* tmp = std::getenv("TMPDIR");
  std::string templ =
      absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/rangedb-cluster-XXXXXX");
  if (::mkdtemp(templ.data()) == nullptr) {
    return ErrnoStatus(absl::StatusCode::kInternal, absl::StrCat("mkdtemp ", templ));
  }
  auto harness =
      std::unique_ptr<ClusterHarness>(new ClusterHarness(std::move(options), std::move(templ)));
  std::set<int> used;
  for (Node& node : harness->nodes_) {
    for (int* port : {&node.port, &node.http_port}) {
      absl::StatusOr<int> picked = PickFreePort(used);
      if (!picked.ok()) return picked.status();
      *port = *picked;
      used.insert(*picked);
    }
  }
  return harness;
}

ClusterHarness::ClusterHarness(ClusterOptions options, std::string base_dir)
    : options_(std::move(options)), base_dir_(std::move(base_dir)), nodes_(options_.num_nodes) {}

ClusterHarness::~ClusterHarness() {
  for (int i = 0; i < num_nodes(); ++i) (void)Kill(i);
  const char* keep = std::getenv("RANGEDB_KEEP_TEST_DIRS");
  const bool keep_dirs = keep != nullptr && std::string(keep) == "1";
  if (::testing::Test::HasFailure()) {
    DumpLogs(std::cerr);
    if (!keep_dirs) std::cerr << "(set RANGEDB_KEEP_TEST_DIRS=1 to keep " << base_dir_ << ")\n";
  }
  if (keep_dirs) {
    std::cerr << "cluster harness: kept " << base_dir_ << "\n";
    return;
  }
  std::error_code ignored;
  std::filesystem::remove_all(base_dir_, ignored);
}

absl::Status ClusterHarness::StartCluster(absl::Duration ready_timeout) {
  if (absl::Status s = StartAll(); !s.ok()) return s;
  // Init includes only the nodes that answer, so every node must be serving first.
  const absl::Time deadline = absl::Now() + ready_timeout;
  for (int i = 0; i < num_nodes(); ++i) {
    for (;;) {
      absl::StatusOr<HttpResponse> r = HttpGet(http_address(i), "/health", kHttpAttemptTimeout);
      if (r.ok() && r->status_code == 200) break;
      if (absl::Now() > deadline || !IsRunning(i)) {
        return absl::DeadlineExceededError(
            absl::StrCat("node ", i, " does not serve HTTP; see ", log_path(i)));
      }
      absl::SleepFor(kPollInterval);
    }
  }
  if (absl::Status s = Init(); !s.ok()) return s;
  if (absl::Status s = WaitAllReady(ready_timeout); !s.ok()) return s;
  return LoadNodeIds();
}

absl::Status ClusterHarness::StartAll() {
  for (int i = 0; i < num_nodes(); ++i) {
    if (IsRunning(i)) continue;
    if (absl::Status s = Start(i); !s.ok()) return s;
  }
  return absl::OkStatus();
}

std::vector<std::string> ClusterHarness::InitArgs(int i) const {
  std::vector<std::string> argv = {options_.binary, "init", absl::StrCat("--host=", address(i))};
  if (!options_.split_keys.empty()) {
    argv.push_back(absl::StrCat("--split-at=", absl::StrJoin(options_.split_keys, ",")));
  }
  return argv;
}

absl::Status ClusterHarness::Init() {
  const std::vector<std::string> argv = InitArgs(0);
  const std::string command = absl::StrJoin(argv, " ");
  const absl::Time deadline = absl::Now() + options_.init_timeout;
  std::mt19937_64 rng(std::random_device{}());
  std::string last;
  while (true) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    absl::StatusOr<CommandResult> run = RunCommand(argv, left);
    if (!run.ok())
      return absl::Status(run.status().code(), absl::StrCat(command, ": ", run.status().message()));
    if (!run->exit.signaled && run->exit.code == 0) return absl::OkStatus();
    last = absl::StrCat(run->exit.ToString(), ": ", run->output);
    const std::string lower = absl::AsciiStrToLower(run->output);
    if (!absl::StrContains(lower, "unavailable") && !absl::StrContains(lower, "connect")) {
      return absl::InternalError(absl::StrCat(command, " failed with ", last));
    }
    // The node is not listening yet: back off with jitter and retry.
    absl::SleepFor(kPollInterval + absl::Milliseconds(rng() % 100));
  }
  return absl::DeadlineExceededError(absl::StrCat(command, " did not succeed within ",
                                                  absl::FormatDuration(options_.init_timeout),
                                                  "; last: ", last));
}

absl::Status ClusterHarness::WaitReady(int i, absl::Duration timeout) {
  if (absl::Status s = CheckIndex(i, "WaitReady"); !s.ok()) return s;
  const absl::Time deadline = absl::Now() + timeout;
  std::string last = "no attempt";
  while (absl::Now() < deadline) {
    if (!IsRunning(i)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "node ", i, " is not running (",
          nodes_[i].process ? nodes_[i].process->exit_info()->ToString() : "never started",
          "); see ", log_path(i)));
    }
    absl::StatusOr<HttpResponse> r = HttpGet(http_address(i), "/health?ready=1",
                                             std::min(kHttpAttemptTimeout, deadline - absl::Now()));
    if (r.ok() && r->status_code == 200) return absl::OkStatus();
    last = r.ok() ? absl::StrCat("HTTP ", r->status_code, ": ", r->body) : r.status().ToString();
    absl::SleepFor(kPollInterval);
  }
  return absl::DeadlineExceededError(absl::StrCat("node ", i, " not ready after ",
                                                  absl::FormatDuration(timeout), "; last: ", last,
                                                  "; see ", log_path(i)));
}

absl::Status ClusterHarness::WaitAllReady(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (int i = 0; i < num_nodes(); ++i) {
    if (absl::Status s = WaitReady(i, deadline - absl::Now()); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status ClusterHarness::LoadNodeIds(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (int i = 0; i < num_nodes(); ++i) {
    std::string last;
    while (true) {
      absl::StatusOr<nodepb::NodeStatusResponse> status = NodeStatus(i);
      if (status.ok() && status->node_id() != 0) {
        nodes_[i].node_id = status->node_id();
        break;
      }
      last = status.ok() ? "node_id 0 (not bootstrapped yet)" : status.status().ToString();
      if (absl::Now() >= deadline) {
        return absl::DeadlineExceededError(absl::StrCat(
            "node ", i, " has no node id after ", absl::FormatDuration(timeout), "; last: ", last));
      }
      absl::SleepFor(kPollInterval);
    }
  }
  return absl::OkStatus();
}

// ---- ClusterHarness: processes ----

absl::Status ClusterHarness::CheckIndex(int i, const char* what) const {
  if (i >= 0 && i < num_nodes()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(what, ": no node ", i, " in a cluster of ", num_nodes()));
}

std::string ClusterHarness::address(int i) const {
  return absl::StrCat(kLoopback, ":", nodes_[i].port);
}

std::string ClusterHarness::http_address(int i) const {
  return absl::StrCat(kLoopback, ":", nodes_[i].http_port);
}

std::vector<std::string> ClusterHarness::addresses() const {
  std::vector<std::string> out;
  for (int i = 0; i < num_nodes(); ++i) out.push_back(address(i));
  return out;
}

std::string ClusterHarness::store_dir(int i) const { return absl::StrCat(base_dir_, "/node", i); }

std::string ClusterHarness::log_path(int i) const {
  return absl::StrCat(base_dir_, "/node", i, ".log");
}

std::vector<std::string> ClusterHarness::StartArgs(int i) const {
  const NodeOptions& node = nodes_[i].options;
  std::vector<std::string> argv = {
      options_.binary,
      "start",
      absl::StrCat("--store=", store_dir(i)),
      absl::StrCat("--listen-addr=", address(i)),
      absl::StrCat("--http-addr=", http_address(i)),
      absl::StrCat("--join=", absl::StrJoin(addresses(), ",")),
      "--testing-faults",
  };
  if (node.clock_offset_ms != 0) {
    argv.push_back(absl::StrCat("--testing-clock-offset-ms=", node.clock_offset_ms));
  }
  argv.insert(argv.end(), options_.extra_flags.begin(), options_.extra_flags.end());
  argv.insert(argv.end(), node.extra_flags.begin(), node.extra_flags.end());
  return argv;
}

bool ClusterHarness::IsRunning(int i) {
  return nodes_[i].process != nullptr && nodes_[i].process->IsRunning();
}

absl::Status ClusterHarness::Start(int i) {
  if (absl::Status s = CheckIndex(i, "Start"); !s.ok()) return s;
  if (IsRunning(i)) {
    return absl::FailedPreconditionError(absl::StrCat("Start: node ", i, " is already running"));
  }
  std::error_code error;
  std::filesystem::create_directories(store_dir(i), error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("node ", i, ": creating ", store_dir(i), ": ", error.message()));
  }
  ProcessOptions process_options;
  process_options.argv = StartArgs(i);
  process_options.log_path = log_path(i);
  absl::StatusOr<std::unique_ptr<Process>> process = Process::Start(process_options);
  if (!process.ok()) {
    return absl::Status(process.status().code(),
                        absl::StrCat("node ", i, ": ", absl::StrJoin(process_options.argv, " "),
                                     ": ", process.status().message()));
  }
  Node& node = nodes_[i];
  node.process = *std::move(process);
  node.stopped = false;
  node.channel.reset();  // a fresh connection, without the old one's reconnect backoff
  return absl::OkStatus();
}

absl::Status ClusterHarness::Kill(int i) {
  if (absl::Status s = CheckIndex(i, "Kill"); !s.ok()) return s;
  Node& node = nodes_[i];
  if (node.process == nullptr) return absl::OkStatus();
  if (absl::Status s = node.process->Kill(); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("node ", i, ": ", s.message()));
  }
  node.stopped = false;
  return absl::OkStatus();
}

absl::Status ClusterHarness::Stop(int i) {
  if (absl::Status s = CheckIndex(i, "Stop"); !s.ok()) return s;
  if (!IsRunning(i))
    return absl::FailedPreconditionError(absl::StrCat("Stop: node ", i, " is down"));
  if (absl::Status s = nodes_[i].process->Stop(); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("node ", i, ": ", s.message()));
  }
  nodes_[i].stopped = true;
  return absl::OkStatus();
}

absl::Status ClusterHarness::Cont(int i) {
  if (absl::Status s = CheckIndex(i, "Cont"); !s.ok()) return s;
  if (!IsRunning(i))
    return absl::FailedPreconditionError(absl::StrCat("Cont: node ", i, " is down"));
  if (absl::Status s = nodes_[i].process->Cont(); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("node ", i, ": ", s.message()));
  }
  nodes_[i].stopped = false;
  return absl::OkStatus();
}

absl::Status ClusterHarness::Restart(int i) {
  if (absl::Status s = Kill(i); !s.ok()) return s;
  return Start(i);
}

absl::Status ClusterHarness::WipeStore(int i) {
  if (absl::Status s = CheckIndex(i, "WipeStore"); !s.ok()) return s;
  if (IsRunning(i)) {
    return absl::FailedPreconditionError(absl::StrCat("WipeStore: node ", i, " is running"));
  }
  std::error_code error;
  std::filesystem::remove_all(store_dir(i), error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("node ", i, ": removing ", store_dir(i), ": ", error.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<ExitInfo> ClusterHarness::Terminate(int i, absl::Duration timeout) {
  if (absl::Status s = CheckIndex(i, "Terminate"); !s.ok()) return s;
  Node& node = nodes_[i];
  if (node.process == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("Terminate: node ", i, " never started"));
  }
  absl::StatusOr<ExitInfo> info = node.process->Terminate(timeout);
  if (!info.ok()) {
    return absl::Status(info.status().code(),
                        absl::StrCat("node ", i, ": ", info.status().message()));
  }
  node.stopped = false;
  return info;
}

void ClusterHarness::DumpLogs(std::ostream& out, int tail_lines) const {
  out << "cluster harness: " << num_nodes() << " nodes under " << base_dir_ << "\n";
  for (int i = 0; i < num_nodes(); ++i) {
    out << "---- node " << i << " (" << address(i) << "), log " << log_path(i) << ", last "
        << tail_lines << " lines:\n"
        << Tail(log_path(i), tail_lines);
  }
}

// ---- ClusterHarness: RPCs and partitions ----

grpc::Channel& ClusterHarness::ChannelTo(int i) {
  Node& node = nodes_[i];
  if (node.channel == nullptr) {
    // Reconnect quickly: nodes come and go all the time in these tests, and gRPC's
    // default backoff grows to two minutes.
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    args.SetMaxReceiveMessageSize(static_cast<int>(limits::kMaxKvMessageBytes));
    node.channel = grpc::CreateCustomChannel(address(i), grpc::InsecureChannelCredentials(), args);
  }
  return *node.channel;
}

absl::StatusOr<nodepb::NodeStatusResponse> ClusterHarness::NodeStatus(int i) {
  if (absl::Status s = CheckIndex(i, "NodeStatus"); !s.ok()) return s;
  ChannelTo(i);
  auto stub = nodepb::Admin::NewStub(nodes_[i].channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options_.rpc_timeout));
  nodepb::NodeStatusRequest request;
  nodepb::NodeStatusResponse response;
  const grpc::Status s = stub->NodeStatus(&context, request, &response);
  if (!s.ok()) return FromGrpc(s, absl::StrCat("Admin.NodeStatus to node ", i, " at ", address(i)));
  return response;
}

absl::Status ClusterHarness::SendPartition(int i) {
  const Node& node = nodes_[i];
  nodepb::SetPartitionRequest request;
  for (int j : node.drop_inbound_from) {
    if (nodes_[j].node_id == 0) {
      return absl::FailedPreconditionError("partition: node ids unknown; call LoadNodeIds()");
    }
    request.add_drop_inbound_from(nodes_[j].node_id);
  }
  for (int j : node.drop_outbound_to) {
    if (nodes_[j].node_id == 0) {
      return absl::FailedPreconditionError("partition: node ids unknown; call LoadNodeIds()");
    }
    request.add_drop_outbound_to(nodes_[j].node_id);
  }
  ChannelTo(i);
  auto stub = nodepb::Testing::NewStub(nodes_[i].channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options_.rpc_timeout));
  nodepb::SetPartitionResponse response;
  return FromGrpc(stub->SetPartition(&context, request, &response),
                  absl::StrCat("Testing.SetPartition to node ", i, " at ", address(i)));
}

absl::Status ClusterHarness::SetClockOffsetNow(int i, int64_t offset_ms) {
  if (absl::Status s = CheckIndex(i, "SetClockOffsetNow"); !s.ok()) return s;
  ChannelTo(i);
  auto stub = nodepb::Testing::NewStub(nodes_[i].channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options_.rpc_timeout));
  nodepb::SetClockOffsetRequest request;
  request.set_offset_ms(offset_ms);
  nodepb::SetClockOffsetResponse response;
  return FromGrpc(stub->SetClockOffset(&context, request, &response),
                  absl::StrCat("Testing.SetClockOffset to node ", i, " at ", address(i)));
}

absl::Status ClusterHarness::RefuseBootstraps(int i, int count) {
  if (absl::Status s = CheckIndex(i, "RefuseBootstraps"); !s.ok()) return s;
  ChannelTo(i);
  auto stub = nodepb::Testing::NewStub(nodes_[i].channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options_.rpc_timeout));
  nodepb::RefuseBootstrapsRequest request;
  request.set_count(count);
  nodepb::RefuseBootstrapsResponse response;
  return FromGrpc(stub->RefuseBootstraps(&context, request, &response),
                  absl::StrCat("Testing.RefuseBootstraps to node ", i, " at ", address(i)));
}

absl::Status ClusterHarness::ReapplyPartition() {
  for (int i = 0; i < num_nodes(); ++i) {
    if (!IsRunning(i) || nodes_[i].stopped) continue;  // the other ends enforce it
    if (absl::Status s = SendPartition(i); !s.ok()) return s;
  }
  return absl::OkStatus();
}

void ClusterHarness::ClearPartition() {
  for (Node& node : nodes_) {
    node.drop_inbound_from.clear();
    node.drop_outbound_to.clear();
  }
}

absl::Status ClusterHarness::PartitionSymmetric(const std::vector<std::vector<int>>& groups) {
  std::vector<int> group_of(num_nodes(), -1);  // -1: in no group, cut off from all
  for (int g = 0; g < static_cast<int>(groups.size()); ++g) {
    for (int i : groups[g]) {
      if (absl::Status s = CheckIndex(i, "PartitionSymmetric"); !s.ok()) return s;
      if (group_of[i] != -1) {
        return absl::InvalidArgumentError(
            absl::StrCat("PartitionSymmetric: node ", i, " is in two groups"));
      }
      group_of[i] = g;
    }
  }
  ClearPartition();
  for (int i = 0; i < num_nodes(); ++i) {
    for (int j = 0; j < num_nodes(); ++j) {
      if (i == j || (group_of[i] != -1 && group_of[i] == group_of[j])) continue;
      nodes_[i].drop_inbound_from.insert(j);
      nodes_[i].drop_outbound_to.insert(j);
    }
  }
  return ReapplyPartition();
}

absl::Status ClusterHarness::PartitionOneWay(int from, int to) {
  if (absl::Status s = CheckIndex(from, "PartitionOneWay"); !s.ok()) return s;
  if (absl::Status s = CheckIndex(to, "PartitionOneWay"); !s.ok()) return s;
  if (from == to) return absl::InvalidArgumentError("PartitionOneWay: from == to");
  nodes_[from].drop_outbound_to.insert(to);
  nodes_[to].drop_inbound_from.insert(from);
  return ReapplyPartition();
}

absl::Status ClusterHarness::Ring() {
  const int n = num_nodes();
  ClearPartition();
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      const bool neighbour = j == (i + 1) % n || j == (i + n - 1) % n;
      if (i == j || neighbour) continue;
      nodes_[i].drop_inbound_from.insert(j);
      nodes_[i].drop_outbound_to.insert(j);
    }
  }
  return ReapplyPartition();
}

absl::Status ClusterHarness::Heal() {
  ClearPartition();
  return ReapplyPartition();
}

}  // namespace rangedb::harness
