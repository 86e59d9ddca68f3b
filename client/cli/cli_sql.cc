// `rangedb sql`: runs SQL statements from -e, a file or standard input in one session
// (client/cli/cli_sql.h; docs/cli.md, "rangedb sql").
//
// Exit codes: kExitOk when every statement succeeded; kExitFailure when one failed
// (each error on stderr), the input could not be read, the session could not be
// opened or broke, or the input ended inside a transaction; kExitUsage for bad flags.
#include "client/cli/cli_sql.h"

#include <sqlite3.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "client/cli/command.h"
#include "client/cli/connection_flags.h"
#include "client/cli/sql_format.h"
#include "client/sql_client.h"

namespace rangedb {

size_t SkipSpaceAndComments(const std::string& text, size_t i) {
  // Terminates: every step moves i forward or returns.
  while (i < text.size()) {
    if (absl::ascii_isspace(static_cast<unsigned char>(text[i]))) {
      ++i;
    } else if (text.compare(i, 2, "--") == 0) {
      const size_t end = text.find('\n', i);
      i = end == std::string::npos ? text.size() : end + 1;
    } else if (text.compare(i, 2, "/*") == 0) {
      const size_t end = text.find("*/", i + 2);
      i = end == std::string::npos ? text.size() : end + 2;
    } else {
      return i;
    }
  }
  return i;
}

void SqlScriptReader::Consume(size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (buffer_[i] == '\n') {
      ++buffer_line_;
      buffer_column_ = 1;
    } else if ((static_cast<unsigned char>(buffer_[i]) & 0xC0) != 0x80) {
      ++buffer_column_;  // a character's first byte
    }
  }
  buffer_.erase(0, n);
  scanned_ = scanned_ > n ? scanned_ - n : 0;
}

std::optional<ScriptStatement> SqlScriptReader::Take(size_t end) {
  const size_t start = SkipSpaceAndComments(buffer_, 0);
  std::optional<ScriptStatement> statement;
  if (start < end && buffer_.compare(start, end - start, ";") != 0) {
    Consume(start);
    statement = ScriptStatement{buffer_.substr(0, end - start), buffer_line_, buffer_column_};
    Consume(end - start);
  } else {
    Consume(std::min(end, buffer_.size()));
  }
  return statement;
}

std::optional<ScriptStatement> SqlScriptReader::CutComplete() {
  // Whether the text through a ';' is complete depends only on that text, so a ';'
  // found incomplete once stays so: each is tested once.
  for (size_t semicolon = buffer_.find(';', scanned_); semicolon != std::string::npos;
       semicolon = buffer_.find(';', scanned_)) {
    scanned_ = semicolon + 1;
    const std::string prefix = buffer_.substr(0, semicolon + 1);
    if (sqlite3_complete(prefix.c_str()) == 0) continue;
    if (std::optional<ScriptStatement> statement = Take(semicolon + 1)) return statement;
  }
  return std::nullopt;
}

absl::StatusOr<std::optional<ScriptStatement>> SqlScriptReader::Next() {
  // Bounded: each round reads a line, and the buffer is bounded below.
  for (;;) {
    if (std::optional<ScriptStatement> statement = CutComplete()) return statement;
    if (eof_) {
      if (SkipSpaceAndComments(buffer_, 0) >= buffer_.size()) return std::nullopt;
      // The last statement, without its ';': its trailing whitespace is not sent.
      size_t end = buffer_.size();
      while (end > 0 && absl::ascii_isspace(static_cast<unsigned char>(buffer_[end - 1]))) --end;
      return Take(end);
    }
    if (buffer_.size() > kMaxScriptStatementBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the statement at line ", buffer_line_, " is longer than ",
          kMaxScriptStatementBytes >> 20, " MiB (or a quote or comment is not closed)"));
    }
    std::string line;
    if (std::getline(in_, line)) {
      buffer_ += line;
      if (!in_.eof()) buffer_ += '\n';
    } else {
      if (in_.bad()) return absl::DataLossError("cannot read the input");
      eof_ = true;
    }
  }
}

