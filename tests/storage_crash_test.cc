// The storage crash test (DESIGN.md §3 Durability, §9 Testing): whatever the store
// acknowledges as synced survives kill -9 of the process, and the store reopens
// cleanly afterwards.
//
// This binary is both parent and child. The parent (the GoogleTest tests below)
// re-executes itself from /proc/self/exe with --writer (fork + exec, a fresh process);
// the writer (storage_crash_workload.h) commits synced batches in a loop and reports
// each acknowledged one on a pipe. The parent kills it with SIGKILL after a random
// delay, reopens the store in-process, verifies every write acknowledged so far, and
// starts the next writer on the same store. See docs/testing.md.
//
// Environment: RANGEDB_CRASH_SEED fixes the kill schedule (the OS still decides what
// the writer had done by then); RANGEDB_CRASH_CYCLES changes the number of cycles.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "storage/rocksdb_engine.h"
#include "tests/storage_crash_workload.h"

namespace rangedb::crash_test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kDefaultCycles = 25;
constexpr int kMinKillDelayMs = 1;
constexpr int kMaxKillDelayMs = 200;
// One cycle in this many starts its kill delay at the spawn, not at "ready", so that
// some kills land while the writer opens (and recovers) the store.
constexpr int kKillFromSpawnOneIn = 5;
// How long the parent waits for a writer to report "ready" or its first ack.
constexpr auto kReportTimeout = std::chrono::seconds(30);
// Bytes of report lines buffered before a newline; a longer line is an error.
constexpr size_t kMaxReportLineBytes = 64;

absl::Status ErrnoError(absl::string_view what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

// What one writer reported on its pipe.
struct WriterReport {
  std::optional<int64_t> ready_seq;  // "ready <seq>": the first batch it will write
  std::vector<int64_t> acked_seqs;   // "ack <seq>", in order
  bool eof = false;                  // the pipe closed: the writer is gone
};

// One writer child and the read end of its report pipe.
class WriterProcess {
 public:
  // Starts `self --writer --store=<store>` with fork + exec. A negative
  // ack_before_commit_gap_ms runs the correct writer, otherwise the planted bug.
  static absl::StatusOr<std::unique_ptr<WriterProcess>> Start(const std::string& self,
                                                              const std::string& store,
                                                              int64_t ack_before_commit_gap_ms);

  WriterProcess(pid_t pid, int fd) : pid_(pid), fd_(fd) {}
  WriterProcess(const WriterProcess&) = delete;
  WriterProcess& operator=(const WriterProcess&) = delete;
  // Kills and reaps a writer still running (a test that failed midway), closes the pipe.
  ~WriterProcess();

  // Reads report lines until stop(report()) holds, the deadline passes, or EOF.
  [[nodiscard]] absl::Status ReadUntil(Clock::time_point deadline,
                                       const std::function<bool(const WriterReport&)>& stop);
  // SIGKILL, then waitpid. An error if the writer had exited by itself.
  [[nodiscard]] absl::Status KillAndReap();
  // Reads the lines the writer wrote before it died. REQUIRES: KillAndReap() done.
  [[nodiscard]] absl::Status DrainToEof();

  const WriterReport& report() const { return report_; }

 private:
  [[nodiscard]] absl::Status ReadAvailable();  // one read(2); parses whole lines
  [[nodiscard]] absl::Status ParseLine(absl::string_view line);

  pid_t pid_;  // -1 once reaped
  int fd_;     // read end of the report pipe
  std::string partial_line_;
  WriterReport report_;
};

absl::StatusOr<std::unique_ptr<WriterProcess>> WriterProcess::Start(
    const std::string& self, const std::string& store, int64_t ack_before_commit_gap_ms) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoError("pipe2");
  // Everything the child needs is built before fork: after it, only async-signal-safe
  // calls, since RocksDB's thread pool makes the parent multi-threaded.
  std::vector<std::string> args = {self, "--writer", absl::StrCat("--store=", store),
                                   absl::StrCat("--ack_fd=", fds[1])};
  if (ack_before_commit_gap_ms >= 0) {
    args.push_back(absl::StrCat("--ack_before_commit_gap_ms=", ack_before_commit_gap_ms));
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid < 0) {
    absl::Status s = ErrnoError("fork");
    ::close(fds[0]);
    ::close(fds[1]);
    return s;
  }
  if (pid == 0) {
    // Die with the parent; keep the pipe's write end (only) across exec.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent ||
        ::fcntl(fds[1], F_SETFD, 0) != 0) {
      ::_exit(126);
    }
    ::execv("/proc/self/exe", argv.data());
    static constexpr char kMessage[] = "storage_crash_test: execv(/proc/self/exe) failed\n";
    [[maybe_unused]] const ssize_t ignored = ::write(STDERR_FILENO, kMessage, sizeof(kMessage) - 1);
    ::_exit(127);
  }
  auto process = std::make_unique<WriterProcess>(pid, fds[0]);
  if (::close(fds[1]) != 0) return ErrnoError("close of the pipe's write end");
  return process;
}

