// Child processes for tests: start a binary with fork + exec, signal it, wait for it,
// and never leave it behind.
//
// Process owns one running child. Its destructor SIGKILLs and reaps the child if it is
// still there, and the child is started with PR_SET_PDEATHSIG = SIGKILL so it also dies
// if the test process dies without running destructors (a crash, a CHECK, a SIGKILL).
// Linux delivers that signal when the *thread* that forked exits, so start processes
// from a thread that outlives them (the test's main thread).
//
// RunCommand runs a short command to completion and captures its output (used for
// `rangedb init`).
//
// Thread safety: a Process is not thread-safe; use it from one thread. Starting processes
// from several threads at once is safe (nothing but async-signal-safe calls run between
// fork and exec).
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace rangedb::harness {

struct ProcessOptions {
  // argv[0] is the path of the binary (no PATH search). REQUIRES: non-empty.
  std::vector<std::string> argv;
  // If non-empty, the child's stdout and stderr are appended to this file (created if
  // missing). Otherwise they go to output_fd if >= 0 (the caller keeps owning it), else
  // to the parent's.
  std::string log_path;
  int output_fd = -1;
  // The child's stdin: this descriptor if >= 0 (the caller keeps owning it; e.g. the
  // read end of a pipe the test writes commands into), else /dev/null.
  int input_fd = -1;
};

// How a child ended, from waitpid's status.
struct ExitInfo {
  bool signaled = false;  // killed by a signal (then `signal`), else exited (`code`)
  int code = 0;
  int signal = 0;
  std::string ToString() const;  // "exit code 3" | "signal 9 (Killed)"
};

struct CommandResult {
  ExitInfo exit;
  std::string output;  // stdout and stderr interleaved, at most max_output_bytes
};

class Process {
 public:
  // Starts the child. Fails (with the binary's name and errno) if fork or exec fails;
  // a missing binary is reported here, not as an exit code later.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Process>> Start(
      const ProcessOptions& options);

  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  // SIGKILLs and reaps the child if it has not been reaped yet.
  ~Process();

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }  // argv[0], for messages

  // Whether the child has not exited. Reaps it (without blocking) if it has, recording
  // exit_info(). A stopped child is running.
  bool IsRunning();
  // How the child ended; nullopt while it runs.
  const std::optional<ExitInfo>& exit_info() const { return exit_info_; }

  // SIGKILL, then wait for it. OK if it had already exited.
  [[nodiscard]] absl::Status Kill();
  // SIGSTOP / SIGCONT. FailedPrecondition if the child has exited.
  [[nodiscard]] absl::Status Stop();
  [[nodiscard]] absl::Status Cont();
  // SIGTERM (and SIGCONT, since a stopped child cannot act on it); waits up to
  // `timeout`, then SIGKILLs. Returns how it ended: a child that ignored SIGTERM shows
  // up as signaled with SIGKILL.
  [[nodiscard]] absl::StatusOr<ExitInfo> Terminate(absl::Duration timeout);
  // Waits up to `timeout` for the child to exit by itself. DeadlineExceeded if it does
  // not (it keeps running).
  [[nodiscard]] absl::StatusOr<ExitInfo> Wait(absl::Duration timeout);

 private:
  Process(pid_t pid, std::string name) : pid_(pid), name_(std::move(name)) {}
  [[nodiscard]] absl::Status Signal(int signal, const char* what);
  // Non-blocking waitpid; records exit_info_ if the child ended. Returns true if it did.
  bool Reap();

  pid_t pid_;
  std::string name_;
  std::optional<ExitInfo> exit_info_;  // set once the child is reaped
};

// Runs argv to completion, capturing its output. If it runs longer than `timeout` it is
// killed and DeadlineExceeded is returned (with the output so far in the message).
// Output beyond `max_output_bytes` is read and discarded.
[[nodiscard]] absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                                       absl::Duration timeout,
                                                       size_t max_output_bytes = 1 << 20);

}  // namespace rangedb::harness
