// Column affinity and collation names: SQLite's type rules, applied by hand.
//
// SQLite applies a column's affinity to every value stored into a native table, but
// not to a virtual table's columns: xUpdate receives the values as the statement
// produced them. So the SQL layer converts them itself, here, with SQLite's rules
// (https://sqlite.org/datatype3.html §3 and §3.1) as SQLite 3.40 implements them.
// sql/affinity_test.cc checks every rule against the linked libsqlite3 by storing the
// same values into a native table and reading them back.
//
// Thread safety: stateless functions, safe to call concurrently.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "sql/value.h"

namespace rangedb::sql {

// The affinity of a column declared with `declared_type` (datatype3.html §3.1): the
// first rule that matches, by case-insensitive (ASCII) substring, wins:
//   1. contains "INT"                      -> INTEGER
//   2. contains "CHAR", "CLOB" or "TEXT"   -> TEXT
//   3. contains "BLOB", or is empty        -> BLOB
//   4. contains "REAL", "FLOA" or "DOUB"   -> REAL
//   5. otherwise                           -> NUMERIC
// So "FLOATING POINT" is INTEGER ("POINT" has "INT") and "STRING" is NUMERIC, as in
// SQLite.
Affinity AffinityOfDeclaredType(absl::string_view declared_type);

// The value SQLite stores when `value` is written into a column of affinity
// `affinity` (datatype3.html §3), i.e. what `SELECT col` then returns:
//   TEXT     INTEGER and REAL become TEXT; a REAL is rendered as SQLite renders it
//            (sqlite3_mprintf("%!.15g"): 1.0 -> "1.0", 1e20 -> "1.0e+20", -0.0 -> "0.0").
//   NUMERIC, INTEGER
//            TEXT that is a decimal number (optional sign, digits with an optional
//            '.', an optional exponent; leading and trailing whitespace allowed;
//            hex is NOT a number) becomes INTEGER when it is an integer literal that
//            fits int64, else REAL; and then any REAL that is a whole number strictly
//            between -2^63 and 2^63 becomes INTEGER ('3.0' -> 3, 1e15 -> 10^15,
//            -0.0 -> 0). -2^63 and 2^63 as REALs stay REAL: SQLite excludes both ends.
//            The text is converted as SQLite 3.40 converts it (sqlite3AtoF: at most
//            19 significant digits, scaled in long double), which is not always the
//            correctly rounded double; '9007199254740993.0' becomes the INTEGER
//            9007199254740992 because its double does.
//   REAL     As NUMERIC, then INTEGER becomes REAL (so -0.0 becomes +0.0).
//   BLOB     Unchanged.
// NULL and BLOB values never change, and TEXT that is not a number stays TEXT. A NaN
// REAL becomes NULL under every affinity: SQLite has no NaN (binding one gives NULL).
Value ApplyAffinity(Affinity affinity, Value value);

// The collation named `name`, case-insensitively: BINARY, NOCASE or RTRIM
// (datatype3.html §7.1). Any other name is InvalidArgument
// "no such collation sequence: <name>", SQLite's message.
absl::StatusOr<Collation> CollationByName(absl::string_view name);

// "BLOB", "TEXT", "NUMERIC", "INTEGER", "REAL": the affinity's SQL name.
absl::string_view AffinityName(Affinity affinity);
// "BINARY", "NOCASE", "RTRIM": the collation's SQL name, which CollationByName reads.
absl::string_view CollationName(Collation collation);

// How SQLite renders a REAL as TEXT (sqlite3_mprintf("%!.15g")): "1.0", "0.1",
// "1.0e+20", "Inf", "-Inf". Used by TEXT affinity.
std::string RealToText(double value);

}  // namespace rangedb::sql
