// How `rangedb sql` prints results: the four output formats, which scripts may rely
// on (docs/cli.md, "rangedb sql"; pinned by sql_format_test).
//
// Values, in every format:
//   INTEGER  decimal, as is ("-42").
//   REAL     the shortest decimal that parses back to the same double (std::to_chars),
//            with ".0" added when that has neither a point nor an exponent ("1.0",
//            "0.1", "1e+16", "-0.0"); "Infinity", "-Infinity", "NaN".
//   TEXT     its bytes (UTF-8 passes through), then the format's escaping.
//   BLOB     "\x" and lowercase hex ("\x00ff"), then the format's escaping.
//   NULL     table: NULL; csv: an empty unquoted field; tsv: \N; json: null.
//
//   table  psql's aligned layout, for people: a header (names centred), a rule, the
//          rows (INTEGER and REAL right-aligned, the rest left-aligned), cells
//          separated by " | ", trailing spaces trimmed, then "(N rows)" ("(1 row)")
//          and an empty line. Control characters in a cell are shown escaped (\n, \t,
//          \r, \xNN); widths count characters, East Asian wide ones as two. Columns
//          are sized from the first kTableBufferRows rows; later rows keep those
//          widths (a wider value overflows its column). A statement without rows
//          prints its command tag: "CREATE TABLE", "BEGIN", and for INSERT, UPDATE
//          and DELETE the rows affected, "INSERT 3".
//   csv    RFC 4180: a header line of column names, then one line per row; fields
//          separated by commas; a field is quoted ("...", with " doubled) when it is
//          empty text or holds a comma, a quote, CR or LF; lines end with LF.
//   tsv    a header line of column names, then one line per row; fields separated by
//          one tab; in every field \ is written \\, tab \t, LF \n, CR \r.
//   json   one JSON object per row and line (NDJSON), keys the column names in
//          column order (a repeated name gets "_2", "_3", ...); INTEGER a JSON number,
//          REAL a JSON number ("Infinity", "-Infinity", "NaN" as strings), TEXT and
//          BLOB strings (invalid UTF-8 replaced by U+FFFD), NULL null.
// In csv, tsv and json a statement without rows prints nothing, and each statement
// with rows prints its own header (csv, tsv) then its rows.
//
// Thread safety: a SqlResultWriter is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "client/sql_client.h"

namespace rangedb {

enum class SqlFormat { kTable, kCsv, kTsv, kJson };

// "table", "csv", "tsv", "json"; nullopt for anything else.
std::optional<SqlFormat> ParseSqlFormat(absl::string_view name);

// A REAL as every format prints it (see above).
std::string FormatReal(double value);
// A value's text before a format's escaping; NULL is "NULL" (csv, tsv and json do
// not call this for NULL).
std::string ValueText(const client::SqlValue& value);
// Columns text takes on a terminal: characters, East Asian wide ones as two, combining
// marks as none; a byte that is not valid UTF-8 as one.
size_t DisplayWidth(absl::string_view text);

// Rows the table format holds to size its columns before it starts printing.
inline constexpr size_t kTableBufferRows = 1000;

// Prints the results of a session's statements, one statement after another, in a
// format. For each statement: Columns (if it returns rows), Rows for each batch, then
// Done or Failed.
class SqlResultWriter {
 public:
  SqlResultWriter(SqlFormat format, std::ostream& out, size_t table_buffer_rows = kTableBufferRows);

  void Columns(const std::vector<client::SqlColumn>& columns);
  void Rows(const std::vector<client::SqlRow>& rows);
  // The statement succeeded.
  void Done(const std::string& command_tag, int64_t rows_affected);
  // The statement failed: the rows it returned stay printed (table: without the
  // footer).
  void Failed();

 private:
  void PrintRow(const client::SqlRow& row);
  void FlushTable();  // table: prints the header (once) and the buffered rows

  const SqlFormat format_;
  std::ostream& out_;
  const size_t table_buffer_rows_;
  std::vector<std::string> names_;  // this statement's column names (json: unique)
  bool has_columns_ = false;
  int64_t row_count_ = 0;                 // rows of this statement so far
  std::vector<client::SqlRow> buffered_;  // table: rows not yet printed
  std::vector<size_t> widths_;            // table: fixed at the first flush
  std::vector<bool> right_aligned_;       // table: per column, fixed likewise
  bool header_printed_ = false;
};

}  // namespace rangedb
