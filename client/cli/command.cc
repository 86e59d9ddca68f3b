// The registry of command groups, and AddCommand (client/cli/command.h).
#include "client/cli/command.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/check.h"

namespace rangedb {
namespace {

// Built on first use, so registrations from any file's static initializers find it.
std::vector<CliGroup>& Registry() {
  static auto* groups = new std::vector<CliGroup>();
  return *groups;
}

}  // namespace

bool RegisterCliGroup(const char* name, CliGroupAdder add) {
  for (const CliGroup& group : Registry()) {
    RANGEDB_CHECK(group.name != name) << "two `rangedb` command groups named " << name;
  }
  Registry().push_back({name, add});
  return true;
}

std::vector<CliGroup> RegisteredCliGroups() {
  std::vector<CliGroup> groups = Registry();
  std::sort(groups.begin(), groups.end(),
            [](const CliGroup& a, const CliGroup& b) { return a.name < b.name; });
  return groups;
}

CLI::App* AddCommand(CLI::App* parent, const std::string& name, const std::string& summary,
                     const std::string& example, const std::string& details) {
  RANGEDB_CHECK(!summary.empty() && summary.size() <= kMaxSummaryChars &&
                !absl::StrContains(summary, '\n'))
      << "`" << name << "`: the summary must be one line of at most " << kMaxSummaryChars
      << " characters: " << summary;
  RANGEDB_CHECK(!example.empty()) << "`" << name << "` needs an example";
  CLI::App* command = parent->add_subcommand(name, summary);
  std::string footer = details.empty() ? "" : absl::StrCat(details, "\n\n");
  absl::StrAppend(&footer, "Example:\n");
  for (absl::string_view line : absl::StrSplit(example, '\n')) {
    absl::StrAppend(&footer, "  ", line, "\n");
  }
  command->footer(footer);
  return command;
}

}  // namespace rangedb
