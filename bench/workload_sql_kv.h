// The `sql-kv` workload (issue 16): the same single-row operations through rangedb's
// SQL service and through the KV API, one after the other in one run, so their
// throughput, latency and server CPU per operation can be read side by side.
//
//   op      SQL (client/sql_client.h)             KV (client/kv_client.h)
//   select  SELECT v FROM kv WHERE k = ?          Get(bench/<k>)
//   insert  INSERT INTO kv VALUES (?, ?)          Put(bench/<k>), k fresh
//   update  UPDATE kv SET v = ? WHERE k = ?       Put(bench/<k>), k existing
//
// The SQL statements do more than their KV counterparts by nature: every SQL
// transaction reads the schema version first (docs/sql.md "Schema changes"), an
// INSERT reads its key to check it is free, an UPDATE reads the row it rewrites.
//
// Data. Table kv (k INTEGER PRIMARY KEY, v BLOB) holds rows 0..keys-1; the KV API
// holds the same numbers at SqlKvKey(k) = "bench/" + 10 digits. Table data lives
// under \x04 <table id> (docs/keyspace.md) and "bench/" starts with 'b', so neither
// can see the other. Inserts take fresh numbers from kSqlKvFreshKeyBase upwards,
// handed out in blocks by a KV counter (kSqlKvFreshCounterKey), so they never
// collide, across phases, runs and processes.
//
// A run is a list of phases: for each op, for each concurrency, SQL then KV, each
// for `duration`. Every phase makes its clients (one SqlConnection or KvClient per
// client) and warms each with one untimed select before its clock starts. With
// server pids, a phase reads their CPU time (/proc/PID/stat) before and after.
//
// This file holds the logic that needs no cluster: options, the phase loop over an
// abstract SqlKvTarget, CPU accounting and the result table. The clients over a real
// cluster, init, check and the scan benchmark are in bench/workload_sql_kv_cluster.h.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace rangedb {

enum class SqlKvOp { kSelect, kInsert, kUpdate };
enum class SqlKvApi { kSql, kKv };

// "select", "insert", "update"; "sql", "kv".
const char* SqlKvOpName(SqlKvOp op);
const char* SqlKvApiName(SqlKvApi api);

inline constexpr char kSqlKvTable[] = "kv";
inline constexpr char kSqlKvKeyPrefix[] = "bench/";
// The counter fresh insert keys come from (Increment). Not 10 digits after the
// prefix, so never a row key.
inline constexpr char kSqlKvFreshCounterKey[] = "bench/fresh-key-counter";
// Fresh keys start here; preloaded keys lie below (keys <= kSqlKvMaxKeys).
inline constexpr int64_t kSqlKvFreshKeyBase = 1'000'000'000;
inline constexpr int64_t kSqlKvMaxKeys = kSqlKvFreshKeyBase;
// Fresh keys a client takes from the counter at a time: one Increment per block.
inline constexpr int64_t kSqlKvFreshBlockKeys = 1024;
// Rows per multi-row INSERT (and per KV transaction) in init and the scan fill: at
// most limits::kMaxBatchRequests - 1 writes, so a batch commits in one round.
inline constexpr int64_t kSqlKvInitBatchRows = 100;
inline constexpr int kSqlKvMaxConcurrency = 1024;
inline constexpr size_t kSqlKvMaxConcurrencyLevels = 16;
inline constexpr int64_t kSqlKvMaxValueBytes = 1 << 20;
inline constexpr int64_t kSqlKvMaxScanRows = 10'000'000;

// "bench/" and k as 10 zero-padded digits. REQUIRES: 0 <= k.
std::string SqlKvKey(int64_t k);

struct SqlKvOptions {
  std::vector<SqlKvOp> ops = {SqlKvOp::kSelect, SqlKvOp::kInsert, SqlKvOp::kUpdate};
  std::vector<int> concurrency = {1, 32};       // clients per phase, each 1..1024
  absl::Duration duration = absl::Seconds(10);  // of each phase
  int64_t value_bytes = 64;                     // 0..kSqlKvMaxValueBytes
  int64_t keys = 10000;                         // preloaded rows, 1..kSqlKvMaxKeys
  uint64_t seed = 0;
  std::vector<int> server_pids;  // whose CPU each phase reads; empty: none
  int64_t scan_rows = 0;         // rows of the scan benchmark, 0..kSqlKvMaxScanRows; 0: none
  absl::Duration progress_interval = absl::Seconds(1);
};

// InvalidArgument naming the first option out of range.
absl::Status ValidateSqlKvOptions(const SqlKvOptions& options);

// Flag parsers; InvalidArgument naming the flag and the bad item.
// "1,32" -> {1, 32}: positive integers, no duplicates, at most kSqlKvMaxConcurrencyLevels.
absl::StatusOr<std::vector<int>> ParseConcurrencyList(absl::string_view text);
// "select,update" -> ops in the order given, no duplicates.
absl::StatusOr<std::vector<SqlKvOp>> ParseSqlKvOps(absl::string_view text);
// "123,456" -> pids; empty text -> none.
absl::StatusOr<std::vector<int>> ParsePidList(absl::string_view text);

