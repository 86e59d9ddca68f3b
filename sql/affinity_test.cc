// Affinity is checked against the real thing: each input is stored through a bound
// parameter into a native SQLite table with one column of each affinity and read
// back, and ApplyAffinity must give the same storage class and the same bits.
// Reference: https://sqlite.org/datatype3.html §3 (affinity), §3.1 (declared types).
#include "sql/affinity.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "sql/sqlite_util.h"

namespace rangedb::sql {
namespace {

using std::string_literals::operator""s;

constexpr uint64_t kSeed = 0x5eed'2024'0716;
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
constexpr double kTwoTo63 = 9223372036854775808.0;
constexpr Affinity kAffinities[] = {Affinity::kInteger, Affinity::kText, Affinity::kNumeric,
                                    Affinity::kReal, Affinity::kBlob};

std::string Show(const Value& v) {
  switch (ClassOf(v)) {
    case StorageClass::kNull:
      return "NULL";
    case StorageClass::kInteger:
      return absl::StrCat("INTEGER ", std::get<int64_t>(v));
    case StorageClass::kReal: {
      const double r = std::get<double>(v);
      return absl::StrCat("REAL ", absl::StrFormat("%.17g", r), " (bits ",
                          absl::Hex(std::bit_cast<uint64_t>(r)), ")");
    }
    case StorageClass::kText:
      return absl::StrCat("TEXT '", absl::CHexEscape(std::get<std::string>(v)), "'");
    case StorageClass::kBlob:
      return absl::StrCat("BLOB x'", absl::BytesToHexString(std::get<Blob>(v).bytes), "'");
  }
  return "?";
}

// Same storage class and value; REALs by their bits, so -0.0 differs from 0.0.
bool Same(const Value& a, const Value& b) {
  if (a.index() != b.index()) return false;
  if (const double* x = std::get_if<double>(&a)) {
    return std::bit_cast<uint64_t>(*x) == std::bit_cast<uint64_t>(std::get<double>(b));
  }
  return a == b;
}

// A native table with one column of each affinity, in kAffinities order.
class Oracle {
 public:
  Oracle() {
    EXPECT_EQ(sqlite3_open(":memory:", &db_), SQLITE_OK);
    Exec("CREATE TABLE t(a INTEGER, b TEXT, c NUMERIC, d REAL, e BLOB)");
    insert_ = Prepare("INSERT INTO t VALUES(?1, ?1, ?1, ?1, ?1)");
    select_ = Prepare("SELECT a, b, c, d, e FROM t");
  }
  ~Oracle() {
    sqlite3_finalize(insert_);
    sqlite3_finalize(select_);
    sqlite3_close(db_);
  }

  // What SQLite stores for v in each column.
  std::array<Value, 5> Store(const Value& v) {
    Exec("DELETE FROM t");
    sqlite3_reset(insert_);
    EXPECT_EQ(BindValue(insert_, 1, v), SQLITE_OK);
    EXPECT_EQ(sqlite3_step(insert_), SQLITE_DONE) << sqlite3_errmsg(db_);
    sqlite3_reset(select_);
    EXPECT_EQ(sqlite3_step(select_), SQLITE_ROW) << sqlite3_errmsg(db_);
    std::array<Value, 5> out;
    for (int i = 0; i < 5; ++i) out[i] = ColumnValue(select_, i);
    return out;
  }

