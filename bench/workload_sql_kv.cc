#include "bench/workload_sql_kv.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bench/latency_histogram.h"

namespace rangedb {
namespace {

// Issue 16's targets.
constexpr double kTargetLatencyRatioMax = 1.3;
constexpr double kTargetThroughputRatioMin = 0.8;

// Random printable bytes, so values are not trivially compressible.
std::string RandomPrintable(std::mt19937_64& rng, int64_t size) {
  std::uniform_int_distribution<int> dist('!', '~');
  std::string s(static_cast<size_t>(size), ' ');
  for (char& c : s) c = static_cast<char>(dist(rng));
  return s;
}

int64_t ElapsedMicros(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                               since)
      .count();
}

// The summed CPU time of pids; nullopt if one cannot be read (a server exited).
std::optional<double> CpuMsOf(const std::vector<int>& pids) {
  double total = 0;
  for (int pid : pids) {
    absl::StatusOr<double> ms = ProcessCpuMs(pid);
    if (!ms.ok()) return std::nullopt;
    total += *ms;
  }
  return total;
}

std::optional<double> Difference(std::optional<double> before, std::optional<double> after) {
  if (!before || !after) return std::nullopt;
  return *after - *before;
}

std::optional<double> PerOp(std::optional<double> ms, int64_t ops) {
  if (!ms || ops <= 0) return std::nullopt;
  return *ms / static_cast<double>(ops);
}

std::string PhaseLabel(const SqlKvPhase& phase) {
  return absl::StrCat(SqlKvOpName(phase.op), "/", SqlKvApiName(phase.api), " c=", phase.clients);
}

// Counts the progress reporter reads while the workers run.
struct Counters {
  std::atomic<int64_t> ops{0};
  std::atomic<int64_t> errors{0};
};

// What one worker of a phase does until `end`: its own keys, value pool and
// histogram. Records the first error it sees in *first_error (under mu).
void RunWorker(const SqlKvPhase& phase, const SqlKvOptions& options, uint64_t seed, absl::Time end,
               SqlKvTarget& target, const FreshKeyAllocator& fresh_keys, Counters& counters,
               LatencyHistogram& histogram, absl::Mutex& mu, std::string* first_error) {
  std::mt19937_64 rng(seed);
  // Values are windows of one random pool, so making them costs nothing per op.
  const std::string pool = RandomPrintable(rng, 2 * options.value_bytes + 1);
  std::uniform_int_distribution<int64_t> key_dist(0, options.keys - 1);
  std::uniform_int_distribution<int64_t> offset(0, options.value_bytes);
  auto note_error = [&](const absl::Status& status) {
    ++counters.errors;
    absl::MutexLock lock(&mu);
    if (first_error->empty()) *first_error = std::string(status.message());
  };
  int64_t next_fresh = 0;
  int64_t fresh_end = 0;  // [next_fresh, fresh_end) is this worker's reserved block
  while (absl::Now() < end && !target.broken()) {
    int64_t k = 0;
    if (phase.op == SqlKvOp::kInsert) {
      if (next_fresh == fresh_end) {  // untimed: a KV Increment every block
        absl::StatusOr<int64_t> first = fresh_keys(kSqlKvFreshBlockKeys);
        if (!first.ok()) {
          note_error(first.status());
          absl::SleepFor(absl::Milliseconds(10));  // bounds the loop while the counter fails
          continue;
        }
        next_fresh = *first;
        fresh_end = *first + kSqlKvFreshBlockKeys;
      }
      k = next_fresh++;
    } else {
      k = key_dist(rng);
    }
    const absl::string_view value =
        absl::string_view(pool).substr(offset(rng), options.value_bytes);
    const auto start = std::chrono::steady_clock::now();
    absl::Status status;
    switch (phase.op) {
      case SqlKvOp::kSelect:
        status = target.Select(k).status();
        break;
      case SqlKvOp::kInsert:
        status = target.Insert(k, value);
        break;
      case SqlKvOp::kUpdate:
        status = target.Update(k, value);
        break;
    }
    histogram.Record(ElapsedMicros(start));
    if (status.ok()) {
      ++counters.ops;
    } else {
      note_error(status);
    }
  }
}

}  // namespace