// utime + stime (clock ticks) from the text of /proc/PID/stat. The command name
// (field 2) may hold spaces and parentheses, so fields are counted from the last ')'.
absl::StatusOr<int64_t> ParseProcStatCpuTicks(absl::string_view stat);
// The CPU time, in milliseconds, used so far by process pid (0: this process).
absl::StatusOr<double> ProcessCpuMs(int pid);

// One client of a phase, as the loop sees it. One per worker thread, so an
// implementation need not be thread-safe.
class SqlKvTarget {
 public:
  virtual ~SqlKvTarget() = default;
  // The value of row k; NotFound when k has none.
  virtual absl::StatusOr<std::string> Select(int64_t k) = 0;
  // Writes a new row k; an error if it exists (SQL) or could not be written.
  virtual absl::Status Insert(int64_t k, absl::string_view value) = 0;
  // Rewrites row k; an error if it does not exist (SQL) or could not be written.
  virtual absl::Status Update(int64_t k, absl::string_view value) = 0;
  // True once the client cannot go on (a closed SQL session): its worker stops.
  virtual bool broken() const { return false; }
};

// Makes client number `index` (0-based) of a phase on `api`.
using SqlKvTargetFactory =
    std::function<absl::StatusOr<std::unique_ptr<SqlKvTarget>>(SqlKvApi api, int index)>;
// Reserves `count` fresh keys and returns the first; the block is [first, first + count).
// Called from worker threads: must be thread-safe.
using FreshKeyAllocator = std::function<absl::StatusOr<int64_t>(int64_t count)>;

struct SqlKvPhase {
  SqlKvOp op = SqlKvOp::kSelect;
  SqlKvApi api = SqlKvApi::kSql;
  int clients = 1;
};

struct SqlKvPhaseResult {
  SqlKvPhase phase;
  int64_t ops = 0;          // operations that succeeded
  int64_t errors = 0;       // operations that failed (fresh-key reservations included)
  std::string first_error;  // the first failure's message, "" if none
  absl::Duration elapsed;
  double p50_ms = 0;  // latency over every timed operation, failed ones included (±4%)
  double p99_ms = 0;
  std::optional<double> server_cpu_ms;  // CPU of the server pids during the phase
  std::optional<double> client_cpu_ms;  // CPU of this process during the phase

  double OpsPerSecond() const;
  // CPU milliseconds per successful operation; nullopt if unknown or no op.
  std::optional<double> ServerCpuMsPerOp() const;
  std::optional<double> ClientCpuMsPerOp() const;
};

// Runs one phase: phase.clients workers for options.duration, each with its own
// target from the factory (made and warmed with one untimed Select of a random
// preloaded key before the clock starts), doing phase.op over random keys in
// [0, options.keys) (select, update) or fresh keys (insert). Progress lines go to
// `progress`. `phase_number` varies the seed between phases. Fails only if a target
// cannot be made or warmed; failed operations are counted.
absl::StatusOr<SqlKvPhaseResult> RunSqlKvPhase(const SqlKvPhase& phase, int phase_number,
                                               const SqlKvOptions& options,
                                               const SqlKvTargetFactory& factory,
                                               const FreshKeyAllocator& fresh_keys,
                                               std::ostream& progress);

// One line of the table: the SQL and the KV phase of one op at one concurrency.
struct SqlKvComparison {
  SqlKvOp op = SqlKvOp::kSelect;
  int clients = 1;
  SqlKvPhaseResult sql;
  SqlKvPhaseResult kv;

  double ThroughputRatio() const;  // SQL ops/s / KV ops/s (0 when KV did nothing)
  double LatencyRatio() const;     // SQL p50 / KV p50 (0 when KV has no p50)
};

// Runs every phase of options (for each op, for each concurrency: SQL, then KV).
absl::StatusOr<std::vector<SqlKvComparison>> RunSqlKvComparisons(
    const SqlKvOptions& options, const SqlKvTargetFactory& factory,
    const FreshKeyAllocator& fresh_keys, std::ostream& progress);

// The result table, one line per comparison, with a header and notes on what each
// side does; then the targets of issue 16 (SQL p50 <= 1.3x KV at the lowest
// concurrency, SQL ops/s >= 0.8x KV at the highest) per op, and last one summary line
// "sql/kv: select c1_latency=X c32_throughput=Y insert ... update ...".
std::string FormatSqlKvTable(const std::vector<SqlKvComparison>& rows);

// The scan benchmark's figures: each time is the median of `repeats` runs.
struct SqlKvScanResult {
  int64_t rows = 0;
  int repeats = 0;
  absl::Duration sql_count;  // SELECT count(*) FROM scan_t
  absl::Duration sql_sum;    // SELECT sum(x) FROM scan_t
  absl::Duration kv_scan;    // KvClient::ScanEach over the table's row span
};

// "scan: rows=N ..." lines: rows/s of each and the SQL/KV ratios.
std::string FormatSqlKvScan(const SqlKvScanResult& result);

}  // namespace rangedb
