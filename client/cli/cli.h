// The `rangedb` command line: the command tree of every registered group
// (client/cli/command.h), parsing and dispatch.
//
// RunCli is the whole program behind main(); it writes to the given streams instead
// of std::cout / std::cerr so tests can check what a user would see.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "client/cli/command.h"

namespace rangedb {

// The top-level app with every registered group's commands and the built-in `help`
// and `version`, and the groups' runners.
struct CliTree {
  std::unique_ptr<CLI::App> app;
  std::vector<CliRunner> runners;
  CLI::App* help = nullptr;
  CLI::App* version = nullptr;
};

// Builds the tree; the runners write to out and err, which must outlive it.
CliTree BuildCliTree(std::ostream& out, std::ostream& err);

// Every subcommand of app at every depth, as the words a user types after `rangedb`
// ("kv put"), each parent before its children: the lines of `rangedb --help`.
std::vector<std::string> CliCommandPaths(const CLI::App& app);

// What `rangedb --help` prints: what rangedb is, every subcommand with its one-line
// summary, and the connection flags the client commands share.
std::string CliUsage(const CLI::App& app);

// Parses argv (argv[0] is the program name) and runs the chosen subcommand.
// Returns the process exit code (kExitOk, kExitFailure, kExitUsage, or a command's
// own). Never throws.
int RunCli(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace rangedb
