// gRPC deadlines on an injected clock (docs/design/injected-time.md, "node/").
//
// The node writes its deadlines as absl::Time on its TimeSource (NodeOptions::time),
// but gRPC measures a ClientContext's deadline, a channel's WaitForStateChange and
// Server::Shutdown against the real system clock, and hands a server the caller's
// deadline on that clock. These two functions are the only place node/ crosses
// between the two: a deadline keeps its distance from "now" across the crossing.
// For the real source both are the plain conversions the node used before
// (absl::ToChronoTime, absl::FromChrono): same instant, no clock read.
//
// Thread safety: pure functions of their arguments and the clocks.
#pragma once

#include <chrono>

#include "absl/time/time.h"
#include "base/time_source.h"

namespace rangedb {

// The real-time point for gRPC that is as far from the real now as `deadline` is
// from time->Now(). InfiniteFuture maps to time_point::max() (no deadline).
// REQUIRES: time non-null.
std::chrono::system_clock::time_point ToGrpcDeadline(TimeSource* time, absl::Time deadline);

// The reverse, for a deadline gRPC gives a server (grpc::ServerContext::deadline()):
// the time on `time` that is as far from time->Now() as `deadline` is from the real
// now. time_point::max() maps to InfiniteFuture. REQUIRES: time non-null.
absl::Time FromGrpcDeadline(TimeSource* time, std::chrono::system_clock::time_point deadline);

}  // namespace rangedb
