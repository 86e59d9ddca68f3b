// The real check of the sqllogictest runner (tests/sqllogictest/slt_runner.h): files
// of SQLite's own corpus (../shared/sqllogictest, see its SOURCE.md) on the plain
// SQLite backend must pass every record that is not skipped, which shows the runner
// reads, renders, sorts and hashes as the corpus's authors did; and backends with
// planted bugs must fail. Without the corpus the tests skip, saying where they looked.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "tests/sqllogictest/slt_parser.h"
#include "tests/sqllogictest/slt_runner.h"
#include "tests/sqllogictest/sqlite_connection.h"

// The corpus directory; the build passes ${PROJECT_SOURCE_DIR}/../shared/sqllogictest.
#ifndef RANGEDB_SLT_CORPUS_DIR
#define RANGEDB_SLT_CORPUS_DIR ""
#endif

namespace rangedb::slt {
namespace {

using ::testing::StartsWith;

std::unique_ptr<SqliteConnection> OpenSqlite() {
  absl::StatusOr<std::unique_ptr<SqliteConnection>> connection = SqliteConnection::Open();
  EXPECT_TRUE(connection.ok()) << connection.status();
  return connection.ok() ? *std::move(connection) : nullptr;
}

// The environment variable RANGEDB_SLT_CORPUS_DIR, if set, else the build's path.
std::string CorpusDir() {
  const char* from_environment = std::getenv("RANGEDB_SLT_CORPUS_DIR");
  return from_environment != nullptr ? from_environment : RANGEDB_SLT_CORPUS_DIR;
}

bool HaveCorpus() { return !CorpusDir().empty() && std::filesystem::is_directory(CorpusDir()); }

#define SKIP_WITHOUT_CORPUS()                                                               \
  if (!HaveCorpus()) {                                                                      \
    GTEST_SKIP() << "sqllogictest corpus not found at '" << CorpusDir()                     \
                 << "' (set by the build as ${PROJECT_SOURCE_DIR}/../shared/sqllogictest; " \
                    "the environment variable RANGEDB_SLT_CORPUS_DIR overrides it)";        \
  }

Script MustParseCorpusFile(const std::string& relative_path) {
  absl::StatusOr<Script> script = ParseScriptFile(CorpusDir() + "/" + relative_path);
  EXPECT_TRUE(script.ok()) << script.status();
  return script.ok() ? *std::move(script) : Script{};
}

struct CorpusFile {
  const char* path;  // relative to the corpus directory
  // Pinned counts: a runner that skipped or halted too much would pass vacuously.
  int64_t passed;
  int64_t skipped;
};

// select1.test, every evidence file, and one file of each folder under index/ and
// random/: about 120,000 records, a few seconds.
const CorpusFile kCorpusFiles[] = {
    {"select1.test", 1031, 0},
    {"evidence/in1.test", 214, 2},
    {"evidence/in2.test", 53, 1},
    {"evidence/slt_lang_aggfunc.test", 80, 0},
    {"evidence/slt_lang_createtrigger.test", 26, 0},
    {"evidence/slt_lang_createview.test", 23, 2},
    {"evidence/slt_lang_dropindex.test", 8, 0},
    {"evidence/slt_lang_droptable.test", 12, 0},
    {"evidence/slt_lang_droptrigger.test", 12, 0},
    {"evidence/slt_lang_dropview.test", 13, 0},
    {"evidence/slt_lang_reindex.test", 7, 0},
    {"evidence/slt_lang_replace.test", 14, 0},
    {"evidence/slt_lang_update.test", 27, 0},
    {"index/between/1000/slt_good_0.test", 3792, 0},
    {"index/commute/10/slt_good_10.test", 4261, 0},
    {"index/delete/10/slt_good_0.test", 10730, 0},
    {"index/in/10/slt_good_5.test", 10038, 0},
    {"index/orderby/10/slt_good_0.test", 10053, 0},
    {"index/orderby_nosort/10/slt_good_14.test", 10052, 0},
    {"index/random/10/slt_good_5.test", 10034, 1835},
    {"index/view/10/slt_good_6.test", 6135, 915},
    {"random/aggregates/slt_good_0.test", 10012, 3910},
    {"random/expr/slt_good_0.test", 10012, 5414},
    {"random/groupby/slt_good_0.test", 10012, 547},
    {"random/select/slt_good_0.test", 10012, 1072},
};

class SltCorpusTest : public ::testing::TestWithParam<CorpusFile> {};

// The runner agrees with the corpus: on plain SQLite, as engine "sqlite", every record
// that is not skipped passes.
TEST_P(SltCorpusTest, PassesOnSqlite) {
  SKIP_WITHOUT_CORPUS();
  const CorpusFile& file = GetParam();
  const Script script = MustParseCorpusFile(file.path);
  std::unique_ptr<SqliteConnection> connection = OpenSqlite();
  const RunResult result = RunScript(script, connection.get(), RunOptions{});
  for (const Failure& failure : result.failures) ADD_FAILURE() << failure.ToString();
  EXPECT_EQ(result.failed, 0);
  EXPECT_EQ(result.passed, file.passed);
  EXPECT_EQ(result.skipped, file.skipped);
  EXPECT_FALSE(result.halted);
}

INSTANTIATE_TEST_SUITE_P(Corpus, SltCorpusTest, ::testing::ValuesIn(kCorpusFiles),
                         [](const ::testing::TestParamInfo<CorpusFile>& info) {
                           std::string name = info.param.path;
                           for (char& c : name) {
                             if (!absl::ascii_isalnum(c)) c = '_';
                           }
                           return name;
                         });

// Every file of the corpus parses; together they hold the 177,780 statement and query
// records of the subset (SOURCE.md).
TEST(SltCorpusParseTest, EveryFileParses) {
  SKIP_WITHOUT_CORPUS();
  int files = 0;
  int64_t tests = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(CorpusDir())) {
    if (entry.path().extension() != ".test") continue;
    absl::StatusOr<Script> script = ParseScriptFile(entry.path().string());
    ASSERT_TRUE(script.ok()) << script.status();
    ++files;
    for (const Record& record : script->records) {
      if (!std::holds_alternative<HashThreshold>(record.body) &&
          !std::holds_alternative<Halt>(record.body)) {
        ++tests;
      }
    }
  }
  EXPECT_EQ(files, 34);
  EXPECT_EQ(tests, 177780);
}

// --- Planted bugs: the runner must notice a wrong backend ---

// A backend with a planted bug: a real SQLite database whose every result passes
// through `mutate` on its way out.
class MutatingConnection : public SltConnection {
 public:
  explicit MutatingConnection(std::function<void(SltResult*)> mutate)
      : inner_(OpenSqlite()), mutate_(std::move(mutate)) {}

