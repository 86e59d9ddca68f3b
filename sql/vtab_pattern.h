// LIKE and GLOB patterns as key spans: the keys that hold every value matching a
// pattern with a literal prefix, for the planner's pushdown (docs/sql.md "Planning";
// SQLite's own "LIKE optimization", https://sqlite.org/optoverview.html#like_opt).
//
// A span is exact only under these conditions, which the planner checks before it
// asks for one:
//   - the column has TEXT affinity, so it holds NULL, TEXT or BLOB, never a number
//     (a number's text, '12', would match '1%' but sort among the numbers);
//   - its key is built under NOCASE for LIKE (ASCII case-insensitive, as LIKE is by
//     default) and under BINARY for GLOB;
//   - LIKE has no ESCAPE (SQLite then offers the vtab no LIKE constraint at all).
// SQLite matches a BLOB's bytes as text unless built with
// SQLITE_LIKE_DOESNT_MATCH_BLOBS (Debian's is); where it does, the BLOBs that start
// with the prefix are a second span: BLOB keys sort after every TEXT key.
//
// Thread safety: stateless functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace rangedb::sql {

enum class PatternOp : uint8_t { kLike, kGlob };

// A span of keys, [start, end).
struct KeySpan {
  std::string start;
  std::string end;
  friend bool operator==(const KeySpan&, const KeySpan&) = default;
};

// The literal prefix that every text matching `pattern` starts with (for LIKE, ASCII
// case-insensitively): the pattern's leading bytes up to the first
//   - wildcard (LIKE: `%` `_`; GLOB: `*` `?` `[`);
//   - NUL: SQLite's matching stops at the first NUL of either operand;
//   - byte of 0x80 or more: SQLite reads both operands as UTF-8 and turns invalid
//     sequences into U+FFFD, so a multi-byte character may match other bytes. An
//     ASCII character matches only itself (or, for LIKE, its other case).
// Empty when the pattern starts with one of them: nothing to narrow by.
std::string LiteralPrefix(absl::string_view pattern, PatternOp op);

// Whether the linked SQLite's LIKE and GLOB can match a BLOB (see above).
bool PatternsMatchBlobs();

// The spans, each starting with key_prefix, that hold the key of every TEXT (and if
// match_blobs, BLOB) value of a key column that matches a pattern with literal prefix
// `literal` (from LiteralPrefix; REQUIRES: not empty). The column's key must be built
// under NOCASE for kLike and BINARY for kGlob (see the header comment). In key order:
// the TEXTs, then the BLOBs. For LIKE the BLOB span runs from the prefix in upper
// case to the prefix in lower case (upper-case ASCII sorts first), which holds every
// mix of cases.
std::vector<KeySpan> PatternSpans(absl::string_view key_prefix, absl::string_view literal,
                                  PatternOp op, bool match_blobs);

}  // namespace rangedb::sql
