#include "storage/encoding.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
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
#include "absl/strings/str_split.h"
#include "storage/golden_file.h"

namespace rangedb {
namespace {

constexpr Direction kAsc = Direction::kAscending;
constexpr Direction kDesc = Direction::kDescending;
constexpr uint64_t kSeed = 0x5eed'2024'0501;

std::string Hex(absl::string_view s) { return absl::BytesToHexString(s); }

std::string Encode(const KeyDatum& datum, Direction dir) {
  std::string out;
  AppendKeyDatum(&out, datum, dir);
  return out;
}

int Sign(int c) { return (c > 0) - (c < 0); }

template <typename T>
int Compare(const T& a, const T& b) {
  return (b < a) - (a < b);
}

// The order keys must follow: by type in tag order, then by value, with NaN below
// every other float and -0 equal to +0.
int CompareDatums(const KeyDatum& a, const KeyDatum& b) {
  if (a.index() != b.index()) return Compare(a.index(), b.index());
  switch (static_cast<KeyType>(a.index())) {
    case KeyType::kNull:
      return 0;
    case KeyType::kInt64:
      return Compare(std::get<int64_t>(a), std::get<int64_t>(b));
    case KeyType::kFloat64: {
      const double x = std::get<double>(a), y = std::get<double>(b);
      if (std::isnan(x) || std::isnan(y)) return Compare(!std::isnan(x), !std::isnan(y));
      return Compare(x, y);
    }
    case KeyType::kText:
      return Sign(absl::string_view(std::get<std::string>(a)).compare(std::get<std::string>(b)));
    case KeyType::kBytes:
      return Sign(
          absl::string_view(std::get<BytesDatum>(a).bytes).compare(std::get<BytesDatum>(b).bytes));
    case KeyType::kUvarint:
      return Compare(std::get<uint64_t>(a), std::get<uint64_t>(b));
  }
  return 0;
}

// What decoding an encoding must give back: the value itself, except that -0 and
// every NaN are normalized.
KeyDatum Canonical(const KeyDatum& datum) {
  if (const double* d = std::get_if<double>(&datum)) {
    if (std::isnan(*d)) return std::numeric_limits<double>::quiet_NaN();
    if (*d == 0) return 0.0;
  }
  return datum;
}

// Equality that compares doubles by their bits.
bool SameDatum(const KeyDatum& a, const KeyDatum& b) {
  if (a.index() == 2 && b.index() == 2) {
    return std::bit_cast<uint64_t>(std::get<double>(a)) ==
           std::bit_cast<uint64_t>(std::get<double>(b));
  }
  return a == b;
}

// ---- Samples: edge values plus seeded random ones. ----

// The samples are built as plain vectors and converted at the end: GCC 12 warns
// (falsely, -Wmaybe-uninitialized) about variants holding strings built in place.
template <typename T>
std::vector<KeyDatum> ToDatums(const std::vector<T>& values) {
  return std::vector<KeyDatum>(values.begin(), values.end());
}

std::vector<KeyDatum> Int64Samples(std::mt19937_64& rng) {
  const int64_t kMin = std::numeric_limits<int64_t>::min();
  const int64_t kMax = std::numeric_limits<int64_t>::max();
  std::vector<int64_t> out = {0, 1, -1, kMin, kMin + 1, kMax, kMax - 1, 63, 64, -256, -257};
  for (int k = 0; k < 63; ++k) {
    const int64_t p = int64_t{1} << k;
    for (int64_t d : {-1, 0, 1}) {
      out.push_back(p + d);
      out.push_back(-p + d);
    }
  }
  // Random magnitudes of every width, so every length class is hit.
  for (int i = 0; i < 300; ++i) out.push_back(static_cast<int64_t>(rng() >> (rng() % 64)));
  for (int i = 0; i < 100; ++i) out.push_back(-static_cast<int64_t>(rng() >> (1 + rng() % 63)));
  return ToDatums(out);
}

std::vector<KeyDatum> UvarintSamples(std::mt19937_64& rng) {
  const uint64_t kMax = std::numeric_limits<uint64_t>::max();
  std::vector<uint64_t> out = {0, 1, 23, 24, 255, 256, kMax, kMax - 1};
  for (int k = 0; k < 64; ++k) {
    const uint64_t p = uint64_t{1} << k;
    for (uint64_t v : {p - 1, p, p + 1}) out.push_back(v);
  }
  for (int i = 0; i < 300; ++i) out.push_back(rng() >> (rng() % 64));
  return ToDatums(out);
}

std::vector<KeyDatum> Float64Samples(std::mt19937_64& rng) {
  using L = std::numeric_limits<double>;
  std::vector<double> out = {L::quiet_NaN(),
                             -L::quiet_NaN(),
                             std::bit_cast<double>(uint64_t{0x7FF0000000000001}),
                             std::bit_cast<double>(~uint64_t{0}),
                             L::infinity(),
                             -L::infinity(),
                             0.0,
                             -0.0,
                             L::denorm_min(),
                             -L::denorm_min(),
                             std::bit_cast<double>(uint64_t{0x000FFFFFFFFFFFFF}),
                             L::min(),
                             -L::min(),
                             L::max(),
                             -L::max(),
                             1.0,
                             -1.0,
                             0.5,
                             -0.5,
                             1e-300,
                             -1e300};
  for (int i = 0; i < 300; ++i) out.push_back(std::bit_cast<double>(uint64_t{rng()}));
  for (int i = 0; i < 100; ++i) {
    out.push_back(static_cast<double>(static_cast<int64_t>(rng()) >> (rng() % 64)));
  }
  return ToDatums(out);
}

// Every string of length <= 3 over {0x00, 0x01, 0xFF}, so that each is a prefix of
// many others, plus random strings over a tricky alphabet.
std::vector<std::string> StringSamples(std::mt19937_64& rng) {
  std::vector<std::string> out = {""};
  const std::string alphabet("\x00\x01\xff", 3);
  for (size_t begin = 0, end = 1, length = 1; length <= 3; ++length) {
    for (size_t i = begin; i < end; ++i) {
      for (char c : alphabet) out.push_back(out[i] + c);
    }
    begin = end;
    end = out.size();
  }
  const std::string tricky(
      "\x00\x01\x02\x7f\x80\xfe\xff"
      "ab",
      9);
  for (int i = 0; i < 150; ++i) {
    std::string s(rng() % 9, '\0');
    for (char& c : s) c = tricky[rng() % tricky.size()];
    out.push_back(s);
  }
  return out;
}

std::vector<KeyDatum> TextSamples(std::mt19937_64& rng) {
  std::vector<KeyDatum> out;
  for (std::string& s : StringSamples(rng)) out.push_back(std::move(s));
  return out;
}

std::vector<KeyDatum> BytesSamples(std::mt19937_64& rng) {
  std::vector<KeyDatum> out;
  for (std::string& s : StringSamples(rng)) out.push_back(BytesDatum{std::move(s)});
  return out;
}

std::vector<KeyDatum> AllSamples() {
  std::mt19937_64 rng(kSeed);
  std::vector<KeyDatum> out = {NullDatum{}};
  for (auto* samples : {Int64Samples, Float64Samples, TextSamples, BytesSamples, UvarintSamples}) {
    for (KeyDatum& d : samples(rng)) out.push_back(std::move(d));
  }
  return out;
}

// Checks every pair: bytewise order of encodings == value order (reversed for kDesc).
void ExpectOrderPreserved(const std::vector<KeyDatum>& values) {
  for (Direction dir : {kAsc, kDesc}) {
    std::vector<std::string> encoded;
    for (const KeyDatum& v : values) encoded.push_back(Encode(v, dir));
    for (size_t i = 0; i < values.size(); ++i) {
      for (size_t j = 0; j < values.size(); ++j) {
        const int want = CompareDatums(values[i], values[j]) * (dir == kAsc ? 1 : -1);
        const int got = Sign(absl::string_view(encoded[i]).compare(encoded[j]));
        ASSERT_EQ(got, want) << (dir == kAsc ? "asc " : "desc ") << KeyDatumToString(values[i])
                             << " vs " << KeyDatumToString(values[j]) << ": " << Hex(encoded[i])
                             << " vs " << Hex(encoded[j]);
      }
    }
  }
}

TEST(KeyEncodingOrderTest, Int64) {
  std::mt19937_64 rng(kSeed);
  ExpectOrderPreserved(Int64Samples(rng));
}

TEST(KeyEncodingOrderTest, Uvarint) {
  std::mt19937_64 rng(kSeed);
  ExpectOrderPreserved(UvarintSamples(rng));
}

TEST(KeyEncodingOrderTest, Float64NanFirstAndZerosEqual) {
  std::mt19937_64 rng(kSeed);
  ExpectOrderPreserved(Float64Samples(rng));
}

TEST(KeyEncodingOrderTest, TextPrefixesSortBeforeExtensions) {
  std::mt19937_64 rng(kSeed);
  ExpectOrderPreserved(TextSamples(rng));
}

TEST(KeyEncodingOrderTest, MixedTypesInOneColumnSortByTag) { ExpectOrderPreserved(AllSamples()); }

// Random 2-3 column schemas with random types and directions; values are drawn from
// a small pool per column so that leading columns often tie.
TEST(KeyEncodingOrderTest, CompositeKeysSortLexicographically) {
  std::mt19937_64 rng(kSeed);
  const std::vector<KeyDatum> all = AllSamples();
  for (int trial = 0; trial < 200; ++trial) {
    const size_t columns = 2 + rng() % 2;
    std::vector<Direction> dirs;
    std::vector<std::vector<KeyDatum>> pools(columns, {NullDatum{}});
    for (size_t c = 0; c < columns; ++c) {
      dirs.push_back(rng() % 2 ? kAsc : kDesc);
      const size_t type = 1 + rng() % 5;
      while (pools[c].size() < 6) {
        const KeyDatum& d = all[rng() % all.size()];
        if (d.index() == type) pools[c].push_back(d);
      }
    }
    std::vector<std::vector<KeyDatum>> tuples(40);
    std::vector<std::string> keys;
    for (auto& tuple : tuples) {
      std::string key;
      for (size_t c = 0; c < columns; ++c) {
        tuple.push_back(pools[c][rng() % pools[c].size()]);
        AppendKeyDatum(&key, tuple.back(), dirs[c]);
      }
      keys.push_back(key);
      absl::StatusOr<std::vector<KeyDatum>> decoded = DecodeKey(key, dirs);
      ASSERT_TRUE(decoded.ok()) << decoded.status();
      for (size_t c = 0; c < columns; ++c)
        ASSERT_TRUE(SameDatum((*decoded)[c], Canonical(tuple[c])));
    }
    for (size_t i = 0; i < tuples.size(); ++i) {
      for (size_t j = 0; j < tuples.size(); ++j) {
        int want = 0;
        for (size_t c = 0; c < columns && want == 0; ++c) {
          want = CompareDatums(tuples[i][c], tuples[j][c]) * (dirs[c] == kAsc ? 1 : -1);
        }
        ASSERT_EQ(Sign(absl::string_view(keys[i]).compare(keys[j])), want)
            << "trial " << trial << ": " << Hex(keys[i]) << " vs " << Hex(keys[j]);
      }
    }
  }
}

TEST(KeyEncodingRoundTripTest, EveryTypeAndDirectionWithTrailingBytes) {
  for (const KeyDatum& value : AllSamples()) {
    for (Direction dir : {kAsc, kDesc}) {
      const std::string encoded = Encode(value, dir);
      const std::string input = encoded + "\x42rest";
      absl::string_view src = input;
      absl::StatusOr<KeyTag> tag = PeekKeyTag(src);
      ASSERT_TRUE(tag.ok()) << tag.status();
      EXPECT_EQ(*tag, (KeyTag{static_cast<KeyType>(value.index()), dir}));
      absl::StatusOr<KeyDatum> decoded = ConsumeKeyDatum(&src, dir);
      ASSERT_TRUE(decoded.ok()) << KeyDatumToString(value) << ": " << decoded.status();
      EXPECT_TRUE(SameDatum(*decoded, Canonical(value)))
          << KeyDatumToString(value) << " decoded as " << KeyDatumToString(*decoded);
      EXPECT_EQ(src, "\x42rest");
      EXPECT_EQ(Encode(*decoded, dir), encoded);
    }
  }
}

TEST(KeyEncodingRoundTripTest, TypedDecoders) {
  std::string key;
  AppendNullKey(&key, kDesc);
  AppendUvarintKey(&key, 53, kAsc);
  AppendInt64Key(&key, -7, kDesc);
  AppendFloat64Key(&key, 2.5, kAsc);
  AppendTextKey(&key, std::string("a\0b", 3), kDesc);
  AppendBytesKey(&key, "\xff", kAsc);
  absl::string_view src = key;
  EXPECT_TRUE(ConsumeNullKey(&src, kDesc).ok());
  EXPECT_EQ(ConsumeUvarintKey(&src, kAsc).value(), 53u);
  EXPECT_EQ(ConsumeInt64Key(&src, kDesc).value(), -7);
  EXPECT_EQ(ConsumeFloat64Key(&src, kAsc).value(), 2.5);
  EXPECT_EQ(ConsumeTextKey(&src, kDesc).value(), std::string("a\0b", 3));
  EXPECT_EQ(ConsumeBytesKey(&src, kAsc).value(), "\xff");
  EXPECT_TRUE(src.empty());
}

// Every encoding is self-delimiting, so every proper prefix of one must be rejected,
// and a failed decode must not move the input.
TEST(KeyDecodingTest, EveryProperPrefixIsAnError) {
  for (const KeyDatum& value : AllSamples()) {
    for (Direction dir : {kAsc, kDesc}) {
      const std::string encoded = Encode(value, dir);
      for (size_t n = 0; n < encoded.size(); ++n) {
        absl::string_view src(encoded.data(), n);
        EXPECT_FALSE(ConsumeKeyDatum(&src, dir).ok()) << Hex(src);
        EXPECT_EQ(src.size(), n);
      }
    }
  }
}

// Decoding arbitrary bytes must not crash, and whatever is accepted must re-encode to
// exactly the bytes consumed (one encoding per value).
void ExpectDecodeIsSafeAndCanonical(absl::string_view input) {
  for (Direction dir : {kAsc, kDesc}) {
    absl::string_view src = input;
    absl::StatusOr<KeyDatum> datum = ConsumeKeyDatum(&src, dir);
    if (!datum.ok()) {
      EXPECT_EQ(src.size(), input.size());
      continue;
    }
    const size_t consumed = input.size() - src.size();
    ASSERT_EQ(Encode(*datum, dir), input.substr(0, consumed)) << Hex(input);
    EXPECT_EQ(PeekKeyTag(input)->type, static_cast<KeyType>(datum->index()));
  }
  absl::string_view src = input;
  (void)ConsumeInt64Key(&src, kAsc);
  (void)ConsumeUvarintKey(&src, kDesc);
  (void)ConsumeFloat64Key(&src, kAsc);
  (void)ConsumeTextKey(&src, kDesc);
  (void)DecodeKey(input, {kAsc, kDesc, kAsc});
}

TEST(KeyDecodingTest, RandomGarbageNeverCrashes) {
  std::mt19937_64 rng(kSeed);
  const std::string interesting(
      "\x00\x01\x08\x0f\x10\x4f\x50\x57\x58\x59\x5a\x60\x77\x78\x7f"
      "\x80\xff\xfe\xa7\xf7\xf0",
      21);
  for (int i = 0; i < 20000; ++i) {
    std::string input(rng() % 24, '\0');
    for (char& c : input) c = rng() % 2 ? static_cast<char>(rng()) : interesting[rng() % 21];
    ExpectDecodeIsSafeAndCanonical(input);
  }
}

TEST(KeyDecodingTest, MutatedEncodingsNeverCrash) {
  std::mt19937_64 rng(kSeed);
  for (const KeyDatum& value : AllSamples()) {
    std::string encoded = Encode(value, rng() % 2 ? kAsc : kDesc);
    for (int i = 0; i < 4; ++i) {
      encoded[rng() % encoded.size()] = static_cast<char>(rng());
      ExpectDecodeIsSafeAndCanonical(encoded);
    }
  }
}

std::string ErrorOf(absl::string_view input, Direction dir = kAsc) {
  absl::StatusOr<KeyDatum> datum = ConsumeKeyDatum(&input, dir);
  EXPECT_FALSE(datum.ok());
  return std::string(datum.status().message());
}

TEST(KeyDecodingTest, ErrorsSayWhatWasWrong) {
  using std::string_literals::operator""s;
  EXPECT_EQ(PeekKeyTag("").status().message(), "empty input: no key tag");
  EXPECT_EQ(PeekKeyTag("\x03").status().message(), "invalid tag 0x03");
  EXPECT_EQ(ErrorOf(""), "truncated key at offset 0: no tag");
  EXPECT_EQ(ErrorOf("\x03"), "invalid tag 0x03 at offset 0");
  EXPECT_EQ(ErrorOf("\x15", kDesc),
            "found ascending int64 tag 0x15 at offset 0 where a descending key was expected");
  EXPECT_EQ(ErrorOf("\x52\x01"),
            "truncated int64 key at offset 1: needs 3 payload bytes, 1 remain");
  EXPECT_EQ(ErrorOf("\x50\x05"),
            "non-canonical int64 key at offset 0: 5 encoded in 1 payload bytes");
  EXPECT_EQ(ErrorOf("\x0e\xff\x00"s),
            "non-canonical int64 key at offset 0: negative tag 0x0e with payload ff00");
  EXPECT_EQ(ErrorOf("\x57\x80\x00\x00\x00\x00\x00\x00\x00"s),
            "int64 key at offset 0 overflows int64: 9223372036854775808");
  EXPECT_EQ(ErrorOf("\x78\x05"),
            "non-canonical uvarint key at offset 0: 5 encoded in 1 payload bytes");
  EXPECT_EQ(ErrorOf("\x58\x7f\xff\xff\xff\xff\xff\xff\xff"),  // -0
            "non-canonical float64 key at offset 0: payload 7fffffffffffffff is not how NaN or 0 "
            "are encoded");
  EXPECT_EQ(ErrorOf("\x59"
                    "a\x00\x05"s),
            "invalid escape 0x00 0x05 in text key at offset 2");
  EXPECT_EQ(ErrorOf("\x5a"
                    "ab"),
            "truncated bytes key at offset 3: no terminator");
  EXPECT_EQ(ErrorOf("\x5a"
                    "a\x00"s),
            "truncated bytes key at offset 3: no terminator");

  std::string key;
  AppendInt64Key(&key, 5, kAsc);
  absl::string_view src = key;
  EXPECT_EQ(ConsumeInt64Key(&src, kDesc).status().message(),
            "found ascending int64 tag 0x15 at offset 0 where a descending int64 key was expected");
  EXPECT_EQ(ConsumeTextKey(&src, kAsc).status().message(),
            "found ascending int64 tag 0x15 at offset 0 where an ascending text key was expected");

  AppendTextKey(&key, "x", kAsc);
  EXPECT_EQ(DecodeKey(key, {kAsc, kDesc}).status().message(),
            "key column 1 at offset 1: found ascending text tag 0x59 at offset 0 where a "
            "descending key was expected");
  EXPECT_EQ(DecodeKey(key, {kAsc}).status().message(),
            "trailing garbage at offset 1: 4 bytes after the last key column");
}

TEST(KeyDatumToStringTest, IsReadable) {
  EXPECT_EQ(KeyDatumToString(NullDatum{}), "NULL");
  EXPECT_EQ(KeyDatumToString(int64_t{-5}), "-5");
  EXPECT_EQ(KeyDatumToString(uint64_t{7}), "7u");
  EXPECT_EQ(KeyDatumToString(2.0), "2.0");
  EXPECT_EQ(KeyDatumToString(-std::numeric_limits<double>::infinity()), "-inf");
  EXPECT_EQ(KeyDatumToString(std::string("a\0", 2)), "\"a\\x00\"");
  EXPECT_EQ(KeyDatumToString(BytesDatum{"\xff"}), "b\"\\xff\"");
}

// ---- Golden vectors: storage/testdata/encoding_golden.txt ----

absl::StatusOr<KeyDatum> ParseGoldenValue(absl::string_view type, const std::string& text) {
  if (type == "null" && text == "NULL") return NullDatum{};
  if (type == "int64" || type == "uvarint") {
    int64_t i;
    uint64_t u;
    if (type == "int64" && absl::SimpleAtoi(text, &i)) return i;
    if (type == "uvarint" && absl::SimpleAtoi(text, &u)) return u;
  }
  if (type == "float64") {
    char* end = nullptr;
    const double d = std::strtod(text.c_str(), &end);
    if (end == text.c_str() + text.size() && !text.empty()) return d;
  }
  std::string unescaped;
  if ((type == "text" || type == "bytes") && text.size() >= 2 && text.front() == '"' &&
      text.back() == '"' && absl::CUnescape(text.substr(1, text.size() - 2), &unescaped)) {
    if (type == "text") return unescaped;
    return BytesDatum{unescaped};
  }
  return absl::InvalidArgumentError(absl::StrCat("bad ", type, " value ", text));
}

// Each line: <type> <asc|desc> <value> <hex> (storage/golden_file.h).
TEST(KeyEncodingGoldenTest, EncodingsMatchCheckedInVectors) {
  auto direction = [](const GoldenVector& v) { return v.inputs[1] == "asc" ? kAsc : kDesc; };
  auto parse = [](const GoldenVector& v) -> absl::StatusOr<KeyDatum> {
    if (v.inputs[1] != "asc" && v.inputs[1] != "desc") {
      return absl::InvalidArgumentError("direction must be asc or desc");
    }
    return ParseGoldenValue(v.inputs[0], v.inputs[2]);
  };
  const int vectors = RunGoldenFile(
      RANGEDB_ENCODING_TESTDATA_DIR "/encoding_golden.txt", 3,
      [&](const GoldenVector& v) {
        absl::StatusOr<KeyDatum> value = parse(v);
        if (!value.ok()) {
          ADD_FAILURE() << value.status() << " in: " << v.line;
          return std::string();
        }
        return Encode(*value, direction(v));
      },
      [&](const GoldenVector& v, const std::string& bytes) {
        absl::StatusOr<KeyDatum> value = parse(v);
        absl::string_view src = bytes;
        absl::StatusOr<KeyDatum> decoded = ConsumeKeyDatum(&src, direction(v));
        ASSERT_TRUE(value.ok() && decoded.ok()) << decoded.status() << " in: " << v.line;
        EXPECT_TRUE(SameDatum(*decoded, Canonical(*value))) << v.line;
      });
  if (vectors < 0) GTEST_SKIP() << "rewrote the golden file";
  EXPECT_GE(vectors, 50);
}

}  // namespace
}  // namespace rangedb
