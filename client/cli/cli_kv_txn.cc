// `rangedb kv txn` (client/cli/cli_kv_txn.h): the script parser, the runner, the command.
#include "client/cli/cli_kv_txn.h"

#include <unistd.h>

#include <iostream>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "client/cli/connection_flags.h"
#include "txn/txn.h"

namespace rangedb {

using client::ConditionFailedActual;
using client::IsAmbiguous;
using client::IsConditionFailed;
using client::KeyValue;
using client::KvClient;
namespace {

using Kind = TxnScriptOp::Kind;

constexpr size_t kMaxScriptBytes = 16 << 20;
constexpr char kPrefix[] = "rangedb kv txn: ";

constexpr char kHelpFooter[] = R"(Script (read from stdin, whole, before anything is sent):
one operation per line; blank lines and # comments are ignored.
  get KEY                      print the value
  put KEY VALUE                write VALUE at KEY
  del KEY                      delete KEY
  cput KEY VALUE [EXPECTED|-]  write VALUE if KEY's value is EXPECTED; with - or no
                               EXPECTED, if KEY has no value. A failed condition
                               rolls the transaction back (exit 1)
  scan START END [LIMIT]       print the rows in [START, END), at most LIMIT (0 = all)
  rscan START END [LIMIT]      the same, in descending key order
  delrange START END           delete every key in [START, END)
  commit | rollback            the last line; without one the transaction rolls back
Words are separated by spaces. A word in double quotes may hold spaces and C escapes
(\n \t \\ \" \x41 \101); "-" in quotes is the string -, a bare - means no value.
A bad line is reported with its number and nothing runs.

Output (stdout), one line per operation; keys as a script would write them:
  get KEY -> "VALUE"   or   get KEY -> (not found)
  put KEY ok   del KEY ok   cput KEY ok
  scan START END -> N rows, then one '  KEY -> "VALUE"' line per row
  delrange START END -> N deleted
  committed at SECONDS.NANOS,LOGICAL   or   rolled back
Errors go to stderr with the line number. Exit codes: 0 committed or rolled back as
the script says; 1 bad script or failed operation (the transaction is rolled back; a
commit whose outcome is unknown says so); 2 bad flags; 3 retryable error (the
transaction was aborted, e.g. by a conflict: running the script again may succeed).)";

constexpr char kExample[] =
    R"(printf 'get acct/a\nput acct/a 90\nput acct/b "hello world"\ncommit\n' |
  rangedb kv txn --host=localhost:26257)";

bool IsSpace(char c) { return absl::ascii_isspace(static_cast<unsigned char>(c)); }

absl::Status Column(size_t index, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("column ", index + 1, ": ", what));
}

// The operation names, and how many argument words each takes (min..max).
struct OpSyntax {
  const char* name;
  Kind kind;
  size_t min_args;
  size_t max_args;
  const char* usage;
};
constexpr OpSyntax kOps[] = {
    {"get", Kind::kGet, 1, 1, "get KEY"},
    {"put", Kind::kPut, 2, 2, "put KEY VALUE"},
    {"del", Kind::kDelete, 1, 1, "del KEY"},
    {"cput", Kind::kConditionalPut, 2, 3, "cput KEY VALUE [EXPECTED|-]"},
    {"scan", Kind::kScan, 2, 3, "scan START END [LIMIT]"},
    {"rscan", Kind::kReverseScan, 2, 3, "rscan START END [LIMIT]"},
    {"delrange", Kind::kDeleteRange, 2, 2, "delrange START END"},
    {"commit", Kind::kCommit, 0, 0, "commit"},
    {"rollback", Kind::kRollback, 0, 0, "rollback"},
};

const OpSyntax& SyntaxOf(Kind kind) {
  for (const OpSyntax& op : kOps) {
    if (op.kind == kind) return op;
  }
  return kOps[0];  // unreachable: every Kind is in kOps
}

std::string Quoted(absl::string_view value) {
  return absl::StrCat("\"", absl::CEscape(value), "\"");
}

// The start of an operation's output line: "get KEY", "scan START END".
std::string Describe(const TxnScriptOp& op) {
  std::string s = SyntaxOf(op.kind).name;
  switch (op.kind) {
    case Kind::kScan:
    case Kind::kReverseScan:
    case Kind::kDeleteRange:
      absl::StrAppend(&s, " ", FormatTxnScriptWord(op.key), " ", FormatTxnScriptWord(op.end_key));
      break;
    case Kind::kCommit:
    case Kind::kRollback:
      break;
    default:
      absl::StrAppend(&s, " ", FormatTxnScriptWord(op.key));
  }
  return s;
}

