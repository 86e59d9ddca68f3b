// Placeholder until this command group is built: registers nothing.
#include "node/cli_command.h"

namespace rangedb {

CliRunner AddWorkloadCommands(CLI::App& app, std::ostream& out, std::ostream& err) {
  return []() -> std::optional<int> { return std::nullopt; };
}

}  // namespace rangedb
