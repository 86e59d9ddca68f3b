// `rangedb workload init|run|check NAME`: load generators against a running cluster.
//
//   init   writes the workload's initial data (with progress on stderr)
//   run    drives the workload for --duration; progress on stderr about every second,
//          then one summary line on stdout
//   check  reads the data back and reports what it found
//
// Workloads: kv (bench/workload_kv.h), bank (bench/workload_bank.h). An unknown NAME
// is a usage error, and so is a flag of another workload (--keys with bank).
#include <CLI/CLI.hpp>
#include <memory>
#include <random>
#include <span>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "bench/workload_bank.h"
#include "bench/workload_kv.h"
#include "client/cli/command.h"
#include "client/cli/connection_flags.h"
#include "client/kv_client.h"

namespace rangedb {

using client::KvClient;
using client::KvClientOptions;
namespace {

constexpr char kKnownWorkloads[] = "kv, bank";
// Flags that only one workload reads; given to the other they are usage errors.
constexpr const char* kKvOnlyFlags[] = {"--keys", "--read-percent", "--value-size"};
constexpr const char* kBankOnlyFlags[] = {"--accounts", "--initial-balance", "--drop",
                                          "--max-transfer"};

struct WorkloadArgs {
  std::string name;
  ConnectionFlags connection;
  std::string duration = "10";
  int concurrency = 8;
  int read_percent = 95;
  int64_t value_size_bytes = 256;
  int64_t keys = 10000;
  std::string seed;                // empty: random
  int64_t accounts = 1000;         // bank
  int64_t initial_balance = 1000;  // bank
  int64_t max_transfer = 100;      // bank
  bool drop = false;               // bank
};

// "10" means seconds; anything absl::ParseDuration takes ("1m30s") works too.
bool ParseSeconds(const std::string& text, absl::Duration* out) {
  int64_t seconds = 0;
  if (absl::SimpleAtoi(text, &seconds)) {
    *out = absl::Seconds(seconds);
    return true;
  }
  return absl::ParseDuration(text, out);
}

void AddCommonFlags(CLI::App* cmd, WorkloadArgs* args) {
  cmd->add_option("NAME", args->name, absl::StrCat("The workload: ", kKnownWorkloads))->required();
  AddConnectionFlags(cmd, &args->connection);
  cmd->add_option("--concurrency", args->concurrency, "Worker threads, each with its own client")
      ->capture_default_str();
  cmd->add_option("--keys", args->keys, "kv: number of keys, kv/00000000 onwards")
      ->capture_default_str();
  cmd->add_option("--seed", args->seed, "Random seed (default: random)");
}

// Checks NAME and the flags every workload shares; fills the client options, the
// duration and the seed. Prints usage errors.
std::optional<int> PrepareCommon(const WorkloadArgs& args, CLI::App* cmd, const std::string& prefix,
                                 std::ostream& err, KvClientOptions* client_options,
                                 absl::Duration* duration, uint64_t* seed) {
  if (args.name != "kv" && args.name != "bank") {
    err << prefix << "unknown workload \"" << args.name << "\" (known: " << kKnownWorkloads
        << ")\n";
    return kExitUsage;
  }
  const std::span<const char* const> foreign_flags =
      args.name == "kv" ? std::span<const char* const>(kBankOnlyFlags) : kKvOnlyFlags;
  for (const char* flag : foreign_flags) {
    if (const CLI::Option* option = cmd->get_option_no_throw(flag);
        option != nullptr && option->count() > 0) {
      err << prefix << flag << " is not a flag of the " << args.name << " workload\n";
      return kExitUsage;
    }
  }
  absl::StatusOr<Connection> connection = ParseConnectionFlags(args.connection);
  if (!connection.ok()) {
    err << prefix << connection.status().message() << "\n";
    return kExitUsage;
  }
  *client_options = connection->ClientOptions();
  if (!ParseSeconds(args.duration, duration)) {
    err << prefix << "--duration takes seconds or a duration like 1m30s\n";
    return kExitUsage;
  }
  *seed = std::random_device{}();
  if (!args.seed.empty() && !absl::SimpleAtoi(args.seed, seed)) {
    err << prefix << "--seed \"" << args.seed << "\" is not an unsigned integer\n";
    return kExitUsage;
  }
  if (absl::Status valid = KvClient::Create(*client_options).status(); !valid.ok()) {
    err << prefix << valid.message() << "\n";
    return kExitUsage;
  }
  return std::nullopt;
}

// Turns the flags into options and a per-worker client factory; prints usage errors.
std::optional<int> Prepare(const WorkloadArgs& args, CLI::App* cmd, std::ostream& err,
                           KvWorkloadOptions* options, KvTargetFactory* factory) {
  const std::string prefix = absl::StrCat("rangedb workload ", cmd->get_name(), ": ");
  KvClientOptions client_options;
  if (std::optional<int> code = PrepareCommon(args, cmd, prefix, err, &client_options,
                                              &options->duration, &options->seed)) {
    return code;
  }
  options->concurrency = args.concurrency;
  options->read_percent = args.read_percent;
  options->value_size_bytes = args.value_size_bytes;
  options->key_count = args.keys;
  if (absl::Status valid = ValidateKvWorkloadOptions(*options); !valid.ok()) {
    err << prefix << valid.message() << "\n";
    return kExitUsage;
  }
  *factory = [client_options]() -> absl::StatusOr<std::unique_ptr<KvTarget>> {
    absl::StatusOr<std::unique_ptr<KvClient>> client = KvClient::Create(client_options);
    if (!client.ok()) return client.status();
    return NewRangedbTarget(std::move(*client));
  };
  return std::nullopt;
}

// The bank workload's Prepare: options and a client factory (one client per call).
std::optional<int> PrepareBank(const WorkloadArgs& args, CLI::App* cmd, std::ostream& err,
                               BankWorkloadOptions* options, BankClientFactory* factory) {
  const std::string prefix = absl::StrCat("rangedb workload ", cmd->get_name(), ": ");
  KvClientOptions client_options;
  if (std::optional<int> code = PrepareCommon(args, cmd, prefix, err, &client_options,
                                              &options->duration, &options->seed)) {
    return code;
  }
  options->concurrency = args.concurrency;
  options->meta = BankMeta{args.accounts, args.initial_balance};
  options->max_transfer = args.max_transfer;
  options->drop = args.drop;
  if (absl::Status valid = ValidateBankWorkloadOptions(*options); !valid.ok()) {
    err << prefix << valid.message() << "\n";
    return kExitUsage;
  }
  *factory = [client_options] { return KvClient::Create(client_options); };
  return std::nullopt;
}

int RunRun(const KvWorkloadOptions& options, const KvTargetFactory& factory, std::ostream& out,
           std::ostream& err) {
  absl::StatusOr<KvWorkloadResult> result = RunKvWorkload(options, factory, err);
  if (!result.ok()) {
    err << "rangedb workload run: " << result.status().message() << "\n";
    return kExitFailure;
  }
  out << FormatKvSummary(*result) << "\n";
  // Errors are reported in the summary; a run where nothing succeeded failed.
  return result->ops > 0 ? kExitOk : kExitFailure;
}

int RunSweep(bool init, const KvWorkloadOptions& options, const KvTargetFactory& factory,
             std::ostream& out, std::ostream& err) {
  absl::StatusOr<KvSweepResult> result =
      init ? InitKvWorkload(options, factory, err) : CheckKvWorkload(options, factory, err);
  const char* verb = init ? "init" : "check";
  if (!result.ok()) {
    err << "rangedb workload " << verb << ": " << result.status().message() << "\n";
    return kExitFailure;
  }
  if (init) {
    out << "init kv: keys=" << result->keys << " written=" << result->found
        << " errors=" << result->errors << "\n";
    return result->errors == 0 ? kExitOk : kExitFailure;
  }
  const int64_t missing = result->keys - result->found - result->errors;
  out << "check kv: keys=" << result->keys << " found=" << result->found << " missing=" << missing
      << " errors=" << result->errors << "\n";
  return missing == 0 && result->errors == 0 ? kExitOk : kExitFailure;
}

CliRunner AddWorkloadCommands(CLI::App& app, std::ostream& out, std::ostream& err) {
  CLI::App* workload =
      AddCommand(&app, "workload", "Generate load against a running cluster (kv, bank)",
                 "rangedb workload init bank --host=localhost:26257 --accounts=100\n"
                 "rangedb workload run bank --host=localhost:26257 --duration=1m\n"
                 "rangedb workload check bank --host=localhost:26257",
                 "Workloads: kv (random gets and puts over kv/ keys) and bank (transfers "
                 "between accounts in transactions; the total never changes). docs/benchmarks.md "
                 "has numbers.");
  workload->require_subcommand(1);
  auto args = std::make_shared<WorkloadArgs>();

  CLI::App* init =
      AddCommand(workload, "init", "Write the workload's initial data",
                 "rangedb workload init kv --host=localhost:26257 --keys=100000 --value-size=64");
  AddCommonFlags(init, args.get());
  init->add_option("--value-size", args->value_size_bytes, "kv: bytes per value")
      ->capture_default_str();
  init->add_option("--accounts", args->accounts,
                   "bank: number of accounts, bank/00000000 onwards (2..100000000)")
      ->capture_default_str();
  init->add_option("--initial-balance", args->initial_balance, "bank: balance of every account")
      ->capture_default_str();
  init->add_flag("--drop", args->drop,
                 "bank: delete everything under bank/ first (init refuses to touch an existing "
                 "bank of another shape without it)");

  CLI::App* run = AddCommand(
      workload, "run", "Run the workload for --duration; print one summary line",
      "rangedb workload run kv --host=localhost:26257 --duration=30 --concurrency=16",
      "Prints progress to stderr about every second, then one summary line to stdout. kv: "
      "random gets and puts, 'ops/s=X p50_ms=X p95_ms=X p99_ms=X errors=N'. bank: "
      "transfers between random accounts in transactions, 'txn/s=X retries/s=X p50_ms=X "
      "p99_ms=X errors=N ambiguous=N skipped=N'.");
  AddCommonFlags(run, args.get());
  run->add_option("--duration", args->duration, "How long to run: seconds, or e.g. 1m")
      ->capture_default_str();
  run->add_option("--read-percent", args->read_percent, "kv: percent of operations that are gets")
      ->capture_default_str();
  run->add_option("--value-size", args->value_size_bytes, "kv: bytes per value written")
      ->capture_default_str();
  run->add_option("--max-transfer", args->max_transfer,
                  "bank: largest amount of one transfer (capped by the source's balance)")
      ->capture_default_str();

  CLI::App* check =
      AddCommand(workload, "check", "Read the workload's data back and report what is wrong",
                 "rangedb workload check bank --host=localhost:26257",
                 "kv: read every key and report how many exist. bank: read every account in one "
                 "transaction and print 'total=X expected=Y accounts=N negative=N missing=N "
                 "malformed=N'; exit 1 if the total is off or an account is missing, negative or "
                 "malformed.");
  AddCommonFlags(check, args.get());

  return [=, &out, &err]() -> std::optional<int> {
    if (!workload->parsed()) return std::nullopt;
    CLI::App* cmd = init->parsed() ? init : run->parsed() ? run : check;
    if (args->name == "bank") {
      BankWorkloadOptions options;
      BankClientFactory factory;
      if (std::optional<int> code = PrepareBank(*args, cmd, err, &options, &factory)) return code;
      return RunBankCommand(cmd->get_name(), options, factory, out, err);
    }
    KvWorkloadOptions options;
    KvTargetFactory factory;
    if (std::optional<int> code = Prepare(*args, cmd, err, &options, &factory)) return code;
    if (run->parsed()) return RunRun(options, factory, out, err);
    return RunSweep(init->parsed(), options, factory, out, err);
  };
}

RANGEDB_CLI_GROUP("workload", AddWorkloadCommands);

}  // namespace
}  // namespace rangedb