WriterProcess::~WriterProcess() {
  if (pid_ > 0 && ::kill(pid_, SIGKILL) == 0) {
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  if (fd_ >= 0) ::close(fd_);
}

absl::Status WriterProcess::ReadUntil(Clock::time_point deadline,
                                      const std::function<bool(const WriterReport&)>& stop) {
  while (!stop(report_) && !report_.eof) {
    const auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) return absl::OkStatus();
    // Round up so a sub-millisecond remainder still waits instead of spinning.
    const int64_t left_ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    pollfd p = {.fd = fd_, .events = POLLIN, .revents = 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left_ms, INT_MAX)));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("poll of the report pipe");
    if (n > 0) {
      if (absl::Status s = ReadAvailable(); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

absl::Status WriterProcess::KillAndReap() {
  // A writer that already exited is a zombie until reaped, so kill still succeeds.
  if (::kill(pid_, SIGKILL) != 0) return ErrnoError(absl::StrCat("kill of writer ", pid_));
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, 0);
  } while (r < 0 && errno == EINTR);
  if (r != pid_) return ErrnoError(absl::StrCat("waitpid of writer ", pid_));
  pid_ = -1;
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) return absl::OkStatus();
  if (WIFEXITED(status)) {
    return absl::InternalError(absl::StrCat("writer exited with status ", WEXITSTATUS(status),
                                            " before it was killed (its stderr says why)"));
  }
  return absl::InternalError(absl::StrCat("writer died of signal ", WTERMSIG(status)));
}

absl::Status WriterProcess::DrainToEof() {
  while (!report_.eof) {
    if (absl::Status s = ReadAvailable(); !s.ok()) return s;
  }
  // Lines are written whole with one write(2) of < PIPE_BUF bytes, which is atomic.
  if (!partial_line_.empty()) {
    return absl::InternalError(absl::StrCat("writer report ends mid-line: ", partial_line_));
  }
  return absl::OkStatus();
}

absl::Status WriterProcess::ReadAvailable() {
  char buf[4096];
  ssize_t n;
  do {
    n = ::read(fd_, buf, sizeof(buf));
  } while (n < 0 && errno == EINTR);
  if (n < 0) return ErrnoError("read of the report pipe");
  if (n == 0) {
    report_.eof = true;
    return absl::OkStatus();
  }
  partial_line_.append(buf, static_cast<size_t>(n));
  size_t newline;
  while ((newline = partial_line_.find('\n')) != std::string::npos) {
    if (absl::Status s = ParseLine(absl::string_view(partial_line_).substr(0, newline)); !s.ok()) {
      return s;
    }
    partial_line_.erase(0, newline + 1);
  }
  if (partial_line_.size() > kMaxReportLineBytes) {
    return absl::InternalError(absl::StrCat("writer report line too long: ", partial_line_));
  }
  return absl::OkStatus();
}

absl::Status WriterProcess::ParseLine(absl::string_view line) {
  std::vector<absl::string_view> words = absl::StrSplit(line, ' ');
  int64_t seq = 0;
  if (words.size() != 2 || !absl::SimpleAtoi(words[1], &seq) || seq <= 0) {
    return absl::InternalError(absl::StrCat("malformed writer report line '", line, "'"));
  }
  if (words[0] == "ready" && !report_.ready_seq.has_value()) {
    report_.ready_seq = seq;
  } else if (words[0] == "ack" && report_.ready_seq.has_value()) {
    report_.acked_seqs.push_back(seq);
  } else {
    return absl::InternalError(absl::StrCat("unexpected writer report line '", line, "'"));
  }
  return absl::OkStatus();
}

struct CrashTestOptions {
  uint64_t seed = 0;
  // >= 0: run the writer with the planted bug (ack, sleep this long, then commit) and
  // kill it as soon as it reports its first ack.
  int64_t ack_before_commit_gap_ms = -1;
};

