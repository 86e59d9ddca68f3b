// Runs the `rangedb` command line in-process, for tests: what a user would see.
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include "client/cli/cli.h"

namespace rangedb {

struct CliResult {
  int exit_code;
  std::string out;
  std::string err;
};

// Runs `rangedb ARGS...` (args without the program name).
inline CliResult RunRangedb(std::vector<std::string> args) {
  args.insert(args.begin(), "rangedb");
  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  std::ostringstream out, err;
  const int code = RunCli(static_cast<int>(argv.size()), argv.data(), out, err);
  return {code, out.str(), err.str()};
}

}  // namespace rangedb
