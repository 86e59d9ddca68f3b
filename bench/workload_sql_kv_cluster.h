// The `sql-kv` workload against a real cluster (bench/workload_sql_kv.h says what it
// measures): the SQL and KV clients of its phases, and `init`, `run`, `check` and the
// scan benchmark.
//
//   init   CREATE TABLE IF NOT EXISTS kv (k INTEGER PRIMARY KEY, v BLOB), then rows
//          0..keys-1 by multi-row INSERT OR REPLACE (kSqlKvInitBatchRows a statement)
//          and the same numbers under bench/ by KV transactions of as many Puts,
//          spread over workers. Running it again rewrites the values.
//   run    every phase (workload_sql_kv.h), then, with scan_rows, the scan benchmark;
//          prints the table (FormatSqlKvTable) and the scan line.
//   check  counts rows 0..keys-1 in table kv (SQL) and keys under bench/ (KV).
//
// Scan benchmark: table scan_t (id INTEGER PRIMARY KEY, x INTEGER) with rows
// id = x = 0..scan_rows-1, filled when it holds fewer (INSERT OR IGNORE, so a partial
// fill is completed); more rows than scan_rows is an error (drop the table or ask for
// that many). Then, `repeats` times each: SELECT count(*), SELECT sum(x) (both checked
// against the expected answer) and a KV scan of the table's row span
// [IndexPrefix(id, 1), IndexPrefix(id, 2)) through KvClient::ScanEach, counting rows.
//
// Thread safety: the factory and the allocator are called from worker threads and are
// thread-safe; each target they make belongs to one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bench/workload_sql_kv.h"
#include "client/kv_client.h"
#include "client/sql_client.h"

namespace rangedb {

// Where the workload's clients connect.
struct SqlKvCluster {
  std::vector<std::string> hosts;              // at least one, host:port
  absl::Duration timeout = absl::Seconds(10);  // of each statement and KV operation
};

inline constexpr char kSqlKvScanTable[] = "scan_t";
inline constexpr int kSqlKvScanRepeats = 3;
// Workers of init and of the scan fill (at most; fewer when the largest concurrency is lower).
inline constexpr int kSqlKvMaxInitWorkers = 16;

// Client i of a phase goes through node hosts[i % n], SQL or KV alike, so both sides
// have the same gateways: SQL client i opens its session there (the next hosts only
// if it refuses), KV client i is a KvClient of its own with that one host. (A
// KvClient over every host would pick a random one, and at one client the gateway
// being the leaseholder or not changes a Get's latency severalfold.)
SqlKvTargetFactory MakeClusterTargetFactory(const SqlKvCluster& cluster);
// Fresh keys from Increment(kSqlKvFreshCounterKey) on one shared KvClient.
absl::StatusOr<FreshKeyAllocator> MakeClusterFreshKeyAllocator(const SqlKvCluster& cluster);

// ---- Helpers shared with the sql-scan workload (bench/workload_sql_scan.h) ----

// One SQL request's answer: its rows, and the first statement error if any.
struct SqlAnswer {
  std::vector<client::SqlRow> rows;
  int64_t rows_affected = 0;
  std::optional<client::SqlError> error;
};

// Runs sql; a transport failure or a statement error (40xxx: kAborted, 23505:
// kAlreadyExists, others kUnknown, with the SQLSTATE in the message) is an error.
absl::StatusOr<SqlAnswer> Execute(client::SqlConnection& connection, absl::string_view sql,
                                  const std::vector<client::SqlParameter>& params = {});
// The single INTEGER a query returns (count(*), sum(x)); InternalError otherwise.
absl::StatusOr<int64_t> QueryInteger(client::SqlConnection& connection, absl::string_view sql,
                                     const std::vector<client::SqlParameter>& params = {});
// Client `index`'s session: hosts from hosts[index % n] on.
absl::StatusOr<std::unique_ptr<client::SqlConnection>> ConnectSql(const SqlKvCluster& cluster,
                                                                  int index);
// A KvClient over every host of the cluster.
absl::StatusOr<std::unique_ptr<client::KvClient>> MakeKvClient(const SqlKvCluster& cluster);
// Runs do_batch(worker, batch) for every batch in 0..batches-1 on `workers` threads,
// each taking the next batch not taken; prints "<label>: batches=d/n" about every
// second. Stops taking batches at the first error and returns it.
absl::Status ForEachBatch(int workers, int64_t batches, const std::string& label,
                          std::ostream& progress,
                          const std::function<absl::Status(int, int64_t)>& do_batch);
// [start, end) of the primary-index rows of `table`, from its id in the catalog.
absl::StatusOr<std::pair<std::string, std::string>> TableRowSpan(client::KvClient& kv,
                                                                 absl::string_view table);
// The median; REQUIRES: times is not empty.
absl::Duration Median(std::vector<absl::Duration> times);

// The scan benchmark over scan_rows rows (see the top of this file).
absl::StatusOr<SqlKvScanResult> RunSqlKvScan(int64_t scan_rows, const SqlKvCluster& cluster,
                                             std::ostream& progress);

// `rangedb workload VERB sql-kv` after flag parsing: runs verb ("init", "run" or
// "check"), prints its output, and returns the process exit code.
int RunSqlKvCommand(const std::string& verb, const SqlKvOptions& options,
                    const SqlKvCluster& cluster, std::ostream& out, std::ostream& err);

}  // namespace rangedb
