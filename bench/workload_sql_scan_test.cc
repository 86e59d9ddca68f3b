#include "bench/workload_sql_scan.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <sstream>

#include "absl/strings/str_format.h"

namespace rangedb {
namespace {

TEST(SqlScanOptionsTest, DefaultsAreValidAndEveryBoundIsChecked) {
  EXPECT_TRUE(ValidateSqlScanOptions({}).ok());
  EXPECT_EQ(SqlScanOptions{}.rows, 1'000'000);
  SqlScanOptions options;
  options.rows = 0;
  EXPECT_EQ(ValidateSqlScanOptions(options).message(), "--rows must be in 1..10000000, not 0");
  options = {};
  options.load_workers = 0;
  EXPECT_FALSE(ValidateSqlScanOptions(options).ok());
  options = {};
  options.repeats = kSqlScanMaxRepeats + 1;
  EXPECT_FALSE(ValidateSqlScanOptions(options).ok());
}

// Runs sql on a plain in-memory SQLite database; returns the single integer of a query.
int64_t SqliteInteger(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
  int64_t value = -1;
  if (sqlite3_step(stmt) == SQLITE_ROW) value = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  return value;
}

// The load statement is plain SQLite: run it on a native table, chunk by chunk.
TEST(SqlScanLoadTest, ChunksLoadEveryIdOnceAndRepeatingOneAddsNothing) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE sql_scan_t (id INTEGER PRIMARY KEY, x INTEGER)", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  for (const auto& [first, count] : {std::pair<int64_t, int64_t>{0, 7}, {7, 3}, {0, 7}}) {
    ASSERT_EQ(sqlite3_exec(db, SqlScanLoadSql(first, count).c_str(), nullptr, nullptr, nullptr),
              SQLITE_OK)
        << sqlite3_errmsg(db);
  }
  EXPECT_EQ(SqliteInteger(db, "SELECT count(*) FROM sql_scan_t"), 10);
  EXPECT_EQ(SqliteInteger(db, "SELECT sum(x) FROM sql_scan_t"), SqlScanExpectedSum(10));
  EXPECT_EQ(SqliteInteger(db, "SELECT min(id) FROM sql_scan_t"), 0);
  EXPECT_EQ(SqliteInteger(db, "SELECT max(id) FROM sql_scan_t"), 9);
  EXPECT_EQ(SqliteInteger(db, "SELECT count(*) FROM sql_scan_t WHERE x != id"), 0);
  sqlite3_close(db);
  EXPECT_EQ(SqlScanExpectedSum(1'000'000), 499'999'500'000);
}

TEST(SqlScanMeasureTest, AWrongCountFailsTheMeasurement) {
  std::ostringstream progress;
  absl::StatusOr<SqlScanMeasurement> m = MeasureScan(
      "short scan", 10, 10, 2, {}, []() -> absl::StatusOr<int64_t> { return 9; }, progress);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().message(), "short scan: got 9, expected 10");
}

// The baseline scans exactly the rows it was given, across several pages, and leaves
// nothing behind in its work directory.
TEST(SqlScanBaselineTest, ScansEveryRowInPagesAndRemovesItsEngine) {
  char dir_template[] = "/tmp/sql_scan_test.XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  std::ostringstream progress;
  // A last page cut short, and one that ends exactly at the last row.
  for (const int64_t n : {2 * kv::kScanPageRows + 500, 2 * kv::kScanPageRows}) {
    std::vector<kv::KeyValue> rows;
    for (int64_t i = 0; i < n; ++i) {
      rows.push_back({absl::StrFormat("\x04t%08d", i), absl::StrFormat("v%d", i)});
    }
    absl::StatusOr<std::vector<SqlScanMeasurement>> got =
        RunMvccScanBaseline(rows, dir, 2, progress);
    ASSERT_TRUE(got.ok()) << n << " rows: " << got.status();
    ASSERT_EQ(got->size(), 2u);
    EXPECT_EQ((*got)[0].name, "mvcc scan");
    EXPECT_EQ((*got)[1].name, "rocksdb iterator");
    for (const SqlScanMeasurement& m : *got) {
      EXPECT_EQ(m.rows, n);
      EXPECT_EQ(m.repeats, 2);
      EXPECT_GT(m.RowsPerSecond(), 0);
      EXPECT_TRUE(m.server_cpu_ms.empty());
      EXPECT_FALSE(m.ServerCpuNsPerRow().has_value());
    }
    EXPECT_TRUE(std::filesystem::is_empty(dir)) << "the baseline's engine was left in " << dir;
  }
  std::filesystem::remove_all(dir);
  EXPECT_FALSE(RunMvccScanBaseline({}, "/tmp", 1, progress).ok());
}

TEST(SqlScanReportTest, RatiosAreToTheMvccScanAndCpuIsPerRowPerRepeat) {
  auto measurement = [](const char* name, double seconds, std::vector<double> server_cpu_ms) {
    SqlScanMeasurement m;
    m.name = name;
    m.rows = 1000;
    m.repeats = 2;
    m.median = absl::Seconds(seconds);
    m.server_cpu_ms = std::move(server_cpu_ms);
    m.own_cpu_ms = 1.0;
    return m;
  };
  const std::vector<SqlScanMeasurement> ms = {
      measurement("sql count(*)", 4.0, {2.0, 6.0}),
      measurement("sql sum(x)", 8.0, {2.0, 6.0}),
      measurement("kv scan", 2.0, {1.0, 1.0}),
      measurement("mvcc scan", 1.0, {}),
  };
  // 8 ms over 2 repeats of 1000 rows: 4000 ns a row; the second pid 3000.
  EXPECT_DOUBLE_EQ(*ms[0].ServerCpuNsPerRow(), 4000);
  EXPECT_DOUBLE_EQ(*ms[0].ServerCpuNsPerRow(1), 3000);
  EXPECT_DOUBLE_EQ(*ms[0].OwnCpuNsPerRow(), 500);
  EXPECT_DOUBLE_EQ(ms[0].RowsPerSecond(), 250);
  const std::string report = FormatSqlScanReport(ms, {101, 102});
  EXPECT_NE(report.find("sql/mvcc rows/s: count=0.250 sum=0.125 kv=0.500\n"), std::string::npos)
      << report;
  EXPECT_NE(report.find("pid 101 pid 102"), std::string::npos) << report;
  EXPECT_NE(report.find("4000 (1000 3000)"), std::string::npos) << report;
}

}  // namespace
}  // namespace rangedb
