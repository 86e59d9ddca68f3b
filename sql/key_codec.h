// The order-preserving key encoding of SQL values (docs/encoding.md §3), built on the
// storage key encoding (storage/encoding.h).
//
// A primary-key or index column is encoded so that the bytewise order of the keys is
// the order in which SQLite compares the column's values (datatype3.html §4.1):
//
//   NULL < INTEGER and REAL, numerically < TEXT, by the collation < BLOB, by memcmp
//
// and two values have the same key exactly when SQLite says they are equal (`=`)
// under the column's collation. Layout of one value:
//
//   NULL     NULL key (0x00)
//   number   FLOAT64 of the nearest double D (-0.0 as 0); then, iff D is a whole
//            number with |D| <= 2^63, a tie-break holding the exact value: INT64 of
//            the integer (for a REAL, (int64)D), except that a REAL of exactly +2^63
//            takes UVARINT 0, whose tag sorts above every INT64 tag.
//   TEXT     TEXT key of the text under the collation (CollatedText).
//   BLOB     BYTES key of the bytes.
//
// INTEGER 3 and REAL 3.0 therefore share one key (SQLite says 3 = 3.0), and integers
// above 2^53 that round to the same double keep their order through the tie-break.
// Whether a tie-break follows depends on D alone, so the encodings of one column stay
// prefix-free and composite keys (plain concatenations) order lexicographically.
// Descending columns use the storage encoding's descending form of every piece.
//
// Thread safety: stateless functions, safe to call concurrently.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "sql/value.h"
#include "storage/encoding.h"

namespace rangedb::sql {

// Appends the key of `value`, a value of a column with collation `collation`, to
// *dst. The collation matters only for TEXT. A NaN REAL (which SQLite never stores:
// it turns NaN into NULL) is encoded as NULL.
void AppendValueKey(std::string* dst, const Value& value, Collation collation, Direction dir);

// Decodes one value key in direction `dir` from the front of *src and advances *src
// past it, leaving what follows (the next column, a suffix). The key is lossy, so
// this is for display and checks, not for reading rows back: a number comes back as
// INTEGER when it has an INT64 tie-break, else as REAL (REAL 3.0 reads as 3), and
// TEXT comes back collated (NOCASE: folded to lower case). Only canonical keys, the
// bytes AppendValueKey produces, are accepted, so an accepted key re-encodes (with
// Collation::kBinary) to the bytes it was read from.
// Errors: InvalidArgument naming the offset within *src and the problem; on error
// *src is unchanged. Never reads past the end of *src.
[[nodiscard]] absl::StatusOr<Value> ConsumeValueKey(absl::string_view* src, Direction dir);

// The text that the key of TEXT `text` holds under `collation`:
//   BINARY  the text as is.
//   RTRIM   without its trailing spaces (0x20 only).
//   NOCASE  ASCII A-Z folded to a-z (and nothing else, as in SQLite); and, if the
//           text has a NUL byte, every byte after the first NUL replaced by NUL.
//           SQLite's NOCASE compares only up to the first NUL that both texts share
//           at the same position and then compares lengths (sqlite3StrNICmp stops
//           at NUL), so "a\0x" = "a\0Y" and "a\0zz" > "a\0b"; the replaced tail
//           gives exactly that order.
// Comparing CollatedText(a) and CollatedText(b) bytewise, shorter first, is SQLite's
// comparison of a and b under the collation.
std::string CollatedText(absl::string_view text, Collation collation);

}  // namespace rangedb::sql
