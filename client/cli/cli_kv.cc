// `rangedb kv put|get|del|incr|scan|cput`: one key-value operation per invocation,
// through client/kv_client.h; and `kv txn` (client/cli/cli_kv_txn.h).
//
// Keys and values are taken byte for byte from the arguments and printed raw. Exit
// codes: kExitOk; kExitFailure when the operation failed (one line on stderr, which
// says so explicitly when a write's outcome is unknown); kExitUsage for bad
// arguments.
#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "base/limits.h"
#include "base/request_limits.h"
#include "client/cli/cli_kv_txn.h"
#include "client/cli/command.h"
#include "client/cli/connection_flags.h"
#include "client/kv_client.h"

namespace rangedb {

using client::ConditionFailedActual;
using client::IsAmbiguous;
using client::IsConditionFailed;
using client::KeyValue;
using client::KvClient;
namespace {

// Every flag and argument of the group; one instance lives as long as the runner.
struct KvArgs {
  ConnectionFlags connection;
  std::string key;
  std::string value;
  std::string value_file;  // put: read the value from here ("-" = stdin)
  std::string delta = "1";
  std::string start;
  std::string end;
  int64_t limit = 0;
  std::string expect;
  bool expect_absent = false;
};

// A subcommand and the function that runs it once the client is connected.
struct KvCommand {
  CLI::App* app;
  std::function<int(KvClient&, const KvArgs&, std::ostream&, std::ostream&)> run;
};

// Prints a failed operation's status as one line.
int Fail(std::ostream& err, const std::string& command, const absl::Status& status) {
  err << "rangedb kv " << command << ": " << status.message();
  if (IsAmbiguous(status)) err << " (the write may or may not have been applied)";
  err << "\n";
  return kExitFailure;
}

int RunGet(KvClient& client, const KvArgs& args, std::ostream& out, std::ostream& err) {
  absl::StatusOr<std::optional<std::string>> value = client.Get(args.key);
  if (!value.ok()) return Fail(err, "get", value.status());
  if (!value->has_value()) {
    err << "not found\n";
    return kExitFailure;
  }
  out << **value << "\n";
  return kExitOk;
}

// The value of `put --value-file`: the whole file (or stdin), refused past the value
// limit without reading further.
absl::StatusOr<std::string> ReadValueFile(const std::string& path) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (path != "-") {
    file.open(path, std::ios::binary);
    if (!file) return absl::NotFoundError(absl::StrCat("cannot open --value-file ", path));
    in = &file;
  }
  std::string value;
  char chunk[64 << 10];
  while (in->read(chunk, sizeof chunk) || in->gcount() > 0) {
    value.append(chunk, static_cast<size_t>(in->gcount()));
    if (value.size() > limits::kMaxValueBytes) {
      return limits::CheckLimit("the value", value.size(), limits::kMaxValueBytes,
                                "kMaxValueBytes; the file is at least this long");
    }
  }
  if (in->bad()) return absl::DataLossError(absl::StrCat("cannot read --value-file ", path));
  return value;
}

int RunPut(KvClient& client, const KvArgs& args, std::ostream& out, std::ostream& err) {
  std::string value = args.value;
  if (!args.value_file.empty()) {
    absl::StatusOr<std::string> read = ReadValueFile(args.value_file);
    if (!read.ok()) return Fail(err, "put", read.status());
    value = *std::move(read);
  }
  absl::Status status = client.Put(args.key, value);
  return status.ok() ? kExitOk : Fail(err, "put", status);
}

int RunDelete(KvClient& client, const KvArgs& args, std::ostream& out, std::ostream& err) {
  absl::Status status = client.Delete(args.key);
  return status.ok() ? kExitOk : Fail(err, "del", status);
}

int RunIncrement(KvClient& client, const KvArgs& args, std::ostream& out, std::ostream& err) {
  int64_t delta = 0;
  if (!absl::SimpleAtoi(args.delta, &delta)) {
    err << "rangedb kv incr: DELTA \"" << args.delta << "\" is not an integer\n";
    return kExitUsage;
  }
  absl::StatusOr<int64_t> value = client.Increment(args.key, delta);
  if (!value.ok()) return Fail(err, "incr", value.status());
  out << *value << "\n";
  return kExitOk;
}

int RunScan(KvClient& client, const KvArgs& args, std::ostream& out, std::ostream& err) {
  if (args.limit < 0) {
    err << "rangedb kv scan: --limit must be >= 0\n";
    return kExitUsage;
  }
  // Printed page by page as the pages come: a span may hold more than fits in memory.
  absl::Status s = client.ScanEach(args.start, args.end, args.limit, [&out](KeyValue row) {
    out << row.key << "\t" << row.value << "\n";
    return absl::OkStatus();
  });
  return s.ok() ? kExitOk : Fail(err, "scan", s);
}

int RunConditionalPut(KvClient& client, const KvArgs& args, std::ostream& out, std::ostream& err) {
  const std::optional<std::string> expected =
      args.expect_absent ? std::nullopt : std::optional<std::string>(args.expect);
  absl::Status status = client.ConditionalPut(args.key, args.value, expected);
  if (IsConditionFailed(status)) {
    const std::optional<std::string> actual = *ConditionFailedActual(status);
    err << "rangedb kv cput: condition failed: "
        << (actual.has_value() ? absl::StrCat("actual value is \"", absl::CEscape(*actual), "\"")
                               : std::string("the key has no value"))
        << "\n";
    return kExitFailure;
  }
  return status.ok() ? kExitOk : Fail(err, "cput", status);
}

// Builds the client from --host and --timeout; a bad flag is a usage error.
std::optional<int> Connect(const KvArgs& args, std::ostream& err,
                           std::unique_ptr<KvClient>* client) {
  absl::StatusOr<Connection> connection = ParseConnectionFlags(args.connection);
  if (!connection.ok()) {
    err << "rangedb kv: " << connection.status().message() << "\n";
    return kExitUsage;
  }
  absl::StatusOr<std::unique_ptr<KvClient>> created = KvClient::Create(connection->ClientOptions());
  if (!created.ok()) {
    err << "rangedb kv: " << created.status().message() << "\n";
    return kExitUsage;
  }
  *client = std::move(*created);
  return std::nullopt;
}

// A kv subcommand: AddCommand's summary and example, and the connection flags.
CLI::App* AddSubcommand(CLI::App* kv, KvArgs* args, const std::string& name,
                        const std::string& summary, const std::string& example,
                        const std::string& details = "") {
  CLI::App* cmd = AddCommand(kv, name, summary, example, details);
  AddConnectionFlags(cmd, &args->connection);
  return cmd;
}

std::vector<KvCommand> AddSubcommands(CLI::App* kv, KvArgs* args) {
  std::vector<KvCommand> commands;
  CLI::App* put = AddSubcommand(kv, args, "put", "Write VALUE (or --value-file) at KEY",
                                "rangedb kv put --host=localhost:26257 greeting \"hello world\"\n"
                                "rangedb kv put --value-file=photo.jpg photos/1");
  put->add_option("KEY", args->key, "The key (bytes, as given)")->required();
  CLI::Option* value = put->add_option("VALUE", args->value, "The value (bytes, as given)");
  CLI::Option* value_file = put->add_option(
      "--value-file", args->value_file,
      "Read the value from this file, byte for byte (- = standard input); for values longer "
      "than a command-line argument may be (128 KiB)");
  value->excludes(value_file);
  commands.push_back({put, RunPut});

  CLI::App* get =
      AddSubcommand(kv, args, "get", "Print the value at KEY (exit 1 and \"not found\" if absent)",
                    "rangedb kv get --host=localhost:26257 greeting");
  get->add_option("KEY", args->key, "The key")->required();
  commands.push_back({get, RunGet});

  CLI::App* del = AddSubcommand(kv, args, "del", "Delete KEY (no error if absent)",
                                "rangedb kv del --host=localhost:26257 greeting");
  del->add_option("KEY", args->key, "The key")->required();
  commands.push_back({del, RunDelete});

  CLI::App* incr = AddSubcommand(
      kv, args, "incr", "Add DELTA (default 1) to the integer at KEY; print the result",
      "rangedb kv incr --host=localhost:26257 visits 10",
      "The value at KEY is a decimal integer; a missing key counts as 0.");
  incr->add_option("KEY", args->key, "The key (a missing key counts as 0)")->required();
  incr->add_option("DELTA", args->delta, "The integer to add, may be negative");
  commands.push_back({incr, RunIncrement});

  CLI::App* scan =
      AddSubcommand(kv, args, "scan", "Print the rows in [START, END), one key<TAB>value a line",
                    "rangedb kv scan --host=localhost:26257 --limit=10 acct/ acct0");
  scan->add_option("START", args->start, "First key (inclusive)")->required();
  scan->add_option("END", args->end, "End key (exclusive)")->required();
  scan->add_option("--limit", args->limit, "At most this many rows; 0 = all")
      ->capture_default_str();
  commands.push_back({scan, RunScan});

  CLI::App* cput = AddSubcommand(kv, args, "cput", "Write VALUE at KEY if its value is as expected",
                                 "rangedb kv cput --host=localhost:26257 --expect=v1 k v2",
                                 "Writes only if KEY's current value is --expect, or, with "
                                 "--expect-absent (the default), if it has none.");
  cput->add_option("KEY", args->key, "The key")->required();
  cput->add_option("VALUE", args->value, "The new value")->required();
  CLI::Option* expect = cput->add_option("--expect", args->expect, "The required current value");
  cput->add_flag("--expect-absent", args->expect_absent, "Require that the key has no value")
      ->excludes(expect);
  commands.push_back({cput, RunConditionalPut});
  return commands;
}

CliRunner AddKvCommands(CLI::App& app, std::ostream& out, std::ostream& err) {
  CLI::App* kv = AddCommand(&app, "kv", "Read and write keys through any node of a cluster",
                            "rangedb kv get --host=localhost:26257 greeting",
                            "Each command retries and fails over within --timeout; a write "
                            "whose outcome is unknown is reported as ambiguous. Keys are at "
                            "most 8 KiB and values at most 2 MiB; docs/limits.md lists every "
                            "limit.");
  kv->require_subcommand(1);
  auto args = std::make_shared<KvArgs>();
  auto commands = std::make_shared<std::vector<KvCommand>>(AddSubcommands(kv, args.get()));
  CliRunner txn = AddKvTxnCommand(kv, out, err);  // `rangedb kv txn` (cli_kv_txn.cc)
  return [kv, args, commands, txn, &out, &err]() -> std::optional<int> {
    if (!kv->parsed()) return std::nullopt;
    if (std::optional<int> code = txn()) return code;
    for (const KvCommand& command : *commands) {
      if (!command.app->parsed()) continue;
      // --expect-absent is the default when --expect is not given.
      if (command.app->get_name() == "cput" && command.app->count("--expect") == 0) {
        args->expect_absent = true;
      }
      if (command.app->get_name() == "put" && command.app->count("VALUE") == 0 &&
          command.app->count("--value-file") == 0) {
        err << "rangedb kv put: give the VALUE, or --value-file\n";
        return kExitUsage;
      }
      std::unique_ptr<KvClient> client;
      if (std::optional<int> code = Connect(*args, err, &client)) return code;
      return command.run(*client, *args, out, err);
    }
    return kExitUsage;  // unreachable: require_subcommand(1)
  };
}

RANGEDB_CLI_GROUP("kv", AddKvCommands);

}  // namespace
}  // namespace rangedb
