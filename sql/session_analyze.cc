// ANALYZE (sql/session.h): counts the rows of each table the statement names and the
// distinct prefixes of each of its key orders, and stores them in the table's
// descriptor (TableDescriptor.row_count_estimate, IndexDescriptor.
// distinct_prefix_estimate), by which the planner costs plans (docs/sql.md
// "Planning"). SQLite's own ANALYZE skips virtual tables, so the session does the
// work; the shadow schema still checks the statement and names its tables (its
// authorizer sees SQLITE_ANALYZE for every table SQLite would analyze: all, one, or
// an index's).
#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "sql/catalog.h"
#include "sql/key_codec.h"
#include "sql/prefix_counter.h"
#include "sql/session.h"
#include "sql/sqlstate.h"

namespace rangedb::sql {
namespace {

// A page of the count: keys read per transaction (values too: a scan returns them).
constexpr int64_t kCountPageRows = 1000;

// What ANALYZE counted of one table.
struct TableStats {
  int64_t rows = 0;
  std::vector<int64_t> primary;  // distinct primary-key prefixes
  // Per counted secondary index (by id): its distinct prefixes.
  std::map<uint32_t, std::vector<int64_t>> indexes;
};

// Stores stats in desc: the row count (0 means "never analyzed" to the planner, so an
// empty table is stored as 1) and each counted key order's distinct prefixes. An
// index not counted (built meanwhile) keeps what it had.
void StoreStats(const TableStats& stats, sqlpb::TableDescriptor* desc) {
  desc->set_row_count_estimate(std::max<int64_t>(stats.rows, 1));
  auto store = [](const std::vector<int64_t>& distinct, sqlpb::IndexDescriptor* index) {
    if (static_cast<int>(distinct.size()) != index->column_ids_size()) return;
    index->clear_distinct_prefix_estimate();
    for (int64_t d : distinct) index->add_distinct_prefix_estimate(d);
  };
  store(stats.primary, desc->mutable_primary_index());
  for (sqlpb::IndexDescriptor& index : *desc->mutable_indexes()) {
    auto it = stats.indexes.find(index.id());
    if (it != stats.indexes.end()) store(it->second, &index);
  }
}

// Hands each key in [start, end) to `each`, in ascending order, reading them in
// pages of kCountPageRows, each in a transaction of its own (retried as a whole:
// `each` sees a page once, after its transaction committed). interrupted: checked
// before each page (a cancel).
absl::Status CountKeysInPages(txn::Sender* sender, const txn::TxnOptions& options,
                              const std::function<absl::Status()>& interrupted,
                              absl::string_view start, absl::string_view end,
                              const std::function<void(absl::string_view key)>& each) {
  std::string from(start);
  bool done = false;
  while (!done) {  // bounded: each page moves `from` past its last key
    if (absl::Status s = interrupted(); !s.ok()) return s;
    std::vector<kv::KeyValue> page;  // set by the transaction's last attempt
    absl::Status s = txn::RunTransaction(
        sender,
        [&](txn::Txn& txn) -> absl::Status {
          absl::StatusOr<std::vector<kv::KeyValue>> read = txn.Scan(from, end, kCountPageRows);
          if (!read.ok()) return read.status();
          page = *std::move(read);
          return absl::OkStatus();
        },
        options);
    if (!s.ok()) return MapKvError(s);
    for (const kv::KeyValue& row : page) each(row.key);
    done = static_cast<int64_t>(page.size()) < kCountPageRows;
    if (!page.empty()) from = page.back().key + std::string(1, '\0');
  }
  return absl::OkStatus();
}

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
  // snapshot, and a large table must not become one long transaction): the rows with
  // their keys' distinct prefixes, then each public index's entries.
  std::map<uint64_t, TableStats> counts;  // by table id
  for (const std::string& name : targets) {
    if (absl::StartsWith(name, "sqlite_")) continue;
    auto id = table_ids_.find(name);
    if (id == table_ids_.end()) continue;  // a view, or gone
    const std::shared_ptr<const TableInfo> table = Table(id->second);
    if (table == nullptr) continue;
    const auto count = [&](absl::string_view start, absl::string_view end,
                           const std::function<void(absl::string_view)>& each) {
      return CountKeysInPages(
          options_.sender, WorkTxnOptions(), [this] { return CheckInterrupted(); }, start, end,
          each);
    };
    TableStats stats;
    PrefixCounter primary(table->rows_start(), static_cast<int>(table->pk_columns().size()));
    absl::Status s = count(table->rows_start(), table->rows_end(), [&](absl::string_view key) {
      ++stats.rows;
      primary.Add(key);
    });
    if (!s.ok()) return s;
    stats.primary = primary.distinct();
    for (const IndexInfo& index : table->indexes()) {
      // A backfilling index's entries are not all there yet.
      if (index.desc->state() != sqlpb::IndexDescriptor::PUBLIC) continue;
      PrefixCounter counter(index.prefix, static_cast<int>(index.columns.size()));
      s = count(index.prefix, index.prefix_end, [&](absl::string_view key) { counter.Add(key); });
      if (!s.ok()) return s;
      stats.indexes[index.desc->id()] = counter.distinct();
    }
    counts[table->id()] = std::move(stats);
  }
  // Then stored, with the catalog version, so every session plans by them next.
  absl::Status written = txn::RunTransaction(
      options_.sender,
      [&](txn::Txn& txn) -> absl::Status {
        bool changed = false;
        for (const auto& [id, stats] : counts) {
          absl::StatusOr<std::optional<sqlpb::TableDescriptor>> desc = ReadDescriptor(txn, id);
          if (!desc.ok()) return desc.status();
          if (!desc->has_value()) continue;  // dropped meanwhile
          StoreStats(stats, &**desc);
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
