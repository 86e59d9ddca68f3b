#include "sql/row_codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"

namespace rangedb::sql {
namespace {

using std::string_literals::operator""s;
using Row = std::vector<std::pair<uint32_t, Value>>;

constexpr uint64_t kSeed = 0x5eed'2024'0718;

std::string Hex(absl::string_view s) { return absl::BytesToHexString(s); }

std::string Encode(const Row& row) {
  std::string out;
  EncodeRow(row, &out);
  return out;
}

// Same ids and values; REALs by their bits, so -0.0 and NaN payloads count.
bool SameRow(const Row& a, const Row& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].first != b[i].first || a[i].second.index() != b[i].second.index()) return false;
    if (const double* x = std::get_if<double>(&a[i].second)) {
      if (std::bit_cast<uint64_t>(*x) != std::bit_cast<uint64_t>(std::get<double>(b[i].second))) {
        return false;
      }
    } else if (a[i].second != b[i].second) {
      return false;
    }
  }
  return true;
}

// The row without its NULL columns: what a round trip gives back.
Row WithoutNulls(const Row& row) {
  Row out;
  for (const auto& column : row) {
    if (!IsNull(column.second)) out.push_back(column);
  }
  return out;
}

Value RandomValue(std::mt19937_64& rng) {
  using L = std::numeric_limits<double>;
  static const int64_t kInts[] = {0,
                                  1,
                                  -1,
                                  63,
                                  64,
                                  -64,
                                  -65,
                                  std::numeric_limits<int64_t>::min(),
                                  std::numeric_limits<int64_t>::max()};
  static const double kReals[] = {
      0.0, -0.0, L::infinity(), -L::infinity(), L::denorm_min(), L::max(), L::quiet_NaN(), 1.5};
  switch (rng() % 6) {
    case 0:
      return Null{};
    case 1:
      return rng() % 2 ? kInts[rng() % std::size(kInts)]
                       : static_cast<int64_t>(rng()) >> (rng() % 64);
    case 2:
      return rng() % 2 ? kReals[rng() % std::size(kReals)] : std::bit_cast<double>(uint64_t{rng()});
    default: {
      std::string s(rng() % 4 == 0 ? rng() % 300 : rng() % 8, '\0');
      for (char& c : s) c = static_cast<char>(rng());
      if (rng() % 2) return s;
      return Blob{std::move(s)};
    }
  }
}

Row RandomRow(std::mt19937_64& rng) {
  Row row;
  uint32_t id = 0;
  for (uint64_t n = rng() % 12; n > 0; --n) {
    const uint32_t step = rng() % 8 == 0 ? static_cast<uint32_t>(rng() % 100000) + 1
                                         : static_cast<uint32_t>(rng() % 3) + 1;
    if (step > std::numeric_limits<uint32_t>::max() - id) break;
    id += step;
    row.emplace_back(id, RandomValue(rng));
  }
  if (rng() % 16 == 0) row.emplace_back(std::numeric_limits<uint32_t>::max(), RandomValue(rng));
  return row;
}

TEST(RowCodec, RandomRowsRoundTrip) {
  std::mt19937_64 rng(kSeed);
  for (int i = 0; i < 20000; ++i) {
    const Row row = RandomRow(rng);
    const std::string bytes = Encode(row);
    absl::StatusOr<Row> decoded = DecodeRow(bytes);
    ASSERT_TRUE(decoded.ok()) << decoded.status() << " for " << Hex(bytes);
    EXPECT_TRUE(SameRow(*decoded, WithoutNulls(row))) << Hex(bytes);
    EXPECT_EQ(Encode(*decoded), bytes);  // canonical: equal rows, equal bytes
  }
}

TEST(RowCodec, NullsAreLeftOut) {
  EXPECT_EQ(Encode({{1, Null{}}, {2, int64_t{5}}, {3, Null{}}}), Encode({{2, int64_t{5}}}));
  EXPECT_EQ(Hex(Encode({{4, Null{}}})), "0100");
  EXPECT_EQ(Hex(Encode({})), "0100");
}

TEST(RowCodec, ReplacesTheOutput) {
  std::string out = "stale";
  EncodeRow({{1, int64_t{1}}}, &out);
  EXPECT_EQ(Hex(out), "01010902");
}

// The exact bytes of one row (docs/encoding.md §3): version 1, count 5, then per
// column (id delta << 3 | type) and the payload.
TEST(RowCodec, Golden) {
  const Row row = {{1, int64_t{42}},       {2, "alice"s},     {3, Null{}}, {5, 3.25},
                   {9, Blob{"\xde\xad"s}}, {30, int64_t{-3}}, {31, -0.0}};
  const std::string want =
      "01"                  // version 1
      "06"                  // 6 columns present (NULL left out)
      "0954"                // id 1: delta 1, INTEGER; zigzag(42) = 84
      "0b05616c696365"      // id 2: delta 1, TEXT; length 5, "alice"
      "1a400a000000000000"  // id 5: delta 3 from id 2, REAL (3<<3|2); 3.25, big-endian bits
      "2402dead"            // id 9: delta 4, BLOB; length 2
      "a90105"  // id 30: delta 21, INTEGER (21<<3|1 = 169, a varint 2 bytes); zigzag(-3) = 5
      "0a8000000000000000";  // id 31: delta 1, REAL; -0.0 keeps its sign
  EXPECT_EQ(Hex(Encode(row)), want);
  absl::StatusOr<Row> decoded = DecodeRow(absl::HexStringToBytes(want));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(SameRow(*decoded, WithoutNulls(row)));
}

