// The key order is checked against SQLite itself: for many pairs of values SQLite is
// asked `?1 < ?2 COLLATE c` and `?1 = ?2 COLLATE c`, and whole sets of values and
// of two-column tuples are sorted by SQLite's ORDER BY; the keys must agree with it
// exactly. Reference: https://sqlite.org/datatype3.html §4.1 (sort order), §7.1
// (collations).
#include "sql/key_codec.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "sql/affinity.h"

namespace rangedb::sql {
namespace {

using std::string_literals::operator""s;
using L = std::numeric_limits<double>;

constexpr uint64_t kSeed = 0x5eed'2024'0717;
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
constexpr double kTwoTo63 = 9223372036854775808.0;
constexpr int64_t kTwoTo53 = int64_t{1} << 53;
constexpr Collation kCollations[] = {Collation::kBinary, Collation::kNocase, Collation::kRtrim};
constexpr Direction kDirections[] = {Direction::kAscending, Direction::kDescending};

std::string Show(const Value& v) {
  switch (ClassOf(v)) {
    case StorageClass::kNull:
      return "NULL";
    case StorageClass::kInteger:
      return absl::StrCat("INTEGER ", std::get<int64_t>(v));
    case StorageClass::kReal:
      return absl::StrFormat("REAL %.17g", std::get<double>(v));
    case StorageClass::kText:
      return absl::StrCat("TEXT '", absl::CHexEscape(std::get<std::string>(v)), "'");
    case StorageClass::kBlob:
      return absl::StrCat("BLOB x'", absl::BytesToHexString(std::get<Blob>(v).bytes), "'");
  }
  return "?";
}

// Same storage class and value; REALs by their bits.
bool Same(const Value& a, const Value& b) {
  if (a.index() != b.index()) return false;
  if (const double* x = std::get_if<double>(&a)) {
    return std::bit_cast<uint64_t>(*x) == std::bit_cast<uint64_t>(std::get<double>(b));
  }
  return a == b;
}

std::string Key(const Value& v, Collation c, Direction dir = Direction::kAscending) {
  std::string key;
  AppendValueKey(&key, v, c, dir);
  return key;
}

int Sign(int x) { return (x > 0) - (x < 0); }
int CompareBytes(absl::string_view a, absl::string_view b) { return Sign(a.compare(b)); }

// SQLite binds a NaN as NULL.
bool BindsAsNull(const Value& v) {
  return IsNull(v) || (std::holds_alternative<double>(v) && std::isnan(std::get<double>(v)));
}

void Bind(sqlite3_stmt* stmt, int index, const Value& v) {
  int rc = SQLITE_OK;
  switch (ClassOf(v)) {
    case StorageClass::kNull:
      rc = sqlite3_bind_null(stmt, index);
      break;
    case StorageClass::kInteger:
      rc = sqlite3_bind_int64(stmt, index, std::get<int64_t>(v));
      break;
    case StorageClass::kReal:
      rc = sqlite3_bind_double(stmt, index, std::get<double>(v));
      break;
    case StorageClass::kText: {
      const std::string& s = std::get<std::string>(v);
      rc = sqlite3_bind_text(stmt, index, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
      break;
    }
    case StorageClass::kBlob: {
      const std::string& s = std::get<Blob>(v).bytes;
      rc = sqlite3_bind_blob(stmt, index, s.empty() ? "" : s.data(), static_cast<int>(s.size()),
                             SQLITE_TRANSIENT);
      break;
    }
  }
  ASSERT_EQ(rc, SQLITE_OK);
}

// An in-memory SQLite database that answers comparison and sorting questions.
class Sqlite {
 public:
  Sqlite() {
    EXPECT_EQ(sqlite3_open(":memory:", &db_), SQLITE_OK);
    for (Collation c : kCollations) {
      const std::string name(CollationName(c));
      compare_[static_cast<int>(c)] =
          Prepare(absl::StrCat("SELECT ?1 < ?2 COLLATE ", name, ", ?1 = ?2 COLLATE ", name,
                               ", ?1 IS ?2 COLLATE ", name));
    }
  }
  ~Sqlite() {
    for (sqlite3_stmt* stmt : compare_) sqlite3_finalize(stmt);
    sqlite3_close(db_);
  }

  // SQLite's comparison of a and b under c: -1, 0 or 1. With a NULL, `<` and `=`
  // are NULL, so only `IS` (equality) is asked; the NULL-first order is checked by
  // the ORDER BY tests below.
  int Compare(const Value& a, const Value& b, Collation c) {
    sqlite3_stmt* stmt = compare_[static_cast<int>(c)];
    sqlite3_reset(stmt);
    Bind(stmt, 1, a);
    Bind(stmt, 2, b);
    EXPECT_EQ(sqlite3_step(stmt), SQLITE_ROW) << sqlite3_errmsg(db_);
    if (sqlite3_column_int(stmt, 2) == 1) return 0;
    if (sqlite3_column_type(stmt, 0) == SQLITE_NULL) return BindsAsNull(a) ? -1 : 1;
    EXPECT_EQ(sqlite3_column_int(stmt, 1), 0);
    return sqlite3_column_int(stmt, 0) == 1 ? -1 : 1;
  }

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

  // Inserts rows (id = index) into a fresh table `name` of untyped (BLOB affinity,
  // so values stay as bound) columns, and returns the ids in the order of `order_by`.
  std::vector<int> SortedIds(const std::vector<std::vector<Value>>& rows,
                             const std::string& order_by) {
    const size_t width = rows.empty() ? 0 : rows[0].size();
    std::string columns;
    std::string params;
    for (size_t i = 0; i < width; ++i) {
      absl::StrAppend(&columns, ", c", i);
      absl::StrAppend(&params, ", ?", i + 2);
    }
    Exec("DROP TABLE IF EXISTS s");
    Exec(absl::StrCat("CREATE TABLE s(id INTEGER PRIMARY KEY", columns, ")"));
    sqlite3_stmt* insert = Prepare(absl::StrCat("INSERT INTO s VALUES(?1", params, ")"));
    for (size_t id = 0; id < rows.size(); ++id) {
      sqlite3_reset(insert);
      sqlite3_bind_int64(insert, 1, static_cast<int64_t>(id));
      for (size_t i = 0; i < width; ++i) Bind(insert, static_cast<int>(i + 2), rows[id][i]);
      EXPECT_EQ(sqlite3_step(insert), SQLITE_DONE) << sqlite3_errmsg(db_);
    }
    sqlite3_finalize(insert);
    sqlite3_stmt* select = Prepare(absl::StrCat("SELECT id FROM s ORDER BY ", order_by, ", id"));
    std::vector<int> ids;
    while (sqlite3_step(select) == SQLITE_ROW) ids.push_back(sqlite3_column_int(select, 0));
    sqlite3_finalize(select);
    return ids;
  }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* compare_[3] = {};
};

// Values at every edge of the encoding: classes, the 2^53 and 2^63 boundaries of
// the tie-break, zeros, infinities, denormals, and texts that the collations treat
// differently (case, '_' between 'Z' and 'a', trailing spaces, NUL bytes).
std::vector<Value> HandPickedValues() {
  // Data tables read better packed.
  // clang-format off
  std::vector<Value> v = {Null{}, L::quiet_NaN()};
  for (int64_t i : {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{2}, int64_t{3}, int64_t{63},
                    int64_t{64}, int64_t{-64}, int64_t{-65}, kInt64Max, kInt64Max - 1,
                    kInt64Max - 511, kInt64Max - 512, kInt64Max - 513, kInt64Max - 1024, kInt64Min,
                    kInt64Min + 1, kInt64Min + 511, kInt64Min + 512, kInt64Min + 513,
                    int64_t{1} << 62}) {
    v.emplace_back(i);
  }
  for (int64_t k = -3; k <= 3; ++k) {
    v.push_back(kTwoTo53 + k);
    v.push_back(-kTwoTo53 + k);
  }
  const double two_to_53 = static_cast<double>(kTwoTo53);
  for (double r : {0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 1.5, 2.5, 3.0, -3.0, 63.0, 64.0, two_to_53,
                   two_to_53 + 2, two_to_53 - 1, -two_to_53, two_to_53 / 2 - 0.5, kTwoTo63,
                   -kTwoTo63, std::nextafter(kTwoTo63, 0.0), std::nextafter(kTwoTo63, 1e300),
                   std::nextafter(-kTwoTo63, 0.0), std::nextafter(-kTwoTo63, -1e300), 0x1p64,
                   -0x1p64, 1e20, -1e20, L::infinity(), -L::infinity(), L::denorm_min(),
                   -L::denorm_min(), L::min(), -L::min(), L::max(), -L::max(), 0.1}) {
    v.emplace_back(r);  // not push_back: GCC 12 -O2 warns falsely on the moved temporary
  }
  for (const std::string& s : {
      ""s, "a"s, "A"s, "b"s, "B"s, "a "s, "a  "s, "A "s, " a"s, "ab"s, "aB"s, "Ab"s, "abc"s, "_"s,
      "Z"s, "z"s, "["s, "`"s, "{"s, "@"s, " "s, "  "s, "\t"s, "a\t"s, "\0"s, "\0\0"s, "a\0"s,
      "A\0"s, "a\0b"s, "a\0B"s, "A\0b"s, "a\0bb"s, "a\0z"s, "a\0 "s, "a \0"s, "a\x01"s,
      "\xff"s, "\xc3\xa9"s, "\xc3\x89"s, "1"s, "10"s, "9"s, "0x10"s}) {
    v.push_back(s);
  }
  for (const std::string& s : {""s, "\0"s, "\0\0"s, "a"s, "A"s, "a "s, "\xff"s, "1"s}) {
    v.push_back(Blob{s});
  }
  // clang-format on
  return v;
}

Value RandomValue(std::mt19937_64& rng) {
  static const char kAlphabet[] = {'a', 'A', 'b', 'B', ' ', '\0', '_', 'z', '\xff', '\x01'};
  switch (rng() % 8) {
    case 0:
      return static_cast<int64_t>(rng()) >> (rng() % 64);
    case 1: {  // integers near +-2^53 and +-2^63, where doubles are sparse
      const int64_t base = rng() % 2 ? kTwoTo53 : kInt64Max;
      const int64_t i = base - static_cast<int64_t>(rng() % 3000);
      return rng() % 2 ? i : -i;
    }
    case 2: {
      const double d = std::bit_cast<double>(uint64_t{rng()});
      return std::isnan(d) ? Value(Null{}) : Value(d);
    }
    case 3: {  // whole doubles near 2^53 and 2^63
      const double base = rng() % 2 ? 0x1p53 : kTwoTo63;
      double d = base;
      for (uint64_t n = rng() % 40; n > 0; --n) d = std::nextafter(d, 0.0);
      for (uint64_t n = rng() % 3; n > 0; --n) d = std::nextafter(d, L::infinity());
      return rng() % 2 ? d : -d;
    }
    case 4:
      return static_cast<double>(static_cast<int64_t>(rng() % 64) - 32) / 4.0;
    case 5:
      return static_cast<int64_t>(rng() % 64) - 32;
    default: {
      std::string s(rng() % 5, '\0');
      for (char& c : s) c = kAlphabet[rng() % std::size(kAlphabet)];
      if (rng() % 4 == 0) return Blob{s};
      return s;
    }
  }
}

// (a) Pairwise: the keys of a and b compare as SQLite compares a and b, in both
// directions; equal keys exactly when SQLite says equal.
void ExpectSameOrder(Sqlite& sqlite, const Value& a, const Value& b, Collation c, int* failures) {
  const int expected = sqlite.Compare(a, b, c);
  for (Direction dir : kDirections) {
    const int got = CompareBytes(Key(a, c, dir), Key(b, c, dir));
    const int want = dir == Direction::kAscending ? expected : -expected;
    if (got != want && ++*failures <= 20) {
      ADD_FAILURE() << Show(a) << " vs " << Show(b) << " COLLATE " << CollationName(c)
                    << (dir == Direction::kAscending ? " ASC" : " DESC") << ": SQLite says " << want
                    << ", keys say " << got << " (" << absl::BytesToHexString(Key(a, c, dir))
                    << " vs " << absl::BytesToHexString(Key(b, c, dir)) << ")";
    }
  }
}

TEST(ValueKey, PairwiseOrderMatchesSqliteOnHandPickedValues) {
  Sqlite sqlite;
  const std::vector<Value> values = HandPickedValues();
  int failures = 0;
  for (Collation c : kCollations) {
    for (const Value& a : values) {
      for (const Value& b : values) ExpectSameOrder(sqlite, a, b, c, &failures);
    }
  }
  EXPECT_EQ(failures, 0);
}

TEST(ValueKey, PairwiseOrderMatchesSqliteOnRandomValues) {
  Sqlite sqlite;
  std::mt19937_64 rng(kSeed);
  const std::vector<Value> picked = HandPickedValues();
  int failures = 0;
  for (int i = 0; i < 30000; ++i) {
    const Value a = RandomValue(rng);
    const Value b = rng() % 4 == 0 ? picked[rng() % picked.size()] : RandomValue(rng);
    ExpectSameOrder(sqlite, a, b, kCollations[rng() % 3], &failures);
  }
  EXPECT_EQ(failures, 0);
}

// SQLite's own sort, NULLs included, is the order of the keys (ties by id).
TEST(ValueKey, SortOrderMatchesSqliteOrderBy) {
  Sqlite sqlite;
  std::mt19937_64 rng(kSeed + 1);
  std::vector<std::vector<Value>> rows;
  for (const Value& v : HandPickedValues()) rows.push_back({v});
  for (int i = 0; i < 2000; ++i) rows.push_back({RandomValue(rng)});
  for (Collation c : kCollations) {
    for (Direction dir : kDirections) {
      const std::string order_by = absl::StrCat("c0 COLLATE ", CollationName(c),
                                                dir == Direction::kAscending ? " ASC" : " DESC");
      std::vector<std::string> keys;
      for (const auto& row : rows) keys.push_back(Key(row[0], c, dir));
      std::vector<int> ours(rows.size());
      std::iota(ours.begin(), ours.end(), 0);
      std::stable_sort(ours.begin(), ours.end(), [&](int x, int y) { return keys[x] < keys[y]; });
      EXPECT_EQ(ours, sqlite.SortedIds(rows, order_by)) << order_by;
    }
  }
}

// (b) Composite keys: two columns, the second descending, concatenated, sort as
// SQLite's ORDER BY of the two columns.
TEST(ValueKey, CompositeKeysSortLexicographically) {
  Sqlite sqlite;
  std::mt19937_64 rng(kSeed + 2);
  const std::vector<Value> picked = HandPickedValues();
  std::vector<std::vector<Value>> rows;
  for (int i = 0; i < 3000; ++i) {
    // Few distinct first columns, so the second column decides often.
    Value first = rng() % 2 ? picked[rng() % 12] : RandomValue(rng);
    rows.push_back(
        {std::move(first), rng() % 3 == 0 ? picked[rng() % picked.size()] : RandomValue(rng)});
  }
  for (Collation c : kCollations) {
    const std::string name(CollationName(c));
    std::vector<std::string> keys;
    for (const auto& row : rows) {
      std::string key;
      AppendValueKey(&key, row[0], c, Direction::kAscending);
      AppendValueKey(&key, row[1], Collation::kBinary, Direction::kDescending);
      keys.push_back(key);
    }
    std::vector<int> ours(rows.size());
    std::iota(ours.begin(), ours.end(), 0);
    std::stable_sort(ours.begin(), ours.end(), [&](int x, int y) { return keys[x] < keys[y]; });
    EXPECT_EQ(ours, sqlite.SortedIds(rows, absl::StrCat("c0 COLLATE ", name, " ASC, c1 DESC")))
        << name;
  }
}

TEST(ValueKey, IntegerAndEqualRealShareAKey) {
  for (Collation c : kCollations) {
    EXPECT_EQ(Key(int64_t{3}, c), Key(3.0, c));
    EXPECT_EQ(Key(int64_t{0}, c), Key(-0.0, c));
    EXPECT_EQ(Key(kInt64Min, c), Key(-kTwoTo63, c));
    EXPECT_NE(Key(kInt64Max, c), Key(kTwoTo63, c));  // 2^63 - 1 != 2^63
    EXPECT_NE(Key(kTwoTo53 + 1, c), Key(static_cast<double>(kTwoTo53 + 1), c));
  }
}

TEST(ValueKey, NanIsNull) {
  EXPECT_EQ(Key(L::quiet_NaN(), Collation::kBinary), Key(Null{}, Collation::kBinary));
}

TEST(CollatedText, FoldsAsSqlite) {
  EXPECT_EQ(CollatedText("AbC \xc3\x89_", Collation::kNocase), "abc \xc3\x89_");
  EXPECT_EQ(CollatedText("a\0XyZ"s, Collation::kNocase), "a\0\0\0\0"s);
  EXPECT_EQ(CollatedText("Ab  ", Collation::kRtrim), "Ab");
  EXPECT_EQ(CollatedText("Ab \t ", Collation::kRtrim), "Ab \t");
  EXPECT_EQ(CollatedText("   ", Collation::kRtrim), "");
  EXPECT_EQ(CollatedText("Ab  ", Collation::kBinary), "Ab  ");
}

// The bytes of the examples in docs/encoding.md §3.
TEST(ValueKey, Golden) {
  struct Case {
    Value value;
    Collation collation;
    Direction dir;
    const char* hex;
  };
  const Case cases[] = {
      {Null{}, Collation::kBinary, Direction::kAscending, "00"},
      {int64_t{3}, Collation::kBinary, Direction::kAscending, "58c00800000000000013"},
      {3.0, Collation::kBinary, Direction::kAscending, "58c00800000000000013"},
      {1.5, Collation::kBinary, Direction::kAscending, "58bff8000000000000"},
      {int64_t{-1}, Collation::kBinary, Direction::kAscending, "58400fffffffffffff0fff"},
      {kTwoTo53 + 1, Collation::kBinary, Direction::kAscending,
       "58c3400000000000005620000000000001"},
      {kInt64Max, Collation::kBinary, Direction::kAscending,
       "58c3e0000000000000577fffffffffffffff"},
      {kTwoTo63, Collation::kBinary, Direction::kAscending, "58c3e000000000000060"},
      {1e20, Collation::kBinary, Direction::kAscending, "58c415af1d78b58c40"},
      {L::infinity(), Collation::kBinary, Direction::kAscending, "58fff0000000000000"},
      {"Abc  "s, Collation::kBinary, Direction::kAscending, "59416263202000 01"},
      {"Abc  "s, Collation::kNocase, Direction::kAscending, "59616263202000 01"},
      {"Abc  "s, Collation::kRtrim, Direction::kAscending, "5941626300 01"},
      {Blob{"\x01\x00"s}, Collation::kNocase, Direction::kAscending, "5a0100ff0001"},
      {int64_t{3}, Collation::kBinary, Direction::kDescending, "a73ff7ffffffffffffec"},
  };
  for (const Case& c : cases) {
    std::string want = c.hex;
    want.erase(std::remove(want.begin(), want.end(), ' '), want.end());
    EXPECT_EQ(absl::BytesToHexString(Key(c.value, c.collation, c.dir)), want) << Show(c.value);
  }
}

// (c) Decoding: what comes back, and that it re-encodes to the same bytes.
Value ExpectedDecode(const Value& v, Collation c) {
  if (const double* r = std::get_if<double>(&v)) {
    if (std::isnan(*r)) return Null{};
    const bool whole = std::isfinite(*r) && std::trunc(*r) == *r && std::fabs(*r) <= kTwoTo63;
    if (whole && *r != kTwoTo63) return static_cast<int64_t>(*r);
    return *r;
  }
  if (const std::string* s = std::get_if<std::string>(&v)) return CollatedText(*s, c);
  return v;
}

TEST(ValueKey, DecodesWhatWasEncoded) {
  std::mt19937_64 rng(kSeed + 3);
  std::vector<Value> values = HandPickedValues();
  for (int i = 0; i < 20000; ++i) values.push_back(RandomValue(rng));
  for (const Value& v : values) {
    for (Collation c : kCollations) {
      for (Direction dir : kDirections) {
        const std::string key = Key(v, c, dir);
        const std::string tail = Key(int64_t{7}, Collation::kBinary, dir);
        const std::string input = key + tail;
        absl::string_view src = input;
        absl::StatusOr<Value> got = ConsumeValueKey(&src, dir);
        ASSERT_TRUE(got.ok()) << Show(v) << ": " << got.status();
        EXPECT_TRUE(Same(*got, ExpectedDecode(v, c))) << Show(v) << " decoded as " << Show(*got);
        EXPECT_EQ(src, tail) << Show(v);
        EXPECT_EQ(Key(*got, Collation::kBinary, dir), key) << Show(v);
      }
    }
  }
}

TEST(ValueKey, DecodeErrorsNameTheProblem) {
  const std::string three = Key(int64_t{3}, Collation::kBinary);
  struct Case {
    std::string input;
    Direction dir;
    const char* message;
  };
  const Case cases[] = {
      {"", Direction::kAscending, "value key at offset 0: empty input"},
      {"\x03", Direction::kAscending, "invalid tag 0x03"},
      {Key(Null{}, Collation::kBinary), Direction::kDescending, "is ascending"},
      {three.substr(0, 9), Direction::kAscending,
       "needs an int64 tie-break at offset 9, found the end"},
      {three.substr(0, 9) + "\x14", Direction::kAscending, "does not round to it"},
      {three.substr(0, 9) + "\x60", Direction::kAscending, "must be 0 and follow 2^63"},
      {three.substr(0, 9) + "\x59", Direction::kAscending, "found tag 0x59"},
      {"\x13", Direction::kAscending, "starts no value"},
      {"\x60", Direction::kAscending, "starts no value"},
      {std::string("\x58\0\0\0\0\0\0\0\0", 9), Direction::kAscending, "NaN"},
      {"\x58\x80", Direction::kAscending, "truncated float64"},
      {"\x59\x61", Direction::kAscending, "no terminator"},
  };
  for (const Case& c : cases) {
    absl::string_view src = c.input;
    absl::StatusOr<Value> got = ConsumeValueKey(&src, c.dir);
    ASSERT_FALSE(got.ok()) << absl::BytesToHexString(c.input);
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(got.status().message().find(c.message), absl::string_view::npos)
        << got.status() << " lacks '" << c.message << "'";
    EXPECT_EQ(src, c.input) << "input consumed on error";
  }
}

// (d) Garbage never crashes: random bytes, and valid keys truncated and mutated.
// Whatever is accepted is canonical: it re-encodes to exactly the bytes consumed.
void CheckGarbage(const std::string& input, Direction dir) {
  absl::string_view src = input;
  absl::StatusOr<Value> got = ConsumeValueKey(&src, dir);
  if (!got.ok()) {
    EXPECT_EQ(src, input);
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    return;
  }
  ASSERT_TRUE(absl::EndsWith(input, src));
  const size_t consumed = input.size() - src.size();
  EXPECT_EQ(Key(*got, Collation::kBinary, dir), input.substr(0, consumed))
      << absl::BytesToHexString(input);
}

TEST(ValueKey, GarbageNeverCrashes) {
  std::mt19937_64 rng(kSeed + 4);
  for (int i = 0; i < 100000; ++i) {
    std::string input(rng() % 24, '\0');
    for (char& c : input) c = static_cast<char>(rng());
    // Valid tags are rare in random bytes: steer the first byte to them often.
    if (!input.empty() && rng() % 2) {
      static const uint8_t kTags[] = {0x00, 0x58, 0x59, 0x5a, 0x13, 0x60, 0xff, 0xa7, 0xa6, 0xa5};
      input[0] = static_cast<char>(kTags[rng() % std::size(kTags)]);
    }
    CheckGarbage(input, kDirections[rng() % 2]);
  }
  const std::vector<Value> values = HandPickedValues();
  for (int i = 0; i < 50000; ++i) {
    const Direction dir = kDirections[rng() % 2];
    std::string key = Key(rng() % 2 ? values[rng() % values.size()] : RandomValue(rng),
                          kCollations[rng() % 3], dir);
    switch (rng() % 3) {
      case 0:
        key.resize(rng() % (key.size() + 1));
        break;
      case 1:
        key[rng() % key.size()] ^= static_cast<char>(1 << (rng() % 8));
        break;
      default:
        key[rng() % key.size()] = static_cast<char>(rng());
        break;
    }
    CheckGarbage(key, dir);
  }
}

TEST(ValueKey, EveryProperPrefixIsRejected) {
  for (const Value& v : HandPickedValues()) {
    for (Direction dir : kDirections) {
      const std::string key = Key(v, Collation::kBinary, dir);
      for (size_t n = 0; n < key.size(); ++n) {
        absl::string_view src(key.data(), n);
        EXPECT_FALSE(ConsumeValueKey(&src, dir).ok()) << Show(v) << " prefix " << n;
        EXPECT_EQ(src.size(), n);
      }
    }
  }
}

}  // namespace
}  // namespace rangedb::sql
