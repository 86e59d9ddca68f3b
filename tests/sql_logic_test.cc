// SQL logic tests against a 3-node cluster of real rangedb processes
// (docs/sqllogictest.md): rangedb's own scripts (tests/sqllogictest/rangedb/) and a
// sample of SQLite's corpus (../shared/sqllogictest) in CI; the whole corpus under
// the `slow` label (SqlCorpusTest.Everything, RANGEDB_SLT_FULL=1).
//
// Every script runs in one SQL session, opened on a node chosen round-robin, after
// every table and view of the previous script was dropped.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "tests/cluster_harness.h"
#include "tests/sqllogictest/rangedb_connection.h"
#include "tests/sqllogictest/slt_parser.h"
#include "tests/sqllogictest/slt_runner.h"

namespace rangedb {
namespace {

using harness::ClusterHarness;
using harness::ClusterOptions;

class SqlLogicTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ClusterOptions options;
    options.num_nodes = 3;
    absl::StatusOr<std::unique_ptr<ClusterHarness>> c = ClusterHarness::Create(options);
    ASSERT_TRUE(c.ok()) << c.status();
    cluster_ = c->release();
    ASSERT_TRUE(cluster_->StartCluster(absl::Seconds(60)).ok());
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }

  // Runs one script; returns its result (failures printed).
  slt::RunResult Run(const std::string& path) {
    absl::StatusOr<slt::Script> script = slt::ParseScriptFile(path);
    EXPECT_TRUE(script.ok()) << script.status();
    if (!script.ok()) return {};
    // Each script opens its session on the next node.
    std::vector<std::string> hosts = cluster_->addresses();
    std::rotate(hosts.begin(), hosts.begin() + (next_node_++ % hosts.size()), hosts.end());
    absl::StatusOr<std::unique_ptr<slt::RangedbConnection>> connection =
        slt::RangedbConnection::Open(hosts);
    EXPECT_TRUE(connection.ok()) << connection.status();
    if (!connection.ok()) return {};
    slt::RunOptions options;
    options.max_failures_reported = 20;
    slt::RunResult result = slt::RunScript(*script, connection->get(), options);
    std::cout << std::filesystem::path(path).filename().string() << ": " << result.passed
              << " passed, " << result.failed << " failed, " << result.skipped << " skipped\n";
    for (const slt::Failure& f : result.failures) std::cout << f.ToString() << "\n";
    return result;
  }

  static std::vector<std::string> Files(const std::string& dir) {
    std::vector<std::string> out;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
      if (entry.path().extension() == ".test") out.push_back(entry.path().string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  static ClusterHarness* cluster_;
  static inline size_t next_node_ = 0;
};

ClusterHarness* SqlLogicTest::cluster_ = nullptr;

TEST_F(SqlLogicTest, RangedbScripts) {
  const std::vector<std::string> files = Files(RANGEDB_SLT_OWN_DIR);
  ASSERT_FALSE(files.empty());
  for (const std::string& file : files) {
    slt::RunResult r = Run(file);
    EXPECT_EQ(r.failed, 0) << file;
    EXPECT_GT(r.passed, 0) << file;
  }
}

// A sample of SQLite's corpus: every record plain SQLite passes passes here.
TEST_F(SqlLogicTest, CorpusSample) {
  const std::string corpus = RANGEDB_SLT_CORPUS_DIR;
  if (!std::filesystem::exists(corpus + "/select1.test")) {
    GTEST_SKIP() << "the sqllogictest corpus is not at " << corpus;
  }
  for (const char* file : {"select1.test", "evidence/in1.test", "evidence/slt_lang_update.test",
                           "evidence/slt_lang_replace.test", "evidence/slt_lang_aggfunc.test"}) {
    slt::RunResult r = Run(corpus + "/" + file);
    EXPECT_EQ(r.failed, 0) << file;
    EXPECT_GT(r.passed, 0) << file;
  }
}

// The whole corpus: pass counts per file (docs/sqllogictest.md keeps the totals).
TEST_F(SqlLogicTest, WholeCorpus) {
  if (std::getenv("RANGEDB_SLT_FULL") == nullptr) {
    GTEST_SKIP() << "set RANGEDB_SLT_FULL=1 (ctest -L slow runs it)";
  }
  const std::string corpus = RANGEDB_SLT_CORPUS_DIR;
  int64_t passed = 0, failed = 0, skipped = 0;
  for (const std::string& file : Files(corpus)) {
    slt::RunResult r = Run(file);
    passed += r.passed;
    failed += r.failed;
    skipped += r.skipped;
  }
  std::cout << "corpus: " << passed << " passed, " << failed << " failed, " << skipped
            << " skipped\n";
  EXPECT_GT(passed, 0);
}

}  // namespace
}  // namespace rangedb