const char* SqlKvOpName(SqlKvOp op) {
  switch (op) {
    case SqlKvOp::kSelect:
      return "select";
    case SqlKvOp::kInsert:
      return "insert";
    case SqlKvOp::kUpdate:
      return "update";
  }
  return "?";
}

const char* SqlKvApiName(SqlKvApi api) { return api == SqlKvApi::kSql ? "sql" : "kv"; }

std::string SqlKvKey(int64_t k) { return absl::StrFormat("%s%010d", kSqlKvKeyPrefix, k); }

absl::Status ValidateSqlKvOptions(const SqlKvOptions& options) {
  if (options.ops.empty()) return absl::InvalidArgumentError("ops must name at least one op");
  if (options.concurrency.empty() || options.concurrency.size() > kSqlKvMaxConcurrencyLevels) {
    return absl::InvalidArgumentError(
        absl::StrCat("concurrency must list 1..", kSqlKvMaxConcurrencyLevels, " levels"));
  }
  for (int c : options.concurrency) {
    if (c < 1 || c > kSqlKvMaxConcurrency) {
      return absl::InvalidArgumentError(
          absl::StrCat("concurrency must be 1..", kSqlKvMaxConcurrency, ", got ", c));
    }
  }
  if (options.duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("duration must be positive");
  }
  if (options.value_bytes < 0 || options.value_bytes > kSqlKvMaxValueBytes) {
    return absl::InvalidArgumentError(absl::StrCat("value-bytes must be 0..", kSqlKvMaxValueBytes,
                                                   ", got ", options.value_bytes));
  }
  if (options.keys < 1 || options.keys > kSqlKvMaxKeys) {
    return absl::InvalidArgumentError(
        absl::StrCat("keys must be 1..", kSqlKvMaxKeys, ", got ", options.keys));
  }
  if (options.scan_rows < 0 || options.scan_rows > kSqlKvMaxScanRows) {
    return absl::InvalidArgumentError(
        absl::StrCat("scan-rows must be 0..", kSqlKvMaxScanRows, ", got ", options.scan_rows));
  }
  for (int pid : options.server_pids) {
    if (pid <= 0) return absl::InvalidArgumentError(absl::StrCat("bad server pid ", pid));
  }
  if (options.progress_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("progress interval must be positive");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<int>> ParseConcurrencyList(absl::string_view text) {
  std::vector<int> levels;
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    int c = 0;
    if (!absl::SimpleAtoi(item, &c) || c < 1 || c > kSqlKvMaxConcurrency) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--concurrency: \"", item, "\" is not a client count in 1..", kSqlKvMaxConcurrency));
    }
    if (std::find(levels.begin(), levels.end(), c) != levels.end()) {
      return absl::InvalidArgumentError(absl::StrCat("--concurrency: ", c, " is listed twice"));
    }
    levels.push_back(c);
  }
  if (levels.size() > kSqlKvMaxConcurrencyLevels) {
    return absl::InvalidArgumentError(
        absl::StrCat("--concurrency: at most ", kSqlKvMaxConcurrencyLevels, " levels"));
  }
  return levels;
}

absl::StatusOr<std::vector<SqlKvOp>> ParseSqlKvOps(absl::string_view text) {
  std::vector<SqlKvOp> ops;
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    std::optional<SqlKvOp> op;
    for (SqlKvOp candidate : {SqlKvOp::kSelect, SqlKvOp::kInsert, SqlKvOp::kUpdate}) {
      if (item == SqlKvOpName(candidate)) op = candidate;
    }
    if (!op) {
      return absl::InvalidArgumentError(
          absl::StrCat("--ops: \"", item, "\" is not one of select, insert, update"));
    }
    if (std::find(ops.begin(), ops.end(), *op) != ops.end()) {
      return absl::InvalidArgumentError(absl::StrCat("--ops: ", item, " is listed twice"));
    }
    ops.push_back(*op);
  }
  return ops;
}

absl::StatusOr<std::vector<int>> ParsePidList(absl::string_view text) {
  std::vector<int> pids;
  if (text.empty()) return pids;
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    int pid = 0;
    if (!absl::SimpleAtoi(item, &pid) || pid <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--server-pids: \"", item, "\" is not a process id"));
    }
    pids.push_back(pid);
  }
  return pids;
}

