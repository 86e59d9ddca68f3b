// `rangedb sql` (client/cli/cli_sql.cc; docs/cli.md, "rangedb sql"): SQL statements
// from -e, a file or standard input, run in one session through
// client/sql_client.h, results printed in one of the formats of sql_format.h.
//
// What is declared here is what the command's tests use besides the command itself:
// the script splitter.
#pragma once

#include <cstddef>
#include <istream>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace rangedb {

// The longest statement a script may hold: past it the script is refused (a
// request larger than this would not fit a message; base/limits.h).
inline constexpr size_t kMaxScriptStatementBytes = 12 << 20;

// One statement of a script and where it starts.
struct ScriptStatement {
  std::string sql;  // from its first token through its ';' (or the end of the input)
  int line = 1;     // 1-based source line of its first character
  int column = 1;   // 1-based column (in characters) of its first character
};

// Cuts a script into statements as it reads it, a line at a time, so a script may be
// longer than memory and statements run as they arrive. A statement ends at a ';'
// where SQLite's sqlite3_complete() says the text so far is complete, so semicolons
// in string literals, quoted names, comments and CREATE TRIGGER bodies do not end
// one. Whitespace and comments between statements are dropped, as are empty
// statements (";"); text after the last ';' that is more than whitespace and
// comments is a last statement, sent as it is (the server reports it if incomplete).
class SqlScriptReader {
 public:
  explicit SqlScriptReader(std::istream& in) : in_(in) {}

  // The next statement; nullopt at the end of the input. An error when the input
  // cannot be read or a statement is longer than kMaxScriptStatementBytes.
  absl::StatusOr<std::optional<ScriptStatement>> Next();

 private:
  // Cuts the first statement off buffer_ if it holds a complete one.
  std::optional<ScriptStatement> CutComplete();
  // Drops buffer_[0, n), moving buffer_line_ and buffer_column_ past it.
  void Consume(size_t n);
  // The statement buffer_[0, end) with its leading whitespace and comments dropped;
  // nullopt if nothing (or only ";") is left. Consumes buffer_[0, end).
  std::optional<ScriptStatement> Take(size_t end);

  std::istream& in_;
  std::string buffer_;     // read, not yet cut into statements
  int buffer_line_ = 1;    // source line of buffer_[0]
  int buffer_column_ = 1;  // source column of buffer_[0]
  size_t scanned_ = 0;     // no ';' before this offset of buffer_ ends a statement
  bool eof_ = false;
};

// Skips whitespace, "-- ..." and "/* ... */" comments in text from offset i; returns
// the offset of the first other character (text.size() if none).
size_t SkipSpaceAndComments(const std::string& text, size_t i);

}  // namespace rangedb
