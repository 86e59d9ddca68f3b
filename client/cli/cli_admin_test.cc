// `rangedb init` and `rangedb node status` without a cluster. A node that refuses an
// init is tested in tests/cli_init_test.cc (it needs node/).
#include <gtest/gtest.h>

#include <string>

#include "client/cli/testing/cli_runner.h"

namespace rangedb {
namespace {

TEST(CliAdminTest, InitAndStatusReportAnUnreachableHost) {
  CliResult r = RunRangedb({"init", "--host=127.0.0.1:1"});
  EXPECT_EQ(r.exit_code, kExitFailure);
  EXPECT_NE(r.err.find("cannot reach 127.0.0.1:1"), std::string::npos) << r.err;
  r = RunRangedb({"node", "status", "--host=127.0.0.1:1"});
  EXPECT_EQ(r.exit_code, kExitFailure);
  EXPECT_NE(r.err.find("no host answered"), std::string::npos) << r.err;
}

// init runs on one node, which finds the others; a list would make the choice of
// node (node 1, whose --join list counts) silent.
TEST(CliAdminTest, InitTakesOneHost) {
  CliResult r = RunRangedb({"init", "--host=127.0.0.1:1,127.0.0.1:2"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_NE(r.err.find("give one --host"), std::string::npos) << r.err;
}

TEST(CliAdminTest, InitWaitsLongerByDefault) {
  CliResult r = RunRangedb({"init", "--help"});
  EXPECT_EQ(r.exit_code, kExitOk);
  EXPECT_NE(r.out.find("30s"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace rangedb
