// The server process behind `rangedb start` (node/serve.h).
#include "node/serve.h"

#include <pthread.h>

#include <csignal>
#include <memory>

#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace rangedb {

absl::Status ServeNode(const NodeOptions& options, std::ostream& out) {
  // Block the stop signals in every thread; this one waits for them below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  spdlog::set_default_logger(spdlog::stderr_logger_mt("rangedb"));
  spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");

  absl::StatusOr<std::unique_ptr<Node>> node = Node::Start(options);
  if (!node.ok()) return node.status();
  out << "rangedb node started\n"
      << "  address: " << options.listen_addr << "  (rangedb kv --host=" << options.listen_addr
      << ")\n"
      << "  http:    http://" << options.http_addr << "/health\n"
      << "  store:   " << options.store << "\n";
  out.flush();
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("node: received {}; draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  (*node)->Drain(absl::Seconds(10));
  (*node)->Stop();
  return absl::OkStatus();
}

}  // namespace rangedb
