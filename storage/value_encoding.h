// Row payload encoding: the SQLite-typed column values stored as one KV value.
//
// A row is a list of (column id, value) pairs in strictly increasing column id order.
// Column ids are the catalog's stable ids (>= 1, never reused), so a row written
// before ALTER TABLE ADD COLUMN simply lacks the new id, and a dropped column's value
// is skipped by readers that no longer know it. A column absent from the row is
// distinct from one present with an explicit NULL; the SQL layer decides what absence
// means (NULL or the column's default) and may omit NULLs to save space.
//
// Format version 1 (docs/encoding.md has a worked example in hex):
//
//   row    := version:byte count:varint entry{count}
//   entry  := header:varint payload
//   header  = (column_id_delta << 3) | type       column_id_delta >= 1, relative to the
//                                                  previous column id (0 before the first)
//   type   payload
//   0 NULL     none
//   1 INTEGER  zigzag(v) as varint: 0, -1, 1, -2 ... -> 0, 1, 2, 3 ...
//   2 REAL     8 bytes, the IEEE 754 bits big-endian (NaN payloads and -0 preserved)
//   3 TEXT     length:varint, then the bytes (not validated as UTF-8, like SQLite)
//   4 BLOB     length:varint, then the bytes
//   5-7        reserved; a reader rejects them
//
//   varint: unsigned LEB128 (protobuf's base-128), minimal length, at most 10 bytes.
//   version: kRowFormatVersion. A reader rejects versions it does not know, so a new
//   value type or layout means a new version, written only once every node reads it.
//
// The column count makes truncation at an entry boundary and trailing garbage
// detectable. Every encoding is canonical: DecodeRow accepts only the bytes EncodeRow
// produces, so equal rows have equal bytes (ConditionalPut compares value bytes).
//
// Thread safety: stateless functions, safe to call concurrently.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "storage/encoding.h"

namespace rangedb {

inline constexpr uint8_t kRowFormatVersion = 1;

// SQLite's storage classes; the values are the type codes of the format.
enum class SqlType : uint8_t { kNull = 0, kInteger = 1, kReal = 2, kText = 3, kBlob = 4 };

// One SQLite value. The alternatives are in SqlType order, so
// value.index() == static_cast<size_t>(SqlType). std::string is TEXT.
using SqlValue = std::variant<NullDatum, int64_t, double, std::string, BytesDatum>;

struct ColumnValue {
  uint32_t column_id;  // >= 1
  SqlValue value;
  // Compares doubles with ==, so a NaN never equals itself.
  friend bool operator==(const ColumnValue&, const ColumnValue&) = default;
};

// Encodes a row in format kRowFormatVersion.
// Errors (InvalidArgument): a column id of 0, or ids not strictly increasing.
[[nodiscard]] absl::StatusOr<std::string> EncodeRow(absl::Span<const ColumnValue> columns);

// Decodes a whole row. Errors (InvalidArgument, naming the offset and column id):
// empty input, an unknown version or type, a truncated or non-minimal varint, a length
// beyond the end of the input, a zero column id delta, a column id above 2^32-1,
// fewer entries than the count says, and bytes after the last entry.
[[nodiscard]] absl::StatusOr<std::vector<ColumnValue>> DecodeRow(absl::string_view row);

}  // namespace rangedb
