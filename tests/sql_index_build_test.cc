// An index build whose node is killed (docs/design/sql-index-build-resume.md), on a
// 3-node cluster of real rangedb processes: CREATE INDEX runs through node 0, node 0
// is killed with SIGKILL in the middle of the backfill, and another node's sweep
// takes the build over once the dead session's claim has run out and publishes an
// index that holds exactly the table's rows.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "client/sql_client.h"
#include "sql/index_build.h"
#include "tests/cluster_harness.h"
#include "tests/node_cluster_util.h"
#include "tests/sql_collect.h"

namespace rangedb {
namespace {

using harness::ClusterHarness;
using harness::ClusterOptions;
using testing_util::SqlCollect;
using testing_util::SqlText;

constexpr int kRows = 30'000;

std::unique_ptr<client::SqlConnection> Connect(const ClusterHarness& cluster, int node) {
  client::SqlConnectionOptions options;
  options.hosts = {cluster.address(node)};
  absl::StatusOr<std::unique_ptr<client::SqlConnection>> c =
      client::SqlConnection::Connect(options);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? std::move(*c) : nullptr;
}

// The statement's only value, or its error as text.
std::string One(client::SqlConnection& c, const std::string& sql) {
  SqlCollect out;
  absl::Status s = c.Execute(sql, {}, out);
  if (!s.ok()) return s.ToString();
  if (out.error) return absl::StrCat("ERROR ", out.error->sqlstate, ": ", out.error->message);
  if (out.rows.empty()) return "<none>";
  return SqlText(out.rows[0][0]);
}

TEST(SqlIndexBuildTest, ABuildWhoseNodeWasKilledIsFinishedByAnotherNodesSweep) {
  ClusterOptions options;
  options.num_nodes = 3;
  options.extra_flags = {"--sql-sweep-interval=2s"};
  absl::StatusOr<std::unique_ptr<ClusterHarness>> created = ClusterHarness::Create(options);
  ASSERT_TRUE(created.ok()) << created.status();
  ClusterHarness& cluster = **created;
  ASSERT_TRUE(cluster.StartCluster(absl::Seconds(60)).ok());

  std::unique_ptr<client::SqlConnection> builder = Connect(cluster, 0);
  std::unique_ptr<client::SqlConnection> watcher = Connect(cluster, 1);
  ASSERT_NE(builder, nullptr);
  ASSERT_NE(watcher, nullptr);
  ASSERT_EQ(One(*builder, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"), "<none>");
  for (int i = 0; i < kRows; i += 1000) {
    ASSERT_EQ(One(*builder, absl::StrCat("INSERT INTO t SELECT v + ", i, ", 'value ' || (v + ", i,
                                         ") FROM (WITH RECURSIVE r(v) AS (SELECT 0 UNION ALL "
                                         "SELECT v + 1 FROM r WHERE v < 999) SELECT v FROM r)")),
              "<none>");
  }

  // The CREATE INDEX, through node 0; its connection dies with the node.
  std::thread create([&] { (void)One(*builder, "CREATE INDEX t_v ON t (v)"); });
  const char* kState = "SELECT state FROM rangedb_indexes WHERE index_name = 't_v'";
  const bool building =
      testing_util::WaitFor([&] { return One(*watcher, kState) == "BACKFILL"; }, absl::Seconds(30));
  ASSERT_TRUE(building) << One(*watcher, kState);
  ASSERT_TRUE(cluster.Kill(0).ok());
  create.join();
  // Killed in the middle: the index still waits for its build (nobody builds until
  // the dead session's claim runs out). Reads may fail while leases move.
  std::string after_kill;
  ASSERT_TRUE(testing_util::WaitFor(
      [&] {
        after_kill = One(*watcher, kState);
        return after_kill == "BACKFILL" || after_kill == "PUBLIC";
      },
      absl::Seconds(20)))
      << after_kill;
  ASSERT_EQ(after_kill, "BACKFILL") << "the build ended before the kill: nothing to take over";

  // The claim (60 s after the last chunk) plus a sweep interval and some slack.
  const bool published = testing_util::WaitFor([&] { return One(*watcher, kState) == "PUBLIC"; },
                                               sql::kIndexBuildClaim + absl::Seconds(60));
  if (!published) cluster.DumpLogs(std::cerr);
  ASSERT_TRUE(published) << One(*watcher, kState);
  // Every row is in the index exactly once: a count through the index (a range on v)
  // matches one over the rows (+v hides the column from the planner).
  EXPECT_EQ(One(*watcher, "SELECT count(*) FROM t WHERE v >= ''"), absl::StrCat(kRows));
  EXPECT_EQ(One(*watcher, "SELECT count(*) FROM t WHERE +v >= ''"), absl::StrCat(kRows));
  EXPECT_EQ(One(*watcher, "SELECT id FROM t WHERE v = 'value 29999'"), "29999");
  EXPECT_EQ(One(*watcher, "SELECT count(*) FROM rangedb_indexes WHERE index_name = 't_v'"), "1");
  // The killed node comes back to a published index.
  ASSERT_TRUE(cluster.Start(0).ok());
  ASSERT_TRUE(cluster.WaitReady(0, absl::Seconds(30)).ok());
  std::unique_ptr<client::SqlConnection> back = Connect(cluster, 0);
  ASSERT_NE(back, nullptr);
  EXPECT_EQ(One(*back, "SELECT id FROM t WHERE v = 'value 12345'"), "12345");
}

}  // namespace
}  // namespace rangedb
