// `rangedb start`'s flags. Running a node is tested in tests/ (cluster_harness).
#include <gtest/gtest.h>

#include <string>

#include "client/cli/testing/cli_runner.h"

namespace rangedb {
namespace {

TEST(CliStartTest, StartRequiresAStore) {
  CliResult r = RunRangedb({"start"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_NE(r.err.find("--store is required"), std::string::npos) << r.err;
}

TEST(CliStartTest, StartRejectsMalformedFlagValues) {
  CliResult r = RunRangedb({"start", "--store=mem", "--max-offset=banana"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_NE(r.err.find("--max-offset"), std::string::npos) << r.err;
  r = RunRangedb({"start", "--store=mem", "--cache-size=lots"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_NE(r.err.find("--cache-size"), std::string::npos) << r.err;
  r = RunRangedb({"start", "--store=mem", "--raft-tick-interval=1ms"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_NE(r.err.find("at least 10ms"), std::string::npos) << r.err;
  for (const char* bad : {"--sql-sweep-interval=soon", "--sql-sweep-interval=10ms"}) {
    r = RunRangedb({"start", "--store=mem", bad});
    EXPECT_EQ(r.exit_code, kExitUsage) << bad;
    EXPECT_NE(r.err.find("--sql-sweep-interval"), std::string::npos) << r.err;
  }
}

// The defaults shown are NodeOptions' own (node/node.h), not a copy.
TEST(CliStartTest, StartHelpExplainsTheFlags) {
  CliResult r = RunRangedb({"start", "--help"});
  EXPECT_EQ(r.exit_code, kExitOk);
  for (const char* flag : {"--store", "--listen-addr", "--http-addr", "--join", "--max-offset",
                           "--raft-tick-interval", "--cache-size", "--sql-sweep-interval"}) {
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
  }
  for (const char* default_value :
       {"127.0.0.1:26257", "127.0.0.1:8080", "500ms", "100ms", "128MiB", "5m"}) {
    EXPECT_NE(r.out.find(default_value), std::string::npos) << default_value << "\n" << r.out;
  }
}

}  // namespace
}  // namespace rangedb