absl::StatusOr<int64_t> ParseProcStatCpuTicks(absl::string_view stat) {
  const size_t paren = stat.rfind(')');
  if (paren == absl::string_view::npos) {
    return absl::InvalidArgumentError("no ')' after the command name");
  }
  // Fields after the name, from field 3 (state): utime is field 14, stime field 15.
  const std::vector<absl::string_view> fields =
      absl::StrSplit(stat.substr(paren + 1), ' ', absl::SkipEmpty());
  constexpr size_t kUtime = 14 - 3;
  constexpr size_t kStime = 15 - 3;
  int64_t utime = 0;
  int64_t stime = 0;
  if (fields.size() <= kStime || !absl::SimpleAtoi(fields[kUtime], &utime) ||
      !absl::SimpleAtoi(fields[kStime], &stime)) {
    return absl::InvalidArgumentError("no utime and stime fields");
  }
  return utime + stime;
}

absl::StatusOr<double> ProcessCpuMs(int pid) {
  const std::string path = pid == 0 ? "/proc/self/stat" : absl::StrCat("/proc/", pid, "/stat");
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  if (!file) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  absl::StatusOr<int64_t> ticks = ParseProcStatCpuTicks(text.str());
  if (!ticks.ok()) {
    return absl::InternalError(absl::StrCat(path, ": ", ticks.status().message()));
  }
  static const long kTicksPerSecond = sysconf(_SC_CLK_TCK);
  return static_cast<double>(*ticks) * 1000.0 / static_cast<double>(kTicksPerSecond);
}

double SqlKvPhaseResult::OpsPerSecond() const {
  const double seconds = absl::ToDoubleSeconds(elapsed);
  return seconds > 0 ? ops / seconds : 0;
}

std::optional<double> SqlKvPhaseResult::ServerCpuMsPerOp() const {
  return PerOp(server_cpu_ms, ops);
}
std::optional<double> SqlKvPhaseResult::ClientCpuMsPerOp() const {
  return PerOp(client_cpu_ms, ops);
}

absl::StatusOr<SqlKvPhaseResult> RunSqlKvPhase(const SqlKvPhase& phase, int phase_number,
                                               const SqlKvOptions& options,
                                               const SqlKvTargetFactory& factory,
                                               const FreshKeyAllocator& fresh_keys,
                                               std::ostream& progress) {
  if (absl::Status s = ValidateSqlKvOptions(options); !s.ok()) return s;
  const std::string label = absl::StrCat("run sql-kv ", PhaseLabel(phase));
  const uint64_t seed = options.seed + static_cast<uint64_t>(phase_number) * 4096;
  // Clients first, each warmed (connections, a session's first schema load): untimed.
  std::vector<std::unique_ptr<SqlKvTarget>> targets;
  std::mt19937_64 warm_rng(seed);
  std::uniform_int_distribution<int64_t> warm_key(0, options.keys - 1);
  for (int i = 0; i < phase.clients; ++i) {
    absl::StatusOr<std::unique_ptr<SqlKvTarget>> target = factory(phase.api, i);
    if (!target.ok()) {
      return absl::Status(target.status().code(),
                          absl::StrCat(label, ": client ", i, ": ", target.status().message()));
    }
    if (absl::Status s = (*target)->Select(warm_key(warm_rng)).status(); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat(label, ": warming client ", i, ": ", s.message()));
    }
    targets.push_back(std::move(*target));
  }

  Counters counters;
  std::vector<LatencyHistogram> histograms(phase.clients);
  absl::Mutex mu;
  std::string first_error;
  int finished = 0;
  const std::optional<double> server_before = CpuMsOf(options.server_pids);
  const absl::StatusOr<double> client_before = ProcessCpuMs(0);
  const absl::Time start = absl::Now();
  const absl::Time end = start + options.duration;
  std::vector<std::thread> threads;
  for (int i = 0; i < phase.clients; ++i) {
    threads.emplace_back([&, i] {
      RunWorker(phase, options, seed + 1 + static_cast<uint64_t>(i), end, *targets[i], fresh_keys,
                counters, histograms[i], mu, &first_error);
      absl::MutexLock lock(&mu);
      ++finished;
    });
  }
  auto all_finished = [&] { return finished == phase.clients; };
  {
    absl::MutexLock lock(&mu);
    while (!mu.AwaitWithTimeout(absl::Condition(&all_finished), options.progress_interval)) {
      const double seconds = std::max(absl::ToDoubleSeconds(absl::Now() - start), 1e-9);
      progress << absl::StrFormat("%s: elapsed=%.0fs ops=%d ops/s=%.1f errors=%d\n", label, seconds,
                                  counters.ops.load(), counters.ops.load() / seconds,
                                  counters.errors.load())
               << std::flush;
    }
  }
  for (std::thread& t : threads) t.join();

  SqlKvPhaseResult result;
  result.elapsed = absl::Now() - start;
  const std::optional<double> server_after = CpuMsOf(options.server_pids);
  const absl::StatusOr<double> client_after = ProcessCpuMs(0);
  if (!options.server_pids.empty()) result.server_cpu_ms = Difference(server_before, server_after);
  if (client_before.ok() && client_after.ok())
    result.client_cpu_ms = *client_after - *client_before;
  result.phase = phase;
  result.ops = counters.ops.load();
  result.errors = counters.errors.load();
  result.first_error = first_error;
  LatencyHistogram all;
  for (const LatencyHistogram& h : histograms) all.Merge(h);
  result.p50_ms = all.QuantileMs(0.50);
  result.p99_ms = all.QuantileMs(0.99);
  return result;
}

