#include "tests/sqllogictest/rangedb_connection.h"

#include "absl/strings/str_cat.h"

namespace rangedb::slt {
namespace {

sql::Value ToValue(client::SqlValue v) {
  switch (v.index()) {
    case 1:
      return std::get<int64_t>(v);
    case 2:
      return std::get<double>(v);
    case 3:
      return std::move(std::get<std::string>(v));
    case 4:
      return sql::Blob{std::move(std::get<client::SqlBlob>(v).bytes)};
    default:
      return sql::Null{};
  }
}

// Collects the last statement's columns and rows, and the first error.
class Collector final : public client::SqlResultHandler {
 public:
  void OnColumns(int, const std::vector<client::SqlColumn>& columns) override {
    result.column_count = columns.size();
    result.rows.clear();
    started = true;
  }
  void OnRows(int, std::vector<client::SqlRow> rows) override {
    for (client::SqlRow& row : rows) {
      std::vector<sql::Value> out;
      out.reserve(row.size());
      for (client::SqlValue& v : row) out.push_back(ToValue(std::move(v)));
      result.rows.push_back(std::move(out));
    }
  }
  void OnDone(int, const std::string&, int64_t) override {}
  void OnError(int, const client::SqlError& e) override {
    if (error.ok())
      error = absl::UnknownError(absl::StrCat(e.message, " (SQLSTATE ", e.sqlstate, ")"));
  }
  SltResult result;
  absl::Status error;
  bool started = false;  // the statement ran (its columns arrived) before any error
};

}  // namespace

absl::StatusOr<std::unique_ptr<RangedbConnection>> RangedbConnection::Open(
    const std::vector<std::string>& hosts, absl::Duration timeout) {
  client::SqlConnectionOptions options;
  options.hosts = hosts;
  options.timeout = timeout;
  absl::StatusOr<std::unique_ptr<client::SqlConnection>> connection =
      client::SqlConnection::Connect(std::move(options));
  if (!connection.ok()) return connection.status();
  std::unique_ptr<RangedbConnection> out(new RangedbConnection(std::move(*connection)));
  if (absl::Status s = out->DropEverything(); !s.ok()) return s;
  return out;
}

absl::Status RangedbConnection::DropEverything() {
  absl::StatusOr<SltResult> objects = Execute(
      "SELECT type, name FROM sqlite_schema WHERE type IN ('view', 'table') "
      "ORDER BY type = 'table', name");
  if (!objects.ok()) return objects.status();
  for (const std::vector<sql::Value>& row : objects->rows) {
    const std::string& type = std::get<std::string>(row[0]);
    const std::string& name = std::get<std::string>(row[1]);
    std::string quoted = "\"";
    for (char c : name) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    quoted += "\"";
    absl::StatusOr<SltResult> dropped = Execute(
        absl::StrCat(type == "view" ? "DROP VIEW IF EXISTS " : "DROP TABLE IF EXISTS ", quoted));
    if (!dropped.ok()) return dropped.status();
  }
  return absl::OkStatus();
}

absl::StatusOr<SltResult> RangedbConnection::Execute(const std::string& sql) {
  Collector collector;
  if (absl::Status s = connection_->Execute(sql, {}, collector); !s.ok()) return s;
  if (!collector.error.ok()) {
    // An error while the query ran (after its columns) keeps the rows before it, as
    // SQLite's reference runner does; one before it ran fails the record.
    if (!collector.started) return collector.error;
    collector.result.execution_error = collector.error;
  }
  return std::move(collector.result);
}

}  // namespace rangedb::slt
