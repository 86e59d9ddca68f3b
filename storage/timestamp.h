// Timestamp: one reading of a hybrid logical clock (HLC).
//
// Lives in storage/ because MVCC versions are keyed by it; txn/hlc.h produces it.
// Ordered by (wall_ns, logical). The zero value is "no timestamp" and sorts first.
// A plain value type: copy freely, thread-compatible.
#pragma once

#include <compare>
#include <cstdint>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"

namespace rangedb {

struct Timestamp {
  int64_t wall_ns = 0;  // physical component: nanoseconds since the Unix epoch
  int32_t logical = 0;  // orders events that share one wall_ns

  static constexpr Timestamp Max() {
    return {std::numeric_limits<int64_t>::max(), std::numeric_limits<int32_t>::max()};
  }

  constexpr bool IsEmpty() const { return wall_ns == 0 && logical == 0; }

  // The smallest timestamp greater than this one.
  constexpr Timestamp Next() const {
    if (logical == std::numeric_limits<int32_t>::max()) return {wall_ns + 1, 0};
    return {wall_ns, logical + 1};
  }

  // The largest timestamp smaller than this one. REQUIRES: !IsEmpty().
  constexpr Timestamp Prev() const {
    if (logical > 0) return {wall_ns, logical - 1};
    return {wall_ns - 1, std::numeric_limits<int32_t>::max()};
  }

  // "1700000000.000000123,4": seconds.nanoseconds,logical.
  std::string ToString() const {
    return absl::StrCat(wall_ns / 1'000'000'000, ".",
                        absl::Dec(wall_ns % 1'000'000'000, absl::kZeroPad9), ",", logical);
  }

  constexpr auto operator<=>(const Timestamp&) const = default;
};

}  // namespace rangedb