double SqlKvComparison::ThroughputRatio() const {
  const double kv_rate = kv.OpsPerSecond();
  return kv_rate > 0 ? sql.OpsPerSecond() / kv_rate : 0;
}

double SqlKvComparison::LatencyRatio() const { return kv.p50_ms > 0 ? sql.p50_ms / kv.p50_ms : 0; }

absl::StatusOr<std::vector<SqlKvComparison>> RunSqlKvComparisons(
    const SqlKvOptions& options, const SqlKvTargetFactory& factory,
    const FreshKeyAllocator& fresh_keys, std::ostream& progress) {
  if (absl::Status s = ValidateSqlKvOptions(options); !s.ok()) return s;
  std::vector<SqlKvComparison> rows;
  int phase_number = 0;
  for (SqlKvOp op : options.ops) {
    for (int clients : options.concurrency) {
      SqlKvComparison row;
      row.op = op;
      row.clients = clients;
      for (SqlKvApi api : {SqlKvApi::kSql, SqlKvApi::kKv}) {
        absl::StatusOr<SqlKvPhaseResult> result = RunSqlKvPhase(
            SqlKvPhase{op, api, clients}, phase_number++, options, factory, fresh_keys, progress);
        if (!result.ok()) return result.status();
        (api == SqlKvApi::kSql ? row.sql : row.kv) = std::move(*result);
      }
      rows.push_back(std::move(row));
    }
  }
  return rows;
}

namespace {

std::string OptionalMs(std::optional<double> ms) {
  return ms ? absl::StrFormat("%.3f", *ms) : std::string("-");
}

std::string OptionalRatio(std::optional<double> a, std::optional<double> b) {
  return a && b && *b > 0 ? absl::StrFormat("%.2f", *a / *b) : std::string("-");
}

// The target lines and the summary line: latency at the lowest concurrency,
// throughput at the highest, per op in the order of rows.
void AppendTargets(const std::vector<SqlKvComparison>& rows, std::string* out) {
  std::vector<SqlKvOp> ops;
  for (const SqlKvComparison& row : rows) {
    if (std::find(ops.begin(), ops.end(), row.op) == ops.end()) ops.push_back(row.op);
  }
  std::vector<std::string> summary;
  for (SqlKvOp op : ops) {
    const SqlKvComparison* low = nullptr;
    const SqlKvComparison* high = nullptr;
    for (const SqlKvComparison& row : rows) {
      if (row.op != op) continue;
      if (low == nullptr || row.clients < low->clients) low = &row;
      if (high == nullptr || row.clients > high->clients) high = &row;
    }
    const double latency = low->LatencyRatio();
    const double throughput = high->ThroughputRatio();
    absl::StrAppendFormat(out,
                          "target %s: c%d p50 latency sql/kv=%.2f (<= %.1f: %s); c%d ops/s "
                          "sql/kv=%.2f (>= %.1f: %s)\n",
                          SqlKvOpName(op), low->clients, latency, kTargetLatencyRatioMax,
                          latency > 0 && latency <= kTargetLatencyRatioMax ? "met" : "missed",
                          high->clients, throughput, kTargetThroughputRatioMin,
                          throughput >= kTargetThroughputRatioMin ? "met" : "missed");
    summary.push_back(absl::StrFormat("%s c%d_latency=%.2f c%d_throughput=%.2f", SqlKvOpName(op),
                                      low->clients, latency, high->clients, throughput));
  }
  absl::StrAppend(out, "sql/kv: ", absl::StrJoin(summary, " "), "\n");
}

}  // namespace