// Runs one operation that is not commit or rollback; prints its result.
absl::Status RunOp(txn::Txn& txn, const TxnScriptOp& op, std::ostream& out) {
  const std::string what = Describe(op);
  switch (op.kind) {
    case Kind::kGet: {
      absl::StatusOr<std::optional<std::string>> value = txn.Get(op.key);
      if (!value.ok()) return value.status();
      out << what << " -> " << (value->has_value() ? Quoted(**value) : "(not found)") << "\n";
      return absl::OkStatus();
    }
    case Kind::kPut:
    case Kind::kDelete:
    case Kind::kConditionalPut: {
      absl::Status status = op.kind == Kind::kPut ? txn.Put(op.key, op.value)
                            : op.kind == Kind::kDelete
                                ? txn.Delete(op.key)
                                : txn.ConditionalPut(op.key, op.value, op.expected);
      if (status.ok()) out << what << " ok\n";
      return status;
    }
    case Kind::kScan:
    case Kind::kReverseScan: {
      absl::StatusOr<std::vector<KeyValue>> rows =
          op.kind == Kind::kScan ? txn.Scan(op.key, op.end_key, op.limit)
                                 : txn.ReverseScan(op.key, op.end_key, op.limit);
      if (!rows.ok()) return rows.status();
      out << what << " -> " << rows->size() << (rows->size() == 1 ? " row\n" : " rows\n");
      for (const KeyValue& row : *rows) {
        out << "  " << FormatTxnScriptWord(row.key) << " -> " << Quoted(row.value) << "\n";
      }
      return absl::OkStatus();
    }
    case Kind::kDeleteRange: {
      absl::StatusOr<int64_t> deleted = txn.DeleteRange(op.key, op.end_key);
      if (!deleted.ok()) return deleted.status();
      out << what << " -> " << *deleted << " deleted\n";
      return absl::OkStatus();
    }
    case Kind::kCommit:
    case Kind::kRollback:
      break;
  }
  return absl::InternalError("commit and rollback are not run by RunOp");
}

// Reports a failed operation and rolls back what is left; returns the exit code.
int Fail(txn::Txn& txn, const TxnScriptOp& op, const absl::Status& status, std::ostream& err) {
  err << kPrefix << "line " << op.line << " (" << SyntaxOf(op.kind).name << "): ";
  if (IsConditionFailed(status)) {
    const std::optional<std::string> actual = *ConditionFailedActual(status);
    err << "condition failed: "
        << (actual.has_value() ? absl::StrCat("actual value is ", Quoted(*actual))
                               : std::string("the key has no value"));
  } else {
    err << status.message();
  }
  err << "\n";
  if (op.kind == Kind::kCommit && IsAmbiguous(status)) {
    err << kPrefix << "the commit's outcome is unknown: the transaction may or may not have "
        << "committed\n";
    return kExitFailure;
  }
  // After most errors the Txn has already rolled itself back; this covers the rest
  // (a failed condition leaves it open).
  (void)txn.Rollback();
  if (txn::IsRetryable(status)) {
    err << kPrefix << "the transaction was aborted by a retryable error and rolled back; "
        << "running the script again may succeed\n";
    return kExitTxnRetryable;
  }
  err << kPrefix << "the transaction was rolled back\n";
  return kExitFailure;
}

// Reads all of `in`; fails past kMaxScriptBytes.
absl::StatusOr<std::string> ReadScript(std::istream& in) {
  std::string script;
  char buffer[64 << 10];
  while (in.read(buffer, sizeof(buffer)) || in.gcount() > 0) {
    script.append(buffer, static_cast<size_t>(in.gcount()));
    if (script.size() > kMaxScriptBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("the script is larger than ", kMaxScriptBytes, " bytes"));
    }
  }
  if (in.bad()) return absl::UnavailableError("cannot read the script from stdin");
  return script;
}

struct TxnArgs {
  ConnectionFlags connection;
  std::string testing_pause_before_commit = "0s";
};

}  // namespace

