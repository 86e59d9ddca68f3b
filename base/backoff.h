// Backoff: exponential retry delays with full jitter, for every retry loop in
// rangedb (the client's host failover, the gateway's range retries, the Raft
// transport's reconnects).
//
// Delay n (n = 0, 1, ...) is uniform in [base/2, min(max, base * 2^n)] — jitter so that
// many clients retrying the same failure spread out instead of arriving together.
// Callers bound the number of attempts or, more often, the total time by a deadline.
//
// Thread safety: not thread-safe; one Backoff per retry loop.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>

#include "base/random.h"

namespace rangedb {

struct BackoffOptions {
  std::chrono::milliseconds initial{10};
  std::chrono::milliseconds max{1000};
};

class Backoff {
 public:
  explicit Backoff(BackoffOptions options = {}, uint64_t seed = FastRandom())
      : options_(options), rng_(seed) {}

  // The delay before the next attempt; each call doubles the ceiling up to max.
  std::chrono::milliseconds Next() {
    const int64_t base = std::max<int64_t>(1, options_.initial.count());
    const int64_t ceiling =
        std::min<int64_t>(options_.max.count(), base << std::min<int>(attempt_, 20));
    ++attempt_;
    std::uniform_int_distribution<int64_t> dist(std::min(base / 2, ceiling), ceiling);
    return std::chrono::milliseconds(dist(rng_));
  }
  void Reset() { attempt_ = 0; }
  int attempts() const { return attempt_; }

 private:
  BackoffOptions options_;
  std::mt19937_64 rng_;
  int attempt_ = 0;
};

}  // namespace rangedb