// Runs kill/reopen cycles on one store, remembering every ack across them.
class CrashHarness {
 public:
  CrashHarness(std::string self, std::string store, const CrashTestOptions& options)
      : self_(std::move(self)), store_(std::move(store)), options_(options), rng_(options.seed) {}

  // Starts a writer, kills it, reopens and verifies the store. Returns the first
  // problem: a process or pipe failure, a malformed report, a store that does not
  // open, or VerifyStore's verdict.
  [[nodiscard]] absl::Status RunCycle();

  int64_t total_acks() const { return static_cast<int64_t>(acked_seqs_.size()); }
  int64_t last_seq() const { return last_seq_; }

 private:
  [[nodiscard]] absl::Status RunWriterUntilKilled(WriterReport* report);
  [[nodiscard]] absl::Status CheckReport(const WriterReport& report) const;

  const std::string self_;
  const std::string store_;
  const CrashTestOptions options_;
  std::mt19937_64 rng_;
  std::vector<int64_t> acked_seqs_;  // every ack of every writer so far
  int64_t last_seq_ = 0;             // the store's last batch at the previous check
};

absl::Status CrashHarness::RunWriterUntilKilled(WriterReport* report) {
  const bool planted_bug = options_.ack_before_commit_gap_ms >= 0;
  const bool from_spawn = !planted_bug && rng_() % kKillFromSpawnOneIn == 0;
  const auto delay = std::chrono::milliseconds(
      planted_bug ? 0 : std::uniform_int_distribution<int>(kMinKillDelayMs, kMaxKillDelayMs)(rng_));

  absl::StatusOr<std::unique_ptr<WriterProcess>> writer =
      WriterProcess::Start(self_, store_, options_.ack_before_commit_gap_ms);
  if (!writer.ok()) return writer.status();
  WriterProcess& w = **writer;
  auto trigger = [&](const WriterReport& r) {
    return planted_bug ? !r.acked_seqs.empty() : r.ready_seq.has_value();
  };
  if (!from_spawn) {
    if (absl::Status s = w.ReadUntil(Clock::now() + kReportTimeout, trigger); !s.ok()) return s;
    if (!trigger(w.report())) {
      if (absl::Status s = w.KillAndReap(); !s.ok()) return s;
      return absl::DeadlineExceededError(absl::StrCat("writer reported no ",
                                                      planted_bug ? "ack" : "ready", " within ",
                                                      kReportTimeout.count(), "s"));
    }
  }
  auto never = [](const WriterReport&) { return false; };
  if (absl::Status s = w.ReadUntil(Clock::now() + delay, never); !s.ok()) return s;
  if (absl::Status s = w.KillAndReap(); !s.ok()) return s;
  if (absl::Status s = w.DrainToEof(); !s.ok()) return s;
  *report = w.report();
  std::cout << "  killed " << delay.count() << "ms after " << (from_spawn ? "spawn" : "trigger")
            << ": first seq " << (report->ready_seq ? absl::StrCat(*report->ready_seq) : "-")
            << ", " << report->acked_seqs.size() << " acks\n";
  return absl::OkStatus();
}

// The writer must resume right after the batches the parent found, and ack only
// batches it commits synced, in order.
absl::Status CrashHarness::CheckReport(const WriterReport& report) const {
  if (report.ready_seq.has_value() && *report.ready_seq != last_seq_ + 1) {
    return absl::InternalError(absl::StrCat("writer resumed at seq ", *report.ready_seq,
                                            " but the store ended at ", last_seq_));
  }
  int64_t previous = last_seq_;
  for (int64_t seq : report.acked_seqs) {
    if (seq <= previous || !IsAcknowledged(seq)) {
      return absl::InternalError(absl::StrCat("writer acked seq ", seq, " after ", previous));
    }
    previous = seq;
  }
  return absl::OkStatus();
}

absl::Status CrashHarness::RunCycle() {
  WriterReport report;
  if (absl::Status s = RunWriterUntilKilled(&report); !s.ok()) return s;
  if (absl::Status s = CheckReport(report); !s.ok()) return s;
  acked_seqs_.insert(acked_seqs_.end(), report.acked_seqs.begin(), report.acked_seqs.end());

  EngineOptions engine_options;
  engine_options.path = store_;
  absl::StatusOr<std::unique_ptr<Engine>> engine = OpenEngine(engine_options);
  if (!engine.ok()) {
    return absl::Status(engine.status().code(),
                        absl::StrCat("store did not reopen cleanly: ", engine.status().message()));
  }
  absl::StatusOr<int64_t> last = VerifyStore(**engine, acked_seqs_);
  if (!last.ok()) return last.status();
  last_seq_ = *last;
  return absl::OkStatus();  // *engine closes the store before the next writer opens it
}