absl::StatusOr<std::vector<TxnScriptWord>> TokenizeTxnScriptLine(absl::string_view line) {
  std::vector<TxnScriptWord> words;
  size_t i = 0;
  while (true) {
    while (i < line.size() && IsSpace(line[i])) ++i;
    if (i == line.size() || line[i] == '#') break;  // end, or a comment
    if (line[i] != '"') {
      const size_t start = i;
      while (i < line.size() && !IsSpace(line[i])) {
        if (line[i] == '"') return Column(i, "a quote may only start a word");
        ++i;
      }
      words.push_back({std::string(line.substr(start, i - start)), false});
      continue;
    }
    const size_t open = i++;
    while (i < line.size() && line[i] != '"') i += line[i] == '\\' ? 2 : 1;
    if (i >= line.size()) return Column(open, "unterminated quoted word");
    TxnScriptWord word{"", true};
    std::string error;
    if (!absl::CUnescape(line.substr(open + 1, i - open - 1), &word.text, &error)) {
      return Column(open, absl::StrCat("bad escape in quoted word: ", error));
    }
    ++i;  // the closing quote
    if (i < line.size() && !IsSpace(line[i])) {
      return Column(i, "a closing quote must be followed by a space");
    }
    words.push_back(std::move(word));
  }
  return words;
}

absl::StatusOr<std::optional<TxnScriptOp>> ParseTxnScriptLine(absl::string_view line,
                                                              int line_number) {
  const std::string at = absl::StrCat("line ", line_number, ": ");
  absl::StatusOr<std::vector<TxnScriptWord>> words = TokenizeTxnScriptLine(line);
  if (!words.ok()) return absl::InvalidArgumentError(absl::StrCat(at, words.status().message()));
  if (words->empty()) return std::optional<TxnScriptOp>();
  const std::string name = absl::AsciiStrToLower((*words)[0].text);
  const OpSyntax* syntax = nullptr;
  for (const OpSyntax& op : kOps) {
    if (name == op.name && !(*words)[0].quoted) syntax = &op;
  }
  if (syntax == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(at, "unknown operation ", FormatTxnScriptWord((*words)[0].text),
                     " (want get, put, del, cput, scan, rscan, delrange, commit or rollback)"));
  }
  const size_t args = words->size() - 1;
  if (args < syntax->min_args || args > syntax->max_args) {
    return absl::InvalidArgumentError(absl::StrCat(at, "want \"", syntax->usage, "\", got ", args,
                                                   args == 1 ? " argument" : " arguments"));
  }
  TxnScriptOp op;
  op.kind = syntax->kind;
  op.line = line_number;
  auto arg = [&](size_t i) -> const TxnScriptWord& { return (*words)[i + 1]; };
  switch (op.kind) {
    case Kind::kConditionalPut:
      if (args == 3 && !(arg(2).text == "-" && !arg(2).quoted)) op.expected = arg(2).text;
      [[fallthrough]];
    case Kind::kPut:
      op.value = arg(1).text;
      [[fallthrough]];
    case Kind::kGet:
    case Kind::kDelete:
      op.key = arg(0).text;
      break;
    case Kind::kScan:
    case Kind::kReverseScan:
      if (args == 3 && (arg(2).quoted || !absl::SimpleAtoi(arg(2).text, &op.limit) ||
                        op.limit < 0 || arg(2).text[0] == '+')) {
        return absl::InvalidArgumentError(absl::StrCat(
            at, "LIMIT must be a non-negative integer, got ", FormatTxnScriptWord(arg(2).text)));
      }
      [[fallthrough]];
    case Kind::kDeleteRange:
      op.key = arg(0).text;
      op.end_key = arg(1).text;
      break;
    case Kind::kCommit:
    case Kind::kRollback:
      break;
  }
  return std::optional<TxnScriptOp>(std::move(op));
}

absl::StatusOr<std::vector<TxnScriptOp>> ParseTxnScript(absl::string_view script) {
  std::vector<TxnScriptOp> ops;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(script, '\n')) {
    ++line_number;
    absl::StatusOr<std::optional<TxnScriptOp>> op = ParseTxnScriptLine(line, line_number);
    if (!op.ok()) return op.status();
    if (!op->has_value()) continue;
    if (!ops.empty() && (ops.back().kind == Kind::kCommit || ops.back().kind == Kind::kRollback)) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line_number, ": nothing may follow the ",
                       SyntaxOf(ops.back().kind).name, " on line ", ops.back().line));
    }
    if (ops.size() == kMaxTxnScriptOps) {
      return absl::InvalidArgumentError(absl::StrCat(
          "line ", line_number, ": a script holds at most ", kMaxTxnScriptOps, " operations"));
    }
    ops.push_back(std::move(**op));
  }
  return ops;
}

