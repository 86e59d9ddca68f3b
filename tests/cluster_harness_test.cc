// Tests of the parts of the cluster harness that need no rangedb server: Process
// (tests/process.h) on /bin/sleep and /bin/sh, port picking, HttpGet against a tiny
// server in this process, and ClusterHarness driving a fake node script that logs its
// arguments.
#include "tests/cluster_harness.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "tests/process.h"

namespace rangedb::harness {
namespace {

using ::testing::HasSubstr;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Polls the file at `path` for up to five seconds until it contains `text`.
bool WaitForLog(const std::string& path, const std::string& text) {
  for (int i = 0; i < 500; ++i) {
    if (ReadFile(path).find(text) != std::string::npos) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return false;
}

// The state letter of /proc/<pid>/stat: R, S, T (stopped), Z...
char ProcState(pid_t pid) {
  const std::string stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  const size_t paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() ? '?' : stat[paren + 2];
}

// Polls ProcState until it is `want` or a second passes (signals are asynchronous).
bool WaitForState(pid_t pid, char want) {
  for (int i = 0; i < 200; ++i) {
    if (ProcState(pid) == want) return true;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return false;
}

std::unique_ptr<Process> MustStart(std::vector<std::string> argv, std::string log_path = "") {
  absl::StatusOr<std::unique_ptr<Process>> p = Process::Start({std::move(argv), log_path});
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *std::move(p) : nullptr;
}

class TempDir {
 public:
  TempDir() {
    std::string templ = ::testing::TempDir() + "harness-test-XXXXXX";
    EXPECT_NE(::mkdtemp(templ.data()), nullptr);
    path_ = templ;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// ---- Process ----

TEST(ProcessTest, KillStopsAndReapsTheChild) {
  std::unique_ptr<Process> p = MustStart({"/bin/sleep", "100"});
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(p->IsRunning());
  ASSERT_TRUE(p->Kill().ok());
  EXPECT_FALSE(p->IsRunning());
  ASSERT_TRUE(p->exit_info().has_value());
  EXPECT_TRUE(p->exit_info()->signaled);
  EXPECT_EQ(p->exit_info()->signal, SIGKILL);
  EXPECT_TRUE(p->Kill().ok()) << "killing a dead child is a no-op";
  EXPECT_EQ(p->Stop().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ProcessTest, StopAndContinue) {
  std::unique_ptr<Process> p = MustStart({"/bin/sleep", "100"});
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(p->Stop().ok());
  EXPECT_TRUE(WaitForState(p->pid(), 'T'));
  EXPECT_TRUE(p->IsRunning()) << "stopped is still running";
  ASSERT_TRUE(p->Cont().ok());
  EXPECT_TRUE(WaitForState(p->pid(), 'S'));
}

TEST(ProcessTest, WaitReportsTheExitCode) {
  std::unique_ptr<Process> p = MustStart({"/bin/sh", "-c", "exit 3"});
  ASSERT_NE(p, nullptr);
  absl::StatusOr<ExitInfo> info = p->Wait(absl::Seconds(10));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_FALSE(info->signaled);
  EXPECT_EQ(info->code, 3);
  EXPECT_EQ(info->ToString(), "exit code 3");
}

TEST(ProcessTest, WaitTimesOutOnARunningChild) {
  std::unique_ptr<Process> p = MustStart({"/bin/sleep", "100"});
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->Wait(absl::Milliseconds(20)).status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(p->IsRunning());
}

TEST(ProcessTest, TerminateSendsSigterm) {
  std::unique_ptr<Process> p = MustStart({"/bin/sleep", "100"});
  ASSERT_NE(p, nullptr);
  absl::StatusOr<ExitInfo> info = p->Terminate(absl::Seconds(10));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_TRUE(info->signaled);
  EXPECT_EQ(info->signal, SIGTERM);
}

TEST(ProcessTest, TerminateReachesAStoppedChild) {
  std::unique_ptr<Process> p = MustStart({"/bin/sleep", "100"});
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(p->Stop().ok());
  ASSERT_TRUE(WaitForState(p->pid(), 'T'));
  absl::StatusOr<ExitInfo> info = p->Terminate(absl::Seconds(10));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->signal, SIGTERM);
}

TEST(ProcessTest, TerminateEscalatesToSigkill) {
  // An ignored disposition survives exec, so sleep itself ignores SIGTERM.
  TempDir dir;
  const std::string log = dir.path() + "/trap.log";
  std::unique_ptr<Process> p =
      MustStart({"/bin/sh", "-c", "trap '' TERM; echo trapped; exec sleep 100"}, log);
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(WaitForLog(log, "trapped"));
  absl::StatusOr<ExitInfo> info = p->Terminate(absl::Milliseconds(200));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->signal, SIGKILL);
}

TEST(ProcessTest, MissingBinaryFailsAtStart) {
  absl::StatusOr<std::unique_ptr<Process>> p = Process::Start({{"/nonexistent/rangedb"}, ""});
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.status().message(), HasSubstr("exec of /nonexistent/rangedb"));
  EXPECT_THAT(p.status().message(), HasSubstr("No such file"));
}

TEST(ProcessTest, LogCollectsStdoutAndStderrAcrossStarts) {
  TempDir dir;
  const std::string log = dir.path() + "/node0.log";
  for (int run = 0; run < 2; ++run) {
    std::unique_ptr<Process> p =
        MustStart({"/bin/sh", "-c", absl::StrCat("echo out", run, "; echo err", run, " >&2")}, log);
    ASSERT_NE(p, nullptr);
    ASSERT_TRUE(p->Wait(absl::Seconds(10)).ok());
  }
  EXPECT_EQ(ReadFile(log), "out0\nerr0\nout1\nerr1\n");
}

TEST(ProcessTest, DestructorKillsAndReapsTheChild) {
  pid_t pid;
  {
    std::unique_ptr<Process> p = MustStart({"/bin/sleep", "100"});
    ASSERT_NE(p, nullptr);
    pid = p->pid();
  }
  EXPECT_NE(::kill(pid, 0), 0) << "still exists";
  EXPECT_EQ(errno, ESRCH);
}

TEST(ProcessTest, ChildDiesWithTheThreadThatStartedIt) {
  // PR_SET_PDEATHSIG fires when the forking thread exits: the safeguard that kills
  // nodes when a test process dies without running destructors.
  std::unique_ptr<Process> p;
  std::thread([&p] { p = MustStart({"/bin/sleep", "100"}); }).join();
  ASSERT_NE(p, nullptr);
  absl::StatusOr<ExitInfo> info = p->Wait(absl::Seconds(10));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->signal, SIGKILL);
}

TEST(RunCommandTest, CapturesOutputAndExitCode) {
  absl::StatusOr<CommandResult> r =
      RunCommand({"/bin/sh", "-c", "echo hello; echo oops >&2; exit 2"}, absl::Seconds(10));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit.code, 2);
  EXPECT_EQ(r->output, "hello\noops\n");
}

TEST(RunCommandTest, KillsACommandThatOverrunsItsTimeout) {
  absl::StatusOr<CommandResult> r =
      RunCommand({"/bin/sh", "-c", "echo started; exec sleep 100"}, absl::Milliseconds(200));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(r.status().message(), HasSubstr("started"));
}

// ---- Ports and HTTP ----

TEST(PickFreePortTest, ReturnsABindablePortOutsideTheExcludedOnes) {
  absl::StatusOr<int> a = PickFreePort();
  ASSERT_TRUE(a.ok()) << a.status();
  absl::StatusOr<int> b = PickFreePort({*a});
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_NE(*a, *b);
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(*b));
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ::close(fd);
}

// A one-thread HTTP server on 127.0.0.1 that answers each connection with `reply`
// (raw bytes) after reading the request head, or never answers if reply is empty.
class TinyHttpServer {
 public:
  explicit TinyHttpServer(std::string reply) : reply_(std::move(reply)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(listen_fd_, 8), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~TinyHttpServer() {
    ::shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
    thread_.join();
    ::close(listen_fd_);
    for (int fd : held_fds_) ::close(fd);
  }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  std::string last_request() {
    absl::MutexLock lock(&mu_);
    return last_request_;
  }

 private:
  void Serve() {
    while (true) {
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      std::string request;
      char buf[1024];
      while (request.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::read(fd, buf, sizeof(buf));
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
      }
      {
        absl::MutexLock lock(&mu_);
        last_request_ = request;
      }
      if (!reply_.empty()) {
        [[maybe_unused]] ssize_t ignored = ::write(fd, reply_.data(), reply_.size());
        ::close(fd);
      } else {
        held_fds_.push_back(fd);  // never answered; closed at the end
      }
    }
  }

  std::string reply_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::vector<int> held_fds_;  // only the server thread touches it until join
  absl::Mutex mu_;
  std::string last_request_ ABSL_GUARDED_BY(mu_);
};

TEST(HttpGetTest, ReadsStatusAndBody) {
  TinyHttpServer server("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 9\r\n\r\nnot ready");
  absl::StatusOr<HttpResponse> r = HttpGet(server.address(), "/health?ready=1", absl::Seconds(5));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status_code, 503);
  EXPECT_EQ(r->body, "not ready");
  EXPECT_THAT(server.last_request(), HasSubstr("GET /health?ready=1 HTTP/1.0\r\n"));
}

TEST(HttpGetTest, RefusedConnectionIsUnavailable) {
  absl::StatusOr<int> port = PickFreePort();
  ASSERT_TRUE(port.ok());
  absl::StatusOr<HttpResponse> r =
      HttpGet(absl::StrCat("127.0.0.1:", *port), "/health", absl::Seconds(5));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
}

TEST(HttpGetTest, SilentServerTimesOut) {
  TinyHttpServer server("");
  const absl::Time start = absl::Now();
  absl::StatusOr<HttpResponse> r = HttpGet(server.address(), "/health", absl::Milliseconds(200));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST(HttpGetTest, MalformedResponseIsAnError) {
  TinyHttpServer server("garbage");
  EXPECT_EQ(HttpGet(server.address(), "/", absl::Seconds(5)).status().code(),
            absl::StatusCode::kInternal);
}

// ---- ClusterHarness with a fake node binary ----

// A stand-in for `rangedb`: `start` logs its arguments and sleeps; `init` fails as
// "unavailable" twice (counted in a file next to the script), then succeeds.
std::string WriteFakeBinary(const std::string& dir) {
  const std::string path = dir + "/fake_rangedb";
  std::ofstream out(path);
  out << "#!/bin/sh\n"
      << "if [ \"$1\" = init ]; then\n"
      << "  n=$(cat " << dir << "/init_count 2>/dev/null || echo 0)\n"
      << "  echo $((n + 1)) > " << dir << "/init_count\n"
      << "  echo \"args: $*\" >> " << dir << "/init_args\n"
      << "  if [ \"$n\" -lt 2 ]; then echo 'rpc error: unavailable: connection refused'; exit 1; "
         "fi\n"
      << "  echo 'cluster initialized'; exit 0\n"
      << "fi\n"
      << "echo \"args: $*\"\n"
      << "exec sleep 1000\n";
  out.close();
  ::chmod(path.c_str(), 0755);
  return path;
}

TEST(ClusterHarnessTest, StartsNodesWithStablePortsAndTheDocumentedFlags) {
  TempDir dir;
  ClusterOptions options;
  options.num_nodes = 3;
  options.binary = WriteFakeBinary(dir.path());
  options.extra_flags = {"--cache-size=1MiB"};
  absl::StatusOr<std::unique_ptr<ClusterHarness>> created = ClusterHarness::Create(options);
  ASSERT_TRUE(created.ok()) << created.status();
  ClusterHarness& cluster = **created;
  const std::string base = cluster.base_dir();
  EXPECT_TRUE(std::filesystem::is_directory(base));

  std::set<std::string> distinct;
  for (int i = 0; i < 3; ++i) {
    distinct.insert(cluster.address(i));
    distinct.insert(cluster.http_address(i));
  }
  EXPECT_EQ(distinct.size(), 6u) << "every port is different";

  ASSERT_TRUE(cluster.StartAll().ok());
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(cluster.IsRunning(i));
  // The fake logs its arguments once running; wait for that before killing it.
  ASSERT_TRUE(WaitForLog(cluster.log_path(1), "--testing-faults"));
  cluster.SetClockOffset(1, -250);
  cluster.node_options(1).extra_flags = {"--raft-tick-ms=5"};
  ASSERT_TRUE(cluster.Restart(1).ok());
  ASSERT_TRUE(WaitForLog(cluster.log_path(1), "offset"));
  const std::string log1 = ReadFile(cluster.log_path(1));
  const std::string join =
      absl::StrCat("--join=", cluster.address(0), ",", cluster.address(1), ",", cluster.address(2));
  EXPECT_THAT(log1, HasSubstr(absl::StrCat("args: start --store=", cluster.store_dir(1),
                                           " --listen-addr=", cluster.address(1),
                                           " --http-addr=", cluster.http_address(1), " ", join,
                                           " --testing-faults --cache-size=1MiB\n")));
  EXPECT_THAT(log1, HasSubstr("--testing-faults --testing-clock-offset-ms=-250 "
                              "--cache-size=1MiB --raft-tick-ms=5\n"));
  EXPECT_EQ(cluster.store_dir(1), base + "/node1");
  EXPECT_EQ(cluster.log_path(1), base + "/node1.log");

  ASSERT_TRUE(cluster.Init().ok());
  EXPECT_EQ(ReadFile(dir.path() + "/init_count"), "3\n") << "two retries, then success";
  EXPECT_THAT(ReadFile(dir.path() + "/init_args"),
              HasSubstr(absl::StrCat("args: init --host=", cluster.address(0), "\n")));

  ASSERT_TRUE(cluster.Stop(2).ok());
  EXPECT_TRUE(cluster.IsStopped(2));
  ASSERT_TRUE(cluster.Cont(2).ok());
  ASSERT_TRUE(cluster.Kill(0).ok());
  EXPECT_FALSE(cluster.IsRunning(0));
  EXPECT_EQ(cluster.WaitReady(0, absl::Seconds(1)).code(), absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<ExitInfo> terminated = cluster.Terminate(2);
  ASSERT_TRUE(terminated.ok()) << terminated.status();
  EXPECT_EQ(terminated->signal, SIGTERM);
  EXPECT_EQ(cluster.Start(7).code(), absl::StatusCode::kInvalidArgument);

  created->reset();
  EXPECT_FALSE(std::filesystem::exists(base)) << "the base dir is removed";
}

TEST(ClusterHarnessTest, WaitReadyTimesOutWhenNothingServesHealth) {
  TempDir dir;
  ClusterOptions options;
  options.num_nodes = 1;
  options.binary = WriteFakeBinary(dir.path());
  absl::StatusOr<std::unique_ptr<ClusterHarness>> cluster = ClusterHarness::Create(options);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  ASSERT_TRUE((*cluster)->Start(0).ok());
  const absl::Status s = (*cluster)->WaitReady(0, absl::Milliseconds(300));
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(s.message(), HasSubstr("node 0 not ready"));
  EXPECT_THAT(s.message(), HasSubstr((*cluster)->log_path(0)));
}

TEST(ClusterHarnessTest, PartitionsNeedNodeIds) {
  TempDir dir;
  ClusterOptions options;
  options.binary = WriteFakeBinary(dir.path());
  absl::StatusOr<std::unique_ptr<ClusterHarness>> cluster = ClusterHarness::Create(options);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  ASSERT_TRUE((*cluster)->StartAll().ok());
  EXPECT_EQ((*cluster)->PartitionSymmetric({{0}, {1, 2}}).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*cluster)->PartitionSymmetric({{0, 1}, {1, 2}}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*cluster)->PartitionOneWay(1, 1).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace rangedb::harness