// A fresh directory under the test temp dir, removed unless the test failed.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = testing::TempDir() + "rangedb_crash_XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      ADD_FAILURE() << ErrnoError(absl::StrCat("mkdtemp ", pattern));
      return;
    }
    path_ = pattern;
  }
  ~ScratchDir() {
    if (path_.empty()) return;
    if (testing::Test::HasFailure()) {
      std::cout << "store kept for inspection: " << path_ << "\n";
      return;
    }
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
    if (ec) std::cerr << "cannot remove " << path_ << ": " << ec.message() << "\n";
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

absl::StatusOr<std::string> SelfPath() {
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return absl::UnavailableError(absl::StrCat("readlink /proc/self/exe: ", ec.message()));
  return self.string();
}

// A positive integer from the environment, or fallback when the variable is unset.
uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* text = std::getenv(name);
  uint64_t value = 0;
  if (text == nullptr) return fallback;
  if (!absl::SimpleAtoi(text, &value) || value == 0) {
    ADD_FAILURE() << name << "='" << text << "' is not a positive integer";
    return fallback;
  }
  return value;
}

TEST(StorageCrashTest, AcknowledgedWritesSurviveKill9AndStoreReopens) {
  const uint64_t seed = EnvOr("RANGEDB_CRASH_SEED", std::random_device{}());
  const int cycles = static_cast<int>(EnvOr("RANGEDB_CRASH_CYCLES", kDefaultCycles));
  absl::StatusOr<std::string> self = SelfPath();
  ASSERT_TRUE(self.ok()) << self.status();
  const std::string replay =
      absl::StrCat("RANGEDB_CRASH_SEED=", seed, " ", *self,
                   " --gtest_filter=StorageCrashTest.AcknowledgedWritesSurviveKill9*");
  std::cout << "seed " << seed << ", " << cycles << " cycles; replay: " << replay << "\n";
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());

  CrashHarness harness(*self, dir.path() + "/store", {.seed = seed});
  for (int cycle = 1; cycle <= cycles; ++cycle) {
    absl::Status s = harness.RunCycle();
    ASSERT_TRUE(s.ok()) << "seed " << seed << ", cycle " << cycle << "/" << cycles << ": " << s
                        << "\nreplay: " << replay;
  }
  std::cout << harness.total_acks() << " acknowledged batches verified; store holds "
            << harness.last_seq() << " batches\n";
  // Guards against a vacuous pass (say, writers dying before their first commit).
  EXPECT_GT(harness.total_acks(), 0) << "no writer acknowledged anything: nothing was checked";
}

// The checker above is proven able to fail (DESIGN.md §9): a writer that acks a
// batch before committing it, killed right after the ack, must be caught.
TEST(StorageCrashTest, CheckerCatchesAckBeforeCommitBug) {
  constexpr uint64_t kSeed = 42;
  constexpr int kMaxCycles = 5;
  constexpr int64_t kAckBeforeCommitGapMs = 50;
  absl::StatusOr<std::string> self = SelfPath();
  ASSERT_TRUE(self.ok()) << self.status();
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());

  CrashHarness harness(*self, dir.path() + "/store",
                       {.seed = kSeed, .ack_before_commit_gap_ms = kAckBeforeCommitGapMs});
  absl::Status caught;
  for (int cycle = 1; cycle <= kMaxCycles && caught.ok(); ++cycle) caught = harness.RunCycle();
  ASSERT_FALSE(caught.ok()) << "the checker missed " << kMaxCycles
                            << " acks sent before their commit, each killed in the gap";
  std::cout << "caught: " << caught << "\n";
  EXPECT_EQ(caught.code(), absl::StatusCode::kDataLoss) << caught;
  EXPECT_THAT(std::string(caught.message()), testing::HasSubstr("acknowledged seq"));
}

}  // namespace
}  // namespace rangedb::crash_test

// The same binary is the writer child when started with --writer.
int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "--writer") {
    return rangedb::crash_test::WriterMain(argc, argv);
  }
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
