// Internals of the rangedb virtual-table module (sql/vtab.h), shared by its files:
// vtab.cc (the module, cursors, transactions), vtab_plan.cc (xBestIndex: which plan),
// vtab_filter.cc (xFilter and the cursor's reads: which keys a plan reads),
// vtab_pattern.cc (LIKE and GLOB as key spans) and vtab_write.cc (xUpdate: rows and
// index entries written).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "base/kv_api.h"
#include "sql/table_info.h"
#include "sql/vtab_context.h"
#include "sql/vtab_pattern.h"
#include "sqlite3.h"

namespace rangedb::sql::vtab_internal {

struct Vtab : sqlite3_vtab {
  VtabContext* context = nullptr;
  sqlite3* db = nullptr;
  std::shared_ptr<const TableInfo> table;
};

// What xBestIndex chose for xFilter, carried in idxNum (docs/sql.md "Planning"):
//   bits 0-7    n_eq: the leading key columns fixed, by `=`, IN or IS NULL
//   bits 8-9    the bound below key column n_eq (Bound)
//   bits 10-11  the bound above it
//   bit 12      a descending scan (an ORDER BY ... DESC consumed)
//   bits 13-14  a LIKE or GLOB pattern on key column n_eq (PatternKind)
//   bits 16-23  the secondary index's ordinal + 1 (0: the primary key)
//   bits 24-26  in_column + 1 (0: none)
//   bits 27-30  is_null: bit 27 + k for key column k
// The planner makes no plan that does not fit (kMaxIndexes, kMaxInColumn,
// kMaxIsNullColumns); the numbers of plans without IN, IS NULL and patterns are
// those of the first layout (docs/sql.md shows some).
//
// An index-only plan and a LIMIT taken are not in idxNum, so that every plan keeps its
// number: they are words at the end of idxStr (PlanFlags: "INDEX t_a (a=?) COVERING
// LIMIT OFFSET"), and xFilter reads them from there.
//
// xFilter's argv: one value per fixed key column in key order (the IN column's is
// its list, sqlite3_vtab_in_first; an IS NULL column's is a NULL it ignores), then
// the lower bound, the upper bound and the pattern, those the plan has; then the
// LIMIT and the OFFSET, if PlanFlags says the plan took them.
enum class Bound : uint8_t { kNone = 0, kStrict = 1, kInclusive = 2 };
enum class PatternKind : uint8_t { kNone = 0, kLike = 1, kGlob = 2 };

struct PlanCode {
  static constexpr int kMaxEqColumns = 255;
  static constexpr int kMaxIndexes = 255;      // ordinals 0-254
  static constexpr int kMaxInColumn = 6;       // in_column 0-6
  static constexpr int kMaxIsNullColumns = 4;  // key columns 0-3

  int index = -1;  // ordinal in TableInfo::indexes(); -1: the primary key
  int n_eq = 0;
  // The fixed key column whose IN list xFilter reads whole (sqlite3_vtab_in) for a
  // point read per value; -1: none. Only in a plan that fixes every column of a
  // unique key, so one key per value.
  int in_column = -1;
  uint32_t is_null = 0;  // bit k: key column k (< n_eq) is fixed by IS NULL
  Bound lower = Bound::kNone;
  Bound upper = Bound::kNone;
  PatternKind pattern = PatternKind::kNone;
  bool reverse = false;

  bool IsNull(int k) const { return k < kMaxIsNullColumns && ((is_null >> k) & 1) != 0; }
  int Encode() const;
  static PlanCode Decode(int idx_num);
};

// What a plan's idxStr says beyond idxNum: words appended, in this order, to the
// plan's description ("PRIMARY KEY (a=?) ORDER", which always ends in ")", "SCAN",
// "KEY", "ORDER" or "DESC", so never in one of these words).
struct PlanFlags {
  // Index-only (IndexCovers): the used columns come from the index entries.
  bool covering = false;
  // The plan took the query's LIMIT (TakesLimit in vtab_plan.cc): argv's last value
  // is it, or the one before the last if `offset`; xFilter reads at most LIMIT +
  // OFFSET rows. SQLite still applies LIMIT and OFFSET itself (omit is 0).
  bool limit = false;
  bool offset = false;  // with `limit` only: argv's last value is the OFFSET

