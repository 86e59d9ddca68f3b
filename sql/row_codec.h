// A table row's stored value: the row's non-NULL columns as (column id, value) pairs.
//
// The bytes are the row payload format of storage/value_encoding.h (docs/encoding.md
// §2 and §3), which was made for exactly this: a version byte, a column count, then
// per column a varint holding the column-id delta and the type code, and the payload
// (INTEGER zig-zag varint, REAL 8 bytes, TEXT and BLOB a length and the bytes). This
// file maps sql::Value onto it and fixes the SQL layer's conventions:
//   - NULL columns are left out, unless the caller asks for them (NullColumns::kWrite:
//     a column added by ALTER TABLE with a DEFAULT, where a missing column reads as
//     that default, so a NULL must be written). A reader takes a missing column as
//     NULL, or as the column's missing value (decided by the caller, not here).
//   - Column ids are the catalog's: >= 1, never reused, so ALTER TABLE ADD/DROP
//     COLUMN needs no rewrite.
// The encoding keeps every bit of every value (the sign of -0.0, text as written),
// unlike a key (sql/key_codec.h), so rows read back exactly.
//
// Thread safety: stateless functions, safe to call concurrently.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "sql/value.h"

namespace rangedb::sql {

// What EncodeRow does with a NULL value it is given.
enum class NullColumns {
  kOmit,   // leave it out: the reader sees no entry for the column
  kWrite,  // write an explicit NULL entry (type code 0)
};

// Replaces *dst with the encoding of the row `columns`; NULL values are left out, or
// written as explicit NULL entries with NullColumns::kWrite (a caller that wants only
// some NULLs written passes only those).
// REQUIRES: column ids >= 1 and strictly increasing (checked: a violation stops the
// process, as it is a bug in the caller).
void EncodeRow(const std::vector<std::pair<uint32_t, Value>>& columns, std::string* dst,
               NullColumns nulls = NullColumns::kOmit);

// Decodes a whole stored row into its columns, ids strictly increasing. An explicit
// NULL entry decodes as a NULL value. Strict: InvalidArgument, naming the offset and
// column, for an empty input, an unknown format version or type code, a truncated or
// non-minimal varint, a length past the end, ids that do not strictly increase or
// pass 2^32-1, fewer entries than the count says, and bytes after the last entry.
// Never reads past the end of `row`, and allocates no more than its size allows.
[[nodiscard]] absl::StatusOr<std::vector<std::pair<uint32_t, Value>>> DecodeRow(
    absl::string_view row);

}  // namespace rangedb::sql
