// Tests of result rendering, sorting and hashing (tests/sqllogictest/slt_format.h,
// sqlite_float_format.h). The expected strings are what SQLite's reference runner
// prints (slt_sqlite.c: sqlite3_column_int + "%d", sqlite3_column_double + "%.3f",
// sqlite3_column_text), with SQLite 3.47's printf.
#include "tests/sqllogictest/slt_format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "tests/sqllogictest/sqlite_float_format.h"

namespace rangedb::slt {
namespace {

using sql::Blob;
using sql::Null;
using sql::Value;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string I(const Value& v) { return RenderValue(v, 'I'); }
std::string R(const Value& v) { return RenderValue(v, 'R'); }
std::string T(const Value& v) { return RenderValue(v, 'T'); }

TEST(SltFormatTest, NullIsNullInEveryColumnType) {
  EXPECT_EQ(I(Null{}), "NULL");
  EXPECT_EQ(R(Null{}), "NULL");
  EXPECT_EQ(T(Null{}), "NULL");
}

TEST(SltFormatTest, IntegerColumn) {
  EXPECT_EQ(I(int64_t{0}), "0");
  EXPECT_EQ(I(int64_t{-42}), "-42");
  EXPECT_EQ(I(int64_t{2147483647}), "2147483647");
  // sqlite3_column_int keeps the low 32 bits (the ODBC runner reads SQL_C_SLONG too).
  EXPECT_EQ(I(int64_t{2147483648}), "-2147483648");
  EXPECT_EQ(I(int64_t{4294967297}), "1");
  EXPECT_EQ(I(std::numeric_limits<int64_t>::max()), "-1");
}

TEST(SltFormatTest, RealInIntegerColumnTruncatesTowardZero) {
  EXPECT_EQ(I(2.9), "2");
  EXPECT_EQ(I(-2.9), "-2");
  EXPECT_EQ(I(0.5), "0");
  EXPECT_EQ(I(1e10), "1410065408");  // 10000000000 mod 2^32
  // Out of the int64 range: clamped to INT64_MAX / INT64_MIN, whose low 32 bits are
  // all ones / all zeros.
  EXPECT_EQ(I(1e30), "-1");
  EXPECT_EQ(I(-1e30), "0");
  EXPECT_EQ(I(std::nan("")), "0");
}

TEST(SltFormatTest, TextInIntegerColumnReadsTheIntegerPrefix) {
  EXPECT_EQ(I(std::string("123")), "123");
  EXPECT_EQ(I(std::string("12abc")), "12");
  EXPECT_EQ(I(std::string("  -7 apples")), "-7");
  EXPECT_EQ(I(std::string("+5")), "5");
  EXPECT_EQ(I(std::string("1.9")), "1");
  EXPECT_EQ(I(std::string("1e5")), "1");
  EXPECT_EQ(I(std::string("abc")), "0");
  EXPECT_EQ(I(std::string("")), "0");
  EXPECT_EQ(I(std::string("000000000000000000000042")), "42");  // leading zeros don't count
  EXPECT_EQ(I(std::string("99999999999999999999")), "-1");      // clamped to INT64_MAX
  EXPECT_EQ(I(std::string("-9223372036854775808")), "0");       // INT64_MIN exactly
  EXPECT_EQ(I(Blob{"77"}), "77");
}

TEST(SltFormatTest, RealColumn) {
  EXPECT_EQ(R(int64_t{1}), "1.000");
  EXPECT_EQ(R(int64_t{-12}), "-12.000");
  EXPECT_EQ(R(3.14159), "3.142");
  EXPECT_EQ(R(-12.5), "-12.500");
  EXPECT_EQ(R(0.1 + 0.2), "0.300");
  EXPECT_EQ(R(1e20), "100000000000000000000.000");
  EXPECT_EQ(R(std::numeric_limits<double>::infinity()), "Inf");
  EXPECT_EQ(R(-std::numeric_limits<double>::infinity()), "-Inf");
}

TEST(SltFormatTest, TextInRealColumnReadsTheNumericPrefix) {
  EXPECT_EQ(R(std::string("3.25xyz")), "3.250");
  EXPECT_EQ(R(std::string(" -.5")), "-0.500");
  EXPECT_EQ(R(std::string("1e3")), "1000.000");
  EXPECT_EQ(R(std::string("2.5e")), "2.500");  // an exponent without digits is not read
  EXPECT_EQ(R(std::string("abc")), "0.000");
  EXPECT_EQ(R(std::string("-")), "0.000");
  EXPECT_EQ(R(std::string("0x10")), "0.000");  // no hex, and no "inf"/"nan" either
  EXPECT_EQ(R(std::string("inf")), "0.000");
  EXPECT_EQ(R(std::string("1e999")), "Inf");
  EXPECT_EQ(R(Blob{"7"}), "7.000");
}

TEST(SltFormatTest, TextColumn) {
  EXPECT_EQ(T(std::string("hello world")), "hello world");
  EXPECT_EQ(T(std::string("")), "(empty)");
  // Control characters, DEL and every byte of a multi-byte character become '@'.
  EXPECT_EQ(T(std::string("a\tb\nc")), "a@b@c");
  EXPECT_EQ(T(std::string("\x7f")), "@");
  EXPECT_EQ(T(std::string("caf\xc3\xa9")), "caf@@");
  // The reference runner handles C strings: a NUL ends the value.
  EXPECT_EQ(T(std::string("ab\0cd", 5)), "ab");
  EXPECT_EQ(T(std::string("\0cd", 3)), "(empty)");
  EXPECT_EQ(T(Blob{"xyz"}), "xyz");
  EXPECT_EQ(T(Blob{""}), "(empty)");
  EXPECT_EQ(T(int64_t{-9223372036854775807 - 1}), "-9223372036854775808");
}

TEST(SltFormatTest, RealInTextColumnIsSqliteRealToText) {
  EXPECT_EQ(T(1.0), "1.0");
  EXPECT_EQ(T(0.1), "0.1");
  EXPECT_EQ(T(-1.5), "-1.5");
  EXPECT_EQ(T(100.0), "100.0");
  EXPECT_EQ(T(123456.789), "123456.789");
  EXPECT_EQ(T(1.0 / 3), "0.333333333333333");
  EXPECT_EQ(T(2.0 / 3), "0.666666666666667");
  EXPECT_EQ(T(1e14), "100000000000000.0");
  EXPECT_EQ(T(1e15), "1.0e+15");
  EXPECT_EQ(T(1e20), "1.0e+20");
  EXPECT_EQ(T(0.0001), "0.0001");
  EXPECT_EQ(T(0.00001), "1.0e-05");
  EXPECT_EQ(T(1.5e-7), "1.5e-07");
  EXPECT_EQ(T(1e-300), "1.0e-300");
  EXPECT_EQ(T(1.7976931348623157e308), "1.79769313486232e+308");
  EXPECT_EQ(T(0.0), "0.0");
  EXPECT_EQ(T(-0.0), "0.0");
}

// Where SQLite's printf differs from the C library's (sqlite_float_format.h).
TEST(SqliteFloatFormatTest, FixedRoundsHalvesUpAndKeepsSixteenDigits) {
  EXPECT_EQ(SqliteFixed3(0.0625), "0.063");  // an exact half: glibc prints "0.062"
  EXPECT_EQ(SqliteFixed3(-0.0625), "-0.063");
  EXPECT_EQ(SqliteFixed3(0.0005), "0.001");  // 0.000500000000000000010...: just above
  EXPECT_EQ(SqliteFixed3(0.0004), "0.000");
  EXPECT_EQ(SqliteFixed3(1.0005), "1.000");  // 1.000499999999999944...: just below
  EXPECT_EQ(SqliteFixed3(2.0005), "2.001");  // 2.000500000000000166...: just above
  EXPECT_EQ(SqliteFixed3(999.9995), "1000.000");
  EXPECT_EQ(SqliteFixed3(0.0), "0.000");
  EXPECT_EQ(SqliteFixed3(-0.0), "0.000");
  EXPECT_EQ(SqliteFixed3(-0.0001), "-0.000");
  // At most 16 significant digits, rounded, then zeros (evidence/slt_lang_aggfunc.test
  // expects these for sum()/total() near -2^63 and -2^64).
  EXPECT_EQ(SqliteFixed3(-9223372036854775808.0), "-9223372036854776000.000");
  EXPECT_EQ(SqliteFixed3(-18446744073709551616.0), "-18446744073709550000.000");
  EXPECT_EQ(SqliteFixed3(123456789012345678.0), "123456789012345700.000");
  EXPECT_EQ(SqliteFixed3(std::nan("")), "NaN");
}

TEST(SqliteFloatFormatTest, RealRoundsToFifteenDigits) {
  EXPECT_EQ(SqliteReal(9.999999999999999e22), "1.0e+23");
  EXPECT_EQ(SqliteReal(0.1 + 0.2), "0.3");
  EXPECT_EQ(SqliteReal(123456789012345.6), "123456789012346.0");
  EXPECT_EQ(SqliteReal(std::nan("")), "NaN");
  EXPECT_EQ(SqliteReal(-std::numeric_limits<double>::infinity()), "-Inf");
}

TEST(SltFormatTest, RenderResultChecksColumnCount) {
  SltResult result;
  result.column_count = 2;
  result.rows = {{int64_t{1}, std::string("a")}, {Null{}, std::string("")}};
  absl::StatusOr<std::vector<std::string>> values = RenderResult(result, "IT");
  ASSERT_TRUE(values.ok()) << values.status();
  EXPECT_THAT(*values, ElementsAre("1", "a", "NULL", "(empty)"));

  absl::StatusOr<std::vector<std::string>> wrong = RenderResult(result, "I");
  ASSERT_FALSE(wrong.ok());
  EXPECT_THAT(wrong.status().message(), HasSubstr("expected 1"));
  EXPECT_THAT(wrong.status().message(), HasSubstr("got 2"));

  // Checked without rows too, as the reference runner does.
  SltResult empty;
  empty.column_count = 3;
  EXPECT_FALSE(RenderResult(empty, "II").ok());

  SltResult ragged;
  ragged.column_count = 2;
  ragged.rows = {{int64_t{1}}};
  EXPECT_THAT(RenderResult(ragged, "II").status().message(), HasSubstr("row 1 has 1 values"));
}

TEST(SltFormatTest, SortModes) {
  const std::vector<std::string> rows = {"9", "b", "10", "a", "10", "0", "NULL", "z"};
  std::vector<std::string> values = rows;
  SortValues(SortMode::kNoSort, 2, &values);
  EXPECT_EQ(values, rows);

  // Rows compare column by column as strings: "10" < "9" < "NULL".
  values = rows;
  SortValues(SortMode::kRowSort, 2, &values);
  EXPECT_THAT(values, ElementsAre("10", "0", "10", "a", "9", "b", "NULL", "z"));

  // Every value on its own.
  values = rows;
  SortValues(SortMode::kValueSort, 2, &values);
  EXPECT_THAT(values, ElementsAre("0", "10", "10", "9", "NULL", "a", "b", "z"));
}

// MD5 test vectors from RFC 1321, appendix A.5.
TEST(SltFormatTest, Md5KnownVectors) {
  EXPECT_EQ(Md5Hex(""), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(Md5Hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(Md5Hex("message digest"), "f96b697d7cb7938d525a2f31aaf161d0");
}

// A result's hash is the MD5 of each value followed by "\n": for 1, 2, 3 that is the
// MD5 of the literal "1\n2\n3\n" (as `printf '1\n2\n3\n' | md5sum` prints it).
TEST(SltFormatTest, HashOfValuesIsMd5OfNewlineTerminatedValues) {
  const std::vector<std::string> values = {"1", "2", "3"};
  EXPECT_EQ(Md5Hex("1\n2\n3\n"), "c0710d6b4f15dfa88f600b0e6b624077");
  EXPECT_EQ(HashValues(values), "c0710d6b4f15dfa88f600b0e6b624077");
  EXPECT_EQ(HashLine(values), "3 values hashing to c0710d6b4f15dfa88f600b0e6b624077");
  EXPECT_EQ(HashLine({}), "0 values hashing to d41d8cd98f00b204e9800998ecf8427e");
}

}  // namespace
}  // namespace rangedb::slt
