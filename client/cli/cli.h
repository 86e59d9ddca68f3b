// The `rangedb` command line: subcommand parsing and dispatch.
//
// RunCli is the whole program behind main(); it writes to the given streams instead
// of std::cout / std::cerr so tests can check what a user would see.
#pragma once

#include <ostream>

namespace rangedb {

// Exit codes of the rangedb binary.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the command ran and failed
inline constexpr int kExitUsage = 2;    // unknown command or flag, bad arguments

// Parses argv (argv[0] is the program name) and runs the chosen subcommand.
// Returns the process exit code. Never throws.
int RunCli(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace rangedb
