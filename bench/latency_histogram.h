// LatencyHistogram: operation latencies for the workloads' p50/p99 (bench/).
//
// Thread-compatible: each worker thread keeps its own and the driver merges them.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace rangedb {

// Latencies in microseconds, log-linear buckets: exact below 16 us, then 16 buckets
// per power of two (relative error under 1/32 at the bucket midpoint). Covers up to
// 2^40 us, far beyond any operation timeout.
class LatencyHistogram {
 public:
  void Record(int64_t micros) {
    ++buckets_[BucketOf(std::max<int64_t>(micros, 0))];
    ++count_;
  }
  void Merge(const LatencyHistogram& other) {
    for (size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += other.buckets_[i];
    count_ += other.count_;
  }
  // The q-quantile (0 < q <= 1) in milliseconds; 0 when empty.
  double QuantileMs(double q) const {
    if (count_ == 0) return 0;
    const int64_t rank = std::max<int64_t>(1, static_cast<int64_t>(q * count_ + 0.5));
    int64_t seen = 0;
    for (size_t i = 0; i < buckets_.size(); ++i) {
      seen += buckets_[i];
      if (seen >= rank) return MidpointMicros(i) / 1000.0;
    }
    return MidpointMicros(buckets_.size() - 1) / 1000.0;
  }

 private:
  static constexpr int kSubBits = 4;  // 16 sub-buckets per power of two
  static constexpr int kMaxExponent = 40;
  static constexpr size_t kBuckets = (1 << kSubBits) * (kMaxExponent - kSubBits + 2);

  static size_t BucketOf(int64_t v) {
    if (v < (1 << kSubBits)) return static_cast<size_t>(v);
    const int exponent = std::min(63 - std::countl_zero(static_cast<uint64_t>(v)), kMaxExponent);
    const int64_t sub = (v >> (exponent - kSubBits)) & ((1 << kSubBits) - 1);
    return std::min(kBuckets - 1,
                    static_cast<size_t>(((exponent - kSubBits + 1) << kSubBits) + sub));
  }
  static double MidpointMicros(size_t bucket) {
    if (bucket < (1 << kSubBits)) return static_cast<double>(bucket);
    const int exponent = static_cast<int>(bucket >> kSubBits) + kSubBits - 1;
    const int64_t sub = static_cast<int64_t>(bucket & ((1 << kSubBits) - 1));
    const int64_t width = int64_t{1} << (exponent - kSubBits);
    return static_cast<double>((((1 << kSubBits) + sub) * width)) + width / 2.0;
  }

  std::array<int64_t, kBuckets> buckets_{};
  int64_t count_ = 0;
};

}  // namespace rangedb
