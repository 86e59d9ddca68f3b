// The rangedb binary. Everything lives in RunCli so it can be tested in-process.
#include <iostream>

#include "absl/synchronization/mutex.h"
#include "client/cli/cli.h"

int main(int argc, char** argv) {
  // Debian's Abseil checks every mutex acquisition for lock-order cycles (a debug
  // aid). Tests keep it on; the server turns it off: it costs CPU on every lock.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return rangedb::RunCli(argc, argv, std::cout, std::cerr);
}
