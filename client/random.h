// Cheap randomness for ids and jitter: one generator per thread, seeded once from
// std::random_device (whose construction is costly: it must never happen per request).
// Not for cryptography.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>

namespace rangedb {

inline uint64_t FastRandom() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
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
