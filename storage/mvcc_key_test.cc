#include "storage/mvcc_key.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/escaping.h"
#include "storage/mvcc_value.h"

namespace rangedb {
namespace {

TEST(MVCCKeyTest, GoldenEncodings) {
  // Pinned bytes: changing them changes the on-disk format (docs/mvcc.md).
  EXPECT_EQ(EncodeMVCCKey("a", {}), std::string("a\x00\x01", 3));
  EXPECT_EQ(EncodeMVCCKey(std::string("a\x00", 2), {}), std::string("a\x00\xff\x00\x01", 5));
  EXPECT_EQ(EncodeMVCCKey("k", {1, 2}), std::string("k\x00\x01"
                                                    "\xff\xff\xff\xff\xff\xff\xff\xfe"
                                                    "\xff\xff\xff\xfd",
                                                    15));
  EXPECT_EQ(MVCCKeyEnd("k"), std::string("k\x00\x02", 3));
  EXPECT_EQ(EncodeMVCCValue(false, false, "v"), std::string("\x00v", 2));
  EXPECT_EQ(EncodeMVCCValue(true, false, "v"), "\x01v");
  EXPECT_EQ(EncodeMVCCValue(false, true, ""), "\x02");
}

TEST(MVCCKeyTest, RoundTrip) {
  for (std::string key : {std::string(), std::string("abc"), std::string("\x00", 1),
                          std::string("\x00\x00\xff\x01", 4), std::string("a\x00\x01", 3)}) {
    for (Timestamp ts : {Timestamp{}, Timestamp{1, 0}, Timestamp{0, 1}, Timestamp::Max(),
                         Timestamp{1700000000000000000, 7}}) {
      std::string decoded;
      Timestamp decoded_ts;
      ASSERT_TRUE(DecodeMVCCKey(EncodeMVCCKey(key, ts), &decoded, &decoded_ts).ok());
      EXPECT_EQ(decoded, key);
      EXPECT_EQ(decoded_ts, ts);
      EXPECT_EQ(MVCCEncodedPrefix(EncodeMVCCKey(key, ts)), MVCCKeyPrefix(key));
    }
  }
}

// Orders (key, ts) as the store must: by key, then unversioned first, then newest first.
bool ModelLess(const std::pair<std::string, Timestamp>& a,
               const std::pair<std::string, Timestamp>& b) {
  if (a.first != b.first) return a.first < b.first;
  if (a.second.IsEmpty() != b.second.IsEmpty()) return a.second.IsEmpty();
  return a.second > b.second;
}

TEST(MVCCKeyTest, BytewiseOrderMatchesModelOrder) {
  std::mt19937_64 rng(42);
  auto random_key = [&] {
    std::string k(rng() % 4, '\0');
    for (char& c : k) c = "\x00\x01\x02\xff a"[rng() % 6];
    return k;
  };
  auto random_ts = [&] {
    if (rng() % 5 == 0) return Timestamp{};
    return Timestamp{static_cast<int64_t>(rng() % 3), static_cast<int32_t>(rng() % 3)};
  };
  for (int i = 0; i < 20000; ++i) {
    auto a = std::make_pair(random_key(), random_ts());
    auto b = std::make_pair(random_key(), random_ts());
    if (a == b) continue;
    std::string ea = EncodeMVCCKey(a.first, a.second), eb = EncodeMVCCKey(b.first, b.second);
    EXPECT_EQ(ModelLess(a, b), ea < eb) << absl::CHexEscape(ea) << " vs " << absl::CHexEscape(eb);
    // Spans of user keys map to spans of encoded keys.
    EXPECT_EQ(a.first < b.first, ea < MVCCKeyPrefix(b.first));
    EXPECT_LT(ea, MVCCKeyEnd(a.first));
  }
}

TEST(MVCCKeyTest, MalformedKeysAreErrorsNotCrashes) {
  std::string key;
  Timestamp ts;
  EXPECT_FALSE(DecodeMVCCKey("", &key, &ts).ok());
  EXPECT_FALSE(DecodeMVCCKey("abc", &key, &ts).ok());                           // no terminator
  EXPECT_FALSE(DecodeMVCCKey(std::string("a\x00\x07", 3), &key, &ts).ok());     // bad escape
  EXPECT_FALSE(DecodeMVCCKey(std::string("a\x00\x01xyz", 6), &key, &ts).ok());  // short suffix
  EXPECT_FALSE(DecodeMVCCKey(std::string("a\x00\x01") + std::string(12, '\xff'), &key, &ts).ok());
  std::mt19937_64 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::string garbage(rng() % 20, '\0');
    for (char& c : garbage) c = static_cast<char>(rng() % 4 == 0 ? 0 : rng());
    (void)DecodeMVCCKey(garbage, &key, &ts);
    (void)DecodeMVCCValue(garbage);
  }
}

TEST(MVCCValueTest, DecodeRejectsCorruption) {
  EXPECT_FALSE(DecodeMVCCValue("").ok());
  EXPECT_FALSE(DecodeMVCCValue("\x04x").ok());  // unknown header bit
  EXPECT_FALSE(DecodeMVCCValue("\x02x").ok());  // tombstone with a payload
  absl::StatusOr<MVCCValue> v = DecodeMVCCValue("\x01hello");
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->provisional);
  EXPECT_FALSE(v->tombstone);
  EXPECT_EQ(v->payload, "hello");
}

}  // namespace
}  // namespace rangedb