namespace {

using client::SqlConnection;

// Every flag of the command; lives as long as the runner.
struct SqlArgs {
  ConnectionFlags connection;
  std::vector<std::string> execute;  // -e, in order
  std::string file;                  // -f; "-" is standard input
  std::string format;                // "" until given: table on a terminal, else tsv
  std::string on_error = "continue";
};

// Where a request's SQL came from, to point at an error in it.
struct Source {
  std::string label;  // "queries.sql", "<stdin>", "-e#2"
  std::string sql;
  int line = 1;    // source line of sql[0]
  int column = 1;  // source column of sql[0]
};

// "label:line[:column]: text of that line", and a caret under the column. position is
// SqlError.position: a 1-based byte offset in source.sql, 0 if unknown (then the
// statement's first line is shown).
void PrintLocation(std::ostream& err, const Source& source, int32_t position) {
  const bool known = position > 0 && static_cast<size_t>(position) <= source.sql.size() + 1;
  const size_t offset = known ? static_cast<size_t>(position) - 1 : 0;
  const size_t line_start = offset == 0 ? 0 : source.sql.rfind('\n', offset - 1) + 1;  // npos+1 = 0
  size_t line_end = source.sql.find('\n', line_start);
  if (line_end == std::string::npos) line_end = source.sql.size();
  int line = source.line;
  for (size_t i = 0; i < line_start; ++i) line += source.sql[i] == '\n';
  std::string text = source.sql.substr(line_start, line_end - line_start);
  for (char& c : text) {
    if (c == '\t' || c == '\r') c = ' ';  // keeps the caret under its character
  }
  std::string prefix = absl::StrCat(source.label, ":", line);
  if (known) {
    const std::string before = source.sql.substr(line_start, offset - line_start);
    size_t column = 1;
    for (char c : before) column += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    if (line_start == 0) column += source.column - 1;
    absl::StrAppend(&prefix, ":", column);
    err << prefix << ": " << text << "\n";
    std::string shown_before = text.substr(0, std::min(text.size(), offset - line_start));
    err << std::string(DisplayWidth(prefix) + 2 + DisplayWidth(shown_before), ' ') << "^\n";
  } else {
    err << prefix << ": " << text << "\n";
  }
}

// Prints one request's answer: rows to out in the chosen format, errors to err.
class PrintingHandler final : public client::SqlResultHandler {
 public:
  PrintingHandler(SqlResultWriter& writer, std::ostream& err) : writer_(writer), err_(err) {}

  // Starts a request; what it reports is located in source.
  void Begin(const Source* source) {
    source_ = source;
    request_failed_ = false;
  }
  bool request_failed() const { return request_failed_; }

  void OnColumns(int, const std::vector<client::SqlColumn>& columns) override {
    writer_.Columns(columns);
  }
  void OnRows(int, std::vector<client::SqlRow> rows) override { writer_.Rows(rows); }
  void OnDone(int, const std::string& command_tag, int64_t rows_affected) override {
    writer_.Done(command_tag, rows_affected);
  }
  void OnError(int, const client::SqlError& error) override {
    writer_.Failed();
    request_failed_ = true;
    err_ << "ERROR: " << error.message << " (SQLSTATE " << error.sqlstate << ")\n";
    PrintLocation(err_, *source_, error.position);
  }

 private:
  SqlResultWriter& writer_;
  std::ostream& err_;
  const Source* source_ = nullptr;
  bool request_failed_ = false;
};

// The statements to run, from -e, -f or standard input, one request at a time.
class Input {
 public:
  // Opens -f's file (or standard input); false with a message on err if it cannot.
  bool Open(const SqlArgs& args, std::ostream& err) {
    execute_ = &args.execute;
    if (!args.execute.empty()) return true;
    if (args.file.empty() || args.file == "-") {
      label_ = "<stdin>";
      reader_ = std::make_unique<SqlScriptReader>(std::cin);
      return true;
    }
    file_.open(args.file, std::ios::binary);
    if (!file_) {
      err << "rangedb sql: cannot open " << args.file << ": " << std::strerror(errno) << "\n";
      return false;
    }
    label_ = args.file;
    reader_ = std::make_unique<SqlScriptReader>(file_);
    return true;
  }

  // The next request's SQL into *source; false at the end; an error if unreadable.
  absl::StatusOr<bool> Next(Source* source) {
    if (reader_ == nullptr) {
      if (next_execute_ >= execute_->size()) return false;
      *source = Source{absl::StrCat("-e#", next_execute_ + 1), (*execute_)[next_execute_], 1, 1};
      ++next_execute_;
      return true;
    }
    absl::StatusOr<std::optional<ScriptStatement>> statement = reader_->Next();
    if (!statement.ok()) return statement.status();
    if (!statement->has_value()) return false;
    *source =
        Source{label_, std::move((*statement)->sql), (*statement)->line, (*statement)->column};
    return true;
  }

