#include "storage/value_encoding.h"

#include <gtest/gtest.h>

#include <bit>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "storage/golden_file.h"

namespace rangedb {
namespace {

using std::string_literals::operator""s;

constexpr uint64_t kSeed = 0x5eed'2024'0502;

std::string Hex(absl::string_view s) { return absl::BytesToHexString(s); }

// Equality that compares REAL values by their bits, so NaN payloads and -0 count.
bool SameRow(const std::vector<ColumnValue>& a, const std::vector<ColumnValue>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].column_id != b[i].column_id || a[i].value.index() != b[i].value.index()) return false;
    if (const double* x = std::get_if<double>(&a[i].value)) {
      if (std::bit_cast<uint64_t>(*x) != std::bit_cast<uint64_t>(std::get<double>(b[i].value))) {
        return false;
      }
    } else if (a[i].value != b[i].value) {
      return false;
    }
  }
  return true;
}

SqlValue RandomValue(std::mt19937_64& rng) {
  using L = std::numeric_limits<double>;
  static const int64_t kInts[] = {0,
                                  1,
                                  -1,
                                  63,
                                  64,
                                  -64,
                                  -65,
                                  L::digits,
                                  std::numeric_limits<int64_t>::min(),
                                  std::numeric_limits<int64_t>::max()};
  static const double kReals[] = {0.0,
                                  -0.0,
                                  L::quiet_NaN(),
                                  -L::quiet_NaN(),
                                  std::bit_cast<double>(uint64_t{0x7FF0000000000001}),
                                  L::infinity(),
                                  -L::infinity(),
                                  L::denorm_min(),
                                  L::max()};
  switch (rng() % 7) {
    case 0:
      return NullDatum{};
    case 1:
      return kInts[rng() % std::size(kInts)];
    case 2:
      return static_cast<int64_t>(rng()) >> (rng() % 64);
    case 3:
      return rng() % 2 ? kReals[rng() % std::size(kReals)] : std::bit_cast<double>(uint64_t{rng()});
    default: {
      std::string s(rng() % 3 == 0 ? rng() % 300 : rng() % 8, '\0');
      for (char& c : s) c = static_cast<char>(rng());
      if (rng() % 2) return s;
      return BytesDatum{std::move(s)};
    }
  }
}

std::vector<ColumnValue> RandomRow(std::mt19937_64& rng) {
  std::vector<ColumnValue> row;
  const size_t columns = rng() % 12;
  uint64_t id = 0;
  for (size_t i = 0; i < columns; ++i) {
    const uint64_t gap = rng() % 8 == 0 ? rng() % 100000 : 1 + rng() % 3;
    id += std::max<uint64_t>(gap, 1);
    if (id > std::numeric_limits<uint32_t>::max()) break;
    row.push_back({static_cast<uint32_t>(id), RandomValue(rng)});
  }
  if (rng() % 10 == 0) row.push_back({std::numeric_limits<uint32_t>::max(), int64_t{1}});
  return row;
}

std::vector<std::vector<ColumnValue>> SampleRows() {
  std::mt19937_64 rng(kSeed);
  std::vector<std::vector<ColumnValue>> rows = {{}};
  for (int i = 0; i < 2000; ++i) rows.push_back(RandomRow(rng));
  return rows;
}

TEST(ValueEncodingTest, RoundTripsEveryTypeAndPreservesRealBits) {
  for (const std::vector<ColumnValue>& row : SampleRows()) {
    absl::StatusOr<std::string> encoded = EncodeRow(row);
    ASSERT_TRUE(encoded.ok()) << encoded.status();
    absl::StatusOr<std::vector<ColumnValue>> decoded = DecodeRow(*encoded);
    ASSERT_TRUE(decoded.ok()) << decoded.status() << " for " << Hex(*encoded);
    EXPECT_TRUE(SameRow(*decoded, row)) << Hex(*encoded);
  }
}

TEST(ValueEncodingTest, WorkedExampleFromTheDocs) {
  const std::vector<ColumnValue> row = {
      {1, int64_t{42}}, {2, "alice"s}, {3, NullDatum{}}, {5, 3.25}, {9, BytesDatum{"\xde\xad"}}};
  EXPECT_EQ(Hex(EncodeRow(row).value()),
            "0105"                // version 1, 5 columns
            "0954"                // id 1 INTEGER: zigzag(42) = 84
            "0b05616c696365"      // id 2 TEXT: length 5, "alice"
            "08"                  // id 3 NULL
            "12400a000000000000"  // id 5 (delta 2) REAL 3.25
            "2402dead");          // id 9 (delta 4) BLOB: length 2
}

