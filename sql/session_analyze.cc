// ANALYZE (sql/session.h): counts the rows of each table the statement names and
// stores the count in the table's descriptor (TableDescriptor.row_count_estimate),
// by which the planner costs plans (docs/sql.md "Planning"). SQLite's own ANALYZE
// skips virtual tables, so the session does the work; the shadow schema still checks
// the statement and names its tables (its authorizer sees SQLITE_ANALYZE for every
// table SQLite would analyze: all, one, or an index's).
#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "sql/catalog.h"
#include "sql/session.h"
#include "sql/sqlstate.h"

namespace rangedb::sql {
namespace {

// A page of the count: rows read per transaction (values too: a scan returns them).
constexpr int64_t kCountPageRows = 1000;

}  // namespace

absl::StatusOr<std::optional<StatementResult>> Session::ExecuteAnalyze(absl::string_view* sql) {
  const absl::string_view text = *sql;
  // The shadow must hold the current schema to name the tables.
  if (!in_transaction()) {
    absl::Status loaded = BeginKvTxn();
    RollbackKv();
    CloseKvTxn();
    if (!loaded.ok()) return loaded;
  }
  std::vector<AuthorizerOp> ops;
  Stmt stmt;
  const int rc = PrepareInShadow(text, &stmt, sql, &ops);
  if (rc != SQLITE_OK) return SqliteError(shadow_->db());
  std::set<std::string> targets;  // folded names
  for (const AuthorizerOp& op : ops) {
    if (op.op == SQLITE_ANALYZE) targets.insert(FoldName(op.arg1));
  }
  // More tables than the authorizer record holds: only a whole schema names that
  // many, so every table.
  if (ops.size() >= kMaxAuthOps) {
    for (const auto& [name, id] : table_ids_) targets.insert(name);
  }
  if (in_transaction()) {
    return SqlError(sqlstate::kFeatureNotSupported,
                    "ANALYZE inside BEGIN … COMMIT is not supported: run it on its own");
  }
  // Counted first, each page in a transaction of its own (an estimate needs no one
  // snapshot, and a large table must not become one long transaction).
  std::map<uint64_t, int64_t> counts;  // table id -> rows
  for (const std::string& name : targets) {
    if (absl::StartsWith(name, "sqlite_")) continue;
    auto id = table_ids_.find(name);
    if (id == table_ids_.end()) continue;  // a view, or gone
    const std::shared_ptr<const TableInfo> table = Table(id->second);
    if (table == nullptr) continue;
    int64_t rows = 0;
    std::string from = table->rows_start();
    bool done = false;
    while (!done) {  // bounded: each page moves `from` past its last row
      if (absl::Status s = CheckInterrupted(); !s.ok()) return s;
      absl::Status s = txn::RunTransaction(
          options_.sender,
          [&](txn::Txn& txn) -> absl::Status {
            absl::StatusOr<std::vector<kv::KeyValue>> page =
                txn.Scan(from, table->rows_end(), kCountPageRows);
            if (!page.ok()) return page.status();
            rows += static_cast<int64_t>(page->size());
            done = static_cast<int64_t>(page->size()) < kCountPageRows;
            if (!page->empty()) from = page->back().key + std::string(1, '\0');
            return absl::OkStatus();
          },
          WorkTxnOptions());
      if (!s.ok()) return MapKvError(s);
    }
    counts[table->id()] = rows;
  }
  // Then stored, with the catalog version, so every session plans by them next.
  absl::Status written = txn::RunTransaction(
      options_.sender,
      [&](txn::Txn& txn) -> absl::Status {
        bool changed = false;
        for (const auto& [id, rows] : counts) {
          absl::StatusOr<std::optional<sqlpb::TableDescriptor>> desc = ReadDescriptor(txn, id);
          if (!desc.ok()) return desc.status();
          if (!desc->has_value()) continue;  // dropped meanwhile
          // 0 means "never analyzed" to the planner: an empty table is stored as 1.
          (*desc)->set_row_count_estimate(std::max<int64_t>(rows, 1));
          (*desc)->set_version((*desc)->version() + 1);
          if (absl::Status s = WriteDescriptor(txn, **desc); !s.ok()) return s;
          changed = true;
        }
        if (!changed) return absl::OkStatus();
        absl::StatusOr<uint64_t> v = BumpVersion(txn);
        return v.ok() ? absl::OkStatus() : v.status();
      },
      WorkTxnOptions());
  if (!written.ok()) return MapKvError(written);
  schema_version_.reset();  // this session reloads too
  return std::optional<StatementResult>(StatementResult{"ANALYZE", 0});
}

}  // namespace rangedb::sql