  sqlite3* db() { return db_; }
  void Exec(const std::string& sql) {
    ASSERT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
        << sql << ": " << sqlite3_errmsg(db_);
  }
  sqlite3_stmt* Prepare(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK)
        << sql << ": " << sqlite3_errmsg(db_);
    return stmt;
  }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* select_ = nullptr;
};

// The hand-picked inputs: every rule of §3 and its edges.
std::vector<Value> TrickyInputs() {
  using L = std::numeric_limits<double>;
  // Data tables read better packed.
  // clang-format off
  std::vector<Value> in;
  in.push_back(Null{});
  for (std::string bytes : {""s, "12"s, "\0"s, "3.0"s}) in.push_back(Blob{std::move(bytes)});
  for (const char* text : {
      " 12 ", "12abc", "1e3", "1E3", "1.5", "-0", "-0.0", "+0", "0x10", "0X10", "0x", "", " ",
      "\t", ".5", "5.", "+7", "-7", ".", "-", "+", "e5", "1e", "1e+", "1e-", "1.e5", "1.5e",
      "1.5e+", " \t\n\v\f\r7\r\n\v\f", "7 x", "abc", "Inf", "-Inf", "NaN", "3.0",
      "3.00000000000000000000001", "0003", "007.50", "1_000", "1,5", "1.5.6", "--1", "+-1", "- 1",
      "1 2", "0.1", "0.30000000000000004", "1e15", "1e18", "1e19", "1e308", "1e309", "-1e309",
      "1e400", "-1e400", "1e-400", "-1e-400", "1e-5000", "1e999999999",
      "9223372036854775807", "9223372036854775808", "9223372036854775806",
      "-9223372036854775808", "-9223372036854775809", "09223372036854775807",
      "9223372036854775807.0", "9223372036854775807e0", "9.2233720368547758e18",
      "-9.2233720368547758e18", "9223372036854774784", "9223372036854774784.0",
      "18446744073709551616", "00000000000000000000000000000000000000000000000000001",
      "1000000000000000000000000000000", "123456789012345678901234567890",
      "-123456789012345678901234567890.5", "0.000000000000000000000000000000000001",
      "9007199254740993", "9007199254740993.0", "-9007199254740993", "2251799813685247",
      "2251799813685248", "-2251799813685248", "-2251799813685249", "4503599627370497",
      "4503599627370497.0", "1.7976931348623157e308", "1.7976931348623159e308", "4.9e-324",
      "2.4703282292062327e-324", "2.2250738585072014e-308", "3.0283e-308", "0e999999999",
      "0.0e-999", "\xd9\xa1", "\xef\xbc\x91"}) {
    in.push_back(std::string(text));
  }
  for (std::string text : {"12\0"s, "\0" "12"s, std::string(400, '9'),
                           "0." + std::string(400, '0') + "1",
                           "1" + std::string(330, '0') + "e-330"}) {
    in.push_back(std::move(text));
  }
  for (int64_t i : {int64_t{0}, int64_t{1}, int64_t{-1}, kInt64Max, kInt64Min, kInt64Min + 1,
                    (int64_t{1} << 53) + 1, -(int64_t{1} << 53) - 1, int64_t{123456789012345678}}) {
    in.emplace_back(i);
  }
  for (double r : {0.0, -0.0, 1.0, -1.0, 3.0, 1.5, 0.1, 1e15, 1e16, 1e20, -1e20,
                   9007199254740992.0, static_cast<double>((int64_t{1} << 53) + 1),
                   9007199254740994.0, kTwoTo63, -kTwoTo63, std::nextafter(kTwoTo63, 0.0),
                   std::nextafter(-kTwoTo63, 0.0), 0x1p64, 123456789.125, L::infinity(),
                   -L::infinity(), L::quiet_NaN(), -L::quiet_NaN(), L::denorm_min(),
                   -L::denorm_min(), L::min(), L::max(), -L::max(), 1e-300, 4503599627370496.5,
                   2251799813685248.0}) {
    in.emplace_back(r);  // not push_back: GCC 12 -O2 warns falsely on the moved temporary
  }
  // clang-format on
  return in;
}

// Decimal literals of every shape, many near the edges of SQLite's arithmetic.
std::string RandomNumericText(std::mt19937_64& rng) {
  std::string t;
  if (rng() % 4 == 0) t += " \t"[rng() % 2];
  if (rng() % 3 == 0) t += "+-"[rng() % 2];
  const int digits = static_cast<int>(rng() % 25);
  for (int k = 0; k < digits; ++k) t += static_cast<char>('0' + rng() % 10);
  if (rng() % 2) t.insert(rng() % (t.size() + 1), ".");
  if (rng() % 2) {
    t += "eE"[rng() % 2];
    const int range = rng() % 2 ? 700 : 40;
    t += absl::StrCat(static_cast<int>(rng() % range) - range / 2);
  }
  if (rng() % 8 == 0) t += " ";
  if (rng() % 16 == 0) t.insert(rng() % (t.size() + 1), "x");
  return t;
}

double RandomDouble(std::mt19937_64& rng) {
  switch (rng() % 4) {
    case 0:
      return std::bit_cast<double>(uint64_t{rng()});
    case 1:  // whole numbers around 2^52..2^64
      return std::ldexp(static_cast<double>(rng() >> 11), static_cast<int>(rng() % 20));
    case 2:
      return static_cast<double>(static_cast<int64_t>(rng()) >> (rng() % 64));
    default:
      return (static_cast<double>(rng() % 2000000) - 1000000.0) / 64.0;
  }
}

std::vector<Value> RandomInputs(int n) {
  std::mt19937_64 rng(kSeed);
  std::vector<Value> in;
  for (int i = 0; i < n; ++i) {
    switch (rng() % 4) {
      case 0:
        in.push_back(static_cast<int64_t>(rng()) >> (rng() % 64));
        break;
      case 1:
        in.push_back(RandomDouble(rng));
        break;
      default:
        in.push_back(RandomNumericText(rng));
        break;
    }
  }
  return in;
}

// Checks ApplyAffinity against SQLite for every input and affinity; returns the
// number of disagreements and reports the first few.
int CountMismatches(Oracle& oracle, const std::vector<Value>& inputs,
                    Value (*model)(Affinity, Value), bool report) {
  int mismatches = 0;
  for (const Value& in : inputs) {
    const std::array<Value, 5> stored = oracle.Store(in);
    for (int i = 0; i < 5; ++i) {
      const Value ours = model(kAffinities[i], in);
      if (Same(ours, stored[i])) continue;
      if (report && ++mismatches <= 20) {
        ADD_FAILURE() << AffinityName(kAffinities[i]) << " affinity on " << Show(in)
                      << ": SQLite stores " << Show(stored[i]) << ", ApplyAffinity gives "
                      << Show(ours);
      } else if (!report) {
        ++mismatches;
      }
    }
  }
  return mismatches;
}

TEST(ApplyAffinity, MatchesSqliteOnTrickyInputs) {
  Oracle oracle;
  EXPECT_EQ(CountMismatches(oracle, TrickyInputs(), ApplyAffinity, true), 0);
}

TEST(ApplyAffinity, MatchesSqliteOnRandomInputs) {
  Oracle oracle;
  EXPECT_EQ(CountMismatches(oracle, RandomInputs(20000), ApplyAffinity, true), 0);
}

// The differential test must be able to fail. Two plausible but wrong models: one
// converts text with strtod (correctly rounded, unlike SQLite 3.40), one lets the
// REAL -2^63 become INTEGER (SQLite keeps it REAL). The oracle catches both.
Value StrtodModel(Affinity affinity, Value value) {
  Value ours = ApplyAffinity(affinity, value);
  const std::string* text = std::get_if<std::string>(&value);
  if (text != nullptr && std::holds_alternative<double>(ours)) {
    return std::strtod(text->c_str(), nullptr) + 0.0;  // + 0.0: -0.0 as SQLite has it
  }
  return ours;
}

Value NoEndExclusionModel(Affinity affinity, Value value) {
  const double* r = std::get_if<double>(&value);
  if (r != nullptr && *r == -kTwoTo63 &&
      (affinity == Affinity::kInteger || affinity == Affinity::kNumeric)) {
    return kInt64Min;
  }
  return ApplyAffinity(affinity, std::move(value));
}

TEST(ApplyAffinity, DifferentialTestCatchesWrongModels) {
  Oracle oracle;
  EXPECT_GT(CountMismatches(oracle, RandomInputs(20000), StrtodModel, false), 0);
  EXPECT_GT(CountMismatches(oracle, TrickyInputs(), NoEndExclusionModel, false), 0);
}

// The rules, written out (each also checked against SQLite above).
TEST(ApplyAffinity, DocumentedExamples) {
  EXPECT_TRUE(Same(ApplyAffinity(Affinity::kText, 1.0), Value("1.0")));
  EXPECT_TRUE(Same(ApplyAffinity(Affinity::kText, 1e20), Value("1.0e+20")));
  EXPECT_TRUE(Same(ApplyAffinity(Affinity::kText, -0.0), Value("0.0")));
  EXPECT_TRUE(Same(ApplyAffinity(Affinity::kText, int64_t{-12}), Value("-12")));
  EXPECT_TRUE(Same(ApplyAffinity(Affinity::kNumeric, " 12 "s), Value(int64_t{12})));
  EXPECT_TRUE(Same(ApplyAffinity(Affinity::kNumeric, "3.0"s), Value(int64_t{3})));
  EXPECT_TRUE(Same(ApplyAffinity(Affinity::kNumeric, "1.5"s), Value(1.5)));
  EXPECT_TRUE(Same(ApplyAffinity(Affinity::kNumeric, "0x10"s), Value("0x10")));
  EXPECT_TRUE(Same(ApplyAffinity(Affinity::kNumeric, "12abc"s), Value("12abc")));
  EXPECT_TRUE(Same(ApplyAffinity(Affinity::kInteger, "9223372036854775808"s), Value(kTwoTo63)));
  EXPECT_TRUE(Same(ApplyAffinity(Affinity::kInteger, "-9223372036854775808"s), Value(kInt64Min)));
  EXPECT_TRUE(Same(ApplyAffinity(Affinity::kInteger, -kTwoTo63), Value(-kTwoTo63)));
  EXPECT_TRUE(Same(ApplyAffinity(Affinity::kInteger, -0.0), Value(int64_t{0})));
  EXPECT_TRUE(Same(ApplyAffinity(Affinity::kInteger, "9007199254740993.0"s),
                   Value(int64_t{9007199254740992})));
  EXPECT_TRUE(Same(ApplyAffinity(Affinity::kInteger, "9007199254740993"s),
                   Value(int64_t{9007199254740993})));
  EXPECT_TRUE(Same(ApplyAffinity(Affinity::kReal, "12"s), Value(12.0)));
  EXPECT_TRUE(Same(ApplyAffinity(Affinity::kReal, -0.0), Value(0.0)));
  EXPECT_TRUE(Same(ApplyAffinity(Affinity::kBlob, -0.0), Value(-0.0)));
  EXPECT_TRUE(Same(ApplyAffinity(Affinity::kBlob, "12"s), Value("12")));
  EXPECT_TRUE(Same(ApplyAffinity(Affinity::kNumeric, Blob{"12"}), Value(Blob{"12"})));
  for (Affinity a : kAffinities) {
    EXPECT_TRUE(Same(ApplyAffinity(a, std::numeric_limits<double>::quiet_NaN()), Value(Null{})));
    EXPECT_TRUE(Same(ApplyAffinity(a, Null{}), Value(Null{})));
  }
}

TEST(RealToText, IsSqlitesRendering) {
  EXPECT_EQ(RealToText(1.0), "1.0");
  EXPECT_EQ(RealToText(0.1), "0.1");
  EXPECT_EQ(RealToText(1e20), "1.0e+20");
  EXPECT_EQ(RealToText(1e15), "1.0e+15");
  EXPECT_EQ(RealToText(123456789.125), "123456789.125");
  EXPECT_EQ(RealToText(9007199254740992.0), "9.00719925474099e+15");
  EXPECT_EQ(RealToText(std::numeric_limits<double>::infinity()), "Inf");
  EXPECT_EQ(RealToText(-std::numeric_limits<double>::infinity()), "-Inf");
}

// Reads SQLite's affinity for a type name back through CAST, which applies the same
// rules (sqlite3AffinityType): '1.5' and '1' cast to each affinity differ in a way
// that tells all five apart.
Affinity SqliteAffinityOf(Oracle& oracle, const std::string& type) {
  sqlite3_stmt* stmt = oracle.Prepare(
      absl::StrCat("SELECT typeof(CAST('1.5' AS ", type, ")), typeof(CAST('1' AS ", type, "))"));
  EXPECT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  const std::string fraction = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  const std::string whole = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1));
  sqlite3_finalize(stmt);
  if (fraction == "integer") return Affinity::kInteger;
  if (fraction == "text") return Affinity::kText;
  if (fraction == "blob") return Affinity::kBlob;
  return whole == "integer" ? Affinity::kNumeric : Affinity::kReal;
}

