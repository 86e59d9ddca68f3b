// xBestIndex and xFilter of the rangedb module: which keys a query reads
// (docs/sql.md "Planning").
#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "sql/affinity.h"
#include "sql/key_codec.h"
#include "sql/sqlite_util.h"
#include "sql/sqlstate.h"
#include "sql/vtab_internal.h"
#include "txn/txn.h"

namespace rangedb::sql::vtab_internal {
namespace {

// The plan in idxNum: bits 0-7 the number of leading columns fixed by equality;
// bits 8-9 the lower bound's op on the next column (0 none, 1 >, 2 >=); bits 10-11
// the upper bound's (0 none, 1 <, 2 <=); bit 12 set for a descending scan; bits 16
// and up the secondary index's ordinal + 1 (0: the primary key).
constexpr int kLowerShift = 8;
constexpr int kUpperShift = 10;
constexpr int kReverseBit = 1 << 12;
constexpr int kIndexShift = 16;
enum BoundOp { kNoBound = 0, kStrict = 1, kInclusive = 2 };

// Cost units (docs/sql.md "Planning"): a round trip to the key space, and the work
// of one row read.
constexpr double kRoundTripCost = 100;
constexpr double kRowCost = 2;
constexpr double kRowsPerPage = 1000;
// A scan's first page, doubled for each next one up to kv::kScanPageRows: a scan cut
// short (LIMIT, EXISTS, a join's inner lookup) reads little more than it returns.
constexpr int64_t kFirstPageRows = 64;

// One access path: a key order (the primary key's or an index's), with the
// constraints it uses.
struct Plan {
  int index = -1;  // ordinal in TableInfo::indexes(); -1: the primary key
  int n_eq = 0;
  int lower = kNoBound, upper = kNoBound;
  std::vector<int> constraints;   // aConstraint positions, in argv order
  std::vector<std::string> used;  // "a=?", for idxStr
  bool point = false;             // at most one row
  int order = 0;                  // the ORDER BY it yields: 1 ascending, -1 descending, 0 none
  double rows = 0;
  double cost = 0;
};

bool SameCollation(sqlite3_index_info* info, int constraint, Collation column) {
  const char* name = sqlite3_vtab_collation(info, constraint);
  absl::StatusOr<Collation> c = CollationByName(name ? name : "BINARY");
  return c.ok() && *c == column;
}

// The plan over the key order of `columns` (positions; their collations).
Plan PlanFor(const TableInfo& table, sqlite3_index_info* info, int index_ordinal,
             const std::vector<int>& columns, const std::vector<Collation>& collations, bool unique,
             double table_rows) {
  Plan plan;
  plan.index = index_ordinal;
  // A constraint feeds one key column at most: SQLite calls a plan that hands one
  // constraint two argv slots a malfunction (an index may name a column twice).
  std::vector<bool> taken(info->nConstraint, false);
  for (size_t k = 0; k < columns.size(); ++k) {
    const int vcol = columns[k] + 1;
    int eq = -1, lo = -1, hi = -1;
    for (int i = 0; i < info->nConstraint; ++i) {
      const auto& c = info->aConstraint[i];
      if (taken[i] || !c.usable || c.iColumn != vcol || !SameCollation(info, i, collations[k]))
        continue;
      switch (c.op) {
        case SQLITE_INDEX_CONSTRAINT_EQ:
          if (eq < 0) eq = i;
          break;
        case SQLITE_INDEX_CONSTRAINT_GT:
        case SQLITE_INDEX_CONSTRAINT_GE:
          if (lo < 0) lo = i;
          break;
        case SQLITE_INDEX_CONSTRAINT_LT:
        case SQLITE_INDEX_CONSTRAINT_LE:
          if (hi < 0) hi = i;
          break;
        default:
          break;
      }
    }
    const std::string& name = table.column(columns[k]).name();
    if (eq >= 0) {
      taken[eq] = true;
      plan.constraints.push_back(eq);
      plan.used.push_back(absl::StrCat(name, "=?"));
      ++plan.n_eq;
      continue;
    }
    if (lo >= 0) {
      plan.constraints.push_back(lo);
      plan.lower = info->aConstraint[lo].op == SQLITE_INDEX_CONSTRAINT_GT ? kStrict : kInclusive;
      plan.used.push_back(absl::StrCat(name, plan.lower == kStrict ? ">?" : ">=?"));
    }
    if (hi >= 0) {
      plan.constraints.push_back(hi);
      plan.upper = info->aConstraint[hi].op == SQLITE_INDEX_CONSTRAINT_LT ? kStrict : kInclusive;
      plan.used.push_back(absl::StrCat(name, plan.upper == kStrict ? "<?" : "<=?"));
    }
    break;
  }
  plan.point = unique && plan.n_eq == static_cast<int>(columns.size());
  double rows = table_rows;
  if (plan.point) {
    rows = 1;
  } else {
    for (int i = 0; i < plan.n_eq; ++i) rows /= 100;
    if (plan.lower != kNoBound) rows /= 4;
    if (plan.upper != kNoBound) rows /= 4;
  }
  plan.rows = std::max(1.0, rows);
  const double pages = 1 + plan.rows / kRowsPerPage;
  plan.cost = pages * kRoundTripCost + plan.rows * kRowCost;
  // An index gives row keys: the rows are read in batches (VtabContext::GetMany),
  // one more round trip per batch, and a point lookup's row costs one of its own.
  if (index_ordinal >= 0) {
    const double batches = std::ceil(plan.rows / static_cast<double>(txn::Txn::kGetManyBatchKeys));
    plan.cost += batches * kRoundTripCost + plan.rows * kRowCost;
  }
  return plan;
}

// Whether scanning plan's key order (columns, under collations) in one direction
// yields the rows in the order of the query's ORDER BY: 1 ascending, -1 descending,
// 0 not (SQLite then sorts). Key columns fixed by equality are constant and may
// appear anywhere in the ORDER BY. `unique`: no two rows share the key columns, so
// terms after all of them are already satisfied. A DISTINCT query (vtab_distinct 2
// or 3) is left to SQLite; GROUP BY (1) is satisfied by sorted output.
int ConsumedOrder(const TableInfo& table, sqlite3_index_info* info, const Plan& plan,
                  const std::vector<int>& columns, const std::vector<Collation>& collations,
                  bool unique) {
  if (info->nOrderBy == 0 || sqlite3_vtab_distinct(info) >= 2) return 0;
  size_t k = static_cast<size_t>(plan.n_eq);
  int direction = 0;
  for (int i = 0; i < info->nOrderBy; ++i) {
    const auto& term = info->aOrderBy[i];
    const int pos = term.iColumn - 1;  // descriptor position; -1: the hidden key column
    if (pos < 0) return 0;
    bool fixed = false;
    for (int e = 0; e < plan.n_eq; ++e) fixed |= columns[e] == pos;
    if (fixed) continue;
    if (k >= columns.size()) return unique ? (direction == 0 ? 1 : direction) : 0;
    // SQLite sorts by the column's declared collation; the key by the key column's.
    if (columns[k] != pos || table.collation(pos) != collations[k]) return 0;
    const int d = term.desc ? -1 : 1;
    if (direction != 0 && d != direction) return 0;
    direction = d;
    ++k;
  }
  return direction == 0 ? 1 : direction;
}

// Whether the scan may widen past the equality prefix: a TEXT or untyped key column
// compared with a number cannot narrow the span (KeyValueFor), so rows of several
// key values come back and neither "at most one row" nor the order beyond them holds.
bool MayWiden(const TableInfo& table, const std::vector<int>& columns, int n_eq) {
  for (int k = 0; k < n_eq; ++k) {
    const Affinity a = table.affinity(columns[k]);
    if (a == Affinity::kText || a == Affinity::kBlob) return true;
  }
  return false;
}

// The value a constraint compares with, as the key stores it; nullopt when the
// key order cannot answer for it (the span is then widened).
std::optional<Value> KeyValueFor(const TableInfo& table, int pos, Value v) {
  switch (table.affinity(pos)) {
    case Affinity::kInteger:
    case Affinity::kReal:
    case Affinity::kNumeric:
      // SQLite applies NUMERIC affinity to the other operand of a comparison with a
      // numeric column (datatype3.html §4.2).
      return ApplyAffinity(Affinity::kNumeric, std::move(v));
    case Affinity::kText:
    case Affinity::kBlob:
      // A number here may come from a numeric column, and then SQLite compares the
      // column's values as numbers ('5' = 5): the key order cannot answer that.
      if (ClassOf(v) == StorageClass::kInteger || ClassOf(v) == StorageClass::kReal)
        return std::nullopt;
      return v;
  }
  return std::nullopt;
}

// Reads the cursor's next page from bound (its start, or for a reverse scan its
// end): rows, or index entries and then the rows they point at.
absl::Status LoadPage(Vtab* vtab, Cursor* cursor, absl::string_view bound) {
  const int64_t page_rows = cursor->page_rows;
  cursor->page_rows = std::min<int64_t>(page_rows * 2, kv::kScanPageRows);
  absl::StatusOr<ScanPage> page = cursor->reverse
                                      ? vtab->context->ReverseScan(cursor->start, bound, page_rows)
                                      : vtab->context->Scan(bound, cursor->end, page_rows);
  if (!page.ok()) return page.status();
  cursor->pos = 0;
  cursor->decoded = false;
  cursor->resume_key = std::move(page->resume_key);
  if (cursor->index == nullptr) {
    cursor->rows = std::move(page->rows);
    return absl::OkStatus();
  }
  // The rows the page's entries point at: read together, a few round trips a page.
  std::vector<std::string> row_keys;
  row_keys.reserve(page->rows.size());
  for (const kv::KeyValue& entry : page->rows)
    row_keys.push_back(vtab->table->RowKeyOfEntry(entry.value));
  absl::StatusOr<std::vector<std::optional<std::string>>> rows = vtab->context->GetMany(row_keys);
  if (!rows.ok()) return rows.status();
  cursor->rows.clear();
  for (size_t i = 0; i < row_keys.size(); ++i) {
    if (!(*rows)[i].has_value()) {
      return SqlError(
          sqlstate::kInternalError,
          absl::StrCat("index ", cursor->index->desc->name(), " of table ", vtab->table->name(),
                       " has an entry for a row that does not exist"));
    }
    cursor->rows.push_back(kv::KeyValue{std::move(row_keys[i]), std::move(*(*rows)[i])});
  }
  return absl::OkStatus();
}

// The query's LIMIT plus OFFSET when SQLite offers them as constraints and their
// values are literals; -1 if unknown.
int64_t RowsWanted(sqlite3_index_info* info) {
  int64_t limit = -1, offset = 0;
  for (int i = 0; i < info->nConstraint; ++i) {
    const int op = info->aConstraint[i].op;
    if (op != SQLITE_INDEX_CONSTRAINT_LIMIT && op != SQLITE_INDEX_CONSTRAINT_OFFSET) continue;
    sqlite3_value* v = nullptr;
    if (sqlite3_vtab_rhs_value(info, i, &v) != SQLITE_OK || v == nullptr ||
        sqlite3_value_type(v) != SQLITE_INTEGER) {
      if (op == SQLITE_INDEX_CONSTRAINT_LIMIT) return -1;
      continue;
    }
    const int64_t n = std::max<int64_t>(0, sqlite3_value_int64(v));
    (op == SQLITE_INDEX_CONSTRAINT_LIMIT ? limit : offset) = n;
  }
  return limit < 0 ? -1 : limit + offset;
}

// Adds to plan what the ORDER BY costs or saves: a plan in the wanted order that
// handles every constraint may stop after the rows a LIMIT wants; any other plan
// makes SQLite sort what it returns.
void CostOrder(const TableInfo& table, sqlite3_index_info* info, const std::vector<int>& columns,
               const std::vector<Collation>& collations, bool unique, int64_t wanted, Plan* plan) {
  if (info->nOrderBy == 0) return;
  if (!MayWiden(table, columns, plan->n_eq))
    plan->order = ConsumedOrder(table, info, *plan, columns, collations, unique);
  if (plan->order == 0) {
    plan->cost += plan->rows * kRowCost;  // the sort
    return;
  }
  if (wanted < 0 || wanted >= plan->rows) return;
  // Only if the plan uses every other constraint: one it leaves to SQLite may filter
  // out most rows, and the scan then reads far more than LIMIT of them.
  int others = 0;
  for (int i = 0; i < info->nConstraint; ++i) {
    const int op = info->aConstraint[i].op;
    if (op != SQLITE_INDEX_CONSTRAINT_LIMIT && op != SQLITE_INDEX_CONSTRAINT_OFFSET) ++others;
  }
  if (others > static_cast<int>(plan->constraints.size())) return;
  // Only `wanted` rows (and their pages, and for an index their row reads) are read.
  const double scale = std::max(1.0, static_cast<double>(wanted)) / plan->rows;
  plan->cost = kRoundTripCost + (plan->cost - kRoundTripCost) * scale;
  plan->rows = std::max(1.0, static_cast<double>(wanted));
}

}  // namespace

int BestIndex(sqlite3_vtab* base, sqlite3_index_info* info) {
  auto* vtab = static_cast<Vtab*>(base);
  const TableInfo& table = *vtab->table;
  const double rows =
      table.desc().row_count_estimate() > 0 ? table.desc().row_count_estimate() : 100000.0;
  const int64_t wanted = RowsWanted(info);
  const std::vector<Collation>& pk_collations = table.pk_collations();
  Plan best = PlanFor(table, info, -1, table.pk_columns(), pk_collations, /*unique=*/true, rows);
  CostOrder(table, info, table.pk_columns(), pk_collations, /*unique=*/true, wanted, &best);
  for (size_t i = 0; i < table.indexes().size(); ++i) {
    const IndexInfo& index = table.indexes()[i];
    if (index.desc->state() != sqlpb::IndexDescriptor::PUBLIC) continue;
    Plan plan = PlanFor(table, info, static_cast<int>(i), index.columns, index.collations,
                        index.unique, rows);
    // A unique index's entries with a NULL are not unique (IndexInfo): never "unique"
    // for the order beyond its columns.
    CostOrder(table, info, index.columns, index.collations, /*unique=*/false, wanted, &plan);
    // Without a constraint or an order to give, a full scan reads the rows directly.
    if (plan.constraints.empty() && plan.order == 0) continue;
    if (plan.cost < best.cost) best = std::move(plan);
  }
  for (size_t i = 0; i < best.constraints.size(); ++i) {
    info->aConstraintUsage[best.constraints[i]].argvIndex = static_cast<int>(i) + 1;
  }
  info->idxNum = best.n_eq | (best.lower << kLowerShift) | (best.upper << kUpperShift) |
                 (best.order < 0 ? kReverseBit : 0) | ((best.index + 1) << kIndexShift);
  if (best.order != 0) info->orderByConsumed = 1;
  const std::vector<int>& key_columns =
      best.index < 0 ? table.pk_columns() : table.indexes()[best.index].columns;
  // At most one row only if xFilter can never widen the point read to a scan.
  if (best.point && !MayWiden(table, key_columns, best.n_eq))
    info->idxFlags |= SQLITE_INDEX_SCAN_UNIQUE;
  info->estimatedRows = static_cast<sqlite3_int64>(best.rows);
  info->estimatedCost = best.cost;
  // For EXPLAIN QUERY PLAN: "PRIMARY KEY (a=?)", "INDEX t_b (b>?) ORDER DESC",
  // "FULL SCAN ORDER" (docs/sql.md "Planning").
  std::string plan = best.index < 0
                         ? std::string(best.used.empty() ? "FULL SCAN" : "PRIMARY KEY")
                         : absl::StrCat("INDEX ", table.indexes()[best.index].desc->name());
  if (!best.used.empty()) absl::StrAppend(&plan, " (", absl::StrJoin(best.used, ", "), ")");
  if (best.order != 0) absl::StrAppend(&plan, best.order < 0 ? " ORDER DESC" : " ORDER");
  info->idxStr = sqlite3_mprintf("%s", plan.c_str());
  info->needToFreeIdxStr = 1;
  return SQLITE_OK;
}

absl::Status Settle(Vtab* vtab, Cursor* cursor) {
  while (cursor->pos >= cursor->rows.size() && !cursor->resume_key.empty()) {
    const std::string start = cursor->resume_key;
    if (absl::Status s = LoadPage(vtab, cursor, start); !s.ok()) return s;
  }
  return absl::OkStatus();
}

int Filter(sqlite3_vtab_cursor* base, int idx_num, const char*, int argc, sqlite3_value** argv) {
  auto* cursor = static_cast<Cursor*>(base);
  auto* vtab = static_cast<Vtab*>(base->pVtab);
  const TableInfo& table = *vtab->table;
  if (absl::Status s = CheckCurrent(vtab); !s.ok()) return Fail(vtab, s);
  cursor->rows.clear();
  cursor->resume_key.clear();
  cursor->pos = 0;
  cursor->decoded = false;
  const int n_eq = idx_num & 0xff;
  const int lower = (idx_num >> kLowerShift) & 3;
  const int upper = (idx_num >> kUpperShift) & 3;
  const int index_ordinal = (idx_num >> kIndexShift) - 1;
  cursor->reverse = (idx_num & kReverseBit) != 0;
  cursor->page_rows = kFirstPageRows;
  cursor->index = index_ordinal >= 0 ? &table.indexes().at(index_ordinal) : nullptr;
  const std::vector<int>& columns = cursor->index ? cursor->index->columns : table.pk_columns();
  auto collation = [&](int k) {
    return cursor->index ? cursor->index->collations[k] : table.pk_collations()[k];
  };
  std::string prefix = cursor->index ? cursor->index->prefix : table.rows_start();
  const std::string& span_end = cursor->index ? cursor->index->prefix_end : table.rows_end();
  int arg = 0;
  bool widened = false;
  for (int k = 0; k < n_eq && arg < argc; ++k, ++arg) {
    Value v = ValueFromSqlite(argv[arg]);
    if (IsNull(v)) return SQLITE_OK;  // "= NULL" is never true
    std::optional<Value> kv = KeyValueFor(table, columns[k], std::move(v));
    if (!kv) {
      widened = true;
      break;
    }
    AppendValueKey(&prefix, *kv, collation(k), Direction::kAscending);
  }
  const bool at_start = prefix == (cursor->index ? cursor->index->prefix : table.rows_start());
  std::string start = prefix;
  std::string end = at_start ? span_end : PrefixEnd(prefix);
  const bool all_fixed = !widened && n_eq == static_cast<int>(columns.size());
  const bool unique = cursor->index == nullptr || cursor->index->unique;
  if (all_fixed && unique) {  // one key: a point read
    absl::StatusOr<std::optional<std::string>> value = vtab->context->Get(prefix);
    if (!value.ok()) return Fail(vtab, value.status());
    if (!value->has_value()) return SQLITE_OK;
    if (cursor->index == nullptr) {
      cursor->rows.push_back(kv::KeyValue{prefix, std::move(**value)});
      return SQLITE_OK;
    }
    const std::string row_key = table.RowKeyOfEntry(**value);
    absl::StatusOr<std::optional<std::string>> row = vtab->context->Get(row_key);
    if (!row.ok()) return Fail(vtab, row.status());
    if (row->has_value()) cursor->rows.push_back(kv::KeyValue{row_key, std::move(**row)});
    return SQLITE_OK;
  }
  if (!widened && n_eq < static_cast<int>(columns.size())) {
    const int pos = columns[n_eq];
    // false: the result is empty.
    auto bound = [&](int op, bool is_lower) -> bool {
      if (op == kNoBound || arg >= argc) return true;
      Value v = ValueFromSqlite(argv[arg++]);
      if (IsNull(v)) return false;  // a comparison with NULL is never true
      std::optional<Value> kv = KeyValueFor(table, pos, std::move(v));
      if (!kv) return true;  // cannot narrow: leave this side open
      std::string key = prefix;
      AppendValueKey(&key, *kv, collation(n_eq), Direction::kAscending);
      if (is_lower) {
        start = op == kStrict ? PrefixEnd(key) : key;
      } else {
        end = op == kStrict ? key : PrefixEnd(key);
      }
      return true;
    };
    if (!bound(lower, true) || !bound(upper, false)) return SQLITE_OK;
  }
  if (start >= end) return SQLITE_OK;
  cursor->start = start;
  cursor->end = end;
  if (absl::Status s = LoadPage(vtab, cursor, cursor->reverse ? end : start); !s.ok())
    return Fail(vtab, s);
  if (absl::Status s = Settle(vtab, cursor); !s.ok()) return Fail(vtab, s);
  return SQLITE_OK;
}

}  // namespace rangedb::sql::vtab_internal