// The column count makes every proper prefix invalid, even one that ends exactly
// between two entries.
TEST(ValueDecodingTest, EveryProperPrefixIsAnError) {
  for (const std::vector<ColumnValue>& row : SampleRows()) {
    const std::string encoded = EncodeRow(row).value();
    for (size_t n = 0; n < encoded.size(); ++n) {
      EXPECT_FALSE(DecodeRow(absl::string_view(encoded.data(), n)).ok())
          << Hex(encoded) << " " << n;
    }
  }
}

// Arbitrary bytes must not crash the decoder, and whatever it accepts must re-encode
// to the same bytes (one encoding per row).
void ExpectDecodeIsSafeAndCanonical(absl::string_view input) {
  absl::StatusOr<std::vector<ColumnValue>> row = DecodeRow(input);
  if (!row.ok()) return;
  absl::StatusOr<std::string> again = EncodeRow(*row);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(Hex(*again), Hex(input));
}

TEST(ValueDecodingTest, RandomGarbageNeverCrashes) {
  std::mt19937_64 rng(kSeed);
  for (int i = 0; i < 20000; ++i) {
    std::string input(rng() % 24, '\0');
    for (char& c : input) c = static_cast<char>(rng() % 2 ? rng() : rng() % 16);
    if (!input.empty() && rng() % 4 != 0) input[0] = static_cast<char>(kRowFormatVersion);
    ExpectDecodeIsSafeAndCanonical(input);
  }
}

TEST(ValueDecodingTest, MutatedRowsNeverCrash) {
  std::mt19937_64 rng(kSeed);
  for (const std::vector<ColumnValue>& row : SampleRows()) {
    std::string encoded = EncodeRow(row).value();
    for (int i = 0; i < 4; ++i) {
      encoded[rng() % encoded.size()] = static_cast<char>(rng());
      ExpectDecodeIsSafeAndCanonical(encoded);
    }
  }
}

std::string DecodeError(absl::string_view input) {
  absl::StatusOr<std::vector<ColumnValue>> row = DecodeRow(input);
  EXPECT_FALSE(row.ok()) << Hex(input);
  return std::string(row.status().message());
}

TEST(ValueDecodingTest, ErrorsSayWhatWasWrong) {
  EXPECT_EQ(DecodeError(""), "empty row: no version byte");
  EXPECT_EQ(DecodeError("\x02\x00"s),
            "unsupported row format version 2 (this build reads version 1)");
  EXPECT_EQ(DecodeError("\x01"), "truncated column count at offset 1");
  EXPECT_EQ(DecodeError("\x01\x80\x00"s), "non-minimal column count varint at offset 1");
  EXPECT_EQ(DecodeError("\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f"),
            "column count varint at offset 1 overflows 64 bits");
  EXPECT_EQ(DecodeError("\x01\x05\x08"), "row claims 5 columns but only 1 bytes remain");
  EXPECT_EQ(DecodeError("\x01\x02\x08\x88"), "truncated column header at offset 3");
  EXPECT_EQ(DecodeError("\x01\x01\x0d"), "column 1: unknown value type 5 at offset 3");
  EXPECT_EQ(DecodeError("\x01\x02\x08\x00"s),
            "column id delta 0 at offset 3 after column 1: ids must strictly increase");
  EXPECT_EQ(DecodeError("\x01\x01\x0b\x09hi"),
            "column 1: TEXT length 9 at offset 4 exceeds the 2 remaining bytes");
  EXPECT_EQ(DecodeError("\x01\x01\x0c\x05hi"),
            "column 1: BLOB length 5 at offset 4 exceeds the 2 remaining bytes");
  EXPECT_EQ(DecodeError("\x01\x01\x0a\x40\x00"s),
            "column 1: truncated REAL at offset 3: needs 8 bytes, 2 remain");
  EXPECT_EQ(DecodeError("\x01\x01\x09\x80"), "column 1: truncated INTEGER at offset 3");
  EXPECT_EQ(DecodeError("\x01\x01\x08\x42"),
            "trailing garbage at offset 3: 1 bytes after the last of 1 columns");
  // Column 2^32-1, then a delta of 1.
  EXPECT_EQ(DecodeError("\x01\x02\xf8\xff\xff\xff\x7f\x08"),
            "column id after 4294967295 at offset 7 exceeds 2^32-1");
}