  absl::StatusOr<SltResult> Execute(const std::string& sql) override {
    absl::StatusOr<SltResult> result = inner_->Execute(sql);
    if (result.ok()) mutate_(&*result);
    return result;
  }

 private:
  std::unique_ptr<SqliteConnection> inner_;
  std::function<void(SltResult*)> mutate_;
};

void DropLastRow(SltResult* result) {
  if (!result->rows.empty()) result->rows.pop_back();
}

void ReverseRows(SltResult* result) { std::reverse(result->rows.begin(), result->rows.end()); }

// Dropping the last row of every result fails exactly the queries with a non-empty
// expected result; statements are unaffected.
TEST(SltPlantedBugTest, DroppedLastRowFailsEveryNonEmptyQuery) {
  SKIP_WITHOUT_CORPUS();
  const Script script = MustParseCorpusFile("select1.test");
  int64_t non_empty_queries = 0;
  for (const Record& record : script.records) {
    const auto* query = std::get_if<Query>(&record.body);
    if (query == nullptr) continue;
    const ExpectedResult& expected = query->expected;
    if (expected.is_hash ? expected.hash_value_count > 0 : !expected.values.empty()) {
      ++non_empty_queries;
    }
  }
  ASSERT_GT(non_empty_queries, 500);
  MutatingConnection connection(DropLastRow);
  const RunResult result = RunScript(script, &connection, RunOptions{});
  EXPECT_EQ(result.failed, non_empty_queries);
  EXPECT_EQ(result.passed + result.failed, 1031);
  for (const Failure& failure : result.failures) {
    EXPECT_THAT(failure.message, StartsWith("query returned")) << failure.ToString();
  }

  RunOptions stop;
  stop.stop_on_first_failure = true;
  MutatingConnection again(DropLastRow);
  const RunResult stopped = RunScript(script, &again, stop);
  EXPECT_EQ(stopped.failed, 1);
  EXPECT_TRUE(stopped.stopped_at_failure);
  EXPECT_LT(stopped.passed, 1031);
}

// Reversing the row order fails only queries that say nosort: rowsort and valuesort
// results are sorted by the runner, whatever order the engine returned.
TEST(SltPlantedBugTest, ReversedRowsFailOnlyNosortQueries) {
  SKIP_WITHOUT_CORPUS();
  const Script script = MustParseCorpusFile("select1.test");
  MutatingConnection connection(ReverseRows);
  RunOptions options;
  options.max_failures_reported = 100000;
  const RunResult result = RunScript(script, &connection, options);
  EXPECT_GT(result.failed, 0);
  for (const Failure& failure : result.failures) {
    const auto record =
        std::find_if(script.records.begin(), script.records.end(),
                     [&](const Record& r) { return r.line_number == failure.line; });
    ASSERT_NE(record, script.records.end());
    const auto* query = std::get_if<Query>(&record->body);
    ASSERT_NE(query, nullptr) << failure.ToString();
    EXPECT_EQ(query->sort_mode, SortMode::kNoSort) << failure.ToString();
  }
}

// One value off by one in every result row is caught, hashed results included.
TEST(SltPlantedBugTest, OffByOneIntegersFail) {
  SKIP_WITHOUT_CORPUS();
  const Script script = MustParseCorpusFile("select1.test");
  MutatingConnection connection([](SltResult* result) {
    for (std::vector<sql::Value>& row : result->rows) {
      if (auto* v = std::get_if<int64_t>(&row.front())) ++*v;
    }
  });
  const RunResult result = RunScript(script, &connection, RunOptions{});
  EXPECT_GT(result.failed, 500);
  const bool some_hashed =
      std::any_of(result.failures.begin(), result.failures.end(),
                  [](const Failure& f) { return absl::StrContains(f.message, "hashing to"); });
  EXPECT_TRUE(some_hashed);
}

}  // namespace
}  // namespace rangedb::slt
