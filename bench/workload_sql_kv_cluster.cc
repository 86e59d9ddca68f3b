#include "bench/workload_sql_kv_cluster.h"

#include <algorithm>
#include <atomic>
#include <random>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "client/cli/command.h"
#include "client/kv_client.h"
#include "client/sql_client.h"
#include "sql/catalog.h"
#include "storage/keys.h"
#include "txn/txn.h"

namespace rangedb {

using client::KvClient;
using client::SqlBlob;
using client::SqlConnection;
using client::SqlParameter;
using client::SqlRow;
using client::SqlValue;
namespace {

// ---- One SQL request and its answer ----

class Collector final : public client::SqlResultHandler {
 public:
  explicit Collector(SqlAnswer* answer) : answer_(answer) {}
  void OnColumns(int, const std::vector<client::SqlColumn>&) override {}
  void OnRows(int, std::vector<SqlRow> rows) override {
    for (SqlRow& row : rows) answer_->rows.push_back(std::move(row));
  }
  void OnDone(int, const std::string&, int64_t rows_affected) override {
    answer_->rows_affected = rows_affected;
  }
  void OnError(int, const client::SqlError& error) override {
    if (!answer_->error) answer_->error = error;
  }

 private:
  SqlAnswer* const answer_;
};

// A statement error as a status: 40xxx (retry) is kAborted, 23505 kAlreadyExists.
absl::Status SqlErrorStatus(const client::SqlError& error) {
  std::string message = absl::StrCat("SQLSTATE ", error.sqlstate, ": ", error.message);
  if (absl::StartsWith(error.sqlstate, "40")) return absl::AbortedError(message);
  if (error.sqlstate == "23505") return absl::AlreadyExistsError(message);
  return absl::UnknownError(message);
}

}  // namespace

absl::StatusOr<SqlAnswer> Execute(SqlConnection& connection, absl::string_view sql,
                                  const std::vector<SqlParameter>& params) {
  SqlAnswer answer;
  Collector collector(&answer);
  if (absl::Status s = connection.Execute(sql, params, collector); !s.ok()) return s;
  if (answer.error) return SqlErrorStatus(*answer.error);
  return answer;
}

absl::StatusOr<int64_t> QueryInteger(SqlConnection& connection, absl::string_view sql,
                                     const std::vector<SqlParameter>& params) {
  absl::StatusOr<SqlAnswer> answer = Execute(connection, sql, params);
  if (!answer.ok()) return answer.status();
  if (answer->rows.size() != 1 || answer->rows[0].size() != 1 ||
      !std::holds_alternative<int64_t>(answer->rows[0][0])) {
    return absl::InternalError(absl::StrCat("\"", sql, "\" did not return one integer"));
  }
  return std::get<int64_t>(answer->rows[0][0]);
}

namespace {

// "<insert> VALUES (?, ?), (?, ?), ..." with `rows` tuples of two parameters.
std::string TwoColumnInsertSql(absl::string_view insert, int64_t rows) {
  std::string sql = absl::StrCat(insert, " VALUES ");
  for (int64_t i = 0; i < rows; ++i) absl::StrAppend(&sql, i == 0 ? "" : ", ", "(?, ?)");
  return sql;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqlConnection>> ConnectSql(const SqlKvCluster& cluster, int index) {
  client::SqlConnectionOptions options;
  const size_t n = cluster.hosts.size();
  for (size_t i = 0; i < n; ++i) options.hosts.push_back(cluster.hosts[(index + i) % n]);
  options.timeout = cluster.timeout;
  return SqlConnection::Connect(std::move(options));
}

absl::StatusOr<std::unique_ptr<KvClient>> MakeKvClient(const SqlKvCluster& cluster) {
  client::KvClientOptions options;
  options.hosts = cluster.hosts;
  options.timeout = cluster.timeout;
  return KvClient::Create(std::move(options));
}

namespace {

absl::Status NotInitialized(int64_t k) {
  return absl::NotFoundError(
      absl::StrCat("row ", k, " not found (run `rangedb workload init sql-kv` first)"));
}

// ---- The two targets ----

class SqlTarget final : public SqlKvTarget {
 public:
  explicit SqlTarget(std::unique_ptr<SqlConnection> connection)
      : connection_(std::move(connection)) {}

  absl::StatusOr<std::string> Select(int64_t k) override {
    absl::StatusOr<SqlAnswer> answer =
        Execute(*connection_, "SELECT v FROM kv WHERE k = ?", {{"", SqlValue(k)}});
    if (!answer.ok()) return answer.status();
    if (answer->rows.empty() || answer->rows[0].empty()) return NotInitialized(k);
    const SqlValue& v = answer->rows[0][0];
    if (const SqlBlob* blob = std::get_if<SqlBlob>(&v)) return blob->bytes;
    if (const std::string* text = std::get_if<std::string>(&v)) return *text;
    return absl::InternalError(absl::StrCat("row ", k, ": v is neither BLOB nor TEXT"));
  }
  absl::Status Insert(int64_t k, absl::string_view value) override {
    return WriteOne("INSERT INTO kv VALUES (?, ?)",
                    {{"", SqlValue(k)}, {"", SqlValue(SqlBlob{std::string(value)})}}, k);
  }
  absl::Status Update(int64_t k, absl::string_view value) override {
    return WriteOne("UPDATE kv SET v = ? WHERE k = ?",
                    {{"", SqlValue(SqlBlob{std::string(value)})}, {"", SqlValue(k)}}, k);
  }
  bool broken() const override { return connection_->closed(); }

 private:
  absl::Status WriteOne(absl::string_view sql, const std::vector<SqlParameter>& params, int64_t k) {
    absl::StatusOr<SqlAnswer> answer = Execute(*connection_, sql, params);
    if (!answer.ok()) return answer.status();
    if (answer->rows_affected != 1) {
      return absl::NotFoundError(
          absl::StrCat("\"", sql, "\" for k=", k, " wrote ", answer->rows_affected, " rows"));
    }
    return absl::OkStatus();
  }

  std::unique_ptr<SqlConnection> connection_;
};

class KvApiTarget final : public SqlKvTarget {
 public:
  explicit KvApiTarget(std::unique_ptr<KvClient> client) : client_(std::move(client)) {}

  absl::StatusOr<std::string> Select(int64_t k) override {
    absl::StatusOr<std::optional<std::string>> value = client_->Get(SqlKvKey(k));
    if (!value.ok()) return value.status();
    if (!value->has_value()) return NotInitialized(k);
    return std::move(**value);
  }
  absl::Status Insert(int64_t k, absl::string_view value) override {
    return client_->Put(SqlKvKey(k), value);
  }
  absl::Status Update(int64_t k, absl::string_view value) override {
    return client_->Put(SqlKvKey(k), value);
  }

 private:
  std::unique_ptr<KvClient> client_;
};

}  // namespace

absl::Status ForEachBatch(int workers, int64_t batches, const std::string& label,
                          std::ostream& progress,
                          const std::function<absl::Status(int, int64_t)>& do_batch) {
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> done{0};
  absl::Mutex mu;
  absl::Status first_error;
  int finished = 0;
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      for (int64_t b = next++; b < batches; b = next++) {
        if (absl::Status s = do_batch(w, b); !s.ok()) {
          absl::MutexLock lock(&mu);
          if (first_error.ok()) first_error = s;
          next = batches;  // the others stop after their batch
          break;
        }
        ++done;
      }
      absl::MutexLock lock(&mu);
      ++finished;
    });
  }
  auto all_finished = [&] { return finished == workers; };
  {
    absl::MutexLock lock(&mu);
    while (!mu.AwaitWithTimeout(absl::Condition(&all_finished), absl::Seconds(1))) {
      progress << label << ": batches=" << done.load() << "/" << batches << "\n" << std::flush;
    }
  }
  for (std::thread& t : threads) t.join();
  return first_error;
}

