// The key map's golden test: the exact bytes of every kind of stored key, and the
// ordering properties the system relies on. Stores on disk hold these bytes; a
// failure here means existing data would no longer be found. Change an expected
// value only together with a migration, and docs/keyspace.md with it.
#include "storage/keys.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace rangedb::keys {
namespace {

using std::string_literals::operator""s;

// A user key in the table-data region.
std::string U(absl::string_view suffix) { return absl::StrCat(kTableDataPrefix, suffix); }

// Hex written with spaces between fields for reading; the spaces carry no meaning.
std::string Bytes(absl::string_view spaced_hex) {
  return absl::HexStringToBytes(absl::StrReplaceAll(spaced_hex, {{" ", ""}}));
}

struct Golden {
  const char* what;
  std::string key;
  const char* hex;
};

void ExpectGolden(const std::vector<Golden>& cases) {
  for (const Golden& c : cases) {
    EXPECT_EQ(absl::BytesToHexString(c.key), absl::BytesToHexString(Bytes(c.hex)))
        << c.what << ": the layout of a stored key changed";
  }
}

TEST(KeyMapGoldenTest, Regions) {
  ExpectGolden({
      {"KeyMin", std::string(kKeyMin), ""},
      {"KeyMax", std::string(kKeyMax), "ff ff"},
      {"local", std::string(kLocalPrefix), "01"},
      {"range-ID-local", std::string(kRangeIdLocalPrefix), "01 69"},
      {"range-local", std::string(kRangeLocalPrefix), "01 6b"},
      {"store-local", std::string(kStoreLocalPrefix), "01 73"},
      {"lock table", std::string(kLockTablePrefix), "01 7a"},
      {"local end", std::string(kLocalEnd), "02"},
      {"meta", std::string(kMetaPrefix), "02"},
      {"meta end", std::string(kMetaEnd), "03"},
      {"system", std::string(kSystemPrefix), "03"},
      {"table data", std::string(kTableDataPrefix), "04"},
  });
}

// \x01 i <range id:8 BE> <infix> <suffix>.
TEST(KeyMapGoldenTest, RangeIdLocal) {
  ExpectGolden({
      {"RangeIdLocalKey", RangeIdLocalKey(0x0102030405060708, 'r', "abcd"),
       "01 69 0102030405060708 72 61626364"},
      // Unreplicated (u).
      {"RaftHardStateKey", RaftHardStateKey(5), "01 69 0000000000000005 75 72667468"},
      {"RaftSnapshotMetaKey", RaftSnapshotMetaKey(5), "01 69 0000000000000005 75 72667473"},
      {"RaftTruncatedStateKey", RaftTruncatedStateKey(5), "01 69 0000000000000005 75 72667474"},
      // Replicated (r).
      {"IdempotencyExpiryKey", IdempotencyExpiryKey(7), "01 69 0000000000000007 72 69646375"},
      {"IdempotencyRecordKey", IdempotencyRecordKey(7, "cl", 0x0a0b),
       "01 69 0000000000000007 72 6964656d 02 636c 0000000000000a0b"},
      {"IdempotencyRecordsStart", IdempotencyRecordsStart(7), "01 69 0000000000000007 72 6964656d"},
      {"IdempotencyRecordsEnd", IdempotencyRecordsEnd(7), "01 69 0000000000000007 72 6964656d ff"},
      {"AppliedStateKey", AppliedStateKey(7), "01 69 0000000000000007 72 7261736b"},
      {"DescriptorKey", DescriptorKey(7), "01 69 0000000000000007 72 72647363"},
      {"GcThresholdKey", GcThresholdKey(7), "01 69 0000000000000007 72 72676374"},
      {"LeaseKey", LeaseKey(7), "01 69 0000000000000007 72 726c6c2d"},
  });
}

// \x01 k <key> ..., \x01 s <suffix>, \x01 z <user key>.
TEST(KeyMapGoldenTest, RangeLocalStoreLocalAndLockTable) {
  ExpectGolden({
      {"RangeLocalKeyPrefix", RangeLocalKeyPrefix("ab"), "01 6b 6162"},
      {"TxnRecordKey", TxnRecordKey("ab", "T1"), "01 6b 6162 00 74786e2d 5431"},
      {"TxnRecordKey, anchor with \\0", TxnRecordKey("a\0b"s, "T"), "01 6b 610062 00 74786e2d 54"},
      {"CorruptReplicaKey", CorruptReplicaKey(9), "01 73 636f7272 0000000000000009"},
      {"CorruptReplicasStart", CorruptReplicasStart(), "01 73 636f7272"},
      {"CorruptReplicasEnd", CorruptReplicasEnd(), "01 73 636f7273"},
      {"StoreIdentKey", StoreIdentKey(), "01 73 6964656e74"},
      {"ReplicaIndexKey", ReplicaIndexKey(9), "01 73 7265706c 0000000000000009"},
      {"ReplicaIndexStart", ReplicaIndexStart(), "01 73 7265706c"},
      {"ReplicaIndexEnd", ReplicaIndexEnd(), "01 73 7265706d"},
      {"StoreIdKey", StoreIdKey(), "01 73 73746f72652d6964"},
      {"LockTableKey", LockTableKey("\x04k"), "01 7a 046b"},
  });
}

TEST(KeyMapGoldenTest, MetaSystemAndTableData) {
  ExpectGolden({
      {"MetaKey", MetaKey("\x04k"), "02 046b"},
      {"MetaKey(KeyMax)", MetaKey(kKeyMax), "02 ffff"},
      {"system catalog (reserved)", std::string(kSystemCatalogPrefix), "03 636174616c6f672f"},
      {"NodeIdGeneratorKey", NodeIdGeneratorKey(), "03 6e6f64652d696467656e"},
      {"RangeIdGeneratorKey", RangeIdGeneratorKey(), "03 72616e67652d696467656e"},
      {"settings", std::string(kSettingsPrefix), "03 73657474696e67732f"},
      {"GcTtlSettingKey", GcTtlSettingKey(), "03 73657474696e67732f 67635f74746c"},
      // Ascending uvarints (storage/encoding.h): 0x60 + v up to 23, else 0x77 + n bytes.
      {"TablePrefix(5)", TablePrefix(5), "04 65"},
      {"TablePrefix(300)", TablePrefix(300), "04 79 012c"},
      {"IndexPrefix(5, 1)", IndexPrefix(5, 1), "04 65 61"},
  });
}

TEST(KeyMapGoldenTest, RaftLog) {
  ExpectGolden({
      {"RaftLogKey", RaftLogKey(1, 2), "0000000000000001 0000000000000002"},
      {"RaftLogKey", RaftLogKey(0x0102, 0xA0B0C0D0E0F00001), "0000000000000102 a0b0c0d0e0f00001"},
  });
  EXPECT_EQ(RaftLogKey(UINT64_MAX, UINT64_MAX).size(), kRaftLogKeyBytes);
}

TEST(KeyMapGoldenTest, ReplicatedSpans) {
  const std::vector<Span> spans = ReplicatedSpans(7, U("a"), U("c"));
  ASSERT_EQ(spans.size(), 4u);
  ExpectGolden({
      {"range-ID-local replicated start", spans[0].start, "01 69 0000000000000007 72"},
      {"range-ID-local replicated end", spans[0].end, "01 69 0000000000000007 73"},
      {"range-local start", spans[1].start, "01 6b 0461"},
      {"range-local end", spans[1].end, "01 6b 0463"},
      {"lock table start", spans[2].start, "01 7a 0461"},
      {"lock table end", spans[2].end, "01 7a 0463"},
      {"data start", spans[3].start, "04 61"},
      {"data end", spans[3].end, "04 63"},
  });
  // The first range's data starts after the local region.
  const std::vector<Span> first = ReplicatedSpans(1, kKeyMin, kMetaEnd);
  EXPECT_EQ(first[3].start, kLocalEnd);
  EXPECT_EQ(first[3].end, kMetaEnd);
}

// ---- Ordering ----

// Every range-ID-local key of range_id that the system writes.
std::vector<std::string> RangeIdLocalKeys(uint64_t range_id) {
  return {
      RaftHardStateKey(range_id),
      RaftSnapshotMetaKey(range_id),
      RaftTruncatedStateKey(range_id),
      IdempotencyExpiryKey(range_id),
      IdempotencyRecordKey(range_id, "", 0),
      IdempotencyRecordKey(range_id, std::string(kMaxIdempotencyClientIdBytes, '\xff'), UINT64_MAX),
      AppliedStateKey(range_id),
      DescriptorKey(range_id),
      GcThresholdKey(range_id),
      LeaseKey(range_id)};
}

TEST(KeyMapOrderTest, RangeIdLocalKeysSortByRangeId) {
  const std::vector<uint64_t> ids = {1, 2, 255, 256, uint64_t{1} << 32, UINT64_MAX};
  for (size_t i = 0; i + 1 < ids.size(); ++i) {
    const std::vector<std::string> lower = RangeIdLocalKeys(ids[i]);
    const std::vector<std::string> upper = RangeIdLocalKeys(ids[i + 1]);
    EXPECT_LT(*std::max_element(lower.begin(), lower.end()),
              *std::min_element(upper.begin(), upper.end()))
        << "range " << ids[i] << " vs " << ids[i + 1];
    EXPECT_LT(RaftLogKey(ids[i], UINT64_MAX), RaftLogKey(ids[i + 1], 0));
  }
  EXPECT_LT(RaftLogKey(3, 9), RaftLogKey(3, 10));
  EXPECT_LT(RaftLogKey(3, 255), RaftLogKey(3, 256));
}

TEST(KeyMapOrderTest, ReplicatedInfixHoldsReplicatedStateOnly) {
  for (uint64_t id : {uint64_t{1}, uint64_t{7}, UINT64_MAX}) {
    const Span replicated = ReplicatedSpans(id, "\x04", kKeyMax)[0];
    auto inside = [&](const std::string& k) { return replicated.start <= k && k < replicated.end; };
    for (const std::string& k :
         {RaftHardStateKey(id), RaftSnapshotMetaKey(id), RaftTruncatedStateKey(id)}) {
      EXPECT_FALSE(inside(k)) << absl::CHexEscape(k) << " is unreplicated";
      EXPECT_GT(k, replicated.end) << "unreplicated keys sort after replicated ones";
    }
    for (const std::string& k :
         {IdempotencyExpiryKey(id), IdempotencyRecordsStart(id), IdempotencyRecordsEnd(id),
          IdempotencyRecordKey(id, std::string(kMaxIdempotencyClientIdBytes, '\xff'), UINT64_MAX),
          AppliedStateKey(id), DescriptorKey(id), GcThresholdKey(id), LeaseKey(id)}) {
      EXPECT_TRUE(inside(k)) << absl::CHexEscape(k) << " is replicated";
    }
    // Idempotency records stay inside their own span, whatever the client id.
    for (const std::string& client :
         {""s, "\xff"s, std::string(64, '\xff'), std::string(64, '\0')}) {
      for (uint64_t seq : {uint64_t{0}, UINT64_MAX}) {
        const std::string k = IdempotencyRecordKey(id, client, seq);
        EXPECT_LE(IdempotencyRecordsStart(id), k);
        EXPECT_LT(k, IdempotencyRecordsEnd(id));
      }
    }
    EXPECT_LT(IdempotencyExpiryKey(id), IdempotencyRecordsStart(id));
    EXPECT_LT(IdempotencyRecordsEnd(id), AppliedStateKey(id));
  }
}

TEST(KeyMapOrderTest, MetaKeysOrderLikeTheirEndKeys) {
  const std::vector<std::string> ends = {"\x03", "\x04", U("a"),     U("a\0"s),
                                         U("b"), "\x05", "\xfe\xff", std::string(kKeyMax)};
  for (size_t i = 0; i + 1 < ends.size(); ++i) {
    EXPECT_LT(MetaKey(ends[i]), MetaKey(ends[i + 1]));
    // A key k in [ends[i], ends[i+1]) is found at the first meta key > MetaKey(k).
    const std::string k = ends[i] + "x";
    if (k < ends[i + 1]) {
      EXPECT_LT(MetaKey(k), MetaKey(ends[i + 1]));
      EXPECT_GE(MetaKey(k), MetaKey(ends[i]));
    }
  }
  for (const std::string& end : ends) {
    EXPECT_GE(MetaKey(end), kMetaPrefix);
    EXPECT_LT(MetaKey(end), kMetaEnd);
  }
}

TEST(KeyMapOrderTest, RegionsInOrder) {
  // local < meta < system < table data < KeyMax, each kind of key in its region.
  const std::vector<std::string> local = {
      RangeIdLocalKey(UINT64_MAX, 'u', "\xff\xff\xff"),
      RaftHardStateKey(UINT64_MAX),
      LeaseKey(1),
      TxnRecordKey("\xff\xff", "\xff"),
      StoreIdKey(),
      ReplicaIndexKey(UINT64_MAX),
      CorruptReplicaKey(1),
      LockTableKey(std::string(kKeyMax) + "\xff"),
  };
  for (const std::string& k : local) {
    EXPECT_GE(k, kLocalPrefix) << absl::CHexEscape(k);
    EXPECT_LT(k, kLocalEnd) << absl::CHexEscape(k);
    EXPECT_FALSE(IsUserAddressable(k)) << absl::CHexEscape(k);
  }
  EXPECT_LT(kRangeIdLocalPrefix, kRangeLocalPrefix);
  EXPECT_LT(kRangeLocalPrefix, kStoreLocalPrefix);
  EXPECT_LT(kStoreLocalPrefix, kLockTablePrefix);
  EXPECT_LE(kLocalEnd, kMetaPrefix);
  EXPECT_LE(kMetaEnd, kSystemPrefix);
  for (const std::string& k : {NodeIdGeneratorKey(), RangeIdGeneratorKey(), GcTtlSettingKey(),
                               std::string(kSystemCatalogPrefix) + "\xff"}) {
    EXPECT_GE(k, kSystemPrefix) << absl::CHexEscape(k);
    EXPECT_LT(k, kTableDataPrefix) << absl::CHexEscape(k);
    EXPECT_TRUE(IsUserAddressable(k));
  }
  for (const std::string& k : {TablePrefix(0), IndexPrefix(UINT64_MAX, UINT64_MAX) + "\xff"}) {
    EXPECT_GE(k, kTableDataPrefix) << absl::CHexEscape(k);
    EXPECT_LT(k, kKeyMax) << absl::CHexEscape(k);
  }
  EXPECT_LT(TablePrefix(23), TablePrefix(24));
  EXPECT_LT(IndexPrefix(1, UINT64_MAX), TablePrefix(2));
  EXPECT_TRUE(IsUserAddressable(kKeyMin));
}

TEST(KeyMapOrderTest, RangeLocalKeysStayWithTheirAnchorsRange) {
  // A range [\x04b, \x04d) holds the records anchored in it, and no other.
  const std::vector<Span> spans = ReplicatedSpans(3, U("b"), U("d"));
  const Span& range_local = spans[1];
  for (const std::string& anchor : {U("b"), U("c\xff\xff"), U("czzz")}) {
    const std::string k = TxnRecordKey(anchor, std::string(16, '\xff'));
    EXPECT_LE(range_local.start, k) << absl::CHexEscape(anchor);
    EXPECT_LT(k, range_local.end) << absl::CHexEscape(anchor);
  }
  for (const std::string& anchor : {U("a\xff"), U("d")}) {
    const std::string k = TxnRecordKey(anchor, "");
    EXPECT_FALSE(range_local.start <= k && k < range_local.end) << absl::CHexEscape(anchor);
  }
  const Span& locks = spans[2];
  EXPECT_LE(locks.start, LockTableKey(U("b")));
  EXPECT_LT(LockTableKey(U("c\xff")), locks.end);
  EXPECT_EQ(LockTableKey(U("d")), locks.end);
}

TEST(KeyMapDecodeTest, StoreLocalRangeIds) {
  for (uint64_t id : {uint64_t{1}, uint64_t{0x0102030405060708}, UINT64_MAX}) {
    EXPECT_EQ(RangeIdOfReplicaIndexKey(ReplicaIndexKey(id)), id);
    EXPECT_EQ(RangeIdOfCorruptReplicaKey(CorruptReplicaKey(id)), id);
    EXPECT_LE(ReplicaIndexStart(), ReplicaIndexKey(id));
    EXPECT_LT(ReplicaIndexKey(id), ReplicaIndexEnd());
    EXPECT_LE(CorruptReplicasStart(), CorruptReplicaKey(id));
    EXPECT_LT(CorruptReplicaKey(id), CorruptReplicasEnd());
  }
  EXPECT_EQ(RangeIdOfReplicaIndexKey(ReplicaIndexStart()), 0u);
  EXPECT_EQ(RangeIdOfReplicaIndexKey(CorruptReplicaKey(5)), 0u);
  EXPECT_EQ(RangeIdOfCorruptReplicaKey(ReplicaIndexKey(5)), 0u);
  EXPECT_EQ(RangeIdOfCorruptReplicaKey(CorruptReplicaKey(5) + "x"), 0u);
  // The two store-local indexes and the identity keys never overlap.
  EXPECT_LT(CorruptReplicasEnd(), StoreIdentKey());
  EXPECT_LT(StoreIdentKey(), ReplicaIndexStart());
  EXPECT_LT(ReplicaIndexEnd(), StoreIdKey());
}

TEST(KeyMapDeathTest, OverlongIdempotencyClientIdAborts) {
  EXPECT_DEATH(IdempotencyRecordKey(1, std::string(kMaxIdempotencyClientIdBytes + 1, 'x'), 1),
               "idempotency client id of 65 bytes");
}

}  // namespace
}  // namespace rangedb::keys
