// Rendering, sorting and hashing of query results, as sqllogictest's reference runner
// (SQLite's sqllogictest.c and slt_sqlite.c) does them. docs/sqllogictest.md has the
// rules with examples; in short, per column type character:
//
//   any type, NULL  "NULL"
//   'I'  INTEGER    the value, printed as a 32-bit int ("%d"): the reference reads the
//                   column with sqlite3_column_int, which keeps the low 32 bits
//        REAL       truncated toward zero (clamped to the int64 range), then as above
//        TEXT/BLOB  the integer prefix of the text as SQLite reads it (leading spaces,
//                   sign, digits; "12abc" -> 12, "abc" -> 0, "1.9" -> 1), then as above
//   'R'  any        as a double (TEXT/BLOB: the longest numeric prefix, else 0.0),
//                   printed as SQLite's printf prints "%.3f" (sqlite_float_format.h:
//                   halves round up, at most 16 significant digits, 0.0625 -> "0.063")
//   'T'  TEXT/BLOB  the bytes up to the first NUL; "(empty)" if that is empty; then each
//                   byte outside ' '..'~' becomes '@'
//        INTEGER    "%lld";  REAL  SQLite's REAL-to-TEXT, printf "%!.15g" (1.0 -> "1.0",
//                   sqlite_float_format.h)
//
// Sorting compares rendered strings bytewise (strcmp), so "10" < "9". The hash of a
// result is the MD5 of every rendered value followed by "\n", in final order.
//
// Thread safety: stateless functions; concurrent calls are safe.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "sql/value.h"
#include "tests/sqllogictest/slt_connection.h"
#include "tests/sqllogictest/slt_parser.h"

namespace rangedb::slt {

// Renders one value for a result column of type `type`.
// REQUIRES: type is 'I', 'R' or 'T'.
std::string RenderValue(const sql::Value& value, char type);

// Renders a whole result, row after row, one string per value. Fails (with a message
// for the failure report) when the result's column count differs from types.size()
// or a row has the wrong number of values.
[[nodiscard]] absl::StatusOr<std::vector<std::string>> RenderResult(const SltResult& result,
                                                                    absl::string_view types);

// Sorts rendered values in place: kNoSort leaves them, kRowSort sorts rows of
// `column_count` values by their values left to right, kValueSort sorts every value
// on its own. REQUIRES: column_count > 0 and values->size() % column_count == 0.
void SortValues(SortMode mode, size_t column_count, std::vector<std::string>* values);

// Lowercase hex MD5 of `bytes` (OpenSSL EVP).
std::string Md5Hex(absl::string_view bytes);

// Lowercase hex MD5 of the values, each followed by '\n'.
std::string HashValues(const std::vector<std::string>& values);

// "N values hashing to H", the line that stands for a hashed result in a script.
std::string HashLine(const std::vector<std::string>& values);

}  // namespace rangedb::slt
