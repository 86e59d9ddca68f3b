// The differential test (issue 16): seeded random schemas, data and statements
// (sql/testing/random_sql.h) run through a rangedb session and through plain SQLite
// must give the same rows (in the same order where ORDER BY fixes it), the same
// errors, and the same types. A failure prints its seed and the shortest script
// that still shows the difference (each statement dropped in turn while the
// difference stays); every other seed that differs is listed with its first
// differing statement.
//
// RANGEDB_DIFF_SEEDS=N runs seeds 1..N (default 100, for CI); RANGEDB_DIFF_SEED=S one;
// RANGEDB_DIFF_SCRIPT=path a script of one's own (AScriptFromAFile).
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "ranges/local_sender.h"
#include "ranges/testing/txn_cluster_fixture.h"
#include "sql/session.h"
#include "sql/sqlite_util.h"
#include "sql/testing/random_sql.h"

namespace rangedb::sql {
namespace {

constexpr int kTables = 2;
constexpr int kStatements = 120;

// A value as text, exactly: its class and its value (reals to 17 digits).
std::string Exact(const Value& v) {
  switch (ClassOf(v)) {
    case StorageClass::kNull:
      return "NULL";
    case StorageClass::kInteger:
      return absl::StrCat("i", std::get<int64_t>(v));
    case StorageClass::kReal:
      return absl::StrFormat("r%.17g", std::get<double>(v));
    case StorageClass::kText:
      return absl::StrCat("t'", std::get<std::string>(v), "'");
    case StorageClass::kBlob:
      return absl::StrCat("b", absl::BytesToHexString(std::get<Blob>(v).bytes));
  }
  return "?";
}

// What a statement did: its rows, or the kind of its error.
struct Outcome {
  bool ok = true;
  std::string error;  // the kind: "UNIQUE constraint failed", …
  std::vector<std::string> rows;
  bool operator==(const Outcome&) const = default;
};

std::string ErrorKind(absl::string_view message) {
  for (const char* kind : {"UNIQUE constraint failed", "NOT NULL constraint failed",
                           "CHECK constraint failed", "datatype mismatch", "no such savepoint",
                           "cannot start a transaction", "cannot commit", "cannot rollback"}) {
    if (absl::StrContains(message, kind)) return kind;
  }
  return std::string(message);
}

class RowsSink final : public RowSink {
 public:
  absl::Status Columns(const std::vector<ColumnInfo>&) override { return absl::OkStatus(); }
  absl::Status Row(std::vector<Value> row) override {
    std::vector<std::string> cells;
    for (const Value& v : row) cells.push_back(Exact(v));
    rows.push_back(absl::StrJoin(cells, "|"));
    return absl::OkStatus();
  }
  std::vector<std::string> rows;
};

Outcome Sorted(Outcome o, const std::string& sql) {
  if (!absl::StrContains(sql, "ORDER BY")) std::sort(o.rows.begin(), o.rows.end());
  return o;
}

Outcome RunSqlite(sqlite3* db, const std::string& sql) {
  Outcome o;
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) {
    o.ok = false;
    o.error = ErrorKind(sqlite3_errmsg(db));
    return o;
  }
  Stmt stmt(raw);
  int rc;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    std::vector<std::string> cells;
    for (int i = 0; i < sqlite3_column_count(stmt.get()); ++i)
      cells.push_back(Exact(ColumnValue(stmt.get(), i)));
    o.rows.push_back(absl::StrJoin(cells, "|"));
  }
  if (rc != SQLITE_DONE) {
    o.ok = false;
    o.error = ErrorKind(sqlite3_errmsg(db));
    o.rows.clear();
  }
  return Sorted(o, sql);
}

Outcome RunRangedb(Session& session, const std::string& sql) {
  Outcome o;
  RowsSink sink;
  absl::string_view text = sql;
  absl::StatusOr<std::optional<StatementResult>> r = session.ExecuteNext(&text, {}, &sink);
  if (!r.ok()) {
    o.ok = false;
    o.error = ErrorKind(r.status().message());
    return o;
  }
  o.rows = std::move(sink.rows);
  return Sorted(o, sql);
}

std::string Show(const Outcome& o) {
  if (!o.ok) return absl::StrCat("error: ", o.error);
  return absl::StrCat(o.rows.size(), " rows: ", absl::StrJoin(o.rows, " ; "));
}