TEST(ValueEncodingTest, RejectsBadColumnIds) {
  EXPECT_EQ(EncodeRow({{0, NullDatum{}}}).status().message(), "column id 0 is reserved");
  EXPECT_EQ(EncodeRow({{3, NullDatum{}}, {3, NullDatum{}}}).status().message(),
            "column ids must strictly increase: 3 after 3");
  EXPECT_EQ(EncodeRow({{3, NullDatum{}}, {2, NullDatum{}}}).status().message(),
            "column ids must strictly increase: 2 after 3");
}

// ---- Golden rows: storage/testdata/encoding_value_golden.txt ----

// Parses "<id>=<type>[:<value>]"; strings are double-quoted with C escapes.
absl::StatusOr<ColumnValue> ParseGoldenColumn(absl::string_view text) {
  const std::vector<std::string> id_rest = absl::StrSplit(text, absl::MaxSplits('=', 1));
  const std::vector<std::string> type_value =
      absl::StrSplit(id_rest.back(), absl::MaxSplits(':', 1));
  uint32_t id;
  if (id_rest.size() != 2 || !absl::SimpleAtoi(id_rest[0], &id)) {
    return absl::InvalidArgumentError(absl::StrCat("bad column ", text));
  }
  const std::string& type = type_value[0];
  const std::string value = type_value.size() > 1 ? type_value[1] : "";
  int64_t i;
  std::string s;
  if (type == "null" && type_value.size() == 1) return ColumnValue{id, NullDatum{}};
  if (type == "integer" && absl::SimpleAtoi(value, &i)) return ColumnValue{id, i};
  if (type == "real") {
    char* end = nullptr;
    const double d = std::strtod(value.c_str(), &end);
    if (!value.empty() && end == value.c_str() + value.size()) return ColumnValue{id, d};
  }
  if ((type == "text" || type == "blob") && value.size() >= 2 && value.front() == '"' &&
      value.back() == '"' && absl::CUnescape(value.substr(1, value.size() - 2), &s)) {
    if (type == "text") return ColumnValue{id, s};
    return ColumnValue{id, BytesDatum{s}};
  }
  return absl::InvalidArgumentError(absl::StrCat("bad column ", text));
}

// Each line: <columns> <hex>, columns being "-" for none or comma-separated
// <id>=<type>[:<value>]. RANGEDB_REWRITE_GOLDEN=1 rewrites the hex column.
TEST(ValueEncodingGoldenTest, EncodingsMatchCheckedInVectors) {
  auto parse = [](const GoldenVector& v) -> absl::StatusOr<std::vector<ColumnValue>> {
    std::vector<ColumnValue> row;
    if (v.inputs[0] == "-") return row;
    for (absl::string_view column : absl::StrSplit(v.inputs[0], ',')) {
      absl::StatusOr<ColumnValue> parsed = ParseGoldenColumn(column);
      if (!parsed.ok()) return parsed.status();
      row.push_back(*std::move(parsed));
    }
    return row;
  };
  const int vectors = RunGoldenFile(
      RANGEDB_ENCODING_TESTDATA_DIR "/encoding_value_golden.txt", 1,
      [&](const GoldenVector& v) {
        absl::StatusOr<std::vector<ColumnValue>> row = parse(v);
        if (!row.ok()) {
          ADD_FAILURE() << row.status() << " in: " << v.line;
          return std::string();
        }
        return EncodeRow(*row).value();
      },
      [&](const GoldenVector& v, const std::string& bytes) {
        absl::StatusOr<std::vector<ColumnValue>> row = parse(v);
        absl::StatusOr<std::vector<ColumnValue>> decoded = DecodeRow(bytes);
        ASSERT_TRUE(row.ok() && decoded.ok()) << decoded.status() << " in: " << v.line;
        EXPECT_TRUE(SameRow(*decoded, *row)) << v.line;
      });
  if (vectors < 0) GTEST_SKIP() << "rewrote the golden file";
  EXPECT_GE(vectors, 15);
}

}  // namespace
}  // namespace rangedb
