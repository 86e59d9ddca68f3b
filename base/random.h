// Cheap randomness for ids and jitter: one generator per thread, seeded once from
// std::random_device (whose construction is costly: it must never happen per request).
// Not for cryptography.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>

namespace rangedb {

// Seeds for new threads: one random_device read per process, then a counter mixed
// by SplitMix64 (gRPC creates and retires threads often; each must seed cheaply).
inline uint64_t NextThreadSeed() {
  static const uint64_t base = std::random_device{}();
  static std::atomic<uint64_t> counter{0};
  uint64_t z = base + 0x9E3779B97F4A7C15ull * (counter.fetch_add(1) + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

inline uint64_t FastRandom() {
  thread_local std::mt19937_64 rng{NextThreadSeed()};
  return rng();
}

// n random bytes (ids: command ids, idempotency client ids).
inline std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = FastRandom();
    for (size_t j = 0; j < 8 && i + j < n; ++j) out[i + j] = static_cast<char>(v >> (8 * j));
  }
  return out;
}

}  // namespace rangedb
