#include "node/grpc_deadline.h"

#include "absl/time/clock.h"

namespace rangedb {

std::chrono::system_clock::time_point ToGrpcDeadline(TimeSource* time, absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) return std::chrono::system_clock::time_point::max();
  if (time == TimeSource::Real()) return absl::ToChronoTime(deadline);  // one clock: as before
  // gRPC waits on the real clock: only the distance comes from the injected one.
  return absl::ToChronoTime(absl::Now() + (deadline - time->Now()));
}

absl::Time FromGrpcDeadline(TimeSource* time, std::chrono::system_clock::time_point deadline) {
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  if (time == TimeSource::Real()) return absl::FromChrono(deadline);  // one clock: as before
  // gRPC's deadline is on the real clock: only the distance carries over.
  return time->Now() + (absl::FromChrono(deadline) - absl::Now());
}

}  // namespace rangedb