TEST(AffinityOfDeclaredType, MatchesSqlite) {
  Oracle oracle;
  const std::vector<std::pair<std::string, Affinity>> cases = {
      {"INT", Affinity::kInteger},
      {"integer", Affinity::kInteger},
      {"TINYINT", Affinity::kInteger},
      {"BIGINT", Affinity::kInteger},
      {"UNSIGNED BIG INT", Affinity::kInteger},
      {"INT2", Affinity::kInteger},
      {"FLOATING POINT", Affinity::kInteger},  // "POINT" contains "INT"
      {"CHARINT", Affinity::kInteger},         // INT wins over CHAR
      {"CHARACTER(20)", Affinity::kText},
      {"VARCHAR(255)", Affinity::kText},
      {"varying character(255)", Affinity::kText},
      {"NCHAR(55)", Affinity::kText},
      {"NATIVE CHARACTER(70)", Affinity::kText},
      {"TEXT", Affinity::kText},
      {"CLOB", Affinity::kText},
      {"BLOBTEXT", Affinity::kText},  // TEXT wins over BLOB
      {"TEXTBLOB", Affinity::kText},
      {"DOUBLECHAR", Affinity::kText},
      {"BLOB", Affinity::kBlob},
      {"bLoB", Affinity::kBlob},
      {"REALBLOB", Affinity::kBlob},  // BLOB wins over REAL
      {"BLOBREAL", Affinity::kBlob},
      {"REAL", Affinity::kReal},
      {"DOUBLE", Affinity::kReal},
      {"DOUBLE PRECISION", Affinity::kReal},
      {"FLOAT", Affinity::kReal},
      {"floa", Affinity::kReal},
      {"NUMERIC", Affinity::kNumeric},
      {"DECIMAL(10,5)", Affinity::kNumeric},
      {"BOOLEAN", Affinity::kNumeric},
      {"DATE", Affinity::kNumeric},
      {"DATETIME", Affinity::kNumeric},
      {"STRING", Affinity::kNumeric},
      {"PIN", Affinity::kNumeric},
      {"CHA", Affinity::kNumeric},
      {"FLO", Affinity::kNumeric},
      {"DOU", Affinity::kNumeric},
      {"BLO", Affinity::kNumeric},
      {"X", Affinity::kNumeric},
  };
  for (const auto& [type, expected] : cases) {
    EXPECT_EQ(AffinityOfDeclaredType(type), expected) << type;
    EXPECT_EQ(SqliteAffinityOf(oracle, type), expected) << type << " (SQLite)";
  }
  EXPECT_EQ(AffinityOfDeclaredType(""), Affinity::kBlob);
}

