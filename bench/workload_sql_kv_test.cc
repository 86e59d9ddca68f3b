#include "bench/workload_sql_kv.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <sstream>

#include "absl/synchronization/mutex.h"
#include "client/cli/testing/cli_runner.h"

namespace rangedb {
namespace {

TEST(SqlKvParseTest, ConcurrencyListKeepsTheOrderGiven) {
  EXPECT_EQ(*ParseConcurrencyList("1,32"), (std::vector<int>{1, 32}));
  EXPECT_EQ(*ParseConcurrencyList("8"), (std::vector<int>{8}));
  EXPECT_EQ(*ParseConcurrencyList("32,1,4"), (std::vector<int>{32, 1, 4}));
  for (const char* bad : {"", "0", "1,,2", "x", "1,32,", "-1", "1025", "4,4"}) {
    EXPECT_FALSE(ParseConcurrencyList(bad).ok()) << bad;
  }
  EXPECT_EQ(ParseConcurrencyList("1,x").status().message(),
            "--concurrency: \"x\" is not a client count in 1..1024");
  EXPECT_EQ(ParseConcurrencyList("4,4").status().message(), "--concurrency: 4 is listed twice");
  EXPECT_FALSE(ParseConcurrencyList("1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17").ok());
}

TEST(SqlKvParseTest, OpsAndPids) {
  EXPECT_EQ(*ParseSqlKvOps("update,select"),
            (std::vector<SqlKvOp>{SqlKvOp::kUpdate, SqlKvOp::kSelect}));
  EXPECT_EQ(ParseSqlKvOps("select,delete").status().message(),
            "--ops: \"delete\" is not one of select, insert, update");
  EXPECT_FALSE(ParseSqlKvOps("insert,insert").ok());
  EXPECT_FALSE(ParseSqlKvOps("").ok());
  EXPECT_TRUE(ParsePidList("")->empty());
  EXPECT_EQ(*ParsePidList("12,345"), (std::vector<int>{12, 345}));
  EXPECT_EQ(ParsePidList("12,abc").status().message(),
            "--server-pids: \"abc\" is not a process id");
  EXPECT_FALSE(ParsePidList("0").ok());
}

TEST(SqlKvParseTest, ProcStatFieldsCountFromTheLastParenthesis) {
  // proc(5): pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt
  // majflt cmajflt utime stime ...; comm may hold spaces and parentheses.
  EXPECT_EQ(*ParseProcStatCpuTicks("1234 (rangedb) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 "
                                   "130 0 0 20 0 12 0 5000 1000 200"),
            380);
  EXPECT_EQ(*ParseProcStatCpuTicks("7 (a (b) c) R 1 7 7 0 -1 0 0 0 0 0 11 22 0 0 20 0 1 0"), 33);
  EXPECT_FALSE(ParseProcStatCpuTicks("1234 rangedb S 1").ok());
  EXPECT_FALSE(ParseProcStatCpuTicks("1234 (rangedb) S 1 2 3").ok());
  EXPECT_FALSE(ParseProcStatCpuTicks("1 (x) S 1 1 1 0 -1 0 0 0 0 0 u 22").ok());
  absl::StatusOr<double> self = ProcessCpuMs(0);
  ASSERT_TRUE(self.ok()) << self.status();
  EXPECT_GE(*self, 0);
  EXPECT_TRUE(ProcessCpuMs(getpid()).ok());
}

TEST(SqlKvKeysTest, KvKeysAreFixedWidthAndMissTheCounter) {
  EXPECT_EQ(SqlKvKey(42), "bench/0000000042");
  EXPECT_EQ(SqlKvKey(kSqlKvFreshKeyBase), "bench/1000000000");
  // Fixed width: key order is number order, so [SqlKvKey(0), SqlKvKey(keys)) holds
  // exactly the preloaded keys, and the counter sorts after every row key.
  EXPECT_LT(SqlKvKey(9999), SqlKvKey(10000));
  EXPECT_LT(SqlKvKey(kSqlKvMaxKeys - 1), SqlKvKey(kSqlKvFreshKeyBase));
  EXPECT_GT(std::string(kSqlKvFreshCounterKey), SqlKvKey(9'999'999'999));
  EXPECT_EQ(std::string(kSqlKvFreshCounterKey).rfind(kSqlKvKeyPrefix, 0), 0u);
}

TEST(SqlKvOptionsTest, ValidateNamesTheBadOption) {
  SqlKvOptions options;
  EXPECT_TRUE(ValidateSqlKvOptions(options).ok());
  options.concurrency = {};
  EXPECT_FALSE(ValidateSqlKvOptions(options).ok());
  options = {};
  options.keys = 0;
  EXPECT_EQ(ValidateSqlKvOptions(options).message(), "keys must be 1..1000000000, got 0");
  options = {};
  options.value_bytes = -1;
  EXPECT_FALSE(ValidateSqlKvOptions(options).ok());
  options = {};
  options.scan_rows = kSqlKvMaxScanRows + 1;
  EXPECT_FALSE(ValidateSqlKvOptions(options).ok());
  options = {};
  options.duration = absl::ZeroDuration();
  EXPECT_FALSE(ValidateSqlKvOptions(options).ok());
}

// ---- The phase loop over in-memory targets ----

struct FakeTable {
  absl::Mutex mu;
  std::map<int64_t, std::string> rows ABSL_GUARDED_BY(mu);
};

// SQL's semantics over a map: insert fails on an existing row, update on a missing
// one. Every op sleeps 100 us. Optionally breaks after `ops_before_broken` ops, or
// fails every other update.
class MapTarget final : public SqlKvTarget {
 public:
  explicit MapTarget(FakeTable* table, int64_t ops_before_broken = -1,
                     bool fail_every_other_update = false)
      : table_(table), ops_left_(ops_before_broken), flaky_(fail_every_other_update) {}
  absl::StatusOr<std::string> Select(int64_t k) override {
    Tick();
    absl::MutexLock lock(&table_->mu);
    auto it = table_->rows.find(k);
    if (it == table_->rows.end()) return absl::NotFoundError("no row");
    return it->second;
  }
  absl::Status Insert(int64_t k, absl::string_view value) override {
    Tick();
    absl::MutexLock lock(&table_->mu);
    if (!table_->rows.emplace(k, std::string(value)).second) {
      return absl::AlreadyExistsError("row exists");
    }
    return absl::OkStatus();
  }
  absl::Status Update(int64_t k, absl::string_view value) override {
    Tick();
    if (flaky_ && ++updates_ % 2 == 0) return absl::UnavailableError("flaky update");
    absl::MutexLock lock(&table_->mu);
    auto it = table_->rows.find(k);
    if (it == table_->rows.end()) return absl::NotFoundError("no row");
    it->second = std::string(value);
    return absl::OkStatus();
  }
  bool broken() const override { return ops_left_ == 0; }

 private:
  void Tick() {
    absl::SleepFor(absl::Microseconds(100));
    if (ops_left_ > 0) --ops_left_;
  }
  FakeTable* const table_;
  int64_t ops_left_;  // -1: never breaks
  const bool flaky_;
  int64_t updates_ = 0;
};

class SqlKvPhaseTest : public ::testing::Test {
 protected:
  SqlKvPhaseTest() {
    options_.keys = 50;
    options_.value_bytes = 16;
    options_.duration = absl::Milliseconds(200);
    options_.progress_interval = absl::Milliseconds(50);
    options_.seed = 7;
    absl::MutexLock lock(&table_.mu);
    for (int64_t k = 0; k < options_.keys; ++k) table_.rows[k] = "preloaded";
  }

  SqlKvTargetFactory Factory(int64_t ops_before_broken = -1) {
    return
        [this, ops_before_broken](SqlKvApi, int) -> absl::StatusOr<std::unique_ptr<SqlKvTarget>> {
          ++made_;
          return std::make_unique<MapTarget>(&table_, ops_before_broken);
        };
  }
  FreshKeyAllocator Allocator() {
    return [this](int64_t count) -> absl::StatusOr<int64_t> {
      return kSqlKvFreshKeyBase + (next_fresh_ += count) - count;
    };
  }

  SqlKvOptions options_;
  FakeTable table_;
  std::atomic<int> made_{0};
  std::atomic<int64_t> next_fresh_{0};
  std::ostringstream progress_;
};

TEST_F(SqlKvPhaseTest, SelectAndUpdateHitPreloadedRows) {
  for (SqlKvOp op : {SqlKvOp::kSelect, SqlKvOp::kUpdate}) {
    absl::StatusOr<SqlKvPhaseResult> result = RunSqlKvPhase(
        SqlKvPhase{op, SqlKvApi::kSql, 3}, 0, options_, Factory(), Allocator(), progress_);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_GT(result->ops, 10);
    EXPECT_EQ(result->errors, 0) << result->first_error;
    EXPECT_GT(result->p50_ms, 0.09);
    EXPECT_LE(result->p50_ms, result->p99_ms);
    EXPECT_FALSE(result->server_cpu_ms.has_value());  // no pids given
    ASSERT_TRUE(result->client_cpu_ms.has_value());
    EXPECT_GT(result->OpsPerSecond(), 0);
  }
  EXPECT_EQ(made_.load(), 6);
  absl::MutexLock lock(&table_.mu);
  EXPECT_EQ(table_.rows.size(), 50u);  // updates wrote no new row
  int updated = 0;
  for (const auto& [k, v] : table_.rows) {
    if (v != "preloaded") {
      EXPECT_EQ(v.size(), 16u);
      ++updated;
    }
  }
  EXPECT_GT(updated, 0);
  EXPECT_NE(progress_.str().find("run sql-kv update/sql c=3: elapsed="), std::string::npos)
      << progress_.str();
}

TEST_F(SqlKvPhaseTest, InsertsTakeFreshKeysInBlocks) {
  options_.server_pids = {getpid()};
  absl::StatusOr<SqlKvPhaseResult> result =
      RunSqlKvPhase(SqlKvPhase{SqlKvOp::kInsert, SqlKvApi::kKv, 4}, 1, options_, Factory(),
                    Allocator(), progress_);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->errors, 0) << result->first_error;
  EXPECT_GT(result->ops, 10);
  // Whole blocks, at least one per client, and every insert's key from one of them.
  EXPECT_EQ(next_fresh_.load() % kSqlKvFreshBlockKeys, 0);
  EXPECT_GE(next_fresh_.load(), 4 * kSqlKvFreshBlockKeys);
  EXPECT_LE(result->ops, next_fresh_.load());
  absl::MutexLock lock(&table_.mu);
  EXPECT_EQ(static_cast<int64_t>(table_.rows.size()), options_.keys + result->ops);
  EXPECT_GE(table_.rows.rbegin()->first, kSqlKvFreshKeyBase);
  // The server pid is this process: its CPU time is known.
  EXPECT_TRUE(result->server_cpu_ms.has_value());
  EXPECT_TRUE(result->ServerCpuMsPerOp().has_value());
}

TEST_F(SqlKvPhaseTest, ABrokenClientStopsItsWorker) {
  // The warm-up select is the first of the five ops.
  absl::StatusOr<SqlKvPhaseResult> result =
      RunSqlKvPhase(SqlKvPhase{SqlKvOp::kSelect, SqlKvApi::kSql, 2}, 0, options_, Factory(5),
                    Allocator(), progress_);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->ops, 2 * 4);
  EXPECT_LT(result->elapsed, options_.duration);
}

TEST_F(SqlKvPhaseTest, FailuresAreCountedAndTheFirstIsKept) {
  absl::StatusOr<SqlKvPhaseResult> result = RunSqlKvPhase(
      SqlKvPhase{SqlKvOp::kUpdate, SqlKvApi::kSql, 2}, 0, options_,
      [this](SqlKvApi, int) -> absl::StatusOr<std::unique_ptr<SqlKvTarget>> {
        return std::make_unique<MapTarget>(&table_, -1, /*fail_every_other_update=*/true);
      },
      Allocator(), progress_);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_GT(result->ops, 0);
  EXPECT_NEAR(result->errors, result->ops, 2);
  EXPECT_EQ(result->first_error, "flaky update");
}

TEST_F(SqlKvPhaseTest, AWarmUpFailureFailsThePhase) {
  {
    absl::MutexLock lock(&table_.mu);
    table_.rows.clear();  // not initialized
  }
  absl::StatusOr<SqlKvPhaseResult> result =
      RunSqlKvPhase(SqlKvPhase{SqlKvOp::kSelect, SqlKvApi::kKv, 1}, 0, options_, Factory(),
                    Allocator(), progress_);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message(), "run sql-kv select/kv c=1: warming client 0: no row");
}

// ---- The result table ----

SqlKvPhaseResult Phase(SqlKvOp op, SqlKvApi api, int clients, int64_t ops, double p50, double p99,
                       std::optional<double> server_ms, std::optional<double> client_ms) {
  SqlKvPhaseResult r;
  r.phase = SqlKvPhase{op, api, clients};
  r.ops = ops;
  r.elapsed = absl::Seconds(10);
  r.p50_ms = p50;
  r.p99_ms = p99;
  r.server_cpu_ms = server_ms;
  r.client_cpu_ms = client_ms;
  return r;
}

TEST(SqlKvTableTest, Golden) {
  std::vector<SqlKvComparison> rows(3);
  rows[0] = {SqlKvOp::kSelect, 1,
             Phase(SqlKvOp::kSelect, SqlKvApi::kSql, 1, 1000, 2.0, 4.0, 3000, 500),
             Phase(SqlKvOp::kSelect, SqlKvApi::kKv, 1, 2000, 1.6, 2.5, 2000, 400)};
  rows[1] = {SqlKvOp::kSelect, 32,
             Phase(SqlKvOp::kSelect, SqlKvApi::kSql, 32, 6000, 50, 90, 30000, 3000),
             Phase(SqlKvOp::kSelect, SqlKvApi::kKv, 32, 7500, 40, 80, 15000, 3000)};
  rows[2] = {SqlKvOp::kUpdate, 1,
             Phase(SqlKvOp::kUpdate, SqlKvApi::kSql, 1, 500, 4.0, 8.0, std::nullopt, 100),
             Phase(SqlKvOp::kUpdate, SqlKvApi::kKv, 1, 1000, 2.0, 3.0, std::nullopt, 100)};
  rows[2].sql.errors = 3;
  rows[2].sql.first_error = "SQLSTATE 40001: restart transaction";
  EXPECT_EQ(FormatSqlKvTable(rows),
            "op     clients  sql_ops/s   kv_ops/s  ratio sql_p50_ms sql_p99_ms  kv_p50_ms  "
            "kv_p99_ms p50_ratio sql_err  kv_err\n"
            "select       1      100.0      200.0   0.50      2.000      4.000      1.600      "
            "2.500      1.25       0       0\n"
            "select      32      600.0      750.0   0.80     50.000     90.000     40.000     "
            "80.000      1.25       0       0\n"
            "update       1       50.0      100.0   0.50      4.000      8.000      2.000      "
            "3.000      2.00       3       0\n"
            "\n"
            "CPU ms per operation (server: the server pids, summed; client: this process, the "
            "load generator):\n"
            "op     clients sql_server  kv_server  ratio sql_client  kv_client\n"
            "select       1      3.000      1.000   3.00      0.500      0.200\n"
            "select      32      5.000      2.000   2.50      0.500      0.400\n"
            "update       1          -          -      -      0.200      0.100\n"
            "\n"
            "notes: ratio = sql/kv. Every SQL statement is a transaction that also reads the "
            "schema version; SQL insert also reads its key (is it free?), SQL update also reads "
            "the row; KV insert and update are blind Puts, KV select a Get.\n"
            "errors update/sql c=1: 3, the first: SQLSTATE 40001: restart transaction\n"
            "target select: c1 p50 latency sql/kv=1.25 (<= 1.3: met); c32 ops/s sql/kv=0.80 "
            "(>= 0.8: met)\n"
            "target update: c1 p50 latency sql/kv=2.00 (<= 1.3: missed); c1 ops/s sql/kv=0.50 "
            "(>= 0.8: missed)\n"
            "sql/kv: select c1_latency=1.25 c32_throughput=0.80 update c1_latency=2.00 "
            "c1_throughput=0.50\n");
}

TEST(SqlKvTableTest, ScanLine) {
  SqlKvScanResult scan;
  scan.rows = 100000;
  scan.repeats = 3;
  scan.sql_count = absl::Seconds(2);
  scan.sql_sum = absl::Milliseconds(2500);
  scan.kv_scan = absl::Milliseconds(500);
  EXPECT_EQ(FormatSqlKvScan(scan),
            "scan: rows=100000 (median of 3 runs) sql_count_rows/s=50000 (2.000 s) "
            "sql_sum_rows/s=40000 (2.500 s) kv_scan_rows/s=200000 (0.500 s) count/kv=0.25 "
            "sum/kv=0.20\n");
}

// ---- The command line (no cluster needed for these) ----

TEST(SqlKvCliTest, FlagsAreCheckedPerWorkload) {
  CliResult r = RunRangedb({"workload", "run", "sql-kv", "--concurrency=1,x"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_EQ(r.err, "rangedb workload run: --concurrency: \"x\" is not a client count in 1..1024\n");
  r = RunRangedb({"workload", "run", "sql-kv", "--read-percent=5"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_EQ(r.err, "rangedb workload run: --read-percent is not a flag of the sql-kv workload\n");
  r = RunRangedb({"workload", "run", "kv", "--value-bytes=5"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_EQ(r.err, "rangedb workload run: --value-bytes is not a flag of the kv workload\n");
  r = RunRangedb({"workload", "run", "kv", "--concurrency=1,32"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_EQ(r.err, "rangedb workload run: --concurrency takes a number of workers\n");
  r = RunRangedb({"workload", "run", "sql-kv", "--ops=select,drop"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  r = RunRangedb({"workload", "run", "sql-kv", "--server-pids=1,x"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  r = RunRangedb({"workload", "init", "sql-kv", "--keys=0"});
  EXPECT_EQ(r.exit_code, kExitUsage);
  EXPECT_EQ(r.err, "rangedb workload init: keys must be 1..1000000000, got 0\n");
}

}  // namespace
}  // namespace rangedb
