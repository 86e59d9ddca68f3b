// xBestIndex of the rangedb module: which key order, constraints and reads a query
// gets (docs/sql.md "Planning"). xFilter, which reads them, is in vtab_filter.cc.
#include <algorithm>
#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/types/span.h"
#include "base/check.h"
#include "sql/affinity.h"
#include "sql/vtab_in_slice.h"
#include "sql/vtab_internal.h"
#include "txn/txn.h"

namespace rangedb::sql::vtab_internal {

// The layout is in vtab_internal.h.
int PlanCode::Encode() const {
  RANGEDB_DCHECK(n_eq >= 0 && n_eq <= kMaxEqColumns);
  RANGEDB_DCHECK(index >= -1 && index < kMaxIndexes);
  RANGEDB_DCHECK(in_column >= -1 && in_column <= kMaxInColumn);
  RANGEDB_DCHECK(is_null < (1u << kMaxIsNullColumns));
  const int code = n_eq | (static_cast<int>(lower) << 8) | (static_cast<int>(upper) << 10) |
                   (reverse ? 1 << 12 : 0) | (static_cast<int>(pattern) << 13) |
                   ((index + 1) << 16) | ((in_column + 1) << 24) | static_cast<int>(is_null << 27);
  return code;
}

PlanCode PlanCode::Decode(int idx_num) {
  PlanCode plan;
  plan.n_eq = idx_num & 0xff;
  plan.lower = static_cast<Bound>((idx_num >> 8) & 3);
  plan.upper = static_cast<Bound>((idx_num >> 10) & 3);
  plan.reverse = ((idx_num >> 12) & 1) != 0;
  plan.pattern = static_cast<PatternKind>((idx_num >> 13) & 3);
  plan.index = ((idx_num >> 16) & 0xff) - 1;
  plan.in_column = ((idx_num >> 24) & 7) - 1;
  plan.is_null = static_cast<uint32_t>(idx_num >> 27) & 0xf;
  return plan;
}

namespace {
constexpr absl::string_view kFlagWords[] = {" COVERING", " LIMIT", " OFFSET"};
}  // namespace

std::string PlanFlags::Suffix() const {
  RANGEDB_DCHECK(limit || !offset);
  std::string suffix;
  if (covering) absl::StrAppend(&suffix, kFlagWords[0]);
  if (limit) absl::StrAppend(&suffix, kFlagWords[1]);
  if (offset) absl::StrAppend(&suffix, kFlagWords[2]);
  return suffix;
}

PlanFlags PlanFlags::Parse(const char* idx_str) {
  PlanFlags flags;
  absl::string_view s = idx_str == nullptr ? "" : idx_str;
  // From the end, in the reverse of Suffix's order: each word at most once.
  bool* const set[] = {&flags.covering, &flags.limit, &flags.offset};
  for (int i = 2; i >= 0; --i) *set[i] = absl::ConsumeSuffix(&s, kFlagWords[i]);
  if (flags.offset && !flags.limit) flags = PlanFlags{};  // not one of ours
  return flags;
}

bool ExactInKey(const TableInfo& table, int pos, Collation collation) {
  return collation == Collation::kBinary && table.affinity(pos) != Affinity::kBlob;
}

namespace {

// Cost units (docs/sql.md "Planning"): a round trip to the key space, and the work
// of one row read.
constexpr double kRoundTripCost = 100;
constexpr double kRowCost = 2;
constexpr double kRowsPerPage = 1000;
// The values an IN list read whole is guessed to have: SQLite does not say.
constexpr double kInListRows = 10;

// One access path: a key order (the primary key's or an index's), with the
// constraints it uses.
struct Plan {
  PlanCode code;
  std::vector<int> constraints;   // aConstraint positions, in argv order
  std::vector<std::string> used;  // "a=?", for idxStr
  bool point = false;             // a unique key's every column fixed, none by IS NULL
  bool covering = false;          // index-only: the entries hold every used column
  bool in_by_value = false;       // an IN that SQLite hands over value by value fixes a column
  int order = 0;                  // the ORDER BY it yields: 1 ascending, -1 descending, 0 none
  double rows = 0;
  double cost = 0;
};

bool SameCollation(sqlite3_index_info* info, int constraint, Collation column) {
  const char* name = sqlite3_vtab_collation(info, constraint);
  absl::StatusOr<Collation> c = CollationByName(name ? name : "BINARY");
  return c.ok() && *c == column;
}

// Whether a LIKE or GLOB constraint on key column `pos`, keyed under `collation`, can
// narrow the span (vtab_pattern.h): a TEXT-affinity column, keyed under NOCASE for
// LIKE and BINARY for GLOB, and a pattern with a literal prefix if SQLite knows the
// pattern already. A pattern known only in xFilter (a parameter, another table's
// column) is checked there, and one without a literal prefix leaves the span whole.
bool PatternNarrows(const TableInfo& table, sqlite3_index_info* info, int constraint, int pos,
                    Collation collation) {
  const bool like = info->aConstraint[constraint].op == SQLITE_INDEX_CONSTRAINT_LIKE;
  if (table.affinity(pos) != Affinity::kText) return false;
  if (collation != (like ? Collation::kNocase : Collation::kBinary)) return false;
  sqlite3_value* pattern = nullptr;
  if (sqlite3_vtab_rhs_value(info, constraint, &pattern) != SQLITE_OK || pattern == nullptr)
    return true;
  if (sqlite3_value_type(pattern) != SQLITE_TEXT) return false;
  const auto* text = reinterpret_cast<const char*>(sqlite3_value_text(pattern));
  return !LiteralPrefix(absl::string_view(text, sqlite3_value_bytes(pattern)),
                        like ? PatternOp::kLike : PatternOp::kGlob)
              .empty();
}

// The usable constraints on one key column, as positions in aConstraint (-1: none).
struct ColumnConstraints {
  int eq = -1;       // `=` (or an IN that SQLite can only hand over value by value)
  int in = -1;       // an IN that SQLite can hand over whole (sqlite3_vtab_in)
  int is_null = -1;  // IS NULL
  int lower = -1, upper = -1;
  int pattern = -1;  // LIKE or GLOB that can narrow (PatternNarrows)
};

// Whether a value compared with the column may fail to narrow its key span: a
// number against a TEXT or untyped column (KeyValueFor in vtab_filter.cc).
bool MayWidenColumn(const TableInfo& table, int pos) {
  const Affinity a = table.affinity(pos);
  return a == Affinity::kText || a == Affinity::kBlob;
}

// Whether `=` constraint i, which SQLite does not offer whole (sqlite3_vtab_in), may
// be an IN that SQLite drives value by value: a slice of a vector IN, or an IN past
// the 32 constraints sqlite3_vtab_in can mark. Its right side is then unknown here;
// so is a parameter's and a join column's, but a literal's is known
// (vtab_in_slice.h).
bool MayBeInByValue(sqlite3_index_info* info, int i) {
  sqlite3_value* v = nullptr;
  return sqlite3_vtab_rhs_value(info, i, &v) != SQLITE_OK || v == nullptr;
}

// Whether the plan's constraint i may be an IN driven value by value on a TEXT or
// untyped column, whose recheck SQLite codes under the wrong affinity
// (vtab_in_slice.h): ExactInPlanner then reads the statement's program.
bool SuspectInByValue(const TableInfo& table, sqlite3_index_info* info, int i) {
  const auto& c = info->aConstraint[i];
  return c.op == SQLITE_INDEX_CONSTRAINT_EQ && c.iColumn >= 1 &&
         MayWidenColumn(table, c.iColumn - 1) && !sqlite3_vtab_in(info, i, -1) &&
         MayBeInByValue(info, i);
}

// planning: the refusals of an ExactInPlanner prepare (null: none); vtab: this
// table's, as they name it.
ColumnConstraints ConstraintsOn(const TableInfo& table, sqlite3_index_info* info, int pos,
                                Collation collation, const std::vector<bool>& taken,
                                const InPlanning* planning, uintptr_t vtab) {
  ColumnConstraints found;
  for (int i = 0; i < info->nConstraint; ++i) {
    const auto& c = info->aConstraint[i];
    if (taken[i] || !c.usable || c.iColumn != pos + 1) continue;
    switch (c.op) {
      case SQLITE_INDEX_CONSTRAINT_ISNULL:  // NULL has one key whatever the collation
        if (found.is_null < 0) found.is_null = i;
        continue;
      case SQLITE_INDEX_CONSTRAINT_LIKE:  // LIKE and GLOB use no collation
      case SQLITE_INDEX_CONSTRAINT_GLOB:
        if (found.pattern < 0 && PatternNarrows(table, info, i, pos, collation)) found.pattern = i;
        continue;
      default:
        break;
    }
    if (!SameCollation(info, i, collation)) continue;
    switch (c.op) {
      case SQLITE_INDEX_CONSTRAINT_EQ: {
        const bool whole = sqlite3_vtab_in(info, i, -1);
        // A column whose IN SQLite was seen to recheck under the wrong affinity:
        // what may be that IN is left to SQLite, which then evaluates the IN itself.
        if (!whole && planning != nullptr && MayWidenColumn(table, pos) &&
            planning->Refuses(vtab, pos + 1) && MayBeInByValue(info, i)) {
          break;
        }
        int& slot = whole ? found.in : found.eq;
        if (slot < 0) slot = i;
        break;
      }
      case SQLITE_INDEX_CONSTRAINT_GT:
      case SQLITE_INDEX_CONSTRAINT_GE:
        if (found.lower < 0) found.lower = i;
        break;
      case SQLITE_INDEX_CONSTRAINT_LT:
      case SQLITE_INDEX_CONSTRAINT_LE:
        if (found.upper < 0) found.upper = i;
        break;
      default:
        break;
    }
  }
  return found;
}

// Which of the key columns fixed by IN (in_columns, in key order) gets its list
// whole (sqlite3_vtab_in); -1: none. SQLite hands the others over value by value,
// one xFilter call each, and then checks each row against that value alone, under
// the column's affinity rather than the IN's: `textcol IN (SELECT intcol …)` compares
// as numbers, so a row '01' that the widened read returns for the value 1 would be
// dropped. A list read whole is checked by the IN itself, so the one column that may
// widen (PlanFor takes one at most) goes first.
int InColumnReadWhole(const TableInfo& table, const std::vector<int>& columns,
                      const std::vector<int>& in_columns) {
  int chosen = -1;
  for (int k : in_columns) {
    if (k > PlanCode::kMaxInColumn) break;
    if (MayWidenColumn(table, columns[k])) return k;
    if (chosen < 0) chosen = k;
  }
  return chosen;
}

// Sets plan->rows and plan->cost (docs/sql.md "Planning"). distinct: the key order's
// distinct prefix counts from ANALYZE (IndexDescriptor.distinct_prefix_estimate;
// empty if it never counted them): n_eq fixed columns then hold table_rows /
// distinct[n_eq - 1] rows, else 1/100 of them per column.
void Estimate(double table_rows, absl::Span<const int64_t> distinct, Plan* plan) {
  const PlanCode& code = plan->code;
  const bool in_list = code.in_column >= 0;
  double rows = table_rows;
  if (plan->point) {
    rows = in_list ? kInListRows : 1;
  } else if (code.index < 0 && code.is_null != 0) {
    rows = 1;  // a primary-key column holds no NULL: the span is empty
  } else {
    if (code.n_eq > 0 && static_cast<size_t>(code.n_eq) <= distinct.size() &&
        distinct[code.n_eq - 1] > 0) {
      rows /= static_cast<double>(distinct[code.n_eq - 1]);
    } else {
      for (int i = 0; i < code.n_eq; ++i) rows /= 100;
    }
    if (in_list) rows *= kInListRows;
    if (code.lower != Bound::kNone) rows /= 4;
    if (code.upper != Bound::kNone) rows /= 4;
    if (code.pattern != PatternKind::kNone) rows /= 16;
  }
  plan->rows = std::max(1.0, rows);
  // A scan per span: one per value of an IN list read whole (point reads take 64
  // keys to a round trip), and a pattern's second one, the BLOBs (vtab_pattern.h).
  double spans = !plan->point && in_list ? kInListRows : 1;
  if (code.pattern != PatternKind::kNone && PatternsMatchBlobs()) spans *= 2;
  const double pages = spans + plan->rows / kRowsPerPage;
  plan->cost = pages * kRoundTripCost + plan->rows * kRowCost;
  // An index gives row keys: the rows are read in batches (VtabContext::GetMany),
  // one more round trip per batch, and a point lookup's row costs one of its own;
  // an index-only plan reads none.
  if (code.index >= 0 && !plan->covering) {
    const double batches = std::ceil(plan->rows / static_cast<double>(txn::Txn::kGetManyBatchKeys));
    plan->cost += batches * kRoundTripCost + plan->rows * kRowCost;
  }
}

// Whether index's entries hold every column the query uses (col_used: bit i for
// virtual-table column i, bit 63 for all from 63 on) exactly (ExactInKey): the
// indexed columns in the key, the primary-key columns in the value (the row's key
// after rows_start(), so the hidden key column 0 too).
bool IndexCovers(const TableInfo& table, const IndexInfo& index, sqlite3_uint64 col_used) {
  if ((col_used >> 63) != 0) return false;
  for (int pos = 0; pos < table.num_columns() && pos + 1 < 63; ++pos) {
    if (((col_used >> (pos + 1)) & 1) == 0) continue;
    bool exact = false;
    for (size_t k = 0; k < index.columns.size() && !exact; ++k)
      exact = index.columns[k] == pos && ExactInKey(table, pos, index.collations[k]);
    for (size_t k = 0; k < table.pk_columns().size() && !exact; ++k)
      exact = table.pk_columns()[k] == pos && ExactInKey(table, pos, table.pk_collations()[k]);
    if (!exact) return false;
  }
  return true;
}

// The plan over the key order `key` (an index's, or the primary one's) of `columns`
// (positions; their collations). `covering`: an index's plan reads no rows
// (IndexCovers). vtab: the table's sqlite3_vtab, as an ExactInPlanner's refusals
// name it (vtab_in_slice.h).
Plan PlanFor(const TableInfo& table, sqlite3_index_info* info, int index_ordinal,
             const sqlpb::IndexDescriptor& key, const std::vector<int>& columns,
             const std::vector<Collation>& collations, bool unique, bool covering,
             double table_rows, uintptr_t vtab) {
  const InPlanning* planning = CurrentInPlanning();
  Plan plan;
  plan.covering = covering;
  PlanCode& code = plan.code;
  code.index = index_ordinal;
  // A constraint feeds one key column at most: SQLite calls a plan that hands one
  // constraint two argv slots a malfunction (an index may name a column twice).
  std::vector<bool> taken(info->nConstraint, false);
  std::vector<int> in_columns;  // the key columns fixed by an IN list
  bool widening_in = false;     // one of them may widen (InColumnReadWhole)
  for (size_t k = 0; k < columns.size() && code.n_eq < PlanCode::kMaxEqColumns; ++k) {
    const ColumnConstraints c =
        ConstraintsOn(table, info, columns[k], collations[k], taken, planning, vtab);
    const std::string& name = table.column(columns[k]).name();
    // `=` narrows most; IS NULL fixes the column too, but to many rows.
    int eq = c.eq >= 0 ? c.eq : c.in;
    // An IN that may widen must be read whole: one per plan, where idxNum says so.
    // Another is left to SQLite, which checks it on every row.
    if (eq >= 0 && eq == c.in && MayWidenColumn(table, columns[k])) {
      if (widening_in || static_cast<int>(k) > PlanCode::kMaxInColumn) {
        eq = -1;
      } else {
        widening_in = true;
      }
    }
    const int fixed =
        eq >= 0 ? eq : (static_cast<int>(k) < PlanCode::kMaxIsNullColumns ? c.is_null : -1);
    if (fixed >= 0) {
      taken[fixed] = true;
      plan.constraints.push_back(fixed);
      if (fixed == c.is_null) {
        code.is_null |= 1u << k;
        plan.used.push_back(absl::StrCat(name, " IS NULL"));
      } else {
        if (fixed == c.in) in_columns.push_back(static_cast<int>(k));
        plan.used.push_back(absl::StrCat(name, "=?"));
      }
      ++code.n_eq;
      continue;
    }
    if (c.lower >= 0) {
      plan.constraints.push_back(c.lower);
      code.lower = info->aConstraint[c.lower].op == SQLITE_INDEX_CONSTRAINT_GT ? Bound::kStrict
                                                                               : Bound::kInclusive;
      plan.used.push_back(absl::StrCat(name, code.lower == Bound::kStrict ? ">?" : ">=?"));
    }
    if (c.upper >= 0) {
      plan.constraints.push_back(c.upper);
      code.upper = info->aConstraint[c.upper].op == SQLITE_INDEX_CONSTRAINT_LT ? Bound::kStrict
                                                                               : Bound::kInclusive;
      plan.used.push_back(absl::StrCat(name, code.upper == Bound::kStrict ? "<?" : "<=?"));
    }
    // SQLite's own "LIKE optimization" may have added bounds from the pattern
    // already (a literal or bound one); the pattern narrows further, or alone where
    // SQLite knows the pattern only row by row (another table's column).
    if (c.pattern >= 0) {
      const bool like = info->aConstraint[c.pattern].op == SQLITE_INDEX_CONSTRAINT_LIKE;
      plan.constraints.push_back(c.pattern);
      code.pattern = like ? PatternKind::kLike : PatternKind::kGlob;
      plan.used.push_back(absl::StrCat(name, like ? " LIKE ?" : " GLOB ?"));
    }
    break;
  }
  plan.point = unique && code.n_eq == static_cast<int>(columns.size()) && code.is_null == 0;
  code.in_column = InColumnReadWhole(table, columns, in_columns);
  plan.in_by_value = in_columns.size() > (code.in_column >= 0 ? 1u : 0u);
  if (code.in_column >= 0) {
    plan.used[code.in_column] = absl::StrCat(table.column(columns[code.in_column]).name(), " IN ?");
  }
  Estimate(table_rows,
           absl::MakeConstSpan(key.distinct_prefix_estimate().data(),
                               static_cast<size_t>(key.distinct_prefix_estimate_size())),
           &plan);
  return plan;
}

// Whether scanning plan's key order (columns, under collations) in one direction
// yields the rows in the order of the query's ORDER BY: 1 ascending, -1 descending,
// 0 not (SQLite then sorts). Key columns fixed by `=` or IS NULL are constant and
// may appear anywhere in the ORDER BY. `unique`: no two rows share the key columns,
// so terms after all of them are already satisfied. A DISTINCT query (vtab_distinct
// 2 or 3) is left to SQLite; GROUP BY (1) is satisfied by sorted output.
//
// An IN list read whole (in_column) is read value by value in key order, so its
// column comes first among the varying ones; on a point read it then orders every
// row (one row per value at most). An IN that SQLite hands over value by value is
// taken for a fixed column here; SQLite then drops orderByConsumed itself.
int ConsumedOrder(const TableInfo& table, sqlite3_index_info* info, const Plan& plan,
                  const std::vector<int>& columns, const std::vector<Collation>& collations,
                  bool unique) {
  if (info->nOrderBy == 0 || sqlite3_vtab_distinct(info) >= 2) return 0;
  const int n_eq = plan.code.n_eq;
  const int in_column = plan.code.in_column;
  bool in_seen = in_column < 0;
  size_t k = static_cast<size_t>(n_eq);
  int direction = 0;
  for (int i = 0; i < info->nOrderBy; ++i) {
    const auto& term = info->aOrderBy[i];
    const int pos = term.iColumn - 1;  // descriptor position; -1: the hidden key column
    if (pos < 0) return 0;
    const int d = term.desc ? -1 : 1;
    // SQLite sorts by the column's declared collation; the key by the key column's.
    if (!in_seen && columns[in_column] == pos) {
      if (table.collation(pos) != collations[in_column]) return 0;
      if (plan.point) return d;
      in_seen = true;
      direction = d;
      continue;
    }
    bool fixed = false;
    for (int e = 0; e < n_eq; ++e) fixed |= e != in_column && columns[e] == pos;
    if (fixed) continue;
    if (!in_seen) return 0;  // a column that varies within each IN value, first
    if (k >= columns.size()) return unique ? (direction == 0 ? 1 : direction) : 0;
    if (columns[k] != pos || table.collation(pos) != collations[k]) return 0;
    if (direction != 0 && d != direction) return 0;
    direction = d;
    ++k;
  }
  return direction == 0 ? 1 : direction;
}

// Whether the scan may widen past the fixed columns: a TEXT or untyped key column
// compared with a number cannot narrow the span (KeyValueFor in vtab_filter.cc), so
// rows of several key values come back and neither "at most one row" nor the order
// beyond them holds. IS NULL always narrows.
bool MayWiden(const TableInfo& table, const std::vector<int>& columns, const PlanCode& code) {
  for (int k = 0; k < code.n_eq; ++k) {
    if (!code.IsNull(k) && MayWidenColumn(table, columns[k])) return true;
  }
  return false;
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
  if (!MayWiden(table, columns, plan->code))
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

// The aConstraint positions of the query's LIMIT and OFFSET if the plan can take
// them (PlanFlags::limit), so that xFilter reads at most LIMIT + OFFSET rows; limit
// -1 if it cannot, offset -1 if there is none. SQLite offers them only for a query of
// this one table without GROUP BY, DISTINCT or aggregates whose WHERE terms are all
// on its columns, and applies LIMIT and OFFSET itself whatever the plan does (omit
// stays 0). So the cap is right if the rows xFilter returns, in their order, are the
// query's rows:
//   - the plan uses every other constraint (SQLite also refuses a LIMIT after an
//     unused one), and none of them is a pattern, which narrows to its literal
//     prefix only: the span then holds the rows that match every term;
//   - no IN is handed over value by value (SQLite refuses that plan too, and calls
//     xBestIndex again without LIMIT);
//   - the ORDER BY, if any, is consumed: SQLite does not sort what it gets.
// A value that cannot narrow its key column (a number against a TEXT or untyped
// one) is seen only in xFilter, which then reads without the cap (ChooseReads).
struct LimitConstraints {
  int limit = -1;
  int offset = -1;
};
LimitConstraints TakesLimit(sqlite3_index_info* info, const Plan& plan) {
  LimitConstraints found;
  int others = 0;
  for (int i = 0; i < info->nConstraint; ++i) {
    const auto& c = info->aConstraint[i];
    if (c.op == SQLITE_INDEX_CONSTRAINT_LIMIT || c.op == SQLITE_INDEX_CONSTRAINT_OFFSET) {
      // Usable only in SQLite's first call for the table, where every term is.
      if (!c.usable) return LimitConstraints{};
      (c.op == SQLITE_INDEX_CONSTRAINT_LIMIT ? found.limit : found.offset) = i;
    } else {
      ++others;
    }
  }
  const bool exact = others == static_cast<int>(plan.constraints.size()) &&
                     plan.code.pattern == PatternKind::kNone && !plan.in_by_value &&
                     (info->nOrderBy == 0 || plan.order != 0);
  if (found.limit < 0 || !exact) return LimitConstraints{};
  return found;
}

}  // namespace

int BestIndex(sqlite3_vtab* base, sqlite3_index_info* info) {
  auto* vtab = static_cast<Vtab*>(base);
  const TableInfo& table = *vtab->table;
  const double rows =
      table.desc().row_count_estimate() > 0 ? table.desc().row_count_estimate() : 100000.0;
  const int64_t wanted = RowsWanted(info);
  const std::vector<Collation>& pk_collations = table.pk_collations();
  const auto vtab_id = reinterpret_cast<uintptr_t>(base);
  Plan best = PlanFor(table, info, -1, table.desc().primary_index(), table.pk_columns(),
                      pk_collations, /*unique=*/true, /*covering=*/false, rows, vtab_id);
  CostOrder(table, info, table.pk_columns(), pk_collations, /*unique=*/true, wanted, &best);
  // Ordinals that idxNum cannot carry get no plan (PlanCode).
  const size_t n_indexes = std::min<size_t>(table.indexes().size(), PlanCode::kMaxIndexes);
  for (size_t i = 0; i < n_indexes; ++i) {
    const IndexInfo& index = table.indexes()[i];
    if (index.desc->state() != sqlpb::IndexDescriptor::PUBLIC) continue;
    Plan plan =
        PlanFor(table, info, static_cast<int>(i), *index.desc, index.columns, index.collations,
                index.unique, IndexCovers(table, index, info->colUsed), rows, vtab_id);
    // A unique index's entries with a NULL are not unique (IndexInfo): never "unique"
    // for the order beyond its columns.
    CostOrder(table, info, index.columns, index.collations, /*unique=*/false, wanted, &plan);
    // Without a constraint or an order to give, a full scan reads the rows directly.
    if (plan.constraints.empty() && plan.order == 0) continue;
    if (plan.cost < best.cost) best = std::move(plan);
  }
  InPlanning* planning = CurrentInPlanning();
  for (size_t i = 0; i < best.constraints.size(); ++i) {
    info->aConstraintUsage[best.constraints[i]].argvIndex = static_cast<int>(i) + 1;
    if (planning != nullptr && SuspectInByValue(table, info, best.constraints[i]))
      planning->suspect = true;
  }
  PlanFlags flags;
  flags.covering = best.covering;
  // LIMIT, then OFFSET, after the plan's own values (PlanFlags).
  const LimitConstraints limit = TakesLimit(info, best);
  if (limit.limit >= 0) {
    int argv_index = static_cast<int>(best.constraints.size());
    flags.limit = true;
    info->aConstraintUsage[limit.limit].argvIndex = ++argv_index;
    if (limit.offset >= 0) {
      flags.offset = true;
      info->aConstraintUsage[limit.offset].argvIndex = ++argv_index;
    }
  }
  PlanCode& code = best.code;
  // The IN list comes whole to xFilter (sqlite3_vtab_in_first), so SQLite keeps the
  // order the plan gives (it drops orderByConsumed only for an IN it hands over value
  // by value). The constraint of fixed key column k is argv k.
  if (code.in_column >= 0) sqlite3_vtab_in(info, best.constraints[code.in_column], 1);
  code.reverse = best.order < 0;
  info->idxNum = code.Encode();
  if (best.order != 0) info->orderByConsumed = 1;
  const std::vector<int>& key_columns =
      code.index < 0 ? table.pk_columns() : table.indexes()[code.index].columns;
  // At most one row only if xFilter can never widen the point read to a scan, and
  // reads one key.
  if (best.point && code.in_column < 0 && !MayWiden(table, key_columns, code))
    info->idxFlags |= SQLITE_INDEX_SCAN_UNIQUE;
  info->estimatedRows = static_cast<sqlite3_int64>(best.rows);
  info->estimatedCost = best.cost;
  // For EXPLAIN QUERY PLAN: "PRIMARY KEY (a=?)", "INDEX t_b (b>?) ORDER DESC",
  // "FULL SCAN ORDER", "INDEX t_b (b=?) COVERING", "FULL SCAN ORDER LIMIT OFFSET"
  // (docs/sql.md "Planning"). With IN, IS NULL and patterns: "PRIMARY KEY (a IN ?)",
  // "INDEX t_b (b IS NULL)", "INDEX t_c (c LIKE ?)".
  std::string plan = code.index < 0
                         ? std::string(best.used.empty() ? "FULL SCAN" : "PRIMARY KEY")
                         : absl::StrCat("INDEX ", table.indexes()[code.index].desc->name());
  if (!best.used.empty()) absl::StrAppend(&plan, " (", absl::StrJoin(best.used, ", "), ")");
  if (best.order != 0) absl::StrAppend(&plan, best.order < 0 ? " ORDER DESC" : " ORDER");
  RANGEDB_DCHECK(!PlanFlags::Parse(plan.c_str()).covering && !PlanFlags::Parse(plan.c_str()).limit);
  absl::StrAppend(&plan, flags.Suffix());  // last: PlanFlags::Parse
  info->idxStr = sqlite3_mprintf("%s", plan.c_str());
  info->needToFreeIdxStr = 1;
  return SQLITE_OK;
}

}  // namespace rangedb::sql::vtab_internal
