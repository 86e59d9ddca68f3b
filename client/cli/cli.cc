#include "node/cli.h"

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "node/cli_command.h"
#include "node/version.h"

namespace rangedb {
namespace {

constexpr char kDescription[] =
    "rangedb: a distributed SQL database. One ordered key space, cut into ranges,\n"
    "each replicated by its own Raft group.";

void PrintVersion(std::ostream& out) {
  out << "rangedb " << kVersion << " (" << kBuildType << " build, C++" << (__cplusplus / 100 % 100)
      << ")\n";
}

// Turns CLI11's parse errors into one clear line and the usage exit code.
int ReportParseError(const CLI::ParseError& e, const CLI::App& app, std::ostream& out,
                     std::ostream& err) {
  if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
    // --help / help: CLI11 signals these as "errors" that carry success.
    out << app.help();
    return kExitOk;
  }
  err << "rangedb: " << e.what() << "\n";
  err << "Run 'rangedb help' for the list of commands and flags.\n";
  return kExitUsage;
}

bool IsSubcommand(const CLI::App& app, const std::string& name) {
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->check_name(name)) return true;
  }
  return false;
}

}  // namespace

int RunCli(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  CLI::App app{kDescription, "rangedb"};
  app.require_subcommand(0, 1);
  app.set_help_all_flag("--help-all", "Print help for every command");

  CLI::App* version = app.add_subcommand("version", "Print the version of this binary");
  CLI::App* help = app.add_subcommand("help", "Print the commands and flags");
  help->allow_extras(false);
  std::vector<CliRunner> runners = {
      AddServerCommands(app, out, err),
      AddKvCommands(app, out, err),
      AddWorkloadCommands(app, out, err),
  };

  // The top-level usage, captured before parsing: once a subcommand is selected,
  // CLI11's help() describes that subcommand only.
  const std::string usage = app.help();

  if (argc > 1 && argv[1][0] != '-' && !IsSubcommand(app, argv[1])) {
    err << "rangedb: unknown command \"" << argv[1] << "\"\n";
    err << "Run 'rangedb help' for the list of commands.\n";
    return kExitUsage;
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return ReportParseError(e, app, out, err);
  }

  if (version->parsed()) {
    PrintVersion(out);
    return kExitOk;
  }
  for (const CliRunner& run : runners) {
    if (std::optional<int> code = run(); code.has_value()) return *code;
  }
  // No subcommand and `help` both print the usage; no subcommand is not an error
  // for a person exploring the binary, but scripts get a non-zero status.
  out << usage;
  return help->parsed() ? kExitOk : kExitUsage;
}

}  // namespace rangedb
