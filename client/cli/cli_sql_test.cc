// `rangedb sql` end to end against an in-process fake SQL service
// (client/testing/fake_sql_server.h): where statements come from (-e, -f, stdin),
// how they are cut, every format, errors, exit codes; and the script splitter.
#include "client/cli/cli_sql.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/cli/testing/cli_runner.h"
#include "client/testing/fake_sql_server.h"

namespace rangedb {
namespace {

using client::FakeSqlServer;
using client::SqlBlob;
using client::SqlError;
using client::SqlNull;
using Result = FakeSqlServer::StatementResult;
using Then = FakeSqlServer::Then;

Result Tag(const std::string& tag, int64_t rows_affected = 0) {
  return Result{{}, {}, tag, rows_affected};
}
Result Failure(const std::string& sqlstate, const std::string& message, int position = 0) {
  Result result;
  result.error = SqlError{sqlstate, message, position};
  return result;
}

// Replaces std::cin's buffer for the life of the object.
class FakeStdin {
 public:
  explicit FakeStdin(const std::string& text) : in_(text), old_(std::cin.rdbuf(in_.rdbuf())) {
    std::cin.clear();
  }
  ~FakeStdin() {
    std::cin.rdbuf(old_);
    std::cin.clear();  // the end of the fake input must not stay with std::cin
  }

 private:
  std::istringstream in_;
  std::streambuf* old_;
};

class CliSqlTest : public testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<FakeSqlServer>> server = FakeSqlServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    server_->Script("CREATE TABLE t (a INTEGER, b TEXT)", {Tag("CREATE TABLE")});
    server_->Script("INSERT INTO t VALUES (1, 'x'), (2, NULL)", {Tag("INSERT", 2)});
    server_->Script(
        "SELECT a, b FROM t",
        {Result{{"a", "b"}, {{int64_t{1}, std::string("x")}, {int64_t{2}, SqlNull{}}}, "SELECT"}});
    server_->Script("SELECT * FROM typed",
                    {Result{{"i", "r", "t", "b", "n"},
                            {{int64_t{-5}, 0.1, std::string("a,\"b\"\tc\nd"),
                              SqlBlob{std::string("\x01\xab", 2)}, SqlNull{}},
                             {int64_t{7}, 1.0, std::string(""), SqlBlob{}, SqlNull{}}},
                            "SELECT"}});
    server_->Script("SELECT bad", {Failure("42703", "no such column: bad", 8)});
  }

  // Runs `rangedb sql ARGS... --host=<fake server>`.
  CliResult Sql(std::vector<std::string> args, bool add_host = true) {
    args.insert(args.begin(), "sql");
    if (add_host) args.push_back(absl::StrCat("--host=", server_->address()));
    return RunRangedb(std::move(args));
  }

  std::string WriteFile(const std::string& name, const std::string& text) {
    const std::string path = absl::StrCat(testing::TempDir(), "/", name);
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  std::unique_ptr<FakeSqlServer> server_;
};

TEST_F(CliSqlTest, RepeatedExecuteRunsInOrderInOneSession) {
  CliResult r = Sql({"-e", "CREATE TABLE t (a INTEGER, b TEXT)", "-e",
                     "INSERT INTO t VALUES (1, 'x'), (2, NULL)", "-e", "SELECT a, b FROM t",
                     "--format=table"});
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out,
            "CREATE TABLE\n"
            "INSERT 2\n"
            " a |  b\n"
            "---+------\n"
            " 1 | x\n"
            " 2 | NULL\n"
            "(2 rows)\n"
            "\n");
  EXPECT_EQ(
      server_->statements(),
      (std::vector<std::string>{"CREATE TABLE t (a INTEGER, b TEXT)",
                                "INSERT INTO t VALUES (1, 'x'), (2, NULL)", "SELECT a, b FROM t"}));
  EXPECT_EQ(server_->sessions(), 1);
  EXPECT_EQ(server_->requests()[1].timeout_ms(), 10000);  // [0]: Connect's probe
}

