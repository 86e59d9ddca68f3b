#include "base/check.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace rangedb {
namespace {

// The death tests run in this build type: RelWithDebInfo defines NDEBUG, under which
// the C assert would not fire.
#ifdef NDEBUG
constexpr bool kNdebug = true;
#else
constexpr bool kNdebug = false;
#endif

// "check_test.cc:<line>: " at the start of the message, whatever directory __FILE__
// carries.
std::string Where(int line) { return absl::StrCat("check_test\\.cc:", line, ": "); }

enum class Color { kRed = 1, kBlue = 2 };

int Count(int* calls, int value) {
  ++*calls;
  return value;
}

class CheckDeathTest : public ::testing::Test {
 protected:
  CheckDeathTest() { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(CheckDeathTest, FailingCheckAbortsWithFileLineExpressionAndMessage) {
  const int range_id = 12;
  const int line = __LINE__ + 1;
  EXPECT_DEATH(RANGEDB_CHECK(range_id < 10) << "range " << range_id << " too large",
               Where(line) + "check failed: range_id < 10 range 12 too large");
}

TEST_F(CheckDeathTest, FailingCheckWithoutMessage) {
  const bool ready = false;
  const int line = __LINE__ + 1;
  EXPECT_DEATH(RANGEDB_CHECK(ready), Where(line) + "check failed: ready\n");
}

TEST_F(CheckDeathTest, ComparisonsPrintBothValues) {
  const uint64_t lo = 7;
  const uint64_t hi = 3;
  int line = __LINE__ + 1;
  EXPECT_DEATH(RANGEDB_CHECK_LE(lo, hi) << "slice",
               Where(line) + "check failed: lo <= hi \\(7 vs\\. 3\\) slice");
  line = __LINE__ + 1;
  EXPECT_DEATH(RANGEDB_CHECK_EQ(lo, hi), Where(line) + "check failed: lo == hi \\(7 vs\\. 3\\)\n");
  line = __LINE__ + 1;
  EXPECT_DEATH(RANGEDB_CHECK_NE(lo, 7), Where(line) + "check failed: lo != 7 \\(7 vs\\. 7\\)");
  line = __LINE__ + 1;
  EXPECT_DEATH(RANGEDB_CHECK_LT(lo, hi), Where(line) + "check failed: lo < hi \\(7 vs\\. 3\\)");
  line = __LINE__ + 1;
  EXPECT_DEATH(RANGEDB_CHECK_GT(hi, lo), Where(line) + "check failed: hi > lo \\(3 vs\\. 7\\)");
  line = __LINE__ + 1;
  EXPECT_DEATH(RANGEDB_CHECK_GE(hi, lo), Where(line) + "check failed: hi >= lo \\(3 vs\\. 7\\)");
}

TEST_F(CheckDeathTest, ComparisonsPrintStringsEnumsStatusesAndNull) {
  const std::string key = "apple";
  EXPECT_DEATH(RANGEDB_CHECK_EQ(key, std::string("pear")), "\\(apple vs\\. pear\\)");
  EXPECT_DEATH(RANGEDB_CHECK_EQ(Color::kRed, Color::kBlue), "\\(1 vs\\. 2\\)");
  const uint8_t byte = 65;
  EXPECT_DEATH(RANGEDB_CHECK_EQ(byte, 66), "\\(65 vs\\. 66\\)");
  const absl::Status s = absl::DataLossError("torn write");
  EXPECT_DEATH(RANGEDB_CHECK_EQ(s, absl::OkStatus()), "\\(DATA_LOSS: torn write vs\\. OK\\)");
  const int* p = nullptr;
  EXPECT_DEATH(RANGEDB_CHECK_NE(p, nullptr), "check failed: p != nullptr \\(.* vs\\. nullptr\\)");
}

TEST_F(CheckDeathTest, IntegerComparisonsAreMathematical) {
  // -1 < 0u is false for the built-in operator (-1 converts to a huge unsigned).
  const int minus_one = -1;
  const unsigned zero = 0;
  RANGEDB_CHECK_LT(minus_one, zero);
  EXPECT_DEATH(RANGEDB_CHECK_GT(minus_one, zero), "\\(-1 vs\\. 0\\)");
  const std::vector<int> empty;
  EXPECT_DEATH(RANGEDB_CHECK_GT(empty.size(), 0), "empty.size\\(\\) > 0 \\(0 vs\\. 0\\)");
}

TEST_F(CheckDeathTest, FatalStopsWithItsMessage) {
  const absl::Status s = absl::UnavailableError("disk gone");
  const int line = __LINE__ + 1;
  EXPECT_DEATH(RANGEDB_FATAL() << "store: persisting raft state failed: " << s,
               Where(line) + "fatal: store: persisting raft state failed: UNAVAILABLE: disk gone");
}

// A function that ends in RANGEDB_FATAL needs no return after it: the compiler knows
// it does not return (the build has -Wreturn-type and -Werror).
int Unreachable(int x) {
  if (x > 0) return x;
  RANGEDB_FATAL() << "x = " << x;
}

TEST_F(CheckDeathTest, FatalDoesNotReturn) {
  EXPECT_EQ(Unreachable(3), 3);
  EXPECT_DEATH(Unreachable(-2), "fatal: x = -2");
}

TEST(CheckTest, PassingChecksEvaluateEachArgumentOnceAndNotTheMessage) {
  int calls = 0;
  int message_calls = 0;
  RANGEDB_CHECK(Count(&calls, 1) == 1) << Count(&message_calls, 0);
  EXPECT_EQ(calls, 1);

  int a_calls = 0;
  int b_calls = 0;
  RANGEDB_CHECK_EQ(Count(&a_calls, 4), Count(&b_calls, 4)) << Count(&message_calls, 0);
  RANGEDB_CHECK_LE(Count(&a_calls, 4), Count(&b_calls, 5));
  RANGEDB_CHECK_NE(Count(&a_calls, 4), Count(&b_calls, 5));
  RANGEDB_CHECK_LT(Count(&a_calls, 4), Count(&b_calls, 5));
  RANGEDB_CHECK_GT(Count(&a_calls, 6), Count(&b_calls, 5));
  RANGEDB_CHECK_GE(Count(&a_calls, 5), Count(&b_calls, 5));
  EXPECT_EQ(a_calls, 6);
  EXPECT_EQ(b_calls, 6);
  EXPECT_EQ(message_calls, 0);
}

TEST(CheckTest, ChecksAreStatements) {
  // Each form is one statement: an if/else around one does not capture the else.
  const bool never = false;
  bool took_else = false;
  if (never)
    RANGEDB_CHECK(false) << "never";
  else
    took_else = true;
  EXPECT_TRUE(took_else);
}

TEST_F(CheckDeathTest, DcheckIsCompiledOutUnderNdebug) {
  int calls = 0;
  int message_calls = 0;
  if (kNdebug) {
    // Neither the condition nor the message is evaluated; the check cannot fail.
    RANGEDB_DCHECK(Count(&calls, 0) == 1) << Count(&message_calls, 0);
    RANGEDB_DCHECK_EQ(Count(&calls, 0), 1) << Count(&message_calls, 0);
    RANGEDB_DCHECK_NE(Count(&calls, 1), 1);
    RANGEDB_DCHECK_LT(Count(&calls, 1), 1);
    RANGEDB_DCHECK_LE(Count(&calls, 2), 1);
    RANGEDB_DCHECK_GT(Count(&calls, 1), 1);
    RANGEDB_DCHECK_GE(Count(&calls, 0), 1);
    EXPECT_EQ(calls, 0);
    EXPECT_EQ(message_calls, 0);
  } else {
    RANGEDB_DCHECK(Count(&calls, 1) == 1);
    EXPECT_EQ(calls, 1);
    EXPECT_DEATH(RANGEDB_DCHECK_EQ(Count(&calls, 0), 1), "check failed: .* \\(0 vs\\. 1\\)");
  }
}

}  // namespace
}  // namespace rangedb
