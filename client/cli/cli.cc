// The `rangedb` command line (client/cli/cli.h).
#include "client/cli/cli.h"

#include <algorithm>
#include <functional>

#include "absl/strings/str_cat.h"
#include "base/default_address.h"
#include "client/cli/version.h"

namespace rangedb {
namespace {

constexpr char kDescription[] =
    "rangedb: a distributed SQL database. One ordered key space, cut into ranges,\n"
    "each replicated by its own Raft group.";

void PrintVersion(std::ostream& out) {
  out << "rangedb " << kVersion << " (" << kBuildType << " build, C++" << (__cplusplus / 100 % 100)
      << ")\n";
}

// The subcommands of app, in the order they were added.
std::vector<const CLI::App*> Subcommands(const CLI::App& app) {
  return app.get_subcommands([](const CLI::App*) { return true; });
}

// Turns CLI11's parse errors into one clear line and the usage exit code.
int ReportParseError(const CLI::ParseError& e, const CLI::App& app, std::ostream& out,
                     std::ostream& err) {
  if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
    // --help / --help-all: CLI11 signals these as "errors" that carry success. Once a
    // subcommand is selected, app.help() describes that subcommand.
    if (dynamic_cast<const CLI::CallForAllHelp*>(&e) != nullptr) {
      out << app.help("", CLI::AppFormatMode::All);
    } else if (app.get_subcommands().empty()) {
      out << CliUsage(app);
    } else {
      out << app.help();
    }
    return kExitOk;
  }
  err << "rangedb: " << e.what() << "\n";
  err << "Run 'rangedb help' for the list of commands and flags.\n";
  return kExitUsage;
}

bool IsSubcommand(const CLI::App& app, const std::string& name) {
  for (const CLI::App* sub : Subcommands(app)) {
    if (sub->check_name(name)) return true;
  }
  return false;
}

}  // namespace

CliTree BuildCliTree(std::ostream& out, std::ostream& err) {
  CliTree tree;
  tree.app = std::make_unique<CLI::App>(kDescription, "rangedb");
  CLI::App& app = *tree.app;
  app.require_subcommand(0, 1);
  app.set_help_all_flag("--help-all", "Print help for every command");
  for (const CliGroup& group : RegisteredCliGroups()) {
    tree.runners.push_back(group.add(app, out, err));
  }
  tree.help = AddCommand(&app, "help", "Print the commands and flags", "rangedb help");
  tree.version = AddCommand(&app, "version", "Print the version of this binary", "rangedb version");
  return tree;
}

std::vector<std::string> CliCommandPaths(const CLI::App& app) {
  std::vector<std::string> paths;
  std::function<void(const CLI::App&, const std::string&)> walk = [&](const CLI::App& parent,
                                                                      const std::string& prefix) {
    for (const CLI::App* sub : Subcommands(parent)) {
      const std::string path = absl::StrCat(prefix, prefix.empty() ? "" : " ", sub->get_name());
      paths.push_back(path);
      walk(*sub, path);
    }
  };
  walk(app, "");
  return paths;
}

std::string CliUsage(const CLI::App& app) {
  std::vector<std::pair<std::string, std::string>> lines;  // path, summary
  size_t width = 0;
  std::function<void(const CLI::App&, const std::string&)> walk = [&](const CLI::App& parent,
                                                                      const std::string& prefix) {
    for (const CLI::App* sub : Subcommands(parent)) {
      const std::string path = absl::StrCat(prefix, prefix.empty() ? "" : " ", sub->get_name());
      lines.emplace_back(path, sub->get_description());
      width = std::max(width, path.size());
      walk(*sub, path);
    }
  };
  walk(app, "");
  std::string usage =
      absl::StrCat(kDescription, "\n\nUsage: rangedb COMMAND [FLAGS] [ARGS]\n\n", "Commands:\n");
  for (const auto& [path, summary] : lines) {
    absl::StrAppend(&usage, "  ", path, std::string(width + 2 - path.size(), ' '), summary, "\n");
  }
  absl::StrAppend(&usage,
                  "\nEvery command that talks to a cluster takes --host=ADDR[,ADDR...] (default ",
                  kDefaultNodeAddress,
                  ")\nand --timeout=DURATION.\n"
                  "'rangedb COMMAND --help' shows a command's flags and an example; "
                  "'rangedb --help-all'\nshows every command's.\n");
  return usage;
}

int RunCli(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  CliTree tree = BuildCliTree(out, err);
  CLI::App& app = *tree.app;
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

  if (tree.version->parsed()) {
    PrintVersion(out);
    return kExitOk;
  }
  for (const CliRunner& run : tree.runners) {
    if (std::optional<int> code = run(); code.has_value()) return *code;
  }
  // No subcommand and `help` both print the usage; no subcommand is not an error
  // for a person exploring the binary, but scripts get a non-zero status.
  out << CliUsage(app);
  return tree.help->parsed() ? kExitOk : kExitUsage;
}

}  // namespace rangedb