TEST_F(CliSqlTest, AFileIsCutIntoStatementsBySqliteComplete) {
  server_->Script("INSERT INTO t VALUES ('x;y'), ('it''s; \"ok;\"');", {Tag("INSERT", 2)});
  server_->Script(
      "CREATE TRIGGER tr AFTER INSERT ON t BEGIN\n"
      "  INSERT INTO u VALUES (';');\n"
      "  DELETE FROM v;\n"
      "END;",
      {Tag("CREATE TRIGGER")});
  server_->Script("SELECT a\n  FROM t; -- trailing; comment", {});  // must not be sent
  server_->Script("SELECT a\n  FROM t;", {Tag("SELECT")});
  server_->Script("SELECT 1;", {Tag("SELECT")});
  server_->Script("SELECT 2;", {Tag("SELECT")});
  server_->Script("SELECT 'last' /* no semicolon */", {Tag("SELECT")});
  const std::string path = WriteFile("script.sql",
                                     "-- set up; with a semicolon in a comment\n"
                                     "\n"
                                     "INSERT INTO t VALUES ('x;y'), ('it''s; \"ok;\"');\n"
                                     "CREATE TRIGGER tr AFTER INSERT ON t BEGIN\n"
                                     "  INSERT INTO u VALUES (';');\n"
                                     "  DELETE FROM v;\n"
                                     "END;\n"
                                     "/* a; block */ SELECT a\n"
                                     "  FROM t; -- trailing; comment\n"
                                     ";;\n"
                                     "SELECT 1; SELECT 2;\n"
                                     "SELECT 'last' /* no semicolon */\n"
                                     "\n");
  CliResult r = Sql({"-f", path});
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(server_->statements(),
            (std::vector<std::string>{"INSERT INTO t VALUES ('x;y'), ('it''s; \"ok;\"');",
                                      "CREATE TRIGGER tr AFTER INSERT ON t BEGIN\n"
                                      "  INSERT INTO u VALUES (';');\n"
                                      "  DELETE FROM v;\n"
                                      "END;",
                                      "SELECT a\n  FROM t;", "SELECT 1;", "SELECT 2;",
                                      "SELECT 'last' /* no semicolon */"}));
}

TEST_F(CliSqlTest, StatementsComeFromStdinWithoutEOrF) {
  server_->Script("CREATE TABLE t (a INTEGER, b TEXT);", {Tag("CREATE TABLE")});
  server_->Script("SELECT a, b FROM t;", {Result{{"a"}, {{int64_t{1}}}, "SELECT"}});
  FakeStdin in("CREATE TABLE t (a INTEGER, b TEXT);\nSELECT a, b\nFROM t;\n");
  server_->Script("SELECT a, b\nFROM t;", {Result{{"a"}, {{int64_t{1}}}, "SELECT"}});
  CliResult r = Sql({"--format=csv"});
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "a\n1\n");  // csv prints rows only
  EXPECT_EQ(server_->statements(), (std::vector<std::string>{"CREATE TABLE t (a INTEGER, b TEXT);",
                                                             "SELECT a, b\nFROM t;"}));
}

TEST_F(CliSqlTest, DashFileIsStdin) {
  FakeStdin in("SELECT a, b FROM t");
  CliResult r = Sql({"-f", "-"});
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(server_->statements(), (std::vector<std::string>{"SELECT a, b FROM t"}));
}

// Not a terminal (the test's stream): tsv.
TEST_F(CliSqlTest, DefaultFormatOffATerminalIsTsv) {
  CliResult r = Sql({"-e", "SELECT a, b FROM t", "-e", "INSERT INTO t VALUES (1, 'x'), (2, NULL)"});
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "a\tb\n1\tx\n2\t\\N\n");
}

TEST_F(CliSqlTest, TsvFormat) {
  CliResult r = Sql({"-e", "SELECT * FROM typed", "--format=tsv"});
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(r.out,
            "i\tr\tt\tb\tn\n"
            "-5\t0.1\ta,\"b\"\\tc\\nd\t\\\\x01ab\t\\N\n"
            "7\t1.0\t\t\\\\x\t\\N\n");
}

TEST_F(CliSqlTest, CsvFormat) {
  CliResult r = Sql({"-e", "SELECT * FROM typed", "--format=csv"});
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(r.out,
            "i,r,t,b,n\n"
            "-5,0.1,\"a,\"\"b\"\"\tc\nd\",\\x01ab,\n"
            "7,1.0,\"\",\\x,\n");
}

TEST_F(CliSqlTest, JsonFormat) {
  CliResult r = Sql({"-e", "SELECT * FROM typed", "--format=json"});
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
  const std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_EQ(lines[0],
            "{\"i\":-5,\"r\":0.1,\"t\":\"a,\\\"b\\\"\\tc\\nd\",\"b\":\"\\\\x01ab\",\"n\":null}");
  const nlohmann::json row = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(row["i"], 7);
  EXPECT_EQ(row["r"].get<double>(), 1.0);
  EXPECT_EQ(row["t"], "");
  EXPECT_EQ(row["b"], "\\x");
  EXPECT_TRUE(row["n"].is_null());
}