TEST(RowCodec, ExplicitNullEntryDecodesAsNull) {
  // Type code 0 is in the format though EncodeRow never writes it.
  absl::StatusOr<Row> decoded = DecodeRow(absl::HexStringToBytes("01021008"));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_EQ(decoded->size(), 2u);
  EXPECT_EQ((*decoded)[0].first, 2u);
  EXPECT_TRUE(IsNull((*decoded)[0].second));
  EXPECT_EQ((*decoded)[1].first, 3u);
  EXPECT_TRUE(IsNull((*decoded)[1].second));
}

// ALTER TABLE ADD COLUMN … DEFAULT: a column whose absence reads as its default
// stores a NULL as an explicit entry (type code 0), which reads back as NULL.
TEST(RowCodec, ExplicitNullsAreWrittenWhenAsked) {
  std::string out;
  EncodeRow({{1, Null{}}, {2, int64_t{5}}, {4, Null{}}}, &out, NullColumns::kWrite);
  // Version 1, 3 columns; id 1 NULL (1<<3|0); id 2 INTEGER (1<<3|1), zigzag(5) = 10;
  // id 4 NULL (2<<3|0).
  EXPECT_EQ(Hex(out), "010308090a10");
  absl::StatusOr<Row> decoded = DecodeRow(out);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(SameRow(*decoded, Row{{1, Null{}}, {2, int64_t{5}}, {4, Null{}}}));
  // Re-encoding what was decoded gives the same bytes (the entries survive).
  EXPECT_EQ(Hex(Encode(*decoded)), "0101110a");  // kOmit drops them (id 2: 2<<3|1)
  std::string again;
  EncodeRow(*decoded, &again, NullColumns::kWrite);
  EXPECT_EQ(again, out);
}

TEST(RowCodec, RejectsCorruption) {
  struct Case {
    const char* hex;
    const char* message;
  };
  const Case cases[] = {
      {"", "empty row"},
      {"02", "unsupported row format version 2"},
      {"00", "unsupported row format version 0"},
      {"01", "truncated column count"},
      {"0101", "row claims 1 columns but only 0 bytes remain"},
      {"010109", "truncated INTEGER"},
      {"01010a0000", "truncated REAL"},
      {"01010b05616c", "TEXT length 5"},
      {"01010c05", "BLOB length 5"},
      {"01010d", "unknown value type 5"},
      {"01010f", "unknown value type 7"},
      {"0102090101", "column id delta 0"},      // second header 0x01: delta 0, so id 1 again
      {"01020901", "truncated column header"},  // count 2, one entry
      {"0101090100", "trailing garbage"},
      {"01018000", "non-minimal column header varint"},
      {"0101ffffffffffffffffff7f", "overflows 64 bits"},
      {"0101888080808001", "exceeds 2^32-1"},  // header 2^35 + 8: delta 2^32 + 1
      {"0105", "row claims 5 columns"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Row> decoded = DecodeRow(absl::HexStringToBytes(c.hex));
    ASSERT_FALSE(decoded.ok()) << c.hex;
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument) << c.hex;
    EXPECT_NE(decoded.status().message().find(c.message), absl::string_view::npos)
        << c.hex << ": " << decoded.status() << " lacks '" << c.message << "'";
  }
}

TEST(RowCodec, EveryProperPrefixIsRejected) {
  std::mt19937_64 rng(kSeed + 1);
  for (int i = 0; i < 2000; ++i) {
    const std::string bytes = Encode(RandomRow(rng));
    for (size_t n = 0; n < bytes.size(); ++n) {
      EXPECT_FALSE(DecodeRow(absl::string_view(bytes.data(), n)).ok())
          << Hex(bytes) << " prefix " << n;
    }
  }
}

// Random bytes and mutated rows never crash the decoder or make it read past the end
// (the sanitizer build would see it); whatever it accepts is canonical.
TEST(RowCodec, GarbageNeverCrashes) {
  std::mt19937_64 rng(kSeed + 2);
  for (int i = 0; i < 100000; ++i) {
    std::string bytes;
    if (rng() % 2) {
      bytes.resize(rng() % 32);
      for (char& c : bytes) c = static_cast<char>(rng());
      if (!bytes.empty() && rng() % 2) bytes[0] = 1;  // get past the version byte
    } else {
      bytes = Encode(RandomRow(rng));
      for (uint64_t n = rng() % 3 + 1; n > 0; --n) {
        bytes[rng() % bytes.size()] = static_cast<char>(rng());
      }
    }
    // A copy sized exactly, so an overread leaves the allocation under ASan.
    const std::unique_ptr<char[]> exact(new char[bytes.size()]);
    std::copy(bytes.begin(), bytes.end(), exact.get());
    absl::StatusOr<Row> decoded = DecodeRow(absl::string_view(exact.get(), bytes.size()));
    if (decoded.ok()) {
      // Canonical, unless it holds explicit NULL entries, which EncodeRow leaves out.
      if (SameRow(*decoded, WithoutNulls(*decoded))) {
        EXPECT_EQ(Encode(*decoded), bytes) << Hex(bytes);
      }
    } else {
      EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
}

TEST(RowCodecDeathTest, UnsortedOrZeroIdsAreABug) {
  EXPECT_DEATH(Encode({{2, int64_t{1}}, {1, int64_t{1}}}), "strictly increase");
  EXPECT_DEATH(Encode({{1, int64_t{1}}, {1, Null{}}}), "strictly increase");
  EXPECT_DEATH(Encode({{0, int64_t{1}}}), "strictly increase");
}

}  // namespace
}  // namespace rangedb::sql
