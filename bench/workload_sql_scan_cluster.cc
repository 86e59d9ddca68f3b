// The sql-scan workload against a real cluster (bench/workload_sql_scan.h says what
// it measures): loading sql_scan_t, and `init`, `run` and `check`.
#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "bench/workload_sql_scan.h"
#include "client/cli/command.h"

namespace rangedb {

using client::KvClient;
using client::SqlConnection;
namespace {

constexpr char kCountSql[] = "SELECT count(*) FROM sql_scan_t";
constexpr char kSumSql[] = "SELECT sum(x) FROM sql_scan_t";

absl::Status CreateTable(SqlConnection& connection) {
  return Execute(connection, absl::StrCat("CREATE TABLE IF NOT EXISTS ", kSqlScanTable,
                                          " (id INTEGER PRIMARY KEY, x INTEGER)"))
      .status();
}

// Makes sql_scan_t hold exactly ids 0..rows-1 (x = id): creates it, and loads the
// chunks when it holds fewer rows (INSERT OR IGNORE completes a partial load).
absl::Status LoadTable(const SqlScanOptions& options, const SqlKvCluster& cluster,
                       std::ostream& progress) {
  absl::StatusOr<std::unique_ptr<SqlConnection>> connection = ConnectSql(cluster, 0);
  if (!connection.ok()) return connection.status();
  if (absl::Status s = CreateTable(**connection); !s.ok()) return s;
  absl::StatusOr<int64_t> count = QueryInteger(**connection, kCountSql);
  if (!count.ok()) return count.status();
  if (*count < options.rows) {
    progress << "load: " << kSqlScanTable << " holds " << *count << " rows; loading "
             << options.rows << " in statements of " << kSqlScanLoadChunkRows << " rows on "
             << options.load_workers << " sessions\n"
             << std::flush;
    std::vector<std::unique_ptr<SqlConnection>> sessions;
    for (int w = 0; w < options.load_workers; ++w) {
      absl::StatusOr<std::unique_ptr<SqlConnection>> session = ConnectSql(cluster, w);
      if (!session.ok()) return session.status();
      sessions.push_back(std::move(*session));
    }
    const int64_t chunks = (options.rows + kSqlScanLoadChunkRows - 1) / kSqlScanLoadChunkRows;
    const absl::Time start = absl::Now();
    if (absl::Status s =
            ForEachBatch(options.load_workers, chunks, "load", progress,
                         [&](int w, int64_t chunk) -> absl::Status {
                           const int64_t first = chunk * kSqlScanLoadChunkRows;
                           const int64_t n = std::min(kSqlScanLoadChunkRows, options.rows - first);
                           return Execute(*sessions[w], SqlScanLoadSql(first, n)).status();
                         });
        !s.ok()) {
      return s;
    }
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    progress << absl::StrFormat("load: %d rows in %.1f s (%.0f rows/s)\n", options.rows - *count,
                                seconds, (options.rows - *count) / std::max(seconds, 1e-9))
             << std::flush;
    count = QueryInteger(**connection, kCountSql);
    if (!count.ok()) return count.status();
  }
  if (*count != options.rows) {
    return absl::FailedPreconditionError(absl::StrCat(
        kSqlScanTable, " holds ", *count, " rows, not ", options.rows,
        ": drop it (rangedb sql -e 'DROP TABLE ", kSqlScanTable, "') or pass --rows=", *count));
  }
  return absl::OkStatus();
}

// The measurements of `run`, in report order. The SQL session and the KV client both
// go through hosts[0], so both sides have the same gateway.
absl::StatusOr<std::vector<SqlScanMeasurement>> MeasureAll(const SqlScanOptions& options,
                                                           const SqlKvCluster& cluster,
                                                           std::ostream& progress) {
  absl::StatusOr<std::unique_ptr<SqlConnection>> connection = ConnectSql(cluster, 0);
  if (!connection.ok()) return connection.status();
  SqlKvCluster gateway = cluster;
  gateway.hosts = {cluster.hosts[0]};
  absl::StatusOr<std::unique_ptr<KvClient>> kv = MakeKvClient(gateway);
  if (!kv.ok()) return kv.status();
  absl::StatusOr<std::pair<std::string, std::string>> span = TableRowSpan(**kv, kSqlScanTable);
  if (!span.ok()) return span.status();

  std::vector<SqlScanMeasurement> out;
  for (const auto& [name, sql, expected] :
       {std::make_tuple("sql count(*)", kCountSql, options.rows),
        std::make_tuple("sql sum(x)", kSumSql, SqlScanExpectedSum(options.rows))}) {
    absl::StatusOr<SqlScanMeasurement> m = MeasureScan(
        name, options.rows, expected, options.repeats, options.server_pids,
        [&] { return QueryInteger(**connection, sql); }, progress);
    if (!m.ok()) return m.status();
    out.push_back(std::move(*m));
  }
  // The KV scan keeps the rows it read: they are the baseline's data.
  std::vector<kv::KeyValue> rows;
  absl::StatusOr<SqlScanMeasurement> kv_scan = MeasureScan(
      "kv scan", options.rows, options.rows, options.repeats, options.server_pids,
      [&]() -> absl::StatusOr<int64_t> {
        rows.clear();
        rows.reserve(options.rows);
        absl::Status s = (*kv)->ScanEach(span->first, span->second, 0, [&](kv::KeyValue row) {
          rows.push_back(std::move(row));
          return absl::OkStatus();
        });
        if (!s.ok()) return s;
        return static_cast<int64_t>(rows.size());
      },
      progress);
  if (!kv_scan.ok()) return kv_scan.status();
  out.push_back(std::move(*kv_scan));
  absl::StatusOr<std::vector<SqlScanMeasurement>> baseline =
      RunMvccScanBaseline(rows, options.work_dir, options.repeats, progress);
  if (!baseline.ok()) return baseline.status();
  for (SqlScanMeasurement& m : *baseline) out.push_back(std::move(m));
  return out;
}

}  // namespace

int RunSqlScanCommand(const std::string& verb, const SqlScanOptions& options,
                      const SqlKvCluster& cluster, std::ostream& out, std::ostream& err) {
  const std::string prefix = absl::StrCat("rangedb workload ", verb, " sql-scan: ");
  if (absl::Status s = ValidateSqlScanOptions(options); !s.ok()) {
    err << prefix << s.message() << "\n";
    return kExitUsage;
  }
  if (verb == "check") {
    absl::StatusOr<std::unique_ptr<SqlConnection>> connection = ConnectSql(cluster, 0);
    if (!connection.ok()) {
      err << prefix << connection.status().message() << "\n";
      return kExitFailure;
    }
    absl::StatusOr<int64_t> count = QueryInteger(**connection, kCountSql);
    absl::StatusOr<int64_t> sum = QueryInteger(**connection, kSumSql);
    if (!count.ok() || !sum.ok()) {
      err << prefix << (count.ok() ? sum.status() : count.status()).message() << "\n";
      return kExitFailure;
    }
    out << "check sql-scan: rows=" << *count << " expected=" << options.rows << " sum=" << *sum
        << " expected=" << SqlScanExpectedSum(options.rows) << "\n";
    return *count == options.rows && *sum == SqlScanExpectedSum(options.rows) ? kExitOk
                                                                              : kExitFailure;
  }
  if (absl::Status s = LoadTable(options, cluster, err); !s.ok()) {
    err << prefix << "load: " << s.message() << "\n";
    return kExitFailure;
  }
  if (verb == "init") {
    out << "init sql-scan: " << kSqlScanTable << " holds " << options.rows << " rows\n";
    return kExitOk;
  }
  absl::StatusOr<std::vector<SqlScanMeasurement>> measurements = MeasureAll(options, cluster, err);
  if (!measurements.ok()) {
    err << prefix << measurements.status().message() << "\n";
    return kExitFailure;
  }
  out << absl::StrFormat("sql-scan: rows=%d repeats=%d (median), hosts=%s (SQL and KV via %s)\n\n",
                         options.rows, options.repeats, absl::StrJoin(cluster.hosts, ","),
                         cluster.hosts[0])
      << FormatSqlScanReport(*measurements, options.server_pids) << std::flush;
  return kExitOk;
}

}  // namespace rangedb