 private:
  const std::vector<std::string>* execute_ = nullptr;
  size_t next_execute_ = 0;
  std::string label_;
  std::ifstream file_;
  std::unique_ptr<SqlScriptReader> reader_;
};

// Runs the command once its flags are parsed.
int RunSql(const SqlArgs& args, std::ostream& out, std::ostream& err) {
  absl::StatusOr<Connection> connection = ParseConnectionFlags(args.connection);
  if (!connection.ok()) {
    err << "rangedb sql: " << connection.status().message() << "\n";
    return kExitUsage;
  }
  SqlFormat format = SqlFormat::kTsv;
  if (!args.format.empty()) {
    format = *ParseSqlFormat(args.format);  // CLI11 checked it
  } else if (&out == &std::cout && isatty(STDOUT_FILENO)) {
    format = SqlFormat::kTable;
  }
  const bool stop_on_error = args.on_error == "stop";
  Input input;
  if (!input.Open(args, err)) return kExitFailure;

  client::SqlConnectionOptions options;
  options.hosts = connection->hosts;
  options.timeout = connection->timeout;
  absl::StatusOr<std::unique_ptr<SqlConnection>> session = SqlConnection::Connect(options);
  if (!session.ok()) {
    err << "rangedb sql: " << session.status().message() << "\n";
    return session.status().code() == absl::StatusCode::kInvalidArgument ? kExitUsage
                                                                         : kExitFailure;
  }

  SqlResultWriter writer(format, out);
  PrintingHandler handler(writer, err);
  bool any_failed = false;
  Source source;
  // Bounded by the input: one request per statement read.
  for (;;) {
    absl::StatusOr<bool> more = input.Next(&source);
    if (!more.ok()) {
      err << "rangedb sql: " << more.status().message() << "\n";
      return kExitFailure;
    }
    if (!*more) break;
    handler.Begin(&source);
    absl::Status status = (*session)->Execute(source.sql, {}, handler);
    out.flush();
    if (!status.ok()) {
      writer.Failed();  // what the statement returned before the break stays printed
      out.flush();
      err << "rangedb sql: " << status.message() << "\n";
      return kExitFailure;
    }
    any_failed |= handler.request_failed();
    if (handler.request_failed() && stop_on_error) return kExitFailure;
  }
  if ((*session)->in_transaction()) {
    err << "rangedb sql: the input ended inside a transaction (BEGIN without COMMIT or "
           "ROLLBACK): it was not committed\n";
    return kExitFailure;
  }
  return any_failed ? kExitFailure : kExitOk;
}

constexpr char kDetails[] =
    "Runs SQL statements in one session on the first node of --host that serves one\n"
    "(tried in order), and prints their results on standard output.\n"
    "\n"
    "Input:\n"
    "  -e SQL     one request (one or more statements); repeat -e to run several, in order.\n"
    "  -f FILE    a script (- = standard input); with neither -e nor -f, standard input.\n"
    "             A script is cut into statements at each ';' that ends one (semicolons in\n"
    "             strings, quoted names, comments and trigger bodies do not); each\n"
    "             statement is sent as its own request as soon as it is read.\n"
    "\n"
    "Output (--format; default table when standard output is a terminal, else tsv):\n"
    "  table  aligned columns with a header and \"(N rows)\"; a statement without rows\n"
    "         prints its command tag (\"CREATE TABLE\", \"INSERT 3\").\n"
    "  csv    RFC 4180, with a header line; NULL is an empty field, '' is \"\".\n"
    "  tsv    a header line, then tab-separated rows; \\ tab LF CR are written \\\\ \\t \\n \\r,\n"
    "         NULL as \\N.\n"
    "  json   one JSON object per row and line, keyed by column name; NULL is null.\n"
    "  REAL values print as the shortest text that reads back as the same number\n"
    "  (\"0.1\", \"1.0\", \"1e+16\"); BLOBs as \\x and hex. In csv, tsv and json a\n"
    "  statement without rows prints nothing.\n"
    "\n"
    "Errors go to standard error as \"ERROR: message (SQLSTATE xxxxx)\" and a line\n"
    "\"source:line[:column]: text\" locating the statement (and the error, when the\n"
    "server gives its position). With --on-error=continue (the default) the later\n"
    "statements still run; with --on-error=stop the first error ends the run.\n"
    "\n"
    "Exit status: 0 if every statement succeeded; 1 if one failed, the input could not\n"
    "be read, no node of --host served a session, the session broke (the message\n"
    "says whether a statement may have run), or the input ended inside a transaction\n"
    "(which is then not committed); 2 for bad flags.\n"
    "--timeout is the budget of each statement (of each -e).";

CliRunner AddSqlCommand(CLI::App& app, std::ostream& out, std::ostream& err) {
  CLI::App* sql =
      AddCommand(&app, "sql", "Run SQL statements from -e, a file or stdin; print results",
                 "rangedb sql --host=localhost:26257 -e \"SELECT * FROM accounts\"\n"
                 "rangedb sql --host=n1:26257,n2:26257 -f schema.sql --on-error=stop\n"
                 "echo \"SELECT 1;\" | rangedb sql --format=json",
                 kDetails);
  auto args = std::make_shared<SqlArgs>();
  AddConnectionFlags(sql, &args->connection);
  CLI::Option* execute =
      sql->add_option("-e,--execute", args->execute,
                      "SQL to run, one request (repeatable: run in order, in one session)")
          ->allow_extra_args(false)
          ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  sql->add_option("-f,--file", args->file, "Run the statements of this file (- = standard input)")
      ->excludes(execute);
  sql->add_option("--format", args->format,
                  "Output format: table, csv, tsv or json (default: table on a terminal, else "
                  "tsv)")
      ->check(CLI::IsMember({"table", "csv", "tsv", "json"}));
  sql->add_option("--on-error", args->on_error,
                  "After a failed statement: continue with the next, or stop (exit 1 either way)")
      ->check(CLI::IsMember({"continue", "stop"}))
      ->capture_default_str();
  return [sql, args, &out, &err]() -> std::optional<int> {
    if (!sql->parsed()) return std::nullopt;
    return RunSql(*args, out, err);
  };
}

RANGEDB_CLI_GROUP("sql", AddSqlCommand);

}  // namespace
}  // namespace rangedb
