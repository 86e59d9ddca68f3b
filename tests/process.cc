#include "tests/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace rangedb::harness {
namespace {

// How often Wait() polls a child that has not exited yet.
constexpr absl::Duration kWaitPollInterval = absl::Milliseconds(5);

absl::Status ErrnoError(absl::string_view what, int error) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(error)));
}

ExitInfo FromWaitStatus(int status) {
  ExitInfo info;
  if (WIFSIGNALED(status)) {
    info.signaled = true;
    info.signal = WTERMSIG(status);
  } else {
    info.code = WEXITSTATUS(status);
  }
  return info;
}

// Closes the fds it holds on every return path of Start().
struct FdCloser {
  std::vector<int> fds;
  ~FdCloser() {
    for (int fd : fds) {
      if (fd >= 0) ::close(fd);
    }
  }
};

}  // namespace

std::string ExitInfo::ToString() const {
  if (!signaled) return absl::StrCat("exit code ", code);
  return absl::StrCat("signal ", signal, " (", strsignal(signal), ")");
}

absl::StatusOr<std::unique_ptr<Process>> Process::Start(const ProcessOptions& options) {
  if (options.argv.empty()) return absl::InvalidArgumentError("Process::Start: empty argv");
  const std::string& name = options.argv[0];
  FdCloser closer;
  int output_fd = options.output_fd;
  if (!options.log_path.empty()) {
    output_fd = ::open(options.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (output_fd < 0) return ErrnoError(absl::StrCat("open of log ", options.log_path), errno);
    closer.fds.push_back(output_fd);
  }
  int stdin_fd = options.input_fd;
  if (stdin_fd < 0) {
    stdin_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (stdin_fd < 0) return ErrnoError("open of /dev/null", errno);
    closer.fds.push_back(stdin_fd);
  }
  // The child writes its exec errno here; EOF (close-on-exec) means exec succeeded.
  int exec_pipe[2];
  if (::pipe2(exec_pipe, O_CLOEXEC) != 0) return ErrnoError("pipe2", errno);
  closer.fds.push_back(exec_pipe[0]);
  closer.fds.push_back(exec_pipe[1]);

  // Everything the child needs is built before fork: the parent may be multi-threaded
  // (gRPC), so the child may only make async-signal-safe calls until exec.
  std::vector<std::string> args = options.argv;
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  sigset_t empty_mask;
  sigemptyset(&empty_mask);
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid < 0) return ErrnoError(absl::StrCat("fork for ", name), errno);
  if (pid == 0) {
    // Die with the parent, even if it never runs a destructor. getppid() catches a
    // parent that died before prctl took effect.
    int error = 0;
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) error = ECHILD;
    if (error == 0 && (::dup2(stdin_fd, STDIN_FILENO) < 0 ||
                       (output_fd >= 0 && (::dup2(output_fd, STDOUT_FILENO) < 0 ||
                                           ::dup2(output_fd, STDERR_FILENO) < 0)))) {
      error = errno;
    }
    if (error == 0) {
      ::sigprocmask(SIG_SETMASK, &empty_mask, nullptr);
      ::execv(argv[0], argv.data());
      error = errno;
    }
    [[maybe_unused]] const ssize_t ignored = ::write(exec_pipe[1], &error, sizeof(error));
    ::_exit(127);
  }

  auto process = std::unique_ptr<Process>(new Process(pid, name));
  ::close(exec_pipe[1]);
  exec_pipe[1] = -1;
  closer.fds.back() = -1;
  int child_error = 0;
  ssize_t n;
  do {
    n = ::read(exec_pipe[0], &child_error, sizeof(child_error));
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof(child_error))) {
    (void)process->Wait(absl::Seconds(5));  // it _exits right away
    return ErrnoError(absl::StrCat("exec of ", name), child_error);
  }
  return process;
}

Process::~Process() {
  if (!exit_info_.has_value()) (void)Kill();
}

bool Process::Reap() {
  if (exit_info_.has_value()) return true;
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r != pid_) return false;
  exit_info_ = FromWaitStatus(status);
  return true;
}

