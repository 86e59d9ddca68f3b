// Exact IN operators that SQLite drives value by value through a rangedb table
// (docs/sql.md "Planning", "IN driven value by value").
//
// SQLite hands an IN constraint to xBestIndex as `=`. When the module takes it
// without sqlite3_vtab_in (a slice of a vector IN, `(a, b) IN (SELECT x, y ...)`;
// or an IN past the 32 constraints sqlite3_vtab_in can mark), SQLite 3.40 runs the
// IN as a loop over its values, hands xFilter one value at a time, and after
// xFilter checks each row with `column = <register>` (wherecode.c, "Generate code
// that will continue to the next row if the IN constraint is not satisfied"). That
// check applies the column's affinity, not the IN's comparison affinity: a TEXT
// column against a numeric right side compares as text ('01' IN (SELECT 1) fails),
// an untyped right side's integer 1 matches TEXT '1'. The IN itself is disabled as
// soon as every slice is taken (codeEqualityTerm), so nothing corrects the check.
//
// xBestIndex cannot tell such a slice from `a = ?` or a join's `a = u.x` (both must
// stay key lookups), so the check is made on the prepared statement: ExactInPlanner
// reads its EXPLAIN program, finds each IN recheck after a rangedb table's VFilter
// that compares under TEXT, BLOB or no affinity, and prepares the statement again
// with those columns' ambiguous `=` constraints left to SQLite, which then evaluates
// the IN itself. Only statements whose plan took such a constraint are read
// (InPlanning::suspect); a cached statement is never checked again.
//
// Thread safety: as the connection (one thread at a time). InPlanning is reached by
// xBestIndex through a thread-local pointer that ExactInPlanner sets only for the
// duration of its own sqlite3_prepare_v2 calls.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "sqlite3.h"

namespace rangedb::sql {

// One row of an EXPLAIN program.
struct ExplainOp {
  std::string opcode;
  int64_t p1 = 0;
  int64_t p2 = 0;
  int64_t p3 = 0;
  std::string p4;
  int p5 = 0;
};

// An IN constraint's recheck after a virtual table's xFilter.
struct InRecheck {
  uintptr_t vtab = 0;  // the table's sqlite3_vtab (its VOpen's "vtab:%p"); 0 if not known
  int column = -1;     // the virtual-table column (rangedb: descriptor position + 1)
  bool operator==(const InRecheck&) const = default;
};

// The IN rechecks in program (EXPLAIN rows in address order) that compare under
// TEXT, BLOB or no affinity: after a VFilter, a reload of one of its argument
// registers from the IN's table (Column or Rowid; SQLite never reuses those
// registers), then the VColumn of the filtered cursor and the Eq or Ne on the
// reloaded register. Each (vtab, column) once, in program order.
std::vector<InRecheck> TextInRechecks(const std::vector<ExplainOp>& program);

// The text whose EXPLAIN rows are statement_text's program: `EXPLAIN <statement>`;
// statement_text itself if it is an EXPLAIN already; for `EXPLAIN QUERY PLAN <s>`,
// `EXPLAIN <s>` (the plan it shows must be the one checked).
std::string ExplainText(absl::string_view statement_text);

namespace vtab_internal {

// What xBestIndex (vtab_plan.cc) is told and tells during one ExactInPlanner
// prepare.
struct InPlanning {
  static constexpr int kMaxRefused = 64;
  // Columns whose ambiguous `=` constraints (MayBeInByValue) on a TEXT or untyped
  // column the plan must leave to SQLite. At most kMaxRefused; past it, refuse_all.
  std::vector<InRecheck> refused;
  bool refuse_all = false;  // every TEXT or untyped column's
  // Set by xBestIndex when a plan it returned takes such a constraint on such a
  // column that is not refused.
  bool suspect = false;

  bool Refuses(uintptr_t vtab, int column) const;
};

// The planning of the ExactInPlanner prepare running on this thread; null if none.
InPlanning* CurrentInPlanning();

}  // namespace vtab_internal

// Prepares DML so that every IN is exact (the file comment). Use one per statement:
//
//   ExactInPlanner planner(db);
//   int rc = planner.Prepare(text, &stmt, &end);            // authorized as usual
//   if (rc == SQLITE_OK && stmt && planner.suspect())
//     rc = planner.Replan(statement_text, &stmt);           // same text: no new ops
class ExactInPlanner {
 public:
  // Rounds of EXPLAIN and prepare before every ambiguous TEXT or untyped `=` is
  // refused at once: each round refuses at least one more column.
  static constexpr int kMaxRounds = 4;

  explicit ExactInPlanner(sqlite3* db) : db_(db) {}

  // sqlite3_prepare_v2 of the first statement of text, noting whether its plan may
  // drive an IN value by value through a TEXT or untyped column.
  int Prepare(absl::string_view text, sqlite3_stmt** stmt, const char** end);
  bool suspect() const { return planning_.suspect; }

  // Reads *stmt's EXPLAIN program and, while it has TextInRechecks, prepares
  // statement_text (the statement's own text) again with their columns refused,
  // replacing *stmt. An error leaves *stmt as it was and returns the code (the
  // connection holds the message). REQUIRES: Prepare returned SQLITE_OK, a statement
  // and suspect().
  int Replan(absl::string_view statement_text, sqlite3_stmt** stmt);

 private:
  // EXPLAIN statement_text under the current refusals.
  absl::StatusOr<std::vector<ExplainOp>> Explain(absl::string_view statement_text);
  int PrepareAgain(absl::string_view statement_text, sqlite3_stmt** stmt);

  sqlite3* const db_;
  vtab_internal::InPlanning planning_;
};

}  // namespace rangedb::sql
