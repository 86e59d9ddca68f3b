#include "node/cli.h"

#include <gtest/gtest.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "node/node.h"
#include "node/testing/cli_runner.h"
#include "node/testing/free_port.h"

namespace rangedb {
namespace {

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

TEST(CliServerTest, StartRequiresAStore) {
  CliResult r = RunRangedb({"start"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_NE(r.err.find("--store is required"), std::string::npos) << r.err;
}

TEST(CliServerTest, StartRejectsMalformedFlagValues) {
  CliResult r = RunRangedb({"start", "--store=mem", "--max-offset=banana"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_NE(r.err.find("--max-offset"), std::string::npos) << r.err;
  r = RunRangedb({"start", "--store=mem", "--cache-size=lots"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_NE(r.err.find("--cache-size"), std::string::npos) << r.err;
  r = RunRangedb({"start", "--store=mem", "--raft-tick-interval=1ms"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_NE(r.err.find("at least 10ms"), std::string::npos) << r.err;
}

TEST(CliServerTest, StartHelpExplainsTheFlags) {
  CliResult r = RunRangedb({"start", "--help"});
  EXPECT_EQ(r.exit_code, kExitOk);
  for (const char* flag : {"--store", "--listen-addr", "--http-addr", "--join", "--max-offset",
                           "--raft-tick-interval", "--cache-size"}) {
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
  }
}

TEST(CliServerTest, InitAndStatusReportAnUnreachableHost) {
  CliResult r = RunRangedb({"init", "--host=127.0.0.1:1"});
  EXPECT_EQ(r.exit_code, kExitFailure);
  EXPECT_NE(r.err.find("cannot reach 127.0.0.1:1"), std::string::npos) << r.err;
  r = RunRangedb({"node", "status", "--host=127.0.0.1:1"});
  EXPECT_EQ(r.exit_code, kExitFailure);
  EXPECT_NE(r.err.find("no host answered"), std::string::npos) << r.err;
}

// A node that answers but refuses the init (here: none of its --join peers answers,
// so it has no majority) must be reported with its reason, not as unreachable: the
// operator would look for a network problem on the wrong host.
TEST(CliServerTest, InitPrintsTheNodesRefusalNotCannotReach) {
  const int port = FreePort();
  ASSERT_NE(port, 0);
  NodeOptions o;
  o.store = "mem";
  o.listen_addr = absl::StrCat("127.0.0.1:", port);
  o.join = {"127.0.0.1:1"};  // nothing listens there
  o.http_addr = "127.0.0.1:0";
  o.cache_bytes = size_t{8} << 20;
  absl::StatusOr<std::unique_ptr<Node>> node = Node::Start(o);
  ASSERT_TRUE(node.ok()) << node.status();
  CliResult r = RunRangedb({"init", absl::StrCat("--host=", o.listen_addr)});
  EXPECT_EQ(r.exit_code, kExitFailure);
  EXPECT_EQ(r.err.find("cannot reach"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("a cluster needs a majority"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no answer from 127.0.0.1:1"), std::string::npos) << r.err;
  EXPECT_EQ((*node)->cluster_id(), "");
}

}  // namespace
}  // namespace rangedb
