// `rangedb workload init|run|check NAME`: load generators against a running cluster.
//
//   init   writes the workload's initial data (with progress on stderr)
//   run    drives the workload for --duration; progress on stderr about every second,
//          then one summary line on stdout
//   check  reads the data back and reports what it found
//
// Workloads: kv (bench/workload_kv.h), bank (bench/workload_bank.h), sql-kv
// (bench/workload_sql_kv.h: SQL against KV, side by side), sql-scan
// (bench/workload_sql_scan.h: count(*) and sum(x) against an in-process MVCC scan). An
// unknown NAME is a usage error, and so is a flag of another workload (--keys with bank).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "bench/workload_bank.h"
#include "bench/workload_kv.h"
#include "bench/workload_sql_kv_cluster.h"
#include "bench/workload_sql_scan.h"
#include "client/cli/command.h"
#include "client/cli/connection_flags.h"
#include "client/kv_client.h"

namespace rangedb {

using client::KvClient;
using client::KvClientOptions;
namespace {

constexpr char kKnownWorkloads[] = "kv, bank, sql-kv, sql-scan";
// Flags that only some workloads read; given to another they are usage errors.
struct WorkloadFlag {
  const char* flag;
  const char* workloads;  // the workloads that read it, separated by spaces
};
constexpr WorkloadFlag kWorkloadFlags[] = {
    {"--keys", "kv sql-kv"},
    {"--read-percent", "kv"},
    {"--value-size", "kv"},
    {"--accounts", "bank"},
    {"--initial-balance", "bank"},
    {"--drop", "bank"},
    {"--max-transfer", "bank"},
    {"--value-bytes", "sql-kv"},
    {"--ops", "sql-kv"},
    {"--server-pids", "sql-kv sql-scan"},
    {"--scan-rows", "sql-kv"},
    {"--rows", "sql-scan"},
    {"--load-workers", "sql-scan"},
    {"--repeats", "sql-scan"},
    {"--work-dir", "sql-scan"},
};
constexpr int kDefaultConcurrency = 8;  // kv, bank

struct WorkloadArgs {
  std::string name;
  ConnectionFlags connection;
  std::string duration = "10";
  std::string concurrency;  // empty: the workload's default (8; sql-kv "1,32")
  int read_percent = 95;
  int64_t value_size_bytes = 256;
  int64_t keys = 10000;
  std::string seed;                               // empty: random
  int64_t accounts = 1000;                        // bank
  int64_t initial_balance = 1000;                 // bank
  int64_t max_transfer = 100;                     // bank
  bool drop = false;                              // bank
  int64_t value_bytes = 64;                       // sql-kv
  std::string ops = "select,insert,update";       // sql-kv
  std::string server_pids;                        // sql-kv
  int64_t scan_rows = 0;                          // sql-kv
  int64_t rows = kSqlScanDefaultRows;             // sql-scan
  int load_workers = kSqlScanDefaultLoadWorkers;  // sql-scan
  int repeats = kSqlScanDefaultRepeats;           // sql-scan
  std::string work_dir = "/tmp";                  // sql-scan
};

// --concurrency of kv and bank: one count.
bool ParseConcurrency(const std::string& text, int* out) {
  if (text.empty()) {
    *out = kDefaultConcurrency;
    return true;
  }
  return absl::SimpleAtoi(text, out);
}

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
  cmd->add_option("--concurrency", args->concurrency,
                  "Worker threads, each with its own client (default 8). sql-kv: a list of "
                  "client counts, one phase each (default 1,32)");
  cmd->add_option("--keys", args->keys,
                  "kv: number of keys, kv/00000000 onwards. sql-kv: rows preloaded in table kv "
                  "and under bench/")
      ->capture_default_str();
  cmd->add_option("--seed", args->seed, "Random seed (default: random)");
  cmd->add_option("--rows", args->rows, "sql-scan: rows of table sql_scan_t (1..10000000)")
      ->capture_default_str();
  cmd->add_option("--load-workers", args->load_workers,
                  "sql-scan: sessions loading the table in parallel")
      ->capture_default_str();
}

// Checks NAME and the flags every workload shares; fills the client options, the
// duration and the seed. Prints usage errors.
std::optional<int> PrepareCommon(const WorkloadArgs& args, CLI::App* cmd, const std::string& prefix,
                                 std::ostream& err, KvClientOptions* client_options,
                                 absl::Duration* duration, uint64_t* seed) {
  if (args.name != "kv" && args.name != "bank" && args.name != "sql-kv" &&
      args.name != "sql-scan") {
    err << prefix << "unknown workload \"" << args.name << "\" (known: " << kKnownWorkloads
        << ")\n";
    return kExitUsage;
  }
  for (const WorkloadFlag& flag : kWorkloadFlags) {
    const std::vector<absl::string_view> readers = absl::StrSplit(flag.workloads, ' ');
    if (std::find(readers.begin(), readers.end(), args.name) != readers.end()) continue;
    if (const CLI::Option* option = cmd->get_option_no_throw(flag.flag);
        option != nullptr && option->count() > 0) {
      err << prefix << flag.flag << " is not a flag of the " << args.name << " workload\n";
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
  if (!ParseConcurrency(args.concurrency, &options->concurrency)) {
    err << prefix << "--concurrency takes a number of workers\n";
    return kExitUsage;
  }
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
  if (!ParseConcurrency(args.concurrency, &options->concurrency)) {
    err << prefix << "--concurrency takes a number of workers\n";
    return kExitUsage;
  }
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

// The sql-kv workload's Prepare: options and where its clients connect.
std::optional<int> PrepareSqlKv(const WorkloadArgs& args, CLI::App* cmd, std::ostream& err,
                                SqlKvOptions* options, SqlKvCluster* cluster) {
  const std::string prefix = absl::StrCat("rangedb workload ", cmd->get_name(), ": ");
  KvClientOptions client_options;
  if (std::optional<int> code = PrepareCommon(args, cmd, prefix, err, &client_options,
                                              &options->duration, &options->seed)) {
    return code;
  }
  cluster->hosts = client_options.hosts;
  cluster->timeout = client_options.timeout;
  absl::Status status;
  if (!args.concurrency.empty()) {
    absl::StatusOr<std::vector<int>> levels = ParseConcurrencyList(args.concurrency);
    if (levels.ok()) options->concurrency = *levels;
    status.Update(levels.status());
  }
  absl::StatusOr<std::vector<SqlKvOp>> ops = ParseSqlKvOps(args.ops);
  if (ops.ok()) options->ops = *ops;
  status.Update(ops.status());
  absl::StatusOr<std::vector<int>> pids = ParsePidList(args.server_pids);
  if (pids.ok()) options->server_pids = *pids;
  status.Update(pids.status());
  options->value_bytes = args.value_bytes;
  options->keys = args.keys;
  options->scan_rows = args.scan_rows;
  if (status.ok()) status = ValidateSqlKvOptions(*options);
  if (!status.ok()) {
    err << prefix << status.message() << "\n";
    return kExitUsage;
  }
  return std::nullopt;
}

// The sql-scan workload's Prepare: options and where its clients connect.
std::optional<int> PrepareSqlScan(const WorkloadArgs& args, CLI::App* cmd, std::ostream& err,
                                  SqlScanOptions* options, SqlKvCluster* cluster) {
  const std::string prefix = absl::StrCat("rangedb workload ", cmd->get_name(), ": ");
  KvClientOptions client_options;
  absl::Duration unused_duration;
  uint64_t unused_seed = 0;
  if (std::optional<int> code =
          PrepareCommon(args, cmd, prefix, err, &client_options, &unused_duration, &unused_seed)) {
    return code;
  }
  cluster->hosts = client_options.hosts;
  cluster->timeout = client_options.timeout;
  absl::StatusOr<std::vector<int>> pids = ParsePidList(args.server_pids);
  absl::Status status = pids.status();
  if (pids.ok()) options->server_pids = *pids;
  options->rows = args.rows;
  options->load_workers = args.load_workers;
  options->repeats = args.repeats;
  options->work_dir = args.work_dir;
  if (status.ok()) status = ValidateSqlScanOptions(*options);
  if (!status.ok()) {
    err << prefix << status.message() << "\n";
    return kExitUsage;
  }
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
  CLI::App* workload = AddCommand(
      &app, "workload", "Generate load against a running cluster (kv, bank, sql-kv, sql-scan)",
      "rangedb workload init bank --host=localhost:26257 --accounts=100\n"
      "rangedb workload run bank --host=localhost:26257 --duration=1m\n"
      "rangedb workload check bank --host=localhost:26257\n"
      "rangedb workload run sql-kv --host=localhost:26257 --concurrency=1,32\n"
      "rangedb workload run sql-scan --host=localhost:26257 --rows=1000000",
      "Workloads: kv (random gets and puts over kv/ keys), bank (transfers "
      "between accounts in transactions; the total never changes) and sql-kv (point "
      "SELECT, INSERT and UPDATE through SQL against Get and Put through the KV API, "
      "side by side), sql-scan (count(*) and sum(x) over a table through SQL "
      "against a KV scan and an in-process MVCC scan of the same rows). "
      "docs/benchmarks.md has numbers.");
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
  init->add_option("--value-bytes", args->value_bytes, "sql-kv: bytes per value")
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
      "p99_ms=X errors=N ambiguous=N skipped=N'. sql-kv: for each op and each --concurrency, "
      "SQL then KV for --duration each; a table of ops/s, p50/p99 and CPU per op, sql/kv. "
      "sql-scan: loads table sql_scan_t if short, then count(*), sum(x), a KV scan and an "
      "in-process MVCC scan of the same rows; rows/s, ratio to MVCC, CPU ns per row.");
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
  run->add_option("--value-bytes", args->value_bytes, "sql-kv: bytes per value written")
      ->capture_default_str();
  run->add_option("--ops", args->ops, "sql-kv: the operations to compare, in this order")
      ->capture_default_str();
  run->add_option("--server-pids", args->server_pids,
                  "sql-kv, sql-scan: PID,PID,... of the servers, whose CPU time each phase "
                  "reports");
  run->add_option("--repeats", args->repeats,
                  "sql-scan: runs of each scan (the median is reported)")
      ->capture_default_str();
  run->add_option("--work-dir", args->work_dir,
                  "sql-scan: where the in-process baseline's temporary engine lives")
      ->capture_default_str();
  run->add_option("--scan-rows", args->scan_rows,
                  "sql-kv: then time count(*) and sum(x) over a table of this many rows "
                  "against a KV scan of it (0: no scan benchmark)")
      ->capture_default_str();

  CLI::App* check =
      AddCommand(workload, "check", "Read the workload's data back and report what is wrong",
                 "rangedb workload check bank --host=localhost:26257",
                 "kv: read every key and report how many exist. bank: read every account in one "
                 "transaction and print 'total=X expected=Y accounts=N negative=N missing=N "
                 "malformed=N'; exit 1 if the total is off or an account is missing, negative or "
                 "malformed. sql-kv: count rows 0..keys-1 of table kv and their bench/ keys. "
                 "sql-scan: count(*) and sum(x) of sql_scan_t against --rows.");
  AddCommonFlags(check, args.get());

  return [=, &out, &err]() -> std::optional<int> {
    if (!workload->parsed()) return std::nullopt;
    CLI::App* cmd = init->parsed() ? init : run->parsed() ? run : check;
    if (args->name == "sql-scan") {
      SqlScanOptions options;
      SqlKvCluster cluster;
      if (std::optional<int> code = PrepareSqlScan(*args, cmd, err, &options, &cluster)) {
        return code;
      }
      return RunSqlScanCommand(cmd->get_name(), options, cluster, out, err);
    }
    if (args->name == "sql-kv") {
      SqlKvOptions options;
      SqlKvCluster cluster;
      if (std::optional<int> code = PrepareSqlKv(*args, cmd, err, &options, &cluster)) return code;
      return RunSqlKvCommand(cmd->get_name(), options, cluster, out, err);
    }
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
