// The `sql-scan` workload (issue 16's scan benchmark): full-table aggregates through
// rangedb's SQL service against a raw MVCC scan of the same rows in this process.
//
//   sql count   SELECT count(*) FROM sql_scan_t      (SQL service, one session)
//   sql sum     SELECT sum(x) FROM sql_scan_t
//   kv scan     KvClient::ScanEach over the table's row span, through the session's node
//   mvcc scan   MVCCScan over a copy of the same rows in an in-process engine, in pages
//               of kv::kScanPageRows (the pages a SQL scan asks for): the baseline
//   rocksdb     a bare engine iterator over that copy, counting entries (diagnostic)
//
// Data. sql_scan_t (id INTEGER PRIMARY KEY, x INTEGER) holds id = x = 0..rows-1,
// loaded by `INSERT OR IGNORE ... SELECT` from a recursive CTE, kSqlScanLoadChunkRows
// rows a statement (one transaction, far below limits::kMaxTxnWriteBytes), chunk
// after chunk (--load-workers sessions in parallel). The baseline's rows are the
// table's own: the KV scan's keys and values, written as committed MVCC versions into
// a fresh on-disk engine (default EngineOptions, like bench/storage_bench.cc), flushed
// and read once (a warm block cache), so both sides scan the same number of rows of
// the same bytes.
//
// Each measurement is checked (count, sum, rows seen) and repeated; the median time is
// reported as rows/s, with the ratio to the MVCC scan and CPU per row: of the server
// pids (per node and in all) for the SQL and KV scans, of this process for the
// in-process scans.
//
// This header holds what needs no cluster (options, the load's SQL, the in-process
// baseline, the report); RunSqlScanCommand in workload_sql_scan_cluster.cc drives a
// real cluster.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/kv_api.h"
#include "bench/workload_sql_kv_cluster.h"

namespace rangedb {

inline constexpr char kSqlScanTable[] = "sql_scan_t";
inline constexpr int64_t kSqlScanDefaultRows = 1'000'000;
inline constexpr int64_t kSqlScanMaxRows = 10'000'000;
// Rows per load statement: ~40 bytes of key and value each, so about 200 KiB of writes
// per transaction, far below kMaxTxnWriteBytes (64 MiB). The bound is time, not bytes:
// the INSERT reads each key before writing it (is it free?), about 0.5 ms a row on
// the 2-core machine, so a chunk takes a few seconds, four at a time longer; pass a
// --timeout of a minute or so (bench/sql_scan_bench.sh does).
inline constexpr int64_t kSqlScanLoadChunkRows = 5'000;
// Sessions loading in parallel. One by default: on the 2-core machine one session
// loaded ~3,500 rows/s, four together ~1,900 rows/s (2026-12-07).
inline constexpr int kSqlScanDefaultLoadWorkers = 1;
inline constexpr int kSqlScanMaxLoadWorkers = 32;
inline constexpr int kSqlScanDefaultRepeats = 3;
inline constexpr int kSqlScanMaxRepeats = 20;

struct SqlScanOptions {
  int64_t rows = kSqlScanDefaultRows;             // 1..kSqlScanMaxRows
  int load_workers = kSqlScanDefaultLoadWorkers;  // 1..kSqlScanMaxLoadWorkers
  int repeats = kSqlScanDefaultRepeats;           // 1..kSqlScanMaxRepeats
  std::vector<int> server_pids;                   // whose CPU is read; empty: none
  std::string work_dir = "/tmp";                  // where the baseline's engine lives
};

// InvalidArgument naming the first option out of range.
absl::Status ValidateSqlScanOptions(const SqlScanOptions& options);

// The statement that loads ids [first, first + count) (x = id):
//   WITH RECURSIVE c(i) AS (SELECT first UNION ALL SELECT i + 1 FROM c WHERE i + 1 < end)
//   INSERT OR IGNORE INTO sql_scan_t (id, x) SELECT i, i FROM c
// REQUIRES: first >= 0, count >= 1.
std::string SqlScanLoadSql(int64_t first, int64_t count);

// sum(x) over ids 0..rows-1.
inline int64_t SqlScanExpectedSum(int64_t rows) { return rows * (rows - 1) / 2; }

// One measured scan: the median time over its repeats and the CPU it cost.
struct SqlScanMeasurement {
  std::string name;
  int64_t rows = 0;  // rows each repeat read
  int repeats = 0;
  absl::Duration median;  // of the repeats' wall times
  // CPU ms over all repeats: per server pid (in SqlScanOptions order) for the cluster
  // scans, empty for the in-process ones; `own_cpu_ms` is this process's.
  std::vector<double> server_cpu_ms;
  std::optional<double> own_cpu_ms;

  double RowsPerSecond() const;
  // ns of CPU per row read (over every repeat); nullopt when not measured.
  std::optional<double> ServerCpuNsPerRow() const;
  std::optional<double> ServerCpuNsPerRow(size_t pid_index) const;
  std::optional<double> OwnCpuNsPerRow() const;
};

// Times fn `repeats` times; each run returns what it counted, which must equal
// `expected` (else InternalError naming `name`). Reads the CPU of server_pids and of
// this process around the whole series. Prints one progress line per run.
absl::StatusOr<SqlScanMeasurement> MeasureScan(const std::string& name, int64_t rows,
                                               int64_t expected, int repeats,
                                               const std::vector<int>& server_pids,
                                               const std::function<absl::StatusOr<int64_t>()>& fn,
                                               std::ostream& progress);

// The in-process baseline over `rows` (a table's keys and values, ascending): writes
// them as committed MVCC versions into a fresh engine in a temp directory under
// work_dir (removed before returning), flushes and warms it, then measures
// "mvcc scan" (MVCCScan in pages of kv::kScanPageRows) and "rocksdb iterator".
// Returns the two measurements in that order.
absl::StatusOr<std::vector<SqlScanMeasurement>> RunMvccScanBaseline(
    const std::vector<kv::KeyValue>& rows, const std::string& work_dir, int repeats,
    std::ostream& progress);

// The report: one line per measurement (rows/s, median s, ratio to `baseline_name`,
// CPU ns/row), a header naming the pids, and last
// "sql/mvcc rows/s: count=X sum=Y kv=Z".
std::string FormatSqlScanReport(const std::vector<SqlScanMeasurement>& measurements,
                                const std::vector<int>& server_pids);

// `rangedb workload VERB sql-scan`: init loads the table, check counts it, run loads
// it when short and measures. Prints its output; returns the process exit code.
int RunSqlScanCommand(const std::string& verb, const SqlScanOptions& options,
                      const SqlKvCluster& cluster, std::ostream& out, std::ostream& err);

}  // namespace rangedb
