// `rangedb init` against a real node in this process: what the command prints when
// the node refuses (a cross-layer test: client/cli/ may not include node/).
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "client/cli/testing/cli_runner.h"
#include "node/node.h"
#include "node/testing/free_port.h"

namespace rangedb {
namespace {

// A node that answers but refuses the init (here: none of its --join peers answers,
// so it has no majority) must be reported with its reason, not as unreachable: the
// operator would look for a network problem on the wrong host.
TEST(CliInitTest, InitPrintsTheNodesRefusalNotCannotReach) {
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