std::string FormatSqlKvTable(const std::vector<SqlKvComparison>& rows) {
  std::string out;
  absl::StrAppendFormat(&out, "%-6s %7s %10s %10s %6s %10s %10s %10s %10s %9s %7s %7s\n", "op",
                        "clients", "sql_ops/s", "kv_ops/s", "ratio", "sql_p50_ms", "sql_p99_ms",
                        "kv_p50_ms", "kv_p99_ms", "p50_ratio", "sql_err", "kv_err");
  for (const SqlKvComparison& row : rows) {
    absl::StrAppendFormat(
        &out, "%-6s %7d %10.1f %10.1f %6.2f %10.3f %10.3f %10.3f %10.3f %9.2f %7d %7d\n",
        SqlKvOpName(row.op), row.clients, row.sql.OpsPerSecond(), row.kv.OpsPerSecond(),
        row.ThroughputRatio(), row.sql.p50_ms, row.sql.p99_ms, row.kv.p50_ms, row.kv.p99_ms,
        row.LatencyRatio(), row.sql.errors, row.kv.errors);
  }
  absl::StrAppend(&out,
                  "\nCPU ms per operation (server: the server pids, summed; client: this "
                  "process, the load generator):\n");
  absl::StrAppendFormat(&out, "%-6s %7s %10s %10s %6s %10s %10s\n", "op", "clients", "sql_server",
                        "kv_server", "ratio", "sql_client", "kv_client");
  for (const SqlKvComparison& row : rows) {
    absl::StrAppendFormat(
        &out, "%-6s %7d %10s %10s %6s %10s %10s\n", SqlKvOpName(row.op), row.clients,
        OptionalMs(row.sql.ServerCpuMsPerOp()), OptionalMs(row.kv.ServerCpuMsPerOp()),
        OptionalRatio(row.sql.ServerCpuMsPerOp(), row.kv.ServerCpuMsPerOp()),
        OptionalMs(row.sql.ClientCpuMsPerOp()), OptionalMs(row.kv.ClientCpuMsPerOp()));
  }
  absl::StrAppend(
      &out,
      "\nnotes: ratio = sql/kv. Every SQL statement is a transaction that also reads the "
      "schema version; SQL insert also reads its key (is it free?), SQL update also reads the "
      "row; KV insert and update are blind Puts, KV select a Get.\n");
  for (const SqlKvComparison& row : rows) {
    for (const SqlKvPhaseResult* r : {&row.sql, &row.kv}) {
      if (r->errors == 0) continue;
      absl::StrAppendFormat(&out, "errors %s: %d, the first: %s\n", PhaseLabel(r->phase), r->errors,
                            r->first_error);
    }
  }
  if (!rows.empty()) AppendTargets(rows, &out);
  return out;
}

std::string FormatSqlKvScan(const SqlKvScanResult& result) {
  auto rate = [&](absl::Duration d) {
    const double seconds = absl::ToDoubleSeconds(d);
    return seconds > 0 ? static_cast<double>(result.rows) / seconds : 0.0;
  };
  const double count = rate(result.sql_count);
  const double sum = rate(result.sql_sum);
  const double kv = rate(result.kv_scan);
  return absl::StrFormat(
      "scan: rows=%d (median of %d runs) sql_count_rows/s=%.0f (%.3f s) sql_sum_rows/s=%.0f "
      "(%.3f s) kv_scan_rows/s=%.0f (%.3f s) count/kv=%.2f sum/kv=%.2f\n",
      result.rows, result.repeats, count, absl::ToDoubleSeconds(result.sql_count), sum,
      absl::ToDoubleSeconds(result.sql_sum), kv, absl::ToDoubleSeconds(result.kv_scan),
      kv > 0 ? count / kv : 0.0, kv > 0 ? sum / kv : 0.0);
}

}  // namespace rangedb
