#include "storage/keys.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "storage/encoding.h"

namespace rangedb::keys {
namespace {

constexpr char kReplicated = kRangeIdReplicatedInfix;
constexpr char kUnreplicated = kRangeIdUnreplicatedInfix;

void AppendBigEndian64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
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

std::string RangeIdLocalKey(uint64_t range_id, char infix, absl::string_view suffix) {
  std::string key(kRangeIdLocalPrefix);
  AppendBigEndian64(&key, range_id);
  key.push_back(infix);
  key.append(suffix.data(), suffix.size());
  return key;
}

std::string RaftHardStateKey(uint64_t range_id) {
  return RangeIdLocalKey(range_id, kUnreplicated, kRaftHardStateSuffix);
}
std::string RaftTruncatedStateKey(uint64_t range_id) {
  return RangeIdLocalKey(range_id, kUnreplicated, kRaftTruncatedStateSuffix);
}
std::string RaftSnapshotMetaKey(uint64_t range_id) {
  return RangeIdLocalKey(range_id, kUnreplicated, kRaftSnapshotMetaSuffix);
}

std::string AppliedStateKey(uint64_t range_id) {
  return RangeIdLocalKey(range_id, kReplicated, kAppliedStateSuffix);
}
std::string LeaseKey(uint64_t range_id) {
  return RangeIdLocalKey(range_id, kReplicated, kLeaseSuffix);
}
std::string DescriptorKey(uint64_t range_id) {
  return RangeIdLocalKey(range_id, kReplicated, kDescriptorSuffix);
}
std::string GcThresholdKey(uint64_t range_id) {
  return RangeIdLocalKey(range_id, kReplicated, kGcThresholdSuffix);
}
std::string IdempotencyExpiryKey(uint64_t range_id) {
  return RangeIdLocalKey(range_id, kReplicated, kIdempotencyExpirySuffix);
}

std::string IdempotencyRecordKey(uint64_t range_id, absl::string_view client_id,
                                 uint64_t sequence) {
  // The length prefix keeps keys unambiguous; ids longer than
  // kMaxIdempotencyClientIdBytes are refused before a key is made (gateway and
  // replica), so the length always fits its byte.
  static_assert(kMaxIdempotencyClientIdBytes <= 255);
  RANGEDB_CHECK_LE(client_id.size(), kMaxIdempotencyClientIdBytes)
      << "idempotency client id of " << client_id.size() << " bytes reached IdempotencyRecordKey";
  std::string key = IdempotencyRecordsStart(range_id);
  key.push_back(static_cast<char>(client_id.size()));
  key.append(client_id.data(), client_id.size());
  AppendBigEndian64(&key, sequence);
  return key;
}
std::string IdempotencyRecordsStart(uint64_t range_id) {
  return RangeIdLocalKey(range_id, kReplicated, kIdempotencyRecordSuffix);
}
std::string IdempotencyRecordsEnd(uint64_t range_id) {
  return RangeIdLocalKey(range_id, kReplicated, absl::StrCat(kIdempotencyRecordSuffix, "\xff"));
}

std::string RangeLocalKeyPrefix(absl::string_view key) {
  return absl::StrCat(kRangeLocalPrefix, key);
}

std::string TxnRecordKey(absl::string_view anchor_key, absl::string_view txn_id) {
  return absl::StrCat(kRangeLocalPrefix, anchor_key, kTxnRecordInfix, txn_id);
}

std::string StoreIdentKey() { return absl::StrCat(kStoreLocalPrefix, "ident"); }
std::string StoreIdKey() { return absl::StrCat(kStoreLocalPrefix, "store-id"); }

std::string ReplicaIndexStart() { return absl::StrCat(kStoreLocalPrefix, "repl"); }
std::string ReplicaIndexEnd() { return absl::StrCat(kStoreLocalPrefix, "repm"); }
std::string ReplicaIndexKey(uint64_t range_id) {
  std::string key = ReplicaIndexStart();
  AppendBigEndian64(&key, range_id);
  return key;
}
uint64_t RangeIdOfReplicaIndexKey(absl::string_view key) {
  return RangeIdAfterPrefix(key, ReplicaIndexStart());
}

std::string CorruptReplicasStart() { return absl::StrCat(kStoreLocalPrefix, "corr"); }
std::string CorruptReplicasEnd() { return absl::StrCat(kStoreLocalPrefix, "cors"); }
std::string CorruptReplicaKey(uint64_t range_id) {
  std::string key = CorruptReplicasStart();
  AppendBigEndian64(&key, range_id);
  return key;
}
uint64_t RangeIdOfCorruptReplicaKey(absl::string_view key) {
  return RangeIdAfterPrefix(key, CorruptReplicasStart());
}

std::string LockTableKey(absl::string_view user_key) {
  return absl::StrCat(kLockTablePrefix, user_key);
}

std::string MetaKey(absl::string_view end_key) { return absl::StrCat(kMetaPrefix, end_key); }

std::string GcTtlSettingKey() { return absl::StrCat(kSettingsPrefix, "gc_ttl"); }
std::string NodeIdGeneratorKey() { return absl::StrCat(kSystemPrefix, "node-idgen"); }
std::string RangeIdGeneratorKey() { return absl::StrCat(kSystemPrefix, "range-idgen"); }

std::string TablePrefix(uint64_t table_id) {
  std::string key(kTableDataPrefix);
  AppendUvarintKey(&key, table_id, Direction::kAscending);
  return key;
}
std::string IndexPrefix(uint64_t table_id, uint64_t index_id) {
  std::string key = TablePrefix(table_id);
  AppendUvarintKey(&key, index_id, Direction::kAscending);
  return key;
}

std::string RaftLogKey(uint64_t range_id, uint64_t index) {
  std::string key;
  key.reserve(kRaftLogKeyBytes);
  AppendBigEndian64(&key, range_id);
  AppendBigEndian64(&key, index);
  return key;
}

std::string DataSpanStart(absl::string_view range_start) {
  return std::string(std::max(range_start, kLocalEnd));
}

std::vector<Span> ReplicatedSpans(uint64_t range_id, absl::string_view start,
                                  absl::string_view end) {
  std::vector<Span> spans;
  // Replicated range-ID-local keys: infix 'r' up to (not including) infix 's'.
  spans.push_back(
      {RangeIdLocalKey(range_id, kReplicated, ""), RangeIdLocalKey(range_id, kReplicated + 1, "")});
  spans.push_back({RangeLocalKeyPrefix(start), RangeLocalKeyPrefix(end)});
  spans.push_back({LockTableKey(start), LockTableKey(end)});
  spans.push_back({DataSpanStart(start), std::string(end)});
  return spans;
}

}  // namespace rangedb::keys
