// Renders doubles the way SQLite 3.47's printf does (the SQLite bundled with the
// sqllogictest corpus in /work/shared/sqllogictest, whose expected results it made),
// for the two formats the sqllogictest runner needs:
//
//   SqliteFixed3(r)  printf("%.3f", r): an 'R' column value
//   SqliteReal(r)    printf("%!.15g", r): a REAL as TEXT (sqlite3_column_text)
//
// SQLite's printf is not the C library's, and not that of older SQLite either:
//   - it takes at most 16 significant digits for "%f" (26 with '!'), then pads with
//     zeros: -9223372036854775808.0 -> "-9223372036854776000.000" (glibc prints every
//     digit; SQLite 3.40 truncates, "-9223372036854775000.000");
//   - it rounds half up on the decimal digits: 0.0625 -> "0.063" (glibc "0.062"); a
//     value just under a half stays under (1.0005, really 1.000499..., -> "1.000";
//     SQLite 3.40 says "1.001");
//   - -0.0 prints as "0.000"; infinities as "Inf" / "-Inf"; NaN as "NaN";
//   - "%!.15g" keeps a ".0" on integral values: 1.0 -> "1.0", 1e20 -> "1.0e+20",
//     1.5e-7 -> "1.5e-07".
// The digits come from the exact binary value (the C library's "%.19e", 20 significant
// digits); SQLite derives them with long-double arithmetic, which can differ in the
// 18th digit or later, beyond anything these formats print or round on.
//
// Thread safety: stateless functions; concurrent calls are safe.
#pragma once

#include <string>

namespace rangedb::slt {

// printf("%.3f", r) as SQLite 3.47 prints it.
std::string SqliteFixed3(double r);

// printf("%!.15g", r) as SQLite 3.47 prints it: how a REAL converts to TEXT.
std::string SqliteReal(double r);

}  // namespace rangedb::slt
