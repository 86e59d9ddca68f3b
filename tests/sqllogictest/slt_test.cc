// Tests of the sqllogictest runner (tests/sqllogictest/slt_runner.h) on the plain
// SQLite backend: the rules of each record kind (docs/sqllogictest.md) on small inline
// scripts. slt_corpus_test.cc runs SQLite's own corpus.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/sqllogictest/slt_runner.h"
#include "tests/sqllogictest/sqlite_connection.h"

namespace rangedb::slt {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::unique_ptr<SqliteConnection> OpenSqlite() {
  absl::StatusOr<std::unique_ptr<SqliteConnection>> connection = SqliteConnection::Open();
  EXPECT_TRUE(connection.ok()) << connection.status();
  return connection.ok() ? *std::move(connection) : nullptr;
}

Script MustParse(absl::string_view text) {
  absl::StatusOr<Script> script = ParseScript(text, "inline.test");
  EXPECT_TRUE(script.ok()) << script.status();
  return script.ok() ? *std::move(script) : Script{};
}

RunResult RunOnSqlite(absl::string_view text, const RunOptions& options = {}) {
  std::unique_ptr<SqliteConnection> connection = OpenSqlite();
  return RunScript(MustParse(text), connection.get(), options);
}

// A table t1(a, b) of rows (3, 'c'), (1, 'a'), (2, 'b'), inserted in that order.
constexpr absl::string_view kTable =
    "statement ok\n"
    "CREATE TABLE t1(a INTEGER, b TEXT)\n"
    "\n"
    "statement ok\n"
    "INSERT INTO t1 VALUES(3, 'c'), (1, 'a'), (2, 'b')\n"
    "\n";

TEST(SltRunnerTest, StatementOutcomes) {
  const RunResult result = RunOnSqlite(absl::StrCat(kTable,
                                                    "statement error\n"
                                                    "SELECT * FROM nowhere\n"
                                                    "\n"
                                                    "statement ok\n"
                                                    "SELECT * FROM nowhere\n"
                                                    "\n"
                                                    "statement error\n"
                                                    "SELECT 1\n"));
  EXPECT_EQ(result.passed, 3);
  EXPECT_EQ(result.failed, 2);
  ASSERT_EQ(result.failures.size(), 2u);
  EXPECT_EQ(result.failures[0].line, 10);
  EXPECT_THAT(result.failures[0].message, HasSubstr("statement failed: no such table: nowhere"));
  EXPECT_EQ(result.failures[1].line, 13);
  EXPECT_THAT(result.failures[1].message, HasSubstr("expected an error but"));
}

TEST(SltRunnerTest, ErrorPatternMustBeFoundInTheMessage) {
  const RunResult result = RunOnSqlite(
      "statement error no such table: t[0-9]\n"
      "SELECT * FROM t9\n"
      "\n"
      "statement error syntax error\n"
      "SELECT * FROM t9\n");
  EXPECT_EQ(result.passed, 1);
  EXPECT_EQ(result.failed, 1);
  ASSERT_EQ(result.failures.size(), 1u);
  EXPECT_THAT(result.failures[0].message, HasSubstr("error does not match 'syntax error'"));
}

TEST(SltRunnerTest, QueriesSortPerMode) {
  const RunResult result = RunOnSqlite(absl::StrCat(kTable,
                                                    "query IT rowsort\n"
                                                    "SELECT a, b FROM t1\n"
                                                    "----\n"
                                                    "1\na\n2\nb\n3\nc\n"
                                                    "\n"
                                                    "query IT valuesort\n"
                                                    "SELECT a, b FROM t1\n"
                                                    "----\n"
                                                    "1\n2\n3\na\nb\nc\n"
                                                    "\n"
                                                    "query IT nosort\n"
                                                    "SELECT a, b FROM t1 ORDER BY a DESC\n"
                                                    "----\n"
                                                    "3\nc\n2\nb\n1\na\n"
                                                    "\n"
                                                    "query I nosort\n"
                                                    "SELECT a FROM t1 WHERE a > 5\n"));
  EXPECT_EQ(result.failed, 0) << result.failures[0].ToString();
  EXPECT_EQ(result.passed, 6);
}

TEST(SltRunnerTest, WrongResultReportsExpectedAndActual) {
  const RunResult result = RunOnSqlite(absl::StrCat(kTable,
                                                    "query I rowsort\n"
                                                    "SELECT a FROM t1\n"
                                                    "----\n"
                                                    "1\n2\n4\n"
                                                    "\n"
                                                    "query I rowsort\n"
                                                    "SELECT a FROM t1\n"
                                                    "----\n"
                                                    "1\n2\n"));
  ASSERT_EQ(result.failures.size(), 2u);
  const Failure& wrong = result.failures[0];
  EXPECT_EQ(wrong.file, "inline.test");
  EXPECT_EQ(wrong.line, 7);
  EXPECT_EQ(wrong.sql, "SELECT a FROM t1");
  EXPECT_THAT(wrong.message, HasSubstr("value 3 (row 3, column 1): expected [4] got [3]"));
  EXPECT_THAT(wrong.expected, ElementsAre("1", "2", "4"));
  EXPECT_THAT(wrong.actual, ElementsAre("1", "2", "3"));
  EXPECT_THAT(result.failures[1].message, HasSubstr("returned 3 values, expected 2"));

  const std::string report = wrong.ToString();
  EXPECT_THAT(report, StartsWith("inline.test:7: query returned the wrong result"));
  EXPECT_THAT(report, HasSubstr("\n  sql:\n    SELECT a FROM t1"));
  EXPECT_THAT(report, HasSubstr("\n  expected:\n    1\n    2\n    4"));
  EXPECT_THAT(report, HasSubstr("\n  actual:\n    1\n    2\n    3"));
}

TEST(SltRunnerTest, WrongColumnCountFails) {
  const RunResult result = RunOnSqlite(absl::StrCat(kTable,
                                                    "query II nosort\n"
                                                    "SELECT a FROM t1 WHERE 0\n"));
  ASSERT_EQ(result.failures.size(), 1u);
  EXPECT_THAT(result.failures[0].message, HasSubstr("wrong number of result columns"));
}

// 1, 2, 3 hash as the MD5 of "1\n2\n3\n" (slt_format_test.cc checks that literal).
TEST(SltRunnerTest, HashedResults) {
  const RunResult result =
      RunOnSqlite(absl::StrCat(kTable,
                               "query I rowsort\n"
                               "SELECT a FROM t1\n"
                               "----\n"
                               "3 values hashing to c0710d6b4f15dfa88f600b0e6b624077\n"
                               "\n"
                               "query I rowsort\n"
                               "SELECT a FROM t1 WHERE a < 3\n"
                               "----\n"
                               "3 values hashing to c0710d6b4f15dfa88f600b0e6b624077\n"));
  EXPECT_EQ(result.passed, 3);
  ASSERT_EQ(result.failures.size(), 1u);
  EXPECT_THAT(result.failures[0].message,
              HasSubstr("returned 2 values hashing to 6ddb4095eb719e2a9f0a3f95677d24e0"));
  EXPECT_THAT(result.failures[0].actual,
              ElementsAre("2 values hashing to 6ddb4095eb719e2a9f0a3f95677d24e0", "1", "2"));
}

// Past the threshold, a failure shows the actual result as the hash line a script
// would hold (then its first values).
TEST(SltRunnerTest, HashThresholdDecidesHowTheActualResultIsShown) {
  const std::string query =
      "query I rowsort\n"
      "SELECT a FROM t1\n"
      "----\n"
      "9\n";
  RunResult result = RunOnSqlite(absl::StrCat(kTable, "hash-threshold 2\n\n", query));
  ASSERT_EQ(result.failures.size(), 1u);
  EXPECT_THAT(result.failures[0].actual,
              ElementsAre("3 values hashing to c0710d6b4f15dfa88f600b0e6b624077", "1", "2", "3"));

  result = RunOnSqlite(absl::StrCat(kTable, "hash-threshold 0\n\n", query));
  ASSERT_EQ(result.failures.size(), 1u);
  EXPECT_THAT(result.failures[0].actual, ElementsAre("1", "2", "3"));

  // --hash-threshold overrides the script's.
  RunOptions options;
  options.hash_threshold_override = 2;
  result = RunOnSqlite(absl::StrCat(kTable, "hash-threshold 0\n\n", query), options);
  ASSERT_EQ(result.failures.size(), 1u);
  EXPECT_EQ(result.failures[0].actual.size(), 4u);
}

TEST(SltRunnerTest, QueriesWithOneLabelMustAgree) {
  const RunResult result = RunOnSqlite(absl::StrCat(kTable,
                                                    "query I rowsort label-a\n"
                                                    "SELECT a FROM t1\n"
                                                    "----\n"
                                                    "1\n2\n3\n"
                                                    "\n"
                                                    "query I valuesort label-a\n"
                                                    "SELECT a FROM t1 ORDER BY a DESC\n"
                                                    "----\n"
                                                    "1\n2\n3\n"
                                                    "\n"
                                                    "query I rowsort label-a\n"
                                                    "SELECT a FROM t1 WHERE a < 3\n"
                                                    "----\n"
                                                    "1\n2\n"));
  EXPECT_EQ(result.passed, 4);
  ASSERT_EQ(result.failures.size(), 1u);
  EXPECT_EQ(result.failures[0].line, 21);
  EXPECT_THAT(result.failures[0].message,
              HasSubstr("label 'label-a': result differs from that of the query at line 7"));
}

TEST(SltRunnerTest, SkipifAndOnlyifFollowTheEngineName) {
  const std::string script =
      "skipif sqlite\n"
      "statement ok\n"
      "SELECT 1\n"
      "\n"
      "onlyif SQLite\n"  // names compare case-insensitively
      "statement ok\n"
      "SELECT 2\n"
      "\n"
      "onlyif postgresql\n"
      "statement ok\n"
      "SELECT 3\n"
      "\n"
      "skipif mysql\n"
      "skipif postgresql\n"
      "statement ok\n"
      "SELECT 4\n";
  RunResult result = RunOnSqlite(script);
  EXPECT_EQ(result.passed, 2);
  EXPECT_EQ(result.skipped, 2);

  RunOptions postgres;
  postgres.engine_name = "postgresql";
  result = RunOnSqlite(script, postgres);
  EXPECT_EQ(result.passed, 2);  // SELECT 1 and SELECT 3
  EXPECT_EQ(result.skipped, 2);
}

TEST(SltRunnerTest, HaltStopsTheScriptUnlessSkipped) {
  const RunResult result = RunOnSqlite(
      "onlyif mssql\n"
      "halt\n"
      "\n"
      "statement ok\n"
      "SELECT 1\n"
      "\n"
      "halt\n"
      "\n"
      "statement ok\n"
      "SELECT nonsense FROM nowhere\n");
  EXPECT_EQ(result.passed, 1);
  EXPECT_EQ(result.failed, 0);
  EXPECT_EQ(result.skipped, 0);  // a skipped control record counts nowhere
  EXPECT_TRUE(result.halted);
  EXPECT_EQ(result.halt_line, 7);
}

TEST(SltRunnerTest, StopOnFirstFailureAndReportBound) {
  const std::string script =
      "statement ok\nSELECT x1\n\n"
      "statement ok\nSELECT x2\n\n"
      "statement ok\nSELECT x3\n\n"
      "statement ok\nSELECT 1\n";
  RunOptions options;
  options.max_failures_reported = 2;
  RunResult result = RunOnSqlite(script, options);
  EXPECT_EQ(result.failed, 3);
  EXPECT_EQ(result.passed, 1);
  EXPECT_EQ(result.failures.size(), 2u);
  EXPECT_FALSE(result.stopped_at_failure);

  options.stop_on_first_failure = true;
  result = RunOnSqlite(script, options);
  EXPECT_EQ(result.failed, 1);
  EXPECT_EQ(result.passed, 0);
  EXPECT_TRUE(result.stopped_at_failure);
}

// A statement that fails while running (sum() overflows) fails a statement record; a
// query record is judged on the rows returned before the error, like the reference
// runner, whose expected results depend on it (evidence/slt_lang_aggfunc.test).
TEST(SltRunnerTest, ErrorWhileRunning) {
  const RunResult result = RunOnSqlite(
      "statement ok\n"
      "CREATE TABLE t(x INTEGER)\n"
      "\n"
      "statement ok\n"
      "INSERT INTO t VALUES(1<<62), (1<<62), (1<<62)\n"
      "\n"
      "statement ok\n"
      "SELECT sum(x) FROM t\n"
      "\n"
      "statement error integer overflow\n"
      "SELECT sum(x) FROM t\n"
      "\n"
      "query I nosort\n"
      "SELECT sum(x) FROM t\n"
      "----\n");
  EXPECT_EQ(result.passed, 4);
  ASSERT_EQ(result.failures.size(), 1u);
  EXPECT_EQ(result.failures[0].line, 7);
  EXPECT_THAT(result.failures[0].message, HasSubstr("integer overflow"));
}

}  // namespace
}  // namespace rangedb::slt