  // " COVERING", " LIMIT", " OFFSET": the words set, in order.
  std::string Suffix() const;
  // The words at the end of idx_str (null: none).
  static PlanFlags Parse(const char* idx_str);
  // The argv values at the end that are LIMIT and OFFSET.
  int limit_args() const { return limit ? (offset ? 2 : 1) : 0; }
};

// Whether a key column at descriptor position pos, keyed under collation, decodes
// (ConsumeValueKey, then ValuesOfEntry's per-affinity fix) to exactly the value the
// row stores: a BINARY key (NOCASE and RTRIM keys hold folded or trimmed text) of a
// column whose affinity says whether a number is INTEGER or REAL (not an untyped
// column: 1 and 1.0 share a key).
bool ExactInKey(const TableInfo& table, int pos, Collation collation);

struct Cursor : sqlite3_vtab_cursor {
  const IndexInfo* index = nullptr;  // null: the rows themselves are read
  // An index-only plan: the used columns come from the index entries (PlanFlags).
  bool covering = false;
  // The rows the cursor may still load: a LIMIT taken (PlanFlags::limit) caps the
  // reads at LIMIT + OFFSET rows, counted off as pages arrive; -1: no cap. A page
  // asks for no more rows than this, and a point read or an index's entries are cut
  // to it before their rows are read.
  int64_t rows_left = -1;
  // The current page: (row key, row value); for an index-only plan, an entry's row
  // value is empty where entry_values holds its columns.
  std::vector<kv::KeyValue> rows;
  // Index-only: per rows[i], the row's columns decoded from its entry (the ones the
  // entry holds exactly; others NULL), or empty if rows[i].value was read instead.
  std::vector<std::vector<Value>> entry_values;
  size_t pos = 0;
  bool reverse = false;        // rows in descending key order (an ORDER BY … DESC consumed)
  int64_t page_rows = 0;       // the next page's size: small first, for LIMIT and joins
  std::vector<Value> current;  // rows[pos] decoded
  bool decoded = false;
  // Point reads: the keys still to read from next_key on, in output order (row keys,
  // or for an index its entry keys). Bounded by the plan: one per IN value.
  std::vector<std::string> keys;
  size_t next_key = 0;
  // Scans: the spans in output order (the last first for a reverse scan). spans[span]
  // is being read; its next page starts at resume_key (forward) or ends there
  // (reverse).
  std::vector<KeySpan> spans;
  size_t span = 0;
  std::string resume_key;
};

// OK if the table this virtual table was declared from is still the session's
// current one (same version); else a retryable error, so that no statement reads or
// writes through a stale declaration.
absl::Status CheckCurrent(Vtab* vtab);

// Reports status as the statement's error (VtabContext::SetError) and in zErrMsg.
int Fail(Vtab* vtab, absl::Status status, int rc = SQLITE_ERROR);

// The smallest key greater than every key that starts with prefix ("" if none).
std::string PrefixEnd(std::string prefix);

// A scan's first page, doubled for each next one up to kv::kScanPageRows: a scan cut
// short (LIMIT, EXISTS, a join's inner lookup) reads little more than it returns.
// Point reads take their keys in pages of the same sizes. A LIMIT taken makes the
// first page min(LIMIT + OFFSET, kFirstPageRows) (Cursor::rows_left).
inline constexpr int64_t kFirstPageRows = 64;

int BestIndex(sqlite3_vtab* base, sqlite3_index_info* info);
int Filter(sqlite3_vtab_cursor* base, int idx_num, const char* idx_str, int argc,
           sqlite3_value** argv);
// Moves the cursor to its next row in output order at or after its position, loading
// pages.
absl::Status Settle(Vtab* vtab, Cursor* cursor);
int Update(sqlite3_vtab* base, int argc, sqlite3_value** argv, sqlite3_int64* rowid);

}  // namespace rangedb::sql::vtab_internal