// A column declared without a type has BLOB affinity: checked on a real table, as
// CAST needs a type name.
TEST(AffinityOfDeclaredType, NoTypeIsBlobAsInSqlite) {
  Oracle oracle;
  oracle.Exec("CREATE TABLE untyped(x)");
  oracle.Exec("INSERT INTO untyped VALUES('12')");
  sqlite3_stmt* stmt = oracle.Prepare("SELECT typeof(x) FROM untyped");
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "text");
  sqlite3_finalize(stmt);
  EXPECT_TRUE(Same(ApplyAffinity(AffinityOfDeclaredType(""), "12"s), Value("12")));
}

TEST(CollationByName, AcceptsSqlitesBuiltinsInAnyCase) {
  EXPECT_EQ(CollationByName("BINARY").value(), Collation::kBinary);
  EXPECT_EQ(CollationByName("binary").value(), Collation::kBinary);
  EXPECT_EQ(CollationByName("NoCase").value(), Collation::kNocase);
  EXPECT_EQ(CollationByName("rtrim").value(), Collation::kRtrim);
  for (Collation c : {Collation::kBinary, Collation::kNocase, Collation::kRtrim}) {
    EXPECT_EQ(CollationByName(CollationName(c)).value(), c);
  }
}

TEST(CollationByName, RejectsOthersWithSqlitesMessage) {
  Oracle oracle;
  for (const char* name : {"bogus", "UNICODE", "nocase2", ""}) {
    absl::StatusOr<Collation> c = CollationByName(name);
    ASSERT_FALSE(c.ok()) << name;
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(c.status().message(), absl::StrCat("no such collation sequence: ", name));
  }
  // SQLite says the same when a column names it.
  EXPECT_NE(sqlite3_exec(oracle.db(), "CREATE TABLE bad(c TEXT COLLATE bogus)", nullptr, nullptr,
                         nullptr),
            SQLITE_OK);
  EXPECT_STREQ(sqlite3_errmsg(oracle.db()), "no such collation sequence: bogus");
}

}  // namespace
}  // namespace rangedb::sql
