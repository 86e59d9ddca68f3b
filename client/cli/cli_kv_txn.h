// `rangedb kv txn`: runs a script of reads and writes, read from stdin, as one
// transaction (txn/txn.h). A debugging tool: the script runs once, in one Txn; a
// retryable error is reported, not retried.
//
// Script: one operation per line; blank lines and comments (a word starting with #
// runs to the end of the line) are ignored.
//   get KEY | put KEY VALUE | del KEY | cput KEY VALUE [EXPECTED|-]
//   scan START END [LIMIT] | rscan START END [LIMIT] | delrange START END
//   commit | rollback        (the last operation; without one: rollback)
// Words are separated by spaces or tabs. A word in double quotes may hold spaces and
// C escapes (\n, \t, \\, \", \x41, \101); outside quotes a backslash is a plain
// byte. For cput, a bare - (or no third word) means "the key has no value"; "-"
// quoted is the one-byte string.
//
// The whole script is parsed before anything is sent, so a bad line (reported with
// its number) runs nothing. Output formats are in client/cli/cli_kv_txn.cc's help text.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/cli/command.h"
#include "client/kv_client.h"

namespace rangedb {

// One word of a script line. `quoted` tells a bare - (no value) from "-" (a string).
struct TxnScriptWord {
  std::string text;
  bool quoted = false;

  bool operator==(const TxnScriptWord&) const = default;
};

// Splits one line (without its newline) into words. InvalidArgument, naming the
// 1-based column, for an unterminated quote, a bad escape, a quote inside a bare
// word, or a closing quote not followed by a space.
absl::StatusOr<std::vector<TxnScriptWord>> TokenizeTxnScriptLine(absl::string_view line);

struct TxnScriptOp {
  enum class Kind {
    kGet,
    kPut,
    kDelete,
    kConditionalPut,
    kScan,
    kReverseScan,
    kDeleteRange,
    kCommit,
    kRollback,
  };
  Kind kind = Kind::kGet;
  int line = 0;                         // 1-based, in the script
  std::string key;                      // get, put, del, cput; START of the span ones
  std::string end_key;                  // scan, rscan, delrange: END (exclusive)
  std::string value;                    // put, cput
  std::optional<std::string> expected;  // cput; nullopt: the key must have no value
  int64_t limit = 0;                    // scan, rscan: at most this many rows; 0 = all
};

// The operation on one line; nullopt for a blank or comment line. InvalidArgument
// starting "line N: " for anything else that is not an operation.
absl::StatusOr<std::optional<TxnScriptOp>> ParseTxnScriptLine(absl::string_view line,
                                                              int line_number);

// Every operation of a script, in order. Also InvalidArgument when anything follows
// commit or rollback, or the script holds more than kMaxTxnScriptOps operations.
inline constexpr size_t kMaxTxnScriptOps = 100000;
absl::StatusOr<std::vector<TxnScriptOp>> ParseTxnScript(absl::string_view script);

// A key as a script would write it: bare when that reads back the same (printable,
// no quote, backslash or space, not starting with #, not "-", not empty), else in
// double quotes with C escapes.
std::string FormatTxnScriptWord(absl::string_view word);

// Exit code of `kv txn` for a retryable error (the same number as kExitUsage).
inline constexpr int kExitTxnRetryable = 3;  // distinct from kExitUsage (2)

// Runs ops in one transaction through client, printing each result to out and
// errors to err. Returns the exit code: kExitOk when the script's commit or
// rollback (or the implicit rollback at its end) succeeded; kExitTxnRetryable on a
// retryable error; kExitFailure otherwise (the transaction was rolled back, except
// after an ambiguous commit, which says so).
// pause_before_commit (testing): sleep that long before a final commit, with the
// transaction's intents laid and its heartbeat running — a window for tests to kill
// the coordinator mid-transaction.
int RunTxnScript(client::KvClient& client, const std::vector<TxnScriptOp>& ops, std::ostream& out,
                 std::ostream& err, absl::Duration pause_before_commit = absl::ZeroDuration());

// Adds `txn` to the `rangedb kv` command; the runner reads the script from stdin.
// Returns nullopt unless `kv txn` was selected.
CliRunner AddKvTxnCommand(CLI::App* kv, std::ostream& out, std::ostream& err);

}  // namespace rangedb
