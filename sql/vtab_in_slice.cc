// ExactInPlanner and TextInRechecks (vtab_in_slice.h).
#include "sql/vtab_in_slice.h"

#include <algorithm>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "sql/sqlite_util.h"
#include "sql/statement_text.h"

namespace rangedb::sql {
namespace vtab_internal {
namespace {
thread_local InPlanning* current_planning = nullptr;
}  // namespace

bool InPlanning::Refuses(uintptr_t vtab, int column) const {
  if (refuse_all) return true;
  return std::find(refused.begin(), refused.end(), InRecheck{vtab, column}) != refused.end() ||
         std::find(refused.begin(), refused.end(), InRecheck{0, column}) != refused.end();
}

InPlanning* CurrentInPlanning() { return current_planning; }

}  // namespace vtab_internal

namespace {

// Affinities as the P5 of a comparison opcode holds them (sqliteInt.h SQLITE_AFF_*):
// BLOB and TEXT sort below NUMERIC, INTEGER and REAL; 0x40 is "none".
constexpr int kAffinityMask = 0x47;
constexpr int kAffinityNumeric = 0x43;

// Sets the thread's InPlanning for one prepare (vtab_in_slice.h).
class PlanningScope {
 public:
  explicit PlanningScope(vtab_internal::InPlanning* planning)
      : saved_(vtab_internal::current_planning) {
    vtab_internal::current_planning = planning;
  }
  ~PlanningScope() { vtab_internal::current_planning = saved_; }
  PlanningScope(const PlanningScope&) = delete;
  PlanningScope& operator=(const PlanningScope&) = delete;

 private:
  vtab_internal::InPlanning* const saved_;
};

// The sqlite3_vtab pointer of a VOpen's P4 ("vtab:55D0C1A2B3C4", printed by
// sqlite3_str_appendf's %p); 0 if it does not read as one.
uintptr_t VtabOfP4(absl::string_view p4) {
  if (!absl::ConsumePrefix(&p4, "vtab:")) return 0;
  absl::ConsumePrefix(&p4, "0x");
  uint64_t value = 0;
  if (!absl::SimpleHexAtoi(p4, &value)) return 0;
  return static_cast<uintptr_t>(value);
}

// The number of argument registers of the VFilter at program[f]: SQLite sets it with
// `Integer n, P3+1` just before. Unknown: as many as there could be.
int64_t FilterArgCount(const std::vector<ExplainOp>& program, size_t f) {
  const int64_t count_register = program[f].p3 + 1;
  for (size_t i = f; i-- > 0 && f - i <= 4;) {
    if (program[i].opcode == "Integer" && program[i].p2 == count_register) return program[i].p1;
  }
  return std::numeric_limits<int32_t>::max();
}

}  // namespace

std::vector<InRecheck> TextInRechecks(const std::vector<ExplainOp>& program) {
  // An IN recheck is coded as reload, VColumn, compare: a few ops apart at most.
  constexpr size_t kWindowOps = 6;
  std::vector<InRecheck> found;
  std::vector<std::pair<int64_t, uintptr_t>> vtab_of_cursor;
  for (const ExplainOp& op : program) {
    if (op.opcode == "VOpen") vtab_of_cursor.emplace_back(op.p1, VtabOfP4(op.p4));
  }
  for (size_t f = 0; f < program.size(); ++f) {
    if (program[f].opcode != "VFilter") continue;
    const int64_t cursor = program[f].p1;
    const int64_t first_arg = program[f].p3 + 2;
    const int64_t end_arg = first_arg + FilterArgCount(program, f);
    uintptr_t vtab = 0;
    for (const auto& [c, v] : vtab_of_cursor) {
      if (c == cursor) vtab = v;
    }
    for (size_t i = f + 1; i < program.size(); ++i) {
      const ExplainOp& reload = program[i];
      const int64_t target = reload.opcode == "Column"  ? reload.p3
                             : reload.opcode == "Rowid" ? reload.p2
                                                        : -1;
      if (target < first_arg || target >= end_arg) continue;
      int column = -1;
      for (size_t j = i + 1; j < program.size() && j <= i + kWindowOps; ++j) {
        const ExplainOp& op = program[j];
        if (op.opcode == "VColumn" && op.p1 == cursor && column < 0) {
          column = static_cast<int>(op.p2);
          continue;
        }
        if ((op.opcode == "Eq" || op.opcode == "Ne") && column >= 0 &&
            (op.p1 == target || op.p3 == target)) {
          const InRecheck recheck{vtab, column};
          if ((op.p5 & kAffinityMask) < kAffinityNumeric &&
              std::find(found.begin(), found.end(), recheck) == found.end()) {
            found.push_back(recheck);
          }
          break;
        }
      }
    }
  }
  return found;
}

int ExactInPlanner::Prepare(absl::string_view text, sqlite3_stmt** stmt, const char** end) {
  PlanningScope scope(&planning_);
  planning_.suspect = false;
  return sqlite3_prepare_v2(db_, text.data(), static_cast<int>(text.size()), stmt, end);
}

std::string ExplainText(absl::string_view statement_text) {
  absl::string_view rest = SkipSpaceAndComments(statement_text);
  if (FirstKeyword(rest) != "EXPLAIN") return absl::StrCat("EXPLAIN ", statement_text);
  rest = SkipSpaceAndComments(rest.substr(std::string_view("EXPLAIN").size()));
  if (FirstKeyword(rest) != "QUERY") return std::string(statement_text);
  rest = SkipSpaceAndComments(rest.substr(std::string_view("QUERY").size()));
  if (FirstKeyword(rest) != "PLAN") return std::string(statement_text);  // a syntax error
  return absl::StrCat("EXPLAIN ", rest.substr(std::string_view("PLAN").size()));
}

absl::StatusOr<std::vector<ExplainOp>> ExactInPlanner::Explain(absl::string_view statement_text) {
  const std::string sql = ExplainText(statement_text);
  sqlite3_stmt* raw = nullptr;
  int rc;
  {
    PlanningScope scope(&planning_);
    rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &raw, nullptr);
  }
  Stmt explain(raw);
  if (rc != SQLITE_OK) return SqliteError(db_);
  if (explain == nullptr) return std::vector<ExplainOp>();
  std::vector<ExplainOp> program;
  auto text = [&](int i) {
    const unsigned char* s = sqlite3_column_text(explain.get(), i);
    return s == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(s));
  };
  while ((rc = sqlite3_step(explain.get())) == SQLITE_ROW) {
    // addr, opcode, p1, p2, p3, p4, p5, comment
    program.push_back(ExplainOp{
        text(1), sqlite3_column_int64(explain.get(), 2), sqlite3_column_int64(explain.get(), 3),
        sqlite3_column_int64(explain.get(), 4), text(5), sqlite3_column_int(explain.get(), 6)});
  }
  if (rc != SQLITE_DONE) return SqliteError(db_);
  return program;
}

