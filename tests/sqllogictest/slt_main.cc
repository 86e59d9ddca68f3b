// sqllogictest: runs sqllogictest scripts against a SQL backend (docs/sqllogictest.md).
//
//   sqllogictest [--engine-name=sqlite] [--stop-on-failure] [--verbose]
//                [--backend=sqlite] [--hash-threshold=N] FILE...
//
// Every FILE runs on a fresh database from the backend. Per file, stdout gets its
// failures, then one summary line, "FILE: P passed, F failed, S skipped"; with more
// than one file, a "total:" line ends the output. Exit status: 0 if nothing failed,
// 1 if a record failed or a file could not be parsed, 2 on a usage or backend error.
//
// Backends are chosen by name from kBackends below: to add one, write a function that
// opens a connection to an empty database and add a row (and, if it needs them, its
// flags to BackendFlags).
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "tests/sqllogictest/rangedb_connection.h"
#include "tests/sqllogictest/slt_connection.h"
#include "tests/sqllogictest/slt_parser.h"
#include "tests/sqllogictest/slt_runner.h"
#include "tests/sqllogictest/sqlite_connection.h"

namespace rangedb::slt {
namespace {

// Command-line settings a backend may need.
struct BackendFlags {
  std::vector<std::string> hosts;  // --host, for rangedb
};

// One backend --backend can name.
struct Backend {
  std::string description;
  // Opens a connection to a new, empty database; called once per script.
  std::function<absl::StatusOr<std::unique_ptr<SltConnection>>(const BackendFlags&)> open;
};

const std::map<std::string, Backend>& Backends() {
  static const auto* backends = new std::map<std::string, Backend>{
      {"sqlite",
       {"a private in-memory SQLite database (the reference engine)",
        [](const BackendFlags&) -> absl::StatusOr<std::unique_ptr<SltConnection>> {
          absl::StatusOr<std::unique_ptr<SqliteConnection>> connection = SqliteConnection::Open();
          if (!connection.ok()) return connection.status();
          return std::unique_ptr<SltConnection>(std::move(*connection));
        }}},
      {"rangedb",
       {"a rangedb cluster (--host): every script starts with every table and view dropped",
        [](const BackendFlags& flags) -> absl::StatusOr<std::unique_ptr<SltConnection>> {
          if (flags.hosts.empty())
            return absl::InvalidArgumentError("--backend=rangedb needs --host");
          absl::StatusOr<std::unique_ptr<RangedbConnection>> connection =
              RangedbConnection::Open(flags.hosts);
          if (!connection.ok()) return connection.status();
          return std::unique_ptr<SltConnection>(std::move(*connection));
        }}},
  };
  return *backends;
}

struct Flags {
  std::string engine_name = "sqlite";
  bool stop_on_failure = false;
  bool verbose = false;
  std::string backend = "sqlite";
  int64_t hash_threshold = -1;
  std::vector<std::string> files;
};

std::string Counts(int64_t passed, int64_t failed, int64_t skipped) {
  return absl::StrCat(passed, " passed, ", failed, " failed, ", skipped, " skipped");
}

// Prints the failures of one file; verbose adds the SQL and expected/actual values.
void PrintFailures(const RunResult& result, bool verbose) {
  for (const Failure& failure : result.failures) {
    if (verbose) {
      std::cout << failure.ToString() << "\n";
    } else {
      std::cout << failure.file << ":" << failure.line << ": " << failure.message << "\n";
    }
  }
  const int64_t unreported = result.failed - static_cast<int64_t>(result.failures.size());
  if (unreported > 0) std::cout << "... and " << unreported << " more failures\n";
}

int Main(int argc, char** argv) {
  CLI::App app{"Runs sqllogictest scripts against a SQL backend", "sqllogictest"};
  Flags flags;
  std::vector<std::string> backend_names;
  for (const auto& [name, backend] : Backends()) backend_names.push_back(name);
  app.add_option("--engine-name", flags.engine_name, "Engine name that skipif/onlyif match")
      ->capture_default_str();
  app.add_flag("--stop-on-failure", flags.stop_on_failure,
               "Stop at the first failing record (and file)");
  app.add_flag("--verbose", flags.verbose, "Show SQL and expected/actual values of failures");
  app.add_option("--backend", flags.backend, "Database to run against")
      ->check(CLI::IsMember(backend_names))
      ->capture_default_str();
  app.add_option("--hash-threshold", flags.hash_threshold,
                 "Override the scripts' hash-threshold (-1: follow the scripts)")
      ->capture_default_str();
  std::string hosts;
  app.add_option("--host", hosts,
                 "With --backend=rangedb: node addresses, comma-separated (host:port,...)");
  app.add_option("files", flags.files, "Script files (.test)")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);  // prints the error or --help
    return rc == 0 ? 0 : 2;
  }

  const Backend& backend = Backends().at(flags.backend);
  RunOptions options;
  options.engine_name = flags.engine_name;
  options.stop_on_first_failure = flags.stop_on_failure;
  options.hash_threshold_override = flags.hash_threshold;

  int64_t passed = 0, failed = 0, skipped = 0, files_run = 0;
  bool any_failure = false;
  for (const std::string& file : flags.files) {
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<Script> script = ParseScriptFile(file);
    if (!script.ok()) {
      std::cout << script.status().message() << "\n" << file << ": not run (parse error)\n";
      any_failure = true;
      if (flags.stop_on_failure) break;
      continue;
    }
    BackendFlags backend_flags;
    if (!hosts.empty()) backend_flags.hosts = absl::StrSplit(hosts, ',', absl::SkipEmpty());
    absl::StatusOr<std::unique_ptr<SltConnection>> connection = backend.open(backend_flags);
    if (!connection.ok()) {
      std::cerr << "sqllogictest: backend " << flags.backend << ": " << connection.status() << "\n";
      return 2;
    }
    const RunResult result = RunScript(*script, connection->get(), options);
    ++files_run;
    PrintFailures(result, flags.verbose);
    std::string summary =
        absl::StrCat(file, ": ", Counts(result.passed, result.failed, result.skipped));
    if (result.halted) absl::StrAppend(&summary, " (halt at line ", result.halt_line, ")");
    if (result.stopped_at_failure) absl::StrAppend(&summary, " (stopped at first failure)");
    if (flags.verbose) {
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      absl::StrAppend(&summary, " in ", absl::StrFormat("%.2f", seconds), " s");
    }
    std::cout << summary << "\n" << std::flush;
    passed += result.passed;
    failed += result.failed;
    skipped += result.skipped;
    if (result.failed > 0) any_failure = true;
    if (result.failed > 0 && flags.stop_on_failure) break;
  }
  if (flags.files.size() > 1) {
    std::cout << "total: " << Counts(passed, failed, skipped) << " in " << files_run << " of "
              << flags.files.size() << " files\n";
  }
  return any_failure ? 1 : 0;
}

}  // namespace
}  // namespace rangedb::slt

int main(int argc, char** argv) { return rangedb::slt::Main(argc, argv); }