TEST_F(CliSqlTest, TableFormat) {
  CliResult r = Sql({"-e", "SELECT * FROM typed", "--format=table"});
  EXPECT_EQ(r.exit_code, kExitOk) << r.err;
  EXPECT_EQ(r.out,
            " i  |  r  |      t      |   b    |  n\n"
            "----+-----+-------------+--------+------\n"
            " -5 | 0.1 | a,\"b\"\\tc\\nd | \\x01ab | NULL\n"
            "  7 | 1.0 |             | \\x     | NULL\n"
            "(2 rows)\n"
            "\n");
}

TEST_F(CliSqlTest, AnErrorInTheMiddleContinuesByDefaultAndFails) {
  CliResult r = Sql({"-e", "CREATE TABLE t (a INTEGER, b TEXT)", "-e", "SELECT bad", "-e",
                     "SELECT a, b FROM t", "--format=csv"});
  EXPECT_EQ(r.exit_code, kExitFailure);
  EXPECT_EQ(r.out, "a,b\n1,x\n2,\n");  // the statement after the error ran
  EXPECT_EQ(r.err,
            "ERROR: no such column: bad (SQLSTATE 42703)\n"
            "-e#2:1:8: SELECT bad\n"
            "                 ^\n");
  EXPECT_EQ(server_->statements().size(), 3u);
}

TEST_F(CliSqlTest, OnErrorStopStopsAtTheFirstError) {
  CliResult r = Sql({"-e", "CREATE TABLE t (a INTEGER, b TEXT)", "-e", "SELECT bad", "-e",
                     "SELECT a, b FROM t", "--on-error=stop"});
  EXPECT_EQ(r.exit_code, kExitFailure);
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(absl::StartsWith(r.err, "ERROR: no such column: bad (SQLSTATE 42703)\n")) << r.err;
  EXPECT_EQ(server_->statements(),
            (std::vector<std::string>{"CREATE TABLE t (a INTEGER, b TEXT)", "SELECT bad"}));
}

// An error's position is shown as the file's line and column, with a caret.
TEST_F(CliSqlTest, ErrorsInAFileNameItsLineAndColumn) {
  server_->Script("SELECT 1;", {Tag("SELECT")});
  server_->Script("SELECT *\n  FROMM t;", {Failure("42601", "near \"FROMM\": syntax error", 12)});
  server_->Script("DROP TABLE nope;", {Failure("42P01", "no such table: nope")});
  const std::string path =
      WriteFile("errors.sql", "SELECT 1;\n  SELECT *\n  FROMM t;\nDROP TABLE nope;\n");
  CliResult r = Sql({"-f", path});
  EXPECT_EQ(r.exit_code, kExitFailure);
  EXPECT_EQ(r.err, absl::StrCat("ERROR: near \"FROMM\": syntax error (SQLSTATE 42601)\n", path,
                                ":3:3:   FROMM t;\n", std::string(path.size() + 8, ' '),
                                "^\n"
                                "ERROR: no such table: nope (SQLSTATE 42P01)\n",
                                path, ":4: DROP TABLE nope;\n"));
}

TEST_F(CliSqlTest, UnreachableHostsAreNamed) {
  CliResult r = Sql({"-e", "SELECT 1", "--host=127.0.0.1:1,127.0.0.1:2", "--timeout=300ms"},
                    /*add_host=*/false);
  EXPECT_EQ(r.exit_code, kExitFailure);
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(absl::StartsWith(
      r.err,
      "rangedb sql: could not open a SQL session on any of 127.0.0.1:1, 127.0.0.1:2 within "
      "300ms (127.0.0.1:1: could not connect; 127.0.0.1:2: could not connect)"))
      << r.err;
}

TEST_F(CliSqlTest, ABrokenSessionSaysTheStatementMayHaveRun) {
  server_->Script("INSERT INTO t VALUES (3, 'z')", {}, Then::kBreak);
  CliResult r = Sql({"-e", "INSERT INTO t VALUES (3, 'z')", "-e", "SELECT a, b FROM t"});
  EXPECT_EQ(r.exit_code, kExitFailure);
  EXPECT_TRUE(absl::StrContains(r.err, "may or may not have run (a write may have committed)"))
      << r.err;
  EXPECT_EQ(server_->statements().size(), 1u);
}

