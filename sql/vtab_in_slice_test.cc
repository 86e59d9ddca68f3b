// Tests of TextInRechecks (vtab_in_slice.h) on EXPLAIN programs as SQLite 3.40 codes
// them for a virtual table; the end-to-end cases are
// tests/sqllogictest/rangedb/in_slices.test.
#include "sql/vtab_in_slice.h"

#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace rangedb::sql {
namespace {

// "opcode p1 p2 p3 p4 p5" per line ("-" for an empty P4), as EXPLAIN prints them.
std::vector<ExplainOp> Program(const std::string& text) {
  std::vector<ExplainOp> program;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
    std::vector<std::string> f = absl::StrSplit(line, ' ', absl::SkipWhitespace());
    EXPECT_EQ(f.size(), 6u) << line;
    if (f.size() != 6) continue;
    ExplainOp op;
    op.opcode = f[0];
    EXPECT_TRUE(absl::SimpleAtoi(f[1], &op.p1) && absl::SimpleAtoi(f[2], &op.p2) &&
                absl::SimpleAtoi(f[3], &op.p3) && absl::SimpleAtoi(f[5], &op.p5));
    op.p4 = f[4] == "-" ? "" : f[4];
    program.push_back(op);
  }
  return program;
}

// SELECT * FROM t WHERE (a, b) IN (SELECT x, y FROM u), t(a TEXT, b INTEGER) a
// virtual table taking both slices value by value (SQLite 3.40.1's program). The
// rechecks: a under TEXT affinity (P5 0x52), b under INTEGER (0x54).
constexpr char kVectorIn[] = R"(
  VOpen 0 0 0 vtab:556A4B7509A8 0
  OpenEphemeral 2 2 0 k(2,B,B) 0
  OpenRead 1 3 0 2 0
  Rewind 1 12 0 - 0
  Column 1 0 6 - 0
  Column 1 1 7 - 0
  MakeRecord 6 2 8 CC 0
  IdxInsert 2 8 6 2 0
  Next 1 7 0 - 1
  Rewind 2 33 0 - 0
  Column 2 0 3 - 0
  IsNull 3 32 0 - 0
  Column 2 1 4 - 0
  IsNull 4 32 0 - 0
  Integer 0 1 0 - 0
  Integer 2 2 0 - 0
  VFilter 0 32 1 - 0
  Column 2 0 3 - 0
  VColumn 0 1 9 - 0
  Ne 3 31 9 BINARY-8 82
  Column 2 1 4 - 0
  VColumn 0 2 9 - 0
  Ne 4 31 9 BINARY-8 84
  VColumn 0 1 11 - 0
  VColumn 0 2 12 - 0
  ResultRow 11 2 0 - 0
  VNext 0 22 0 - 0
  Next 2 15 0 - 0
)";

TEST(TextInRechecksTest, AVectorInSliceOnATextColumnIsFound) {
  const std::vector<InRecheck> found = TextInRechecks(Program(kVectorIn));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].vtab, uintptr_t{0x556A4B7509A8});
  EXPECT_EQ(found[0].column, 1);
}

TEST(TextInRechecksTest, UntypedAndNoAffinityCountAsText) {
  std::string program = kVectorIn;
  program.replace(program.find("BINARY-8 84"), 11, "BINARY-8 81");  // BLOB | JUMPIFNULL
  const std::vector<InRecheck> found = TextInRechecks(Program(program));
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[1].column, 2);
}

// A term the module took that is not an IN (a parameter, a join column) is coded
// into the argument register before VFilter only, and checked by its own expression
// afterwards: no reload of the register.
TEST(TextInRechecksTest, AnEqualityIsNoRecheck) {
  const std::vector<InRecheck> found = TextInRechecks(Program(R"(
    VOpen 0 0 0 vtab:556A4B7509A8 0
    Variable 1 3 0 - 0
    Integer 1 1 0 - 0
    Integer 1 2 0 - 0
    VFilter 0 9 1 PRIMARY_KEY_(a=?) 0
    VColumn 0 1 4 - 0
    Ne 5 8 4 BINARY-8 82
    ResultRow 4 1 0 - 0
    VNext 0 5 0 - 0
  )"));
  EXPECT_TRUE(found.empty());
}

// An IN handed over whole (sqlite3_vtab_in) is read by xFilter and checked by
// SQLite as an IN: VInitIn, no reload.
TEST(TextInRechecksTest, AnInHandedOverWholeIsNoRecheck) {
  const std::vector<InRecheck> found = TextInRechecks(Program(R"(
    VOpen 0 0 0 vtab:556A4B7509A8 0
    OpenEphemeral 1 1 0 k(1,B) 0
    VInitIn 1 3 4 - 0
    Integer 1 1 0 - 0
    Integer 1 2 0 - 0
    VFilter 0 9 1 PRIMARY_KEY_(a_IN_?) 0
    VColumn 0 1 5 - 0
    ResultRow 5 1 0 - 0
    VNext 0 6 0 - 0
  )"));
  EXPECT_TRUE(found.empty());
}

// A register past the VFilter's arguments (its count is set by `Integer n, P3+1`)
// is not one of its IN values.
TEST(TextInRechecksTest, OnlyTheFiltersOwnArgumentsCount) {
  std::string program = kVectorIn;
  program.replace(program.find("Integer 2 2 0"), 13, "Integer 0 2 0");
  EXPECT_TRUE(TextInRechecks(Program(program)).empty());
}

TEST(TextInRechecksTest, AnUnreadableVtabIsZeroAndRefusesTheColumnEverywhere) {
  std::string program = kVectorIn;
  program.replace(program.find("vtab:556A4B7509A8"), 17, "vtab:?");
  const std::vector<InRecheck> found = TextInRechecks(Program(program));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].vtab, 0u);
  vtab_internal::InPlanning planning;
  planning.refused = found;
  EXPECT_TRUE(planning.Refuses(0x1234, 1));
  EXPECT_FALSE(planning.Refuses(0x1234, 2));
}

TEST(ExplainTextTest, ExplainsTheStatementThatAnExplainShows) {
  EXPECT_EQ(ExplainText("SELECT 1"), "EXPLAIN SELECT 1");
  EXPECT_EQ(ExplainText("  explain SELECT 1"), "  explain SELECT 1");
  EXPECT_EQ(ExplainText("EXPLAIN QUERY PLAN SELECT 1"), "EXPLAIN  SELECT 1");
  EXPECT_EQ(ExplainText("explain /* c */ query\nplan SELECT 1"), "EXPLAIN  SELECT 1");
}

TEST(InPlanningTest, RefusesItsColumnsOrAll) {
  vtab_internal::InPlanning planning;
  planning.refused.push_back(InRecheck{0x10, 1});
  EXPECT_TRUE(planning.Refuses(0x10, 1));
  EXPECT_FALSE(planning.Refuses(0x20, 1));
  EXPECT_FALSE(planning.Refuses(0x10, 2));
  planning.refuse_all = true;
  EXPECT_TRUE(planning.Refuses(0x20, 7));
}

TEST(InPlanningTest, NoneOutsideAPlannerPrepare) {
  EXPECT_EQ(vtab_internal::CurrentInPlanning(), nullptr);
}

}  // namespace
}  // namespace rangedb::sql
