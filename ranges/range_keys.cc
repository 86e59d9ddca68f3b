#include "ranges/range_keys.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "storage/keys.h"
#include "storage/mvcc_key.h"

namespace rangedb::ranges {
namespace {

constexpr char kReplicated = keys::kRangeIdReplicatedInfix;

std::string BigEndian64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) out[i] = static_cast<char>(v & 0xff);
  return out;
}

// The range id of a store-local key start ++ <range id:8 BE>; 0 if malformed.
uint64_t RangeIdAfterPrefix(absl::string_view key, absl::string_view start) {
  if (key.size() != start.size() + 8 || key.substr(0, start.size()) != start) return 0;
  uint64_t id = 0;
  for (size_t i = start.size(); i < key.size(); ++i) {
    id = (id << 8) | static_cast<uint8_t>(key[i]);
  }
  return id;
}

}  // namespace

std::string AppliedStateKey(uint64_t range_id) {
  return keys::RangeIdLocalKey(range_id, kReplicated, "rask");
}
std::string GcThresholdKey(uint64_t range_id) {
  return keys::RangeIdLocalKey(range_id, kReplicated, "rgct");
}

// The cluster setting overriding StoreConfig::gc_ttl: a duration such as "4h".
std::string GcTtlSettingKey() { return absl::StrCat(keys::kSystemPrefix, "settings/gc_ttl"); }

std::string LeaseKey(uint64_t range_id) {
  return keys::RangeIdLocalKey(range_id, kReplicated, "rll-");
}
std::string DescriptorKey(uint64_t range_id) {
  return keys::RangeIdLocalKey(range_id, kReplicated, "rdsc");
}
std::string IdempotencyRecordKey(uint64_t range_id, absl::string_view client_id,
                                 uint64_t sequence) {
  // The length prefix keeps keys unambiguous; ids longer than
  // kMaxIdempotencyClientIdBytes are refused before a key is made (gateway and
  // replica), so the length always fits its byte.
  static_assert(kMaxIdempotencyClientIdBytes <= 255);
  if (client_id.size() > kMaxIdempotencyClientIdBytes) {
    std::fprintf(stderr, "%s:%d: idempotency client id of %zu bytes reached IdempotencyRecordKey\n",
                 __FILE__, __LINE__, client_id.size());
    std::abort();
  }
  std::string key = IdempotencyRecordsStart(range_id);
  key.push_back(static_cast<char>(client_id.size()));
  key.append(client_id.data(), client_id.size());
  key += BigEndian64(sequence);
  return key;
}
std::string IdempotencyExpiryKey(uint64_t range_id) {
  return keys::RangeIdLocalKey(range_id, kReplicated, "idcu");
}
std::string IdempotencyRecordsStart(uint64_t range_id) {
  return keys::RangeIdLocalKey(range_id, kReplicated, "idem");
}
std::string IdempotencyRecordsEnd(uint64_t range_id) {
  return keys::RangeIdLocalKey(range_id, kReplicated, "idem\xff");
}

std::string StoreIdentKey() { return absl::StrCat(keys::kStoreLocalPrefix, "ident"); }
std::string ReplicaIndexStart() { return absl::StrCat(keys::kStoreLocalPrefix, "repl"); }
std::string ReplicaIndexEnd() { return absl::StrCat(keys::kStoreLocalPrefix, "repm"); }
std::string ReplicaIndexKey(uint64_t range_id) {
  return ReplicaIndexStart() + BigEndian64(range_id);
}
uint64_t RangeIdOfReplicaIndexKey(absl::string_view key) {
  return RangeIdAfterPrefix(key, ReplicaIndexStart());
}
std::string CorruptReplicasStart() { return absl::StrCat(keys::kStoreLocalPrefix, "corr"); }
std::string CorruptReplicasEnd() { return absl::StrCat(keys::kStoreLocalPrefix, "cors"); }
std::string CorruptReplicaKey(uint64_t range_id) {
  return CorruptReplicasStart() + BigEndian64(range_id);
}
uint64_t RangeIdOfCorruptReplicaKey(absl::string_view key) {
  return RangeIdAfterPrefix(key, CorruptReplicasStart());
}

std::string TxnRecordKey(absl::string_view anchor_key, absl::string_view txn_id) {
  // \x01 k <anchor> \x00 txn- <id>: sorts right after the anchor among range-local
  // keys, inside the range's range-local span whenever the anchor is in the range
  // (unless a split lands exactly at anchor + \x00).
  return absl::StrCat(keys::kRangeLocalPrefix, anchor_key, absl::string_view("\0txn-", 5), txn_id);
}

std::string MetaKey(absl::string_view end_key) { return absl::StrCat(keys::kMetaPrefix, end_key); }

std::string NodeIdGeneratorKey() { return absl::StrCat(keys::kSystemPrefix, "node-idgen"); }
std::string RangeIdGeneratorKey() { return absl::StrCat(keys::kSystemPrefix, "range-idgen"); }

std::vector<EngineSpan> ReplicatedEngineSpans(uint64_t range_id, absl::string_view start,
                                              absl::string_view end) {
  std::vector<EngineSpan> spans;
  // Replicated range-ID-local keys: infix 'r' up to (not including) infix 's'.
  spans.push_back({MVCCKeyPrefix(keys::RangeIdLocalKey(range_id, kReplicated, "")),
                   MVCCKeyPrefix(keys::RangeIdLocalKey(range_id, kReplicated + 1, ""))});
  spans.push_back({MVCCKeyPrefix(absl::StrCat(keys::kRangeLocalPrefix, start)),
                   MVCCKeyPrefix(absl::StrCat(keys::kRangeLocalPrefix, end))});
  spans.push_back({MVCCKeyPrefix(absl::StrCat(keys::kLockTablePrefix, start)),
                   MVCCKeyPrefix(absl::StrCat(keys::kLockTablePrefix, end))});
  // User data never lies in the local region, even for the range starting at KeyMin.
  const absl::string_view data_start = std::max(start, keys::kLocalEnd);
  spans.push_back({MVCCKeyPrefix(data_start), MVCCKeyPrefix(end)});
  return spans;
}

absl::StatusOr<bool> ReadLocalProto(Reader& reader, const std::string& local_key,
                                    google::protobuf::MessageLite* out) {
  std::string value;
  absl::StatusOr<bool> found = reader.Get(ColumnFamily::kData, MVCCKeyPrefix(local_key), &value);
  if (!found.ok() || !*found) return found;
  if (!out->ParseFromString(value)) {
    return absl::DataLossError(absl::StrCat("unparseable ", out->GetTypeName(), " at local key ",
                                            absl::CHexEscape(local_key)));
  }
  return true;
}

void WriteLocalProto(Writer& writer, const std::string& local_key,
                     const google::protobuf::MessageLite& value) {
  writer.Put(ColumnFamily::kData, MVCCKeyPrefix(local_key), value.SerializeAsString());
}

}  // namespace rangedb::ranges
