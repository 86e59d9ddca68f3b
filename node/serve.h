// The server process: what `rangedb start` runs once its flags are parsed
// (client/cli/cli_start.cc, the one file of the command line that includes node/).
#pragma once

#include <ostream>

#include "absl/status/status.h"
#include "node/node.h"

namespace rangedb {

// Runs one node as this process's job: sets the process-wide logger (spdlog, to
// stderr), starts the node with options, prints where it serves to out, and waits
// for SIGTERM or SIGINT; then drains the node (leases away, in-flight requests
// finished, up to 10 s) and stops it (docs/node.md, "Drain and stop").
//
// Returns Node::Start's error, with nothing left running, or OK once the node has
// stopped after a signal.
// REQUIRES: called at most once per process, from the main thread, before it starts
// other threads: SIGTERM and SIGINT are blocked in this thread so that every thread
// started afterwards inherits the mask and only this one receives them.
[[nodiscard]] absl::Status ServeNode(const NodeOptions& options, std::ostream& out);

}  // namespace rangedb