namespace {

int InitWorkers(const SqlKvOptions& options) {
  const int largest = *std::max_element(options.concurrency.begin(), options.concurrency.end());
  return std::clamp(largest, 1, kSqlKvMaxInitWorkers);
}

struct Clients {
  std::vector<std::unique_ptr<SqlConnection>> sql;
  std::vector<std::unique_ptr<KvClient>> kv;
};

absl::StatusOr<Clients> MakeClients(const SqlKvCluster& cluster, int count, bool with_kv) {
  Clients clients;
  for (int i = 0; i < count; ++i) {
    absl::StatusOr<std::unique_ptr<SqlConnection>> connection = ConnectSql(cluster, i);
    if (!connection.ok()) return connection.status();
    clients.sql.push_back(std::move(*connection));
    if (!with_kv) continue;
    absl::StatusOr<std::unique_ptr<KvClient>> kv = MakeKvClient(cluster);
    if (!kv.ok()) return kv.status();
    clients.kv.push_back(std::move(*kv));
  }
  return clients;
}

// ---- init and check ----

absl::Status InitSqlKv(const SqlKvOptions& options, const SqlKvCluster& cluster,
                       std::ostream& progress) {
  const int workers = InitWorkers(options);
  absl::StatusOr<Clients> clients = MakeClients(cluster, workers, /*with_kv=*/true);
  if (!clients.ok()) return clients.status();
  if (absl::StatusOr<SqlAnswer> created = Execute(
          *clients->sql[0], "CREATE TABLE IF NOT EXISTS kv (k INTEGER PRIMARY KEY, v BLOB)");
      !created.ok()) {
    return created.status();
  }
  const int64_t batches = (options.keys + kSqlKvInitBatchRows - 1) / kSqlKvInitBatchRows;
  return ForEachBatch(
      workers, batches, "init sql-kv", progress, [&](int w, int64_t b) -> absl::Status {
        const int64_t first = b * kSqlKvInitBatchRows;
        const int64_t n = std::min(kSqlKvInitBatchRows, options.keys - first);
        std::mt19937_64 rng(options.seed + static_cast<uint64_t>(b));
        std::uniform_int_distribution<int> byte('!', '~');
        std::vector<std::string> values(n);
        std::vector<SqlParameter> params;
        for (int64_t i = 0; i < n; ++i) {
          values[i].resize(options.value_bytes);
          for (char& c : values[i]) c = static_cast<char>(byte(rng));
          params.push_back({"", SqlValue(first + i)});
          params.push_back({"", SqlValue(SqlBlob{values[i]})});
        }
        absl::StatusOr<SqlAnswer> inserted =
            Execute(*clients->sql[w], TwoColumnInsertSql("INSERT OR REPLACE INTO kv", n), params);
        if (!inserted.ok()) return inserted.status();
        return txn::RunTransaction(clients->kv[w].get(), [&](txn::Txn& txn) -> absl::Status {
          for (int64_t i = 0; i < n; ++i) {
            if (absl::Status s = txn.Put(SqlKvKey(first + i), values[i]); !s.ok()) return s;
          }
          return absl::OkStatus();
        });
      });
}

struct SqlKvCheckResult {
  int64_t sql_rows = 0;  // rows of table kv with k in 0..keys-1
  int64_t kv_keys = 0;   // KV keys SqlKvKey(0..keys-1)
};

absl::StatusOr<SqlKvCheckResult> CheckSqlKv(const SqlKvOptions& options,
                                            const SqlKvCluster& cluster) {
  absl::StatusOr<std::unique_ptr<SqlConnection>> connection = ConnectSql(cluster, 0);
  if (!connection.ok()) return connection.status();
  absl::StatusOr<std::unique_ptr<KvClient>> kv = MakeKvClient(cluster);
  if (!kv.ok()) return kv.status();
  SqlKvCheckResult result;
  absl::StatusOr<int64_t> rows =
      QueryInteger(**connection, "SELECT count(*) FROM kv WHERE k >= 0 AND k < ?",
                   {{"", SqlValue(options.keys)}});
  if (!rows.ok()) return rows.status();
  result.sql_rows = *rows;
  if (absl::Status s = (*kv)->ScanEach(SqlKvKey(0), SqlKvKey(options.keys), 0,
                                       [&](client::KeyValue) {
                                         ++result.kv_keys;
                                         return absl::OkStatus();
                                       });
      !s.ok()) {
    return s;
  }
  return result;
}

// ---- The scan benchmark ----

// Makes scan_t hold exactly ids 0..rows-1 (x = id).
absl::Status FillScanTable(int64_t rows, const SqlKvCluster& cluster, std::ostream& progress) {
  absl::StatusOr<std::unique_ptr<SqlConnection>> connection = ConnectSql(cluster, 0);
  if (!connection.ok()) return connection.status();
  if (absl::StatusOr<SqlAnswer> created = Execute(
          **connection, "CREATE TABLE IF NOT EXISTS scan_t (id INTEGER PRIMARY KEY, x INTEGER)");
      !created.ok()) {
    return created.status();
  }
  absl::StatusOr<int64_t> count = QueryInteger(**connection, "SELECT count(*) FROM scan_t");
  if (!count.ok()) return count.status();
  if (*count < rows) {
    progress << "scan: scan_t holds " << *count << " rows; filling it to " << rows << "\n";
    absl::StatusOr<Clients> clients = MakeClients(cluster, kSqlKvMaxInitWorkers, /*with_kv=*/false);
    if (!clients.ok()) return clients.status();
    const int64_t batches = (rows + kSqlKvInitBatchRows - 1) / kSqlKvInitBatchRows;
    if (absl::Status s = ForEachBatch(
            kSqlKvMaxInitWorkers, batches, "scan fill", progress,
            [&](int w, int64_t b) -> absl::Status {
              const int64_t first = b * kSqlKvInitBatchRows;
              const int64_t n = std::min(kSqlKvInitBatchRows, rows - first);
              std::vector<SqlParameter> params;
              for (int64_t id = first; id < first + n; ++id) {
                params.push_back({"", SqlValue(id)});
                params.push_back({"", SqlValue(id)});
              }
              return Execute(*clients->sql[w],
                             TwoColumnInsertSql("INSERT OR IGNORE INTO scan_t", n), params)
                  .status();
            });
        !s.ok()) {
      return s;
    }
    count = QueryInteger(**connection, "SELECT count(*) FROM scan_t");
    if (!count.ok()) return count.status();
  }
  if (*count != rows) {
    return absl::FailedPreconditionError(absl::StrCat("scan_t holds ", *count, " rows, not ", rows,
                                                      ": drop it (rangedb sql -e 'DROP TABLE "
                                                      "scan_t') or pass --scan-rows=",
                                                      *count));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::pair<std::string, std::string>> TableRowSpan(KvClient& kv,
                                                                 absl::string_view table) {
  absl::StatusOr<std::optional<std::string>> id_text = kv.Get(sql::NameKey(table));
  if (!id_text.ok()) return id_text.status();
  uint64_t id = 0;
  if (!id_text->has_value() || !absl::SimpleAtoi(**id_text, &id)) {
    return absl::NotFoundError(absl::StrCat("no catalog entry for table ", table));
  }
  return std::make_pair(keys::IndexPrefix(id, sql::kPrimaryIndexId),
                        keys::IndexPrefix(id, sql::kPrimaryIndexId + 1));
}

absl::Duration Median(std::vector<absl::Duration> times) {
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

SqlKvTargetFactory MakeClusterTargetFactory(const SqlKvCluster& cluster) {
  return [cluster](SqlKvApi api, int index) -> absl::StatusOr<std::unique_ptr<SqlKvTarget>> {
    if (api == SqlKvApi::kSql) {
      absl::StatusOr<std::unique_ptr<SqlConnection>> connection = ConnectSql(cluster, index);
      if (!connection.ok()) return connection.status();
      return std::make_unique<SqlTarget>(std::move(*connection));
    }
    // Through the same node as SQL client `index`: one gateway, as a session has.
    SqlKvCluster one_node = cluster;
    one_node.hosts = {cluster.hosts[index % cluster.hosts.size()]};
    absl::StatusOr<std::unique_ptr<KvClient>> kv = MakeKvClient(one_node);
    if (!kv.ok()) return kv.status();
    return std::make_unique<KvApiTarget>(std::move(*kv));
  };
}

absl::StatusOr<FreshKeyAllocator> MakeClusterFreshKeyAllocator(const SqlKvCluster& cluster) {
  absl::StatusOr<std::unique_ptr<KvClient>> kv = MakeKvClient(cluster);
  if (!kv.ok()) return kv.status();
  std::shared_ptr<KvClient> shared = std::move(*kv);  // KvClient is thread-safe
  return [shared](int64_t count) -> absl::StatusOr<int64_t> {
    absl::StatusOr<int64_t> last = shared->Increment(kSqlKvFreshCounterKey, count);
    if (!last.ok()) return last.status();
    return kSqlKvFreshKeyBase + *last - count;
  };
}

absl::StatusOr<SqlKvScanResult> RunSqlKvScan(int64_t scan_rows, const SqlKvCluster& cluster,
                                             std::ostream& progress) {
  if (absl::Status s = FillScanTable(scan_rows, cluster, progress); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<SqlConnection>> connection = ConnectSql(cluster, 0);
  if (!connection.ok()) return connection.status();
  absl::StatusOr<std::unique_ptr<KvClient>> kv = MakeKvClient(cluster);
  if (!kv.ok()) return kv.status();
  absl::StatusOr<std::pair<std::string, std::string>> span = TableRowSpan(**kv, kSqlKvScanTable);
  if (!span.ok()) return span.status();

  // Each measurement checks its answer, so a fast wrong scan cannot pass.
  auto timed = [](const std::function<absl::StatusOr<int64_t>()>& run, int64_t expected,
                  const char* what) -> absl::StatusOr<absl::Duration> {
    const absl::Time start = absl::Now();
    absl::StatusOr<int64_t> got = run();
    const absl::Duration elapsed = absl::Now() - start;
    if (!got.ok()) return got.status();
    if (*got != expected) {
      return absl::InternalError(absl::StrCat(what, " = ", *got, ", expected ", expected));
    }
    return elapsed;
  };
  std::vector<absl::Duration> count_times, sum_times, kv_times;
  for (int r = 0; r < kSqlKvScanRepeats; ++r) {
    absl::StatusOr<absl::Duration> count =
        timed([&] { return QueryInteger(**connection, "SELECT count(*) FROM scan_t"); }, scan_rows,
              "count(*)");
    if (!count.ok()) return count.status();
    absl::StatusOr<absl::Duration> sum =
        timed([&] { return QueryInteger(**connection, "SELECT sum(x) FROM scan_t"); },
              scan_rows * (scan_rows - 1) / 2, "sum(x)");
    if (!sum.ok()) return sum.status();
    absl::StatusOr<absl::Duration> scanned = timed(
        [&]() -> absl::StatusOr<int64_t> {
          int64_t rows = 0;
          absl::Status s = (*kv)->ScanEach(span->first, span->second, 0, [&](client::KeyValue) {
            ++rows;
            return absl::OkStatus();
          });
          if (!s.ok()) return s;
          return rows;
        },
        scan_rows, "kv scan rows");
    if (!scanned.ok()) return scanned.status();
    progress << absl::StrFormat("scan run %d: count %.3f s, sum %.3f s, kv %.3f s\n", r + 1,
                                absl::ToDoubleSeconds(*count), absl::ToDoubleSeconds(*sum),
                                absl::ToDoubleSeconds(*scanned))
             << std::flush;
    count_times.push_back(*count);
    sum_times.push_back(*sum);
    kv_times.push_back(*scanned);
  }
  SqlKvScanResult result;
  result.rows = scan_rows;
  result.repeats = kSqlKvScanRepeats;
  result.sql_count = Median(count_times);
  result.sql_sum = Median(sum_times);
  result.kv_scan = Median(kv_times);
  return result;
}

int RunSqlKvCommand(const std::string& verb, const SqlKvOptions& options,
                    const SqlKvCluster& cluster, std::ostream& out, std::ostream& err) {
  const std::string prefix = absl::StrCat("rangedb workload ", verb, " sql-kv: ");
  if (absl::Status s = ValidateSqlKvOptions(options); !s.ok()) {
    err << prefix << s.message() << "\n";
    return kExitUsage;
  }
  if (verb == "init") {
    if (absl::Status s = InitSqlKv(options, cluster, err); !s.ok()) {
      err << prefix << s.message() << "\n";
      return kExitFailure;
    }
    out << "init sql-kv: keys=" << options.keys << " value_bytes=" << options.value_bytes
        << " (table kv and " << kSqlKvKeyPrefix << " keys)\n";
    return kExitOk;
  }
  if (verb == "check") {
    absl::StatusOr<SqlKvCheckResult> result = CheckSqlKv(options, cluster);
    if (!result.ok()) {
      err << prefix << result.status().message() << "\n";
      return kExitFailure;
    }
    out << "check sql-kv: keys=" << options.keys << " sql_rows=" << result->sql_rows
        << " kv_keys=" << result->kv_keys << "\n";
    return result->sql_rows == options.keys && result->kv_keys == options.keys ? kExitOk
                                                                               : kExitFailure;
  }
  absl::StatusOr<FreshKeyAllocator> fresh_keys = MakeClusterFreshKeyAllocator(cluster);
  if (!fresh_keys.ok()) {
    err << prefix << fresh_keys.status().message() << "\n";
    return kExitFailure;
  }
  absl::StatusOr<std::vector<SqlKvComparison>> rows =
      RunSqlKvComparisons(options, MakeClusterTargetFactory(cluster), *fresh_keys, err);
  if (!rows.ok()) {
    err << prefix << rows.status().message() << "\n";
    return kExitFailure;
  }
  out << absl::StrFormat("sql-kv: keys=%d value_bytes=%d duration=%s per phase, hosts=%s\n\n",
                         options.keys, options.value_bytes, absl::FormatDuration(options.duration),
                         absl::StrJoin(cluster.hosts, ","))
      << FormatSqlKvTable(*rows) << std::flush;
  if (options.scan_rows > 0) {
    absl::StatusOr<SqlKvScanResult> scan = RunSqlKvScan(options.scan_rows, cluster, err);
    if (!scan.ok()) {
      err << prefix << "scan: " << scan.status().message() << "\n";
      return kExitFailure;
    }
    out << "\n" << FormatSqlKvScan(*scan);
  }
  // Failures are counted in the table; a phase where nothing succeeded failed.
  for (const SqlKvComparison& row : *rows) {
    if (row.sql.ops == 0 || row.kv.ops == 0) return kExitFailure;
  }
  return kExitOk;
}

}  // namespace rangedb
