// The command line as a whole: parsing, errors, `rangedb --help`, and the help of
// every registered subcommand (client/cli/command.h).
#include "client/cli/cli.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/cli/testing/cli_runner.h"

namespace rangedb {
namespace {

// Every subcommand path of the tree RunCli parses with ("kv put", ...).
std::vector<std::string> RegisteredPaths() {
  std::ostringstream out, err;
  CliTree tree = BuildCliTree(out, err);
  return CliCommandPaths(*tree.app);
}

// Whether usage has the line of path: two spaces, the path, spaces, a summary.
bool ListsCommand(const std::string& usage, const std::string& path) {
  for (absl::string_view line : absl::StrSplit(usage, '\n')) {
    if (!absl::ConsumePrefix(&line, "  ") || !absl::ConsumePrefix(&line, path)) continue;
    if (absl::StartsWith(line, "  ") && line.find_first_not_of(' ') != absl::string_view::npos) {
      return true;
    }
  }
  return false;
}

TEST(CliTest, VersionPrintsVersion) {
  CliResult r = RunRangedb({"version"});
  EXPECT_EQ(r.exit_code, kExitOk);
  EXPECT_NE(r.out.find("rangedb 0."), std::string::npos) << r.out;
  EXPECT_TRUE(r.err.empty());
}

TEST(CliTest, HelpListsCommands) {
  CliResult r = RunRangedb({"help"});
  EXPECT_EQ(r.exit_code, kExitOk);
  EXPECT_NE(r.out.find("version"), std::string::npos) << r.out;
}

// The groups this binary is built with: a group whose registration the linker
// dropped would be missing from the registry, and so from every test below.
TEST(CliTest, EveryGroupIsRegistered) {
  const std::vector<std::string> paths = RegisteredPaths();
  const std::set<std::string> registered(paths.begin(), paths.end());
  for (const char* path : {"start", "init", "node status", "kv put", "kv txn", "sql",
                           "workload run", "help", "version"}) {
    EXPECT_TRUE(registered.count(path)) << path;
  }
}

// `rangedb --help` has one line for every subcommand at every depth, with its summary.
TEST(CliTest, HelpFlagListsEverySubcommandOnOneLine) {
  CliResult r = RunRangedb({"--help"});
  ASSERT_EQ(r.exit_code, kExitOk);
  for (const std::string& path : RegisteredPaths()) {
    EXPECT_TRUE(ListsCommand(r.out, path)) << "no line for `" << path << "` in\n" << r.out;
  }
  EXPECT_NE(r.out.find("--host=ADDR[,ADDR...] (default 127.0.0.1:26257)"), std::string::npos)
      << r.out;
}

// Every subcommand's --help ends with an example of a whole command line. A new
// subcommand added without AddCommand (and so without an example) fails here.
TEST(CliTest, EverySubcommandsHelpHasAnExample) {
  for (const std::string& path : RegisteredPaths()) {
    std::vector<std::string> args = absl::StrSplit(path, ' ');
    args.push_back("--help");
    CliResult r = RunRangedb(args);
    EXPECT_EQ(r.exit_code, kExitOk) << path << ": " << r.err;
    const size_t example = r.out.find("Example:\n  ");
    EXPECT_NE(example, std::string::npos) << "`rangedb " << path << " --help` has no example:\n"
                                          << r.out;
    if (example == std::string::npos) continue;
    EXPECT_NE(r.out.find("rangedb " + path, example), std::string::npos)
        << "the example of `" << path << "` does not run it:\n"
        << r.out.substr(example);
  }
}

// The binary itself (build/bin/rangedb) lists every command this test's registry
// has: its link kept every group.
TEST(CliTest, TheBinaryListsEveryRegisteredCommand) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(RANGEDB_BINARY " --help", "r"), pclose);
  ASSERT_NE(pipe, nullptr);
  std::string usage;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe.get())) usage.append(buffer, n);
  EXPECT_EQ(pclose(pipe.release()), 0);
  for (const std::string& path : RegisteredPaths()) {
    EXPECT_TRUE(ListsCommand(usage, path)) << "`" << path << "` missing from\n" << usage;
  }
}

TEST(CliTest, UnknownCommandIsAUsageError) {
  CliResult r = RunRangedb({"frobnicate"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_NE(r.err.find("frobnicate"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("rangedb help"), std::string::npos) << r.err;
}

TEST(CliTest, UnknownFlagIsAUsageError) {
  CliResult r = RunRangedb({"version", "--bogus"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_NE(r.err.find("--bogus"), std::string::npos) << r.err;
  r = RunRangedb({"kv", "put", "--bogus", "k", "v"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_NE(r.err.find("--bogus"), std::string::npos) << r.err;
}

// A missing argument or flag value is one line naming it, and exit code 2.
TEST(CliTest, MissingArgumentIsAUsageError) {
  CliResult r = RunRangedb({"kv", "get"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_NE(r.err.find("KEY is required"), std::string::npos) << r.err;
  r = RunRangedb({"kv", "get", "k", "--host"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_NE(r.err.find("--host"), std::string::npos) << r.err;
  r = RunRangedb({"node"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_NE(r.err.find("subcommand"), std::string::npos) << r.err;
}

// The connection flags are parsed the same way by every client command.
TEST(CliTest, ConnectionFlagsAreCheckedByEveryClientCommand) {
  for (std::vector<std::string> command :
       std::vector<std::vector<std::string>>{{"kv", "get", "k"},
                                             {"kv", "txn"},
                                             {"init"},
                                             {"node", "status"},
                                             {"sql", "-e", "SELECT 1"},
                                             {"workload", "check", "kv"}}) {
    std::vector<std::string> bad_host = command;
    bad_host.push_back("--host=nohostport");
    CliResult r = RunRangedb(bad_host);
    EXPECT_EQ(r.exit_code, kExitUsage) << command[0];
    EXPECT_NE(r.err.find("--host: malformed host \"nohostport\""), std::string::npos) << r.err;
    std::vector<std::string> bad_timeout = command;
    bad_timeout.push_back("--timeout=soon");
    r = RunRangedb(bad_timeout);
    EXPECT_EQ(r.exit_code, kExitUsage) << command[0];
    EXPECT_NE(r.err.find("--timeout \"soon\" is not a positive duration"), std::string::npos)
        << r.err;
  }
}

TEST(CliTest, NoCommandPrintsUsageAndFails) {
  CliResult r = RunRangedb({});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_NE(r.out.find("version"), std::string::npos);
}

}  // namespace
}  // namespace rangedb
