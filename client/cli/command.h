// How a group of `rangedb` subcommands plugs into the command line (node/cli.cc).
//
// A group adds its subcommands and flags to the CLI11 app, and returns a runner. After
// parsing, RunCli calls every group's runner in turn: a runner returns the exit code
// if one of its subcommands was selected, or nullopt if not. Runners write only to the
// streams they were given, so tests see exactly what a user would.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <ostream>

namespace rangedb {

using CliRunner = std::function<std::optional<int>()>;

// `rangedb kv ...` (node/cli_kv.cc).
CliRunner AddKvCommands(CLI::App& app, std::ostream& out, std::ostream& err);
// `rangedb workload ...` (bench/workload_cli.cc).
CliRunner AddWorkloadCommands(CLI::App& app, std::ostream& out, std::ostream& err);
// `rangedb start`, `init`, `node ...` (node/cli_server.cc).
CliRunner AddServerCommands(CLI::App& app, std::ostream& out, std::ostream& err);

}  // namespace rangedb