int ExactInPlanner::PrepareAgain(absl::string_view statement_text, sqlite3_stmt** stmt) {
  sqlite3_stmt* again = nullptr;
  planning_.suspect = false;
  int rc;
  {
    PlanningScope scope(&planning_);
    rc = sqlite3_prepare_v2(db_, statement_text.data(), static_cast<int>(statement_text.size()),
                            &again, nullptr);
  }
  if (rc != SQLITE_OK || again == nullptr) {
    sqlite3_finalize(again);
    return rc != SQLITE_OK ? rc : SQLITE_INTERNAL;
  }
  sqlite3_finalize(*stmt);
  *stmt = again;
  return SQLITE_OK;
}

int ExactInPlanner::Replan(absl::string_view statement_text, sqlite3_stmt** stmt) {
  for (int round = 0; round < kMaxRounds && planning_.suspect; ++round) {
    absl::StatusOr<std::vector<ExplainOp>> program = Explain(statement_text);
    if (!program.ok()) break;  // refuse them all below
    bool refused_more = false;
    for (const InRecheck& recheck : TextInRechecks(*program)) {
      if (planning_.Refuses(recheck.vtab, recheck.column)) continue;
      if (static_cast<int>(planning_.refused.size()) >= vtab_internal::InPlanning::kMaxRefused) {
        planning_.refuse_all = true;
        break;
      }
      planning_.refused.push_back(recheck);
      refused_more = true;
    }
    if (!refused_more && !planning_.refuse_all) return SQLITE_OK;  // no IN recheck on text
    if (int rc = PrepareAgain(statement_text, stmt); rc != SQLITE_OK) return rc;
    if (planning_.refuse_all) return SQLITE_OK;
  }
  if (!planning_.suspect) return SQLITE_OK;
  // Still a plan that might: refuse every ambiguous `=` on a TEXT or untyped column,
  // after which no plan is suspect.
  planning_.refuse_all = true;
  return PrepareAgain(statement_text, stmt);
}

}  // namespace rangedb::sql
