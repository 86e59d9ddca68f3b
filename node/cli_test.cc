#include "node/cli.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace rangedb {
namespace {

struct CliResult {
  int exit_code;
  std::string out;
  std::string err;
};

CliResult RunRangedb(std::vector<const char*> args) {
  args.insert(args.begin(), "rangedb");
  std::ostringstream out, err;
  int code = RunCli(static_cast<int>(args.size()), args.data(), out, err);
  return {code, out.str(), err.str()};
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

TEST(CliTest, HelpFlagListsCommands) {
  CliResult r = RunRangedb({"--help"});
  EXPECT_EQ(r.exit_code, kExitOk);
  EXPECT_NE(r.out.find("version"), std::string::npos) << r.out;
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
}

TEST(CliTest, NoCommandPrintsUsageAndFails) {
  CliResult r = RunRangedb({});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_NE(r.out.find("version"), std::string::npos);
}

}  // namespace
}  // namespace rangedb