std::string FormatTxnScriptWord(absl::string_view word) {
  bool bare = !word.empty() && word[0] != '#' && word != "-";
  for (char c : word) {
    if (c <= ' ' || c > '~' || c == '"' || c == '\\') bare = false;
  }
  return bare ? std::string(word) : Quoted(word);
}

int RunTxnScript(KvClient& client, const std::vector<TxnScriptOp>& ops, std::ostream& out,
                 std::ostream& err, absl::Duration pause_before_commit) {
  txn::Txn txn(&client);
  for (const TxnScriptOp& op : ops) {
    absl::Status status;
    if (op.kind == Kind::kCommit) {
      if (pause_before_commit > absl::ZeroDuration()) {
        out << "pausing " << absl::FormatDuration(pause_before_commit) << " before commit\n"
            << std::flush;
        absl::SleepFor(pause_before_commit);
      }
      status = txn.Commit();
      if (status.ok()) out << "committed at " << txn.commit_timestamp().ToString() << "\n";
    } else if (op.kind == Kind::kRollback) {
      status = txn.Rollback();
      if (status.ok()) out << "rolled back\n";
    } else {
      status = RunOp(txn, op, out);
    }
    out << std::flush;
    if (!status.ok()) return Fail(txn, op, status, err);
    if (op.kind == Kind::kCommit || op.kind == Kind::kRollback) return kExitOk;
  }
  err << kPrefix << "the script ends without commit or rollback: rolling back\n";
  if (absl::Status status = txn.Rollback(); !status.ok()) {
    err << kPrefix << "rollback: " << status.message() << "\n";
    return kExitFailure;
  }
  out << "rolled back\n";
  return kExitOk;
}

CliRunner AddKvTxnCommand(CLI::App* kv, std::ostream& out, std::ostream& err) {
  CLI::App* cmd = AddCommand(
      kv, "txn", "Run a script of gets, puts, scans... from stdin as one transaction", kExample,
      absl::StrCat("Prints each result. A debugging tool: a retryable error is "
                   "reported, not retried.\n\n",
                   kHelpFooter));
  auto args = std::make_shared<TxnArgs>();
  AddConnectionFlags(cmd, &args->connection);
  cmd->add_option("--testing-pause-before-commit", args->testing_pause_before_commit,
                  "TESTING ONLY: sleep this long before the final commit (intents laid, "
                  "heartbeat running), so tests can kill a coordinator mid-transaction");
  return [cmd, args, &out, &err]() -> std::optional<int> {
    if (!cmd->parsed()) return std::nullopt;
    absl::Duration pause;
    if (!absl::ParseDuration(args->testing_pause_before_commit, &pause)) {
      err << kPrefix << "--testing-pause-before-commit is not a duration\n";
      return kExitUsage;
    }
    absl::StatusOr<Connection> connection = ParseConnectionFlags(args->connection);
    if (!connection.ok()) {
      err << kPrefix << connection.status().message() << "\n";
      return kExitUsage;
    }
    absl::StatusOr<std::unique_ptr<KvClient>> client =
        KvClient::Create(connection->ClientOptions());
    if (!client.ok()) {
      err << kPrefix << client.status().message() << "\n";
      return kExitUsage;
    }
    if (isatty(STDIN_FILENO)) {
      err << kPrefix << "reading the script from stdin; end it with Ctrl-D ('rangedb kv txn "
          << "--help' shows the format)\n";
    }
    absl::StatusOr<std::string> script = ReadScript(std::cin);
    absl::StatusOr<std::vector<TxnScriptOp>> ops =
        script.ok() ? ParseTxnScript(*script) : script.status();
    if (!ops.ok()) {
      err << kPrefix << ops.status().message() << "\n" << kPrefix << "nothing was run\n";
      return kExitFailure;
    }
    return RunTxnScript(**client, *ops, out, err, pause);
  };
}

}  // namespace rangedb
