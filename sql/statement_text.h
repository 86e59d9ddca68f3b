// Reading just enough of a statement's text to route it, without parsing SQL: the
// session needs its first keyword (DDL goes to the catalog, not to SQLite), what an
// ALTER TABLE does (DROP COLUMN is refused before it runs) and, for
// an INSERT, which columns it names (SQLite gives a virtual table NULL for both an
// omitted column and an explicit NULL, and only the omitted one takes its DEFAULT).
//
// The tokenizer knows SQLite's comments (--, /* */), string literals ('...'), and
// quoted identifiers ("...", [...], `...`). Anything it does not understand gives
// "not known" (nullopt), and the caller falls back to the safe behaviour.
//
// Thread safety: stateless functions.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace rangedb::sql {

// sql without leading white space and comments.
absl::string_view SkipSpaceAndComments(absl::string_view sql);

// The first word of the statement, in upper case ("" if none).
std::string FirstKeyword(absl::string_view sql);

// The target of an INSERT or REPLACE statement.
struct InsertTarget {
  std::string table;  // as written, unquoted
  // The columns named, unquoted; nullopt: none named (every column gets a value).
  std::optional<std::vector<std::string>> columns;
  bool default_values = false;  // INSERT … DEFAULT VALUES: no column named
};

// nullopt if sql does not start with INSERT or REPLACE, or its head is not understood.
std::optional<InsertTarget> ParseInsertTarget(absl::string_view sql);

// What an ALTER TABLE statement does: the word after its table name, in upper case
// ("ADD", "RENAME", "DROP"); "" if sql is not ALTER TABLE or its head is not
// understood.
std::string AlterTableAction(absl::string_view sql);

}  // namespace rangedb::sql