class DifferentialTest : public ranges::TxnClusterTest {
 protected:
  // Runs script on fresh databases; returns the index of the first statement whose
  // outcomes differ (-1: none) and describes it in *diff.
  int FirstDifference(const std::vector<std::string>& script, std::string* diff) {
    absl::StatusOr<Db> db = OpenMemoryDb();
    EXPECT_TRUE(db.ok());
    ranges::LocalSender sender(gateways_[1].get());
    SessionOptions options;
    options.sender = &sender;
    options.node_id = 1;
    absl::StatusOr<std::unique_ptr<Session>> session = Session::Open(std::move(options));
    EXPECT_TRUE(session.ok());
    for (int t = 0; t < kTables; ++t)
      (void)RunRangedb(**session, absl::StrCat("DROP TABLE IF EXISTS t", t));
    for (size_t i = 0; i < script.size(); ++i) {
      const Outcome want = RunSqlite(db->get(), script[i]);
      const Outcome got = RunRangedb(**session, script[i]);
      if (!(want == got)) {
        *diff = absl::StrCat("statement: ", script[i], "\n  sqlite:  ", Show(want),
                             "\n  rangedb: ", Show(got));
        return static_cast<int>(i);
      }
    }
    return -1;
  }

  // Drops statements one at a time (never the schema) while the difference stays.
  std::vector<std::string> Shrink(std::vector<std::string> script, size_t schema_size) {
    std::string diff;
    int budget = 80;  // bounded: each try runs the script on fresh databases
    for (size_t i = schema_size; i < script.size() && budget > 0; --budget) {
      std::vector<std::string> shorter = script;
      shorter.erase(shorter.begin() + i);
      if (FirstDifference(shorter, &diff) >= 0) {
        script = std::move(shorter);
      } else {
        ++i;
      }
    }
    return script;
  }
};

std::vector<uint64_t> Seeds() {
  if (const char* one = std::getenv("RANGEDB_DIFF_SEED")) return {std::strtoull(one, nullptr, 10)};
  int n = 100;  // CI: seeds 1..100, about 70 ms each (all of 1..1200 pass)
  if (const char* many = std::getenv("RANGEDB_DIFF_SEEDS")) n = std::atoi(many);
  std::vector<uint64_t> out;
  for (int i = 1; i <= n; ++i) out.push_back(static_cast<uint64_t>(i));
  return out;
}

TEST_F(DifferentialTest, RangedbAnswersAsSqliteDoes) {
  // Every seed runs, so that one run lists every seed that differs; the first is
  // shrunk and shown whole, the others by their first differing statement.
  constexpr size_t kMaxReported = 20;  // a broken build fails every seed: stop early
  std::vector<uint64_t> failed;
  for (uint64_t seed : Seeds()) {
    testing::RandomSql gen(seed);
    std::vector<std::string> script = gen.Schema(kTables);
    const size_t schema_size = script.size();
    for (int i = 0; i < kStatements; ++i) script.push_back(gen.Statement());
    script.push_back("ROLLBACK");
    std::string diff;
    const int at = FirstDifference(script, &diff);
    if (at < 0) continue;
    failed.push_back(seed);
    if (failed.size() > 1) {
      ADD_FAILURE() << "seed " << seed << " (RANGEDB_DIFF_SEED=" << seed << "): " << diff;
      if (failed.size() == kMaxReported) break;
      continue;
    }
    script.resize(at + 1);
    const std::vector<std::string> shortest = Shrink(script, schema_size);
    (void)FirstDifference(shortest, &diff);
    ADD_FAILURE() << "seed " << seed << " (RANGEDB_DIFF_SEED=" << seed << "): " << diff
                  << "\nshortest script:\n  " << absl::StrJoin(shortest, ";\n  ") << ";";
  }
  if (!failed.empty()) ADD_FAILURE() << "seeds that differ: " << absl::StrJoin(failed, ", ");
}

// RANGEDB_DIFF_SCRIPT=path runs a script of one's own (statements each ending in
// ";" and a newline, the form a report prints; its CREATE statements are the
// schema): an old seed's script, or one written to chase a difference.
TEST_F(DifferentialTest, AScriptFromAFile) {
  const char* path = std::getenv("RANGEDB_DIFF_SCRIPT");
  if (path == nullptr) GTEST_SKIP() << "set RANGEDB_DIFF_SCRIPT to a script's path";
  std::ifstream file(path);
  ASSERT_TRUE(file) << "cannot read " << path;
  const std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  std::vector<std::string> script;
  for (absl::string_view line : absl::StrSplit(text, ";\n", absl::SkipWhitespace())) {
    script.emplace_back(absl::StripAsciiWhitespace(line));
  }
  size_t schema_size = 0;
  while (schema_size < script.size() && absl::StartsWith(script[schema_size], "CREATE ")) {
    ++schema_size;
  }
  std::string diff;
  const int at = FirstDifference(script, &diff);
  if (at < 0) return;
  script.resize(at + 1);
  const std::vector<std::string> shortest = Shrink(script, schema_size);
  (void)FirstDifference(shortest, &diff);
  ADD_FAILURE() << path << ": " << diff << "\nshortest script:\n  "
                << absl::StrJoin(shortest, ";\n  ") << ";";
}

}  // namespace
}  // namespace rangedb::sql
