#include "txn/hlc.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/check.h"

namespace rangedb {
namespace {

// Lost CAS races before Now() gives up on the fast path and queues on the mutex.
// Each lost race means another caller advanced the clock, so this bounds only our own
// retries, not progress.
constexpr int kMaxFastPathAttempts = 4;

static_assert(std::atomic<int64_t>::is_always_lock_free);

}  // namespace

HybridLogicalClock::HybridLogicalClock(PhysicalClock* physical_clock, int64_t max_offset_ns)
    : physical_clock_(physical_clock), max_offset_ns_(max_offset_ns) {
  // A broken precondition is a programming error: stop here rather than hand out
  // timestamps from a misconfigured clock.
  RANGEDB_CHECK(physical_clock != nullptr) << "HybridLogicalClock: physical_clock is null";
  RANGEDB_CHECK_GE(max_offset_ns, 0) << "HybridLogicalClock: max_offset_ns is negative";
}

// Called by every timestamp consumer. The fast path is one load, one physical reading
// and one CAS; see the header for when it falls through to NowLocked.
Timestamp HybridLogicalClock::Now() {
  int64_t wall = fast_wall_.load(std::memory_order_acquire);
  for (int attempt = 0; attempt < kMaxFastPathAttempts && wall != kLogicalMode; ++attempt) {
    const int64_t physical = physical_clock_->NowNanos();
    if (physical <= wall) break;  // the logical counter must move: slow path
    // The state is (wall, 0) while fast_wall_ == wall, so success moves it to
    // (physical, 0) > (wall, 0). On failure `wall` is reloaded.
    if (fast_wall_.compare_exchange_strong(wall, physical, std::memory_order_acq_rel,
                                           std::memory_order_acquire)) {
      return {physical, 0};
    }
  }
  absl::MutexLock lock(&mu_);
  return NowLocked();
}

Timestamp HybridLogicalClock::NowLocked() {
  const Timestamp last = TakeLocked();
  const int64_t physical = physical_clock_->NowNanos();
  // Next() carries a full logical counter into wall_ns + 1 (see header).
  const Timestamp next = physical > last.wall_ns ? Timestamp{physical, 0} : last.Next();
  PublishLocked(next);
  return next;
}

// Called by the RPC layer for every timestamp a message carries.
absl::Status HybridLogicalClock::Update(Timestamp remote) {
  if (remote.wall_ns < 0 || remote.logical < 0) {
    return absl::InvalidArgumentError(absl::StrCat("HLC update: remote timestamp ",
                                                   remote.ToString(), " is not a clock reading"));
  }
  const int64_t physical = PhysicalNow();
  // Unsigned arithmetic: the difference of two int64 values always fits in uint64.
  if (max_offset_ns_ > 0 && remote.wall_ns > physical &&
      static_cast<uint64_t>(remote.wall_ns) - static_cast<uint64_t>(physical) >
          static_cast<uint64_t>(max_offset_ns_)) {
    const uint64_t ahead_ns =
        static_cast<uint64_t>(remote.wall_ns) - static_cast<uint64_t>(physical);
    return absl::FailedPreconditionError(absl::StrCat(
        "HLC update refused: remote clock ", remote.ToString(), " is ",
        absl::FormatDuration(absl::Nanoseconds(ahead_ns)), " ahead of local physical clock ",
        Timestamp{physical, 0}.ToString(), ", more than max offset ",
        absl::FormatDuration(absl::Nanoseconds(max_offset_ns_)),
        "; local clock not advanced (check clock synchronization on both nodes)"));
  }
  // Lock-free no-op when the state is already (wall, 0) >= remote: states only grow,
  // so every later Now() is > remote.
  const int64_t wall = fast_wall_.load(std::memory_order_acquire);
  if (wall != kLogicalMode && Timestamp{wall, 0} >= remote) return absl::OkStatus();

  absl::MutexLock lock(&mu_);
  PublishLocked(std::max(TakeLocked(), remote));
  return absl::OkStatus();
}

void HybridLogicalClock::Forward(Timestamp ts) {
  if (ts.wall_ns < 0 || ts.logical < 0) return;
  const int64_t wall = fast_wall_.load(std::memory_order_acquire);
  if (wall != kLogicalMode && Timestamp{wall, 0} >= ts) return;
  absl::MutexLock lock(&mu_);
  PublishLocked(std::max(TakeLocked(), ts));
}

Timestamp HybridLogicalClock::TakeLocked() {
  // Only mu_ holders store kLogicalMode or move fast_wall_ away from it, so if we see
  // it here the guarded fields hold the state. Otherwise the exchange atomically takes
  // (wall, 0) from under any racing fast-path CAS, which will now fail.
  const int64_t wall = fast_wall_.exchange(kLogicalMode, std::memory_order_acq_rel);
  if (wall == kLogicalMode) return {wall_ns_, logical_};
  return {wall, 0};
}

void HybridLogicalClock::PublishLocked(Timestamp next) {
  if (next.logical == 0) {
    // Back to wall mode: reopens the fast path. next.wall_ns >= 0 as states only grow.
    fast_wall_.store(next.wall_ns, std::memory_order_release);
    return;
  }
  // Stay in logical mode; fast_wall_ is kLogicalMode since TakeLocked.
  wall_ns_ = next.wall_ns;
  logical_ = next.logical;
}

}  // namespace rangedb
