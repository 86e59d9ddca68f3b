// Order-preserving key encoding: uvarint, int64, float64, text, bytes and NULL.
//
// Every encoded value starts with a one-byte type tag and is self-delimiting, so the
// set of encodings of one column is prefix-free. That gives the two guarantees keys
// are built on (docs/encoding.md has the proofs and examples):
//   1. For values a, b encoded in the same direction, the bytewise order of the
//      encodings is the order of the values (reversed for kDescending).
//   2. A composite key is the plain concatenation of its column encodings, and its
//      bytewise order is the lexicographic order of the tuples, column by column,
//      each column in its own direction.
//
// Byte layout of the ASCENDING encoding (tag byte, then payload):
//
//   tag        type     payload
//   0x00       NULL     none; sorts before every other ascending value
//   0x01-0x07  -        reserved, never produced
//   0x08-0x0F  INT64    v < 0: n = 0x10 - tag (8..1) bytes, the low n bytes of v in
//                       two's complement, big-endian; n is minimal for ~v
//   0x10-0x4F  INT64    0 <= v <= 63: v = tag - 0x10, no payload
//   0x50-0x57  INT64    v >= 64: n = tag - 0x4F (1..8) bytes, v big-endian, n minimal
//   0x58       FLOAT64  8 bytes big-endian: bits ^ 0x8000000000000000 if the sign is
//                       clear, ~bits if set; -0 is encoded as +0, every NaN as 8 zero
//                       bytes (so NaN < -inf < ... < -denorm < 0 < ... < +inf)
//   0x59       TEXT     escaped bytes (0x00 -> 0x00 0xFF), then terminator 0x00 0x01
//   0x5A       BYTES    as TEXT
//   0x5B-0x5F  -        reserved
//   0x60-0x77  UVARINT  v <= 23: v = tag - 0x60, no payload
//   0x78-0x7F  UVARINT  v >= 24: n = tag - 0x77 (1..8) bytes, v big-endian, n minimal
//
// The DESCENDING encoding of a value is the bitwise complement of every byte of its
// ascending encoding, tag included: descending tags are 0x80-0xFF and ascending tags
// 0x00-0x7F, so a tag always tells its direction (PeekKeyTag). A descending NULL is
// 0xFF and sorts after every other descending value.
//
// Within one column, values of different types sort by tag:
// NULL < INT64 < FLOAT64 < TEXT < BYTES < UVARINT (ascending). INT64 and FLOAT64 do
// not interleave numerically: 2 < 1.5 as keys. Callers that mix them in one column
// must convert to one type first (the SQL layer applies column affinity).
//
// Decoders (Consume*) read one value from the front of *src. On success they advance
// *src past it; on error they leave *src unchanged and return InvalidArgument with a
// message naming the type, the offset from the start of *src and what was wrong.
// They never read past the end of *src and accept only canonical encodings (exactly
// the bytes the encoder produces), so every accepted value re-encodes to the bytes it
// was decoded from, and each value has exactly one key.
//
// Thread safety: stateless functions, safe to call concurrently.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace rangedb {

enum class Direction : uint8_t { kAscending, kDescending };

// The value types of the key encoding, in ascending tag order.
enum class KeyType : uint8_t { kNull, kInt64, kFloat64, kText, kBytes, kUvarint };

// What a tag byte says about the value it starts.
struct KeyTag {
  KeyType type;
  Direction direction;
  friend bool operator==(const KeyTag&, const KeyTag&) = default;
};

// The SQL NULL, as a variant alternative.
struct NullDatum {
  friend auto operator<=>(const NullDatum&, const NullDatum&) = default;
};

// A BLOB (as opposed to TEXT, which is a plain std::string).
struct BytesDatum {
  std::string bytes;
  friend auto operator<=>(const BytesDatum&, const BytesDatum&) = default;
};

// One decoded key value. The alternatives are in KeyType order, so
// datum.index() == static_cast<size_t>(KeyType). std::string is TEXT.
using KeyDatum = std::variant<NullDatum, int64_t, double, std::string, BytesDatum, uint64_t>;

// "NULL", "-5", "7u" (uvarint), "1.5" / "2.0" / "nan" / "-inf", "\"a\\x00\"" (text),
// "b\"\\xff\"" (bytes). For test output and debugging only; not a stable format.
std::string KeyDatumToString(const KeyDatum& datum);

// ---- Encoders: append exactly one encoded value to *dst. ----

void AppendNullKey(std::string* dst, Direction dir);
void AppendUvarintKey(std::string* dst, uint64_t value, Direction dir);
void AppendInt64Key(std::string* dst, int64_t value, Direction dir);
// -0 is appended as +0, and every NaN alike (see the layout table).
void AppendFloat64Key(std::string* dst, double value, Direction dir);
void AppendTextKey(std::string* dst, absl::string_view value, Direction dir);
void AppendBytesKey(std::string* dst, absl::string_view value, Direction dir);
// Dispatches on the datum's alternative.
void AppendKeyDatum(std::string* dst, const KeyDatum& datum, Direction dir);

// ---- Decoders: consume exactly one value of the named type and direction. ----
// A value of another type or direction is an error, not a skip.

[[nodiscard]] absl::Status ConsumeNullKey(absl::string_view* src, Direction dir);
[[nodiscard]] absl::StatusOr<uint64_t> ConsumeUvarintKey(absl::string_view* src, Direction dir);
[[nodiscard]] absl::StatusOr<int64_t> ConsumeInt64Key(absl::string_view* src, Direction dir);
// A NaN decodes as std::numeric_limits<double>::quiet_NaN().
[[nodiscard]] absl::StatusOr<double> ConsumeFloat64Key(absl::string_view* src, Direction dir);
[[nodiscard]] absl::StatusOr<std::string> ConsumeTextKey(absl::string_view* src, Direction dir);
[[nodiscard]] absl::StatusOr<std::string> ConsumeBytesKey(absl::string_view* src, Direction dir);

// The type and direction of the value at the front of src, without consuming it.
// Errors on empty input and on reserved tags.
[[nodiscard]] absl::StatusOr<KeyTag> PeekKeyTag(absl::string_view src);

// Consumes one value of any type, which must be in direction `dir`.
[[nodiscard]] absl::StatusOr<KeyDatum> ConsumeKeyDatum(absl::string_view* src, Direction dir);

// Consumes directions.size() values, the i-th in directions[i], and leaves the rest
// of *src (for example an MVCC suffix). Errors name the column and its offset from
// the start of *src. On error *src is unchanged.
[[nodiscard]] absl::StatusOr<std::vector<KeyDatum>> ConsumeKeyDatums(
    absl::string_view* src, absl::Span<const Direction> directions);

// Decodes a whole composite key: exactly directions.size() values and nothing after.
[[nodiscard]] absl::StatusOr<std::vector<KeyDatum>> DecodeKey(
    absl::string_view key, absl::Span<const Direction> directions);

}  // namespace rangedb