TEST_F(CliSqlTest, InputEndingInsideATransactionFails) {
  Result begin = Tag("BEGIN");
  begin.in_transaction = true;
  server_->Script("BEGIN", {begin});
  CliResult r = Sql({"-e", "BEGIN"});
  EXPECT_EQ(r.exit_code, kExitFailure);
  EXPECT_TRUE(absl::StrContains(r.err, "ended inside a transaction")) << r.err;
}

TEST_F(CliSqlTest, UsageErrorsExitTwo) {
  const std::string path = WriteFile("x.sql", "SELECT 1;");
  EXPECT_EQ(Sql({"-e", "SELECT 1", "-f", path}).exit_code, kExitUsage);
  EXPECT_EQ(Sql({"-e", "SELECT 1", "--format=xml"}).exit_code, kExitUsage);
  EXPECT_EQ(Sql({"-e", "SELECT 1", "--on-error=maybe"}).exit_code, kExitUsage);
  EXPECT_EQ(Sql({"-e", "SELECT 1", "SELECT 2"}).exit_code, kExitUsage);  // one value per -e
  // A flag's value is the next word whatever it looks like, so -e lacks one only last.
  EXPECT_EQ(RunRangedb({"sql", "--host=" + server_->address(), "-e"}).exit_code, kExitUsage);
  EXPECT_EQ(Sql({"-e", "SELECT 1", "--timeout=soon"}).exit_code, kExitUsage);
  EXPECT_TRUE(server_->statements().empty());
}

TEST_F(CliSqlTest, AMissingFileFailsBeforeConnecting) {
  CliResult r = Sql({"-f", "/nonexistent/x.sql"});
  EXPECT_EQ(r.exit_code, kExitFailure);
  EXPECT_EQ(r.err, "rangedb sql: cannot open /nonexistent/x.sql: No such file or directory\n");
  EXPECT_EQ(server_->sessions(), 0);
}

TEST_F(CliSqlTest, HelpExplainsFlagsFormatsAndExitCodes) {
  CliResult r = Sql({"--help"}, false);
  EXPECT_EQ(r.exit_code, kExitOk);
  for (const char* needle : {"-e,--execute", "-f,--file", "--format", "--on-error", "--host",
                             "--timeout", "csv", "json", "SQLSTATE", "Exit status", "Example:"}) {
    EXPECT_TRUE(absl::StrContains(r.out, needle)) << needle << " missing from\n" << r.out;
  }
}

// ---- the splitter ----

std::vector<ScriptStatement> Split(const std::string& script) {
  std::istringstream in(script);
  SqlScriptReader reader(in);
  std::vector<ScriptStatement> statements;
  for (int i = 0; i < 100; ++i) {
    absl::StatusOr<std::optional<ScriptStatement>> next = reader.Next();
    EXPECT_TRUE(next.ok()) << next.status();
    if (!next.ok() || !next->has_value()) break;
    statements.push_back(**next);
  }
  return statements;
}

TEST(SqlScriptReaderTest, RecordsWhereEachStatementStarts) {
  const std::vector<ScriptStatement> s = Split("-- c\n  SELECT 1; SELECT\n 'é;';\n\nSELECT 3");
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].sql, "SELECT 1;");
  EXPECT_EQ(s[0].line, 2);
  EXPECT_EQ(s[0].column, 3);
  EXPECT_EQ(s[1].sql, "SELECT\n 'é;';");
  EXPECT_EQ(s[1].line, 2);
  EXPECT_EQ(s[1].column, 13);
  EXPECT_EQ(s[2].sql, "SELECT 3");
  EXPECT_EQ(s[2].line, 5);
  EXPECT_EQ(s[2].column, 1);
}

TEST(SqlScriptReaderTest, QuotedNamesAndBlockCommentsHoldSemicolons) {
  const std::vector<ScriptStatement> s =
      Split("SELECT \"a;b\", [c;d], `e;f` /* ; */ FROM t;\n/* only a comment; */\n");
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].sql, "SELECT \"a;b\", [c;d], `e;f` /* ; */ FROM t;");
}

TEST(SqlScriptReaderTest, EmptyInputAndOnlyCommentsHaveNoStatements) {
  EXPECT_TRUE(Split("").empty());
  EXPECT_TRUE(Split("  \n-- nothing\n/* at all */\n;\n").empty());
}

TEST(SqlScriptReaderTest, AnUnclosedQuoteIsSentAtTheEnd) {
  const std::vector<ScriptStatement> s = Split("SELECT 'open;\n");
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].sql, "SELECT 'open;");
}

}  // namespace
}  // namespace rangedb
