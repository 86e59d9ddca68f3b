// The on-disk encoding of MVCC values: one header byte, then the payload.
//
//   header bit 0 (0x01): provisional — the version is an intent; its metadata is in
//                         the lock table and it is not yet committed
//   header bit 1 (0x02): tombstone — the version records a deletion; no payload
//   other bits:           must be zero (a newer format); decoding rejects them
//
// Marking provisional versions in the value lets a read skip the lock-table lookup
// for the common case of a committed newest version (see docs/mvcc.md).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rangedb {

inline constexpr uint8_t kMVCCValueProvisional = 0x01;
inline constexpr uint8_t kMVCCValueTombstone = 0x02;

struct MVCCValue {
  bool provisional = false;
  bool tombstone = false;
  absl::string_view payload;  // empty for a tombstone; points into the decoded input
};

// Appends the header byte and, unless tombstone, the payload.
void AppendMVCCValue(std::string* out, bool provisional, bool tombstone, absl::string_view payload);
std::string EncodeMVCCValue(bool provisional, bool tombstone, absl::string_view payload);

// Returns DataLoss for an empty input, unknown header bits, or a tombstone with a payload.
[[nodiscard]] absl::StatusOr<MVCCValue> DecodeMVCCValue(absl::string_view raw);

}  // namespace rangedb
