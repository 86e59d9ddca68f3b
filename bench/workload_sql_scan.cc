#include "bench/workload_sql_scan.h"

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "storage/engine.h"
#include "storage/mvcc.h"
#include "storage/mvcc_key.h"
#include "storage/mvcc_value.h"
#include "storage/rocksdb_engine.h"

namespace rangedb {
namespace {

// The baseline's versions are written at kWriteTimestamp and read above it.
constexpr Timestamp kWriteTimestamp{1'000, 0};
constexpr Timestamp kReadTimestamp{2'000, 0};
// Writes per load batch of the baseline engine (as bench/storage_bench.cc).
constexpr int64_t kBaselineBatchWrites = 16'384;
constexpr char kMvccScanName[] = "mvcc scan";
constexpr char kRocksdbIteratorName[] = "rocksdb iterator";

// A temp directory removed when this goes away (the engine must be closed first).
class TempDir {
 public:
  ~TempDir() {
    if (path_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  absl::Status Make(const std::string& parent) {
    std::string templ = absl::StrCat(parent, "/sql_scan_baseline.XXXXXX");
    if (::mkdtemp(templ.data()) == nullptr) {
      return absl::UnavailableError(absl::StrCat("cannot create a temp directory under ", parent));
    }
    path_ = templ;
    return absl::OkStatus();
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

absl::Status LoadBaseline(Engine& engine, const std::vector<kv::KeyValue>& rows) {
  std::unique_ptr<WriteBatch> batch = engine.NewWriteBatch();
  std::string key, value;
  for (const kv::KeyValue& row : rows) {
    key.clear();
    AppendMVCCKey(&key, row.key, kWriteTimestamp);
    value.clear();
    AppendMVCCValue(&value, /*provisional=*/false, /*tombstone=*/false, row.value);
    batch->Put(ColumnFamily::kData, key, value);
    if (static_cast<int64_t>(batch->Count()) >= kBaselineBatchWrites) {
      if (absl::Status s = batch->Commit(/*sync=*/false); !s.ok()) return s;
    }
  }
  if (absl::Status s = batch->Commit(/*sync=*/false); !s.ok()) return s;
  return engine.Flush();
}

// Entries of the engine's data column family, read with one bare iterator.
absl::StatusOr<int64_t> IterateAll(Engine& engine) {
  std::unique_ptr<Iterator> it = engine.NewIterator({ColumnFamily::kData, "", ""});
  int64_t entries = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++entries;
  if (absl::Status s = it->status(); !s.ok()) return s;
  return entries;
}

// Rows MVCCScan returns over [start, end), in pages of kv::kScanPageRows.
absl::StatusOr<int64_t> MvccScanAll(Engine& engine, const std::string& start,
                                    const std::string& end) {
  MVCCScanOptions options;
  options.max_keys = kv::kScanPageRows;
  std::string from = start;
  int64_t rows = 0;
  while (true) {
    absl::StatusOr<MVCCScanResult> page = MVCCScan(engine, from, end, kReadTimestamp, options);
    if (!page.ok()) return page.status();
    rows += static_cast<int64_t>(page->rows.size());
    // A page that ends exactly at the last row resumes at `end`: nothing is left.
    if (!page->resume_span || page->resume_span->start >= end) return rows;
    from = std::move(page->resume_span->start);
  }
}

absl::StatusOr<std::vector<double>> ServerCpuMs(const std::vector<int>& pids) {
  std::vector<double> cpu;
  for (int pid : pids) {
    absl::StatusOr<double> ms = ProcessCpuMs(pid);
    if (!ms.ok()) return ms.status();
    cpu.push_back(*ms);
  }
  return cpu;
}

std::string FormatNs(std::optional<double> ns) {
  return ns ? absl::StrFormat("%.0f", *ns) : std::string("-");
}

}  // namespace

absl::Status ValidateSqlScanOptions(const SqlScanOptions& options) {
  if (options.rows < 1 || options.rows > kSqlScanMaxRows) {
    return absl::InvalidArgumentError(
        absl::StrCat("--rows must be in 1..", kSqlScanMaxRows, ", not ", options.rows));
  }
  if (options.load_workers < 1 || options.load_workers > kSqlScanMaxLoadWorkers) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--load-workers must be in 1..", kSqlScanMaxLoadWorkers, ", not ", options.load_workers));
  }
  if (options.repeats < 1 || options.repeats > kSqlScanMaxRepeats) {
    return absl::InvalidArgumentError(
        absl::StrCat("--repeats must be in 1..", kSqlScanMaxRepeats, ", not ", options.repeats));
  }
  if (options.work_dir.empty()) return absl::InvalidArgumentError("empty work directory");
  return absl::OkStatus();
}

std::string SqlScanLoadSql(int64_t first, int64_t count) {
  return absl::StrCat("WITH RECURSIVE c(i) AS (SELECT ", first,
                      " UNION ALL SELECT i + 1 FROM c WHERE i + 1 < ", first + count,
                      ") INSERT OR IGNORE INTO ", kSqlScanTable, " (id, x) SELECT i, i FROM c");
}

double SqlScanMeasurement::RowsPerSecond() const {
  const double seconds = absl::ToDoubleSeconds(median);
  return seconds > 0 ? static_cast<double>(rows) / seconds : 0;
}

std::optional<double> SqlScanMeasurement::ServerCpuNsPerRow() const {
  if (server_cpu_ms.empty() || rows == 0 || repeats == 0) return std::nullopt;
  double total = 0;
  for (double ms : server_cpu_ms) total += ms;
  return total * 1e6 / static_cast<double>(rows * repeats);
}

std::optional<double> SqlScanMeasurement::ServerCpuNsPerRow(size_t pid_index) const {
  if (pid_index >= server_cpu_ms.size() || rows == 0 || repeats == 0) return std::nullopt;
  return server_cpu_ms[pid_index] * 1e6 / static_cast<double>(rows * repeats);
}

std::optional<double> SqlScanMeasurement::OwnCpuNsPerRow() const {
  if (!own_cpu_ms || rows == 0 || repeats == 0) return std::nullopt;
  return *own_cpu_ms * 1e6 / static_cast<double>(rows * repeats);
}

absl::StatusOr<SqlScanMeasurement> MeasureScan(const std::string& name, int64_t rows,
                                               int64_t expected, int repeats,
                                               const std::vector<int>& server_pids,
                                               const std::function<absl::StatusOr<int64_t>()>& fn,
                                               std::ostream& progress) {
  SqlScanMeasurement m;
  m.name = name;
  m.rows = rows;
  m.repeats = repeats;
  absl::StatusOr<std::vector<double>> servers_before = ServerCpuMs(server_pids);
  if (!servers_before.ok()) return servers_before.status();
  absl::StatusOr<double> own_before = ProcessCpuMs(0);
  std::vector<absl::Duration> times;
  for (int r = 0; r < repeats; ++r) {
    const absl::Time start = absl::Now();
    absl::StatusOr<int64_t> got = fn();
    const absl::Duration elapsed = absl::Now() - start;
    if (!got.ok()) return got.status();
    if (*got != expected) {
      return absl::InternalError(absl::StrCat(name, ": got ", *got, ", expected ", expected));
    }
    times.push_back(elapsed);
    progress << absl::StrFormat("%s run %d/%d: %.3f s, %.0f rows/s\n", name, r + 1, repeats,
                                absl::ToDoubleSeconds(elapsed),
                                rows / std::max(1e-9, absl::ToDoubleSeconds(elapsed)))
             << std::flush;
  }
  absl::StatusOr<std::vector<double>> servers_after = ServerCpuMs(server_pids);
  if (!servers_after.ok()) return servers_after.status();
  for (size_t i = 0; i < server_pids.size(); ++i) {
    m.server_cpu_ms.push_back((*servers_after)[i] - (*servers_before)[i]);
  }
  if (absl::StatusOr<double> own_after = ProcessCpuMs(0); own_before.ok() && own_after.ok()) {
    m.own_cpu_ms = *own_after - *own_before;
  }
  m.median = Median(std::move(times));
  return m;
}

absl::StatusOr<std::vector<SqlScanMeasurement>> RunMvccScanBaseline(
    const std::vector<kv::KeyValue>& rows, const std::string& work_dir, int repeats,
    std::ostream& progress) {
  if (rows.empty()) return absl::InvalidArgumentError("no rows to scan");
  TempDir dir;
  if (absl::Status s = dir.Make(work_dir); !s.ok()) return s;
  EngineOptions engine_options;
  engine_options.path = absl::StrCat(dir.path(), "/engine");
  absl::StatusOr<std::unique_ptr<Engine>> engine = OpenEngine(engine_options);
  if (!engine.ok()) return engine.status();
  const absl::Time load_start = absl::Now();
  if (absl::Status s = LoadBaseline(**engine, rows); !s.ok()) return s;
  // One untimed pass: a warm block cache, as the nodes' is after their first scan.
  if (absl::StatusOr<int64_t> warm = IterateAll(**engine); !warm.ok()) return warm.status();
  progress << absl::StrFormat("baseline: %d rows copied into %s, flushed and read in %.1f s\n",
                              rows.size(), engine_options.path,
                              absl::ToDoubleSeconds(absl::Now() - load_start))
           << std::flush;
  const int64_t n = static_cast<int64_t>(rows.size());
  // MVCC scan bounds: the first row's key and one past the last row's.
  const std::string start = rows.front().key;
  const std::string end = absl::StrCat(rows.back().key, std::string(1, '\0'));
  std::vector<SqlScanMeasurement> out;
  absl::StatusOr<SqlScanMeasurement> mvcc = MeasureScan(
      kMvccScanName, n, n, repeats, {}, [&] { return MvccScanAll(**engine, start, end); },
      progress);
  if (!mvcc.ok()) return mvcc.status();
  out.push_back(std::move(*mvcc));
  absl::StatusOr<SqlScanMeasurement> iter = MeasureScan(
      kRocksdbIteratorName, n, n, repeats, {}, [&] { return IterateAll(**engine); }, progress);
  if (!iter.ok()) return iter.status();
  out.push_back(std::move(*iter));
  engine->reset();  // closed before TempDir removes its files
  return out;
}

std::string FormatSqlScanReport(const std::vector<SqlScanMeasurement>& measurements,
                                const std::vector<int>& server_pids) {
  double baseline = 0;
  for (const SqlScanMeasurement& m : measurements) {
    if (m.name == kMvccScanName) baseline = m.RowsPerSecond();
  }
  std::string pids_header;
  for (int pid : server_pids)
    absl::StrAppend(&pids_header, pids_header.empty() ? "" : " ", "pid ", pid);
  std::string out =
      absl::StrFormat("%-18s %10s %12s %9s   %s\n", "scan", "median s", "rows/s", "/mvcc",
                      absl::StrCat("CPU ns/row: servers total (",
                                   pids_header.empty() ? "none" : pids_header, "), this process"));
  for (const SqlScanMeasurement& m : measurements) {
    std::string per_pid;
    for (size_t i = 0; i < m.server_cpu_ms.size(); ++i) {
      absl::StrAppend(&per_pid, i == 0 ? "" : " ", FormatNs(m.ServerCpuNsPerRow(i)));
    }
    absl::StrAppendFormat(&out, "%-18s %10.3f %12.0f %9.2f   %s (%s), %s\n", m.name,
                          absl::ToDoubleSeconds(m.median), m.RowsPerSecond(),
                          baseline > 0 ? m.RowsPerSecond() / baseline : 0.0,
                          FormatNs(m.ServerCpuNsPerRow()), per_pid.empty() ? "-" : per_pid,
                          FormatNs(m.OwnCpuNsPerRow()));
  }
  auto ratio = [&](absl::string_view name) {
    for (const SqlScanMeasurement& m : measurements) {
      if (m.name == name && baseline > 0)
        return absl::StrFormat("%.3f", m.RowsPerSecond() / baseline);
    }
    return std::string("-");
  };
  absl::StrAppend(&out, "sql/mvcc rows/s: count=", ratio("sql count(*)"),
                  " sum=", ratio("sql sum(x)"), " kv=", ratio("kv scan"), "\n");
  return out;
}

}  // namespace rangedb