bool Process::IsRunning() { return !Reap(); }

absl::Status Process::Signal(int signal, const char* what) {
  if (Reap()) {
    return absl::FailedPreconditionError(absl::StrCat("cannot ", what, " ", name_, " (pid ", pid_,
                                                      "): it has ended, ", exit_info_->ToString()));
  }
  // An exited but unreaped child is a zombie, which accepts signals: no race with Reap.
  if (::kill(pid_, signal) != 0) {
    return ErrnoError(absl::StrCat(what, " of ", name_, " (pid ", pid_, ")"), errno);
  }
  return absl::OkStatus();
}

absl::Status Process::Kill() {
  if (Reap()) return absl::OkStatus();
  if (absl::Status s = Signal(SIGKILL, "kill"); !s.ok()) return s;
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, 0);
  } while (r < 0 && errno == EINTR);
  if (r != pid_) return ErrnoError(absl::StrCat("waitpid of ", name_, " (pid ", pid_, ")"), errno);
  exit_info_ = FromWaitStatus(status);
  return absl::OkStatus();
}

absl::Status Process::Stop() { return Signal(SIGSTOP, "stop"); }

absl::Status Process::Cont() { return Signal(SIGCONT, "continue"); }

absl::StatusOr<ExitInfo> Process::Terminate(absl::Duration timeout) {
  if (Reap()) return *exit_info_;
  if (absl::Status s = Signal(SIGTERM, "terminate"); !s.ok()) return s;
  (void)Signal(SIGCONT, "continue");  // a stopped child only sees SIGTERM once running
  if (absl::StatusOr<ExitInfo> info = Wait(timeout); info.ok()) return info;
  if (absl::Status s = Kill(); !s.ok()) return s;
  return *exit_info_;
}

absl::StatusOr<ExitInfo> Process::Wait(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!Reap()) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(absl::StrCat(
          name_, " (pid ", pid_, ") still running after ", absl::FormatDuration(timeout)));
    }
    absl::SleepFor(std::min(left, kWaitPollInterval));
  }
  return *exit_info_;
}

absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         absl::Duration timeout, size_t max_output_bytes) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return ErrnoError("pipe2", errno);
  ProcessOptions options;
  options.argv = argv;
  options.output_fd = out[1];
  absl::StatusOr<std::unique_ptr<Process>> started = Process::Start(options);
  ::close(out[1]);
  if (!started.ok()) {
    ::close(out[0]);
    return started.status();
  }
  Process& process = **started;
  const std::string name = argv.empty() ? "" : argv[0];

  // Read until EOF (the child and anything it forked closed the pipe) or the deadline.
  CommandResult result;
  const absl::Time deadline = absl::Now() + timeout;
  bool eof = false;
  while (!eof) {
    const int64_t left_ms = absl::ToInt64Milliseconds(
        absl::Ceil(std::max(deadline - absl::Now(), absl::ZeroDuration()), absl::Milliseconds(1)));
    if (left_ms == 0) break;
    pollfd p = {.fd = out[0], .events = POLLIN, .revents = 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left_ms, 1 << 30)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) break;
    if (ready == 0) continue;
    char buf[4096];
    const ssize_t n = ::read(out[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      eof = true;
      break;
    }
    const size_t room = max_output_bytes - std::min(max_output_bytes, result.output.size());
    result.output.append(buf, std::min(room, static_cast<size_t>(n)));
  }
  ::close(out[0]);
  if (!eof) {
    (void)process.Kill();
    return absl::DeadlineExceededError(absl::StrCat(name, " did not finish within ",
                                                    absl::FormatDuration(timeout),
                                                    "; output so far: ", result.output));
  }
  absl::StatusOr<ExitInfo> exit = process.Wait(std::max(deadline - absl::Now(), absl::Seconds(1)));
  if (!exit.ok()) {
    (void)process.Kill();
    return absl::DeadlineExceededError(
        absl::StrCat(name, " closed its output but did not exit: ", exit.status().message()));
  }
  result.exit = *exit;
  return result;
}

}  // namespace rangedb::harness
