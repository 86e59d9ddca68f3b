// How a group of `rangedb` subcommands plugs into the command line (client/cli/cli.cc).
//
// A group — `kv`, `init`, `node`, `start`, `workload` — registers itself, in its own
// .cc file, with RANGEDB_CLI_GROUP; nothing lists the groups. RunCli builds the
// command tree from every registered group: each adds its subcommands and flags to
// the CLI11 app and returns a runner. After parsing, RunCli calls the runners in turn:
// a runner returns the exit code if one of its subcommands was selected, nullopt if
// not. Runners write only to the streams they were given, so tests see exactly what
// a user would.
//
// Every subcommand, at every depth, is added with AddCommand: a one-line summary (its
// line in `rangedb --help`) and an example (the end of its own --help). cli_test walks
// the tree of every registered group and fails on a subcommand without an example.
// Client commands take their connection flags from connection_flags.h.
//
// Linking: a group's .cc is built into an object library (rangedb_cli_group in
// cmake/rangedb.cmake), never a static archive, from which the linker would drop the
// file — and so its registration — because nothing calls into it.
//
// Thread safety: groups register during static initialization; RunCli reads the
// registry afterwards, from one thread.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace rangedb {

// Exit codes of the rangedb binary.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the command ran and failed
inline constexpr int kExitUsage = 2;    // unknown command or flag, bad arguments

using CliRunner = std::function<std::optional<int>()>;

// Adds a group's commands to app; the runner may use out and err for as long as it
// lives.
using CliGroupAdder = CliRunner (*)(CLI::App& app, std::ostream& out, std::ostream& err);

struct CliGroup {
  std::string name;  // the group's top-level command, for messages
  CliGroupAdder add;
};

// Adds a group to the registry. Returns true, for RANGEDB_CLI_GROUP's static.
// REQUIRES: no group of that name is registered yet.
bool RegisterCliGroup(const char* name, CliGroupAdder add);

// Every registered group, ordered by name.
std::vector<CliGroup> RegisteredCliGroups();

// Registers the group NAME, whose commands ADD adds, when the program starts. At
// namespace scope in the group's .cc file, one line per group.
#define RANGEDB_CLI_GROUP(name, add)                                                    \
  [[maybe_unused]] static const bool RANGEDB_CLI_CONCAT(rangedb_cli_group_, __LINE__) = \
      ::rangedb::RegisterCliGroup(name, add)
#define RANGEDB_CLI_CONCAT(a, b) RANGEDB_CLI_CONCAT_INNER(a, b)
#define RANGEDB_CLI_CONCAT_INNER(a, b) a##b

// Adds subcommand `name` to parent. summary: one line (at most kMaxSummaryChars, no
// newline), shown in `rangedb --help` and in the parent's list. example: one or more
// command lines a user can type (shown under "Example:" at the end of the
// subcommand's --help). details: optional paragraphs shown before the example.
inline constexpr size_t kMaxSummaryChars = 76;
CLI::App* AddCommand(CLI::App* parent, const std::string& name, const std::string& summary,
                     const std::string& example, const std::string& details = "");

}  // namespace rangedb
